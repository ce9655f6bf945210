package vpcaddr

import (
	"net/netip"
	"testing"
)

func TestDefaultMapKeepsLowBits(t *testing.T) {
	m := Default()
	cases := []struct{ vpc, host string }{
		{"10.0.3.7", "127.10.3.7"},
		{"10.0.255.254", "127.10.255.254"},
		{"10.1.0.1", "10.1.0.1"},          // outside the VPC: unchanged
		{"192.0.2.1", "192.0.2.1"},        // unrelated
		{"::ffff:10.0.0.9", "127.10.0.9"}, // v4-mapped v6 is unmapped first
	}
	for _, c := range cases {
		got := m.ToHost(netip.MustParseAddr(c.vpc))
		if got.String() != c.host {
			t.Errorf("ToHost(%s) = %s, want %s", c.vpc, got, c.host)
		}
	}
	back, ok := m.FromHost(netip.MustParseAddr("127.10.3.7"))
	if !ok || back.String() != "10.0.3.7" {
		t.Errorf("FromHost(127.10.3.7) = %s, %v; want 10.0.3.7, true", back, ok)
	}
	if _, ok := m.FromHost(netip.MustParseAddr("127.0.0.1")); ok {
		t.Errorf("FromHost(127.0.0.1) claims a VPC address")
	}
}

func TestUnalignedPrefix(t *testing.T) {
	m, err := Parse("10.0.0.0/20=127.10.16.0/20")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ToHost(netip.MustParseAddr("10.0.15.200")); got.String() != "127.10.31.200" {
		t.Errorf("got %s, want 127.10.31.200", got)
	}
	if got := m.ToHost(netip.MustParseAddr("10.0.16.1")); got.String() != "10.0.16.1" {
		t.Errorf("address outside /20 was translated to %s", got)
	}
}

func TestEmptyMapIsIdentity(t *testing.T) {
	m, err := Parse("")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("10.0.0.1")
	if !m.Empty() || m.ToHost(a) != a {
		t.Errorf("empty map translated %s", a)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"10.0.0.0/16",               // no '='
		"10.0.0.0/16=127.10.0.0/24", // lengths differ
		"10.0.0.0/16=::/16",         // families differ
		"10.0.0.1/16=127.10.0.0/16", // host bits set
		"10.0.0.0/16=127.10.0.0/16,10.0.1.0/24=127.11.1.0/24", // overlap
		"nonsense=127.10.0.0/16",
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", s)
		}
	}
	m, err := Parse("10.0.0.0/16=127.10.0.0/16, 172.16.0.0/12=127.16.0.0/12")
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != "10.0.0.0/16=127.10.0.0/16,172.16.0.0/12=127.16.0.0/12" {
		t.Errorf("String() = %q", m.String())
	}
}

func FuzzParse(f *testing.F) {
	f.Add("10.0.0.0/16=127.10.0.0/16")
	f.Add("fd00::/64=fd01::/64")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses must round-trip and translate without panicking.
		if _, err := Parse(m.String()); err != nil {
			t.Fatalf("round trip of %q: %v", m.String(), err)
		}
		for _, mm := range m.Mappings() {
			// The first address of a VPC prefix lands on the first of its host prefix.
			if got := m.ToHost(mm.VPC.Addr()); got != mm.Host.Addr() {
				t.Fatalf("ToHost(%s) = %s, want %s", mm.VPC.Addr(), got, mm.Host.Addr())
			}
		}
	})
}
