package gateway

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/stack"
)

// ALB listener rule limits ("Listener rules for your Application Load
// Balancer", "Quotas for your Application Load Balancers").
const (
	// maxConditionValues is the most match evaluations a rule may have
	// (condition-values-per-alb-rule).
	maxConditionValues = 5
	// maxValuesPerCondition is the most values one condition may have.
	maxValuesPerCondition = 3
	// maxWildcards is the most '*' and '?' a rule's values may have.
	maxWildcards = 5
	// maxValueLen is the longest condition value or regular expression.
	maxValueLen = 128
	// maxTargetGroupsPerAction is the most target groups a forward action
	// may have (target-groups-per-action-on-application-load-balancer).
	maxTargetGroupsPerAction = 5
	// maxWeight is the largest target group weight of a forward action.
	maxWeight = 999
	// maxRulesPerListener is the default quota of rules per ALB listener
	// (rules-per-application-load-balancer), the default rule excluded.
	maxRulesPerListener = 100
)

var (
	// pathValueRE are the characters of a path-pattern value, besides the
	// wildcards (rule-condition-types, "Path conditions").
	pathValueRE = regexp.MustCompile(`^[A-Za-z0-9_\-.$/~"'@:+&]+$`)
	// hostValueRE is a host-header value ALB takes: letters, digits, '-',
	// '.', a leading "*." wildcard, at least one '.', letters after the
	// last '.'.
	hostValueRE = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]+$`)
)

// conds is the condition list of one rule being built, with its counts.
type conds struct {
	list      []stack.Condition
	values    int
	wildcards int
}

func (c *conds) add(cond stack.Condition, values int, wildcards int) {
	c.list = append(c.list, cond)
	c.values += values
	c.wildcards += wildcards
}

// check returns why the rule exceeds ALB's limits, counting extra values
// (the host-header condition added per hostname).
func (c *conds) check(extraValues, extraWildcards int) error {
	if n := c.values + extraValues; n > maxConditionValues {
		return fmt.Errorf("the match needs %d condition values (host, path, headers, query parameters, method, source IPs) and an ALB rule takes at most %d (condition-values-per-alb-rule)", n, maxConditionValues)
	}
	if n := c.wildcards + extraWildcards; n > maxWildcards {
		return fmt.Errorf("the match needs %d wildcards and an ALB rule takes at most %d", n, maxWildcards)
	}
	return nil
}

// anchored is a regular expression matching exactly s.
func anchored(s string) string { return "^" + regexp.QuoteMeta(s) + "$" }

// checkRegex checks a regular expression as ALB takes it: RE2 syntax
// without Unicode character classes, at most 128 characters.
func checkRegex(what, re string) error {
	if re == "" || len(re) > maxValueLen {
		return fmt.Errorf("%s regular expression %q: ALB takes 1 to %d characters", what, re, maxValueLen)
	}
	if _, err := syntax.Parse(re, syntax.Perl); err != nil {
		return fmt.Errorf("%s regular expression %q does not parse: %v", what, re, err)
	}
	if strings.Contains(re, `\p`) || strings.Contains(re, `\P`) {
		return fmt.Errorf("%s regular expression %q uses a Unicode character class, which ALB regular expressions do not support", what, re)
	}
	return nil
}

// pathCondition is the path-pattern condition of an HTTPRoute path match.
// Exact and prefix matches use plain values where ALB's path characters
// allow (a prefix "/a" is "/a" or "/a/*", as the spec matches path
// elements), else an anchored regular expression; a RegularExpression
// match is passed to ALB as it is.
func pathCondition(p *gwv1.HTTPPathMatch, c *conds) error {
	v := *p.Value
	switch *p.Type {
	case gwv1.PathMatchExact:
		if pathValueRE.MatchString(v) && len(v) <= maxValueLen {
			c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: []string{v}}}, 1, 0)
			return nil
		}
		re := anchored(v)
		if err := checkRegex("path", re); err != nil {
			return err
		}
		c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{RegexValues: []string{re}}}, 1, 0)
	case gwv1.PathMatchPathPrefix:
		if v == "/" {
			c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: []string{"/*"}}}, 1, 1)
			return nil
		}
		t := strings.TrimSuffix(v, "/")
		if pathValueRE.MatchString(t) && len(t)+2 <= maxValueLen {
			c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: []string{t, t + "/*"}}}, 2, 1)
			return nil
		}
		re := "^" + regexp.QuoteMeta(t) + "(/.*)?$"
		if err := checkRegex("path", re); err != nil {
			return err
		}
		c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{RegexValues: []string{re}}}, 1, 0)
	case gwv1.PathMatchRegularExpression:
		if err := checkRegex("path", v); err != nil {
			return err
		}
		c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{RegexValues: []string{v}}}, 1, 0)
	default:
		return fmt.Errorf("path match type %q: want Exact, PathPrefix or RegularExpression", *p.Type)
	}
	return nil
}

// compactPrefix turns a two-value prefix path condition into one anchored
// regular expression, to fit a rule in ALB's five condition values.
func compactPrefix(c *conds) bool {
	for i := range c.list {
		pc := c.list[i].PathPatternConfig
		if c.list[i].Field != stack.ConditionPathPattern || pc == nil || len(pc.Values) != 2 {
			continue
		}
		re := "^" + regexp.QuoteMeta(pc.Values[0]) + "(/.*)?$"
		if checkRegex("path", re) != nil {
			return false
		}
		c.list[i].PathPatternConfig = &stack.ValuesConfig{RegexValues: []string{re}}
		c.values--
		c.wildcards--
		return true
	}
	return false
}

// headerCondition is an http-header condition matching a header exactly
// (as an anchored regular expression: ALB compares plain values without
// regard to case and reads '*' and '?' as wildcards) or by a regular
// expression.
func headerCondition(name, value string, regex bool, c *conds) error {
	re := anchored(value)
	if regex {
		re = value
	}
	if err := checkRegex("header "+name, re); err != nil {
		return err
	}
	if len(name) > 40 {
		return fmt.Errorf("header name %q: ALB takes at most 40 characters", name)
	}
	c.add(stack.Condition{Field: stack.ConditionHTTPHeader, HTTPHeaderConfig: &stack.HTTPHeaderConfig{HTTPHeaderName: name, RegexValues: []string{re}}}, 1, 0)
	return nil
}

// queryCondition is a query-string condition. ALB compares query keys
// and values without regard to case, reads '*' and '?' as wildcards and
// has no regular expressions for them: a value with a wildcard character,
// or a RegularExpression match, cannot be expressed.
func queryCondition(q gwv1.HTTPQueryParamMatch, c *conds) error {
	if *q.Type != gwv1.QueryParamMatchExact {
		return fmt.Errorf("query parameter %s: %s matches are not supported: ALB query-string conditions have no regular expressions", q.Name, *q.Type)
	}
	name := string(q.Name)
	for _, s := range []string{name, q.Value} {
		if strings.ContainsAny(s, "*?") {
			return fmt.Errorf("query parameter %s=%s: ALB reads '*' and '?' in query-string conditions as wildcards, so the exact match cannot be expressed", name, q.Value)
		}
		if len(s) > maxValueLen {
			return fmt.Errorf("query parameter %s: ALB takes keys and values of at most %d characters", name, maxValueLen)
		}
		for _, r := range s {
			if r < 0x20 || r > 0x7e {
				return fmt.Errorf("query parameter %s: ALB takes visible ASCII characters only", name)
			}
		}
	}
	c.add(stack.Condition{Field: stack.ConditionQueryString, QueryStringConfig: &stack.QueryStringConfig{Values: []stack.QueryStringKeyValue{{Key: &name, Value: q.Value}}}}, 1, 0)
	return nil
}

// hostCondition is the host-header condition of one hostname. ALB
// compares host-header conditions with the whole Host header, port
// included, while the Gateway API matches the hostname alone: the
// condition is a regular expression (case-insensitive, as host names are)
// that allows a port after the name, and a wildcard "*.example.com"
// covers subdomains at any depth. A name too long for a 128-character
// regular expression falls back to a plain value, which a Host header
// with a port does not match.
func hostCondition(h string) (stack.Condition, int, error) {
	var re string
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		re = `(?i)^[^:]+\.` + regexp.QuoteMeta(rest) + `(:[0-9]+)?$`
	} else {
		re = `(?i)^` + regexp.QuoteMeta(h) + `(:[0-9]+)?$`
	}
	if len(re) <= maxValueLen {
		return stack.Condition{Field: stack.ConditionHostHeader, HostHeaderConfig: &stack.ValuesConfig{RegexValues: []string{re}}}, 0, nil
	}
	if !hostValueRE.MatchString(h) || len(h) > maxValueLen {
		return stack.Condition{}, 0, fmt.Errorf("hostname %q cannot be an ALB host condition: too long for a regular expression, and ALB host values need a '.' and letters after the last '.'", h)
	}
	w := 0
	if strings.HasPrefix(h, "*.") {
		w = 1
	}
	return stack.Condition{Field: stack.ConditionHostHeader, HostHeaderConfig: &stack.ValuesConfig{Values: []string{h}}}, w, nil
}

// grpcPathCondition is the path-pattern condition of a GRPCRoute method
// match: gRPC calls are POSTs to /<service>/<method>.
func grpcPathCondition(m *gwv1.GRPCMethodMatch, c *conds) error {
	if m == nil {
		c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: []string{"/*"}}}, 1, 1)
		return nil
	}
	svc, meth := "", ""
	if m.Service != nil {
		svc = *m.Service
	}
	if m.Method != nil {
		meth = *m.Method
	}
	if *m.Type == gwv1.GRPCMethodMatchRegularExpression {
		part := func(s string) string {
			if s == "" {
				return "[^/]+"
			}
			return "(?:" + s + ")"
		}
		re := "^/" + part(svc) + "/" + part(meth) + "$"
		if err := checkRegex("gRPC method", re); err != nil {
			return err
		}
		c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{RegexValues: []string{re}}}, 1, 0)
		return nil
	}
	if *m.Type != gwv1.GRPCMethodMatchExact {
		return fmt.Errorf("gRPC method match type %q: want Exact or RegularExpression", *m.Type)
	}
	var v string
	w := 0
	switch {
	case svc != "" && meth != "":
		v = "/" + svc + "/" + meth
	case svc != "":
		v, w = "/"+svc+"/*", 1
	case meth != "":
		v, w = "/*/"+meth, 1
	default:
		v, w = "/*", 1
	}
	if !pathValueRE.MatchString(strings.ReplaceAll(v, "*", "")) || len(v) > maxValueLen {
		return fmt.Errorf("gRPC method %q has characters an ALB path condition does not take", v)
	}
	c.add(stack.Condition{Field: stack.ConditionPathPattern, PathPatternConfig: &stack.ValuesConfig{Values: []string{v}}}, 1, w)
	return nil
}
