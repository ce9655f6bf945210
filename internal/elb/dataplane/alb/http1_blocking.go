package alb

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
)

// tlsHandshakeTimeout bounds a client's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
	// copyPool holds the buffers the HTTP/2 path copies response bodies
	// through.
	copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// countConn counts the bytes read from and written to a client
// connection into its exchange.
type countConn struct {
	net.Conn
	x *exchange
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.x.rx += int64(n)
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.x.tx += int64(n)
	return n, err
}

// blockingConn is one client connection served by a goroutine of its own
// (the blocking path): HTTPS, HTTP/2, WebSocket and request bodies in
// chunked encoding, and every HTTP/1.1 connection where the event loop
// does not run.
type blockingConn struct {
	exchange
	nc   net.Conn // the TCP connection
	cc   *countConn
	conn net.Conn // what br and bw read and write: cc, or TLS over it
	br   *bufio.Reader
	bw   *bufio.Writer
	idle atomic.Bool

	deadline time.Time
	idleFor  time.Duration
	// readingHead is set while a request head is read (idleReader).
	readingHead atomic.Bool
	watch       *watcher
	dec         decision
	h2n         atomic.Int32 // HTTP/2 streams in flight
	h2idle      *time.Timer  // closes an idle HTTP/2 connection
	h2quiet     atomic.Int64 // when the last HTTP/2 stream ended (Unix ns)
}

// idleReader reads the client connection for br. While a request head is
// read it moves the connection's read deadline to the idle timeout from
// now before each read: ALB counts a connection idle when no byte moves,
// so a head that arrives slowly is not cut at the idle timeout from its
// start. (Bodies move it the same way, through clientDeadline.)
type idleReader struct {
	c *blockingConn
	r io.Reader
}

func (r idleReader) Read(p []byte) (int, error) {
	if r.c.readingHead.Load() {
		r.c.setReadDeadline(r.c.conn, time.Now().Add(r.c.idleFor))
	}
	return r.r.Read(p)
}

func newClientConn(s *listenSock, nc net.Conn, remote netip.AddrPort) *blockingConn {
	c := &blockingConn{nc: nc}
	c.init(s.p, s, remote)
	c.idle.Store(true)
	return c
}

// serve runs the connection until it closes.
func (c *blockingConn) serve(sc *sockCfg) {
	lbm := sc.lb.rt.m
	lbm.newConns.Inc()
	lbm.active.Inc()
	defer func() {
		lbm.active.Dec()
		c.nc.Close()
		c.s.remove(c)
		c.p.wg.Done()
	}()
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c.cc = &countConn{Conn: c.nc, x: &c.exchange}
	var conn net.Conn = c.cc
	if sc.Protocol == "HTTPS" {
		tc := tls.Server(c.cc, sc.tls)
		tc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			lbm.tlsErr.Inc()
			return
		}
		tc.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		c.tlsState = &st
		c.tlsProto = sslpolicy.ProtocolName(st.Version)
		c.tlsCiph = sslpolicy.CipherName(st.CipherSuite)
		if st.NegotiatedProtocol == "h2" {
			c.serveH2(sc, tc)
			return
		}
		conn = tc
	}
	c.conn = conn
	c.br = readerPool.Get().(*bufio.Reader)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.br.Reset(idleReader{c: c, r: conn})
	c.bw.Reset(conn)
	defer func() {
		c.br.Reset(nil)
		c.bw.Reset(nil)
		readerPool.Put(c.br)
		writerPool.Put(c.bw)
	}()
	c.loop(sc, conn)
}

// serveHandedOff serves a connection an event loop handed over.
func (c *blockingConn) serveHandedOff(sc *sockCfg) {
	lbm := sc.lb.rt.m
	defer func() {
		lbm.active.Dec()
		c.nc.Close()
		c.s.remove(c)
		c.p.wg.Done()
	}()
	c.cc = &countConn{Conn: c.nc, x: &c.exchange}
	c.conn = c.cc
	c.br = readerPool.Get().(*bufio.Reader)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.br.Reset(idleReader{c: c, r: c.conn})
	c.bw.Reset(c.conn)
	defer func() {
		c.br.Reset(nil)
		c.bw.Reset(nil)
		readerPool.Put(c.br)
		writerPool.Put(c.bw)
	}()
	c.loop(sc, c.conn)
}

