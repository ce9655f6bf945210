package routing

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Protocol is how a request reached the load balancer, which decides the
// target group protocol versions it may be forwarded to.
type Protocol uint8

// The request protocols.
const (
	// HTTP1 is an HTTP/1.x request: forwarded to HTTP1 target groups only.
	HTTP1 Protocol = iota
	// HTTP2 is an HTTP/2 request that is not gRPC: forwarded to HTTP1
	// (converted) and HTTP2 target groups.
	HTTP2
	// GRPC is an HTTP/2 request with a gRPC content type: forwarded to
	// HTTP2 and GRPC target groups.
	GRPC
)

// Request describes a request to route. The transports fill it from
// their own parsed form without copying; its slices must stay valid and
// unchanged until the Decision is used.
type Request struct {
	Protocol Protocol
	Method   []byte
	// Target is the request target as received: origin form
	// (/path?query) or absolute form (http://host/path?query).
	Target []byte
	// Host is the Host header as received (with its port, if any), or
	// an HTTP/2 request's :authority; nil when there is none. As on AWS,
	// host-header conditions and the host-header-rewrite transform see it
	// whole, port included: "example.com" does not match
	// "example.com:8080". A redirect's #{host} is its host alone.
	Host []byte
	// DefaultHost is the host of a request that names none (an HTTP/1.0
	// request without Host): the listener's address.
	DefaultHost []byte
	Headers     []Header
	// Source is the client's address on the host; SourceVPC the VPC
	// address it stands for, if any. source-ip conditions match either.
	Source, SourceVPC netip.Addr
	// HasBody: a body follows the head; ContentLength is its length when
	// known (-1 otherwise).
	HasBody       bool
	ContentLength int64
	// Ambiguous: the head carried both Content-Length and
	// Transfer-Encoding (refused with 400 under the strictest desync
	// mitigation mode).
	Ambiguous bool
	// HeadBytes is the size of the request's headers: ALB replaces the
	// X-Amzn-Trace-Id of requests with more than 7 KB of headers.
	HeadBytes int
	// Start is when the request arrived: the time in a new trace id.
	Start time.Time
}

// Kind is what becomes of a request.
type Kind uint8

// The kinds of decisions.
const (
	// Respond: the load balancer answers itself (a fixed response, a
	// redirect, or an error).
	Respond Kind = iota
	// Forward: the request goes to a target.
	Forward
)

// Decision is what the routing core decided for a request. A transport
// keeps one per connection and passes it to every Route; its slices point
// into the request and into the Decision's own buffers, valid until the
// next Route with the same Decision.
type Decision struct {
	Kind Kind
	// Rule is the rule that matched (its Action says which); nil when the
	// request was answered before the rules were evaluated.
	Rule *Rule
	// Close: the client connection closes after the response.
	Close bool
	// Discard: the request's body is to be read and dropped before the
	// load balancer's answer (HTTP/1.x).
	Discard bool
	// ErrReason is the access log's error_reason of an answer the load
	// balancer generated ("NoHealthyTargets", "TransformFailed", …).
	ErrReason string
	// RequestHost and RequestURI are the request's host (with its port)
	// and origin-form target as received, for logs; nil when the request
	// was refused before they were read.
	RequestHost, RequestURI []byte

	// Status, ContentType and Body are the load balancer's answer (Kind
	// Respond); Location is a redirect's Location header.
	Status      int
	ContentType string
	Body        []byte
	Location    string

	// Group is the target group a forward action chose (also set when
	// the load balancer answers after choosing it, with 503 for example);
	// State is its configuration the request saw.
	Group *TargetGroup
	State *GroupState
	// Target is the target chosen (Kind Forward).
	Target *Target
	// Host and URI are the Host header and request target sent to the
	// target, after transforms.
	Host, URI []byte
	// GroupCookie is the AWSALBTG cookie to set, for GroupSticky, when a
	// weighted forward action has target group stickiness.
	GroupCookie string
	GroupSticky time.Duration
	// Trace is the X-Amzn-Trace-Id value sent to the target.
	Trace []byte

	in      routeInput
	scratch []byte
}

// Respond makes d an answer of the load balancer's own.
func (d *Decision) Respond(code int, ctype string, body []byte) *Decision {
	d.Kind, d.Status, d.ContentType, d.Body = Respond, code, ctype, body
	return d
}

// Page makes d an answer of the load balancer's with its HTML page for
// code.
func (d *Decision) Page(code int) *Decision { return d.Respond(code, "text/html", Page(code)) }

// reset clears d for a new request, keeping its buffers.
func (d *Decision) reset() {
	in, scratch, trace := d.in, d.scratch[:0], d.Trace[:0]
	in.pairs, in.parsed = in.pairs[:0], false
	*d = Decision{in: in, scratch: scratch, Trace: trace}
}

