//go:build linux

package nlb

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/elbowlb/elbow/internal/elb/dataplane/evloop"
)

// The TCP fast path: TCP listeners forwarding to TCP targets are served by
// a few event loops (one per GOMAXPROCS) instead of goroutines. The loops
// share each listening socket (EPOLLEXCLUSIVE: one loop wakes per new
// connection), and a flow lives on the loop that accepted it: both of its
// sockets are non-blocking and edge-triggered, bytes move through the
// loop's buffer as they arrive, and nothing blocks. What the loops do not
// do themselves (TLS listeners, TLS target groups, clients whose address
// is preserved but not local) they hand over, before reading a byte, to
// the goroutine path of tcp.go. The AWS behaviour is the same on both
// paths: target choice, client IP preservation, PROXY protocol v2, half
// closes, resets passed on, the idle timeout with keepalives counted,
// connection termination, and the metrics.

const (
	// loopTick is how often a loop looks at its flows' deadlines and
	// adds their bytes to the metrics.
	loopTick = 100 * time.Millisecond
	// loopBuf is the buffer a loop reads into.
	loopBuf = 64 << 10
	// acceptBatch is how many connections a loop accepts per wakeup
	// before it serves its flows again.
	acceptBatch = 64
	// listenBacklog is the listening sockets' backlog (capped by the
	// kernel's somaxconn).
	listenBacklog = 4096
)

// tcpLoop is one event loop of the plane and the flows it serves.
type tcpLoop struct {
	p     *Plane
	l     *evloop.Loop
	buf   []byte
	flows map[*loopFlow]struct{}
}

// tcpLoops returns the plane's event loops, started on first use; nil when
// they cannot run (the goroutine path serves everything then).
func (p *Plane) tcpLoops() []*tcpLoop {
	p.loopMu.Lock()
	defer p.loopMu.Unlock()
	if p.loopsOff || p.closed {
		return nil
	}
	if p.loops != nil {
		return p.loops
	}
	for range runtime.GOMAXPROCS(0) {
		tl := &tcpLoop{p: p, buf: make([]byte, loopBuf), flows: map[*loopFlow]struct{}{}}
		l, err := evloop.New(loopTick, tl.tick)
		if err != nil {
			p.log.Warn("NLB event loops not started; serving TCP flows with goroutines", "err", err)
			for _, o := range p.loops {
				o.l.Stop()
			}
			p.loops, p.loopsOff = nil, true
			return nil
		}
		tl.l = l
		p.loops = append(p.loops, tl)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			l.Run()
		}()
	}
	return p.loops
}

// stopLoops ends the event loops (their flows were terminated with their
// sockets).
func (p *Plane) stopLoops() {
	p.loopMu.Lock()
	loops := p.loops
	p.loops, p.loopsOff = nil, true
	p.loopMu.Unlock()
	for _, tl := range loops {
		tl.l.Stop()
		for f := range tl.flows {
			f.abort(true, true, 0)
		}
	}
}

// listenTCPLoops opens a listening socket that the loops accept on.
func (p *Plane) listenTCPLoops(k sockKey, r *route, loops []*tcpLoop) (socket, error) {
	fd, err := listenFD(k.addr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(k.addr), Err: err}
	}
	s := &tcpSocket{p: p, key: k, lfd: fd, loops: loops, flows: map[flow]struct{}{}}
	s.route.Store(r)
	for _, tl := range loops {
		a := &loopAcceptor{s: s, tl: tl}
		if !tl.post(func() {
			if err := tl.l.Add(fd, evloop.Listening, a); err != nil {
				p.log.Warn("event loop cannot accept", "socket", k.String(), "err", err)
			}
		}) {
			unix.Close(fd)
			return nil, errors.New("event loops stopped")
		}
	}
	p.log.Info("listening", "socket", k.String(), "loadBalancer", r.lbARN, "listener", r.listenerARN, "protocol", r.protocol, "zone", r.zone)
	return s, nil
}

// closeLoopListener takes the listening socket out of every loop, then
// closes it.
func (s *tcpSocket) closeLoopListener() {
	for _, tl := range s.loops {
		done := make(chan struct{})
		if tl.post(func() {
			tl.l.Del(s.lfd)
			close(done)
		}) {
			<-done
		}
	}
	unix.Close(s.lfd)
}

