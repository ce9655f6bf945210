package plan

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// WriteText writes the plan as a readable tree: each load balancer, its
// listeners and their rules in order, its target groups with their health
// checks and targets, then the diagnostics; with explain, where each
// decision came from.
func (p *Plan) WriteText(w io.Writer, explain bool) error {
	r := p.Report(explain)
	tw := &textWriter{w: w, p: p}
	if len(r.Stacks) == 0 {
		tw.line(0, "No load balancers: no Ingress, Service or Gateway in the input is handled by elbow.")
	}
	for i, s := range r.Stacks {
		if i > 0 {
			tw.line(0, "")
		}
		tw.stackReport(s, explain)
	}
	if len(r.Diagnostics) > 0 {
		tw.line(0, "")
		for _, sev := range []translate.Severity{translate.Error, translate.Warning, translate.Note} {
			for _, d := range r.Diagnostics {
				if d.Severity == sev {
					tw.line(0, "%s: %s: %s", strings.ToUpper(string(d.Severity)), d.Object, d.Message)
				}
			}
		}
	}
	return tw.err
}

type textWriter struct {
	w   io.Writer
	p   *Plan
	err error
}

func (t *textWriter) line(indent int, format string, args ...any) {
	if t.err != nil {
		return
	}
	_, t.err = fmt.Fprintf(t.w, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, args...))
}

func (t *textWriter) stackReport(s StackReport, explain bool) {
	switch s.Kind {
	case "IngressGroup":
		t.line(0, "IngressGroup %s", s.ID)
		if len(s.Members) > 0 {
			t.line(1, "members (in order): %s", strings.Join(s.Members, ", "))
		}
		if len(s.Failed) > 0 {
			t.line(1, "left out (see errors): %s", strings.Join(s.Failed, ", "))
		}
		if len(s.Inactive) > 0 {
			t.line(1, "leaving the group: %s", strings.Join(s.Inactive, ", "))
		}
	case "Gateway":
		t.line(0, "Gateway %s", s.ID)
		if s.DryRun {
			t.line(1, "dry run (annotation gateway.k8s.aws/dry-run): planned, not deployed")
		}
		t.gatewayStatus(s.ID)
	default:
		t.line(0, "Service %s", s.ID)
	}
	if s.Error != "" {
		t.line(1, "NOT BUILT: %s", s.Error)
	}
	st := s.Stack
	if st != nil {
		if len(st.LoadBalancers) == 0 {
			t.line(1, "no load balancer: everything the stack owns is deleted")
		}
		for _, id := range translate.SortedKeys(st.LoadBalancers) {
			t.loadBalancer(st, st.LoadBalancers[id])
		}
	}
	if explain && len(s.Decisions) > 0 {
		t.line(1, "why:")
		for _, d := range s.Decisions {
			t.line(2, "%s = %s", d.Subject, d.Value)
			t.line(3, "from: %s", d.Source)
		}
	}
}

