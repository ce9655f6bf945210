package routing

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Rule is a compiled listener rule; the default rule has no conditions.
type Rule struct {
	ARN      string
	Priority int32 // 0 for the default rule (as access logs report it)
	Action   *Action
	conds    []condition

	hostRewrite *rewrite
	urlRewrite  *rewrite
}

func (r *Rule) match(in *routeInput) bool {
	for i := range r.conds {
		if !r.conds[i].match(in) {
			return false
		}
	}
	return true
}

// ActionKind is the kind of a rule's terminal action.
type ActionKind uint8

// The kinds of terminal actions.
const (
	ActionForward ActionKind = iota
	ActionRedirect
	ActionFixedResponse
	// ActionUnsupported is an action elbow does not perform
	// (authenticate-oidc, authenticate-cognito, jwt-validation): the
	// request is answered with 501.
	ActionUnsupported
)

// Action is a rule's compiled terminal action.
type Action struct {
	Kind ActionKind
	// Names lists the executed action types for access logs
	// ("forward", "redirect", "fixed-response", …).
	Names string

	// forward
	groups   []weightedGroup
	total    int
	tgSticky time.Duration // target group stickiness (0: off)

	// redirect
	redirect *redirectConfig

	// fixed-response
	status      int
	contentType string
	body        []byte

	// unsupported (authenticate-*, jwt-validation)
	message string
}

type weightedGroup struct {
	g      *TargetGroup
	weight int
}

// redirectConfig is a redirect action with its components (placeholders
// kept; they are filled per request).
type redirectConfig struct {
	code                              int
	protocol, host, port, path, query string
}

// rewrite is a compiled transform.
type rewrite struct {
	re   *regexp.Regexp
	repl []byte
}

// apply rewrites s; matched reports whether the regex matched.
func (rw *rewrite) apply(s []byte) (out []byte, matched bool) {
	if !rw.re.Match(s) {
		return s, false
	}
	return rw.re.ReplaceAll(s, rw.repl), true
}

// compileActions compiles a rule's actions. groupOf resolves target group
// ARNs.
func compileActions(actions []elbv2types.Action, groupOf func(string) *TargetGroup) (*Action, error) {
	if len(actions) == 0 {
		return nil, fmt.Errorf("no actions")
	}
	as := append([]elbv2types.Action(nil), actions...)
	sort.SliceStable(as, func(i, j int) bool { return order(as[i], i) < order(as[j], j) })
	var names []string
	for _, a := range as {
		names = append(names, string(a.Type))
	}
	act := &Action{Names: strings.Join(names, ",")}
	for _, a := range as[:len(as)-1] {
		switch a.Type {
		case elbv2types.ActionTypeEnumAuthenticateOidc, elbv2types.ActionTypeEnumAuthenticateCognito, "jwt-validation":
			act.Kind = ActionUnsupported
			act.message = string(a.Type) + " actions are not supported by elbow's local Application Load Balancer; remove the action or test authentication against AWS."
			return act, nil
		default:
			return nil, fmt.Errorf("action %q must be the last action of a rule", a.Type)
		}
	}
	last := as[len(as)-1]
	switch last.Type {
	case elbv2types.ActionTypeEnumForward:
		act.Kind = ActionForward
		if last.ForwardConfig != nil && len(last.ForwardConfig.TargetGroups) > 0 {
			for _, t := range last.ForwardConfig.TargetGroups {
				if t.TargetGroupArn == nil {
					return nil, fmt.Errorf("forward action target group without an ARN")
				}
				w := 1
				if t.Weight != nil {
					w = int(*t.Weight)
				}
				if w < 0 || w > 999 {
					return nil, fmt.Errorf("forward action weight %d: want 0 to 999", w)
				}
				g := groupOf(*t.TargetGroupArn)
				if g == nil {
					return nil, fmt.Errorf("forward action: target group %s not found", *t.TargetGroupArn)
				}
				if w > 0 || len(last.ForwardConfig.TargetGroups) == 1 {
					act.groups = append(act.groups, weightedGroup{g, max(w, 1)})
					act.total += max(w, 1)
				}
			}
			if sc := last.ForwardConfig.TargetGroupStickinessConfig; sc != nil && sc.Enabled != nil && *sc.Enabled && len(act.groups) > 1 {
				d := int32(3600)
				if sc.DurationSeconds != nil {
					d = *sc.DurationSeconds
				}
				act.tgSticky = time.Duration(d) * time.Second
			}
		} else if last.TargetGroupArn != nil {
			g := groupOf(*last.TargetGroupArn)
			if g == nil {
				return nil, fmt.Errorf("forward action: target group %s not found", *last.TargetGroupArn)
			}
			act.groups = []weightedGroup{{g, 1}}
			act.total = 1
		} else {
			return nil, fmt.Errorf("forward action without a target group")
		}
	case elbv2types.ActionTypeEnumRedirect:
		act.Kind = ActionRedirect
		rc := last.RedirectConfig
		if rc == nil {
			return nil, fmt.Errorf("redirect action without RedirectConfig")
		}
		r := &redirectConfig{
			protocol: orDefault(rc.Protocol, "#{protocol}"),
			host:     orDefault(rc.Host, "#{host}"),
			port:     orDefault(rc.Port, "#{port}"),
			path:     orDefault(rc.Path, "/#{path}"),
			query:    orDefault(rc.Query, "#{query}"),
		}
		switch rc.StatusCode {
		case elbv2types.RedirectActionStatusCodeEnumHttp301:
			r.code = 301
		case elbv2types.RedirectActionStatusCodeEnumHttp302:
			r.code = 302
		default:
			return nil, fmt.Errorf("redirect status code %q: want HTTP_301 or HTTP_302", rc.StatusCode)
		}
		act.redirect = r
	case elbv2types.ActionTypeEnumFixedResponse:
		act.Kind = ActionFixedResponse
		fc := last.FixedResponseConfig
		if fc == nil || fc.StatusCode == nil {
			return nil, fmt.Errorf("fixed-response action without a status code")
		}
		code, err := strconv.Atoi(*fc.StatusCode)
		if err != nil || code < 200 || code > 599 {
			return nil, fmt.Errorf("fixed-response status code %q: want 2XX, 4XX or 5XX", *fc.StatusCode)
		}
		act.status = code
		if fc.ContentType != nil {
			act.contentType = *fc.ContentType
		}
		if fc.MessageBody != nil {
			act.body = []byte(*fc.MessageBody)
		}
	case elbv2types.ActionTypeEnumAuthenticateOidc, elbv2types.ActionTypeEnumAuthenticateCognito, "jwt-validation":
		act.Kind = ActionUnsupported
		act.message = string(last.Type) + " actions are not supported by elbow's local Application Load Balancer; remove the action or test authentication against AWS."
	default:
		return nil, fmt.Errorf("action type %q: want forward, redirect, fixed-response, authenticate-oidc or authenticate-cognito", last.Type)
	}
	return act, nil
}

