package deploy_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/deploy"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate/manifests"
)

// secretStore holds the content of TLS Secrets (deploy.Secrets).
type secretStore struct {
	mu sync.Mutex
	m  map[string][2][]byte
}

func (s *secretStore) TLSSecret(_ context.Context, ns, name string) ([]byte, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[ns+"/"+name]
	if !ok {
		return nil, nil, fmt.Errorf("Secret %s/%s not found", ns, name)
	}
	return v[0], v[1], nil
}

func (s *secretStore) set(ns, name string, crt, key []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[ns+"/"+name] = [2][]byte{crt, key}
}

// tlsGateway is an ALB Gateway whose HTTPS listener takes its certificate
// from the Secret web-tls, with the Secret's content.
func tlsGateway(crt, key []byte) string {
	return `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop}
spec:
  gatewayClassName: alb
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    tls:
      certificateRefs:
      - name: web-tls
---
apiVersion: v1
kind: Secret
metadata: {name: web-tls, namespace: shop}
type: kubernetes.io/tls
data:
  tls.crt: ` + base64.StdEncoding.EncodeToString(crt) + `
  tls.key: ` + base64.StdEncoding.EncodeToString(key) + `
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs: [{name: web, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`
}

// certEnv is a local ELB with a deployer that imports certificates.
type certEnv struct{ *env }

func newCertEnv(t *testing.T) *certEnv { return &certEnv{newEnv(t)} }

// stack translates the Gateway with the Secret's content (as the
// controller saw it), leaving what the Secret holds now as it is.
func (e *certEnv) stack(t *testing.T, crt, key []byte) *stack.Stack {
	t.Helper()
	objs := &manifests.Objects{}
	if err := objs.Add("gateway.yaml", []byte(tlsGateway(crt, key))); err != nil {
		t.Fatal(err)
	}
	crtNow, keyNow, err := e.secrets.TLSSecret(context.Background(), "shop", "web-tls")
	stacks := e.stacksOf(t, objs)
	if err == nil {
		e.secrets.set("shop", "web-tls", crtNow, keyNow)
	}
	if len(stacks) != 1 || len(stacks[0].ImportedCertificates) != 1 {
		t.Fatalf("want one stack importing one certificate, got %d stacks", len(stacks))
	}
	return stacks[0]
}

// imported lists the account's imported certificates with their tags.
func (e *certEnv) imported(t *testing.T) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	out, err := e.elb.ACM.ListCertificates(ctx, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{
		acmtypes.KeyAlgorithmEcPrime256v1, acmtypes.KeyAlgorithmEcSecp384r1}}})
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]map[string]string{}
	for _, c := range out.CertificateSummaryList {
		if c.Type != acmtypes.CertificateTypeImported {
			continue
		}
		tags, err := e.elb.ACM.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: c.CertificateArn})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tag := range tags.Tags {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		certs[aws.ToString(c.CertificateArn)] = m
	}
	return certs
}

// listenerCert returns the default certificate of the stack's listener.
func (e *certEnv) listenerCert(t *testing.T, s *stack.Stack) string {
	t.Helper()
	for _, l := range s.Listeners {
		out, err := e.elb.ELBv2.DescribeListeners(context.Background(), &elbv2.DescribeListenersInput{ListenerArns: []string{l.Status.ListenerARN}})
		if err != nil {
			t.Fatal(err)
		}
		if cs := out.Listeners[0].Certificates; len(cs) == 1 {
			return aws.ToString(cs[0].CertificateArn)
		}
		t.Fatalf("listener %d: certificates %v", l.Spec.Port, out.Listeners[0].Certificates)
	}
	t.Fatal("no listener")
	return ""
}

func onlyCert(t *testing.T, certs map[string]map[string]string) (string, map[string]string) {
	t.Helper()
	if len(certs) != 1 {
		t.Fatalf("%d imported certificates, want 1: %v", len(certs), certs)
	}
	for arn, tags := range certs {
		return arn, tags
	}
	return "", nil
}

