package elbv2_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
)

func target(id string, port int32) types.TargetDescription {
	d := types.TargetDescription{Id: aws.String(id)}
	if port != 0 {
		d.Port = aws.Int32(port)
	}
	return d
}

// healthOf returns "state/reason" of each target, by "id:port".
func (e *env) healthOf(t *testing.T, tgARN *string, targets ...types.TargetDescription) map[string]string {
	t.Helper()
	out := must[*sdk.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tgARN, Targets: targets}))
	m := map[string]string{}
	for _, d := range out.TargetHealthDescriptions {
		k := *d.Target.Id
		if d.Target.Port != nil {
			k = fmt.Sprintf("%s:%d", k, *d.Target.Port)
		}
		m[k] = string(d.TargetHealth.State) + "/" + string(d.TargetHealth.Reason)
		if d.AdministrativeOverride == nil || d.AdministrativeOverride.State != "no_override" {
			t.Errorf("target %s administrative override %+v", k, d.AdministrativeOverride)
		}
	}
	return m
}

func TestTargetHealthLifecycle(t *testing.T) {
	e := start(t)
	tg := e.tg(t, "web", types.ProtocolEnumHttp, 80)
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target("10.0.0.10", 0), target("10.0.16.10", 8080)}}))
	// Not used by a load balancer yet.
	got := e.healthOf(t, tg.TargetGroupArn)
	want := map[string]string{"10.0.0.10:80": "unused/Target.NotInUse", "10.0.16.10:8080": "unused/Target.NotInUse"}
	if !mapsEqual(got, want) {
		t.Errorf("before use %v, want %v", got, want)
	}
	lb := e.alb(t, "web") // zones a and b
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(tg.TargetGroupArn))
	got = e.healthOf(t, tg.TargetGroupArn)
	if got["10.0.0.10:80"] != "initial/Elb.InitialHealthChecking" {
		t.Errorf("in use %v", got)
	}
	e.health.set("10.0.0.10", health.Healthy)
	e.health.set("10.0.16.10", health.ResponseCodeMismatch(500))
	got = e.healthOf(t, tg.TargetGroupArn)
	want = map[string]string{"10.0.0.10:80": "healthy/", "10.0.16.10:8080": "unhealthy/Target.ResponseCodeMismatch"}
	if !mapsEqual(got, want) {
		t.Errorf("checked %v, want %v", got, want)
	}
	// A target in a zone the load balancer is not in.
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target("10.0.32.10", 0)}}))
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.32.10", 0)); got["10.0.32.10:80"] != "unused/Target.NotInUse" {
		t.Errorf("off-zone target %v", got)
	}
	// Not registered.
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.0.99", 0)); got["10.0.0.99:80"] != "unused/Target.NotRegistered" {
		t.Errorf("unknown target %v", got)
	}

	// Deregistration drains for the delay, then Reap removes the target.
	must[*sdk.ModifyTargetGroupAttributesOutput](t)(e.elb.ModifyTargetGroupAttributes(ctx, &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
		Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("30")}}}))
	must[*sdk.DeregisterTargetsOutput](t)(e.elb.DeregisterTargets(ctx, &sdk.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target("10.0.0.10", 0), target("10.0.0.77", 0)}}))
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.0.10", 0)); got["10.0.0.10:80"] != "draining/Target.DeregistrationInProgress" {
		t.Errorf("deregistered %v", got)
	}
	e.clock.Add(29 * time.Second)
	if err := e.svc.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.0.10", 0)); got["10.0.0.10:80"] != "draining/Target.DeregistrationInProgress" {
		t.Errorf("before the delay ends %v", got)
	}
	e.clock.Add(time.Second)
	if err := e.svc.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	got = e.healthOf(t, tg.TargetGroupArn)
	if _, ok := got["10.0.0.10:80"]; ok || len(got) != 2 {
		t.Errorf("after the delay %v", got)
	}

	// A draining target registered again is a new registration.
	must[*sdk.DeregisterTargetsOutput](t)(e.elb.DeregisterTargets(ctx, &sdk.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target("10.0.16.10", 8080)}}))
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target("10.0.16.10", 8080)}}))
	e.health.set("10.0.16.10", health.RegistrationInProgress)
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.16.10", 8080)); got["10.0.16.10:8080"] != "initial/Elb.RegistrationInProgress" {
		t.Errorf("re-registered %v", got)
	}
	e.clock.Add(time.Hour)
	if err := e.svc.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.16.10", 8080)); got["10.0.16.10:8080"] != "initial/Elb.RegistrationInProgress" {
		t.Errorf("re-registered target was reaped: %v", got)
	}

	// With a zero delay deregistration is immediate.
	must[*sdk.ModifyTargetGroupAttributesOutput](t)(e.elb.ModifyTargetGroupAttributes(ctx, &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
		Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("0")}}}))
	must[*sdk.DeregisterTargetsOutput](t)(e.elb.DeregisterTargets(ctx, &sdk.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target("10.0.16.10", 8080)}}))
	if got := e.healthOf(t, tg.TargetGroupArn, target("10.0.16.10", 8080)); got["10.0.16.10:8080"] != "unused/Target.NotRegistered" {
		t.Errorf("zero delay %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInstanceTargets(t *testing.T) {
	e := start(t)
	run := must[*ec2sdk.RunInstancesOutput](t)(e.ec2.RunInstances(ctx, &ec2sdk.RunInstancesInput{MinCount: aws.Int32(2), MaxCount: aws.Int32(2), SubnetId: aws.String(e.private[0])}))
	i1, i2 := *run.Instances[0].InstanceId, *run.Instances[1].InstanceId
	tg := e.tg(t, "inst", types.ProtocolEnumHttp, 30080, func(in *sdk.CreateTargetGroupInput) { in.TargetType = types.TargetTypeEnumInstance })
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{target(i1, 0), target(i2, 0)}}))
	lb := e.alb(t, "web", func(in *sdk.CreateLoadBalancerInput) { in.Subnets = []string{e.public[0], e.public[1]} })
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(tg.TargetGroupArn))
	must[*ec2sdk.TerminateInstancesOutput](t)(e.ec2.TerminateInstances(ctx, &ec2sdk.TerminateInstancesInput{InstanceIds: []string{i2}}))
	got := e.healthOf(t, tg.TargetGroupArn)
	if got[i1+":30080"] != "initial/Elb.InitialHealthChecking" || got[i2+":30080"] != "unused/Target.InvalidState" {
		t.Errorf("instance health %v", got)
	}
	_, err := e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{target(i2, 0)}})
	apiErr(t, err, "InvalidTarget")
	_, err = e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{target("i-0123456789abcdef0", 0)}})
	apiErr(t, err, "InvalidTarget")
	_, err = e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{target("10.0.0.1", 0)}})
	apiErr(t, err, "InvalidTarget")
	_, err = e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(i1), AvailabilityZone: aws.String("all")}}})
	apiErr(t, err, "ValidationError")
}

