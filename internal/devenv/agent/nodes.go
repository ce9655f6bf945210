package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/instancetype"
)

// InstanceType is the EC2 instance type the nodes claim to be, with its
// capacity.
const InstanceType = "m5.large"

// The capacity of an m5.large, and the pod limit Amazon EKS sets on it for
// the AWS VPC CNI (one pod per secondary address its interfaces can have).
var (
	nodeCPU    = resource.MustParse("2")
	nodeMemory = resource.MustParse("8Gi")
	maxPods    = mustMaxPods(InstanceType)
	nodePods   = *resource.NewQuantity(int64(maxPods), resource.DecimalSI)
	// nodeEphemeral is the nodes' ephemeral storage.
	nodeEphemeral = resource.MustParse("20Gi")
)

func mustMaxPods(instanceType string) int {
	l, err := instancetype.Lookup(instanceType)
	if err != nil {
		panic(err) // InstanceType is a constant of this package
	}
	return l.MaxPods()
}

// nodeLabels returns the labels the agent owns on a node, as EKS sets them
// on a managed node group's nodes.
func (a *agent) nodeLabels(n *Node) map[string]string {
	return map[string]string{
		ManagedLabel:                        "true",
		corev1.LabelHostname:                n.Name,
		corev1.LabelOSStable:                "linux",
		corev1.LabelArchStable:              "amd64",
		"beta.kubernetes.io/os":             "linux",
		"beta.kubernetes.io/arch":           "amd64",
		corev1.LabelTopologyZone:            n.Zone,
		corev1.LabelTopologyRegion:          a.region,
		corev1.LabelFailureDomainBetaZone:   n.Zone,
		corev1.LabelFailureDomainBetaRegion: a.region,
		corev1.LabelInstanceTypeStable:      InstanceType,
		corev1.LabelInstanceType:            InstanceType,
		"topology.k8s.aws/zone-id":          facts.ZoneID(n.Zone),
		"eks.amazonaws.com/nodegroup":       "elbow-dev",
		"eks.amazonaws.com/capacityType":    "ON_DEMAND",
	}
}

func providerID(n *Node) string { return fmt.Sprintf("aws:///%s/%s", n.Zone, n.InstanceID) }

// registerNodes deletes the nodes an earlier run created that are no
// longer configured, then creates or updates every configured node. It
// retries while the API server is unreachable, until ctx ends.
func (a *agent) registerNodes(ctx context.Context) error {
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 5 * time.Second}
	return wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := a.pruneNodes(ctx); err != nil {
			a.log.Warn("cannot prune old nodes; retrying", "error", err)
			return false, nil
		}
		for _, n := range a.order {
			if err := a.ensureNode(ctx, n); err != nil {
				a.log.Warn("cannot register node; retrying", "node", n.Name, "error", err)
				return false, nil
			}
		}
		return true, nil
	})
}

// pruneNodes deletes the nodes labelled as the agent's that are not
// configured.
func (a *agent) pruneNodes(ctx context.Context) error {
	list, err := a.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: ManagedLabel + "=true"})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range list.Items {
		if a.nodes[n.Name] != nil {
			continue
		}
		err := a.client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &n.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete node %s: %w", n.Name, err)
		}
		a.log.Info("deleted a node no longer configured", "node", n.Name)
	}
	return nil
}

// syncNode is the node queue's work: register the node and refresh its
// heartbeat, then come back in a heartbeat's time.
func (a *agent) syncNode(ctx context.Context, name string) error {
	n := a.ourNode(name)
	if n == nil {
		return nil
	}
	if err := a.ensureNode(ctx, n); err != nil {
		return err
	}
	a.nodeQ.AddAfter(name, heartbeat)
	return nil
}

