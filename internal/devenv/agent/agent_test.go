package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// testAddrs maps the VPC to a random /16 of loopback, so that tests running
// at once (here and in other packages) never share an address.
func testAddrs(t *testing.T) vpcaddr.Map {
	t.Helper()
	m, err := vpcaddr.New(vpcaddr.Mapping{
		VPC:  netip.MustParsePrefix("10.0.0.0/16"),
		Host: netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(150 + rand.IntN(100)), 0, 0}), 16),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// threeNodes is one node per zone, in the zones' private subnets.
func threeNodes() []Node {
	var out []Node
	for i, z := range []string{"a", "b", "c"} {
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(128 + 32*i), 0}), 19)
		ip := netip.AddrFrom4([4]byte{10, 0, byte(128 + 32*i), 10})
		out = append(out, Node{
			Name:       fmt.Sprintf("ip-10-0-%d-10.ec2.internal", 128+32*i),
			Zone:       "us-east-1" + z,
			InstanceID: fmt.Sprintf("i-0%016x", 0xe1b0+i),
			IP:         ip,
			Subnet:     subnet,
		})
	}
	return out
}

// runningAgent is a Run in the background.
type runningAgent struct {
	*agent
	cancel context.CancelFunc
	done   chan error
}

// startAgent runs an agent until stop (or the test's end).
func startAgent(t *testing.T, cs kubernetes.Interface, nodes []Node, addrs vpcaddr.Map) *runningAgent {
	t.Helper()
	return startAgentConfig(t, Config{Client: cs, Nodes: nodes, Addrs: addrs})
}

// startAgentConfig is startAgent with a whole Config (the test's logger
// added).
func startAgentConfig(t *testing.T, cfg Config) *runningAgent {
	t.Helper()
	cfg.Logger = ctrltest.Logger(t)
	a, err := newAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the Run and waits for it; Run must return nil.
func (r *runningAgent) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return within 30 s of its context's end")
	}
}

func namespace(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// echoPod is a pod of one container with the given ports.
func echoPod(ns, name string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/echoserver:1.10", Ports: ports}},
		},
	}
}

func tcpPort(p int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: "http", ContainerPort: p, Protocol: corev1.ProtocolTCP}
}

func create(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := cs.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return got
}

// waitPod polls the pod until check accepts it.
func waitPod(t *testing.T, cs kubernetes.Interface, ns, name string, check func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	ctrltest.Eventually(t, 60*time.Second, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = p
		return check(p)
	})
	return pod
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// runningReady accepts a pod that is Running and Ready.
func runningReady(p *corev1.Pod) error {
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("pod %s is %s, want Running (conditions %+v)", p.Name, p.Status.Phase, p.Status.Conditions)
	}
	if c := podCondition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
		return fmt.Errorf("pod %s Ready condition %+v", p.Name, c)
	}
	return nil
}

// echoAnswer is the part of the echo server's HTTP answer the tests read.
type echoAnswer struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
}

// get asks the echo server at addr over HTTP and returns the pod it names.
func get(addr netip.AddrPort) (echoAnswer, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr.String() + "/hello")
	if err != nil {
		return echoAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return echoAnswer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return echoAnswer{}, fmt.Errorf("GET %s: %s %s", addr, resp.Status, body)
	}
	var a echoAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return echoAnswer{}, fmt.Errorf("GET %s: %w in %q", addr, err, body)
	}
	return a, nil
}

// answers waits until the echo server at addr answers for the pod.
func answers(t *testing.T, addr netip.AddrPort, pod string) {
	t.Helper()
	ctrltest.Eventually(t, 30*time.Second, func() error {
		a, err := get(addr)
		if err != nil {
			return err
		}
		if a.Pod != pod {
			return fmt.Errorf("%s answered for pod %q, want %q", addr, a.Pod, pod)
		}
		return nil
	})
}

// refused waits until nothing listens at addr.
func refused(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	ctrltest.Eventually(t, 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("%s still accepts connections", addr)
		}
		return nil
	})
}

