package gateway

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// Route condition reasons elbow adds to the spec's, for what the spec has
// no reason for.
const (
	// reasonInvalidLRC: a rule's ListenerRuleConfiguration is not valid.
	reasonInvalidLRC = "InvalidListenerRuleConfiguration"
	// reasonUnsupportedBackend: a backend the load balancer cannot target
	// (an ExternalName Service, a Service without a node port for
	// instance targets, …).
	reasonUnsupportedBackend = "UnsupportedBackend"
)

// problem is a reason and message for a route condition.
type problem struct {
	reason, msg string
}

// routeAnalysis is the check of a route's rules that does not depend on
// the Gateway: which rules an ALB can serve, and the references they
// make.
type routeAnalysis struct {
	rules []*ruleInfo
	// notAccepted is set when no rule can be served.
	notAccepted *problem
	// dropped are the rules left out, "rule N: why".
	dropped []string
	// refs are the unresolved references.
	refs []problem
}

// ruleInfo is one rule of a route.
type ruleInfo struct {
	idx  int
	name string
	// dropped says why the rule is not served ("" when it is).
	dropped       string
	droppedReason string
	matches       []*matchInfo
	redirect      *gwv1.HTTPRequestRedirectFilter
	rewrite       *gwv1.HTTPURLRewriteFilter
	lrc           *gwaws.ListenerRuleConfiguration
	// fail500 says the rule must answer 500: a filter it names cannot be
	// resolved.
	fail500  string
	backends []*backend
	// auth is the authenticate or JWT action of the rule's
	// ListenerRuleConfiguration, put before the routing action on HTTPS
	// listeners.
	auth *stack.Action
}

func (ri *ruleInfo) label() string {
	if ri.name != "" {
		return fmt.Sprintf("rule %d (%s)", ri.idx, ri.name)
	}
	return fmt.Sprintf("rule %d", ri.idx)
}

// matchInfo is one match of a rule: its conditions (but the host) and its
// precedence.
type matchInfo struct {
	idx   int
	conds conds
	prec  precedence
	// prefix is the path prefix matched (trimmed), for URLRewrite.
	prefix string
}

// precedence holds the specificity of a match, as the Gateway API orders
// matches: path match type, path length (gRPC: service length, then
// method length), method, header count, query parameter count.
type precedence struct {
	pathType  int
	primary   int
	secondary int
	method    bool
	headers   int
	queries   int
}

// backend is a backendRef of a rule, resolved.
type backend struct {
	ref    gwv1.BackendRef
	weight int32
	svc    *corev1.Service
	port   *corev1.ServicePort
	// tgName is a backend of kind TargetGroupName.
	tgName string
	// gateway is a backend of kind Gateway: an ALB Gateway an NLB
	// forwards to (target type alb), albARN its load balancer.
	gateway *gwv1.Gateway
	albARN  string
	// bad says why the backend cannot be used.
	bad *problem
}

func (be *backend) String() string {
	ns := ""
	if be.ref.Namespace != nil {
		ns = string(*be.ref.Namespace) + "/"
	}
	p := ""
	if be.ref.Port != nil {
		p = fmt.Sprintf(":%d", *be.ref.Port)
	}
	return fmt.Sprintf("%s %s%s%s", deref(be.ref.Kind), ns, be.ref.Name, p)
}