// post runs f on the loop; false when the loop has stopped.
func (tl *tcpLoop) post(f func()) bool { return tl.l.Post(f) }

// listenFD opens a non-blocking listening socket. TCP_NODELAY is set on
// it: accepted connections inherit it.
func listenFD(addr netip.AddrPort) (int, error) {
	family := unix.AF_INET
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (int, error) {
		unix.Close(fd)
		return -1, os.NewSyscallError(op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.Bind(fd, sockaddr(addr)); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		return fail("listen", err)
	}
	return fd, nil
}

// sockaddr is an address in the form the socket calls take.
func sockaddr(a netip.AddrPort) unix.Sockaddr {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
}

// loopAcceptor accepts a listening socket's connections on one loop.
type loopAcceptor struct {
	s  *tcpSocket
	tl *tcpLoop
}

func (a *loopAcceptor) OnEvent(uint32) {
	for range acceptBatch {
		fd, client, err := evloop.Accept(a.s.lfd)
		switch {
		case err == nil:
			a.s.startLoopFlow(a.tl, fd, client)
			continue
		case err == unix.EINTR || err == unix.ECONNABORTED:
			continue
		case err != unix.EAGAIN:
			// Out of descriptors and the like: the listening socket
			// stays readable and wakes a loop again.
			a.s.p.log.Warn("accept failed", "socket", a.s.key.String(), "err", err)
		}
		return
	}
}

// handOff gives a connection to the goroutine path, before any byte of it
// was read.
func (s *tcpSocket) handOff(fd int) {
	f := os.NewFile(uintptr(fd), "")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		s.p.log.Debug("connection not handed over", "socket", s.key.String(), "err", err)
		return
	}
	s.p.wg.Add(1)
	go s.handle(c.(*net.TCPConn))
}

// startLoopFlow starts a flow for an accepted connection: it chooses the
// target and connects to it, without waiting.
func (s *tcpSocket) startLoopFlow(tl *tcpLoop, fd int, client netip.AddrPort) {
	p := s.p
	r := s.route.Load()
	if r.protocol == "TLS" {
		s.handOff(fd)
		return
	}
	if !r.policy.Allow("tcp", r.port, client.Addr()) {
		p.log.Debug("connection refused by security groups", "socket", s.key.String(), "client", client)
		evloop.Reset(fd)
		r.lbm.elbResets.Inc()
		return
	}
	g, cand := s.choose(r, client)
	if cand == nil {
		evloop.Reset(fd)
		return
	}
	if g.tg.tls {
		s.handOff(fd)
		return
	}
	src := r.source
	preserve := g.tg.s.PreserveClientIP && client.Addr().Is4() == cand.addr.Addr().Is4()
	if preserve {
		src = client.Addr()
	}
	tfd, err := connectFD(src, cand.addr)
	if err != nil {
		if preserve && errors.Is(err, unix.EADDRNOTAVAIL) {
			// A client address that is not local: the goroutine path
			// knows IP_TRANSPARENT and its fallback.
			s.handOff(fd)
			return
		}
		p.log.Debug("connection to target failed", "target", cand.addr, "err", err)
		if errors.Is(err, unix.ECONNREFUSED) {
			g.m.targetResets.Inc()
		} else {
			g.m.elbResets.Inc()
		}
		evloop.Reset(fd)
		return
	}
	now := tl.l.Now()
	f := &loopFlow{tl: tl, s: s, ts: cand.ts, m: g.m, idle: r.idle, started: now, lastActive: now, target: cand.addr}
	f.ends[0] = flowEnd{f: f, i: 0, fd: fd}
	f.ends[1] = flowEnd{f: f, i: 1, fd: tfd}
	if g.tg.s.ProxyProtocolV2 {
		hdr, err := p.proxyHeader("tcp", client, s.key.addr)
		if err != nil {
			p.log.Debug("PROXY header not sent", "target", cand.addr, "err", err)
			evloop.Reset(fd)
			evloop.Reset(tfd)
			g.m.elbResets.Inc()
			return
		}
		// The header goes first, once the target's connection is up.
		f.ends[1].pending = hdr
		f.bytes += int64(len(hdr))
	}
	if err := tl.l.Add(fd, evloop.EdgeTriggered, &f.ends[0]); err != nil {
		evloop.Reset(fd)
		evloop.Reset(tfd)
		g.m.elbResets.Inc()
		return
	}
	if err := tl.l.Add(tfd, evloop.EdgeTriggered, &f.ends[1]); err != nil {
		tl.l.Forget(fd)
		evloop.Reset(fd)
		evloop.Reset(tfd)
		g.m.elbResets.Inc()
		return
	}
	tl.flows[f] = struct{}{}
	if !s.add(f) {
		f.abort(true, true, 0)
		return
	}
	cand.ts.addFlow(f)
	f.counted = true
	g.m.newFlows.Inc()
	g.m.activeFlows.Inc()
}

