package elbv2_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
)

func hostIs(hosts ...string) types.RuleCondition {
	return types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: hosts}}
}

func (e *env) ruleSetup(t *testing.T) (lb types.LoadBalancer, l types.Listener, tg types.TargetGroup) {
	t.Helper()
	lb = e.alb(t, "web")
	tg = e.tg(t, "web", types.ProtocolEnumHttp, 80)
	l = e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, fixed("404"))
	return lb, l, tg
}

func TestRules(t *testing.T) {
	e := start(t)
	_, l, tg := e.ruleSetup(t)
	create := func(prio int32, conds []types.RuleCondition, mod ...func(*sdk.CreateRuleInput)) (*sdk.CreateRuleOutput, error) {
		in := &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(prio), Conditions: conds, Actions: forward(tg.TargetGroupArn)}
		for _, m := range mod {
			m(in)
		}
		return e.elb.CreateRule(ctx, in)
	}
	r1 := must[*sdk.CreateRuleOutput](t)(create(10, []types.RuleCondition{{Field: aws.String("host-header"), Values: []string{"a.example.com"}}},
		func(in *sdk.CreateRuleInput) {
			in.Tags = []types.Tag{{Key: aws.String("rule"), Value: aws.String("one")}}
		})).Rules[0]
	if *r1.Priority != "10" || *r1.IsDefault || r1.Conditions[0].HostHeaderConfig == nil || r1.Conditions[0].HostHeaderConfig.Values[0] != "a.example.com" ||
		r1.Conditions[0].Values[0] != "a.example.com" {
		t.Errorf("rule %+v", r1)
	}
	if !strings.Contains(*r1.RuleArn, ":listener-rule/app/web/") {
		t.Errorf("rule ARN %s", *r1.RuleArn)
	}
	r2 := must[*sdk.CreateRuleOutput](t)(create(5, []types.RuleCondition{
		{Field: aws.String("path-pattern"), RegexValues: []string{"^/api/v[0-9]+/.*$"}},
		{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Env"), Values: []string{"dev*"}}},
		{Field: aws.String("query-string"), QueryStringConfig: &types.QueryStringConditionConfig{Values: []types.QueryStringKeyValuePair{{Key: aws.String("v"), Value: aws.String("2")}}}},
		{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"10.0.0.0/8"}}},
	}, func(in *sdk.CreateRuleInput) {
		in.Transforms = []types.RuleTransform{{Type: types.TransformTypeEnumUrlRewrite,
			UrlRewriteConfig: &types.UrlRewriteConfig{Rewrites: []types.RewriteConfig{{Regex: aws.String("^/api/(.*)$"), Replace: aws.String("/$1")}}}}}
	})).Rules[0]
	if len(r2.Transforms) != 1 || *r2.Transforms[0].UrlRewriteConfig.Rewrites[0].Replace != "/$1" ||
		r2.Conditions[0].PathPatternConfig.RegexValues[0] != "^/api/v[0-9]+/.*$" {
		t.Errorf("rule with regex and transform %+v", r2)
	}
	_, err := create(10, pathIs("/x"))
	apiErr(t, err, "PriorityInUse")

	// DescribeRules: by priority, the default rule last.
	d := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn}))
	var order []string
	for _, r := range d.Rules {
		order = append(order, *r.Priority)
	}
	if strings.Join(order, ",") != "5,10,default" || !*d.Rules[2].IsDefault || len(d.Rules[2].Conditions) != 0 ||
		*d.Rules[2].Actions[0].FixedResponseConfig.StatusCode != "404" {
		t.Errorf("rules %v %+v", order, d.Rules[2])
	}
	page := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn, PageSize: aws.Int32(2)}))
	rest := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn, PageSize: aws.Int32(2), Marker: page.NextMarker}))
	if len(page.Rules) != 2 || len(rest.Rules) != 1 || !*rest.Rules[0].IsDefault {
		t.Errorf("rule pages %d + %d", len(page.Rules), len(rest.Rules))
	}
	def := d.Rules[2].RuleArn
	byARN := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{RuleArns: []string{*def, *r1.RuleArn}}))
	if len(byARN.Rules) != 2 {
		t.Errorf("by ARN %+v", byARN.Rules)
	}
	_, err = e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{RuleArns: []string{*r1.RuleArn + "0"}})
	apiErr(t, err, "RuleNotFound")

	// SetRulePriorities: a swap succeeds as a whole; a clash changes nothing.
	sw := must[*sdk.SetRulePrioritiesOutput](t)(e.elb.SetRulePriorities(ctx, &sdk.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
		{RuleArn: r1.RuleArn, Priority: aws.Int32(5)}, {RuleArn: r2.RuleArn, Priority: aws.Int32(10)}}}))
	if len(sw.Rules) != 2 || *sw.Rules[0].Priority != "5" {
		t.Errorf("swap %+v", sw.Rules)
	}
	r3 := must[*sdk.CreateRuleOutput](t)(create(20, pathIs("/c"))).Rules[0]
	_, err = e.elb.SetRulePriorities(ctx, &sdk.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
		{RuleArn: r3.RuleArn, Priority: aws.Int32(30)}, {RuleArn: r2.RuleArn, Priority: aws.Int32(5)}}})
	apiErr(t, err, "PriorityInUse")
	got := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{RuleArns: []string{*r3.RuleArn}}))
	if *got.Rules[0].Priority != "20" {
		t.Errorf("failed SetRulePriorities changed rule 3 to %s", *got.Rules[0].Priority)
	}
	_, err = e.elb.SetRulePriorities(ctx, &sdk.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{{RuleArn: def, Priority: aws.Int32(7)}}})
	apiErr(t, err, "OperationNotPermitted")

	// ModifyRule: conditions, actions; the default rule's actions only.
	m := must[*sdk.ModifyRuleOutput](t)(e.elb.ModifyRule(ctx, &sdk.ModifyRuleInput{RuleArn: r2.RuleArn, Conditions: pathIs("/v2/*"), ResetTransforms: aws.Bool(true)})).Rules[0]
	if len(m.Conditions) != 1 || len(m.Transforms) != 0 || *m.Actions[0].TargetGroupArn != *tg.TargetGroupArn {
		t.Errorf("modified rule %+v", m)
	}
	dm := must[*sdk.ModifyRuleOutput](t)(e.elb.ModifyRule(ctx, &sdk.ModifyRuleInput{RuleArn: def, Actions: fixed("503")})).Rules[0]
	if !*dm.IsDefault || *dm.Actions[0].FixedResponseConfig.StatusCode != "503" {
		t.Errorf("modified default rule %+v", dm)
	}
	ls := must[*sdk.DescribeListenersOutput](t)(e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{ListenerArns: []string{*l.ListenerArn}}))
	if *ls.Listeners[0].DefaultActions[0].FixedResponseConfig.StatusCode != "503" {
		t.Errorf("listener default action %+v", ls.Listeners[0].DefaultActions)
	}
	_, err = e.elb.ModifyRule(ctx, &sdk.ModifyRuleInput{RuleArn: def, Conditions: pathIs("/")})
	apiErr(t, err, "OperationNotPermitted")
	_, err = e.elb.DeleteRule(ctx, &sdk.DeleteRuleInput{RuleArn: def})
	apiErr(t, err, "OperationNotPermitted")
	must[*sdk.DeleteRuleOutput](t)(e.elb.DeleteRule(ctx, &sdk.DeleteRuleInput{RuleArn: r3.RuleArn}))
	_, err = e.elb.DeleteRule(ctx, &sdk.DeleteRuleInput{RuleArn: r3.RuleArn})
	apiErr(t, err, "RuleNotFound")

	// The target group is in use through the rules.
	_, err = e.elb.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn})
	apiErr(t, err, "ResourceInUse")
	// Deleting the listener deletes its rules and their tags.
	must[*sdk.DeleteListenerOutput](t)(e.elb.DeleteListener(ctx, &sdk.DeleteListenerInput{ListenerArn: l.ListenerArn}))
	_, err = e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: []string{*r1.RuleArn}})
	apiErr(t, err, "RuleNotFound")
	must[*sdk.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn}))
}

