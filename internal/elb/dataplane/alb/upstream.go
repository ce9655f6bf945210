package alb

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
)

// connectTimeout is how long the load balancer waits for a connection to a
// target (ALB: HTTP 504 "failed to establish a connection to the target
// before the connection timeout expired (10 seconds)"); it also bounds the
// TLS handshake with a target (HTTP 502, "SSL handshake timeout (10
// seconds)").
const connectTimeout = 10 * time.Second

// upConn is a kept-alive HTTP/1.1 connection to a target.
type upConn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	pool     *pool
	idleAt   time.Time
	reused   bool
	deadline time.Time     // the read deadline last set
	idle     time.Duration // the idle timeout of the request using it
}

// pool holds the idle connections from one load balancer node address to
// one target.
type pool struct {
	b      *backend
	src    netip.Addr
	mu     sync.Mutex
	idle   []*upConn
	closed bool
	// shut is closed, readable without the lock (by event loops).
	shut atomic.Bool
	// slow is the net/http client of HTTP/2 requests from clients and of
	// HTTP/2 and gRPC target groups, made on first use.
	slow *slowClient
}

// backendTLS is the configuration of TLS connections to targets: ALB does
// not verify target certificates and uses ELBSecurityPolicy-TLS13-1-0-2021-06
// toward targets of TLS 1.3 listener policies (the widest of its backend
// policies, used here for every listener).
var backendTLS = func() *tls.Config {
	p, _ := sslpolicy.Lookup("ELBSecurityPolicy-TLS13-1-0-2021-06")
	cfg := p.TLSConfig(&tls.Config{
		InsecureSkipVerify: true, // ALB does not verify target certificates
	})
	return cfg
}()

// get returns an idle connection younger than maxIdle, or dials a new one.
func (p *pool) get(ctx context.Context, maxIdle time.Duration) (*upConn, error) {
	now := time.Now()
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(uc.idleAt) < maxIdle {
			p.mu.Unlock()
			uc.reused = true
			return uc, nil
		}
		uc.nc.Close()
	}
	p.mu.Unlock()
	return p.dial(ctx)
}

// dial opens a new connection to the target from the node's address.
func (p *pool) dial(ctx context.Context) (*upConn, error) {
	d := net.Dialer{Timeout: connectTimeout, Control: bindNoPort}
	if p.src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: p.src.AsSlice()}
	}
	nc, err := d.DialContext(ctx, "tcp", p.b.addr.String())
	if err != nil && p.src.IsValid() && errors.Is(err, syscall.EADDRNOTAVAIL) {
		// The node address is not usable on this host: connect from
		// the default address instead of failing the request.
		d.LocalAddr = nil
		nc, err = d.DialContext(ctx, "tcp", p.b.addr.String())
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if p.b.tls {
		tc := tls.Client(nc, backendTLS)
		hctx, cancel := context.WithTimeout(ctx, connectTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, &tlsError{err}
		}
		nc = tc
	}
	p.b.tg.conns.Add(1)
	return &upConn{
		nc:   nc,
		br:   bufio.NewReaderSize(nc, 8<<10),
		bw:   bufio.NewWriterSize(nc, 8<<10),
		pool: p,
	}, nil
}

// tlsError is a failed TLS handshake with a target.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "TLS handshake with target: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// put returns a connection for reuse, or closes it when the pool is
// closed or full.
func (p *pool) put(uc *upConn) {
	uc.idleAt = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerPool {
		p.mu.Unlock()
		uc.close()
		return
	}
	p.idle = append(p.idle, uc)
	p.mu.Unlock()
}

// maxIdlePerPool bounds the idle connections kept to one target.
const maxIdlePerPool = 512

// close closes the pool's idle connections; connections in use are closed
// when they are returned.
func (p *pool) close() {
	p.shut.Store(true)
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	slow := p.slow
	p.mu.Unlock()
	if slow != nil {
		slow.close()
	}
	for _, uc := range idle {
		uc.close()
	}
}

func (uc *upConn) close() {
	uc.nc.Close()
}

// setReadDeadline sets the connection's read deadline unless the one set
// is already within slack of it, saving timer updates on busy connections.
func (uc *upConn) setReadDeadline(t time.Time) {
	if d := t.Sub(uc.deadline); d < 0 || d > deadlineSlack {
		uc.deadline = t
		uc.nc.SetReadDeadline(t)
	}
}

// deadlineSlack is how stale an idle deadline may be before it is moved.
const deadlineSlack = 100 * time.Millisecond

// backend is one registered target of a target group as the data plane
// reaches it; it outlives state changes that keep the target.
type backend struct {
	tg   *tgRuntime
	id   string
	port int32
	addr netip.AddrPort // where to connect (host address)
	vpc  netip.AddrPort // the target's VPC address, as logs report it
	zone string
	tls  bool
	// cookie is the target's opaque identity in stickiness cookies.
	cookie string

	inflight atomic.Int64
	// since is when the target last became routable (UnixNano), for slow
	// start; 0 while it is not.
	since atomic.Int64

	mu     sync.Mutex
	pools  []*pool
	closed bool
}

// pool returns the backend's pool for connections from src.
func (b *backend) pool(src netip.Addr) *pool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.pools {
		if p.src == src {
			return p
		}
	}
	p := &pool{b: b, src: src, closed: b.closed}
	p.shut.Store(b.closed)
	b.pools = append(b.pools, p)
	return p
}

// close closes the backend's idle connections and stops pooling.
func (b *backend) close() {
	b.mu.Lock()
	b.closed = true
	pools := b.pools
	b.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
}

// isClosed reports whether the pool was closed (its target is gone).
func (p *pool) isClosed() bool { return p.shut.Load() }
