package health

import (
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// An ALB target follows the thresholds exactly: one success makes a new
// target healthy, UnhealthyThresholdCount failures make it unhealthy (with
// the reason of the last failure), HealthyThresholdCount successes bring
// it back; wrong codes, timeouts, resets and refusals each give their
// reason code.
func TestALBStatesFollowThresholds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("web", "application", true)
	tg := e.tg(fastTG("web", 3, 2))
	e.listen(lb, tg)
	target := startHTTP(t, e.host(1, 5), plainHTTP1,
		action{code: 503}, action{code: 503}, // initial, then unhealthy
		action{code: 200}, action{code: 200}, action{code: 200}, // healthy on the third
		action{slow: true}, action{slow: true}, // unhealthy: timeout
		action{reset: true},                                     // reason follows the last failure
		action{code: 200}, action{code: 200}, action{code: 200}, // healthy again
	)
	id := e.vpc(1, 5)

	if got := e.checker.Status(tg, id, int32(target.port)); got != RegistrationInProgress {
		t.Fatalf("before Sync: %+v, want %+v", got, RegistrationInProgress)
	}
	e.register(tg, id, target.port)
	e.sync()
	if got := e.checker.Status(tg, id, int32(target.port)); got != InitialHealthChecking {
		t.Fatalf("after Sync, before any check: %+v, want %+v", got, InitialHealthChecking)
	}
	e.run()

	got := e.waitHistory(tg, id, target.port, 11)[:11]
	mismatch := ResponseCodeMismatch(503)
	want := []Status{
		InitialHealthChecking, mismatch,
		mismatch, mismatch, Healthy,
		Healthy, TimedOut,
		FailedHealthChecks,
		FailedHealthChecks, FailedHealthChecks, Healthy,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("statuses after each check:\n got %v\nwant %v", got, want)
	}
	if mismatch.Description != "Health checks failed with these codes: [503]" {
		t.Errorf("mismatch description = %q", mismatch.Description)
	}

	// A target that stops listening is refused: unhealthy after two checks.
	target.srv.Close()
	e.waitStatus(tg, id, target.port, FailedHealthChecks)
	got = e.history.get(tg, id, target.port)
	if i := slices.Index(got[11:], FailedHealthChecks); i != 1 {
		t.Errorf("after the target closed: %v; want healthy once, then unhealthy", got[11:])
	}

	for _, r := range target.requests() {
		if r.path != "/health" || r.userAgent != UserAgent || r.protoMajor != 1 {
			t.Errorf("check request %+v, want GET /health over HTTP/1.1 from %s", r, UserAgent)
		}
		if want := id + ":" + itoa(target.port); r.host != want {
			t.Errorf("Host %q, want the target's address %q", r.host, want)
		}
	}
}

// An NLB target needs HealthyThresholdCount successes to leave initial;
// NLB reports every failure as Target.FailedHealthChecks, even a wrong HTTP
// code; the default NLB matcher is 200-399; HTTP checks carry the load
// balancer node's address and the listener port as Host.
func TestNLBStatesFollowThresholds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("net", "network", true)

	tcpTG := e.tg(state.TargetGroup{Name: "tcp", Protocol: "TCP", Port: 80, HealthCheckEnabled: true, HealthCheckProtocol: "TCP",
		HealthCheckIntervalSeconds: 1, HealthCheckTimeoutSeconds: 1, HealthyThresholdCount: 3, UnhealthyThresholdCount: 2})
	e.listen(lb, tcpTG)
	tcp := startTCP(t, e.host(1, 6))
	tcpID := e.vpc(1, 6)
	e.register(tcpTG, tcpID, tcp.port)

	httpTG := e.tg(state.TargetGroup{Name: "http", Protocol: "TCP", Port: 80, HealthCheckEnabled: true, HealthCheckProtocol: "HTTP",
		HealthCheckPath: "/ping", HealthCheckIntervalSeconds: 1, HealthCheckTimeoutSeconds: 1, HealthyThresholdCount: 3, UnhealthyThresholdCount: 2})
	lport := e.listen(lb, httpTG)
	web := startHTTP(t, e.host(1, 7), plainHTTP1, action{code: 302}, action{code: 302}, action{code: 302}, action{code: 503})
	webID := e.vpc(1, 7)
	e.register(httpTG, webID, web.port)

	e.sync()
	e.run()

	got := e.waitHistory(tcpTG, tcpID, tcp.port, 3)[:3]
	if want := []Status{InitialHealthChecking, InitialHealthChecking, Healthy}; !slices.Equal(got, want) {
		t.Errorf("TCP target: %v, want %v", got, want)
	}
	tcp.close()
	e.waitStatus(tcpTG, tcpID, tcp.port, FailedHealthChecks)

	got = e.waitHistory(httpTG, webID, web.port, 5)[:5]
	if want := []Status{InitialHealthChecking, InitialHealthChecking, Healthy, Healthy, FailedHealthChecks}; !slices.Equal(got, want) {
		t.Errorf("HTTP target behind an NLB: %v, want %v", got, want)
	}
	for _, r := range web.requests() {
		if want := e.vpc(0, 10) + ":" + itoa(int(lport)); r.host != want {
			t.Errorf("NLB check Host %q, want the node address and listener port %q", r.host, want)
		}
	}
}

