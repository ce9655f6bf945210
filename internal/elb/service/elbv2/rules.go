package elbv2

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Rule conditions as "Listener rules for your Application Load Balancer"
// and the RuleCondition API page describe them: at most one host-header,
// http-request-method, path-pattern and source-ip condition per rule, any
// number of http-header and query-string ones; up to three match
// evaluations per condition and five per rule (condition-values-per-alb-rule),
// five wildcards per rule; values of at most 128 characters of the
// documented character sets; regular expressions (RegexValues) for
// host-header, http-header and path-pattern.

var (
	hostValueRE   = regexp.MustCompile(`^[A-Za-z0-9\-.*?]+$`)
	hostLastRE    = regexp.MustCompile(`\.[A-Za-z*?]+$`)
	pathValueRE   = regexp.MustCompile(`^[A-Za-z0-9_\-.$/~"'@:+&*?]+$`)
	methodValueRE = regexp.MustCompile(`^[A-Z_-]{1,40}$`)
	printableRE   = regexp.MustCompile(`^[\x20-\x7e]*$`)
)

const maxMatchesPerCondition = 3

// ruleChecker carries the per-rule counts across conditions.
type ruleChecker struct {
	limits    Limits
	matches   int
	wildcards int
	seen      map[string]bool
}

// checkConditions validates a rule's conditions and returns them
// normalised: host-header and path-pattern values appear both in Values
// and in their Config, as AWS describes them.
func checkConditions(limits Limits, conds []types.RuleCondition) ([]types.RuleCondition, error) {
	if len(conds) == 0 {
		return nil, validation("A rule must have at least one condition")
	}
	rc := &ruleChecker{limits: limits, seen: map[string]bool{}}
	out := make([]types.RuleCondition, len(conds))
	for i, c := range conds {
		n, err := rc.check(c)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	if rc.matches > limits.ConditionValuesPerRule {
		return nil, validation("A rule can only have '%d' condition values", limits.ConditionValuesPerRule)
	}
	if rc.wildcards > limits.ConditionWildcardsPerRule {
		return nil, validation("A rule can only have '%d' wildcards", limits.ConditionWildcardsPerRule)
	}
	return out, nil
}

func countWildcards(v string) int {
	n := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '*', '?':
			n++
		}
	}
	return n
}

