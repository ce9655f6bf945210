package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// targetGroups creates or updates the stack's target groups and dooms the
// owned ones it no longer has or must replace.
func (r *run) targetGroups(ctx context.Context) error {
	want := map[string]bool{}
	for _, tg := range r.s.SortedTargetGroups() {
		want[tg.ResID] = true
		if err := r.targetGroup(ctx, tg); err != nil {
			return fmt.Errorf("target group %s (%s): %w", tg.ResID, tg.Spec.Name, err)
		}
	}
	for id, tg := range r.tgs {
		if !want[id] {
			r.doomedTGs = append(r.doomedTGs, aws.ToString(tg.TargetGroupArn))
		}
	}
	return nil
}

func (r *run) targetGroup(ctx context.Context, tg *stack.TargetGroup) error {
	spec := tg.Spec
	tags := r.desiredTags(tg, spec.Tags)
	cur, ok := r.tgs[tg.ResID]
	if ok && !tgCompatible(cur, spec) {
		// An immutable field changed: a new target group replaces it once
		// the listeners point at the new one.
		r.doomedTGs = append(r.doomedTGs, aws.ToString(cur.TargetGroupArn))
		delete(r.tgs, tg.ResID)
		ok = false
	}
	var arn string
	if !ok {
		in := &elbv2.CreateTargetGroupInput{
			Name:              aws.String(spec.Name),
			TargetType:        elbv2types.TargetTypeEnum(spec.TargetType),
			Port:              spec.Port,
			Protocol:          elbv2types.ProtocolEnum(spec.Protocol),
			TargetControlPort: spec.TargetControlPort,
			Tags:              elbv2TagList(tags),
		}
		if spec.ProtocolVersion != nil {
			in.ProtocolVersion = aws.String(string(*spec.ProtocolVersion))
		}
		if spec.IPAddressType != "" {
			in.IpAddressType = elbv2types.TargetGroupIpAddressTypeEnum(spec.IPAddressType)
		}
		if spec.TargetType != "lambda" {
			vpc, err := r.vpcID(ctx)
			if err != nil {
				return err
			}
			in.VpcId = aws.String(vpc)
		}
		if hc := spec.HealthCheckConfig; hc != nil {
			in.HealthCheckPort = hcPort(hc)
			if hc.Protocol != "" {
				in.HealthCheckProtocol = elbv2types.ProtocolEnum(hc.Protocol)
			}
			in.HealthCheckPath = hc.Path
			in.HealthCheckIntervalSeconds = hc.IntervalSeconds
			in.HealthCheckTimeoutSeconds = hc.TimeoutSeconds
			in.HealthyThresholdCount = hc.HealthyThresholdCount
			in.UnhealthyThresholdCount = hc.UnhealthyThresholdCount
			in.Matcher = sdkMatcher(hc.Matcher)
		}
		out, err := r.d.elb.CreateTargetGroup(ctx, in)
		if err != nil {
			return r.fail(fmt.Errorf("CreateTargetGroup: %w", err))
		}
		arn = aws.ToString(out.TargetGroups[0].TargetGroupArn)
		r.d.note(r.s, "tg", arn, true)
		r.changed("TargetGroup", "created", "arn", arn)
	} else {
		arn = aws.ToString(cur.TargetGroupArn)
		if in := healthCheckChange(cur, spec.HealthCheckConfig); in != nil {
			in.TargetGroupArn = aws.String(arn)
			if _, err := r.d.elb.ModifyTargetGroup(ctx, in); err != nil {
				return r.fail(fmt.Errorf("ModifyTargetGroup: %w", err))
			}
			r.changed("TargetGroup", "changed", "arn", arn, "what", "health check")
		}
		if err := r.syncELBTags(ctx, arn, tags); err != nil {
			return err
		}
	}
	tg.Status = &stack.TargetGroupStatus{TargetGroupARN: arn}
	if len(spec.TargetGroupAttributes) == 0 {
		return nil
	}
	cur2, err := r.d.elb.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		return r.fail(fmt.Errorf("DescribeTargetGroupAttributes: %w", err))
	}
	have := map[string]string{}
	for _, a := range cur2.Attributes {
		have[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	diff := attrDiff(have, spec.TargetGroupAttributes)
	if len(diff) == 0 {
		return nil
	}
	var attrs []elbv2types.TargetGroupAttribute
	for _, k := range sortedKeys(diff) {
		attrs = append(attrs, elbv2types.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(diff[k])})
	}
	if _, err := r.d.elb.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn), Attributes: attrs}); err != nil {
		return r.fail(fmt.Errorf("ModifyTargetGroupAttributes: %w", err))
	}
	if ok {
		r.changed("TargetGroup", "changed", "arn", arn, "what", "attributes "+fmt.Sprint(sortedKeys(diff)))
	}
	return nil
}

