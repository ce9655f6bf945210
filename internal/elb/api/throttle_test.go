package api_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbowlb/elbow/internal/elb/api"
)

func TestThrottlingIsRetryableThrottle(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *api.Config) {
		c.Throttle = []api.ThrottleRule{
			{Service: "elasticloadbalancing", Action: regexp.MustCompile(`^DescribeLoadBalancers$`)},
			{Service: "ec2"},
			{Service: "acm", Action: regexp.MustCompile(`^List`)},
		}
	})
	ctx := context.Background()
	cfg := e.awsCfg()
	throttles := retry.IsErrorThrottles(retry.DefaultThrottles)
	retryables := retry.IsErrorRetryables(retry.DefaultRetryables)

	_, err := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	apiErr(t, err, "Throttling", 400, "Rate exceeded")
	if throttles.IsErrorThrottle(err) != aws.TrueTernary || retryables.IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("the SDK does not see %v as a retryable throttle", err)
	}
	_, err = ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	apiErr(t, err, "RequestLimitExceeded", 503, "Request limit exceeded.")
	if throttles.IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("the SDK does not see %v as a throttle", err)
	}
	_, err = acm.NewFromConfig(cfg).ListCertificates(ctx, &acm.ListCertificatesInput{})
	apiErr(t, err, "ThrottlingException", 400, "Rate exceeded")
	if throttles.IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("the SDK does not see %v as a throttle", err)
	}
	// calls the rules do not match pass
	if _, err := elbv2.NewFromConfig(cfg).DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{}); err != nil {
		t.Errorf("DescribeTargetGroups: %v", err)
	}
	if _, err := acm.NewFromConfig(cfg).GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: ptr("arn:c")}); err != nil {
		t.Errorf("GetCertificate: %v", err)
	}
}

func TestRetryingClientSucceedsWhenTheBucketRefills(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *api.Config) {
		c.Throttle = []api.ThrottleRule{{Service: "elasticloadbalancing"}} // empty bucket, no refill
	})
	cfg := e.awsCfg(func(c *aws.Config) {
		c.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 1000
				o.MaxBackoff = 20 * time.Millisecond
				o.RateLimiter = ratelimit.None
			})
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(context.Background(), &elbv2.DescribeLoadBalancersInput{})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for counter(t, e.reg, "elasticloadbalancing", "DescribeLoadBalancers", "Throttling") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the client did not retry the throttled call")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.h.SetThrottle([]api.ThrottleRule{{Service: "elasticloadbalancing", Rate: 1000, Burst: 1}})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the retrying client failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the retrying client did not succeed after the bucket refilled")
	}
	if got := counter(t, e.reg, "elasticloadbalancing", "DescribeLoadBalancers", "OK"); got != 1 {
		t.Errorf("successful calls = %v, want 1", got)
	}
}
