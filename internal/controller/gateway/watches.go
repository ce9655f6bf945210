package gateway

import (
	"context"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// Field indexes of the cache, set up once by Setup.
const (
	indexGatewayClass   = "elbow.gateway.class"      // Gateway: spec.gatewayClassName
	indexGatewaySecret  = "elbow.gateway.secret"     // Gateway, ListenerSet: "ns/name" of certificate Secrets
	indexListenerSetGW  = "elbow.listenerset.parent" // ListenerSet: "ns/name" of its Gateway
	indexRouteParent    = "elbow.route.parent"       // routes: parentKey of each parentRef
	indexRouteService   = "elbow.route.service"      // routes: "ns/name" of backend Services
	indexRouteGateway   = "elbow.route.gateway"      // TCPRoutes: "ns/name" of backend Gateways (an NLB in front of an ALB)
	kindGateway         = "Gateway"
	kindListenerSet     = "ListenerSet"
	kindHTTPRoute       = "HTTPRoute"
	kindGRPCRoute       = "GRPCRoute"
	kindTCPRoute        = "TCPRoute"
	kindUDPRoute        = "UDPRoute"
	kindTLSRoute        = "TLSRoute"
	kindService         = "Service"
	kindLRC             = "ListenerRuleConfiguration"
	kindLBC             = "LoadBalancerConfiguration"
	kindTGC             = "TargetGroupConfiguration"
	kindBackendGroupAny = ""
)

// parentKey is the index value of a route parent: "Gateway/ns/name" or
// "ListenerSet/ns/name".
func parentKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// routeParents returns the parentKeys of a route's parentRefs.
func routeParents(ns string, refs []gwv1.ParentReference) []string {
	var out []string
	for _, p := range refs {
		if p.Group != nil && string(*p.Group) != gwv1.GroupName {
			continue
		}
		kind := kindGateway
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		n := ns
		if p.Namespace != nil && *p.Namespace != "" {
			n = string(*p.Namespace)
		}
		out = append(out, parentKey(kind, n, string(p.Name)))
	}
	return out
}

// backendServices returns "ns/name" of the Services a route's rules (and
// their request mirror filters) send to.
func backendServices(ns string, refs []gwv1.BackendRef) []string {
	var out []string
	for _, b := range refs {
		if (b.Group != nil && *b.Group != kindBackendGroupAny) || (b.Kind != nil && *b.Kind != kindService) {
			continue
		}
		n := ns
		if b.Namespace != nil && *b.Namespace != "" {
			n = string(*b.Namespace)
		}
		out = append(out, n+"/"+string(b.Name))
	}
	return out
}

// backendGateways returns "ns/name" of the Gateways a route's backendRefs
// name (an NLB Gateway in front of an ALB Gateway).
func backendGateways(ns string, refs []gwv1.BackendRef) []string {
	var out []string
	for _, b := range refs {
		if b.Group == nil || string(*b.Group) != gwv1.GroupName || b.Kind == nil || *b.Kind != kindGateway {
			continue
		}
		n := ns
		if b.Namespace != nil && *b.Namespace != "" {
			n = string(*b.Namespace)
		}
		out = append(out, n+"/"+string(b.Name))
	}
	return out
}

// l4Route is what the indexes need of a TCPRoute, UDPRoute or TLSRoute.
func l4Route(o client.Object) (ns string, parents []gwv1.ParentReference, refs []gwv1.BackendRef, ok bool) {
	switch r := o.(type) {
	case *gwv1.TCPRoute:
		for _, rule := range r.Spec.Rules {
			refs = append(refs, rule.BackendRefs...)
		}
		return r.Namespace, r.Spec.ParentRefs, refs, true
	case *gwv1.UDPRoute:
		for _, rule := range r.Spec.Rules {
			refs = append(refs, rule.BackendRefs...)
		}
		return r.Namespace, r.Spec.ParentRefs, refs, true
	case *gwv1.TLSRoute:
		for _, rule := range r.Spec.Rules {
			refs = append(refs, rule.BackendRefs...)
		}
		return r.Namespace, r.Spec.ParentRefs, refs, true
	}
	return "", nil, nil, false
}

func httpRouteServices(r *gwv1.HTTPRoute) []string {
	var refs []gwv1.BackendRef
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			refs = append(refs, b.BackendRef)
		}
	}
	return backendServices(r.Namespace, refs)
}

