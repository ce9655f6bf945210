package alb

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The HTTP/2 path: clients that negotiate h2 on an HTTPS listener are
// served by golang.org/x/net/http2; their requests are routed by the same
// rules and forwarded over HTTP/1.1 (target groups of protocol version
// HTTP1, as ALB converts them), HTTP/2 (HTTP2) or HTTP/2 with trailers
// (GRPC), through net/http clients kept per target.

// h2Server serves the HTTP/2 client connections of every listener: one
// net/http server fed the connections that negotiated h2.
type h2Server struct {
	srv   *http.Server
	queue chan net.Conn
	done  chan struct{}
	once  sync.Once
	conns sync.Map // net.Conn -> *clientConn
}

type ctxKey struct{}

func newH2Server() *h2Server {
	h := &h2Server{queue: make(chan net.Conn), done: make(chan struct{})}
	protos := new(http.Protocols)
	protos.SetHTTP2(true)
	h.srv = &http.Server{
		Protocols:      protos,
		MaxHeaderBytes: maxHeadBytes,
		HTTP2:          &http.HTTP2Config{MaxConcurrentStreams: 128},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Context().Value(ctxKey{}).(*clientConn).serveH2Request(w, r)
		}),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			c, _ := h.conns.Load(nc)
			return context.WithValue(ctx, ctxKey{}, c)
		},
		ConnState: func(nc net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				if c, ok := h.conns.LoadAndDelete(nc); ok {
					close(c.(*clientConn).h2done)
				}
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go h.srv.Serve(h)
	return h
}

// Accept, Close and Addr make the server's listener: connections come
// from the plane's sockets.
func (h *h2Server) Accept() (net.Conn, error) {
	select {
	case c := <-h.queue:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *h2Server) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *h2Server) Addr() net.Addr { return &net.TCPAddr{} }

// shutdown closes every HTTP/2 connection.
func (h *h2Server) shutdown() {
	h.Close()
	h.srv.Close()
}

// serveH2 serves an HTTP/2 client connection until it closes. An idle
// connection (no stream in flight) closes after the idle timeout.
func (c *clientConn) serveH2(sc *sockCfg, tc *tls.Conn) {
	c.conn = tc
	c.h2done = make(chan struct{})
	h := c.p.h2srv()
	if h == nil {
		return
	}
	c.h2idle = time.AfterFunc(sc.lb.attrs.idleTimeout, c.h2IdleCheck)
	h.conns.Store(tc, c)
	select {
	case h.queue <- tc:
	case <-h.done:
		h.conns.Delete(tc)
		return
	}
	<-c.h2done
	c.h2idle.Stop()
}

// h2IdleCheck closes an HTTP/2 connection that has stayed idle.
func (c *clientConn) h2IdleCheck() {
	if c.h2n.Load() == 0 {
		c.nc.Close()
	}
}

