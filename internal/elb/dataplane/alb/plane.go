package alb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Config configures a Plane.
type Config struct {
	// Addresses realises VPC addresses (targets, the load balancer nodes'
	// private addresses) on the host; the zero Map uses them as they are.
	Addresses vpcaddr.Map
	// Health tells which targets are healthy. Nil treats every registered
	// target that is not draining as healthy.
	Health health.Source
	// Logger receives the data plane's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the data plane's metrics; nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
	// AccessLogDir is where access logs are written for load balancers
	// with access_logs.s3.enabled, under <bucket>/<prefix>/AWSLogs/…;
	// empty disables access logs.
	AccessLogDir string
	// PublicAddrs are host addresses that internet-facing load balancers
	// also listen on, with every listener port. Failures to bind there
	// are logged and reported by BindErrors, never fatal.
	PublicAddrs []netip.Addr
	// Now is the clock of slow start, stickiness expiry and access log
	// rotation; nil means time.Now.
	Now func() time.Time
	// GoroutinePerConnection serves every connection with a goroutine of
	// its own instead of event loops (the default on Linux for plain
	// HTTP/1.1). Slower; for comparison and for platforms without epoll.
	GoroutinePerConnection bool
}

// Plane is the running data plane of every Application Load Balancer in
// the state. Its methods are safe for concurrent use.
type Plane struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	health health.Source
	addrs  vpcaddr.Map
	m      *metrics

	router  *routing.Router
	conns   *targetPools
	workers workers // the goroutines of HTTP/2 requests

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops, connections, background loops

	applyMu  sync.Mutex
	closed   bool
	socks    map[netip.AddrPort]*listenSock
	want     map[netip.AddrPort]*sockCfg
	bindErrs map[netip.AddrPort]string
	lbs      map[string]*lbRuntime
	tlsCache map[string]*tlsEntry
	retrying bool

	// lastSnap is the last snapshot applied, for host-count metrics.
	lastSnap atomic.Pointer[state.Snapshot]
	// applying is the snapshot Apply is compiling (applyMu held).
	applying *state.Snapshot

	// The event loops serving plain HTTP/1.1 connections, started on
	// first use.
	loopMu   sync.Mutex
	loops    []*evLoop
	loopsOff bool
	nextLoop atomic.Uint32
}

// New returns a Plane that serves nothing until Apply hands it a state.
func New(cfg Config) *Plane {
	p := &Plane{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Now,
		health:   cfg.Health,
		addrs:    cfg.Addresses,
		socks:    map[netip.AddrPort]*listenSock{},
		bindErrs: map[netip.AddrPort]string{},
		lbs:      map[string]*lbRuntime{},
		tlsCache: map[string]*tlsEntry{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.router = routing.NewRouter(routing.Config{Addresses: cfg.Addresses, Health: cfg.Health, Logger: p.log, Now: p.now})
	p.conns = newTargetPools()
	p.ctx, p.cancel = context.WithCancel(context.Background())
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		p.log.Warn("ALB metrics not registered", "err", err)
	}
	p.m = m
	if hn, ok := cfg.Health.(health.Notifier); ok {
		ch, cancel := hn.Subscribe()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer cancel()
			for {
				select {
				case <-p.ctx.Done():
					return
				case _, ok := <-ch:
					if !ok {
						return
					}
					p.updateHostCounts()
				}
			}
		}()
	}
	return p
}

// Apply realises a state: it compiles every application load balancer's
// listeners, rules, certificates and security groups, opens and closes
// sockets, and swaps the new configuration in. Problems with one load
// balancer (a rule that does not compile, a port already taken) are logged
// and leave the others untouched.
func (p *Plane) Apply(snap *state.Snapshot) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if p.closed {
		return
	}
	p.applying = snap
	want, compiled := p.compile(snap)
	p.applying = nil
	p.want = want
	p.lastSnap.Store(snap)
	p.reconcileSockets()
	for _, t := range compiled.RemovedTargets {
		p.conns.drop(t)
	}
	for _, g := range compiled.RemovedGroups {
		p.m.forgetGroup(g)
	}
	p.updateHostCountsLocked()
}

// BindErrors returns the listen addresses that could not be bound, with
// the reason; they are retried every second.
func (p *Plane) BindErrors() map[string]string {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	out := make(map[string]string, len(p.bindErrs))
	for a, e := range p.bindErrs {
		out[a.String()] = e
	}
	return out
}

