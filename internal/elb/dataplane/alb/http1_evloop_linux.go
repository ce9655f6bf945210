//go:build linux

package alb

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/dataplane/evloop"
)

// The event loop serves plain HTTP/1.1 connections without a goroutine
// per connection: a few threads (one per GOMAXPROCS) each wait on an
// epoll set of client and target sockets and move bytes between them as
// they become ready, the way nginx's workers do. Requests are parsed,
// routed and rewritten by the same code as in the goroutine loop
// (exchange); what the event loop does not do itself (request bodies in
// chunked encoding, Expect: 100-continue, WebSocket upgrades, HTTPS
// targets, answering requests that carry a body) it hands over, with the
// bytes it has read, to a goroutine loop, for that request and the rest of
// the connection.
//
// Sockets are non-blocking and edge-triggered; a connection never waits
// on a read that cannot succeed: a read that returns less than asked
// means the socket is drained, and the next edge says when there is more.

const (
	evInBuf       = 16 << 10  // initial read buffer of a connection
	evMaxOut      = 256 << 10 // client output buffered before reading from the target pauses
	evSweep       = 100 * time.Millisecond
	evEvents      = 256
	maxHeadBuffer = maxHeadBytes + maxLineBytes + 4
)

// evMask is the events sockets are registered for, edge-triggered.
const evMask = uint32(syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP) | 1<<31 // EPOLLET

// evLoop is one event loop thread.
type evLoop struct {
	p    *Plane
	epfd int
	efd  int // eventfd: wakes the loop for new connections and shutdown

	mu    sync.Mutex
	inbox []*loopConn
	quit  atomic.Bool
	done  chan struct{}

	fds    []evObj // by file descriptor
	conns  map[*loopConn]struct{}
	idle   map[*pool][]*loopTargetConn // kept-alive target connections, per pool
	now    time.Time
	last   time.Time // last sweep
	waiter evloop.Waiter
}

// evObj is a socket the loop serves.
type evObj interface {
	onEvent(events uint32)
}

// startLoops starts the event loops, one per GOMAXPROCS.
func startLoops(p *Plane) ([]*evLoop, error) {
	n := runtime.GOMAXPROCS(0)
	var loops []*evLoop
	for i := 0; i < n; i++ {
		l, err := newLoop(p)
		if err != nil {
			for _, o := range loops {
				o.stop()
			}
			return nil, err
		}
		loops = append(loops, l)
		go l.run()
	}
	return loops, nil
}

