package alb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb"
	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

const (
	zoneA   = "us-east-1a"
	zoneB   = "us-east-1b"
	account = "000000000000"
	region  = "us-east-1"
)

// testSeq gives every test its own addresses, so tests run in parallel.
var testSeq atomic.Uint32

// env is one test's local cloud: a state store, an ALB data plane
// applying it, and addresses of its own.
type env struct {
	t       *testing.T
	seq     int
	store   *state.Store
	plane   *alb.Plane
	checker *health.Checker
	reg     *prometheus.Registry
	addrs   vpcaddr.Map
	logDir  string
	nextIP  int
	nextTG  int
}

type envOption func(*env, *alb.Config)

// fakeClock is a settable clock for slow start and keep-alive durations.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// withClock gives the plane a clock the test moves.
func withClock(c *fakeClock) envOption {
	return func(_ *env, cfg *alb.Config) { cfg.Now = c.Now }
}

// withGoroutines serves every connection with a goroutine instead of the
// event loops.
func withGoroutines() envOption {
	return func(_ *env, cfg *alb.Config) { cfg.GoroutinePerConnection = true }
}

// bothLoops runs a test against the event loops and against the
// goroutine-per-connection loop.
func bothLoops(t *testing.T, f func(t *testing.T, opts ...envOption)) {
	for _, c := range []struct {
		name string
		opts []envOption
	}{{"eventloop", nil}, {"goroutines", []envOption{withGoroutines()}}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f(t, c.opts...)
		})
	}
}

// withPublic makes internet-facing load balancers also listen on addrs.
func withPublic(addrs ...netip.Addr) envOption {
	return func(_ *env, cfg *alb.Config) { cfg.PublicAddrs = addrs }
}

// withChecker runs the shared health checker on the test's state; without
// it every registered target that is not draining counts as healthy.
func withChecker() envOption {
	return func(e *env, c *alb.Config) {
		e.checker = health.New(health.Config{Addresses: e.addrs, Logger: c.Logger})
		c.Health = e.checker
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			e.checker.Run(ctx)
			close(done)
		}()
		e.t.Cleanup(func() {
			cancel()
			<-done
		})
	}
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	seq := int(testSeq.Add(1))
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, seq: seq, store: st, reg: prometheus.NewRegistry(), addrs: vpcaddr.Default(), logDir: t.TempDir()}
	level := slog.LevelWarn
	if os.Getenv("ALB_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	cfg := alb.Config{
		Addresses:    e.addrs,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Registerer:   e.reg,
		AccessLogDir: e.logDir,
	}
	for _, o := range opts {
		o(e, &cfg)
	}
	e.plane = alb.New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.plane.Close(ctx); err != nil {
			t.Errorf("close plane: %v", err)
		}
	})
	e.update(func(tx *state.Tx) error {
		for _, sn := range []struct{ id, zone, cidr string }{
			{"subnet-pa", zoneA, "10.0.0.0/20"}, {"subnet-pb", zoneB, "10.0.16.0/20"},
			{"subnet-ia", zoneA, "10.0.128.0/19"}, {"subnet-ib", zoneB, "10.0.160.0/19"},
		} {
			if err := state.Put(tx, state.Subnets, &state.Subnet{ID: sn.id, VpcID: "vpc-1", AvailabilityZone: sn.zone, CIDR: sn.cidr, State: "available"}); err != nil {
				return err
			}
		}
		return nil
	})
	return e
}

// update writes to the state and applies the new snapshot.
func (e *env) update(fn func(tx *state.Tx) error) {
	e.t.Helper()
	if err := e.store.Update(context.Background(), fn); err != nil {
		e.t.Fatalf("state update: %v", err)
	}
	snap, err := e.store.Snapshot()
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	if e.checker != nil {
		e.checker.Sync(snap)
	}
	e.plane.Apply(snap)
}

// targetIP hands out the test's next target VPC address (zone a's private
// subnet, 10.0.136.0/21 onwards; other packages' tests use other parts).
func (e *env) targetIP() netip.Addr {
	e.nextIP++
	n := e.seq*16 + e.nextIP
	return netip.AddrFrom4([4]byte{10, 0, byte(136 + n/250%24), byte(1 + n%250)})
}

// clientAddr is a loopback source address of the test's own.
func (e *env) clientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 56, byte(e.seq % 250), byte(1 + i)})
}

// lbFixture is a load balancer of the test.
type lbFixture struct {
	e    *env
	arn  string
	addr netip.Addr // zone a's listen address
	node netip.Addr // zone a's node VPC address
}

