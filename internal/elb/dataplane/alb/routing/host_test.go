package routing_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// hostListener compiles an HTTP listener on port 8080 whose rules look at
// the Host header: path rules first (a redirect keeping #{host}, three
// host rewrites), then host-header rules (values, a wildcard, regular
// expressions with and without a port, an IPv6 literal). Its default
// action is a fixed 404. It returns the listener and the ARN of a rule
// by name.
func hostListener(t *testing.T) (*routing.Listener, func(name string) string) {
	t.Helper()
	const (
		lbARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/hosts/0123456789abcdef"
		lARN  = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/hosts/0123456789abcdef/8080"
		tgARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/hosts/0123456789abcdef"
	)
	ruleARN := func(name string) string { return lARN + "/rule/" + name }
	fixed := func(body string) []elbv2types.Action {
		return []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("200"), MessageBody: aws.String(body)}}}
	}
	fwd := []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
	path := func(p string) []elbv2types.RuleCondition {
		return []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{p}}}}
	}
	hostValues := func(vs ...string) []elbv2types.RuleCondition {
		return []elbv2types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: vs}}}
	}
	hostRegex := func(rs ...string) []elbv2types.RuleCondition {
		return []elbv2types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{RegexValues: rs}}}
	}
	hostRewrite := func(re, repl string) []elbv2types.RuleTransform {
		return []elbv2types.RuleTransform{{Type: elbv2types.TransformTypeEnumHostHeaderRewrite, HostHeaderRewriteConfig: &elbv2types.HostHeaderRewriteConfig{
			Rewrites: []elbv2types.RewriteConfig{{Regex: aws.String(re), Replace: aws.String(repl)}}}}}
	}
	rules := []struct {
		name       string
		conds      []elbv2types.RuleCondition
		actions    []elbv2types.Action
		transforms []elbv2types.RuleTransform
	}{
		{"redirect", path("/redir"), []elbv2types.Action{{Type: elbv2types.ActionTypeEnumRedirect, RedirectConfig: &elbv2types.RedirectActionConfig{
			Protocol: aws.String("HTTPS"), Port: aws.String("443"), StatusCode: elbv2types.RedirectActionStatusCodeEnumHttp301}}}, nil},
		{"rewrite-name", path("/rw-name"), fwd, hostRewrite(`^(.+)\.example\.com$`, "$1.internal")},
		{"rewrite-port", path("/rw-port"), fwd, hostRewrite(`^(.+)\.example\.com:([0-9]+)$`, "$1.internal:$2")},
		{"rewrite-all", path("/rw-all"), fwd, hostRewrite(`^.*$`, "fixed.internal")},
		{"exact", hostValues("api.example.com"), fixed("exact"), nil},
		{"wildcard", hostValues("*.wild.example.com"), fixed("wildcard"), nil},
		{"regex-port", hostRegex(`^regex\.example\.com:8443$`), fixed("regex-port"), nil},
		{"regex-name", hostRegex(`^plain\.example\.com$`), fixed("regex-name"), nil},
		{"regex-ipv6", hostRegex(`^\[2001:db8::1\](:[0-9]+)?$`), fixed("regex-ipv6"), nil},
	}
	l := compileListener(t, lARN, func(tx *state.Tx) []error {
		puts := []error{
			state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lbARN, Name: "hosts", Type: "application", Scheme: "internal", State: "active",
				Zones: []state.LBZone{{ZoneName: "us-east-1a", Address: "127.77.0.1", PrivateIPv4Address: "10.0.0.10"}}}),
			state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: "hosts", TargetType: "ip", Protocol: "HTTP", ProtocolVersion: "HTTP1", Port: 8080}),
			state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: "10.0.1.5", Port: 8080, AvailabilityZone: "us-east-1a"}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: lARN, LoadBalancerARN: lbARN, Port: 8080, Protocol: "HTTP", DefaultRuleARN: lARN + "/default",
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}}),
		}
		for i, r := range rules {
			puts = append(puts, state.Put(tx, state.Rules, &state.Rule{ARN: ruleARN(r.name), ListenerARN: lARN, Priority: int32(i + 1),
				Conditions: r.conds, Actions: r.actions, Transforms: r.transforms}))
		}
		return puts
	})
	if len(l.Rules) != len(rules)+1 {
		t.Fatalf("%d rules compiled, want %d and the default", len(l.Rules)-1, len(rules))
	}
	return l, ruleARN
}

func routeHost(l *routing.Listener, proto routing.Protocol, host, target string) *routing.Decision {
	var h []byte
	if host != "" {
		h = []byte(host)
	}
	var d routing.Decision
	return l.Route("us-east-1a", &routing.Request{
		Protocol: proto, Method: []byte("GET"), Target: []byte(target), Host: h, DefaultHost: []byte("127.77.0.1"),
		Source: netip.MustParseAddr("127.0.0.1"), ContentLength: -1, Start: time.Now(),
	}, &d)
}

