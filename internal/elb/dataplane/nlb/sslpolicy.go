package nlb

import (
	"crypto/tls"
	"fmt"

	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
)

// policyConfig returns a server configuration restricted to a security
// policy (protocol versions, ciphers, key exchange groups). A listener
// without a policy gets the API's default, as AWS gives it.
func policyConfig(name string) (*tls.Config, error) {
	if name == "" {
		name = sslpolicy.Default
	}
	p, ok := sslpolicy.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("security policy %q: no such policy", name)
	}
	if !p.SupportsType(sslpolicy.TypeNetwork) {
		return nil, fmt.Errorf("security policy %q: not supported by network load balancers", name)
	}
	return p.TLSConfig(nil), nil
}

// targetTLSConfigs returns the client configurations for re-encrypting to
// TLS target groups, by negotiated ALPN protocol: the load balancer offers
// the target the protocol it agreed with the client (or none), uses the
// policy AWS uses towards targets for the listener's policy, and, as AWS
// does, does not verify the target's certificate.
func targetTLSConfigs(listenerPolicy string) map[string]*tls.Config {
	if listenerPolicy == "" {
		listenerPolicy = sslpolicy.Default
	}
	base := &tls.Config{InsecureSkipVerify: true}
	if p, ok := sslpolicy.Lookup(sslpolicy.BackendPolicy(listenerPolicy)); ok {
		base = p.TLSConfig(base)
	}
	m := map[string]*tls.Config{}
	for _, proto := range []string{"", "h2", "http/1.1", "http/1.0"} {
		c := base.Clone()
		if proto != "" {
			c.NextProtos = []string{proto}
		}
		m[proto] = c
	}
	return m
}