// isGRPC reports whether a request is a gRPC call.
func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// serveH2Request routes and serves one HTTP/2 request.
func (c *clientConn) serveH2Request(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The connection is idle when no stream is in flight; an idle
	// connection of a listener that is gone closes.
	c.idle.Store(false)
	c.h2n.Add(1)
	defer func() {
		if c.h2n.Add(-1) == 0 {
			c.idle.Store(true)
			if c.s.isClosing() {
				c.nc.Close()
			} else if sc := c.s.cur.Load(); sc != nil {
				c.h2idle.Reset(sc.lb.attrs.idleTimeout)
			}
		}
	}()
	sc := c.s.cur.Load()
	grpc := isGRPC(r)
	if sc == nil {
		// The listener is gone: no new requests on this connection.
		w.Header().Set("Connection", "close")
		h2Error(w, grpc, 503, nil)
		return
	}
	e := &logEntry{reqProc: -1, targetProc: -1, respProc: -1, priority: -1}
	e.start, e.client = start, c.seen
	e.typ = "h2"
	if grpc {
		e.typ = "grpcs"
	}
	e.cipher, e.tlsProto, e.domain = c.tlsCiph, c.tlsProto, c.tlsState.ServerName
	e.cert = sc.certForName(e.domain)
	e.method = []byte(r.Method)
	e.url = "https://" + r.Host + r.URL.RequestURI()
	e.proto = "HTTP/2.0"
	e.userAgent = []byte(r.UserAgent())
	var pm *pairMetrics
	defer func() { c.finishH2(sc, e, pm) }()

	hs := make([]header, 0, len(r.Header)+1)
	for k, vs := range r.Header {
		for _, v := range vs {
			hs = append(hs, header{name: []byte(k), value: []byte(v)})
		}
	}
	host := []byte(r.Host)
	path, query := []byte(r.URL.EscapedPath()), []byte(r.URL.RawQuery)
	if r.Method == "TRACE" {
		e.elbStatus = 405
		h2Error(w, grpc, 405, sc)
		return
	}
	in := &routeInput{method: []byte(r.Method), host: hostOnly(host), path: path, query: query, headers: hs, src: c.remote.Addr().Unmap(), srcVPC: c.vpc}
	rule := sc.route(in)
	if rule == nil {
		e.elbStatus = 500
		h2Error(w, grpc, 500, sc)
		return
	}
	e.priority, e.actions = rule.priority, rule.act.names
	act := rule.act
	switch act.kind {
	case actFixed:
		e.elbStatus = act.status
		ct := act.contentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		writeELBHeaders(w, sc, ct, len(act.body))
		w.WriteHeader(act.status)
		w.Write(act.body)
		return
	case actRedirect:
		loc := act.redirect.location(sc.scheme, sc.port, hostOnly(host), path, query)
		e.redirect, e.elbStatus = loc, act.redirect.code
		w.Header().Set("Location", loc)
		body := pageFor(act.redirect.code)
		writeELBHeaders(w, sc, "text/html", len(body))
		w.WriteHeader(act.redirect.code)
		w.Write(body)
		return
	case actUnsupported:
		e.elbStatus, e.errReason = 501, "UnsupportedAction"
		body := []byte(act.message + "\n")
		writeELBHeaders(w, sc, "text/plain; charset=utf-8", len(body))
		w.WriteHeader(501)
		w.Write(body)
		return
	}
	wt, tgCookie := c.p.chooseTargetGroup(act, hs)
	tg := wt.tg
	st := tg.st.Load()
	e.tgARN = tg.arn
	pm = tg.metrics(sc.lb.rt.m)
	if grpc && st.version == "HTTP1" || !grpc && st.version == "GRPC" {
		e.elbStatus, e.errReason = 464, "IncompatibleProtocol"
		h2Error(w, grpc, 464, sc)
		return
	}
	if st.targetType == "lambda" {
		e.elbStatus, e.errReason = 502, "LambdaUnsupported"
		h2Error(w, grpc, 502, sc)
		return
	}
	hostOut := host
	rewroteHost := false
	target := []byte(r.URL.RequestURI())
	if rule.hostRewrite != nil {
		if out, ok := rule.hostRewrite.apply(hostOnly(host)); ok {
			if !validHost(out) {
				e.elbStatus, e.errReason = 500, "TransformFailed"
				h2Error(w, grpc, 500, sc)
				return
			}
			hostOut, rewroteHost = out, true
		}
	}
	if rule.urlRewrite != nil {
		if out, ok := rule.urlRewrite.apply(target); ok {
			if len(out) == 0 || out[0] != '/' {
				e.elbStatus, e.errReason = 500, "TransformFailed"
				h2Error(w, grpc, 500, sc)
				return
			}
			target = out
		}
	}
	if !rewroteHost {
		hostOut = append([]byte(nil), c.forwardHost(sc, host)...)
	}
	b := tg.chooseTarget(st, sc.zone, hs)
	if b == nil {
		e.elbStatus, e.errReason = 503, "NoHealthyTargets"
		h2Error(w, grpc, 503, sc)
		return
	}
	e.target = b.vpc
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	c.forwardH2(w, r, sc, e, pm, st, b, string(hostOut), string(target), tgCookie, grpc)
}

