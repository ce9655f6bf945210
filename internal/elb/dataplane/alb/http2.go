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

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/settings"
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
	conns sync.Map // net.Conn -> *blockingConn
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
			r.Context().Value(ctxKey{}).(*blockingConn).serveH2Request(w, r)
		}),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			c, _ := h.conns.Load(nc)
			return context.WithValue(ctx, ctxKey{}, c)
		},
		ConnState: func(nc net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				if c, ok := h.conns.LoadAndDelete(nc); ok {
					close(c.(*blockingConn).h2done)
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
func (c *blockingConn) serveH2(sc *sockCfg, tc *tls.Conn) {
	c.conn = tc
	c.h2done = make(chan struct{})
	h := c.p.h2srv()
	if h == nil {
		return
	}
	c.h2idle = time.AfterFunc(sc.LB.IdleTimeout, c.h2IdleCheck)
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
func (c *blockingConn) h2IdleCheck() {
	if c.h2n.Load() == 0 {
		c.nc.Close()
	}
}

// isGRPC reports whether a request is a gRPC call.
func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// serveH2Request routes and serves one HTTP/2 request.
func (c *blockingConn) serveH2Request(w http.ResponseWriter, r *http.Request) {
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
				c.h2idle.Reset(sc.LB.IdleTimeout)
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
			hs = append(hs, header{Name: []byte(k), Value: []byte(v)})
		}
	}
	req := routing.Request{
		Protocol:      routing.HTTP2,
		Method:        []byte(r.Method),
		Target:        []byte(r.URL.RequestURI()),
		Host:          []byte(r.Host),
		DefaultHost:   c.localHost,
		Headers:       hs,
		Source:        c.remote.Addr(),
		SourceVPC:     c.vpc,
		HasBody:       r.ContentLength != 0,
		ContentLength: r.ContentLength,
		HeadBytes:     headerSize(r.Header),
		Start:         start,
	}
	if grpc {
		req.Protocol = routing.GRPC
	}
	d := &routing.Decision{}
	sc.Route(sc.zone, &req, d)
	if d.Rule != nil {
		e.priority, e.actions = d.Rule.Priority, d.Rule.Action.Names
	}
	e.errReason, e.redirect = d.ErrReason, d.Location
	if d.Group != nil {
		e.tgARN = d.Group.ARN
		pm = sc.lb.rt.m.group(d.Group)
	}
	if d.Kind == routing.Respond {
		e.elbStatus = d.Status
		if d.Group != nil || d.Rule == nil {
			// An error of the load balancer's: gRPC clients get it as a
			// gRPC status.
			h2Error(w, grpc, d.Status, sc)
			return
		}
		// The rule's own answer: a fixed response, a redirect, or 501
		// for an action elbow does not perform.
		if d.Location != "" {
			w.Header().Set("Location", d.Location)
		}
		writeELBHeaders(w, sc, d.ContentType, len(d.Body))
		w.WriteHeader(d.Status)
		w.Write(d.Body)
		return
	}
	e.target = d.Target.VPC
	e.trace = d.Trace
	d.Target.Inflight.Add(1)
	defer d.Target.Inflight.Add(-1)
	c.forwardH2(&h2Forward{w: w, r: r, sc: sc, e: e, pm: pm, d: d, grpc: grpc})
}

// h2Forward is one HTTP/2 request on its way to the target the routing
// core chose.
type h2Forward struct {
	w    http.ResponseWriter
	r    *http.Request
	sc   *sockCfg
	e    *logEntry
	pm   *pairMetrics
	d    *routing.Decision
	grpc bool
}

// forwardH2 sends an HTTP/2 request to its target and relays the
// response, trailers included.
func (c *blockingConn) forwardH2(f *h2Forward) {
	w, r, sc, e, pm, grpc := f.w, f.r, f.sc, f.e, f.pm, f.grpc
	st, b := f.d.State, f.d.Target
	idle := sc.LB.IdleTimeout
	out := r.Clone(r.Context())
	u, err := url.ParseRequestURI(string(f.d.URI))
	if err != nil {
		e.elbStatus, e.errReason = 500, "TransformFailed"
		h2Error(w, grpc, 500, sc)
		return
	}
	scheme := "http"
	if b.TLS {
		scheme = "https"
	}
	out.URL = &url.URL{Scheme: scheme, Host: b.Addr.String(), Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	out.Host = string(f.d.Host)
	out.RequestURI = ""
	out.Header = r.Header.Clone()
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"} {
		out.Header.Del(k)
	}
	if te := r.Header.Get("Te"); te != "" && !strings.EqualFold(te, "trailers") {
		out.Header.Del("Te")
	}
	switch sc.LB.XFFMode {
	case settings.XFFAppend:
		prior := strings.Join(r.Header.Values("X-Forwarded-For"), ", ")
		out.Header.Set("X-Forwarded-For", string(routing.AppendXFF(nil, []byte(prior), c.seen, sc.LB.XFFClientPort)))
	case settings.XFFRemove:
		out.Header.Del("X-Forwarded-For")
	}
	out.Header.Set("X-Forwarded-Proto", "https")
	out.Header.Set("X-Forwarded-Port", sc.PortStr)
	out.Header.Set("X-Amzn-Trace-Id", string(f.d.Trace))
	if sc.LB.TLSHeaders {
		out.Header.Set(sc.TLSVersionHeader, c.tlsProto)
		out.Header.Set(sc.TLSCipherHeader, c.tlsCiph)
	}
	if sc.LB.DropInvalid {
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
	rt := c.p.conns.get(b, sc.src).slowClient(st.Version)
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
	for _, rh := range sc.ResponseHeaders {
		h.Set(string(rh.Name), string(rh.Value))
	}
	now := c.p.now()
	switch st.Attrs.Sticky {
	case settings.StickyLBCookie:
		addStickyCookie(h, "AWSALB", b.Cookie, now.Add(st.Attrs.StickyFor))
	case settings.StickyAppCookie:
		for _, sv := range resp.Header.Values("Set-Cookie") {
			if setsCookie([]byte(sv), st.Attrs.AppCookie) {
				addStickyCookie(h, "AWSALBAPP-0", b.Cookie, now.Add(st.Attrs.StickyFor))
				break
			}
		}
	}
	if f.d.GroupCookie != "" && f.d.GroupSticky > 0 {
		addStickyCookie(h, "AWSALBTG", f.d.GroupCookie, now.Add(f.d.GroupSticky))
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
	if sc != nil && sc.ServerHeader {
		h.Set("Server", "awselb/2.0")
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(n))
	if sc != nil {
		for _, rh := range sc.ResponseHeaders {
			h.Set(string(rh.Name), string(rh.Value))
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
		return 12, routing.StatusText(code)
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
		if sc != nil && sc.ServerHeader {
			h.Set("Server", "awselb/2.0")
		}
		st, msg := grpcStatus(code)
		h.Set("Content-Type", "application/grpc")
		h.Set("Grpc-Status", strconv.Itoa(st))
		h.Set("Grpc-Message", "ELB "+strconv.Itoa(code)+": "+msg)
		w.WriteHeader(200)
		return
	}
	body := routing.Page(code)
	writeELBHeaders(w, sc, "text/html", len(body))
	w.WriteHeader(code)
	w.Write(body)
}

// finishH2 records an HTTP/2 request's metrics and access log entry.
func (c *blockingConn) finishH2(sc *sockCfg, e *logEntry, pm *pairMetrics) {
	if sc == nil {
		return
	}
	countRequest(sc.lb.rt.m, e, pm)
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
		return d.DialContext(ctx, "tcp", p.t.Addr.String())
	}
	newTransport := func(h2 bool) *http.Transport {
		protos := new(http.Protocols)
		switch {
		case !h2:
			protos.SetHTTP1(true)
		case p.t.TLS:
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