// analyze checks a route's rules once.
func (t *translator) analyze(r *route) *routeAnalysis {
	if r.analysis != nil {
		return r.analysis
	}
	a := &routeAnalysis{}
	switch r.kind {
	case kindHTTPRoute:
		for i := range r.http.Spec.Rules {
			a.rules = append(a.rules, t.httpRule(r, i, &r.http.Spec.Rules[i], a))
		}
	case kindGRPCRoute:
		for i := range r.grpc.Spec.Rules {
			a.rules = append(a.rules, t.grpcRule(r, i, &r.grpc.Spec.Rules[i], a))
		}
	default:
		for i := range r.l4Rules {
			a.rules = append(a.rules, t.l4Rule(r, i, &r.l4Rules[i], a))
		}
	}
	valid := 0
	reason := string(gwv1.RouteReasonUnsupportedValue)
	for _, ri := range a.rules {
		if ri.dropped == "" {
			valid++
			continue
		}
		a.dropped = append(a.dropped, ri.label()+": "+ri.dropped)
		if ri.droppedReason == string(gwv1.RouteReasonIncompatibleFilters) {
			reason = ri.droppedReason
		}
	}
	if valid == 0 && len(a.rules) > 0 {
		a.notAccepted = &problem{reason: reason, msg: "No rule can be served: " + strings.Join(a.dropped, "; ")}
	}
	r.analysis = a
	return a
}

func (ri *ruleInfo) drop(reason, format string, args ...any) {
	if ri.dropped == "" {
		ri.dropped, ri.droppedReason = fmt.Sprintf(format, args...), reason
	}
}

func (ri *ruleInfo) unsupported(format string, args ...any) {
	ri.drop(string(gwv1.RouteReasonUnsupportedValue), format, args...)
}

// unsupportedFilter drops a rule for a filter ALB cannot apply.
func (ri *ruleInfo) unsupportedFilter(typ string) {
	switch gwv1.HTTPRouteFilterType(typ) {
	case gwv1.HTTPRouteFilterRequestHeaderModifier:
		ri.unsupported("RequestHeaderModifier is not supported: ALB rules cannot add, set or remove request headers")
	case gwv1.HTTPRouteFilterResponseHeaderModifier:
		ri.unsupported("ResponseHeaderModifier is not supported: ALB rules cannot change response headers (listener attributes set a few response headers for the whole listener only)")
	case gwv1.HTTPRouteFilterRequestMirror:
		ri.unsupported("RequestMirror is not supported: ALB does not mirror requests")
	case gwv1.HTTPRouteFilterCORS:
		ri.unsupported("CORS is not supported: ALB rules cannot answer preflight requests or add CORS headers per route")
	default:
		ri.unsupported("filter type %q is not supported", typ)
	}
}

// checkConfigurationRefs drops a rule with more than one
// ListenerRuleConfiguration ExtensionRef.
func (ri *ruleInfo) checkConfigurationRefs(n int) {
	if n > 1 {
		ri.drop(string(gwv1.RouteReasonIncompatibleFilters), "at most one ListenerRuleConfiguration ExtensionRef per rule")
	}
}

