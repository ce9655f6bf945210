package alb

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/dataplane/h2"
	"github.com/elbowlb/elbow/internal/elb/settings"
)

// The HTTP/2 path: clients that negotiate h2 on an HTTPS listener are
// served by package h2 (a read loop and a write loop per connection, a
// goroutine per request). Requests are routed by the same rules and
// forwarded over HTTP/1.1 (target groups of protocol version HTTP1, as
// ALB converts them) on the pooled target connections the HTTP/1.1 paths
// use, or over HTTP/2 (HTTP2 and GRPC target groups) on multiplexed
// connections per target (http2_targets.go).

// h2Config is what the load balancer's HTTP/2 server advertises: 128
// concurrent streams, header blocks up to ALB's 64 KiB.
func h2Config(idle time.Duration) h2.Config {
	return h2.Config{MaxConcurrentStreams: h2MaxStreams, MaxHeaderListSize: maxHeadBytes, WriteTimeout: idle}
}

// h2MaxStreams is the concurrent streams a client may open. A stream the
// client resets stops counting at once, but its request may still be on
// its way to the target: a connection whose requests in flight reach
// h2MaxHandlers has reset streams faster than they end (rapid reset,
// CVE-2023-44487) and is ended with GOAWAY ENHANCE_YOUR_CALM.
const (
	h2MaxStreams  = 128
	h2MaxHandlers = 4 * h2MaxStreams
)

// serveH2 serves an HTTP/2 client connection until it closes. An idle
// connection (no stream in flight) closes after the idle timeout.
func (c *blockingConn) serveH2(sc *sockCfg, tc *tls.Conn) {
	c.conn = tc
	hc := h2.NewServerConn(tc, h2Config(sc.LB.IdleTimeout))
	c.h2quiet.Store(time.Now().UnixNano())
	c.h2idle = time.AfterFunc(sc.LB.IdleTimeout, c.h2IdleCheck)
	hc.Serve(func(st *h2.Stream) {
		if c.h2n.Load() >= h2MaxHandlers {
			hc.Abort(http2.ErrCodeEnhanceYourCalm)
			return
		}
		c.h2Begin()
		c.p.workers.run(func() { c.serveH2Stream(st) })
	})
	c.h2idle.Stop()
}

// h2Begin counts a stream in flight: the connection is not idle.
func (c *blockingConn) h2Begin() {
	c.idle.Store(false)
	c.h2n.Add(1)
}

// h2End counts a stream done; the last one makes the connection idle,
// and closes it when its listener is going away.
func (c *blockingConn) h2End() {
	if c.h2n.Add(-1) != 0 {
		return
	}
	c.idle.Store(true)
	if c.h2n.Load() > 0 {
		c.idle.Store(false)
		return
	}
	c.h2quiet.Store(time.Now().UnixNano())
	if c.s.isClosing() {
		c.nc.Close()
	} else if sc := c.s.cur.Load(); sc != nil {
		c.h2idle.Reset(sc.LB.IdleTimeout)
	}
}

// h2IdleCheck closes an HTTP/2 connection that has had no stream in
// flight for the idle timeout. A check that fires while streams are in
// flight does nothing (the last one's end arms it again); one that fires
// just after the last stream ended waits for the rest of the timeout.
func (c *blockingConn) h2IdleCheck() {
	if c.h2n.Load() != 0 {
		return
	}
	if sc := c.s.cur.Load(); sc != nil {
		if left := sc.LB.IdleTimeout - time.Since(time.Unix(0, c.h2quiet.Load())); left > 0 {
			c.h2idle.Reset(left)
			return
		}
	}
	c.nc.Close()
}

// h2Exchange is one HTTP/2 request's state, reused through a pool.
type h2Exchange struct {
	st   *h2.Stream
	sc   *sockCfg
	d    routing.Decision
	e    logEntry
	pm   *pairMetrics
	grpc bool
	// The request: its pseudo-header fields, its other fields as the
	// routing core reads them, and the length of its body (0 none, -1
	// unknown).
	method, scheme, authority, path string
	fields                          []hpack.HeaderField
	headers                         []header
	bodyLen                         int64
	// resp is an HTTP/1.1 target's response head; out the header block
	// sent to the client.
	resp response
	out  []hpack.HeaderField
	up   []hpack.HeaderField // the header block sent to an HTTP/2 target
	uc   atomic.Pointer[targetConn]
	now  func() time.Time // the plane's clock
}

