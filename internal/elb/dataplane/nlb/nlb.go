// Package nlb is the data plane of the local ELB's network load balancers.
//
// Every load balancer of type network in the state is realised on its zone
// addresses (LoadBalancer.Zones[].Address: one loopback address per zone,
// from the load balancer pool or an Elastic IP), one socket per listener
// port and transport: TCP and TLS listeners get a TCP socket, UDP listeners
// a UDP socket, TCP_UDP listeners both on one port. Internet-facing load
// balancers may also listen on the host's public addresses
// (Config.PublicAddrs); internal ones never bind outside loopback.
//
// A socket bound on zone A's address forwards only to targets in zone A
// unless cross-zone load balancing is on for the target group (NLB's
// default is off). A flow (a TCP connection, or a UDP flow kept until it is
// idle for 120 s) goes to one target chosen by a hash of its 5-tuple among
// the healthy targets, or among the healthy and unhealthy ones when the
// healthy are below the target group's routing failover thresholds (by
// default: none healthy; fail-open). Client IP preservation, PROXY
// protocol v2, TLS termination with SNI, security policies and ALPN
// policies, idle timeouts, draining and connection termination follow
// AWS's documentation; docs/nlb.md lists the details and the sources.
//
// Apply compiles a state snapshot into per-socket routes and swaps them in
// atomically: sockets that stay are kept open, established flows keep the
// target they started with, and only what a change concerns (a removed
// listener, a deregistered target whose delay ended with connection
// termination on, an unhealthy target) closes flows.
package nlb

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Config configures a Plane.
type Config struct {
	// Addresses realises VPC addresses (targets, the load balancer nodes'
	// private addresses) on the host; the zero Map uses addresses as they
	// are.
	Addresses vpcaddr.Map
	// Health tells which targets are healthy. Nil treats every target as
	// healthy.
	Health health.Source
	// Logger receives the data plane's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the data plane's metrics; nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
	// PublicAddrs are host addresses that internet-facing load balancers
	// also listen on, with every listener port. Failures to bind there
	// (another load balancer took the port first, say) are logged, not
	// fatal.
	PublicAddrs []netip.Addr
	// Now is the clock that draining deadlines (Target.DrainUntil) are
	// compared with; nil means time.Now.
	Now func() time.Time
}

// Plane is the running data plane of every network load balancer in the
// state. Its methods are safe for concurrent use.
type Plane struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	now  func() time.Time
	seed maphash.Seed

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// applyMu serialises Apply, the sweeper's socket retries and Close.
	applyMu sync.Mutex
	closed  bool
	// applied and revision tell the state revision last applied.
	applied  bool
	revision uint64
	// want is the desired route of every socket, from the last Apply.
	want map[sockKey]*route
	// bindErr holds the last bind error of wanted sockets not yet open.
	bindErr map[sockKey]string
	// tlsCache keeps listeners' server TLS configurations across Applies.
	tlsCache map[string]*tlsCacheEntry

	// mu guards sockets and targets.
	mu      sync.Mutex
	sockets map[sockKey]socket
	targets map[targetKey]*targetState

	cur atomic.Pointer[compiled]

	transparent transparentState

	// The event loops of TCP flows, started with the first TCP socket.
	loopMu   sync.Mutex
	loops    []*tcpLoop
	loopsOff bool

	// udpFlows bounds the UDP flows; answers reads their targets'
	// answers (udpAnswers), made by newAnswers (nil: newUDPReaders) on
	// first use and stopped at Close.
	udpFlows      *udpFlowTable
	answersMu     sync.Mutex
	answers       udpAnswers
	answersClosed bool
	newAnswers    func(*Plane) (udpAnswers, error)
}

// socket is an open listener socket (TCP or UDP).
type socket interface {
	setRoute(*route)
	// close closes the socket and terminates its flows.
	close(reason string)
}

// sockKey identifies a listener socket: its transport and address.
type sockKey struct {
	network string // tcp or udp
	addr    netip.AddrPort
}

func (k sockKey) String() string { return k.network + " " + k.addr.String() }

// targetKey identifies a registered target.
type targetKey struct {
	tg   string
	id   string
	port int32
}

