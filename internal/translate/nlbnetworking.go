package translate

import (
	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
)

// udpLike reports whether a target group protocol carries UDP.
func udpLike(p stack.Protocol) bool {
	return p == stack.ProtocolUDP || p == stack.ProtocolTCPUDP || p == stack.ProtocolQUIC || p == stack.ProtocolTCPQUIC
}

// NLBNetworking admits an NLB's backend security group sg to a target
// group's targets: the target port (UDP for UDP-carrying protocols, TCP
// too when health checks use it or the protocol carries both), and the
// health check port when it differs; every TCP (and UDP) port when
// unrestricted (--disable-restricted-sg-rules).
func NLBNetworking(sg stack.Token, proto stack.Protocol, tgPort, hcPort intstr.IntOrString, unrestricted bool) *stack.TGBNetworking {
	tcp, udp := elbv2api.NetworkingProtocolTCP, elbv2api.NetworkingProtocolUDP
	var ports []elbv2api.NetworkingPort
	if unrestricted {
		ports = append(ports, elbv2api.NetworkingPort{Protocol: &tcp})
		if udpLike(proto) {
			ports = append(ports, elbv2api.NetworkingPort{Protocol: &udp})
		}
	} else {
		tp := tgPort
		trafficHC := hcPort.String() == stack.HealthCheckPortTrafficPort || (hcPort.Type == intstr.Int && hcPort.IntValue() == tgPort.IntValue())
		if udpLike(proto) {
			ports = append(ports, elbv2api.NetworkingPort{Protocol: &udp, Port: &tp})
			if proto == stack.ProtocolTCPUDP || proto == stack.ProtocolTCPQUIC || trafficHC {
				ports = append(ports, elbv2api.NetworkingPort{Protocol: &tcp, Port: &tp})
			}
		} else {
			ports = append(ports, elbv2api.NetworkingPort{Protocol: &tcp, Port: &tp})
		}
		if !trafficHC && hcPort.Type == intstr.Int {
			hp := hcPort
			ports = append(ports, elbv2api.NetworkingPort{Protocol: &tcp, Port: &hp})
		}
	}
	return &stack.TGBNetworking{Ingress: []stack.NetworkingIngressRule{{
		From:  []stack.NetworkingPeer{{SecurityGroup: &stack.TGBSecurityGroup{GroupID: sg}}},
		Ports: ports,
	}}}
}

// NLBSources are where an NLB without security groups sends traffic from,
// in the target group's IP family.
type NLBSources struct {
	// SubnetCIDRs are the load balancer's subnets' CIDRs.
	SubnetCIDRs []string
	// ClientRanges are the configured client source ranges (none: any).
	ClientRanges []string
	// VPCCIDRs are the VPC's CIDRs (the clients of an internal load
	// balancer).
	VPCCIDRs []string
	// PreserveClientIP says the targets see the clients' addresses.
	PreserveClientIP bool
	Internal         bool
	IPv6             bool
}

// NLBAddressNetworking admits an NLB that has no security groups to a
// target group's targets by address: its subnets' CIDRs, or the clients
// (the configured ranges, else the VPC for an internal load balancer,
// else anywhere) when client addresses are preserved, which UDP always
// does; health checks come from the subnets.
func NLBAddressNetworking(src NLBSources, proto stack.Protocol, tgPort, hcPort intstr.IntOrString) *stack.TGBNetworking {
	traffic := src.SubnetCIDRs
	defaultUsed := false
	if udpLike(proto) || src.PreserveClientIP {
		traffic = src.ClientRanges
		if len(traffic) == 0 {
			traffic = []string{"0.0.0.0/0"}
			if src.IPv6 {
				traffic = []string{"::/0"}
			}
			if src.Internal {
				traffic = src.VPCCIDRs
			}
			defaultUsed = true
		}
	}
	tcp, udp := elbv2api.NetworkingProtocolTCP, elbv2api.NetworkingProtocolUDP
	tp := tgPort
	var ports []elbv2api.NetworkingPort
	switch proto {
	case stack.ProtocolTCPUDP, stack.ProtocolTCPQUIC:
		ports = []elbv2api.NetworkingPort{{Port: &tp, Protocol: &tcp}, {Port: &tp, Protocol: &udp}}
	case stack.ProtocolUDP, stack.ProtocolQUIC:
		ports = []elbv2api.NetworkingPort{{Port: &tp, Protocol: &udp}}
	default:
		ports = []elbv2api.NetworkingPort{{Port: &tp, Protocol: &tcp}}
	}
	peers := func(cidrs []string) []stack.NetworkingPeer {
		var out []stack.NetworkingPeer
		for _, c := range cidrs {
			out = append(out, stack.NetworkingPeer{IPBlock: &elbv2api.IPBlock{CIDR: c}})
		}
		return out
	}
	n := &stack.TGBNetworking{Ingress: []stack.NetworkingIngressRule{{From: peers(traffic), Ports: ports}}}
	hcSources := src.SubnetCIDRs
	if proto != stack.ProtocolUDP && (hcPort.String() == stack.HealthCheckPortTrafficPort || hcPort.IntValue() == tgPort.IntValue()) {
		open := false
		for _, s := range traffic {
			if s == "0.0.0.0/0" || s == "::/0" {
				open = true
			}
		}
		if !src.PreserveClientIP || defaultUsed || open {
			hcSources = nil
		}
	}
	if len(hcSources) > 0 {
		hp := hcPort
		if hcPort.String() == stack.HealthCheckPortTrafficPort {
			hp = tgPort
		}
		n.Ingress = append(n.Ingress, stack.NetworkingIngressRule{From: peers(hcSources), Ports: []elbv2api.NetworkingPort{{Port: &hp, Protocol: &tcp}}})
	}
	return n
}
