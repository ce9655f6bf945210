package access

import (
	"net/netip"
	"testing"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

func TestPolicy(t *testing.T) {
	snap := &state.Snapshot{SecurityGroups: map[string]*state.SecurityGroup{
		"sg-web": {ID: "sg-web", Rules: []state.SGRule{
			{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDRIPv4: "0.0.0.0/0"},
			{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRIPv4: "10.0.0.0/16"},
			{Protocol: "tcp", FromPort: 443, ToPort: 443, SourceGroupID: "sg-other"},
			{Protocol: "udp", FromPort: 53, ToPort: 53, CIDRIPv6: "::1/128"},
			{Protocol: "-1", Egress: true, CIDRIPv4: "0.0.0.0/0"},
		}},
	}}
	p := Compile(snap, &state.LoadBalancer{SecurityGroups: []string{"sg-web", "sg-missing"}}, vpcaddr.Default())
	cases := []struct {
		proto string
		port  uint16
		addr  string
		want  bool
	}{
		{"tcp", 80, "127.0.0.1", true},
		{"tcp", 81, "127.0.0.1", false},  // no rule for the port
		{"udp", 80, "127.0.0.1", false},  // wrong protocol
		{"tcp", 443, "127.0.0.1", false}, // not in the VPC
		{"tcp", 443, "127.10.1.2", true}, // host address standing for 10.0.1.2
		{"tcp", 443, "10.0.9.9", true},   // a VPC address itself
		{"udp", 53, "::1", true},         // IPv6 rule
		{"tcp", 22, "10.0.0.1", false},   // egress rules admit nothing inbound
	}
	for _, c := range cases {
		if got := p.Allow(c.proto, c.port, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Allow(%s, %d, %s) = %v, want %v (policy %s)", c.proto, c.port, c.addr, got, c.want, p)
		}
	}
	open := Compile(snap, &state.LoadBalancer{}, vpcaddr.Default())
	if !open.Allow("udp", 9, netip.MustParseAddr("192.0.2.1")) {
		t.Error("a load balancer without security groups refused a client")
	}
	closed := Compile(snap, &state.LoadBalancer{SecurityGroups: []string{"sg-missing"}}, vpcaddr.Default())
	if closed.Allow("tcp", 80, netip.MustParseAddr("127.0.0.1")) || closed.String() != "deny all" {
		t.Error("security groups without rules admitted a client")
	}
}
