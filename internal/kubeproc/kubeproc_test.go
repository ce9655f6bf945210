package kubeproc

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func binDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "bin")
}

// TestControlPlane runs a whole control plane: the controller manager turns
// a Deployment into Pods, Services get ClusterIPs outside the VPC,
// EndpointSlices take VPC addresses and refuse loopback ones, and a restart
// on the same data dir keeps the objects and the kubeconfig.
func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := Config{BinDir: binDir(t), DataDir: dir, ControllerManager: true, FastEtcd: true}
	cp, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	cs := kubernetes.NewForConfigOrDie(cp.REST)

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("demo").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods, err := cs.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err == nil && len(pods.Items) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the controller manager did not create 2 pods for the Deployment (err %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}},
	}
	got, err := cs.CoreV1().Services("demo").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Spec.ClusterIP, "172.20.") {
		t.Errorf("ClusterIP %s is not from %s", got.Spec.ClusterIP, DefaultServiceCIDR)
	}

	slice := func(name, addr string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "demo"},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}}},
		}
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("demo").Create(ctx, slice("vpc", "10.0.128.10"), metav1.CreateOptions{}); err != nil {
		t.Errorf("EndpointSlice with a VPC address refused: %v", err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("demo").Create(ctx, slice("loop", "127.0.0.1"), metav1.CreateOptions{}); err == nil {
		t.Error("EndpointSlice with a loopback address accepted; the VPC-on-loopback design relies on it being refused")
	}

	kubeconfig, err := os.ReadFile(cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cp.Stop()
	cfg.ControllerManager = false
	cp2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("restart on the same data dir: %v", err)
	}
	defer cp2.Stop()
	again, err := os.ReadFile(cp2.Kubeconfig)
	if err != nil || string(again) != string(kubeconfig) {
		t.Errorf("the kubeconfig changed across a restart")
	}
	cs2 := kubernetes.NewForConfigOrDie(cp2.REST)
	if _, err := cs2.CoreV1().Namespaces().Get(ctx, "demo", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace lost across a restart: %v", err)
	}
}

func TestMissingBinaries(t *testing.T) {
	_, err := Start(context.Background(), Config{BinDir: t.TempDir(), DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("Start without binaries = %v, want an error naming `make tools`", err)
	}
}
