package server_test

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/elbtest"
)

// TestThrottle starts a local ELB told to throttle EC2's DescribeSubnets
// and every ELBv2 call: those get AWS's throttling errors (EC2's
// RequestLimitExceeded, ELBv2's Throttling), other calls are served, and
// SetThrottle lifts the rules while serving.
func TestThrottle(t *testing.T) {
	ctx := context.Background()
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true, Throttle: []api.ThrottleRule{
		{Service: "ec2", Action: regexp.MustCompile("^DescribeSubnets$")},
		{Service: "elasticloadbalancing"},
	}})
	ec2c := ec2sdk.NewFromConfig(env.Config, func(o *ec2sdk.Options) { o.Retryer = aws.NopRetryer{} })
	elbc := sdk.NewFromConfig(env.Config, func(o *sdk.Options) { o.Retryer = aws.NopRetryer{} })
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}
	if _, err := ec2c.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{}); code(err) != "RequestLimitExceeded" {
		t.Errorf("throttled DescribeSubnets: %v, want RequestLimitExceeded", err)
	}
	if _, err := ec2c.DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{}); err != nil {
		t.Errorf("DescribeVpcs (not throttled): %v", err)
	}
	if _, err := elbc.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}); code(err) != "Throttling" {
		t.Errorf("throttled DescribeLoadBalancers: %v, want Throttling", err)
	}
	env.Server.SetThrottle(nil)
	// The calls that must now be served go through the standard retryer
	// (env's clients), so that a transport error on a reused connection
	// is retried as any client would; a throttle would still fail them
	// after three attempts with burst 0.
	if _, err := env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{}); err != nil {
		t.Errorf("DescribeSubnets after SetThrottle(nil): %v", err)
	}
	if _, err := env.ELBv2.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}); err != nil {
		t.Errorf("DescribeLoadBalancers after SetThrottle(nil): %v", err)
	}
}