// targetState is what the plane keeps about a target across Applies: its
// health as last read, and its open flows.
type targetState struct {
	key  targetKey
	hash uint64

	healthy   atomic.Bool
	unhealthy atomic.Bool
	// info is the target's latest compiled settings; nil once the target
	// is gone from the state.
	info atomic.Pointer[targetInfo]
	// last is the latest non-nil info, kept after the target is gone.
	last atomic.Pointer[targetInfo]

	mu             sync.Mutex
	flows          map[flow]struct{}
	unhealthySince time.Time
}

// targetInfo is a target's settings at one revision.
type targetInfo struct {
	tg         *tgConf
	drainUntil time.Time
}

// flow is an open TCP connection or UDP flow.
type flow interface {
	// terminate closes the flow as the load balancer ends it (TCP: with
	// a reset both ways).
	terminate(reason string)
}

// setInfo records the target's settings at a new revision.
func (ts *targetState) setInfo(i *targetInfo) {
	ts.info.Store(i)
	if i != nil {
		ts.last.Store(i)
	}
}

// lastInfo returns the target's settings at the last revision that had it.
func (ts *targetState) lastInfo() *targetInfo { return ts.last.Load() }

func (ts *targetState) addFlow(f flow) {
	ts.mu.Lock()
	if ts.flows == nil {
		ts.flows = map[flow]struct{}{}
	}
	ts.flows[f] = struct{}{}
	ts.mu.Unlock()
}

func (ts *targetState) removeFlow(f flow) {
	ts.mu.Lock()
	delete(ts.flows, f)
	ts.mu.Unlock()
}

// sweepInterval is how often health, draining deadlines, idle UDP flows
// and failed binds are looked at: changes apply well within a second.
const sweepInterval = 200 * time.Millisecond

// New starts an empty data plane; Apply gives it load balancers.
func New(cfg Config) (*Plane, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Plane{
		cfg:      cfg,
		log:      log.With("component", "nlb"),
		m:        m,
		now:      now,
		seed:     maphash.MakeSeed(),
		ctx:      ctx,
		cancel:   cancel,
		want:     map[sockKey]*route{},
		bindErr:  map[sockKey]string{},
		tlsCache: map[string]*tlsCacheEntry{},
		sockets:  map[sockKey]socket{},
		targets:  map[targetKey]*targetState{},
		udpFlows: newUDPFlowTable(),
	}
	p.cur.Store(&compiled{})
	p.wg.Add(1)
	go p.sweeper()
	return p, nil
}

// Apply realises every network load balancer of snap: it opens the sockets
// of new listeners, closes those of removed ones, and swaps in the new
// routes for the rest. It is called on every state change, with snapshots
// of one store; a snapshot no newer than the last one applied is ignored.
// Flows that the change does not concern keep going. Problems with one
// load balancer (a port already taken, a certificate that does not parse)
// are logged and do not affect the others.
func (p *Plane) Apply(snap *state.Snapshot) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if p.closed || snap == nil {
		return
	}
	// Snapshots read concurrently may arrive out of order: an older one
	// than what is applied would undo newer changes.
	if p.applied && snap.Revision <= p.revision {
		return
	}
	p.applied, p.revision = true, snap.Revision
	c := p.compile(snap)
	p.cur.Store(c)

	// Mark targets that are gone; drop the ones without flows.
	p.mu.Lock()
	for k, ts := range p.targets {
		if _, ok := c.targets[k]; ok {
			continue
		}
		ts.setInfo(nil)
		ts.mu.Lock()
		n := len(ts.flows)
		ts.mu.Unlock()
		if n == 0 {
			delete(p.targets, k)
		}
	}
	var stale []socket
	var staleKeys []sockKey
	for k, s := range p.sockets {
		if _, ok := c.routes[k]; !ok {
			stale = append(stale, s)
			staleKeys = append(staleKeys, k)
			delete(p.sockets, k)
		}
	}
	p.mu.Unlock()
	for i, s := range stale {
		p.log.Info("listener socket closed", "socket", staleKeys[i].String())
		s.close("listener removed")
	}

	p.want = c.routes
	for k := range p.bindErr {
		if _, ok := c.routes[k]; !ok {
			delete(p.bindErr, k)
		}
	}
	p.openSockets()
	p.refreshHealth(c)
}

