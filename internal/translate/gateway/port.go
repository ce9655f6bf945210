package gateway

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// unit is one ALB rule to make: one match of one rule of a route, for one
// hostname, through one listener; or a listener's catch-all.
type unit struct {
	a    *attachment
	l    *listener
	ri   *ruleInfo
	mi   *matchInfo
	host string
	// catchAll is the rule that answers 404 for a listener's hostname
	// after its routes, so that a less specific listener on the port does
	// not take its requests (listener isolation).
	catchAll bool
}

// hostRank orders hostnames from most to least specific: concrete names
// (more labels first, then longer), wildcards (more labels first, then
// longer), none.
func hostRank(h string) (class, labels, length int) {
	switch {
	case h == "":
		return 2, 0, 0
	case strings.HasPrefix(h, "*."):
		return 1, -strings.Count(h, "."), -len(h)
	}
	return 0, -strings.Count(h, "."), -len(h)
}

func cmpHost(a, b string) int {
	ac, al, an := hostRank(a)
	bc, bl, bn := hostRank(b)
	switch {
	case ac != bc:
		return ac - bc
	case al != bl:
		return al - bl
	case an != bn:
		return an - bn
	}
	return strings.Compare(a, b)
}

// less orders units by precedence: the listener's hostname (so that each
// listener's rules and its catch-all come before those of less specific
// listeners), the rule's hostname, then the Gateway API's order of
// matches (path match type, path length, method, headers, query
// parameters), then the oldest route, the route's namespace and name, the
// rule and match index.
func less(x, y *unit) bool {
	if c := cmpHost(x.l.hostname, y.l.hostname); c != 0 {
		return c < 0
	}
	if x.catchAll != y.catchAll {
		return y.catchAll
	}
	if x.catchAll {
		return false
	}
	if c := cmpHost(x.host, y.host); c != 0 {
		return c < 0
	}
	p, q := x.mi.prec, y.mi.prec
	switch {
	case p.pathType != q.pathType:
		return p.pathType > q.pathType
	case p.primary != q.primary:
		return p.primary > q.primary
	case p.secondary != q.secondary:
		return p.secondary > q.secondary
	case p.method != q.method:
		return p.method
	case p.headers != q.headers:
		return p.headers > q.headers
	case p.queries != q.queries:
		return p.queries > q.queries
	}
	xm, ym := x.a.r.meta, y.a.r.meta
	if !xm.CreationTimestamp.Equal(&ym.CreationTimestamp) {
		return xm.CreationTimestamp.Before(&ym.CreationTimestamp)
	}
	if x.a.r.ref.Key() != y.a.r.ref.Key() {
		return x.a.r.ref.Key() < y.a.r.ref.Key()
	}
	if x.a.r.kind != y.a.r.kind {
		return x.a.r.kind < y.a.r.kind
	}
	if x.ri.idx != y.ri.idx {
		return x.ri.idx < y.ri.idx
	}
	return x.mi.idx < y.mi.idx
}