// ensureNode creates the node or brings the fields the agent owns up to
// date (labels it sets, provider ID, status); labels, taints and
// annotations others set are kept.
func (a *agent) ensureNode(ctx context.Context, n *Node) error {
	nodes := a.client.CoreV1().Nodes()
	cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		obj := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: a.nodeLabels(n)},
			Spec:       corev1.NodeSpec{ProviderID: providerID(n)},
		}
		cur, err = nodes.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
		a.log.Info("registered node", "node", n.Name, "zone", n.Zone, "instance", n.InstanceID, "ip", n.IP)
	case err != nil:
		return fmt.Errorf("get node %s: %w", n.Name, err)
	case cur.Spec.ProviderID != "" && cur.Spec.ProviderID != providerID(n):
		// The provider ID cannot change: a node of that name for another
		// instance is replaced. Its pods keep their binding by name.
		a.log.Info("replacing node with another provider ID", "node", n.Name, "was", cur.Spec.ProviderID, "now", providerID(n))
		if err := nodes.Delete(ctx, n.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replace node %s: %w", n.Name, err)
		}
		return a.ensureNode(ctx, n)
	}

	// Status first (Ready), then the spec: the not-ready taint goes once
	// the node says it is Ready.
	if err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		want := cur.DeepCopy()
		want.Status = a.nodeStatus(n, cur.Status, metav1.Now().Rfc3339Copy())
		updated, err := nodes.UpdateStatus(ctx, want, metav1.UpdateOptions{})
		if err == nil {
			cur = updated
			return nil
		}
		if apierrors.IsConflict(err) {
			if fresh, gerr := nodes.Get(ctx, n.Name, metav1.GetOptions{}); gerr == nil {
				cur = fresh
			}
		}
		return err
	}); err != nil {
		return fmt.Errorf("node %s status: %w", n.Name, err)
	}

	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		want := cur.DeepCopy()
		if want.Labels == nil {
			want.Labels = map[string]string{}
		}
		maps.Copy(want.Labels, a.nodeLabels(n))
		want.Spec.ProviderID = providerID(n)
		want.Spec.Taints = slices.DeleteFunc(want.Spec.Taints, conditionTaint)
		if equality.Semantic.DeepEqual(want.Labels, cur.Labels) && want.Spec.ProviderID == cur.Spec.ProviderID && len(want.Spec.Taints) == len(cur.Spec.Taints) {
			return nil
		}
		updated, err := nodes.Update(ctx, want, metav1.UpdateOptions{})
		if err == nil {
			cur = updated
			return nil
		}
		if apierrors.IsConflict(err) {
			if fresh, gerr := nodes.Get(ctx, n.Name, metav1.GetOptions{}); gerr == nil {
				cur = fresh
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update node %s: %w", n.Name, err)
	}
	return nil
}

// conditionTaint reports whether a taint stands for a node condition the
// agent reports healthy: the API server taints every new node not-ready
// (admission plugin TaintNodesByCondition), and the node lifecycle
// controller, which a dev cluster does not run, would lift it once the
// node is Ready.
func conditionTaint(t corev1.Taint) bool {
	switch t.Key {
	case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeMemoryPressure,
		corev1.TaintNodeDiskPressure, corev1.TaintNodePIDPressure, corev1.TaintNodeNetworkUnavailable:
		return true
	}
	return false
}

// nodeStatus is what a kubelet reports for a healthy node: the agent owns
// the whole status.
func (a *agent) nodeStatus(n *Node, cur corev1.NodeStatus, now metav1.Time) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              nodeCPU,
		corev1.ResourceMemory:           nodeMemory,
		corev1.ResourcePods:             nodePods,
		corev1.ResourceEphemeralStorage: nodeEphemeral,
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		for _, old := range cur.Conditions {
			if old.Type == t && old.Status == s {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		return c
	}
	id := hexID(n.InstanceID)
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       cur.Phase,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "elbow node agent is posting ready status"),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.IP.String()},
			{Type: corev1.NodeHostName, Address: n.Name},
			{Type: corev1.NodeInternalDNS, Address: n.Name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               id,
			SystemUUID:              "ec2" + id[3:],
			BootID:                  id,
			KernelVersion:           "elbow",
			OSImage:                 "elbow dev (echo servers on loopback)",
			ContainerRuntimeVersion: "elbow://echo",
			KubeletVersion:          a.kubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
		Images:           cur.Images,
		VolumesInUse:     cur.VolumesInUse,
		VolumesAttached:  cur.VolumesAttached,
		Config:           cur.Config,
		RuntimeHandlers:  cur.RuntimeHandlers,
		Features:         cur.Features,
		DeclaredFeatures: cur.DeclaredFeatures,
	}
}

// hexID returns a stable 32-digit hex ID for a string.
func hexID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

var kubeVersion = regexp.MustCompile(`^v1\.\d+\.\d+`)

// discoverVersion returns the Kubernetes version the nodes report: the API
// server's when it has a release version, else that of the client-go the
// agent is built with (v0.X.Y is Kubernetes v1.X.Y).
func (a *agent) discoverVersion() string {
	if v, err := a.client.Discovery().ServerVersion(); err == nil && kubeVersion.MatchString(v.GitVersion) {
		return v.GitVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "k8s.io/client-go" && strings.HasPrefix(m.Version, "v0.") {
				return "v1." + strings.TrimPrefix(m.Version, "v0.")
			}
		}
	}
	return "v1.0.0-elbow"
}