func newLoop(p *Plane) (*evLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	l := &evLoop{p: p, epfd: epfd, efd: int(efd), done: make(chan struct{}), conns: map[*loopConn]struct{}{}, idle: map[*pool][]*loopTargetConn{}}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(efd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(efd), &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(int(efd))
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// wake interrupts the loop's wait.
func (l *evLoop) wake() {
	one := uint64(1)
	syscall.Write(l.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
}

// stop ends the loop after closing its connections.
func (l *evLoop) stop() {
	l.quit.Store(true)
	l.wake()
	<-l.done
}

// add hands a client connection to the loop.
func (l *evLoop) add(c *loopConn) {
	l.mu.Lock()
	l.inbox = append(l.inbox, c)
	l.mu.Unlock()
	l.wake()
}

func (l *evLoop) register(fd int, o evObj) error {
	for fd >= len(l.fds) {
		l.fds = append(l.fds, make([]evObj, len(l.fds)+64)...)
	}
	l.fds[fd] = o
	ev := syscall.EpollEvent{Events: evMask, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.fds[fd] = nil
		return err
	}
	return nil
}

// forget closes a socket of the loop.
func (l *evLoop) forget(fd int) {
	if fd >= 0 && fd < len(l.fds) {
		l.fds[fd] = nil
	}
	syscall.Close(fd)
}

func (l *evLoop) run() {
	defer close(l.done)
	events := make([]syscall.EpollEvent, evEvents)
	l.now = time.Now()
	l.last = l.now
	for {
		// Keep the P while events come quickly; block only when idle.
		n, err := l.waiter.Wait(l.epfd, events, evSweep)
		l.now = time.Now()
		if err != nil && err != syscall.EINTR {
			l.p.log.Error("ALB event loop", "err", err)
			break
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == l.efd {
				var buf [8]byte
				syscall.Read(l.efd, buf[:])
				l.takeInbox()
				continue
			}
			if fd < len(l.fds) {
				if o := l.fds[fd]; o != nil {
					o.onEvent(events[i].Events)
				}
			}
		}
		if l.quit.Load() {
			break
		}
		if l.now.Sub(l.last) >= evSweep {
			l.sweep()
			l.last = l.now
		}
	}
	for c := range l.conns {
		c.close()
	}
	for _, ups := range l.idle {
		for _, u := range ups {
			u.close()
		}
	}
	l.mu.Lock()
	for _, c := range l.inbox {
		syscall.Close(c.fd)
		c.s.loopConns.Add(-1)
		c.lbm.active.Dec()
	}
	l.inbox = nil
	l.mu.Unlock()
	syscall.Close(l.epfd)
	syscall.Close(l.efd)
}

func (l *evLoop) takeInbox() {
	l.mu.Lock()
	in := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, c := range in {
		c.l = l
		if err := l.register(c.fd, c); err != nil {
			syscall.Close(c.fd)
			c.s.loopConns.Add(-1)
			c.lbm.active.Dec()
			continue
		}
		l.conns[c] = struct{}{}
		c.setIdle(l.now)
		c.onEvent(syscall.EPOLLIN)
	}
}

// sweep enforces deadlines, closes idle connections of listeners that are
// gone and kept-alive target connections past the idle timeout.
func (l *evLoop) sweep() {
	for c := range l.conns {
		if c.state == evIdle && c.s.isClosing() && c.inW == c.inR {
			c.close()
			continue
		}
		if !c.deadline.IsZero() && l.now.After(c.deadline) {
			c.onTimeout()
		}
	}
	for pl, ups := range l.idle {
		kept := ups[:0]
		closed := pl.isClosed()
		for _, u := range ups {
			if closed || l.now.Sub(u.idleAt) >= u.maxIdle {
				u.close()
				continue
			}
			kept = append(kept, u)
		}
		if len(kept) == 0 {
			delete(l.idle, pl)
		} else {
			l.idle[pl] = kept
		}
	}
}

// Client connection states.
const (
	evIdle     uint8 = iota // waiting for (the rest of) a request head
	evSend                  // writing the request to the target (connecting first)
	evReqBody               // forwarding the request body
	evWait                  // waiting for the response head
	evRespBody              // relaying the response body
	evClosing               // writing the last response, then closing
)

// loopConn is a client connection served by an event loop (the fast path).
type loopConn struct {
	exchange
	l  *evLoop
	fd int
	sc *sockCfg

	in       []byte
	inR, inW int
	scanFrom int
	peerEOF  bool
	out      []byte
	outPos   int

	lbm      *lbMetrics
	drained  bool // the last read emptied the socket
	state    uint8
	deadline time.Time
	d        decision
	up       *loopTargetConn
	inflight bool // d.b's in-flight count includes this request
	attempt  int
	reqLeft  int64
	start    time.Time
	sentAt   time.Time
	gotAt    time.Time

	body        body // the response body being relayed
	clientClose bool
	upReusable  bool
	paused      bool
	active      bool
}

func (c *loopConn) onEvent(ev uint32) {
	if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		c.onReadable()
	}
	if ev&syscall.EPOLLOUT != 0 && c.fd >= 0 {
		c.flush()
	}
}

// setIdle waits for the next request.
func (c *loopConn) setIdle(now time.Time) {
	c.state = evIdle
	sc := c.s.cur.Load()
	idle := 60 * time.Second
	if sc != nil {
		idle = sc.LB.IdleTimeout
	}
	c.deadline = now.Add(idle)
	if c.active {
		c.active = false
		c.s.loopActive.Add(-1)
	}
}

// readIn reads what the socket holds into the input buffer.
func (c *loopConn) readIn() {
	for !c.peerEOF {
		if c.inR == c.inW {
			c.inR, c.inW, c.scanFrom = 0, 0, 0
		}
		if c.inW == len(c.in) {
			if c.inR > 0 {
				copy(c.in, c.in[c.inR:c.inW])
				c.inW -= c.inR
				c.scanFrom = max(c.scanFrom-c.inR, 0)
				c.inR = 0
			} else if len(c.in) < maxHeadBuffer && c.state == evIdle {
				c.in = append(c.in, make([]byte, len(c.in))...)
			} else {
				return // full: read again once consumed
			}
		}
		n, err := evloop.Read(c.fd, c.in[c.inW:])
		if n > 0 {
			c.inW += n
			c.rx += int64(n)
		}
		switch {
		case err == syscall.EAGAIN:
			c.drained = true
			return
		case err == syscall.EINTR:
			continue
		case err != nil || n == 0:
			c.peerEOF = true
			return
		case c.inW < len(c.in):
			c.drained = true // a short read: the socket is drained
			return
		}
	}
}

func (c *loopConn) onReadable() {
	if c.fd < 0 {
		return
	}
	c.drained = false
	before := c.rx
	c.readIn()
	switch c.state {
	case evIdle:
		if c.rx > before {
			// ALB counts a connection idle when no byte moves: a head
			// that arrives slowly, byte after byte, is not cut at the
			// idle timeout from its start
			c.setIdle(c.l.now)
		}
		c.process()
	case evReqBody:
		c.pump()
	case evWait, evRespBody, evSend:
		if c.peerEOF {
			// The client went away with its request in flight (HTTP
			// 460).
			c.d.e.elbStatus, c.d.e.errReason = 460, "ClientClosed"
			c.abortUp()
			c.finish(c.sc, c.d.e, c.d.pm)
			c.close()
		}
	case evClosing:
		if c.peerEOF && c.outPos == len(c.out) {
			c.close()
		}
	}
}

// process serves the requests in the input buffer, one after the other.
func (c *loopConn) process() {
	for c.fd >= 0 && c.state == evIdle {
		// Empty lines before a request line are ignored.
		for c.inR < c.inW && (c.in[c.inR] == '\r' || c.in[c.inR] == '\n') {
			c.inR++
		}
		if c.inR == c.inW {
			if c.peerEOF {
				c.close()
			}
			return
		}
		end := headEnd(c.in[c.inR:c.inW], c.scanFrom)
		if end < 0 {
			c.scanFrom = max(c.inW-c.inR-3, 0)
			if firstLineTooLong(c.in[c.inR:c.inW]) {
				c.refuseNow(errLineTooLong.status)
				return
			}
			if c.inW-c.inR >= maxHeadBuffer-1 {
				c.refuseNow(400)
				return
			}
			if c.peerEOF {
				c.close()
				return
			}
			if !c.drained {
				// Reading stopped on a full buffer: read on.
				before := c.inW - c.inR
				c.readIn()
				if c.inW-c.inR > before || c.peerEOF {
					continue
				}
			}
			return
		}
		c.scanFrom = 0
		headStart := c.inR
		sr := sliceReader{b: c.in[c.inR : c.inR+end]}
		err := readRequest(&sr, &c.req)
		c.start = c.l.now
		sc := c.s.cur.Load()
		if sc == nil || sc.Protocol != "HTTP" {
			c.close()
			return
		}
		c.sc = sc
		if err != nil {
			var he *httpError
			if errors.As(err, &he) {
				c.refuseNow(he.status)
			} else {
				c.refuseNow(400)
			}
			return
		}
		req := &c.req
		if req.chunked || req.upgrade != nil || req.expect100 || req.ambiguous {
			c.handoff(headStart)
			return
		}
		c.inR += end
		c.active = true
		c.s.loopActive.Add(1)
		d := c.decide(sc, c.start, &c.d)
		if d.Kind == routing.Respond {
			if req.contentLength > 0 {
				c.inR = headStart
				c.handoff(headStart)
				return
			}
			c.respond(d)
			continue
		}
		if d.Target.TLS {
			c.inR = headStart
			c.handoff(headStart)
			return
		}
		c.reqLeft = max(req.contentLength, 0)
		c.attempt = 0
		c.send()
	}
}

// respond writes a response of the load balancer's.
func (c *loopConn) respond(d *decision) {
	c.appendELB((*outBuf)(&c.out), c.sc, d)
	c.finish(c.sc, d.e, d.pm)
	if d.Close {
		c.state = evClosing
		c.deadline = c.l.now.Add(c.sc.LB.IdleTimeout)
	} else {
		c.setIdle(c.l.now)
	}
	c.flush()
}

// refuseNow answers a request the load balancer could not read, then
// closes.
func (c *loopConn) refuseNow(code int) {
	sc := c.sc
	if sc == nil {
		sc = c.s.cur.Load()
		if sc == nil {
			c.close()
			return
		}
		c.sc = sc
	}
	if !c.active {
		c.active = true
		c.s.loopActive.Add(1)
	}
	d := c.refusal(sc, c.l.now, code, &c.d)
	c.inR = c.inW
	c.respond(d)
}

// send forwards the request to its target: a kept-alive connection of the
// loop's, or a new one.
func (c *loopConn) send() {
	sc, d := c.sc, &c.d
	b := d.Target
	pl := c.p.conns.get(b, sc.src)
	up := c.l.getUp(pl, sc.LB.IdleTimeout)
	if up == nil {
		var err error
		up, err = c.l.dialUp(pl, sc.LB.IdleTimeout)
		if err != nil {
			d.pm.connErrors.Inc()
			d.e.errReason = "TargetConnectionError"
			c.failNow(502)
			return
		}
	}
	if !c.inflight {
		b.Inflight.Add(1)
		c.inflight = true
	}
	up.owner = c
	c.up = up
	up.out = up.out[:0]
	up.outPos = 0
	c.writeUpstreamHead((*outBuf)(&up.out), sc, d, false)
	// The part of the body already received goes with the head.
	if c.reqLeft > 0 {
		n := min(c.reqLeft, int64(c.inW-c.inR))
		up.out = append(up.out, c.in[c.inR:c.inR+int(n)]...)
		c.inR += int(n)
		c.reqLeft -= n
	}
	d.e.reqProc = c.l.now.Sub(c.start)
	c.state = evSend
	if up.connecting {
		c.deadline = c.l.now.Add(connectTimeout)
		return
	}
	c.pump()
}

// pump writes the request to the target: the head, then the body as the
// client sends it. When the whole request is sent it waits for the
// response.
func (c *loopConn) pump() {
	up := c.up
	for up != nil && c.up == up {
		if up.outPos < len(up.out) {
			done, err := up.write()
			if err != nil {
				c.upFailed(up, err)
				return
			}
			if !done {
				return // the target's window is full: wait for EPOLLOUT
			}
		}
		if c.reqLeft > 0 {
			c.state = evReqBody
			c.deadline = c.l.now.Add(c.sc.LB.IdleTimeout)
			if c.inR == c.inW && !c.drained && !c.peerEOF {
				c.readIn()
			}
			n := min(c.reqLeft, int64(c.inW-c.inR))
			if n == 0 {
				if c.peerEOF {
					// The client stopped sending its body.
					c.d.e.elbStatus = 460
					c.abortUp()
					c.finish(c.sc, c.d.e, c.d.pm)
					c.close()
				}
				return // wait for the client
			}
			up.out = append(up.out[:0], c.in[c.inR:c.inR+int(n)]...)
			up.outPos = 0
			c.inR += int(n)
			c.reqLeft -= n
			continue
		}
		c.state = evWait
		c.sentAt = time.Now()
		c.deadline = c.sentAt.Add(c.sc.LB.IdleTimeout)
		if c.peerEOF {
			c.onReadable()
			return
		}
		if up.inW > up.inR || up.eof {
			c.onUpData()
		}
		return
	}
}

// upFailed handles a target connection that failed before the response
// head arrived: a reused connection the target had closed is replaced
// once for a request without body; otherwise the client gets 502.
func (c *loopConn) upFailed(up *loopTargetConn, err error) {
	bodyless := c.req.contentLength <= 0
	c.up = nil
	up.owner = nil
	up.close()
	if up.reused && c.attempt == 0 && bodyless && c.state != evRespBody {
		c.attempt++
		c.send()
		return
	}
	if c.state == evRespBody {
		// The response was under way: the client connection closes.
		c.d.e.errReason = "TargetResponseError"
		c.release()
		c.finish(c.sc, c.d.e, c.d.pm)
		c.close()
		return
	}
	c.d.e.errReason = "TargetConnectionError"
	if c.state == evWait {
		c.d.e.errReason = "TargetResponseError"
	}
	c.failNow(502)
}

// failNow answers with an ELB error after a target failure.
func (c *loopConn) failNow(code int) {
	d := &c.d
	c.abortUp()
	c.release()
	d.Close = d.Close || c.reqLeft > 0 || c.req.contentLength > 0
	d.Page(code)
	c.respond(d)
}

// abortUp drops the request's target connection.
func (c *loopConn) abortUp() {
	if c.up != nil {
		c.up.owner = nil
		c.up.close()
		c.up = nil
	}
	c.release()
}

// release takes the request out of its target's in-flight count.
func (c *loopConn) release() {
	if c.inflight {
		c.inflight = false
		c.d.Target.Inflight.Add(-1)
	}
}

// onUpData consumes what the target sent.
func (c *loopConn) onUpData() {
	up := c.up
	switch c.state {
	case evWait:
		for {
			end := headEnd(up.in[up.inR:up.inW], 0)
			if end < 0 {
				if up.inW-up.inR >= maxHeadBuffer-1 {
					c.d.e.errReason = "TargetResponseError"
					c.failNow(502)
					return
				}
				if up.eof {
					if up.inW == up.inR {
						c.upFailed(up, errUpstreamEOF)
						return
					}
					c.d.e.errReason = "TargetResponseError"
					c.failNow(502)
				}
				return
			}
			sr := sliceReader{b: up.in[up.inR : up.inR+end]}
			if err := readResponse(&sr, &c.resp); err != nil {
				c.d.e.errReason = "TargetResponseError"
				c.failNow(502)
				return
			}
			up.inR += end
			if c.resp.status >= 200 {
				break
			}
			if c.resp.status == 101 {
				c.d.e.errReason = "TargetResponseError"
				c.failNow(502)
				return
			}
		}
		c.startResponse()
	case evRespBody:
		c.relay()
	}
}

var errUpstreamEOF = errors.New("target closed the connection")

// startResponse writes the response head to the client and starts the
// body relay.
func (c *loopConn) startResponse() {
	d, resp := &c.d, &c.resp
	c.gotAt = time.Now()
	e := d.e
	e.targetProc = c.gotAt.Sub(c.sentAt)
	e.targetStatus = resp.status
	d.pm.responseTime.Observe(e.targetProc.Seconds())
	d.pm.targetCode(resp.status)
	bodyless := resp.bodyless(c.req.method)
	c.clientClose = d.Close
	switch {
	case bodyless:
		c.body = body{framing: bodyNone}
	case resp.chunked:
		c.body = body{framing: bodyChunked}
	case resp.contentLength >= 0:
		c.body = body{framing: bodyLength, left: resp.contentLength}
	default:
		c.body = body{framing: bodyEOF}
		if c.req.minor >= 1 {
			c.body.chunkOut = true
		} else {
			c.clientClose = true
		}
	}
	c.upReusable = !resp.close && c.body.framing != bodyEOF
	w := (*outBuf)(&c.out)
	c.writeResponseHead(w, c.sc, d, c.clientClose, false)
	if c.body.chunkOut {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	w.WriteString("\r\n")
	c.state = evRespBody
	c.relay()
}

// relay moves response body bytes from the target to the client.
func (c *loopConn) relay() {
	up := c.up
	for !c.paused {
		used, done, err := c.body.relay((*outBuf)(&c.out), up.in[up.inR:up.inW], up.eof)
		up.inR += used
		switch {
		case err == io.ErrUnexpectedEOF:
			// The target closed before the whole body.
			c.upFailed(up, errUpstreamEOF)
			return
		case err != nil:
			c.d.e.errReason = "TargetResponseError"
			c.abortUp()
			c.finish(c.sc, c.d.e, c.d.pm)
			c.flush()
			c.close()
			return
		case done:
			c.endResponse()
			return
		}
		c.deadline = c.l.now.Add(c.sc.LB.IdleTimeout)
		c.flush()
		if c.fd < 0 || len(c.out)-c.outPos > evMaxOut {
			c.paused = c.fd >= 0
			return
		}
		if used == 0 || up.inR == up.inW {
			// More input is needed: everything was relayed, or a chunk
			// line is cut short.
			if up.drained {
				return
			}
			before := up.inW - up.inR
			up.readIn()
			if up.inW-up.inR == before && !up.eof {
				return
			}
		}
	}
}

// endResponse completes a request: the target connection goes back to
// the pool, the request is logged, and the next one may begin.
func (c *loopConn) endResponse() {
	up := c.up
	d := &c.d
	c.release()
	c.up = nil
	up.owner = nil
	if c.upReusable && up.inR == up.inW && !up.eof {
		c.l.putUp(up)
	} else {
		up.close()
	}
	d.e.respProc = max(c.l.now.Sub(c.gotAt), 0)
	c.finish(c.sc, d.e, d.pm)
	if c.clientClose {
		c.state = evClosing
		c.deadline = c.l.now.Add(c.sc.LB.IdleTimeout)
		c.flush()
		return
	}
	c.setIdle(c.l.now)
	c.flush()
	if c.fd >= 0 {
		c.process()
	}
}

// flush writes buffered output to the client.
func (c *loopConn) flush() {
	for c.outPos < len(c.out) {
		n, err := evloop.Write(c.fd, c.out[c.outPos:])
		if n > 0 {
			c.outPos += n
			c.tx += int64(n)
		}
		if err == syscall.EAGAIN {
			return
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if c.state == evRespBody || c.state == evWait {
				c.d.e.elbStatus, c.d.e.errReason = 460, "ClientClosed"
				c.abortUp()
				c.finish(c.sc, c.d.e, c.d.pm)
			}
			c.close()
			return
		}
	}
	c.out = c.out[:0]
	c.outPos = 0
	if c.state == evClosing {
		c.close()
		return
	}
	if c.paused {
		c.paused = false
		c.relay()
	}
}

// onTimeout handles a deadline that passed.
func (c *loopConn) onTimeout() {
	switch c.state {
	case evIdle:
		if c.inW > c.inR {
			c.refuseNow(408)
			return
		}
		c.close()
	case evSend:
		if c.up != nil && c.up.connecting {
			c.d.e.errReason = "TargetConnectionTimeout"
			c.d.pm.connErrors.Inc()
		} else {
			c.d.e.errReason = "TargetResponseTimeout"
		}
		c.failNow(504)
	case evWait:
		c.d.e.errReason = "TargetResponseTimeout"
		c.failNow(504)
	case evReqBody:
		c.d.e.elbStatus = 408
		c.abortUp()
		c.finish(c.sc, c.d.e, c.d.pm)
		c.close()
	default:
		c.abortUp()
		c.close()
	}
}

// close closes the client connection.
func (c *loopConn) close() {
	if c.fd < 0 {
		return
	}
	if c.up != nil {
		c.abortUp()
	}
	c.l.forget(c.fd)
	c.fd = -1
	delete(c.l.conns, c)
	if c.active {
		c.active = false
		c.s.loopActive.Add(-1)
	}
	c.s.loopConns.Add(-1)
	c.lbm.active.Dec()
}

// handoff gives the connection to a goroutine loop, with the bytes read
// from headStart on.
func (c *loopConn) handoff(headStart int) {
	prefix := append([]byte(nil), c.in[headStart:c.inW]...)
	fd := c.fd
	c.l.fds[fd] = nil
	syscall.EpollCtl(c.l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	delete(c.l.conns, c)
	c.fd = -1
	f := os.NewFile(uintptr(fd), "client")
	nc, err := net.FileConn(f)
	f.Close()
	if c.active {
		c.s.loopActive.Add(-1)
	}
	c.s.loopConns.Add(-1)
	lbm := c.lbm
	if err != nil {
		lbm.active.Dec()
		return
	}
	pc := &prefixConn{Conn: nc, prefix: prefix}
	cc := newClientConn(c.s, pc, c.remote)
	cc.opened = c.opened
	cc.rx, cc.tx, cc.lastRx, cc.lastTx = c.rx-int64(len(prefix)), c.tx, c.lastRx, c.lastTx
	if !c.s.addConn(cc) {
		pc.Close()
		lbm.active.Dec()
		return
	}
	c.p.wg.Add(1)
	go cc.serveHandedOff(c.sc)
}

// outBuf appends written bytes to a byte slice.
type outBuf []byte

func (b *outBuf) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

func (b *outBuf) WriteString(s string) (int, error) {
	*b = append(*b, s...)
	return len(s), nil
}

func (b *outBuf) WriteByte(c byte) error {
	*b = append(*b, c)
	return nil
}

// loopTargetConn is a connection to a target served by an event loop.
type loopTargetConn struct {
	l       *evLoop
	fd      int
	pool    *pool
	maxIdle time.Duration

	in       []byte
	inR, inW int
	out      []byte
	outPos   int

	connecting bool
	eof        bool
	drained    bool // the last read emptied the socket
	reused     bool
	owner      *loopConn
	idleAt     time.Time
}

func (u *loopTargetConn) onEvent(ev uint32) {
	if u.fd < 0 {
		return
	}
	if u.connecting {
		if ev&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
			return
		}
		soErr, err := syscall.GetsockoptInt(u.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err == nil && soErr != 0 {
			err = syscall.Errno(soErr)
		}
		if err != nil {
			if c := u.owner; c != nil {
				c.d.pm.connErrors.Inc()
				c.up = nil
				u.owner = nil
				u.close()
				c.d.e.errReason = "TargetConnectionError"
				c.failNow(502)
				return
			}
			u.close()
			return
		}
		u.connecting = false
		ev |= syscall.EPOLLOUT
	}
	if ev&syscall.EPOLLOUT != 0 {
		if c := u.owner; c != nil && (c.state == evSend || c.state == evReqBody) {
			c.pump()
		}
		if u.fd < 0 {
			return
		}
	}
	if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		u.drained = false
		c := u.owner
		if c == nil {
			// An idle kept-alive connection: the target closed it (or
			// sent something unasked for).
			u.l.dropIdle(u)
			return
		}
		if c.paused {
			return // the client is slow; read when it has caught up
		}
		u.readIn()
		if c.state == evWait || c.state == evRespBody {
			c.onUpData()
		} else if u.eof && (c.state == evSend || c.state == evReqBody) {
			c.upFailed(u, errUpstreamEOF)
		}
	}
}

// readIn reads what the socket holds.
func (u *loopTargetConn) readIn() {
	for !u.eof {
		if u.inR == u.inW {
			u.inR, u.inW = 0, 0
		}
		if u.inW == len(u.in) {
			if u.inR > 0 {
				copy(u.in, u.in[u.inR:u.inW])
				u.inW -= u.inR
				u.inR = 0
			} else if len(u.in) < maxHeadBuffer {
				u.in = append(u.in, make([]byte, len(u.in))...)
			} else {
				return
			}
		}
		n, err := evloop.Read(u.fd, u.in[u.inW:])
		if n > 0 {
			u.inW += n
		}
		switch {
		case err == syscall.EAGAIN:
			u.drained = true
			return
		case err == syscall.EINTR:
			continue
		case err != nil || n == 0:
			u.eof = true
			return
		case u.inW < len(u.in):
			u.drained = true
			return
		}
	}
}

// write writes pending request bytes; done reports that all were taken.
func (u *loopTargetConn) write() (done bool, err error) {
	for u.outPos < len(u.out) {
		n, err := evloop.Write(u.fd, u.out[u.outPos:])
		if n > 0 {
			u.outPos += n
		}
		switch err {
		case nil:
		case syscall.EAGAIN:
			return false, nil
		case syscall.EINTR:
		default:
			return false, err
		}
	}
	return true, nil
}

func (u *loopTargetConn) close() {
	if u.fd < 0 {
		return
	}
	u.l.forget(u.fd)
	u.fd = -1
}

// getUp returns a kept-alive connection of the pool, or nil.
func (l *evLoop) getUp(pl *pool, maxIdle time.Duration) *loopTargetConn {
	ups := l.idle[pl]
	for len(ups) > 0 {
		u := ups[len(ups)-1]
		ups[len(ups)-1] = nil
		ups = ups[:len(ups)-1]
		l.idle[pl] = ups
		if u.fd < 0 || l.now.Sub(u.idleAt) >= maxIdle || pl.isClosed() {
			u.close()
			continue
		}
		u.reused = true
		u.maxIdle = maxIdle
		u.inR, u.inW, u.eof = 0, 0, false
		return u
	}
	return nil
}

// putUp keeps a connection for reuse.
func (l *evLoop) putUp(u *loopTargetConn) {
	if u.pool.isClosed() || len(l.idle[u.pool]) >= maxIdlePerPool {
		u.close()
		return
	}
	u.idleAt = l.now
	u.inR, u.inW = 0, 0
	l.idle[u.pool] = append(l.idle[u.pool], u)
}

// dropIdle closes a kept-alive connection the target closed.
func (l *evLoop) dropIdle(u *loopTargetConn) {
	ups := l.idle[u.pool]
	for i, x := range ups {
		if x == u {
			ups = append(ups[:i], ups[i+1:]...)
			break
		}
	}
	l.idle[u.pool] = ups
	u.close()
}

// dialUp opens a connection to the pool's target from the node address,
// without waiting for it to be established.
func (l *evLoop) dialUp(pl *pool, maxIdle time.Duration) (*loopTargetConn, error) {
	addr := pl.t.Addr
	family := syscall.AF_INET
	if addr.Addr().Is6() && !addr.Addr().Is4In6() {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if pl.src.IsValid() && pl.src.Is4() == addr.Addr().Unmap().Is4() {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		if err := syscall.Bind(fd, sockaddr(netip.AddrPortFrom(pl.src, 0))); err != nil && err != syscall.EADDRNOTAVAIL {
			syscall.Close(fd)
			return nil, err
		}
	}
	err = syscall.Connect(fd, sockaddr(addr))
	u := &loopTargetConn{l: l, fd: fd, pool: pl, maxIdle: maxIdle, in: make([]byte, evInBuf)}
	switch err {
	case nil:
	case syscall.EINPROGRESS:
		u.connecting = true
	default:
		syscall.Close(fd)
		return nil, err
	}
	if err := l.register(fd, u); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return u, nil
}

func sockaddr(ap netip.AddrPort) syscall.Sockaddr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
}

// toEventLoop hands an accepted plain HTTP connection to an event loop; it
// reports false when the connection is to be served by a goroutine.
func (p *Plane) toEventLoop(s *listenSock, sc *sockCfg, nc net.Conn, remote netip.AddrPort) bool {
	loops := p.eventLoops()
	if loops == nil {
		return false
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	rc.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno == 0 {
			fd = int(r)
		}
	})
	if fd < 0 {
		return false
	}
	tc.Close()
	c := &loopConn{fd: fd, in: make([]byte, evInBuf), sc: sc}
	c.init(p, s, remote)
	c.lbm = sc.lb.rt.m
	c.lbm.newConns.Inc()
	c.lbm.active.Inc()
	s.loopConns.Add(1)
	l := loops[p.nextLoop.Add(1)%uint32(len(loops))]
	l.add(c)
	return true
}