// TestHostConditionsSeeThePort: host-header conditions compare values
// (wildcards included) and regular expressions with the whole Host
// header, port included, as ALB does; an HTTP/2 :authority is the same.
func TestHostConditionsSeeThePort(t *testing.T) {
	l, rule := hostListener(t)
	def := l.Rules[len(l.Rules)-1].ARN
	for _, tc := range []struct {
		name   string
		proto  routing.Protocol
		host   string
		target string
		want   string // rule ARN
	}{
		{"value, no port", routing.HTTP1, "api.example.com", "/", rule("exact")},
		{"value ignores case", routing.HTTP1, "API.Example.COM", "/", rule("exact")},
		{"value against a port", routing.HTTP1, "api.example.com:9000", "/", def},
		{"value against the listener's port", routing.HTTP1, "api.example.com:8080", "/", def},
		{"value against a default port", routing.HTTP1, "api.example.com:80", "/", def},
		{"value against an empty port", routing.HTTP1, "api.example.com:", "/", def},
		{"wildcard, no port", routing.HTTP1, "a.b.wild.example.com", "/", rule("wildcard")},
		{"wildcard against a port", routing.HTTP1, "a.wild.example.com:8080", "/", def},
		{"regex naming the port", routing.HTTP1, "regex.example.com:8443", "/", rule("regex-port")},
		{"regex naming the port, other port", routing.HTTP1, "regex.example.com:8444", "/", def},
		{"regex naming the port, no port", routing.HTTP1, "regex.example.com", "/", def},
		{"anchored regex, no port", routing.HTTP1, "plain.example.com", "/", rule("regex-name")},
		{"anchored regex against a port", routing.HTTP1, "plain.example.com:1", "/", def},
		{"IPv6 literal with a port", routing.HTTP1, "[2001:db8::1]:8080", "/", rule("regex-ipv6")},
		{"IPv6 literal", routing.HTTP1, "[2001:db8::1]", "/", rule("regex-ipv6")},
		{"HTTP/2 :authority with a port", routing.HTTP2, "api.example.com:8443", "/", def},
		{"HTTP/2 :authority", routing.HTTP2, "api.example.com", "/", rule("exact")},
		{"gRPC :authority naming the port", routing.GRPC, "regex.example.com:8443", "/", rule("regex-port")},
		{"absolute-form authority with a port", routing.HTTP1, "", "http://api.example.com:8080/", def},
		{"absolute-form authority", routing.HTTP1, "", "http://api.example.com/", rule("exact")},
	} {
		d := routeHost(l, tc.proto, tc.host, tc.target)
		if d.Rule == nil || d.Rule.ARN != tc.want {
			got := "none"
			if d.Rule != nil {
				got = d.Rule.ARN
			}
			t.Errorf("%s: Host %q %s matched %s, want %s", tc.name, tc.host, tc.target, got, tc.want)
		}
	}
}

// TestRedirectHostDropsThePort: #{host} is the host of the Host header,
// without its port (the redirect's own Port follows it); an IPv6 literal
// keeps its brackets.
func TestRedirectHostDropsThePort(t *testing.T) {
	l, rule := hostListener(t)
	for _, tc := range []struct{ host, want string }{
		{"old.example.com", "https://old.example.com/redir?a=1"},
		{"old.example.com:8080", "https://old.example.com/redir?a=1"},
		{"Old.Example.com:80", "https://Old.Example.com/redir?a=1"},
		{"[2001:db8::1]:8080", "https://[2001:db8::1]/redir?a=1"},
		{"[2001:db8::1]", "https://[2001:db8::1]/redir?a=1"},
	} {
		d := routeHost(l, routing.HTTP1, tc.host, "/redir?a=1")
		if d.Rule == nil || d.Rule.ARN != rule("redirect") || d.Status != 301 || d.Location != tc.want {
			t.Errorf("Host %q: status %d Location %q, want 301 %q", tc.host, d.Status, d.Location, tc.want)
		}
	}
}

// TestHostRewriteSeesThePort: the host-header-rewrite transform's regular
// expression runs on the whole Host header, port included; without a
// match the Host goes on as the listener sends it.
func TestHostRewriteSeesThePort(t *testing.T) {
	l, _ := hostListener(t)
	for _, tc := range []struct{ path, host, want string }{
		{"/rw-name", "shop.example.com", "shop.internal"},
		// The name-only expression does not match a Host with a port: the
		// Host is sent as received.
		{"/rw-name", "shop.example.com:8080", "shop.example.com:8080"},
		{"/rw-name", "shop.example.com:9", "shop.example.com:9"},
		{"/rw-port", "shop.example.com:9", "shop.internal:9"},
		// No match and no port: the listener's port is added, as for any
		// request on a listener not on 80 or 443.
		{"/rw-port", "shop.example.com", "shop.example.com:8080"},
		{"/rw-all", "shop.example.com:9", "fixed.internal"},
	} {
		d := routeHost(l, routing.HTTP1, tc.host, tc.path)
		if d.Kind != routing.Forward || string(d.Host) != tc.want {
			t.Errorf("%s with Host %q: kind %v status %d, sends Host %q, want %q", tc.path, tc.host, d.Kind, d.Status, d.Host, tc.want)
		}
	}
}
