package kubeproc

import (
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/elbowlb/elbow/internal/pki"
)

// certDir is the control plane's certificates, kept in DataDir/pki so that a
// restart keeps the kubeconfig valid.
type certDir struct {
	dir string
}

func (p certDir) path(name string) string { return filepath.Join(p.dir, name) }

// ensure creates what is missing: a CA, the API server's serving
// certificate, an admin client certificate (system:masters) and the
// service-account signing key pair.
func (p certDir) ensure(serviceIP net.IP) error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	if exists(p.path("ca.crt")) && exists(p.path("apiserver.crt")) && exists(p.path("admin.crt")) && exists(p.path("sa.key")) {
		return nil
	}
	now := time.Now()
	ca, err := pki.NewCA(pkix.Name{CommonName: "elbow-dev-ca"}, now.Add(-time.Hour), now.AddDate(10, 0, 0))
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.path("ca.crt"), ca.CertPEM(), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(p.path("ca.key"), ca.KeyPEM(), 0o600); err != nil {
		return err
	}
	issue := func(name string, r pki.Request) error {
		r.NotBefore, r.NotAfter = now.Add(-time.Hour), now.AddDate(10, 0, 0)
		c, err := ca.Issue(r)
		if err != nil {
			return fmt.Errorf("%s certificate: %w", name, err)
		}
		if err := os.WriteFile(p.path(name+".crt"), c.CertPEM(), 0o600); err != nil {
			return err
		}
		return os.WriteFile(p.path(name+".key"), c.KeyPEM(), 0o600)
	}
	err = issue("apiserver", pki.Request{
		Subject: pkix.Name{CommonName: "kube-apiserver"},
		Usage:   pki.Server,
		Hosts:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "127.0.0.1", serviceIP.String()},
	})
	if err != nil {
		return err
	}
	err = issue("admin", pki.Request{
		Subject: pkix.Name{CommonName: "elbow-admin", Organization: []string{"system:masters"}},
		Usage:   pki.Client,
	})
	if err != nil {
		return err
	}
	saKey, err := pki.NewKey(pki.RSA2048)
	if err != nil {
		return err
	}
	pub, err := pki.PublicKeyPEM(saKey.Public())
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.path("sa.pub"), pub, 0o600); err != nil {
		return err
	}
	return os.WriteFile(p.path("sa.key"), pki.KeyPEM(saKey), 0o600)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
