package targets

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

func newClient(t *testing.T) client.Client {
	t.Helper()
	return ctrltest.Client(t, ctrltest.APIServer(t))
}

func ptr[T any](v T) *T { return &v }

func mustCreate(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func readyNode(name, providerID string, ready corev1.ConditionStatus, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{ProviderID: providerID, Taints: taints},
	}
}

// setNodeReady writes the node's Ready condition through the status subresource.
func setNodeReady(t *testing.T, c client.Client, n *corev1.Node, ready corev1.ConditionStatus) {
	t.Helper()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(context.Background(), n); err != nil {
		t.Fatalf("node %s status: %v", n.Name, err)
	}
}

func pod(ns, name, node string, containersReady bool, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Finalizers: []string{"test.elbow/keep"}},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "app"}},
		},
	}
}

func setPodStatus(t *testing.T, c client.Client, p *corev1.Pod, ip string, containersReady bool) {
	t.Helper()
	st := corev1.ConditionFalse
	if containersReady {
		st = corev1.ConditionTrue
	}
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.ContainersReady, Status: st, LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(context.Background(), p); err != nil {
		t.Fatalf("pod %s status: %v", p.Name, err)
	}
}

func endpoint(ip, podName, node string, ready, terminating *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: ready, Terminating: terminating},
		NodeName:   ptr(node),
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: podName},
	}
}

// TestPodEndpoints resolves ip targets from EndpointSlices stored in a
// real API server: ready endpoints, endpoints held back only by readiness
// gates on a Ready node, never terminating ones or pods being deleted, the
// port picked by the service port's name.
func TestPodEndpoints(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := "default"
	nodeA := readyNode("node-a", "aws:///us-east-1a/i-0aaaaaaaaaaaaaaa1", corev1.ConditionTrue, nil)
	nodeB := readyNode("node-b", "aws:///us-east-1b/i-0bbbbbbbbbbbbbbb2", corev1.ConditionFalse, nil)
	mustCreate(t, c, nodeA, nodeB)
	setNodeReady(t, c, nodeA, corev1.ConditionTrue)
	setNodeReady(t, c, nodeB, corev1.ConditionFalse)

	labels := map[string]string{"app": "web"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
				{Name: "admin", Port: 9000, TargetPort: intstr.FromInt32(9000)},
			},
		},
	}
	mustCreate(t, c, svc)

	type podCase struct {
		name, node, ip  string
		containersReady bool
	}
	pods := []podCase{
		{"ready", "node-a", "10.0.128.10", true},
		{"gated", "node-a", "10.0.128.11", true},          // not ready: only its readiness gate is unmet
		{"starting", "node-a", "10.0.128.12", false},      // not ready: containers not ready
		{"gated-bad-node", "node-b", "10.0.128.13", true}, // node not Ready
		{"terminating", "node-a", "10.0.128.14", true},
		{"deleting", "node-a", "10.0.128.15", true}, // slice still says ready; pod deletion started
	}
	for _, pc := range pods {
		p := pod(ns, pc.name, pc.node, pc.containersReady, labels)
		mustCreate(t, c, p)
		setPodStatus(t, c, p, pc.ip, pc.containersReady)
	}
	yes, no := ptr(true), ptr(false)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)},
			{Name: ptr("admin"), Port: ptr(int32(9000)), Protocol: ptr(corev1.ProtocolTCP)},
		},
		Endpoints: []discoveryv1.Endpoint{
			endpoint("10.0.128.10", "ready", "node-a", yes, no),
			endpoint("10.0.128.11", "gated", "node-a", no, no),
			endpoint("10.0.128.12", "starting", "node-a", no, no),
			endpoint("10.0.128.13", "gated-bad-node", "node-b", no, no),
			endpoint("10.0.128.14", "terminating", "node-a", no, yes),
			endpoint("10.0.128.15", "deleting", "node-a", yes, no),
			endpoint("10.0.128.16", "missing-pod", "node-a", yes, no),
		},
	}
	mustCreate(t, c, slice)
	deleting := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deleting"}, deleting); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		p := &corev1.Pod{}
		return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deleting"}, p) == nil && p.DeletionTimestamp != nil
	})

	r := &resolver{client: c}
	for _, tc := range []struct {
		port intstr.IntOrString
		want []Target
	}{
		{intstr.FromString("http"), []Target{{"10.0.128.10", 8080}, {"10.0.128.11", 8080}}},
		{intstr.FromInt32(9000), []Target{{"10.0.128.10", 9000}, {"10.0.128.11", 9000}}},
	} {
		tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"},
			Spec: elbv2api.TargetGroupBindingSpec{ServiceRef: elbv2api.ServiceReference{Name: "web", Port: tc.port}}}
		s, port, err := r.serviceAndPort(ctx, tgb)
		if err != nil {
			t.Fatal(err)
		}
		eps, err := r.podEndpoints(ctx, s, port, discoveryv1.AddressTypeIPv4)
		if err != nil {
			t.Fatal(err)
		}
		var got []Target
		for _, ep := range eps {
			got = append(got, ep.Target)
			if ep.Pod == nil {
				t.Errorf("endpoint %s has no pod", ep.Target)
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("port %s: targets (-want +got):\n%s", tc.port.String(), diff)
		}
	}

	tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"},
		Spec: elbv2api.TargetGroupBindingSpec{ServiceRef: elbv2api.ServiceReference{Name: "web", Port: intstr.FromInt32(81)}}}
	if _, _, err := r.serviceAndPort(ctx, tgb); err == nil {
		t.Error("port 81: no error")
	}
	tgb.Spec.ServiceRef.Name = "nope"
	if _, _, err := r.serviceAndPort(ctx, tgb); err == nil {
		t.Error("missing service: no error")
	}
}

