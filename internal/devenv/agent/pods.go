package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/elbowlb/elbow/internal/devenv/container"
	"github.com/elbowlb/elbow/internal/devenv/echo"
)

// podRuntime is what runs for one pod on one of our nodes: its address and
// its servers. Only the pod queue's worker for the pod's key touches it
// (the queue never hands one key to two workers), and stopAll once the
// workers are gone.
type podRuntime struct {
	uid  types.UID
	node *Node
	log  *slog.Logger

	ip      netip.Addr // VPC address; invalid until one is assigned
	ipErr   string     // why none could be assigned
	started metav1.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	srv    *echo.Server

	bound      map[bindKey]bool
	skipped    map[bindKey]bool // SCTP ports, logged once
	containers map[string]*containerState

	mounted   bool                   // every volume was set up once
	mountErr  string                 // why a volume cannot be set up
	unmounted map[string]bool        // volumes of kinds not mounted, logged once
	tokens    map[string]issuedToken // service account tokens by audience/expiry
}

// bindKey is one socket of a pod: a container's port, or a host port
// forwarded to it.
type bindKey struct {
	container string
	proto     corev1.Protocol
	port      int32
	forward   bool // port is a host port forwarded to the container port
}

// containerState is how one container of the pod fares.
type containerState struct {
	startedAt metav1.Time // zero until every port listens
	previous  metav1.Time // startedAt an earlier run reported
	err       string      // why it does not run (a port does not listen, ...)
	reason    string      // the waiting reason for err (CreateContainerError when empty)
	reported  string      // the last error sent as an Event
	started   bool        // its environment is resolved and its program runs
}

func (a *agent) runtime(key string) *podRuntime {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runtimes[key]
}

// syncPod is the pod queue's work: run a pod bound to one of our nodes the
// way a kubelet runs it, and report its status.
func (a *agent) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := a.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		a.stopRuntime(key, "pod deleted")
		return nil
	}
	if err != nil {
		return err
	}
	rt := a.runtime(key)
	if rt != nil && rt.uid != pod.UID {
		a.stopRuntime(key, "pod replaced")
		rt = nil
	}
	node := a.ourNode(pod.Spec.NodeName)
	if node == nil || terminated(pod) {
		if rt != nil {
			a.stopRuntime(key, "pod finished")
		}
		return nil
	}
	if pod.DeletionTimestamp != nil {
		left := time.Until(pod.DeletionTimestamp.Time)
		if left <= 0 {
			return a.finishDeletion(ctx, key, pod)
		}
		// Serve until the grace period is over, as a process that
		// drains would.
		a.podQ.AddAfter(key, left)
	}
	if rt == nil {
		rt = a.startRuntime(key, pod, node)
	}
	complete := a.ensure(ctx, rt, pod)
	if err := a.writeStatus(ctx, pod, rt); err != nil {
		return err
	}
	if !complete {
		return errRetry
	}
	return nil
}

// finishDeletion stops the pod's servers and deletes it for good, as the
// kubelet does once its containers are gone.
func (a *agent) finishDeletion(ctx context.Context, key string, pod *corev1.Pod) error {
	a.stopRuntime(key, "grace period over")
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	a.log.Info("pod terminated", "namespace", pod.Namespace, "pod", pod.Name)
	return nil
}

