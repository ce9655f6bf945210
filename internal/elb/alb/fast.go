package alb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
)

// tlsHandshakeTimeout bounds a client's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// countConn counts the bytes read from and written to a connection.
type countConn struct {
	net.Conn
	r, w int64
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.r += int64(n)
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.w += int64(n)
	return n, err
}

// clientConn is one client connection and its request loop.
type clientConn struct {
	s      *listenSock
	p      *Plane
	nc     net.Conn // the TCP connection
	cc     *countConn
	conn   net.Conn // what br and bw read and write: cc, or TLS over it
	br     *bufio.Reader
	bw     *bufio.Writer
	remote netip.AddrPort
	vpc    netip.Addr // the VPC address the client stands for, if any
	// seen is the client as the VPC sees it: its VPC address when its
	// host address realises one. X-Forwarded-For and access logs carry it.
	seen   netip.AddrPort
	idle   atomic.Bool
	opened time.Time

	tlsState *tls.ConnectionState
	tlsProto string
	tlsCiph  string

	req     request
	resp    response
	in      routeInput
	scratch []byte
	date    httpDate
	log     logEntry

	deadline time.Time
	idleFor  time.Duration
	tgSticky time.Duration
	watch    *watcher
	h2n      atomic.Int32  // HTTP/2 streams in flight
	h2done   chan struct{} // closed when the HTTP/2 connection ends
	h2idle   *time.Timer   // closes an idle HTTP/2 connection
	lastR    int64
	lastW    int64
}

func newClientConn(s *listenSock, nc net.Conn, remote netip.AddrPort) *clientConn {
	c := &clientConn{s: s, p: s.p, nc: nc, remote: remote, opened: s.p.now()}
	c.idle.Store(true)
	c.seen = remote
	if v, ok := s.p.addrs.FromHost(remote.Addr()); ok {
		c.vpc = v
		c.seen = netip.AddrPortFrom(v, remote.Port())
	}
	return c
}

