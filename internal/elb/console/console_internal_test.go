package console

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Without credentials the console answers loopback names only; with them,
// only browsers that give them.
func TestAccessRule(t *testing.T) {
	open := New(Config{})
	locked := New(Config{RequireAuth: true, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "s3cret"})
	for _, tc := range []struct {
		name       string
		c          *Console
		host       string
		user, pass string
		want       int
	}{
		{"loopback address", open, "127.0.0.1:9090", "", "", 200},
		{"another loopback address", open, "127.1.2.3:9090", "", "", 200},
		{"IPv6 loopback", open, "[::1]:9090", "", "", 200},
		{"localhost", open, "localhost:9090", "", "", 200},
		{"a name under localhost", open, "console.localhost", "", "", 200},
		{"another site's name (DNS rebinding)", open, "evil.example:9090", "", "", 403},
		{"a name that ends like an address", open, "127.0.0.1.nip.io:9090", "", "", 403},
		{"a LAN address", open, "192.0.2.10:9090", "", "", 403},
		{"no credentials", locked, "192.0.2.10:9090", "", "", 401},
		{"wrong secret", locked, "192.0.2.10:9090", "AKIDEXAMPLE", "guess", 401},
		{"wrong key", locked, "192.0.2.10:9090", "test", "s3cret", 401},
		{"the credentials", locked, "192.0.2.10:9090", "AKIDEXAMPLE", "s3cret", 200},
	} {
		req := httptest.NewRequest("GET", "/api/model", nil)
		req.Host = tc.host
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		w := httptest.NewRecorder()
		tc.c.Handler().ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, w.Code, tc.want, strings.TrimSpace(w.Body.String()))
		}
		if w.Code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: 401 without a Basic challenge", tc.name)
		}
		if w.Code == 200 && !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no content security policy", tc.name)
		}
	}
}

// The page and its assets are in the binary.
func TestAssetsServed(t *testing.T) {
	c := New(Config{})
	for path, want := range map[string]string{"/": "<title>elbow console</title>", "/console.js": "EventSource", "/console.css": ".state.healthy"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "127.0.0.1"
		w := httptest.NewRecorder()
		c.Handler().ServeHTTP(w, req)
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d, body without %q", path, w.Code, want)
		}
	}
}

