package crd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestSetsAreCRDs checks that every embedded manifest is a
// CustomResourceDefinition with a name, and that elbow's group and the
// Gateway API's main kinds are there.
func TestSetsAreCRDs(t *testing.T) {
	sets, err := Sets()
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 {
		t.Fatalf("got %d sets, want elbow's and the Gateway API's", len(sets))
	}
	names := map[string]bool{}
	for _, s := range sets {
		if len(s.Manifests) == 0 {
			t.Errorf("set %s is empty", s.Name)
		}
		for _, m := range s.Manifests {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.UnmarshalStrict(m, &crd); err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			if crd.Kind != "CustomResourceDefinition" || crd.Name == "" {
				t.Errorf("%s: a %q named %q, want a CustomResourceDefinition", s.Name, crd.Kind, crd.Name)
			}
			names[crd.Name] = true
		}
	}
	for _, want := range []string{
		"targetgroupbindings.elbv2.k8s.aws", "ingressclassparams.elbv2.k8s.aws",
		"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io", "tcproutes.gateway.networking.k8s.io",
	} {
		if !names[want] {
			t.Errorf("CRD %s is missing", want)
		}
	}
}

// TestGatewayAPICopiesMatchModule checks that gateway-api/ holds exactly
// the experimental CRDs of the sigs.k8s.io/gateway-api version go.mod
// pins (run hack/gateway-crds.sh after changing it).
func TestGatewayAPICopiesMatchModule(t *testing.T) {
	// go mod download fetches the module when the cache lacks it (nothing
	// elbow builds imports its CRD files) and reports where it is.
	out, err := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("go mod download sigs.k8s.io/gateway-api: %v", err)
	}
	var mod struct{ Version, Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download sigs.k8s.io/gateway-api: no module directory in %q (%v)", out, err)
	}
	version, dir := mod.Version, mod.Dir
	got, err := os.ReadFile("gateway-api/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != version {
		t.Fatalf("gateway-api/VERSION is %q, go.mod pins %s: run hack/gateway-crds.sh", strings.TrimSpace(string(got)), version)
	}
	src, err := filepath.Glob(filepath.Join(dir, "config", "crd", "experimental", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range src {
		base := filepath.Base(f)
		if base == "kustomization.yaml" || strings.Contains(base, "_vap_") {
			continue
		}
		n++
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join("gateway-api", base))
		if err != nil {
			t.Errorf("%s: %v (run hack/gateway-crds.sh)", base, err)
			continue
		}
		if !bytes.Equal(want, have) {
			t.Errorf("gateway-api/%s differs from the module's copy: run hack/gateway-crds.sh", base)
		}
	}
	local, _ := filepath.Glob("gateway-api/*.yaml")
	if len(local) != n {
		t.Errorf("gateway-api/ has %d CRDs, the module %d: run hack/gateway-crds.sh", len(local), n)
	}
}
