// Package install tests elbow installed the way users install the AWS
// Load Balancer Controller: the Helm chart (helm lint, helm template
// goldens for a default install and for a values.yaml written for the
// reference chart, every rendered object accepted by a real
// kube-apiserver), its RBAC (the controller run as the chart's
// ServiceAccount) and the IAM policy (the controller against a local ELB
// that enforces docs/install/iam_policy.json).
//
// helm, etcd and kube-apiserver come from bin/ (make tools).
package install

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/elbowlb/elbow/internal/cli"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func chartDir() string { return filepath.Join(repoRoot(), "charts", "elbow") }

// Namespace is where the tests install the chart, as users install the
// reference controller.
const Namespace = "kube-system"

// helm runs bin/helm and returns its standard output.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin := filepath.Join(repoRoot(), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no %s: run `make tools`", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), out)
	}
	return out, nil
}

// render is `helm template elbow charts/elbow -n kube-system -f VALUES`.
func render(t *testing.T, values string) []byte {
	t.Helper()
	out, err := helm(t, "template", "elbow", chartDir(), "--namespace", Namespace, "-f", values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cases are the values files of testdata/ (NAME.in.yaml), each with its
// rendering in NAME.out.yaml.
func cases(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.in.yaml: %v", err)
	}
	return files
}

func TestLint(t *testing.T) {
	for _, values := range cases(t) {
		if out, err := helm(t, "lint", "--strict", chartDir(), "-f", values); err != nil {
			t.Errorf("%s: %v\n%s", values, err, out)
		}
	}
}

// TestTemplate compares each rendering with its golden file, the
// generated webhook certificates replaced by a placeholder once checked.
func TestTemplate(t *testing.T) {
	for _, values := range cases(t) {
		name := strings.TrimSuffix(filepath.Base(values), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			out := normalizeCerts(t, render(t, values))
			golden := filepath.Join("testdata", name+".out.yaml")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./test/install -run TestTemplate -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("helm template -f %s differs from %s (run with -update and review the diff); -want +got:\n%s", values, golden, cmp.Diff(string(want), string(out)))
			}
		})
	}
}

// objects splits a rendering into objects.
func objects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// normalizeCerts checks the webhook TLS material the chart generated (a CA,
// a serving certificate it signed for the webhook Service's names, the
// certificate's key, the CA bundle of every webhook) and replaces each
// base64 value by "GENERATED", so that goldens are stable.
func normalizeCerts(t *testing.T, data []byte) []byte {
	t.Helper()
	var secret *unstructured.Unstructured
	var bundles []string
	for _, o := range objects(t, data) {
		switch o.GetKind() {
		case "Secret":
			if o.GetName() == "elbow-tls" {
				secret = o
			}
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			for _, h := range hooks {
				if b, ok, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle"); ok {
					bundles = append(bundles, b)
				}
			}
		}
	}
	if secret == nil {
		if len(bundles) > 0 {
			t.Fatal("webhooks carry a CA bundle but there is no elbow-tls Secret")
		}
		return data // cert-manager issues the certificate
	}
	get := func(key string) (string, []byte) {
		v, _, _ := unstructured.NestedString(secret.Object, "data", key)
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || v == "" {
			t.Fatalf("Secret elbow-tls %s: %q is not base64: %v", key, v, err)
		}
		return v, raw
	}
	caB64, caPEM := get("ca.crt")
	crtB64, crtPEM := get("tls.crt")
	keyB64, keyPEM := get("tls.key")
	ca := parseCert(t, caPEM)
	crt := parseCert(t, crtPEM)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, name := range []string{"elbow-webhook-service.kube-system.svc", "elbow-webhook-service.kube-system.svc.cluster.local"} {
		if _, err := crt.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("serving certificate for %s: %v", name, err)
		}
	}
	if _, err := tls.X509KeyPair(crtPEM, keyPEM); err != nil {
		t.Errorf("tls.key does not match tls.crt: %v", err)
	}
	if len(bundles) == 0 {
		t.Error("no webhook carries the CA bundle")
	}
	for _, b := range bundles {
		if b != caB64 {
			t.Error("a webhook's caBundle is not the Secret's ca.crt")
		}
	}
	for _, v := range []string{caB64, crtB64, keyB64} {
		data = bytes.ReplaceAll(data, []byte(v), []byte("GENERATED"))
	}
	return data
}

