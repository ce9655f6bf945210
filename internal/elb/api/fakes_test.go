package api_test

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/shield"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"

	"github.com/elbowlb/elbow/internal/elb/api"
)

// errPanic makes a fake operation panic instead of returning.
var errPanic = errors.New("test: panic in the operation")

// recorder is the shared state of the fake services: the inputs they
// received, the outputs and errors they are told to return, and the request
// metadata they saw.
type recorder struct {
	mu    sync.Mutex
	in    map[string]any
	out   map[string]any
	err   map[string]error
	infos []api.RequestInfo
}

func newRecorder() *recorder {
	return &recorder{in: map[string]any{}, out: map[string]any{}, err: map[string]error{}}
}

func (r *recorder) setOut(action string, out any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out[action] = out
}

func (r *recorder) setErr(action string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err[action] = err
}

func (r *recorder) got(action string) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.in[action]
}

func (r *recorder) lastInfo() api.RequestInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.infos) == 0 {
		return api.RequestInfo{}
	}
	return r.infos[len(r.infos)-1]
}

// do records in and returns the configured output (a zero output when none)
// or error.
func do[O any](r *recorder, ctx context.Context, action string, in any) (*O, error) {
	r.mu.Lock()
	r.in[action] = in
	if info, ok := api.InfoFrom(ctx); ok {
		r.infos = append(r.infos, info)
	}
	out, err := r.out[action], r.err[action]
	r.mu.Unlock()
	if err == errPanic {
		panic("boom: " + action)
	}
	if err != nil {
		return nil, err
	}
	if out == nil {
		return new(O), nil
	}
	return out.(*O), nil
}

type fakeELB struct{ r *recorder }

func (f *fakeELB) CreateLoadBalancer(ctx context.Context, in *elbv2.CreateLoadBalancerInput) (*elbv2.CreateLoadBalancerOutput, error) {
	return do[elbv2.CreateLoadBalancerOutput](f.r, ctx, "CreateLoadBalancer", in)
}

func (f *fakeELB) DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput) (*elbv2.DescribeLoadBalancersOutput, error) {
	return do[elbv2.DescribeLoadBalancersOutput](f.r, ctx, "DescribeLoadBalancers", in)
}

func (f *fakeELB) DeleteLoadBalancer(ctx context.Context, in *elbv2.DeleteLoadBalancerInput) (*elbv2.DeleteLoadBalancerOutput, error) {
	return do[elbv2.DeleteLoadBalancerOutput](f.r, ctx, "DeleteLoadBalancer", in)
}

func (f *fakeELB) CreateRule(ctx context.Context, in *elbv2.CreateRuleInput) (*elbv2.CreateRuleOutput, error) {
	return do[elbv2.CreateRuleOutput](f.r, ctx, "CreateRule", in)
}

func (f *fakeELB) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput) (*elbv2.DescribeRulesOutput, error) {
	return do[elbv2.DescribeRulesOutput](f.r, ctx, "DescribeRules", in)
}

func (f *fakeELB) SetSecurityGroups(ctx context.Context, in *elbv2.SetSecurityGroupsInput) (*elbv2.SetSecurityGroupsOutput, error) {
	return do[elbv2.SetSecurityGroupsOutput](f.r, ctx, "SetSecurityGroups", in)
}

func (f *fakeELB) ModifyLoadBalancerAttributes(ctx context.Context, in *elbv2.ModifyLoadBalancerAttributesInput) (*elbv2.ModifyLoadBalancerAttributesOutput, error) {
	return do[elbv2.ModifyLoadBalancerAttributesOutput](f.r, ctx, "ModifyLoadBalancerAttributes", in)
}

func (f *fakeELB) DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput) (*elbv2.DescribeTargetGroupsOutput, error) {
	return do[elbv2.DescribeTargetGroupsOutput](f.r, ctx, "DescribeTargetGroups", in)
}

func (f *fakeELB) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput) (*elbv2.DescribeListenersOutput, error) {
	return do[elbv2.DescribeListenersOutput](f.r, ctx, "DescribeListeners", in)
}

func (f *fakeELB) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput) (*elbv2.DescribeTargetHealthOutput, error) {
	return do[elbv2.DescribeTargetHealthOutput](f.r, ctx, "DescribeTargetHealth", in)
}

func (f *fakeELB) RegisterTargets(ctx context.Context, in *elbv2.RegisterTargetsInput) (*elbv2.RegisterTargetsOutput, error) {
	return do[elbv2.RegisterTargetsOutput](f.r, ctx, "RegisterTargets", in)
}

func (f *fakeELB) AddTags(ctx context.Context, in *elbv2.AddTagsInput) (*elbv2.AddTagsOutput, error) {
	return do[elbv2.AddTagsOutput](f.r, ctx, "AddTags", in)
}

func (f *fakeELB) DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput) (*elbv2.DescribeTagsOutput, error) {
	return do[elbv2.DescribeTagsOutput](f.r, ctx, "DescribeTags", in)
}

// Reset is exported but is not an operation: the dispatcher ignores it.
func (f *fakeELB) Reset() {}