func hostAddr(addrs vpcaddr.Map, ip string, port uint16) netip.AddrPort {
	return addrs.ToHostPort(netip.AddrPortFrom(netip.MustParseAddr(ip), port))
}

func nodeNamed(nodes []Node, name string) *Node {
	for i := range nodes {
		if nodes[i].Name == name {
			return &nodes[i]
		}
	}
	return nil
}

// TestAgent runs one agent with three nodes on a real API server and checks
// what a kubelet and a scheduler would do.
func TestAgent(t *testing.T) {
	cs := kubernetes.NewForConfigOrDie(ctrltest.APIServer(t))
	ctx := context.Background()
	addrs := testAddrs(t)
	nodes := threeNodes()

	// A node an earlier run created and no longer configured goes.
	stale := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-128-99.ec2.internal", Labels: map[string]string{ManagedLabel: "true"}}}
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}}
	for _, n := range []*corev1.Node{stale, other} {
		if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	ag := startAgent(t, cs, nodes, addrs)

	t.Run("nodes", func(t *testing.T) {
		ctrltest.Eventually(t, 30*time.Second, func() error {
			if _, err := cs.CoreV1().Nodes().Get(ctx, stale.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("stale managed node: %v, want it deleted", err)
			}
			if _, err := cs.CoreV1().Nodes().Get(ctx, other.Name, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("a node the agent did not create: %v, want it kept", err)
			}
			for _, n := range nodes {
				got, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if got.Spec.ProviderID != "aws:///"+n.Zone+"/"+n.InstanceID {
					return fmt.Errorf("node %s providerID %q", n.Name, got.Spec.ProviderID)
				}
				for k, v := range map[string]string{
					ManagedLabel: "true", corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
					corev1.LabelTopologyZone: n.Zone, corev1.LabelTopologyRegion: "us-east-1", corev1.LabelInstanceTypeStable: InstanceType,
				} {
					if got.Labels[k] != v {
						return fmt.Errorf("node %s label %s=%q, want %q", n.Name, k, got.Labels[k], v)
					}
				}
				var internal string
				for _, a := range got.Status.Addresses {
					if a.Type == corev1.NodeInternalIP {
						internal = a.Address
					}
				}
				if internal != n.IP.String() {
					return fmt.Errorf("node %s InternalIP %q, want %s", n.Name, internal, n.IP)
				}
				ready := false
				for _, c := range got.Status.Conditions {
					ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
				}
				if !ready {
					return fmt.Errorf("node %s not Ready: %+v", n.Name, got.Status.Conditions)
				}
				if p := got.Status.Allocatable[corev1.ResourcePods]; p.Value() != int64(maxPods) {
					return fmt.Errorf("node %s allocatable pods %s", n.Name, p.String())
				}
			}
			return nil
		})
	})

	t.Run("nodeDeletedByHand", func(t *testing.T) {
		n := nodes[2]
		var old *corev1.Node
		ctrltest.Eventually(t, 30*time.Second, func() error {
			var err error
			old, err = cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			return err
		})
		if err := cs.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		ctrltest.Eventually(t, 30*time.Second, func() error {
			got, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.UID == old.UID {
				return fmt.Errorf("node %s not deleted yet", n.Name)
			}
			if len(got.Spec.Taints) != 0 || got.Spec.ProviderID == "" {
				return fmt.Errorf("node %s registered again with taints %v, provider ID %q", n.Name, got.Spec.Taints, got.Spec.ProviderID)
			}
			return nil
		})
	})

	t.Run("spread", func(t *testing.T) {
		ns := namespace(t, cs, "spread")
		owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "6b1f4a53-0000-4000-8000-000000000001", Controller: ptr.To(true)}
		for i := range 3 {
			p := echoPod(ns, fmt.Sprintf("web-%d", i), tcpPort(8080))
			p.Labels = map[string]string{"app": "web"}
			p.OwnerReferences = []metav1.OwnerReference{owner}
			create(t, cs, p)
		}
		used := map[string]bool{}
		for i := range 3 {
			name := fmt.Sprintf("web-%d", i)
			p := waitPod(t, cs, ns, name, runningReady)
			n := nodeNamed(nodes, p.Spec.NodeName)
			if n == nil {
				t.Fatalf("pod %s on node %q, not one of ours", name, p.Spec.NodeName)
			}
			if used[n.Name] {
				t.Errorf("two pods of one owner on %s; want one per node", n.Name)
			}
			used[n.Name] = true
			ip := netip.MustParseAddr(p.Status.PodIP)
			if !usable(n.Subnet, ip) || ip == n.IP {
				t.Errorf("pod %s IP %s is not a free address of its node's subnet %s", name, ip, n.Subnet)
			}
			if p.Status.HostIP != n.IP.String() || len(p.Status.PodIPs) != 1 || p.Status.PodIPs[0].IP != p.Status.PodIP {
				t.Errorf("pod %s hostIP %s podIPs %v", name, p.Status.HostIP, p.Status.PodIPs)
			}
			cs0 := p.Status.ContainerStatuses
			if len(cs0) != 1 || !cs0[0].Ready || cs0[0].State.Running == nil || !strings.HasPrefix(cs0[0].ContainerID, "elbow://") || cs0[0].Image != "registry.k8s.io/echoserver:1.10" {
				t.Errorf("pod %s container statuses %+v", name, cs0)
			}
			answers(t, hostAddr(addrs, p.Status.PodIP, 8080), name)
		}
		events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("reason", "Scheduled").String()})
		if err != nil || len(events.Items) == 0 {
			t.Errorf("Scheduled events: %v, %d; want some", err, len(events.Items))
		}
	})

	t.Run("nodeSelector", func(t *testing.T) {
		ns := namespace(t, cs, "selector")
		p := echoPod(ns, "in-b")
		p.Spec.NodeSelector = map[string]string{corev1.LabelTopologyZone: "us-east-1b"}
		create(t, cs, p)
		got := waitPod(t, cs, ns, "in-b", runningReady)
		if got.Spec.NodeName != nodes[1].Name {
			t.Errorf("pod on %s, want %s (zone b)", got.Spec.NodeName, nodes[1].Name)
		}
	})

	t.Run("matchFields", func(t *testing.T) {
		ns := namespace(t, cs, "fields")
		for _, n := range nodes {
			p := echoPod(ns, "on-"+n.Zone)
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{n.Name}}},
				}}},
			}}
			create(t, cs, p)
		}
		for _, n := range nodes {
			got := waitPod(t, cs, ns, "on-"+n.Zone, runningReady)
			if got.Spec.NodeName != n.Name {
				t.Errorf("pod %s on %s, want %s", got.Name, got.Spec.NodeName, n.Name)
			}
		}
	})

	t.Run("taint", func(t *testing.T) {
		ns := namespace(t, cs, "taint")
		c := nodes[2]
		setTaints(t, cs, c.Name, []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}})
		pinned := func(name string) *corev1.Pod {
			p := echoPod(ns, name)
			p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: c.Name}
			return p
		}
		create(t, cs, pinned("intolerant"))
		want := "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match Pod's node affinity/selector."
		waitPod(t, cs, ns, "intolerant", unschedulable(want))
		tolerant := pinned("tolerant")
		tolerant.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		create(t, cs, tolerant)
		if got := waitPod(t, cs, ns, "tolerant", runningReady); got.Spec.NodeName != c.Name {
			t.Errorf("tolerant pod on %s, want %s", got.Spec.NodeName, c.Name)
		}
		if got, _ := cs.CoreV1().Pods(ns).Get(ctx, "intolerant", metav1.GetOptions{}); got.Spec.NodeName != "" {
			t.Errorf("pod without toleration bound to %s", got.Spec.NodeName)
		}
		// The taint goes: the waiting pod is scheduled.
		setTaints(t, cs, c.Name, nil)
		if got := waitPod(t, cs, ns, "intolerant", runningReady); got.Spec.NodeName != c.Name {
			t.Errorf("pod on %s, want %s", got.Spec.NodeName, c.Name)
		}
	})

	t.Run("readinessGate", func(t *testing.T) {
		ns := namespace(t, cs, "gate")
		gate := corev1.PodConditionType("target-health.elbv2.k8s.aws/k8s-gate-web-0123456789")
		p := echoPod(ns, "gated", tcpPort(8080))
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
		create(t, cs, p)
		got := waitPod(t, cs, ns, "gated", func(p *corev1.Pod) error {
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("phase %s", p.Status.Phase)
			}
			if c := podCondition(p, corev1.ContainersReady); c == nil || c.Status != corev1.ConditionTrue {
				return fmt.Errorf("ContainersReady %+v", c)
			}
			if c := podCondition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
				return fmt.Errorf("Ready %+v, want False for the gate", c)
			}
			return nil
		})
		answers(t, hostAddr(addrs, got.Status.PodIP, 8080), "gated")
		// Ready stays False: the gate has no condition yet.
		if c := podCondition(got, corev1.PodReady); c.Status != corev1.ConditionFalse {
			t.Fatalf("Ready %+v before the gate is set", c)
		}
		// Elbow's controller sets the gate; the agent keeps its condition
		// and makes the pod Ready.
		got.Status.Conditions = append(got.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, ns, "gated", func(p *corev1.Pod) error {
			if err := runningReady(p); err != nil {
				return err
			}
			if c := podCondition(p, gate); c == nil || c.Status != corev1.ConditionTrue {
				return fmt.Errorf("gate condition %+v lost", c)
			}
			return nil
		})
	})

	t.Run("hostNetwork", func(t *testing.T) {
		ns := namespace(t, cs, "hostnet")
		a := nodes[0]
		port := int32(9000 + rand.IntN(1000))
		pinned := func(name string) *corev1.Pod {
			p := echoPod(ns, name, tcpPort(port))
			p.Spec.HostNetwork = true
			p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: a.Name}
			return p
		}
		create(t, cs, pinned("first"))
		got := waitPod(t, cs, ns, "first", runningReady)
		if got.Status.PodIP != a.IP.String() || got.Spec.NodeName != a.Name {
			t.Errorf("host-network pod IP %s on %s, want the node's %s on %s", got.Status.PodIP, got.Spec.NodeName, a.IP, a.Name)
		}
		answers(t, hostAddr(addrs, a.IP.String(), uint16(port)), "first")

		create(t, cs, pinned("second"))
		want := "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 2 node(s) didn't match Pod's node affinity/selector."
		waitPod(t, cs, ns, "second", unschedulable(want))
		ctrltest.Eventually(t, 30*time.Second, func() error {
			events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "second").String()})
			if err != nil {
				return err
			}
			for _, e := range events.Items {
				if e.Reason == "FailedScheduling" && e.Type == corev1.EventTypeWarning && e.Message == want {
					return nil
				}
			}
			return fmt.Errorf("no FailedScheduling event with %q among %d events", want, len(events.Items))
		})

		// The first goes: the second takes its port.
		if err := cs.CoreV1().Pods(ns).Delete(ctx, "first", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, ns, "second", runningReady)
		answers(t, hostAddr(addrs, a.IP.String(), uint16(port)), "second")
	})

	t.Run("hostPort", func(t *testing.T) {
		ns := namespace(t, cs, "hostport")
		b := nodes[1]
		hp := int32(20000 + rand.IntN(10000))
		p := echoPod(ns, "mapped", corev1.ContainerPort{ContainerPort: 8080, HostPort: hp, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{ContainerPort: 5353, HostPort: hp, Protocol: corev1.ProtocolUDP})
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: b.Name}
		create(t, cs, p)
		got := waitPod(t, cs, ns, "mapped", runningReady)
		answers(t, hostAddr(addrs, got.Status.PodIP, 8080), "mapped")
		answers(t, hostAddr(addrs, b.IP.String(), uint16(hp)), "mapped")
		for _, target := range []netip.AddrPort{hostAddr(addrs, got.Status.PodIP, 5353), hostAddr(addrs, b.IP.String(), uint16(hp))} {
			if err := udpEcho(target, "ping "+target.String()); err != nil {
				t.Errorf("UDP: %v", err)
			}
		}
	})

	t.Run("portInUse", func(t *testing.T) {
		ns := namespace(t, cs, "inuse")
		b := nodes[1]
		// Another process holds the port on the node: the container waits
		// with the bind error, and starts once the port is free.
		port := uint16(9000 + rand.IntN(1000))
		addr := hostAddr(addrs, b.IP.String(), port)
		squatter, err := net.Listen("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer squatter.Close()
		p := echoPod(ns, "blocked", tcpPort(int32(port)))
		p.Spec.HostNetwork = true
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: b.Name}
		create(t, cs, p)
		waitPod(t, cs, ns, "blocked", func(p *corev1.Pod) error {
			if p.Status.Phase != corev1.PodPending {
				return fmt.Errorf("phase %s, want Pending", p.Status.Phase)
			}
			if c := podCondition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse {
				return fmt.Errorf("Ready %+v, want False", c)
			}
			if len(p.Status.ContainerStatuses) != 1 {
				return fmt.Errorf("container statuses %+v", p.Status.ContainerStatuses)
			}
			st := p.Status.ContainerStatuses[0]
			if st.Ready || st.State.Waiting == nil || st.State.Waiting.Reason != "CreateContainerError" || !strings.Contains(st.State.Waiting.Message, "address already in use") {
				return fmt.Errorf("container %+v, want waiting with the bind error", st)
			}
			return nil
		})
		squatter.Close()
		waitPod(t, cs, ns, "blocked", runningReady)
		answers(t, addr, "blocked")
	})

	t.Run("deletion", func(t *testing.T) {
		ns := namespace(t, cs, "deletion")
		p := echoPod(ns, "graceful", tcpPort(8080))
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](4)
		create(t, cs, p)
		got := waitPod(t, cs, ns, "graceful", runningReady)
		addr := hostAddr(addrs, got.Status.PodIP, 8080)
		ip := netip.MustParseAddr(got.Status.PodIP)
		answers(t, addr, "graceful")

		if err := cs.CoreV1().Pods(ns).Delete(ctx, "graceful", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		deleting, err := cs.CoreV1().Pods(ns).Get(ctx, "graceful", metav1.GetOptions{})
		if err != nil || deleting.DeletionTimestamp == nil {
			t.Fatalf("pod after delete: %v, %+v; want it terminating", err, deleting)
		}
		// Until the deletion timestamp (less a margin for a slow
		// machine), every request is answered.
		until := deleting.DeletionTimestamp.Add(-time.Second)
		asked := 0
		for {
			start := time.Now()
			a, err := get(addr)
			if time.Now().After(until) {
				break
			}
			if err != nil || a.Pod != "graceful" {
				t.Fatalf("during the grace period (%s before its end) GET = %+v, %v", until.Sub(start), a, err)
			}
			asked++
			time.Sleep(200 * time.Millisecond)
		}
		if asked == 0 {
			t.Fatal("no request finished within the grace period")
		}
		ctrltest.Eventually(t, 30*time.Second, func() error {
			_, err := cs.CoreV1().Pods(ns).Get(ctx, "graceful", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("pod still there after its grace period (%v)", err)
			}
			return nil
		})
		refused(t, addr)
		ctrltest.Eventually(t, 10*time.Second, func() error {
			if uid, held := ag.ips.holder(ip); held {
				return fmt.Errorf("address %s still held by %s", ip, uid)
			}
			return nil
		})

		// Deleted with grace 0: gone at once, and so is its server.
		create(t, cs, echoPod(ns, "forced", tcpPort(8080)))
		got = waitPod(t, cs, ns, "forced", runningReady)
		addr = hostAddr(addrs, got.Status.PodIP, 8080)
		answers(t, addr, "forced")
		if err := cs.CoreV1().Pods(ns).Delete(ctx, "forced", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		refused(t, addr)
	})

	t.Run("restart", func(t *testing.T) {
		before, err := cs.CoreV1().Pods("spread").List(ctx, metav1.ListOptions{})
		if err != nil || len(before.Items) != 3 {
			t.Fatalf("pods before the restart: %v, %d", err, len(before.Items))
		}
		nodeUIDs := map[string]string{}
		for _, n := range nodes {
			got, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			nodeUIDs[n.Name] = string(got.UID)
		}
		ag.stop(t)
		for _, p := range before.Items {
			refused(t, hostAddr(addrs, p.Status.PodIP, 8080))
		}
		// A pod created while no agent runs is scheduled by the next one
		// and gets an address no other pod holds.
		create(t, cs, echoPod("spread", "latecomer", tcpPort(8080)))

		ag = startAgent(t, cs, nodes, addrs)
		for _, p := range before.Items {
			got := waitPod(t, cs, "spread", p.Name, runningReady)
			if got.Status.PodIP != p.Status.PodIP || got.Spec.NodeName != p.Spec.NodeName {
				t.Errorf("pod %s at %s on %s after the restart, was %s on %s", p.Name, got.Status.PodIP, got.Spec.NodeName, p.Status.PodIP, p.Spec.NodeName)
			}
			answers(t, hostAddr(addrs, p.Status.PodIP, 8080), p.Name)
		}
		late := waitPod(t, cs, "spread", "latecomer", runningReady)
		all, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range all.Items {
			if p.Name != late.Name && !p.Spec.HostNetwork && p.Status.PodIP == late.Status.PodIP {
				t.Errorf("latecomer got %s, which %s/%s holds", late.Status.PodIP, p.Namespace, p.Name)
			}
		}
		answers(t, hostAddr(addrs, late.Status.PodIP, 8080), "latecomer")
		for _, n := range nodes {
			got, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil || string(got.UID) != nodeUIDs[n.Name] {
				t.Errorf("node %s replaced across the restart (%v)", n.Name, err)
			}
		}
	})
}

