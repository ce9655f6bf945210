package nlb

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// handshakeTimeout bounds TLS handshakes with clients and targets.
const handshakeTimeout = 10 * time.Second

// chunk is how many bytes one splice call may move before the copy loop
// looks at the flow again.
const chunk = 4 << 20

// tcpSocket is a listening TCP socket of a TCP, TLS or TCP_UDP listener.
type tcpSocket struct {
	p     *Plane
	key   sockKey
	ln    *net.TCPListener
	route atomic.Pointer[route]

	// loops accept the socket's connections when the plane's event loops
	// run (lfd is then the listening socket, and ln nil).
	loops []*tcpLoop
	lfd   int

	mu     sync.Mutex
	closed bool
	flows  map[flow]struct{}
}

func (p *Plane) listenTCP(k sockKey, r *route) (socket, error) {
	if loops := p.tcpLoops(); len(loops) > 0 {
		return p.listenTCPLoops(k, r, loops)
	}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(p.ctx, "tcp", k.addr.String())
	if err != nil {
		return nil, err
	}
	s := &tcpSocket{p: p, key: k, ln: ln.(*net.TCPListener), lfd: -1, flows: map[flow]struct{}{}}
	s.route.Store(r)
	p.log.Info("listening", "socket", k.String(), "loadBalancer", r.lbARN, "listener", r.listenerARN, "protocol", r.protocol, "zone", r.zone)
	p.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *tcpSocket) setRoute(r *route) { s.route.Store(r) }

func (s *tcpSocket) close(reason string) {
	s.mu.Lock()
	s.closed = true
	flows := make([]flow, 0, len(s.flows))
	for f := range s.flows {
		flows = append(flows, f)
	}
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	} else {
		s.closeLoopListener()
	}
	for _, f := range flows {
		f.terminate(reason)
	}
}

func (s *tcpSocket) serve() {
	defer s.p.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait a little and go on.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			s.p.log.Warn("accept failed", "socket", s.key.String(), "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.p.wg.Add(1)
		go s.handle(c)
	}
}

// reset closes a connection with a TCP RST.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// handle carries one client connection.
func (s *tcpSocket) handle(c *net.TCPConn) {
	p := s.p
	defer p.wg.Done()
	r := s.route.Load()
	client := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	if !r.policy.Allow("tcp", r.port, client.Addr()) {
		p.log.Debug("connection refused by security groups", "socket", s.key.String(), "client", client)
		reset(c)
		r.lbm.elbResets.Inc()
		return
	}
	var front net.Conn = c
	alpn := ""
	if r.protocol == "TLS" {
		if r.tls == nil {
			reset(c)
			r.lbm.elbResets.Inc()
			return
		}
		tc := tls.Server(c, r.tls)
		ctx, cancel := context.WithTimeout(p.ctx, handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			p.log.Debug("TLS handshake with client failed", "socket", s.key.String(), "client", client, "err", err)
			r.lbm.clientTLSErr.Inc()
			c.Close()
			return
		}
		alpn = tc.ConnectionState().NegotiatedProtocol
		front = tc
	}
	g, cand := s.choose(r, client)
	if cand == nil {
		reset(c)
		return
	}
	preserve := g.tg.s.PreserveClientIP && client.Addr().Is4() == cand.addr.Addr().Is4()
	tc, _, err := p.dialTarget(p.ctx, "tcp", cand.addr, client.Addr(), preserve, r.source)
	if err != nil {
		p.log.Debug("connection to target failed", "target", cand.addr, "err", err)
		if errors.Is(err, syscall.ECONNREFUSED) {
			g.m.targetResets.Inc()
		} else {
			g.m.elbResets.Inc()
		}
		reset(c)
		return
	}
	back := tc.(*net.TCPConn)
	var sent int64
	if g.tg.s.ProxyProtocolV2 {
		hdr, err := p.proxyHeader("tcp", client, s.key.addr)
		if err == nil {
			_, err = back.Write(hdr)
		}
		if err != nil {
			p.log.Debug("PROXY header not sent", "target", cand.addr, "err", err)
			reset(c)
			reset(back)
			g.m.elbResets.Inc()
			return
		}
		sent = int64(len(hdr))
	}
	var backConn net.Conn = back
	if g.tg.tls {
		tlsc := tls.Client(back, r.targetTLSConfig(alpn))
		ctx, cancel := context.WithTimeout(p.ctx, handshakeTimeout)
		err := tlsc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			p.log.Debug("TLS handshake with target failed", "target", cand.addr, "err", err)
			g.m.targetTLSErr.Inc()
			reset(c)
			reset(back)
			return
		}
		backConn = tlsc
	}
	f := &tcpFlow{
		p: p, s: s, ts: cand.ts, m: g.m,
		client: front, clientRaw: c,
		target: backConn, targetRaw: back,
		idle: r.idle,
	}
	f.check = checkInterval(r.idle)
	start := time.Now()
	f.dirs[0] = dirState{quietSince: start, lastReturn: start}
	f.dirs[1] = f.dirs[0]
	if !s.add(f) {
		f.terminate("listener removed")
		return
	}
	cand.ts.addFlow(f)
	g.m.newFlows.Inc()
	g.m.activeFlows.Inc()
	if sent > 0 {
		g.m.bytes.Add(float64(sent))
	}
	f.run()
	cand.ts.removeFlow(f)
	s.remove(f)
	g.m.activeFlows.Dec()
}

