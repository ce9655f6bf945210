package ingress

import (
	"fmt"
	"sort"
	"strings"

	networking "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

func ptr[T any](v T) *T { return &v }

func (b *builder) buildListener(port int32) (*stack.Listener, error) {
	cfg := b.portConfigs[port]
	ms := b.portMembers[port]
	spec := stack.ListenerSpec{LoadBalancerARN: b.lb.ARN(), Port: port, Protocol: cfg.protocol, SSLPolicy: cfg.sslPolicy, MutualAuthentication: cfg.mtls}
	for _, c := range cfg.certs {
		spec.Certificates = append(spec.Certificates, stack.Certificate{CertificateARN: stack.Literal(c)})
	}
	if cfg.protocol == stack.ProtocolHTTPS {
		if len(cfg.certs) == 0 {
			b.trace.Add(translate.Warning, ms[0].ref, "HTTPS listener %d has no certificate: the ELBv2 API refuses it; set %s or add hosts that a certificate in the facts covers", port, annotations.IngressCertificateARN)
		} else {
			b.decide(fmt.Sprintf("certificate of port %d", port), strings.Join(cfg.certs, ", "), "%s (the first is the default certificate)", cfg.certSource)
		}
		b.decide(fmt.Sprintf("ssl policy of port %d", port), *cfg.sslPolicy, "%s", cfg.sslSource)
	}
	var err error
	if spec.DefaultActions, err = b.defaultActions(cfg.protocol, ms); err != nil {
		return nil, err
	}
	tags, err := b.groupTags(ms)
	if err != nil {
		return nil, err
	}
	spec.Tags = b.opts.WithDefaultTags(tags)
	if spec.ListenerAttributes, err = b.listenerAttributes(ms, port, cfg.protocol); err != nil {
		return nil, err
	}
	ls := &stack.Listener{ResID: fmt.Sprint(port), Spec: spec}
	return ls, b.stack.Add(ls)
}

func (b *builder) listenerAttributes(ms []*member, port int32, proto stack.Protocol) ([]stack.ListenerAttribute, error) {
	cls := map[string]string{}
	if len(ms) > 0 && ms[0].params != nil {
		for _, l := range ms[0].params.Spec.Listeners {
			if string(l.Protocol) == string(proto) && l.Port == port {
				for _, a := range l.ListenerAttributes {
					cls[a.Key] = a.Value
				}
				break
			}
		}
	}
	out := map[string]string{}
	by := map[string]*member{}
	key := annotations.IngressListenerAttributes(string(proto), port)
	for _, m := range ms {
		attrs, _, err := m.ann.StringMap(key)
		if err != nil {
			return nil, blame(m, err)
		}
		for _, k := range translate.SortedKeys(attrs) {
			if prev, ok := out[k]; ok && prev != attrs[k] {
				if _, fromClass := cls[k]; !fromClass {
					return nil, blame(m, fmt.Errorf("conflicting listener attribute %s on %s-%d: %s sets %q, %s sets %q", k, proto, port, by[k].ref.Key(), prev, m.ref.Key(), attrs[k]))
				}
			}
			out[k], by[k] = attrs[k], m
		}
	}
	for k, v := range cls {
		out[k] = v
	}
	return sortedListenerAttrs(out), nil
}

func (b *builder) defaultActions(proto stack.Protocol, ms []*member) ([]stack.Action, error) {
	if b.sslRedirectPort != nil && proto == stack.ProtocolHTTP {
		return []stack.Action{sslRedirectAction(*b.sslRedirectPort)}, nil
	}
	var with []*member
	for _, m := range ms {
		if m.ing.Spec.DefaultBackend != nil {
			with = append(with, m)
		}
	}
	if len(with) == 0 {
		return []stack.Action{{Type: stack.ActionTypeFixedResponse, FixedResponseConfig: &stack.FixedResponseConfig{ContentType: ptr("text/plain"), StatusCode: "404"}}}, nil
	}
	if len(with) > 1 {
		return nil, blame(with[1], fmt.Errorf("several members define spec.defaultBackend: %s and %s (a listener has one default action)", with[0].ref.Key(), with[1].ref.Key()))
	}
	m := with[0]
	be, err := b.enhancedBackend(m, *m.ing.Spec.DefaultBackend)
	if err != nil {
		return nil, blame(m, fmt.Errorf("spec.defaultBackend: %w", err))
	}
	acts, err := b.actions(proto, m, be)
	if err != nil {
		return nil, blame(m, fmt.Errorf("spec.defaultBackend: %w", err))
	}
	return acts, nil
}

func sslRedirectAction(port int32) stack.Action {
	return stack.Action{Type: stack.ActionTypeRedirect, RedirectConfig: &stack.RedirectConfig{
		Port: ptr(fmt.Sprint(port)), Protocol: ptr("HTTPS"), StatusCode: "HTTP_301",
	}}
}

// rule is a listener rule before priorities are assigned.
type rule struct {
	conditions []stack.Condition
	actions    []stack.Action
	transforms []stack.Transform
	tags       map[string]string
}

func (b *builder) buildRules(ls *stack.Listener, port int32) error {
	cfg := b.portConfigs[port]
	if b.sslRedirectPort != nil && cfg.protocol == stack.ProtocolHTTP {
		return nil
	}
	var rules []rule
	for _, m := range b.portMembers[port] {
		for ri, r := range m.ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			paths, err := sortPaths(r.HTTP.Paths)
			if err != nil {
				return blame(m, fmt.Errorf("spec.rules[%d]: %w", ri, err))
			}
			for _, p := range paths {
				be, err := b.enhancedBackend(m, p.Backend)
				if err != nil {
					return blame(m, fmt.Errorf("spec.rules[%d] path %q: %w", ri, p.Path, err))
				}
				conds, err := b.conditions(m, r, p, be)
				if err != nil {
					return blame(m, fmt.Errorf("spec.rules[%d] path %q: %w", ri, p.Path, err))
				}
				acts, err := b.actions(cfg.protocol, m, be)
				if err != nil {
					return blame(m, fmt.Errorf("spec.rules[%d] path %q: %w", ri, p.Path, err))
				}
				tags, err := b.memberTags(m)
				if err != nil {
					return blame(m, err)
				}
				rules = append(rules, rule{conditions: conds, actions: acts, transforms: transforms(be.transforms), tags: b.opts.WithDefaultTags(tags)})
			}
		}
	}
	rules = optimize(port, cfg.protocol, rules)
	for i, r := range rules {
		prio := int32(i + 1)
		lr := &stack.ListenerRule{ResID: fmt.Sprintf("%d:%d", port, prio), Spec: stack.ListenerRuleSpec{
			ListenerARN: ls.ARN(), Priority: prio, Actions: r.actions, Conditions: r.conditions, Transforms: r.transforms, Tags: r.tags,
		}}
		if err := b.stack.Add(lr); err != nil {
			return err
		}
	}
	return nil
}

