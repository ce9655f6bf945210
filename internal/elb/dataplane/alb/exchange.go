package alb

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/netip"
	"strconv"
	"time"
)

// exchange is what the HTTP/1.1 request loop of a client connection keeps
// from request to request, whichever loop runs it (a goroutine per
// connection, or an event loop): the client, the parsed request and
// response, and the routing, header and logging logic they share.
type exchange struct {
	p      *Plane
	s      *listenSock
	remote netip.AddrPort
	vpc    netip.Addr // the VPC address the client stands for, if any
	// seen is the client as the VPC sees it: its VPC address when its
	// host address realises one. X-Forwarded-For and access logs carry it.
	seen   netip.AddrPort
	opened time.Time

	tlsState *tls.ConnectionState
	tlsProto string
	tlsCiph  string

	req      request
	resp     response
	in       routeInput
	scratch  []byte
	date     httpDate
	log      logEntry
	tgSticky time.Duration

	// rx and tx count the bytes read from and written to the client.
	rx, tx         int64
	lastRx, lastTx int64
}

func (x *exchange) init(p *Plane, s *listenSock, remote netip.AddrPort) {
	x.p, x.s, x.remote, x.opened = p, s, remote, p.now()
	x.seen = remote
	if v, ok := p.addrs.FromHost(remote.Addr()); ok {
		x.vpc = v
		x.seen = netip.AddrPortFrom(v, remote.Port())
	}
}

// byteWriter is where heads are written: a bufio.Writer, or an event
// loop's output buffer.
type byteWriter interface {
	io.Writer
	io.StringWriter
	io.ByteWriter
}

type decisionKind uint8

const (
	// decRespond: the load balancer answers itself.
	decRespond decisionKind = iota
	// decForward: the request goes to a target.
	decForward
)

// decision is what to do with a request.
type decision struct {
	kind decisionKind
	e    *logEntry
	pm   *pairMetrics
	// closeAfter: the client connection closes after the response.
	closeAfter bool

	// respond
	code  int
	ctype string
	body  []byte
	extra [][2]string
	// discard: the request body must be read and dropped first.
	discard bool

	// forward
	st       *tgState
	b        *backend
	hostOut  []byte
	target   []byte
	tgCookie []byte
}

func (d *decision) respond(code int, ctype string, body []byte) *decision {
	d.kind, d.code, d.ctype, d.body = decRespond, code, ctype, body
	return d
}

func (d *decision) page(code int) *decision { return d.respond(code, "text/html", pageFor(code)) }

