package agent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// The scheduler's reasons, worded as kube-scheduler words them so that
// `kubectl describe pod` reads the same.
const (
	reasonUnschedulable = "node(s) were unschedulable"
	reasonTaints        = "node(s) had untolerated taint(s)"
	reasonAffinity      = "node(s) didn't match Pod's node affinity/selector"
	reasonPorts         = "node(s) didn't have free ports for the requested pod ports"
	reasonTooManyPods   = "Too many pods"
)

// assumedPod is a pod the scheduler bound whose binding the informer has
// not shown yet: it counts on its node meanwhile.
type assumedPod struct {
	node string
	pod  *corev1.Pod
}

// hostPort is one (host IP, protocol, port) a pod takes on its node.
type hostPort struct {
	ip    string // "0.0.0.0" for every address
	proto corev1.Protocol
	port  int32
}

// conflicts reports whether two host ports cannot be held at once.
func (h hostPort) conflicts(o hostPort) bool {
	return h.proto == o.proto && h.port == o.port && (h.ip == o.ip || h.ip == "0.0.0.0" || o.ip == "0.0.0.0")
}

// podHostPorts returns the host ports a pod needs: the hostPort of its
// containers' ports (and of its restartable init containers'), the
// containerPort itself for a host-network pod.
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			port := p.HostPort
			if port == 0 && pod.Spec.HostNetwork {
				port = p.ContainerPort
			}
			if port <= 0 {
				continue
			}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = append(out, hostPort{ip: ip, proto: proto, port: port})
		}
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) {
			add(c)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return out
}

// isSidecar reports whether an init container keeps running (a native
// sidecar).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// nodeState is what the scheduler knows of one node.
type nodeState struct {
	node   *corev1.Node
	pods   int               // non-terminated pods on it
	owners map[types.UID]int // of those, by controlling owner
	ports  []hostPort        // held by them
}

// filter returns why pod cannot go to the node, or "" if it can. The
// checks run in kube-scheduler's order and the first failure is the reason.
func filter(pod *corev1.Pod, ns *nodeState) string {
	node := ns.node
	if node.Spec.Unschedulable && !tolerates(pod.Spec.Tolerations, &corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return reasonUnschedulable
	}
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return reasonTaints
		}
	}
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !ok {
		return reasonAffinity
	}
	for _, want := range podHostPorts(pod) {
		for _, held := range ns.ports {
			if want.conflicts(held) {
				return reasonPorts
			}
		}
	}
	if ns.pods >= maxPods {
		return reasonTooManyPods
	}
	return ""
}

func tolerates(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, true) {
			return true
		}
	}
	return false
}

// pick returns the node for pod among states, or the scheduler's message
// saying why none fits. Among the nodes that fit it takes the one with the
// fewest pods of the same controlling owner, then the fewest pods, then the
// first name.
func pick(pod *corev1.Pod, states []*nodeState) (string, string) {
	if len(states) == 0 {
		return "", "no nodes available to schedule pods"
	}
	owner := controllerUID(pod)
	var best *nodeState
	reasons := map[string]int{}
	for _, ns := range states {
		if r := filter(pod, ns); r != "" {
			reasons[r]++
			continue
		}
		if best == nil || better(ns, best, owner) {
			best = ns
		}
	}
	if best != nil {
		return best.node.Name, ""
	}
	var parts []string
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	return "", fmt.Sprintf("0/%d nodes are available: %s.", len(states), strings.Join(parts, ", "))
}

func better(a, b *nodeState, owner types.UID) bool {
	if owner != "" && a.owners[owner] != b.owners[owner] {
		return a.owners[owner] < b.owners[owner]
	}
	if a.pods != b.pods {
		return a.pods < b.pods
	}
	return a.node.Name < b.node.Name
}

func controllerUID(pod *corev1.Pod) types.UID {
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return ref.UID
	}
	return ""
}