func grpcRouteServices(r *gwv1.GRPCRoute) []string {
	var refs []gwv1.BackendRef
	for _, rule := range r.Spec.Rules {
		for _, b := range rule.BackendRefs {
			refs = append(refs, b.BackendRef)
		}
	}
	return backendServices(r.Namespace, refs)
}

// listenerSetGateway returns "ns/name" of a ListenerSet's Gateway.
func listenerSetGateway(ls *gwv1.ListenerSet) string {
	ns := ls.Namespace
	if ls.Spec.ParentRef.Namespace != nil && *ls.Spec.ParentRef.Namespace != "" {
		ns = string(*ls.Spec.ParentRef.Namespace)
	}
	return ns + "/" + string(ls.Spec.ParentRef.Name)
}

// indexes registers the field indexes the map functions use.
func (c *Config) indexes(ctx context.Context, idx client.FieldIndexer) error {
	keys := func(ks []types.NamespacedName) []string {
		out := make([]string, 0, len(ks))
		for _, k := range ks {
			out = append(out, k.String())
		}
		return out
	}
	if err := idx.IndexField(ctx, &gwv1.Gateway{}, indexGatewayClass, func(o client.Object) []string {
		return []string{string(o.(*gwv1.Gateway).Spec.GatewayClassName)}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &gwv1.Gateway{}, indexGatewaySecret, func(o client.Object) []string {
		gw := o.(*gwv1.Gateway)
		var out []types.NamespacedName
		for _, l := range gw.Spec.Listeners {
			out = append(out, certSecrets(gw.Namespace, l.TLS)...)
		}
		return keys(out)
	}); err != nil {
		return err
	}
	if c.Kinds.ListenerSets {
		if err := idx.IndexField(ctx, &gwv1.ListenerSet{}, indexListenerSetGW, func(o client.Object) []string {
			return []string{listenerSetGateway(o.(*gwv1.ListenerSet))}
		}); err != nil {
			return err
		}
		if err := idx.IndexField(ctx, &gwv1.ListenerSet{}, indexGatewaySecret, func(o client.Object) []string {
			ls := o.(*gwv1.ListenerSet)
			var out []types.NamespacedName
			for _, l := range ls.Spec.Listeners {
				out = append(out, certSecrets(ls.Namespace, l.TLS)...)
			}
			return keys(out)
		}); err != nil {
			return err
		}
	}
	type routeIndex struct {
		obj      client.Object
		parents  func(client.Object) []string
		services func(client.Object) []string
	}
	var routes []routeIndex
	if c.Kinds.ALB {
		routes = append(routes, routeIndex{&gwv1.HTTPRoute{},
			func(o client.Object) []string {
				r := o.(*gwv1.HTTPRoute)
				return routeParents(r.Namespace, r.Spec.ParentRefs)
			},
			func(o client.Object) []string { return httpRouteServices(o.(*gwv1.HTTPRoute)) }},
			routeIndex{&gwv1.GRPCRoute{},
				func(o client.Object) []string {
					r := o.(*gwv1.GRPCRoute)
					return routeParents(r.Namespace, r.Spec.ParentRefs)
				},
				func(o client.Object) []string { return grpcRouteServices(o.(*gwv1.GRPCRoute)) }})
	}
	if c.Kinds.NLB {
		l4Parents := func(o client.Object) []string {
			ns, parents, _, _ := l4Route(o)
			return routeParents(ns, parents)
		}
		l4Services := func(o client.Object) []string {
			ns, _, refs, _ := l4Route(o)
			return backendServices(ns, refs)
		}
		for _, o := range []client.Object{&gwv1.TCPRoute{}, &gwv1.UDPRoute{}, &gwv1.TLSRoute{}} {
			routes = append(routes, routeIndex{o, l4Parents, l4Services})
		}
		if err := idx.IndexField(ctx, &gwv1.TCPRoute{}, indexRouteGateway, func(o client.Object) []string {
			ns, _, refs, _ := l4Route(o)
			return backendGateways(ns, refs)
		}); err != nil {
			return err
		}
	}
	for _, r := range routes {
		if err := idx.IndexField(ctx, r.obj, indexRouteParent, r.parents); err != nil {
			return err
		}
		if err := idx.IndexField(ctx, r.obj, indexRouteService, r.services); err != nil {
			return err
		}
	}
	return nil
}

// ours reports whether a Gateway is of a class of the controllers that
// run, or carries the finalizer of one that runs.
func (c *Config) ours(ctx context.Context, gw *gwv1.Gateway) bool {
	for _, f := range gw.Finalizers {
		if (f == trgw.FinalizerALBGateway && c.Kinds.ALB) || (f == trgw.FinalizerNLBGateway && c.Kinds.NLB) {
			return true
		}
	}
	class := &gwv1.GatewayClass{}
	if err := c.Client.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, class); err != nil {
		return false
	}
	return c.controllers()[class.Spec.ControllerName]
}

