package alb_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// TestChangesUnderLoad changes rules, targets, attributes and weights
// while 2,000 requests run over 4 kept-alive connections: none fails.
func TestChangesUnderLoad(t *testing.T) { bothLoops(t, testChangesUnderLoad) }

func testChangesUnderLoad(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	var backends []*backend
	for i := 0; i < 4; i++ {
		backends = append(backends, e.startBackend(fmt.Sprintf("T%d", i), nil))
	}
	tgA := e.targetGroup("HTTP", "HTTP1", nil)
	tgB := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tgA, backends[0].vpc, backends[1].vpc)
	e.register(tgB, backends[2].vpc)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", forward(tgA))

	const workers, total = 4, 2000
	var sent, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := client(e.clientAddr(w))
			c.Transport.(*http.Transport).MaxConnsPerHost = 1
			for sent.Add(1) <= total {
				resp, err := c.Get(base + fmt.Sprintf("/work/%d", w))
				if err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"T`) {
					failed.Add(1)
					failures.Store(fmt.Sprintf("%d %q %v", resp.StatusCode, body, err), true)
				}
			}
		}(w)
	}
	go func() {
		defer close(stop)
		for step := 0; sent.Load() < total; step++ {
			switch step % 8 {
			case 0:
				e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/work/1")}, forward(tgB))
			case 1:
				e.register(tgA, backends[3].vpc)
			case 2:
				lb.setAttrs(map[string]string{"routing.http.xff_header_processing.mode": "remove", "idle_timeout.timeout_seconds": "30"})
			case 3:
				e.deregister(tgA, time.Minute, backends[0].vpc)
			case 4:
				e.rule(l, 2, []elbv2types.RuleCondition{cond("path-pattern", "/work/*")}, []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, ForwardConfig: &elbv2types.ForwardActionConfig{
					TargetGroups: []elbv2types.TargetGroupTuple{{TargetGroupArn: aws.String(tgA), Weight: aws.Int32(3)}, {TargetGroupArn: aws.String(tgB), Weight: aws.Int32(1)}}}}})
			case 5:
				e.deregister(tgA, 0, backends[0].vpc)
				e.register(tgA, backends[0].vpc)
			case 6:
				e.update(func(tx *state.Tx) error {
					_, err := state.Delete(tx, state.Rules, fmt.Sprintf("%s/rule/%d", l, 1))
					return err
				})
				e.setTGAttrs(tgA, map[string]string{"load_balancing.algorithm.type": "least_outstanding_requests"})
			case 7:
				e.update(func(tx *state.Tx) error {
					_, err := state.Delete(tx, state.Rules, fmt.Sprintf("%s/rule/%d", l, 2))
					return err
				})
				e.deregister(tgA, 0, backends[3].vpc)
				lb.setAttrs(map[string]string{"routing.http.xff_header_processing.mode": "append"})
				e.setTGAttrs(tgA, map[string]string{"load_balancing.algorithm.type": "round_robin"})
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	wg.Wait()
	<-stop
	if n := failed.Load(); n > 0 {
		var msgs []string
		failures.Range(func(k, _ any) bool { msgs = append(msgs, k.(string)); return true })
		t.Errorf("%d of %d requests failed during changes: %v", n, total, msgs)
	}
}

// TestListenerLifecycle: a listener that goes away closes its idle
// kept-alive connections; other changes keep them; an address already in
// use is reported and bound once free; idle client connections close
// after the idle timeout.
func TestListenerLifecycle(t *testing.T) { bothLoops(t, testListenerLifecycle) }

