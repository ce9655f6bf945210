package ingress

import (
	"context"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	tring "github.com/elbowlb/elbow/internal/translate/ingress"
)

// ControllerName names the Ingress controller in logs and metrics.
const ControllerName = "ingress"

// Index names of the Ingress cache.
const (
	indexService = "elbow.ingress.service" // "namespace/service" of each backend
	indexSecret  = "elbow.ingress.secret"  // "namespace/secret" of the OIDC secret
	indexClass   = "elbow.ingress.class"   // spec.ingressClassName
)

// GroupsOf returns the groups an Ingress may concern: the group it
// belongs to now (from its IngressClassParams, its group.name annotation,
// or itself) and every group whose finalizer it still carries. It is
// generous: a group that turns out not to hold the Ingress just reconciles
// to no change.
func GroupsOf(ing *networking.Ingress, classes []networking.IngressClass, params []elbv2api.IngressClassParams, ingressClass string) []stack.ID {
	var out []stack.ID
	add := func(id stack.ID) {
		for _, o := range out {
			if o == id {
				return
			}
		}
		out = append(out, id)
	}
	for _, f := range ing.Finalizers {
		switch {
		case f == tring.ImplicitGroupFinalizer:
			add(stack.ID{Namespace: ing.Namespace, Name: ing.Name})
		case strings.HasPrefix(f, tring.ExplicitGroupFinalizerPrefix):
			add(stack.ID{Name: strings.TrimPrefix(f, tring.ExplicitGroupFinalizerPrefix)})
		}
	}
	if ing.DeletionTimestamp != nil {
		return out
	}
	if cls, ok := ing.Annotations[annotations.IngressClass]; ok {
		want := ingressClass
		if want == "" {
			want = "alb"
		}
		if cls != want {
			return out
		}
	} else {
		name := ""
		if ing.Spec.IngressClassName != nil {
			name = *ing.Spec.IngressClassName
		} else {
			for _, c := range classes {
				if c.Annotations["ingressclass.kubernetes.io/is-default-class"] == "true" {
					name = c.Name
				}
			}
		}
		if name == "" && ingressClass != "" {
			return out
		}
		if name != "" {
			var class *networking.IngressClass
			for i := range classes {
				if classes[i].Name == name {
					class = &classes[i]
				}
			}
			if class == nil || class.Spec.Controller != tring.ControllerName {
				return out
			}
			if p := class.Spec.Parameters; p != nil && p.Kind == "IngressClassParams" {
				for _, ps := range params {
					if ps.Name == p.Name && ps.Spec.Group != nil && ps.Spec.Group.Name != "" {
						add(stack.ID{Name: ps.Spec.Group.Name})
						return out
					}
				}
			}
		}
	}
	if name, ok := ing.Annotations[annotations.IngressGroupName]; ok && name != "" {
		add(stack.ID{Name: name})
		return out
	}
	add(stack.ID{Namespace: ing.Namespace, Name: ing.Name})
	return out
}

// SetupWithManager registers the reconciler and its watches: Ingresses,
// IngressClasses, IngressClassParams, backend Services and OIDC Secrets.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, maxConcurrent int) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &networking.Ingress{}, indexService, func(o client.Object) []string {
		ing, ok := o.(*networking.Ingress)
		if !ok {
			return nil
		}
		var out []string
		for _, s := range BackendServices(ing) {
			out = append(out, ing.Namespace+"/"+s)
		}
		return out
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &networking.Ingress{}, indexSecret, func(o client.Object) []string {
		if n := oidcSecret(o.GetAnnotations()); n != "" {
			return []string{o.GetNamespace() + "/" + n}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &networking.Ingress{}, indexClass, func(o client.Object) []string {
		ing, ok := o.(*networking.Ingress)
		if !ok || ing.Spec.IngressClassName == nil {
			return nil
		}
		return []string{*ing.Spec.IngressClassName}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		Watches(&networking.Ingress{}, handler.EnqueueRequestsFromMapFunc(r.forIngress), builder.WithPredicates(ingressChanged())).
		Watches(&networking.IngressClass{}, handler.EnqueueRequestsFromMapFunc(r.forClass)).
		Watches(&elbv2api.IngressClassParams{}, handler.EnqueueRequestsFromMapFunc(r.forParams)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.forIndexed(indexService)), builder.WithPredicates(specOrMetaChanged())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forIndexed(indexSecret))).
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).
		Complete(r)
}

func (r *Reconciler) requestsFor(ctx context.Context, ings []networking.Ingress) []reconcile.Request {
	var classes networking.IngressClassList
	var params elbv2api.IngressClassParamsList
	if err := r.Client.List(ctx, &classes); err != nil {
		return nil
	}
	if err := r.Client.List(ctx, &params); err != nil {
		return nil
	}
	seen := map[stack.ID]bool{}
	var out []reconcile.Request
	for i := range ings {
		for _, id := range GroupsOf(&ings[i], classes.Items, params.Items, r.Options.IngressClass) {
			if !seen[id] {
				seen[id] = true
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: id.Namespace, Name: id.Name}})
			}
		}
	}
	return out
}

func (r *Reconciler) forIngress(ctx context.Context, o client.Object) []reconcile.Request {
	ing, ok := o.(*networking.Ingress)
	if !ok {
		return nil
	}
	return r.requestsFor(ctx, []networking.Ingress{*ing})
}

func (r *Reconciler) forClass(ctx context.Context, o client.Object) []reconcile.Request {
	var list networking.IngressList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	// A class change can also change which Ingresses default to it: take
	// those without a class name too.
	var ings []networking.Ingress
	for _, ing := range list.Items {
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName == o.GetName() {
			ings = append(ings, ing)
		}
	}
	return r.requestsFor(ctx, ings)
}

func (r *Reconciler) forParams(ctx context.Context, o client.Object) []reconcile.Request {
	var classes networking.IngressClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range classes.Items {
		c := &classes.Items[i]
		if p := c.Spec.Parameters; p != nil && p.Kind == "IngressClassParams" && p.Name == o.GetName() {
			out = append(out, r.forClass(ctx, c)...)
		}
	}
	return out
}

func (r *Reconciler) forIndexed(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list networking.IngressList
		if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetNamespace() + "/" + o.GetName()}); err != nil {
			return nil
		}
		return r.requestsFor(ctx, list.Items)
	}
}

// ingressChanged passes Ingress events other than status-only updates.
func ingressChanged() predicate.Predicate {
	return specOrMetaChanged()
}

// specOrMetaChanged passes updates that change an object's generation,
// labels, annotations, finalizers or deletion, not status-only ones.
func specOrMetaChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			if o.GetGeneration() != n.GetGeneration() {
				return true
			}
			if (o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) {
				return true
			}
			if !reflect.DeepEqual(o.GetLabels(), n.GetLabels()) || !reflect.DeepEqual(withoutStatus(o.GetAnnotations()), withoutStatus(n.GetAnnotations())) || !reflect.DeepEqual(o.GetFinalizers(), n.GetFinalizers()) {
				return true
			}
			// Services carry no generation in older API servers: compare specs.
			if os, ok := o.(*corev1.Service); ok {
				if ns, ok := n.(*corev1.Service); ok {
					return !reflect.DeepEqual(os.Spec, ns.Spec)
				}
			}
			return false
		},
	}
}

// withoutStatus drops the status annotation elbow writes itself.
func withoutStatus(m map[string]string) map[string]string {
	if _, ok := m[StatusAnnotation]; !ok {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != StatusAnnotation {
			out[k] = v
		}
	}
	return out
}