// newLB creates an application load balancer with one zone.
func (e *env) newLB(scheme string, attrs map[string]string, sgs ...string) *lbFixture {
	e.t.Helper()
	name := fmt.Sprintf("lb%d", e.seq)
	lb := &lbFixture{
		e:    e,
		arn:  fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%016x", region, account, name, e.seq),
		addr: netip.AddrFrom4([4]byte{127, 81, byte(e.seq / 250), byte(1 + e.seq%250)}),
		node: netip.AddrFrom4([4]byte{10, 0, byte(e.seq / 250), byte(4 + e.seq%250)}),
	}
	all := map[string]string{"idle_timeout.timeout_seconds": "60"}
	for k, v := range attrs {
		all[k] = v
	}
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.LoadBalancers, &state.LoadBalancer{
			ARN: lb.arn, Name: name, Type: "application", Scheme: scheme, State: "active",
			IPAddressType: "ipv4", VpcID: "vpc-1",
			Zones:                 []state.LBZone{{ZoneName: zoneA, SubnetID: "subnet-pa", Address: lb.addr.String(), PrivateIPv4Address: lb.node.String()}},
			SecurityGroups:        sgs,
			SecurityGroupsEnabled: true,
			Attributes:            all,
		})
	})
	return lb
}

// setAttrs replaces attributes of the load balancer.
func (lb *lbFixture) setAttrs(attrs map[string]string) {
	lb.e.update(func(tx *state.Tx) error {
		rec, _, err := state.Get(tx, state.LoadBalancers, lb.arn)
		if err != nil {
			return err
		}
		for k, v := range attrs {
			rec.Attributes[k] = v
		}
		return state.Put(tx, state.LoadBalancers, rec)
	})
}

// freePort returns a port free on the load balancer's address.
func (lb *lbFixture) freePort() int32 {
	lb.e.t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(lb.addr, 0).String())
	if err != nil {
		lb.e.t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// listener creates a listener and returns its ARN and URL base.
func (lb *lbFixture) listener(protocol string, defaultActions []elbv2types.Action, mod ...func(*state.Listener)) (arn, base string) {
	lb.e.t.Helper()
	port := lb.freePort()
	arn = fmt.Sprintf("%s/listener/%d", strings.Replace(lb.arn, ":loadbalancer/", ":listener/", 1), port)
	l := &state.Listener{
		ARN: arn, LoadBalancerARN: lb.arn, Port: port, Protocol: protocol,
		DefaultActions: defaultActions, DefaultRuleARN: arn + "/default",
		Attributes: map[string]string{},
	}
	for _, m := range mod {
		m(l)
	}
	lb.e.update(func(tx *state.Tx) error { return state.Put(tx, state.Listeners, l) })
	scheme := strings.ToLower(protocol)
	return arn, fmt.Sprintf("%s://%s", scheme, netip.AddrPortFrom(lb.addr, uint16(port)))
}

// rule adds a rule to a listener.
func (e *env) rule(listenerARN string, priority int32, conds []elbv2types.RuleCondition, actions []elbv2types.Action, transforms ...elbv2types.RuleTransform) string {
	e.t.Helper()
	arn := fmt.Sprintf("%s/rule/%d", listenerARN, priority)
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Rules, &state.Rule{ARN: arn, ListenerARN: listenerARN, Priority: priority, Conditions: conds, Actions: actions, Transforms: transforms})
	})
	return arn
}

// targetGroup creates a target group and returns its ARN.
func (e *env) targetGroup(protocol, version string, attrs map[string]string) string {
	e.t.Helper()
	e.nextTG++
	name := fmt.Sprintf("tg%d-%d", e.seq, e.nextTG)
	arn := fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%016x", region, account, name, e.seq*100+e.nextTG)
	a := map[string]string{}
	for k, v := range attrs {
		a[k] = v
	}
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.TargetGroups, &state.TargetGroup{
			ARN: arn, Name: name, TargetType: "ip", Protocol: protocol, ProtocolVersion: version, Port: 80, VpcID: "vpc-1",
			HealthCheckEnabled: true, HealthCheckProtocol: protocol, HealthCheckPort: "traffic-port", HealthCheckPath: "/health",
			HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2,
			MatcherHTTPCode: "200", Attributes: a,
		})
	})
	return arn
}

// setTGAttrs changes attributes of a target group.
func (e *env) setTGAttrs(arn string, attrs map[string]string) {
	e.update(func(tx *state.Tx) error {
		rec, _, err := state.Get(tx, state.TargetGroups, arn)
		if err != nil {
			return err
		}
		for k, v := range attrs {
			rec.Attributes[k] = v
		}
		return state.Put(tx, state.TargetGroups, rec)
	})
}