// buildPort builds the ALB listener of a port and its rules.
func (b *gwBuilder) buildPort(port int32, atts []*attachment) error {
	var ls []*listener
	for _, l := range b.listeners {
		if l.port == port && l.usable() {
			ls = append(ls, l)
		}
	}
	proto := stack.Protocol(ls[0].protocol)
	lcfg := listenerConfig(&b.cfg.spec, string(proto), port)
	spec := stack.ListenerSpec{LoadBalancerARN: b.lb.ARN(), Port: port, Protocol: proto, DefaultActions: []stack.Action{fixed("404")}, Tags: b.lbTags}
	if lcfg != nil {
		for _, a := range lcfg.ListenerAttributes {
			spec.ListenerAttributes = append(spec.ListenerAttributes, stack.ListenerAttribute{Key: a.Key, Value: a.Value})
		}
		if lcfg.ALPNPolicy != nil || lcfg.QuicEnabled != nil || lcfg.TargetGroupStickiness != nil {
			b.trace.Add(translate.Warning, b.ref, "%s listenerConfiguration %s: alpnPolicy, quicEnabled and targetGroupStickiness apply to Network Load Balancer listeners; ignored", kindLBC, lcfg.ProtocolPort)
		}
	}
	if proto == stack.ProtocolHTTPS {
		certs, err := b.certificates(proto, port, ls, lcfg, atts)
		if err != nil {
			for _, l := range ls {
				l.unprogrammable = err.Error()
			}
			return nil
		}
		spec.Certificates = certs
		policy := b.opts.DefaultSSLPolicy
		if lcfg != nil && lcfg.SslPolicy != nil {
			policy = *lcfg.SslPolicy
		}
		spec.SSLPolicy = &policy
		if lcfg != nil && lcfg.MutualAuthentication != nil {
			ma, err := b.mutualAuthentication(lcfg)
			if err != nil {
				return err
			}
			spec.MutualAuthentication = ma
		}
	} else if lcfg != nil && (lcfg.DefaultCertificate != nil || len(lcfg.Certificates) > 0 || lcfg.SslPolicy != nil || lcfg.MutualAuthentication != nil) {
		b.trace.Add(translate.Warning, b.ref, "%s listenerConfiguration %s: certificates, sslPolicy and mutualAuthentication apply to HTTPS listeners; ignored on HTTP:%d", kindLBC, lcfg.ProtocolPort, port)
	}
	lsn := &stack.Listener{ResID: strconv.Itoa(int(port)), Spec: spec}
	if err := b.stack.Add(lsn); err != nil {
		return err
	}
	return b.buildRules(lsn, ls, atts)
}

func fixed(code string) stack.Action {
	return stack.Action{Type: stack.ActionTypeFixedResponse, FixedResponseConfig: &stack.FixedResponseConfig{ContentType: ptrTo("text/plain"), StatusCode: code}}
}