var h2ExchangePool = sync.Pool{New: func() any { return new(h2Exchange) }}

// bytesOf returns a string's bytes without copying: hpack's strings are
// read, never written, by the routing core.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// stringOf returns bytes as a string without copying; the string must not
// outlive the bytes' buffer (it is only encoded into a header block).
func stringOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// isGRPC reports whether a content type is gRPC's.
func isGRPC(ctype string) bool { return strings.HasPrefix(ctype, "application/grpc") }

// serveH2Stream routes and serves one HTTP/2 request.
func (c *blockingConn) serveH2Stream(st *h2.Stream) {
	defer c.h2End()
	start := time.Now()
	x := h2ExchangePool.Get().(*h2Exchange)
	defer func() {
		x.st, x.sc, x.pm = nil, nil, nil
		x.fields = nil
		clear(x.headers)
		x.headers = x.headers[:0]
		clear(x.out)
		x.out = x.out[:0]
		clear(x.up)
		x.up = x.up[:0]
		x.uc.Store(nil)
		h2ExchangePool.Put(x)
	}()
	x.st, x.now = st, c.p.now
	x.fields = st.Header()
	x.method, x.scheme, x.authority, x.path = "", "", "", ""
	headBytes := 0
	ctype := ""
	for _, f := range x.fields {
		headBytes += len(f.Name) + len(f.Value) + 4
		switch f.Name {
		case ":method":
			x.method = f.Value
		case ":scheme":
			x.scheme = f.Value
		case ":authority":
			x.authority = f.Value
		case ":path":
			x.path = f.Value
		default:
			if f.Name == "content-type" {
				ctype = f.Value
			}
			if f.Name == "host" && x.authority == "" {
				x.authority = f.Value
			}
			x.headers = append(x.headers, header{Name: bytesOf(f.Name), Value: bytesOf(f.Value)})
		}
	}
	x.grpc = isGRPC(ctype)
	x.bodyLen = st.BodyLength()
	sc := c.s.cur.Load()
	if sc == nil {
		// The listener is gone: no new requests on this connection.
		h2Error(st, x.grpc, 503, nil)
		return
	}
	x.sc = sc
	e := &x.e
	e.reset()
	e.start, e.client = start, c.seen
	e.typ = "h2"
	if x.grpc {
		e.typ = "grpcs"
	}
	e.cipher, e.tlsProto, e.domain = c.tlsCiph, c.tlsProto, c.tlsState.ServerName
	e.cert = sc.certForName(e.domain)
	e.method = append(e.method[:0], x.method...)
	if sc.lb.alog != nil {
		e.url = "https://" + x.authority + x.path
		e.proto = "HTTP/2.0"
		e.userAgent = routing.HeaderValue(x.headers, "user-agent")
	}
	defer c.finishH2(sc, e, x)
	if st.Truncated() {
		// Headers beyond ALB's 64 KiB.
		e.elbStatus, e.errReason = 400, "ClientRequestError"
		h2Error(st, x.grpc, 400, sc)
		return
	}
	req := routing.Request{
		Protocol:      routing.HTTP2,
		Method:        bytesOf(x.method),
		Target:        bytesOf(x.path),
		Host:          bytesOf(x.authority),
		DefaultHost:   c.localHost,
		Headers:       x.headers,
		Source:        c.remote.Addr(),
		SourceVPC:     c.vpc,
		HasBody:       x.bodyLen != 0,
		ContentLength: x.bodyLen,
		HeadBytes:     headBytes,
		Start:         start,
	}
	if x.authority == "" {
		req.Host = nil
	}
	if x.grpc {
		req.Protocol = routing.GRPC
	}
	d := &x.d
	sc.Route(sc.zone, &req, d)
	if d.Rule != nil {
		e.priority, e.actions = d.Rule.Priority, d.Rule.Action.Names
	}
	e.errReason, e.redirect = d.ErrReason, d.Location
	if d.Group != nil {
		e.tgARN = d.Group.ARN
		x.pm = sc.lb.rt.m.group(d.Group)
	}
	if d.Kind == routing.Respond {
		e.elbStatus = d.Status
		if d.Group != nil || d.Rule == nil {
			// An error of the load balancer's: gRPC clients get it as a
			// gRPC status.
			h2Error(st, x.grpc, d.Status, sc)
			return
		}
		// The rule's own answer: a fixed response, a redirect, or 501
		// for an action elbow does not perform.
		out := append(x.out[:0], hpack.HeaderField{Name: ":status", Value: strconv.Itoa(d.Status)})
		if d.Location != "" {
			out = append(out, hpack.HeaderField{Name: "location", Value: d.Location})
		}
		out = appendELBFields(out, sc, d.ContentType, len(d.Body))
		x.out = out
		st.WriteResponse(out, d.Body)
		return
	}
	e.target = d.Target.VPC
	e.trace = append(e.trace[:0], d.Trace...)
	d.Target.Inflight.Add(1)
	defer d.Target.Inflight.Add(-1)
	if d.State.Version == "HTTP1" {
		c.forwardH2ToH1(x)
	} else {
		c.forwardH2ToH2(x)
	}
}