// refusal starts the log entry of a request the load balancer could not
// read and the decision to refuse it; the connection closes.
func (x *exchange) refusal(sc *sockCfg, start time.Time, code int, d *decision) *decision {
	*d = decision{e: x.beginLog(sc, start), closeAfter: true}
	d.e.errReason = reasonCode(code)
	return d.page(code)
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
func (x *exchange) beginLog(sc *sockCfg, start time.Time) *logEntry {
	e := &x.log
	e.reset()
	e.start = start
	e.client = x.seen
	switch {
	case x.tlsState != nil:
		e.typ = "https"
		e.cipher, e.tlsProto = x.tlsCiph, x.tlsProto
		e.domain = x.tlsState.ServerName
		e.cert = sc.certForName(e.domain)
	default:
		e.typ = "http"
	}
	return e
}

// decide routes the request in x.req: the rules of the listener, the
// action of the rule that matched, the transforms, the target group and
// the target. It writes into d and returns it.
func (x *exchange) decide(sc *sockCfg, start time.Time, d *decision) *decision {
	req := &x.req
	x.scratch = x.scratch[:0]
	*d = decision{e: x.beginLog(sc, start)}
	e := d.e
	// client_keep_alive.seconds: past it, the connection closes after
	// the request (measured on the plane's clock).
	d.closeAfter = req.close || x.s.isClosing() || x.p.now().Sub(x.opened) >= sc.lb.attrs.clientKeepAlive
	if sc.lb.attrs.desyncStrictest && req.ambiguous {
		d.closeAfter = true
		return d.page(400)
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
		host = []byte(x.s.addr.Addr().String())
	}
	path, query := splitTarget(target)
	e.method = append(e.method[:0], req.method...)
	if sc.lb.alog != nil {
		e.url = sc.scheme + "://" + string(hostOnly(host)) + ":" + sc.portStr + string(target)
		e.proto = "HTTP/1." + strconv.Itoa(req.minor)
		e.userAgent = headerValue(req.headers, "user-agent")
	}
	if string(req.method) == "TRACE" {
		d.discard = req.hasBody()
		return d.page(405)
	}
	in := &x.in
	in.method, in.host, in.path, in.query, in.headers = req.method, hostOnly(host), path, query, req.headers
	in.src, in.srcVPC = x.remote.Addr().Unmap(), x.vpc
	in.pairs, in.parsed = in.pairs[:0], false
	r := sc.route(in)
	if r == nil {
		// Unreachable: the default rule matches everything.
		d.closeAfter = true
		return d.page(500)
	}
	e.priority = r.priority
	e.actions = r.act.names
	act := r.act
	switch act.kind {
	case actFixed:
		d.discard = req.hasBody()
		ct := act.contentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		return d.respond(act.status, ct, act.body)
	case actRedirect:
		d.discard = req.hasBody()
		loc := act.redirect.location(sc.scheme, sc.port, hostOnly(host), path, query)
		e.redirect = loc
		d.extra = [][2]string{{"Location", loc}}
		return d.page(act.redirect.code)
	case actUnsupported:
		e.errReason = "UnsupportedAction"
		d.closeAfter = true
		return d.respond(501, "text/plain; charset=utf-8", []byte(act.message+"\n"))
	}
	// forward
	wt, tgCookie := x.p.chooseTargetGroup(act, req.headers)
	if tgCookie != "" {
		d.tgCookie = []byte(tgCookie)
	}
	tg := wt.tg
	st := tg.st.Load()
	e.tgARN = tg.arn
	d.pm = tg.metrics(sc.lb.rt.m)
	d.discard = req.hasBody()
	if st.version != "HTTP1" {
		e.errReason = "IncompatibleProtocol"
		return d.page(464)
	}
	if st.targetType == "lambda" {
		d.closeAfter, d.discard = true, false
		e.errReason = "LambdaUnsupported"
		if req.contentLength > 1<<20 {
			return d.page(413)
		}
		return d.page(502)
	}
	// Transforms, after routing.
	hostOut := host
	rewroteHost := false
	if r.hostRewrite != nil {
		if out, ok := r.hostRewrite.apply(hostOnly(host)); ok {
			if !validHost(out) {
				e.errReason = "TransformFailed"
				return d.page(500)
			}
			hostOut, rewroteHost = out, true
		}
	}
	if r.urlRewrite != nil {
		if out, ok := r.urlRewrite.apply(target); ok {
			if len(out) == 0 || out[0] != '/' || bytes.ContainsAny(out, " \r\n\x00") {
				e.errReason = "TransformFailed"
				return d.page(500)
			}
			target = out
		}
	}
	if !rewroteHost {
		hostOut = x.forwardHost(sc, host)
	}
	b := tg.chooseTarget(st, sc.zone, req.headers)
	if b == nil {
		e.errReason = "NoHealthyTargets"
		if len(st.targets) == 0 {
			e.errReason = "NoRegisteredTargets"
		}
		return d.page(503)
	}
	x.tgSticky = act.tgSticky
	d.kind, d.discard = decForward, false
	d.st, d.b, d.hostOut, d.target = st, b, hostOut, target
	e.target = b.vpc
	// The trace header is built once per request (a retry sends the same).
	traceStart := len(x.scratch)
	x.scratch = appendTraceHeader(x.scratch, headerValue(req.headers, "x-amzn-trace-id"), len(req.buf), e.start)
	e.trace = append(e.trace[:0], x.scratch[traceStart:]...)
	return d
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
func (x *exchange) forwardHost(sc *sockCfg, host []byte) []byte {
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
	start := len(x.scratch)
	x.scratch = append(append(append(x.scratch, host...), ':'), sc.portStr...)
	return x.scratch[start:]
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

// appendELB writes a response generated by the load balancer.
func (x *exchange) appendELB(w byteWriter, sc *sockCfg, d *decision) {
	d.e.elbStatus = d.code
	w.WriteString("HTTP/1.1 ")
	var nb [20]byte
	w.Write(strconv.AppendInt(nb[:0], int64(d.code), 10))
	w.WriteByte(' ')
	w.WriteString(statusText(d.code))
	w.WriteString("\r\n")
	if sc.serverHeader {
		w.WriteString("Server: awselb/2.0\r\n")
	}
	w.WriteString("Date: ")
	w.Write(x.date.get(time.Now()))
	w.WriteString("\r\nContent-Type: ")
	w.WriteString(d.ctype)
	w.WriteString("\r\nContent-Length: ")
	w.Write(strconv.AppendInt(nb[:0], int64(len(d.body)), 10))
	w.WriteString("\r\n")
	for _, h := range d.extra {
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
	if d.closeAfter {
		w.WriteString("Connection: close\r\n\r\n")
	} else {
		w.WriteString("Connection: keep-alive\r\n\r\n")
	}
	if string(x.req.method) != "HEAD" {
		w.Write(d.body)
	}
}

// finish records a request's metrics and access log entry.
func (x *exchange) finish(sc *sockCfg, e *logEntry, pm *pairMetrics) {
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
	e.received, e.sent = x.rx-x.lastRx, x.tx-x.lastTx
	x.lastRx, x.lastTx = x.rx, x.tx
	lbm.bytes.Add(float64(e.received + e.sent))
	if sc.lb.alog != nil {
		if e.reqProc < 0 && e.elbStatus == 0 {
			e.reqProc = 0
		}
		if len(e.trace) == 0 {
			e.trace = append(e.trace[:0], headerValue(x.req.headers, "x-amzn-trace-id")...)
		}
		sc.lb.alog.write(e, sc.lb.rt.dim)
	}
}

// hdrKind classifies request header names the proxy handles itself.
type hdrKind uint8

const (
	hdrOther hdrKind = iota
	hdrSkip
	hdrXFF
)

func (x *exchange) classify(sc *sockCfg, name []byte) hdrKind {
	if hopByHop(name) || listed(name, x.req.hopByHop) {
		return hdrSkip
	}
	switch len(name) {
	case 4:
		if asciiEqualFold(name, "host") {
			return hdrSkip
		}
	case 6:
		if asciiEqualFold(name, "expect") && x.req.expect100 {
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

// writeUpstreamHead writes the request head sent to the target.
func (x *exchange) writeUpstreamHead(w byteWriter, sc *sockCfg, d *decision, ws bool) {
	req := &x.req
	w.Write(req.method)
	w.WriteByte(' ')
	w.Write(d.target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.Write(d.hostOut)
	w.WriteString("\r\n")
	var xff []byte
	nxff := 0
	for i := range req.headers {
		h := &req.headers[i]
		switch x.classify(sc, h.name) {
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
				start := len(x.scratch)
				x.scratch = append(append(append(x.scratch, xff...), ", "...), h.value...)
				xff = x.scratch[start:]
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
		w.Write(appendXFF(buf[:0], xff, x.seen, sc.lb.attrs.xffClientPort))
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Proto: ")
	w.WriteString(sc.scheme)
	w.WriteString("\r\nX-Forwarded-Port: ")
	w.WriteString(sc.portStr)
	w.WriteString("\r\nX-Amzn-Trace-Id: ")
	w.Write(d.e.trace)
	w.WriteString("\r\n")
	if sc.lb.attrs.tlsHeaders && x.tlsState != nil {
		w.WriteString(sc.tlsVersionH)
		w.WriteString(": ")
		w.WriteString(x.tlsProto)
		w.WriteString("\r\n")
		w.WriteString(sc.tlsCipherH)
		w.WriteString(": ")
		w.WriteString(x.tlsCiph)
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

// writeResponseHead writes the target's status line and headers to the
// client (without the final empty line unless upgrade is set).
func (x *exchange) writeResponseHead(w byteWriter, sc *sockCfg, d *decision, closeAfter, upgrade bool) {
	resp := &x.resp
	st, b := d.st, d.b
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
	now := x.p.now()
	switch st.attrs.sticky {
	case stickyLBCookie:
		writeStickyCookie(w, "AWSALB", b.cookie, now.Add(st.attrs.stickyFor))
	case stickyAppCookie:
		if appCookieSet {
			writeStickyCookie(w, "AWSALBAPP-0", b.cookie, now.Add(st.attrs.stickyFor))
		}
	}
	if d.tgCookie != nil && x.tgSticky > 0 {
		writeStickyCookie(w, "AWSALBTG", string(d.tgCookie), now.Add(x.tgSticky))
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
	} else if x.req.minor == 0 {
		w.WriteString("Connection: keep-alive\r\n")
	}
}

// writeStickyCookie writes a stickiness cookie and its CORS twin, as ALB
// sets them (NAME=…; Expires=…; Path=/ and NAMECORS=…; …; SameSite=None;
// Secure).
func writeStickyCookie(w byteWriter, name, value string, exp time.Time) {
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