// connectFD starts a connection to dst from src (port chosen at connect
// time, IP_BIND_ADDRESS_NO_PORT, so one source address serves many
// targets), without waiting for it.
func connectFD(src netip.Addr, dst netip.AddrPort) (int, error) {
	fd, err := evloop.Socket(dst.Addr())
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (int, error) {
		evloop.Close(fd)
		return -1, os.NewSyscallError(op, err)
	}
	if dst.Addr().Unmap().Is4() {
		evloop.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	}
	if err := evloop.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	if src.IsValid() {
		if err := evloop.Bind(fd, netip.AddrPortFrom(src, 0)); err != nil {
			return fail("bind", err)
		}
	}
	if err := evloop.Connect(fd, dst); err != nil && err != unix.EINPROGRESS {
		return fail("connect", err)
	}
	return fd, nil
}

// loopFlow is one client connection and its connection to a target,
// served by an event loop. Only its loop touches it, but for terminate.
type loopFlow struct {
	tl     *tcpLoop
	s      *tcpSocket
	ts     *targetState
	m      *pairMetrics
	target netip.AddrPort
	idle   time.Duration
	ends   [2]flowEnd // 0: the client's connection, 1: the target's

	connected bool // the target accepted the connection
	closed    bool
	counted   bool // in the flow metrics and registries
	started   time.Time
	// lastActive is when a byte last moved, either way (or the peers
	// were last seen sending keepalives).
	lastActive time.Time
	bytes      int64 // moved, not yet added to the metric
	segs       uint64
	segsKnown  bool
}

// flowEnd is one of a flow's sockets.
type flowEnd struct {
	f  *loopFlow
	i  int
	fd int
	// readable: an edge said there is something to read, and reads
	// have not drained it yet. rdhup: the peer sent FIN (a short read
	// then means the end of its data).
	readable, rdhup bool
	eof             bool   // the peer's data ended
	pending         []byte // read from the other end, not yet written here
	shut            bool   // the other end's EOF passed on (SHUT_WR)
	// pipe carries a bulk flow's bytes from the other end to this one
	// with splice (no copy through the loop): made when a read fills
	// the loop's buffer; piped bytes are in it, not yet written here.
	pipe    [2]int
	pipeCap int
	piped   int
}

func (e *flowEnd) OnEvent(ev uint32) { e.f.onEvent(e.i, ev) }

const errEvents = unix.EPOLLERR | unix.EPOLLHUP

func (f *loopFlow) onEvent(i int, ev uint32) {
	if f.closed {
		return
	}
	if i == 1 && !f.connected {
		if ev&errEvents != 0 {
			f.connectFailed()
			return
		}
		if ev&unix.EPOLLOUT == 0 {
			return
		}
		f.connected = true
	}
	e := &f.ends[i]
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|errEvents) != 0 {
		e.readable = true
	}
	if ev&unix.EPOLLRDHUP != 0 {
		e.rdhup = true
	}
	if !f.connected {
		return
	}
	f.pump(i)
	if !f.closed {
		f.pump(1 - i)
	}
}

// connectFailed ends a flow whose target refused or could not be reached.
func (f *loopFlow) connectFailed() {
	err := evloop.SockError(f.ends[1].fd)
	f.s.p.log.Debug("connection to target failed", "target", f.target, "err", err)
	if errors.Is(err, unix.ECONNREFUSED) {
		f.m.targetResets.Inc()
		f.abort(true, false, 0)
		return
	}
	f.abort(true, true, 1)
}