func TestRuleConditionErrors(t *testing.T) {
	e := start(t)
	_, l, tg := e.ruleSetup(t)
	hv := func(field string, values ...string) types.RuleCondition {
		return types.RuleCondition{Field: aws.String(field), Values: values}
	}
	cases := []struct {
		name  string
		conds []types.RuleCondition
	}{
		{"none", []types.RuleCondition{}},
		{"bad field", []types.RuleCondition{hv("cookie", "a")}},
		{"two host conditions", []types.RuleCondition{hostIs("a.example.com"), hostIs("b.example.com")}},
		{"four values", []types.RuleCondition{hostIs("a.example.com", "b.example.com", "c.example.com", "d.example.com")}},
		{"six values in a rule", []types.RuleCondition{hostIs("a.example.com", "b.example.com", "c.example.com"), {Field: aws.String("path-pattern"),
			PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/a", "/b", "/c"}}}}},
		{"six wildcards", []types.RuleCondition{hostIs("*.a.com", "*.b.com", "*.c.com"), {Field: aws.String("path-pattern"),
			PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/a/*/*/*"}}}}},
		{"host without dot", []types.RuleCondition{hostIs("localhost")}},
		{"host bad char", []types.RuleCondition{hostIs("a_b.example.com")}},
		{"host too long", []types.RuleCondition{hostIs(strings.Repeat("a", 125) + ".com")}},
		{"path bad char", []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/a b"}}}}},
		{"values on header", []types.RuleCondition{hv("http-header", "x")}},
		{"header without config", []types.RuleCondition{{Field: aws.String("http-header")}}},
		{"header name too long", []types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{
			HttpHeaderName: aws.String(strings.Repeat("x", 41)), Values: []string{"a"}}}}},
		{"host header via http-header", []types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{
			HttpHeaderName: aws.String("Host"), Values: []string{"a"}}}}},
		{"method lower case", []types.RuleCondition{{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"get"}}}}},
		{"query without value", []types.RuleCondition{{Field: aws.String("query-string"), QueryStringConfig: &types.QueryStringConditionConfig{
			Values: []types.QueryStringKeyValuePair{{Key: aws.String("a")}}}}}},
		{"source-ip not CIDR", []types.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"10.0.0.1"}}}}},
		{"bad regex", []types.RuleCondition{{Field: aws.String("path-pattern"), RegexValues: []string{"(?<=a)b"}}}},
		{"regex on method", []types.RuleCondition{{Field: aws.String("http-request-method"), RegexValues: []string{"GET"},
			HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"GET"}}}}},
		{"mismatched config", []types.RuleCondition{{Field: aws.String("host-header"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/"}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1), Conditions: c.conds, Actions: forward(tg.TargetGroupArn)})
			apiErr(t, err, "ValidationError")
		})
	}
	others := []struct {
		name string
		in   sdk.CreateRuleInput
	}{
		{"priority 0", sdk.CreateRuleInput{Priority: aws.Int32(0)}},
		{"priority 50001", sdk.CreateRuleInput{Priority: aws.Int32(50001)}},
		{"two url rewrites", sdk.CreateRuleInput{Priority: aws.Int32(1), Transforms: []types.RuleTransform{
			{Type: types.TransformTypeEnumUrlRewrite, UrlRewriteConfig: &types.UrlRewriteConfig{Rewrites: []types.RewriteConfig{{Regex: aws.String("a"), Replace: aws.String("b")}}}},
			{Type: types.TransformTypeEnumUrlRewrite, UrlRewriteConfig: &types.UrlRewriteConfig{Rewrites: []types.RewriteConfig{{Regex: aws.String("a"), Replace: aws.String("b")}}}}}}},
		{"bad transform regex", sdk.CreateRuleInput{Priority: aws.Int32(1), Transforms: []types.RuleTransform{
			{Type: types.TransformTypeEnumHostHeaderRewrite, HostHeaderRewriteConfig: &types.HostHeaderRewriteConfig{Rewrites: []types.RewriteConfig{{Regex: aws.String("("), Replace: aws.String("b")}}}}}}},
	}
	for _, c := range others {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.ListenerArn, in.Conditions, in.Actions = l.ListenerArn, pathIs("/"), forward(tg.TargetGroupArn)
			_, err := e.elb.CreateRule(ctx, &in)
			apiErr(t, err, "ValidationError")
		})
	}
	_, err := e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: aws.String(*l.ListenerArn + "0"), Priority: aws.Int32(1), Conditions: pathIs("/"), Actions: forward(tg.TargetGroupArn)})
	apiErr(t, err, "ListenerNotFound")
	// Rules on a network load balancer's listener are refused.
	nlb := e.nlb(t, "tcp")
	tcp := e.tg(t, "tcp", types.ProtocolEnumTcp, 80)
	nl := e.listener(t, nlb.LoadBalancerArn, types.ProtocolEnumTcp, 80, forward(tcp.TargetGroupArn))
	_, err = e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: nl.ListenerArn, Priority: aws.Int32(1), Conditions: pathIs("/"), Actions: forward(tcp.TargetGroupArn)})
	apiErr(t, err, "InvalidConfigurationRequest")
	d := must[*sdk.DescribeRulesOutput](t)(e.elb.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn}))
	if len(d.Rules) != 1 {
		t.Errorf("failed creates left rules: %d", len(d.Rules))
	}
}

