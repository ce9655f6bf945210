package acm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The local certificate authority issues the certificates RequestCertificate
// asks for (and those a facts file names without PEM material). Its key and
// certificate are kept in the state, so that it is the same CA across
// restarts and clients can trust it once (CACertificatePEM).

const (
	metaCACert = "acm.ca.certificate"
	metaCAKey  = "acm.ca.key"
	// caName is the local CA's common name.
	caName = "elbow local CA"
	// caValidity is how long the local CA's certificate is valid.
	caValidity = 20 * 365 * 24 * time.Hour
	// issuedValidity is how long an issued certificate is valid: 395
	// days, as ACM's public certificates.
	issuedValidity = 395 * 24 * time.Hour
)

// ca is the local CA loaded from the state.
type ca struct {
	cert    *x509.Certificate
	certPEM string
	key     crypto.Signer
}

// errNoCA is returned by loadCA in a read-only transaction before the CA
// exists.
var errNoCA = errors.New("acm: the local CA does not exist yet")

// loadCA returns the local CA, creating it (in a write transaction) on
// first use.
func loadCA(tx *state.Tx, now time.Time) (*ca, error) {
	certPEM, keyPEM := tx.GetMeta(metaCACert), tx.GetMeta(metaCAKey)
	if certPEM != nil && keyPEM != nil {
		return parseCA(certPEM, keyPEM)
	}
	if !tx.Writable() {
		return nil, errNoCA
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: caName, Organization: []string{"elbow"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("local CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("local CA key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := tx.PutMeta(metaCACert, certPEM); err != nil {
		return nil, err
	}
	if err := tx.PutMeta(metaCAKey, keyPEM); err != nil {
		return nil, err
	}
	return parseCA(certPEM, keyPEM)
}

func parseCA(certPEM, keyPEM []byte) (*ca, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("acm: the stored local CA is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("acm: stored local CA certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("acm: stored local CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("acm: stored local CA key cannot sign")
	}
	return &ca{cert: cert, certPEM: string(certPEM), key: signer}, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

// generateKey makes a key of an ACM key algorithm.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "RSA_1024":
		return rsa.GenerateKey(rand.Reader, 1024)
	case "RSA_2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "RSA_3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "RSA_4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "EC_prime256v1":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EC_secp384r1":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EC_secp521r1":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	}
	return nil, fmt.Errorf("unknown key algorithm %q", alg)
}

// issue signs a server certificate for domains (the first is the subject's
// common name) with a new key of the algorithm, valid until notAfter.
func (c *ca) issue(domains []string, alg string, now, notAfter time.Time) (certPEM, keyPEM string, err error) {
	key, err := generateKey(alg)
	if err != nil {
		return "", "", err
	}
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: domains[0]},
		DNSNames:              domains,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if !notAfter.After(tmpl.NotBefore) {
		// An expired certificate (facts may ask for one): valid for an
		// hour that ended at notAfter.
		tmpl.NotBefore = notAfter.Add(-time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return "", "", fmt.Errorf("issue certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})), nil
}

// CACertificatePEM returns the local CA's certificate in PEM, creating the
// CA when it does not exist yet, so that clients (the dev environment,
// tests) can trust the certificates it issues.
func CACertificatePEM(ctx context.Context, store *state.Store) ([]byte, error) {
	var out []byte
	err := store.View(func(tx *state.Tx) error {
		out = tx.GetMeta(metaCACert)
		return nil
	})
	if err != nil || out != nil {
		return out, err
	}
	err = store.Update(ctx, func(tx *state.Tx) error {
		c, err := loadCA(tx, time.Now())
		if err != nil {
			return err
		}
		out = []byte(c.certPEM)
		return nil
	})
	return out, err
}
