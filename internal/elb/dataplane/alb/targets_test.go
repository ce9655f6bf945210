package alb_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
)

// healthToggle is a backend whose /health answers 200 or 500.
func (e *env) healthToggle(id string, healthy *atomic.Bool) *backend {
	echoH := echoHandler(id)
	return e.startBackend(id, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			if healthy.Load() {
				w.WriteHeader(200)
			} else {
				w.WriteHeader(500)
			}
			return
		}
		echoH(w, r)
	})
}

func (e *env) waitState(tg string, b *backend, state string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := e.checker.Status(tg, b.vpc.Addr().String(), int32(b.vpc.Port()))
		if st.State == state {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("target %s is %s (%s), waited for %s", b.vpc, st.State, st.Reason, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHealth: an unhealthy target gets no traffic; when every target is
// unhealthy the load balancer routes to all of them (fail open).
func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withChecker())
	var okH, okU atomic.Bool
	okH.Store(true)
	h := e.healthToggle("H", &okH)
	u := e.healthToggle("U", &okU)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, h.vpc, u.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	e.waitState(tg, h, health.StateHealthy)
	e.waitState(tg, u, health.StateUnhealthy)
	c := client(e.clientAddr(0))
	for i := 0; i < 20; i++ {
		if id := getEcho(t, c, base+"/", nil).ID; id != "H" {
			t.Fatalf("request %d went to the unhealthy target %s", i, id)
		}
	}
	eventually(t, "HealthyHostCount 1 and UnHealthyHostCount 1", func() bool {
		return e.metric("elbow_alb_HealthyHostCount", nil) == 1 && e.metric("elbow_alb_UnHealthyHostCount", nil) == 1
	})
	okH.Store(false)
	e.waitState(tg, h, health.StateUnhealthy)
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		seen[getEcho(t, c, base+"/", nil).ID]++
	}
	if seen["H"] == 0 || seen["U"] == 0 {
		t.Errorf("all targets unhealthy: requests went to %v, want both (fail open)", seen)
	}
	okU.Store(true)
	e.waitState(tg, u, health.StateHealthy)
	for i := 0; i < 20; i++ {
		if id := getEcho(t, c, base+"/", nil).ID; id != "U" {
			t.Fatalf("after recovery request %d went to %s", i, id)
		}
	}
}

// TestDraining: a deregistered target finishes its request in flight and
// gets no new one.
func TestDraining(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slowEcho := echoHandler("D")
	d := e.startBackend("D", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		slowEcho(w, r)
	})
	k := e.startBackend("K", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, d.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	done := make(chan echo, 1)
	go func() {
		done <- getEcho(t, client(e.clientAddr(1)), base+"/slow", nil)
	}()
	<-started
	e.register(tg, k.vpc)
	e.deregister(tg, time.Minute, d.vpc)
	c := client(e.clientAddr(0))
	for i := 0; i < 20; i++ {
		if id := getEcho(t, c, base+"/", nil).ID; id != "K" {
			t.Fatalf("request %d went to the draining target", i)
		}
	}
	close(release)
	if got := <-done; got.ID != "D" || got.URI != "/slow" {
		t.Errorf("in-flight request on the draining target: %+v", got)
	}
	// Once the draining target is gone from the state, the group has
	// only K; with no target at all the load balancer answers 503.
	e.deregister(tg, 0, d.vpc, k.vpc)
	if code, _, body := get(t, c, "GET", base+"/", nil); code != 503 || !strings.Contains(body, "503 Service Temporarily Unavailable") {
		t.Errorf("no registered targets: %d %q", code, body)
	}
}

func TestLBCookieStickiness(t *testing.T) { bothLoops(t, testLBCookieStickiness) }

func testLBCookieStickiness(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	a := e.startBackend("A", nil)
	b := e.startBackend("B", nil)
	tg := e.targetGroup("HTTP", "HTTP1", map[string]string{"stickiness.enabled": "true", "stickiness.type": "lb_cookie", "stickiness.lb_cookie.duration_seconds": "120"})
	e.register(tg, a.vpc, b.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	c := client(e.clientAddr(0))
	resp, err := c.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var v string
	for _, ck := range resp.Cookies() {
		if ck.Name == "AWSALB" {
			v = ck.Value
			if d := time.Until(ck.Expires); d < 100*time.Second || d > 130*time.Second {
				t.Errorf("AWSALB expires in %s, want about 120 s", d)
			}
		}
	}
	if v == "" || !strings.Contains(strings.Join(resp.Header["Set-Cookie"], "\n"), "AWSALBCORS=") {
		t.Fatalf("no AWSALB/AWSALBCORS cookies: %q", resp.Header["Set-Cookie"])
	}
	first := getEcho(t, c, base+"/", map[string]string{"Cookie": "AWSALB=" + v}).ID
	for i := 0; i < 20; i++ {
		if id := getEcho(t, c, base+"/", map[string]string{"Cookie": "other=1; AWSALB=" + v}).ID; id != first {
			t.Fatalf("sticky request %d went to %s, not %s", i, id, first)
		}
	}
	// Without the cookie (or with a forged one) round robin applies.
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		seen[getEcho(t, c, base+"/", map[string]string{"Cookie": "AWSALB=forged." + v[strings.Index(v, ".")+1:]}).ID]++
	}
	if seen["A"] == 0 || seen["B"] == 0 {
		t.Errorf("forged cookie kept the client on one target: %v", seen)
	}
}

func TestAppCookieStickiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := func(id string) *backend {
		echoH := echoHandler(id)
		return e.startBackend(id, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: id})
			}
			echoH(w, r)
		})
	}
	a, b := set("A"), set("B")
	tg := e.targetGroup("HTTP", "HTTP1", map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "SESSION"})
	e.register(tg, a.vpc, b.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	c := client(e.clientAddr(0))
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var app, session string
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case "AWSALBAPP-0":
			app = ck.Value
		case "SESSION":
			session = ck.Value
		}
	}
	if app == "" || session == "" {
		t.Fatalf("cookies after login: %q", resp.Header["Set-Cookie"])
	}
	for i := 0; i < 20; i++ {
		if id := getEcho(t, c, base+"/", map[string]string{"Cookie": "SESSION=" + session + "; AWSALBAPP-0=" + app}).ID; id != session {
			t.Fatalf("app-cookie sticky request %d went to %s, session of %s", i, id, session)
		}
	}
	// Responses that do not set the application cookie set no AWSALBAPP.
	if _, h, _ := get(t, c, "GET", base+"/", nil); strings.Contains(strings.Join(h["Set-Cookie"], ""), "AWSALBAPP") {
		t.Errorf("AWSALBAPP set without the application cookie: %q", h["Set-Cookie"])
	}
}

func TestAlgorithms(t *testing.T) { bothLoops(t, testAlgorithms) }

func testAlgorithms(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	slowEcho := echoHandler("S")
	s := e.startBackend("S", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			started <- struct{}{}
			<-release
		}
		slowEcho(w, r)
	})
	f := e.startBackend("F", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			w.WriteHeader(409) // not the held target: the caller retries
			return
		}
		echoHandler("F")(w, r)
	})
	tg := e.targetGroup("HTTP", "HTTP1", map[string]string{"load_balancing.algorithm.type": "least_outstanding_requests"})
	e.register(tg, s.vpc, f.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	// Hold one request on S.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hc := client(e.clientAddr(1))
		for {
			code, _, _ := get(t, hc, "GET", base+"/hold", nil)
			if code != 409 {
				return
			}
		}
	}()
	<-started
	c := client(e.clientAddr(0))
	for i := 0; i < 20; i++ {
		if id := getEcho(t, c, base+"/", nil).ID; id != "F" {
			t.Fatalf("least outstanding requests: request %d went to %s, which has one in flight", i, id)
		}
	}
	close(release)
	wg.Wait()

	// weighted_random without automatic weights: about even.
	e.setTGAttrs(tg, map[string]string{"load_balancing.algorithm.type": "weighted_random"})
	seen := map[string]int{}
	for i := 0; i < 400; i++ {
		seen[getEcho(t, c, base+"/", nil).ID]++
	}
	// Binomial(400, 0.5): standard deviation 10; allow 5 of them.
	if seen["S"] < 150 || seen["F"] < 150 {
		t.Errorf("weighted_random over two targets: %v", seen)
	}
	// round_robin alternates exactly.
	e.setTGAttrs(tg, map[string]string{"load_balancing.algorithm.type": "round_robin"})
	prev := ""
	for i := 0; i < 20; i++ {
		id := getEcho(t, c, base+"/", nil).ID
		if id == prev {
			t.Fatalf("round robin sent two requests in a row to %s", id)
		}
		prev = id
	}
}

// TestSlowStart: a target added to a group with slow start gets a small
// share of requests until its slow start period has passed.
func TestSlowStart(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, withClock(clock))
	a := e.startBackend("A", nil)
	b := e.startBackend("B", nil)
	tg := e.targetGroup("HTTP", "HTTP1", map[string]string{"slow_start.duration_seconds": "100"})
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	c := client(e.clientAddr(0))
	getEcho(t, c, base+"/", nil)
	clock.Advance(200 * time.Second) // A is out of slow start
	getEcho(t, c, base+"/", nil)
	e.register(tg, b.vpc)
	count := func(n int) int {
		nb := 0
		for i := 0; i < n; i++ {
			if getEcho(t, c, base+"/", nil).ID == "B" {
				nb++
			}
		}
		return nb
	}
	// Just added: B's share starts near zero (1%).
	if nb := count(300); nb > 30 {
		t.Errorf("new target in slow start got %d of 300 requests", nb)
	}
	clock.Advance(50 * time.Second) // halfway: about a third of requests
	if nb := count(300); nb < 40 || nb > 160 {
		t.Errorf("halfway through slow start the new target got %d of 300 requests", nb)
	}
	clock.Advance(60 * time.Second) // past slow start: round robin
	if nb := count(300); nb < 140 || nb > 160 {
		t.Errorf("after slow start the new target got %d of 300 requests, want half", nb)
	}
}