func TestTooManyRules(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{RulesPerALB: 3}))
	lb, l, tg := e.ruleSetup(t)
	l2 := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 81, fixed("404"))
	for i, lis := range []*string{l.ListenerArn, l.ListenerArn, l2.ListenerArn} {
		must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: lis, Priority: aws.Int32(int32(i + 1)),
			Conditions: pathIs(fmt.Sprintf("/%d", i)), Actions: forward(tg.TargetGroupArn)}))
	}
	_, err := e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l2.ListenerArn, Priority: aws.Int32(9), Conditions: pathIs("/9"), Actions: forward(tg.TargetGroupArn)})
	apiErr(t, err, "TooManyRules")
}

func TestWeightedForwardAndStickiness(t *testing.T) {
	e := start(t)
	_, l, _ := e.ruleSetup(t)
	a, b := e.tg(t, "a", types.ProtocolEnumHttp, 80), e.tg(t, "b", types.ProtocolEnumHttp, 80)
	r := must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1), Conditions: pathIs("/"),
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
			TargetGroups:                []types.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: aws.Int32(80)}, {TargetGroupArn: b.TargetGroupArn, Weight: aws.Int32(20)}},
			TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(300)}}}}})).Rules[0]
	fc := r.Actions[0].ForwardConfig
	if r.Actions[0].TargetGroupArn != nil || len(fc.TargetGroups) != 2 || *fc.TargetGroups[1].Weight != 20 || *fc.TargetGroupStickinessConfig.DurationSeconds != 300 {
		t.Errorf("weighted forward %+v", r.Actions[0])
	}
	_, err := e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(2), Conditions: pathIs("/x"),
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
			TargetGroups:                []types.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}},
			TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true)}}}}})
	apiErr(t, err, "ValidationError")
	var six []types.TargetGroupTuple
	for i := range 6 {
		six = append(six, types.TargetGroupTuple{TargetGroupArn: e.tg(t, fmt.Sprintf("s%d", i), types.ProtocolEnumHttp, 80).TargetGroupArn})
	}
	_, err = e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(3), Conditions: pathIs("/y"),
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{TargetGroups: six}}}})
	apiErr(t, err, "TooManyTargetGroups")
}

func TestTooManyUniqueTargetGroups(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{TargetGroupsPerALB: 2}))
	_, l, tg := e.ruleSetup(t)
	other := e.tg(t, "other", types.ProtocolEnumHttp, 80)
	third := e.tg(t, "third", types.ProtocolEnumHttp, 80)
	must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1), Conditions: pathIs("/a"), Actions: forward(tg.TargetGroupArn)}))
	must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(2), Conditions: pathIs("/b"), Actions: forward(other.TargetGroupArn)}))
	// The same target group again is no new one.
	must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(3), Conditions: pathIs("/c"), Actions: forward(tg.TargetGroupArn)}))
	_, err := e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(4), Conditions: pathIs("/d"), Actions: forward(third.TargetGroupArn)})
	apiErr(t, err, "TooManyUniqueTargetGroupsPerLoadBalancer")
	_, err = e.elb.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn, DefaultActions: forward(third.TargetGroupArn)})
	apiErr(t, err, "TooManyUniqueTargetGroupsPerLoadBalancer")
}
