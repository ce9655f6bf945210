package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/kubeproc"
)

func binDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "bin")
}

// TestWithControllerManager runs the agent in a whole control plane: a
// Deployment's pods run Ready and its Service's EndpointSlice lists their
// VPC addresses; a DaemonSet gets one pod on every node.
func TestWithControllerManager(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := kubeproc.Config{BinDir: binDir(), DataDir: t.TempDir(), ControllerManager: true, FastEtcd: true, Logger: ctrltest.Logger(t)}
	cp, err := kubeproc.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cp.Stop() }()
	cs := kubernetes.NewForConfigOrDie(cp.REST)
	addrs := testAddrs(t)
	nodes := threeNodes()
	ag := startAgent(t, cs, nodes, addrs)

	ns := namespace(t, cs, "demo")
	labels := map[string]string{"app": "web"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "nginx", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var pods []corev1.Pod
	ctrltest.Eventually(t, 2*time.Minute, func() error {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(list.Items) != 3 {
			return fmt.Errorf("%d pods, want 3", len(list.Items))
		}
		for i := range list.Items {
			if err := runningReady(&list.Items[i]); err != nil {
				return err
			}
		}
		pods = list.Items
		return nil
	})
	// The ServiceAccount admission plugin gave each pod a projected
	// kube-api-access volume: a token of its service account bound to it,
	// the cluster's CA (the root CA publisher's ConfigMap) and the namespace.
	for _, p := range pods {
		var dir string
		for _, v := range p.Spec.Volumes {
			if strings.HasPrefix(v.Name, "kube-api-access-") {
				dir = ag.volumeDir(&p, v.Name)
			}
		}
		if dir == "" {
			t.Fatalf("pod %s has no kube-api-access volume: %+v", p.Name, p.Spec.Volumes)
		}
		for file, check := range map[string]func(string) bool{
			"token":     func(s string) bool { return strings.Count(s, ".") == 2 },
			"ca.crt":    func(s string) bool { return strings.HasPrefix(s, "-----BEGIN CERTIFICATE-----") },
			"namespace": func(s string) bool { return s == ns },
		} {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil || !check(string(b)) {
				t.Errorf("pod %s: %s = %.40q, %v", p.Name, file, b, err)
			}
		}
	}

	var ips []string
	for _, p := range pods {
		ips = append(ips, p.Status.PodIP)
	}
	slices.Sort(ips)

	ctrltest.Eventually(t, time.Minute, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 3 || d.Status.AvailableReplicas != 3 {
			return fmt.Errorf("deployment ready %d available %d, want 3", d.Status.ReadyReplicas, d.Status.AvailableReplicas)
		}
		eps, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return err
		}
		var got []string
		for _, s := range eps.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || !*e.Conditions.Ready {
					return fmt.Errorf("endpoint %v not ready", e.Addresses)
				}
				if e.NodeName == nil || nodeNamed(nodes, *e.NodeName) == nil || e.Zone == nil || *e.Zone != nodeNamed(nodes, *e.NodeName).Zone {
					return fmt.Errorf("endpoint %v node %v zone %v", e.Addresses, e.NodeName, e.Zone)
				}
				got = append(got, e.Addresses...)
			}
		}
		slices.Sort(got)
		if fmt.Sprint(got) != fmt.Sprint(ips) {
			return fmt.Errorf("EndpointSlice addresses %v, want the pods' %v", got, ips)
		}
		return nil
	})

	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "agent", Image: "fluent-bit", Ports: []corev1.ContainerPort{{ContainerPort: 2020}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 2*time.Minute, func() error {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			return err
		}
		on := map[string]int{}
		for i := range list.Items {
			p := &list.Items[i]
			if err := runningReady(p); err != nil {
				return err
			}
			on[p.Spec.NodeName]++
		}
		for _, n := range nodes {
			if on[n.Name] != 1 {
				return fmt.Errorf("daemon pods per node %v, want one on each of the 3 nodes", on)
			}
		}
		if len(list.Items) != 3 {
			return fmt.Errorf("%d daemon pods, want 3", len(list.Items))
		}
		d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.NumberReady != 3 {
			return fmt.Errorf("daemonset ready %d, want 3", d.Status.NumberReady)
		}
		return nil
	})
	for _, p := range pods {
		answers(t, addrs.ToHostPort(netip.AddrPortFrom(netip.MustParseAddr(p.Status.PodIP), 8080)), p.Name)
	}

	// The control plane restarts under the running agent: it carries on
	// (a pod created afterwards runs).
	cp.Stop()
	if cp, err = kubeproc.Start(ctx, cfg); err != nil {
		t.Fatalf("restart the control plane: %v", err)
	}
	create(t, cs, echoPod(ns, "after-restart", tcpPort(8080)))
	got := waitPod(t, cs, ns, "after-restart", runningReady)
	answers(t, addrs.ToHostPort(netip.AddrPortFrom(netip.MustParseAddr(got.Status.PodIP), 8080)), "after-restart")
}