func (t *textWriter) loadBalancer(st *stack.Stack, lb *stack.LoadBalancer) {
	s := lb.Spec
	kind := "ALB"
	if s.Type == stack.LoadBalancerTypeNetwork {
		kind = "NLB"
	}
	t.line(1, "%s %s (%s, %s)", kind, s.Name, s.Scheme, s.IPAddressType)
	var subnets []string
	for _, m := range s.SubnetMappings {
		x := m.SubnetID
		var extra []string
		if m.AllocationID != nil {
			extra = append(extra, "EIP "+*m.AllocationID)
		}
		if m.PrivateIPv4Address != nil {
			extra = append(extra, "IP "+*m.PrivateIPv4Address)
		}
		if m.IPv6Address != nil {
			extra = append(extra, "IPv6 "+*m.IPv6Address)
		}
		if len(extra) > 0 {
			x += " (" + strings.Join(extra, ", ") + ")"
		}
		subnets = append(subnets, x)
	}
	t.line(2, "subnets: %s", strings.Join(subnets, ", "))
	if len(s.SecurityGroups) > 0 {
		var sgs []string
		for _, tok := range s.SecurityGroups {
			sgs = append(sgs, t.token(st, tok))
		}
		t.line(2, "security groups: %s", strings.Join(sgs, ", "))
	}
	if len(s.LoadBalancerAttributes) > 0 {
		t.line(2, "attributes: %s", attrs(s.LoadBalancerAttributes))
	}
	if s.MinimumLoadBalancerCapacity != nil {
		t.line(2, "minimum capacity: %d units", s.MinimumLoadBalancerCapacity.CapacityUnits)
	}
	if s.CustomerOwnedIPv4Pool != nil {
		t.line(2, "customer-owned IPv4 pool: %s", *s.CustomerOwnedIPv4Pool)
	}
	if s.IPv4IPAMPool != nil {
		t.line(2, "IPAM IPv4 pool: %s", *s.IPv4IPAMPool)
	}
	t.line(2, "tags: %s", tags(st.ResourceTags(t.p.Options().ClusterName, lb, s.Tags)))
	for _, r := range st.WAFv2Associations {
		if r.Spec.WebACLARN == "" {
			t.line(2, "WAFv2: no web ACL (any association is removed)")
		} else {
			t.line(2, "WAFv2 web ACL: %s", r.Spec.WebACLARN)
		}
	}
	for _, r := range st.WAFRegionalAssociations {
		if r.Spec.WebACLID == "" {
			t.line(2, "WAF Classic: no web ACL (any association is removed)")
		} else {
			t.line(2, "WAF Classic web ACL: %s", r.Spec.WebACLID)
		}
	}
	for _, r := range st.ShieldProtections {
		t.line(2, "Shield Advanced protection: %v", r.Spec.Enabled)
	}
	for _, ls := range st.SortedListeners() {
		if ls.Spec.LoadBalancerARN.Ref.ID != lb.ResID {
			continue
		}
		t.listener(st, ls)
	}
	used := map[string]bool{}
	for _, ls := range st.Listeners {
		if ls.Spec.LoadBalancerARN.Ref.ID != lb.ResID {
			continue
		}
		for _, a := range ls.Spec.DefaultActions {
			markTGs(a, used)
		}
		for _, r := range st.RulesOf(ls) {
			for _, a := range r.Spec.Actions {
				markTGs(a, used)
			}
		}
	}
	for _, tg := range st.SortedTargetGroups() {
		if used[tg.ResID] {
			t.targetGroup(st, tg)
		}
	}
	if lb.ResID == stack.IDLoadBalancer {
		for _, sg := range st.SecurityGroups {
			t.securityGroup(sg)
		}
	}
}

func markTGs(a stack.Action, used map[string]bool) {
	if a.ForwardConfig == nil {
		return
	}
	for _, tg := range a.ForwardConfig.TargetGroups {
		if tg.TargetGroupARN.IsRef() {
			used[tg.TargetGroupARN.Ref.ID] = true
		}
	}
}

func (t *textWriter) token(st *stack.Stack, tok stack.Token) string {
	if !tok.IsRef() {
		return tok.Value
	}
	switch tok.Ref.Type {
	case stack.TypeSecurityGroup:
		if sg, ok := st.SecurityGroups[tok.Ref.ID]; ok {
			return sg.Spec.GroupName + " (managed)"
		}
	case stack.TypeTargetGroup:
		if tg, ok := st.TargetGroups[tok.Ref.ID]; ok {
			return tg.Spec.Name
		}
	case stack.TypeLoadBalancer:
		if lb, ok := st.LoadBalancers[tok.Ref.ID]; ok {
			return lb.Spec.Name
		}
	}
	return tok.String()
}