// choose picks the target group and target of a client's new flow by the
// hash of its 5-tuple (or its source address, for source-IP stickiness);
// nil when there is none, counted as the load balancer's reset.
func (s *tcpSocket) choose(r *route, client netip.AddrPort) (*groupRoute, *candidate) {
	p := s.p
	h := p.flowHash(client, s.key.addr, protoTCP)
	g := r.pickGroup(p.groupHash(r, h, client.Addr()))
	if g == nil {
		r.lbm.elbResets.Inc()
		return nil, nil
	}
	if g.tg.s.StickySourceIP {
		h = p.sourceHash(client.Addr())
	}
	cand := g.pick(h)
	if cand == nil {
		p.log.Debug("no target for connection", "socket", s.key.String(), "targetGroup", g.tg.arn, "zone", r.zone)
		g.m.elbResets.Inc()
		return g, nil
	}
	return g, cand
}

func (s *tcpSocket) add(f flow) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.flows[f] = struct{}{}
	return true
}

func (s *tcpSocket) remove(f flow) {
	s.mu.Lock()
	delete(s.flows, f)
	s.mu.Unlock()
}

// targetTLSConfig returns the configuration towards TLS targets for a
// negotiated ALPN protocol.
func (r *route) targetTLSConfig(alpn string) *tls.Config {
	if c, ok := r.targetTLS[alpn]; ok {
		return c
	}
	if c, ok := r.targetTLS[""]; ok {
		return c
	}
	// A TCP listener forwarding to a TLS target group (the API refuses
	// this; the state may still hold it).
	return fallbackTargetTLS
}

// fallbackTargetTLS is the configuration towards TLS targets of a listener
// that is not TLS.
var fallbackTargetTLS = targetTLSConfigs("")[""]

// checkInterval is how often each direction of a flow wakes up to count
// its bytes and look for idleness: a quarter of the idle timeout (so a flow
// idle for the timeout ends within a quarter more), at most maxCheck.
func checkInterval(idle time.Duration) time.Duration {
	c := idle / 4
	if c > maxCheck {
		c = maxCheck
	}
	if c < 10*time.Millisecond {
		c = 10 * time.Millisecond
	}
	return c
}

// maxCheck bounds how late an open flow's bytes show in ProcessedBytes.
const maxCheck = 10 * time.Second

