package nlb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// udpSocket is a listening UDP socket of a UDP or TCP_UDP listener. A flow
// is a client address and port; its datagrams go to the target chosen for
// its first one, through a socket connected to that target, until it is
// idle for 120 s. Answers from the target go back to the client from the
// listener's address: the plane's answer readers (udpAnswers) wait on
// every flow's socket, so that a flow costs a socket and a table entry, not
// a goroutine.
type udpSocket struct {
	p   *Plane
	key sockKey
	// conns are the sockets bound to the listener's address: one, or
	// one per core sharing the address (SO_REUSEPORT, Linux), each with
	// a reader goroutine. The kernel picks a flow's socket by the hash of
	// its addresses, so a flow's datagrams keep to one reader and their
	// order.
	conns []*net.UDPConn
	batch batchConn // conns[0], for sendmmsg of answers
	route atomic.Pointer[route]

	mu     sync.Mutex
	closed bool
	flows  map[netip.AddrPort]*udpFlow
}

func (p *Plane) listenUDP(k sockKey, r *route) (socket, error) {
	conns, err := listenUDPGroup(p.ctx, k.addr, udpListenerSockets())
	if err != nil {
		return nil, err
	}
	s := &udpSocket{p: p, key: k, conns: conns, batch: newBatchConn(conns[0], k.addr.Addr().Is4()), flows: map[netip.AddrPort]*udpFlow{}}
	s.route.Store(r)
	p.log.Info("listening", "socket", k.String(), "loadBalancer", r.lbARN, "listener", r.listenerARN, "protocol", r.protocol, "zone", r.zone, "readers", len(conns))
	for _, c := range conns {
		p.wg.Add(1)
		go s.serve(c)
	}
	return s, nil
}

// udpListenerSockets is how many sockets, each with a reader, a UDP
// listener address gets: one per core the process may use, at most 4 (as
// many as the answer readers, udpReaderCount).
func udpListenerSockets() int { return min(runtime.GOMAXPROCS(0), 4) }

// listenUDPGroup binds n UDP sockets to addr, sharing it with SO_REUSEPORT
// when n > 1. A socket bound without the option comes first and goes: if
// anything else holds the address (another process, with or without the
// option) the bind fails as it would for one socket, so that two load
// balancers never share an address unknowingly.
func listenUDPGroup(ctx context.Context, addr netip.AddrPort, n int) ([]*net.UDPConn, error) {
	var plain net.ListenConfig
	first, err := plain.ListenPacket(ctx, "udp", addr.String())
	if err != nil {
		return nil, err
	}
	if n <= 1 {
		return []*net.UDPConn{first.(*net.UDPConn)}, nil
	}
	first.Close()
	shared := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_REUSEPORT: %w", serr)
		}
		return nil
	}}
	conns := make([]*net.UDPConn, 0, n)
	for range n {
		pc, err := shared.ListenPacket(ctx, "udp", addr.String())
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	return conns, nil
}

func (s *udpSocket) setRoute(r *route) { s.route.Store(r) }

func (s *udpSocket) close(reason string) {
	s.mu.Lock()
	s.closed = true
	flows := make([]*udpFlow, 0, len(s.flows))
	for _, f := range s.flows {
		flows = append(flows, f)
	}
	s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	for _, f := range flows {
		f.terminate(reason)
	}
}

// udpBatch is how many datagrams one recvmmsg/sendmmsg moves at most.
const udpBatch = 16

// batchConn reads and writes several datagrams per system call
// (recvmmsg, sendmmsg).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(c *net.UDPConn, v4 bool) batchConn {
	if v4 {
		return ipv4.NewPacketConn(c)
	}
	return ipv6.NewPacketConn(c)
}