// TestNodePortEndpoints resolves instance targets: eligible Ready nodes on
// the NodePort, with the reference's label, taint and selector rules.
func TestNodePortEndpoints(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	nodes := []struct {
		node  *corev1.Node
		ready corev1.ConditionStatus
	}{
		{readyNode("a", "aws:///us-east-1a/i-0000000000000000a", "", map[string]string{"pool": "web"}), corev1.ConditionTrue},
		{readyNode("b", "aws:///us-east-1b/i-0000000000000000b", "", map[string]string{"pool": "web"}), corev1.ConditionTrue},
		{readyNode("not-ready", "aws:///us-east-1b/i-0000000000000000c", "", map[string]string{"pool": "web"}), corev1.ConditionFalse},
		{readyNode("master", "aws:///us-east-1a/i-0000000000000000d", "", map[string]string{"pool": "web", labelNodeRoleMaster: ""}), corev1.ConditionTrue},
		{readyNode("excluded", "aws:///us-east-1a/i-0000000000000000e", "", map[string]string{"pool": "web", labelExcludeBalancer: "true"}), corev1.ConditionTrue},
		{readyNode("fargate", "aws:///us-east-1a/i-0000000000000000f", "", map[string]string{"pool": "web", labelEKSComputeType: "fargate"}), corev1.ConditionTrue},
		{readyNode("scaling-down", "aws:///us-east-1a/i-00000000000000010", "", map[string]string{"pool": "web"}, corev1.Taint{Key: taintToBeDeletedByCA, Effect: corev1.TaintEffectNoSchedule}), corev1.ConditionTrue},
		{readyNode("karpenter", "aws:///us-east-1a/i-00000000000000011", "", map[string]string{"pool": "web"}, corev1.Taint{Key: taintToBeDeletedByKarpenter, Effect: corev1.TaintEffectNoSchedule}), corev1.ConditionTrue},
		{readyNode("other-pool", "aws:///us-east-1a/i-00000000000000012", "", map[string]string{"pool": "batch"}), corev1.ConditionTrue},
	}
	for _, n := range nodes {
		mustCreate(t, c, n.node)
		setNodeReady(t, c, n.node, n.ready)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	mustCreate(t, c, svc)
	if svc.Spec.Ports[0].NodePort == 0 {
		t.Fatal("no NodePort allocated")
	}
	np := svc.Spec.Ports[0].NodePort
	r := &resolver{client: c}
	for _, tc := range []struct {
		name     string
		selector *metav1.LabelSelector
		want     []Target
	}{
		{"all", nil, []Target{{"i-0000000000000000a", np}, {"i-0000000000000000b", np}, {"i-00000000000000012", np}}},
		{"pool web", &metav1.LabelSelector{MatchLabels: map[string]string{"pool": "web"}}, []Target{{"i-0000000000000000a", np}, {"i-0000000000000000b", np}}},
	} {
		tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "b"},
			Spec: elbv2api.TargetGroupBindingSpec{ServiceRef: elbv2api.ServiceReference{Name: "web", Port: intstr.FromInt32(80)}, NodeSelector: tc.selector}}
		s, port, err := r.serviceAndPort(ctx, tgb)
		if err != nil {
			t.Fatal(err)
		}
		eps, err := r.nodePortEndpoints(ctx, tgb, s, port)
		if err != nil {
			t.Fatal(err)
		}
		var got []Target
		for _, ep := range eps {
			got = append(got, ep.Target)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: targets (-want +got):\n%s", tc.name, diff)
		}
	}

	clusterIP := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "internal"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	mustCreate(t, c, clusterIP)
	tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "b"},
		Spec: elbv2api.TargetGroupBindingSpec{ServiceRef: elbv2api.ServiceReference{Name: "internal", Port: intstr.FromInt32(80)}}}
	s, port, err := r.serviceAndPort(ctx, tgb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.nodePortEndpoints(ctx, tgb, s, port); err == nil {
		t.Error("ClusterIP service with instance targets: no error")
	}
}

func TestInstanceID(t *testing.T) {
	for _, tc := range []struct {
		providerID, want string
		ok               bool
	}{
		{"aws:///us-east-1a/i-0123456789abcdef0", "i-0123456789abcdef0", true},
		{"aws://us-east-1a/i-0123", "i-0123", true},
		{"eks-hybrid:///us-west-2/my-cluster/mi-0123456789abcdef0", "mi-0123456789abcdef0", true},
		{"", "", false},
		{"kind://docker/kind/kind-worker", "", false},
		{"aws:///us-east-1a/", "", false},
		{"eks-hybrid:///us-west-2/c/i-0123", "", false},
	} {
		got, err := InstanceID(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{ProviderID: tc.providerID}})
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("InstanceID(%q) = %q, %v; want %q, ok %v", tc.providerID, got, err, tc.want, tc.ok)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTrackedTargetsFormat(t *testing.T) {
	set := map[Target]bool{{"10.0.0.1", 80}: true, {"i-0abc", 31000}: true}
	s := formatTargets(set)
	if s != "10.0.0.1:80,i-0abc:31000" {
		t.Errorf("formatTargets = %q", s)
	}
	if got := parseTargets(s); !sameSet(got, set) {
		t.Errorf("parseTargets(%q) = %v", s, got)
	}
	if got := parseTargets("junk,:80,x:y,2001:db8::1:443"); !sameSet(got, map[Target]bool{{"2001:db8::1", 443}: true}) {
		t.Errorf("parseTargets(junk) = %v", got)
	}
}

func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1:80", "a:1,b:2", ":", "x:99999999999", "::1:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set := parseTargets(s)
		if again := parseTargets(formatTargets(set)); !sameSet(set, again) {
			t.Fatalf("round trip of %q: %v != %v", s, set, again)
		}
	})
}
