package console

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The console says what a rule does in words, from the state's records:
// conditions, actions and transforms as DescribeRules returns them. These
// words describe; routing is the data plane's (try.go).

// conditionWords describes one rule condition, e.g. `path is /api/* or
// /v2/*`.
func conditionWords(c elbv2types.RuleCondition) string {
	field := deref(c.Field)
	switch field {
	case "host-header":
		vals, res := c.Values, c.RegexValues
		if hc := c.HostHeaderConfig; hc != nil {
			vals, res = union(vals, hc.Values), union(res, hc.RegexValues)
		}
		return "host " + patterns(vals, res)
	case "path-pattern":
		vals, res := c.Values, c.RegexValues
		if pc := c.PathPatternConfig; pc != nil {
			vals, res = union(vals, pc.Values), union(res, pc.RegexValues)
		}
		return "path " + patterns(vals, res)
	case "http-header":
		if hc := c.HttpHeaderConfig; hc != nil {
			return "header " + deref(hc.HttpHeaderName) + " " + patterns(hc.Values, union(c.RegexValues, hc.RegexValues))
		}
	case "http-request-method":
		if mc := c.HttpRequestMethodConfig; mc != nil {
			return "method is " + strings.Join(mc.Values, " or ")
		}
	case "query-string":
		if qc := c.QueryStringConfig; qc != nil {
			var kvs []string
			for _, kv := range qc.Values {
				if k := deref(kv.Key); k != "" {
					kvs = append(kvs, k+"="+deref(kv.Value))
				} else {
					kvs = append(kvs, "any key="+deref(kv.Value))
				}
			}
			return "query has " + strings.Join(kvs, " or ")
		}
	case "source-ip":
		if sc := c.SourceIpConfig; sc != nil {
			return "source in " + strings.Join(sc.Values, " or ")
		}
	}
	if len(c.Values) > 0 {
		return field + " " + patterns(c.Values, nil)
	}
	return field + " (no values)"
}

// union returns the values of a and b, each once, in order: DescribeRules
// gives a condition's values both in Values and in its *Config.
func union(a, b []string) []string {
	var out []string
	for _, v := range append(append([]string(nil), a...), b...) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// patterns joins wildcard and regex values: `is a or b or matches /re/`.
func patterns(vals, regexes []string) string {
	out := ""
	if len(vals) > 0 {
		out = "is " + strings.Join(vals, " or ")
	}
	var res []string
	for _, r := range regexes {
		res = append(res, "/"+r+"/")
	}
	if len(res) > 0 {
		if out != "" {
			out += " or "
		}
		out += "matches " + strings.Join(res, " or ")
	}
	if out == "" {
		return "(no values)"
	}
	return out
}

// actionWords describes a rule's actions in the order they run, naming
// target groups by name (tgName).
func actionWords(actions []elbv2types.Action, tgName func(string) string) []string {
	as := append([]elbv2types.Action(nil), actions...)
	sort.SliceStable(as, func(i, j int) bool { return actionOrder(as[i], i) < actionOrder(as[j], j) })
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, oneAction(a, tgName))
	}
	return out
}

func actionOrder(a elbv2types.Action, i int) int {
	if a.Order != nil {
		return int(*a.Order)
	}
	return 50001 + i
}

