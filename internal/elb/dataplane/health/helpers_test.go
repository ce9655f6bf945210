package health

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/pki"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Tests realise the VPC 10.0.0.0/8 on 127.0.0.0/8. Each test takes its own
// second octet N: subnets 10.N.1.0/24 (zone a) and 10.N.2.0/24 (zone b),
// load balancer nodes 10.N.0.10 (a) and 10.N.0.11 (b), targets 10.N.{1,2}.K.
// Octets start at 61, clear of the pools 127.10/16, 127.77/16, 127.78/16.
var nextNet atomic.Int32

const (
	zoneA = "us-east-1a"
	zoneB = "us-east-1b"
	arnP  = "arn:aws:elasticloadbalancing:us-east-1:000000000000:"
)

var testMap = func() vpcaddr.Map {
	m, err := vpcaddr.New(vpcaddr.Mapping{VPC: netip.MustParsePrefix("10.0.0.0/8"), Host: netip.MustParsePrefix("127.0.0.0/8")})
	if err != nil {
		panic(err)
	}
	return m
}()

// env is one test's local ELB state and checker.
type env struct {
	t        *testing.T
	n        int // second octet
	store    *state.Store
	checker  *Checker
	registry *prometheus.Registry
	history  *history
	nextPort int32
}

func newEnv(t *testing.T) *env {
	t.Helper()
	n := 60 + int(nextNet.Add(1))
	if n > 250 {
		t.Fatal("out of test networks")
	}
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, n: n, store: st, registry: prometheus.NewRegistry(), history: &history{m: map[string][]Status{}}, nextPort: 8000}
	e.checker = New(Config{Addresses: testMap, Registerer: e.registry, Workers: 8})
	e.checker.onResult = e.history.add
	e.update(func(tx *state.Tx) error {
		for _, sn := range []*state.Subnet{
			{ID: "subnet-a", AvailabilityZone: zoneA, CIDR: fmt.Sprintf("10.%d.1.0/24", n)},
			{ID: "subnet-b", AvailabilityZone: zoneB, CIDR: fmt.Sprintf("10.%d.2.0/24", n)},
		} {
			if err := state.Put(tx, state.Subnets, sn); err != nil {
				return err
			}
		}
		return nil
	})
	return e
}

// run starts the checker until the test ends.
func (e *env) run() {
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

func (e *env) update(fn func(*state.Tx) error) {
	e.t.Helper()
	if err := e.store.Update(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

// sync hands the store's current state to the checker.
func (e *env) sync() {
	e.t.Helper()
	snap, err := e.store.Snapshot()
	if err != nil {
		e.t.Fatal(err)
	}
	e.checker.Sync(snap)
}

// vpc returns the VPC address 10.N.z.k.
func (e *env) vpc(z, k int) string { return fmt.Sprintf("10.%d.%d.%d", e.n, z, k) }

// host returns the host address realising 10.N.z.k.
func (e *env) host(z, k int) string { return fmt.Sprintf("127.%d.%d.%d", e.n, z, k) }

// lb stores a load balancer of type typ with nodes in zones a and b
// (withAddrs false: nodes without private addresses) and returns its ARN.
func (e *env) lb(name, typ string, withAddrs bool) string {
	kind := map[string]string{"application": "app", "network": "net"}[typ]
	arn := arnP + "loadbalancer/" + kind + "/" + name + "/50dc6c495c0c9188"
	lb := &state.LoadBalancer{ARN: arn, Name: name, Type: typ, State: "active", Zones: []state.LBZone{
		{ZoneName: zoneA, SubnetID: "subnet-a", Address: "127.77.0.1"},
		{ZoneName: zoneB, SubnetID: "subnet-b", Address: "127.77.0.2"},
	}}
	if withAddrs {
		lb.Zones[0].PrivateIPv4Address = e.vpc(0, 10)
		lb.Zones[1].PrivateIPv4Address = e.vpc(0, 11)
	}
	e.update(func(tx *state.Tx) error { return state.Put(tx, state.LoadBalancers, lb) })
	return arn
}

// tg stores a target group (ARN derived from its name, health checks on)
// and returns its ARN.
func (e *env) tg(tg state.TargetGroup) string {
	tg.ARN = arnP + "targetgroup/" + tg.Name + "/73e2d6bc24d8a067"
	if tg.TargetType == "" {
		tg.TargetType = "ip"
	}
	e.update(func(tx *state.Tx) error { return state.Put(tx, state.TargetGroups, &tg) })
	return tg.ARN
}

// listen stores a listener of lbARN forwarding to tgARN on a new port.
func (e *env) listen(lbARN, tgARN string) int32 {
	e.nextPort++
	port := e.nextPort
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Listeners, &state.Listener{
			ARN: fmt.Sprintf("%s/listener-%d", lbARN, port), LoadBalancerARN: lbARN, Port: port, Protocol: "HTTP",
			DefaultActions: forwardTo(tgARN),
		})
	})
	return port
}