func (t *translator) httpRule(r *route, i int, rule *gwv1.HTTPRouteRule, a *routeAnalysis) *ruleInfo {
	ri := &ruleInfo{idx: i}
	if rule.Name != nil {
		ri.name = string(*rule.Name)
	}
	switch {
	case rule.Timeouts != nil:
		ri.unsupported("timeouts are not supported: an ALB has one idle timeout for the whole load balancer (attribute idle_timeout.timeout_seconds), no per-rule request timeout")
	case rule.Retry != nil:
		ri.unsupported("retry is not supported: ALB does not retry requests")
	case rule.SessionPersistence != nil:
		ri.unsupported("sessionPersistence is not supported per rule: ALB stickiness is a target group attribute (stickiness.* in a TargetGroupConfiguration)")
	}
	var lrcRefs int
	for _, f := range rule.Filters {
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestRedirect:
			ri.redirect = f.RequestRedirect
		case gwv1.HTTPRouteFilterURLRewrite:
			ri.rewrite = f.URLRewrite
		case gwv1.HTTPRouteFilterExtensionRef:
			lrcRefs++
			t.extensionRef(r, ri, f.ExtensionRef, a)
		default:
			ri.unsupportedFilter(string(f.Type))
		}
	}
	ri.checkConfigurationRefs(lrcRefs)
	if ri.redirect != nil && ri.rewrite != nil {
		ri.drop(string(gwv1.RouteReasonIncompatibleFilters), "RequestRedirect and URLRewrite cannot be combined")
	}
	if ri.redirect != nil && len(rule.BackendRefs) > 0 {
		ri.drop(string(gwv1.RouteReasonIncompatibleFilters), "RequestRedirect cannot be combined with backendRefs")
	}
	if ri.redirect != nil {
		t.checkRedirect(ri)
	}
	if ri.lrc != nil {
		routing := lrcRouting(ri.lrc)
		switch {
		case routing != nil && routing.Type == v1beta1.ActionTypeRedirect && ri.redirect == nil:
			ri.drop(string(gwv1.RouteReasonIncompatibleFilters), "ListenerRuleConfiguration %s has a redirect action, which needs a RequestRedirect filter on the rule (the configuration adds only the query)", ri.lrc.Name)
		case routing != nil && routing.Type == v1beta1.ActionTypeFixedResponse && ri.redirect != nil:
			ri.drop(string(gwv1.RouteReasonIncompatibleFilters), "ListenerRuleConfiguration %s answers with a fixed response, which conflicts with the RequestRedirect filter", ri.lrc.Name)
		}
	}
	addMatches(ri, rule.Matches, httpMatchConditions)
	if rw := ri.rewrite; rw != nil && rw.Path != nil && rw.Path.Type == gwv1.PrefixMatchHTTPPathModifier {
		for _, m := range ri.matches {
			if m.prefix == "" {
				ri.unsupported("URLRewrite ReplacePrefixMatch needs PathPrefix matches")
			}
		}
	}
	refs := make([]gwv1.BackendRef, len(rule.BackendRefs))
	filtered := false
	for k, br := range rule.BackendRefs {
		refs[k], filtered = br.BackendRef, filtered || len(br.Filters) > 0
	}
	t.finishRule(r, ri, a, refs, filtered)
	return ri
}

// l4Rule checks a rule of a TCPRoute, UDPRoute or TLSRoute: its backends.
func (t *translator) l4Rule(r *route, i int, rule *l4Rule, a *routeAnalysis) *ruleInfo {
	ri := &ruleInfo{idx: i}
	if rule.name != nil {
		ri.name = string(*rule.name)
	}
	for _, br := range rule.backendRefs {
		ri.backends = append(ri.backends, t.resolveBackend(r, br, a))
	}
	return ri
}

func (t *translator) grpcRule(r *route, i int, rule *gwv1.GRPCRouteRule, a *routeAnalysis) *ruleInfo {
	ri := &ruleInfo{idx: i}
	if rule.Name != nil {
		ri.name = string(*rule.Name)
	}
	if rule.SessionPersistence != nil {
		ri.unsupported("sessionPersistence is not supported per rule: ALB stickiness is a target group attribute (stickiness.* in a TargetGroupConfiguration)")
	}
	var lrcRefs int
	for _, f := range rule.Filters {
		switch f.Type {
		case gwv1.GRPCRouteFilterExtensionRef:
			lrcRefs++
			t.extensionRef(r, ri, f.ExtensionRef, a)
		default:
			ri.unsupportedFilter(string(f.Type))
		}
	}
	ri.checkConfigurationRefs(lrcRefs)
	if ri.lrc != nil {
		if routing := lrcRouting(ri.lrc); routing != nil && routing.Type == v1beta1.ActionTypeRedirect {
			ri.drop(string(gwv1.RouteReasonIncompatibleFilters), "ListenerRuleConfiguration %s has a redirect action, which a GRPCRoute cannot use", ri.lrc.Name)
		}
	}
	addMatches(ri, rule.Matches, grpcMatchConditions)
	refs := make([]gwv1.BackendRef, len(rule.BackendRefs))
	filtered := false
	for k, br := range rule.BackendRefs {
		refs[k], filtered = br.BackendRef, filtered || len(br.Filters) > 0
	}
	t.finishRule(r, ri, a, refs, filtered)
	return ri
}