func TestRegisterTargetsErrors(t *testing.T) {
	e := start(t)
	tg := e.tg(t, "ip", types.ProtocolEnumHttp, 80)
	cases := []struct {
		name string
		d    types.TargetDescription
		code string
	}{
		{"not an IP", target("web-1", 0), "InvalidTarget"},
		{"public IP", target("8.8.8.8", 0), "InvalidTarget"},
		{"outside VPC without zone", target("192.168.1.1", 0), "InvalidTarget"},
		{"inside VPC with all", types.TargetDescription{Id: aws.String("10.0.0.5"), AvailabilityZone: aws.String("all")}, "InvalidTarget"},
		{"inside VPC wrong zone", types.TargetDescription{Id: aws.String("10.0.0.5"), AvailabilityZone: aws.String("us-east-1b")}, "InvalidTarget"},
		{"IPv6 in IPv4 group", target("fd00::1", 0), "InvalidTarget"},
		{"port 0", types.TargetDescription{Id: aws.String("10.0.0.5"), Port: aws.Int32(0)}, "ValidationError"},
		{"port 65536", types.TargetDescription{Id: aws.String("10.0.0.5"), Port: aws.Int32(65536)}, "ValidationError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
				Targets: []types.TargetDescription{target("10.0.0.6", 0), c.d}})
			apiErr(t, err, c.code)
		})
	}
	// Nothing of a failed call was registered.
	if got := e.healthOf(t, tg.TargetGroupArn); len(got) != 0 {
		t.Errorf("failed registrations left %v", got)
	}
	// Outside the VPC with AvailabilityZone all is accepted.
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("192.168.1.1"), AvailabilityZone: aws.String("all")}}}))
	out := must[*sdk.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
	if len(out.TargetHealthDescriptions) != 1 || aws.ToString(out.TargetHealthDescriptions[0].Target.AvailabilityZone) != "all" ||
		*out.TargetHealthDescriptions[0].HealthCheckPort != "80" {
		t.Errorf("registered %+v", out.TargetHealthDescriptions)
	}
	_, err := e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: aws.String(*tg.TargetGroupArn + "0"), Targets: []types.TargetDescription{target("10.0.0.5", 0)}})
	apiErr(t, err, "TargetGroupNotFound")
	_, err = e.elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(*tg.TargetGroupArn + "0")})
	apiErr(t, err, "TargetGroupNotFound")
}

