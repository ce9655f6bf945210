package targets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// Target is one registration of a target group: an IP address or an
// instance ID, and a port.
type Target struct {
	ID   string
	Port int32
}

// String renders the target as "id:port".
func (t Target) String() string { return fmt.Sprintf("%s:%d", t.ID, t.Port) }

// Endpoint is a target the binding wants registered, with the Pod or Node
// behind it.
type Endpoint struct {
	Target
	// Pod is the pod behind an ip target; nil for instance targets.
	Pod *corev1.Pod
	// Node is the node behind an instance target; nil for ip targets.
	Node *corev1.Node
}

// ErrBackendNotFound wraps errors about a missing Service or service port.
var ErrBackendNotFound = errors.New("backend not found")

// Node labels and taints that keep a node out of instance target groups,
// as in the AWS Load Balancer Controller.
const (
	labelNodeRoleMaster           = "node-role.kubernetes.io/master"
	labelExcludeBalancer          = "node.kubernetes.io/exclude-from-external-load-balancers"
	labelAlphaExcludeBalancer     = "alpha.service-controller.kubernetes.io/exclude-balancer"
	labelEKSComputeType           = "eks.amazonaws.com/compute-type"
	taintToBeDeletedByCA          = "ToBeDeletedByClusterAutoscaler"
	taintToBeDeletedByKarpenter   = "karpenter.sh/disrupted"
	endpointSliceServiceNameLabel = discoveryv1.LabelServiceName
)

// resolver computes the targets a binding wants from the cluster's state.
type resolver struct {
	client client.Reader
}

// serviceAndPort loads the binding's Service and finds the referenced port.
func (r *resolver) serviceAndPort(ctx context.Context, tgb *elbv2api.TargetGroupBinding) (*corev1.Service, corev1.ServicePort, error) {
	svc := &corev1.Service{}
	key := types.NamespacedName{Namespace: tgb.Namespace, Name: tgb.Spec.ServiceRef.Name}
	if err := r.client.Get(ctx, key, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, corev1.ServicePort{}, fmt.Errorf("%w: service %s does not exist", ErrBackendNotFound, key)
		}
		return nil, corev1.ServicePort{}, fmt.Errorf("service %s: %w", key, err)
	}
	port, err := servicePort(svc, tgb.Spec.ServiceRef.Port)
	if err != nil {
		return nil, corev1.ServicePort{}, err
	}
	return svc, port, nil
}

// servicePort finds a Service's port by number or name.
func servicePort(svc *corev1.Service, ref intstr.IntOrString) (corev1.ServicePort, error) {
	for _, p := range svc.Spec.Ports {
		if ref.Type == intstr.Int && p.Port == ref.IntVal {
			return p, nil
		}
		if ref.Type == intstr.String && p.Name == ref.StrVal {
			return p, nil
		}
	}
	var have []string
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			have = append(have, fmt.Sprintf("%d (%s)", p.Port, p.Name))
		} else {
			have = append(have, fmt.Sprint(p.Port))
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("%w: service %s/%s has no port %s (ports: %s)",
		ErrBackendNotFound, svc.Namespace, svc.Name, ref.String(), strings.Join(have, ", "))
}