// addMatches adds the conditions of a rule's matches, dropping the rule
// when one cannot be expressed.
func addMatches[M any](ri *ruleInfo, matches []M, conditions func(*M, *matchInfo) error) {
	for j := range matches {
		mi := &matchInfo{idx: j}
		if err := conditions(&matches[j], mi); err != nil {
			ri.unsupported("match %d: %v", j, err)
			continue
		}
		ri.matches = append(ri.matches, mi)
	}
}

// finishRule resolves a rule's backends and its ListenerRuleConfiguration
// conditions; filtered tells whether a backendRef has filters.
func (t *translator) finishRule(r *route, ri *ruleInfo, a *routeAnalysis, refs []gwv1.BackendRef, filtered bool) {
	if filtered {
		ri.unsupported("backendRef filters are not supported: ALB applies no filter per target group")
	}
	for _, br := range refs {
		ri.backends = append(ri.backends, t.resolveBackend(r, br, a))
	}
	t.checkBackends(ri)
	t.lrcConditions(ri)
}

// httpMatchConditions builds the conditions of an HTTPRoute match (but the
// host), keeping a host value free, within ALB's limits.
func httpMatchConditions(m *gwv1.HTTPRouteMatch, mi *matchInfo) error {
	c := &mi.conds
	if err := pathCondition(m.Path, c); err != nil {
		return err
	}
	switch *m.Path.Type {
	case gwv1.PathMatchExact:
		mi.prec.pathType = 3
	case gwv1.PathMatchPathPrefix:
		mi.prec.pathType = 2
		mi.prefix = strings.TrimSuffix(*m.Path.Value, "/")
		if mi.prefix == "" {
			mi.prefix = "/"
		}
	case gwv1.PathMatchRegularExpression:
		mi.prec.pathType = 1
	}
	mi.prec.primary = len(*m.Path.Value)
	if mi.prefix != "" {
		// A trailing '/' does not make a prefix more specific: "/a/" is "/a".
		mi.prec.primary = len(mi.prefix)
	}
	for _, h := range m.Headers {
		if err := headerCondition(string(h.Name), h.Value, *h.Type == gwv1.HeaderMatchRegularExpression, c); err != nil {
			return err
		}
	}
	mi.prec.headers = len(m.Headers)
	for _, q := range m.QueryParams {
		if err := queryCondition(q, c); err != nil {
			return err
		}
	}
	mi.prec.queries = len(m.QueryParams)
	if m.Method != nil {
		c.add(stack.Condition{Field: stack.ConditionHTTPRequestMethod, HTTPRequestMethodConfig: &stack.MethodConfig{Values: []string{string(*m.Method)}}}, 1, 0)
		mi.prec.method = true
	}
	return fitRule(c)
}

// fitRule checks a rule's conditions, with room for a wildcard host, and
// compacts a prefix path to one regular expression when that makes it fit.
func fitRule(c *conds) error {
	if c.check(1, 1) == nil {
		return nil
	}
	if compactPrefix(c) && c.check(1, 1) == nil {
		return nil
	}
	return c.check(1, 1)
}

func grpcMatchConditions(m *gwv1.GRPCRouteMatch, mi *matchInfo) error {
	c := &mi.conds
	if err := grpcPathCondition(m.Method, c); err != nil {
		return err
	}
	if mm := m.Method; mm != nil {
		mi.prec.pathType = 3
		if *mm.Type == gwv1.GRPCMethodMatchRegularExpression {
			mi.prec.pathType = 1
		}
		if mm.Service != nil {
			mi.prec.primary = len(*mm.Service)
		}
		if mm.Method != nil {
			mi.prec.secondary = len(*mm.Method)
		}
	}
	for _, h := range m.Headers {
		if err := headerCondition(string(h.Name), h.Value, *h.Type == gwv1.GRPCHeaderMatchRegularExpression, c); err != nil {
			return err
		}
	}
	mi.prec.headers = len(m.Headers)
	return fitRule(c)
}