// The sampler turns the data planes' counters into per-second rates, mean
// response times and what is active now.
func TestSamplerRates(t *testing.T) {
	reg := prometheus.NewRegistry()
	labels := []string{"load_balancer", "target_group"}
	counter := func(name string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name}, labels)
		reg.MustRegister(v)
		return v
	}
	gauge := func(name string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name}, labels)
		reg.MustRegister(v)
		return v
	}
	requests := counter("elbow_alb_RequestCount")
	elb5xx := counter("elbow_alb_HTTPCode_ELB_5XX_Count")
	target5xx := counter("elbow_alb_HTTPCode_Target_5XX_Count")
	conns := gauge("elbow_alb_ActiveConnectionCount")
	rt := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "elbow_alb_TargetResponseTime", Help: "x"}, labels)
	reg.MustRegister(rt)
	flows := counter("elbow_nlb_NewFlowCount")
	resets := counter("elbow_nlb_TCP_Target_Reset_Count")
	activeFlows := gauge("elbow_nlb_ActiveFlowCount")
	other := counter("elbow_alb_ProcessedBytes") // not shown

	const alb, tg, nlb, ntg = "app/web/1", "targetgroup/api/2", "net/tcp/3", "targetgroup/tcp/4"
	tgARN := "arn:aws:elasticloadbalancing:us-east-1:000000000000:" + tg
	inFlight := map[string]int{}
	s := newSampler(reg, []Activity{func() map[string]int { return inFlight }})

	requests.WithLabelValues(alb, tg).Add(100)
	requests.WithLabelValues(alb, "").Add(4)
	flows.WithLabelValues(nlb, ntg).Add(10)
	other.WithLabelValues(alb, "").Add(1e6)
	t0 := time.Unix(1000, 0)
	first, err := s.sample(t0)
	if err != nil {
		t.Fatal(err)
	}
	if f := first.Series["lb:"+alb]; f[figRequests] != nil {
		t.Errorf("a first reading has no rate: %v", fig(f))
	}

	requests.WithLabelValues(alb, tg).Add(20) // 10/s over 2 s
	requests.WithLabelValues(alb, "").Add(2)  // answered by the load balancer
	elb5xx.WithLabelValues(alb, "").Add(2)
	target5xx.WithLabelValues(alb, tg).Add(4)
	rt.WithLabelValues(alb, tg).Observe(0.010)
	rt.WithLabelValues(alb, tg).Observe(0.030)
	conns.WithLabelValues(alb, "").Set(7)
	flows.WithLabelValues(nlb, ntg).Add(6)
	resets.WithLabelValues(nlb, ntg).Add(2)
	activeFlows.WithLabelValues(nlb, ntg).Set(3)
	inFlight[state.TargetKey(tgARN, "10.0.0.5", 80)] = 2
	inFlight[state.TargetKey(tgARN, "10.0.0.6", 80)] = 1
	got, err := s.sample(t0.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][4]string{
		"lb:" + alb: {"11", "3", "20", "7"},
		"tg:" + tg:  {"10", "2", "20", "3"},
		"lb:" + nlb: {"3", "1", "-", "3"},
		"tg:" + ntg: {"3", "1", "-", "0"},
		"t:" + state.TargetKey(tgARN, "10.0.0.5", 80): {"-", "-", "-", "2"},
	} {
		if f := fig(got.Series[key]); f != want {
			t.Errorf("%s: %v, want %v", key, f, want)
		}
	}
	if len(got.Series) != 6 {
		t.Errorf("series %v: want the two load balancers, two target groups and two targets", keys(got.Series))
	}
}

// fig formats a series' figures, "-" for none.
func fig(f [4]*float64) [4]string {
	var out [4]string
	for i, v := range f {
		out[i] = "-"
		if v != nil {
			out[i] = strconv.FormatFloat(*v, 'f', -1, 64)
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A stream that does not keep up is ended (its browser reconnects); the
// others go on.
func TestHubEndsSlowStreams(t *testing.T) {
	h := newHub(3)
	slow, cancelSlow := h.subscribe()
	defer cancelSlow()
	fast, cancelFast := h.subscribe()
	defer cancelFast()
	for i := range streamBuffer + 1 {
		h.publish(event{"sample", []byte{byte('0' + i%10)}})
		<-fast
	}
	n := 0
	for range slow {
		n++
	}
	if n != streamBuffer {
		t.Errorf("the slow stream got %d events before it ended, want %d", n, streamBuffer)
	}
	if got := len(h.history()); got != 3 {
		t.Errorf("%d samples kept, want 3", got)
	}
	h.close()
	if _, ok := <-fast; ok {
		t.Error("a stream outlived close")
	}
	if _, ok := <-mustSubscribe(h); ok {
		t.Error("a stream opened after close")
	}
}

func mustSubscribe(h *hub) <-chan event {
	ch, _ := h.subscribe()
	return ch
}

// tryEnv is a console with one application load balancer: a listener
// with a path rule to a target group of one target, and a fixed
// default.
func tryEnv(t testing.TB) (*Console, *routes, string) {
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const p = "arn:aws:elasticloadbalancing:us-east-1:000000000000:"
	lbARN, lARN, tgARN := p+"loadbalancer/app/try/1", p+"listener/app/try/1/2", p+"targetgroup/try/3"
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		for _, put := range []func() error{
			func() error {
				return state.Put(tx, state.Subnets, &state.Subnet{ID: "subnet-a", VpcID: "vpc-1", AvailabilityZone: "us-east-1a", CIDR: "10.0.0.0/20"})
			},
			func() error {
				return state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lbARN, Name: "try", Type: "application", State: "active",
					Zones: []state.LBZone{{ZoneName: "us-east-1a", Address: "127.77.9.1"}}})
			},
			func() error {
				return state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: "try", Protocol: "HTTP", Port: 80, TargetType: "ip"})
			},
			func() error {
				return state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: "10.0.1.5", Port: 8080})
			},
			func() error {
				return state.Put(tx, state.Listeners, &state.Listener{ARN: lARN, LoadBalancerARN: lbARN, Port: 80, Protocol: "HTTP", DefaultRuleARN: lARN + "/default",
					DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}})
			},
			func() error {
				return state.Put(tx, state.Rules, &state.Rule{ARN: lARN + "/r1", ListenerARN: lARN, Priority: 1,
					Conditions: []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}},
						{Field: aws.String("source-ip"), SourceIpConfig: &elbv2types.SourceIpConditionConfig{Values: []string{"10.0.0.0/16", "127.0.0.0/8"}}}},
					Actions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}})
			},
		} {
			if err := put(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Addresses: vpcaddr.Default()})
	c.Apply(snap)
	c.refresh()
	rt := c.routes.Load()
	if rt == nil {
		t.Fatal("no routes after refresh")
	}
	return c, rt, lARN
}

