package agent

import (
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestUsable(t *testing.T) {
	subnet := netip.MustParsePrefix("10.0.128.0/19")
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.0.128.0", false}, // network
		{"10.0.128.1", false}, // router
		{"10.0.128.2", false}, // DNS
		{"10.0.128.3", false}, // reserved
		{"10.0.128.4", true},
		{"10.0.130.0", true},
		{"10.0.159.254", true},
		{"10.0.159.255", false}, // broadcast
		{"10.0.160.4", false},   // another subnet
	} {
		if got := usable(subnet, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("usable(%s, %s) = %v, want %v", subnet, tc.addr, got, tc.want)
		}
	}
}

func TestIPAMAllocate(t *testing.T) {
	subnet := netip.MustParsePrefix("10.0.128.0/28") // .4 to .14 usable
	node := netip.MustParseAddr("10.0.128.5")
	p := newIPAM([]netip.Addr{node})

	// An address another pod already holds (seen in its status).
	if _, ok := p.reserve(netip.MustParseAddr("10.0.128.6"), "seen"); !ok {
		t.Fatal("reserve of a free address refused")
	}
	if owner, ok := p.reserve(netip.MustParseAddr("10.0.128.6"), "other"); ok || owner != "seen" {
		t.Errorf("reserve of a held address = %q, %v; want refused, held by seen", owner, ok)
	}
	if _, ok := p.reserve(node, "host-network"); !ok {
		t.Error("reserve of the node's address (a host-network pod) refused")
	}

	var got []string
	for i := range 9 {
		a, err := p.allocate(subnet, types.UID("pod"+string(rune('a'+i))))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, a.String())
	}
	want := "10.0.128.4 10.0.128.7 10.0.128.8 10.0.128.9 10.0.128.10 10.0.128.11 10.0.128.12 10.0.128.13 10.0.128.14"
	if strings.Join(got, " ") != want {
		t.Errorf("allocated %s\nwant      %s", strings.Join(got, " "), want)
	}
	if _, err := p.allocate(subnet, "full"); err == nil || !strings.Contains(err.Error(), "no free address in subnet 10.0.128.0/28") {
		t.Errorf("allocation from a full subnet: %v, want an error naming the subnet", err)
	}

	// The same pod asking again gets its address again.
	if a, _ := p.allocate(subnet, "podb"); a.String() != "10.0.128.7" {
		t.Errorf("second allocation for podb = %s, want its 10.0.128.7", a)
	}

	// Released addresses are free again; the search goes on after the last
	// address handed out (here the subnet's end, so it wraps).
	p.release("podc") // .8
	p.release("podf") // .11
	if _, held := p.holder(netip.MustParseAddr("10.0.128.8")); held {
		t.Error("10.0.128.8 still held after release")
	}
	a, err := p.allocate(subnet, "new1")
	if err != nil || a.String() != "10.0.128.8" {
		t.Errorf("after release: %s, %v; want 10.0.128.8 (the first free after the wrap)", a, err)
	}
	a, err = p.allocate(subnet, "new2")
	if err != nil || a.String() != "10.0.128.11" {
		t.Errorf("after release: %s, %v; want 10.0.128.11", a, err)
	}
	if uid, _ := p.holder(netip.MustParseAddr("10.0.128.6")); uid != "seen" {
		t.Errorf("10.0.128.6 held by %q, want seen", uid)
	}
}

func TestIPAMSharedSubnet(t *testing.T) {
	// Two nodes of one zone share the subnet: neither hands out the
	// other's pod's address nor the other node's.
	subnet := netip.MustParsePrefix("10.0.128.0/19")
	p := newIPAM([]netip.Addr{netip.MustParseAddr("10.0.128.4"), netip.MustParseAddr("10.0.128.6")})
	seen := map[netip.Addr]bool{}
	for i := range 50 {
		a, err := p.allocate(subnet, types.UID(rune('A'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] || a.String() == "10.0.128.4" || a.String() == "10.0.128.6" {
			t.Fatalf("allocation %d handed out %s twice or a node's address", i, a)
		}
		seen[a] = true
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.128.0/19": "10.0.159.255",
		"10.0.0.0/16":   "10.0.255.255",
		"10.0.192.0/28": "10.0.192.15",
	} {
		if got := lastAddr(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}