func order(a elbv2types.Action, i int) int {
	if a.Order != nil {
		return int(*a.Order)
	}
	return 50001 + i
}

func orDefault(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

// compileTransforms compiles a rule's transforms.
func compileTransforms(ts []elbv2types.RuleTransform) (host, url *rewrite, err error) {
	for _, t := range ts {
		var rws []elbv2types.RewriteConfig
		switch t.Type {
		case elbv2types.TransformTypeEnumHostHeaderRewrite:
			if t.HostHeaderRewriteConfig != nil {
				rws = t.HostHeaderRewriteConfig.Rewrites
			}
		case elbv2types.TransformTypeEnumUrlRewrite:
			if t.UrlRewriteConfig != nil {
				rws = t.UrlRewriteConfig.Rewrites
			}
		default:
			return nil, nil, fmt.Errorf("transform type %q: want host-header-rewrite or url-rewrite", t.Type)
		}
		if len(rws) != 1 || rws[0].Regex == nil || rws[0].Replace == nil {
			return nil, nil, fmt.Errorf("%s transform: want exactly one rewrite with Regex and Replace", t.Type)
		}
		re, err := regexp.Compile(*rws[0].Regex)
		if err != nil {
			return nil, nil, fmt.Errorf("%s transform regex %q: %w", t.Type, *rws[0].Regex, err)
		}
		rw := &rewrite{re: re, repl: []byte(*rws[0].Replace)}
		if t.Type == elbv2types.TransformTypeEnumHostHeaderRewrite {
			host = rw
		} else {
			url = rw
		}
	}
	return host, url, nil
}

// redirectLocation builds a redirect's Location from the request.
func (r *redirectConfig) location(scheme string, listenerPort int32, host, path, query []byte) string {
	portStr := strconv.Itoa(int(listenerPort))
	pathNoSlash := string(bytes.TrimPrefix(path, []byte("/")))
	protoUpper := strings.ToUpper(scheme)
	fill := func(s string) string {
		if !strings.Contains(s, "#{") {
			return s
		}
		return strings.NewReplacer(
			"#{protocol}", protoUpper,
			"#{host}", string(host),
			"#{port}", portStr,
			"#{path}", pathNoSlash,
			"#{query}", string(query),
		).Replace(s)
	}
	proto := strings.ToLower(fill(r.protocol))
	h := fill(r.host)
	port := fill(r.port)
	p := fill(r.path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	q := fill(r.query)
	var b strings.Builder
	b.WriteString(proto)
	b.WriteString("://")
	b.WriteString(h)
	if !(proto == "http" && port == "80" || proto == "https" && port == "443") {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(p)
	if q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String()
}
