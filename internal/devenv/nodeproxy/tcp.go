package nodeproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// tcpFrontend is one TCP node port on one node.
type tcpFrontend struct {
	ln          *net.TCPListener
	nodeHost    netip.Addr
	dialTimeout time.Duration
	log         *slog.Logger
	route       atomic.Pointer[route]
	ctx         context.Context
	cancel      context.CancelFunc
	// bindWarned is set once the client's address could not be bound for
	// an upstream connection (policy Local), which is logged once.
	bindWarned atomic.Bool

	mu     sync.Mutex
	conns  map[*net.TCPConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func startTCP(ctx context.Context, bind netip.AddrPort, nodeHost netip.Addr, r *route, dialTimeout time.Duration, log *slog.Logger) (*tcpFrontend, error) {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bind))
	if err != nil {
		return nil, err
	}
	f := &tcpFrontend{ln: ln, nodeHost: nodeHost, dialTimeout: dialTimeout, log: log, conns: map[*net.TCPConn]struct{}{}}
	f.ctx, f.cancel = context.WithCancel(ctx)
	f.route.Store(r)
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *tcpFrontend) setRoute(r *route) { f.route.Store(r) }

func (f *tcpFrontend) close() {
	f.mu.Lock()
	f.closed = true
	f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
}

// track adds c to the connections close ends, or closes it if the
// frontend is closed already.
func (f *tcpFrontend) track(cs ...*net.TCPConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *tcpFrontend) untrack(cs ...*net.TCPConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

func (f *tcpFrontend) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little.
			f.log.Warn("accept on node port", "error", err)
			select {
			case <-f.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !f.track(c) {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			f.forward(c)
		}()
	}
}

// reset closes c with a TCP reset, as a refused connection gets one.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	c.Close()
}

// forward connects the client c to an endpoint and copies both ways.
func (f *tcpFrontend) forward(c *net.TCPConn) {
	r := f.route.Load()
	client := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	if len(r.backends) == 0 {
		// kube-proxy rejects connections to a Service without endpoints
		// and drops those to a node without local ones (policy Local).
		f.log.Debug("no endpoint for connection; refused", "service", r.service.String(), "port", r.port, "local", r.local, "client", client)
		reset(c)
		return
	}
	backend := r.backends[rand.IntN(len(r.backends))]
	src := f.nodeHost
	if r.local {
		src = client.Addr().Unmap()
	}
	up, err := f.dial(src, backend)
	if err != nil && r.local && isBindError(err) {
		if !f.bindWarned.Swap(true) {
			f.log.Warn("cannot bind the client's address for the upstream connection; the endpoint sees the node's address instead", "client", client, "error", err)
		}
		up, err = f.dial(f.nodeHost, backend)
	}
	if err != nil {
		f.log.Debug("dial endpoint", "service", r.service.String(), "port", r.port, "endpoint", backend, "error", err)
		reset(c)
		return
	}
	if !f.track(up) {
		c.Close()
		return
	}
	defer f.untrack(up)
	pipe(c, up)
}

func (f *tcpFrontend) dial(src netip.Addr, dst netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: f.dialTimeout, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	c, err := d.DialContext(f.ctx, "tcp", dst.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// isBindError reports whether a dial failed binding its local address.
func isBindError(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && se.Syscall == "bind"
}

// pipe copies a to b and b to a (io.Copy between TCP connections splices
// in the kernel on Linux). A side that ends cleanly half-closes the other
// (CloseWrite); a side that fails resets both. pipe returns when both
// directions are done, with both connections closed.
func pipe(a, b *net.TCPConn) {
	var failed atomic.Bool
	half := func(dst, src *net.TCPConn) {
		if _, err := io.Copy(dst, src); err != nil {
			if !failed.Swap(true) {
				reset(a)
				reset(b)
			}
			return
		}
		_ = dst.CloseWrite()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		half(b, a)
	}()
	half(a, b)
	<-done
	a.Close()
	b.Close()
}
