// Package vpcaddr realises the local VPC's addresses on host loopback.
//
// Kubernetes refuses loopback addresses in EndpointSlices, and on a developer
// machine no traffic may leave loopback. So VPC addresses (nodes, pods, target
// IPs, instances' private IPs) are carried unchanged by Kubernetes objects and
// the ELB APIs, and translated by a Map to a host address whenever something
// dials or listens. The low bits are kept: with the default map
// 10.0.0.0/16 -> 127.10.0.0/16, 10.0.3.7 becomes 127.10.3.7.
//
// An empty Map is the identity: addresses are used as they are.
package vpcaddr

import (
	"fmt"
	"net/netip"
	"strings"
)

// Mapping translates one VPC prefix to a host prefix of the same length.
type Mapping struct {
	// VPC is the prefix as the cloud sees it, for example 10.0.0.0/16.
	VPC netip.Prefix
	// Host is where it is realised, for example 127.10.0.0/16.
	Host netip.Prefix
}

// Map is an ordered list of mappings; the first whose prefix contains an
// address applies. The zero Map translates nothing.
type Map struct {
	mappings []Mapping
}

// Default is the map used when none is configured: 10.0.0.0/16 -> 127.10.0.0/16.
func Default() Map {
	m, err := New(Mapping{
		VPC:  netip.MustParsePrefix("10.0.0.0/16"),
		Host: netip.MustParsePrefix("127.10.0.0/16"),
	})
	if err != nil {
		panic(err) // constant input
	}
	return m
}

// New validates the mappings: both sides of one family and of equal length,
// prefixes in canonical form, and no two VPC prefixes overlapping.
func New(mappings ...Mapping) (Map, error) {
	for i, m := range mappings {
		if !m.VPC.IsValid() || !m.Host.IsValid() {
			return Map{}, fmt.Errorf("address map entry %d: both prefixes are required", i)
		}
		if m.VPC.Addr().Is4() != m.Host.Addr().Is4() {
			return Map{}, fmt.Errorf("address map entry %d (%s -> %s): prefixes of different families", i, m.VPC, m.Host)
		}
		if m.VPC.Bits() != m.Host.Bits() {
			return Map{}, fmt.Errorf("address map entry %d (%s -> %s): prefix lengths differ; they must be equal", i, m.VPC, m.Host)
		}
		if m.VPC != m.VPC.Masked() || m.Host != m.Host.Masked() {
			return Map{}, fmt.Errorf("address map entry %d (%s -> %s): host bits set; write %s -> %s", i, m.VPC, m.Host, m.VPC.Masked(), m.Host.Masked())
		}
		for j := 0; j < i; j++ {
			if mappings[j].VPC.Overlaps(m.VPC) {
				return Map{}, fmt.Errorf("address map entries %d and %d overlap (%s, %s)", j, i, mappings[j].VPC, m.VPC)
			}
		}
	}
	return Map{mappings: append([]Mapping(nil), mappings...)}, nil
}

// Parse reads a comma-separated list of "VPC=HOST" pairs, for example
// "10.0.0.0/16=127.10.0.0/16". The empty string is the empty (identity) Map.
func Parse(s string) (Map, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Map{}, nil
	}
	var ms []Mapping
	for _, part := range strings.Split(s, ",") {
		vpc, host, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Map{}, fmt.Errorf("address map %q: entry %q is not VPC_CIDR=HOST_CIDR", s, part)
		}
		v, err := netip.ParsePrefix(strings.TrimSpace(vpc))
		if err != nil {
			return Map{}, fmt.Errorf("address map %q: VPC prefix: %w", s, err)
		}
		h, err := netip.ParsePrefix(strings.TrimSpace(host))
		if err != nil {
			return Map{}, fmt.Errorf("address map %q: host prefix: %w", s, err)
		}
		ms = append(ms, Mapping{VPC: v, Host: h})
	}
	return New(ms...)
}

// String renders the map in the form Parse reads.
func (m Map) String() string {
	parts := make([]string, len(m.mappings))
	for i, mm := range m.mappings {
		parts[i] = mm.VPC.String() + "=" + mm.Host.String()
	}
	return strings.Join(parts, ",")
}

// Mappings returns a copy of the map's entries.
func (m Map) Mappings() []Mapping { return append([]Mapping(nil), m.mappings...) }

// Empty reports whether the map is the identity.
func (m Map) Empty() bool { return len(m.mappings) == 0 }

// ToHost returns the host address that realises a VPC address. Addresses
// outside every mapped prefix are returned unchanged.
func (m Map) ToHost(vpc netip.Addr) netip.Addr {
	vpc = vpc.Unmap()
	for _, mm := range m.mappings {
		if mm.VPC.Contains(vpc) {
			return translate(vpc, mm.VPC, mm.Host)
		}
	}
	return vpc
}

// FromHost returns the VPC address a host address stands for, and whether it
// stands for one.
func (m Map) FromHost(host netip.Addr) (netip.Addr, bool) {
	host = host.Unmap()
	for _, mm := range m.mappings {
		if mm.Host.Contains(host) {
			return translate(host, mm.Host, mm.VPC), true
		}
	}
	return host, false
}

// ToHostPort is ToHost for an address and port.
func (m Map) ToHostPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(m.ToHost(ap.Addr()), ap.Port())
}

// translate keeps the host bits of a (within prefix from) and puts them under to.
func translate(a netip.Addr, from, to netip.Prefix) netip.Addr {
	src := a.AsSlice()
	dst := to.Addr().AsSlice()
	bits := from.Bits()
	for i := range src {
		keep := bits - i*8 // network bits still to take from dst in this byte
		switch {
		case keep >= 8:
			// whole byte is network: dst already holds it
		case keep <= 0:
			dst[i] = src[i]
		default:
			mask := byte(0xff) << (8 - keep)
			dst[i] = dst[i]&mask | src[i]&^mask
		}
	}
	out, _ := netip.AddrFromSlice(dst)
	return out
}
