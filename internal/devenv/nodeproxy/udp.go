package nodeproxy

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 64 << 10

// udpLimits are a UDP frontend's flow timeouts and table size.
type udpLimits struct {
	timeout, stream time.Duration
	maxFlows        int
}

// udpFrontend is one UDP node port on one node. Each client address gets
// a flow: an upstream socket connected to the endpoint chosen by the
// client's first datagram. Replies come back to the client from the node
// port's socket.
type udpFrontend struct {
	conn     *net.UDPConn
	nodeHost netip.Addr
	limits   udpLimits
	log      *slog.Logger
	route    atomic.Pointer[route]
	ctx      context.Context
	cancel   context.CancelFunc
	// bindWarned is set once the client's address could not be bound for
	// an upstream socket (policy Local), which is logged once.
	bindWarned atomic.Bool
	// fullWarned rate-limits the "table full" warning (unix nanoseconds of
	// the last one).
	fullWarned atomic.Int64

	mu     sync.Mutex
	flows  map[netip.AddrPort]*udpFlow
	closed bool
	wg     sync.WaitGroup
}

// udpFlow is one client's association with an endpoint.
type udpFlow struct {
	client  netip.AddrPort
	backend netip.AddrPort
	up      *net.UDPConn
	start   time.Time
	last    atomic.Int64 // unix nanoseconds of the last datagram either way
	replied atomic.Bool
}

// idle returns how long f may stay idle: the stream timeout once the
// endpoint has answered and the flow has lasted udpStreamAfter, as Linux
// conntrack does.
func (f *udpFlow) idle(l udpLimits, now time.Time) time.Duration {
	if f.replied.Load() && now.Sub(f.start) > udpStreamAfter {
		return l.stream
	}
	return l.timeout
}

func startUDP(ctx context.Context, bind netip.AddrPort, nodeHost netip.Addr, r *route, limits udpLimits, log *slog.Logger) (*udpFrontend, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(bind))
	if err != nil {
		return nil, err
	}
	f := &udpFrontend{conn: conn, nodeHost: nodeHost, limits: limits, log: log, flows: map[netip.AddrPort]*udpFlow{}}
	f.ctx, f.cancel = context.WithCancel(ctx)
	f.route.Store(r)
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// setRoute sends new flows by r and forgets the flows to endpoints r no
// longer has, so that their next datagram picks a new one (kube-proxy
// deletes the conntrack entries of stale UDP endpoints).
func (f *udpFrontend) setRoute(r *route) {
	f.route.Store(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, fl := range f.flows {
		if !slices.Contains(r.backends, fl.backend) {
			delete(f.flows, k)
			fl.up.Close()
		}
	}
}

func (f *udpFrontend) close() {
	f.mu.Lock()
	f.closed = true
	f.conn.Close()
	for k, fl := range f.flows {
		delete(f.flows, k)
		fl.up.Close()
	}
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
}

func (f *udpFrontend) serve() {
	defer f.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, client, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors reported on the socket and the like
		}
		client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
		// A flow expiring or forgotten between lookup and write closes its
		// socket: try once more with a new flow.
		for range 2 {
			fl := f.flow(client)
			if fl == nil {
				break
			}
			fl.last.Store(time.Now().UnixNano())
			if _, err := fl.up.Write(buf[:n]); err == nil || !errors.Is(err, net.ErrClosed) {
				break
			}
		}
	}
}

// flow returns the client's flow, opening one if needed; nil drops the
// datagram (no endpoint, or the table is full).
func (f *udpFrontend) flow(client netip.AddrPort) *udpFlow {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if fl := f.flows[client]; fl != nil {
		return fl
	}
	r := f.route.Load()
	if len(r.backends) == 0 {
		f.log.Debug("no endpoint for datagram; dropped", "service", r.service.String(), "port", r.port, "local", r.local, "client", client)
		return nil
	}
	if len(f.flows) >= f.limits.maxFlows && !f.evictLocked() {
		if now := time.Now().UnixNano(); now-f.fullWarned.Load() > int64(10*time.Second) {
			f.fullWarned.Store(now)
			f.log.Warn("UDP flow table full; datagram of a new flow dropped", "service", r.service.String(), "port", r.port, "flows", len(f.flows))
		}
		return nil
	}
	backend := r.backends[rand.IntN(len(r.backends))]
	src := f.nodeHost
	if r.local {
		src = client.Addr()
	}
	up, err := net.DialUDP("udp", &net.UDPAddr{IP: src.AsSlice()}, net.UDPAddrFromAddrPort(backend))
	if err != nil && r.local && isBindError(err) {
		if !f.bindWarned.Swap(true) {
			f.log.Warn("cannot bind the client's address for the upstream socket; the endpoint sees the node's address instead", "client", client, "error", err)
		}
		up, err = net.DialUDP("udp", &net.UDPAddr{IP: f.nodeHost.AsSlice()}, net.UDPAddrFromAddrPort(backend))
	}
	if err != nil {
		f.log.Debug("open upstream UDP socket", "service", r.service.String(), "port", r.port, "endpoint", backend, "error", err)
		return nil
	}
	fl := &udpFlow{client: client, backend: backend, up: up, start: time.Now()}
	fl.last.Store(fl.start.UnixNano())
	f.flows[client] = fl
	f.wg.Add(1)
	go f.replies(fl)
	return fl
}

// evictLocked makes room in a full table: it forgets the flows idle past
// their timeout, else the least recently used flow the endpoint never
// answered. It reports whether there is room now.
func (f *udpFrontend) evictLocked() bool {
	now := time.Now()
	var victim *udpFlow
	for k, fl := range f.flows {
		if now.Sub(time.Unix(0, fl.last.Load())) > fl.idle(f.limits, now) {
			delete(f.flows, k)
			fl.up.Close()
			continue
		}
		if !fl.replied.Load() && (victim == nil || fl.last.Load() < victim.last.Load()) {
			victim = fl
		}
	}
	if len(f.flows) < f.limits.maxFlows {
		return true
	}
	if victim == nil {
		return false
	}
	delete(f.flows, victim.client)
	victim.up.Close()
	return true
}

// replies forwards the endpoint's datagrams to the client until the flow
// is idle past its timeout or closed.
func (f *udpFrontend) replies(fl *udpFlow) {
	defer f.wg.Done()
	defer f.forget(fl)
	buf := make([]byte, maxDatagram)
	for {
		now := time.Now()
		_ = fl.up.SetReadDeadline(time.Unix(0, fl.last.Load()).Add(fl.idle(f.limits, now)))
		n, err := fl.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				now := time.Now()
				if now.Sub(time.Unix(0, fl.last.Load())) >= fl.idle(f.limits, now) {
					return
				}
			}
			continue // the deadline moved, or ICMP port unreachable from the endpoint
		}
		fl.replied.Store(true)
		fl.last.Store(time.Now().UnixNano())
		if _, err := f.conn.WriteToUDPAddrPort(buf[:n], fl.client); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// forget removes fl from the table (if it is still there) and closes its
// socket.
func (f *udpFrontend) forget(fl *udpFlow) {
	f.mu.Lock()
	if f.flows[fl.client] == fl {
		delete(f.flows, fl.client)
	}
	f.mu.Unlock()
	fl.up.Close()
}
