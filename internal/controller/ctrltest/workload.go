package ctrltest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Node creates a Ready node with an AWS provider ID.
func Node(t testing.TB, c client.Client, name, zone, instanceID string, labels map[string]string) *corev1.Node {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///%s/%s", zone, instanceID)},
	}
	if err := c.Create(ctx, n); err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx, n); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
	return n
}

// Backend is a pod's process: an HTTP server on the loopback address its
// pod IP maps to. It answers every request with its name, and /healthz
// with 200 unless failing.
type Backend struct {
	Name string
	// IP is the pod (VPC) address; Addr is where it listens on the host.
	IP   netip.Addr
	Addr netip.AddrPort

	srv     *http.Server
	mu      sync.Mutex
	failing bool
	served  int
}

// StartBackend listens on the host address of ip:port and serves.
func StartBackend(t testing.TB, name string, ip netip.Addr, port uint16) (*Backend, error) {
	host := vpcaddr.Default().ToHostPort(netip.AddrPortFrom(ip, port))
	l, err := net.Listen("tcp", host.String())
	if err != nil {
		return nil, err
	}
	b := &Backend{Name: name, IP: ip, Addr: host}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	t.Cleanup(b.Stop)
	return b, nil
}

// ServeHTTP implements http.Handler.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	failing := b.failing
	b.served++
	b.mu.Unlock()
	if failing && r.URL.Path == "/healthz" {
		http.Error(w, "failing", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("X-Backend", b.Name)
	fmt.Fprintf(w, "%s %s\n", b.Name, r.URL.Path)
}

// SetFailing makes /healthz answer 503 (or 200 again).
func (b *Backend) SetFailing(f bool) {
	b.mu.Lock()
	b.failing = f
	b.mu.Unlock()
}

// Served returns the number of requests served.
func (b *Backend) Served() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.served
}

// Stop closes the server gracefully: open requests finish.
func (b *Backend) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
}

// Workload plays kubelet and the EndpointSlice controller for the pods of
// one Service: each pod runs as a Backend on its mapped address, its Ready
// condition follows its containers and its readiness gates, and the
// Service's EndpointSlice lists the pods (terminating once their deletion
// starts, gone once they are gone).
type Workload struct {
	t         testing.TB
	c         client.Client
	Namespace string
	Service   string
	Labels    map[string]string
	PortName  string
	Port      uint16
	Node      string

	mu       sync.Mutex
	backends map[string]*Backend
	ips      map[string]netip.Addr
	// frozen stops EndpointSlice updates, as a lagging EndpointSlice
	// controller would.
	frozen bool
}

// FreezeSlices stops (or resumes) EndpointSlice updates: pods change, the
// slice does not, as when the EndpointSlice controller lags.
func (w *Workload) FreezeSlices(frozen bool) {
	w.mu.Lock()
	w.frozen = frozen
	w.mu.Unlock()
}

// NewWorkload returns a workload for the Service; call Run to start
// maintaining pod status and the EndpointSlice.
func NewWorkload(t testing.TB, c client.Client, namespace, service string, labels map[string]string, portName string, port uint16, node string) *Workload {
	return &Workload{t: t, c: c, Namespace: namespace, Service: service, Labels: labels, PortName: portName, Port: port, Node: node,
		backends: map[string]*Backend{}, ips: map[string]netip.Addr{}}
}

// randomPodIP picks an address in the zone-a private subnet 10.0.128.0/19
// (10.0.128.1–10.0.159.254).
func randomPodIP() netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(128 + rand.IntN(32)), byte(1 + rand.IntN(254))})
}

// AddPod starts a backend and creates its pod (through admission, so the
// readiness gate webhook sees it), with containers ready.
func (w *Workload) AddPod(name string) *Backend {
	w.t.Helper()
	return w.addPod(name, false)
}

// AddFailingPod is AddPod with a backend whose /healthz fails from the
// start.
func (w *Workload) AddFailingPod(name string) *Backend {
	w.t.Helper()
	return w.addPod(name, true)
}

func (w *Workload) addPod(name string, failing bool) *Backend {
	w.t.Helper()
	var b *Backend
	var ip netip.Addr
	for i := 0; ; i++ {
		ip = randomPodIP()
		var err error
		if b, err = StartBackend(w.t, name, ip, w.Port); err == nil {
			b.SetFailing(failing)
			break
		}
		if i > 20 {
			w.t.Fatalf("backend %s: %v", name, err)
		}
	}
	ctx := context.Background()
	grace := int64(30)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: name, Labels: w.Labels},
		Spec: corev1.PodSpec{
			NodeName:                      w.Node,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "app", Image: "backend",
				Ports: []corev1.ContainerPort{{Name: w.PortName, ContainerPort: int32(w.Port)}}}},
		},
	}
	if err := w.c.Create(ctx, p); err != nil {
		w.t.Fatalf("pod %s: %v", name, err)
	}
	w.mu.Lock()
	w.backends[name] = b
	w.ips[name] = ip
	w.mu.Unlock()
	if err := w.sync(ctx); err != nil {
		w.t.Fatalf("pod %s: %v", name, err)
	}
	return b
}