// Name is exported, has no operation shape either.
func (f *fakeELB) Name(ctx context.Context) string { return "elb" }

type fakeEC2 struct{ r *recorder }

func (f *fakeEC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
	return do[ec2.DescribeSubnetsOutput](f.r, ctx, "DescribeSubnets", in)
}

func (f *fakeEC2) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
	return do[ec2.DescribeSecurityGroupsOutput](f.r, ctx, "DescribeSecurityGroups", in)
}

func (f *fakeEC2) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	return do[ec2.AuthorizeSecurityGroupIngressOutput](f.r, ctx, "AuthorizeSecurityGroupIngress", in)
}

func (f *fakeEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	return do[ec2.DescribeInstancesOutput](f.r, ctx, "DescribeInstances", in)
}

func (f *fakeEC2) RunInstances(ctx context.Context, in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
	return do[ec2.RunInstancesOutput](f.r, ctx, "RunInstances", in)
}

func (f *fakeEC2) DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
	return do[ec2.DeleteSecurityGroupOutput](f.r, ctx, "DeleteSecurityGroup", in)
}

func (f *fakeEC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
	return do[ec2.CreateTagsOutput](f.r, ctx, "CreateTags", in)
}

func (f *fakeEC2) DescribeTags(ctx context.Context, in *ec2.DescribeTagsInput) (*ec2.DescribeTagsOutput, error) {
	return do[ec2.DescribeTagsOutput](f.r, ctx, "DescribeTags", in)
}

func (f *fakeEC2) DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput) (*ec2.DescribeAddressesOutput, error) {
	return do[ec2.DescribeAddressesOutput](f.r, ctx, "DescribeAddresses", in)
}

func (f *fakeEC2) DescribeAccountAttributes(ctx context.Context, in *ec2.DescribeAccountAttributesInput) (*ec2.DescribeAccountAttributesOutput, error) {
	return do[ec2.DescribeAccountAttributesOutput](f.r, ctx, "DescribeAccountAttributes", in)
}

type fakeACM struct{ r *recorder }

func (f *fakeACM) ImportCertificate(ctx context.Context, in *acm.ImportCertificateInput) (*acm.ImportCertificateOutput, error) {
	return do[acm.ImportCertificateOutput](f.r, ctx, "ImportCertificate", in)
}

func (f *fakeACM) DescribeCertificate(ctx context.Context, in *acm.DescribeCertificateInput) (*acm.DescribeCertificateOutput, error) {
	return do[acm.DescribeCertificateOutput](f.r, ctx, "DescribeCertificate", in)
}

func (f *fakeACM) ListCertificates(ctx context.Context, in *acm.ListCertificatesInput) (*acm.ListCertificatesOutput, error) {
	return do[acm.ListCertificatesOutput](f.r, ctx, "ListCertificates", in)
}

func (f *fakeACM) DeleteCertificate(ctx context.Context, in *acm.DeleteCertificateInput) (*acm.DeleteCertificateOutput, error) {
	return do[acm.DeleteCertificateOutput](f.r, ctx, "DeleteCertificate", in)
}

func (f *fakeACM) GetCertificate(ctx context.Context, in *acm.GetCertificateInput) (*acm.GetCertificateOutput, error) {
	return do[acm.GetCertificateOutput](f.r, ctx, "GetCertificate", in)
}

// fakeSTS answers GetCallerIdentity from the request metadata.
type fakeSTS struct{ r *recorder }

func (f *fakeSTS) GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error) {
	if _, err := do[sts.GetCallerIdentityOutput](f.r, ctx, "GetCallerIdentity", in); err != nil {
		return nil, err
	}
	info, _ := api.InfoFrom(ctx)
	return &sts.GetCallerIdentityOutput{
		Account: ptr("000000000000"),
		Arn:     ptr("arn:aws:iam::000000000000:user/" + info.AccessKeyID),
		UserId:  ptr(info.AccessKeyID),
	}, nil
}

type fakeWAF struct{ r *recorder }

func (f *fakeWAF) GetWebACLForResource(ctx context.Context, in *wafv2.GetWebACLForResourceInput) (*wafv2.GetWebACLForResourceOutput, error) {
	return do[wafv2.GetWebACLForResourceOutput](f.r, ctx, "GetWebACLForResource", in)
}

type fakeShield struct{ r *recorder }

func (f *fakeShield) GetSubscriptionState(ctx context.Context, in *shield.GetSubscriptionStateInput) (*shield.GetSubscriptionStateOutput, error) {
	return do[shield.GetSubscriptionStateOutput](f.r, ctx, "GetSubscriptionState", in)
}

type fakeTagging struct{ r *recorder }

func (f *fakeTagging) GetResources(ctx context.Context, in *resourcegroupstaggingapi.GetResourcesInput) (*resourcegroupstaggingapi.GetResourcesOutput, error) {
	return do[resourcegroupstaggingapi.GetResourcesOutput](f.r, ctx, "GetResources", in)
}

func ptr[T any](v T) *T { return &v }
