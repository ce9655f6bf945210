// Package webhooks holds elbow's admission webhooks, the reference
// controller's paths and rules: the pod mutator that injects target-health
// readiness gates, the TargetGroupBinding mutator and validator, and the
// Ingress and IngressClassParams validators. It also generates a
// self-signed serving certificate and registers the webhook configurations
// for a controller that runs outside the cluster.
package webhooks

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/targets"
)

// Webhook paths, as the reference controller serves them.
const (
	PathMutatePod                   = "/mutate-v1-pod"
	PathMutateTargetGroupBinding    = "/mutate-elbv2-k8s-aws-v1beta1-targetgroupbinding"
	PathValidateTargetGroupBinding  = "/validate-elbv2-k8s-aws-v1beta1-targetgroupbinding"
	PathValidateIngressClassParams  = "/validate-elbv2-k8s-aws-v1beta1-ingressclassparams"
	PathValidateIngress             = "/validate-networking-v1-ingress"
	ReadinessGateInjectLabel        = "elbv2.k8s.aws/pod-readiness-gate-inject"
	ReadinessGateInjectLabelEnabled = "enabled"
)

// PodReadinessGate injects target-health readiness gates into new pods of
// namespaces labelled elbv2.k8s.aws/pod-readiness-gate-inject=enabled: one
// gate per ip-mode TargetGroupBinding of the namespace whose Service
// selects the pod.
type PodReadinessGate struct {
	Client client.Reader
}

// Default implements admission.Defaulter.
func (m *PodReadinessGate) Default(ctx context.Context, pod *corev1.Pod) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.Operation != admissionv1.Create {
		return nil
	}
	// A pod being created may not have its namespace set yet.
	namespace := req.Namespace
	ns := &corev1.Namespace{}
	if err := m.Client.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	if ns.Labels[ReadinessGateInjectLabel] != ReadinessGateInjectLabelEnabled {
		return nil
	}
	gates, err := GatesFor(ctx, m.Client, namespace, pod.Labels)
	if err != nil {
		return err
	}
	for _, g := range gates {
		if !targets.HasReadinessGate(pod, g) {
			pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: g})
		}
	}
	return nil
}

// GatesFor returns the readiness gates a pod with podLabels in namespace
// gets: one per ip-mode binding whose Service selects it.
func GatesFor(ctx context.Context, c client.Reader, namespace string, podLabels map[string]string) ([]corev1.PodConditionType, error) {
	var list elbv2api.TargetGroupBindingList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("target group bindings of %s: %w", namespace, err)
	}
	var out []corev1.PodConditionType
	for _, b := range list.Items {
		if b.Spec.TargetType == nil || *b.Spec.TargetType != elbv2api.TargetTypeIP || b.DeletionTimestamp != nil {
			continue
		}
		svc := &corev1.Service{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: b.Spec.ServiceRef.Name}, svc); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue
			}
			return nil, fmt.Errorf("service %s/%s: %w", namespace, b.Spec.ServiceRef.Name, err)
		}
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
			continue
		}
		out = append(out, targets.ReadinessGate(b.Name))
	}
	return out, nil
}
