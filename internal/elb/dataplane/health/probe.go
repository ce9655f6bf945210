package health

import (
	"bufio"
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
	"sync"
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
	src      netip.Addr     // host address to bind; invalid: let the kernel choose
	host     netip.AddrPort // Host header / :authority
	network  bool           // a Network Load Balancer's health check
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
	tls   *tls.Config     // HTTP/1.1 over TLS
	http2 *http.Transport // HTTP/2 with prior knowledge over TCP, or h2 over TLS
}

// sourceKey carries the source address of a dial through a context.
type sourceKey struct{}

func newProber() *prober {
	// ELB does not verify target certificates. Connections to targets use
	// ELBSecurityPolicy2016-08's protocols (TLS 1.0 to 1.2): a target that
	// speaks only TLS 1.3 fails.
	tlsConfig := &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // as ELB does
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS12,
	}
	var h2 http.Protocols
	h2.SetHTTP2(true)
	h2.SetUnencryptedHTTP2(true)
	return &prober{
		tls: tlsConfig,
		http2: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				src, _ := ctx.Value(sourceKey{}).(netip.Addr)
				return dialFrom(ctx, src, addr)
			},
			TLSClientConfig:        tlsConfig.Clone(),
			DisableCompression:     true,
			MaxResponseHeaderBytes: 64 << 10,
			Protocols:              &h2,
		},
	}
}

// dialFrom opens a TCP connection to addr, bound to src when it is valid.
func dialFrom(ctx context.Context, src netip.Addr, addr string) (net.Conn, error) {
	var d net.Dialer
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		d.Control = bindNoPort
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

	req := s.request()
	var resp *http.Response
	if s.version == versionHTTP2 || s.version == versionGRPC {
		scheme := req.URL.Scheme
		cc, err := p.http2.NewClientConn(context.WithValue(ctx, sourceKey{}, s.src), scheme, s.addr.String())
		if err != nil {
			return failure(ctx, err)
		}
		defer cc.Close()
		if resp, err = cc.RoundTrip(req.WithContext(ctx)); err != nil {
			return failure(ctx, err)
		}
	} else {
		conn, err := p.dialHTTP1(ctx, s)
		if err != nil {
			return failure(ctx, err)
		}
		defer conn.Close()
		// Run ending interrupts a check in flight at once.
		stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		defer stop()
		if resp, err = roundTripHTTP1(conn, req); err != nil {
			return failure(ctx, err)
		}
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	if s.version == versionGRPC {
		var err error
		if code, err = grpcStatus(resp); err != nil {
			return failure(ctx, err)
		}
	}
	if s.codes.Contains(code) {
		return result{outcome: outcomeSuccess, code: code}
	}
	return result{outcome: outcomeMismatch, code: code}
}

// request builds a health check request.
func (s *spec) request() *http.Request {
	scheme := "http"
	if s.protocol == protoHTTPS {
		scheme = "https"
	}
	u := *s.uri
	u.Scheme, u.Host = scheme, s.addr.String()
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Host:       s.host.String(),
		Header:     http.Header{"User-Agent": {UserAgent}},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
	}
	switch s.version {
	case versionGRPC:
		req.Method = http.MethodPost
		req.Header["Content-Type"] = []string{"application/grpc"}
		req.Header["Te"] = []string{"trailers"}
		req.Body = io.NopCloser(bytes.NewReader(emptyGRPCMessage[:]))
		req.ContentLength = int64(len(emptyGRPCMessage))
	case versionHTTP2:
	default:
		req.Close = true // "Connection: close": the connection serves one check
	}
	return req
}

// dialHTTP1 connects for an HTTP/1.1 check (over TLS for HTTPS), with the
// check's deadline on the connection.
func (p *prober) dialHTTP1(ctx context.Context, s *spec) (net.Conn, error) {
	conn, err := dialFrom(ctx, s.src, s.addr.String())
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	if s.protocol != protoHTTPS {
		return conn, nil
	}
	tc := tls.Client(conn, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

var (
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1024) }}
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
)

// roundTripHTTP1 sends req on conn and reads the response head. The
// response body is not read: the status decides, and the connection is
// closed after the check.
func roundTripHTTP1(conn net.Conn, req *http.Request) (*http.Response, error) {
	w := writers.Get().(*bufio.Writer)
	w.Reset(conn)
	err := req.Write(w)
	if err == nil {
		err = w.Flush()
	}
	w.Reset(nil)
	writers.Put(w)
	if err != nil {
		return nil, fmt.Errorf("send health check: %w", err)
	}
	r := readers.Get().(*bufio.Reader)
	r.Reset(conn)
	resp, err := http.ReadResponse(r, req)
	if err != nil {
		r.Reset(nil)
		readers.Put(r)
		return nil, fmt.Errorf("read health check response: %w", err)
	}
	// The body is left unread (the status decides and the connection is
	// closed) and dropped, so that the buffer can go back to the pool.
	resp.Body = http.NoBody
	r.Reset(nil)
	readers.Put(r)
	return resp, nil
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