func (t *textWriter) listener(st *stack.Stack, ls *stack.Listener) {
	s := ls.Spec
	t.line(2, "listener %s:%d", s.Protocol, s.Port)
	if len(s.Certificates) > 0 {
		var certs []string
		for i, c := range s.Certificates {
			x := t.certificate(st, c.CertificateARN)
			if i == 0 {
				x += " (default)"
			}
			certs = append(certs, x)
		}
		t.line(3, "certificates: %s", strings.Join(certs, ", "))
	}
	if s.SSLPolicy != nil {
		t.line(3, "ssl policy: %s", *s.SSLPolicy)
	}
	if len(s.ALPNPolicy) > 0 {
		t.line(3, "ALPN policy: %s", strings.Join(s.ALPNPolicy, ", "))
	}
	if m := s.MutualAuthentication; m != nil {
		x := "mutual TLS: " + m.Mode
		if m.TrustStoreArn != nil && *m.TrustStoreArn != "" {
			x += ", trust store " + *m.TrustStoreArn
		}
		t.line(3, "%s", x)
	}
	if len(s.ListenerAttributes) > 0 {
		var parts []string
		for _, a := range s.ListenerAttributes {
			parts = append(parts, a.Key+"="+a.Value)
		}
		t.line(3, "attributes: %s", strings.Join(parts, ", "))
	}
	for _, r := range st.RulesOf(ls) {
		t.line(3, "rule %d: if %s", r.Spec.Priority, conditions(r.Spec.Conditions))
		for _, tr := range r.Spec.Transforms {
			t.line(4, "transform %s", transform(tr))
		}
		for _, a := range r.Spec.Actions {
			t.line(4, "then %s", t.action(st, a))
		}
	}
	for _, a := range s.DefaultActions {
		t.line(3, "default: %s", t.action(st, a))
	}
}

// certificate names a listener certificate: its ARN, or the Secret it is
// imported from.
func (t *textWriter) certificate(st *stack.Stack, tok stack.Token) string {
	if tok.IsRef() && tok.Ref.Type == stack.TypeImportedCertificate {
		if c, ok := st.ImportedCertificates[tok.Ref.ID]; ok {
			x := "Secret " + c.Spec.SecretRef.Namespace + "/" + c.Spec.SecretRef.Name + " (imported into ACM"
			if len(c.Spec.DomainNames) > 0 {
				x += ": " + strings.Join(c.Spec.DomainNames, ", ")
			}
			return x + ")"
		}
	}
	return tok.String()
}

// gatewayStatus writes a Gateway's conditions and listeners as the
// controller would report them.
func (t *textWriter) gatewayStatus(id string) {
	for _, g := range t.p.Gateway.Status.Gateways {
		if g.Gateway.Key() != id {
			continue
		}
		for _, c := range g.Status.Conditions {
			t.line(1, "%s: %s (%s)", c.Type, c.Status, c.Reason)
		}
		for _, l := range g.Status.Listeners {
			var cs []string
			for _, c := range l.Conditions {
				cs = append(cs, fmt.Sprintf("%s=%s", c.Type, c.Status))
			}
			t.line(1, "listener %s: %d routes attached; %s", l.Name, l.AttachedRoutes, strings.Join(cs, ", "))
		}
	}
	ls := map[string]bool{}
	for _, l := range t.p.Gateway.Status.ListenerSets {
		if l.Gateway.Key() == id {
			ls[l.ListenerSet.Key()] = true
			var cs []string
			for _, c := range l.Status.Conditions {
				cs = append(cs, fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason))
			}
			t.line(1, "ListenerSet %s: %s", l.ListenerSet.Key(), strings.Join(cs, ", "))
		}
	}
	for _, r := range t.p.Gateway.Status.Routes {
		for _, p := range r.Parents {
			ns := r.Route.Namespace
			if p.ParentRef.Namespace != nil {
				ns = string(*p.ParentRef.Namespace)
			}
			k := ns + "/" + string(p.ParentRef.Name)
			if p.ParentRef.Kind != nil && *p.ParentRef.Kind == "ListenerSet" {
				if !ls[k] {
					continue
				}
			} else if k != id {
				continue
			}
			var cs []string
			for _, c := range p.Conditions {
				cs = append(cs, fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Reason))
			}
			via := ""
			if p.ParentRef.SectionName != nil {
				via = " via " + string(*p.ParentRef.SectionName)
			}
			t.line(1, "%s%s: %s", r.Route, via, strings.Join(cs, ", "))
		}
	}
}