func TestLambdaAndALBTargets(t *testing.T) {
	e := start(t)
	lam := e.tg(t, "fn", "", 0, func(in *sdk.CreateTargetGroupInput) {
		in.TargetType = types.TargetTypeEnumLambda
		in.Protocol, in.Port, in.VpcId = "", nil, nil
	})
	fn := "arn:aws:lambda:us-east-1:000000000000:function:hello"
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: lam.TargetGroupArn, Targets: []types.TargetDescription{{Id: aws.String(fn)}}}))
	_, err := e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: lam.TargetGroupArn, Targets: []types.TargetDescription{{Id: aws.String(fn + "2")}}})
	apiErr(t, err, "TooManyTargets")
	lb := e.alb(t, "web")
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(lam.TargetGroupArn))
	if got := e.healthOf(t, lam.TargetGroupArn); got[fn] != "unavailable/Target.HealthCheckDisabled" {
		t.Errorf("lambda health %v", got)
	}

	albTG := e.tg(t, "alb", types.ProtocolEnumTcp, 80, func(in *sdk.CreateTargetGroupInput) { in.TargetType = types.TargetTypeEnumAlb })
	_, err = e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: albTG.TargetGroupArn, Targets: []types.TargetDescription{{Id: aws.String("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/0123456789abcdef")}}})
	apiErr(t, err, "InvalidTarget")
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: albTG.TargetGroupArn, Targets: []types.TargetDescription{{Id: lb.LoadBalancerArn}}}))
	nlb := e.nlb(t, "front")
	e.listener(t, nlb.LoadBalancerArn, types.ProtocolEnumTcp, 80, forward(albTG.TargetGroupArn))
}

func TestTooManyTargets(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{TargetsPerTargetGroup: 3, TargetsPerALB: 4}))
	a := e.tg(t, "a", types.ProtocolEnumHttp, 80)
	b := e.tg(t, "b", types.ProtocolEnumHttp, 80)
	reg := func(arn *string, ips ...string) error {
		var ts []types.TargetDescription
		for _, ip := range ips {
			ts = append(ts, target(ip, 0))
		}
		_, err := e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: arn, Targets: ts})
		return err
	}
	if err := reg(a.TargetGroupArn, "10.0.0.1", "10.0.0.2", "10.0.0.3"); err != nil {
		t.Fatal(err)
	}
	apiErr(t, reg(a.TargetGroupArn, "10.0.0.4"), "TooManyTargets")
	if err := reg(a.TargetGroupArn, "10.0.0.1"); err != nil {
		t.Errorf("registering a registered target again: %v", err)
	}
	lb := e.alb(t, "web")
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(a.TargetGroupArn))
	must[*sdk.CreateRuleOutput](t)(e.elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1),
		Conditions: pathIs("/b"), Actions: forward(b.TargetGroupArn)}))
	if err := reg(b.TargetGroupArn, "10.0.0.5"); err != nil {
		t.Fatal(err)
	}
	apiErr(t, reg(b.TargetGroupArn, "10.0.0.6"), "TooManyTargets")
}

func TestDescribeTargetHealthAnomaly(t *testing.T) {
	e := start(t)
	tg := e.tg(t, "web", types.ProtocolEnumHttp, 80)
	must[*sdk.RegisterTargetsOutput](t)(e.elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{target("10.0.0.1", 0)}}))
	out := must[*sdk.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn,
		Include: []types.DescribeTargetHealthInputIncludeEnum{types.DescribeTargetHealthInputIncludeEnumAll}}))
	if a := out.TargetHealthDescriptions[0].AnomalyDetection; a == nil || a.Result != "normal" || a.MitigationInEffect != "no" {
		t.Errorf("anomaly detection %+v", a)
	}
	plain := must[*sdk.DescribeTargetHealthOutput](t)(e.elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
	if plain.TargetHealthDescriptions[0].AnomalyDetection != nil {
		t.Error("anomaly detection without Include")
	}
}