// unschedulable accepts a pending pod whose PodScheduled condition says msg.
func unschedulable(msg string) func(*corev1.Pod) error {
	return func(p *corev1.Pod) error {
		if p.Spec.NodeName != "" {
			return fmt.Errorf("pod %s bound to %s, want it unschedulable", p.Name, p.Spec.NodeName)
		}
		c := podCondition(p, corev1.PodScheduled)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable || c.Message != msg {
			return fmt.Errorf("PodScheduled %+v, want False, Unschedulable, %q", c, msg)
		}
		return nil
	}
}

func setTaints(t *testing.T, cs kubernetes.Interface, node string, taints []corev1.Taint) {
	t.Helper()
	ctrltest.Eventually(t, 10*time.Second, func() error {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Taints = taints
		_, err = cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
		return err
	})
}

// udpEcho sends msg to addr and expects it back.
func udpEcho(addr netip.AddrPort, msg string) error {
	var last error
	for range 20 {
		c, err := net.Dial("udp", addr.String())
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write([]byte(msg)); err != nil {
			c.Close()
			return err
		}
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		c.Close()
		if err == nil {
			if string(buf[:n]) != msg {
				return fmt.Errorf("%s echoed %q, want %q", addr, buf[:n], msg)
			}
			return nil
		}
		last = err
		var ne net.Error
		if !errors.As(err, &ne) {
			return err
		}
	}
	return fmt.Errorf("%s: no echo: %v", addr, last)
}
