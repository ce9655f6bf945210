package elbv2

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// usedVPCAddresses returns the VPC addresses held by instances, network
// interfaces and load balancer nodes.
func usedVPCAddresses(tx *state.Tx) (map[string]bool, error) {
	used := map[string]bool{}
	add := func(ip string) {
		if a, err := netip.ParseAddr(ip); err == nil {
			used[a.String()] = true
		}
	}
	err := state.ForEachPrefix(tx, state.Instances, "", func(in *state.Instance) error {
		if in.State != "terminated" {
			add(in.PrivateIP)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
		for _, ip := range n.PrivateIPs {
			add(ip)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
		for _, z := range lb.Zones {
			add(z.PrivateIPv4Address)
		}
		return nil
	})
	return used, err
}

// pickSubnetAddress returns the VPC address of a load balancer node in a
// subnet: want when given (it must be a free, unreserved address of the
// subnet), else a free address chosen deterministically from seed, so that
// the same load balancer gets the same address in a fresh state.
func pickSubnetAddress(sn *state.Subnet, want, seed string, used map[string]bool) (string, error) {
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil || !p.Addr().Is4() {
		return "", errf(codeInvalidSubnet, "Subnet '%s' has no usable IPv4 CIDR block", sn.ID)
	}
	p = p.Masked()
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() {
			return "", errf(codeInvalidConfiguration, "The private IPv4 address '%s' is not a valid IPv4 address", want)
		}
		if !p.Contains(a) {
			return "", errf(codeInvalidConfiguration, "The private IPv4 address '%s' is not in the range of subnet '%s' (%s)", want, sn.ID, p)
		}
		if reserved(p, a) {
			return "", errf(codeInvalidConfiguration, "The private IPv4 address '%s' is reserved by AWS in subnet '%s'", want, sn.ID)
		}
		if used[a.String()] {
			return "", errf(codeInvalidConfiguration, "The private IPv4 address '%s' is already in use", want)
		}
		return a.String(), nil
	}
	size := uint64(1) << (32 - p.Bits())
	base := binary.BigEndian.Uint32(p.Addr().AsSlice())
	sum := sha256.Sum256([]byte(seed))
	start := binary.BigEndian.Uint64(sum[:8]) % size
	for i := uint64(0); i < size; i++ {
		off := (start + i) % size
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+uint32(off))
		a := netip.AddrFrom4(b)
		if !reserved(p, a) && !used[a.String()] {
			return a.String(), nil
		}
	}
	return "", errf(codeInvalidSubnet, "Subnet '%s' has no free addresses", sn.ID)
}

// reserved reports whether AWS reserves an address of a subnet: the first
// four and the last.
func reserved(p netip.Prefix, a netip.Addr) bool {
	size := uint64(1) << (32 - p.Bits())
	off := uint64(binary.BigEndian.Uint32(a.AsSlice()) - binary.BigEndian.Uint32(p.Addr().AsSlice()))
	return off < 4 || off == size-1
}