// openSockets opens wanted sockets that are not open and updates the routes
// of open ones. Called with applyMu held.
func (p *Plane) openSockets() {
	keys := make([]sockKey, 0, len(p.want))
	for k := range p.want {
		keys = append(keys, k)
	}
	// Zone addresses before public ones, then in address order, so that
	// which load balancer gets a contested public port is stable.
	sort.Slice(keys, func(i, j int) bool {
		a, b := p.want[keys[i]], p.want[keys[j]]
		if a.public != b.public {
			return !a.public
		}
		if a.lbARN != b.lbARN {
			return a.lbARN < b.lbARN
		}
		if c := keys[i].addr.Compare(keys[j].addr); c != 0 {
			return c < 0
		}
		return keys[i].network < keys[j].network
	})
	for _, k := range keys {
		r := p.want[k]
		p.mu.Lock()
		s, ok := p.sockets[k]
		p.mu.Unlock()
		if ok {
			s.setRoute(r)
			continue
		}
		s, err := p.openSocket(k, r)
		if err != nil {
			msg := err.Error()
			if p.bindErr[k] != msg {
				level := slog.LevelWarn
				if r.public {
					level = slog.LevelInfo
				}
				p.log.Log(p.ctx, level, "cannot listen", "socket", k.String(), "loadBalancer", r.lbARN, "listener", r.listenerARN, "err", err)
			}
			p.bindErr[k] = msg
			continue
		}
		if _, failed := p.bindErr[k]; failed {
			p.log.Info("listening after earlier failure", "socket", k.String())
		}
		delete(p.bindErr, k)
		p.mu.Lock()
		p.sockets[k] = s
		p.mu.Unlock()
	}
}

func (p *Plane) openSocket(k sockKey, r *route) (socket, error) {
	switch k.network {
	case "tcp":
		return p.listenTCP(k, r)
	case "udp":
		return p.listenUDP(k, r)
	}
	return nil, errors.New("unknown network " + k.network)
}

// Close stops the data plane: every socket is closed and every flow ended.
// It waits for the flows' goroutines until ctx is done.
func (p *Plane) Close(ctx context.Context) error {
	p.applyMu.Lock()
	if p.closed {
		p.applyMu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	p.mu.Lock()
	socks := make([]socket, 0, len(p.sockets))
	for _, s := range p.sockets {
		socks = append(socks, s)
	}
	p.sockets = map[sockKey]socket{}
	p.mu.Unlock()
	p.applyMu.Unlock()
	for _, s := range socks {
		s.close("load balancer data plane stopped")
	}
	p.stopLoops()
	p.closeAnswers()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sweeper runs the periodic work until the plane closes, and reads
// health as soon as the checker announces a change.
func (p *Plane) sweeper() {
	defer p.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	var changes <-chan struct{}
	if n, ok := p.cfg.Health.(health.Notifier); ok {
		var cancel func()
		changes, cancel = n.Subscribe()
		defer cancel()
	}
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			p.sweep()
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			c := p.cur.Load()
			p.refreshHealth(c)
			p.enforce(c)
		}
	}
}

// sweep refreshes health, ends flows that draining, unhealthy targets or
// UDP idleness call for, and retries sockets that could not be opened.
func (p *Plane) sweep() {
	c := p.cur.Load()
	p.refreshHealth(c)
	p.enforce(c)
	p.mu.Lock()
	socks := make([]socket, 0, len(p.sockets))
	for _, s := range p.sockets {
		socks = append(socks, s)
	}
	p.mu.Unlock()
	now := time.Now()
	for _, s := range socks {
		if u, ok := s.(*udpSocket); ok {
			u.expire(now)
		}
	}
	p.applyMu.Lock()
	if !p.closed && len(p.bindErr) > 0 {
		p.openSockets()
	}
	p.applyMu.Unlock()
}

// refreshHealth reads every known target's health and updates the host
// count gauges.
func (p *Plane) refreshHealth(c *compiled) {
	p.mu.Lock()
	all := make([]*targetState, 0, len(p.targets))
	for _, ts := range p.targets {
		all = append(all, ts)
	}
	p.mu.Unlock()
	for _, ts := range all {
		p.readHealth(ts)
	}
	for _, hp := range c.hostCounts {
		var healthy, unhealthy int
		for _, ts := range hp.targets {
			if ts.healthy.Load() {
				healthy++
			} else if ts.unhealthy.Load() {
				unhealthy++
			}
		}
		hp.m.healthy.Set(float64(healthy))
		hp.m.unhealthy.Set(float64(unhealthy))
	}
}