func parseCert(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatalf("not PEM: %q", p)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefusedValues: values of the reference chart elbow cannot honour
// stop the rendering with a message that says what to do.
func TestRefusedValues(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{nil, "clusterName is required"},
		{[]string{"clusterName=c", "vpcTags.Name=main"}, "vpcTags: elbow does not look the VPC up by tags; set vpcId"},
		{[]string{"clusterName=c", "enableEndpointSlices=false"}, "EndpointSlices only"},
		{[]string{"clusterName=c", "certDiscovery.allowedCertificateAuthorityARNs=arn:aws:acm-pca:x"}, "does not filter by certificate authority"},
		{[]string{"clusterName=c", "serviceTargetENISGTags=a=b"}, "serviceTargetENISGTags"},
		{[]string{"clusterName=c", "image.repository=public.ecr.aws/eks/aws-load-balancer-controller"}, "is the AWS Load Balancer Controller's image"},
	} {
		args := []string{"template", "elbow", chartDir()}
		for _, s := range tc.set {
			args = append(args, "--set", s)
		}
		_, err := helm(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %v: error %v, want one containing %q", tc.set, err, tc.want)
		}
	}
}

// TestCRDsMatchConfig: the chart's CRDs are config/crd/bases, byte for
// byte (hack/chart-crds.sh copies them).
func TestCRDsMatchConfig(t *testing.T) {
	want, err := filepath.Glob(filepath.Join(repoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	got, _ := filepath.Glob(filepath.Join(chartDir(), "crds", "*.yaml"))
	if len(got) != len(want) {
		t.Errorf("charts/elbow/crds has %d files, config/crd/bases %d: run hack/chart-crds.sh", len(got), len(want))
	}
	for _, w := range want {
		a, _ := os.ReadFile(w)
		b, err := os.ReadFile(filepath.Join(chartDir(), "crds", filepath.Base(w)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("charts/elbow/crds/%s differs from config/crd/bases: run hack/chart-crds.sh", filepath.Base(w))
		}
	}
}

// TestDryRun applies every object of every rendering to a real
// kube-apiserver (elbow's CRDs installed, the same as the chart's crds/ by
// TestCRDsMatchConfig, and
// stand-ins for cert-manager's and the Prometheus operator's CRDs) with
// server-side apply in dry-run mode: the API server validates each one
// fully (schemas, defaults, admission) and stores nothing.
func TestDryRun(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	c := ctrltest.Client(t, cfg)
	ctx := context.Background()
	installStubCRDs(t, c)
	for _, values := range cases(t) {
		for _, o := range objects(t, render(t, values)) {
			err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.DryRunAll, client.FieldOwner("elbow-install-test"), client.ForceOwnership)
			if err != nil {
				t.Errorf("%s: %s %s/%s refused: %v", filepath.Base(values), o.GetKind(), o.GetNamespace(), o.GetName(), err)
			}
		}
	}
}

// installStubCRDs creates testdata/stub-crds.yaml: cert-manager's
// Certificate and Issuer and the Prometheus operator's ServiceMonitor with
// open schemas, so that the chart's objects of those kinds reach the API
// server (which then checks their metadata, not their spec).
func installStubCRDs(t *testing.T, c client.Client) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "stub-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var names []string
	for _, o := range objects(t, data) {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("stub CRD %s: %v", o.GetName(), err)
		}
		names = append(names, o.GetName())
	}
	ctrltest.Eventually(t, 30*time.Second, func() error {
		for _, n := range names {
			crd := &unstructured.Unstructured{}
			crd.SetAPIVersion("apiextensions.k8s.io/v1")
			crd.SetKind("CustomResourceDefinition")
			if err := c.Get(ctx, client.ObjectKey{Name: n}, crd); err != nil {
				return err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			established := false
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					established = true
				}
			}
			if !established {
				return fmt.Errorf("CRD %s not established", n)
			}
		}
		return nil
	})
}

// TestDeploymentArgs: every argument the chart gives the controller is a
// flag of `elbow controller` with a value it accepts.
func TestDeploymentArgs(t *testing.T) {
	for _, values := range cases(t) {
		var args []string
		for _, o := range objects(t, render(t, values)) {
			if o.GetKind() != "Deployment" {
				continue
			}
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				a, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
				args = append(args, a...)
			}
		}
		if len(args) == 0 || args[0] != "controller" {
			t.Fatalf("%s: container args %q, want `controller` and its flags", values, args)
		}
		o := controller.DefaultOptions()
		var logOpts cli.LogOptions
		fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.AddFlags(fs)
		logOpts.AddFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			t.Errorf("%s: %v", values, err)
			continue
		}
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", values, err)
		}
		if _, err := logOpts.Logger(io.Discard); err != nil {
			t.Errorf("%s: %v", values, err)
		}
	}
}
