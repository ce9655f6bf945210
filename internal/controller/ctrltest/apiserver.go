// Package ctrltest starts what the controller's tests run against: a real
// etcd and kube-apiserver (package kubeproc, as `elbow dev` runs them, with
// elbow's CRDs installed), and helpers that play the parts no process
// plays here: a kubelet's pod status and the EndpointSlice controller.
package ctrltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/elbowlb/elbow/internal/kubeproc"
)

// repoRoot returns the repository's root directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// binaries returns the directory holding etcd and kube-apiserver:
// $KUBEBUILDER_ASSETS, else the repository's bin/ (make tools).
func binaries(t testing.TB) string {
	dirs := []string{os.Getenv("KUBEBUILDER_ASSETS"), filepath.Join(repoRoot(), "bin")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "etcd")); err == nil {
				return d
			}
		}
	}
	t.Fatalf("no etcd and kube-apiserver in $KUBEBUILDER_ASSETS or %s: run `make tools`", filepath.Join(repoRoot(), "bin"))
	return ""
}

// ServiceCIDR is the API server's service range, outside the local VPC
// (10.0.0.0/16) as on EKS.
const ServiceCIDR = kubeproc.DefaultServiceCIDR

// CRD directories (relative to the repository): elbow's, and the Gateway
// API's release.
var (
	elbowCRDs      = filepath.Join("config", "crd", "bases")
	gatewayAPICRDs = filepath.Join("config", "crd", "gateway-api")
)

// APIServer starts etcd and kube-apiserver with elbow's CRDs installed and
// stops them when the test ends.
func APIServer(t testing.TB) *rest.Config {
	t.Helper()
	return apiServer(t, elbowCRDs)
}

// APIServerWithGatewayAPI is APIServer with the Gateway API's CRDs
// installed too (the release in config/crd/gateway-api).
func APIServerWithGatewayAPI(t testing.TB) *rest.Config {
	t.Helper()
	return apiServer(t, elbowCRDs, gatewayAPICRDs)
}

func apiServer(t testing.TB, crdDirs ...string) *rest.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := kubeproc.Start(ctx, kubeproc.Config{BinDir: binaries(t), DataDir: t.TempDir(), FastEtcd: true})
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(cp.Stop)
	if err := installCRDs(ctx, cp.REST, crdDirs); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	return cp.REST
}

// installCRDs creates the CRDs of crdDirs and waits until the API server
// serves them.
func installCRDs(ctx context.Context, cfg *rest.Config, crdDirs []string) error {
	scheme := k8sruntime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, dir := range crdDirs {
		files, err := filepath.Glob(filepath.Join(repoRoot(), dir, "*.yaml"))
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("no CRDs in %s", dir)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			for _, doc := range strings.Split(string(b), "\n---") {
				if strings.TrimSpace(doc) == "" {
					continue
				}
				crd := &apiextensionsv1.CustomResourceDefinition{}
				if err := yaml.UnmarshalStrict([]byte(doc), crd); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				if err := c.Create(ctx, crd); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				crds = append(crds, crd)
			}
		}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gv := crd.Spec.Group + "/" + v.Name
			for !discovered(dc, gv, crd.Spec.Names.Plural) {
				select {
				case <-ctx.Done():
					return fmt.Errorf("CRD %s: %s not served: %w", crd.Name, gv, ctx.Err())
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	return nil
}

// discovered reports whether the API server's discovery lists a resource
// in a group version.
func discovered(dc discovery.DiscoveryInterface, gv, plural string) bool {
	list, err := dc.ServerResourcesForGroupVersion(gv)
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == plural {
			return true
		}
	}
	return false
}