// pump moves what end from has received to the other end: first what
// waits there from before, then what can be read, until a read drains
// the socket or the other end is full. The end of from's data is passed
// on as a half close; once both directions ended the flow closes.
func (f *loopFlow) pump(from int) {
	src, dst := &f.ends[from], &f.ends[1-from]
	if dst.pipe[0] != 0 {
		if !f.splice(from) {
			return
		}
	} else if len(dst.pending) > 0 {
		n, err := evloop.Write(dst.fd, dst.pending)
		if err != nil && err != unix.EAGAIN {
			f.writeFailed(from, err)
			return
		}
		dst.pending = dst.pending[n:]
		if len(dst.pending) > 0 {
			// The destination is full: its next EPOLLOUT resumes.
			return
		}
		dst.pending = nil
	}
	buf := f.tl.buf
	for src.readable && !src.eof {
		n, err := evloop.Read(src.fd, buf)
		if err == unix.EAGAIN {
			src.readable = false
			break
		}
		if err != nil {
			f.readFailed(from, err)
			return
		}
		if n == 0 {
			src.eof = true
			break
		}
		f.bytes += int64(n)
		f.lastActive = f.tl.l.Now()
		w, err := evloop.Write(dst.fd, buf[:n])
		if err != nil && err != unix.EAGAIN {
			f.writeFailed(from, err)
			return
		}
		if w < n {
			dst.pending = append([]byte(nil), buf[max(w, 0):n]...)
			return
		}
		if n < len(buf) {
			// Drained: after the peer's FIN, that was the last of it.
			if src.rdhup {
				src.eof = true
			} else {
				src.readable = false
			}
			break
		}
		// A full buffer: a bulk transfer, which splice moves on. When no
		// pipe can be made the buffer carries on: the socket is not
		// drained, and its edge-triggered readiness comes only once.
		if !f.tl.newPipe(dst) {
			continue
		}
		if !f.splice(from) {
			return
		}
		break
	}
	if src.eof && !dst.shut && dst.piped == 0 {
		dst.shut = true
		if f.ends[from].shut && len(f.ends[from].pending) == 0 {
			// Both directions are over: closing sends the last FIN.
			f.finish()
			return
		}
		evloop.Shutdown(dst.fd, unix.SHUT_WR)
	}
}

// Splicing: a bulk direction's bytes go from the source socket into a
// pipe and from the pipe to the destination socket, as page references
// (splice(2)), never through the loop.
const (
	pipeSize    = 1 << 20
	spliceFlags = unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK
)

// newPipe gives an end the pipe that feeds it; false when none can be
// made (the loop's buffer carries on).
func (tl *tcpLoop) newPipe(e *flowEnd) bool {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return false
	}
	size, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil {
		size, err = unix.FcntlInt(uintptr(p[0]), unix.F_GETPIPE_SZ, 0)
	}
	if err != nil || size <= 0 {
		evloop.Close(p[0])
		evloop.Close(p[1])
		return false
	}
	e.pipe, e.pipeCap = p, size
	return true
}

// splice moves direction from's bytes through the destination's pipe: what
// the pipe holds, then what the source has, until the source is drained or
// the destination full. It reports whether the flow goes on (false: it
// ended, or waits for the destination).
func (f *loopFlow) splice(from int) bool {
	src, dst := &f.ends[from], &f.ends[1-from]
	for {
		if dst.piped > 0 {
			n, err := unix.Splice(dst.pipe[0], nil, dst.fd, nil, dst.piped, spliceFlags)
			if err != nil && err != unix.EAGAIN {
				f.writeFailed(from, err)
				return false
			}
			if n > 0 {
				dst.piped -= int(n)
			}
			if dst.piped > 0 {
				// The destination is full: its next EPOLLOUT resumes.
				return false
			}
		}
		if !src.readable || src.eof {
			return true
		}
		// A move shorter than asked does not say the source is drained
		// (a non-blocking splice returns after its first batch of
		// segments): only EAGAIN does.
		n, err := unix.Splice(src.fd, nil, dst.pipe[1], nil, dst.pipeCap, spliceFlags)
		switch {
		case err == unix.EAGAIN:
			src.readable = false
			return true
		case err != nil:
			f.readFailed(from, err)
			return false
		case n == 0:
			src.eof = true
			return true
		}
		dst.piped += int(n)
		f.bytes += n
		f.lastActive = f.tl.l.Now()
	}
}