// certificates returns an HTTPS or TLS listener's certificates: those of the
// LoadBalancerConfiguration's listenerConfiguration (its default first),
// then those of the Gateway listeners' certificateRefs; without either,
// the ACM certificates whose names match the listeners' and routes'
// hostnames.
func (b *gwBuilder) certificates(proto stack.Protocol, port int32, ls []*listener, lcfg *v1beta1.ListenerConfiguration, atts []*attachment) ([]stack.Certificate, error) {
	var out []stack.Certificate
	seen := map[string]bool{}
	add := func(t stack.Token) {
		if !seen[t.String()] {
			seen[t.String()] = true
			out = append(out, stack.Certificate{CertificateARN: t})
		}
	}
	if lcfg != nil {
		if lcfg.DefaultCertificate != nil {
			add(stack.Literal(*lcfg.DefaultCertificate))
		}
		for _, c := range lcfg.Certificates {
			if c != nil {
				add(stack.Literal(*c))
			}
		}
	}
	for _, l := range ls {
		for _, c := range l.certs {
			t, err := b.importedCertificate(c)
			if err != nil {
				return nil, err
			}
			add(t)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	hosts := map[string]bool{}
	for _, l := range ls {
		if l.hostname != "" {
			hosts[l.hostname] = true
		}
		for _, a := range atts {
			for _, h := range a.hosts[l] {
				if h != "" {
					hosts[h] = true
				}
			}
		}
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("no certificate for %s:%d: no listener has certificateRefs, no %s listenerConfiguration names one, and there is no hostname to discover one by", proto, port, kindLBC)
	}
	arns, err := b.cloud.DiscoverCertificates(translate.SortedKeys(hosts))
	if err != nil {
		return nil, fmt.Errorf("no certificate for %s:%d: %v", proto, port, err)
	}
	b.decide(fmt.Sprintf("certificates of %s:%d", proto, port), strings.Join(arns, ", "), "discovered in ACM by the hostnames %s", strings.Join(translate.SortedKeys(hosts), ", "))
	for _, a := range arns {
		add(stack.Literal(a))
	}
	return out, nil
}

// mutualAuthentication is an HTTPS listener's mutual TLS setting.
func (b *gwBuilder) mutualAuthentication(lcfg *v1beta1.ListenerConfiguration) (*stack.MutualAuthentication, error) {
	m := lcfg.MutualAuthentication
	out := &stack.MutualAuthentication{Mode: string(m.Mode)}
	if m.Mode == v1beta1.MutualAuthenticationVerifyMode {
		ts := *m.TrustStore
		if !strings.HasPrefix(ts, "arn:") {
			arn, err := b.cloud.LookupARN("trust store", b.opts.References.TrustStores, ts, func() string {
				return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:truststore/%s/%s", b.cloud.Region(), b.cloud.Account(), ts, translate.Trunc(translate.Hash(ts), 16))
			}, translate.Source{Object: b.ref, Field: kindLBC + " listenerConfigurations " + string(lcfg.ProtocolPort) + " mutualAuthentication.trustStore"}, b.trace)
			if err != nil {
				return nil, err
			}
			ts = arn
		}
		out.TrustStoreArn = &ts
		ignore := false
		if m.IgnoreClientCertificateExpiry != nil {
			ignore = *m.IgnoreClientCertificateExpiry
		}
		out.IgnoreClientCertificateExpiry = &ignore
		if m.AdvertiseTrustStoreCaNames != nil {
			out.AdvertiseTrustStoreCaNames = ptrTo(string(*m.AdvertiseTrustStoreCaNames))
		}
	}
	return out, nil
}

// buildRules makes the ALB rules of a port from the routes attached to its
// listeners, in precedence order, priorities 1, 2, 3…
func (b *gwBuilder) buildRules(lsn *stack.Listener, ls []*listener, atts []*attachment) error {
	var units []*unit
	seen := map[string]bool{}
	onPort := map[*listener]bool{}
	for _, l := range ls {
		onPort[l] = true
	}
	// A match reachable through two listeners is kept for the most
	// specific one (listeners are visited most specific first).
	for _, a := range atts {
		for _, l := range sortedListeners(a.hosts) {
			if !onPort[l] {
				continue
			}
			for _, h := range a.hosts[l] {
				for _, ri := range b.t.analyze(a.r).rules {
					if ri.dropped != "" {
						continue
					}
					for _, mi := range ri.matches {
						u := &unit{a: a, l: l, ri: ri, mi: mi, host: h}
						k := fmt.Sprintf("%s/%d/%d/%s", a.r.key(), ri.idx, mi.idx, h)
						if seen[k] {
							continue
						}
						seen[k] = true
						units = append(units, u)
					}
				}
			}
		}
	}
	// Listener isolation: a listener with a hostname that a less specific
	// listener of the port also covers gets a catch-all after its routes.
	for _, l := range ls {
		if l.hostname == "" {
			continue
		}
		for _, o := range ls {
			if o != l && (o.hostname == "" || (strings.HasPrefix(o.hostname, "*.") && o.hostname != l.hostname && strings.HasSuffix(l.hostname, o.hostname[1:]))) {
				units = append(units, &unit{l: l, host: l.hostname, catchAll: true})
				break
			}
		}
	}
	sort.SliceStable(units, func(i, j int) bool { return less(units[i], units[j]) })
	prio := int32(1)
	for _, u := range units {
		r, err := b.rule(lsn, u, prio)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		if err := b.stack.Add(r); err != nil {
			return err
		}
		prio++
	}
	if n := int(prio) - 1; n > maxRulesPerListener {
		b.trace.Add(translate.Warning, b.ref, "listener %s:%d has %d rules; an ALB listener takes %d by default (quota rules-per-application-load-balancer, adjustable)", lsn.Spec.Protocol, lsn.Spec.Port, n, maxRulesPerListener)
	}
	return nil
}

func sortedListeners(m map[*listener][]string) []*listener {
	out := make([]*listener, 0, len(m))
	for l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := cmpHost(out[i].hostname, out[j].hostname); c != 0 {
			return c < 0
		}
		return out[i].String() < out[j].String()
	})
	return out
}