// appendELBFields appends the header fields of a response the load
// balancer generates.
func appendELBFields(out []hpack.HeaderField, sc *sockCfg, ctype string, n int) []hpack.HeaderField {
	if sc != nil && sc.ServerHeader {
		out = append(out, hpack.HeaderField{Name: "server", Value: "awselb/2.0"})
	}
	out = append(out, hpack.HeaderField{Name: "content-type", Value: ctype}, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(n)})
	if sc != nil {
		out = append(out, sc.h2ResponseHeaders...)
	}
	return out
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
func h2Error(st *h2.Stream, grpc bool, code int, sc *sockCfg) {
	if grpc {
		out := []hpack.HeaderField{{Name: ":status", Value: "200"}}
		if sc != nil && sc.ServerHeader {
			out = append(out, hpack.HeaderField{Name: "server", Value: "awselb/2.0"})
		}
		gs, msg := grpcStatus(code)
		out = append(out,
			hpack.HeaderField{Name: "content-type", Value: "application/grpc"},
			hpack.HeaderField{Name: "grpc-status", Value: strconv.Itoa(gs)},
			hpack.HeaderField{Name: "grpc-message", Value: "ELB " + strconv.Itoa(code) + ": " + msg})
		st.WriteHeaders(out, true)
		return
	}
	body := routing.Page(code)
	out := appendELBFields([]hpack.HeaderField{{Name: ":status", Value: strconv.Itoa(code)}}, sc, "text/html", len(body))
	st.WriteResponse(out, body)
}

// finishH2 records an HTTP/2 request's metrics and access log entry.
func (c *blockingConn) finishH2(sc *sockCfg, e *logEntry, x *h2Exchange) {
	countRequest(sc.lb.rt.m, e, x.pm)
	if sc.lb.alog != nil {
		sc.lb.alog.write(e, sc.lb.rt.dim)
	}
}

// targetFailure records a failure to reach or hear from a target and
// answers the client with the load balancer's status for it.
func (x *h2Exchange) targetFailure(code int, reason string) {
	x.e.elbStatus, x.e.errReason = code, reason
	h2Error(x.st, x.grpc, code, x.sc)
}

// dialFailure classifies a failed connection to a target.
func (x *h2Exchange) dialFailure(err error) {
	x.pm.connErrors.Inc()
	var te *tlsError
	switch {
	case isTimeout(err):
		x.targetFailure(504, "TargetConnectionTimeout")
	case errors.As(err, &te):
		x.targetFailure(502, "TargetTLSNegotiationError")
	default:
		x.targetFailure(502, "TargetConnectionError")
	}
}

