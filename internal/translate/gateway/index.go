package gateway

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/internal/translate"
)

// route is a route of any kind, with what attachment and rule building
// need of it.
type route struct {
	kind       string
	ref        translate.ObjectRef
	meta       *metav1.ObjectMeta
	parentRefs []gwv1.ParentReference
	hostnames  []gwv1.Hostname
	http       *gwv1.HTTPRoute
	grpc       *gwv1.GRPCRoute
	// l4Rules are the rules of a TCPRoute, UDPRoute or TLSRoute: their names
	// and backends.
	l4Rules []l4Rule
	// analysis is the listener-independent check of the rules, done once.
	analysis *routeAnalysis
}

func (r *route) key() string { return r.kind + "/" + r.ref.Key() }

// l4Rule is a rule of a TCPRoute, UDPRoute or TLSRoute.
type l4Rule struct {
	name        *gwv1.SectionName
	backendRefs []gwv1.BackendRef
}

// l4 reports whether the route is a TCPRoute, UDPRoute or TLSRoute.
func (r *route) l4() bool {
	return r.kind == kindTCPRoute || r.kind == kindUDPRoute || r.kind == kindTLSRoute
}

// index holds the input's objects, defaulted, by key.
type index struct {
	in           *Input
	classes      map[string]*gwv1.GatewayClass
	classNames   []string
	gateways     []*gwv1.Gateway
	gatewayByKey map[string]*gwv1.Gateway
	listenerSets []*gwv1.ListenerSet
	routes       []*route
	grants       []gwv1.ReferenceGrant
	lbcs         map[string]*gwaws.LoadBalancerConfiguration
	tgcs         map[string]*gwaws.TargetGroupConfiguration
	// tgcByRef maps the kind and namespace/name of a Service or Gateway
	// (tgcRefKey) to the TargetGroupConfiguration whose targetReference
	// names it (the first by name when several do).
	tgcByRef map[string]*gwaws.TargetGroupConfiguration
	lrcs     map[string]*gwaws.ListenerRuleConfiguration
	services map[string]*corev1.Service
	secrets  map[string]*corev1.Secret
	nsLabels translate.NamespaceLabels
}

func key(ns, name string) string { return ns + "/" + name }

// tgcRefKey is the key of a TargetGroupConfiguration's targetReference.
func tgcRefKey(kind, ns, name string) string { return kind + "/" + key(ns, name) }