// sortPaths orders a rule's paths: Exact first, then Prefix longest first,
// then ImplementationSpecific (or no type) as written.
func sortPaths(paths []networking.HTTPIngressPath) ([]networking.HTTPIngressPath, error) {
	var exact, prefix, impl []networking.HTTPIngressPath
	for _, p := range paths {
		if p.PathType == nil {
			impl = append(impl, p)
			continue
		}
		switch *p.PathType {
		case networking.PathTypeExact:
			exact = append(exact, p)
		case networking.PathTypePrefix:
			prefix = append(prefix, p)
		case networking.PathTypeImplementationSpecific:
			impl = append(impl, p)
		default:
			return nil, fmt.Errorf("path %q: unknown pathType %q (want Exact, Prefix or ImplementationSpecific)", p.Path, *p.PathType)
		}
	}
	sort.SliceStable(prefix, func(i, j int) bool { return len(prefix[i].Path) > len(prefix[j].Path) })
	return append(append(exact, prefix...), impl...), nil
}

// backend is an Ingress backend with what its annotations add.
type backend struct {
	conditions []annotations.Condition
	transforms []annotations.Transform
	action     annotations.Action
	auth       *authConfig
	jwt        *annotations.JwtValidation
}

type authConfig struct {
	typ                      string
	cognito                  *annotations.CognitoIDP
	oidc                     *annotations.OIDCIDP
	onUnauthenticatedRequest string
	scope                    string
	sessionCookie            string
	sessionTimeout           int64
	annotations              annotations.Set
}