// forwardH2ToH1 forwards an HTTP/2 request to an HTTP1 target group's
// target over HTTP/1.1, on the pooled connections the HTTP/1.1 paths use,
// and relays the response.
func (c *blockingConn) forwardH2ToH1(x *h2Exchange) {
	sc, d, e, st := x.sc, &x.d, &x.e, x.st
	idle := sc.LB.IdleTimeout
	pool := c.p.conns.get(d.Target, sc.src)
	// A client that resets its stream interrupts the wait for the
	// target.
	st.OnReset(func(error) {
		if uc := x.uc.Load(); uc != nil {
			uc.nc.SetReadDeadline(time.Now())
		}
	})
	var uc *targetConn
	var sentAt time.Time
	for attempt := 0; ; attempt++ {
		var err error
		uc, err = pool.get(context.Background(), idle)
		if err != nil {
			x.dialFailure(err)
			return
		}
		uc.idle = idle
		x.uc.Store(uc)
		e.reqProc = time.Since(e.start)
		c.writeH2UpstreamHead(uc.bw, x)
		if x.bodyLen != 0 {
			if err := x.sendBodyH1(uc.bw); err != nil {
				uc.close()
				var we *writeError
				if errors.As(err, &we) {
					x.targetFailure(502, "TargetConnectionError")
					return
				}
				// The client stopped sending its body.
				e.elbStatus, e.errReason = 460, "ClientClosed"
				return
			}
		}
		if err := uc.bw.Flush(); err != nil {
			uc.close()
			if uc.reused && attempt == 0 && x.bodyLen == 0 {
				continue
			}
			x.targetFailure(502, "TargetConnectionError")
			return
		}
		sentAt = time.Now()
		uc.setReadDeadline(sentAt.Add(idle))
		if st.Err() != nil {
			err = errClientClosed
		} else {
			err = readFinalResponse(uc.br, &x.resp)
		}
		if err == nil {
			break
		}
		uc.close()
		if st.Err() != nil {
			e.elbStatus, e.errReason = 460, "ClientClosed"
			return
		}
		if uc.reused && attempt == 0 && x.bodyLen == 0 && retryable(err) {
			continue
		}
		if isTimeout(err) {
			x.targetFailure(504, "TargetResponseTimeout")
		} else {
			x.targetFailure(502, "TargetResponseError")
		}
		return
	}
	resp := &x.resp
	got := time.Now()
	e.targetProc = got.Sub(sentAt)
	e.targetStatus = resp.status
	x.pm.responseTime.Observe(e.targetProc.Seconds())
	x.pm.targetCode(resp.status)
	if resp.status == 101 {
		// No upgrade over HTTP/2.
		uc.close()
		x.targetFailure(502, "TargetResponseError")
		return
	}
	x.h1ResponseFields()
	bodyless := resp.bodyless(bytesOf(x.method))
	reusable := !resp.close
	var err error
	switch {
	case bodyless:
		err = st.WriteHeaders(x.out, true)
	case resp.contentLength >= 0 && resp.contentLength <= int64(uc.br.Buffered()):
		// The whole body is here (the common small response): one
		// header block and one DATA frame.
		body, _ := uc.br.Peek(int(resp.contentLength))
		err = st.WriteResponse(x.out, body)
		uc.br.Discard(len(body))
	default:
		if err = st.WriteHeaders(x.out, false); err != nil {
			break
		}
		bw := writerPool.Get().(*bufio.Writer)
		bw.Reset(h2DataWriter{st})
		rl := relay{dst: bw, src: uc.br, dl: uc}
		switch {
		case resp.chunked:
			err = rl.run(&body{framing: bodyChunked, dechunk: true})
		case resp.contentLength >= 0:
			err = rl.copyN(resp.contentLength)
		default:
			err = rl.copyEOF(false)
			reusable = false
		}
		if err == nil {
			if err = bw.Flush(); err != nil {
				err = &writeError{err}
			}
		}
		bw.Reset(nil)
		writerPool.Put(bw)
		if err == nil {
			if err = st.WriteData(nil, true); err != nil {
				err = &writeError{err}
			}
		}
	}
	e.respProc = time.Since(got)
	x.uc.Store(nil)
	if err != nil {
		uc.close()
		var we *writeError
		if errors.As(err, &we) || st.Err() != nil {
			e.elbStatus, e.errReason = 460, "ClientClosed"
		} else {
			e.errReason = "TargetResponseError"
			st.Reset(http2.ErrCodeInternal, nil)
		}
		return
	}
	if reusable {
		uc.pool.put(uc)
	} else {
		uc.close()
	}
}