func (rc *ruleChecker) check(c types.RuleCondition) (types.RuleCondition, error) {
	field := str(c.Field)
	if field == "" {
		return c, missing("conditions.member.field")
	}
	switch field {
	case "host-header", "http-request-method", "path-pattern", "source-ip":
		if rc.seen[field] {
			return c, validation("A rule can only have one '%s' condition", field)
		}
		rc.seen[field] = true
	case "http-header", "query-string":
	default:
		return c, badEnum("conditions.member.field", field, "host-header", "http-header", "http-request-method", "path-pattern", "query-string", "source-ip")
	}
	configs := map[string]bool{
		"host-header": c.HostHeaderConfig != nil, "http-header": c.HttpHeaderConfig != nil,
		"http-request-method": c.HttpRequestMethodConfig != nil, "path-pattern": c.PathPatternConfig != nil,
		"query-string": c.QueryStringConfig != nil, "source-ip": c.SourceIpConfig != nil,
	}
	for f, ok := range configs {
		if ok && f != field {
			return c, validation("A '%s' condition cannot have the configuration of a '%s' condition", field, f)
		}
	}
	if len(c.Values) > 0 && field != "host-header" && field != "path-pattern" {
		return c, validation("Values can only be specified for host-header and path-pattern conditions; use the %s configuration", field)
	}
	if len(c.RegexValues) > 0 && field != "host-header" && field != "path-pattern" && field != "http-header" {
		return c, validation("Regex values can only be specified for host-header, http-header and path-pattern conditions")
	}
	count := func(n int) error {
		if n == 0 {
			return validation("A '%s' condition must have at least one value", field)
		}
		if n > maxMatchesPerCondition {
			return validation("A condition can only have '%d' values", maxMatchesPerCondition)
		}
		rc.matches += n
		return nil
	}
	switch field {
	case "host-header", "path-pattern":
		var cfgValues, cfgRegex []string
		if field == "host-header" && c.HostHeaderConfig != nil {
			cfgValues, cfgRegex = c.HostHeaderConfig.Values, c.HostHeaderConfig.RegexValues
		}
		if field == "path-pattern" && c.PathPatternConfig != nil {
			cfgValues, cfgRegex = c.PathPatternConfig.Values, c.PathPatternConfig.RegexValues
		}
		if len(c.Values) > 0 && len(cfgValues) > 0 && !slices.Equal(c.Values, cfgValues) {
			return c, validation("A '%s' condition has different values in Values and in its configuration", field)
		}
		values := c.Values
		if len(cfgValues) > 0 {
			values = cfgValues
		}
		regexes := append(slices.Clone(c.RegexValues), cfgRegex...)
		if len(values) > 0 && len(regexes) > 0 {
			return c, validation("A condition can have values or regex values, not both")
		}
		if err := count(len(values) + len(regexes)); err != nil {
			return c, err
		}
		for _, v := range values {
			if err := checkMatchValue(field, v); err != nil {
				return c, err
			}
			rc.wildcards += countWildcards(v)
		}
		if err := checkRegexes(regexes); err != nil {
			return c, err
		}
		n := types.RuleCondition{Field: ptr(field)}
		if len(values) > 0 {
			n.Values = slices.Clone(values)
			if field == "host-header" {
				n.HostHeaderConfig = &types.HostHeaderConditionConfig{Values: slices.Clone(values)}
			} else {
				n.PathPatternConfig = &types.PathPatternConditionConfig{Values: slices.Clone(values)}
			}
		} else if field == "host-header" {
			n.HostHeaderConfig = &types.HostHeaderConditionConfig{RegexValues: regexes}
		} else {
			n.PathPatternConfig = &types.PathPatternConditionConfig{RegexValues: regexes}
		}
		return n, nil
	case "http-header":
		h := c.HttpHeaderConfig
		if h == nil {
			return c, missing("conditions.member.httpHeaderConfig")
		}
		name := str(h.HttpHeaderName)
		if !settings.ValidHeaderName(name) {
			return c, validation("HTTP header name '%s' is not valid; it must be a header name of 1 to 40 characters", name)
		}
		if strings.EqualFold(name, "host") {
			return c, validation("Use a host-header condition to match the Host header")
		}
		regexes := append(slices.Clone(c.RegexValues), h.RegexValues...)
		if len(h.Values) > 0 && len(regexes) > 0 {
			return c, validation("A condition can have values or regex values, not both")
		}
		if err := count(len(h.Values) + len(regexes)); err != nil {
			return c, err
		}
		for _, v := range h.Values {
			if len(v) > 128 || !printableRE.MatchString(v) || v == "" {
				return c, validation("HTTP header value '%s' is not valid; it must have 1 to 128 visible ASCII characters", v)
			}
			rc.wildcards += countWildcards(v)
		}
		if err := checkRegexes(regexes); err != nil {
			return c, err
		}
		return types.RuleCondition{Field: ptr(field), HttpHeaderConfig: &types.HttpHeaderConditionConfig{
			HttpHeaderName: ptr(name), Values: slices.Clone(h.Values), RegexValues: regexes}}, nil
	case "http-request-method":
		m := c.HttpRequestMethodConfig
		if m == nil {
			return c, missing("conditions.member.httpRequestMethodConfig")
		}
		if err := count(len(m.Values)); err != nil {
			return c, err
		}
		for _, v := range m.Values {
			if !methodValueRE.MatchString(v) {
				return c, validation("HTTP request method '%s' is not valid; use up to 40 characters A-Z, '-' and '_'", v)
			}
		}
		return c, nil
	case "query-string":
		q := c.QueryStringConfig
		if q == nil {
			return c, missing("conditions.member.queryStringConfig")
		}
		if err := count(len(q.Values)); err != nil {
			return c, err
		}
		for _, kv := range q.Values {
			if kv.Value == nil || *kv.Value == "" {
				return c, validation("Every query string condition value must have a Value")
			}
			for _, v := range []string{str(kv.Key), *kv.Value} {
				if len(v) > 128 || !printableRE.MatchString(v) {
					return c, validation("Query string key or value '%s' is not valid; it can have up to 128 visible ASCII characters", v)
				}
				rc.wildcards += countWildcards(v)
			}
		}
		return c, nil
	default: // source-ip
		sip := c.SourceIpConfig
		if sip == nil {
			return c, missing("conditions.member.sourceIpConfig")
		}
		if sip.IpAddressType != "" {
			return c, validation("The source IP address type applies to Network Load Balancer rules only")
		}
		if err := count(len(sip.Values)); err != nil {
			return c, err
		}
		for _, v := range sip.Values {
			if _, err := netip.ParsePrefix(v); err != nil {
				return c, validation("Source IP '%s' is not a valid CIDR block", v)
			}
		}
		return c, nil
	}
}

