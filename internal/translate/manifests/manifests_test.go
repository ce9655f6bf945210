package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/elbowlb/elbow/internal/translate"
)

func TestAddDecodesKindsAndDefaults(t *testing.T) {
	const doc = `
# a comment-only document is skipped
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec:
    type: LoadBalancer
    ports: [{port: 80}]
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: ing, namespace: shop}
  spec: {rules: []}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {hostNetwork: true, containers: [{name: c, image: x}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec: {gatewayClassName: x, listeners: []}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: r, namespace: shop}
spec: {parentRefs: [{name: gw}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: x}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: TargetGroupConfiguration
metadata: {name: tgc}
spec: {targetReference: {name: web}}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: tcp}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: db, port: 5432}]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {name: dns, namespace: shop}
spec: {parentRefs: [{name: gw, namespace: default}], rules: [{backendRefs: [{name: dns, port: 53}]}]}
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: TLSRoute
metadata: {name: tls}
spec: {parentRefs: [{name: gw}], hostnames: [a.example.com], rules: [{backendRefs: [{name: web, port: 443}]}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`
	var o Objects
	if err := o.Add("test.yaml", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if len(o.Services) != 1 || len(o.Ingresses) != 1 || len(o.Workloads) != 1 || len(o.Namespaces) != 1 {
		t.Fatalf("decoded %d services, %d ingresses, %d workloads, %d namespaces", len(o.Services), len(o.Ingresses), len(o.Workloads), len(o.Namespaces))
	}
	s := o.Services[0]
	p := s.Spec.Ports[0]
	if s.Namespace != "default" || p.Protocol != corev1.ProtocolTCP || p.TargetPort.IntValue() != 80 ||
		s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || s.Spec.IPFamilies[0] != corev1.IPv4Protocol {
		t.Fatalf("Service defaults not applied: %+v", s)
	}
	if o.Ingresses[0].Namespace != "shop" {
		t.Fatalf("Ingress namespace %q", o.Ingresses[0].Namespace)
	}
	if w := o.Workloads[0]; !w.HostNetwork || w.Labels["app"] != "a" || w.Object != (translate.ObjectRef{Kind: "Deployment", Namespace: "default", Name: "app"}) {
		t.Fatalf("workload %+v", w)
	}
	if len(o.Gateways) != 1 || o.Gateways[0].Namespace != "default" || len(o.HTTPRoutes) != 1 || o.HTTPRoutes[0].Namespace != "shop" ||
		len(o.GatewayClasses) != 1 || o.GatewayClasses[0].Namespace != "" || len(o.TargetGroupConfigurations) != 1 ||
		o.TargetGroupConfigurations[0].Spec.TargetReference.Name != "web" {
		t.Fatalf("Gateway API objects: %d gateways %+v, %d routes, %d classes, %d target group configurations",
			len(o.Gateways), o.Gateways, len(o.HTTPRoutes), len(o.GatewayClasses), len(o.TargetGroupConfigurations))
	}
	if len(o.TCPRoutes) != 1 || o.TCPRoutes[0].Namespace != "default" || o.TCPRoutes[0].Spec.Rules[0].BackendRefs[0].Name != "db" ||
		len(o.UDPRoutes) != 1 || o.UDPRoutes[0].Namespace != "shop" || len(o.TLSRoutes) != 1 || o.TLSRoutes[0].Spec.Hostnames[0] != "a.example.com" {
		t.Fatalf("L4 routes (any version, read as v1): %d TCPRoutes %+v, %d UDPRoutes, %d TLSRoutes", len(o.TCPRoutes), o.TCPRoutes, len(o.UDPRoutes), len(o.TLSRoutes))
	}
	if o.Namespaces[0].Labels["kubernetes.io/metadata.name"] != "shop" {
		t.Fatalf("namespace labels %v", o.Namespaces[0].Labels)
	}
	var notes []string
	for _, d := range o.Diagnostics {
		notes = append(notes, d.Object.Kind+":"+d.Message)
	}
	joined := strings.Join(notes, "\n")
	if strings.Contains(joined, "Route:") || !strings.Contains(joined, "ConfigMap:") {
		t.Fatalf("notes:\n%s", joined)
	}
}

func TestUnknownFieldsWarn(t *testing.T) {
	var o Objects
	err := o.Add("x.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}], selectr: {a: b}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Services) != 1 || len(o.Diagnostics) != 1 || o.Diagnostics[0].Severity != translate.Warning || !strings.Contains(o.Diagnostics[0].Message, "selectr") {
		t.Fatalf("diagnostics %+v", o.Diagnostics)
	}
}

func TestBadDocumentsAreErrors(t *testing.T) {
	for _, doc := range []string{"kind: [", "apiVersion: v1\nmetadata: {name: x}\n", "apiVersion: v1\nkind: Service\nspec: {ports: 5}\n"} {
		var o Objects
		if err := o.Add("bad.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("Add(%q) = %v, want an error naming the file", doc, err)
		}
	}
}

func TestLoadPathsWalksDirectoriesInOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 1}]}\n")
	write("sub/a.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 1}]}\n")
	write("notes.txt", "not yaml")
	o, err := LoadPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Services) != 2 || o.Services[0].Name != "b" || o.Services[1].Name != "a" {
		t.Fatalf("services %v", o.Services)
	}
	if _, err := LoadPaths([]string{filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestLaterDefinitionWins(t *testing.T) {
	var o Objects
	if err := o.Add("one.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n")); err != nil {
		t.Fatal(err)
	}
	if err := o.Add("two.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 81}]}\n")); err != nil {
		t.Fatal(err)
	}
	if len(o.Services) != 1 || o.Services[0].Spec.Ports[0].Port != 81 {
		t.Fatalf("services %+v", o.Services)
	}
	if len(o.Diagnostics) != 1 || !strings.Contains(o.Diagnostics[0].Message, "defined again in two.yaml (first in one.yaml)") {
		t.Fatalf("diagnostics %+v", o.Diagnostics)
	}
}
