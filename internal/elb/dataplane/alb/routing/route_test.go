package routing_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// TestRouteOnItsOwn compiles a snapshot with a Router of its own and asks
// which rule and target requests get, as a caller outside the data plane
// does.
func TestRouteOnItsOwn(t *testing.T) {
	const (
		lbARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef"
		lARN  = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/0123456789abcdef/1"
		tgARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/api/0123456789abcdef"
	)
	fwd := []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
	l := compileListener(t, lARN, func(tx *state.Tx) []error {
		return []error{
			state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lbARN, Name: "web", Type: "application", Scheme: "internal", State: "active",
				Zones: []state.LBZone{{ZoneName: "us-east-1a", Address: "127.77.0.1", PrivateIPv4Address: "10.0.0.10"}}}),
			state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: "api", TargetType: "ip", Protocol: "HTTP", ProtocolVersion: "HTTP1", Port: 8080}),
			state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: "10.0.1.5", Port: 8080, AvailabilityZone: "us-east-1a"}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: lARN, LoadBalancerARN: lbARN, Port: 80, Protocol: "HTTP", DefaultRuleARN: lARN + "/default",
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404"), MessageBody: aws.String("nothing here")}}}}),
			state.Put(tx, state.Rules, &state.Rule{ARN: lARN + "/rule/1", ListenerARN: lARN, Priority: 1, Actions: fwd,
				Conditions: []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/api/*"}}}}}),
			state.Put(tx, state.Rules, &state.Rule{ARN: lARN + "/rule/2", ListenerARN: lARN, Priority: 2,
				Conditions: []elbv2types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{"old.example.com"}}}},
				Actions:    []elbv2types.Action{{Type: elbv2types.ActionTypeEnumRedirect, RedirectConfig: &elbv2types.RedirectActionConfig{Host: aws.String("new.example.com"), StatusCode: elbv2types.RedirectActionStatusCodeEnumHttp301}}}}),
		}
	})
	route := func(host, target string) *routing.Decision {
		var d routing.Decision
		return l.Route("us-east-1a", &routing.Request{
			Method: []byte("GET"), Target: []byte(target), Host: []byte(host),
			Source: netip.MustParseAddr("127.0.0.1"), ContentLength: -1, Start: time.Now(),
		}, &d)
	}

	d := route("example.com", "/api/users?id=1")
	if d.Kind != routing.Forward || d.Rule == nil || d.Rule.ARN != lARN+"/rule/1" {
		t.Fatalf("/api/users: kind %v rule %+v, want forward by rule 1", d.Kind, d.Rule)
	}
	if d.Group.ARN != tgARN || d.Target == nil || d.Target.VPC != netip.MustParseAddrPort("10.0.1.5:8080") {
		t.Errorf("/api/users: group %s target %+v, want %s and 10.0.1.5:8080", d.Group.ARN, d.Target, tgARN)
	}
	if string(d.Host) != "example.com" || string(d.URI) != "/api/users?id=1" || len(d.Trace) == 0 {
		t.Errorf("/api/users: sends Host %q, target %q, trace %q", d.Host, d.URI, d.Trace)
	}

	d = route("old.example.com", "/x?y=1")
	if d.Kind != routing.Respond || d.Rule.ARN != lARN+"/rule/2" || d.Rule.Action.Kind != routing.ActionRedirect || d.Status != 301 || d.Location != "http://new.example.com/x?y=1" {
		t.Errorf("old host: kind %v status %d location %q rule %+v, want a 301 to http://new.example.com/x?y=1 by rule 2", d.Kind, d.Status, d.Location, d.Rule)
	}

	d = route("example.com", "/elsewhere")
	if d.Kind != routing.Respond || d.Rule.ARN != lARN+"/default" || d.Status != 404 || string(d.Body) != "nothing here" {
		t.Errorf("default rule: kind %v status %d body %q rule %+v, want the fixed 404", d.Kind, d.Status, d.Body, d.Rule)
	}
}

// compileListener writes the records put makes to a new state, compiles
// its snapshot with a Router of its own and returns the listener lARN.
func compileListener(t *testing.T, lARN string, put func(tx *state.Tx) []error) *routing.Listener {
	t.Helper()
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		return errors.Join(put(tx)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	l := routing.NewRouter(routing.Config{}).Compile(snap).Listeners[lARN]
	if l == nil {
		t.Fatal("listener not compiled")
	}
	return l
}
