package acm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/pki"
)

var ctx = context.Background()

type env struct {
	*svctest.Env
	c *sdk.Client
}

func start(t *testing.T) *env {
	t.Helper()
	e := svctest.Serve(t, func(st *state.Store) []api.Service { return []api.Service{acm.New(acm.Config{Store: st}).API()} })
	return &env{Env: e, c: sdk.NewFromConfig(e.Config)}
}

func apiErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Fatalf("got %s: %q, want %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func (e *env) request(t *testing.T, domain string, alg types.KeyAlgorithm, sans ...string) string {
	t.Helper()
	out, err := e.c.RequestCertificate(ctx, &sdk.RequestCertificateInput{DomainName: aws.String(domain), SubjectAlternativeNames: sans, KeyAlgorithm: alg, ValidationMethod: types.ValidationMethodDns})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.CertificateArn)
}

func parsePEM(t *testing.T, s string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func TestRequestCertificate(t *testing.T) {
	e := start(t)
	arn := e.request(t, "app.example.com", "", "*.app.example.com", "APP.example.com")
	if !strings.HasPrefix(arn, "arn:aws:acm:us-east-1:000000000000:certificate/") || len(arn) != len("arn:aws:acm:us-east-1:000000000000:certificate/")+36 {
		t.Fatalf("ARN %q", arn)
	}
	d, err := e.c.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Certificate
	if c.Status != types.CertificateStatusIssued || c.Type != types.CertificateTypeAmazonIssued || c.KeyAlgorithm != "RSA-2048" ||
		aws.ToString(c.DomainName) != "app.example.com" || !slices.Equal(c.SubjectAlternativeNames, []string{"app.example.com", "*.app.example.com"}) ||
		aws.ToString(c.SignatureAlgorithm) != "SHA256WITHECDSA" || len(c.InUseBy) != 0 || c.RenewalEligibility != types.RenewalEligibilityIneligible {
		t.Fatalf("DescribeCertificate = %+v", c)
	}
	if len(c.DomainValidationOptions) != 2 || c.DomainValidationOptions[0].ValidationStatus != types.DomainStatusSuccess ||
		c.DomainValidationOptions[1].ResourceRecord == nil || aws.ToString(c.DomainValidationOptions[1].ValidationDomain) != "app.example.com" {
		t.Fatalf("DomainValidationOptions = %+v", c.DomainValidationOptions)
	}
	if days := c.NotAfter.Sub(*c.NotBefore).Hours() / 24; days < 394 || days > 396 {
		t.Errorf("validity %.1f days, want 395", days)
	}
	got, err := e.c.GetCertificate(ctx, &sdk.GetCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	leaf := parsePEM(t, aws.ToString(got.Certificate))[0]
	caPEM, err := acm.CACertificatePEM(ctx, e.Store)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.CertificateChain) != string(caPEM) {
		t.Fatal("the chain is not the local CA's certificate")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "x.app.example.com", Roots: pool}); err != nil {
		t.Fatalf("issued certificate does not verify for the wildcard: %v", err)
	}
	if _, ok := leaf.PublicKey.(*rsa.PublicKey); !ok {
		t.Fatalf("key %T, want RSA", leaf.PublicKey)
	}

	ec := e.request(t, "ec.example.com", types.KeyAlgorithmEcPrime256v1)
	got, err = e.c.GetCertificate(ctx, &sdk.GetCertificateInput{CertificateArn: aws.String(ec)})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := parsePEM(t, aws.ToString(got.Certificate))[0].PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("EC_prime256v1 key is %T", parsePEM(t, aws.ToString(got.Certificate))[0].PublicKey)
	}

	// Idempotency token: the same ARN within the hour.
	in := &sdk.RequestCertificateInput{DomainName: aws.String("idem.example.com"), IdempotencyToken: aws.String("tok1")}
	a, err := e.c.RequestCertificate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.c.RequestCertificate(ctx, in)
	if err != nil || aws.ToString(a.CertificateArn) != aws.ToString(b.CertificateArn) {
		t.Fatalf("idempotent request: %v, %v, %v", a.CertificateArn, b.CertificateArn, err)
	}

	var eleven []string
	for i := range 10 {
		eleven = append(eleven, fmt.Sprintf("n%d.example.com", i))
	}
	for _, tc := range []struct {
		name string
		in   *sdk.RequestCertificateInput
		code string
	}{
		{"key algorithm for imports only", &sdk.RequestCertificateInput{DomainName: aws.String("a.example.com"), KeyAlgorithm: types.KeyAlgorithmRsa4096}, "ValidationException"},
		{"bad domain", &sdk.RequestCertificateInput{DomainName: aws.String("-bad.example.com")}, "ValidationException"},
		{"single label", &sdk.RequestCertificateInput{DomainName: aws.String("localhost")}, "ValidationException"},
		{"inner wildcard", &sdk.RequestCertificateInput{DomainName: aws.String("a.*.example.com")}, "ValidationException"},
		{"too many names", &sdk.RequestCertificateInput{DomainName: aws.String("a.example.com"), SubjectAlternativeNames: eleven}, "LimitExceededException"},
		{"reserved tag", &sdk.RequestCertificateInput{DomainName: aws.String("a.example.com"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}, "InvalidTagException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.RequestCertificate(ctx, tc.in)
			apiErr(t, err, tc.code, "")
		})
	}
}