// forwardTo is a listener's forward action.
func forwardTo(tgARN string) []elbv2types.Action {
	return []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
}

func (e *env) register(tgARN, id string, port int) {
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: id, Port: int32(port), RegisteredAt: time.Now()})
	})
}

func (e *env) modifyTG(arn string, fn func(*state.TargetGroup)) {
	e.update(func(tx *state.Tx) error {
		tg, ok, err := state.Get(tx, state.TargetGroups, arn)
		if err != nil || !ok {
			return fmt.Errorf("target group %s: %v", arn, err)
		}
		fn(tg)
		return state.Put(tx, state.TargetGroups, tg)
	})
}

// history records the status after each applied check, per target.
type history struct {
	mu sync.Mutex
	m  map[string][]Status
}

func histKey(tgARN, id string, port int32) string { return fmt.Sprintf("%s %s %d", tgARN, id, port) }

func (h *history) add(tgARN, id string, port int32, s Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := histKey(tgARN, id, port)
	h.m[k] = append(h.m[k], s)
}

func (h *history) get(tgARN, id string, port int) []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Status(nil), h.m[histKey(tgARN, id, int32(port))]...)
}

// waitHistory waits (up to 20 s) until a target has n results.
func (e *env) waitHistory(tgARN, id string, port, n int) []Status {
	e.t.Helper()
	var got []Status
	eventually(e.t, 20*time.Second, func() bool {
		got = e.history.get(tgARN, id, port)
		return len(got) >= n
	}, func() string {
		return fmt.Sprintf("%s %s:%d: %d results, want %d: %v", tgARN, id, port, len(got), n, got)
	})
	return got
}

// waitStatus waits (up to 20 s) until a target's status is want.
func (e *env) waitStatus(tgARN, id string, port int, want Status) {
	e.t.Helper()
	var got Status
	eventually(e.t, 20*time.Second, func() bool {
		got = e.checker.Status(tgARN, id, int32(port))
		return got == want
	}, func() string { return fmt.Sprintf("%s %s:%d status %+v, want %+v", tgARN, id, port, got, want) })
}

// eventually polls cond every 10 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listenOn listens on host address addr, a free port.
func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func portOf(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

// action is what a scripted target does with one request.
type action struct {
	code  int  // status to answer
	slow  bool // answer only after the client gave up
	reset bool // reset the connection without answering
}

// seen is one request as a target saw it.
type seen struct {
	remote     netip.Addr
	path       string
	host       string
	userAgent  string
	protoMajor int
}

// httpTarget is a real HTTP server on loopback that follows a script: the
// n-th request (from 1) gets script[n-1], later ones the last entry.
type httpTarget struct {
	srv    *httptest.Server
	port   int
	mu     sync.Mutex
	script []action
	reqs   []seen
}

func (h *httpTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap, _ := netip.ParseAddrPort(r.RemoteAddr)
	h.mu.Lock()
	h.reqs = append(h.reqs, seen{remote: ap.Addr(), path: r.URL.RequestURI(), host: r.Host, userAgent: r.UserAgent(), protoMajor: r.ProtoMajor})
	n := len(h.reqs)
	a := h.script[min(n, len(h.script))-1]
	h.mu.Unlock()
	switch {
	case a.reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	case a.slow:
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	default:
		w.WriteHeader(a.code)
	}
}

// requests returns what the target has seen.
func (h *httpTarget) requests() []seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]seen(nil), h.reqs...)
}

