package gateway

import (
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The Gateway API CRDs' defaults, applied to copies of the objects so that
// manifests that leave them out translate as the API server would store
// them.

func ptrTo[T any](v T) *T { return &v }

func defaultParentRef(p *gwv1.ParentReference) {
	if p.Group == nil {
		p.Group = ptrTo(gwv1.Group(groupGateway))
	}
	if p.Kind == nil {
		p.Kind = ptrTo(gwv1.Kind(kindGateway))
	}
}

func defaultBackendRef(b *gwv1.BackendRef) {
	if b.Group == nil {
		b.Group = ptrTo(gwv1.Group(""))
	}
	if b.Kind == nil {
		b.Kind = ptrTo(gwv1.Kind(kindService))
	}
	if b.Weight == nil {
		b.Weight = ptrTo(int32(1))
	}
}

func defaultAllowedRoutes(a **gwv1.AllowedRoutes) {
	if *a == nil {
		*a = &gwv1.AllowedRoutes{}
	}
	if (*a).Namespaces == nil {
		(*a).Namespaces = &gwv1.RouteNamespaces{}
	}
	if (*a).Namespaces.From == nil {
		(*a).Namespaces.From = ptrTo(gwv1.NamespacesFromSame)
	}
	for i := range (*a).Kinds {
		if (*a).Kinds[i].Group == nil {
			(*a).Kinds[i].Group = ptrTo(gwv1.Group(groupGateway))
		}
	}
}

func defaultTLS(t *gwv1.ListenerTLSConfig) {
	if t == nil {
		return
	}
	if t.Mode == nil || *t.Mode == "" {
		t.Mode = ptrTo(gwv1.TLSModeTerminate)
	}
	for i := range t.CertificateRefs {
		c := &t.CertificateRefs[i]
		if c.Group == nil {
			c.Group = ptrTo(gwv1.Group(""))
		}
		if c.Kind == nil {
			c.Kind = ptrTo(gwv1.Kind(kindSecret))
		}
	}
}

func defaultGateway(gw *gwv1.Gateway) {
	for i := range gw.Spec.Listeners {
		l := &gw.Spec.Listeners[i]
		defaultAllowedRoutes(&l.AllowedRoutes)
		defaultTLS(l.TLS)
	}
	if gw.Spec.AllowedListeners == nil {
		gw.Spec.AllowedListeners = &gwv1.AllowedListeners{}
	}
	if gw.Spec.AllowedListeners.Namespaces == nil {
		gw.Spec.AllowedListeners.Namespaces = &gwv1.ListenerNamespaces{}
	}
	if gw.Spec.AllowedListeners.Namespaces.From == nil {
		gw.Spec.AllowedListeners.Namespaces.From = ptrTo(gwv1.NamespacesFromNone)
	}
}

func defaultListenerSet(ls *gwv1.ListenerSet) {
	p := &ls.Spec.ParentRef
	if p.Group == nil {
		p.Group = ptrTo(gwv1.Group(groupGateway))
	}
	if p.Kind == nil {
		p.Kind = ptrTo(gwv1.Kind(kindGateway))
	}
	for i := range ls.Spec.Listeners {
		l := &ls.Spec.Listeners[i]
		defaultAllowedRoutes(&l.AllowedRoutes)
		defaultTLS(l.TLS)
	}
}

func defaultHTTPMatch(m *gwv1.HTTPRouteMatch) {
	if m.Path == nil {
		m.Path = &gwv1.HTTPPathMatch{}
	}
	if m.Path.Type == nil {
		m.Path.Type = ptrTo(gwv1.PathMatchPathPrefix)
	}
	if m.Path.Value == nil {
		m.Path.Value = ptrTo("/")
	}
	for i := range m.Headers {
		if m.Headers[i].Type == nil {
			m.Headers[i].Type = ptrTo(gwv1.HeaderMatchExact)
		}
	}
	for i := range m.QueryParams {
		if m.QueryParams[i].Type == nil {
			m.QueryParams[i].Type = ptrTo(gwv1.QueryParamMatchExact)
		}
	}
}

func defaultHTTPRoute(r *gwv1.HTTPRoute) {
	for i := range r.Spec.ParentRefs {
		defaultParentRef(&r.Spec.ParentRefs[i])
	}
	if len(r.Spec.Rules) == 0 {
		r.Spec.Rules = []gwv1.HTTPRouteRule{{}}
	}
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		if len(rule.Matches) == 0 {
			rule.Matches = []gwv1.HTTPRouteMatch{{}}
		}
		for j := range rule.Matches {
			defaultHTTPMatch(&rule.Matches[j])
		}
		for j := range rule.BackendRefs {
			defaultBackendRef(&rule.BackendRefs[j].BackendRef)
		}
		for j := range rule.Filters {
			if f := rule.Filters[j].RequestRedirect; f != nil && f.StatusCode == nil {
				f.StatusCode = ptrTo(302)
			}
		}
	}
}

func defaultGRPCRoute(r *gwv1.GRPCRoute) {
	for i := range r.Spec.ParentRefs {
		defaultParentRef(&r.Spec.ParentRefs[i])
	}
	if len(r.Spec.Rules) == 0 {
		r.Spec.Rules = []gwv1.GRPCRouteRule{{}}
	}
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		if len(rule.Matches) == 0 {
			rule.Matches = []gwv1.GRPCRouteMatch{{}}
		}
		for j := range rule.Matches {
			m := &rule.Matches[j]
			if m.Method != nil && m.Method.Type == nil {
				m.Method.Type = ptrTo(gwv1.GRPCMethodMatchExact)
			}
			for k := range m.Headers {
				if m.Headers[k].Type == nil {
					m.Headers[k].Type = ptrTo(gwv1.GRPCHeaderMatchExact)
				}
			}
		}
		for j := range rule.BackendRefs {
			defaultBackendRef(&rule.BackendRefs[j].BackendRef)
		}
	}
}
