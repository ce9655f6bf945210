package targets

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// HasReadinessGate reports whether a pod declares the readiness gate of
// condition type t.
func HasReadinessGate(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, g := range p.Spec.ReadinessGates {
		if g.ConditionType == t {
			return true
		}
	}
	return false
}

// updateReadinessGates sets each endpoint pod's target-health condition
// from its target's health: True once healthy, False while not (with the
// ELB's reason and description), Unknown when the target is not
// registered.
func (r *Reconciler) updateReadinessGates(ctx context.Context, tgb *elbv2api.TargetGroupBinding, desired []Endpoint, st *bindingState) error {
	gate := ReadinessGate(tgb.Name)
	for _, ep := range desired {
		if ep.Pod == nil || !HasReadinessGate(ep.Pod, gate) {
			continue
		}
		cond := corev1.PodCondition{Type: gate, Status: corev1.ConditionUnknown}
		if h, ok := st.targets[ep.Target]; ok {
			cond.Reason = string(h.Reason)
			cond.Message = aws.ToString(h.Description)
			if h.State == elbv2types.TargetHealthStateEnumHealthy {
				cond.Status = corev1.ConditionTrue
			} else {
				cond.Status = corev1.ConditionFalse
			}
		}
		if err := r.patchPodCondition(ctx, ep.Pod, cond); err != nil {
			return err
		}
	}
	return nil
}

// releaseReadinessGates sets the gate of a deleted binding True on every
// pod that has it, so that no pod waits on a binding that is gone.
func (r *Reconciler) releaseReadinessGates(ctx context.Context, tgb *elbv2api.TargetGroupBinding) error {
	if tgb.Spec.TargetType != nil && *tgb.Spec.TargetType != elbv2api.TargetTypeIP {
		return nil
	}
	svc := &corev1.Service{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: tgb.Namespace, Name: tgb.Spec.ServiceRef.Name}, svc); err != nil {
		return client.IgnoreNotFound(err)
	}
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(tgb.Namespace), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(svc.Spec.Selector)}); err != nil {
		return fmt.Errorf("pods of service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	gate := ReadinessGate(tgb.Name)
	for i := range pods.Items {
		p := &pods.Items[i]
		if !HasReadinessGate(p, gate) {
			continue
		}
		if err := r.patchPodCondition(ctx, p, corev1.PodCondition{
			Type: gate, Status: corev1.ConditionTrue, Reason: "TargetGroupBindingDeleted",
			Message: "the TargetGroupBinding " + tgb.Name + " was deleted",
		}); err != nil {
			return err
		}
	}
	return nil
}

// patchPodCondition writes one pod condition with a strategic merge patch
// of the status subresource, when it differs from the pod's.
func (r *Reconciler) patchPodCondition(ctx context.Context, pod *corev1.Pod, cond corev1.PodCondition) error {
	var existing *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == cond.Type {
			existing = &pod.Status.Conditions[i]
		}
	}
	if existing != nil && existing.Status == cond.Status && existing.Reason == cond.Reason && existing.Message == cond.Message {
		return nil
	}
	cond.LastTransitionTime = metav1.Now()
	if existing != nil && existing.Status == cond.Status {
		cond.LastTransitionTime = existing.LastTransitionTime
	}
	from := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name}}
	if existing != nil {
		from.Status.Conditions = []corev1.PodCondition{*existing}
	}
	to := from.DeepCopy()
	to.UID = pod.UID // a precondition: never patch a pod recreated under the same name
	to.Status.Conditions = []corev1.PodCondition{cond}
	if err := r.Client.Status().Patch(ctx, to, client.StrategicMergeFrom(from)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("pod %s/%s: condition %s: %w", pod.Namespace, pod.Name, cond.Type, err)
	}
	return nil
}
