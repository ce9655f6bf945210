package ingress

import (
	"context"
	"fmt"
	"reflect"

	networking "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elbowlb/elbow/internal/controller/kube"
)

// statusOK is the status annotation of a member the load balancer serves.
const statusOK = "Reconciled"

// maxStatus bounds the status annotation.
const maxStatus = 1024

// setStatus writes status.loadBalancer.ingress as the reference does (the
// ALB's lower-cased DNS name with the listener ports, then the frontend
// NLB's) and the status annotation, when they differ. It reports whether
// it wrote.
func (r *Reconciler) setStatus(ctx context.Context, ing *networking.Ingress, dns, frontendDNS string, ports []int32) (bool, error) {
	var want []networking.IngressLoadBalancerIngress
	if dns != "" {
		lbi := networking.IngressLoadBalancerIngress{Hostname: dns}
		for _, p := range ports {
			lbi.Ports = append(lbi.Ports, networking.IngressPortStatus{Port: p, Protocol: "TCP"})
		}
		want = append(want, lbi)
	}
	if frontendDNS != "" {
		want = append(want, networking.IngressLoadBalancerIngress{Hostname: frontendDNS})
	}
	wrote := false
	if !reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
		old := ing.DeepCopy()
		ing.Status.LoadBalancer.Ingress = want
		if err := r.Client.Status().Patch(ctx, ing, client.MergeFrom(old)); err != nil {
			return false, fmt.Errorf("status: %w", err)
		}
		wrote = true
	}
	w, err := r.setAnnotation(ctx, ing, statusOK)
	return wrote || w, err
}

// clearStatus empties the status of an Ingress that left its group.
func (r *Reconciler) clearStatus(ctx context.Context, ing *networking.Ingress) error {
	if len(ing.Status.LoadBalancer.Ingress) > 0 {
		old := ing.DeepCopy()
		ing.Status.LoadBalancer.Ingress = nil
		if err := r.Client.Status().Patch(ctx, ing, client.MergeFrom(old)); err != nil {
			return fmt.Errorf("status: %w", err)
		}
	}
	if _, ok := ing.Annotations[StatusAnnotation]; ok {
		old := ing.DeepCopy()
		delete(ing.Annotations, StatusAnnotation)
		if err := r.Client.Patch(ctx, ing, client.MergeFrom(old)); err != nil {
			return fmt.Errorf("status annotation: %w", err)
		}
	}
	return nil
}

// setAnnotation writes the status annotation when it differs.
func (r *Reconciler) setAnnotation(ctx context.Context, ing *networking.Ingress, value string) (bool, error) {
	value = kube.Truncate(value, maxStatus)
	if ing.Annotations[StatusAnnotation] == value {
		return false, nil
	}
	old := ing.DeepCopy()
	if ing.Annotations == nil {
		ing.Annotations = map[string]string{}
	}
	ing.Annotations[StatusAnnotation] = value
	if err := r.Client.Patch(ctx, ing, client.MergeFrom(old)); err != nil {
		return false, fmt.Errorf("status annotation: %w", client.IgnoreNotFound(err))
	}
	return true, nil
}

// fail records a member's error: a Warning Event with the reason, and the
// status annotation "Failed (<reason>): <error>". The Event is emitted
// when the annotation changes, so a retried failure does not repeat it.
func (r *Reconciler) fail(ctx context.Context, ing *networking.Ingress, reason string, err error) {
	changed, aerr := r.setAnnotation(ctx, ing, fmt.Sprintf("Failed (%s): %v", reason, err))
	if aerr != nil {
		kube.Logger(ctx).Error("write status annotation", "ingress", ing.Namespace+"/"+ing.Name, "error", aerr)
	}
	if changed || aerr != nil {
		r.Events.Warning(ing, reason, "Reconcile", err.Error())
	}
	kube.Logger(ctx).Warn("ingress not served as written", "ingress", ing.Namespace+"/"+ing.Name, "reason", reason, "error", err)
}

// failAll records the same error on several members.
func (r *Reconciler) failAll(ctx context.Context, ings map[types.NamespacedName]*networking.Ingress, reason string, err error) {
	for _, ing := range ings {
		r.fail(ctx, ing, reason, err)
	}
}