// readFinalResponse reads a target's response head, skipping interim 1xx
// responses other than 101.
func readFinalResponse(br *bufio.Reader, resp *response) error {
	for {
		if err := readResponse(br, resp); err != nil {
			return err
		}
		if resp.status >= 200 || resp.status == 101 {
			return nil
		}
	}
}

// h2DataWriter writes a response body to an HTTP/2 stream as DATA frames.
type h2DataWriter struct{ st *h2.Stream }

func (w h2DataWriter) Write(p []byte) (int, error) {
	if err := w.st.WriteData(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sendBodyH1 relays the client's request body to an HTTP/1.1 target:
// as it is when its length is known, in chunked encoding otherwise.
func (x *h2Exchange) sendBodyH1(bw *bufio.Writer) error {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	chunked := x.bodyLen < 0
	for {
		n, err := x.st.Read(buf)
		if n > 0 {
			if chunked {
				writeChunkHeader(bw, int64(n))
			}
			bw.Write(buf[:n])
			if chunked {
				bw.WriteString("\r\n")
			}
			if bw.Buffered() == 0 || bw.Available() < len(buf) {
				if ferr := bw.Flush(); ferr != nil {
					return &writeError{ferr}
				}
			}
		}
		if err == io.EOF {
			if chunked {
				bw.WriteString("0\r\n\r\n")
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeH2UpstreamHead writes the HTTP/1.1 request head of an HTTP/2
// request sent to an HTTP1 target group.
func (c *blockingConn) writeH2UpstreamHead(w byteWriter, x *h2Exchange) {
	sc, d := x.sc, &x.d
	w.WriteString(x.method)
	w.WriteByte(' ')
	w.Write(d.URI)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.Write(d.Host)
	w.WriteString("\r\n")
	var xff []byte
	var scratch []byte
	nxff, ncookie := 0, 0
	for i := range x.headers {
		h := &x.headers[i]
		if string(h.Name) == "cookie" {
			ncookie++
			continue
		}
		switch c.classify(sc, h.Name) {
		case hdrSkip:
			continue
		case hdrXFF:
			if sc.LB.XFFMode == settings.XFFPreserve {
				break
			}
			if nxff == 0 {
				xff = h.Value
			} else {
				scratch = append(append(append(scratch[:0], xff...), ", "...), h.Value...)
				xff = scratch
			}
			nxff++
			continue
		}
		w.Write(h.Name)
		w.WriteString(": ")
		w.Write(h.Value)
		w.WriteString("\r\n")
	}
	if ncookie > 0 {
		// Cookies are joined into one field for HTTP/1.1 (RFC 9113
		// §8.2.3).
		w.WriteString("cookie: ")
		n := 0
		for i := range x.headers {
			if h := &x.headers[i]; string(h.Name) == "cookie" {
				if n > 0 {
					w.WriteString("; ")
				}
				w.Write(h.Value)
				n++
			}
		}
		w.WriteString("\r\n")
	}
	c.writeForwardedHeaders(w, sc, xff, d.Trace)
	switch {
	case x.bodyLen < 0:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case x.bodyLen > 0 || !bodylessMethod(bytesOf(x.method)):
		w.WriteString("Content-Length: ")
		var nb [20]byte
		w.Write(strconv.AppendInt(nb[:0], x.bodyLen, 10))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// writeForwardedHeaders writes the headers the load balancer adds to an
// HTTP/2 request it forwards over HTTP/1.1.
func (c *blockingConn) writeForwardedHeaders(w byteWriter, sc *sockCfg, xff, trace []byte) {
	if sc.LB.XFFMode == settings.XFFAppend {
		w.WriteString("X-Forwarded-For: ")
		var buf [64]byte
		w.Write(routing.AppendXFF(buf[:0], xff, c.seen, sc.LB.XFFClientPort))
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Proto: https\r\nX-Forwarded-Port: ")
	w.WriteString(sc.PortStr)
	w.WriteString("\r\nX-Amzn-Trace-Id: ")
	w.Write(trace)
	w.WriteString("\r\n")
	if sc.LB.TLSHeaders {
		w.WriteString(sc.TLSVersionHeader)
		w.WriteString(": ")
		w.WriteString(c.tlsProto)
		w.WriteString("\r\n")
		w.WriteString(sc.TLSCipherHeader)
		w.WriteString(": ")
		w.WriteString(c.tlsCiph)
		w.WriteString("\r\n")
	}
}

// h1ResponseFields builds in x.out the HTTP/2 header block of an
// HTTP/1.1 target's response: lower-case names, no connection-specific
// fields, the stickiness cookies and the listener's response headers.
// Its strings point into the target connection's buffer: it is sent
// before the buffer moves on.
func (x *h2Exchange) h1ResponseFields() {
	resp, sc, d := &x.resp, x.sc, &x.d
	out := append(x.out[:0], hpack.HeaderField{Name: ":status", Value: statusString(resp.status)})
	appCookieSet := false
	for i := range resp.headers {
		h := &resp.headers[i]
		if hopByHop(h.Name) || listed(h.Name, resp.hopByHop) || overridden(h.Name, sc.ResponseHeaders) {
			continue
		}
		if d.State.Attrs.Sticky == settings.StickyAppCookie && asciiEqualFold(h.Name, "set-cookie") && setsCookie(h.Value, d.State.Attrs.AppCookie) {
			appCookieSet = true
		}
		out = append(out, hpack.HeaderField{Name: lowerName(h.Name), Value: stringOf(h.Value)})
	}
	x.out = x.appendStickyFields(out, appCookieSet)
}

// appendStickyFields appends the stickiness cookies the response sets
// and the listener's response headers.
func (x *h2Exchange) appendStickyFields(out []hpack.HeaderField, appCookieSet bool) []hpack.HeaderField {
	sc, d := x.sc, &x.d
	st, b := d.State, d.Target
	var now time.Time
	if st.Attrs.Sticky != settings.StickyNone || d.GroupCookie != "" {
		now = x.now()
	}
	switch st.Attrs.Sticky {
	case settings.StickyLBCookie:
		out = appendStickyCookie(out, "AWSALB", b.Cookie, now.Add(st.Attrs.StickyFor))
	case settings.StickyAppCookie:
		if appCookieSet {
			out = appendStickyCookie(out, "AWSALBAPP-0", b.Cookie, now.Add(st.Attrs.StickyFor))
		}
	}
	if d.GroupCookie != "" && d.GroupSticky > 0 {
		out = appendStickyCookie(out, "AWSALBTG", d.GroupCookie, now.Add(d.GroupSticky))
	}
	return append(out, sc.h2ResponseHeaders...)
}

// appendStickyCookie appends a stickiness cookie and its CORS twin.
func appendStickyCookie(out []hpack.HeaderField, name, value string, exp time.Time) []hpack.HeaderField {
	date := exp.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	return append(out,
		hpack.HeaderField{Name: "set-cookie", Value: name + "=" + value + "; Expires=" + date + "; Path=/"},
		hpack.HeaderField{Name: "set-cookie", Value: name + "CORS=" + value + "; Expires=" + date + "; Path=/; SameSite=None; Secure"})
}

// statusString returns a status code's three digits.
func statusString(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 304:
		return "304"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}

// commonNames are response header names in their HTTP/2 (lower-case)
// form, found without allocating.
var commonNames = []string{"content-type", "content-length", "date", "server", "cache-control", "set-cookie", "etag", "last-modified", "vary", "location", "expires", "content-encoding", "accept-ranges"}

// lowerName returns a header name in lower case.
func lowerName(b []byte) string {
	for _, n := range commonNames {
		if len(n) == len(b) && asciiEqualFold(b, n) {
			return n
		}
	}
	return strings.ToLower(string(b))
}

// h2Fields returns header fields in their HTTP/2 form.
func h2Fields(hs []routing.Header) []hpack.HeaderField {
	var out []hpack.HeaderField
	for _, h := range hs {
		out = append(out, hpack.HeaderField{Name: strings.ToLower(string(h.Name)), Value: string(h.Value)})
	}
	return out
}
