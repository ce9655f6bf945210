package agent

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func cond(st corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func equalStatus(a, b corev1.PodStatus) bool { return equality.Semantic.DeepEqual(a, b) }

func TestKubeletStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	gate := corev1.PodConditionType("target-health.elbv2.k8s.aws/k8s-demo-web-0123456789")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", UID: "uid-1"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "setup", Image: "busybox"},
				{Name: "proxy", Image: "envoy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)},
			},
			Containers:     []corev1.Container{{Name: "web", Image: "nginx"}, {Name: "metrics", Image: "exporter"}},
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gate}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodPending,
			QOSClass:   corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t0}},
		},
	}
	running := containerView{startedAt: t0}
	v := runtimeView{
		uid: "uid-1", hostIP: netip.MustParseAddr("10.0.128.10"), podIP: netip.MustParseAddr("10.0.128.7"), startTime: t0,
		containers: map[string]containerView{"proxy": running, "web": running, "metrics": {err: "listen tcp 127.10.128.7:80: bind: address already in use"}},
	}

	st := kubeletStatus(pod, v, t0)
	if st.Phase != corev1.PodPending || st.PodIP != "10.0.128.7" || st.HostIP != "10.0.128.10" || len(st.PodIPs) != 1 || st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("phase %s podIP %s hostIP %s podIPs %v qos %s", st.Phase, st.PodIP, st.HostIP, st.PodIPs, st.QOSClass)
	}
	if st.StartTime == nil || !st.StartTime.Equal(&t0) {
		t.Errorf("startTime %v, want %v", st.StartTime, t0)
	}
	if len(st.ContainerStatuses) != 2 || st.ContainerStatuses[0].Name != "metrics" || st.ContainerStatuses[1].Name != "web" {
		t.Fatalf("container statuses %+v, want metrics then web", st.ContainerStatuses)
	}
	m, w := st.ContainerStatuses[0], st.ContainerStatuses[1]
	if m.Ready || m.State.Waiting == nil || m.State.Waiting.Reason != "CreateContainerError" || m.State.Waiting.Message != v.containers["metrics"].err {
		t.Errorf("metrics status %+v, want waiting CreateContainerError with the bind error", m)
	}
	if !w.Ready || w.State.Running == nil || !w.State.Running.StartedAt.Equal(&t0) || !*w.Started || w.Image != "nginx" || w.ContainerID != containerID("uid-1", "web") || w.ImageID == "" {
		t.Errorf("web status %+v, want running and ready", w)
	}
	if len(st.InitContainerStatuses) != 2 || st.InitContainerStatuses[0].State.Terminated == nil || st.InitContainerStatuses[0].State.Terminated.Reason != "Completed" || st.InitContainerStatuses[1].State.Running == nil {
		t.Errorf("init container statuses %+v, want setup completed, proxy running", st.InitContainerStatuses)
	}
	if c := cond(st, corev1.ContainersReady); c == nil || c.Status != corev1.ConditionFalse || c.Message != "containers with unready status: [metrics]" {
		t.Errorf("ContainersReady %+v", c)
	}
	if c := cond(st, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" {
		t.Errorf("Ready %+v", c)
	}
	for _, ty := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodScheduled} {
		if c := cond(st, ty); c == nil || c.Status != corev1.ConditionTrue {
			t.Errorf("%s %+v, want True", ty, c)
		}
	}

	// Every container runs: Ready waits for the gate.
	v.containers["metrics"] = running
	pod.Status = st
	st = kubeletStatus(pod, v, t1)
	if st.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running", st.Phase)
	}
	if c := cond(st, corev1.ContainersReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Equal(&t1) {
		t.Errorf("ContainersReady %+v, want True since t1", c)
	}
	want := `corresponding condition of pod readiness gate "` + string(gate) + `" does not exist.`
	if c := cond(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" || c.Message != want {
		t.Errorf("Ready %+v, want False: %s", c, want)
	}
	if c := cond(st, corev1.PodScheduled); !c.LastTransitionTime.Equal(&t0) {
		t.Errorf("PodScheduled moved to %v though it did not change", c.LastTransitionTime)
	}

	// The controller sets the gate False, then True: its condition is kept
	// as it is, and Ready follows it.
	pod.Status = st
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionFalse, Reason: "Elb.InitialHealthChecking", LastTransitionTime: t1})
	st = kubeletStatus(pod, v, t1)
	want = `the status of pod readiness gate "` + string(gate) + `" is not "True", but False`
	if c := cond(st, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Message != want {
		t.Errorf("Ready %+v, want False: %s", c, want)
	}
	if c := cond(st, gate); c == nil || c.Reason != "Elb.InitialHealthChecking" {
		t.Errorf("gate condition %+v not kept", c)
	}
	pod.Status = st
	cond(pod.Status, gate).Status = corev1.ConditionTrue
	st = kubeletStatus(pod, v, t1)
	if c := cond(st, corev1.PodReady); c.Status != corev1.ConditionTrue || c.Reason != "" || c.Message != "" {
		t.Errorf("Ready %+v, want True", c)
	}
	if c := cond(st, gate); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("gate condition %+v not kept", c)
	}

	// Nothing changes: the same status, times included.
	pod.Status = st
	again := kubeletStatus(pod, v, metav1.NewTime(t1.Add(time.Hour)))
	if !equalStatus(again, st) {
		t.Errorf("status changed without a cause:\n%+v\n%+v", again, st)
	}
}

func TestKubeletStatusNoSandbox(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", UID: "uid-1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	st := kubeletStatus(pod, runtimeView{uid: "uid-1", hostIP: netip.MustParseAddr("10.0.128.10"), startTime: t0, sandboxErr: "no free address"}, t0)
	if st.Phase != corev1.PodPending || st.PodIP != "" || st.ContainerStatuses[0].State.Waiting == nil || st.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" ||
		st.ContainerStatuses[0].State.Waiting.Message != "Failed to create pod sandbox: no free address" {
		t.Errorf("status %+v, want Pending, no IP, ContainerCreating", st)
	}
	if c := cond(st, corev1.PodReadyToStartContainers); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers %+v, want False", c)
	}
}
