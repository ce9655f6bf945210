package webhooks

import (
	"bytes"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/elbowlb/elbow/internal/pki"
)

// File names in a webhook certificate directory, as controller-runtime's
// webhook server and cert-manager's Secrets name them.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// certValidity is the lifetime of a generated serving certificate.
const certValidity = 365 * 24 * time.Hour

// EnsureCert makes sure dir holds a serving certificate and key. When both
// files exist they are used as they are (a mounted Secret) and the CA
// bundle is ca.crt if present, else the certificate itself. Otherwise a
// self-signed CA and a certificate for hosts (DNS names or IP addresses)
// signed by it are generated and written to dir. It returns the CA bundle
// the API server must trust.
func EnsureCert(dir string, hosts []string, now time.Time) ([]byte, error) {
	certPath, keyPath, caPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), filepath.Join(dir, CAFile)
	cert, certErr := os.ReadFile(certPath)
	_, keyErr := os.Stat(keyPath)
	if certErr == nil && keyErr == nil {
		if ca, err := os.ReadFile(caPath); err == nil {
			return ca, nil
		}
		return cert, nil
	}
	if !errors.Is(certErr, os.ErrNotExist) && certErr != nil {
		return nil, fmt.Errorf("webhook certificate %s: %w", certPath, certErr)
	}
	if len(hosts) == 0 {
		return nil, errors.New("webhook certificate: no host names to certify")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("webhook certificate directory: %w", err)
	}
	ca, err := pki.NewCA(pkix.Name{CommonName: "elbow webhook CA"}, now.Add(-time.Hour), now.Add(certValidity))
	if err != nil {
		return nil, fmt.Errorf("webhook CA: %w", err)
	}
	issued, err := ca.Issue(pki.Request{
		Subject:   pkix.Name{CommonName: hosts[0]},
		Hosts:     hosts,
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(certValidity),
		Usage:     pki.Server,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook certificate: %w", err)
	}
	caPEM, certPEM, keyPEM := ca.CertPEM(), issued.CertPEM(), issued.KeyPEM()
	// The key first: the webhook server watches the certificate file.
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{keyPath, keyPEM, 0o600}, {caPath, caPEM, 0o644}, {certPath, bytes.Clone(certPEM), 0o644}} {
		if err := writeFile(f.path, f.data, f.mode); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

// writeFile writes through a temporary file and a rename.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