// forwardH2 sends an HTTP/2 request to a target and relays the response,
// trailers included.
func (c *clientConn) forwardH2(w http.ResponseWriter, r *http.Request, sc *sockCfg, e *logEntry, pm *pairMetrics, st *tgState, b *backend, host, target, tgCookie string, grpc bool) {
	idle := sc.lb.attrs.idleTimeout
	out := r.Clone(r.Context())
	u, err := url.ParseRequestURI(target)
	if err != nil {
		e.elbStatus, e.errReason = 500, "TransformFailed"
		h2Error(w, grpc, 500, sc)
		return
	}
	scheme := "http"
	if b.tls {
		scheme = "https"
	}
	out.URL = &url.URL{Scheme: scheme, Host: b.addr.String(), Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	out.Host = host
	out.RequestURI = ""
	out.Header = r.Header.Clone()
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"} {
		out.Header.Del(k)
	}
	if te := r.Header.Get("Te"); te != "" && !strings.EqualFold(te, "trailers") {
		out.Header.Del("Te")
	}
	switch sc.lb.attrs.xffMode {
	case xffAppend:
		prior := strings.Join(r.Header.Values("X-Forwarded-For"), ", ")
		out.Header.Set("X-Forwarded-For", string(appendXFF(nil, []byte(prior), c.seen, sc.lb.attrs.xffClientPort)))
	case xffRemove:
		out.Header.Del("X-Forwarded-For")
	}
	out.Header.Set("X-Forwarded-Proto", "https")
	out.Header.Set("X-Forwarded-Port", sc.portStr)
	trace := appendTraceHeader(nil, []byte(r.Header.Get("X-Amzn-Trace-Id")), headerSize(r.Header), e.start)
	e.trace = trace
	out.Header.Set("X-Amzn-Trace-Id", string(trace))
	if sc.lb.attrs.tlsHeaders {
		out.Header.Set(sc.tlsVersionH, c.tlsProto)
		out.Header.Set(sc.tlsCipherH, c.tlsCiph)
	}
	if sc.lb.attrs.dropInvalid {
		for k := range out.Header {
			if !validName([]byte(k)) {
				out.Header.Del(k)
			}
		}
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	// The response headers must arrive within the idle timeout.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	timedOut := make(chan struct{})
	timer := time.AfterFunc(idle, func() { close(timedOut); cancel() })
	out = out.WithContext(ctx)
	e.reqProc = time.Since(e.start)
	sent := time.Now()
	rt := b.pool(sc.src).slowClient(st.version)
	resp, err := rt.RoundTrip(out)
	stopped := timer.Stop()
	if err != nil {
		switch {
		case !stopped && isClosed(timedOut):
			e.elbStatus, e.errReason = 504, "TargetResponseTimeout"
		case r.Context().Err() != nil:
			e.elbStatus, e.errReason = 460, "ClientClosed"
			return
		case isTimeout(err):
			e.elbStatus, e.errReason = 504, "TargetConnectionTimeout"
		default:
			e.elbStatus, e.errReason = 502, "TargetConnectionError"
			var oe *net.OpError
			if errors.As(err, &oe) && oe.Op == "dial" {
				pm.connErrors.Inc()
			}
		}
		h2Error(w, grpc, e.elbStatus, sc)
		return
	}
	defer resp.Body.Close()
	got := time.Now()
	e.targetProc = got.Sub(sent)
	e.targetStatus = resp.StatusCode
	pm.responseTime.Observe(e.targetProc.Seconds())
	pm.targetCode(resp.StatusCode)
	h := w.Header()
	for k, vs := range resp.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Trailer":
			continue
		}
		h[k] = vs
	}
	for _, rh := range sc.respHeaders {
		h.Set(string(rh.name), string(rh.value))
	}
	now := c.p.now()
	switch st.attrs.sticky {
	case stickyLBCookie:
		addStickyCookie(h, "AWSALB", b.cookie, now.Add(st.attrs.stickyFor))
	case stickyAppCookie:
		for _, sv := range resp.Header.Values("Set-Cookie") {
			if setsCookie([]byte(sv), st.attrs.appCookie) {
				addStickyCookie(h, "AWSALBAPP-0", b.cookie, now.Add(st.attrs.stickyFor))
				break
			}
		}
	}
	if tgCookie != "" {
		if d := c.stickyFor(sc, e); d > 0 {
			addStickyCookie(h, "AWSALBTG", tgCookie, now.Add(d))
		}
	}
	// Announce the trailers the target declared.
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	fl, _ := w.(http.Flusher)
	if grpc && fl != nil {
		fl.Flush()
	} else if resp.ContentLength >= 0 {
		// A body of known length goes out in as few frames as the
		// server's buffer allows (written once the handler returns); a
		// streamed one (gRPC, chunked, server-sent events) is flushed
		// as it comes.
		fl = nil
	}
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				e.elbStatus, e.errReason = 460, "ClientClosed"
				break
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if rerr != nil {
			if rerr != io.EOF {
				e.errReason = "TargetResponseError"
			}
			break
		}
	}
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
	e.respProc = time.Since(got)
}