// The HttpCode matcher accepts single codes, lists and ranges.
func TestHTTPCodeMatcher(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("codes", "application", true)
	cases := []struct {
		matcher string
		code    int
		want    Status
	}{
		{"200", 200, Healthy},
		{"200,202", 202, Healthy},
		{"200-299", 204, Healthy},
		{"200-299,404", 404, Healthy},
		{"200", 202, ResponseCodeMismatch(202)},
		{"200,202", 201, ResponseCodeMismatch(201)},
		{"200-299", 301, ResponseCodeMismatch(301)},
	}
	type target struct {
		tg   string
		srv  *httpTarget
		id   string
		want Status
	}
	var targets []target
	for i, c := range cases {
		spec := fastTG("codes-"+itoa(i), 2, 2)
		spec.MatcherHTTPCode = c.matcher
		tg := e.tg(spec)
		e.listen(lb, tg)
		srv := startHTTP(t, e.host(1, 20+i), plainHTTP1, action{code: c.code})
		e.register(tg, e.vpc(1, 20+i), srv.port)
		targets = append(targets, target{tg, srv, e.vpc(1, 20+i), c.want})
	}
	e.sync()
	e.run()
	for i, tt := range targets {
		t.Run(cases[i].matcher+"/"+itoa(cases[i].code), func(t *testing.T) {
			e.waitStatus(tt.tg, tt.id, tt.srv.port, tt.want)
		})
	}
}

// Target groups with protocol version HTTP2 check over HTTP/2 (prior
// knowledge in clear text, ALPN h2 over TLS); a target that speaks only
// HTTP/1.1 fails them. HTTPS checks do not verify the certificate, and a
// target that accepts only TLS 1.3 fails them.
func TestHTTP2AndHTTPS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("h2", "application", true)
	cases := []struct {
		name      string
		protocol  string // health check protocol
		version   string
		kind      int
		want      Status
		wantProto int
	}{
		{"h2c", "HTTP", "HTTP2", plainH2C, Healthy, 2},
		{"h2 over TLS", "HTTPS", "HTTP2", tlsH2, Healthy, 2},
		{"HTTPS self-signed", "HTTPS", "HTTP1", tlsHTTP1, Healthy, 1},
		{"HTTP2 check, HTTP/1.1-only target", "HTTP", "HTTP2", plainHTTP1, FailedHealthChecks, 0},
		{"HTTP2 check, TLS target without h2", "HTTPS", "HTTP2", tlsHTTP1, FailedHealthChecks, 0},
		{"TLS 1.3-only target", "HTTPS", "HTTP1", tls13Only, FailedHealthChecks, 0},
	}
	type target struct {
		tg  string
		srv *httpTarget
		id  string
	}
	var targets []target
	for i, c := range cases {
		spec := fastTG("h2-"+itoa(i), 2, 2)
		spec.HealthCheckProtocol, spec.ProtocolVersion = c.protocol, c.version
		tg := e.tg(spec)
		e.listen(lb, tg)
		srv := startHTTP(t, e.host(1, 30+i), c.kind)
		e.register(tg, e.vpc(1, 30+i), srv.port)
		targets = append(targets, target{tg, srv, e.vpc(1, 30+i)})
	}
	e.sync()
	e.run()
	for i, tt := range targets {
		t.Run(cases[i].name, func(t *testing.T) {
			e.waitStatus(tt.tg, tt.id, tt.srv.port, cases[i].want)
			for _, r := range tt.srv.requests() {
				if cases[i].wantProto != 0 && r.protoMajor != cases[i].wantProto {
					t.Errorf("check arrived over HTTP/%d, want HTTP/%d", r.protoMajor, cases[i].wantProto)
				}
			}
			if cases[i].want == Healthy && tt.srv.count() == 0 {
				t.Error("healthy without a request reaching the target")
			}
		})
	}
}

