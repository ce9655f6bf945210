package gateway

import (
	"context"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/controller/kube"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// routeKind is what the route reconciler needs of a route kind.
type routeKind struct {
	// kind is HTTPRoute, GRPCRoute, TCPRoute, UDPRoute or TLSRoute.
	kind string
	// name names its controller in logs and metrics.
	name string
	// newObj returns an empty route.
	newObj func() client.Object
	// status returns the route's status.
	status func(client.Object) *gwv1.RouteStatus
	// list returns an empty list of the kind.
	list func() client.ObjectList
}

var httpRoutes = routeKind{
	kind:   kindHTTPRoute,
	name:   "httproute",
	newObj: func() client.Object { return &gwv1.HTTPRoute{} },
	status: func(o client.Object) *gwv1.RouteStatus { return &o.(*gwv1.HTTPRoute).Status.RouteStatus },
	list:   func() client.ObjectList { return &gwv1.HTTPRouteList{} },
}

var grpcRoutes = routeKind{
	kind:   kindGRPCRoute,
	name:   "grpcroute",
	newObj: func() client.Object { return &gwv1.GRPCRoute{} },
	status: func(o client.Object) *gwv1.RouteStatus { return &o.(*gwv1.GRPCRoute).Status.RouteStatus },
	list:   func() client.ObjectList { return &gwv1.GRPCRouteList{} },
}

var tcpRoutes = routeKind{
	kind:   kindTCPRoute,
	name:   "tcproute",
	newObj: func() client.Object { return &gwv1.TCPRoute{} },
	status: func(o client.Object) *gwv1.RouteStatus { return &o.(*gwv1.TCPRoute).Status.RouteStatus },
	list:   func() client.ObjectList { return &gwv1.TCPRouteList{} },
}

var udpRoutes = routeKind{
	kind:   kindUDPRoute,
	name:   "udproute",
	newObj: func() client.Object { return &gwv1.UDPRoute{} },
	status: func(o client.Object) *gwv1.RouteStatus { return &o.(*gwv1.UDPRoute).Status.RouteStatus },
	list:   func() client.ObjectList { return &gwv1.UDPRouteList{} },
}

var tlsRoutes = routeKind{
	kind:   kindTLSRoute,
	name:   "tlsroute",
	newObj: func() client.Object { return &gwv1.TLSRoute{} },
	status: func(o client.Object) *gwv1.RouteStatus { return &o.(*gwv1.TLSRoute).Status.RouteStatus },
	list:   func() client.ObjectList { return &gwv1.TLSRouteList{} },
}

// RouteReconciler writes the status.parents entries of elbow's
// controllers on the routes of one kind, keeping other controllers'
// entries. Routes whose parents are no longer ours lose our entries.
type RouteReconciler struct {
	*Config
	kind routeKind
}

// Reconcile implements reconcile.Reconciler.
func (r *RouteReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	route := r.kind.newObj()
	if err := r.Client.Get(ctx, req.NamespacedName, route); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	st := r.kind.status(route)
	ctrls := r.controllers()
	mine := false
	for _, p := range st.Parents {
		mine = mine || ctrls[p.ControllerName]
	}
	_, res, err := r.buildShared(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	var ours []gwv1.RouteParentStatus
	for _, rs := range res.Status.Routes {
		if rs.Route.Kind == r.kind.kind && rs.Route.Namespace == req.Namespace && rs.Route.Name == req.Name {
			for _, p := range rs.Parents {
				if ctrls[p.ControllerName] {
					ours = append(ours, p)
				}
			}
		}
	}
	if len(ours) == 0 && !mine {
		return reconcile.Result{}, nil
	}
	merged := st.Parents
	for ctrl := range ctrls {
		merged = trgw.MergeParents(merged, nil, ctrl)
	}
	want := timedParents(st.Parents, append(merged, ours...), metav1.Now())
	if len(want) == 0 {
		want = nil
	}
	if reflect.DeepEqual(st.Parents, want) || (len(st.Parents) == 0 && len(want) == 0) {
		return reconcile.Result{}, nil
	}
	old, ok := route.DeepCopyObject().(client.Object)
	if !ok {
		return reconcile.Result{}, fmt.Errorf("%s: cannot copy %T", r.kind.kind, route)
	}
	st.Parents = want
	if want == nil {
		// A merge patch drops the list only when it is written out as null.
		st.Parents = []gwv1.RouteParentStatus{}
	}
	// Other controllers write their entries of the same list: the patch
	// replaces the whole list, so it applies only to the version read
	// (a conflict reconciles again, from the newer version).
	if err := r.Client.Status().Patch(ctx, route, client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})); err != nil {
		return reconcile.Result{}, fmt.Errorf("%s status: %w", r.kind.kind, client.IgnoreNotFound(err))
	}
	kube.Logger(ctx).Debug("route status written", "parents", len(want))
	return reconcile.Result{}, nil
}

// SetupWithManager registers the route controller and its watches: the
// route, its Gateways and ListenerSets, the Services it sends to, and
// what can change any route's status (classes, grants, namespaces,
// configurations).
func (r *RouteReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrent int) error {
	m := routeRequests{c: r.Config, list: r.kind.list}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(r.kind.name).
		For(r.kind.newObj(), builder.WithPredicates(specChanged()))
	b = watch(b, &gwv1.Gateway{}, m.gateway)
	b = watch(b, &gwv1.GatewayClass{}, m.all)
	b = watch(b, &corev1.Service{}, m.service)
	if r.kind.kind == kindTCPRoute {
		// A Gateway backend resolves once its load balancer is programmed.
		b = b.Watches(&gwv1.Gateway{}, handler.EnqueueRequestsFromMapFunc(m.backendGateway),
			builder.WithPredicates(predicate.Or(specChanged(), programmedChanged())))
	}
	b = r.watchWorld(b, m.all, m.listenerSet)
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).Complete(r)
}
