package gateway

import (
	"context"
	"fmt"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/internal/controller/kube"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// ClassReconciler reconciles the GatewayClasses of elbow's controllers:
// its finalizer (held while a Gateway uses the class, as the reference
// does) and status (Accepted, SupportedVersion, supportedFeatures).
type ClassReconciler struct {
	*Config
}

// Reconcile implements reconcile.Reconciler.
func (r *ClassReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	class := &gwv1.GatewayClass{}
	if err := r.Client.Get(ctx, req.NamespacedName, class); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !r.controllers()[class.Spec.ControllerName] {
		return reconcile.Result{}, nil
	}
	log := kube.Logger(ctx)
	if class.DeletionTimestamp != nil {
		var gws gwv1.GatewayList
		if err := r.Client.List(ctx, &gws, client.MatchingFields{indexGatewayClass: class.Name}); err != nil {
			return reconcile.Result{}, err
		}
		if n := len(gws.Items); n > 0 {
			// The deletion of the last Gateway reconciles the class again.
			log.Info("GatewayClass kept while Gateways use it", "gateways", n)
			return reconcile.Result{}, nil
		}
		if _, err := kube.RemoveFinalizer(ctx, r.Client, class, trgw.FinalizerGatewayClass); err != nil {
			r.Events.Warning(class, ReasonFailedRemoveFinalizer, "RemoveFinalizer", fmt.Sprintf("Failed remove finalizer due to %v", err))
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, nil
	}
	if _, err := kube.AddFinalizer(ctx, r.Client, class, trgw.FinalizerGatewayClass); err != nil {
		r.Events.Warning(class, ReasonFailedAddFinalizer, "AddFinalizer", fmt.Sprintf("Failed add finalizer due to %v", err))
		return reconcile.Result{}, err
	}
	_, res, err := r.buildShared(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	var want *gwv1.GatewayClassStatus
	for i := range res.Status.GatewayClasses {
		if res.Status.GatewayClasses[i].Name == class.Name {
			want = res.Status.GatewayClasses[i].Status.DeepCopy()
		}
	}
	if want == nil {
		return reconcile.Result{}, nil
	}
	if r.Kinds.BundleVersion != "" {
		want.Conditions = append(want.Conditions, trgw.SupportedVersionCondition(r.Kinds.BundleVersion, class.Generation))
	}
	want.Conditions = timed(class.Status.Conditions, want.Conditions, metav1.Now())
	if reflect.DeepEqual(class.Status, *want) {
		return reconcile.Result{}, nil
	}
	old := class.DeepCopy()
	class.Status = *want
	if err := r.Client.Status().Patch(ctx, class, client.MergeFrom(old)); err != nil {
		r.Events.Warning(class, ReasonFailedUpdateStatus, "UpdateStatus", fmt.Sprintf("Failed update status due to %v", err))
		return reconcile.Result{}, fmt.Errorf("status: %w", client.IgnoreNotFound(err))
	}
	return reconcile.Result{}, nil
}

// SetupWithManager registers the GatewayClass controller: the class, its
// Gateways (a deleted class waits for them) and its
// LoadBalancerConfiguration.
func (r *ClassReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("gatewayclass").
		For(&gwv1.GatewayClass{}, builder.WithPredicates(specChanged())).
		Watches(&gwv1.Gateway{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: string(o.(*gwv1.Gateway).Spec.GatewayClassName)}}}
		}), builder.WithPredicates(specChanged())).
		Watches(&gwaws.LoadBalancerConfiguration{}, handler.EnqueueRequestsFromMapFunc(r.allClasses), builder.WithPredicates(specChanged())).
		Complete(r)
}

// allClasses maps any object to every GatewayClass of ours.
func (r *ClassReconciler) allClasses(ctx context.Context, _ client.Object) []reconcile.Request {
	var classes gwv1.GatewayClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range classes.Items {
		if r.controllers()[c.Spec.ControllerName] {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: c.Name}})
		}
	}
	return out
}
