package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

const benchTargets = 1000

// elbv2API is what the benchmarks call: the SDK client over the wire, or
// the service's methods directly (the peer: the same work without HTTP,
// SigV4 and the Query codec).
type elbv2API interface {
	CreateTargetGroup(context.Context, *sdk.CreateTargetGroupInput) (*sdk.CreateTargetGroupOutput, error)
	ModifyTargetGroupAttributes(context.Context, *sdk.ModifyTargetGroupAttributesInput) (*sdk.ModifyTargetGroupAttributesOutput, error)
	RegisterTargets(context.Context, *sdk.RegisterTargetsInput) (*sdk.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *sdk.DeregisterTargetsInput) (*sdk.DeregisterTargetsOutput, error)
	DescribeTargetHealth(context.Context, *sdk.DescribeTargetHealthInput) (*sdk.DescribeTargetHealthOutput, error)
}

// sdkAPI adapts the SDK client (whose methods take variadic options).
type sdkAPI struct{ c *sdk.Client }

func (a sdkAPI) CreateTargetGroup(c context.Context, in *sdk.CreateTargetGroupInput) (*sdk.CreateTargetGroupOutput, error) {
	return a.c.CreateTargetGroup(c, in)
}
func (a sdkAPI) ModifyTargetGroupAttributes(c context.Context, in *sdk.ModifyTargetGroupAttributesInput) (*sdk.ModifyTargetGroupAttributesOutput, error) {
	return a.c.ModifyTargetGroupAttributes(c, in)
}
func (a sdkAPI) RegisterTargets(c context.Context, in *sdk.RegisterTargetsInput) (*sdk.RegisterTargetsOutput, error) {
	return a.c.RegisterTargets(c, in)
}
func (a sdkAPI) DeregisterTargets(c context.Context, in *sdk.DeregisterTargetsInput) (*sdk.DeregisterTargetsOutput, error) {
	return a.c.DeregisterTargets(c, in)
}
func (a sdkAPI) DescribeTargetHealth(c context.Context, in *sdk.DescribeTargetHealthInput) (*sdk.DescribeTargetHealthOutput, error) {
	return a.c.DescribeTargetHealth(c, in)
}

type directAPI struct{ s *elbv2.Service }

func (a directAPI) CreateTargetGroup(c context.Context, in *sdk.CreateTargetGroupInput) (*sdk.CreateTargetGroupOutput, error) {
	return a.s.CreateTargetGroup(c, in)
}
func (a directAPI) ModifyTargetGroupAttributes(c context.Context, in *sdk.ModifyTargetGroupAttributesInput) (*sdk.ModifyTargetGroupAttributesOutput, error) {
	return a.s.ModifyTargetGroupAttributes(c, in)
}
func (a directAPI) RegisterTargets(c context.Context, in *sdk.RegisterTargetsInput) (*sdk.RegisterTargetsOutput, error) {
	return a.s.RegisterTargets(c, in)
}
func (a directAPI) DeregisterTargets(c context.Context, in *sdk.DeregisterTargetsInput) (*sdk.DeregisterTargetsOutput, error) {
	return a.s.DeregisterTargets(c, in)
}
func (a directAPI) DescribeTargetHealth(c context.Context, in *sdk.DescribeTargetHealthInput) (*sdk.DescribeTargetHealthOutput, error) {
	return a.s.DescribeTargetHealth(c, in)
}

// benchPair returns the two APIs, each with an IP target group whose
// deregistration delay is zero, and the 1,000 targets.
func benchPair(b *testing.B) (apis [2]elbv2API, tgs [2]*string, targets []types.TargetDescription) {
	b.Helper()
	env := elbtest.StartWith(b, elbtest.Options{NoDataPlanes: true})
	st, err := state.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := ec2.Bootstrap(ctx, st, facts.Default(facts.DefaultRegion, "")); err != nil {
		b.Fatal(err)
	}
	apis = [2]elbv2API{sdkAPI{env.ELBv2}, directAPI{elbv2.New(elbv2.Config{Store: st})}}
	for i, api := range apis {
		out, err := api.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("bench"), Protocol: types.ProtocolEnumTcp,
			Port: aws.Int32(80), VpcId: aws.String(env.VpcID()), TargetType: types.TargetTypeEnumIp})
		if err != nil {
			b.Fatal(err)
		}
		tgs[i] = out.TargetGroups[0].TargetGroupArn
		if _, err := api.ModifyTargetGroupAttributes(ctx, &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: tgs[i],
			Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("0")}}}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchTargets {
		targets = append(targets, types.TargetDescription{Id: aws.String(fmt.Sprintf("10.0.%d.%d", 128+i/250, 4+i%250))})
	}
	return apis, tgs, targets
}

// BenchmarkRegisterTargets registers 1,000 targets in one call through the
// SDK and, as the peer, by calling the service directly. It reports the
// time of each and their ratio (the cost of the wire).
func BenchmarkRegisterTargets(b *testing.B) {
	apis, tgs, targets := benchPair(b)
	var spent [2]time.Duration
	b.ResetTimer()
	for range b.N {
		for i, api := range apis {
			start := time.Now()
			if _, err := api.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tgs[i], Targets: targets}); err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
			if _, err := api.DeregisterTargets(ctx, &sdk.DeregisterTargetsInput{TargetGroupArn: tgs[i], Targets: targets}); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, spent)
}

// BenchmarkDescribeTargetHealth describes a target group of 1,000 targets
// through the SDK and, as the peer, directly.
func BenchmarkDescribeTargetHealth(b *testing.B) {
	apis, tgs, targets := benchPair(b)
	for i, api := range apis {
		if _, err := api.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tgs[i], Targets: targets}); err != nil {
			b.Fatal(err)
		}
	}
	var spent [2]time.Duration
	b.ResetTimer()
	for range b.N {
		for i, api := range apis {
			start := time.Now()
			out, err := api.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tgs[i]})
			if err != nil {
				b.Fatal(err)
			}
			spent[i] += time.Since(start)
			if len(out.TargetHealthDescriptions) != benchTargets {
				b.Fatalf("%d targets described", len(out.TargetHealthDescriptions))
			}
		}
	}
	report(b, spent)
}

func report(b *testing.B, spent [2]time.Duration) {
	n := float64(b.N)
	sdkMs, directMs := spent[0].Seconds()*1000/n, spent[1].Seconds()*1000/n
	b.ReportMetric(sdkMs, "sdk-ms/call")
	b.ReportMetric(directMs, "direct-ms/call")
	b.ReportMetric(benchTargets/spent[0].Seconds()*n, "sdk-targets/s")
	if spent[1] > 0 {
		b.ReportMetric(spent[0].Seconds()/spent[1].Seconds(), "sdk/direct")
	}
}