func oneAction(a elbv2types.Action, tgName func(string) string) string {
	switch a.Type {
	case elbv2types.ActionTypeEnumForward:
		fc := a.ForwardConfig
		if fc == nil || len(fc.TargetGroups) == 0 {
			return "forward to " + tgName(deref(a.TargetGroupArn))
		}
		if len(fc.TargetGroups) == 1 {
			return "forward to " + tgName(deref(fc.TargetGroups[0].TargetGroupArn))
		}
		total := int32(0)
		for _, t := range fc.TargetGroups {
			total += weight(t.Weight)
		}
		var parts []string
		for _, t := range fc.TargetGroups {
			w := weight(t.Weight)
			share := 0
			if total > 0 {
				share = int(float64(w) * 100 / float64(total))
			}
			parts = append(parts, fmt.Sprintf("%s (weight %d, %d%%)", tgName(deref(t.TargetGroupArn)), w, share))
		}
		s := "forward to " + strings.Join(parts, ", ")
		if sc := fc.TargetGroupStickinessConfig; sc != nil && sc.Enabled != nil && *sc.Enabled {
			s += "; target group stickiness"
			if sc.DurationSeconds != nil {
				s += fmt.Sprintf(" %d s", *sc.DurationSeconds)
			}
		}
		return s
	case elbv2types.ActionTypeEnumRedirect:
		rc := a.RedirectConfig
		if rc == nil {
			return "redirect"
		}
		code := strings.TrimPrefix(string(rc.StatusCode), "HTTP_")
		loc := or(rc.Protocol, "#{protocol}") + "://" + or(rc.Host, "#{host}") + ":" + or(rc.Port, "#{port}") + or(rc.Path, "/#{path}")
		if q := or(rc.Query, "#{query}"); q != "" {
			loc += "?" + q
		}
		return "redirect " + code + " to " + loc
	case elbv2types.ActionTypeEnumFixedResponse:
		fc := a.FixedResponseConfig
		if fc == nil {
			return "fixed response"
		}
		s := "respond " + deref(fc.StatusCode)
		if ct := deref(fc.ContentType); ct != "" {
			s += " " + ct
		}
		if b := deref(fc.MessageBody); b != "" {
			if len(b) > 60 {
				b = b[:57] + "..."
			}
			s += " " + strconv.Quote(b)
		}
		return s
	case elbv2types.ActionTypeEnumAuthenticateOidc:
		s := "authenticate with OIDC"
		if c := a.AuthenticateOidcConfig; c != nil && c.Issuer != nil {
			s += " (issuer " + *c.Issuer + ")"
		}
		return s + "; not run by the local ELB"
	case elbv2types.ActionTypeEnumAuthenticateCognito:
		return "authenticate with Cognito; not run by the local ELB"
	}
	return string(a.Type)
}

// transformWords describes a rule's transforms.
func transformWords(ts []elbv2types.RuleTransform) []string {
	var out []string
	for _, t := range ts {
		var rws []elbv2types.RewriteConfig
		what := string(t.Type)
		switch t.Type {
		case elbv2types.TransformTypeEnumHostHeaderRewrite:
			what = "rewrite host"
			if t.HostHeaderRewriteConfig != nil {
				rws = t.HostHeaderRewriteConfig.Rewrites
			}
		case elbv2types.TransformTypeEnumUrlRewrite:
			what = "rewrite URL"
			if t.UrlRewriteConfig != nil {
				rws = t.UrlRewriteConfig.Rewrites
			}
		}
		for _, rw := range rws {
			out = append(out, what+" /"+deref(rw.Regex)+"/ to "+strconv.Quote(deref(rw.Replace)))
		}
		if len(rws) == 0 {
			out = append(out, what)
		}
	}
	return out
}

// healthCheckWords describes a target group's health check.
func healthCheckWords(tg *state.TargetGroup) string {
	if !tg.HealthCheckEnabled {
		return "health checks disabled"
	}
	proto := tg.HealthCheckProtocol
	if proto == "" {
		proto = "(default protocol)"
	}
	s := proto
	if proto != "TCP" {
		what := "GET " + tg.HealthCheckPath
		if tg.ProtocolVersion == "GRPC" {
			what = "gRPC " + tg.HealthCheckPath
		}
		s += " " + what
	}
	port := tg.HealthCheckPort
	if port == "" {
		port = "traffic-port"
	}
	s += " on " + port
	if tg.HealthCheckIntervalSeconds > 0 {
		s += fmt.Sprintf(" every %d s, timeout %d s", tg.HealthCheckIntervalSeconds, tg.HealthCheckTimeoutSeconds)
	}
	if tg.HealthyThresholdCount > 0 {
		s += fmt.Sprintf("; healthy after %d, unhealthy after %d", tg.HealthyThresholdCount, tg.UnhealthyThresholdCount)
	}
	switch {
	case tg.ProtocolVersion == "GRPC" && tg.MatcherGRPCCode != "":
		s += "; gRPC codes " + tg.MatcherGRPCCode
	case proto != "TCP" && tg.MatcherHTTPCode != "":
		s += "; codes " + tg.MatcherHTTPCode
	}
	return s
}

func weight(w *int32) int32 {
	if w == nil {
		return 1
	}
	return *w
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func or(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}
