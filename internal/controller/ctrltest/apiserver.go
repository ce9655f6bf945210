// Package ctrltest starts what the controller's tests run against: a real
// etcd and kube-apiserver (envtest, with elbow's CRDs and a service range
// outside the local VPC), and helpers that play the parts no process plays
// here: a kubelet's pod status and the EndpointSlice controller.
package ctrltest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
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
const ServiceCIDR = "172.20.0.0/16"

// APIServer starts etcd and kube-apiserver with elbow's CRDs installed and
// stops them when the test ends.
func APIServer(t testing.TB) *rest.Config {
	t.Helper()
	return apiServer(t, filepath.Join(repoRoot(), "config", "crd", "bases"))
}

// APIServerWithGatewayAPI is APIServer with the Gateway API's CRDs
// installed too (the release in config/crd/gateway-api).
func APIServerWithGatewayAPI(t testing.TB) *rest.Config {
	t.Helper()
	return apiServer(t, filepath.Join(repoRoot(), "config", "crd", "bases"), filepath.Join(repoRoot(), "config", "crd", "gateway-api"))
}

func apiServer(t testing.TB, crdDirs ...string) *rest.Config {
	t.Helper()
	env := &envtest.Environment{
		BinaryAssetsDirectory:    binaries(t),
		CRDDirectoryPaths:        crdDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", ServiceCIDR)
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stop kube-apiserver: %v", err)
		}
	})
	return cfg
}