// rule makes the ALB rule of a unit; nil when the unit cannot be served
// on this listener (the route's status says why).
func (b *gwBuilder) rule(lsn *stack.Listener, u *unit, prio int32) (*stack.ListenerRule, error) {
	id := fmt.Sprintf("%d:%d", lsn.Spec.Port, prio)
	host, w, err := hostCondition(u.host)
	if u.catchAll {
		if err != nil {
			return nil, nil
		}
		return &stack.ListenerRule{ResID: id, Spec: stack.ListenerRuleSpec{ListenerARN: lsn.ARN(), Priority: prio,
			Actions: []stack.Action{fixed("404")}, Conditions: []stack.Condition{host}}}, nil
	}
	c := conds{}
	if u.host != "" {
		if err != nil {
			b.dropUnit(u, err.Error())
			return nil, nil
		}
		c.add(host, 1, w)
	}
	c.list = append(c.list, u.mi.conds.list...)
	c.values += u.mi.conds.values
	c.wildcards += u.mi.conds.wildcards
	if err := c.check(0, 0); err != nil {
		b.dropUnit(u, err.Error())
		return nil, nil
	}
	actions, err := b.actions(lsn, u)
	if err != nil {
		return nil, err
	}
	if actions == nil {
		return nil, nil
	}
	spec := stack.ListenerRuleSpec{ListenerARN: lsn.ARN(), Priority: prio, Actions: actions, Conditions: c.list, Transforms: b.transforms(u)}
	if u.ri.lrc != nil && u.ri.lrc.Spec.Tags != nil {
		tags, err := b.tags(u.ri.lrc.Spec.Tags, kindLRC)
		if err != nil {
			return nil, err
		}
		spec.Tags = tags
	}
	return &stack.ListenerRule{ResID: id, Spec: spec}, nil
}

// dropUnit records that a match cannot be served on a listener.
func (b *gwBuilder) dropUnit(u *unit, msg string) {
	r := u.a.r
	full := fmt.Sprintf("%s match %d (host %q) on %s:%d: %s", u.ri.label(), u.mi.idx, u.host, u.l.protocol, u.l.port, msg)
	b.trace.Add(translate.Error, r.ref, "left out %s", full)
	for _, i := range u.a.parents {
		m := b.t.status.routes[r.key()]
		ps := m[i]
		c := findCondition(ps.Conditions, string(gwv1.RouteConditionPartiallyInvalid))
		if c == nil {
			ps.Conditions = append(ps.Conditions, cond(string(gwv1.RouteConditionPartiallyInvalid), metav1.ConditionTrue, string(gwv1.RouteReasonUnsupportedValue), "Dropped Rule(s): "+full, r.meta.Generation))
		} else if !strings.Contains(c.Message, full) {
			c.Message += "; " + full
		}
		m[i] = ps
	}
}

// actions are a unit's actions: authentication first (HTTPS only), then
// the routing action.
func (b *gwBuilder) actions(lsn *stack.Listener, u *unit) ([]stack.Action, error) {
	ri := u.ri
	if ri.fail500 != "" {
		return []stack.Action{fixed("500")}, nil
	}
	var out []stack.Action
	if ri.auth != nil {
		if lsn.Spec.Protocol != stack.ProtocolHTTPS {
			// Serving the rule without its authentication would expose
			// what it protects: leave it out of the HTTP listener.
			b.dropUnit(u, fmt.Sprintf("the %s action of %s %s needs an HTTPS listener (ALB authenticates on HTTPS listeners only), so the rule is not served unauthenticated here", ri.auth.Type, kindLRC, ri.lrc.Name))
			return nil, nil
		}
		out = append(out, *ri.auth)
	}
	var routing *v1beta1.Action
	if ri.lrc != nil {
		routing = lrcRouting(ri.lrc)
	}
	switch {
	case ri.redirect != nil:
		rc, err := redirect(ri.redirect, lsn.Spec.Protocol, lsn.Spec.Port)
		if err != nil {
			b.dropUnit(u, err.Error())
			return nil, nil
		}
		if routing != nil && routing.RedirectConfig != nil {
			rc.Query = routing.RedirectConfig.Query
		}
		return append(out, stack.Action{Type: stack.ActionTypeRedirect, RedirectConfig: rc}), nil
	case routing != nil && routing.Type == v1beta1.ActionTypeFixedResponse:
		f := routing.FixedResponseConfig
		return append(out, stack.Action{Type: stack.ActionTypeFixedResponse, FixedResponseConfig: &stack.FixedResponseConfig{
			ContentType: f.ContentType, MessageBody: f.MessageBody, StatusCode: strconv.Itoa(int(f.StatusCode))}}), nil
	}
	fwd, err := b.forward(lsn, u)
	if err != nil {
		return nil, err
	}
	if fwd == nil {
		return append(out, fixed("500")), nil
	}
	if routing != nil && routing.ForwardConfig != nil && routing.ForwardConfig.TargetGroupStickinessConfig != nil {
		s := routing.ForwardConfig.TargetGroupStickinessConfig
		fwd.TargetGroupStickinessConfig = &stack.TargetGroupStickinessConfig{Enabled: s.Enabled, DurationSeconds: s.DurationSeconds}
	}
	return append(out, stack.Action{Type: stack.ActionTypeForward, ForwardConfig: fwd}), nil
}