// Checks come from the load balancer's address: the mapped private address
// of its node in the target's zone; without node addresses the kernel
// chooses the source.
func TestChecksComeFromTheLoadBalancer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("src", "application", true)
	tg := e.tg(fastTG("src", 2, 2))
	e.listen(lb, tg)
	inA := startHTTP(t, e.host(1, 40), plainHTTP1)
	inB := startHTTP(t, e.host(2, 40), plainHTTP1)
	e.register(tg, e.vpc(1, 40), inA.port)
	e.register(tg, e.vpc(2, 40), inB.port)

	bare := e.lb("bare", "network", false)
	tcpTG := e.tg(state.TargetGroup{Name: "bare", Protocol: "TCP", Port: 80, HealthCheckEnabled: true, HealthCheckProtocol: "TCP",
		HealthCheckIntervalSeconds: 1, HealthCheckTimeoutSeconds: 1, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2})
	e.listen(bare, tcpTG)
	tcp := startTCP(t, e.host(2, 41))
	e.register(tcpTG, e.vpc(2, 41), tcp.port)

	e.sync()
	e.run()
	e.waitStatus(tg, e.vpc(1, 40), inA.port, Healthy)
	e.waitStatus(tg, e.vpc(2, 40), inB.port, Healthy)
	e.waitStatus(tcpTG, e.vpc(2, 41), tcp.port, Healthy)
	for _, c := range []struct {
		srv  *httpTarget
		want string
	}{{inA, e.host(0, 10)}, {inB, e.host(0, 11)}} {
		for _, r := range c.srv.requests() {
			if r.remote != netip.MustParseAddr(c.want) {
				t.Errorf("check from %s, want the load balancer node %s", r.remote, c.want)
			}
		}
	}
	for _, p := range tcp.seenPeers() {
		if !p.IsLoopback() {
			t.Errorf("unbound check from %s", p)
		}
	}
}

// Removed and draining targets are no longer checked; the others keep
// their results and schedule.
func TestRemovalAndDrainingStopChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("rm", "application", true)
	tg := e.tg(fastTG("rm", 2, 2))
	e.listen(lb, tg)
	var srvs []*httpTarget
	for k := range 3 {
		srv := startHTTP(t, e.host(1, 50+k), plainHTTP1)
		e.register(tg, e.vpc(1, 50+k), srv.port)
		srvs = append(srvs, srv)
	}
	e.sync()
	e.run()
	for k, srv := range srvs {
		e.waitStatus(tg, e.vpc(1, 50+k), srv.port, Healthy)
	}

	gone, draining, stays := srvs[0], srvs[1], srvs[2]
	e.update(func(tx *state.Tx) error {
		if _, err := state.Delete(tx, state.Targets, state.TargetKey(tg, e.vpc(1, 50), int32(gone.port))); err != nil {
			return err
		}
		d, _, err := state.Get(tx, state.Targets, state.TargetKey(tg, e.vpc(1, 51), int32(draining.port)))
		if err != nil {
			return err
		}
		d.DrainUntil = d.RegisteredAt.Add(300e9)
		return state.Put(tx, state.Targets, d)
	})
	e.sync()
	if got := e.checker.Status(tg, e.vpc(1, 52), int32(stays.port)); got != Healthy {
		t.Fatalf("a target that stays lost its result: %+v", got)
	}
	if got := e.checker.Status(tg, e.vpc(1, 51), int32(draining.port)); got != DeregistrationInProgress {
		t.Errorf("draining target: %+v, want %+v", got, DeregistrationInProgress)
	}
	if got := e.checker.Status(tg, e.vpc(1, 50), int32(gone.port)); got != RegistrationInProgress {
		t.Errorf("removed target: %+v, want %+v (unknown to the checker)", got, RegistrationInProgress)
	}
	if h := e.checker.Group(tg).Healthy; len(h) != 1 || h[0].ID != e.vpc(1, 52) {
		t.Errorf("healthy set %v, want only %s", h, e.vpc(1, 52))
	}

	// Two checks of the remaining target span more than a timeout, so any
	// check in flight at Sync has reached its target by then.
	base := stays.count()
	eventually(t, 20e9, func() bool { return stays.count() >= base+2 }, func() string { return "remaining target not checked" })
	nGone, nDraining := gone.count(), draining.count()
	base = stays.count()
	eventually(t, 20e9, func() bool { return stays.count() >= base+3 }, func() string { return "remaining target not checked" })
	if gone.count() != nGone || draining.count() != nDraining {
		t.Errorf("checks continued: removed %d -> %d, draining %d -> %d", nGone, gone.count(), nDraining, draining.count())
	}
	e.checker.mu.Lock()
	queued := len(e.checker.queue)
	e.checker.mu.Unlock()
	if queued != 1 {
		t.Errorf("%d probes scheduled, want 1", queued)
	}
}