// tgCompatible reports whether the current target group can become spec
// without replacement.
func tgCompatible(cur elbv2types.TargetGroup, spec stack.TargetGroupSpec) bool {
	if string(cur.TargetType) != string(spec.TargetType) || string(cur.Protocol) != string(spec.Protocol) {
		return false
	}
	if spec.Port != nil && aws.ToInt32(cur.Port) != *spec.Port {
		return false
	}
	if spec.ProtocolVersion != nil && aws.ToString(cur.ProtocolVersion) != string(*spec.ProtocolVersion) {
		return false
	}
	if spec.IPAddressType != "" && string(cur.IpAddressType) != spec.IPAddressType {
		return false
	}
	if aws.ToInt32(spec.TargetControlPort) != aws.ToInt32(cur.TargetControlPort) {
		return false
	}
	return true
}

func hcPort(hc *stack.HealthCheck) *string {
	if hc.Port == nil {
		return nil
	}
	return aws.String(hc.Port.String())
}

func sdkMatcher(m *stack.Matcher) *elbv2types.Matcher {
	if m == nil {
		return nil
	}
	return &elbv2types.Matcher{HttpCode: m.HTTPCode, GrpcCode: m.GRPCCode}
}

// healthCheckChange returns the ModifyTargetGroup input that brings cur's
// health check to want, or nil when every desired field already matches.
func healthCheckChange(cur elbv2types.TargetGroup, want *stack.HealthCheck) *elbv2.ModifyTargetGroupInput {
	if want == nil {
		return nil
	}
	in := &elbv2.ModifyTargetGroupInput{}
	differs := false
	i32 := func(w, c *int32, set **int32) {
		if w != nil && aws.ToInt32(c) != *w {
			*set, differs = w, true
		}
	}
	if p := hcPort(want); p != nil && *p != aws.ToString(cur.HealthCheckPort) {
		in.HealthCheckPort, differs = p, true
	}
	if want.Protocol != "" && string(want.Protocol) != string(cur.HealthCheckProtocol) {
		in.HealthCheckProtocol, differs = elbv2types.ProtocolEnum(want.Protocol), true
	}
	if want.Path != nil && *want.Path != aws.ToString(cur.HealthCheckPath) {
		in.HealthCheckPath, differs = want.Path, true
	}
	i32(want.IntervalSeconds, cur.HealthCheckIntervalSeconds, &in.HealthCheckIntervalSeconds)
	i32(want.TimeoutSeconds, cur.HealthCheckTimeoutSeconds, &in.HealthCheckTimeoutSeconds)
	i32(want.HealthyThresholdCount, cur.HealthyThresholdCount, &in.HealthyThresholdCount)
	i32(want.UnhealthyThresholdCount, cur.UnhealthyThresholdCount, &in.UnhealthyThresholdCount)
	if m := want.Matcher; m != nil {
		var ch, cg string
		if cur.Matcher != nil {
			ch, cg = aws.ToString(cur.Matcher.HttpCode), aws.ToString(cur.Matcher.GrpcCode)
		}
		if (m.HTTPCode != nil && *m.HTTPCode != ch) || (m.GRPCCode != nil && *m.GRPCCode != cg) {
			in.Matcher, differs = sdkMatcher(m), true
		}
	}
	if !differs {
		return nil
	}
	return in
}
