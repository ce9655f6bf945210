package health

import (
	"container/heap"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Config configures a Checker.
type Config struct {
	// Addresses realises VPC addresses (targets, load balancer nodes) on
	// the host. Health checks dial and bind only mapped addresses.
	Addresses vpcaddr.Map
	// Logger receives target health transitions (Info) and failed checks
	// (Debug). Nil discards.
	Logger *slog.Logger
	// Registerer receives the checker's metrics. Nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock of the schedule. Nil means time.Now.
	Now func() time.Time
	// Workers bounds the health checks in flight at once. Zero means
	// DefaultWorkers.
	Workers int
}

// DefaultWorkers is the default bound of health checks in flight.
const DefaultWorkers = 64

// Checker health-checks the targets of the local ELB's target groups, as
// ELB does, and publishes their health to DescribeTargetHealth (Status)
// and to the data planes (Group, Healthy).
//
// Sync hands it each new state; Run performs the checks. A timer heap
// dispatches each due check to a bounded pool of workers: one check per
// target per interval, never two at once for one target. The checker only
// reads the state; it never writes to the store.
type Checker struct {
	addrs   vpcaddr.Map
	log     *slog.Logger
	now     func() time.Time
	workers int
	metrics *metrics
	prober  *prober

	// index maps target group ARNs to their current pictures. The map is
	// replaced when the set of target groups changes; a picture is
	// replaced when its target group's health changes.
	index atomic.Pointer[map[string]*slot]

	mu     sync.Mutex
	groups map[string]*group
	queue  probeHeap
	gen    uint64 // Sync generation, to find what a Sync no longer holds
	wake   chan struct{}
	subs   map[chan struct{}]struct{}
	// onResult, when set (by tests), is called under mu after each
	// applied check result with the target's resulting status.
	onResult func(tgARN string, id string, port int32, s Status)
}

// group is the checker's bookkeeping for one target group.
type group struct {
	arn      string
	slot     *slot
	entries  []entry           // every registered target, in the state's key order
	index    map[targetKey]int // positions of entries
	probes   map[targetKey]*probe
	lbDims   []string // dimensions of the load balancers using the group
	gaugeLBs []string // load balancer dimensions whose gauges are set
	seen     uint64
}

// entry is one registered target: checked (probe) or with a status that
// follows from the state alone (fixed).
type entry struct {
	target Target
	fixed  Status
	probe  *probe
}

// probe is one checked target: its check, its counters and its place in
// the schedule.
type probe struct {
	group       *group
	key         targetKey
	spec        *spec
	status      Status
	successes   int // consecutive
	failures    int // consecutive
	lastFailure Status
	next        time.Time // when the next check is due
	index       int       // in the queue, -1 when not queued
	inFlight    bool
	removed     bool
	seen        uint64
	history     *probeHistory
}

// New returns a Checker that checks nothing until Sync hands it a state
// and Run runs.
func New(cfg Config) *Checker {
	c := &Checker{
		addrs:   cfg.Addresses,
		log:     cfg.Logger,
		now:     cfg.Now,
		workers: cfg.Workers,
		metrics: newMetrics(cfg.Registerer),
		prober:  newProber(),
		groups:  map[string]*group{},
		wake:    make(chan struct{}, 1),
		subs:    map[chan struct{}]struct{}{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.workers <= 0 {
		c.workers = DefaultWorkers
	}
	return c
}

// Status returns a target's health as DescribeTargetHealth reports it,
// from the state of the last Sync and the checks since: initial
// (Elb.RegistrationInProgress for a target the checker has not seen,
// Elb.InitialHealthChecking until the checks decide), healthy, unhealthy
// (Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks),
// draining (Target.DeregistrationInProgress), unused (Target.NotInUse,
// Target.InvalidState) or unavailable (Target.HealthCheckDisabled). It
// does not lock.
func (c *Checker) Status(tgARN, targetID string, port int32) Status {
	if th, ok := c.Group(tgARN).Lookup(targetID, port); ok {
		return th.Status
	}
	return RegistrationInProgress
}

// Healthy reports whether a target may receive traffic: it is healthy, or
// its target group's health checks are disabled. It does not lock or
// allocate.
func (c *Checker) Healthy(tgARN, targetID string, port int32) bool {
	th, ok := c.Group(tgARN).Lookup(targetID, port)
	return ok && routable(th.Status)
}

// Group returns the current picture of a target group, nil when the last
// Sync did not hold it. It does not lock or allocate: a data plane may
// call it for every request.
func (c *Checker) Group(tgARN string) *Group {
	idx := c.index.Load()
	if idx == nil {
		return nil
	}
	s := (*idx)[tgARN]
	if s == nil {
		return nil
	}
	return s.group.Load()
}

// Subscribe returns a channel that receives a value after a target
// group's picture changes. Sends coalesce; a reader re-reads Group when it
// wakes. cancel stops the subscription.
func (c *Checker) Subscribe() (changes <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		if _, ok := c.subs[ch]; ok {
			delete(c.subs, ch)
			close(ch)
		}
		c.mu.Unlock()
	}
}

// notify tells subscribers; c.mu is held.
func (c *Checker) notify() {
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Sync takes the latest state. Targets that stay keep their results and
// schedule; new targets are checked first at a random point within their
// interval (so that many new targets do not all connect at once); removed
// and draining targets are no longer checked; targets whose target group's
// health check settings changed are rescheduled. Sync does no I/O.
func (c *Checker) Sync(snap *state.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	now := c.now()
	setChanged := false
	var dirty []*group
	for arn, tg := range snap.TargetGroups {
		g := c.groups[arn]
		if g == nil {
			g = &group{arn: arn, slot: &slot{}, probes: map[targetKey]*probe{}}
			c.groups[arn] = g
			setChanged = true
		}
		g.seen = c.gen
		if c.syncGroup(snap, g, tg, now) {
			dirty = append(dirty, g)
		}
	}
	for arn, g := range c.groups {
		if g.seen == c.gen {
			continue
		}
		for _, p := range g.probes {
			c.unschedule(p)
		}
		g.lbDims = nil
		c.setGauges(g, 0, 0)
		delete(c.groups, arn)
		setChanged = true
	}
	if setChanged {
		idx := make(map[string]*slot, len(c.groups))
		for arn, g := range c.groups {
			idx[arn] = g.slot
		}
		c.index.Store(&idx)
	}
	for _, g := range dirty {
		c.publish(g)
	}
	if setChanged || len(dirty) > 0 {
		c.notify()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// syncGroup brings one target group's entries and probes up to snap and
// reports whether its picture must be rebuilt.
func (c *Checker) syncGroup(snap *state.Snapshot, g *group, tg *state.TargetGroup, now time.Time) bool {
	lbARNs := snap.LoadBalancersOfTargetGroup(g.arn)
	lbs := make([]*state.LoadBalancer, 0, len(lbARNs))
	dims := make([]string, 0, len(lbARNs))
	for _, a := range lbARNs {
		if lb := snap.LoadBalancers[a]; lb != nil {
			lbs = append(lbs, lb)
			dims = append(dims, state.Dimension(a))
		}
	}
	var base spec
	if len(lbs) > 0 && tg.HealthCheckEnabled {
		base = c.baseSpec(snap, tg, lbs[0])
	}
	targets := snap.TargetsOf(g.arn)
	entries := make([]entry, 0, len(targets))
	for _, t := range targets {
		entries = append(entries, c.syncTarget(snap, g, tg, lbs, &base, t, now))
	}
	for k, p := range g.probes {
		if p.seen != c.gen {
			c.unschedule(p)
			delete(g.probes, k)
		}
	}
	dirty := g.slot.group.Load() == nil || !slices.Equal(g.entries, entries) || !slices.Equal(g.lbDims, dims)
	if dirty {
		g.index = indexOf(entries)
	}
	g.entries, g.lbDims = entries, dims
	return dirty
}

// stoppedStates are the EC2 instance states whose targets are unused
// (Target.InvalidState).
var stoppedStates = map[string]bool{"stopping": true, "stopped": true, "shutting-down": true, "terminated": true}

// syncTarget decides how one target is treated and keeps its probe.
func (c *Checker) syncTarget(snap *state.Snapshot, g *group, tg *state.TargetGroup, lbs []*state.LoadBalancer, base *spec, t *state.Target, now time.Time) entry {
	e := entry{target: Target{ID: t.ID, Port: t.Port}}
	switch {
	case t.Draining():
		e.fixed = DeregistrationInProgress
		return e
	case len(lbs) == 0:
		e.fixed = NotInUse
		return e
	case tg.TargetType == "lambda":
		// The local ELB does not invoke Lambda functions.
		e.fixed = Unavailable
		if !tg.HealthCheckEnabled {
			e.fixed = HealthCheckDisabled
		}
		return e
	}
	vpc, host, zone, ok := c.resolve(snap, tg, t, lbs)
	if !ok {
		e.fixed = TargetInvalidState
		return e
	}
	e.target.Zone = zone
	e.target.Addr = netip.AddrPortFrom(host, uint16(t.Port))
	if inst, ok := snap.Instances[t.ID]; ok && stoppedStates[inst.State] {
		e.fixed = InvalidState
		return e
	}
	if !zoneEnabled(lbs, zone) {
		e.fixed = ZoneNotEnabled
		return e
	}
	if !tg.HealthCheckEnabled {
		e.fixed = HealthCheckDisabled
		return e
	}

	ck := base.check
	hcPort := state.HealthCheckPort(tg, t)
	ck.addr = netip.AddrPortFrom(host, hcPort)
	ck.host = netip.AddrPortFrom(vpc, hcPort)
	nodeVPC := source(lbs[0], zone)
	if nodeVPC.IsValid() && nodeVPC.Is4() == host.Is4() {
		ck.src = c.addrs.ToHost(nodeVPC)
	}
	if ck.network && nodeVPC.IsValid() {
		// An NLB's HTTP health checks carry the load balancer node's
		// address and the listener port.
		if lp := listenerPort(snap, lbs[0].ARN, g.arn); lp > 0 {
			ck.host = netip.AddrPortFrom(nodeVPC, uint16(lp))
		}
	}

	key := targetKey{t.ID, t.Port}
	p := g.probes[key]
	switch {
	case p == nil:
		s := &spec{check: ck, timing: base.timing, codes: base.codes, uri: base.uri}
		p = &probe{group: g, key: key, spec: s, status: InitialHealthChecking, index: -1, history: newHistory()}
		g.probes[key] = p
		c.schedule(p, now.Add(jitter(s.interval)))
	case p.spec.check != ck || p.spec.timing != base.timing:
		c.update(p, &spec{check: ck, timing: base.timing, codes: base.codes, uri: base.uri}, now)
	}
	p.seen = c.gen
	e.probe = p
	return e
}

// resolve returns a target's VPC address (as the target sees itself), the
// host address to connect to, and its zone.
func (c *Checker) resolve(snap *state.Snapshot, tg *state.TargetGroup, t *state.Target, lbs []*state.LoadBalancer) (vpc, host netip.Addr, zone string, ok bool) {
	if tg.TargetType == "alb" {
		// An Application Load Balancer behind a Network Load Balancer is
		// reached on its listen address in a zone the NLB shares.
		alb := snap.LoadBalancers[t.ID]
		if alb == nil {
			return netip.Addr{}, netip.Addr{}, "", false
		}
		var z *state.LBZone
		for i := range alb.Zones {
			cand := &alb.Zones[i]
			if z == nil || (zoneEnabled(lbs, cand.ZoneName) && !zoneEnabled(lbs, z.ZoneName)) {
				z = cand
			}
		}
		if z == nil {
			return netip.Addr{}, netip.Addr{}, "", false
		}
		h, err := netip.ParseAddr(z.Address)
		if err != nil {
			return netip.Addr{}, netip.Addr{}, "", false
		}
		v := h
		if pv, err := netip.ParseAddr(z.PrivateIPv4Address); err == nil {
			v = pv
		}
		return v, h, z.ZoneName, true
	}
	a, zone, err := snap.TargetVPCAddress(t)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, "", false
	}
	return a, c.addrs.ToHost(a), zone, true
}

// zoneEnabled reports whether a load balancer using the target group is
// enabled in zone. Targets outside the VPC ("all") are reachable from
// every zone.
func zoneEnabled(lbs []*state.LoadBalancer, zone string) bool {
	if zone == zoneAll || zone == "" {
		return true
	}
	anyZones := false
	for _, lb := range lbs {
		for _, z := range lb.Zones {
			anyZones = true
			if z.ZoneName == zone {
				return true
			}
		}
	}
	return !anyZones
}

// source returns the private VPC address of the load balancer node a
// target is checked from: the node in the target's zone, else the first
// zone by name that has an address; invalid when none has.
func source(lb *state.LoadBalancer, zone string) netip.Addr {
	var best *state.LBZone
	var bestAddr netip.Addr
	for i := range lb.Zones {
		z := &lb.Zones[i]
		a, err := netip.ParseAddr(z.PrivateIPv4Address)
		if err != nil {
			continue
		}
		if z.ZoneName == zone {
			best, bestAddr = z, a
			break
		}
		if best == nil || z.ZoneName < best.ZoneName {
			best, bestAddr = z, a
		}
	}
	if best == nil {
		return netip.Addr{}
	}
	return bestAddr
}

// listenerPort returns the port of a load balancer's first listener that
// forwards to the target group, 0 if none does.
func listenerPort(snap *state.Snapshot, lbARN, tgARN string) int32 {
	for _, l := range snap.ListenersOf(lbARN) {
		if slices.Contains(state.ActionTargetGroups(l.DefaultActions), tgARN) {
			return l.Port
		}
		for _, r := range snap.RulesOf(l.ARN) {
			if slices.Contains(state.ActionTargetGroups(r.Actions), tgARN) {
				return l.Port
			}
		}
	}
	return 0
}

// l4Protocols are the target group protocols of Network Load Balancers.
var l4Protocols = map[string]bool{"TCP": true, "UDP": true, "TLS": true, "TCP_UDP": true, "QUIC": true, "TCP_QUIC": true}

// baseSpec derives the health check settings that all targets of a target
// group share, with ELB's defaults (settings.DefaultHealthCheck) where the
// record has none.
func (c *Checker) baseSpec(snap *state.Snapshot, tg *state.TargetGroup, lb *state.LoadBalancer) spec {
	var s spec
	s.network = lb.Type == "network" || l4Protocols[strings.ToUpper(tg.Protocol)]
	s.protocol = strings.ToUpper(tg.HealthCheckProtocol)
	switch s.protocol {
	case protoHTTP, protoHTTPS, protoTCP:
	default:
		s.protocol = protoHTTP
		if s.network {
			s.protocol = protoTCP
		}
	}
	def := settings.DefaultHealthCheck(tg, s.protocol)
	if s.protocol != protoTCP {
		s.version = versionHTTP1
		if !s.network {
			switch v := strings.ToUpper(tg.ProtocolVersion); v {
			case versionHTTP2, versionGRPC:
				s.version = v
			}
		}
		s.path, s.matcher = tg.HealthCheckPath, tg.MatcherHTTPCode
		defaultPath, defaultMatcher := def.Path, def.MatcherHTTP
		if s.version == versionGRPC {
			s.matcher = tg.MatcherGRPCCode
			defaultMatcher = def.MatcherGRPC
		}
		if s.path == "" {
			s.path = defaultPath
		}
		u, err := url.ParseRequestURI(s.path)
		if err != nil || u.Scheme != "" || u.Host != "" {
			c.log.Warn("health check path is not a request URI; checking / instead", "targetGroup", tg.ARN, "path", s.path)
			s.path, u = defaultPath, &url.URL{Path: defaultPath}
		}
		s.uri = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
		if s.matcher == "" {
			s.matcher = defaultMatcher
		}
		codes, err := ParseCodes(s.matcher)
		if err != nil {
			c.log.Warn("health check matcher is invalid; using the default", "targetGroup", tg.ARN, "error", err, "default", defaultMatcher)
			s.matcher = defaultMatcher
			codes, _ = ParseCodes(defaultMatcher)
		}
		s.codes = codes
	}

	s.interval = seconds(tg.HealthCheckIntervalSeconds, def.IntervalSeconds)
	s.timeout = seconds(tg.HealthCheckTimeoutSeconds, def.TimeoutSeconds)
	if s.timeout > s.interval {
		s.timeout = s.interval
	}
	s.healthy = count(tg.HealthyThresholdCount, def.HealthyThreshold)
	s.unhealthy = count(tg.UnhealthyThresholdCount, def.UnhealthyThreshold)
	return s
}

func seconds(v, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

func count(v, def int32) int {
	if v <= 0 {
		v = def
	}
	return int(v)
}

// jitter returns a random point within an interval.
func jitter(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return rand.N(interval)
}

// update gives a kept probe its new spec. A changed check restarts the
// consecutive counts (earlier results said nothing about the new check);
// a changed interval or timeout reschedules it. The status is kept.
func (c *Checker) update(p *probe, s *spec, now time.Time) {
	old := p.spec
	if old.check != s.check {
		p.successes, p.failures = 0, 0
	}
	p.spec = s
	if old.interval != s.interval || old.timeout != s.timeout {
		c.schedule(p, now.Add(jitter(s.interval)))
	}
}

// schedule puts p in the queue, due at at; c.mu is held.
func (c *Checker) schedule(p *probe, at time.Time) {
	p.next = at
	if p.index < 0 {
		heap.Push(&c.queue, p)
	} else {
		heap.Fix(&c.queue, p.index)
	}
}

// unschedule takes p out of the queue for good; c.mu is held.
func (c *Checker) unschedule(p *probe) {
	if p.index >= 0 {
		heap.Remove(&c.queue, p.index)
	}
	p.removed = true
}

// publish rebuilds a target group's picture and its gauges; c.mu is held.
func (c *Checker) publish(g *group) {
	ths := make([]TargetHealth, len(g.entries))
	healthy, unhealthy := 0, 0
	for i, e := range g.entries {
		st := e.fixed
		if e.probe != nil {
			st = e.probe.status
			switch st.State {
			case StateHealthy:
				healthy++
			case StateUnhealthy:
				unhealthy++
			}
		}
		ths[i] = TargetHealth{Target: e.target, Status: st}
	}
	g.slot.group.Store(newGroup(g.arn, ths, g.index))
	c.setGauges(g, healthy, unhealthy)
}

// setGauges sets the host counts of g for the load balancers using it and
// deletes those of load balancers that no longer do; c.mu is held.
func (c *Checker) setGauges(g *group, healthy, unhealthy int) {
	tg := state.Dimension(g.arn)
	for _, lb := range g.gaugeLBs {
		if !slices.Contains(g.lbDims, lb) {
			c.metrics.healthy.DeleteLabelValues(lb, tg)
			c.metrics.unhealthy.DeleteLabelValues(lb, tg)
		}
	}
	for _, lb := range g.lbDims {
		c.metrics.healthy.WithLabelValues(lb, tg).Set(float64(healthy))
		c.metrics.unhealthy.WithLabelValues(lb, tg).Set(float64(unhealthy))
	}
	g.gaugeLBs = g.lbDims
}

// job is one dispatched check: the probe and the spec it was due with.
type job struct {
	probe *probe
	spec  *spec
}

// Run performs health checks until ctx ends, then waits for the checks in
// flight. Call it once.
func (c *Checker) Run(ctx context.Context) {
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			for j := range jobs {
				c.apply(ctx, j, c.prober.run(ctx, j.spec))
			}
		})
	}
	c.dispatch(ctx, jobs)
	close(jobs)
	wg.Wait()
}

// dispatch hands due checks to the workers. A check still in flight when
// its next one falls due is not doubled: that turn is skipped.
func (c *Checker) dispatch(ctx context.Context, jobs chan<- job) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []job
	for {
		due = due[:0]
		wait := time.Hour
		c.mu.Lock()
		now := c.now()
		for len(c.queue) > 0 {
			p := c.queue[0]
			if d := p.next.Sub(now); d > 0 {
				wait = d
				break
			}
			if !p.inFlight {
				p.inFlight = true
				due = append(due, job{p, p.spec})
			}
			p.next = advance(p.next, now, p.spec.interval)
			heap.Fix(&c.queue, 0)
		}
		c.mu.Unlock()
		for _, j := range due {
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// advance returns the first due time after now on next's cadence: checks
// keep a fixed rate whatever a check takes ("The time that it takes for
// the target to respond does not affect the interval for the next health
// check request").
func advance(next, now time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		interval = time.Second
	}
	next = next.Add(interval)
	if !next.After(now) {
		missed := now.Sub(next)/interval + 1
		next = next.Add(missed * interval)
	}
	return next
}

// apply records a check's result.
func (c *Checker) apply(ctx context.Context, j job, r result) {
	c.metrics.byOutcome[r.outcome].Inc()
	c.mu.Lock()
	defer c.mu.Unlock()
	p := j.probe
	p.inFlight = false
	if p.removed || p.spec != j.spec || ctx.Err() != nil {
		return // the target or its check changed meanwhile: the result says nothing
	}
	if r.outcome != outcomeSuccess {
		c.log.Debug("health check failed", "targetGroup", p.group.arn, "target", p.key.id, "port", p.key.port,
			"result", r.outcome.String(), "code", r.code, "error", r.err)
	}
	old := p.status
	p.record(r)
	now := c.now()
	p.history.results.add(stamped{now, r})
	if p.status != old {
		p.history.transitions.add(Transition{Time: now, From: old, To: p.status})
	}
	if c.onResult != nil {
		c.onResult(p.group.arn, p.key.id, p.key.port, p.status)
	}
	if p.status != old {
		c.log.Info("target health changed", "targetGroup", p.group.arn, "target", p.key.id, "port", p.key.port,
			"from", old.State, "to", p.status.State, "reason", p.status.Reason, "description", p.status.Description)
		c.publish(p.group)
		c.notify()
	}
}

// record counts a result and moves the status as ELB does. A new target
// leaves initial on its first successful check behind an Application Load
// Balancer ("After your target is registered, it must pass one health check
// to be considered healthy") and after HealthyThresholdCount behind a
// Network Load Balancer ("the targets pass the initial health checks");
// either turns unhealthy after UnhealthyThresholdCount failures. After
// that, UnhealthyThresholdCount consecutive failures take a healthy target
// out of service and HealthyThresholdCount consecutive successes put an
// unhealthy one back.
func (p *probe) record(r result) {
	s := p.spec
	if r.outcome == outcomeSuccess {
		p.successes++
		p.failures = 0
	} else {
		p.failures++
		p.successes = 0
		p.lastFailure = failureStatus(r, s.network)
	}
	switch p.status.State {
	case StateInitial:
		need := 1
		if s.network {
			need = s.healthy
		}
		if p.successes >= need {
			p.status = Healthy
		} else if p.failures >= s.unhealthy {
			p.status = p.lastFailure
		}
	case StateHealthy:
		if p.failures >= s.unhealthy {
			p.status = p.lastFailure
		}
	default:
		if p.successes >= s.healthy {
			p.status = Healthy
		} else if r.outcome != outcomeSuccess {
			p.status = p.lastFailure
		}
	}
}

// failureStatus is the unhealthy status a failed check reports. A Network
// Load Balancer reports every failure as Target.FailedHealthChecks:
// Target.ResponseCodeMismatch and Target.Timeout apply only to Application
// (and Gateway) Load Balancers.
func failureStatus(r result, network bool) Status {
	if network {
		return FailedHealthChecks
	}
	switch r.outcome {
	case outcomeMismatch:
		return ResponseCodeMismatch(r.code)
	case outcomeTimeout:
		return TimedOut
	default:
		return FailedHealthChecks
	}
}

// probeHeap is the schedule: probes by due time.
type probeHeap []*probe

func (h probeHeap) Len() int           { return len(h) }
func (h probeHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h probeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *probeHeap) Push(x any) {
	p := x.(*probe)
	p.index = len(*h)
	*h = append(*h, p)
}
func (h *probeHeap) Pop() any {
	old := *h
	n := len(old)
	p := old[n-1]
	old[n-1] = nil
	p.index = -1
	*h = old[:n-1]
	return p
}