func (b *builder) enhancedBackend(m *member, ib networking.IngressBackend) (backend, error) {
	if ib.Service == nil {
		return backend{}, fmt.Errorf("backend has no service (resource backends are not supported)")
	}
	svcName := ib.Service.Name
	var be backend
	if raw, ok := m.ann.String(annotations.IngressConditions(svcName)); ok {
		cs, err := annotations.ParseConditions(annotations.IngressConditions(svcName), raw)
		if err != nil {
			return backend{}, err
		}
		be.conditions = cs
	}
	if raw, ok := m.ann.String(annotations.IngressTransforms(svcName)); ok {
		ts, err := annotations.ParseTransforms(annotations.IngressTransforms(svcName), raw)
		if err != nil {
			return backend{}, err
		}
		be.transforms = ts
	}
	switch {
	case ib.Service.Port.Name == useAnnotationServicePortName:
		key := annotations.IngressActions(svcName)
		raw, ok := m.ann.String(key)
		if !ok {
			if !b.opts.TolerateNonExistentBackendAction {
				return backend{}, fmt.Errorf("missing %s (the backend uses port %s)", key, useAnnotationServicePortName)
			}
			b.trace.Add(translate.Warning, m.ref, "backend %s uses port %s but %s is missing: the rule answers 503", svcName, useAnnotationServicePortName, key)
			be.action = fixed503(nonExistentActionMessage)
		} else {
			a, err := annotations.ParseAction(key, raw)
			if err != nil {
				return backend{}, err
			}
			be.action = a
		}
	case ib.Service.Port.Name != "":
		be.action = forwardTo(svcName, intstr.FromString(ib.Service.Port.Name))
	default:
		be.action = forwardTo(svcName, intstr.FromInt32(ib.Service.Port.Number))
	}
	if err := b.loadServices(m, &be.action); err != nil {
		return backend{}, err
	}
	auth, err := b.authConfig(m, be.action)
	if err != nil {
		return backend{}, err
	}
	be.auth = auth
	if raw, ok := m.ann.String(annotations.IngressJwtValidation); ok {
		j, err := annotations.ParseJwtValidation(raw)
		if err != nil {
			return backend{}, err
		}
		be.jwt = &j
	}
	return be, nil
}

func forwardTo(svc string, port intstr.IntOrString) annotations.Action {
	return annotations.Action{Type: "forward", ForwardConfig: &annotations.ForwardActionConfig{
		TargetGroups: []annotations.TargetGroupTuple{{ServiceName: &svc, ServicePort: &port}},
	}}
}

func fixed503(msg string) annotations.Action {
	return annotations.Action{Type: "fixed-response", FixedResponseConfig: &annotations.FixedResponseActionConfig{
		ContentType: ptr("text/plain"), StatusCode: "503", MessageBody: &msg,
	}}
}

// loadServices checks the Services a forward names exist; a forward to one
// missing Service answers 503 when tolerated, as with the reference.
func (b *builder) loadServices(m *member, a *annotations.Action) error {
	if a.Type != "forward" || a.ForwardConfig == nil {
		return nil
	}
	names := map[string]bool{}
	for _, t := range a.ForwardConfig.TargetGroups {
		if t.ServiceName != nil {
			names[*t.ServiceName] = true
		}
	}
	single := len(a.ForwardConfig.TargetGroups) == 1 && len(names) == 1
	for _, n := range translate.SortedKeys(names) {
		if b.service(m.ing.Namespace, n) != nil {
			continue
		}
		if single && b.opts.TolerateNonExistentBackendService {
			b.trace.Add(translate.Warning, m.ref, "backend Service %s/%s does not exist: its rule answers 503 until it does", m.ing.Namespace, n)
			*a = fixed503(nonExistentServiceMessage)
			return nil
		}
		return fmt.Errorf("backend Service %s/%s does not exist", m.ing.Namespace, n)
	}
	return nil
}