// gatewayRequests returns requests for the Gateways among gws that are
// ours.
func (c *Config) gatewayRequests(ctx context.Context, gws []gwv1.Gateway) []reconcile.Request {
	var out []reconcile.Request
	for i := range gws {
		if c.ours(ctx, &gws[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&gws[i])})
		}
	}
	return out
}

// allGateways maps any object to every Gateway of ours.
func (c *Config) allGateways(ctx context.Context, _ client.Object) []reconcile.Request {
	var gws gwv1.GatewayList
	if err := c.Client.List(ctx, &gws); err != nil {
		return nil
	}
	return c.gatewayRequests(ctx, gws.Items)
}

// classGateways maps a GatewayClass to its Gateways.
func (c *Config) classGateways(ctx context.Context, o client.Object) []reconcile.Request {
	var gws gwv1.GatewayList
	if err := c.Client.List(ctx, &gws, client.MatchingFields{indexGatewayClass: o.GetName()}); err != nil {
		return nil
	}
	return c.gatewayRequests(ctx, gws.Items)
}

// listenerSetGateways maps a ListenerSet to its Gateway.
func (c *Config) listenerSetGateways(ctx context.Context, o client.Object) []reconcile.Request {
	ls, ok := o.(*gwv1.ListenerSet)
	if !ok {
		return nil
	}
	return c.gatewaysByKey(ctx, []string{listenerSetGateway(ls)})
}

// gatewaysByKey returns requests for the Gateways ("ns/name") that are
// ours.
func (c *Config) gatewaysByKey(ctx context.Context, keys []string) []reconcile.Request {
	var out []reconcile.Request
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		ns, name := splitKey(k)
		gw := &gwv1.Gateway{}
		if err := c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, gw); err != nil {
			continue
		}
		if c.ours(ctx, gw) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
		}
	}
	return out
}

// parentGateways returns "ns/name" of the Gateways behind parent keys:
// the Gateways named, and the Gateways of the ListenerSets named.
func (c *Config) parentGateways(ctx context.Context, parents []string) []string {
	var out []string
	for _, p := range parents {
		kind, rest := splitKind(p)
		switch kind {
		case kindGateway:
			out = append(out, rest)
		case kindListenerSet:
			if !c.Kinds.ListenerSets {
				continue
			}
			ns, name := splitKey(rest)
			ls := &gwv1.ListenerSet{}
			if err := c.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ls); err == nil {
				out = append(out, listenerSetGateway(ls))
			}
		}
	}
	return out
}

// routeGateways maps a route to the Gateways of its parentRefs.
func (c *Config) routeGateways(ctx context.Context, o client.Object) []reconcile.Request {
	var parents []string
	switch r := o.(type) {
	case *gwv1.HTTPRoute:
		parents = routeParents(r.Namespace, r.Spec.ParentRefs)
	case *gwv1.GRPCRoute:
		parents = routeParents(r.Namespace, r.Spec.ParentRefs)
	default:
		if ns, refs, _, ok := l4Route(o); ok {
			parents = routeParents(ns, refs)
		}
	}
	return c.gatewaysByKey(ctx, c.parentGateways(ctx, parents))
}

// serviceGateways maps a Service to the Gateways of the routes that send
// to it.
func (c *Config) serviceGateways(ctx context.Context, o client.Object) []reconcile.Request {
	return c.gatewaysByKey(ctx, c.parentGateways(ctx, c.routeParentsByIndex(ctx, indexRouteService, o.GetNamespace()+"/"+o.GetName())))
}