// stickyFor is the target group stickiness duration of the rule that
// matched.
func (c *clientConn) stickyFor(sc *sockCfg, e *logEntry) time.Duration {
	for _, r := range sc.rules {
		if r.priority == e.priority && r.act != nil {
			return r.act.tgSticky
		}
	}
	return 0
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func headerSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func addStickyCookie(h http.Header, name, value string, exp time.Time) {
	date := exp.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	h.Add("Set-Cookie", name+"="+value+"; Expires="+date+"; Path=/")
	h.Add("Set-Cookie", name+"CORS="+value+"; Expires="+date+"; Path=/; SameSite=None; Secure")
}

func writeELBHeaders(w http.ResponseWriter, sc *sockCfg, ctype string, n int) {
	h := w.Header()
	if sc != nil && sc.serverHeader {
		h.Set("Server", "awselb/2.0")
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(n))
	if sc != nil {
		for _, rh := range sc.respHeaders {
			h.Set(string(rh.name), string(rh.value))
		}
	}
}

// grpcStatus maps a load balancer status to the gRPC status it reports
// to gRPC clients.
func grpcStatus(code int) (int, string) {
	switch code {
	case 400:
		return 13, "Bad Request"
	case 405, 464, 501:
		return 12, statusText(code)
	case 503:
		return 14, "Service Unavailable"
	case 504:
		return 4, "Gateway Timeout"
	case 502:
		return 14, "Bad Gateway"
	}
	return 13, strconv.Itoa(code)
}

// h2Error answers an HTTP/2 request with an ELB-generated error: an HTML
// page, or for a gRPC call a trailers-only response whose grpc-status
// and grpc-message say what failed.
func h2Error(w http.ResponseWriter, grpc bool, code int, sc *sockCfg) {
	if grpc {
		h := w.Header()
		if sc != nil && sc.serverHeader {
			h.Set("Server", "awselb/2.0")
		}
		st, msg := grpcStatus(code)
		h.Set("Content-Type", "application/grpc")
		h.Set("Grpc-Status", strconv.Itoa(st))
		h.Set("Grpc-Message", "ELB "+strconv.Itoa(code)+": "+msg)
		w.WriteHeader(200)
		return
	}
	body := pageFor(code)
	writeELBHeaders(w, sc, "text/html", len(body))
	w.WriteHeader(code)
	w.Write(body)
}

// finishH2 records an HTTP/2 request's metrics and access log entry.
func (c *clientConn) finishH2(sc *sockCfg, e *logEntry, pm *pairMetrics) {
	if sc == nil {
		return
	}
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
	if sc.lb.alog != nil {
		sc.lb.alog.write(e, sc.lb.rt.dim)
	}
}

// slowClient forwards requests of the HTTP/2 path to one target.
type slowClient struct {
	h1 *http.Transport
	h2 *http.Transport
}

// slowClient returns the pool's net/http client for a protocol version,
// creating it on first use: HTTP/1.1 for HTTP1 target groups, HTTP/2 (in
// clear text, or over TLS with ALPN h2 for HTTPS target groups) for HTTP2
// and GRPC ones.
func (p *pool) slowClient(version string) http.RoundTripper {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slow == nil {
		p.slow = &slowClient{}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: connectTimeout, Control: bindNoPort}
		if p.src.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: p.src.AsSlice()}
		}
		return d.DialContext(ctx, "tcp", p.b.addr.String())
	}
	newTransport := func(h2 bool) *http.Transport {
		protos := new(http.Protocols)
		switch {
		case !h2:
			protos.SetHTTP1(true)
		case p.b.tls:
			protos.SetHTTP2(true)
		default:
			protos.SetUnencryptedHTTP2(true)
		}
		return &http.Transport{
			DialContext:         dial,
			TLSClientConfig:     backendTLS,
			TLSHandshakeTimeout: connectTimeout,
			Protocols:           protos,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     60 * time.Second,
			DisableCompression:  true,
		}
	}
	if version == "HTTP1" {
		if p.slow.h1 == nil {
			p.slow.h1 = newTransport(false)
		}
		return p.slow.h1
	}
	if p.slow.h2 == nil {
		p.slow.h2 = newTransport(true)
	}
	return p.slow.h2
}

func (s *slowClient) close() {
	if s.h1 != nil {
		s.h1.CloseIdleConnections()
	}
	if s.h2 != nil {
		s.h2.CloseIdleConnections()
	}
}
