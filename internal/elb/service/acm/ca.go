package acm

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/pki"
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
	*pki.CA
	certPEM string
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
	c, err := pki.NewCA(pkix.Name{CommonName: caName, Organization: []string{"elbow"}}, now.Add(-time.Hour), now.Add(caValidity))
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	certPEM, keyPEM = c.CertPEM(), c.KeyPEM()
	if err := tx.PutMeta(metaCACert, certPEM); err != nil {
		return nil, err
	}
	if err := tx.PutMeta(metaCAKey, keyPEM); err != nil {
		return nil, err
	}
	return parseCA(certPEM, keyPEM)
}

func parseCA(certPEM, keyPEM []byte) (*ca, error) {
	c, err := pki.ParseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("acm: stored local CA: %w", err)
	}
	return &ca{CA: c, certPEM: string(certPEM)}, nil
}

// issue signs a server certificate for domains (the first is the subject's
// common name) with a new key of the algorithm, valid until notAfter.
func (c *ca) issue(domains []string, alg string, now, notAfter time.Time) (certPEM, keyPEM string, err error) {
	r := pki.Request{
		Subject:      pkix.Name{CommonName: domains[0]},
		Hosts:        domains,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		Usage:        pki.Server | pki.Client,
		KeyAlgorithm: alg,
	}
	if !notAfter.After(r.NotBefore) {
		// An expired certificate (facts may ask for one): valid for an
		// hour that ended at notAfter.
		r.NotBefore = notAfter.Add(-time.Hour)
	}
	cert, err := c.Issue(r)
	if err != nil {
		return "", "", fmt.Errorf("issue certificate: %w", err)
	}
	return string(cert.CertPEM()), string(cert.KeyPEM()), nil
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
