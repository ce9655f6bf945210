package pki

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"
)

func TestIssueVerifiesAgainstCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(pkix.Name{CommonName: "test CA"}, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The CA survives a round trip through PEM.
	ca, err = ParseCA(ca.CertPEM(), ca.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue(Request{Subject: pkix.Name{CommonName: "svc"}, Hosts: []string{"svc.example", "127.0.0.1"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), Usage: Server | Client, KeyAlgorithm: RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "svc.example", KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if len(c.Cert.IPAddresses) != 1 || !c.Cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IP SANs %v, want 127.0.0.1", c.Cert.IPAddresses)
	}
	if _, ok := c.Key.(*rsa.PrivateKey); !ok || c.Cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Errorf("RSA key %T with key usage %v", c.Key, c.Cert.KeyUsage)
	}
	if _, err := tls.X509KeyPair(c.CertPEM(), c.KeyPEM()); err != nil {
		t.Errorf("PEM pair: %v", err)
	}
}

func TestSelfSigned(t *testing.T) {
	now := time.Now()
	c, err := SelfSigned(Request{Subject: pkix.Name{CommonName: "echo"}, Hosts: []string{"echo"}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), Usage: Server})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("default key %T, want ECDSA", c.Key)
	}
	if err := c.Cert.CheckSignature(c.Cert.SignatureAlgorithm, c.Cert.RawTBSCertificate, c.Cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	tc := c.TLS()
	if tc.Leaf != c.Cert || len(tc.Certificate) != 1 {
		t.Errorf("TLS certificate %+v", tc)
	}
}

func TestNewKeyRefusesUnknownAlgorithm(t *testing.T) {
	if _, err := NewKey("DSA_1024"); err == nil {
		t.Error("DSA_1024 accepted")
	}
	if _, err := SelfSigned(Request{KeyAlgorithm: "nope"}); err == nil {
		t.Error("unknown algorithm accepted by SelfSigned")
	}
}
