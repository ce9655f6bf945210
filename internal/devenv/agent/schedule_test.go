package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func testNode(name, zone string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelTopologyZone: zone,
		}},
		Spec: corev1.NodeSpec{Taints: taints},
	}
}

func testPod(mut ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func withPort(hostNetwork bool, proto corev1.Protocol, containerPort, hostPort int32, hostIP string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.HostNetwork = hostNetwork
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{
			ContainerPort: containerPort, HostPort: hostPort, Protocol: proto, HostIP: hostIP,
		})
	}
}

func ownedBy(uid types.UID) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: uid, Controller: ptr.To(true)}}
	}
}

func onNodeField(name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{name}}},
			}}},
		}}
	}
}

// states builds the scheduler's view: three nodes a, b, c and the pods
// already on them.
func states(nodes []*corev1.Node, placed map[string][]*corev1.Pod) []*nodeState {
	var out []*nodeState
	for _, n := range nodes {
		ns := &nodeState{node: n, owners: map[types.UID]int{}}
		for _, p := range placed[n.Name] {
			ns.pods++
			if o := controllerUID(p); o != "" {
				ns.owners[o]++
			}
			ns.ports = append(ns.ports, podHostPorts(p)...)
		}
		out = append(out, ns)
	}
	return out
}

func TestPick(t *testing.T) {
	a, b, c := testNode("a", "us-east-1a"), testNode("b", "us-east-1b"), testNode("c", "us-east-1c")
	three := []*corev1.Node{a, b, c}
	gpu := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	evict := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoExecute}
	soft := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectPreferNoSchedule}
	cordoned := testNode("a", "us-east-1a")
	cordoned.Spec.Unschedulable = true

	for _, tc := range []struct {
		name   string
		nodes  []*corev1.Node
		placed map[string][]*corev1.Pod
		pod    *corev1.Pod
		want   string // node, or the message
	}{
		{name: "empty cluster spreads by name", nodes: three, pod: testPod(), want: "a"},
		{name: "fewest pods", nodes: three, placed: map[string][]*corev1.Pod{"a": {testPod()}, "b": {testPod()}}, pod: testPod(), want: "c"},
		{
			name:   "fewest of the same owner first",
			nodes:  three,
			placed: map[string][]*corev1.Pod{"a": {testPod(ownedBy("rs1"))}, "b": {testPod(), testPod()}, "c": {testPod(ownedBy("rs1")), testPod()}},
			pod:    testPod(ownedBy("rs1")),
			want:   "b",
		},
		{
			name:   "other owners count as pods only",
			nodes:  three,
			placed: map[string][]*corev1.Pod{"a": {testPod(ownedBy("rs2"))}, "b": {testPod(ownedBy("rs2"))}},
			pod:    testPod(ownedBy("rs1")),
			want:   "c",
		},
		{
			name:  "node selector",
			nodes: three,
			pod:   testPod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{corev1.LabelTopologyZone: "us-east-1b"} }),
			want:  "b",
		},
		{
			name:  "node selector matches nothing",
			nodes: three,
			pod:   testPod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
			want:  "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
		},
		{name: "matchFields on the node name (DaemonSet pods)", nodes: three, pod: testPod(onNodeField("c")), want: "c"},
		{
			name:  "matchExpressions",
			nodes: three,
			pod: testPod(func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"us-east-1a", "us-east-1b"}}},
					}}},
				}}
			}),
			want: "c",
		},
		{name: "NoSchedule taint refuses", nodes: []*corev1.Node{testNode("a", "z", gpu), b}, pod: testPod(), want: "b"},
		{name: "NoExecute taint refuses", nodes: []*corev1.Node{testNode("a", "z", evict), b}, pod: testPod(), want: "b"},
		{name: "PreferNoSchedule taint does not", nodes: []*corev1.Node{testNode("a", "z", soft), b}, pod: testPod(), want: "a"},
		{
			name:  "tolerated taint",
			nodes: []*corev1.Node{testNode("a", "z", gpu)},
			pod: testPod(func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
			}),
			want: "a",
		},
		{
			name:  "toleration of another value",
			nodes: []*corev1.Node{testNode("a", "z", gpu)},
			pod: testPod(func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Value: "cpu"}}
			}),
			want: "0/1 nodes are available: 1 node(s) had untolerated taint(s).",
		},
		{name: "cordoned node", nodes: []*corev1.Node{cordoned, b}, pod: testPod(), want: "b"},
		{
			name:  "cordoned node, pod tolerates unschedulable",
			nodes: []*corev1.Node{cordoned},
			pod: testPod(func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists}}
			}),
			want: "a",
		},
		{
			name:   "host port taken",
			nodes:  three,
			placed: map[string][]*corev1.Pod{"a": {testPod(withPort(false, corev1.ProtocolTCP, 80, 8080, ""))}},
			pod:    testPod(withPort(false, corev1.ProtocolTCP, 8080, 8080, ""), onNodeField("a")),
			want:   "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name:   "host network pods hold their container ports",
			nodes:  []*corev1.Node{a},
			placed: map[string][]*corev1.Pod{"a": {testPod(withPort(true, corev1.ProtocolTCP, 9000, 0, ""))}},
			pod:    testPod(withPort(true, "", 9000, 9000, "")),
			want:   "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:   "same port, other protocol",
			nodes:  []*corev1.Node{a},
			placed: map[string][]*corev1.Pod{"a": {testPod(withPort(false, corev1.ProtocolTCP, 53, 53, ""))}},
			pod:    testPod(withPort(false, corev1.ProtocolUDP, 53, 53, "")),
			want:   "a",
		},
		{
			name:   "same port, other host IPs",
			nodes:  []*corev1.Node{a},
			placed: map[string][]*corev1.Pod{"a": {testPod(withPort(false, corev1.ProtocolTCP, 80, 80, "10.0.128.10"))}},
			pod:    testPod(withPort(false, corev1.ProtocolTCP, 80, 80, "10.0.128.11")),
			want:   "a",
		},
		{
			name:   "host IP against every address",
			nodes:  []*corev1.Node{a},
			placed: map[string][]*corev1.Pod{"a": {testPod(withPort(false, corev1.ProtocolTCP, 80, 80, "10.0.128.10"))}},
			pod:    testPod(withPort(false, corev1.ProtocolTCP, 80, 80, "0.0.0.0")),
			want:   "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
		},
		{
			name:   "container ports without host ports never conflict",
			nodes:  []*corev1.Node{a},
			placed: map[string][]*corev1.Pod{"a": {testPod(withPort(false, corev1.ProtocolTCP, 80, 0, ""))}},
			pod:    testPod(withPort(false, corev1.ProtocolTCP, 80, 0, "")),
			want:   "a",
		},
		{
			name:  "first failing check is the reason",
			nodes: []*corev1.Node{testNode("a", "z", gpu), testNode("b", "z", gpu)},
			pod:   testPod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }),
			want:  "0/2 nodes are available: 2 node(s) had untolerated taint(s).",
		},
		{name: "no nodes", nodes: nil, pod: testPod(), want: "no nodes available to schedule pods"},
		{
			name:   "full node",
			nodes:  []*corev1.Node{a},
			placed: map[string][]*corev1.Pod{"a": make([]*corev1.Pod, maxPods)},
			pod:    testPod(),
			want:   "0/1 nodes are available: 1 Too many pods.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n, pods := range tc.placed {
				for i := range pods {
					if pods[i] == nil {
						pods[i] = testPod()
					}
				}
				tc.placed[n] = pods
			}
			node, msg := pick(tc.pod, states(tc.nodes, tc.placed))
			got := node
			if node == "" {
				got = msg
			}
			if got != tc.want {
				t.Errorf("pick = %q\nwant   %q", got, tc.want)
			}
		})
	}
}