func (b *builder) authConfig(m *member, a annotations.Action) (*authConfig, error) {
	set := m.ann
	if a.Type == "forward" && a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) == 1 && a.ForwardConfig.TargetGroups[0].ServiceName != nil {
		if svc := b.service(m.ing.Namespace, *a.ForwardConfig.TargetGroups[0].ServiceName); svc != nil {
			set = annotations.Merge(annotations.Set(svc.Annotations), m.ann)
		}
	}
	c := &authConfig{typ: "none", onUnauthenticatedRequest: "authenticate", scope: "openid", sessionCookie: "AWSELBAuthSessionCookie", sessionTimeout: 604800, annotations: set}
	if v, ok := set.String(annotations.IngressAuthType); ok {
		switch v {
		case "none", "cognito", "oidc":
			c.typ = v
		default:
			return nil, &annotations.Error{Key: annotations.IngressAuthType, Value: v, Want: "none, cognito or oidc"}
		}
	}
	if v, ok := set.String(annotations.IngressAuthOnUnauthenticatedRequest); ok {
		c.onUnauthenticatedRequest = v
	}
	if v, ok := set.String(annotations.IngressAuthScope); ok {
		c.scope = v
	}
	if v, ok := set.String(annotations.IngressAuthSessionCookie); ok {
		c.sessionCookie = v
	}
	if v, ok, err := set.Int64(annotations.IngressAuthSessionTimeout); err != nil {
		return nil, err
	} else if ok {
		c.sessionTimeout = v
	}
	if raw, ok := set.String(annotations.IngressAuthIDPCognito); ok {
		v, err := annotations.ParseCognitoIDP(raw)
		if err != nil {
			return nil, err
		}
		c.cognito = &v
	}
	if raw, ok := set.String(annotations.IngressAuthIDPOIDC); ok {
		v, err := annotations.ParseOIDCIDP(raw)
		if err != nil {
			return nil, err
		}
		c.oidc = &v
	}
	return c, nil
}

// actions builds a rule's actions: on HTTPS listeners an authentication
// or JWT validation action first, then the backend action.
func (b *builder) actions(proto stack.Protocol, m *member, be backend) ([]stack.Action, error) {
	var out []stack.Action
	if proto == stack.ProtocolHTTPS {
		var auth *stack.Action
		switch be.auth.typ {
		case "cognito":
			if be.auth.cognito == nil {
				return nil, fmt.Errorf("%s is cognito but %s is missing", annotations.IngressAuthType, annotations.IngressAuthIDPCognito)
			}
			c := be.auth.cognito
			auth = &stack.Action{Type: stack.ActionTypeAuthenticateCognito, AuthenticateCognitoConfig: &stack.AuthenticateCognitoConfig{
				UserPoolARN: c.UserPoolARN, UserPoolClientID: c.UserPoolClientID, UserPoolDomain: c.UserPoolDomain,
				AuthenticationRequestExtraParams: c.AuthenticationRequestExtraParams, OnUnauthenticatedRequest: be.auth.onUnauthenticatedRequest,
				Scope: ptr(be.auth.scope), SessionCookieName: ptr(be.auth.sessionCookie), SessionTimeout: ptr(be.auth.sessionTimeout),
			}}
		case "oidc":
			if be.auth.oidc == nil {
				return nil, fmt.Errorf("%s is oidc but %s is missing", annotations.IngressAuthType, annotations.IngressAuthIDPOIDC)
			}
			o := be.auth.oidc
			id, secret, err := b.oidcCredentials(m, o.SecretName)
			if err != nil {
				return nil, err
			}
			auth = &stack.Action{Type: stack.ActionTypeAuthenticateOIDC, AuthenticateOIDCConfig: &stack.AuthenticateOIDCConfig{
				Issuer: o.Issuer, AuthorizationEndpoint: o.AuthorizationEndpoint, TokenEndpoint: o.TokenEndpoint, UserInfoEndpoint: o.UserInfoEndpoint,
				ClientID: id, ClientSecret: secret, AuthenticationRequestExtraParams: o.AuthenticationRequestExtraParams,
				OnUnauthenticatedRequest: be.auth.onUnauthenticatedRequest,
				Scope:                    ptr(be.auth.scope), SessionCookieName: ptr(be.auth.sessionCookie), SessionTimeout: ptr(be.auth.sessionTimeout),
			}}
		}
		if auth != nil && be.jwt != nil {
			return nil, fmt.Errorf("authentication (%s) and %s cannot both be configured", annotations.IngressAuthType, annotations.IngressJwtValidation)
		}
		if auth != nil {
			out = append(out, *auth)
		}
		if be.jwt != nil {
			j := &stack.JwtValidationConfig{JwksEndpoint: be.jwt.JwksEndpoint, Issuer: be.jwt.Issuer}
			for _, c := range be.jwt.AdditionalClaims {
				j.AdditionalClaims = append(j.AdditionalClaims, stack.JwtAdditionalClaim{Format: c.Format, Name: c.Name, Values: append([]string{}, c.Values...)})
			}
			out = append(out, stack.Action{Type: stack.ActionTypeJwtValidation, JwtValidationConfig: j})
		}
	}
	a, err := b.backendAction(m, be.action)
	if err != nil {
		return nil, err
	}
	return append(out, a), nil
}