// wantsScheduling reports whether the agent is this pod's scheduler and the
// pod waits for one.
func (a *agent) wantsScheduling(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil && !terminated(pod) &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == DefaultSchedulerName) &&
		len(pod.Spec.SchedulingGates) == 0
}

// nodeStates returns the scheduler's view of our nodes that exist.
func (a *agent) nodeStates() ([]*nodeState, error) {
	byName := map[string]*nodeState{}
	var states []*nodeState
	for _, n := range a.order {
		node, err := a.nodeLister.Get(n.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ns := &nodeState{node: node, owners: map[types.UID]int{}}
		byName[n.Name] = ns
		states = append(states, ns)
	}
	pods, err := a.podLister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	count := func(pod *corev1.Pod, node string) {
		ns := byName[node]
		if ns == nil || terminated(pod) {
			return
		}
		ns.pods++
		if o := controllerUID(pod); o != "" {
			ns.owners[o]++
		}
		ns.ports = append(ns.ports, podHostPorts(pod)...)
	}
	seen := map[types.UID]bool{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			count(p, p.Spec.NodeName)
			seen[p.UID] = true
		}
	}
	a.mu.Lock()
	for uid, as := range a.assumed {
		if !seen[uid] {
			count(as.pod, as.node)
		}
	}
	a.mu.Unlock()
	return states, nil
}

// schedule is the scheduler queue's work: bind one pod to a node, or
// report why none fits.
func (a *agent) schedule(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := a.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && !a.wantsScheduling(pod)) {
		a.mu.Lock()
		delete(a.unschedulable, key)
		a.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	_, bound := a.assumed[pod.UID]
	a.mu.Unlock()
	if bound {
		return nil // the informer has not caught up with our binding yet
	}
	states, err := a.nodeStates()
	if err != nil {
		return err
	}
	node, why := pick(pod, states)
	log := a.log.With("namespace", pod.Namespace, "pod", pod.Name)
	if node == "" {
		a.mu.Lock()
		a.unschedulable[key] = true
		a.mu.Unlock()
		if c := podScheduledCondition(pod); c != nil && c.Reason == corev1.PodReasonUnschedulable && c.Message == why {
			log.Debug("pod still fits no node", "reason", why)
		} else {
			log.Info("pod fits no node", "reason", why)
		}
		a.schedRecorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", why)
		return a.setUnschedulable(ctx, pod, why)
	}

	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := a.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Gone, or bound by someone else meanwhile.
			log.Debug("binding refused", "node", node, "error", err)
			return nil
		}
		return fmt.Errorf("bind %s to %s: %w", key, node, err)
	}
	a.mu.Lock()
	a.assumed[pod.UID] = assumedPod{node: node, pod: pod}
	delete(a.unschedulable, key)
	a.mu.Unlock()
	log.Info("scheduled", "node", node)
	a.schedRecorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	return nil
}

func podScheduledCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// setUnschedulable sets the pod's PodScheduled condition to False,
// Unschedulable, leaving every other condition as it is.
func (a *agent) setUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	pods := a.client.CoreV1().Pods(pod.Namespace)
	cur := pod
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		want := cur.DeepCopy()
		c := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg}
		if !setCondition(&want.Status, c, metav1.Now().Rfc3339Copy()) {
			return nil
		}
		_, err := pods.UpdateStatus(ctx, want, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if apierrors.IsConflict(err) {
			fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			if fresh.UID != pod.UID || fresh.Spec.NodeName != "" {
				return nil
			}
			cur = fresh
		}
		return err
	})
}

// setCondition sets c in status (keeping its transition time if its status
// does not change) and reports whether anything changed.
func setCondition(status *corev1.PodStatus, c corev1.PodCondition, now metav1.Time) bool {
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else {
			c.LastTransitionTime = now
		}
		c.LastProbeTime = old.LastProbeTime
		if equality.Semantic.DeepEqual(*old, c) {
			return false
		}
		*old = c
		return true
	}
	c.LastTransitionTime = now
	status.Conditions = append(status.Conditions, c)
	return true
}
