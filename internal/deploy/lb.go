package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// loadBalancer creates, updates or replaces the stack's load balancer and
// then its listeners and rules; owned load balancers the stack no longer
// has are doomed.
func (r *run) loadBalancer(ctx context.Context) error {
	want := map[string]bool{}
	for _, id := range sortedKeys(r.s.LoadBalancers) {
		lb := r.s.LoadBalancers[id]
		want[id] = true
		if err := r.oneLoadBalancer(ctx, lb); err != nil {
			return fmt.Errorf("load balancer %s: %w", lb.Spec.Name, err)
		}
	}
	for id, lb := range r.lbs {
		if !want[id] {
			r.doomedLBs = append(r.doomedLBs, aws.ToString(lb.LoadBalancerArn))
		}
	}
	return nil
}

func (r *run) oneLoadBalancer(ctx context.Context, lb *stack.LoadBalancer) error {
	spec := lb.Spec
	tags := r.desiredTags(lb, spec.Tags)
	sgs, err := r.resolveAll(spec.SecurityGroups)
	if err != nil {
		return err
	}
	cur, ok := r.lbs[lb.ResID]
	if ok && (string(cur.Type) != string(spec.Type) || (spec.Scheme != "" && string(cur.Scheme) != string(spec.Scheme))) {
		// Type and scheme cannot change: replace. The old one goes first,
		// so that a fixed name can be taken again.
		arn := aws.ToString(cur.LoadBalancerArn)
		if _, err := r.d.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)}); err != nil {
			return r.fail(fmt.Errorf("DeleteLoadBalancer (replaced: type or scheme changed): %w", err))
		}
		r.d.note(r.s, "lb", arn, false)
		r.changed("LoadBalancer", "deleted", "arn", arn, "why", "type or scheme changed")
		delete(r.lbs, lb.ResID)
		ok = false
	}
	created := !ok
	if created {
		in := &elbv2.CreateLoadBalancerInput{
			Name:                  aws.String(spec.Name),
			Type:                  elbv2types.LoadBalancerTypeEnum(spec.Type),
			Scheme:                elbv2types.LoadBalancerSchemeEnum(spec.Scheme),
			IpAddressType:         elbv2types.IpAddressType(spec.IPAddressType),
			SubnetMappings:        sdkSubnetMappings(spec.SubnetMappings),
			SecurityGroups:        sgs,
			CustomerOwnedIpv4Pool: spec.CustomerOwnedIPv4Pool,
			Tags:                  elbv2TagList(tags),
		}
		out, err := r.d.elb.CreateLoadBalancer(ctx, in)
		if err != nil {
			return r.fail(fmt.Errorf("CreateLoadBalancer: %w", err))
		}
		cur = out.LoadBalancers[0]
		r.d.note(r.s, "lb", aws.ToString(cur.LoadBalancerArn), true)
		r.changed("LoadBalancer", "created", "arn", aws.ToString(cur.LoadBalancerArn))
	}
	arn := aws.ToString(cur.LoadBalancerArn)
	lb.Status = &stack.LoadBalancerStatus{LoadBalancerARN: arn, DNSName: aws.ToString(cur.DNSName)}
	if cur.State != nil {
		lb.Status.ProvisioningState = &stack.LoadBalancerState{Code: string(cur.State.Code), Reason: aws.ToString(cur.State.Reason)}
	}
	lb.Status.StaticAddresses = staticAddresses(spec, cur)
	if !created {
		if err := r.updateLoadBalancer(ctx, cur, spec, sgs); err != nil {
			return err
		}
		if err := r.syncELBTags(ctx, arn, tags); err != nil {
			return err
		}
	}
	if err := r.loadBalancerAttributes(ctx, arn, spec.LoadBalancerAttributes, !created); err != nil {
		return err
	}
	return r.listeners(ctx, lb, created)
}