// startRuntime records a runtime for the pod; ensure then gives it an
// address and servers.
func (a *agent) startRuntime(key string, pod *corev1.Pod, node *Node) *podRuntime {
	ctx, cancel := context.WithCancel(a.ctx)
	rt := &podRuntime{
		uid:        pod.UID,
		node:       node,
		log:        a.log.With("namespace", pod.Namespace, "pod", pod.Name, "node", node.Name),
		started:    metav1.Now().Rfc3339Copy(),
		ctx:        ctx,
		cancel:     cancel,
		bound:      map[bindKey]bool{},
		skipped:    map[bindKey]bool{},
		containers: map[string]*containerState{},
		unmounted:  map[string]bool{},
		tokens:     map[string]issuedToken{},
	}
	if pod.Status.StartTime != nil {
		rt.started = *pod.Status.StartTime
	}
	for _, c := range servedContainers(pod) {
		cs := &containerState{}
		for _, st := range append(append([]corev1.ContainerStatus(nil), pod.Status.ContainerStatuses...), pod.Status.InitContainerStatuses...) {
			if st.Name == c.Name && st.State.Running != nil && st.ContainerID == containerID(pod.UID, c.Name) {
				cs.previous = st.State.Running.StartedAt
			}
		}
		rt.containers[c.Name] = cs
	}
	a.mu.Lock()
	a.runtimes[key] = rt
	a.mu.Unlock()
	return rt
}

// stopRuntime stops a pod's servers and frees its address.
func (a *agent) stopRuntime(key, why string) {
	a.mu.Lock()
	rt := a.runtimes[key]
	delete(a.runtimes, key)
	a.mu.Unlock()
	if rt == nil {
		return
	}
	rt.cancel()
	rt.wg.Wait()
	a.ips.release(rt.uid)
	a.unassign(rt)
	// The pod is gone or finished: its volumes go, as the kubelet's do.
	if err := os.RemoveAll(filepath.Join(a.dataDir, "pods", string(rt.uid))); err != nil {
		rt.log.Warn("pod volumes not removed", "error", err)
	}
	rt.log.Info("pod stopped", "reason", why, "ip", rt.ip)
}

// stopAll stops every pod's servers (Run is ending). Addresses stay in the
// pods' status for the next run.
func (a *agent) stopAll() {
	a.mu.Lock()
	rts := a.runtimes
	a.runtimes = map[string]*podRuntime{}
	a.mu.Unlock()
	for _, rt := range rts {
		rt.cancel()
	}
	for _, rt := range rts {
		rt.wg.Wait()
	}
}

