package alb_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestRuleConditions routes requests by every condition type and
// combination, wildcards and regular expressions, in priority order, with
// the default action last.
func TestRuleConditions(t *testing.T) { bothLoops(t, testRuleConditions) }

func testRuleConditions(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	a := e.startBackend("A", nil)
	b := e.startBackend("B", nil)
	tgA := e.targetGroup("HTTP", "HTTP1", nil)
	tgB := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tgA, a.vpc)
	e.register(tgB, b.vpc)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", fixed("404", "default"))
	other := e.clientAddr(1)
	// Created out of order: priority decides, not creation.
	e.rule(l, 20, []elbv2types.RuleCondition{cond("path-pattern", "/both")}, fixed("200", "twenty"))
	e.rule(l, 10, []elbv2types.RuleCondition{cond("path-pattern", "/both")}, fixed("200", "ten"))
	e.rule(l, 1, []elbv2types.RuleCondition{cond("host-header", "API.example.com"), cond("path-pattern", "/v1/*")}, forward(tgA))
	e.rule(l, 2, []elbv2types.RuleCondition{cond("host-header", "*.example.org", "shop-?.example.com")}, forward(tgB))
	e.rule(l, 3, []elbv2types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Canary"), Values: []string{"yes", "true"}}}}, fixed("200", "canary"))
	e.rule(l, 4, []elbv2types.RuleCondition{cond("http-request-method", "DELETE", "PATCH"), cond("path-pattern", "/items/*")}, fixed("200", "write"))
	e.rule(l, 5, []elbv2types.RuleCondition{{Field: aws.String("query-string"), QueryStringConfig: &elbv2types.QueryStringConditionConfig{Values: []elbv2types.QueryStringKeyValuePair{{Key: aws.String("mode"), Value: aws.String("debug*")}, {Value: aws.String("trace")}}}}}, fixed("200", "query"))
	e.rule(l, 6, []elbv2types.RuleCondition{cond("source-ip", other.String()+"/32")}, fixed("200", "source"))
	e.rule(l, 7, []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{RegexValues: []string{"^/orders/[0-9]+$"}}}}, fixed("200", "order"))
	e.rule(l, 8, []elbv2types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{RegexValues: []string{"^tenant-[a-z]+\\.example\\.net$"}}}}, fixed("200", "tenant"))
	e.rule(l, 9, []elbv2types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("User-Agent"), RegexValues: []string{"(?i)mobile"}}}}, fixed("200", "mobile"))

	c := client(e.clientAddr(0))
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		want               string // backend id or fixed body
	}{
		{"host and path (host case-insensitive)", "GET", "/v1/users", map[string]string{"Host": "api.EXAMPLE.com"}, "A"},
		{"host matches but path does not: AND", "GET", "/v2/users", map[string]string{"Host": "api.example.com"}, "default"},
		{"path matches but host does not", "GET", "/v1/users", map[string]string{"Host": "www.example.com"}, "default"},
		// ALB compares the whole Host header, port included: a value
		// (which cannot name a port) does not match a Host with one.
		{"host with port", "GET", "/v1/x", map[string]string{"Host": "api.example.com:8080"}, "default"},
		{"host wildcard against a port", "GET", "/", map[string]string{"Host": "a.b.example.org:8080"}, "default"},
		{"host regex against a port", "GET", "/", map[string]string{"Host": "tenant-acme.example.net:8080"}, "default"},
		{"host wildcard *", "GET", "/", map[string]string{"Host": "a.b.example.org"}, "B"},
		{"host wildcard ?", "GET", "/", map[string]string{"Host": "shop-1.example.com"}, "B"},
		{"host wildcard ? needs one char", "GET", "/", map[string]string{"Host": "shop-12.example.com"}, "default"},
		{"header values OR-ed", "GET", "/", map[string]string{"X-Canary": "TRUE"}, "canary"},
		{"method and path", "DELETE", "/items/3", nil, "write"},
		{"method mismatch", "GET", "/items/3", nil, "default"},
		{"query key and wildcard value", "GET", "/?mode=DEBUG-1", nil, "query"},
		{"query value with any key", "GET", "/?x=trace", nil, "query"},
		{"query no match", "GET", "/?mode=release", nil, "default"},
		{"path regex", "GET", "/orders/12", nil, "order"},
		{"path regex mismatch", "GET", "/orders/12a", nil, "default"},
		{"host regex", "GET", "/", map[string]string{"Host": "tenant-acme.example.net"}, "tenant"},
		{"header regex", "GET", "/", map[string]string{"User-Agent": "Some Mobile Browser"}, "mobile"},
		{"priority: 10 before 20", "GET", "/both", nil, "ten"},
		{"path is case-sensitive", "GET", "/V1/users", map[string]string{"Host": "api.example.com"}, "default"},
	}
	for _, tc := range cases {
		code, _, body := get(t, c, tc.method, base+tc.path, tc.hdr)
		got := body
		if strings.HasPrefix(body, "{") {
			got = decodeID(t, body)
		}
		if got != tc.want {
			t.Errorf("%s: %s %s got %q (status %d), want %q", tc.name, tc.method, tc.path, got, code, tc.want)
		}
	}
	// source-ip: the same request from another source address.
	if _, _, body := get(t, client(other), "GET", base+"/", nil); body != "source" {
		t.Errorf("source-ip rule: got %q", body)
	}
	if _, _, body := get(t, c, "GET", base+"/", nil); body != "default" {
		t.Errorf("source-ip rule matched another source: %q", body)
	}
	// The default rule's fixed response keeps its status.
	if code, _, _ := get(t, c, "GET", base+"/nothing", nil); code != 404 {
		t.Errorf("default action status %d, want 404", code)
	}
}