// DeletePod deletes a pod as kubelet would: its deletion starts (the
// endpoint turns terminating), the preStop pause runs while the backend
// still serves, then the backend stops and the pod is gone.
func (w *Workload) DeletePod(name string, preStop time.Duration) {
	w.t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{}
	if err := w.c.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: name}, p); err != nil {
		w.t.Fatalf("pod %s: %v", name, err)
	}
	if err := w.c.Delete(ctx, p); err != nil {
		w.t.Fatalf("delete pod %s: %v", name, err)
	}
	if err := w.sync(ctx); err != nil {
		w.t.Fatalf("pod %s: %v", name, err)
	}
	time.Sleep(preStop)
	w.mu.Lock()
	b := w.backends[name]
	delete(w.backends, name)
	delete(w.ips, name)
	w.mu.Unlock()
	if b != nil {
		b.Stop()
	}
	zero := int64(0)
	if err := w.c.Delete(ctx, p, &client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		w.t.Fatalf("remove pod %s: %v", name, err)
	}
	if err := w.sync(ctx); err != nil {
		w.t.Fatalf("pod %s: %v", name, err)
	}
}

// Run keeps pod status and the EndpointSlice in line every 100 ms until
// the test ends.
func (w *Workload) Run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := w.sync(ctx); err != nil && ctx.Err() == nil {
					w.t.Logf("workload %s: %v", w.Service, err)
				}
			}
		}
	}()
	w.t.Cleanup(func() { cancel(); <-done })
}

// sync writes each pod's status (IP, ContainersReady, Ready from the
// readiness gates) and the EndpointSlice.
func (w *Workload) sync(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var pods corev1.PodList
	if err := w.c.List(ctx, &pods, client.InNamespace(w.Namespace), client.MatchingLabels(w.Labels)); err != nil {
		return err
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var eps []discoveryv1.Endpoint
	for i := range pods.Items {
		p := &pods.Items[i]
		ip, ok := w.ips[p.Name]
		if !ok {
			continue
		}
		ready := p.DeletionTimestamp == nil
		for _, g := range p.Spec.ReadinessGates {
			if !conditionTrue(p, g.ConditionType) {
				ready = false
			}
		}
		if err := w.writeStatus(ctx, p, ip, ready); err != nil {
			return err
		}
		terminating := p.DeletionTimestamp != nil
		serving := !terminating || w.backends[p.Name] != nil
		node := w.Node
		eps = append(eps, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
			NodeName:   &node,
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		})
	}
	if w.frozen {
		return nil
	}
	return w.writeSlice(ctx, eps)
}

func conditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (w *Workload) writeStatus(ctx context.Context, p *corev1.Pod, ip netip.Addr, ready bool) error {
	status := func(b bool) corev1.ConditionStatus {
		if b {
			return corev1.ConditionTrue
		}
		return corev1.ConditionFalse
	}
	want := map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodScheduled: corev1.ConditionTrue, corev1.ContainersReady: corev1.ConditionTrue, corev1.PodReady: status(ready),
	}
	changed := p.Status.PodIP != ip.String() || p.Status.Phase != corev1.PodRunning
	old := p.DeepCopy()
	for t, s := range want {
		found := false
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == t {
				found = true
				if p.Status.Conditions[i].Status != s {
					p.Status.Conditions[i].Status = s
					p.Status.Conditions[i].LastTransitionTime = metav1.Now()
					changed = true
				}
			}
		}
		if !found {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.Now()})
			changed = true
		}
	}
	if !changed {
		return nil
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip.String()
	p.Status.PodIPs = []corev1.PodIP{{IP: ip.String()}}
	err := w.c.Status().Patch(ctx, p, client.MergeFrom(old))
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (w *Workload) writeSlice(ctx context.Context, eps []discoveryv1.Endpoint) error {
	name := w.Service + "-elbowtest"
	port := int32(w.Port)
	proto := corev1.ProtocolTCP
	portName := w.PortName
	want := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: w.Service, discoveryv1.LabelManagedBy: "elbow-test"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}
	cur := &discoveryv1.EndpointSlice{}
	err := w.c.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: name}, cur)
	if apierrors.IsNotFound(err) {
		return w.c.Create(ctx, &want)
	}
	if err != nil {
		return err
	}
	if equalEndpoints(cur.Endpoints, eps) {
		return nil
	}
	cur.Endpoints = eps
	cur.Ports = want.Ports
	err = w.c.Update(ctx, cur)
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func equalEndpoints(a, b []discoveryv1.Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(e discoveryv1.Endpoint) string {
		return e.Addresses[0] + strconv.FormatBool(*e.Conditions.Ready) + strconv.FormatBool(*e.Conditions.Terminating) + strconv.FormatBool(*e.Conditions.Serving)
	}
	for i := range a {
		if a[i].Conditions.Ready == nil || a[i].Conditions.Terminating == nil || a[i].Conditions.Serving == nil {
			return false
		}
		if key(a[i]) != key(b[i]) {
			return false
		}
	}
	return true
}
