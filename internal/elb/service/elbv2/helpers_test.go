package elbv2_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

var ctx = context.Background()

// clock is a settable clock for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeHealth answers DescribeTargetHealth's questions to the checker.
type fakeHealth struct {
	mu sync.Mutex
	m  map[string]health.Status
}

func (f *fakeHealth) Status(tg, id string, port int32) health.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.m[id]; ok {
		return st
	}
	return health.InitialHealthChecking
}

// Group is not asked by the service.
func (f *fakeHealth) Group(string) *health.Group { return nil }

func (f *fakeHealth) set(id string, st health.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]health.Status{}
	}
	f.m[id] = st
}

// env is the ELBv2, EC2 and ACM services over the real wire, on a state
// bootstrapped with the default facts.
type env struct {
	*svctest.Env
	elb    *sdk.Client
	ec2    *ec2sdk.Client
	acm    *acmsdk.Client
	svc    *elbv2.Service
	facts  *facts.Facts
	clock  *clock
	health *fakeHealth

	public, private []string // subnet IDs, zones a, b, c
	vpc, defaultSG  string
}

type option func(*elbv2.Config)

func withLimits(l elbv2.Limits) option { return func(c *elbv2.Config) { c.Limits = l } }

func start(t *testing.T, opts ...option) *env {
	t.Helper()
	st := svctest.OpenStore(t)
	f := svctest.Bootstrap(t, st, ec2.Bootstrap, "demo")
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	fh := &fakeHealth{}
	cfg := elbv2.Config{Store: st, Now: clk.Now, Health: fh}
	for _, o := range opts {
		o(&cfg)
	}
	svc := elbv2.New(cfg)
	e := svctest.ServeStore(t, st,
		svc.API(),
		ec2.New(ec2.Config{Store: st}).API(),
		acm.New(acm.Config{Store: st}).API(),
	)
	en := &env{Env: e, elb: sdk.NewFromConfig(e.Config), ec2: ec2sdk.NewFromConfig(e.Config), acm: acmsdk.NewFromConfig(e.Config),
		svc: svc, facts: f, clock: clk, health: fh, vpc: f.VPCs[0].ID, defaultSG: f.SecurityGroups[0].ID}
	for _, sn := range f.Subnets {
		if sn.Public {
			en.public = append(en.public, sn.ID)
		} else {
			en.private = append(en.private, sn.ID)
		}
	}
	return en
}

// apiErr asserts err is an AWS error with the code.
func apiErr(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got %s: %q, want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func (e *env) alb(t *testing.T, name string, mod ...func(*sdk.CreateLoadBalancerInput)) types.LoadBalancer {
	t.Helper()
	in := &sdk.CreateLoadBalancerInput{Name: aws.String(name), Subnets: e.public[:2]}
	for _, m := range mod {
		m(in)
	}
	out, err := e.elb.CreateLoadBalancer(ctx, in)
	if err != nil {
		t.Fatalf("create load balancer %s: %v", name, err)
	}
	return out.LoadBalancers[0]
}

func (e *env) nlb(t *testing.T, name string, mod ...func(*sdk.CreateLoadBalancerInput)) types.LoadBalancer {
	t.Helper()
	return e.alb(t, name, append([]func(*sdk.CreateLoadBalancerInput){func(in *sdk.CreateLoadBalancerInput) {
		in.Type = types.LoadBalancerTypeEnumNetwork
	}}, mod...)...)
}

func (e *env) tg(t *testing.T, name string, proto types.ProtocolEnum, port int32, mod ...func(*sdk.CreateTargetGroupInput)) types.TargetGroup {
	t.Helper()
	in := &sdk.CreateTargetGroupInput{Name: aws.String(name), Protocol: proto, Port: aws.Int32(port), VpcId: aws.String(e.vpc), TargetType: types.TargetTypeEnumIp}
	for _, m := range mod {
		m(in)
	}
	out, err := e.elb.CreateTargetGroup(ctx, in)
	if err != nil {
		t.Fatalf("create target group %s: %v", name, err)
	}
	return out.TargetGroups[0]
}

func forward(tgARN *string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}
}

func fixed(code string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String(code)}}}
}

func (e *env) listener(t *testing.T, lbARN *string, proto types.ProtocolEnum, port int32, actions []types.Action, mod ...func(*sdk.CreateListenerInput)) types.Listener {
	t.Helper()
	in := &sdk.CreateListenerInput{LoadBalancerArn: lbARN, Protocol: proto, Port: aws.Int32(port), DefaultActions: actions}
	for _, m := range mod {
		m(in)
	}
	out, err := e.elb.CreateListener(ctx, in)
	if err != nil {
		t.Fatalf("create listener %s:%d: %v", proto, port, err)
	}
	return out.Listeners[0]
}

// cert requests an ACM certificate and returns its ARN.
func (e *env) cert(t *testing.T, domain string) string {
	t.Helper()
	out, err := e.acm.RequestCertificate(ctx, &acmsdk.RequestCertificateInput{DomainName: aws.String(domain)})
	if err != nil {
		t.Fatalf("request certificate: %v", err)
	}
	return *out.CertificateArn
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[*t.Key] = *t.Value
	}
	return m
}

func attrMap[T any](attrs []T, kv func(T) (*string, *string)) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		k, v := kv(a)
		m[*k] = *v
	}
	return m
}

// store returns the state the services use.
func (e *env) store() *state.Store { return e.Env.Store }

// handler builds an api.Handler for the service alone (for descriptor
// checks).
func handlerFor(t *testing.T, svc *elbv2.Service) {
	t.Helper()
	if _, err := api.NewHandler(api.Config{Region: "us-east-1", Credentials: map[string]string{"a": "b"}, Services: []api.Service{svc.API()}}); err != nil {
		t.Fatalf("handler: %v", err)
	}
}

func svctestStore(t *testing.T) *state.Store { return svctest.OpenStore(t) }

func pathIs(paths ...string) []types.RuleCondition {
	return []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: paths}}}
}