// serve reads client datagrams from one of the listener's sockets in
// batches and forwards them, a run of datagrams of one flow in one
// sendmmsg. Each buffer keeps room in front of the payload for a PROXY
// header, so that header and payload go out as one datagram without a
// copy of the payload.
func (s *udpSocket) serve(conn *net.UDPConn) {
	defer s.p.wg.Done()
	in := newBatchConn(conn, s.key.addr.Addr().Is4())
	msgs := make([]ipv4.Message, udpBatch)
	bufs := make([][]byte, udpBatch)
	for i := range msgs {
		bufs[i] = make([]byte, maxProxyHeader+maxDatagram)
		msgs[i].Buffers = [][]byte{bufs[i][maxProxyHeader:]}
	}
	out := make([]ipv4.Message, 0, udpBatch)
	outBufs := make([][1][]byte, udpBatch)
	for {
		n, err := in.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		var cur *udpFlow
		out = out[:0]
		for i := range n {
			ua, ok := msgs[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from := ua.AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			s.mu.Lock()
			f := s.flows[from]
			s.mu.Unlock()
			if f == nil {
				if f = s.newFlow(from); f == nil {
					continue
				}
			}
			if f != cur {
				cur.send(out)
				out, cur = out[:0], f
			}
			b := bufs[i]
			start := maxProxyHeader
			if len(f.hdr) > 0 {
				start -= len(f.hdr)
				copy(b[start:], f.hdr)
			}
			outBufs[len(out)][0] = b[start : maxProxyHeader+msgs[i].N]
			out = append(out, ipv4.Message{Buffers: outBufs[len(out)][:]})
			f.last.Store(now)
		}
		cur.send(out)
	}
}

// send forwards a run of a flow's datagrams to its target.
func (f *udpFlow) send(ms []ipv4.Message) {
	if f == nil || len(ms) == 0 {
		return
	}
	var bytes, packets int
	for len(ms) > 0 {
		n, err := f.out.WriteBatch(ms, 0)
		for i := range n {
			bytes += ms[i].N
		}
		packets += n
		if err != nil || n == 0 {
			// The target's port is closed (ICMP) or the socket is gone:
			// the datagrams are dropped, as the network would.
			break
		}
		ms = ms[n:]
	}
	if packets > 0 {
		f.m.bytes.Add(float64(bytes))
		f.m.packets.Add(float64(packets))
	}
}

// newFlow admits a client's first datagram and starts its flow; nil drops
// the datagram (refused by security groups, or no target).
func (s *udpSocket) newFlow(client netip.AddrPort) *udpFlow {
	p := s.p
	r := s.route.Load()
	if !r.policy.Allow("udp", r.port, client.Addr()) {
		p.log.Debug("datagram refused by security groups", "socket", s.key.String(), "client", client)
		return nil
	}
	h := p.flowHash(client, s.key.addr, protoUDP)
	g := r.pickGroup(p.groupHash(r, h, client.Addr()))
	if g == nil {
		return nil
	}
	if g.tg.s.StickySourceIP {
		h = p.sourceHash(client.Addr())
	}
	cand := g.pick(h)
	if cand == nil {
		p.log.Debug("no target for UDP flow", "socket", s.key.String(), "targetGroup", g.tg.arn, "zone", r.zone)
		return nil
	}
	answers, err := p.udpAnswers()
	if err != nil {
		p.log.Warn("UDP answers cannot be read; flow dropped", "socket", s.key.String(), "err", err)
		return nil
	}
	if !p.udpFlows.reserve() {
		g.m.portAllocErr.Inc()
		if p.udpFlows.warnFull(time.Now()) {
			p.log.Warn("UDP flow table full: new flows are dropped until others end", "flows", p.udpFlows.limit,
				"reason", "each flow holds a socket towards its target; the table keeps a quarter of the process's file descriptors for everything else")
		}
		return nil
	}
	preserve := g.tg.s.PreserveClientIP && client.Addr().Is4() == cand.addr.Addr().Is4()
	c, _, err := p.dialTarget(p.ctx, "udp", cand.addr, client.Addr(), preserve, r.source)
	if err != nil {
		p.udpFlows.release()
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL) {
			g.m.portAllocErr.Inc()
		}
		p.log.Debug("UDP flow to target failed", "target", cand.addr, "err", err)
		return nil
	}
	up := c.(*net.UDPConn)
	f := &udpFlow{s: s, client: client, clientAddr: net.UDPAddrFromAddrPort(client), up: up,
		out: newBatchConn(up, cand.addr.Addr().Is4()), ts: cand.ts, m: g.m, answers: answers}
	if g.tg.s.ProxyProtocolV2 {
		if f.hdr, err = p.proxyHeader("udp", client, s.key.addr); err != nil {
			p.log.Debug("PROXY header not built", "err", err)
			c.Close()
			p.udpFlows.release()
			return nil
		}
	}
	f.last.Store(time.Now().UnixNano())
	s.mu.Lock()
	if other := s.flows[client]; s.closed || other != nil {
		// Closed meanwhile (nil), or another reader started the client's
		// flow (its first datagrams came while the listener's sockets
		// were still being bound, and went to more than one).
		if s.closed {
			other = nil
		}
		s.mu.Unlock()
		c.Close()
		p.udpFlows.release()
		return other
	}
	s.flows[client] = f
	s.mu.Unlock()
	cand.ts.addFlow(f)
	g.m.newFlows.Inc()
	g.m.activeFlows.Inc()
	if err := answers.add(f); err != nil {
		f.terminate("answers cannot be read: " + err.Error())
		return nil
	}
	return f
}