// checkMatchValue validates a host-header or path-pattern value.
func checkMatchValue(field, v string) error {
	if v == "" || len(v) > 128 {
		return validation("Condition value '%s' is not valid; it must have 1 to 128 characters", v)
	}
	if field == "host-header" {
		if !hostValueRE.MatchString(v) {
			return validation("Condition value '%s' contains a character that is not valid; host names can contain A-Z, a-z, 0-9, '-', '.', '*' and '?'", v)
		}
		if !hostLastRE.MatchString(v) {
			return validation("Condition value '%s' is not valid; a host name must contain a '.' and only letters after the last '.'", v)
		}
		return nil
	}
	if !pathValueRE.MatchString(v) {
		return validation("Condition value '%s' contains a character that is not valid; path patterns can contain A-Z, a-z, 0-9, _ - . $ / ~ \" ' @ : + &, '*' and '?'", v)
	}
	return nil
}

// checkRegexes validates regular expressions (RE2 syntax, as Go's regexp
// reads it) of at most 128 characters.
func checkRegexes(rs []string) error {
	for _, r := range rs {
		if r == "" || len(r) > 128 {
			return validation("Regex value '%s' is not valid; it must have 1 to 128 characters", r)
		}
		if _, err := regexp.Compile(r); err != nil {
			return validation("Regex value '%s' is not a valid regular expression: %v", r, err)
		}
	}
	return nil
}

// checkTransforms validates a rule's transforms: at most one
// host-header-rewrite and one url-rewrite, each one rewrite of a regular
// expression and a replacement of at most 1,024 characters.
func checkTransforms(ts []types.RuleTransform) error {
	seen := map[types.TransformTypeEnum]bool{}
	for _, t := range ts {
		var rw []types.RewriteConfig
		switch t.Type {
		case types.TransformTypeEnumHostHeaderRewrite:
			if t.UrlRewriteConfig != nil || t.HostHeaderRewriteConfig == nil {
				return validation("A host-header-rewrite transform needs a HostHeaderRewriteConfig, and only that")
			}
			rw = t.HostHeaderRewriteConfig.Rewrites
		case types.TransformTypeEnumUrlRewrite:
			if t.HostHeaderRewriteConfig != nil || t.UrlRewriteConfig == nil {
				return validation("A url-rewrite transform needs a UrlRewriteConfig, and only that")
			}
			rw = t.UrlRewriteConfig.Rewrites
		default:
			return badEnum("transforms.member.type", string(t.Type), "host-header-rewrite", "url-rewrite")
		}
		if seen[t.Type] {
			return validation("A rule can have only one '%s' transform", t.Type)
		}
		seen[t.Type] = true
		if len(rw) != 1 {
			return validation("A '%s' transform must have exactly one rewrite", t.Type)
		}
		re, rep := str(rw[0].Regex), rw[0].Replace
		if re == "" || len(re) > 1024 {
			return validation("Transform regex '%s' is not valid; it must have 1 to 1024 characters", re)
		}
		if _, err := regexp.Compile(re); err != nil {
			return validation("Transform regex '%s' is not a valid regular expression: %v", re, err)
		}
		if rep == nil {
			return missing("transforms.member.rewrites.member.replace")
		}
		if len(*rep) > 1024 {
			return validation("Transform replacement is not valid; it can have at most 1024 characters")
		}
	}
	return nil
}