// servedContainers returns the containers that run for the life of the
// pod: native sidecars (restartable init containers) and the regular ones.
// Other init containers complete at once.
func servedContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; isSidecar(c) {
			out = append(out, c)
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// ensure mounts the pod's volumes, gives the pod an address and starts
// every container not yet running: its environment resolved, then its
// program (a known image's, else the echo server on its ports). It reports
// whether everything is in place.
func (a *agent) ensure(ctx context.Context, rt *podRuntime, pod *corev1.Pod) bool {
	// As the kubelet, no sandbox before the volumes are set up; a running
	// pod whose Secret goes keeps the files it has.
	if err := a.mountVolumes(ctx, rt, pod); err != nil {
		if rt.mountErr != err.Error() {
			rt.log.Warn("volume not set up", "error", err)
			a.kubeletRecords[rt.node.Name].Event(pod, corev1.EventTypeWarning, "FailedMount", err.Error())
		}
		rt.mountErr = err.Error()
		if !rt.mounted {
			return false
		}
	} else {
		rt.mounted, rt.mountErr = true, ""
	}
	if !rt.ip.IsValid() {
		ip, err := a.podAddress(rt, pod)
		if err != nil {
			if rt.ipErr != err.Error() {
				rt.log.Warn("no address for the pod", "error", err)
				a.kubeletRecords[rt.node.Name].Event(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+err.Error())
			}
			rt.ipErr = err.Error()
			return false
		}
		rt.ip, rt.ipErr = ip, ""
		srv, err := echo.New(echo.Identity{Namespace: pod.Namespace, Pod: pod.Name, Node: rt.node.Name, PodIP: ip}, a.addrs, rt.log)
		if err != nil {
			rt.ipErr = err.Error()
			rt.ip = netip.Addr{}
			return false
		}
		rt.srv = srv
		rt.log.Info("pod started", "ip", ip, "hostAddress", a.addrs.ToHost(ip))
	}
	complete := true
	now := metav1.Now().Rfc3339Copy()
	for _, c := range servedContainers(pod) {
		cs := rt.containers[c.Name]
		if cs == nil {
			cs = &containerState{}
			rt.containers[c.Name] = cs
		}
		cs.reason, cs.err = a.ensureContainer(rt, pod, c, cs)
		if cs.err != "" {
			complete = false
			if cs.reported != cs.err {
				rt.log.Warn("container does not run", "container", c.Name, "reason", cs.reason, "error", cs.err)
				a.kubeletRecords[rt.node.Name].Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", cs.err)
				cs.reported = cs.err
			}
			continue
		}
		cs.reported = ""
		if cs.startedAt.IsZero() {
			cs.startedAt = now
			if !cs.previous.IsZero() {
				cs.startedAt = cs.previous
			}
		}
	}
	return complete
}

// ensureContainer starts the container unless it runs, and serves its
// ports: a known image's program binds the ports that image binds
// (whatever containerPorts say), the echo server binds each containerPort;
// host ports are forwarded either way. It returns the waiting reason and
// message when the container cannot run (yet).
func (a *agent) ensureContainer(rt *podRuntime, pod *corev1.Pod, c *corev1.Container, cs *containerState) (reason, msg string) {
	start := programFor(c)
	if !cs.started {
		env, err := containerEnv(pod, c, rt.ip.String(), rt.node.IP.String(), a)
		if err != nil {
			return "CreateContainerConfigError", err.Error()
		}
		if start != nil {
			files, err := a.containerFS(pod, c)
			if err != nil {
				return "CreateContainerConfigError", err.Error()
			}
			args := make([]string, len(c.Args))
			for i, arg := range c.Args {
				args[i] = expand(arg, env)
			}
			proc, err := start(rt.ctx, container.Container{
				Env: env, Args: args, Files: files, Addr: a.addrs.ToHost(rt.ip), Log: rt.log.With("container", c.Name),
			})
			if err != nil {
				// The image's process would exit: the kubelet would restart
				// it with back-off.
				return "CrashLoopBackOff", err.Error()
			}
			rt.wg.Go(proc.Wait)
		}
		cs.started = true
	}
	var errs []string
	for _, p := range c.Ports {
		if err := a.ensurePort(rt, pod, c.Name, p, start == nil); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return "CreateContainerError", strings.Join(errs, "; ")
	}
	return "", ""
}

// podAddress returns the pod's address: the node's for a host-network
// pod, the one its status already shows (a restart serves pods where they
// were), else a free one of the node's subnet.
func (a *agent) podAddress(rt *podRuntime, pod *corev1.Pod) (netip.Addr, error) {
	if pod.Spec.HostNetwork {
		return rt.node.IP, nil
	}
	if ips := podIPs(pod); len(ips) > 0 {
		if owner, ok := a.ips.reserve(ips[0], pod.UID); !ok {
			rt.log.Warn("the pod's address is held by another pod as well; keeping it", "ip", ips[0], "otherPodUID", owner)
		}
		if err := a.assign(rt, ips[0]); err != nil {
			return netip.Addr{}, err
		}
		return ips[0], nil
	}
	ip, err := a.ips.allocate(rt.node.Subnet, pod.UID)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := a.assign(rt, ip); err != nil {
		a.ips.release(pod.UID)
		return netip.Addr{}, err
	}
	return ip, nil
}

// ensurePort listens on one container port with the echo server (when
// listen is set) and forwards its host port, unless it already does.
func (a *agent) ensurePort(rt *podRuntime, pod *corev1.Pod, container string, p corev1.ContainerPort, listen bool) error {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	key := bindKey{container: container, proto: proto, port: p.ContainerPort}
	if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP {
		if !rt.skipped[key] {
			rt.log.Info("port not served: only TCP and UDP are", "container", container, "port", p.ContainerPort, "protocol", proto)
			rt.skipped[key] = true
		}
		return nil
	}
	target := a.addrs.ToHostPort(netip.AddrPortFrom(rt.ip, uint16(p.ContainerPort)))
	if listen && !rt.bound[key] {
		if err := rt.serve(proto, target); err != nil {
			return err
		}
		rt.bound[key] = true
		rt.log.Debug("listening", "container", container, "protocol", proto, "address", target)
	}
	if pod.Spec.HostNetwork || p.HostPort <= 0 {
		return nil
	}
	fkey := bindKey{container: container, proto: proto, port: p.HostPort, forward: true}
	if rt.bound[fkey] {
		return nil
	}
	hostIP := rt.node.IP
	if p.HostIP != "" && p.HostIP != "0.0.0.0" {
		ip, err := netip.ParseAddr(p.HostIP)
		if err != nil {
			return fmt.Errorf("host port %d: hostIP %q is not an IP address", p.HostPort, p.HostIP)
		}
		hostIP = ip
	}
	from := a.addrs.ToHostPort(netip.AddrPortFrom(hostIP, uint16(p.HostPort)))
	source := a.addrs.ToHost(rt.node.IP)
	if err := rt.forward(proto, from, target, source); err != nil {
		return fmt.Errorf("host port %d: %w", p.HostPort, err)
	}
	rt.bound[fkey] = true
	rt.log.Debug("forwarding host port", "container", container, "protocol", proto, "from", from, "to", target)
	return nil
}

// serve listens on addr and serves the pod's echo server there until the
// pod stops.
func (rt *podRuntime) serve(proto corev1.Protocol, addr netip.AddrPort) error {
	var lc net.ListenConfig
	switch proto {
	case corev1.ProtocolUDP:
		pc, err := lc.ListenPacket(rt.ctx, "udp", addr.String())
		if err != nil {
			return err
		}
		rt.wg.Go(func() {
			if err := rt.srv.ServePacket(rt.ctx, pc); err != nil {
				rt.log.Warn("udp server stopped", "address", addr, "error", err)
			}
		})
	default:
		ln, err := lc.Listen(rt.ctx, "tcp", addr.String())
		if err != nil {
			return err
		}
		rt.wg.Go(func() {
			if err := rt.srv.ServeTCP(rt.ctx, ln); err != nil {
				rt.log.Warn("tcp server stopped", "address", addr, "error", err)
			}
		})
	}
	return nil
}

// view returns what the status needs of the runtime.
func (rt *podRuntime) view() runtimeView {
	v := runtimeView{
		uid:        rt.uid,
		hostIP:     rt.node.IP,
		podIP:      rt.ip,
		sandboxErr: rt.ipErr,
		startTime:  rt.started,
		containers: map[string]containerView{},
	}
	for name, cs := range rt.containers {
		v.containers[name] = containerView{startedAt: cs.startedAt, err: cs.err, reason: cs.reason}
	}
	return v
}

// writeStatus writes the status a kubelet would report, changing only the
// fields and conditions a kubelet owns. On a conflict it reads the pod
// again and recomputes from what it read.
func (a *agent) writeStatus(ctx context.Context, pod *corev1.Pod, rt *podRuntime) error {
	pods := a.client.CoreV1().Pods(pod.Namespace)
	v := rt.view()
	cur := pod
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		want := kubeletStatus(cur, v, metav1.Now().Rfc3339Copy())
		if equality.Semantic.DeepEqual(cur.Status, want) {
			return nil
		}
		upd := cur.DeepCopy()
		upd.Status = want
		_, err := pods.UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err == nil {
			rt.log.Debug("status written", "phase", want.Phase, "ip", want.PodIP)
		}
		if apierrors.IsConflict(err) {
			fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			if fresh.UID != pod.UID {
				return nil
			}
			cur = fresh
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pod %s/%s status: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