func testListenerLifecycle(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", fixed("200", "one"))
	addr := base[len("http://"):]
	conn := dialFrom(t, e.clientAddr(0), addr)
	if got := roundTrip(t, conn, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); !strings.HasSuffix(got, "one") {
		t.Fatalf("first response %q", got)
	}
	// A rule change: the same connection carries on with the new rules.
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/*")}, fixed("200", "two"))
	if got := roundTrip(t, conn, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); !strings.HasSuffix(got, "two") {
		t.Fatalf("after a rule change %q", got)
	}
	// The listener goes: its idle connection is closed.
	e.update(func(tx *state.Tx) error {
		_, err := state.Delete(tx, state.Listeners, l)
		return err
	})
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection of a deleted listener still open (%d bytes)", n)
	}
	conn.Close()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("deleted listener still accepts connections")
	}

	// Bind failure: the port is taken; it is reported, then bound once
	// free.
	port := lb.freePort()
	taken, err := net.Listen("tcp", netip.AddrPortFrom(lb.addr, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	arn := l + "-2"
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Listeners, &state.Listener{ARN: arn, LoadBalancerARN: lb.arn, Port: port, Protocol: "HTTP", DefaultActions: fixed("200", "three")})
	})
	want := netip.AddrPortFrom(lb.addr, uint16(port)).String()
	if errs := e.plane.BindErrors(); errs[want] == "" {
		t.Errorf("bind errors %v, want one for %s", errs, want)
	}
	taken.Close()
	eventually(t, "the freed port bound", func() bool { return e.plane.BindErrors()[want] == "" })
	if code, _, body := get(t, client(e.clientAddr(0)), "GET", "http://"+want+"/", nil); code != 200 || body != "three" {
		t.Errorf("after the retry: %d %q", code, body)
	}

	// Idle timeout: an idle client connection is closed after it.
	lb.setAttrs(map[string]string{"idle_timeout.timeout_seconds": "1"})
	conn = dialFrom(t, e.clientAddr(0), want)
	defer conn.Close()
	roundTrip(t, conn, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection after the idle timeout: %v, want EOF", err)
	}
}

// TestClientKeepAlive: past client_keep_alive.seconds a connection closes
// after its next request.
func TestClientKeepAlive(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, withClock(clock))
	lb := e.newLB("internet-facing", map[string]string{"client_keep_alive.seconds": "60"})
	_, base := lb.listener("HTTP", fixed("200", "ok"))
	conn := dialFrom(t, e.clientAddr(0), base[len("http://"):])
	defer conn.Close()
	if got := roundTrip(t, conn, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); !strings.Contains(got, "Connection: keep-alive") {
		t.Errorf("fresh connection: %q", got)
	}
	clock.Advance(61 * time.Second)
	if got := roundTrip(t, conn, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); !strings.Contains(got, "Connection: close") {
		t.Errorf("after the keep-alive duration: %q", got)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection after its last request: %v, want EOF", err)
	}
}

func dialFrom(t *testing.T, src netip.Addr, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip writes a request and reads one response with a
// Content-Length body.
func roundTrip(t *testing.T, c net.Conn, req string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		s := b.String()
		if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
			m := regexp.MustCompile(`(?i)content-length: (\d+)`).FindStringSubmatch(s[:i])
			var cl int
			if m != nil {
				fmt.Sscan(m[1], &cl)
			}
			if len(s)-i-4 >= cl {
				return s
			}
		}
		if err != nil {
			t.Fatalf("reading response: %v (got %q)", err, s)
		}
	}
}

// TestAddresses: internal load balancers listen only on loopback, and
// internet-facing ones also on the public addresses.
func TestAddresses(t *testing.T) {
	t.Parallel()
	pub := netip.AddrFrom4([4]byte{127, 82, byte(testSeq.Load() % 250), 9})
	e := newEnv(t, withPublic(pub))
	internet := e.newLB("internet-facing", nil)
	_, base := internet.listener("HTTP", fixed("200", "internet"))
	port := base[strings.LastIndex(base, ":")+1:]
	if code, _, body := get(t, client(e.clientAddr(0)), "GET", "http://"+pub.String()+":"+port+"/", nil); code != 200 || body != "internet" {
		t.Errorf("internet-facing load balancer on the public address: %d %q", code, body)
	}
	e2 := newEnv(t, withPublic(pub))
	internal := e2.newLB("internal", nil)
	_, base2 := internal.listener("HTTP", fixed("200", "internal"))
	port2 := base2[strings.LastIndex(base2, ":")+1:]
	if code, _, body := get(t, client(e2.clientAddr(0)), "GET", base2+"/", nil); code != 200 || body != "internal" {
		t.Errorf("internal load balancer on its zone address: %d %q", code, body)
	}
	for _, a := range e2.plane.Addrs() {
		if a.Addr() == pub {
			t.Errorf("internal load balancer listens on the public address %s", a)
		}
	}
	if c, err := net.DialTimeout("tcp", pub.String()+":"+port2, time.Second); err == nil {
		c.Close()
		t.Errorf("internal load balancer reachable on the public address")
	}
}

// TestAccessLogAndMetrics checks an access log line field by field and the
// CloudWatch-named metrics.
func TestAccessLogAndMetrics(t *testing.T) { bothLoops(t, testAccessLogAndMetrics) }

func testAccessLogAndMetrics(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	a := e.startBackend("A", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", map[string]string{"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "my-bucket", "access_logs.s3.prefix": "team/app"})
	l, base := lb.listener("HTTP", fixed("404", "nothing"))
	e.rule(l, 7, []elbv2types.RuleCondition{cond("path-pattern", "/api/*")}, forward(tg))
	c := client(e.clientAddr(0))
	for i := 0; i < 5; i++ {
		getEcho(t, c, base+"/api/x?i=1", map[string]string{"User-Agent": "test-agent/1.0"})
	}
	get(t, c, "GET", base+"/other", nil)
	line := waitLog(t, e, "my-bucket/team/app/AWSLogs/"+account+"/elasticloadbalancing/"+region, func(l string) bool { return strings.Contains(l, "/api/x?i=1") })
	lbDim := lb.arn[strings.Index(lb.arn, "loadbalancer/")+len("loadbalancer/"):]
	re := regexp.MustCompile(`^http (\S+Z) ` + regexp.QuoteMeta(lbDim) + ` ` + regexp.QuoteMeta(e.clientAddr(0).String()) + `:\d+ ` + regexp.QuoteMeta(a.vpc.Addr().String()) + `:` + fmt.Sprint(a.vpc.Port()) +
		` [0-9.]+ [0-9.]+ [0-9.]+ 200 200 \d+ \d+ "GET http://[0-9.]+:\d+/api/x\?i=1 HTTP/1.1" "test-agent/1.0" - - ` + regexp.QuoteMeta(tg) +
		` "Root=1-[0-9a-f]{8}-[0-9a-f]{24}" "-" "-" 7 \S+Z "forward" "-" "-" "` + regexp.QuoteMeta(a.vpc.String()) + `" "200" "-" "-" -$`)
	if !re.MatchString(line) {
		t.Errorf("access log line does not have ALB's format:\n%s", line)
	}
	files := waitLog(t, e, "my-bucket", func(l string) bool { return strings.Contains(l, "/other") })
	if !strings.Contains(files, " 404 - ") || !strings.Contains(files, `"fixed-response"`) || !strings.Contains(files, " 0 ") {
		t.Errorf("fixed-response line: %s", files)
	}
	lbL, tgL := map[string]string{"load_balancer": lbDim}, map[string]string{"target_group": tg[strings.Index(tg, "targetgroup/"):]}
	if n := e.metric("elbow_alb_RequestCount", lbL); n != 6 {
		t.Errorf("RequestCount %v, want 6", n)
	}
	if n := e.metric("elbow_alb_HTTPCode_Target_2XX_Count", tgL); n != 5 {
		t.Errorf("HTTPCode_Target_2XX_Count %v, want 5", n)
	}
	if n := e.metric("elbow_alb_TargetResponseTime", tgL); n != 5 {
		t.Errorf("TargetResponseTime observations %v, want 5", n)
	}
	if n := e.metric("elbow_alb_HTTPCode_ELB_4XX_Count", lbL); n != 1 {
		t.Errorf("HTTPCode_ELB_4XX_Count %v, want 1 (the fixed 404)", n)
	}
	if n := e.metric("elbow_alb_NewConnectionCount", lbL); n < 1 {
		t.Errorf("NewConnectionCount %v", n)
	}
	if n := e.metric("elbow_alb_ProcessedBytes", lbL); n < 500 {
		t.Errorf("ProcessedBytes %v", n)
	}
	if n := e.metric("elbow_alb_HealthyHostCount", tgL); n != 1 {
		t.Errorf("HealthyHostCount %v, want 1", n)
	}
	if n := e.metric("elbow_alb_ActiveConnectionCount", lbL); n < 1 {
		t.Errorf("ActiveConnectionCount %v with a kept-alive connection open", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = ctx
}
