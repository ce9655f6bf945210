package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// imageID is what the nodes report as every container's image ID: whatever
// the image, an echo server runs.
const imageID = "elbow://echo"

// runtimeView is what a pod's status is computed from.
type runtimeView struct {
	uid        types.UID
	hostIP     netip.Addr
	podIP      netip.Addr // invalid: no address (no sandbox) yet
	sandboxErr string
	startTime  metav1.Time
	containers map[string]containerView // served containers by name
}

type containerView struct {
	startedAt metav1.Time // zero: not running
	err       string      // why it is not running
	reason    string      // the waiting reason for err; CreateContainerError when empty
}

func (c containerView) running() bool { return !c.startedAt.IsZero() && c.err == "" }

// containerID returns the stable ID the nodes report for a container.
func containerID(uid types.UID, name string) string {
	sum := sha256.Sum256([]byte(string(uid) + "/" + name))
	return "elbow://" + hex.EncodeToString(sum[:])
}

// kubeletStatus returns the pod's status as a kubelet would report it for
// v: the status fields a kubelet owns and its conditions (PodScheduled,
// PodReadyToStartContainers, Initialized, ContainersReady, Ready);
// everything else, readiness-gate conditions among it, is kept from pod.
func kubeletStatus(pod *corev1.Pod, v runtimeView, now metav1.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	sandbox := v.podIP.IsValid()

	st.HostIP = v.hostIP.String()
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	if sandbox {
		st.PodIP = v.podIP.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if st.StartTime == nil {
		t := v.startTime
		st.StartTime = &t
	}

	statusOf := func(c *corev1.Container, old []corev1.ContainerStatus) corev1.ContainerStatus {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptr.To(false)}
		for _, o := range old {
			if o.Name == c.Name {
				cs.RestartCount = o.RestartCount
			}
		}
		cv := v.containers[c.Name]
		switch {
		case !sandbox:
			reason := "ContainerCreating"
			if len(pod.Spec.InitContainers) > 0 {
				reason = "PodInitializing"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
			if v.sandboxErr != "" {
				cs.State.Waiting.Message = "Failed to create pod sandbox: " + v.sandboxErr
			}
		case cv.running():
			cs.ImageID = imageID
			cs.ContainerID = containerID(v.uid, c.Name)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: cv.startedAt}
			cs.Ready = true
			cs.Started = ptr.To(true)
		case cv.err != "":
			cs.ImageID = imageID
			reason := cv.reason
			if reason == "" {
				reason = "CreateContainerError"
			}
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: cv.err}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		return cs
	}

	var inits []corev1.ContainerStatus
	var unready, uninitialized []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if isSidecar(c) {
			cs := statusOf(c, pod.Status.InitContainerStatuses)
			if !cs.Ready {
				unready = append(unready, c.Name)
			}
			inits = append(inits, cs)
			continue
		}
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptr.To(false)}
		if sandbox {
			// Init containers complete at once.
			cs.ImageID = imageID
			cs.ContainerID = containerID(v.uid, c.Name)
			cs.Ready = true
			cs.State.Terminated = &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: v.startTime, FinishedAt: v.startTime,
				ContainerID: cs.ContainerID,
			}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
			uninitialized = append(uninitialized, c.Name)
		}
		inits = append(inits, cs)
	}
	var regular []corev1.ContainerStatus
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := statusOf(c, pod.Status.ContainerStatuses)
		if !cs.Ready {
			unready = append(unready, c.Name)
		}
		regular = append(regular, cs)
	}
	sort.Slice(regular, func(i, j int) bool { return regular[i].Name < regular[j].Name })
	st.InitContainerStatuses = inits
	st.ContainerStatuses = regular

	if len(unready) == 0 {
		st.Phase = corev1.PodRunning
	} else {
		st.Phase = corev1.PodPending
	}

	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
		if !ok {
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, reason, msg
		}
		setCondition(&st, c, now)
	}
	cond(corev1.PodReadyToStartContainers, sandbox, "", "")
	cond(corev1.PodInitialized, len(uninitialized) == 0, "ContainersNotInitialized",
		fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(uninitialized, " ")))
	containersMsg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	if len(unready) > 0 {
		cond(corev1.PodReady, false, "ContainersNotReady", containersMsg)
	} else {
		gates := readinessGates(pod)
		cond(corev1.PodReady, gates == "", "ReadinessGatesNotReady", gates)
	}
	cond(corev1.ContainersReady, len(unready) == 0, "ContainersNotReady", containersMsg)
	cond(corev1.PodScheduled, true, "", "")
	return st
}

// readinessGates returns, in the kubelet's words, why the pod's readiness
// gates hold it back, or "" if every gate's condition is True.
func readinessGates(pod *corev1.Pod) string {
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == g.ConditionType {
				found = &pod.Status.Conditions[i]
			}
		}
		switch {
		case found == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
		case found.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, found.Status))
		}
	}
	return strings.Join(msgs, ", ")
}
