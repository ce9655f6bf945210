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

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
)

// connectTimeout is how long the load balancer waits for a connection to a
// target (ALB: HTTP 504 "failed to establish a connection to the target
// before the connection timeout expired (10 seconds)"); it also bounds the
// TLS handshake with a target (HTTP 502, "SSL handshake timeout (10
// seconds)").
const connectTimeout = 10 * time.Second

// targetConn is a kept-alive HTTP/1.1 connection to a target of the
// blocking path.
type targetConn struct {
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
	t      *routing.Target
	src    netip.Addr
	mu     sync.Mutex
	idle   []*targetConn
	closed bool
	// shut is closed, readable without the lock (by event loops).
	shut atomic.Bool
	// h2 are the HTTP/2 connections of HTTP2 and GRPC target groups.
	h2 h2Targets
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
func (p *pool) get(ctx context.Context, maxIdle time.Duration) (*targetConn, error) {
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
func (p *pool) dial(ctx context.Context) (*targetConn, error) {
	d := net.Dialer{Timeout: connectTimeout, Control: bindNoPort}
	if p.src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: p.src.AsSlice()}
	}
	nc, err := d.DialContext(ctx, "tcp", p.t.Addr.String())
	if err != nil && p.src.IsValid() && errors.Is(err, syscall.EADDRNOTAVAIL) {
		// The node address is not usable on this host: connect from
		// the default address instead of failing the request.
		d.LocalAddr = nil
		nc, err = d.DialContext(ctx, "tcp", p.t.Addr.String())
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if p.t.TLS {
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
	return &targetConn{
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
func (p *pool) put(uc *targetConn) {
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
const maxIdlePerPool = 1024

// close closes the pool's idle connections; connections in use are closed
// when they are returned.
func (p *pool) close() {
	p.shut.Store(true)
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	p.h2.close()
	for _, uc := range idle {
		uc.close()
	}
}

func (uc *targetConn) close() {
	uc.nc.Close()
}

// setReadDeadline sets the connection's read deadline unless the one set
// is already within slack of it, saving timer updates on busy connections.
func (uc *targetConn) setReadDeadline(t time.Time) {
	if d := t.Sub(uc.deadline); d < 0 || d > deadlineSlack {
		uc.deadline = t
		uc.nc.SetReadDeadline(t)
	}
}

// deadlineSlack is how stale an idle deadline may be before it is moved.
const deadlineSlack = 100 * time.Millisecond

// targetPools holds the connection pools of every target, one per target
// and load balancer node address. A request finds its pool without a lock;
// pools are made on first use and closed when their target leaves the
// state.
type targetPools struct {
	byKey sync.Map // poolKey -> *pool

	mu       sync.Mutex
	byTarget map[*routing.Target][]*pool
}

type poolKey struct {
	t   *routing.Target
	src netip.Addr
}

func newTargetPools() *targetPools {
	return &targetPools{byTarget: map[*routing.Target][]*pool{}}
}

// get returns the pool of connections to t from src. A target that has
// left the state gets a closed pool: its connections are not kept.
func (tp *targetPools) get(t *routing.Target, src netip.Addr) *pool {
	k := poolKey{t, src}
	if v, ok := tp.byKey.Load(k); ok {
		return v.(*pool)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if v, ok := tp.byKey.Load(k); ok {
		return v.(*pool)
	}
	p := &pool{t: t, src: src}
	if t.Removed() {
		p.closed = true
		p.shut.Store(true)
		return p
	}
	tp.byTarget[t] = append(tp.byTarget[t], p)
	tp.byKey.Store(k, p)
	return p
}

// drop closes the pools of a target that left the state.
func (tp *targetPools) drop(t *routing.Target) {
	tp.mu.Lock()
	pools := tp.byTarget[t]
	delete(tp.byTarget, t)
	for _, p := range pools {
		tp.byKey.Delete(poolKey{t, p.src})
	}
	tp.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
}

// closeAll closes every pool.
func (tp *targetPools) closeAll() {
	tp.mu.Lock()
	var ts []*routing.Target
	for t := range tp.byTarget {
		ts = append(ts, t)
	}
	tp.mu.Unlock()
	for _, t := range ts {
		tp.drop(t)
	}
}

// isClosed reports whether the pool was closed (its target is gone).
func (p *pool) isClosed() bool { return p.shut.Load() }