func (b *builder) oidcCredentials(m *member, name string) (string, string, error) {
	key := m.ing.Namespace + "/" + name
	sec, ok := b.x.secrets[key]
	if !ok {
		if b.opts.AssumeMissingSecrets {
			b.trace.Add(translate.Warning, m.ref, "OIDC Secret %s is not in the input: assumed to exist in the cluster with keys clientID and clientSecret", key)
			return "<from Secret " + key + ">", "<from Secret " + key + ">", nil
		}
		return "", "", fmt.Errorf("OIDC Secret %s (%s secretName) not found", key, annotations.IngressAuthIDPOIDC)
	}
	return translate.OIDCClientCredentials(sec)
}

func (b *builder) backendAction(m *member, a annotations.Action) (stack.Action, error) {
	switch a.Type {
	case "fixed-response":
		c := a.FixedResponseConfig
		return stack.Action{Type: stack.ActionTypeFixedResponse, FixedResponseConfig: &stack.FixedResponseConfig{ContentType: c.ContentType, MessageBody: c.MessageBody, StatusCode: c.StatusCode}}, nil
	case "redirect":
		c := a.RedirectConfig
		return stack.Action{Type: stack.ActionTypeRedirect, RedirectConfig: &stack.RedirectConfig{Host: c.Host, Path: c.Path, Port: c.Port, Protocol: c.Protocol, Query: c.Query, StatusCode: c.StatusCode}}, nil
	case "forward":
		fc := &stack.ForwardConfig{}
		for _, t := range a.ForwardConfig.TargetGroups {
			var tok stack.Token
			switch {
			case t.TargetGroupARN != nil:
				tok = stack.Literal(*t.TargetGroupARN)
			case t.TargetGroupName != nil:
				name := *t.TargetGroupName
				arn, err := b.cloud.LookupARN("target group", b.opts.References.TargetGroups, name, func() string {
					return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", b.cloud.Region(), b.cloud.Account(), name, translate.Trunc(translate.Hash(name), 16))
				}, translate.Source{Object: m.ref, Field: "targetGroupName"}, b.trace)
				if err != nil {
					return stack.Action{}, err
				}
				tok = stack.Literal(arn)
			default:
				svc := b.service(m.ing.Namespace, *t.ServiceName)
				tg, err := b.targetGroup(m, svc, *t.ServicePort)
				if err != nil {
					return stack.Action{}, err
				}
				tok = tg.ARN()
			}
			fc.TargetGroups = append(fc.TargetGroups, stack.TargetGroupTuple{TargetGroupARN: tok, Weight: t.Weight})
		}
		if s := a.ForwardConfig.TargetGroupStickinessConfig; s != nil {
			fc.TargetGroupStickinessConfig = &stack.TargetGroupStickinessConfig{Enabled: s.Enabled, DurationSeconds: s.DurationSeconds}
		}
		return stack.Action{Type: stack.ActionTypeForward, ForwardConfig: fc}, nil
	}
	return stack.Action{}, fmt.Errorf("unknown action type %q", a.Type)
}