// A VPC source address counts for source-ip conditions as a pod's does;
// the routing core answers.
func TestTryRoutes(t *testing.T) {
	c, rt, l := tryEnv(t)
	for _, tc := range []struct {
		source, path string
		kind         string
	}{
		{"", "/api/x", "forward"},
		{"10.0.3.4", "/api/x", "forward"},
		{"192.0.2.1", "/api/x", "respond"},
		{"", "/web", "respond"},
	} {
		res, err := c.try(rt, &TryRequest{Listener: l, Path: tc.path, Source: tc.source})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.source, tc.path, err)
		}
		if res.Kind != tc.kind {
			t.Errorf("%s %s: %s, want %s", tc.source, tc.path, res.Kind, tc.kind)
		}
		if res.Kind == "forward" && (res.Target == nil || res.Target.ID != "10.0.1.5" || res.Target.Port != 8080 || res.Rule.Priority != "1") {
			t.Errorf("%s %s: %+v", tc.source, tc.path, res)
		}
		if res.Kind == "respond" && (res.Status != 404 || res.Rule.Priority != "default") {
			t.Errorf("%s %s: %+v", tc.source, tc.path, res)
		}
	}
	if h, v, _ := c.source("10.0.3.4"); h != netip.MustParseAddr("127.10.3.4") || v != netip.MustParseAddr("10.0.3.4") {
		t.Errorf("VPC source: host %s, VPC %s", h, v)
	}
}

// Whatever a browser sends, try answers or says what is wrong; it never
// panics.
func FuzzTry(f *testing.F) {
	f.Add("GET", "www.example.com", "/api/x", "a=1", "X-Env", "beta", "127.0.0.1")
	f.Add("TRACE", "", "/", "", "Host", "h", "10.0.0.1")
	f.Add("", "old.example.com:8080", "//x", "%zz", "Cookie", "AWSALB=x", "::1")
	f.Add("POST", "[::1]:80", "/a b", "x y", "X Y", "a\r\nb", "")
	c, rt, l := tryEnv(f)
	f.Fuzz(func(t *testing.T, method, host, path, query, hname, hvalue, source string) {
		res, err := c.try(rt, &TryRequest{Listener: l, Method: method, Host: host, Path: path, Query: query,
			Headers: []TryHeader{{Name: hname, Value: hvalue}}, Source: source})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if res.Kind != "forward" && res.Kind != "respond" || res.Kind == "respond" && res.Status == 0 {
			t.Fatalf("answer %+v", res)
		}
	})
}
