// Package echo is the universal echo server that `elbow dev` runs for every
// container of every pod, whatever image the pod names.
//
// On a TCP connection it detects, in this order: a PROXY protocol v1/v2
// header (parsed and reported), TLS (terminated with a self-signed
// certificate, then detection goes on inside), an HTTP/2 preface (h2c, or
// h2 after TLS ALPN; gRPC requests go to a gRPC server with
// grpc.health.v1 and an echo service), an HTTP/1.1 request line, else it
// echoes the bytes back. UDP datagrams are echoed. HTTP answers 200 with
// JSON in the format of the Gateway API conformance echo server
// (echo-basic), plus elbow's own fields (docs/echo.md).
package echo

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Identity says which pod a Server stands for; it is reported in every
// HTTP answer.
type Identity struct {
	Namespace string
	Pod       string
	Node      string
	// PodIP is the pod's VPC address (what Kubernetes shows).
	PodIP netip.Addr
}

// sniffTimeout bounds the wait for the rest of a protocol signature once
// a connection's first byte has come.
const sniffTimeout = 5 * time.Second

// Server serves one pod's ports. Its methods are safe for concurrent use.
type Server struct {
	id    Identity
	addrs vpcaddr.Map
	log   *slog.Logger
	tls   *tls.Config
	grpc  *grpc.Server
	// http serves HTTP/1.1, h2c and h2; conns maps each connection it
	// serves (a *sniffedConn, or the *tls.Conn inside one) to what
	// detection learnt of it.
	http  *http.Server
	conns sync.Map
	stats *healthStats
}

// New returns a Server for the pod. addrs translates the host addresses
// the server sees back to VPC addresses for its reports.
func New(id Identity, addrs vpcaddr.Map, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{id: id, addrs: addrs, log: log, stats: &healthStats{paths: map[string]int{}}}
	cert, err := selfSigned(id, addrs)
	if err != nil {
		return nil, fmt.Errorf("echo: certificate: %w", err)
	}
	s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS10}
	s.grpc = newGRPC(s)
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Protocols:         protos,
		Handler:           s.handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       10 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if sc, ok := s.conns.Load(c); ok {
				return withConn(ctx, sc.(*sniffedConn))
			}
			return ctx
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				if sc, ok := s.conns.LoadAndDelete(c); ok {
					sc.(*sniffedConn).markDone()
				}
			}
		},
	}
	return s, nil
}

// ServeTCP accepts connections on ln and serves each until ctx ends or ln
// is closed; it returns nil then, once every connection it served is
// closed. It closes ln when ctx ends.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			return nil
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

// serveConn detects a connection's protocol and serves it. It returns
// when the connection is closed.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	sc := &sniffedConn{Conn: c, raw: c, local: c.LocalAddr().String(), done: make(chan struct{})}
	sc.br = bufio.NewReaderSize(c, 4096)
	kind, err := sniff(sc.br, c)
	if err != nil {
		c.Close()
		return
	}
	if kind == kindProxyV1 || kind == kindProxyV2 {
		_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
		h, err := readProxyHeader(sc.br)
		_ = c.SetReadDeadline(time.Time{})
		if err != nil {
			s.log.Debug("bad PROXY header", "remote", c.RemoteAddr(), "error", err)
			c.Close()
			return
		}
		sc.proxy = h
		if kind, err = sniff(sc.br, c); err != nil {
			// A PROXY header alone (a health check, say) is fine.
			c.Close()
			return
		}
	}
	if kind == kindTLS {
		tc := tls.Server(&bufferedConn{Conn: c, r: sc.br}, s.tls)
		_ = c.SetDeadline(time.Now().Add(sniffTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.log.Debug("TLS handshake", "remote", c.RemoteAddr(), "error", err)
			c.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		st := tc.ConnectionState()
		sc.tls = &st
		sc.Conn = tc
		if st.NegotiatedProtocol != "" {
			// h2 or http/1.1: net/http takes the TLS connection itself.
			s.serveHTTP(tc, sc)
			return
		}
		// No ALPN: detect what is inside.
		sc.br = bufio.NewReaderSize(tc, 4096)
		if kind, err = sniff(sc.br, c); err != nil {
			tc.Close()
			return
		}
	}
	switch kind {
	case kindH2, kindHTTP1:
		s.serveHTTP(sc, sc)
	default:
		rawEcho(sc)
	}
}

// serveHTTP hands c to net/http and waits until it is closed. net/http
// serves the connection in a goroutine of its own once Serve has accepted
// it; Serve then returns.
func (s *Server) serveHTTP(c net.Conn, sc *sniffedConn) {
	s.conns.Store(c, sc)
	_ = s.http.Serve(&oneConn{c: c})
	<-sc.done
}

// rawEcho writes back what comes, honouring a half-close.
func rawEcho(sc *sniffedConn) {
	defer sc.Close()
	_, _ = io.Copy(sc.Conn, sc.br)
	if cw, ok := sc.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// ServePacket echoes every datagram on pc back to its sender until ctx
// ends or pc is closed; it returns nil then. It closes pc when ctx ends.
func (s *Server) ServePacket(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			s.log.Debug("udp echo", "to", from, "error", err)
		}
	}
}

// sniffedConn is a connection whose protocol was detected: reads come
// from br (which holds the peeked bytes), and it carries what detection
// learnt for the HTTP answer.
type sniffedConn struct {
	net.Conn
	raw   net.Conn // the TCP connection
	br    *bufio.Reader
	local string
	proxy *proxyInfo
	tls   *tls.ConnectionState
	done  chan struct{}
	once  sync.Once
}

func (c *sniffedConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// Close closes the connection and marks it done.
func (c *sniffedConn) Close() error {
	err := c.Conn.Close()
	c.markDone()
	return err
}

func (c *sniffedConn) markDone() { c.once.Do(func() { close(c.done) }) }

// bufferedConn reads through r (holding bytes already peeked).
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// oneConn is a listener that accepts one connection.
type oneConn struct {
	mu sync.Mutex
	c  net.Conn
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c == nil {
		return nil, net.ErrClosed
	}
	c := l.c
	l.c = nil
	return c, nil
}

func (l *oneConn) Close() error { return nil }

func (l *oneConn) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// portOf returns the port of an address string.
func portOf(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if _, err := strconv.Atoi(p); err != nil {
		return ""
	}
	return p
}
