package agent

import (
	"fmt"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ipam hands out pod addresses from subnets, as the AWS VPC CNI does from a
// node's subnet. One ipam serves every node: nodes of one zone share a
// subnet, and an address any live pod holds is never handed out again.
type ipam struct {
	mu       sync.Mutex
	excluded map[netip.Addr]bool               // node addresses
	owner    map[netip.Addr]types.UID          // held addresses
	held     map[types.UID]map[netip.Addr]bool // addresses by holder
	next     map[netip.Prefix]netip.Addr       // where the next search starts
}

func newIPAM(excluded []netip.Addr) *ipam {
	p := &ipam{
		excluded: map[netip.Addr]bool{},
		owner:    map[netip.Addr]types.UID{},
		held:     map[types.UID]map[netip.Addr]bool{},
		next:     map[netip.Prefix]netip.Addr{},
	}
	for _, a := range excluded {
		p.excluded[a] = true
	}
	return p
}

// usable reports whether a is an address of subnet that AWS lets an
// instance use: not the first four (network, router, DNS, reserved) nor
// the last (broadcast).
func usable(subnet netip.Prefix, a netip.Addr) bool {
	if !subnet.Contains(a) {
		return false
	}
	first := subnet.Addr()
	for range 4 {
		if a == first {
			return false
		}
		first = first.Next()
	}
	return a != lastAddr(subnet)
}

// lastAddr returns the highest address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// allocate hands uid a free address of subnet. The search goes on from the
// address handed out last, so a released address is not reused at once
// (an ELB may still be deregistering it).
func (p *ipam) allocate(subnet netip.Prefix, uid types.UID) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a := range p.held[uid] {
		if subnet.Contains(a) {
			return a, nil
		}
	}
	start, ok := p.next[subnet]
	if !ok || !subnet.Contains(start) {
		start = subnet.Addr()
	}
	a := start
	for {
		if usable(subnet, a) && !p.excluded[a] {
			if _, taken := p.owner[a]; !taken {
				p.hold(a, uid)
				p.next[subnet] = a.Next()
				return a, nil
			}
		}
		a = a.Next()
		if !subnet.Contains(a) {
			a = subnet.Addr()
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("no free address in subnet %s", subnet)
		}
	}
}

// reserve records that uid holds a (seen in a pod's status). It returns
// false, and the holder, if another pod holds it already.
func (p *ipam) reserve(a netip.Addr, uid types.UID) (types.UID, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.excluded[a] {
		return "", true // a host-network pod: the node's own address
	}
	if o, taken := p.owner[a]; taken && o != uid {
		return o, false
	}
	p.hold(a, uid)
	return "", true
}

func (p *ipam) hold(a netip.Addr, uid types.UID) {
	p.owner[a] = uid
	if p.held[uid] == nil {
		p.held[uid] = map[netip.Addr]bool{}
	}
	p.held[uid][a] = true
}

// release frees every address uid holds.
func (p *ipam) release(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a := range p.held[uid] {
		if p.owner[a] == uid {
			delete(p.owner, a)
		}
	}
	delete(p.held, uid)
}

// holder returns the pod holding a, if any.
func (p *ipam) holder(a netip.Addr) (types.UID, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	uid, ok := p.owner[a]
	return uid, ok
}