// routeParentsByIndex returns the parentKeys of the routes (of every kind
// that runs) an index value finds.
func (c *Config) routeParentsByIndex(ctx context.Context, field, value string) []string {
	var parents []string
	for _, k := range c.routeKinds() {
		if field == indexRouteGateway && k.kind != kindTCPRoute {
			continue
		}
		l := k.list()
		if err := c.Client.List(ctx, l, client.MatchingFields{field: value}); err != nil {
			continue
		}
		objs, err := apimeta.ExtractList(l)
		if err != nil {
			continue
		}
		for _, obj := range objs {
			switch r := obj.(type) {
			case *gwv1.HTTPRoute:
				parents = append(parents, routeParents(r.Namespace, r.Spec.ParentRefs)...)
			case *gwv1.GRPCRoute:
				parents = append(parents, routeParents(r.Namespace, r.Spec.ParentRefs)...)
			case client.Object:
				if ns, refs, _, ok := l4Route(r); ok {
					parents = append(parents, routeParents(ns, refs)...)
				}
			}
		}
	}
	return parents
}

// chainedGateways maps a Gateway to the NLB Gateways whose TCPRoutes
// forward to it (its load balancer's ARN, in its status, goes into their
// stacks).
func (c *Config) chainedGateways(ctx context.Context, o client.Object) []reconcile.Request {
	if !c.Kinds.NLB {
		return nil
	}
	return c.gatewaysByKey(ctx, c.parentGateways(ctx, c.routeParentsByIndex(ctx, indexRouteGateway, o.GetNamespace()+"/"+o.GetName())))
}

// secretGateways maps a Secret to the Gateways whose listeners (or whose
// ListenerSets' listeners) name it; a Secret a ListenerRuleConfiguration
// names maps to every Gateway.
func (c *Config) secretGateways(ctx context.Context, o client.Object) []reconcile.Request {
	key := o.GetNamespace() + "/" + o.GetName()
	var keys []string
	var gws gwv1.GatewayList
	if err := c.Client.List(ctx, &gws, client.MatchingFields{indexGatewaySecret: key}); err == nil {
		for _, gw := range gws.Items {
			keys = append(keys, gw.Namespace+"/"+gw.Name)
		}
	}
	if c.Kinds.ListenerSets {
		var lss gwv1.ListenerSetList
		if err := c.Client.List(ctx, &lss, client.MatchingFields{indexGatewaySecret: key}); err == nil {
			for i := range lss.Items {
				keys = append(keys, listenerSetGateway(&lss.Items[i]))
			}
		}
	}
	if c.lrcNamesSecret(ctx, o.GetNamespace(), o.GetName()) {
		return c.allGateways(ctx, o)
	}
	return c.gatewaysByKey(ctx, keys)
}

// lrcNamesSecret reports whether a ListenerRuleConfiguration of the
// namespace names the Secret.
func (c *Config) lrcNamesSecret(ctx context.Context, ns, name string) bool {
	var lrcs gwaws.ListenerRuleConfigurationList
	if err := c.Client.List(ctx, &lrcs, client.InNamespace(ns)); err != nil {
		return false
	}
	for i := range lrcs.Items {
		for _, n := range lrcSecrets(&lrcs.Items[i]) {
			if n == name {
				return true
			}
		}
	}
	return false
}

// routeRequests maps objects to routes (of one kind).
type routeRequests struct {
	c    *Config
	list func() client.ObjectList
}

func (m routeRequests) byIndex(ctx context.Context, field, value string) []reconcile.Request {
	l := m.list()
	if err := m.c.Client.List(ctx, l, client.MatchingFields{field: value}); err != nil {
		return nil
	}
	return requests(l)
}

// all maps any object to every route of the kind.
func (m routeRequests) all(ctx context.Context, _ client.Object) []reconcile.Request {
	l := m.list()
	if err := m.c.Client.List(ctx, l); err != nil {
		return nil
	}
	return requests(l)
}

// gateway maps a Gateway to the routes whose parentRefs name it or one of
// its ListenerSets.
func (m routeRequests) gateway(ctx context.Context, o client.Object) []reconcile.Request {
	out := m.byIndex(ctx, indexRouteParent, parentKey(kindGateway, o.GetNamespace(), o.GetName()))
	if m.c.Kinds.ListenerSets {
		var lss gwv1.ListenerSetList
		if err := m.c.Client.List(ctx, &lss, client.MatchingFields{indexListenerSetGW: o.GetNamespace() + "/" + o.GetName()}); err == nil {
			for _, ls := range lss.Items {
				out = append(out, m.byIndex(ctx, indexRouteParent, parentKey(kindListenerSet, ls.Namespace, ls.Name))...)
			}
		}
	}
	return out
}