// updateLoadBalancer changes subnets, security groups and IP address type
// where they differ.
func (r *run) updateLoadBalancer(ctx context.Context, cur elbv2types.LoadBalancer, spec stack.LoadBalancerSpec, sgs []string) error {
	arn := aws.String(aws.ToString(cur.LoadBalancerArn))
	var have []string
	for _, az := range cur.AvailabilityZones {
		have = append(have, aws.ToString(az.SubnetId))
	}
	var want []string
	for _, m := range spec.SubnetMappings {
		want = append(want, m.SubnetID)
	}
	if len(want) > 0 && !sameSet(have, want) {
		in := &elbv2.SetSubnetsInput{LoadBalancerArn: arn, SubnetMappings: sdkSubnetMappings(spec.SubnetMappings)}
		if _, err := r.d.elb.SetSubnets(ctx, in); err != nil {
			return r.fail(fmt.Errorf("SetSubnets: %w", err))
		}
		r.changed("LoadBalancer", "changed", "arn", *arn, "what", "subnets")
	}
	if (len(sgs) > 0 || len(cur.SecurityGroups) > 0) && !sameSet(cur.SecurityGroups, sgs) {
		if _, err := r.d.elb.SetSecurityGroups(ctx, &elbv2.SetSecurityGroupsInput{LoadBalancerArn: arn, SecurityGroups: sgs}); err != nil {
			return r.fail(fmt.Errorf("SetSecurityGroups: %w", err))
		}
		r.changed("LoadBalancer", "changed", "arn", *arn, "what", "security groups")
	}
	if spec.IPAddressType != "" && string(cur.IpAddressType) != string(spec.IPAddressType) {
		if _, err := r.d.elb.SetIpAddressType(ctx, &elbv2.SetIpAddressTypeInput{LoadBalancerArn: arn, IpAddressType: elbv2types.IpAddressType(spec.IPAddressType)}); err != nil {
			return r.fail(fmt.Errorf("SetIpAddressType: %w", err))
		}
		r.changed("LoadBalancer", "changed", "arn", *arn, "what", "IP address type")
	}
	return nil
}

// loadBalancerAttributes sets the desired attributes whose values differ.
func (r *run) loadBalancerAttributes(ctx context.Context, arn string, want []stack.Attribute, existed bool) error {
	if len(want) == 0 {
		return nil
	}
	out, err := r.d.elb.DescribeLoadBalancerAttributes(ctx, &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(arn)})
	if err != nil {
		return r.fail(fmt.Errorf("DescribeLoadBalancerAttributes: %w", err))
	}
	have := map[string]string{}
	for _, a := range out.Attributes {
		have[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	diff := attrDiff(have, want)
	if len(diff) == 0 {
		return nil
	}
	var attrs []elbv2types.LoadBalancerAttribute
	for _, k := range sortedKeys(diff) {
		attrs = append(attrs, elbv2types.LoadBalancerAttribute{Key: aws.String(k), Value: aws.String(diff[k])})
	}
	if _, err := r.d.elb.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(arn), Attributes: attrs}); err != nil {
		return r.fail(fmt.Errorf("ModifyLoadBalancerAttributes: %w", err))
	}
	if existed {
		r.changed("LoadBalancer", "changed", "arn", arn, "what", "attributes "+fmt.Sprint(sortedKeys(diff)))
	}
	return nil
}

func sdkSubnetMappings(ms []stack.SubnetMapping) []elbv2types.SubnetMapping {
	out := make([]elbv2types.SubnetMapping, 0, len(ms))
	for _, m := range ms {
		out = append(out, elbv2types.SubnetMapping{
			SubnetId: aws.String(m.SubnetID), AllocationId: m.AllocationID,
			PrivateIPv4Address: m.PrivateIPv4Address, IPv6Address: m.IPv6Address, SourceNatIpv6Prefix: m.SourceNatIPv6Prefix,
		})
	}
	return out
}

// resolveAll resolves tokens in order.
func (r *run) resolveAll(ts []stack.Token) ([]string, error) {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		v, err := r.s.Resolve(t)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// staticAddresses are the addresses a load balancer's subnet mappings
// give it: its Elastic IPs (as the API reports them) and private IPv4
// allocations, in the order of the mappings.
func staticAddresses(spec stack.LoadBalancerSpec, lb elbv2types.LoadBalancer) []string {
	eip := map[string]string{}
	for _, z := range lb.AvailabilityZones {
		for _, a := range z.LoadBalancerAddresses {
			if a.AllocationId != nil && a.IpAddress != nil {
				eip[aws.ToString(a.AllocationId)] = aws.ToString(a.IpAddress)
			}
		}
	}
	var out []string
	for _, m := range spec.SubnetMappings {
		switch {
		case m.AllocationID != nil && eip[*m.AllocationID] != "":
			out = append(out, eip[*m.AllocationID])
		case m.PrivateIPv4Address != nil:
			out = append(out, *m.PrivateIPv4Address)
		}
	}
	return out
}