func (b *builder) conditions(m *member, r networking.IngressRule, p networking.HTTPIngressPath, be backend) ([]stack.Condition, error) {
	var hosts, hostRegex, paths, pathRegex []string
	if r.Host != "" {
		hosts = append(hosts, r.Host)
	}
	if p.Path != "" {
		v, rx, err := b.pathPatterns(m, p.Path, p.PathType)
		if err != nil {
			return nil, err
		}
		paths, pathRegex = append(paths, v...), append(pathRegex, rx...)
	}
	var out []stack.Condition
	for _, c := range be.conditions {
		switch c.Field {
		case stack.ConditionHostHeader:
			hosts = append(hosts, c.HostHeaderConfig.Values...)
			hostRegex = append(hostRegex, c.HostHeaderConfig.RegexValues...)
		case stack.ConditionPathPattern:
			paths = append(paths, c.PathPatternConfig.Values...)
			pathRegex = append(pathRegex, c.PathPatternConfig.RegexValues...)
		case stack.ConditionHTTPHeader:
			h := c.HTTPHeaderConfig
			out = append(out, stack.Condition{Field: c.Field, HTTPHeaderConfig: &stack.HTTPHeaderConfig{HTTPHeaderName: h.HTTPHeaderName, RegexValues: h.RegexValues, Values: h.Values}})
		case stack.ConditionHTTPRequestMethod:
			out = append(out, stack.Condition{Field: c.Field, HTTPRequestMethodConfig: &stack.MethodConfig{Values: c.HTTPRequestMethodConfig.Values}})
		case stack.ConditionQueryString:
			q := &stack.QueryStringConfig{}
			for _, kv := range c.QueryStringConfig.Values {
				q.Values = append(q.Values, stack.QueryStringKeyValue{Key: kv.Key, Value: kv.Value})
			}
			out = append(out, stack.Condition{Field: c.Field, QueryStringConfig: q})
		case stack.ConditionSourceIP:
			out = append(out, stack.Condition{Field: c.Field, SourceIPConfig: &stack.SourceIPConfig{Values: c.SourceIPConfig.Values}})
		}
	}
	if len(hosts) > 0 && len(hostRegex) > 0 {
		return nil, fmt.Errorf("host condition must use exactly one of values and regexValues, got values %v and regexValues %v", hosts, hostRegex)
	}
	if len(paths) > 0 && len(pathRegex) > 0 {
		return nil, fmt.Errorf("path condition must use exactly one of values and regexValues, got values %v and regexValues %v (check %s)", paths, pathRegex, annotations.IngressUseRegexPathMatch)
	}
	if len(hosts) > 0 {
		out = append(out, stack.Condition{Field: stack.ConditionHostHeader, HostHeaderConfig: &stack.ValuesConfig{Values: hosts}})
	}
	if len(hostRegex) > 0 {
		out = append(out, stack.Condition{Field: stack.ConditionHostHeader, HostHeaderConfig: &stack.ValuesConfig{RegexValues: hostRegex}})
	}
	if len(paths) > 0 {
		out = append(out, stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: paths}})
	}
	if len(pathRegex) > 0 {
		out = append(out, stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{RegexValues: pathRegex}})
	}
	if len(out) == 0 {
		out = append(out, stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: []string{"/*"}}})
	}
	return out, nil
}

func (b *builder) pathPatterns(m *member, path string, pt *networking.PathType) (values, regex []string, err error) {
	t := networking.PathTypeImplementationSpecific
	if pt != nil {
		t = *pt
	}
	switch t {
	case networking.PathTypeImplementationSpecific:
		useRegex, _, err := m.ann.Bool(annotations.IngressUseRegexPathMatch)
		if err != nil {
			return nil, nil, err
		}
		if useRegex {
			return nil, []string{path[1:]}, nil
		}
		return []string{path}, nil, nil
	case networking.PathTypeExact:
		if strings.ContainsAny(path, "*?") {
			return nil, nil, fmt.Errorf("exact path %q must not contain wildcards", path)
		}
		return []string{path}, nil, nil
	case networking.PathTypePrefix:
		if path == "/" {
			return []string{"/*"}, nil, nil
		}
		if strings.ContainsAny(path, "*?") {
			return nil, nil, fmt.Errorf("prefix path %q must not contain wildcards", path)
		}
		p := strings.TrimSuffix(path, "/")
		return []string{p, p + "/*"}, nil, nil
	}
	return nil, nil, fmt.Errorf("unsupported pathType %q", t)
}