func (h *httpTarget) count() int { return len(h.requests()) }

// target kinds.
const (
	plainHTTP1 = iota // HTTP/1.1 only
	plainH2C          // HTTP/1.1 and HTTP/2 with prior knowledge
	tlsHTTP1          // HTTPS, HTTP/1.1 only
	tlsH2             // HTTPS with h2
	tls13Only         // HTTPS that refuses TLS below 1.3
)

// startHTTP starts a scripted target on host address addr.
func startHTTP(t *testing.T, addr string, kind int, script ...action) *httpTarget {
	t.Helper()
	if len(script) == 0 {
		script = []action{{code: 200}}
	}
	h := &httpTarget{script: script}
	l := listenOn(t, addr)
	h.port = portOf(l)
	h.srv = httptest.NewUnstartedServer(h)
	h.srv.Listener.Close()
	h.srv.Listener = l
	h.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what some tests want
	var p http.Protocols
	p.SetHTTP1(true)
	switch kind {
	case plainHTTP1:
		h.srv.Config.Protocols = &p
		h.srv.Start()
	case plainH2C:
		p.SetUnencryptedHTTP2(true)
		h.srv.Config.Protocols = &p
		h.srv.Start()
	case tlsHTTP1:
		h.srv.StartTLS()
	case tlsH2:
		h.srv.EnableHTTP2 = true
		h.srv.StartTLS()
	case tls13Only:
		h.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
		h.srv.StartTLS()
	}
	t.Cleanup(h.srv.Close)
	return h
}

// tcpTarget accepts connections and closes them at once, recording peers.
type tcpTarget struct {
	l     net.Listener
	port  int
	mu    sync.Mutex
	peers []netip.Addr
	done  chan struct{}
}

func startTCP(t *testing.T, addr string) *tcpTarget {
	t.Helper()
	tt := &tcpTarget{l: listenOn(t, addr), done: make(chan struct{})}
	tt.port = portOf(tt.l)
	go func() {
		defer close(tt.done)
		for {
			c, err := tt.l.Accept()
			if err != nil {
				return
			}
			ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			tt.mu.Lock()
			tt.peers = append(tt.peers, ap.Addr())
			tt.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(tt.close)
	return tt
}

// close stops accepting: later connections are refused.
func (tt *tcpTarget) close() {
	tt.l.Close()
	<-tt.done
}

func (tt *tcpTarget) seenPeers() []netip.Addr {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]netip.Addr(nil), tt.peers...)
}

// selfSigned returns a throwaway certificate for TLS targets.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	c, err := pki.SelfSigned(pki.Request{Subject: pkix.Name{CommonName: "target.local"}, Hosts: []string{"target.local"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return c.TLS()
}

// fastTG is an ALB target group checked every second with a 500 ms timeout.
func fastTG(name string, healthy, unhealthy int32) state.TargetGroup {
	return state.TargetGroup{
		Name: name, Protocol: "HTTP", Port: 80, ProtocolVersion: "HTTP1",
		HealthCheckEnabled: true, HealthCheckProtocol: "HTTP", HealthCheckPath: "/health",
		HealthCheckIntervalSeconds: 1, HealthCheckTimeoutSeconds: 1,
		HealthyThresholdCount: healthy, UnhealthyThresholdCount: unhealthy, MatcherHTTPCode: "200",
	}
}
