package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/stack"
)

// run is one deploy of one stack.
type run struct {
	d   *Deployer
	s   *stack.Stack
	log *slog.Logger
	own *owned

	lbs  map[string]elbv2types.LoadBalancer // resource ID -> current
	tgs  map[string]elbv2types.TargetGroup
	sgs  map[string]ec2types.SecurityGroup
	tags map[string]map[string]string // ARN or group ID -> tags

	// certs maps the resource IDs of the owned imported certificates to
	// their ARNs.
	certs map[string]string

	// doomed are owned resources the stack no longer has, removed last.
	doomedLBs   []string
	doomedTGs   []string
	doomedSGs   []string
	doomedCerts []string
}

func (r *run) deploy(ctx context.Context) error {
	r.own = r.d.owns(r.s)
	if err := r.read(ctx); err != nil {
		return err
	}
	if err := r.readCertificates(ctx); err != nil {
		return err
	}
	if err := r.certificates(ctx); err != nil {
		return err
	}
	if err := r.securityGroups(ctx); err != nil {
		return err
	}
	if err := r.targetGroups(ctx); err != nil {
		return err
	}
	if err := r.loadBalancer(ctx); err != nil {
		return err
	}
	if err := r.frontendTargets(ctx); err != nil {
		return err
	}
	return r.remove(ctx)
}

// resourceID returns the stack resource ID a current resource carries.
func (r *run) resourceID(tags map[string]string) string {
	return tags[r.s.ResourceIDTagKey()]
}

// read loads the stack's current load balancers, target groups and
// security groups with their tags.
func (r *run) read(ctx context.Context) error {
	r.lbs, r.tgs, r.sgs, r.tags = map[string]elbv2types.LoadBalancer{}, map[string]elbv2types.TargetGroup{}, map[string]ec2types.SecurityGroup{}, map[string]map[string]string{}
	lbs, err := r.describeLBs(ctx, keys(r.own.lbs))
	if err != nil {
		return err
	}
	tgs, err := r.describeTGs(ctx, keys(r.own.tgs))
	if err != nil {
		return err
	}
	var arns []string
	for _, lb := range lbs {
		arns = append(arns, aws.ToString(lb.LoadBalancerArn))
	}
	for _, tg := range tgs {
		arns = append(arns, aws.ToString(tg.TargetGroupArn))
	}
	if len(arns) > 0 {
		tags, err := r.d.tagsOf(ctx, arns)
		if err != nil {
			return r.fail(err)
		}
		r.tags = tags
	}
	for _, lb := range lbs {
		arn := aws.ToString(lb.LoadBalancerArn)
		id := r.resourceID(r.tags[arn])
		if _, dup := r.lbs[id]; dup || id == "" {
			r.doomedLBs = append(r.doomedLBs, arn)
			continue
		}
		r.lbs[id] = lb
	}
	for _, tg := range tgs {
		arn := aws.ToString(tg.TargetGroupArn)
		id := r.resourceID(r.tags[arn])
		if _, dup := r.tgs[id]; dup || id == "" {
			r.doomedTGs = append(r.doomedTGs, arn)
			continue
		}
		r.tgs[id] = tg
	}
	if len(r.own.sgs) > 0 {
		out, err := r.d.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
			Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: keys(r.own.sgs)}},
		})
		if err != nil {
			return r.fail(fmt.Errorf("DescribeSecurityGroups: %w", err))
		}
		seen := map[string]bool{}
		for _, g := range out.SecurityGroups {
			gid := aws.ToString(g.GroupId)
			seen[gid] = true
			t := ec2Tags(g.Tags)
			r.tags[gid] = t
			id := r.resourceID(t)
			if _, dup := r.sgs[id]; dup || id == "" {
				r.doomedSGs = append(r.doomedSGs, gid)
				continue
			}
			r.sgs[id] = g
		}
		for gid := range r.own.sgs {
			if !seen[gid] {
				r.d.note(r.s, "sg", gid, false)
			}
		}
	}
	return nil
}