// podEndpoints resolves ip targets from the Service's EndpointSlices.
//
// An endpoint is taken when it is ready (or its readiness is unknown); or
// when it is not ready only because of readiness gates: its pod's
// containers are all ready, its node is Ready and it is not terminating.
// Terminating endpoints, and endpoints whose pod is being deleted, are never
// taken: a pod leaves its target groups the moment its deletion starts.
//
// It also returns every pod whose readiness gate the binding may have to
// set: the pods of the taken endpoints.
func (r *resolver) podEndpoints(ctx context.Context, svc *corev1.Service, port corev1.ServicePort, family discoveryv1.AddressType) ([]Endpoint, error) {
	var slices discoveryv1.EndpointSliceList
	if err := r.client.List(ctx, &slices, client.InNamespace(svc.Namespace),
		client.MatchingLabels{endpointSliceServiceNameLabel: svc.Name}); err != nil {
		return nil, fmt.Errorf("endpoint slices of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	seen := map[Target]bool{}
	var out []Endpoint
	pods := map[types.NamespacedName]*corev1.Pod{}
	nodes := map[string]*corev1.Node{}
	for i := range slices.Items {
		slice := &slices.Items[i]
		if slice.AddressType != family {
			continue
		}
		for _, sp := range slice.Ports {
			if sp.Port == nil {
				continue
			}
			name := ""
			if sp.Name != nil {
				name = *sp.Name
			}
			if port.Name != "" && name != port.Name {
				continue
			}
			for _, ep := range slice.Endpoints {
				if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || len(ep.Addresses) == 0 {
					continue
				}
				if ep.Conditions.Terminating != nil && *ep.Conditions.Terminating {
					continue
				}
				ns := ep.TargetRef.Namespace
				if ns == "" {
					ns = svc.Namespace
				}
				key := types.NamespacedName{Namespace: ns, Name: ep.TargetRef.Name}
				pod, ok := pods[key]
				if !ok {
					pod = &corev1.Pod{}
					if err := r.client.Get(ctx, key, pod); err != nil {
						if !apierrors.IsNotFound(err) {
							return nil, fmt.Errorf("pod %s: %w", key, err)
						}
						pod = nil
					}
					pods[key] = pod
				}
				if pod == nil || pod.DeletionTimestamp != nil {
					continue
				}
				ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
				if !ready {
					if !podConditionTrue(pod, corev1.ContainersReady) {
						continue
					}
					node, ok := nodes[pod.Spec.NodeName]
					if !ok && pod.Spec.NodeName != "" {
						node = &corev1.Node{}
						if err := r.client.Get(ctx, types.NamespacedName{Name: pod.Spec.NodeName}, node); err != nil {
							if !apierrors.IsNotFound(err) {
								return nil, fmt.Errorf("node %s: %w", pod.Spec.NodeName, err)
							}
							node = nil
						}
						nodes[pod.Spec.NodeName] = node
					}
					if node == nil || nodeReady(node) != corev1.ConditionTrue {
						continue
					}
				}
				t := Target{ID: ep.Addresses[0], Port: *sp.Port}
				if seen[t] {
					continue
				}
				seen[t] = true
				out = append(out, Endpoint{Target: t, Pod: pod})
			}
		}
	}
	sortEndpoints(out)
	return out, nil
}

// nodePortEndpoints resolves instance targets: every eligible node on the
// Service port's NodePort.
func (r *resolver) nodePortEndpoints(ctx context.Context, tgb *elbv2api.TargetGroupBinding, svc *corev1.Service, port corev1.ServicePort) ([]Endpoint, error) {
	if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil, fmt.Errorf("%w: service %s/%s is of type %s; instance targets need type NodePort or LoadBalancer",
			ErrBackendNotFound, svc.Namespace, svc.Name, svc.Spec.Type)
	}
	if port.NodePort == 0 {
		return nil, fmt.Errorf("%w: port %d of service %s/%s has no NodePort", ErrBackendNotFound, port.Port, svc.Namespace, svc.Name)
	}
	sel, err := NodeSelector(tgb)
	if err != nil {
		return nil, err
	}
	var nodes corev1.NodeList
	if err := r.client.List(ctx, &nodes, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	var out []Endpoint
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if !NodeEligible(n) || nodeReady(n) != corev1.ConditionTrue {
			continue
		}
		id, err := InstanceID(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Endpoint{Target: Target{ID: id, Port: port.NodePort}, Node: n})
	}
	sortEndpoints(out)
	return out, nil
}

// NodeSelector returns the selector of the nodes an instance binding may
// use: none labelled as a control-plane or excluded from load balancers,
// none on Fargate, and only those the binding's nodeSelector matches.
func NodeSelector(tgb *elbv2api.TargetGroupBinding) (labels.Selector, error) {
	base := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: labelNodeRoleMaster, Operator: metav1.LabelSelectorOpDoesNotExist},
		{Key: labelExcludeBalancer, Operator: metav1.LabelSelectorOpDoesNotExist},
		{Key: labelAlphaExcludeBalancer, Operator: metav1.LabelSelectorOpDoesNotExist},
		{Key: labelEKSComputeType, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"fargate"}},
	}}
	sel, err := metav1.LabelSelectorAsSelector(base)
	if err != nil {
		return nil, err
	}
	if tgb.Spec.NodeSelector != nil {
		custom, err := metav1.LabelSelectorAsSelector(tgb.Spec.NodeSelector)
		if err != nil {
			return nil, fmt.Errorf("spec.nodeSelector: %w", err)
		}
		reqs, _ := custom.Requirements()
		sel = sel.Add(reqs...)
	}
	return sel, nil
}

// NodeEligible reports whether a node's taints let it carry traffic: a node
// about to be removed by the cluster autoscaler or Karpenter does not.
func NodeEligible(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == taintToBeDeletedByCA {
			return false
		}
		if t.Key == taintToBeDeletedByKarpenter && t.Effect == corev1.TaintEffectNoSchedule {
			return false
		}
	}
	return true
}

// InstanceID reads the EC2 instance ID from a node's spec.providerID
// ("aws:///us-east-1a/i-0123456789abcdef0"; hybrid nodes
// "eks-hybrid:///us-west-2/cluster/mi-0123456789abcdef0").
func InstanceID(n *corev1.Node) (string, error) {
	p := n.Spec.ProviderID
	if p == "" {
		return "", fmt.Errorf("node %s: spec.providerID is empty; instance targets need aws:///<zone>/<instance-id>", n.Name)
	}
	i := strings.LastIndexByte(p, '/')
	id := p[i+1:]
	if (strings.HasPrefix(p, "aws://") && strings.HasPrefix(id, "i-")) ||
		(strings.HasPrefix(p, "eks-hybrid://") && strings.HasPrefix(id, "mi-")) {
		return id, nil
	}
	return "", fmt.Errorf("node %s: spec.providerID %q: want aws:///<zone>/i-… or eks-hybrid:///…/mi-…", n.Name, p)
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func podConditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sortEndpoints(eps []Endpoint) {
	sort.Slice(eps, func(i, j int) bool {
		if eps[i].ID != eps[j].ID {
			return eps[i].ID < eps[j].ID
		}
		return eps[i].Port < eps[j].Port
	})
}