// getRule reads a rule. For a listener's default rule it returns the
// listener and a nil rule. Unknown rules are RuleNotFound.
func getRule(tx *state.Tx, arn string) (*state.Rule, *state.Listener, error) {
	if err := checkARN(arn, kindRule); err != nil {
		return nil, nil, err
	}
	r, ok, err := state.Get(tx, state.Rules, arn)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		return r, nil, nil
	}
	i := strings.LastIndexByte(arn, '/')
	lisARN := strings.Replace(arn[:i], ":listener-rule/", ":listener/", 1)
	l, ok, err := state.Get(tx, state.Listeners, lisARN)
	if err != nil {
		return nil, nil, err
	}
	if ok && l.DefaultRuleARN == arn {
		return nil, l, nil
	}
	return nil, nil, ruleNotFound(arn)
}

func renderRule(r *state.Rule) types.Rule {
	out := types.Rule{
		RuleArn:    ptr(r.ARN),
		Priority:   ptr(strconv.Itoa(int(r.Priority))),
		IsDefault:  ptr(false),
		Conditions: cloneConditions(r.Conditions),
		Actions:    cloneActions(r.Actions),
	}
	if len(r.Transforms) > 0 {
		out.Transforms = deepCopy(r.Transforms)
	}
	return out
}

func renderDefaultRule(l *state.Listener) types.Rule {
	return types.Rule{
		RuleArn:    ptr(l.DefaultRuleARN),
		Priority:   ptr("default"),
		IsDefault:  ptr(true),
		Conditions: []types.RuleCondition{},
		Actions:    cloneActions(l.DefaultActions),
	}
}

func cloneConditions(cs []types.RuleCondition) []types.RuleCondition {
	if len(cs) == 0 {
		return []types.RuleCondition{}
	}
	return deepCopy(cs)
}

// ruleLB returns the load balancer of a listener, which must be an
// application load balancer to have rules.
func ruleLB(tx *state.Tx, l *state.Listener) (*state.LoadBalancer, error) {
	lb, err := getLB(tx, l.LoadBalancerARN)
	if err != nil {
		return nil, err
	}
	if lb.Type != typeApplication {
		return nil, errf(codeInvalidConfiguration, "Rules can only be created for listeners of Application Load Balancers")
	}
	return lb, nil
}

func checkPriority(member string, p int32) error {
	if p < 1 || p > 50000 {
		return outOfRange(member, int64(p), 1, 50000)
	}
	return nil
}