// Route decides what becomes of a request that reached the listener on
// the load balancer node in zone: the rules of the listener, the action
// of the rule that matched, the transforms, the target group and the
// target. It writes into d and returns it. Choosing a target moves the
// group's round-robin position and reads its targets' in-flight counts.
func (l *Listener) Route(zone string, req *Request, d *Decision) *Decision {
	d.reset()
	if l.LB.DesyncStrictest && req.Ambiguous {
		d.Close = true
		return d.Page(400)
	}
	// Absolute-form targets (GET http://host/path) are forwarded in
	// origin form.
	target := req.Target
	host := req.Host
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
		host = req.DefaultHost
	}
	d.RequestHost, d.RequestURI = host, target
	if string(req.Method) == "TRACE" {
		d.Discard = req.HasBody
		return d.Page(405)
	}
	path, query := splitTarget(target)
	in := &d.in
	in.method, in.host, in.path, in.query, in.headers = req.Method, host, path, query, req.Headers
	in.src, in.srcVPC = req.Source.Unmap(), req.SourceVPC
	r := l.match(in)
	if r == nil {
		// Unreachable: the default rule matches everything.
		d.Close = true
		return d.Page(500)
	}
	d.Rule = r
	act := r.Action
	switch act.Kind {
	case ActionFixedResponse:
		d.Discard = req.HasBody
		ct := act.contentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		return d.Respond(act.status, ct, act.body)
	case ActionRedirect:
		d.Discard = req.HasBody
		d.Location = act.redirect.location(l.Scheme, l.Port, hostName(host), path, query)
		return d.Page(act.redirect.code)
	case ActionUnsupported:
		d.ErrReason = "UnsupportedAction"
		d.Close = true
		return d.Respond(501, "text/plain; charset=utf-8", []byte(act.message+"\n"))
	}
	// forward
	wg, cookie := l.router.chooseGroup(act, req.Headers)
	d.GroupCookie, d.GroupSticky = cookie, act.tgSticky
	g := wg.g
	st := g.st.Load()
	d.Group, d.State = g, st
	d.Discard = req.HasBody
	if !compatible(req.Protocol, st.Version) {
		d.ErrReason = "IncompatibleProtocol"
		return d.Page(464)
	}
	if st.TargetType == "lambda" {
		d.Close, d.Discard = true, false
		d.ErrReason = "LambdaUnsupported"
		if req.ContentLength > 1<<20 {
			return d.Page(413)
		}
		return d.Page(502)
	}
	// Transforms, after routing.
	hostOut := host
	rewroteHost := false
	if r.hostRewrite != nil {
		if out, ok := r.hostRewrite.apply(host); ok {
			if !validHost(out) {
				d.ErrReason = "TransformFailed"
				return d.Page(500)
			}
			hostOut, rewroteHost = out, true
		}
	}
	if r.urlRewrite != nil {
		if out, ok := r.urlRewrite.apply(target); ok {
			if len(out) == 0 || out[0] != '/' || bytes.ContainsAny(out, " \r\n\x00") {
				d.ErrReason = "TransformFailed"
				return d.Page(500)
			}
			target = out
		}
	}
	if !rewroteHost {
		hostOut = l.forwardHost(d, host)
	}
	t := g.chooseTarget(st, zone, req.Headers)
	if t == nil {
		d.ErrReason = "NoHealthyTargets"
		if len(st.Targets) == 0 {
			d.ErrReason = "NoRegisteredTargets"
		}
		return d.Page(503)
	}
	d.Kind, d.Discard = Forward, false
	d.Target, d.Host, d.URI = t, hostOut, target
	// The trace header is built once per request (a retry sends the same).
	d.Trace = AppendTraceHeader(d.Trace[:0], HeaderValue(req.Headers, "x-amzn-trace-id"), req.HeadBytes, req.Start)
	return d
}

// compatible reports whether a request of protocol p may be forwarded to a
// target group of protocol version v.
func compatible(p Protocol, v string) bool {
	switch p {
	case HTTP2:
		return v != "GRPC"
	case GRPC:
		return v != "HTTP1"
	}
	return v == "HTTP1"
}

// match returns the first rule (by priority, the default rule last) whose
// conditions all match.
func (l *Listener) match(in *routeInput) *Rule {
	for _, r := range l.Rules {
		if r.match(in) {
			return r
		}
	}
	return nil
}

// chooseGroup picks the target group of a forward action: the one an
// AWSALBTG cookie names when target group stickiness is on, else by
// weight. cookie is the AWSALBTG value to set (empty without stickiness).
func (r *Router) chooseGroup(act *Action, hs []Header) (wg *weightedGroup, cookie string) {
	if len(act.groups) == 1 {
		return &act.groups[0], ""
	}
	if act.tgSticky > 0 {
		if v := cookieValue(hs, "AWSALBTG"); v != nil {
			for i := range act.groups {
				if r.groupCookie(act.groups[i].g.ARN) == string(v) {
					return &act.groups[i], string(v)
				}
			}
		}
	}
	n := rand.IntN(act.total)
	wg = &act.groups[len(act.groups)-1]
	for i := range act.groups {
		if n < act.groups[i].weight {
			wg = &act.groups[i]
			break
		}
		n -= act.groups[i].weight
	}
	if act.tgSticky > 0 {
		cookie = r.groupCookie(wg.g.ARN)
	}
	return wg, cookie
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
func (l *Listener) forwardHost(d *Decision, host []byte) []byte {
	if l.LB.PreserveHost {
		return host
	}
	h := hostName(host)
	hasPort := len(h) != len(host)
	if l.Port == 80 || l.Port == 443 {
		return h
	}
	if hasPort {
		return host
	}
	start := len(d.scratch)
	d.scratch = append(append(append(d.scratch, host...), ':'), l.PortStr...)
	return d.scratch[start:]
}