// checkRedirect refuses the redirects an ALB cannot make.
func (t *translator) checkRedirect(ri *ruleInfo) {
	f := ri.redirect
	if f.StatusCode != nil && *f.StatusCode != 301 && *f.StatusCode != 302 {
		ri.unsupported("RequestRedirect statusCode %d is not supported: ALB redirects answer 301 or 302 only", *f.StatusCode)
	}
	if f.Scheme != nil && *f.Scheme != "http" && *f.Scheme != "https" {
		ri.unsupported("RequestRedirect scheme %q: want http or https", *f.Scheme)
	}
	if p := f.Path; p != nil {
		switch p.Type {
		case gwv1.FullPathHTTPPathModifier:
		case gwv1.PrefixMatchHTTPPathModifier:
			ri.unsupported("RequestRedirect path ReplacePrefixMatch is not supported: an ALB redirect sets the whole path (or keeps it), it cannot replace a prefix")
		default:
			ri.unsupported("RequestRedirect path type %q: want ReplaceFullPath", p.Type)
		}
	}
	if f.Scheme == nil && f.Hostname == nil && f.Port == nil && f.Path == nil {
		ri.unsupported("RequestRedirect must change the scheme, hostname, port or path: an ALB refuses a redirect to the same URL")
	}
}

// checkBackends refuses rules with more target groups than a forward
// action takes.
func (t *translator) checkBackends(ri *ruleInfo) {
	n := 0
	for _, be := range ri.backends {
		if be.bad == nil && be.weight > 0 {
			n++
		}
	}
	if n > maxTargetGroupsPerAction {
		ri.unsupported("%d backends: an ALB forward action takes at most %d target groups", n, maxTargetGroupsPerAction)
	}
}

// resolveBackend resolves a backendRef as far as it does not depend on the
// Gateway: its kind, the ReferenceGrant it needs, the Service and port.
func (t *translator) resolveBackend(r *route, ref gwv1.BackendRef, a *routeAnalysis) *backend {
	be := &backend{ref: ref, weight: 1}
	if ref.Weight != nil {
		be.weight = *ref.Weight
	}
	fail := func(reason, format string, args ...any) *backend {
		be.bad = &problem{reason: reason, msg: fmt.Sprintf(format, args...)}
		a.refs = append(a.refs, *be.bad)
		return be
	}
	group, kind := deref(ref.Group), deref(ref.Kind)
	ns := r.ref.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	switch {
	case group == "" && kind == kindService:
	case kind == kindTargetGroupName:
		be.tgName = string(ref.Name)
		return be
	case group == groupGateway && kind == kindGateway && r.l4():
		return t.resolveGatewayBackend(r, be, ns, a)
	case group == groupGateway && kind == kindGateway:
		return fail(string(gwv1.RouteReasonInvalidKind), "backendRef %s: a Gateway backend (an NLB forwarding to an ALB) is for the TCPRoutes of NLB Gateways, not %ss", be, r.kind)
	case r.l4():
		return fail(string(gwv1.RouteReasonInvalidKind), "backendRef %s: kind %s/%s is not supported; want a Service, a %s or a Gateway (group %s)", be, group, kind, kindTargetGroupName, groupGateway)
	default:
		return fail(string(gwv1.RouteReasonInvalidKind), "backendRef %s: kind %s/%s is not supported; want a Service (or %s)", be, group, kind, kindTargetGroupName)
	}
	if ns != r.ref.Namespace && !t.x.granted(groupGateway, r.kind, r.ref.Namespace, "", kindService, ns, string(ref.Name)) {
		return fail(string(gwv1.RouteReasonRefNotPermitted), "backendRef %s: Service %s/%s is in another namespace and no ReferenceGrant there allows %s from %s to refer to it", be, ns, ref.Name, r.kind, r.ref.Namespace)
	}
	svc, ok := t.x.services[key(ns, string(ref.Name))]
	if !ok {
		return fail(string(gwv1.RouteReasonBackendNotFound), "backendRef %s: Service %s/%s not found", be, ns, ref.Name)
	}
	if ref.Port == nil {
		return fail(string(gwv1.RouteReasonUnsupportedValue), "backendRef %s: a Service backend needs a port", be)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return fail(reasonUnsupportedBackend, "backendRef %s: Service %s/%s is of type ExternalName; target groups take instances and IP addresses, not DNS names", be, ns, ref.Name)
	}
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == int32(*ref.Port) {
			be.svc, be.port = svc, &svc.Spec.Ports[i]
			return be
		}
	}
	return fail(string(gwv1.RouteReasonBackendNotFound), "backendRef %s: Service %s/%s has no port %d", be, ns, ref.Name, *ref.Port)
}

