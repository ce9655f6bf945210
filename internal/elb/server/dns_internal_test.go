package server

import (
	"net/netip"
	"slices"
	"testing"
)

// TestDNSAnswer checks which addresses a name resolves to: a network
// load balancer's serving zones only, all of them when none serves, and an
// application load balancer's always all.
func TestDNSAnswer(t *testing.T) {
	a, b, c := netip.MustParseAddr("127.77.0.1"), netip.MustParseAddr("127.77.0.2"), netip.MustParseAddr("127.77.0.3")
	nlb := dnsName{lbARN: "nlb", network: true, zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}, addrs: []netip.Addr{a, b, c}}
	alb := dnsName{lbARN: "alb", zones: nlb.zones, addrs: nlb.addrs}
	for _, tc := range []struct {
		name    string
		n       dnsName
		serving map[string]bool
		want    []netip.Addr
	}{
		{"NLB, two zones serve", nlb, map[string]bool{"us-east-1a": true, "us-east-1c": true}, []netip.Addr{a, c}},
		{"NLB, one zone serves", nlb, map[string]bool{"us-east-1b": true}, []netip.Addr{b}},
		{"NLB, none serves: fail open", nlb, nil, []netip.Addr{a, b, c}},
		{"ALB: every zone", alb, map[string]bool{"us-east-1b": true}, []netip.Addr{a, b, c}},
	} {
		d := &dnsServer{serving: func(arn string) map[string]bool {
			if arn != tc.n.lbARN {
				t.Errorf("%s: asked for %s", tc.name, arn)
			}
			return tc.serving
		}}
		if got := d.answer(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := (&dnsServer{}).answer(nlb); !slices.Equal(got, nlb.addrs) {
		t.Errorf("without a data plane: %v, want every address", got)
	}
}