// selfSigned makes a certificate and its key in PEM.
func selfSigned(t *testing.T, cn string, ec bool) (certPEM, keyPEM []byte) {
	t.Helper()
	alg := pki.RSA2048
	if ec {
		alg = "EC_secp384r1"
	}
	c, err := pki.SelfSigned(pki.Request{Subject: pkix.Name{CommonName: cn}, Hosts: []string{cn, "alt." + cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyAlgorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return c.CertPEM(), c.KeyPEM()
}

func TestImportCertificate(t *testing.T) {
	e := start(t)
	cert, key := selfSigned(t, "imported.example.com", false)
	out, err := e.c.ImportCertificate(ctx, &sdk.ImportCertificateInput{Certificate: cert, PrivateKey: key,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.CertificateArn
	d, err := e.c.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Certificate.Type != types.CertificateTypeImported || d.Certificate.ImportedAt == nil || d.Certificate.KeyAlgorithm != "RSA-2048" ||
		!slices.Equal(d.Certificate.SubjectAlternativeNames, []string{"imported.example.com", "alt.imported.example.com"}) {
		t.Fatalf("imported = %+v", d.Certificate)
	}
	// Re-import into the same ARN.
	cert2, key2 := selfSigned(t, "imported.example.com", true)
	if _, err := e.c.ImportCertificate(ctx, &sdk.ImportCertificateInput{CertificateArn: arn, Certificate: cert2, PrivateKey: key2}); err != nil {
		t.Fatal(err)
	}
	d2, err := e.c.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: arn})
	if err != nil || d2.Certificate.KeyAlgorithm != "EC-secp384r1" || aws.ToString(d2.Certificate.Serial) == aws.ToString(d.Certificate.Serial) {
		t.Fatalf("re-imported = %+v, %v", d2.Certificate, err)
	}
	if tags, err := e.c.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: arn}); err != nil || len(tags.Tags) != 1 {
		t.Fatalf("tags kept across re-import: %+v, %v", tags, err)
	}
	_, otherKey := selfSigned(t, "other.example.com", false)
	for _, tc := range []struct {
		name string
		in   *sdk.ImportCertificateInput
		code string
		msg  string
	}{
		{"mismatched key", &sdk.ImportCertificateInput{Certificate: cert, PrivateKey: otherKey}, "ValidationException", "The private key does not match the public key in the certificate."},
		{"two certificates", &sdk.ImportCertificateInput{Certificate: append(append([]byte{}, cert...), cert2...), PrivateKey: key}, "ValidationException",
			"The certificate field contains more than one certificate. You can specify only one certificate in this field."},
		{"garbage", &sdk.ImportCertificateInput{Certificate: []byte("hello"), PrivateKey: key}, "ValidationException", ""},
		{"key is a certificate", &sdk.ImportCertificateInput{Certificate: cert, PrivateKey: cert}, "ValidationException", ""},
		{"bad chain", &sdk.ImportCertificateInput{Certificate: cert, PrivateKey: key, CertificateChain: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, "ValidationException", ""},
		{"unknown ARN", &sdk.ImportCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000"), Certificate: cert, PrivateKey: key},
			"ResourceNotFoundException", "Could not find certificate arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000."},
		{"tags on re-import", &sdk.ImportCertificateInput{CertificateArn: arn, Certificate: cert, PrivateKey: key, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}, "InvalidParameterException", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.ImportCertificate(ctx, tc.in)
			apiErr(t, err, tc.code, tc.msg)
		})
	}
	// Re-importing into an issued certificate is refused.
	issued := e.request(t, "issued.example.com", "")
	_, err = e.c.ImportCertificate(ctx, &sdk.ImportCertificateInput{CertificateArn: aws.String(issued), Certificate: cert, PrivateKey: key})
	apiErr(t, err, "ValidationException", "")
}

func TestListCertificates(t *testing.T) {
	e := start(t)
	var rsaARNs []string
	for i := range 5 {
		rsaARNs = append(rsaARNs, e.request(t, fmt.Sprintf("r%d.example.com", i), ""))
	}
	ecARN := e.request(t, "ec.example.com", types.KeyAlgorithmEcSecp384r1)

	// Without Includes only RSA_1024 and RSA_2048 certificates are listed.
	var listed []string
	p := sdk.NewListCertificatesPaginator(e.c, &sdk.ListCertificatesInput{MaxItems: aws.Int32(2), CertificateStatuses: []types.CertificateStatus{types.CertificateStatusIssued}})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.CertificateSummaryList {
			listed = append(listed, aws.ToString(s.CertificateArn))
			if s.KeyAlgorithm != types.KeyAlgorithmRsa2048 || s.Status != types.CertificateStatusIssued || aws.ToBool(s.InUse) {
				t.Errorf("summary %+v", s)
			}
		}
	}
	slices.Sort(listed)
	slices.Sort(rsaARNs)
	if !slices.Equal(listed, rsaARNs) || pages != 3 {
		t.Fatalf("listed %d in %d pages, want the 5 RSA certificates in 3", len(listed), pages)
	}
	out, err := e.c.ListCertificates(ctx, &sdk.ListCertificatesInput{Includes: &types.Filters{KeyTypes: []types.KeyAlgorithm{types.KeyAlgorithmEcSecp384r1, types.KeyAlgorithmRsa4096}}})
	if err != nil || len(out.CertificateSummaryList) != 1 || aws.ToString(out.CertificateSummaryList[0].CertificateArn) != ecARN {
		t.Fatalf("EC certificates: %+v, %v", out, err)
	}
	out, err = e.c.ListCertificates(ctx, &sdk.ListCertificatesInput{CertificateStatuses: []types.CertificateStatus{types.CertificateStatusExpired}})
	if err != nil || len(out.CertificateSummaryList) != 0 {
		t.Fatalf("EXPIRED: %+v, %v", out, err)
	}
	out, err = e.c.ListCertificates(ctx, &sdk.ListCertificatesInput{Includes: &types.Filters{ExtendedKeyUsage: []types.ExtendedKeyUsageName{types.ExtendedKeyUsageNameCodeSigning}}})
	if err != nil || len(out.CertificateSummaryList) != 0 {
		t.Fatalf("code signing certificates: %+v, %v", out, err)
	}
	_, err = e.c.ListCertificates(ctx, &sdk.ListCertificatesInput{MaxItems: aws.Int32(1001)})
	apiErr(t, err, "ValidationException", "")
	_, err = e.c.ListCertificates(ctx, &sdk.ListCertificatesInput{NextToken: aws.String("nope")})
	apiErr(t, err, "InvalidArgsException", "")
}

