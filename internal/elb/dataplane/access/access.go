// Package access decides which clients may connect to a load balancer's
// listener, from the inbound rules of the load balancer's security groups,
// as AWS's security groups do for ALBs and for NLBs that have them.
package access

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Policy is the compiled inbound policy of one load balancer. The zero
// value and a nil *Policy allow everything (a network load balancer
// without security groups).
type Policy struct {
	enforce bool
	rules   []rule
	addrs   vpcaddr.Map
}

type rule struct {
	proto    string // tcp, udp or -1
	from, to uint16
	prefix   netip.Prefix
}

// Compile builds the policy of a load balancer from a snapshot. A load
// balancer with security groups admits only what their inbound rules
// allow; rules whose source is another security group admit nothing here
// (a client's group membership is not known on the host). Compile once per
// state change, not per connection.
func Compile(snap *state.Snapshot, lb *state.LoadBalancer, addrs vpcaddr.Map) *Policy {
	p := &Policy{addrs: addrs}
	if len(lb.SecurityGroups) == 0 {
		return p
	}
	p.enforce = true
	for _, id := range lb.SecurityGroups {
		sg, ok := snap.SecurityGroups[id]
		if !ok {
			continue
		}
		for _, r := range sg.Rules {
			if r.Egress {
				continue
			}
			cidr := r.CIDRIPv4
			if cidr == "" {
				cidr = r.CIDRIPv6
			}
			prefix, err := netip.ParsePrefix(cidr)
			if err != nil {
				continue
			}
			proto := strings.ToLower(r.Protocol)
			switch proto {
			case "6":
				proto = "tcp"
			case "17":
				proto = "udp"
			case "all":
				proto = "-1"
			}
			from, to := uint16(0), uint16(65535)
			if proto != "-1" {
				if r.FromPort < 0 || r.ToPort > 65535 || r.FromPort > r.ToPort {
					continue
				}
				from, to = uint16(r.FromPort), uint16(r.ToPort)
			}
			p.rules = append(p.rules, rule{proto: proto, from: from, to: to, prefix: prefix.Masked()})
		}
	}
	return p
}

// Allow reports whether a client at addr may reach port over proto ("tcp"
// or "udp"). The client's address is first translated to the VPC address
// it stands for, when it stands for one, so that rules written for the VPC
// apply to the host addresses that realise it.
func (p *Policy) Allow(proto string, port uint16, addr netip.Addr) bool {
	if p == nil || !p.enforce {
		return true
	}
	addr = addr.Unmap()
	candidates := []netip.Addr{addr}
	if vpc, ok := p.addrs.FromHost(addr); ok {
		candidates = append(candidates, vpc)
	}
	for _, r := range p.rules {
		if r.proto != "-1" && r.proto != proto {
			continue
		}
		if port < r.from || port > r.to {
			continue
		}
		for _, a := range candidates {
			if r.prefix.Contains(a) {
				return true
			}
		}
	}
	return false
}

// String describes the policy for logs.
func (p *Policy) String() string {
	if p == nil || !p.enforce {
		return "allow all"
	}
	var b strings.Builder
	for i, r := range p.rules {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.proto + " " + strconv.Itoa(int(r.from)) + "-" + strconv.Itoa(int(r.to)) + " from " + r.prefix.String())
	}
	if b.Len() == 0 {
		return "deny all"
	}
	return b.String()
}
