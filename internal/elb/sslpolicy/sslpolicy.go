// Package sslpolicy holds the Elastic Load Balancing security policies (the
// predefined SSL negotiation configurations of HTTPS and TLS listeners) as
// AWS documents them, and maps each one to a Go TLS server configuration.
//
// Sources: "Security policies for your Application Load Balancer"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html)
// and "Security policies for your Network Load Balancer"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html):
// protocols by policy and ciphers by policy, with the cipher order of
// DescribeSSLPolicies; the 2015 policies from the earlier edition of the
// ALB page ("Create an HTTPS listener": ELBSecurityPolicy-2015-05 is
// identical to ELBSecurityPolicy-2016-08, ELBSecurityPolicy-TLS-1-0-2015-04
// adds DES-CBC3-SHA).
//
// The post-quantum policies (names with PQ, 2025-09) are AWS's earlier
// policies of the same name stem with hybrid ML-KEM key exchange added
// (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024); their protocols
// and ciphers are taken to be those of the policy without "PQ". The
// RFC 9151 policies (…-RFC9151-FIPS-2023-07) are not in the table.
//
// # What Go can and cannot do
//
// (*Policy).TLSConfig maps a policy to crypto/tls:
//
//   - MinVersion and MaxVersion are the policy's lowest and highest
//     protocol, so a handshake outside them fails as on AWS.
//   - CipherSuites (TLS 1.0–1.2) are the policy's ciphers that Go
//     implements. Go has no CBC suites with SHA-384 (ECDHE-ECDSA-AES256-SHA384,
//     ECDHE-RSA-AES256-SHA384) and no AES256-SHA256; a client that offers
//     only those fails here where AWS would succeed. Go chooses among the
//     allowed suites by its own preference order, not the policy's
//     priorities.
//   - TLS 1.3 suites are not configurable in Go: every TLS 1.3 handshake
//     may use TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
//     TLS_CHACHA20_POLY1305_SHA256, so the FIPS policies (which exclude
//     ChaCha20) admit one suite more than on AWS.
//   - Key exchange groups: every policy offers X25519, P-256, P-384 and
//     P-521 (FIPS policies: the NIST curves only); PQ policies add the
//     hybrid ML-KEM groups first.
//   - FIPS policies use Go's ordinary (not FIPS 140-validated) crypto
//     unless the process runs with GODEBUG=fips140=on.
package sslpolicy

import (
	"crypto/tls"
	"slices"
	"strings"
)

// Default is the policy of an HTTPS or TLS listener created through the API
// (CLI, CloudFormation, CDK, SDK) without one.
const Default = "ELBSecurityPolicy-2016-08"

// ConsoleDefault is the policy the AWS console proposes for new listeners.
const ConsoleDefault = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"

// The protocol names of DescribeSSLPolicies' SslProtocols.
const (
	TLSv10 = "TLSv1"
	TLSv11 = "TLSv1.1"
	TLSv12 = "TLSv1.2"
	TLSv13 = "TLSv1.3"
)

// The load balancer types of SupportedLoadBalancerTypes.
const (
	TypeApplication = "application"
	TypeNetwork     = "network"
)

// Cipher is one cipher of a policy, by its OpenSSL name, with its priority
// (1 is the most preferred).
type Cipher struct {
	Name     string
	Priority int32
}

// Policy is one security policy as DescribeSSLPolicies reports it.
type Policy struct {
	Name string
	// Protocols are the policy's protocol versions, lowest first
	// ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3").
	Protocols []string
	// Ciphers in the policy's order of preference.
	Ciphers []Cipher
	// SupportedLoadBalancerTypes are "application" and "network".
	SupportedLoadBalancerTypes []string
}

// Names returns the names of every policy, in the table's order.
func Names() []string {
	out := make([]string, len(table))
	for i, p := range table {
		out[i] = p.Name
	}
	return out
}

