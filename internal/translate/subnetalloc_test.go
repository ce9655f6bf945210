package translate

import (
	"strings"
	"testing"
)

func TestSubnetAllocations(t *testing.T) {
	s := Subnet{ID: "subnet-1", CIDR: "10.0.128.0/19", IPv6CIDR: "2600:1f18:1::/64"}
	for _, tc := range []struct {
		addr string
		v6   bool
		err  string
	}{
		{"10.0.128.10", false, ""},
		{"10.0.0.10", false, "not inside subnet subnet-1's IPv4 CIDR"},
		{"2600:1f18:1::10", false, "not an IPv4 address"},
		{"nope", false, "not an IPv4 address"},
		{"2600:1f18:1::10", true, ""},
		{"2600:1f18:2::10", true, "not inside subnet subnet-1's IPv6 CIDR"},
		{"10.0.128.10", true, "not an IPv6 address"},
		{"::ffff:10.0.128.10", false, "not an IPv4 address"},
	} {
		err := CheckSubnetAddress(tc.addr, s, tc.v6)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s v6=%v: %v, want %q", tc.addr, tc.v6, err, tc.err)
		}
	}
	if err := CheckSubnetAddress("10.9.9.9", Subnet{ID: "subnet-x", Assumed: true}, false); err != nil {
		t.Errorf("an assumed subnet's CIDR is unknown: %v", err)
	}
	for _, tc := range []struct{ p, err string }{
		{"auto_assigned", ""},
		{"2600:1f18:1:0:1::/80", ""},
		{"2600:1f18:1::/64", "prefix length must be 80"},
		{"2600:1f18:9::/80", "not inside subnet"},
		{"10.0.0.0/80", "not an IPv6 CIDR"},
	} {
		err := CheckSourceNATPrefix(tc.p, s)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.p, err, tc.err)
		}
	}
}

func FuzzCheckSubnetAddress(f *testing.F) {
	for _, s := range []string{"10.0.128.10", "::1", "", "10.0.128.256", "2600:1f18:1::1%eth0"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	s := Subnet{ID: "subnet-1", CIDR: "10.0.128.0/19", IPv6CIDR: "2600:1f18:1::/64"}
	f.Fuzz(func(t *testing.T, a string, v6 bool) {
		if err := CheckSubnetAddress(a, s, v6); err == nil && (a == "" || (!v6 && !strings.HasPrefix(a, "10.0.1"))) {
			t.Fatalf("%q accepted in %s (v6=%v)", a, s.CIDR, v6)
		}
		_ = CheckSourceNATPrefix(a, s)
	})
}