// A changed interval reschedules the target group's targets at once; a
// changed path applies to the next checks; results are kept.
func TestSyncReschedulesChangedSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("mod", "application", true)
	spec := fastTG("mod", 2, 2)
	spec.HealthCheckIntervalSeconds, spec.HealthCheckTimeoutSeconds = 300, 5
	tg := e.tg(spec)
	e.listen(lb, tg)
	srv := startHTTP(t, e.host(1, 60), plainHTTP1)
	id := e.vpc(1, 60)
	e.register(tg, id, srv.port)
	e.sync()
	e.run()

	e.modifyTG(tg, func(tg *state.TargetGroup) { tg.HealthCheckIntervalSeconds, tg.HealthCheckTimeoutSeconds = 1, 1 })
	e.sync()
	// At a 300 s interval at most one check would come in this time.
	eventually(t, 20e9, func() bool { return srv.count() >= 3 }, func() string { return "interval change did not reschedule" })
	e.waitStatus(tg, id, srv.port, Healthy)

	e.modifyTG(tg, func(tg *state.TargetGroup) { tg.HealthCheckPath = "/other?x=1" })
	e.sync()
	if got := e.checker.Status(tg, id, int32(srv.port)); got != Healthy {
		t.Errorf("status after a path change: %+v, want the kept result", got)
	}
	eventually(t, 20e9, func() bool {
		r := srv.requests()
		return r[len(r)-1].path == "/other?x=1"
	}, func() string { return "path change not applied" })
}

// Statuses that follow from the state alone, and the data planes' view.
func TestStatusFromState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("st", "application", true)
	used := e.tg(fastTG("used", 2, 2))
	e.listen(lb, used)
	spare := e.tg(fastTG("spare", 2, 2))
	off := fastTG("off", 2, 2)
	off.HealthCheckEnabled = false
	offARN := e.tg(off)
	e.listen(lb, offARN)
	e.update(func(tx *state.Tx) error {
		for _, in := range []*state.Instance{
			{ID: "i-running", PrivateIP: e.vpc(1, 70), AvailabilityZone: zoneA, State: "running"},
			{ID: "i-stopped", PrivateIP: e.vpc(1, 71), AvailabilityZone: zoneA, State: "stopped"},
			{ID: "i-elsewhere", PrivateIP: e.vpc(1, 72), AvailabilityZone: "us-east-1c", State: "running"},
		} {
			if err := state.Put(tx, state.Instances, in); err != nil {
				return err
			}
		}
		return nil
	})
	e.register(used, "i-running", 80)
	e.register(used, "i-stopped", 80)
	e.register(used, "i-elsewhere", 80)
	e.register(used, "i-unknown", 80)
	e.register(used, "203.0.113.9", 80) // outside the VPC: zone "all"
	e.register(spare, e.vpc(1, 73), 80)
	e.register(offARN, e.vpc(2, 74), 80)

	changes, cancel := e.checker.Subscribe()
	defer cancel()
	e.sync()
	select {
	case <-changes:
	default:
		t.Error("Sync did not notify subscribers")
	}

	for _, c := range []struct {
		tg, id string
		want   Status
	}{
		{used, "i-running", InitialHealthChecking},
		{used, "i-stopped", InvalidState},
		{used, "i-elsewhere", ZoneNotEnabled},
		{used, "i-unknown", TargetInvalidState},
		{used, "203.0.113.9", InitialHealthChecking},
		{used, "i-never-registered", RegistrationInProgress},
		{spare, e.vpc(1, 73), NotInUse},
		{offARN, e.vpc(2, 74), HealthCheckDisabled},
		{arnP + "targetgroup/unknown/1", "i-running", RegistrationInProgress},
	} {
		if got := e.checker.Status(c.tg, c.id, 80); got != c.want {
			t.Errorf("Status(%s, %s) = %+v, want %+v", state.Dimension(c.tg), c.id, got, c.want)
		}
	}

	if !e.checker.Healthy(offARN, e.vpc(2, 74), 80) || e.checker.Healthy(used, "i-running", 80) {
		t.Error("Healthy: want true for a target without health checks, false for one not yet checked")
	}
	g := e.checker.Group(offARN)
	if len(g.Healthy) != 1 || g.Healthy[0].Addr != netip.MustParseAddrPort(e.host(2, 74)+":80") || g.Healthy[0].Zone != zoneB {
		t.Errorf("group view %+v, want the target at its host address in %s", g.Healthy, zoneB)
	}
	if got := g.HealthyInZone(zoneB); len(got) != 1 {
		t.Errorf("HealthyInZone(%s) = %v", zoneB, got)
	}
	if got := g.HealthyInZone(zoneA); len(got) != 0 {
		t.Errorf("HealthyInZone(%s) = %v, want none", zoneA, got)
	}
	if got := e.checker.Group(used).Routable(); len(got) != 0 {
		t.Errorf("Routable with only initial targets = %v, want none", got)
	}
	var nilGroup *Group
	if nilGroup.Routable() != nil || e.checker.Group("nope") != nil {
		t.Error("unknown target group: want a nil Group that holds nothing")
	}

	// Deleting the target group forgets it.
	e.update(func(tx *state.Tx) error {
		_, err := state.Delete(tx, state.TargetGroups, spare)
		return err
	})
	e.sync()
	if e.checker.Group(spare) != nil {
		t.Error("deleted target group still has a view")
	}
}

