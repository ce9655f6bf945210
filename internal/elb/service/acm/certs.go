package acm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Params describes a certificate for Provision.
type Params struct {
	// ARN is the certificate's ARN (required), for example one named by a
	// manifest; NewARN makes a fresh one.
	ARN string
	// DomainName and SubjectAlternativeNames are the names an issued
	// certificate covers (ignored when CertificatePEM is given).
	DomainName              string
	SubjectAlternativeNames []string
	// KeyAlgorithm of an issued certificate: RSA_2048 (default),
	// EC_prime256v1, EC_secp384r1, …
	KeyAlgorithm string
	// Type is AMAZON_ISSUED (default without PEM) or IMPORTED (default
	// with PEM).
	Type string
	// Status is ISSUED by default.
	Status string
	// NotAfter ends an issued certificate's validity (default: 395 days
	// from now).
	NotAfter time.Time
	// CertificatePEM, PrivateKeyPEM and ChainPEM import existing
	// material instead of issuing from the local CA.
	CertificatePEM string
	PrivateKeyPEM  string
	ChainPEM       string
	// Tags are the certificate's tags.
	Tags []state.Tag
	// Now is the creation time (time.Now when zero).
	Now time.Time
}

// NewARN returns a fresh ACM certificate ARN of AWS's shape:
// arn:aws:acm:REGION:ACCOUNT:certificate/UUID.
func NewARN(region, account string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s-%s-%s-%s-%s", region, account, h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}

// provisionableARN is the shape of the certificate ARNs that are
// auto-provisioned: arn:PARTITION:acm:REGION:ACCOUNT:certificate/ID, in
// any region and account (digits, as ACM's CertificateArn pattern has it:
// manifests written as examples often have fewer than twelve).
var provisionableARN = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d+:certificate/[A-Za-z0-9-]+$`)

// ProvisionableARN reports whether arn has the shape of an ACM
// certificate ARN, in any region and account: only such ARNs are
// auto-provisioned.
func ProvisionableARN(arn string) bool { return provisionableARN.MatchString(arn) }

// AutoProvisionDomain returns the domain name of auto-provisioned
// certificates for a load balancer DNS domain: *.REGION.elb.localhost for
// us-east-1.elb.localhost.
func AutoProvisionDomain(dnsDomain string) string { return "*." + dnsDomain }

// ProvisionReference issues from the local CA, under arn and for domain,
// a certificate that a request names and ACM does not hold
// (--auto-provision-references), and notes it in req as named by
// parameter. It is the one way certificates are auto-provisioned, for
// ELBv2 listeners and ACM's own reads alike. A certificate ACM holds is
// returned as it is; an ARN that is not of ACM's shape
// (ProvisionableARN) returns nil.
func ProvisionReference(tx *state.Tx, req *autoprovision.Request, arn, parameter, domain string, now time.Time) (c *state.Certificate, created bool, err error) {
	if c, ok, err := state.Get(tx, state.Certificates, arn); err != nil || ok {
		return c, false, err
	}
	if !ProvisionableARN(arn) {
		return nil, false, nil
	}
	if c, err = Provision(tx, Params{ARN: arn, DomainName: domain, Now: now}); err != nil {
		return nil, false, err
	}
	req.Add(autoprovision.KindCertificate, arn, parameter,
		fmt.Sprintf("a certificate for %s issued by the local CA under the ARN named", domain),
		slog.String("domain", domain), slog.String("serial", c.Serial))
	return c, true, nil
}

// Provision creates a certificate with a given ARN inside a write
// transaction: issued at once by the local CA for the domain names, or
// imported from PEM material. When a certificate with that ARN exists it
// is returned unchanged. This is how the local ELB auto-provisions a
// certificate ARN a manifest names, and how facts certificates are
// created.
func Provision(tx *state.Tx, p Params) (*state.Certificate, error) {
	if p.ARN == "" {
		return nil, errors.New("acm: Provision needs an ARN")
	}
	if c, ok, err := state.Get(tx, state.Certificates, p.ARN); err != nil || ok {
		return c, err
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	var c *state.Certificate
	var err error
	if p.CertificatePEM != "" {
		c, err = importMaterial([]byte(p.CertificatePEM), []byte(p.PrivateKeyPEM), []byte(p.ChainPEM))
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", p.ARN, err)
		}
		c.Type = "IMPORTED"
		c.ImportedAt = now
	} else {
		domains, err := checkDomains(p.DomainName, p.SubjectAlternativeNames)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", p.ARN, err)
		}
		alg := p.KeyAlgorithm
		if alg == "" {
			alg = "RSA_2048"
		}
		notAfter := p.NotAfter
		if notAfter.IsZero() {
			notAfter = now.Add(issuedValidity)
		}
		c, err = issueFromCA(tx, domains, alg, now, notAfter)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", p.ARN, err)
		}
		c.Type = "AMAZON_ISSUED"
		c.IssuedAt = now
	}
	if p.Type != "" {
		c.Type = p.Type
	}
	c.ARN = p.ARN
	c.Status = p.Status
	if c.Status == "" {
		c.Status = "ISSUED"
	}
	c.CreatedAt = now
	if err := state.Put(tx, state.Certificates, c); err != nil {
		return nil, err
	}
	if len(p.Tags) > 0 {
		if err := state.Put(tx, state.Tags, &state.TagSet{Resource: c.ARN, Tags: p.Tags}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// issueFromCA issues a certificate from the local CA and describes it.
func issueFromCA(tx *state.Tx, domains []string, alg string, now, notAfter time.Time) (*state.Certificate, error) {
	authority, err := loadCA(tx, now)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := authority.issue(domains, alg, now, notAfter)
	if err != nil {
		return nil, err
	}
	c, err := describeMaterial([]byte(certPEM))
	if err != nil {
		return nil, err
	}
	c.CertificatePEM, c.PrivateKeyPEM, c.ChainPEM = certPEM, keyPEM, authority.certPEM
	return c, nil
}

// TLSCertificate returns the certificate, its chain and its key ready for
// a TLS listener (Leaf set).
func TLSCertificate(c *state.Certificate) (*tls.Certificate, error) {
	chain := c.CertificatePEM
	if c.ChainPEM != "" {
		chain = strings.TrimRight(chain, "\n") + "\n" + c.ChainPEM
	}
	tc, err := tls.X509KeyPair([]byte(chain), []byte(c.PrivateKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", c.ARN, err)
	}
	if tc.Leaf == nil {
		leaf, err := x509.ParseCertificate(tc.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.ARN, err)
		}
		tc.Leaf = leaf
	}
	return &tc, nil
}

// pemBlocks returns the PEM blocks of data, failing on anything else but
// whitespace between them.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var out []*pem.Block
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		b, r := pem.Decode(rest)
		if b == nil {
			return nil, errors.New("not PEM")
		}
		out = append(out, b)
		rest = bytes.TrimSpace(r)
	}
	return out, nil
}

func validation(format string, args ...any) *awserr.Error {
	return awserr.New("ValidationException", format, args...)
}

// parseLeaf parses the certificate field of an import: exactly one PEM
// certificate.
func parseLeaf(certPEM []byte) (*x509.Certificate, error) {
	blocks, err := pemBlocks(certPEM)
	if err != nil || len(blocks) == 0 {
		return nil, validation("Unable to parse certificate. Please ensure the certificate is in PEM format.")
	}
	if len(blocks) > 1 {
		return nil, validation("The certificate field contains more than one certificate. You can specify only one certificate in this field.")
	}
	if blocks[0].Type != "CERTIFICATE" {
		return nil, validation("Unable to parse certificate. Please ensure the certificate is in PEM format.")
	}
	cert, err := x509.ParseCertificate(blocks[0].Bytes)
	if err != nil {
		return nil, validation("Unable to parse certificate. Please ensure the certificate is in PEM format.")
	}
	if cert.Version != 3 {
		return nil, validation("The certificate must be an X.509 version 3 certificate.")
	}
	return cert, nil
}

// parseKey parses an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC 1).
func parseKey(keyPEM []byte) (any, error) {
	blocks, err := pemBlocks(keyPEM)
	if err != nil || len(blocks) != 1 {
		return nil, validation("Unable to parse private key. Please ensure the private key is a single unencrypted key in PEM format.")
	}
	b := blocks[0]
	if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") || b.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, validation("The private key is encrypted. Please provide an unencrypted private key.")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, validation("Unable to parse private key. Please ensure the private key is a single unencrypted key in PEM format.")
}

// keyAlgorithm names a public key as ACM does; ok is false for keys ACM
// does not accept.
func keyAlgorithm(pub any) (string, bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 1024:
			return "RSA_1024", true
		case 2048:
			return "RSA_2048", true
		case 3072:
			return "RSA_3072", true
		case 4096:
			return "RSA_4096", true
		}
	case *ecdsa.PublicKey:
		switch k.Curve.Params().Name {
		case "P-256":
			return "EC_prime256v1", true
		case "P-384":
			return "EC_secp384r1", true
		case "P-521":
			return "EC_secp521r1", true
		}
	case ed25519.PublicKey:
		return "", false
	}
	return "", false
}

// importMaterial validates imported material (one certificate, its
// unencrypted key matching it, an optional chain of certificates) and
// describes it.
func importMaterial(certPEM, keyPEM, chainPEM []byte) (*state.Certificate, error) {
	leaf, err := parseLeaf(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	alg, ok := keyAlgorithm(leaf.PublicKey)
	if !ok {
		return nil, validation("The certificate's public key is not supported. Supported algorithms: RSA 1024, 2048, 3072 and 4096 bits; EC P-256, P-384 and P-521.")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, validation("The private key is not supported.")
	}
	pubDER, err1 := x509.MarshalPKIXPublicKey(signer.Public())
	leafDER, err2 := x509.MarshalPKIXPublicKey(leaf.PublicKey)
	if err1 != nil || err2 != nil || !bytes.Equal(pubDER, leafDER) {
		return nil, validation("The private key does not match the public key in the certificate.")
	}
	var chain string
	if len(bytes.TrimSpace(chainPEM)) > 0 {
		blocks, err := pemBlocks(chainPEM)
		if err != nil || len(blocks) == 0 {
			return nil, validation("Unable to parse certificate chain. Please ensure the chain is in PEM format.")
		}
		var buf bytes.Buffer
		for _, b := range blocks {
			if b.Type != "CERTIFICATE" {
				return nil, validation("Unable to parse certificate chain. Please ensure the chain is in PEM format.")
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return nil, validation("Unable to parse certificate chain. Please ensure the chain is in PEM format.")
			}
			_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})
		}
		chain = buf.String()
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, validation("The private key is not supported.")
	}
	c := describeCert(leaf)
	c.KeyAlgorithm = alg
	c.CertificatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	c.PrivateKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	c.ChainPEM = chain
	return c, nil
}

// describeMaterial describes a PEM certificate the local CA issued.
func describeMaterial(certPEM []byte) (*state.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, errors.New("issued certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, err
	}
	c := describeCert(cert)
	alg, _ := keyAlgorithm(cert.PublicKey)
	c.KeyAlgorithm = alg
	return c, nil
}

// describeCert fills the record fields read from a certificate: domain
// name (the subject's common name, else the first DNS name), subject
// alternative names (the domain name first, as ACM lists them), serial,
// subject, issuer and validity.
func describeCert(cert *x509.Certificate) *state.Certificate {
	domain := cert.Subject.CommonName
	if domain == "" && len(cert.DNSNames) > 0 {
		domain = cert.DNSNames[0]
	}
	sans := []string{}
	if domain != "" {
		sans = append(sans, domain)
	}
	for _, n := range cert.DNSNames {
		if n != domain {
			sans = append(sans, n)
		}
	}
	return &state.Certificate{
		DomainName:              domain,
		SubjectAlternativeNames: sans,
		Serial:                  colonHex(cert.SerialNumber.Bytes()),
		Subject:                 cert.Subject.String(),
		Issuer:                  issuerName(cert),
		NotBefore:               cert.NotBefore.UTC(),
		NotAfter:                cert.NotAfter.UTC(),
	}
}

func issuerName(cert *x509.Certificate) string {
	if len(cert.Issuer.Organization) > 0 {
		return cert.Issuer.Organization[0]
	}
	if cert.Issuer.CommonName != "" {
		return cert.Issuer.CommonName
	}
	return cert.Issuer.String()
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ":")
}

// checkDomains validates a requested domain name and its alternative
// names (lower-cased, a leading "*." allowed) and returns the domain name
// followed by the other names, without repeats. ACM's default quota is 10
// names per certificate.
func checkDomains(domain string, sans []string) ([]string, error) {
	if domain == "" {
		return nil, validation("1 validation error detected: Value null at 'domainName' failed to satisfy constraint: Member must not be null")
	}
	out := []string{}
	seen := map[string]bool{}
	for i, d := range append([]string{domain}, sans...) {
		field := "domainName"
		if i > 0 {
			field = fmt.Sprintf("subjectAlternativeNames.%d.member", i)
		}
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if !validDomain(d) {
			return nil, validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\*\\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])", d, field)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	if len(out) > maxDomains {
		return nil, awserr.New("LimitExceededException", "Cannot request a certificate for more than %d domain names (the domain name and its subject alternative names).", maxDomains)
	}
	return out, nil
}

// maxDomains is ACM's default quota of domain names per certificate.
const maxDomains = 10

// validDomain checks ACM's domain name pattern: an optional "*." then two
// or more labels of letters, digits and hyphens, not starting or ending
// with a hyphen, at most 253 characters.
func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 {
		return false
	}
	d = strings.TrimPrefix(d, "*.")
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