// CreateRule creates a rule on an application load balancer's listener
// (API_CreateRule).
func (s *Service) CreateRule(ctx context.Context, in *sdk.CreateRuleInput) (*sdk.CreateRuleOutput, error) {
	switch {
	case in.ListenerArn == nil:
		return nil, missing("listenerArn")
	case in.Priority == nil:
		return nil, missing("priority")
	case in.Conditions == nil:
		return nil, missing("conditions")
	case in.Actions == nil:
		return nil, missing("actions")
	}
	if err := checkPriority("priority", *in.Priority); err != nil {
		return nil, err
	}
	conds, err := checkConditions(s.limits, in.Conditions)
	if err != nil {
		return nil, err
	}
	if err := checkTransforms(in.Transforms); err != nil {
		return nil, err
	}
	if err := s.checkTags(in.Tags); err != nil {
		return nil, err
	}
	var out *state.Rule
	err = s.update(ctx, "CreateRule", in.ListenerArn, func(tx *state.Tx) error {
		l, err := getListener(tx, *in.ListenerArn)
		if err != nil {
			return err
		}
		lb, err := ruleLB(tx, l)
		if err != nil {
			return err
		}
		rules, err := rulesOf(tx, l.ARN)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.Priority == *in.Priority {
				return errf(codePriorityInUse, "Priority '%d' is currently in use", *in.Priority)
			}
		}
		if n, err := countRules(tx, lb.ARN); err != nil {
			return err
		} else if n >= s.limits.RulesPerALB {
			return errf(codeTooManyRules, "You've reached the limit on the number of rules per load balancer (%d)", s.limits.RulesPerALB)
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		ac := &actionContext{tx: tx, lb: lb, protocol: l.Protocol, use: use, limits: s.limits}
		actions, err := ac.check(in.Actions, false)
		if err != nil {
			return err
		}
		r := &state.Rule{ARN: ruleARN(l.ARN, s.newID()), ListenerARN: l.ARN, Priority: *in.Priority, Conditions: conds, Actions: actions, Transforms: in.Transforms}
		if err := checkUniqueTargetGroups(tx, lb, r.ARN, actions, s.limits); err != nil {
			return err
		}
		if err := state.Put(tx, state.Rules, r); err != nil {
			return err
		}
		out = r
		return s.putNewTags(tx, r.ARN, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.CreateRuleOutput{Rules: []types.Rule{renderRule(out)}}, nil
}

// countRules counts the non-default rules of a load balancer.
func countRules(tx *state.Tx, lbARN string) (int, error) {
	ls, err := listenersOf(tx, lbARN)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range ls {
		rs, err := rulesOf(tx, l.ARN)
		if err != nil {
			return 0, err
		}
		n += len(rs)
	}
	return n, nil
}

// ModifyRule replaces the given properties of a rule; for a default rule
// only its actions (API_ModifyRule).
func (s *Service) ModifyRule(ctx context.Context, in *sdk.ModifyRuleInput) (*sdk.ModifyRuleOutput, error) {
	if in.RuleArn == nil {
		return nil, missing("ruleArn")
	}
	if in.ResetTransforms != nil && *in.ResetTransforms && in.Transforms != nil {
		return nil, validation("You cannot specify both Transforms and ResetTransforms")
	}
	var conds []types.RuleCondition
	if in.Conditions != nil {
		var err error
		if conds, err = checkConditions(s.limits, in.Conditions); err != nil {
			return nil, err
		}
	}
	if err := checkTransforms(in.Transforms); err != nil {
		return nil, err
	}
	var out types.Rule
	err := s.update(ctx, "ModifyRule", in.RuleArn, func(tx *state.Tx) error {
		r, def, err := getRule(tx, *in.RuleArn)
		if err != nil {
			return err
		}
		l := def
		if r != nil {
			if l, err = getListener(tx, r.ListenerARN); err != nil {
				return err
			}
		}
		lb, err := getLB(tx, l.LoadBalancerARN)
		if err != nil {
			return err
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		ac := &actionContext{tx: tx, lb: lb, protocol: l.Protocol, use: use, limits: s.limits}
		if def != nil {
			if in.Conditions != nil || in.Transforms != nil || (in.ResetTransforms != nil && *in.ResetTransforms) {
				return errf(codeOperationNotPermitted, "The conditions and transforms of a default rule cannot be modified")
			}
			if in.Actions != nil {
				if l.DefaultActions, err = ac.check(in.Actions, true); err != nil {
					return err
				}
				if err := checkUniqueTargetGroups(tx, lb, l.DefaultRuleARN, l.DefaultActions, s.limits); err != nil {
					return err
				}
				if err := state.Put(tx, state.Listeners, l); err != nil {
					return err
				}
			}
			out = renderDefaultRule(l)
			return nil
		}
		if in.Actions != nil {
			if r.Actions, err = ac.check(in.Actions, false); err != nil {
				return err
			}
			if err := checkUniqueTargetGroups(tx, lb, r.ARN, r.Actions, s.limits); err != nil {
				return err
			}
		}
		if in.Conditions != nil {
			r.Conditions = conds
		}
		if in.Transforms != nil {
			r.Transforms = in.Transforms
		}
		if in.ResetTransforms != nil && *in.ResetTransforms {
			r.Transforms = nil
		}
		out = renderRule(r)
		return state.Put(tx, state.Rules, r)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.ModifyRuleOutput{Rules: []types.Rule{out}}, nil
}

// DeleteRule deletes a rule; a default rule cannot be deleted
// (API_DeleteRule).
func (s *Service) DeleteRule(ctx context.Context, in *sdk.DeleteRuleInput) (*sdk.DeleteRuleOutput, error) {
	if in.RuleArn == nil {
		return nil, missing("ruleArn")
	}
	err := s.update(ctx, "DeleteRule", in.RuleArn, func(tx *state.Tx) error {
		r, def, err := getRule(tx, *in.RuleArn)
		if err != nil {
			return err
		}
		if def != nil {
			return errf(codeOperationNotPermitted, "Default rule '%s' cannot be deleted", *in.RuleArn)
		}
		if _, err := state.Delete(tx, state.Rules, r.ARN); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.Tags, r.ARN)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DeleteRuleOutput{}, nil
}

// DescribeRules lists a listener's rules by priority with the default rule
// last, or the rules named by ARN, paginated (API_DescribeRules).
func (s *Service) DescribeRules(ctx context.Context, in *sdk.DescribeRulesInput) (*sdk.DescribeRulesOutput, error) {
	if (in.ListenerArn == nil) == (len(in.RuleArns) == 0) {
		return nil, validation("You must specify either a listener ARN or rule ARNs")
	}
	type item struct {
		key  string
		rule types.Rule
	}
	var items []item
	add := func(r *state.Rule, l *state.Listener) {
		if r != nil {
			items = append(items, item{fmt.Sprintf("%s %05d", r.ListenerARN, r.Priority), renderRule(r)})
		} else {
			items = append(items, item{l.ARN + " 99999", renderDefaultRule(l)})
		}
	}
	err := s.view(ctx, func(tx *state.Tx) error {
		if in.ListenerArn != nil {
			l, err := getListener(tx, *in.ListenerArn)
			if err != nil {
				return err
			}
			rules, err := rulesOf(tx, l.ARN)
			if err != nil {
				return err
			}
			for _, r := range rules {
				add(r, nil)
			}
			add(nil, l)
			return nil
		}
		for _, arn := range dedupe(in.RuleArns) {
			r, l, err := getRule(tx, arn)
			if err != nil {
				if isCode(err, codeRuleNotFound) {
					return errf(codeRuleNotFound, "One or more rules not found")
				}
				return err
			}
			add(r, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(s.tokens.Scope("DescribeRules"), items, func(it item) string { return it.key }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeRulesOutput{Rules: make([]types.Rule, 0, len(page)), NextMarker: next}
	for _, it := range page {
		out.Rules = append(out.Rules, it.rule)
	}
	return out, nil
}

// SetRulePriorities sets the priorities of rules, all or none
// (API_SetRulePriorities).
func (s *Service) SetRulePriorities(ctx context.Context, in *sdk.SetRulePrioritiesInput) (*sdk.SetRulePrioritiesOutput, error) {
	if len(in.RulePriorities) == 0 {
		return nil, missing("rulePriorities")
	}
	seen := map[string]bool{}
	for _, rp := range in.RulePriorities {
		if rp.RuleArn == nil {
			return nil, missing("rulePriorities.member.ruleArn")
		}
		if rp.Priority == nil {
			return nil, missing("rulePriorities.member.priority")
		}
		if err := checkPriority("rulePriorities.member.priority", *rp.Priority); err != nil {
			return nil, err
		}
		if seen[*rp.RuleArn] {
			return nil, validation("Rule '%s' is specified more than once", *rp.RuleArn)
		}
		seen[*rp.RuleArn] = true
	}
	var out []types.Rule
	err := s.update(ctx, "SetRulePriorities", in.RulePriorities[0].RuleArn, func(tx *state.Tx) error {
		changed := map[string]*state.Rule{}
		listeners := map[string]bool{}
		for _, rp := range in.RulePriorities {
			r, def, err := getRule(tx, *rp.RuleArn)
			if err != nil {
				return err
			}
			if def != nil {
				return errf(codeOperationNotPermitted, "The priority of default rule '%s' cannot be changed", *rp.RuleArn)
			}
			r.Priority = *rp.Priority
			changed[r.ARN] = r
			listeners[r.ListenerARN] = true
		}
		for lis := range listeners {
			rules, err := rulesOf(tx, lis)
			if err != nil {
				return err
			}
			taken := map[int32]bool{}
			for _, r := range rules {
				if c, ok := changed[r.ARN]; ok {
					r = c
				}
				if taken[r.Priority] {
					return errf(codePriorityInUse, "Priority '%d' is currently in use", r.Priority)
				}
				taken[r.Priority] = true
			}
		}
		for _, rp := range in.RulePriorities {
			r := changed[*rp.RuleArn]
			if err := state.Put(tx, state.Rules, r); err != nil {
				return err
			}
			out = append(out, renderRule(r))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sdk.SetRulePrioritiesOutput{Rules: out}, nil
}