func conditions(cs []stack.Condition) string {
	var parts []string
	for _, c := range cs {
		switch c.Field {
		case stack.ConditionHostHeader:
			if len(c.HostHeaderConfig.RegexValues) > 0 {
				parts = append(parts, "host "+strings.Join(hostNames(c.HostHeaderConfig.RegexValues), "|"))
			} else {
				parts = append(parts, "host "+values(c.HostHeaderConfig.Values, nil))
			}
		case stack.ConditionPathPattern:
			parts = append(parts, "path "+values(c.PathPatternConfig.Values, c.PathPatternConfig.RegexValues))
		case stack.ConditionHTTPHeader:
			parts = append(parts, "header "+c.HTTPHeaderConfig.HTTPHeaderName+" "+values(c.HTTPHeaderConfig.Values, c.HTTPHeaderConfig.RegexValues))
		case stack.ConditionHTTPRequestMethod:
			parts = append(parts, "method "+strings.Join(c.HTTPRequestMethodConfig.Values, "|"))
		case stack.ConditionQueryString:
			var kv []string
			for _, v := range c.QueryStringConfig.Values {
				if v.Key != nil {
					kv = append(kv, *v.Key+"="+v.Value)
				} else {
					kv = append(kv, v.Value)
				}
			}
			parts = append(parts, "query "+strings.Join(kv, "|"))
		case stack.ConditionSourceIP:
			parts = append(parts, "source "+strings.Join(c.SourceIPConfig.Values, "|"))
		}
	}
	return strings.Join(parts, " and ")
}