// listenerSet maps a ListenerSet to the routes that name it or its Gateway.
func (m routeRequests) listenerSet(ctx context.Context, o client.Object) []reconcile.Request {
	ls, ok := o.(*gwv1.ListenerSet)
	if !ok {
		return nil
	}
	out := m.byIndex(ctx, indexRouteParent, parentKey(kindListenerSet, ls.Namespace, ls.Name))
	ns, name := splitKey(listenerSetGateway(ls))
	return append(out, m.byIndex(ctx, indexRouteParent, parentKey(kindGateway, ns, name))...)
}

// service maps a Service to the routes that send to it.
func (m routeRequests) service(ctx context.Context, o client.Object) []reconcile.Request {
	return m.byIndex(ctx, indexRouteService, o.GetNamespace()+"/"+o.GetName())
}

// backendGateway maps a Gateway to the TCPRoutes that send to it (an NLB
// Gateway in front of an ALB Gateway).
func (m routeRequests) backendGateway(ctx context.Context, o client.Object) []reconcile.Request {
	return m.byIndex(ctx, indexRouteGateway, o.GetNamespace()+"/"+o.GetName())
}

// requests returns a request for each object of a list.
func requests(l client.ObjectList) []reconcile.Request {
	objs, err := apimeta.ExtractList(l)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(objs))
	for _, o := range objs {
		if co, ok := o.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(co)})
		}
	}
	return out
}

func splitKey(k string) (ns, name string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return k[:i], k[i+1:]
		}
	}
	return "", k
}

func splitKind(k string) (kind, rest string) { return splitKey(k) }

// watch adds a watch of obj's changes (not status-only ones), mapped to
// requests by fn.
func watch(b *builder.Builder, obj client.Object, fn handler.MapFunc) *builder.Builder {
	return b.Watches(obj, handler.EnqueueRequestsFromMapFunc(fn), builder.WithPredicates(specChanged()))
}

// watchWorld adds the watches of what can change any object's
// translation: namespaces (their labels feed selectors), the
// gateway.k8s.aws configurations and ReferenceGrants, mapped by all, and
// ListenerSets, mapped by listenerSet.
func (c *Config) watchWorld(b *builder.Builder, all, listenerSet handler.MapFunc) *builder.Builder {
	for _, o := range []client.Object{&corev1.Namespace{}, &gwaws.LoadBalancerConfiguration{}, &gwaws.TargetGroupConfiguration{}, &gwaws.ListenerRuleConfiguration{}} {
		b = watch(b, o, all)
	}
	if c.Kinds.ListenerSets {
		b = watch(b, &gwv1.ListenerSet{}, listenerSet)
	}
	if grant := c.Kinds.referenceGrant(); grant != nil {
		b = watch(b, grant, all)
	}
	return b
}

// specChanged passes creations, deletions and updates that change an
// object's generation, labels, annotations, finalizers or deletion (not
// status-only updates, which are the controller's own writes).
func specChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			if o.GetGeneration() != n.GetGeneration() || (o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) {
				return true
			}
			if !reflect.DeepEqual(o.GetLabels(), n.GetLabels()) || !reflect.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) || !reflect.DeepEqual(o.GetFinalizers(), n.GetFinalizers()) {
				return true
			}
			// Services have no generation: compare their specs.
			if os, ok := o.(*corev1.Service); ok {
				if ns, ok := n.(*corev1.Service); ok {
					return !reflect.DeepEqual(os.Spec, ns.Spec)
				}
			}
			return false
		},
	}
}

// programmedChanged passes the updates that change a Gateway's
// Programmed condition (status, message).
func programmedChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*gwv1.Gateway)
			n, ok2 := e.ObjectNew.(*gwv1.Gateway)
			if !ok1 || !ok2 {
				return false
			}
			oc := apimeta.FindStatusCondition(o.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
			nc := apimeta.FindStatusCondition(n.Status.Conditions, string(gwv1.GatewayConditionProgrammed))
			switch {
			case oc == nil || nc == nil:
				return (oc == nil) != (nc == nil)
			}
			return oc.Status != nc.Status || oc.Message != nc.Message
		},
	}
}
