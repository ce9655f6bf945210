package deploy

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// frontendTargets registers the ALBs that a stack's target groups of type
// alb forward to (stack.FrontendNLBTargetGroups: an NLB in front of an
// ALB): each such target group has its one ALB on its port, other targets
// are deregistered. A target group that already has exactly its ALB costs
// one read and no write.
func (r *run) frontendTargets(ctx context.Context) error {
	if r.s.FrontendNLB == nil {
		return nil
	}
	names := make([]string, 0, len(r.s.FrontendNLB.TargetGroups))
	for n := range r.s.FrontendNLB.TargetGroups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ft := r.s.FrontendNLB.TargetGroups[n]
		tgARN, err := r.s.Resolve(ft.ARN)
		if err != nil {
			return r.fail(fmt.Errorf("target group %s: %w", n, err))
		}
		albARN, err := r.s.Resolve(ft.TargetARN)
		if err != nil {
			return r.fail(fmt.Errorf("target group %s: its ALB: %w", n, err))
		}
		want := elbv2types.TargetDescription{Id: aws.String(albARN), Port: aws.Int32(ft.TargetPort)}
		out, err := r.d.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
		if err != nil {
			return r.fail(fmt.Errorf("target group %s: DescribeTargetHealth: %w", n, err))
		}
		have, stale := false, []elbv2types.TargetDescription(nil)
		for _, d := range out.TargetHealthDescriptions {
			t := d.Target
			if t == nil {
				continue
			}
			if aws.ToString(t.Id) == albARN && aws.ToInt32(t.Port) == ft.TargetPort {
				have = true
				continue
			}
			stale = append(stale, elbv2types.TargetDescription{Id: t.Id, Port: t.Port})
		}
		if len(stale) > 0 {
			if _, err := r.d.elb.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: stale}); err != nil {
				return r.fail(fmt.Errorf("target group %s: DeregisterTargets: %w", n, err))
			}
			r.changed("FrontendTarget", "deregistered", "targetGroup", tgARN, "targets", len(stale))
		}
		if !have {
			if _, err := r.d.elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: []elbv2types.TargetDescription{want}}); err != nil {
				return r.fail(fmt.Errorf("target group %s: RegisterTargets of ALB %s on port %d: %w", n, albARN, ft.TargetPort, err))
			}
			r.changed("FrontendTarget", "registered", "targetGroup", tgARN, "alb", albARN, "port", ft.TargetPort)
		}
	}
	return nil
}