// extensionRef resolves a rule's ExtensionRef filter: a
// ListenerRuleConfiguration of the route's namespace. A filter that cannot
// be resolved makes the rule answer 500, as the spec requires.
func (t *translator) extensionRef(r *route, ri *ruleInfo, ref *gwv1.LocalObjectReference, a *routeAnalysis) {
	if ref == nil {
		ri.unsupported("ExtensionRef filter without extensionRef")
		return
	}
	fail := func(reason, format string, args ...any) {
		p := problem{reason: reason, msg: fmt.Sprintf(format, args...)}
		a.refs = append(a.refs, p)
		if ri.fail500 == "" {
			ri.fail500 = p.msg
		}
	}
	if string(ref.Group) != groupAWS || string(ref.Kind) != kindLRC {
		fail(string(gwv1.RouteReasonInvalidKind), "ExtensionRef %s/%s %s is not supported; want %s %s", ref.Group, ref.Kind, ref.Name, groupAWS, kindLRC)
		return
	}
	lrc, ok := t.x.lrcs[key(r.ref.Namespace, string(ref.Name))]
	if !ok {
		fail(string(gwv1.RouteReasonBackendNotFound), "ExtensionRef: %s %s/%s not found", kindLRC, r.ref.Namespace, ref.Name)
		return
	}
	if err := t.checkLRC(lrc); err != nil {
		fail(reasonInvalidLRC, "ExtensionRef: %s %s/%s is not valid: %v", kindLRC, lrc.Namespace, lrc.Name, err)
		return
	}
	ri.lrc = lrc
	auth, err := t.lrcAuth(lrc)
	if err != nil {
		fail(reasonInvalidLRC, "ExtensionRef: %s %s/%s: %v", kindLRC, lrc.Namespace, lrc.Name, err)
		ri.lrc = nil
		return
	}
	ri.auth = auth
}

// lrcConditions adds a ListenerRuleConfiguration's source-ip conditions to
// the matches they apply to.
func (t *translator) lrcConditions(ri *ruleInfo) {
	if ri.lrc == nil {
		return
	}
	for _, c := range ri.lrc.Spec.Conditions {
		if c.Field != v1beta1.ListenerRuleConditionFieldSourceIP || c.SourceIPConfig == nil {
			continue
		}
		for _, mi := range ri.matches {
			if c.MatchIndexes != nil && !containsInt(*c.MatchIndexes, mi.idx) {
				continue
			}
			vals := append([]string(nil), c.SourceIPConfig.Values...)
			mi.conds.add(stack.Condition{Field: stack.ConditionSourceIP, SourceIPConfig: &stack.SourceIPConfig{Values: vals}}, len(vals), 0)
			if len(vals) > maxValuesPerCondition {
				ri.unsupported("ListenerRuleConfiguration %s: %d source IPs in one condition, ALB takes at most %d", ri.lrc.Name, len(vals), maxValuesPerCondition)
			}
			if err := fitRule(&mi.conds); err != nil {
				ri.unsupported("match %d with the source-ip condition of ListenerRuleConfiguration %s: %v", mi.idx, ri.lrc.Name, err)
			}
		}
	}
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// diagnose adds a route's analysis to a trace.
func (a *routeAnalysis) diagnose(r *route, tr *translate.Trace) {
	for _, d := range a.dropped {
		tr.Add(translate.Error, r.ref, "left out %s", d)
	}
	for _, p := range a.refs {
		tr.Add(translate.Error, r.ref, "%s", p.msg)
	}
}
