package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// secretCert is a certificate from a kubernetes.io/tls Secret, checked.
type secretCert struct {
	ref     stack.SecretReference
	digest  string
	domains []string
	// notAfter is RFC 3339, empty for an assumed Secret.
	notAfter string
	assumed  bool
}

func (c *secretCert) resID() string { return c.ref.Namespace + "/" + c.ref.Name }

// ParseCertificateSecret checks the data of a TLS Secret as ACM's
// ImportCertificate and an ALB listener would take it: tls.crt holds PEM
// certificates (the leaf first, then its chain), tls.key the leaf's PEM
// private key, unencrypted, matching it, of a kind ACM imports (RSA of
// 1024 to 4096 bits; ECDSA on P-256, P-384 or P-521). It returns the
// leaf's DNS names and expiry.
func ParseCertificateSecret(crt, key []byte) (domains []string, notAfter time.Time, err error) {
	if len(crt) == 0 {
		return nil, time.Time{}, fmt.Errorf("tls.crt is empty; want PEM certificates, the server's first")
	}
	if len(key) == 0 {
		return nil, time.Time{}, fmt.Errorf("tls.key is empty; want the PEM private key of the certificate")
	}
	block, _ := pem.Decode(crt)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, time.Time{}, fmt.Errorf("tls.crt is not PEM-encoded (no CERTIFICATE block); want PEM certificates, the server's first")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("tls.crt: the first certificate does not parse: %v", err)
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return nil, time.Time{}, fmt.Errorf("tls.key does not go with tls.crt: %v", err)
	}
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n != 1024 && n != 2048 && n != 3072 && n != 4096 {
			return nil, time.Time{}, fmt.Errorf("the certificate has an RSA key of %d bits; ACM imports RSA keys of 1024, 2048, 3072 or 4096 bits", n)
		}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, time.Time{}, fmt.Errorf("the certificate has an ECDSA key on %s; ACM imports P-256, P-384 and P-521 keys", pub.Curve.Params().Name)
		}
	default:
		return nil, time.Time{}, fmt.Errorf("the certificate has a %T key; ACM imports RSA and ECDSA keys", leaf.PublicKey)
	}
	seen := map[string]bool{}
	if cn := leaf.Subject.CommonName; cn != "" {
		domains = append(domains, cn)
		seen[cn] = true
	}
	for _, d := range leaf.DNSNames {
		if !seen[d] {
			domains = append(domains, d)
			seen[d] = true
		}
	}
	return domains, leaf.NotAfter, nil
}

// secretData returns a Secret's value for a key, from data or stringData.
func secretData(s *corev1.Secret, k string) []byte {
	if v, ok := s.Data[k]; ok {
		return v
	}
	if v, ok := s.StringData[k]; ok {
		return []byte(v)
	}
	return nil
}

// listenerCertificates resolves an HTTPS listener's certificateRefs.
func (b *gwBuilder) listenerCertificates(l *listener) {
	if l.tls == nil || len(l.tls.CertificateRefs) == 0 {
		return
	}
	if len(l.tls.Options) > 0 {
		b.trace.Add(translate.Warning, l.owner, "listener %s: tls.options are ignored (elbow knows none); the SSL policy comes from a LoadBalancerConfiguration listenerConfiguration", l.name)
	}
	var firstReason, firstMsg string
	fail := func(reason, msg string) {
		if firstReason == "" {
			firstReason, firstMsg = reason, msg
		}
	}
	for i, ref := range l.tls.CertificateRefs {
		at := fmt.Sprintf("tls.certificateRefs[%d]", i)
		if ref.Group == nil || *ref.Group != "" || ref.Kind == nil || *ref.Kind != kindSecret {
			fail(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("%s: group %q kind %s is not supported; want a core Secret (group \"\", kind Secret).", at, deref(ref.Group), deref(ref.Kind)))
			continue
		}
		ns := l.owner.Namespace
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = string(*ref.Namespace)
		}
		if ns != l.owner.Namespace && !b.x.granted(groupGateway, l.owner.Kind, l.owner.Namespace, "", kindSecret, ns, string(ref.Name)) {
			fail(string(gwv1.ListenerReasonRefNotPermitted), fmt.Sprintf("%s: Secret %s/%s is in another namespace and no ReferenceGrant there allows %s from %s to refer to it.", at, ns, ref.Name, l.owner.Kind, l.owner.Namespace))
			continue
		}
		c, err := b.secretCertificate(l, ns, string(ref.Name))
		if err != nil {
			fail(string(gwv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("%s: %v", at, err))
			continue
		}
		l.certs = append(l.certs, c)
	}
	if firstReason != "" {
		l.refsOK, l.refsReason, l.refsMsg = false, firstReason, firstMsg
		if len(l.certs) == 0 {
			l.unprogrammable = "No usable certificate: " + firstMsg
		}
	}
}

// secretCertificate loads and checks a certificate Secret.
func (b *gwBuilder) secretCertificate(l *listener, ns, name string) (*secretCert, error) {
	ref := stack.SecretReference{Namespace: ns, Name: name}
	s, ok := b.x.secrets[key(ns, name)]
	if !ok {
		if b.opts.AssumeMissingSecrets {
			b.trace.Add(translate.Warning, l.owner, "listener %s: certificate Secret %s/%s is not in the input: assumed to exist in the cluster as a valid kubernetes.io/tls Secret", l.name, ns, name)
			c := &secretCert{ref: ref, assumed: true}
			b.secretsUsed[key(ns, name)] = true
			return c, nil
		}
		return nil, fmt.Errorf("secret %s/%s not found", ns, name)
	}
	if s.Type != "" && s.Type != corev1.SecretTypeTLS && s.Type != corev1.SecretTypeOpaque {
		return nil, fmt.Errorf("secret %s/%s is of type %s; want %s", ns, name, s.Type, corev1.SecretTypeTLS)
	}
	crt, keyPEM := secretData(s, corev1.TLSCertKey), secretData(s, corev1.TLSPrivateKeyKey)
	domains, notAfter, err := ParseCertificateSecret(crt, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	b.secretsUsed[key(ns, name)] = true
	return &secretCert{ref: ref, digest: stack.CertificateContentSHA256(crt, keyPEM), domains: domains, notAfter: notAfter.UTC().Format(time.RFC3339)}, nil
}

// importedCertificate adds (once) the stack resource of a certificate.
func (b *gwBuilder) importedCertificate(c *secretCert) (stack.Token, error) {
	if r, ok := b.stack.ImportedCertificates[c.resID()]; ok {
		return r.ARN(), nil
	}
	r := &stack.ImportedCertificate{ResID: c.resID(), Spec: stack.ImportedCertificateSpec{
		SecretRef: c.ref, ContentSHA256: c.digest, DomainNames: c.domains, NotAfter: c.notAfter, Tags: b.lbTags,
	}}
	if err := b.stack.Add(r); err != nil {
		return stack.Token{}, err
	}
	return r.ARN(), nil
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}