// tcpFlow is one client connection and its connection to a target.
type tcpFlow struct {
	p  *Plane
	s  *tcpSocket
	ts *targetState
	m  *pairMetrics

	client    net.Conn // the client connection, TLS-terminated for TLS listeners
	clientRaw *net.TCPConn
	target    net.Conn // the target connection, TLS for TLS target groups
	targetRaw *net.TCPConn

	idle  time.Duration
	check time.Duration

	closed atomic.Bool
	mu     sync.Mutex
	dirs   [2]dirState // 0: client to target, 1: target to client
	// segs is the sockets' received-segment count at the last idle look.
	segs      uint64
	segsKnown bool
}

// dirState is what one direction of a flow knows about its traffic.
type dirState struct {
	// quietSince is when bytes last moved (at the granularity of the
	// copy loop's returns); lastReturn is when the copy loop last looked.
	quietSince, lastReturn time.Time
	done                   bool
}

func (f *tcpFlow) run() {
	done := make(chan struct{})
	go func() {
		f.pipe(0)
		close(done)
	}()
	f.pipe(1)
	<-done
	f.finish()
}

// writerOnly hides a writer's ReadFrom, so that io.CopyBuffer uses the
// given buffer.
type writerOnly struct{ io.Writer }

// pipe copies one direction until it ends. Between two plain TCP
// connections the bytes move with splice(2) (TCPConn.ReadFrom of a
// LimitedReader over a TCPConn), never through user space. The copy wakes
// up at every chunk and at read deadlines to account for bytes and to
// detect an idle flow.
func (f *tcpFlow) pipe(i int) {
	var src, dst net.Conn
	if i == 0 {
		src, dst = f.client, f.target
	} else {
		src, dst = f.target, f.client
	}
	srcTCP, splice := src.(*net.TCPConn)
	dstTCP, ok := dst.(*net.TCPConn)
	splice = splice && ok
	var buf []byte
	if !splice {
		buf = make([]byte, 32<<10)
	}
	lr := &io.LimitedReader{}
	if splice {
		lr.R = srcTCP
	} else {
		lr.R = src
	}
	for {
		if f.closed.Load() {
			return
		}
		src.SetReadDeadline(time.Now().Add(f.check))
		lr.N = chunk
		var n int64
		var err error
		if splice {
			n, err = dstTCP.ReadFrom(lr)
		} else {
			n, err = io.CopyBuffer(writerOnly{dst}, lr, buf)
		}
		if n > 0 {
			f.m.bytes.Add(float64(n))
		}
		switch {
		case err == nil && lr.N == 0:
			f.note(i, true)
		case err == nil:
			// End of stream: pass the half-close on.
			f.note(i, n > 0)
			f.endDirection(i)
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			if f.note(i, n > 0) {
				f.idleOut()
				return
			}
		default:
			f.fail(i, err)
			return
		}
	}
}

// note records a return of direction i's copy loop and reports whether the
// whole flow has been idle for the idle timeout: no byte in either
// direction over one common window of that length (a direction that ended
// counts as quiet), and no segment at all from either peer since the last
// look. AWS counts any packet, TCP keepalive probes included, as activity;
// keepalives never reach user space, so the sockets' received-segment
// counters (TCP_INFO) stand for them.
func (f *tcpFlow) note(i int, active bool) bool {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	d := &f.dirs[i]
	d.lastReturn = now
	if active {
		d.quietSince = now
		return false
	}
	o := &f.dirs[1-i]
	start, end := d.quietSince, now
	if !o.done {
		if o.quietSince.After(start) {
			start = o.quietSince
		}
		if o.lastReturn.Before(end) {
			end = o.lastReturn
		}
	}
	if end.Sub(start) < f.idle {
		return false
	}
	segs, ok := f.segmentsIn()
	if !ok {
		return true
	}
	if f.segsKnown && segs == f.segs {
		return true
	}
	// First look, or the peers sent something (keepalives): the flow is
	// alive as of now.
	f.segs, f.segsKnown = segs, true
	f.dirs[0].quietSince, f.dirs[1].quietSince = now, now
	return false
}