// Lookup returns a copy of the named policy (names are case-sensitive, as
// ELBv2's are).
func Lookup(name string) (*Policy, bool) {
	for _, p := range table {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return nil, false
}

// All returns a copy of every policy, in the table's order.
func All() []*Policy {
	out := make([]*Policy, len(table))
	for i, p := range table {
		out[i] = p.clone()
	}
	return out
}

func (p *Policy) clone() *Policy {
	c := *p
	c.Protocols = slices.Clone(p.Protocols)
	c.Ciphers = slices.Clone(p.Ciphers)
	c.SupportedLoadBalancerTypes = slices.Clone(p.SupportedLoadBalancerTypes)
	return &c
}

// FIPS reports whether the policy is one of the FIPS policies.
func (p *Policy) FIPS() bool { return strings.Contains(p.Name, "-FIPS-") }

// PostQuantum reports whether the policy offers hybrid post-quantum key
// exchange.
func (p *Policy) PostQuantum() bool { return strings.Contains(p.Name, "-PQ-") }

// SupportsType reports whether listeners of a load balancer type
// ("application", "network") may use the policy.
func (p *Policy) SupportsType(lbType string) bool {
	return slices.Contains(p.SupportedLoadBalancerTypes, lbType)
}

// Versions returns the policy's lowest and highest protocol versions as
// crypto/tls constants.
func (p *Policy) Versions() (minVersion, maxVersion uint16) {
	for _, name := range p.Protocols {
		v := versionOf[name]
		if minVersion == 0 || v < minVersion {
			minVersion = v
		}
		if v > maxVersion {
			maxVersion = v
		}
	}
	return minVersion, maxVersion
}

// GoCipherSuites returns the policy's TLS 1.0–1.2 ciphers that Go
// implements, as crypto/tls IDs in the policy's order.
func (p *Policy) GoCipherSuites() []uint16 {
	var out []uint16
	for _, c := range p.Ciphers {
		if id, ok := goSuite[c.Name]; ok && id != 0 {
			out = append(out, id)
		}
	}
	return out
}

// Unsupported returns the policy's ciphers that Go does not implement (TLS
// 1.3 suites excluded: Go always enables those).
func (p *Policy) Unsupported() []string {
	var out []string
	for _, c := range p.Ciphers {
		if id, ok := goSuite[c.Name]; ok && id == 0 {
			out = append(out, c.Name)
		}
	}
	return out
}

// CurvePreferences returns the key exchange groups the policy offers, most
// preferred first.
func (p *Policy) CurvePreferences() []tls.CurveID {
	var out []tls.CurveID
	if p.PostQuantum() {
		if p.FIPS() {
			out = append(out, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024)
		} else {
			out = append(out, tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024)
		}
	}
	if !p.FIPS() {
		out = append(out, tls.X25519)
	}
	return append(out, tls.CurveP256, tls.CurveP384, tls.CurveP521)
}

// TLSConfig returns a copy of base (or a new configuration when base is
// nil) restricted to the policy: protocol versions, TLS 1.0–1.2 cipher
// suites and key exchange groups. Certificates, ALPN and the rest of base
// are kept. The package documentation lists what Go cannot express.
func (p *Policy) TLSConfig(base *tls.Config) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.MinVersion, cfg.MaxVersion = p.Versions()
	cfg.CipherSuites = p.GoCipherSuites()
	if len(cfg.CipherSuites) == 0 {
		// A TLS 1.3-only policy: leave the (unused) TLS 1.2 list at Go's
		// default rather than an empty list, which Go reads as "default"
		// anyway.
		cfg.CipherSuites = nil
	}
	cfg.CurvePreferences = p.CurvePreferences()
	return cfg
}

// BackendPolicy returns the name of the policy AWS uses for TLS connections
// to targets when a listener uses the named policy: the FIPS 1.0 policy for
// FIPS policies, the TLS 1.3 1.0 policy for other TLS 1.3 policies, else
// ELBSecurityPolicy-2016-08.
func BackendPolicy(listenerPolicy string) string {
	switch {
	case strings.Contains(listenerPolicy, "-FIPS-"):
		return "ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04"
	case strings.Contains(listenerPolicy, "TLS13-"):
		return "ELBSecurityPolicy-TLS13-1-0-2021-06"
	default:
		return Default
	}
}

var versionOf = map[string]uint16{
	TLSv10: tls.VersionTLS10,
	TLSv11: tls.VersionTLS11,
	TLSv12: tls.VersionTLS12,
	TLSv13: tls.VersionTLS13,
}

// goSuite maps every cipher name in the table to its crypto/tls ID; 0 marks
// a TLS 1.0–1.2 suite Go does not implement. TLS 1.3 suites are absent.
var goSuite = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-AES256-SHA384":     0,
	"ECDHE-RSA-AES256-SHA384":       0,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES256-SHA256":                 0,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// CipherName returns the OpenSSL name of a crypto/tls cipher suite as ELB
// reports it (access logs, x-amzn-tls-cipher-suite); TLS 1.3 suites keep
// their IANA names. It returns "" for a suite outside every policy.
func CipherName(id uint16) string {
	switch id {
	case tls.TLS_AES_128_GCM_SHA256:
		return "TLS_AES_128_GCM_SHA256"
	case tls.TLS_AES_256_GCM_SHA384:
		return "TLS_AES_256_GCM_SHA384"
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return "TLS_CHACHA20_POLY1305_SHA256"
	}
	for name, sid := range goSuite {
		if sid == id && sid != 0 {
			return name
		}
	}
	return ""
}

// ProtocolName returns the name of a crypto/tls protocol version as ELB
// reports it ("TLSv1.2"), "" for an unknown version.
func ProtocolName(v uint16) string {
	for name, pv := range versionOf {
		if pv == v {
			return name
		}
	}
	return ""
}
