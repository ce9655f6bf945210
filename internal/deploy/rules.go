package deploy

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// maxPriority is the highest rule priority ELBv2 accepts.
const maxPriority = 50000

// desiredRule is a stack rule in SDK form.
type desiredRule struct {
	r          *stack.ListenerRule
	conditions []elbv2types.RuleCondition
	actions    []elbv2types.Action
	transforms []elbv2types.RuleTransform
	key        string
}

// currentRule is an existing non-default rule.
type currentRule struct {
	arn      string
	priority int32
	key      string
}

func ruleKey(conds []elbv2types.RuleCondition, actions []elbv2types.Action, ts []elbv2types.RuleTransform) string {
	return canonConditions(conds) + "|" + canonActions(actions) + "|" + canonTransforms(ts)
}

// rules makes a listener's rules the stack's with the fewest changes, and
// in an order that never leaves a request without its rule:
//  1. rules equal in content are kept; those whose priority changes move
//     in one SetRulePriorities call (rules about to go move out of the way
//     in the same call, to the bottom of the list);
//  2. the remaining rules at a priority the stack still uses are changed
//     in place (ModifyRule);
//  3. new rules are created;
//  4. then the rules the stack no longer has are deleted.
func (r *run) rules(ctx context.Context, l *stack.Listener, existed bool) error {
	arn := l.Status.ListenerARN
	var want []desiredRule
	for _, rule := range r.s.RulesOf(l) {
		acts, err := stack.SDKActions(rule.Spec.Actions, r.s.Resolve)
		if err != nil {
			return fmt.Errorf("rule %s: %w", rule.ResID, err)
		}
		d := desiredRule{r: rule, actions: acts}
		for _, c := range rule.Spec.Conditions {
			d.conditions = append(d.conditions, c.SDK())
		}
		for _, t := range rule.Spec.Transforms {
			d.transforms = append(d.transforms, t.SDK())
		}
		d.key = ruleKey(d.conditions, d.actions, d.transforms)
		want = append(want, d)
	}
	var have []currentRule
	if existed {
		p := elbv2.NewDescribeRulesPaginator(r.d.elb, &elbv2.DescribeRulesInput{ListenerArn: aws.String(arn), PageSize: aws.Int32(400)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return r.fail(fmt.Errorf("DescribeRules: %w", err))
			}
			for _, cr := range page.Rules {
				if aws.ToBool(cr.IsDefault) {
					continue
				}
				prio, err := strconv.Atoi(aws.ToString(cr.Priority))
				if err != nil {
					return fmt.Errorf("rule %s: priority %q is not a number", aws.ToString(cr.RuleArn), aws.ToString(cr.Priority))
				}
				have = append(have, currentRule{arn: aws.ToString(cr.RuleArn), priority: int32(prio), key: ruleKey(cr.Conditions, cr.Actions, cr.Transforms)})
			}
		}
	}
	plan := planRules(want, have)

	if len(plan.moves) > 0 {
		var in []elbv2types.RulePriorityPair
		for _, m := range plan.moves {
			in = append(in, elbv2types.RulePriorityPair{RuleArn: aws.String(m.arn), Priority: aws.Int32(m.priority)})
		}
		if _, err := r.d.elb.SetRulePriorities(ctx, &elbv2.SetRulePrioritiesInput{RulePriorities: in}); err != nil {
			return r.fail(fmt.Errorf("SetRulePriorities: %w", err))
		}
		r.changed("ListenerRule", "moved", "listener", arn, "rules", len(in))
	}
	for _, m := range plan.modify {
		d := want[m.want]
		in := &elbv2.ModifyRuleInput{RuleArn: aws.String(m.arn), Conditions: d.conditions, Actions: d.actions, Transforms: d.transforms}
		if len(d.transforms) == 0 {
			in.ResetTransforms = aws.Bool(true)
		}
		if _, err := r.d.elb.ModifyRule(ctx, in); err != nil {
			return r.fail(fmt.Errorf("rule %s: ModifyRule: %w", d.r.ResID, err))
		}
		r.changed("ListenerRule", "changed", "arn", m.arn)
	}
	for _, i := range plan.create {
		d := want[i]
		out, err := r.d.elb.CreateRule(ctx, &elbv2.CreateRuleInput{
			ListenerArn: aws.String(arn), Priority: aws.Int32(d.r.Spec.Priority),
			Conditions: d.conditions, Actions: d.actions, Transforms: d.transforms,
			Tags: elbv2TagList(r.desiredTags(d.r, d.r.Spec.Tags)),
		})
		if err != nil {
			return r.fail(fmt.Errorf("rule %s: CreateRule: %w", d.r.ResID, err))
		}
		plan.arns[i] = aws.ToString(out.Rules[0].RuleArn)
		r.changed("ListenerRule", "created", "arn", plan.arns[i])
	}
	for _, del := range plan.remove {
		if _, err := r.d.elb.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: aws.String(del)}); err != nil && !isCode(err, "RuleNotFound") {
			return r.fail(fmt.Errorf("DeleteRule %s: %w", del, err))
		}
		r.changed("ListenerRule", "deleted", "arn", del)
	}
	for i, d := range want {
		d.r.Status = &stack.ListenerRuleStatus{RuleARN: plan.arns[i]}
	}
	return nil
}