func TestInUseAndDelete(t *testing.T) {
	e := start(t)
	arn := e.request(t, "web.example.com", "")
	lbARN := "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef"
	l := &state.Listener{ARN: "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/0123456789abcdef/fedcba9876543210",
		LoadBalancerARN: lbARN, Port: 443, Protocol: "HTTPS", Certificates: []state.ListenerCertificate{{ARN: arn, Default: true}}}
	if err := e.Store.Update(ctx, func(tx *state.Tx) error { return state.Put(tx, state.Listeners, l) }); err != nil {
		t.Fatal(err)
	}
	d, err := e.c.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil || !slices.Equal(d.Certificate.InUseBy, []string{lbARN}) || d.Certificate.RenewalEligibility != types.RenewalEligibilityEligible {
		t.Fatalf("InUseBy = %+v, %v", d, err)
	}
	_, err = e.c.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: aws.String(arn)})
	apiErr(t, err, "ResourceInUseException", "Certificate "+arn+" in account 000000000000 is in use.")
	if err := e.Store.Update(ctx, func(tx *state.Tx) error { _, err := state.Delete(tx, state.Listeners, l.ARN); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: aws.String(arn)})
	apiErr(t, err, "ResourceNotFoundException", "Could not find certificate "+arn+".")
	snap, err := e.Store.Snapshot()
	if err != nil || snap.Tags[arn] != nil {
		t.Fatal("tags of a deleted certificate remain")
	}
}