// segmentsIn returns how many segments both sockets have received.
func (f *tcpFlow) segmentsIn() (uint64, bool) {
	if f.clientRaw == nil || f.targetRaw == nil {
		return 0, false
	}
	var n uint64
	for _, c := range []*net.TCPConn{f.clientRaw, f.targetRaw} {
		rc, err := c.SyscallConn()
		if err != nil {
			return 0, false
		}
		var ierr error = errors.New("no TCP_INFO")
		rc.Control(func(fd uintptr) {
			var ti *unix.TCPInfo
			if ti, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
				n += uint64(ti.Segs_in)
			}
		})
		if ierr != nil {
			return 0, false
		}
	}
	return n, true
}

// endDirection half-closes the destination of direction i after its source
// ended: a TLS destination gets close_notify, then the TCP connection a FIN.
func (f *tcpFlow) endDirection(i int) {
	f.mu.Lock()
	f.dirs[i].done = true
	last := f.dirs[1-i].done
	f.mu.Unlock()
	if last {
		// Both directions are over: finish closes the connections, which
		// sends the same FIN (or close_notify) without another syscall.
		return
	}
	dst, raw := f.target, f.targetRaw
	if i == 1 {
		dst, raw = f.client, f.clientRaw
	}
	if c, ok := dst.(*tls.Conn); ok {
		c.CloseWrite()
	}
	raw.CloseWrite()
}

// fail handles a copy error: a reset from one side is passed on to the
// other (counted as the client's or the target's reset); anything else
// ends the flow with resets from the load balancer.
func (f *tcpFlow) fail(i int, err error) {
	if f.closed.Load() {
		return
	}
	fromSrc := errors.Is(err, syscall.ECONNRESET)
	fromDst := errors.Is(err, syscall.EPIPE)
	clientSide := (i == 0 && fromSrc) || (i == 1 && fromDst)
	targetSide := (i == 1 && fromSrc) || (i == 0 && fromDst)
	switch {
	case clientSide:
		f.m.clientResets.Inc()
		f.abort(false, true, 0)
	case targetSide:
		f.m.targetResets.Inc()
		f.abort(true, false, 0)
	default:
		f.p.log.Debug("flow failed", "target", f.ts.key.id, "err", err)
		f.abort(true, true, 2)
	}
}

// idleOut ends a flow idle for the listener's idle timeout. AWS forgets
// such a flow and answers later packets with a reset; the local ELB resets
// both connections at once.
func (f *tcpFlow) idleOut() {
	f.p.log.Debug("flow idle timeout", "target", f.ts.key.id, "idle", f.idle)
	f.abort(true, true, 2)
}

// terminate ends the flow with resets both ways.
func (f *tcpFlow) terminate(reason string) {
	if f.abort(true, true, 2) {
		f.p.log.Debug("flow terminated", "target", f.ts.key.id, "reason", reason)
	}
}

// abort closes both connections, with resets on the sides asked, once.
func (f *tcpFlow) abort(resetClient, resetTarget bool, elbResets int) bool {
	if !f.closed.CompareAndSwap(false, true) {
		return false
	}
	f.countPackets()
	if resetClient {
		f.clientRaw.SetLinger(0)
	}
	if resetTarget {
		f.targetRaw.SetLinger(0)
	}
	f.clientRaw.Close()
	f.targetRaw.Close()
	if elbResets > 0 {
		f.m.elbResets.Add(float64(elbResets))
	}
	return true
}

// finish closes a flow whose both directions ended.
func (f *tcpFlow) finish() {
	if !f.closed.CompareAndSwap(false, true) {
		return
	}
	f.countPackets()
	f.client.Close()
	f.target.Close()
}

// countPackets adds the TCP segments both connections sent and received,
// from TCP_INFO.
func (f *tcpFlow) countPackets() {
	var n uint64
	for _, c := range []*net.TCPConn{f.clientRaw, f.targetRaw} {
		rc, err := c.SyscallConn()
		if err != nil {
			continue
		}
		rc.Control(func(fd uintptr) {
			if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				n += uint64(ti.Segs_in) + uint64(ti.Segs_out)
			}
		})
	}
	if n > 0 {
		f.m.packets.Add(float64(n))
	}
}