// rulePlan is what rules does, computed from the desired and current rules.
type rulePlan struct {
	moves  []currentRule // new priorities
	modify []struct {
		arn  string
		want int
	}
	create []int    // indexes into want
	remove []string // ARNs
	arns   []string // the rule ARN of each desired rule (created ones filled later)
}

// planRules matches rules by content first, then by priority.
func planRules(want []desiredRule, have []currentRule) rulePlan {
	p := rulePlan{arns: make([]string, len(want))}
	used := make([]bool, len(have))
	matched := make([]bool, len(want))
	// Content matches: prefer the one already at the desired priority.
	for i, d := range want {
		best := -1
		for j, h := range have {
			if used[j] || h.key != d.key {
				continue
			}
			if best < 0 || h.priority == d.r.Spec.Priority {
				best = j
			}
		}
		if best >= 0 {
			used[best], matched[i] = true, true
			p.arns[i] = have[best].arn
			if have[best].priority != d.r.Spec.Priority {
				p.moves = append(p.moves, currentRule{arn: have[best].arn, priority: d.r.Spec.Priority})
			}
		}
	}
	// Same priority, different content: changed in place.
	atPrio := map[int32]int{}
	for j, h := range have {
		if !used[j] {
			atPrio[h.priority] = j
		}
	}
	for i, d := range want {
		if matched[i] {
			continue
		}
		if j, ok := atPrio[d.r.Spec.Priority]; ok && !used[j] {
			used[j], matched[i] = true, true
			p.arns[i] = have[j].arn
			p.modify = append(p.modify, struct {
				arn  string
				want int
			}{have[j].arn, i})
			continue
		}
		p.create = append(p.create, i)
	}
	// Rules about to be deleted that sit where a rule moves or is created
	// move to the bottom first, in the same SetRulePriorities call.
	target := map[int32]bool{}
	taken := map[int32]bool{}
	for _, m := range p.moves {
		target[m.priority] = true
	}
	for _, i := range p.create {
		target[want[i].r.Spec.Priority] = true
	}
	for _, d := range want {
		taken[d.r.Spec.Priority] = true
	}
	for _, h := range have {
		taken[h.priority] = true
	}
	free := int32(maxPriority)
	for j, h := range have {
		if used[j] {
			continue
		}
		p.remove = append(p.remove, h.arn)
		if target[h.priority] {
			for taken[free] {
				free--
			}
			taken[free] = true
			p.moves = append(p.moves, currentRule{arn: h.arn, priority: free})
		}
	}
	return p
}