// readHealth updates a target's health flags from the checker. A target
// is healthy when the checker says healthy, or unavailable because health
// checks are disabled; it is unhealthy only in the unhealthy state (a
// target still in its initial checks is neither, and takes no traffic).
func (p *Plane) readHealth(ts *targetState) {
	if p.cfg.Health == nil {
		ts.healthy.Store(true)
		ts.unhealthy.Store(false)
		return
	}
	st := p.cfg.Health.Status(ts.key.tg, ts.key.id, ts.key.port)
	ts.healthy.Store(st.State == health.StateHealthy ||
		(st.State == health.StateUnavailable && st.Reason == health.ReasonHealthCheckDisabled))
	ts.unhealthy.Store(st.State == health.StateUnhealthy)
}

// enforce ends the flows of targets that must no longer carry them:
// deregistered targets whose delay ended with connection termination on,
// and unhealthy targets per the target_health_state.unhealthy attributes.
func (p *Plane) enforce(c *compiled) {
	// Draining deadlines come from the state's clock; how long a target
	// has been unhealthy is measured here.
	now, mono := p.now(), time.Now()
	p.mu.Lock()
	all := make([]*targetState, 0, len(p.targets))
	for _, ts := range p.targets {
		all = append(all, ts)
	}
	p.mu.Unlock()
	// Fail-open: while a group is below its routing failover thresholds
	// (no healthy target, by default), new flows go to its unhealthy
	// targets too, so their flows are not ended for being unhealthy.
	groupHealthy := map[string]bool{}
	for tg, tss := range c.groupTargets {
		healthy := 0
		var conf *tgConf
		for _, ts := range tss {
			if ts.healthy.Load() {
				healthy++
			}
			if info := ts.info.Load(); info != nil {
				conf = info.tg
			}
		}
		groupHealthy[tg] = healthy > 0 && conf != nil &&
			meetsThresholds(healthy, len(tss), conf.s.RoutingFailoverCount, conf.s.RoutingFailoverPercent)
	}
	for _, ts := range all {
		ts.mu.Lock()
		if !ts.unhealthy.Load() {
			ts.unhealthySince = time.Time{}
		} else if ts.unhealthySince.IsZero() {
			ts.unhealthySince = mono
		}
		if len(ts.flows) == 0 {
			ts.mu.Unlock()
			continue
		}
		reason := ""
		info := ts.info.Load()
		switch {
		case info == nil:
			// Deregistered and gone: the delay is over.
			if last := ts.lastInfo(); last != nil && last.tg.s.DrainTerminate {
				reason = "deregistration delay ended (connection termination)"
			}
		case !info.drainUntil.IsZero():
			if !now.Before(info.drainUntil) && info.tg.s.DrainTerminate {
				reason = "deregistration delay ended (connection termination)"
			}
		case ts.unhealthy.Load() && groupHealthy[ts.key.tg]:
			if info.tg.s.UnhealthyTerminate {
				reason = "target unhealthy (connection termination)"
			} else if d := info.tg.s.UnhealthyDraining; d > 0 && mono.Sub(ts.unhealthySince) >= d {
				reason = "target unhealthy: draining interval ended"
			}
		}
		var victims []flow
		if reason != "" {
			victims = make([]flow, 0, len(ts.flows))
			for f := range ts.flows {
				victims = append(victims, f)
			}
		}
		ts.mu.Unlock()
		if len(victims) > 0 {
			p.log.Info("ending flows", "targetGroup", ts.key.tg, "target", ts.key.id, "port", ts.key.port, "flows", len(victims), "reason", reason)
		}
		for _, f := range victims {
			f.terminate(reason)
		}
	}
	// Forget gone targets once their flows are over. applyMu keeps this
	// from racing a compile that is bringing a target (back) in.
	p.applyMu.Lock()
	live := p.cur.Load().targets
	p.mu.Lock()
	for k, ts := range p.targets {
		if _, ok := live[k]; ok {
			continue
		}
		ts.mu.Lock()
		n := len(ts.flows)
		ts.mu.Unlock()
		if n == 0 {
			delete(p.targets, k)
		}
	}
	p.mu.Unlock()
	p.applyMu.Unlock()
}
