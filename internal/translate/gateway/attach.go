package gateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/translate"
)

// attachment is a route attached to listeners of the Gateway through one
// or more of its parentRefs.
type attachment struct {
	r *route
	// hosts are, per listener the route attached to, the hostnames the
	// route serves there ("" for any host).
	hosts map[*listener][]string
	// parents are the indexes of the route's parentRefs that attached.
	parents []int
	// listenersOf are, per index of parents, the listeners that parentRef
	// attached the route to.
	listenersOf map[int][]*listener
}

// attachRoutes decides, for every parentRef of every route naming this
// Gateway or one of its ListenerSets, whether the route attaches, and
// records the parent's status.
func (b *gwBuilder) attachRoutes() []*attachment {
	var out []*attachment
	for _, r := range b.x.routes {
		var at *attachment
		for i, pr := range r.parentRefs {
			cands, parent, ok := b.parentListeners(r, pr)
			if !ok {
				continue
			}
			ps := gwv1.RouteParentStatus{ParentRef: pr, ControllerName: b.class.class.Spec.ControllerName}
			a := b.t.analyze(r)
			gen := r.meta.Generation
			accepted := func(status bool, reason, msg string) {
				ps.Conditions = append(ps.Conditions, cond(string(gwv1.RouteConditionAccepted), condBool(status), reason, msg, gen))
			}
			var attachedTo map[*listener][]string
			switch {
			case parent != "":
				accepted(false, string(gwv1.RouteReasonNoMatchingParent), parent)
			case len(cands) == 0:
				accepted(false, string(gwv1.RouteReasonNoMatchingParent), noListenerMessage(pr))
			default:
				var reason, msg string
				attachedTo, reason, msg = b.allowedListeners(r, cands)
				switch {
				case len(attachedTo) == 0:
					accepted(false, reason, msg)
				case a.notAccepted != nil:
					accepted(false, a.notAccepted.reason, a.notAccepted.msg)
					attachedTo = nil
				default:
					accepted(true, string(gwv1.RouteReasonAccepted), "Route is accepted.")
				}
			}
			ps.Conditions = append(ps.Conditions, b.resolvedRefs(r, a, attachedTo, gen))
			if len(attachedTo) > 0 && len(a.dropped) > 0 {
				ps.Conditions = append(ps.Conditions, cond(string(gwv1.RouteConditionPartiallyInvalid), metav1.ConditionTrue,
					string(gwv1.RouteReasonUnsupportedValue), "Dropped Rule(s): "+strings.Join(a.dropped, "; "), gen))
			}
			b.t.status.setRouteParent(r, i, ps)
			if !conditionTrue(ps.Conditions, string(gwv1.RouteConditionAccepted)) {
				b.trace.Add(translate.Error, r.ref, "not accepted by %s (parentRefs[%d]): %s", b.ref, i, findCondition(ps.Conditions, string(gwv1.RouteConditionAccepted)).Message)
			}
			if len(attachedTo) == 0 {
				continue
			}
			if at == nil {
				at = &attachment{r: r, hosts: map[*listener][]string{}, listenersOf: map[int][]*listener{}}
				out = append(out, at)
			}
			at.parents = append(at.parents, i)
			for l, hs := range attachedTo {
				l.attached[r.key()] = true
				at.hosts[l] = mergeHosts(at.hosts[l], hs)
				at.listenersOf[i] = append(at.listenersOf[i], l)
			}
		}
		if at != nil {
			b.t.analyze(r).diagnose(r, b.trace)
		}
	}
	return out
}

// parentListeners returns the listeners a parentRef may attach to, if the
// parentRef names this Gateway or one of its ListenerSets (ok). A
// non-empty parent message says why the parent cannot take routes.
func (b *gwBuilder) parentListeners(r *route, pr gwv1.ParentReference) (cands []*listener, parent string, ok bool) {
	if deref(pr.Group) != groupGateway {
		return nil, "", false
	}
	ns := r.ref.Namespace
	if pr.Namespace != nil && *pr.Namespace != "" {
		ns = string(*pr.Namespace)
	}
	var pool []*listener
	switch deref(pr.Kind) {
	case kindGateway:
		if ns != b.gw.Namespace || string(pr.Name) != b.gw.Name {
			return nil, "", false
		}
		for _, l := range b.listeners {
			if l.ls == nil {
				pool = append(pool, l)
			}
		}
	case kindLS:
		k := key(ns, string(pr.Name))
		if why, rejected := b.rejectedLS[k]; rejected {
			return nil, fmt.Sprintf("ListenerSet %s is not attached to Gateway %s: %s", k, b.ref.Key(), why), true
		}
		found := false
		for _, l := range b.listeners {
			if l.ls != nil && key(l.ls.Namespace, l.ls.Name) == k {
				pool = append(pool, l)
				found = true
			}
		}
		if !found {
			return nil, "", false
		}
	default:
		return nil, "", false
	}
	for _, l := range pool {
		if pr.SectionName != nil && *pr.SectionName != l.name {
			continue
		}
		if pr.Port != nil && int32(*pr.Port) != l.port {
			continue
		}
		cands = append(cands, l)
	}
	return cands, "", true
}

func noListenerMessage(pr gwv1.ParentReference) string {
	var parts []string
	if pr.SectionName != nil {
		parts = append(parts, fmt.Sprintf("named %s", *pr.SectionName))
	}
	if pr.Port != nil {
		parts = append(parts, fmt.Sprintf("on port %d", *pr.Port))
	}
	return fmt.Sprintf("No listener %s.", strings.Join(parts, " and "))
}