// setReadDeadline moves the client connection's read deadline when it
// differs from the one set by more than the slack.
func (c *blockingConn) setReadDeadline(conn net.Conn, t time.Time) {
	if d := t.Sub(c.deadline); d < 0 || d > deadlineSlack {
		c.deadline = t
		conn.SetReadDeadline(t)
	}
}

func (c *blockingConn) loop(sc *sockCfg, conn net.Conn) {
	proto := sc.Protocol
	for {
		sc = c.s.cur.Load()
		if sc == nil || sc.Protocol != proto {
			return
		}
		c.idle.Store(true)
		if c.s.cur.Load() == nil {
			return
		}
		c.idleFor = sc.LB.IdleTimeout
		c.setReadDeadline(conn, time.Now().Add(c.idleFor))
		c.readingHead.Store(true)
		err := readRequest(c.br, &c.req)
		c.readingHead.Store(false)
		c.idle.Store(false)
		start := time.Now()
		// The request runs on the configuration current when it arrived.
		if cur := c.s.cur.Load(); cur != nil && cur.Protocol == proto {
			sc = cur
		} else if err == nil {
			return
		}
		if err != nil {
			var he *httpError
			switch {
			case err == errClientGone:
			case errors.As(err, &he):
				c.refuse(sc, start, he.status)
			case isTimeout(err) && len(c.req.buf) > 0:
				// A request begun but not finished within the idle
				// timeout; an idle connection just closes.
				c.refuse(sc, start, 408)
			}
			return
		}
		if !c.handle(sc, start) {
			return
		}
	}
}

// refuse answers a request the load balancer could not read, then the
// connection closes.
func (c *blockingConn) refuse(sc *sockCfg, start time.Time, code int) {
	d := c.refusal(sc, start, code, &c.dec)
	c.writeELB(sc, d)
	c.finish(sc, d.e, nil)
}

// handle serves one request; it reports whether the connection stays.
func (c *blockingConn) handle(sc *sockCfg, start time.Time) bool {
	d := c.decide(sc, start, &c.dec)
	if d.Kind == routing.Forward {
		return c.proxy(sc, d)
	}
	unread := c.req.hasBody()
	if d.Discard {
		switch err := c.discardBody(sc); {
		case err == nil:
			unread = false
		case errors.Is(err, errBadChunk):
			c.refuse(sc, start, 400)
			return false
		default:
			d.Close = true
		}
	}
	c.writeELB(sc, d)
	c.finish(sc, d.e, d.pm)
	if d.Close && unread {
		c.lingerClose()
	}
	return !d.Close
}

// lingerClose reads and drops what the client still sends (a request body
// the load balancer refused) for a while before the connection closes, so
// that the client reads the response instead of a reset.
func (c *blockingConn) lingerClose() {
	type closeWriter interface{ CloseWrite() error }
	var raw net.Conn = c.nc
	if pc, ok := raw.(*prefixConn); ok {
		raw = pc.Conn
	}
	if cw, ok := raw.(closeWriter); ok && c.tlsState == nil {
		cw.CloseWrite()
	}
	c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.CopyN(io.Discard, c.br, 64<<20)
}

// writeELB writes and flushes a response generated by the load balancer.
func (c *blockingConn) writeELB(sc *sockCfg, d *decision) {
	c.appendELB(c.bw, sc, d)
	c.bw.Flush()
}

// discardBody reads and drops a request body the load balancer answers
// itself; nil means the connection can carry on (errBadChunk: a
// malformed chunked body).
func (c *blockingConn) discardBody(sc *sockCfg) error {
	if c.req.chunked {
		rl := relay{dst: bufio.NewWriter(io.Discard), src: c.br, dl: clientDeadline{c}}
		return rl.copyChunked()
	}
	if c.req.contentLength > 1<<20 {
		return errBodyTooLong
	}
	_, err := c.br.Discard(int(c.req.contentLength))
	return err
}

// errBodyTooLong is a body too long to read and drop before answering.
var errBodyTooLong = errors.New("request body too long to discard")

