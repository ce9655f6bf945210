package acm

import (
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/pki"
)

// FuzzImportMaterial feeds ImportCertificate's parser arbitrary PEM-ish
// input: it must answer a ValidationException or a description, never
// panic, and accept only a key that matches the certificate.
func FuzzImportMaterial(f *testing.F) {
	c, err := pki.SelfSigned(pki.Request{Subject: pkix.Name{CommonName: "fuzz.example.com"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)})
	if err != nil {
		f.Fatal(err)
	}
	cert, keyPEM := c.CertPEM(), c.KeyPEM()
	f.Add(cert, keyPEM, []byte(nil))
	f.Add(cert, keyPEM, cert)
	f.Add(cert, cert, []byte(nil))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), keyPEM, []byte("junk"))
	f.Add([]byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM, chainPEM []byte) {
		c, err := importMaterial(certPEM, keyPEM, chainPEM)
		if err != nil {
			if !awserr.Is(err, "ValidationException") {
				t.Fatalf("error %v is not a ValidationException", err)
			}
			return
		}
		if _, err := TLSCertificate(c); err != nil {
			t.Fatalf("accepted material that does not make a TLS certificate: %v", err)
		}
	})
}

// FuzzCheckDomains checks that requested names are validated without
// panic and that what is accepted is a lower-case name of ACM's shape.
func FuzzCheckDomains(f *testing.F) {
	for _, s := range []string{"example.com", "*.example.com", "a.*.b", "-x.com", "x..com", "ÉCOLE.fr", "a.b.", ""} {
		f.Add(s, "www."+s)
	}
	f.Fuzz(func(t *testing.T, domain, san string) {
		out, err := checkDomains(domain, []string{san})
		if err != nil {
			if !awserr.Is(err, "ValidationException") && !awserr.Is(err, "LimitExceededException") {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, d := range out {
			if !validDomain(d) {
				t.Fatalf("accepted %q", d)
			}
		}
	})
}