// readFailed handles a read error on end from: a reset is passed on to
// the other side (counted as the client's or the target's); anything else
// ends the flow with resets from the load balancer.
func (f *loopFlow) readFailed(from int, err error) {
	if errors.Is(err, unix.ECONNRESET) {
		f.peerReset(from)
		return
	}
	f.s.p.log.Debug("flow failed", "target", f.ts.key.id, "err", err)
	f.abort(true, true, 2)
}

// writeFailed handles a write error towards the end other than from.
func (f *loopFlow) writeFailed(from int, err error) {
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		f.peerReset(1 - from)
		return
	}
	f.s.p.log.Debug("flow failed", "target", f.ts.key.id, "err", err)
	f.abort(true, true, 2)
}

// peerReset passes a reset from one side on to the other.
func (f *loopFlow) peerReset(side int) {
	if side == 0 {
		f.m.clientResets.Inc()
		f.abort(false, true, 0)
		return
	}
	f.m.targetResets.Inc()
	f.abort(true, false, 0)
}

// finish closes a flow whose both directions ended.
func (f *loopFlow) finish() {
	f.end(false, false)
}

// abort closes both connections, with resets on the sides asked, once.
func (f *loopFlow) abort(resetClient, resetTarget bool, elbResets int) {
	if f.closed {
		return
	}
	if elbResets > 0 {
		f.m.elbResets.Add(float64(elbResets))
	}
	f.end(resetClient, resetTarget)
}

// end closes the flow's sockets, counts its packets and bytes, and takes
// it out of the registries.
func (f *loopFlow) end(resetClient, resetTarget bool) {
	if f.closed {
		return
	}
	f.closed = true
	var n uint64
	for i := range f.ends {
		if ti, err := evloop.TCPInfo(f.ends[i].fd); err == nil {
			n += uint64(ti.Segs_in) + uint64(ti.Segs_out)
		}
	}
	if n > 0 {
		f.m.packets.Add(float64(n))
	}
	for i, reset := range []bool{resetClient, resetTarget} {
		fd := f.ends[i].fd
		if p := f.ends[i].pipe; p[0] != 0 {
			evloop.Close(p[0])
			evloop.Close(p[1])
		}
		f.tl.l.Forget(fd)
		if reset {
			evloop.Reset(fd)
		} else {
			evloop.Close(fd)
		}
	}
	if f.bytes > 0 {
		f.m.bytes.Add(float64(f.bytes))
		f.bytes = 0
	}
	delete(f.tl.flows, f)
	if f.counted {
		f.ts.removeFlow(f)
		f.s.remove(f)
		f.m.activeFlows.Dec()
	}
}

// terminate ends the flow with resets both ways; from any goroutine.
func (f *loopFlow) terminate(reason string) {
	f.tl.post(func() {
		if !f.closed {
			f.s.p.log.Debug("flow terminated", "target", f.ts.key.id, "reason", reason)
			f.abort(true, true, 2)
		}
	})
}

// tick adds the flows' bytes to the metrics, and ends flows whose target
// did not answer the connection in time, or that stayed idle for their
// idle timeout: no byte either way, and no segment (keepalives count, as
// AWS counts every packet) from either peer.
func (tl *tcpLoop) tick() {
	now := tl.l.Now()
	for f := range tl.flows {
		if f.bytes > 0 {
			f.m.bytes.Add(float64(f.bytes))
			f.bytes = 0
		}
		if !f.connected {
			if now.Sub(f.started) >= dialTimeout {
				f.s.p.log.Debug("connection to target timed out", "target", f.target)
				f.abort(true, true, 1)
			}
			continue
		}
		if now.Sub(f.lastActive) < f.idle {
			continue
		}
		var segs uint64
		for i := range f.ends {
			if ti, err := evloop.TCPInfo(f.ends[i].fd); err == nil {
				segs += uint64(ti.Segs_in)
			}
		}
		if !f.segsKnown || segs != f.segs {
			// First look, or the peers sent something: alive as of now.
			f.segs, f.segsKnown = segs, true
			f.lastActive = now
			continue
		}
		f.s.p.log.Debug("flow idle timeout", "target", f.ts.key.id, "idle", f.idle)
		f.abort(true, true, 2)
	}
}