// proxy forwards the request to a target over HTTP/1.1 and relays the
// response; it reports whether the client connection stays.
func (c *blockingConn) proxy(sc *sockCfg, d *decision) bool {
	req := &c.req
	e, pm, b, closeAfter := d.e, d.pm, d.Target, d.Close
	idle := sc.LB.IdleTimeout
	pool := c.p.conns.get(b, sc.src)
	b.Inflight.Add(1)
	defer b.Inflight.Add(-1)
	ws := req.upgrade != nil && asciiEqualFold(req.upgrade, "websocket")
	if ws {
		if c.tlsState != nil {
			e.typ = "wss"
		} else {
			e.typ = "ws"
		}
	}
	var uc *targetConn
	var sentAt time.Time
	for attempt := 0; ; attempt++ {
		var err error
		uc, err = pool.get(context.Background(), idle)
		if uc != nil {
			uc.idle = idle
		}
		if err != nil {
			pm.connErrors.Inc()
			code := 502
			e.errReason = "TargetConnectionError"
			if isTimeout(err) {
				code, e.errReason = 504, "TargetConnectionTimeout"
			}
			var te *tlsError
			if errors.As(err, &te) {
				e.errReason = "TargetTLSNegotiationError"
			}
			return c.fail(sc, d, code, closeAfter || req.hasBody())
		}
		e.reqProc = time.Since(e.start)
		c.writeUpstreamHead(uc.bw, sc, d, ws)
		if req.hasBody() {
			if req.expect100 {
				c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
				c.bw.Flush()
			}
			rl := relay{dst: uc.bw, src: c.br, dl: clientDeadline{c}}
			var err error
			if req.chunked {
				err = rl.copyChunked()
			} else {
				err = rl.copyN(req.contentLength)
			}
			if err != nil {
				uc.close()
				var we *writeError
				if errors.As(err, &we) {
					e.errReason = "TargetConnectionError"
					return c.fail(sc, d, 502, true)
				}
				if errors.Is(err, errBadChunk) {
					// a chunk size that does not parse, or a chunk
					// longer or shorter than its size says: refused as
					// ALB refuses a malformed request (the target never
					// sees the request end)
					e.errReason = reasonCode(400)
					return c.fail(sc, d, 400, true)
				}
				// The client stopped sending its body.
				e.elbStatus = 460
				if isTimeout(err) {
					e.elbStatus = 408
				}
				c.finish(sc, e, pm)
				return false
			}
		}
		if err := uc.bw.Flush(); err != nil {
			uc.close()
			if uc.reused && attempt == 0 && !req.hasBody() {
				continue
			}
			e.errReason = "TargetConnectionError"
			return c.fail(sc, d, 502, closeAfter || req.hasBody())
		}
		sentAt = time.Now()
		uc.setReadDeadline(sentAt.Add(idle))
		err = c.readUpstreamResponse(sc, uc)
		if err == nil {
			break
		}
		uc.close()
		if err == errClientClosed {
			e.elbStatus = 460
			e.errReason = "ClientClosed"
			c.finish(sc, e, pm)
			return false
		}
		if uc.reused && attempt == 0 && !req.hasBody() && retryable(err) {
			continue
		}
		code := 502
		e.errReason = "TargetResponseError"
		if isTimeout(err) {
			code, e.errReason = 504, "TargetResponseTimeout"
		}
		return c.fail(sc, d, code, closeAfter || req.hasBody())
	}
	resp := &c.resp
	got := time.Now()
	e.targetProc = got.Sub(sentAt)
	e.targetStatus = resp.status
	pm.responseTime.Observe(e.targetProc.Seconds())
	pm.targetCode(resp.status)
	if resp.status == 101 {
		if !ws {
			uc.close()
			e.targetStatus, e.errReason = resp.status, "TargetResponseError"
			return c.fail(sc, d, 502, true)
		}
		c.writeResponseHead(c.bw, sc, d, false, true)
		if err := c.bw.Flush(); err != nil {
			uc.close()
			c.finish(sc, e, pm)
			return false
		}
		e.respProc = time.Since(got)
		c.finish(sc, e, pm)
		c.tunnel(uc, idle)
		return false
	}
	bodyless := resp.bodyless(req.method)
	clientClose := closeAfter
	chunkOut := false
	if !bodyless && resp.contentLength < 0 {
		if req.minor >= 1 {
			chunkOut = true
		} else {
			clientClose = true
		}
	}
	c.writeResponseHead(c.bw, sc, d, clientClose, false)
	if chunkOut {
		c.bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	c.bw.WriteString("\r\n")
	upReusable := !resp.close
	var err error
	if !bodyless {
		rl := relay{dst: c.bw, src: uc.br, dl: uc}
		switch {
		case resp.chunked:
			err = rl.copyChunked()
		case resp.contentLength >= 0:
			err = rl.copyN(resp.contentLength)
		default:
			err = rl.copyEOF(chunkOut)
			upReusable = false
		}
	}
	if err == nil {
		if ferr := c.bw.Flush(); ferr != nil {
			err = &writeError{ferr}
		}
	}
	e.respProc = time.Since(got)
	if err != nil {
		uc.close()
		var we *writeError
		if errors.As(err, &we) {
			e.elbStatus = 460
			e.errReason = "ClientClosed"
		} else {
			e.errReason = "TargetResponseError"
		}
		c.finish(sc, e, pm)
		return false
	}
	if upReusable {
		uc.pool.put(uc)
	} else {
		uc.close()
	}
	c.finish(sc, e, pm)
	return !clientClose
}

// errClientClosed is a client that went away while its request waited
// for the target (HTTP 460).
var errClientClosed = errors.New("client closed the connection")

// retryable reports whether a failure on a reused connection means the
// target had closed it while idle: the request is sent again on a new
// connection.
func retryable(err error) bool {
	return err == io.EOF || err == io.ErrUnexpectedEOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// fail answers with an ELB-generated error after a target failure.
func (c *blockingConn) fail(sc *sockCfg, d *decision, code int, closeAfter bool) bool {
	d.Close = closeAfter
	d.Page(code)
	c.writeELB(sc, d)
	c.finish(sc, d.e, d.pm)
	return !closeAfter
}

// readUpstreamResponse reads the target's response head, skipping
// interim 1xx responses other than 101. While it waits, a watcher notices
// a client that closes its connection (HTTP 460).
func (c *blockingConn) readUpstreamResponse(sc *sockCfg, uc *targetConn) error {
	w := c.watchClient(uc)
	defer w.stop()
	for {
		if err := readResponse(uc.br, &c.resp); err != nil {
			if w.clientGone() {
				return errClientClosed
			}
			return err
		}
		if c.resp.status >= 200 || c.resp.status == 101 {
			return nil
		}
	}
}

func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerByte(b[i]) != lowerByte(s[i]) {
			return false
		}
	}
	return true
}

