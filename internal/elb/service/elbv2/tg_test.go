package elbv2_test

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
)

func TestCreateTargetGroupDefaults(t *testing.T) {
	e := start(t)
	type hc struct {
		proto, port, path, matcher string
		interval, timeout          int32
		healthy, unhealthy         int32
	}
	cases := []struct {
		name string
		mod  func(*sdk.CreateTargetGroupInput)
		want hc
	}{
		{"http", func(in *sdk.CreateTargetGroupInput) {}, hc{"HTTP", "traffic-port", "/", "200", 30, 6, 5, 2}},
		{"https", func(in *sdk.CreateTargetGroupInput) { in.Protocol = types.ProtocolEnumHttps }, hc{"HTTP", "traffic-port", "/", "200", 30, 10, 5, 2}},
		{"grpc", func(in *sdk.CreateTargetGroupInput) {
			in.Protocol = types.ProtocolEnumHttps
			in.ProtocolVersion = aws.String("GRPC")
		},
			hc{"HTTP", "traffic-port", "/AWS.ALB/healthcheck", "grpc:12", 30, 10, 5, 2}},
		{"tcp", func(in *sdk.CreateTargetGroupInput) { in.Protocol = types.ProtocolEnumTcp }, hc{"TCP", "traffic-port", "", "", 30, 10, 5, 2}},
		{"tcp-http", func(in *sdk.CreateTargetGroupInput) {
			in.Protocol = types.ProtocolEnumTcp
			in.HealthCheckProtocol = types.ProtocolEnumHttp
		}, hc{"HTTP", "traffic-port", "/", "200-399", 30, 10, 5, 2}},
		{"udp", func(in *sdk.CreateTargetGroupInput) { in.Protocol = types.ProtocolEnumUdp }, hc{"TCP", "traffic-port", "", "", 30, 10, 5, 2}},
		{"geneve", func(in *sdk.CreateTargetGroupInput) {
			in.Protocol = types.ProtocolEnumGeneve
			in.Port = aws.Int32(6081)
		},
			hc{"TCP", "80", "", "", 10, 5, 5, 2}},
		{"lambda", func(in *sdk.CreateTargetGroupInput) {
			in.TargetType = types.TargetTypeEnumLambda
			in.Protocol, in.Port, in.VpcId = "", nil, nil
		}, hc{"", "", "/", "200", 35, 30, 5, 5}},
		{"custom", func(in *sdk.CreateTargetGroupInput) {
			in.HealthCheckPath = aws.String("/healthz")
			in.HealthCheckIntervalSeconds = aws.Int32(15)
			in.HealthCheckTimeoutSeconds = aws.Int32(5)
			in.HealthyThresholdCount = aws.Int32(2)
			in.UnhealthyThresholdCount = aws.Int32(3)
			in.HealthCheckPort = aws.String("8080")
			in.Matcher = &types.Matcher{HttpCode: aws.String("200-299")}
		}, hc{"HTTP", "8080", "/healthz", "200-299", 15, 5, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := e.tg(t, c.name, types.ProtocolEnumHttp, 80, c.mod)
			got := hc{string(tg.HealthCheckProtocol), aws.ToString(tg.HealthCheckPort), aws.ToString(tg.HealthCheckPath), "",
				*tg.HealthCheckIntervalSeconds, *tg.HealthCheckTimeoutSeconds, *tg.HealthyThresholdCount, *tg.UnhealthyThresholdCount}
			if tg.Matcher != nil {
				got.matcher = aws.ToString(tg.Matcher.HttpCode)
				if tg.Matcher.GrpcCode != nil {
					got.matcher = "grpc:" + *tg.Matcher.GrpcCode
				}
			}
			if got != c.want {
				t.Errorf("health check %+v, want %+v", got, c.want)
			}
			if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/` + c.name + `/[0-9a-f]{16}$`).MatchString(*tg.TargetGroupArn) {
				t.Errorf("ARN %s", *tg.TargetGroupArn)
			}
			if c.name == "lambda" {
				if tg.Protocol != "" || tg.VpcId != nil || *tg.HealthCheckEnabled {
					t.Errorf("lambda target group %+v", tg)
				}
			} else if *tg.VpcId != e.vpc || !*tg.HealthCheckEnabled || tg.IpAddressType != "ipv4" {
				t.Errorf("target group %+v", tg)
			}
		})
	}
}

func TestCreateTargetGroupErrors(t *testing.T) {
	e := start(t)
	base := func(mod func(*sdk.CreateTargetGroupInput)) *sdk.CreateTargetGroupInput {
		in := &sdk.CreateTargetGroupInput{Name: aws.String("x"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(e.vpc)}
		mod(in)
		return in
	}
	cases := []struct {
		name string
		mod  func(*sdk.CreateTargetGroupInput)
	}{
		{"name too long", func(in *sdk.CreateTargetGroupInput) { in.Name = aws.String("abcdefghijklmnopqrstuvwxyz0123456") }},
		{"name underscore", func(in *sdk.CreateTargetGroupInput) { in.Name = aws.String("a_b") }},
		{"name hyphen", func(in *sdk.CreateTargetGroupInput) { in.Name = aws.String("-a") }},
		{"no protocol", func(in *sdk.CreateTargetGroupInput) { in.Protocol = "" }},
		{"no port", func(in *sdk.CreateTargetGroupInput) { in.Port = nil }},
		{"no vpc", func(in *sdk.CreateTargetGroupInput) { in.VpcId = nil }},
		{"unknown vpc", func(in *sdk.CreateTargetGroupInput) { in.VpcId = aws.String("vpc-0000000000000000f") }},
		{"port 0", func(in *sdk.CreateTargetGroupInput) { in.Port = aws.Int32(0) }},
		{"bad protocol", func(in *sdk.CreateTargetGroupInput) { in.Protocol = "SCTP" }},
		{"interval low", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckIntervalSeconds = aws.Int32(4) }},
		{"interval high", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckIntervalSeconds = aws.Int32(301) }},
		{"timeout low", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckTimeoutSeconds = aws.Int32(1) }},
		{"timeout >= interval", func(in *sdk.CreateTargetGroupInput) {
			in.HealthCheckIntervalSeconds = aws.Int32(10)
			in.HealthCheckTimeoutSeconds = aws.Int32(10)
		}},
		{"healthy 1", func(in *sdk.CreateTargetGroupInput) { in.HealthyThresholdCount = aws.Int32(1) }},
		{"unhealthy 11", func(in *sdk.CreateTargetGroupInput) { in.UnhealthyThresholdCount = aws.Int32(11) }},
		{"matcher 600 on ALB", func(in *sdk.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("200-600")} }},
		{"matcher 500 on ALB", func(in *sdk.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("500")} }},
		{"matcher form", func(in *sdk.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("200-")} }},
		{"matcher reversed", func(in *sdk.CreateTargetGroupInput) { in.Matcher = &types.Matcher{HttpCode: aws.String("299-200")} }},
		{"grpc code on HTTP1", func(in *sdk.CreateTargetGroupInput) { in.Matcher = &types.Matcher{GrpcCode: aws.String("0")} }},
		{"grpc code 100", func(in *sdk.CreateTargetGroupInput) {
			in.ProtocolVersion = aws.String("GRPC")
			in.Matcher = &types.Matcher{GrpcCode: aws.String("0-100")}
		}},
		{"TCP check on HTTP", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckProtocol = types.ProtocolEnumTcp }},
		{"path on TCP check", func(in *sdk.CreateTargetGroupInput) {
			in.Protocol = types.ProtocolEnumTcp
			in.HealthCheckPath = aws.String("/")
		}},
		{"path without slash", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckPath = aws.String("health") }},
		{"bad hc port", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckPort = aws.String("70000") }},
		{"disable checks", func(in *sdk.CreateTargetGroupInput) { in.HealthCheckEnabled = aws.Bool(false) }},
		{"protocol version on TCP", func(in *sdk.CreateTargetGroupInput) {
			in.Protocol = types.ProtocolEnumTcp
			in.ProtocolVersion = aws.String("HTTP2")
		}},
		{"lambda with port", func(in *sdk.CreateTargetGroupInput) { in.TargetType = types.TargetTypeEnumLambda }},
		{"alb target over UDP", func(in *sdk.CreateTargetGroupInput) {
			in.TargetType = types.TargetTypeEnumAlb
			in.Protocol = types.ProtocolEnumUdp
		}},
		{"geneve port", func(in *sdk.CreateTargetGroupInput) { in.Protocol = types.ProtocolEnumGeneve }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.elb.CreateTargetGroup(ctx, base(c.mod))
			apiErr(t, err, "ValidationError")
		})
	}
	// NLB target groups accept a timeout equal to the interval (the AWS
	// Load Balancer Controller's NLB default), and the NLB matcher range.
	e.tg(t, "nlb10", types.ProtocolEnumTcp, 80, func(in *sdk.CreateTargetGroupInput) {
		in.HealthCheckIntervalSeconds = aws.Int32(10)
		in.HealthCheckTimeoutSeconds = aws.Int32(10)
	})
	_, err := e.elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("nlb11"), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80),
		VpcId: aws.String(e.vpc), HealthCheckIntervalSeconds: aws.Int32(10), HealthCheckTimeoutSeconds: aws.Int32(11)})
	apiErr(t, err, "ValidationError")
	e.tg(t, "nlbhttp", types.ProtocolEnumTcp, 80, func(in *sdk.CreateTargetGroupInput) {
		in.HealthCheckProtocol = types.ProtocolEnumHttp
		in.Matcher = &types.Matcher{HttpCode: aws.String("200-599")}
	})
}

func TestTargetGroupIdempotentAndDescribe(t *testing.T) {
	e := start(t)
	a := e.tg(t, "one", types.ProtocolEnumHttp, 80)
	b := e.tg(t, "one", types.ProtocolEnumHttp, 80)
	if *a.TargetGroupArn != *b.TargetGroupArn {
		t.Fatalf("second create made %s", *b.TargetGroupArn)
	}
	_, err := e.elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("one"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(81), VpcId: aws.String(e.vpc)})
	apiErr(t, err, "DuplicateTargetGroupName")
	_, err = e.elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("one"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
		VpcId: aws.String(e.vpc), TargetType: types.TargetTypeEnumIp, HealthCheckPath: aws.String("/other")})
	apiErr(t, err, "DuplicateTargetGroupName")
	two := e.tg(t, "two", types.ProtocolEnumHttp, 80)
	lb := e.alb(t, "web")
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(two.TargetGroupArn))

	byLB := must[*sdk.DescribeTargetGroupsOutput](t)(e.elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn}))
	if len(byLB.TargetGroups) != 1 || *byLB.TargetGroups[0].TargetGroupArn != *two.TargetGroupArn ||
		!slices.Equal(byLB.TargetGroups[0].LoadBalancerArns, []string{*lb.LoadBalancerArn}) {
		t.Errorf("by load balancer %+v", byLB.TargetGroups)
	}
	byName := must[*sdk.DescribeTargetGroupsOutput](t)(e.elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{Names: []string{"one"}}))
	if len(byName.TargetGroups) != 1 || len(byName.TargetGroups[0].LoadBalancerArns) != 0 {
		t.Errorf("by name %+v", byName.TargetGroups)
	}
	_, err = e.elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{Names: []string{"one", "nope"}})
	apiErr(t, err, "TargetGroupNotFound")
	_, err = e.elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{TargetGroupArns: []string{*a.TargetGroupArn + "0"}})
	apiErr(t, err, "TargetGroupNotFound")
	_, err = e.elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{Names: []string{"one"}, TargetGroupArns: []string{*a.TargetGroupArn}})
	apiErr(t, err, "ValidationError")

	// In use: not deletable.
	_, err = e.elb.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: two.TargetGroupArn})
	apiErr(t, err, "ResourceInUse")
	must[*sdk.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: a.TargetGroupArn}))
	must[*sdk.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: a.TargetGroupArn}))

	// Pagination over all target groups.
	for i := range 5 {
		e.clock.Add(1)
		e.tg(t, fmt.Sprintf("p%d", i), types.ProtocolEnumTcp, 80)
	}
	p := sdk.NewDescribeTargetGroupsPaginator(e.elb, &sdk.DescribeTargetGroupsInput{PageSize: aws.Int32(2)})
	var names []string
	for p.HasMorePages() {
		for _, tg := range must[*sdk.DescribeTargetGroupsOutput](t)(p.NextPage(ctx)).TargetGroups {
			names = append(names, *tg.TargetGroupName)
		}
	}
	if len(names) != 6 {
		t.Errorf("paginated names %v", names)
	}
}

func TestModifyTargetGroup(t *testing.T) {
	e := start(t)
	tg := e.tg(t, "tcp", types.ProtocolEnumTcp, 80)
	out := must[*sdk.ModifyTargetGroupOutput](t)(e.elb.ModifyTargetGroup(ctx, &sdk.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn,
		HealthCheckProtocol: types.ProtocolEnumHttp, HealthCheckPath: aws.String("/ready"), HealthCheckIntervalSeconds: aws.Int32(10),
		HealthCheckTimeoutSeconds: aws.Int32(5)}))
	m := out.TargetGroups[0]
	if m.HealthCheckProtocol != "HTTP" || *m.HealthCheckPath != "/ready" || *m.Matcher.HttpCode != "200-399" || *m.HealthCheckIntervalSeconds != 10 {
		t.Errorf("modified %+v", m)
	}
	_, err := e.elb.ModifyTargetGroup(ctx, &sdk.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn, HealthCheckTimeoutSeconds: aws.Int32(20)})
	apiErr(t, err, "ValidationError")
	_, err = e.elb.ModifyTargetGroup(ctx, &sdk.ModifyTargetGroupInput{TargetGroupArn: aws.String(*tg.TargetGroupArn + "1")})
	apiErr(t, err, "TargetGroupNotFound")
	back := must[*sdk.ModifyTargetGroupOutput](t)(e.elb.ModifyTargetGroup(ctx, &sdk.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn, HealthCheckProtocol: types.ProtocolEnumTcp}))
	if back.TargetGroups[0].HealthCheckPath != nil || back.TargetGroups[0].Matcher != nil {
		t.Errorf("TCP health check keeps HTTP settings: %+v", back.TargetGroups[0])
	}
}

func TestTargetGroupAttributes(t *testing.T) {
	e := start(t)
	kv := func(a types.TargetGroupAttribute) (*string, *string) { return a.Key, a.Value }
	get := func(arn *string) map[string]string {
		return attrMap(must[*sdk.DescribeTargetGroupAttributesOutput](t)(e.elb.DescribeTargetGroupAttributes(ctx, &sdk.DescribeTargetGroupAttributesInput{TargetGroupArn: arn})).Attributes, kv)
	}
	http := e.tg(t, "http", types.ProtocolEnumHttp, 80)
	am := get(http.TargetGroupArn)
	for k, v := range map[string]string{"deregistration_delay.timeout_seconds": "300", "stickiness.enabled": "false", "stickiness.type": "lb_cookie",
		"stickiness.lb_cookie.duration_seconds": "86400", "slow_start.duration_seconds": "0", "load_balancing.algorithm.type": "round_robin",
		"load_balancing.cross_zone.enabled": "use_load_balancer_configuration", "target_group_health.dns_failover.minimum_healthy_targets.count": "1"} {
		if am[k] != v {
			t.Errorf("HTTP attribute %s = %q, want %q", k, am[k], v)
		}
	}
	tcp := e.tg(t, "tcp", types.ProtocolEnumTcp, 80)
	nm := get(tcp.TargetGroupArn)
	if nm["preserve_client_ip.enabled"] != "false" || nm["proxy_protocol_v2.enabled"] != "false" || nm["stickiness.type"] != "source_ip" ||
		nm["deregistration_delay.connection_termination.enabled"] != "false" {
		t.Errorf("TCP attributes %v", nm)
	}
	udp := e.tg(t, "udp", types.ProtocolEnumUdp, 53, func(in *sdk.CreateTargetGroupInput) { in.TargetType = types.TargetTypeEnumInstance })
	um := get(udp.TargetGroupArn)
	if um["preserve_client_ip.enabled"] != "true" || um["deregistration_delay.connection_termination.enabled"] != "true" {
		t.Errorf("UDP attributes %v", um)
	}
	mod := func(arn *string, kvs ...string) error {
		var attrs []types.TargetGroupAttribute
		for i := 0; i < len(kvs); i += 2 {
			attrs = append(attrs, types.TargetGroupAttribute{Key: aws.String(kvs[i]), Value: aws.String(kvs[i+1])})
		}
		_, err := e.elb.ModifyTargetGroupAttributes(ctx, &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: arn, Attributes: attrs})
		return err
	}
	if err := mod(http.TargetGroupArn, "stickiness.enabled", "true", "stickiness.type", "app_cookie", "stickiness.app_cookie.cookie_name", "SESSION"); err != nil {
		t.Fatal(err)
	}
	if m := get(http.TargetGroupArn); m["stickiness.app_cookie.cookie_name"] != "SESSION" {
		t.Errorf("after modify %v", m)
	}
	bad := []struct {
		arn  *string
		kvs  []string
		code string
	}{
		{http.TargetGroupArn, []string{"deregistration_delay.timeout_seconds", "3601"}, "ValidationError"},
		{http.TargetGroupArn, []string{"stickiness.type", "source_ip"}, "ValidationError"},
		{http.TargetGroupArn, []string{"slow_start.duration_seconds", "10"}, "ValidationError"},
		{http.TargetGroupArn, []string{"stickiness.app_cookie.cookie_name", "AWSALBX"}, "ValidationError"},
		{http.TargetGroupArn, []string{"proxy_protocol_v2.enabled", "true"}, "ValidationError"},
		{http.TargetGroupArn, []string{"stickiness.app_cookie.cookie_name", ""}, "InvalidConfigurationRequest"},
		{http.TargetGroupArn, []string{"load_balancing.algorithm.anomaly_mitigation", "on"}, "InvalidConfigurationRequest"},
		{tcp.TargetGroupArn, []string{"stickiness.type", "lb_cookie"}, "ValidationError"},
		{tcp.TargetGroupArn, []string{"target_health_state.unhealthy.draining_interval_seconds", "10"}, "InvalidConfigurationRequest"},
		{udp.TargetGroupArn, []string{"preserve_client_ip.enabled", "false"}, "InvalidConfigurationRequest"},
	}
	for _, b := range bad {
		err := mod(b.arn, b.kvs...)
		if err == nil {
			t.Errorf("%v accepted", b.kvs)
			continue
		}
		apiErr(t, err, b.code)
	}
	if err := mod(tcp.TargetGroupArn, "target_health_state.unhealthy.connection_termination.enabled", "false",
		"target_health_state.unhealthy.draining_interval_seconds", "10"); err != nil {
		t.Error(err)
	}
}

func TestTooManyTargetGroups(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{TargetGroups: 2}))
	e.tg(t, "a", types.ProtocolEnumHttp, 80)
	e.tg(t, "b", types.ProtocolEnumHttp, 80)
	_, err := e.elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("c"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(e.vpc)})
	apiErr(t, err, "TooManyTargetGroups")
}
