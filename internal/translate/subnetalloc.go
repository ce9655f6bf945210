package translate

import (
	"fmt"
	"net/netip"
)

// SourceNATPrefixBits is the length of the IPv6 prefix an NLB with UDP
// listeners uses for source NAT in a subnet.
const SourceNATPrefixBits = 80

// SourceNATAutoAssigned asks AWS to pick a subnet's source NAT prefix.
const SourceNATAutoAssigned = "auto_assigned"

// CheckSourceNATPrefix checks an NLB's IPv6 source NAT prefix for a
// subnet: auto_assigned, or an IPv6 /80 inside the subnet's IPv6 CIDR (not
// checked for an assumed subnet).
func CheckSourceNATPrefix(p string, s Subnet) error {
	if p == SourceNATAutoAssigned {
		return nil
	}
	pre, err := netip.ParsePrefix(p)
	if err != nil || !pre.Addr().Is6() {
		return fmt.Errorf("%q is not an IPv6 CIDR", p)
	}
	if pre.Bits() != SourceNATPrefixBits {
		return fmt.Errorf("%q: the prefix length must be %d", p, SourceNATPrefixBits)
	}
	if s.Assumed {
		return nil
	}
	sp, err := netip.ParsePrefix(s.IPv6CIDR)
	if err != nil || !sp.Contains(pre.Addr()) {
		return fmt.Errorf("%q is not inside subnet %s's IPv6 CIDR %q", p, s.ID, s.IPv6CIDR)
	}
	return nil
}

// CheckSubnetAddress checks an address an NLB is to have in a subnet: an
// IPv4 (or, v6, IPv6) address inside the subnet's CIDR (not checked for
// an assumed subnet).
func CheckSubnetAddress(a string, s Subnet, v6 bool) error {
	ip, err := netip.ParseAddr(a)
	family, cidr := "IPv4", s.CIDR
	if v6 {
		family, cidr = "IPv6", s.IPv6CIDR
	}
	if err != nil || ip.Is6() != v6 || (!v6 && !ip.Is4()) {
		return fmt.Errorf("%q is not an %s address", a, family)
	}
	if s.Assumed {
		return nil
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Contains(ip) {
		return fmt.Errorf("%s is not inside subnet %s's %s CIDR %q", a, s.ID, family, cidr)
	}
	return nil
}