func TestTagsAndARNs(t *testing.T) {
	e := start(t)
	arn := aws.String(e.request(t, "tags.example.com", ""))
	if _, err := e.c.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: arn, Tags: []types.Tag{
		{Key: aws.String("z"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}, {Key: aws.String("m")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.RemoveTagsFromCertificate(ctx, &sdk.RemoveTagsFromCertificateInput{CertificateArn: arn, Tags: []types.Tag{
		{Key: aws.String("z"), Value: aws.String("other")}, {Key: aws.String("a")},
	}}); err != nil {
		t.Fatal(err)
	}
	tags, err := e.c.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags.Tags {
		got = append(got, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	if !slices.Equal(got, []string{"z=1", "m="}) {
		t.Fatalf("tags %v", got)
	}
	var many []types.Tag
	for i := range 49 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
	}
	_, err = e.c.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: arn, Tags: many})
	apiErr(t, err, "TooManyTagsException", "")
	_, err = e.c.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: arn, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}})
	apiErr(t, err, "InvalidTagException", "")

	for _, tc := range []struct {
		arn, code string
	}{
		{"not-an-arn-at-all-but-long", "ValidationException"},
		{"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/1", "ValidationException"},
		{"arn:aws:acm:us-east-1:000000000000:private-ca/123", "InvalidArnException"},
		{"arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-4000-8000-000000000000", "ResourceNotFoundException"},
	} {
		t.Run(tc.arn, func(t *testing.T) {
			_, err := e.c.GetCertificate(ctx, &sdk.GetCertificateInput{CertificateArn: aws.String(tc.arn)})
			apiErr(t, err, tc.code, "")
		})
	}
}

func TestProvisionAndTLS(t *testing.T) {
	st := svctest.OpenStore(t)
	arn := "arn:aws:acm:us-east-1:000000000000:certificate/6f0e6e4c-1111-4222-8333-444455556666"
	var first *state.Certificate
	err := st.Update(ctx, func(tx *state.Tx) error {
		var err error
		first, err = acm.Provision(tx, acm.Params{ARN: arn, DomainName: "svc.example.com", SubjectAlternativeNames: []string{"www.example.com"}, KeyAlgorithm: "EC_prime256v1",
			Tags: []state.Tag{{Key: "elbow/auto", Value: "true"}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Provision is idempotent.
	err = st.Update(ctx, func(tx *state.Tx) error {
		again, err := acm.Provision(tx, acm.Params{ARN: arn, DomainName: "other.example.com"})
		if err == nil && again.CertificatePEM != first.CertificatePEM {
			err = errors.New("Provision replaced an existing certificate")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// An expired certificate, as a facts file may ask for.
	past := time.Now().Add(-48 * time.Hour)
	err = st.Update(ctx, func(tx *state.Tx) error {
		c, err := acm.Provision(tx, acm.Params{ARN: arn + "0", DomainName: "old.example.com", NotAfter: past, Status: "EXPIRED"})
		if err == nil && (c.NotAfter.After(time.Now()) || c.Status != "EXPIRED") {
			err = fmt.Errorf("expired certificate: notAfter %v status %s", c.NotAfter, c.Status)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// A real TLS handshake with the provisioned certificate.
	tc, err := acm.TLSCertificate(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Certificate) != 2 || tc.Leaf == nil {
		t.Fatalf("TLS certificate has %d certificates, leaf %v; want leaf and CA", len(tc.Certificate), tc.Leaf != nil)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*tc}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(*tls.Conn).Handshake()
	}()
	caPEM, err := acm.CACertificatePEM(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "www.example.com"})
	if err != nil {
		t.Fatalf("handshake with the provisioned certificate: %v", err)
	}
	conn.Close()
}