// TestImportedCertificate follows a listener certificate from a Secret
// through its life: imported with the stack's tags, left alone while the
// Secret is unchanged (also by a restarted deployer), re-imported in place
// when the Secret changes, replaced when its key type changes (which ACM
// does not re-import), and deleted with the stack.
func TestImportedCertificate(t *testing.T) {
	t.Parallel()
	e := newCertEnv(t)
	ctx := context.Background()
	d := e.deployer(t)

	crt, key := ctrltest.SelfSigned(t, elliptic.P256(), "web.example.com")
	e.secrets.set("shop", "web-tls", crt, key)
	s := e.stack(t, crt, key)
	if err := d.Deploy(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.calls.take()
	arn, tags := onlyCert(t, e.imported(t))
	want := s.ResourceTags(cluster, s.ImportedCertificates["shop/web-tls"], nil)
	want[stack.TagCertificateContent] = stack.CertificateContentSHA256(crt, key)
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("certificate tag %s=%q, want %q", k, tags[k], v)
		}
	}
	if got := e.listenerCert(t, s); got != arn {
		t.Fatalf("listener certificate %s, want the imported %s", got, arn)
	}

	// Unchanged: no writes, from this deployer and from a restarted one.
	if err := d.Deploy(ctx, e.stack(t, crt, key)); err != nil {
		t.Fatal(err)
	}
	if _, writes := e.calls.take(); len(writes) != 0 {
		t.Errorf("second deploy wrote %v", writes)
	}
	if err := e.deployer(t).Deploy(ctx, e.stack(t, crt, key)); err != nil {
		t.Fatal(err)
	}
	if _, writes := e.calls.take(); len(writes) != 0 {
		t.Errorf("deploy by a restarted deployer wrote %v", writes)
	}

	// The Secret changes after translation: the imported certificate stays.
	crt2, key2 := ctrltest.SelfSigned(t, elliptic.P256(), "web.example.com")
	e.secrets.set("shop", "web-tls", crt2, key2)
	if err := d.Deploy(ctx, e.stack(t, crt, key)); err != nil {
		t.Fatal(err)
	}
	if _, writes := e.calls.take(); len(writes) != 0 {
		t.Errorf("deploy of a stack built from the old content wrote %v", writes)
	}

	// Translated from the new content: re-imported in place.
	s = e.stack(t, crt2, key2)
	if err := d.Deploy(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, writes := e.calls.take(); !slices.Equal(writes, []string{"AddTagsToCertificate", "ImportCertificate"}) {
		t.Errorf("re-import wrote %v, want ImportCertificate and AddTagsToCertificate", writes)
	}
	arn2, tags := onlyCert(t, e.imported(t))
	if arn2 != arn || tags[stack.TagCertificateContent] != stack.CertificateContentSHA256(crt2, key2) {
		t.Errorf("after re-import: %s with content tag %s, want %s with the new content", arn2, tags[stack.TagCertificateContent], arn)
	}
	got, err := e.elb.ACM.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Certificate) != string(crt2) {
		t.Error("ACM does not hold the Secret's new certificate")
	}

	// A P-384 key: ACM re-imports only with the same key type, so a new
	// certificate replaces the old one on the listener.
	crt3, key3 := ctrltest.SelfSigned(t, elliptic.P384(), "web.example.com")
	e.secrets.set("shop", "web-tls", crt3, key3)
	s = e.stack(t, crt3, key3)
	if err := d.Deploy(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.calls.take()
	arn3, _ := onlyCert(t, e.imported(t))
	if arn3 == arn {
		t.Fatal("key type changed, certificate re-imported in place")
	}
	if got := e.listenerCert(t, s); got != arn3 {
		t.Errorf("listener certificate %s, want the new %s", got, arn3)
	}

	// A new Secret whose content changed after translation cannot be
	// imported: the deploy says so.
	crt4, key4 := ctrltest.SelfSigned(t, elliptic.P256(), "web.example.com")
	stale := e.stack(t, crt4, key4)
	for _, c := range stale.ImportedCertificates {
		c.ResID, c.Spec.SecretRef.Name = "shop/other-tls", "other-tls"
		stale.ImportedCertificates = map[string]*stack.ImportedCertificate{c.ResID: c}
		for _, l := range stale.Listeners {
			l.Spec.Certificates[0].CertificateARN = c.ARN()
		}
	}
	e.secrets.set("shop", "other-tls", crt3, key3)
	if err := d.Deploy(ctx, stale); !errors.Is(err, deploy.ErrSecretChanged) {
		t.Errorf("deploy with a Secret changed since translation: %v, want ErrSecretChanged", err)
	}

	// Removed with the stack.
	if err := d.Deploy(ctx, empty(s)); err != nil {
		t.Fatal(err)
	}
	if left := e.imported(t); len(left) != 0 {
		t.Errorf("certificates left behind: %v", left)
	}
	if left := e.owned(t); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestImportedCertificateNeedsACM: a deployer without an ACM client
// refuses a stack that imports certificates, before any write.
func TestImportedCertificateNeedsACM(t *testing.T) {
	t.Parallel()
	e := newCertEnv(t)
	crt, key := ctrltest.SelfSigned(t, elliptic.P256(), "web.example.com")
	d, err := deploy.New(e.elbv2, e.ec2, deploy.Config{ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Deploy(context.Background(), e.stack(t, crt, key))
	if err == nil {
		t.Fatal("deployed a stack importing a certificate without an ACM client")
	}
	if _, writes := e.calls.take(); len(writes) != 0 {
		t.Errorf("refused deploy wrote %v", writes)
	}
}