func transforms(ts []annotations.Transform) []stack.Transform {
	var out []stack.Transform
	for _, t := range ts {
		conv := func(rc *annotations.RewriteConfig) *stack.RewriteConfig {
			out := &stack.RewriteConfig{}
			for _, r := range rc.Rewrites {
				out.Rewrites = append(out.Rewrites, stack.Rewrite{Regex: r.Regex, Replace: r.Replace})
			}
			return out
		}
		st := stack.Transform{Type: t.Type}
		if t.HostHeaderRewriteConfig != nil {
			st.HostHeaderRewriteConfig = conv(t.HostHeaderRewriteConfig)
		}
		if t.URLRewriteConfig != nil {
			st.URLRewriteConfig = conv(t.URLRewriteConfig)
		}
		out = append(out, st)
	}
	return out
}

// optimize drops redirect rules that would loop forever, and rules an
// earlier redirect rule with a superset of their conditions shadows.
func optimize(port int32, proto stack.Protocol, rules []rule) []rule {
	var kept []rule
	for _, r := range rules {
		if !infiniteRedirect(port, proto, r) {
			kept = append(kept, r)
		}
	}
	var out []rule
	for _, r := range kept {
		shadowed := false
		for _, e := range out {
			if redirectOf(e.actions) != nil && supersetConditions(e.conditions, r.conditions) {
				shadowed = true
				break
			}
		}
		if !shadowed {
			out = append(out, r)
		}
	}
	return out
}

func redirectOf(actions []stack.Action) *stack.RedirectConfig {
	for _, a := range actions {
		if a.Type == stack.ActionTypeRedirect {
			return a.RedirectConfig
		}
	}
	return nil
}

func infiniteRedirect(port int32, proto stack.Protocol, r rule) bool {
	rc := redirectOf(r.actions)
	if rc == nil {
		return false
	}
	hosts, paths := map[string]bool{}, map[string]bool{}
	for _, c := range r.conditions {
		switch {
		case c.Field == stack.ConditionHostHeader && c.HostHeaderConfig != nil:
			for _, v := range c.HostHeaderConfig.Values {
				hosts[v] = true
			}
		case c.Field == stack.ConditionPathPattern && c.PathPatternConfig != nil:
			if len(c.PathPatternConfig.RegexValues) > 0 {
				return false
			}
			for _, v := range c.PathPatternConfig.Values {
				paths[v] = true
			}
		}
	}
	if rc.Host != nil && *rc.Host != "#{host}" && !hosts[*rc.Host] {
		return false
	}
	if rc.Path != nil && *rc.Path != "/#{path}" && !paths[*rc.Path] {
		return false
	}
	if rc.Port != nil && *rc.Port != "#{port}" && *rc.Port != fmt.Sprint(port) {
		return false
	}
	if rc.Protocol != nil && *rc.Protocol != "#{protocol}" && *rc.Protocol != string(proto) {
		return false
	}
	if rc.Query != nil && *rc.Query != "#{query}" {
		return false
	}
	return true
}

func supersetConditions(lhs, rhs []stack.Condition) bool {
	collect := func(cs []stack.Condition, strict bool) (hosts, paths map[string]bool, ok bool) {
		hosts, paths = map[string]bool{}, map[string]bool{}
		for _, c := range cs {
			switch {
			case c.Field == stack.ConditionHostHeader && c.HostHeaderConfig != nil:
				for _, v := range c.HostHeaderConfig.Values {
					hosts[v] = true
				}
			case c.Field == stack.ConditionPathPattern && c.PathPatternConfig != nil:
				vals := c.PathPatternConfig.Values
				if len(c.PathPatternConfig.RegexValues) > 0 {
					vals = c.PathPatternConfig.RegexValues
				}
				for _, v := range vals {
					paths[v] = true
				}
			default:
				if strict {
					return nil, nil, false
				}
			}
		}
		return hosts, paths, true
	}
	lh, lp, ok := collect(lhs, true)
	if !ok {
		return false
	}
	rh, rp, _ := collect(rhs, false)
	superset := func(a, b map[string]bool) bool {
		for k := range b {
			if !a[k] {
				return false
			}
		}
		return true
	}
	hostOK := len(lh) == 0 || (len(rh) > 0 && superset(lh, rh))
	pathOK := len(lp) == 0 || lp["/*"] || (len(rp) > 0 && superset(lp, rp))
	return hostOK && pathOK
}
