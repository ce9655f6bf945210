package nlb

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// alpnPolicies are the ALPN policies of TLS listeners and the preference
// lists AWS documents for them; the load balancer picks the first protocol
// of its list that the client offers. None (or no policy) negotiates no
// ALPN.
var alpnPolicies = map[string][]string{
	"HTTP1Only":      {"http/1.1", "http/1.0"},
	"HTTP2Only":      {"h2"},
	"HTTP2Optional":  {"http/1.1", "http/1.0", "h2"},
	"HTTP2Preferred": {"h2", "http/1.1", "http/1.0"},
	"None":           nil,
}

// alpnProtos returns the preference list of a listener's ALPN policy.
func alpnProtos(policy []string) ([]string, error) {
	if len(policy) == 0 || policy[0] == "" {
		return nil, nil
	}
	protos, ok := alpnPolicies[policy[0]]
	if !ok {
		return nil, fmt.Errorf("ALPN policy %q: want HTTP1Only, HTTP2Only, HTTP2Optional, HTTP2Preferred or None", policy[0])
	}
	return protos, nil
}

// tlsCacheEntry is a listener's server TLS configuration and what it was
// built from.
type tlsCacheEntry struct {
	fingerprint string
	cfg         *tls.Config
	err         error
	// target holds the configurations towards TLS targets, by ALPN.
	target map[string]*tls.Config
}

// serverTLS returns the TLS configuration of a TLS listener, reusing the
// previous one while its certificates, policy and ALPN policy are
// unchanged (so that session tickets survive unrelated state changes).
// Called with applyMu held.
func (p *Plane) serverTLS(snap *state.Snapshot, l *state.Listener) (*tlsCacheEntry, error) {
	fp := tlsFingerprint(snap, l)
	if e, ok := p.tlsCache[l.ARN]; ok && e.fingerprint == fp {
		return e, e.err
	}
	cfg, warnings, err := buildServerTLS(snap, l)
	for _, w := range warnings {
		p.log.Warn("TLS listener certificate", "listener", l.ARN, "err", w)
	}
	e := &tlsCacheEntry{fingerprint: fp, cfg: cfg, err: err, target: targetTLSConfigs(l.SSLPolicy)}
	p.tlsCache[l.ARN] = e
	return e, err
}

func tlsFingerprint(snap *state.Snapshot, l *state.Listener) string {
	h := sha256.New()
	io.WriteString(h, l.SSLPolicy+"\x00")
	for _, a := range l.AlpnPolicy {
		io.WriteString(h, a+"\x00")
	}
	for _, lc := range l.Certificates {
		fmt.Fprintf(h, "%s\x00%t\x00", lc.ARN, lc.Default)
		if c, ok := snap.Certificates[lc.ARN]; ok {
			io.WriteString(h, c.CertificatePEM+"\x00"+c.ChainPEM+"\x00"+c.PrivateKeyPEM+"\x00")
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// buildServerTLS makes a TLS listener's configuration: its certificates
// (the default one first, used when the client sends no SNI or no
// certificate matches it; the others chosen by SNI), the protocol versions,
// ciphers and groups of its security policy, and its ALPN policy. A default
// certificate that is missing or does not parse is an error; an SNI
// certificate that does is left out and reported in warnings.
func buildServerTLS(snap *state.Snapshot, l *state.Listener) (cfg *tls.Config, warnings []error, err error) {
	cfg, err = policyConfig(l.SSLPolicy)
	if err != nil {
		return nil, nil, err
	}
	protos, err := alpnProtos(l.AlpnPolicy)
	if err != nil {
		return nil, nil, err
	}
	cfg.NextProtos = protos
	lcs := append([]state.ListenerCertificate(nil), l.Certificates...)
	sort.SliceStable(lcs, func(i, j int) bool { return lcs[i].Default && !lcs[j].Default })
	if len(lcs) == 0 {
		return nil, nil, errors.New("no certificate")
	}
	for i, lc := range lcs {
		kp, err := keyPair(snap, lc.ARN)
		if err != nil {
			if i == 0 {
				return nil, nil, fmt.Errorf("default certificate: %w", err)
			}
			warnings = append(warnings, fmt.Errorf("SNI certificate left out: %w", err))
			continue
		}
		cfg.Certificates = append(cfg.Certificates, kp)
	}
	return cfg, warnings, nil
}

// keyPair parses a certificate of the state with its chain and key.
func keyPair(snap *state.Snapshot, arn string) (tls.Certificate, error) {
	c, ok := snap.Certificates[arn]
	if !ok {
		return tls.Certificate{}, fmt.Errorf("certificate %s: not found", arn)
	}
	kp, err := tls.X509KeyPair([]byte(c.CertificatePEM+"\n"+c.ChainPEM), []byte(c.PrivateKeyPEM))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s: %w", arn, err)
	}
	return kp, nil
}
