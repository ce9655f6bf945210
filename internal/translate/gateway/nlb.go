package gateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// nlbPort is one port of an NLB Gateway: its usable listeners and the
// route the NLB listener of the port forwards to.
type nlbPort struct {
	port int32
	// listeners are the port's usable listeners, in
	// precedence order: TCP and UDP ones, or TLS ones.
	listeners []*listener
	// route is the route served (the oldest attached), nil when none.
	route *attachment
	// protocols are the protocols of the listeners whose routes the port
	// serves (TCP and UDP make a TCP_UDP listener).
	protocols map[gwv1.ProtocolType]bool
}

// nlbPorts groups the usable listeners by port.
func (b *gwBuilder) nlbPorts() []*nlbPort {
	byPort := map[int32]*nlbPort{}
	var out []*nlbPort
	for _, l := range b.listeners {
		if !l.usable() {
			continue
		}
		p := byPort[l.port]
		if p == nil {
			p = &nlbPort{port: l.port, protocols: map[gwv1.ProtocolType]bool{}}
			byPort[l.port] = p
			out = append(out, p)
		}
		p.listeners = append(p.listeners, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}

// selectL4Routes decides which attached route each port of an NLB Gateway
// serves. An NLB listener forwards every connection of its port to the
// same target groups: it sees no hostname, and no SNI. As the Gateway API
// resolves conflicts, the oldest route wins (then the first by
// namespace/name); the other routes stay accepted and attached, and carry
// no traffic. Where accepting a route would promise what the NLB cannot
// do, it is refused: a TLSRoute asking for other hostnames than the
// served one on the port (no SNI routing), and, on a port with TCP and
// UDP listeners (one TCP_UDP listener), the first route of the other
// protocol when it names other backends.
func (b *gwBuilder) selectL4Routes(atts []*attachment) []*attachment {
	b.ports4 = b.nlbPorts()
	for _, np := range b.ports4 {
		type cand struct {
			a *attachment
			l *listener
		}
		var cands []cand
		for _, l := range np.listeners {
			for _, a := range atts {
				if _, ok := a.hosts[l]; ok {
					cands = append(cands, cand{a, l})
				}
			}
		}
		if len(cands) == 0 {
			continue
		}
		sort.SliceStable(cands, func(i, j int) bool { return olderRoute(cands[i].a.r, cands[j].a.r) })
		w := cands[0]
		np.route = w.a
		np.protocols[w.l.protocol] = true
		for _, c := range cands[1:] {
			switch {
			case c.a == w.a:
				np.protocols[c.l.protocol] = true
			case c.l.protocol == gwv1.TLSProtocolType:
				if !sameHosts(c.a.hosts[c.l], w.a.hosts[w.l]) {
					b.refuseL4(c.a, c.l, fmt.Sprintf("A Network Load Balancer cannot route TLS connections by SNI: port %d (%s) serves %s for hostnames %s, and this route's hostnames there are %s.",
						np.port, c.l.name, w.a.r.ref, strings.Join(w.a.hosts[w.l], ", "), strings.Join(c.a.hosts[c.l], ", ")))
				}
			case c.l.protocol != w.l.protocol && !np.protocols[c.l.protocol]:
				if sameBackends(b.t.analyze(c.a.r), b.t.analyze(w.a.r)) {
					np.protocols[c.l.protocol] = true
					continue
				}
				b.refuseL4(c.a, c.l, fmt.Sprintf("Port %d has %s and %s listeners, which a Network Load Balancer serves with one TCP_UDP listener forwarding both to the same target groups: the port forwards to the backends of %s, and this route names others.",
					np.port, w.l.protocol, c.l.protocol, w.a.r.ref))
			}
		}
	}
	var out []*attachment
	for _, a := range atts {
		if len(a.hosts) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// olderRoute orders routes by creation, then namespace/name, then kind.
func olderRoute(x, y *route) bool {
	if !x.meta.CreationTimestamp.Equal(&y.meta.CreationTimestamp) {
		return x.meta.CreationTimestamp.Before(&y.meta.CreationTimestamp)
	}
	if x.ref.Key() != y.ref.Key() {
		return x.ref.Key() < y.ref.Key()
	}
	return x.kind < y.kind
}

func sameHosts(a, b []string) bool {
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

// sameBackends reports whether two routes forward to the same backends
// with the same weights.
func sameBackends(a, b *routeAnalysis) bool {
	set := func(ra *routeAnalysis) string {
		var out []string
		for _, ri := range ra.rules {
			for _, be := range ri.backends {
				if be.bad == nil && be.weight > 0 {
					out = append(out, fmt.Sprintf("%s=%d", be, be.weight))
				}
			}
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	return set(a) == set(b)
}

// refuseL4 detaches a route from a listener the NLB cannot serve it on:
// the parentRefs that attached it there only are not accepted.
func (b *gwBuilder) refuseL4(a *attachment, l *listener, msg string) {
	r := a.r
	delete(a.hosts, l)
	delete(l.attached, r.key())
	var keep []int
	for _, i := range a.parents {
		left := false
		for _, x := range a.listenersOf[i] {
			if _, ok := a.hosts[x]; ok {
				left = true
			}
		}
		if left {
			keep = append(keep, i)
			continue
		}
		m := b.t.status.routes[r.key()]
		ps := m[i]
		setCondition(&ps.Conditions, cond(string(gwv1.RouteConditionAccepted), metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedValue), msg, r.meta.Generation))
		m[i] = ps
		b.trace.Add(translate.Error, r.ref, "not accepted by %s (parentRefs[%d]): %s", b.ref, i, msg)
	}
	a.parents = keep
}

// portProto is a port and IP protocol the load balancer listens on.
type portProto struct {
	port       int32
	ipProtocol string
}

// portProtocols are the ports and IP protocols of the usable listeners,
// for the managed security group: TCP for HTTP, HTTPS, TCP and TLS, UDP
// for UDP.
func (b *gwBuilder) portProtocols() []portProto {
	seen := map[portProto]bool{}
	var out []portProto
	for _, l := range b.listeners {
		if !l.usable() {
			continue
		}
		pp := portProto{port: l.port, ipProtocol: "tcp"}
		if l.protocol == gwv1.UDPProtocolType {
			pp.ipProtocol = "udp"
		}
		if !seen[pp] {
			seen[pp] = true
			out = append(out, pp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].port != out[j].port {
			return out[i].port < out[j].port
		}
		return out[i].ipProtocol < out[j].ipProtocol
	})
	return out
}

// nlbFields sets what only an NLB takes, and notes the ALB-only settings
// it ignores.
func (b *gwBuilder) nlbFields(spec *stack.LoadBalancerSpec) error {
	s := &b.cfg.spec
	if spec.IPAddressType == stack.IPAddressTypeDualStackWithoutPublicIPv4 {
		return fmt.Errorf("%s ipAddressType %s is for Application Load Balancers; a Network Load Balancer is ipv4 or dualstack", kindLBC, spec.IPAddressType)
	}
	spec.EnablePrefixForIPv6SourceNat = "off"
	if s.LoadBalancerSubnets != nil {
		for _, sn := range *s.LoadBalancerSubnets {
			if sn.SourceNatIPv6Prefix != nil {
				spec.EnablePrefixForIPv6SourceNat = "on"
			}
		}
	}
	if v := s.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic; v != nil {
		if len(spec.SecurityGroups) == 0 {
			return fmt.Errorf("%s enforceSecurityGroupInboundRulesOnPrivateLinkTraffic needs security groups on the load balancer (disableSecurityGroup is set)", kindLBC)
		}
		spec.SecurityGroupsInboundRulesOnPrivateLink = ptrTo(*v)
	}
	if s.CustomerOwnedIpv4Pool != nil || s.IPv4IPAMPoolId != nil {
		b.trace.Add(translate.Warning, b.ref, "%s customerOwnedIpv4Pool and ipv4IPAMPoolId apply to Application Load Balancers; ignored", kindLBC)
	}
	return nil
}

// subnetAllocations maps an NLB's named subnets with their Elastic IP,
// private IPv4, IPv6 and source NAT allocations: each kind given for all
// subnets or none, Elastic IPs for internet-facing load balancers,
// private IPv4 addresses for internal ones, IPv6 ones for dual-stack ones.
func (b *gwBuilder) subnetAllocations(chosen []translate.Subnet, cfgs []v1beta1.SubnetConfiguration, scheme stack.Scheme, ipType stack.IPAddressType) ([]stack.SubnetMapping, error) {
	field := kindLBC + " loadBalancerSubnets"
	count := func(get func(v1beta1.SubnetConfiguration) *string) int {
		n := 0
		for _, c := range cfgs {
			if get(c) != nil {
				n++
			}
		}
		return n
	}
	kinds := []struct {
		name string
		get  func(v1beta1.SubnetConfiguration) *string
		ok   bool
		why  string
	}{
		{"eipAllocation", func(c v1beta1.SubnetConfiguration) *string { return c.EIPAllocation }, scheme == stack.SchemeInternetFacing, "Elastic IPs are for internet-facing load balancers"},
		{"privateIPv4Allocation", func(c v1beta1.SubnetConfiguration) *string { return c.PrivateIPv4Allocation }, scheme == stack.SchemeInternal, "private IPv4 addresses are for internal load balancers"},
		{"ipv6Allocation", func(c v1beta1.SubnetConfiguration) *string { return c.IPv6Allocation }, ipType == stack.IPAddressTypeDualStack, "IPv6 addresses are for dualstack load balancers"},
		{"sourceNatIPv6Prefix", func(c v1beta1.SubnetConfiguration) *string { return c.SourceNatIPv6Prefix }, ipType == stack.IPAddressTypeDualStack, "source NAT prefixes are for dualstack load balancers"},
	}
	for _, k := range kinds {
		switch n := count(k.get); {
		case n == 0:
		case n != len(cfgs):
			return nil, fmt.Errorf("%s: %s is set for %d of %d subnets; set it for every subnet or none", field, k.name, n, len(cfgs))
		case !k.ok:
			return nil, fmt.Errorf("%s: %s: %s (scheme %s, ipAddressType %s)", field, k.name, k.why, scheme, ipType)
		}
	}
	byIdent := map[string]v1beta1.SubnetConfiguration{}
	for _, c := range cfgs {
		byIdent[c.Identifier] = c
	}
	var eips []string
	out := make([]stack.SubnetMapping, 0, len(chosen))
	for _, sn := range chosen {
		c, ok := byIdent[sn.ID]
		if !ok {
			c, ok = byIdent[sn.Tags["Name"]]
		}
		if !ok {
			return nil, fmt.Errorf("%s: subnet %s was chosen but matches no identifier", field, sn.ID)
		}
		m := stack.SubnetMapping{SubnetID: sn.ID, AllocationID: c.EIPAllocation, SourceNatIPv6Prefix: c.SourceNatIPv6Prefix}
		if c.EIPAllocation != nil {
			eips = append(eips, *c.EIPAllocation)
		}
		if a := c.PrivateIPv4Allocation; a != nil {
			if err := translate.CheckSubnetAddress(*a, sn, false); err != nil {
				return nil, fmt.Errorf("%s %s privateIPv4Allocation: %w", field, c.Identifier, err)
			}
			m.PrivateIPv4Address = ptrTo(*a)
		}
		if a := c.IPv6Allocation; a != nil {
			if err := translate.CheckSubnetAddress(*a, sn, true); err != nil {
				return nil, fmt.Errorf("%s %s ipv6Allocation: %w", field, c.Identifier, err)
			}
			m.IPv6Address = ptrTo(*a)
		}
		if p := c.SourceNatIPv6Prefix; p != nil {
			if err := translate.CheckSourceNATPrefix(*p, sn); err != nil {
				return nil, fmt.Errorf("%s %s sourceNatIPv6Prefix: %w", field, c.Identifier, err)
			}
		}
		out = append(out, m)
	}
	if len(eips) > 0 {
		if err := b.cloud.CheckElasticIPs(eips, translate.Source{Object: b.ref, Field: field + " eipAllocation"}, b.trace); err != nil {
			return nil, err
		}
		b.decide("Elastic IPs", strings.Join(eips, ", "), "%s eipAllocation, one per subnet", field)
	}
	return out, nil
}