// expire ends flows idle for the UDP idle timeout.
func (s *udpSocket) expire(now time.Time) {
	limit := now.Add(-udpIdleTimeout).UnixNano()
	s.mu.Lock()
	var idle []*udpFlow
	for _, f := range s.flows {
		if f.last.Load() < limit {
			idle = append(idle, f)
		}
	}
	s.mu.Unlock()
	for _, f := range idle {
		f.terminate("idle timeout")
	}
}

// udpFlow is one client's UDP flow to a target.
type udpFlow struct {
	s          *udpSocket
	client     netip.AddrPort
	clientAddr *net.UDPAddr // client, for sendmmsg
	up         *net.UDPConn
	out        batchConn // up, for sendmmsg and recvmmsg
	ts         *targetState
	m          *pairMetrics
	hdr        []byte
	last       atomic.Int64 // UnixNano of the last datagram either way
	closed     atomic.Bool
	// answers reads the target's answers; slot is the flow's entry there.
	answers udpAnswers
	slot    uint64
}

// answered sends a target's answers (ms[:n], read into their first
// buffers) to the client from the listener's socket, in one sendmmsg.
// out is scratch space for as many messages.
func (f *udpFlow) answered(ms []ipv4.Message, n int, out []ipv4.Message) {
	var bytes int
	for i := range n {
		out[i].Buffers = append(out[i].Buffers[:0], ms[i].Buffers[0][:ms[i].N])
		out[i].Addr = f.clientAddr
		bytes += ms[i].N
	}
	f.last.Store(time.Now().UnixNano())
	sent := 0
	for sent < n {
		k, err := f.s.batch.WriteBatch(out[sent:n], 0)
		if err != nil || k == 0 {
			break // the client is gone or the listener closed: dropped, as the network would
		}
		sent += k
	}
	if sent > 0 {
		f.m.bytes.Add(float64(bytes))
		f.m.packets.Add(float64(sent))
	}
}

func (f *udpFlow) terminate(reason string) {
	if !f.closed.CompareAndSwap(false, true) {
		return
	}
	f.s.mu.Lock()
	if f.s.flows[f.client] == f {
		delete(f.s.flows, f.client)
	}
	f.s.mu.Unlock()
	f.answers.remove(f)
	f.up.Close()
	f.s.p.udpFlows.release()
	f.ts.removeFlow(f)
	f.m.activeFlows.Dec()
	f.s.p.log.Debug("UDP flow ended", "client", f.client, "target", f.ts.key.id, "reason", reason)
}