func bodylessMethod(m []byte) bool {
	s := string(m)
	return s == "GET" || s == "HEAD" || s == "DELETE" || s == "OPTIONS"
}

// setsCookie reports whether a Set-Cookie value sets the named cookie.
func setsCookie(v []byte, name string) bool {
	v = routing.TrimSpace(v)
	return len(v) > len(name) && v[len(name)] == '=' && string(v[:len(name)]) == name
}

func overridden(name []byte, hs []header) bool {
	for i := range hs {
		if equalFoldBytes(name, hs[i].Name) {
			return true
		}
	}
	return false
}

// tunnel relays a WebSocket connection in both directions until either
// side closes or the connection stays idle past the idle timeout.
func (c *blockingConn) tunnel(uc *targetConn, idle time.Duration) {
	defer uc.close()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan struct{}, 2)
	pump := func(dst net.Conn, src *bufio.Reader, srcConn net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			srcConn.SetReadDeadline(time.Now().Add(idle))
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if isTimeout(err) && time.Since(time.Unix(0, last.Load())) < idle {
					continue
				}
				return
			}
		}
	}
	go pump(uc.nc, c.br, c.conn)
	go pump(c.conn, uc.br, uc.nc)
	<-done
	c.nc.Close()
	uc.nc.Close()
	<-done
}

// clientDeadline moves the client's idle deadline before reads of a
// request body.
type clientDeadline struct{ c *blockingConn }

func (d clientDeadline) refresh() {
	d.c.setReadDeadline(d.c.conn, time.Now().Add(d.c.idleFor))
}

// refresh moves a target connection's idle deadline before reads of a
// response body.
func (uc *targetConn) refresh() {
	uc.setReadDeadline(time.Now().Add(uc.idle))
}

// prefixConn reads bytes already received before the connection's own.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