// hostNames shows the host regular expressions Gateway translation makes
// (a name, any port) as the names they stand for.
func hostNames(rx []string) []string {
	out := make([]string, 0, len(rx))
	for _, r := range rx {
		name, ok := strings.CutPrefix(r, "(?i)^")
		if name, ok2 := strings.CutSuffix(name, "(:[0-9]+)?$"); ok && ok2 {
			name = strings.Replace(name, `[^:]+\.`, `*\.`, 1)
			out = append(out, strings.ReplaceAll(name, `\`, "")+"[:port]")
			continue
		}
		out = append(out, "~"+r)
	}
	return out
}

func values(v, rx []string) string {
	if len(rx) > 0 {
		return "~" + strings.Join(rx, "|~")
	}
	return strings.Join(v, "|")
}

func transform(tr stack.Transform) string {
	rc := tr.URLRewriteConfig
	if rc == nil {
		rc = tr.HostHeaderRewriteConfig
	}
	var parts []string
	if rc != nil {
		for _, r := range rc.Rewrites {
			parts = append(parts, fmt.Sprintf("%q -> %q", r.Regex, r.Replace))
		}
	}
	return tr.Type + " " + strings.Join(parts, ", ")
}

func (t *textWriter) action(st *stack.Stack, a stack.Action) string {
	switch a.Type {
	case stack.ActionTypeForward:
		var tgs []string
		for _, tg := range a.ForwardConfig.TargetGroups {
			x := t.token(st, tg.TargetGroupARN)
			if tg.Weight != nil {
				x += fmt.Sprintf(" (weight %d)", *tg.Weight)
			}
			tgs = append(tgs, x)
		}
		x := "forward to " + strings.Join(tgs, ", ")
		if s := a.ForwardConfig.TargetGroupStickinessConfig; s != nil && s.Enabled != nil && *s.Enabled {
			x += " (sticky)"
		}
		return x
	case stack.ActionTypeFixedResponse:
		c := a.FixedResponseConfig
		x := "fixed-response " + c.StatusCode
		if c.ContentType != nil {
			x += " " + *c.ContentType
		}
		if c.MessageBody != nil {
			x += fmt.Sprintf(" %q", *c.MessageBody)
		}
		return x
	case stack.ActionTypeRedirect:
		c := a.RedirectConfig
		var parts []string
		for _, p := range []struct {
			k string
			v *string
		}{{"protocol", c.Protocol}, {"host", c.Host}, {"port", c.Port}, {"path", c.Path}, {"query", c.Query}} {
			if p.v != nil {
				parts = append(parts, p.k+" "+*p.v)
			}
		}
		return fmt.Sprintf("redirect %s to %s", c.StatusCode, strings.Join(parts, ", "))
	case stack.ActionTypeAuthenticateCognito:
		return "authenticate with Cognito user pool " + a.AuthenticateCognitoConfig.UserPoolARN
	case stack.ActionTypeAuthenticateOIDC:
		return "authenticate with OIDC issuer " + a.AuthenticateOIDCConfig.Issuer
	case stack.ActionTypeJwtValidation:
		return "validate JWT from issuer " + a.JwtValidationConfig.Issuer
	}
	return string(a.Type)
}

func (t *textWriter) targetGroup(st *stack.Stack, tg *stack.TargetGroup) {
	s := tg.Spec
	port := "0 (allocated on create)"
	if s.Port != nil && *s.Port != 0 {
		port = fmt.Sprint(*s.Port)
	}
	x := fmt.Sprintf("target group %s: %s targets, %s port %s", s.Name, s.TargetType, s.Protocol, port)
	if s.ProtocolVersion != nil {
		x += ", " + string(*s.ProtocolVersion)
	}
	if s.IPAddressType == stack.TargetGroupIPv6 {
		x += ", IPv6"
	}
	t.line(2, "%s", x)
	if hc := s.HealthCheckConfig; hc != nil {
		h := fmt.Sprintf("health check: %s", hc.Protocol)
		if hc.Path != nil {
			h += " " + *hc.Path
		}
		if hc.Port != nil && hc.Port.Type == 0 && hc.Port.IntVal == 0 {
			h += " on port 0 (allocated on create)"
		} else {
			h += " on " + hc.Port.String()
		}
		if hc.Matcher != nil {
			if hc.Matcher.HTTPCode != nil {
				h += ", codes " + *hc.Matcher.HTTPCode
			}
			if hc.Matcher.GRPCCode != nil {
				h += ", gRPC codes " + *hc.Matcher.GRPCCode
			}
		}
		if hc.IntervalSeconds != nil {
			h += fmt.Sprintf(", every %ds, timeout %ds, healthy after %d, unhealthy after %d", *hc.IntervalSeconds, *hc.TimeoutSeconds, *hc.HealthyThresholdCount, *hc.UnhealthyThresholdCount)
		}
		t.line(3, "%s", h)
	}
	if len(s.TargetGroupAttributes) > 0 {
		t.line(3, "attributes: %s", attrs(s.TargetGroupAttributes))
	}
	if b, ok := st.TargetGroupBindings[tg.ResID]; ok {
		spec := b.Spec.Template.Spec
		svc := t.p.service(b.Spec.Template.Namespace, spec.ServiceRef.Name)
		who := fmt.Sprintf("Service %s/%s port %s", b.Spec.Template.Namespace, spec.ServiceRef.Name, spec.ServiceRef.Port.String())
		what := "pods"
		if s.TargetType == stack.TargetTypeInstance {
			what = "nodes (on the node port)"
			if spec.NodeSelector != nil {
				what = "nodes labelled " + labels(spec.NodeSelector.MatchLabels) + " (on the node port)"
			}
		}
		sel := ""
		if svc != nil && len(svc.Spec.Selector) > 0 {
			sel = " selected by " + labels(svc.Spec.Selector)
		}
		t.line(3, "targets: %s of %s%s (TargetGroupBinding %s)", what, who, sel, b.Spec.Template.Name)
	} else if fe := st.FrontendNLB; fe != nil {
		if target, ok := fe.TargetGroups[s.Name]; ok {
			t.line(3, "targets: the ALB %s on port %d", t.token(st, target.TargetARN), target.TargetPort)
		}
	}
	t.line(3, "tags: %s", tags(st.ResourceTags(t.p.Options().ClusterName, tg, s.Tags)))
}

func (t *textWriter) securityGroup(sg *stack.SecurityGroup) {
	var rules []string
	for _, p := range sg.Spec.Ingress {
		ports := "all"
		if p.FromPort != nil {
			ports = fmt.Sprint(*p.FromPort)
			if p.ToPort != nil && *p.ToPort != *p.FromPort {
				ports = fmt.Sprintf("%d-%d", *p.FromPort, *p.ToPort)
			}
		}
		var from []string
		for _, r := range p.IPRanges {
			from = append(from, r.CIDRIP)
		}
		for _, r := range p.IPv6Ranges {
			from = append(from, r.CIDRIPv6)
		}
		for _, r := range p.PrefixLists {
			from = append(from, r.ListID)
		}
		rules = append(rules, fmt.Sprintf("%s %s from %s", p.IPProtocol, ports, strings.Join(from, ", ")))
	}
	t.line(2, "security group %s (managed): %s", sg.Spec.GroupName, strings.Join(rules, "; "))
}

func attrs(as []stack.Attribute) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, a.Key+"="+a.Value)
	}
	return strings.Join(parts, ", ")
}

func tags(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func labels(m map[string]string) string { return tags(m) }