// describeLBs describes load balancers by ARN; ARNs that no longer exist
// leave the index.
func (r *run) describeLBs(ctx context.Context, arns []string) ([]elbv2types.LoadBalancer, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	out, err := r.d.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: arns})
	if err == nil {
		return out.LoadBalancers, nil
	}
	if !isCode(err, "LoadBalancerNotFound") {
		return nil, r.fail(fmt.Errorf("DescribeLoadBalancers: %w", err))
	}
	var lbs []elbv2types.LoadBalancer
	for _, arn := range arns {
		one, err := r.d.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
		switch {
		case isCode(err, "LoadBalancerNotFound"):
			r.d.note(r.s, "lb", arn, false)
		case err != nil:
			return nil, r.fail(fmt.Errorf("DescribeLoadBalancers %s: %w", arn, err))
		default:
			lbs = append(lbs, one.LoadBalancers...)
		}
	}
	return lbs, nil
}

// describeTGs describes target groups by ARN; ARNs that no longer exist
// leave the index.
func (r *run) describeTGs(ctx context.Context, arns []string) ([]elbv2types.TargetGroup, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	out, err := r.d.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: arns})
	if err == nil {
		return out.TargetGroups, nil
	}
	if !isCode(err, "TargetGroupNotFound") {
		return nil, r.fail(fmt.Errorf("DescribeTargetGroups: %w", err))
	}
	var tgs []elbv2types.TargetGroup
	for _, arn := range arns {
		one, err := r.d.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
		switch {
		case isCode(err, "TargetGroupNotFound"):
			r.d.note(r.s, "tg", arn, false)
		case err != nil:
			return nil, r.fail(fmt.Errorf("DescribeTargetGroups %s: %w", arn, err))
		default:
			tgs = append(tgs, one.TargetGroups...)
		}
	}
	return tgs, nil
}

// remove deletes what the stack no longer has: load balancers first, then
// target groups, then security groups, then imported certificates,
// retrying refusals caused by what is still being released.
func (r *run) remove(ctx context.Context) error {
	for _, arn := range r.doomedLBs {
		_, err := r.d.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)})
		if err != nil && !isCode(err, "LoadBalancerNotFound") {
			return r.fail(fmt.Errorf("load balancer %s: DeleteLoadBalancer: %w", arn, err))
		}
		r.d.note(r.s, "lb", arn, false)
		r.changed("LoadBalancer", "deleted", "arn", arn)
	}
	for _, arn := range r.doomedTGs {
		err := r.retryInUse(ctx, func() error {
			_, err := r.d.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
			if isCode(err, "TargetGroupNotFound") {
				return nil
			}
			return err
		})
		if err != nil {
			return r.fail(fmt.Errorf("target group %s: DeleteTargetGroup: %w", arn, err))
		}
		r.d.note(r.s, "tg", arn, false)
		r.changed("TargetGroup", "deleted", "arn", arn)
	}
	for _, gid := range r.doomedSGs {
		err := r.retryInUse(ctx, func() error {
			_, err := r.d.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(gid)})
			if isCode(err, "InvalidGroup.NotFound") {
				return nil
			}
			return err
		})
		if err != nil {
			return r.fail(fmt.Errorf("security group %s: DeleteSecurityGroup: %w", gid, err))
		}
		r.d.note(r.s, "sg", gid, false)
		r.changed("SecurityGroup", "deleted", "id", gid)
	}
	return r.removeCertificates(ctx)
}

// retryInUse retries f while AWS refuses it because another resource
// still uses the one deleted, with jittered backoff, for at most
// DeleteTimeout.
func (r *run) retryInUse(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(r.d.cfg.DeleteTimeout)
	wait := 200 * time.Millisecond
	for {
		err := f()
		if err == nil || !(isCode(err, "ResourceInUse") || isCode(err, "DependencyViolation") || isCode(err, "ResourceInUseException")) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// fail marks the index stale when err is not an answer from AWS (the call
// may have taken effect without the deployer learning it), and returns err.
func (r *run) fail(err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		r.d.stale()
	}
	return err
}

// changed logs and counts one change.
func (r *run) changed(kind, change string, attrs ...any) {
	r.log.Info(kind+" "+change, attrs...)
	r.d.cfg.Metrics.countChange(kind, change)
}

// stale makes the next deploy scan again.
func (d *Deployer) stale() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scanned = time.Time{}
}

// isCode reports whether err is an AWS API error with the code.
func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