// serve runs the connection until it closes.
func (c *clientConn) serve(sc *sockCfg) {
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
	c.cc = &countConn{Conn: c.nc}
	var conn net.Conn = c.cc
	if sc.protocol == "HTTPS" {
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
	c.br.Reset(conn)
	c.bw.Reset(conn)
	defer func() {
		c.br.Reset(nil)
		c.bw.Reset(nil)
		readerPool.Put(c.br)
		writerPool.Put(c.bw)
	}()
	c.loop(sc, conn)
}

// setReadDeadline moves the client connection's read deadline when it
// differs from the one set by more than the slack.
func (c *clientConn) setReadDeadline(conn net.Conn, t time.Time) {
	if d := t.Sub(c.deadline); d < 0 || d > deadlineSlack {
		c.deadline = t
		conn.SetReadDeadline(t)
	}
}

func (c *clientConn) loop(sc *sockCfg, conn net.Conn) {
	proto := sc.protocol
	for {
		sc = c.s.cur.Load()
		if sc == nil || sc.protocol != proto {
			return
		}
		c.idle.Store(true)
		if c.s.cur.Load() == nil {
			return
		}
		c.idleFor = sc.lb.attrs.idleTimeout
		c.setReadDeadline(conn, time.Now().Add(c.idleFor))
		err := readRequest(c.br, &c.req)
		c.idle.Store(false)
		start := time.Now()
		// The request runs on the configuration current when it arrived.
		if cur := c.s.cur.Load(); cur != nil && cur.protocol == proto {
			sc = cur
		} else if err == nil {
			return
		}
		if err != nil {
			var he *httpError
			switch {
			case err == errClientGone:
			case errors.As(err, &he):
				c.refuse(sc, start, he.status, he.reason)
			case isTimeout(err) && len(c.req.buf) > 0:
				// A request begun but not finished within the idle
				// timeout; an idle connection just closes.
				c.refuse(sc, start, 408, "client did not send the whole request before the idle timeout")
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
func (c *clientConn) refuse(sc *sockCfg, start time.Time, code int, reason string) {
	e := c.beginLog(sc, start)
	e.errReason = reasonCode(code)
	c.writeELB(sc, e, code, "text/html", pageFor(code), nil, true)
	c.finish(sc, e, nil)
	_ = reason
}

// reasonCode is the access log error_reason of an ELB-generated status.
func reasonCode(code int) string {
	switch code {
	case 400, 414:
		return "ClientRequestError"
	case 408:
		return "ClientRequestTimeout"
	case 463:
		return "ClientXFFTooManyAddresses"
	case 501:
		return "UnsupportedTransferEncoding"
	}
	return ""
}

// beginLog starts a request's log entry.
func (c *clientConn) beginLog(sc *sockCfg, start time.Time) *logEntry {
	e := &c.log
	e.reset()
	e.start = start
	e.client = c.seen
	switch {
	case c.tlsState != nil:
		e.typ = "https"
		e.cipher, e.tlsProto = c.tlsCiph, c.tlsProto
		e.domain = c.tlsState.ServerName
		e.cert = sc.certForName(e.domain)
	default:
		e.typ = "http"
	}
	return e
}

// handle serves one request; it reports whether the connection stays.
func (c *clientConn) handle(sc *sockCfg, start time.Time) bool {
	req := &c.req
	c.scratch = c.scratch[:0]
	e := c.beginLog(sc, start)
	// client_keep_alive.seconds: past it, the connection closes after
	// the request (measured on the plane's clock).
	closeAfter := req.close || c.s.isClosing() || c.p.now().Sub(c.opened) >= sc.lb.attrs.clientKeepAlive
	if sc.lb.attrs.desyncStrictest && req.ambiguous {
		c.writeELB(sc, e, 400, "text/html", pageFor(400), nil, true)
		c.finish(sc, e, nil)
		return false
	}
	// Absolute-form targets (GET http://host/path) are forwarded in
	// origin form.
	target := req.target
	host := req.host
	if len(target) > 0 && target[0] != '/' && target[0] != '*' {
		if i := bytes.Index(target, []byte("://")); i > 0 {
			rest := target[i+3:]
			j := bytes.IndexByte(rest, '/')
			if j < 0 {
				if host == nil {
					host = rest
				}
				target = []byte("/")
			} else {
				if host == nil {
					host = rest[:j]
				}
				target = rest[j:]
			}
		}
	}
	if host == nil {
		host = []byte(c.s.addr.Addr().String())
	}
	path, query := splitTarget(target)
	e.method = append(e.method[:0], req.method...)
	if sc.lb.rt != nil && sc.lb.alog != nil {
		e.url = sc.scheme + "://" + string(hostOnly(host)) + ":" + sc.portStr + string(target)
		e.proto = "HTTP/1." + strconv.Itoa(req.minor)
		e.userAgent = headerValue(req.headers, "user-agent")
	}
	if string(req.method) == "TRACE" {
		c.writeELB(sc, e, 405, "text/html", pageFor(405), nil, closeAfter)
		c.finish(sc, e, nil)
		return !closeAfter
	}
	in := &c.in
	in.method, in.host, in.path, in.query, in.headers = req.method, hostOnly(host), path, query, req.headers
	in.src, in.srcVPC = c.remote.Addr().Unmap(), c.vpc
	in.pairs, in.parsed = in.pairs[:0], false
	r := sc.route(in)
	if r == nil {
		// Unreachable: the default rule matches everything.
		c.writeELB(sc, e, 500, "text/html", pageFor(500), nil, true)
		c.finish(sc, e, nil)
		return false
	}
	e.priority = r.priority
	e.actions = r.act.names
	act := r.act
	switch act.kind {
	case actFixed:
		if req.hasBody() && !c.discardBody(sc) {
			closeAfter = true
		}
		ct := act.contentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		c.writeELB(sc, e, act.status, ct, act.body, nil, closeAfter)
		c.finish(sc, e, nil)
		return !closeAfter
	case actRedirect:
		if req.hasBody() && !c.discardBody(sc) {
			closeAfter = true
		}
		loc := act.redirect.location(sc.scheme, sc.port, hostOnly(host), path, query)
		e.redirect = loc
		c.writeELB(sc, e, act.redirect.code, "text/html", pageFor(act.redirect.code), [][2]string{{"Location", loc}}, closeAfter)
		c.finish(sc, e, nil)
		return !closeAfter
	case actUnsupported:
		e.errReason = "UnsupportedAction"
		c.writeELB(sc, e, 501, "text/plain; charset=utf-8", []byte(act.message+"\n"), nil, true)
		c.finish(sc, e, nil)
		return false
	}
	// forward
	wt, tgCookieV := c.p.chooseTargetGroup(act, req.headers)
	var tgCookie []byte
	if tgCookieV != "" {
		tgCookie = []byte(tgCookieV)
	}
	tg := wt.tg
	st := tg.st.Load()
	e.tgARN = tg.arn
	pm := tg.metrics(sc.lb.rt.m)
	if st.version != "HTTP1" {
		e.errReason = "IncompatibleProtocol"
		c.writeELB(sc, e, 464, "text/html", pageFor(464), nil, closeAfter)
		c.finish(sc, e, pm)
		return !closeAfter
	}
	if st.targetType == "lambda" {
		code := 502
		if req.contentLength > 1<<20 {
			code = 413
		}
		e.errReason = "LambdaUnsupported"
		c.writeELB(sc, e, code, "text/html", pageFor(code), nil, true)
		c.finish(sc, e, pm)
		return false
	}
	// Transforms, after routing.
	hostOut := host
	rewroteHost := false
	if r.hostRewrite != nil {
		if out, ok := r.hostRewrite.apply(hostOnly(host)); ok {
			if !validHost(out) {
				e.errReason = "TransformFailed"
				c.writeELB(sc, e, 500, "text/html", pageFor(500), nil, closeAfter)
				c.finish(sc, e, pm)
				return !closeAfter
			}
			hostOut, rewroteHost = out, true
		}
	}
	if r.urlRewrite != nil {
		if out, ok := r.urlRewrite.apply(target); ok {
			if len(out) == 0 || out[0] != '/' || bytes.ContainsAny(out, " \r\n\x00") {
				e.errReason = "TransformFailed"
				c.writeELB(sc, e, 500, "text/html", pageFor(500), nil, closeAfter)
				c.finish(sc, e, pm)
				return !closeAfter
			}
			target = out
		}
	}
	if !rewroteHost {
		hostOut = c.forwardHost(sc, host)
	}
	// Target.
	b := tg.chooseTarget(st, sc.zone, req.headers)
	if b == nil {
		e.errReason = "NoHealthyTargets"
		if len(st.targets) == 0 {
			e.errReason = "NoRegisteredTargets"
		}
		if req.hasBody() && !c.discardBody(sc) {
			closeAfter = true
		}
		c.writeELB(sc, e, 503, "text/html", pageFor(503), nil, closeAfter)
		c.finish(sc, e, pm)
		return !closeAfter
	}
	c.tgSticky = act.tgSticky
	return c.proxy(sc, e, pm, st, b, hostOut, target, tgCookie, closeAfter)
}

// validHost reports whether a rewritten host is usable in a Host header.
func validHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	for _, c := range h {
		if c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '@' {
			return false
		}
	}
	return true
}

// forwardHost is the Host header sent to targets: as received when
// routing.http.preserve_host_header.enabled; otherwise ALB adds the
// listener port when the listener is not on 80 or 443 and the host has
// none, and removes a port from the host on 80 and 443.
func (c *clientConn) forwardHost(sc *sockCfg, host []byte) []byte {
	if sc.lb.attrs.preserveHost {
		return host
	}
	h := hostOnly(host)
	hasPort := len(h) != len(host) && !(len(host) > 0 && host[0] == '[' && host[len(host)-1] == ']')
	if sc.port == 80 || sc.port == 443 {
		if !hasPort {
			return host
		}
		if len(host) > 0 && host[0] == '[' {
			return host[:len(h)+2]
		}
		return h
	}
	if hasPort {
		return host
	}
	c.scratch = append(append(append(c.scratch[:0], host...), ':'), sc.portStr...)
	return c.scratch
}

// headerValue returns the first value of a header.
func headerValue(hs []header, lower string) []byte {
	for i := range hs {
		if asciiEqualFold(hs[i].name, lower) {
			return hs[i].value
		}
	}
	return nil
}

// discardBody reads and drops a request body the load balancer answers
// itself; it reports whether the connection can carry on.
func (c *clientConn) discardBody(sc *sockCfg) bool {
	if c.req.chunked {
		rl := relay{dst: bufio.NewWriter(io.Discard), src: c.br, dl: clientDeadline{c}}
		return rl.copyChunked() == nil
	}
	if c.req.contentLength > 1<<20 {
		return false
	}
	_, err := c.br.Discard(int(c.req.contentLength))
	return err == nil
}

// writeELB writes a response generated by the load balancer.
func (c *clientConn) writeELB(sc *sockCfg, e *logEntry, code int, ctype string, body []byte, extra [][2]string, closeAfter bool) {
	e.elbStatus = code
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(code))
	w.WriteByte(' ')
	w.WriteString(statusText(code))
	w.WriteString("\r\n")
	if sc.serverHeader {
		w.WriteString("Server: awselb/2.0\r\n")
	}
	w.WriteString("Date: ")
	w.Write(c.date.get(time.Now()))
	w.WriteString("\r\nContent-Type: ")
	w.WriteString(ctype)
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n")
	for _, h := range extra {
		w.WriteString(h[0])
		w.WriteString(": ")
		w.WriteString(h[1])
		w.WriteString("\r\n")
	}
	for _, h := range sc.respHeaders {
		w.Write(h.name)
		w.WriteString(": ")
		w.Write(h.value)
		w.WriteString("\r\n")
	}
	if closeAfter {
		w.WriteString("Connection: close\r\n\r\n")
	} else {
		w.WriteString("Connection: keep-alive\r\n\r\n")
	}
	if string(c.req.method) != "HEAD" {
		w.Write(body)
	}
	w.Flush()
}

// finish records a request's metrics and access log entry.
func (c *clientConn) finish(sc *sockCfg, e *logEntry, pm *pairMetrics) {
	e.end = time.Now()
	lbm := sc.lb.rt.m
	if pm != nil {
		pm.requests.Inc()
	} else {
		lbm.requests.Inc()
	}
	if e.elbStatus > 0 {
		lbm.elbCode(e.elbStatus)
	}
	if c.cc != nil {
		e.received, e.sent = c.cc.r-c.lastR, c.cc.w-c.lastW
		c.lastR, c.lastW = c.cc.r, c.cc.w
	}
	lbm.bytes.Add(float64(e.received + e.sent))
	if sc.lb.alog != nil {
		if e.reqProc < 0 && e.elbStatus == 0 {
			e.reqProc = 0
		}
		if len(e.trace) == 0 {
			e.trace = append(e.trace[:0], headerValue(c.req.headers, "x-amzn-trace-id")...)
		}
		sc.lb.alog.write(e, sc.lb.rt.dim)
	}
}

// proxy forwards the request to a target over HTTP/1.1 and relays the
// response; it reports whether the client connection stays.
func (c *clientConn) proxy(sc *sockCfg, e *logEntry, pm *pairMetrics, st *tgState, b *backend, hostOut, target, tgCookie []byte, closeAfter bool) bool {
	req := &c.req
	idle := sc.lb.attrs.idleTimeout
	pool := b.pool(sc.src)
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	e.target = b.vpc
	ws := req.upgrade != nil && asciiEqualFold(req.upgrade, "websocket")
	if ws {
		if c.tlsState != nil {
			e.typ = "wss"
		} else {
			e.typ = "ws"
		}
	}
	// The trace header is built once; a retry sends the same request.
	traceStart := len(c.scratch)
	c.scratch = appendTraceHeader(c.scratch, headerValue(req.headers, "x-amzn-trace-id"), len(req.buf), e.start)
	e.trace = append(e.trace[:0], c.scratch[traceStart:]...)
	var uc *upConn
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
			return c.fail(sc, e, pm, code, closeAfter || req.hasBody())
		}
		e.reqProc = time.Since(e.start)
		c.writeUpstreamHead(uc.bw, sc, hostOut, target, e.trace, ws)
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
					return c.fail(sc, e, pm, 502, true)
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
			return c.fail(sc, e, pm, 502, closeAfter || req.hasBody())
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
		return c.fail(sc, e, pm, code, closeAfter || req.hasBody())
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
			return c.fail(sc, e, pm, 502, true)
		}
		c.writeResponseHead(sc, st, b, tgCookie, false, true)
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
	c.writeResponseHead(sc, st, b, tgCookie, clientClose, false)
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
func (c *clientConn) fail(sc *sockCfg, e *logEntry, pm *pairMetrics, code int, closeAfter bool) bool {
	c.writeELB(sc, e, code, "text/html", pageFor(code), nil, closeAfter)
	c.finish(sc, e, pm)
	return !closeAfter
}

// readUpstreamResponse reads the target's response head, skipping
// interim 1xx responses other than 101. While it waits, a watcher notices
// a client that closes its connection (HTTP 460).
func (c *clientConn) readUpstreamResponse(sc *sockCfg, uc *upConn) error {
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

// hdrKind classifies request header names the proxy handles itself.
type hdrKind uint8

const (
	hdrOther hdrKind = iota
	hdrSkip
	hdrXFF
)

func (c *clientConn) classify(sc *sockCfg, name []byte) hdrKind {
	if hopByHop(name) || listed(name, c.req.hopByHop) {
		return hdrSkip
	}
	switch len(name) {
	case 4:
		if asciiEqualFold(name, "host") {
			return hdrSkip
		}
	case 6:
		if asciiEqualFold(name, "expect") && c.req.expect100 {
			return hdrSkip
		}
	case 14:
		if asciiEqualFold(name, "content-length") {
			return hdrSkip
		}
	case 15:
		if asciiEqualFold(name, "x-forwarded-for") {
			return hdrXFF
		}
		if asciiEqualFold(name, "x-amzn-trace-id") {
			return hdrSkip
		}
	case 16:
		if asciiEqualFold(name, "x-forwarded-port") {
			return hdrSkip
		}
	case 17:
		if asciiEqualFold(name, "x-forwarded-proto") {
			return hdrSkip
		}
	}
	if sc.lb.attrs.tlsHeaders && (equalFoldString(name, sc.tlsVersionH) || equalFoldString(name, sc.tlsCipherH)) {
		return hdrSkip
	}
	if sc.lb.attrs.dropInvalid && !validName(name) {
		return hdrSkip
	}
	return hdrOther
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

// writeUpstreamHead writes the request head sent to the target.
func (c *clientConn) writeUpstreamHead(w *bufio.Writer, sc *sockCfg, host, target, trace []byte, ws bool) {
	req := &c.req
	w.Write(req.method)
	w.WriteByte(' ')
	w.Write(target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.Write(host)
	w.WriteString("\r\n")
	var xff []byte
	nxff := 0
	for i := range req.headers {
		h := &req.headers[i]
		switch c.classify(sc, h.name) {
		case hdrSkip:
			continue
		case hdrXFF:
			if sc.lb.attrs.xffMode == xffPreserve {
				break
			}
			if nxff == 0 {
				xff = h.value
			} else {
				// Several X-Forwarded-For headers: join them.
				start := len(c.scratch)
				c.scratch = append(append(append(c.scratch, xff...), ", "...), h.value...)
				xff = c.scratch[start:]
			}
			nxff++
			continue
		}
		w.Write(h.name)
		w.WriteString(": ")
		w.Write(h.value)
		w.WriteString("\r\n")
	}
	if sc.lb.attrs.xffMode == xffAppend {
		w.WriteString("X-Forwarded-For: ")
		var buf [64]byte
		w.Write(appendXFF(buf[:0], xff, c.seen, sc.lb.attrs.xffClientPort))
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Proto: ")
	w.WriteString(sc.scheme)
	w.WriteString("\r\nX-Forwarded-Port: ")
	w.WriteString(sc.portStr)
	w.WriteString("\r\nX-Amzn-Trace-Id: ")
	w.Write(trace)
	w.WriteString("\r\n")
	if sc.lb.attrs.tlsHeaders && c.tlsState != nil {
		w.WriteString(sc.tlsVersionH)
		w.WriteString(": ")
		w.WriteString(c.tlsProto)
		w.WriteString("\r\n")
		w.WriteString(sc.tlsCipherH)
		w.WriteString(": ")
		w.WriteString(c.tlsCiph)
		w.WriteString("\r\n")
	}
	switch {
	case req.chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case req.contentLength >= 0:
		if req.contentLength > 0 || !bodylessMethod(req.method) {
			w.WriteString("Content-Length: ")
			var buf [20]byte
			w.Write(strconv.AppendInt(buf[:0], req.contentLength, 10))
			w.WriteString("\r\n")
		}
	}
	if ws {
		w.WriteString("Connection: Upgrade\r\nUpgrade: ")
		w.Write(req.upgrade)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

func bodylessMethod(m []byte) bool {
	s := string(m)
	return s == "GET" || s == "HEAD" || s == "DELETE" || s == "OPTIONS"
}

// writeResponseHead writes the target's status line and headers to the
// client (without the final empty line unless upgrade is set).
func (c *clientConn) writeResponseHead(sc *sockCfg, st *tgState, b *backend, tgCookie []byte, closeAfter, upgrade bool) {
	resp := &c.resp
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	var buf [8]byte
	w.Write(strconv.AppendInt(buf[:0], int64(resp.status), 10))
	w.WriteByte(' ')
	w.Write(resp.reason)
	w.WriteString("\r\n")
	appCookieSet := false
	for i := range resp.headers {
		h := &resp.headers[i]
		if !upgrade && (hopByHop(h.name) || listed(h.name, resp.hopByHop)) {
			continue
		}
		if upgrade && (asciiEqualFold(h.name, "transfer-encoding") || asciiEqualFold(h.name, "content-length")) {
			continue
		}
		if !upgrade && asciiEqualFold(h.name, "content-length") {
			continue
		}
		if overridden(h.name, sc.respHeaders) {
			continue
		}
		if st.attrs.sticky == stickyAppCookie && asciiEqualFold(h.name, "set-cookie") && setsCookie(h.value, st.attrs.appCookie) {
			appCookieSet = true
		}
		w.Write(h.name)
		w.WriteString(": ")
		w.Write(h.value)
		w.WriteString("\r\n")
	}
	if !upgrade && resp.contentLength >= 0 && resp.status != 204 && resp.status != 304 && resp.status >= 200 {
		w.WriteString("Content-Length: ")
		var nb [20]byte
		w.Write(strconv.AppendInt(nb[:0], resp.contentLength, 10))
		w.WriteString("\r\n")
	}
	now := c.p.now()
	switch st.attrs.sticky {
	case stickyLBCookie:
		c.writeStickyCookie(w, "AWSALB", b.cookie, now.Add(st.attrs.stickyFor))
	case stickyAppCookie:
		if appCookieSet {
			c.writeStickyCookie(w, "AWSALBAPP-0", b.cookie, now.Add(st.attrs.stickyFor))
		}
	}
	if tgCookie != nil {
		if r := c.tgSticky; r > 0 {
			c.writeStickyCookie(w, "AWSALBTG", string(tgCookie), now.Add(r))
		}
	}
	for _, h := range sc.respHeaders {
		w.Write(h.name)
		w.WriteString(": ")
		w.Write(h.value)
		w.WriteString("\r\n")
	}
	if upgrade {
		w.WriteString("\r\n")
		return
	}
	if closeAfter {
		w.WriteString("Connection: close\r\n")
	} else if c.req.minor == 0 {
		w.WriteString("Connection: keep-alive\r\n")
	}
}

// writeStickyCookie writes a stickiness cookie and its CORS twin, as ALB
// sets them (NAME=…; Expires=…; Path=/ and NAMECORS=…; …; SameSite=None;
// Secure).
func (c *clientConn) writeStickyCookie(w *bufio.Writer, name, value string, exp time.Time) {
	var buf [64]byte
	date := exp.UTC().AppendFormat(buf[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
	for _, cors := range []bool{false, true} {
		w.WriteString("Set-Cookie: ")
		w.WriteString(name)
		if cors {
			w.WriteString("CORS")
		}
		w.WriteByte('=')
		w.WriteString(value)
		w.WriteString("; Expires=")
		w.Write(date)
		w.WriteString("; Path=/")
		if cors {
			w.WriteString("; SameSite=None; Secure")
		}
		w.WriteString("\r\n")
	}
}

// setsCookie reports whether a Set-Cookie value sets the named cookie.
func setsCookie(v []byte, name string) bool {
	v = trimSpace(v)
	return len(v) > len(name) && v[len(name)] == '=' && string(v[:len(name)]) == name
}

func overridden(name []byte, hs []header) bool {
	for i := range hs {
		if equalFoldBytes(name, hs[i].name) {
			return true
		}
	}
	return false
}

// tunnel relays a WebSocket connection in both directions until either
// side closes or the connection stays idle past the idle timeout.
func (c *clientConn) tunnel(uc *upConn, idle time.Duration) {
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
type clientDeadline struct{ c *clientConn }

func (d clientDeadline) refresh() {
	d.c.setReadDeadline(d.c.conn, time.Now().Add(d.c.idleFor))
}

// refresh moves a target connection's idle deadline before reads of a
// response body.
func (uc *upConn) refresh() {
	uc.setReadDeadline(time.Now().Add(uc.idle))
}