// Addrs returns the addresses the plane listens on, sorted.
func (p *Plane) Addrs() []netip.AddrPort {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	out := make([]netip.AddrPort, 0, len(p.socks))
	for a := range p.socks {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// reconcileSockets opens the wanted sockets, swaps configurations into
// the ones that stay and shuts the others down. applyMu is held.
func (p *Plane) reconcileSockets() {
	for addr, lc := range p.want {
		s := p.socks[addr]
		if s == nil {
			var err error
			s, err = p.listen(addr)
			if err != nil {
				if p.bindErrs[addr] != err.Error() {
					p.log.Warn("ALB listener cannot bind", "addr", addr.String(), "lb", lc.lb.name, "err", err)
				}
				p.bindErrs[addr] = err.Error()
				continue
			}
			delete(p.bindErrs, addr)
			p.socks[addr] = s
			s.cur.Store(lc)
			p.wg.Add(1)
			go s.acceptLoop()
			p.log.Info("ALB listener open", "addr", addr.String(), "lb", lc.lb.name, "protocol", lc.Protocol)
			continue
		}
		s.cur.Store(lc)
	}
	for addr := range p.bindErrs {
		if _, ok := p.want[addr]; !ok {
			delete(p.bindErrs, addr)
		}
	}
	for addr, s := range p.socks {
		if _, ok := p.want[addr]; !ok {
			delete(p.socks, addr)
			s.shutdown()
			p.log.Info("ALB listener closed", "addr", addr.String())
		}
	}
	if len(p.bindErrs) > 0 && !p.retrying {
		p.retrying = true
		p.wg.Add(1)
		go p.retryBinds()
	}
}

// retryBinds retries failed binds every second until none is left.
func (p *Plane) retryBinds() {
	defer p.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.applyMu.Lock()
		if p.closed || len(p.bindErrs) == 0 {
			p.retrying = false
			p.applyMu.Unlock()
			return
		}
		p.reconcileSockets()
		p.applyMu.Unlock()
	}
}

func (p *Plane) listen(addr netip.AddrPort) (*listenSock, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(p.ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return &listenSock{p: p, addr: addr, ln: ln, conns: map[*blockingConn]struct{}{}}, nil
}

// Close stops accepting connections, lets requests in flight finish until
// ctx ends, then closes everything.
func (p *Plane) Close(ctx context.Context) error {
	p.applyMu.Lock()
	if p.closed {
		p.applyMu.Unlock()
		return nil
	}
	p.closed = true
	socks := p.socks
	p.socks = map[netip.AddrPort]*listenSock{}
	p.applyMu.Unlock()
	for _, s := range socks {
		s.shutdown()
	}
	done := make(chan struct{})
	go func() {
		for {
			active := 0
			for _, s := range socks {
				active += s.active()
			}
			if active == 0 {
				close(done)
				return
			}
			select {
			case <-ctx.Done():
				close(done)
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	<-done
	var err error
	if ctx.Err() != nil {
		err = fmt.Errorf("ALB close: %w", ctx.Err())
	}
	for _, s := range socks {
		s.closeAll()
	}
	p.loopMu.Lock()
	loops := p.loops
	p.loops = nil
	p.loopsOff = true
	p.loopMu.Unlock()
	for _, l := range loops {
		l.stop()
	}
	p.cancel()
	p.workers.stop()
	p.applyMu.Lock()
	p.conns.closeAll()
	for _, lb := range p.lbs {
		lb.closeLog()
	}
	p.applyMu.Unlock()
	p.wg.Wait()
	return err
}

// listenSock is one listening socket: a zone (or public) address and a
// listener port of one load balancer.
type listenSock struct {
	p    *Plane
	addr netip.AddrPort
	ln   net.Listener
	cur  atomic.Pointer[sockCfg]

	mu      sync.Mutex
	conns   map[*blockingConn]struct{}
	closing bool
	shut    atomic.Bool // closing, readable without the lock

	// loopConns counts the socket's connections served by event loops;
	// loopActive those with a request in flight.
	loopConns  atomic.Int32
	loopActive atomic.Int32
}

// addConn tracks a connection served by a goroutine; false when the
// socket is shutting down.
func (s *listenSock) addConn(c *blockingConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *listenSock) acceptLoop() {
	defer s.p.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		lc := s.cur.Load()
		if lc == nil {
			nc.Close()
			continue
		}
		remote, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
		if !lc.access.Allow("tcp", s.addr.Port(), remote.Addr()) {
			lc.lb.rt.m.rejected.Inc()
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			nc.Close()
			continue
		}
		if lc.Protocol == "HTTP" && s.p.toEventLoop(s, lc, nc, remote) {
			continue
		}
		c := newClientConn(s, nc, remote)
		if !s.addConn(c) {
			nc.Close()
			continue
		}
		s.p.wg.Add(1)
		go c.serve(lc)
	}
}

// shutdown closes the socket: no new connections; idle kept-alive
// connections are closed, active ones close after their request.
func (s *listenSock) shutdown() {
	s.cur.Store(nil)
	s.ln.Close()
	s.shut.Store(true)
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		if c.idle.Load() {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
}

func (s *listenSock) active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int(s.loopActive.Load())
	for c := range s.conns {
		if !c.idle.Load() {
			n++
		}
	}
	return n
}

func (s *listenSock) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

func (s *listenSock) remove(c *blockingConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// isClosing reports whether the socket is shutting down.
func (s *listenSock) isClosing() bool { return s.shut.Load() }

// eventLoops returns the event loops, starting them on first use; nil
// when connections are served by goroutines.
func (p *Plane) eventLoops() []*evLoop {
	p.loopMu.Lock()
	defer p.loopMu.Unlock()
	if p.loopsOff || p.cfg.GoroutinePerConnection {
		return nil
	}
	if p.loops == nil {
		loops, err := startLoops(p)
		if err != nil {
			p.log.Warn("ALB event loops not started; serving connections with goroutines", "err", err)
			p.loopsOff = true
			return nil
		}
		p.loops = loops
	}
	return p.loops
}
