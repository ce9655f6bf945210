package alb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/dataplane/h2"
	"github.com/elbowlb/elbow/internal/elb/settings"
)

// HTTP/2 to targets: the requests of HTTP2 and GRPC target groups share a
// few multiplexed connections per target and load balancer node address,
// opened as the streams in flight need them (a connection takes streams
// until the target's SETTINGS_MAX_CONCURRENT_STREAMS).

// h2Targets are a pool's HTTP/2 connections to its target.
type h2Targets struct {
	mu      sync.Mutex
	conns   []*h2.Conn
	dialing chan struct{} // closed when the dial in progress ends
	closed  bool
}

// h2TargetConfig is what the load balancer advertises to HTTP/2 targets:
// windows large enough for a response to flow while the client reads it.
var h2TargetConfig = h2.Config{StreamWindow: 1 << 20, ConnWindow: 4 << 20}

// errPoolClosed is a target that left the state while a request was on
// its way to it.
var errPoolClosed = errors.New("target removed")

// openH2 opens a stream to the pool's target on a connection with room
// for it, dialing one when none has.
func (p *pool) openH2(ctx context.Context, fields []hpack.HeaderField, end bool) (*h2.Stream, error) {
	t := &p.h2
	for {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, errPoolClosed
		}
		live := t.conns[:0]
		for _, cc := range t.conns {
			if cc.Err() == nil {
				live = append(live, cc)
			}
		}
		clear(t.conns[len(live):])
		t.conns = live
		for _, cc := range t.conns {
			if s, err := cc.OpenStream(fields, end); err == nil {
				t.mu.Unlock()
				return s, nil
			}
		}
		if ch := t.dialing; ch != nil {
			t.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		ch := make(chan struct{})
		t.dialing = ch
		t.mu.Unlock()
		cc, err := p.dialH2(ctx)
		t.mu.Lock()
		t.dialing = nil
		if err == nil {
			if t.closed {
				cc.Close()
				err = errPoolClosed
			} else {
				t.conns = append(t.conns, cc)
			}
		}
		t.mu.Unlock()
		close(ch)
		if err != nil {
			return nil, err
		}
	}
}

// dialH2 opens an HTTP/2 connection to the target: over TLS with ALPN h2
// for HTTPS target groups, in clear text (prior knowledge) otherwise.
func (p *pool) dialH2(ctx context.Context) (*h2.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout, Control: bindNoPort}
	if p.src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: p.src.AsSlice()}
	}
	nc, err := d.DialContext(ctx, "tcp", p.t.Addr.String())
	if err != nil && p.src.IsValid() && errors.Is(err, syscall.EADDRNOTAVAIL) {
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
		cfg := backendTLS.Clone()
		cfg.NextProtos = []string{"h2"}
		tc := tls.Client(nc, cfg)
		hctx, cancel := context.WithTimeout(ctx, connectTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err == nil && tc.ConnectionState().NegotiatedProtocol != "h2" {
			err = fmt.Errorf("target did not negotiate h2 (ALPN %q)", tc.ConnectionState().NegotiatedProtocol)
		}
		if err != nil {
			nc.Close()
			return nil, &tlsError{err}
		}
		nc = tc
	}
	return h2.NewClientConn(nc, h2TargetConfig), nil
}

// close closes the pool's HTTP/2 connections.
func (t *h2Targets) close() {
	t.mu.Lock()
	conns := t.conns
	t.conns, t.closed = nil, true
	t.mu.Unlock()
	for _, cc := range conns {
		cc.Close()
	}
}

// Why a stream to a target ended before its response head: the idle
// timeout, or the client going away.
var (
	errTargetTimeout = errors.New("target response timeout")
	errClientReset   = errors.New("client reset the stream")
)