// forward is a unit's forward action, nil when no backend can take
// traffic (the rule then answers 500).
func (b *gwBuilder) forward(lsn *stack.Listener, u *unit) (*stack.ForwardConfig, error) {
	return b.weightedForward(u.a, u.ri, func(be *backend) (stack.Token, error) {
		if lsn.Spec.Protocol == stack.ProtocolHTTP && isH2C(be) {
			return stack.Token{}, errSkip
		}
		return b.targetGroup(u.a.r, be, lsn.Spec.Protocol)
	})
}

// errSkip leaves a backend out of a forward action without an error.
var errSkip = errors.New("skipped")

// weightedForward is the forward action to the target groups of a rule's
// usable backends (tg makes each one's), weights summed per target group
// and scaled to 0-999 keeping their proportions; nil when no backend can
// take traffic. A backend whose target group fails is reported on the
// route.
func (b *gwBuilder) weightedForward(a *attachment, ri *ruleInfo, tg func(*backend) (stack.Token, error)) (*stack.ForwardConfig, error) {
	type tgw struct {
		tok    stack.Token
		weight int64
	}
	var tgs []*tgw
	byTok := map[string]*tgw{}
	for _, be := range ri.backends {
		if be.bad != nil || be.weight == 0 {
			continue
		}
		tok, err := tg(be)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			b.backendFailed(a, be, err)
			continue
		}
		if x, ok := byTok[tok.String()]; ok {
			x.weight += int64(be.weight)
			continue
		}
		x := &tgw{tok: tok, weight: int64(be.weight)}
		byTok[tok.String()] = x
		tgs = append(tgs, x)
	}
	if len(tgs) == 0 {
		return nil, nil
	}
	var max int64
	for _, x := range tgs {
		if x.weight > max {
			max = x.weight
		}
	}
	out := &stack.ForwardConfig{}
	for _, x := range tgs {
		w := x.weight
		if max > maxWeight {
			w = int64(math.Round(float64(w) * maxWeight / float64(max)))
			if w == 0 {
				w = 1
			}
		}
		out.TargetGroups = append(out.TargetGroups, stack.TargetGroupTuple{TargetGroupARN: x.tok, Weight: ptrTo(int32(w))})
	}
	if max > maxWeight {
		b.trace.Add(translate.Warning, a.r.ref, "%s: backend weights scaled to the 0-%d range of target group weights, keeping their proportions", ri.label(), maxWeight)
	}
	return out, nil
}

// backendFailed records a backend this Gateway cannot target (a
// target group error): the route's parents get ResolvedRefs False.
func (b *gwBuilder) backendFailed(a *attachment, be *backend, err error) {
	r := a.r
	msg := fmt.Sprintf("backendRef %s: %v", be, err)
	b.trace.Add(translate.Error, r.ref, "%s", msg)
	for _, i := range a.parents {
		m := b.t.status.routes[r.key()]
		ps := m[i]
		c := findCondition(ps.Conditions, string(gwv1.RouteConditionResolvedRefs))
		switch {
		case c == nil:
		case c.Status == metav1.ConditionTrue:
			*c = cond(string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, reasonUnsupportedBackend, msg, r.meta.Generation)
		case !strings.Contains(c.Message, msg):
			c.Message += "; " + msg
		}
		m[i] = ps
	}
}

