package targets

import (
	"context"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// IndexServiceName indexes TargetGroupBindings by spec.serviceRef.name.
const IndexServiceName = "spec.serviceRef.name"

// ControllerName names the TargetGroupBinding controller in logs and metrics.
const ControllerName = "targetGroupBinding"

// SetupWithManager registers the reconciler and its watches: bindings,
// their Services and EndpointSlices, the pods behind them (a pod whose
// deletion starts is deregistered at once) and, for instance bindings,
// the nodes.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, maxConcurrent int, maxBackoff time.Duration) error {
	if maxBackoff <= 0 {
		maxBackoff = 1000 * time.Second
	}
	if err := IndexBindings(ctx, mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&elbv2api.TargetGroupBinding{}).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.forService)).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.forEndpointSlice)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.forPod), builder.WithPredicates(podChanged())).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.forNode), builder.WithPredicates(nodeChanged())).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: maxConcurrent,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxBackoff),
		}).
		Complete(r)
}

// IndexBindings registers the serviceRef index (once per manager).
func IndexBindings(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &elbv2api.TargetGroupBinding{}, IndexServiceName, func(o client.Object) []string {
		tgb, ok := o.(*elbv2api.TargetGroupBinding)
		if !ok {
			return nil
		}
		return []string{tgb.Spec.ServiceRef.Name}
	})
}

func (r *Reconciler) bindingsOf(ctx context.Context, namespace, service string) []reconcile.Request {
	var list elbv2api.TargetGroupBindingList
	if err := r.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{IndexServiceName: service}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, b := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
	}
	return out
}

func (r *Reconciler) forService(ctx context.Context, o client.Object) []reconcile.Request {
	return r.bindingsOf(ctx, o.GetNamespace(), o.GetName())
}

func (r *Reconciler) forEndpointSlice(ctx context.Context, o client.Object) []reconcile.Request {
	svc := o.GetLabels()[discoveryv1.LabelServiceName]
	if svc == "" {
		return nil
	}
	return r.bindingsOf(ctx, o.GetNamespace(), svc)
}

// forPod maps a pod to the bindings of every Service that selects it.
func (r *Reconciler) forPod(ctx context.Context, o client.Object) []reconcile.Request {
	var list elbv2api.TargetGroupBindingList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil || len(list.Items) == 0 {
		return nil
	}
	podLabels := labels.Set(o.GetLabels())
	selects := map[string]bool{}
	var out []reconcile.Request
	for _, b := range list.Items {
		if b.Spec.TargetType != nil && *b.Spec.TargetType != elbv2api.TargetTypeIP {
			continue
		}
		name := b.Spec.ServiceRef.Name
		sel, seen := selects[name]
		if !seen {
			svc := &corev1.Service{}
			if err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: name}, svc); err == nil && len(svc.Spec.Selector) > 0 {
				sel = labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels)
			}
			selects[name] = sel
		}
		if sel {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
		}
	}
	return out
}

// forNode maps a node to every instance binding.
func (r *Reconciler) forNode(ctx context.Context, _ client.Object) []reconcile.Request {
	var list elbv2api.TargetGroupBindingList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, b := range list.Items {
		if b.Spec.TargetType != nil && *b.Spec.TargetType == elbv2api.TargetTypeIP {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
	}
	return out
}

// podChanged passes pod events that can change a binding's targets: a pod
// created or deleted, its deletion started, its IP, labels or
// ContainersReady condition changed. The target-health conditions this
// controller writes itself do not pass.
func podChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Pod)
			n, ok2 := e.ObjectNew.(*corev1.Pod)
			if !ok1 || !ok2 {
				return true
			}
			return (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) ||
				o.Status.PodIP != n.Status.PodIP ||
				!reflect.DeepEqual(o.Labels, n.Labels) ||
				podConditionTrue(o, corev1.ContainersReady) != podConditionTrue(n, corev1.ContainersReady) ||
				podConditionTrue(o, corev1.PodReady) != podConditionTrue(n, corev1.PodReady)
		},
	}
}

// nodeChanged passes node events that can change instance targets: labels,
// taints, provider ID and the Ready condition.
func nodeChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Node)
			n, ok2 := e.ObjectNew.(*corev1.Node)
			if !ok1 || !ok2 {
				return true
			}
			return !reflect.DeepEqual(o.Labels, n.Labels) ||
				!reflect.DeepEqual(o.Spec.Taints, n.Spec.Taints) ||
				o.Spec.ProviderID != n.Spec.ProviderID ||
				nodeReady(o) != nodeReady(n)
		},
	}
}
