// Package pki makes every certificate and key elbow needs: the local
// ACM's certificate authority and the certificates it issues, the dev
// control plane's CA and certificates, the webhook server's serving
// certificate, the echo pods' self-signed certificates and the
// benchmarks'. Keys are ECDSA P-256 unless asked otherwise; keys are
// written as PKCS #8 ("PRIVATE KEY") PEM.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Key algorithms, as ACM names them.
const (
	RSA2048 = "RSA_2048"
	P256    = "EC_prime256v1"
)

// NewKey makes a key of an ACM key algorithm (RSA_1024 to RSA_4096,
// EC_prime256v1, EC_secp384r1, EC_secp521r1); empty means EC_prime256v1.
func NewKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "", P256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EC_secp384r1":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EC_secp521r1":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RSA_1024":
		return rsa.GenerateKey(rand.Reader, 1024)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case "RSA_3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "RSA_4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("unknown key algorithm %q: want RSA_1024, RSA_2048, RSA_3072, RSA_4096, EC_prime256v1, EC_secp384r1 or EC_secp521r1", alg)
}

// Serial returns a random certificate serial number (positive, at most 127
// bits).
func Serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		// crypto/rand does not fail on the platforms Go supports.
		return big.NewInt(time.Now().UnixNano())
	}
	return n.Add(n, big.NewInt(1))
}

// Usage is what a certificate is for.
type Usage uint8

// The usages of issued certificates.
const (
	Server Usage = 1 << iota // TLS server authentication
	Client                   // TLS client authentication
)

// Request describes a certificate to make.
type Request struct {
	// Subject is the certificate's subject (CommonName at least).
	Subject pkix.Name
	// Hosts are the DNS names and IP addresses the certificate is for.
	Hosts []string
	// NotBefore and NotAfter bound its validity.
	NotBefore, NotAfter time.Time
	// Usage is Server, Client or both; zero sets no extended key usage.
	Usage Usage
	// KeyAlgorithm is the new key's algorithm (see NewKey).
	KeyAlgorithm string
}

// Certificate is a certificate and its private key.
type Certificate struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertPEM returns the certificate in PEM.
func (c *Certificate) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// KeyPEM returns the private key in PKCS #8 PEM.
func (c *Certificate) KeyPEM() []byte { return KeyPEM(c.Key) }

// TLS returns the certificate and key for a crypto/tls configuration.
func (c *Certificate) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// KeyPEM returns a private key in PKCS #8 PEM.
func KeyPEM(key crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		// The keys NewKey makes always marshal.
		panic(fmt.Sprintf("pki: marshal key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PublicKeyPEM returns a public key in PKIX PEM.
func PublicKeyPEM(key crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// CA is a certificate authority.
type CA Certificate

// NewCA makes a self-signed CA that may sign end-entity certificates only
// (path length zero).
func NewCA(subject pkix.Name, notBefore, notAfter time.Time) (*CA, error) {
	key, err := NewKey(P256)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          Serial(),
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	c, err := create(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: CA %q: %w", subject.CommonName, err)
	}
	return &CA{Cert: c, Key: key}, nil
}

// ParseCA reads a CA from its certificate and PKCS #8 key in PEM.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("pki: CA certificate or key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: CA key cannot sign")
	}
	return &CA{Cert: cert, Key: signer}, nil
}

// CertPEM returns the CA's certificate in PEM.
func (ca *CA) CertPEM() []byte { return (*Certificate)(ca).CertPEM() }

// KeyPEM returns the CA's private key in PKCS #8 PEM.
func (ca *CA) KeyPEM() []byte { return KeyPEM(ca.Key) }

// Issue makes a new key and a certificate for it signed by the CA.
func (ca *CA) Issue(r Request) (*Certificate, error) { return issue(r, ca) }

// SelfSigned makes a new key and a certificate for it signed by itself.
func SelfSigned(r Request) (*Certificate, error) { return issue(r, nil) }

func issue(r Request, ca *CA) (*Certificate, error) {
	key, err := NewKey(r.KeyAlgorithm)
	if err != nil {
		return nil, err
	}
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          Serial(),
		Subject:               r.Subject,
		NotBefore:             r.NotBefore,
		NotAfter:              r.NotAfter,
		KeyUsage:              usage,
		BasicConstraintsValid: true,
	}
	if r.Usage&Server != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if r.Usage&Client != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range r.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	cert, err := create(tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate %q: %w", r.Subject.CommonName, err)
	}
	return &Certificate{Cert: cert, Key: key}, nil
}

func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