// redirect is the redirect action of a RequestRedirect filter on a
// listener. A scheme without a port redirects to the scheme's well-known
// port; without scheme or port, the port stays the request's.
func redirect(f *gwv1.HTTPRequestRedirectFilter, lproto stack.Protocol, lport int32) (*stack.RedirectConfig, error) {
	rc := &stack.RedirectConfig{StatusCode: "HTTP_302"}
	if f.StatusCode != nil {
		rc.StatusCode = fmt.Sprintf("HTTP_%d", *f.StatusCode)
	}
	changes := false
	if f.Scheme != nil {
		p := strings.ToUpper(*f.Scheme)
		if lproto == stack.ProtocolHTTPS && p == "HTTP" {
			return nil, fmt.Errorf("an ALB cannot redirect from HTTPS to HTTP")
		}
		rc.Protocol = &p
		changes = changes || stack.Protocol(p) != lproto
		if f.Port == nil {
			port := "80"
			if p == "HTTPS" {
				port = "443"
			}
			rc.Port = &port
			changes = changes || port != strconv.Itoa(int(lport))
		}
	}
	if f.Port != nil {
		port := strconv.Itoa(int(*f.Port))
		rc.Port = &port
		changes = changes || port != strconv.Itoa(int(lport))
	}
	if f.Hostname != nil {
		h := string(*f.Hostname)
		rc.Host = &h
		changes = true
	}
	if f.Path != nil && f.Path.ReplaceFullPath != nil {
		rc.Path = f.Path.ReplaceFullPath
		changes = true
	}
	if !changes {
		return nil, fmt.Errorf("the redirect keeps the scheme, host, port and path of the request, and an ALB refuses a redirect to the same URL")
	}
	return rc, nil
}

// transforms are a unit's URL rewrite transforms.
func (b *gwBuilder) transforms(u *unit) []stack.Transform {
	rw := u.ri.rewrite
	if rw == nil {
		return nil
	}
	var out []stack.Transform
	if rw.Hostname != nil {
		out = append(out, stack.Transform{Type: stack.TransformHostHeaderRewrite, HostHeaderRewriteConfig: &stack.RewriteConfig{
			Rewrites: []stack.Rewrite{{Regex: "^.*$", Replace: replacement(string(*rw.Hostname))}}}})
	}
	if p := rw.Path; p != nil {
		var re, repl string
		switch p.Type {
		case gwv1.FullPathHTTPPathModifier:
			re, repl = `^[^?]*`, replacement(*p.ReplaceFullPath)
		case gwv1.PrefixMatchHTTPPathModifier:
			re, repl = prefixRewrite(u.mi.prefix, *p.ReplacePrefixMatch)
		}
		if re != "" {
			out = append(out, stack.Transform{Type: stack.TransformURLRewrite, URLRewriteConfig: &stack.RewriteConfig{Rewrites: []stack.Rewrite{{Regex: re, Replace: repl}}}})
		}
	}
	return out
}

// prefixRewrite is the url-rewrite regular expression and replacement that
// replace a matched path prefix (element-wise, as PathPrefix matches) and
// keep the rest of the path and the query: "/prefix/one" with prefix
// "/prefix" and replacement "/new" becomes "/new/one"; a replacement "/"
// strips the prefix ("/prefix" becomes "/").
func prefixRewrite(prefix, repl string) (string, string) {
	p := prefix
	if p == "/" {
		p = ""
	}
	r := strings.TrimSuffix(repl, "/")
	if r == "" {
		return "^" + regexp.QuoteMeta(p) + `/?([^?]*)(\?.*)?$`, "/$1$2"
	}
	return "^" + regexp.QuoteMeta(p) + `([/?].*)?$`, replacement(r) + "$1"
}

// replacement escapes '$' in a literal rewrite replacement.
func replacement(s string) string { return strings.ReplaceAll(s, "$", "$$") }