// register registers targets (VPC address and port).
func (e *env) register(tgARN string, targets ...netip.AddrPort) {
	e.update(func(tx *state.Tx) error {
		for _, t := range targets {
			if err := state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: t.Addr().String(), Port: int32(t.Port()), RegisteredAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
}

// deregister marks targets draining (drainFor > 0) or removes them.
func (e *env) deregister(tgARN string, drainFor time.Duration, targets ...netip.AddrPort) {
	e.update(func(tx *state.Tx) error {
		for _, t := range targets {
			key := state.TargetKey(tgARN, t.Addr().String(), int32(t.Port()))
			if drainFor == 0 {
				if _, err := state.Delete(tx, state.Targets, key); err != nil {
					return err
				}
				continue
			}
			rec, _, err := state.Get(tx, state.Targets, key)
			if err != nil {
				return err
			}
			rec.DrainUntil = time.Now().Add(drainFor)
			if err := state.Put(tx, state.Targets, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

func forward(tgARN string) []elbv2types.Action {
	return []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
}

func fixed(code, body string) []elbv2types.Action {
	return []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{
		StatusCode: aws.String(code), ContentType: aws.String("text/plain"), MessageBody: aws.String(body)}}}
}

func cond(field string, values ...string) elbv2types.RuleCondition {
	c := elbv2types.RuleCondition{Field: aws.String(field)}
	switch field {
	case "host-header":
		c.HostHeaderConfig = &elbv2types.HostHeaderConditionConfig{Values: values}
	case "path-pattern":
		c.PathPatternConfig = &elbv2types.PathPatternConditionConfig{Values: values}
	case "http-request-method":
		c.HttpRequestMethodConfig = &elbv2types.HttpRequestMethodConditionConfig{Values: values}
	case "source-ip":
		c.SourceIpConfig = &elbv2types.SourceIpConditionConfig{Values: values}
	}
	return c
}

// echo is what the test backends answer: the request as they saw it.
type echo struct {
	ID      string              `json:"id"`
	Method  string              `json:"method"`
	Host    string              `json:"host"`
	URI     string              `json:"uri"`
	Proto   string              `json:"proto"`
	Remote  string              `json:"remote"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// backend is a test target: an HTTP server on the host address of a VPC
// address, answering with an echo of the request (or its handler).
type backend struct {
	vpc      netip.AddrPort
	srv      *http.Server
	requests atomic.Int64
}

// startBackend starts a target at the next VPC address of the test.
func (e *env) startBackend(id string, h http.HandlerFunc) *backend {
	e.t.Helper()
	vpc := e.targetIP()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(e.addrs.ToHost(vpc), 0).String())
	if err != nil {
		e.t.Fatal(err)
	}
	b := &backend{vpc: netip.AddrPortFrom(vpc, uint16(ln.Addr().(*net.TCPAddr).Port))}
	if h == nil {
		h = echoHandler(id)
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			b.requests.Add(1)
		}
		h(w, r)
	})}
	go b.srv.Serve(ln)
	e.t.Cleanup(func() { b.srv.Close() })
	return b
}

func echoHandler(id string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echo{ID: id, Method: r.Method, Host: r.Host, URI: r.RequestURI, Proto: r.Proto, Remote: r.RemoteAddr, Headers: r.Header, Body: string(body)})
	}
}

// client returns an HTTP client that dials from a source address.
func client(src netip.Addr) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, DisableCompression: true, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 20 * time.Second,
	}
}

// get sends a request and returns status, headers and body.
func get(t *testing.T, c *http.Client, method, url string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// getEcho sends a request that must reach a backend and decodes its echo.
func getEcho(t *testing.T, c *http.Client, url string, hdr map[string]string) echo {
	t.Helper()
	code, _, body := get(t, c, "GET", url, hdr)
	if code != 200 {
		t.Fatalf("GET %s: status %d, body %q", url, code, body)
	}
	var ec echo
	if err := json.Unmarshal([]byte(body), &ec); err != nil {
		t.Fatalf("GET %s: not an echo: %q", url, body)
	}
	return ec
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter returns a metric's value for labels.
func (e *env) metric(name string, labels map[string]string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			case m.Histogram != nil:
				total += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return total
}

// decodeID returns the backend id of an echo body.
func decodeID(t *testing.T, body string) string {
	t.Helper()
	var ec echo
	if err := json.Unmarshal([]byte(body), &ec); err != nil {
		t.Fatalf("not an echo: %q", body)
	}
	return ec.ID
}