// The data planes' per-request reads neither lock nor allocate. (Not
// parallel: AllocsPerRun counts the whole process.)
func TestHotPathDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	lb := e.lb("hot", "application", true)
	spec := fastTG("hot", 2, 2)
	spec.HealthCheckEnabled = false
	tg := e.tg(spec)
	e.listen(lb, tg)
	e.register(tg, e.vpc(1, 90), 80)
	e.register(tg, e.vpc(2, 91), 80)
	e.sync()
	var n int
	id := e.vpc(2, 91)
	allocs := testing.AllocsPerRun(200, func() {
		g := e.checker.Group(tg)
		n += len(g.Routable()) + len(g.HealthyInZone(zoneB))
		if e.checker.Healthy(tg, id, 80) {
			n++
		}
	})
	if allocs != 0 {
		t.Errorf("hot path allocates %v times per call", allocs)
	}
	if n != 201*4 {
		t.Errorf("hot path saw %d targets over 201 runs, want 4 per run", n)
	}
}

// HealthyHostCount and UnHealthyHostCount per load balancer and target
// group, and checks counted by result.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("metrics", "application", true)
	tg := e.tg(fastTG("metrics", 2, 2))
	e.listen(lb, tg)
	ok := startHTTP(t, e.host(1, 80), plainHTTP1)
	bad := startHTTP(t, e.host(1, 81), plainHTTP1, action{code: 500})
	e.register(tg, e.vpc(1, 80), ok.port)
	e.register(tg, e.vpc(1, 81), bad.port)
	e.sync()
	e.run()
	e.waitStatus(tg, e.vpc(1, 80), ok.port, Healthy)
	e.waitStatus(tg, e.vpc(1, 81), bad.port, ResponseCodeMismatch(500))

	labels := map[string]string{"load_balancer": "app/metrics/50dc6c495c0c9188", "target_group": "targetgroup/metrics/73e2d6bc24d8a067"}
	for name, want := range map[string]float64{"elbow_healthy_host_count": 1, "elbow_unhealthy_host_count": 1} {
		if got, n := gathered(t, e, name, labels); n != 1 || got != want {
			t.Errorf("%s%v = %v (%d series), want %v", name, labels, got, n, want)
		}
	}
	if got, _ := gathered(t, e, "elbow_health_checks_total", map[string]string{"result": "success"}); got < 1 {
		t.Errorf("successful checks counted: %v", got)
	}
	if got, _ := gathered(t, e, "elbow_health_checks_total", map[string]string{"result": "response_code_mismatch"}); got < 2 {
		t.Errorf("mismatched checks counted: %v", got)
	}

	// A target group no load balancer uses any more has no gauges.
	e.update(func(tx *state.Tx) error {
		ls, err := state.List(tx, state.Listeners)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if _, err := state.Delete(tx, state.Listeners, l.ARN); err != nil {
				return err
			}
		}
		return nil
	})
	e.sync()
	if _, n := gathered(t, e, "elbow_healthy_host_count", nil); n != 0 {
		t.Errorf("gauges of an unused target group: %d series", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// gathered returns the sum of the series of a metric whose labels include
// labels, and how many there are.
func gathered(t *testing.T, e *env, name string, labels map[string]string) (float64, int) {
	t.Helper()
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum, n := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			n++
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum, n
}
