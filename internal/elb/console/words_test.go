package console

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
)

func TestConditionWords(t *testing.T) {
	for _, tc := range []struct {
		c    elbv2types.RuleCondition
		want string
	}{
		{elbv2types.RuleCondition{Field: aws.String("path-pattern"), Values: []string{"/api/*"},
			PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/api/*", "/v2/*"}}}, "path is /api/* or /v2/*"},
		{elbv2types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{RegexValues: []string{"^/o/[0-9]+$"}}}, "path matches /^/o/[0-9]+$/"},
		{elbv2types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{"a.example.com"}, RegexValues: []string{"^b\\."}}}, `host is a.example.com or matches /^b\./`},
		{elbv2types.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Env"), Values: []string{"beta", "canary"}}}, "header X-Env is beta or canary"},
		{elbv2types.RuleCondition{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &elbv2types.HttpRequestMethodConditionConfig{Values: []string{"GET", "HEAD"}}}, "method is GET or HEAD"},
		{elbv2types.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: &elbv2types.QueryStringConditionConfig{Values: []elbv2types.QueryStringKeyValuePair{
			{Key: aws.String("v"), Value: aws.String("2")}, {Value: aws.String("debug")}}}}, "query has v=2 or any key=debug"},
		{elbv2types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &elbv2types.SourceIpConditionConfig{Values: []string{"10.0.0.0/8", "192.0.2.1/32"}}}, "source in 10.0.0.0/8 or 192.0.2.1/32"},
		{elbv2types.RuleCondition{Field: aws.String("http-header")}, "http-header (no values)"},
	} {
		if got := conditionWords(tc.c); got != tc.want {
			t.Errorf("%s: %q, want %q", aws.ToString(tc.c.Field), got, tc.want)
		}
	}
}

func TestActionWords(t *testing.T) {
	names := map[string]string{"arn:tg/a": "api", "arn:tg/b": "web"}
	name := func(arn string) string { return names[arn] }
	got := actionWords([]elbv2types.Action{
		{Type: elbv2types.ActionTypeEnumForward, Order: aws.Int32(2), ForwardConfig: &elbv2types.ForwardActionConfig{
			TargetGroups:                []elbv2types.TargetGroupTuple{{TargetGroupArn: aws.String("arn:tg/a"), Weight: aws.Int32(3)}, {TargetGroupArn: aws.String("arn:tg/b"), Weight: aws.Int32(1)}},
			TargetGroupStickinessConfig: &elbv2types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(60)}}},
		{Type: elbv2types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: &elbv2types.AuthenticateOidcActionConfig{Issuer: aws.String("https://idp.example.com")}},
	}, name)
	want := []string{
		"authenticate with OIDC (issuer https://idp.example.com); not run by the local ELB",
		"forward to api (weight 3, 75%), web (weight 1, 25%); target group stickiness 60 s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("in order:\n%q\nwant\n%q", got, want)
	}
	for _, tc := range []struct {
		a    elbv2types.Action
		want string
	}{
		{elbv2types.Action{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String("arn:tg/b")}, "forward to web"},
		{elbv2types.Action{Type: elbv2types.ActionTypeEnumRedirect, RedirectConfig: &elbv2types.RedirectActionConfig{StatusCode: elbv2types.RedirectActionStatusCodeEnumHttp302, Path: aws.String("/new/#{path}")}},
			"redirect 302 to #{protocol}://#{host}:#{port}/new/#{path}?#{query}"},
		{elbv2types.Action{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}}, "respond 404"},
		{elbv2types.Action{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("200"),
			ContentType: aws.String("text/plain"), MessageBody: aws.String("a body of more than sixty characters, which the words cut short at the end")}},
			`respond 200 text/plain "a body of more than sixty characters, which the words cut..."`},
	} {
		if got := actionWords([]elbv2types.Action{tc.a}, name); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: %q, want %q", tc.a.Type, got, tc.want)
		}
	}
}

func TestTransformWords(t *testing.T) {
	got := transformWords([]elbv2types.RuleTransform{
		{Type: elbv2types.TransformTypeEnumHostHeaderRewrite, HostHeaderRewriteConfig: &elbv2types.HostHeaderRewriteConfig{Rewrites: []elbv2types.RewriteConfig{{Regex: aws.String("^(.*)\\.old$"), Replace: aws.String("$1.new")}}}},
		{Type: elbv2types.TransformTypeEnumUrlRewrite, UrlRewriteConfig: &elbv2types.UrlRewriteConfig{Rewrites: []elbv2types.RewriteConfig{{Regex: aws.String("^/api/(.*)$"), Replace: aws.String("/$1")}}}},
	})
	want := []string{`rewrite host /^(.*)\.old$/ to "$1.new"`, `rewrite URL /^/api/(.*)$/ to "/$1"`}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestHealthCheckWords(t *testing.T) {
	for _, tc := range []struct {
		tg   state.TargetGroup
		want string
	}{
		{state.TargetGroup{HealthCheckEnabled: true, HealthCheckProtocol: "HTTP", HealthCheckPath: "/health", HealthCheckIntervalSeconds: 30, HealthCheckTimeoutSeconds: 5,
			HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, MatcherHTTPCode: "200-299"},
			"HTTP GET /health on traffic-port every 30 s, timeout 5 s; healthy after 5, unhealthy after 2; codes 200-299"},
		{state.TargetGroup{HealthCheckEnabled: true, HealthCheckProtocol: "TCP", HealthCheckPort: "8081", HealthCheckIntervalSeconds: 10, HealthCheckTimeoutSeconds: 10,
			HealthyThresholdCount: 3, UnhealthyThresholdCount: 3, MatcherHTTPCode: "200-399"},
			"TCP on 8081 every 10 s, timeout 10 s; healthy after 3, unhealthy after 3"},
		{state.TargetGroup{HealthCheckEnabled: true, HealthCheckProtocol: "HTTP", ProtocolVersion: "GRPC", HealthCheckPath: "/AWS.ALB/healthcheck", MatcherGRPCCode: "12"},
			"HTTP gRPC /AWS.ALB/healthcheck on traffic-port; gRPC codes 12"},
		{state.TargetGroup{}, "health checks disabled"},
	} {
		if got := healthCheckWords(&tc.tg); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

func TestOriginOf(t *testing.T) {
	tags := func(kv ...string) *state.TagSet {
		s := &state.TagSet{}
		for i := 0; i < len(kv); i += 2 {
			s.Set(kv[i], kv[i+1])
		}
		return s
	}
	for _, tc := range []struct {
		name string
		tags *state.TagSet
		want *Origin
	}{
		{"an Ingress", tags("elbv2.k8s.aws/cluster", "dev", "ingress.k8s.aws/stack", "shop/web", "ingress.k8s.aws/resource", "LoadBalancer"),
			&Origin{Kind: "Ingress", Name: "shop/web", Resource: "LoadBalancer", Cluster: "dev"}},
		{"an IngressGroup", tags("ingress.k8s.aws/stack", "public"), &Origin{Kind: "IngressGroup", Name: "public"}},
		{"a Service", tags("service.k8s.aws/stack", "default/echo", "service.k8s.aws/resource", "default/echo:80"),
			&Origin{Kind: "Service", Name: "default/echo", Resource: "default/echo:80"}},
		{"a Gateway", tags("gateway.k8s.aws.alb/stack", "infra/gw"), &Origin{Kind: "Gateway", Name: "infra/gw"}},
		{"legacy tags", tags("kubernetes.io/namespace", "old", "kubernetes.io/service-name", "svc", "kubernetes.io/service-port", "443", "ingress.k8s.aws/cluster", "c1"),
			&Origin{Kind: "Service", Name: "old/svc", Resource: "port 443", Cluster: "c1"}},
		{"no Kubernetes tags", tags("team", "payments"), nil},
		{"no tags", nil, nil},
	} {
		got := originOf(tc.tags)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