// forwardH2ToH2 forwards an HTTP/2 request to an HTTP2 or GRPC target
// group's target over HTTP/2 and relays the response and its trailers.
func (c *blockingConn) forwardH2ToH2(x *h2Exchange) {
	sc, d, e, st := x.sc, &x.d, &x.e, x.st
	pool := c.p.conns.get(d.Target, sc.src)
	fields := c.h2UpstreamFields(x)
	e.reqProc = time.Since(e.start)
	// Whatever of the body has arrived goes with the head; a body still
	// coming is relayed as it comes, beside the response.
	n, ended := st.Buffered()
	us, err := pool.openH2(context.Background(), fields, x.bodyLen == 0)
	if err != nil {
		x.dialFailure(err)
		return
	}
	sent := time.Now()
	st.OnReset(func(error) { us.Cancel(errClientReset) })
	if x.bodyLen != 0 {
		if ended {
			relayBody(us, st, n)
		} else {
			go relayBody(us, st, -1)
		}
	}
	// The response head must arrive within the idle timeout.
	timer := time.AfterFunc(sc.LB.IdleTimeout, func() { us.Cancel(errTargetTimeout) })
	h, err := us.ReadHeader()
	timer.Stop()
	if err != nil {
		switch {
		case errors.Is(err, errClientReset) || st.Err() != nil:
			e.elbStatus, e.errReason = 460, "ClientClosed"
		case errors.Is(err, errTargetTimeout):
			x.targetFailure(504, "TargetResponseTimeout")
		default:
			x.targetFailure(502, "TargetResponseError")
		}
		return
	}
	got := time.Now()
	e.targetProc = got.Sub(sent)
	status := 0
	out := x.out[:0]
	appCookieSet := false
	for _, f := range h {
		switch {
		case f.Name == ":status":
			for _, ch := range []byte(f.Value) {
				status = status*10 + int(ch-'0')
			}
		case overridden(bytesOf(f.Name), sc.ResponseHeaders):
			continue
		case d.State.Attrs.Sticky == settings.StickyAppCookie && f.Name == "set-cookie" && setsCookie(bytesOf(f.Value), d.State.Attrs.AppCookie):
			appCookieSet = true
		}
		out = append(out, f)
	}
	x.out = x.appendStickyFields(out, appCookieSet)
	e.targetStatus = status
	x.pm.responseTime.Observe(e.targetProc.Seconds())
	x.pm.targetCode(status)
	if n, ended := us.Buffered(); ended && n == 0 {
		// Headers only (a gRPC error, an empty response).
		st.WriteHeaders(x.out, true)
		e.respProc = time.Since(got)
		return
	}
	if err := st.WriteHeaders(x.out, false); err != nil {
		us.Cancel(errClientReset)
		e.elbStatus, e.errReason = 460, "ClientClosed"
		return
	}
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	for {
		n, rerr := us.Read(buf)
		if n > 0 {
			if err := st.WriteData(buf[:n], false); err != nil {
				us.Cancel(errClientReset)
				e.elbStatus, e.errReason = 460, "ClientClosed"
				return
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if errors.Is(rerr, errClientReset) || st.Err() != nil {
				e.elbStatus, e.errReason = 460, "ClientClosed"
			} else {
				e.errReason = "TargetResponseError"
				st.Reset(http2.ErrCodeInternal, nil)
			}
			return
		}
	}
	if tr := us.Trailer(); len(tr) > 0 {
		st.WriteHeaders(tr, true)
	} else {
		st.WriteData(nil, true)
	}
	e.respProc = time.Since(got)
}

// relayBody sends a client's request body to the target's stream: n bytes
// already received and then the end of the stream, or (n < 0) everything
// until the client ends its stream; then its trailers, if any.
func relayBody(us, st *h2.Stream, n int) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	for {
		if n == 0 {
			break
		}
		k, err := st.Read(buf)
		if k > 0 {
			n -= k
			if us.WriteData(buf[:k], false) != nil {
				st.Reset(http2.ErrCodeCancel, nil)
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			us.Cancel(errClientReset)
			return
		}
	}
	if tr := st.Trailer(); len(tr) > 0 {
		us.WriteHeaders(tr, true)
	} else {
		us.WriteData(nil, true)
	}
}

// h2UpstreamFields builds the header block of a request forwarded over
// HTTP/2: the transformed host and path, the client's fields but those the
// load balancer replaces, and the headers it adds.
func (c *blockingConn) h2UpstreamFields(x *h2Exchange) []hpack.HeaderField {
	sc, d := x.sc, &x.d
	scheme := "http"
	if d.Target.TLS {
		scheme = "https"
	}
	// The strings that point into the decision's buffers are encoded
	// before the buffers are reused.
	out := append(x.up[:0],
		hpack.HeaderField{Name: ":method", Value: x.method},
		hpack.HeaderField{Name: ":scheme", Value: scheme},
		hpack.HeaderField{Name: ":authority", Value: stringOf(d.Host)},
		hpack.HeaderField{Name: ":path", Value: stringOf(d.URI)})
	var xff []byte
	var scratch []byte
	nxff := 0
	for _, f := range x.fields {
		if len(f.Name) > 0 && f.Name[0] == ':' {
			continue
		}
		name := bytesOf(f.Name)
		switch f.Name {
		case "te", "trailer", "content-length", "cookie":
			// te: trailers, the trailers announced, content-length
			// and cookies stay as they are in HTTP/2.
			out = append(out, f)
			continue
		}
		switch c.classify(sc, name) {
		case hdrSkip:
			continue
		case hdrXFF:
			if sc.LB.XFFMode == settings.XFFPreserve {
				break
			}
			if nxff == 0 {
				xff = bytesOf(f.Value)
			} else {
				scratch = append(append(append(scratch[:0], xff...), ", "...), f.Value...)
				xff = scratch
			}
			nxff++
			continue
		}
		out = append(out, f)
	}
	if sc.LB.XFFMode == settings.XFFAppend {
		var buf [64]byte
		out = append(out, hpack.HeaderField{Name: "x-forwarded-for", Value: string(routing.AppendXFF(buf[:0], xff, c.seen, sc.LB.XFFClientPort))})
	}
	out = append(out,
		hpack.HeaderField{Name: "x-forwarded-proto", Value: "https"},
		hpack.HeaderField{Name: "x-forwarded-port", Value: sc.PortStr},
		// A new value every request: not worth a place in the
		// target's header table.
		hpack.HeaderField{Name: "x-amzn-trace-id", Value: stringOf(d.Trace), Sensitive: true})
	if sc.LB.TLSHeaders {
		out = append(out,
			hpack.HeaderField{Name: sc.h2TLSVersionHeader, Value: c.tlsProto},
			hpack.HeaderField{Name: sc.h2TLSCipherHeader, Value: c.tlsCiph})
	}
	x.up = out
	return out
}
