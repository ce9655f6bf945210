package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// UserAgent is the User-Agent of HTTP, HTTPS and gRPC health checks, as an
// Application Load Balancer sends it.
const UserAgent = "ELB-HealthChecker/2.0"

// The health check protocols and protocol versions of a target group.
const (
	protoHTTP  = "HTTP"
	protoHTTPS = "HTTPS"
	protoTCP   = "TCP"

	versionHTTP1 = "HTTP1"
	versionHTTP2 = "HTTP2"
	versionGRPC  = "GRPC"
)

// outcome is what one health check found.
type outcome uint8

const (
	outcomeSuccess  outcome = iota
	outcomeMismatch         // answered with a code outside the matcher
	outcomeTimeout          // no answer within the timeout
	outcomeFailed           // refused, reset, TLS or protocol error
)

// String is the outcome's label on the health check counter.
func (o outcome) String() string {
	switch o {
	case outcomeSuccess:
		return "success"
	case outcomeMismatch:
		return "response_code_mismatch"
	case outcomeTimeout:
		return "timeout"
	default:
		return "failed"
	}
}

// result is one health check's outcome.
type result struct {
	outcome outcome
	code    int   // the HTTP or gRPC status code, when one was received
	err     error // why it failed
}

// check is what a health check does, as Sync derived it from the target
// group, the target and the load balancer. It is comparable: a change of
// any field makes earlier results meaningless.
type check struct {
	protocol string // HTTP, HTTPS or TCP
	version  string // HTTP1, HTTP2 or GRPC (HTTP and HTTPS only)
	path     string // request URI (path and query), or gRPC method path
	matcher  string // success codes as configured
	addr     netip.AddrPort
	src      netip.Addr // host address to bind; invalid: let the kernel choose
	host     string     // Host header / :authority
	network  bool       // a Network Load Balancer's health check
}

// timing is when health checks run and how results count.
type timing struct {
	interval  time.Duration
	timeout   time.Duration
	healthy   int // consecutive successes to turn healthy
	unhealthy int // consecutive failures to turn unhealthy
}

// spec is one target's health check. A spec is immutable once built;
// Sync replaces it when anything changes.
type spec struct {
	check
	timing
	codes Codes
	uri   *url.URL // parsed path (path and query only)
}

// prober runs health checks. Each check uses a new connection that is
// closed afterwards, as ELB does.
type prober struct {
	http1 *http.Transport // HTTP/1.1 over TCP or TLS
	http2 *http.Transport // HTTP/2 with prior knowledge over TCP, or h2 over TLS
}

// sourceKey carries the source address of a dial through a context.
type sourceKey struct{}

func newProber() *prober {
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		src, _ := ctx.Value(sourceKey{}).(netip.Addr)
		return dialFrom(ctx, src, addr)
	}
	transport := func(p http.Protocols) *http.Transport {
		return &http.Transport{
			DialContext: dial,
			// ELB does not verify target certificates. Connections to
			// targets use ELBSecurityPolicy2016-08's protocols (TLS 1.0
			// to 1.2): a target that speaks only TLS 1.3 fails.
			TLSClientConfig: &tls.Config{
				InsecureSkipVerify: true, //nolint:gosec // as ELB does
				MinVersion:         tls.VersionTLS10,
				MaxVersion:         tls.VersionTLS12,
			},
			DisableCompression:     true,
			MaxResponseHeaderBytes: 64 << 10,
			Protocols:              &p,
		}
	}
	var p1, p2 http.Protocols
	p1.SetHTTP1(true)
	p2.SetHTTP2(true)
	p2.SetUnencryptedHTTP2(true)
	return &prober{http1: transport(p1), http2: transport(p2)}
}

// dialFrom opens a TCP connection to addr, bound to src when it is valid.
func dialFrom(ctx context.Context, src netip.Addr, addr string) (net.Conn, error) {
	var d net.Dialer
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// emptyGRPCMessage is a gRPC length-prefixed message with an empty body:
// an uncompressed, zero-length protobuf message.
var emptyGRPCMessage = [5]byte{}

// run performs one health check within s.timeout.
func (p *prober) run(ctx context.Context, s *spec) result {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.protocol == protoTCP {
		conn, err := dialFrom(ctx, s.src, s.addr.String())
		if err != nil {
			return failure(ctx, err)
		}
		conn.Close()
		return result{outcome: outcomeSuccess}
	}

	ctx = context.WithValue(ctx, sourceKey{}, s.src)
	t := p.http1
	if s.version == versionHTTP2 || s.version == versionGRPC {
		t = p.http2
	}
	scheme := "http"
	if s.protocol == protoHTTPS {
		scheme = "https"
	}
	cc, err := t.NewClientConn(ctx, scheme, s.addr.String())
	if err != nil {
		return failure(ctx, err)
	}
	defer cc.Close()

	u := *s.uri
	u.Scheme, u.Host = scheme, s.addr.String()
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Host:       s.host,
		Header:     http.Header{"User-Agent": {UserAgent}},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Close:      t == p.http1, // "Connection: close"; HTTP/2 has no such header
	}
	if s.version == versionGRPC {
		req.Method = http.MethodPost
		req.Header["Content-Type"] = []string{"application/grpc"}
		req.Header["Te"] = []string{"trailers"}
		req.Body = io.NopCloser(bytes.NewReader(emptyGRPCMessage[:]))
		req.ContentLength = int64(len(emptyGRPCMessage))
	}
	req = req.WithContext(ctx)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		return failure(ctx, err)
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	if s.version == versionGRPC {
		if code, err = grpcStatus(resp); err != nil {
			return failure(ctx, err)
		}
	}
	if s.codes.Contains(code) {
		return result{outcome: outcomeSuccess, code: code}
	}
	return result{outcome: outcomeMismatch, code: code}
}

// failure classifies an error of a health check: a timeout, or any other
// failure (refused, reset, TLS, malformed response).
func failure(ctx context.Context, err error) result {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return result{outcome: outcomeTimeout, err: err}
	}
	return result{outcome: outcomeFailed, err: err}
}

// maxGRPCBody bounds how much of a gRPC health check response is read.
const maxGRPCBody = 1 << 20

// grpcStatus returns the gRPC status of a response: from the trailers, or
// from the headers of a trailers-only response, or derived from the HTTP
// status as gRPC clients do when the response is not gRPC.
func grpcStatus(resp *http.Response) (int, error) {
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc") {
		return grpcCodeForHTTP(resp.StatusCode), nil
	}
	if v := resp.Header.Get("Grpc-Status"); v != "" {
		return parseGRPCStatus(v), nil
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxGRPCBody)); err != nil {
		return 0, fmt.Errorf("read gRPC response: %w", err)
	}
	v := resp.Trailer.Get("Grpc-Status")
	if v == "" {
		return grpcInternal, nil
	}
	return parseGRPCStatus(v), nil
}

// gRPC status codes used when a response carries none.
const (
	grpcUnknown         = 2
	grpcPermission      = 7
	grpcUnimplemented   = 12
	grpcInternal        = 13
	grpcUnavailable     = 14
	grpcUnauthenticated = 16
)

func parseGRPCStatus(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxCode {
		return grpcInternal
	}
	return n
}

// grpcCodeForHTTP maps an HTTP status to a gRPC status as gRPC's
// "HTTP to gRPC Status Code Mapping" says.
func grpcCodeForHTTP(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermission
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	default:
		return grpcUnknown
	}
}