func newIndex(in *Input) *index {
	x := &index{
		in: in, classes: map[string]*gwv1.GatewayClass{}, gatewayByKey: map[string]*gwv1.Gateway{},
		lbcs: map[string]*gwaws.LoadBalancerConfiguration{}, tgcs: map[string]*gwaws.TargetGroupConfiguration{},
		tgcByRef: map[string]*gwaws.TargetGroupConfiguration{}, lrcs: map[string]*gwaws.ListenerRuleConfiguration{},
		services: map[string]*corev1.Service{}, secrets: map[string]*corev1.Secret{}, nsLabels: translate.NewNamespaceLabels(in.Namespaces),
	}
	for i := range in.GatewayClasses {
		c := &in.GatewayClasses[i]
		x.classes[c.Name] = c
		x.classNames = append(x.classNames, c.Name)
	}
	sort.Strings(x.classNames)
	for i := range in.Gateways {
		gw := in.Gateways[i].DeepCopy()
		defaultGateway(gw)
		x.gateways = append(x.gateways, gw)
		x.gatewayByKey[key(gw.Namespace, gw.Name)] = gw
	}
	sort.Slice(x.gateways, func(i, j int) bool {
		return key(x.gateways[i].Namespace, x.gateways[i].Name) < key(x.gateways[j].Namespace, x.gateways[j].Name)
	})
	for i := range in.ListenerSets {
		ls := in.ListenerSets[i].DeepCopy()
		defaultListenerSet(ls)
		x.listenerSets = append(x.listenerSets, ls)
	}
	// ListenerSet precedence: oldest first, then namespace/name.
	sort.SliceStable(x.listenerSets, func(i, j int) bool {
		a, b := x.listenerSets[i], x.listenerSets[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return key(a.Namespace, a.Name) < key(b.Namespace, b.Name)
	})
	for i := range in.HTTPRoutes {
		r := in.HTTPRoutes[i].DeepCopy()
		defaultHTTPRoute(r)
		x.routes = append(x.routes, &route{kind: kindHTTPRoute, ref: objRef(kindHTTPRoute, r), meta: &r.ObjectMeta,
			parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames, http: r})
	}
	for i := range in.GRPCRoutes {
		r := in.GRPCRoutes[i].DeepCopy()
		defaultGRPCRoute(r)
		x.routes = append(x.routes, &route{kind: kindGRPCRoute, ref: objRef(kindGRPCRoute, r), meta: &r.ObjectMeta,
			parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames, grpc: r})
	}
	for i := range in.TCPRoutes {
		r := in.TCPRoutes[i].DeepCopy()
		x.addL4Route(kindTCPRoute, &r.ObjectMeta, r.Spec.ParentRefs, nil, l4Rules(r.Spec.Rules, func(r gwv1.TCPRouteRule) l4Rule { return l4Rule{r.Name, r.BackendRefs} }))
	}
	for i := range in.UDPRoutes {
		r := in.UDPRoutes[i].DeepCopy()
		x.addL4Route(kindUDPRoute, &r.ObjectMeta, r.Spec.ParentRefs, nil, l4Rules(r.Spec.Rules, func(r gwv1.UDPRouteRule) l4Rule { return l4Rule{r.Name, r.BackendRefs} }))
	}
	for i := range in.TLSRoutes {
		r := in.TLSRoutes[i].DeepCopy()
		x.addL4Route(kindTLSRoute, &r.ObjectMeta, r.Spec.ParentRefs, r.Spec.Hostnames, l4Rules(r.Spec.Rules, func(r gwv1.TLSRouteRule) l4Rule { return l4Rule{r.Name, r.BackendRefs} }))
	}
	sort.Slice(x.routes, func(i, j int) bool { return x.routes[i].key() < x.routes[j].key() })
	x.grants = in.ReferenceGrants
	for i := range in.LoadBalancerConfigurations {
		c := &in.LoadBalancerConfigurations[i]
		x.lbcs[key(c.Namespace, c.Name)] = c
	}
	tgcNames := make([]string, 0, len(in.TargetGroupConfigurations))
	for i := range in.TargetGroupConfigurations {
		c := &in.TargetGroupConfigurations[i]
		k := key(c.Namespace, c.Name)
		x.tgcs[k] = c
		tgcNames = append(tgcNames, k)
	}
	sort.Strings(tgcNames)
	for _, k := range tgcNames {
		c := x.tgcs[k]
		ref := c.Spec.TargetReference
		if ref == nil {
			continue
		}
		var sk string
		switch {
		case (ref.Kind == nil || *ref.Kind == kindService) && (ref.Group == nil || *ref.Group == ""):
			sk = tgcRefKey(kindService, c.Namespace, ref.Name)
		case ref.Kind != nil && *ref.Kind == kindGateway && ref.Group != nil && *ref.Group == groupGateway:
			sk = tgcRefKey(kindGateway, c.Namespace, ref.Name)
		default:
			continue
		}
		if _, taken := x.tgcByRef[sk]; !taken {
			x.tgcByRef[sk] = c
		}
	}
	for i := range in.ListenerRuleConfigurations {
		c := &in.ListenerRuleConfigurations[i]
		x.lrcs[key(c.Namespace, c.Name)] = c
	}
	for i := range in.Services {
		s := &in.Services[i]
		x.services[key(s.Namespace, s.Name)] = s
	}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		x.secrets[key(s.Namespace, s.Name)] = s
	}
	return x
}

// l4Rules converts the rules of a TCPRoute, UDPRoute or TLSRoute.
func l4Rules[R any](rules []R, conv func(R) l4Rule) []l4Rule {
	out := make([]l4Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, conv(r))
	}
	return out
}

// addL4Route adds a TCPRoute, UDPRoute or TLSRoute (a deep copy), with the
// CRDs' defaults applied.
func (x *index) addL4Route(kind string, meta *metav1.ObjectMeta, parents []gwv1.ParentReference, hostnames []gwv1.Hostname, rules []l4Rule) {
	for i := range parents {
		defaultParentRef(&parents[i])
	}
	for i := range rules {
		for j := range rules[i].backendRefs {
			defaultBackendRef(&rules[i].backendRefs[j])
		}
	}
	x.routes = append(x.routes, &route{kind: kind, ref: translate.ObjectRef{Kind: kind, Namespace: meta.Namespace, Name: meta.Name},
		meta: meta, parentRefs: parents, hostnames: hostnames, l4Rules: rules})
}

// namespaceAllowed reports whether a namespace is allowed by a "from"
// rule relative to the namespace of the object that states it.
func (x *index) namespaceAllowed(from gwv1.FromNamespaces, sel *metav1.LabelSelector, ns, ownerNS string) (bool, error) {
	switch from {
	case gwv1.NamespacesFromAll:
		return true, nil
	case gwv1.NamespacesFromSame:
		return ns == ownerNS, nil
	case gwv1.NamespacesFromSelector:
		if sel == nil {
			return false, nil
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return false, err
		}
		return s.Matches(labels.Set(x.nsLabels.Of(ns))), nil
	}
	return false, nil
}

// granted reports whether a ReferenceGrant in the target's namespace
// allows objects of fromGroup/fromKind in fromNS to refer to the target.
func (x *index) granted(fromGroup, fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	for i := range x.grants {
		g := &x.grants[i]
		if g.Namespace != toNS {
			continue
		}
		fromOK := false
		for _, f := range g.Spec.From {
			if string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == toGroup && string(t.Kind) == toKind && (t.Name == nil || *t.Name == "" || string(*t.Name) == toName) {
				return true
			}
		}
	}
	return false
}
