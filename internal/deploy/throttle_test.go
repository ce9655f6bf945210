package deploy_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/deploy"
	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/stack"
)

// throttleCounter is the SDK's standard retryer, counting the throttling
// errors it retries.
type throttleCounter struct {
	aws.RetryerV2
	n *atomic.Int64
}

func (c throttleCounter) IsErrorRetryable(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "Throttling" || ae.ErrorCode() == "RequestLimitExceeded") {
		c.n.Add(1)
	}
	return c.RetryerV2.IsErrorRetryable(err)
}

// TestThrottledAPI deploys the shop group against a local ELB that
// throttles ELBv2 and EC2 (buckets of 2 and 1 calls, 10 calls/s), with
// clients retrying as many times as the controller's do
// (--aws-max-retries 10; backoff capped at 200 ms rather than 20 s to
// keep the test short): the deploy converges to what an unthrottled one
// makes, a second deploy writes nothing, and removal leaves nothing.
func TestThrottledAPI(t *testing.T) {
	e := newEnv(t)
	ref := newEnv(t)
	deployAll(t, ref.deployer(t), []*stack.Stack{ref.shopStack(t, baseShop())})
	want := ref.owned(t)

	e.elb.Server.SetThrottle([]api.ThrottleRule{
		{Service: "elasticloadbalancing", Rate: 10, Burst: 2},
		{Service: "ec2", Rate: 10, Burst: 1},
	})
	var throttled atomic.Int64
	retryer := func() aws.Retryer {
		return throttleCounter{RetryerV2: retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.MaxBackoff = 11, 200*time.Millisecond }), n: &throttled}
	}
	elbc := elbv2.NewFromConfig(e.elb.Config, func(o *elbv2.Options) {
		o.APIOptions = append(o.APIOptions, e.calls.middleware)
		o.Retryer = retryer()
	})
	ec2c := ec2.NewFromConfig(e.elb.Config, func(o *ec2.Options) {
		o.APIOptions = append(o.APIOptions, e.calls.middleware)
		o.Retryer = retryer()
	})
	d, err := deploy.New(elbc, ec2c, deploy.Config{ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	st := e.shopStack(t, baseShop())
	if err := d.Deploy(context.Background(), st); err != nil {
		t.Fatalf("throttled deploy: %v", err)
	}
	if throttled.Load() == 0 {
		t.Fatal("the local ELB throttled no call: the test proves nothing")
	}
	t.Logf("%d calls throttled and retried", throttled.Load())
	e.elb.Server.SetThrottle(nil)
	checkDeployed(t, e, st)
	if got := e.owned(t); !slices.Equal(got, want) {
		t.Errorf("throttled deploy made %v, want %v", got, want)
	}
	e.elb.Server.SetThrottle([]api.ThrottleRule{{Service: "elasticloadbalancing", Rate: 10, Burst: 2}, {Service: "ec2", Rate: 10, Burst: 1}})
	e.calls.take()
	if err := d.Deploy(context.Background(), e.shopStack(t, baseShop())); err != nil {
		t.Fatalf("second throttled deploy: %v", err)
	}
	if _, writes := e.calls.take(); len(writes) != 0 {
		t.Errorf("second throttled deploy wrote %v", writes)
	}
	if err := d.Deploy(context.Background(), empty(st)); err != nil {
		t.Fatalf("throttled removal: %v", err)
	}
	e.elb.Server.SetThrottle(nil)
	if left := e.owned(t); len(left) != 0 {
		t.Errorf("throttled removal left %v", left)
	}
}
