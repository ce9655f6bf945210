package nlb

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// defaultSSLPolicy is the policy of a TLS listener created without one.
const defaultSSLPolicy = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"

// policyConfig returns a server configuration with the protocol versions of
// a security policy.
//
// TODO(nlb): use internal/elb/sslpolicy (ciphers and groups too) once it
// lands; until then only the minimum protocol version is read from the
// policy's name, which encodes it.
func policyConfig(name string) (*tls.Config, error) {
	if name == "" {
		name = defaultSSLPolicy
	}
	if !strings.HasPrefix(name, "ELBSecurityPolicy-") {
		return nil, fmt.Errorf("security policy %q: not an ELB security policy", name)
	}
	min := uint16(tls.VersionTLS10)
	switch {
	case strings.Contains(name, "TLS13-1-3"):
		min = tls.VersionTLS13
	case strings.Contains(name, "TLS13-1-2"), strings.Contains(name, "TLS-1-2"):
		min = tls.VersionTLS12
	case strings.Contains(name, "TLS13-1-1"), strings.Contains(name, "TLS-1-1"):
		min = tls.VersionTLS11
	}
	max := uint16(tls.VersionTLS13)
	if !strings.Contains(name, "TLS13") {
		max = tls.VersionTLS12
	}
	return &tls.Config{MinVersion: min, MaxVersion: max}, nil
}
