package agent

import (
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// The informer handlers keep the address book and the scheduler's view up
// to date and route pods to the scheduler's queue or the kubelet's.

func (a *agent) podAdded(obj any) {
	pod := podFrom(obj)
	if pod == nil {
		return
	}
	a.observe(pod)
	if a.wantsScheduling(pod) {
		a.schedQ.Add(podKey(pod))
	}
	if a.ourNode(pod.Spec.NodeName) != nil {
		a.podQ.Add(podKey(pod))
	}
}

func (a *agent) podUpdated(oldObj, obj any) {
	old, pod := podFrom(oldObj), podFrom(obj)
	if pod == nil || old == nil {
		return
	}
	a.observe(pod)
	// Only a change of the pod's spec or labels can change where it fits:
	// status writes (ours among them) must not loop through the scheduler.
	if a.wantsScheduling(pod) && (!equality.Semantic.DeepEqual(old.Spec, pod.Spec) || !maps.Equal(old.Labels, pod.Labels)) {
		a.schedQ.Add(podKey(pod))
	}
	if a.ourNode(pod.Spec.NodeName) != nil {
		a.podQ.Add(podKey(pod))
	}
	if !terminated(old) && terminated(pod) && pod.Spec.NodeName != "" {
		a.retryUnschedulable() // its ports and its place are free
	}
}

func (a *agent) podDeleted(obj any) {
	pod := podFrom(obj)
	if pod == nil {
		return
	}
	a.mu.Lock()
	delete(a.assumed, pod.UID)
	rt := a.runtimes[podKey(pod)]
	a.mu.Unlock()
	running := rt != nil && rt.uid == pod.UID
	if !running {
		// A running pod's address is released once its servers stop.
		a.ips.release(pod.UID)
	}
	if running || a.ourNode(pod.Spec.NodeName) != nil {
		a.podQ.Add(podKey(pod))
	}
	if pod.Spec.NodeName == "" {
		a.schedQ.Add(podKey(pod)) // forgets it
	} else {
		a.retryUnschedulable()
	}
}

// observe records the addresses a live pod holds (so that they are never
// handed out twice, also across restarts), releases those of a finished
// pod, and drops the scheduler's assumption once the binding shows.
func (a *agent) observe(pod *corev1.Pod) {
	if terminated(pod) {
		a.ips.release(pod.UID)
	} else {
		for _, ip := range podIPs(pod) {
			if owner, ok := a.ips.reserve(ip, pod.UID); !ok {
				a.log.Warn("two pods hold the same address", "namespace", pod.Namespace, "pod", pod.Name, "ip", ip, "otherPodUID", owner)
			}
		}
	}
	if pod.Spec.NodeName != "" {
		a.mu.Lock()
		delete(a.assumed, pod.UID)
		a.mu.Unlock()
	}
}

// podIPs returns the valid addresses in a pod's status.
func podIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if ip, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	add(pod.Status.PodIP)
	for _, p := range pod.Status.PodIPs {
		add(p.IP)
	}
	return out
}

// terminated reports whether a pod has finished (its place and address
// are free even if the object remains).
func terminated(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func (a *agent) nodeChanged(oldObj, obj any) {
	n := nodeFrom(obj)
	if n == nil || a.ourNode(n.Name) == nil {
		return
	}
	if oldObj != nil {
		old := nodeFrom(oldObj)
		if old != nil && maps.Equal(old.Labels, n.Labels) && equality.Semantic.DeepEqual(old.Spec, n.Spec) {
			return // a heartbeat
		}
	}
	a.retryUnschedulable()
}

func (a *agent) nodeDeleted(obj any) {
	n := nodeFrom(obj)
	if n == nil || a.ourNode(n.Name) == nil {
		return
	}
	a.log.Info("node deleted; registering it again", "node", n.Name)
	a.nodeQ.Add(n.Name)
	a.retryUnschedulable()
}

// retryUnschedulable queues again every pod that fit no node.
func (a *agent) retryUnschedulable() {
	a.mu.Lock()
	keys := slices.Collect(maps.Keys(a.unschedulable))
	a.mu.Unlock()
	for _, k := range keys {
		a.schedQ.Add(k)
	}
}

// objectChanged queues the pods on our nodes that read the Secret
// (secret true) or ConfigMap: their volumes are rewritten, and a container
// waiting for it starts.
func (a *agent) objectChanged(secret bool, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	pods, err := a.podLister.Pods(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if a.ourNode(p.Spec.NodeName) != nil && referencesObject(p, secret, m.GetName()) {
			a.podQ.Add(podKey(p))
		}
	}
}