// allowedListeners returns the candidate listeners that let the route
// attach, with the hostnames it serves on each; when none does, the
// reason: NotAllowedByListeners if a listener refused the route's
// namespace or kind, else NoMatchingListenerHostname.
func (b *gwBuilder) allowedListeners(r *route, cands []*listener) (map[*listener][]string, string, string) {
	out := map[*listener][]string{}
	var nsOrKind, hostname []string
	for _, l := range cands {
		ok, err := b.x.namespaceAllowed(*l.allowed.Namespaces.From, l.allowed.Namespaces.Selector, r.ref.Namespace, l.owner.Namespace)
		if err != nil {
			nsOrKind = append(nsOrKind, fmt.Sprintf("%s: bad namespace selector: %v", l.name, err))
			continue
		}
		if !ok {
			nsOrKind = append(nsOrKind, fmt.Sprintf("%s does not allow routes from namespace %s (allowedRoutes.namespaces.from %s)", l.name, r.ref.Namespace, *l.allowed.Namespaces.From))
			continue
		}
		kindOK := false
		for _, k := range l.kinds {
			if string(k.Kind) == r.kind {
				kindOK = true
			}
		}
		if !kindOK {
			nsOrKind = append(nsOrKind, fmt.Sprintf("%s does not allow %s", l.name, r.kind))
			continue
		}
		hs, ok := intersectHostnames(l.hostname, r.hostnames)
		if !ok {
			hostname = append(hostname, fmt.Sprintf("%s (hostname %s) shares no hostname with the route", l.name, l.hostname))
			continue
		}
		out[l] = hs
	}
	if len(out) > 0 {
		return out, "", ""
	}
	if len(nsOrKind) > 0 {
		return nil, string(gwv1.RouteReasonNotAllowedByListeners), "No listener allows the route: " + strings.Join(append(nsOrKind, hostname...), "; ") + "."
	}
	return nil, string(gwv1.RouteReasonNoMatchingListenerHostname), "No listener hostname matches the route: " + strings.Join(hostname, "; ") + "."
}

// resolvedRefs is a parent's ResolvedRefs condition: the route's
// unresolved references, and backends whose protocol the listeners the
// route attached to cannot speak.
func (b *gwBuilder) resolvedRefs(r *route, a *routeAnalysis, attached map[*listener][]string, gen int64) metav1.Condition {
	if len(a.refs) > 0 {
		var msgs []string
		for _, p := range a.refs {
			msgs = append(msgs, p.msg)
		}
		return cond(string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, a.refs[0].reason, strings.Join(msgs, "; "), gen)
	}
	if msg := h2cBehindHTTP(a, attached); msg != "" {
		return cond(string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, string(gwv1.RouteReasonUnsupportedProtocol), msg, gen)
	}
	return cond(string(gwv1.RouteConditionResolvedRefs), metav1.ConditionTrue, string(gwv1.RouteReasonResolvedRefs), "All references are resolved.", gen)
}

// h2cBehindHTTP says which backends speak h2c (appProtocol
// kubernetes.io/h2c) while the route attached to an HTTP listener: an ALB
// sends HTTP/2 to targets only behind HTTPS listeners.
func h2cBehindHTTP(a *routeAnalysis, attached map[*listener][]string) string {
	http := false
	for l := range attached {
		if l.protocol == gwv1.HTTPProtocolType {
			http = true
		}
	}
	if !http {
		return ""
	}
	var names []string
	for _, ri := range a.rules {
		for _, be := range ri.backends {
			if isH2C(be) {
				names = append(names, be.String())
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return fmt.Sprintf("Backends %s have appProtocol %s, and an ALB sends HTTP/2 to targets only behind HTTPS listeners: on HTTP listeners they are left out.", strings.Join(names, ", "), appProtocolH2C)
}

func isH2C(be *backend) bool {
	return be.bad == nil && be.port != nil && be.port.AppProtocol != nil && *be.port.AppProtocol == appProtocolH2C
}

// intersectHostnames returns the hostnames a route serves on a listener:
// the intersection of the listener's hostname and the route's, each pair
// giving the more specific of the two (a wildcard "*.example.com" matches
// any subdomain, at any depth). A listener without a hostname takes the
// route's hostnames ("" when it has none: any host); a route without
// hostnames takes the listener's. ok is false when they share none.
func intersectHostnames(listenerHost string, routeHosts []gwv1.Hostname) ([]string, bool) {
	if listenerHost == "" {
		if len(routeHosts) == 0 {
			return []string{""}, true
		}
		out := make([]string, 0, len(routeHosts))
		for _, h := range routeHosts {
			out = append(out, strings.ToLower(string(h)))
		}
		return out, true
	}
	if len(routeHosts) == 0 {
		return []string{listenerHost}, true
	}
	var out []string
	for _, h := range routeHosts {
		if m, ok := hostnameIntersection(strings.ToLower(listenerHost), strings.ToLower(string(h))); ok {
			out = append(out, m)
		}
	}
	return out, len(out) > 0
}

// hostnameIntersection returns the more specific of two hostnames when one
// covers the other.
func hostnameIntersection(a, b string) (string, bool) {
	aw, bw := strings.HasPrefix(a, "*."), strings.HasPrefix(b, "*.")
	switch {
	case !aw && !bw:
		return a, a == b
	case aw && !bw:
		return b, strings.HasSuffix(b, a[1:])
	case !aw && bw:
		return a, strings.HasSuffix(a, b[1:])
	}
	if strings.HasSuffix(a, b[1:]) {
		return a, true
	}
	if strings.HasSuffix(b, a[1:]) {
		return b, true
	}
	return "", false
}

func mergeHosts(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range append(append([]string(nil), a...), b...) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
