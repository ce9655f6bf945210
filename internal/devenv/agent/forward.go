package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// udpIdle is how long a forwarded UDP flow lives without traffic, as a
// conntrack entry would.
const udpIdle = time.Minute

// forward listens on from (a node address and host port) and carries every
// TCP connection or UDP flow to target (the pod's address and container
// port), as the CNI portmap plugin does. Connections to the pod come from
// source, the node's address: a proxy cannot keep the client's.
func (rt *podRuntime) forward(proto corev1.Protocol, from, target netip.AddrPort, source netip.Addr) error {
	var lc net.ListenConfig
	if proto == corev1.ProtocolUDP {
		pc, err := lc.ListenPacket(rt.ctx, "udp", from.String())
		if err != nil {
			return err
		}
		rt.wg.Go(func() { forwardUDP(rt.ctx, pc, target, source) })
		return nil
	}
	ln, err := lc.Listen(rt.ctx, "tcp", from.String())
	if err != nil {
		return err
	}
	rt.wg.Go(func() { forwardTCP(rt.ctx, ln, target, source) })
	return nil
}

func forwardTCP(ctx context.Context, ln net.Listener, target netip.AddrPort, source netip.Addr) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		conns.Go(func() { proxyTCP(ctx, c, target, source) })
	}
}

func proxyTCP(ctx context.Context, down net.Conn, target netip.AddrPort, source netip.Addr) {
	defer down.Close()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(source, 0)), Timeout: 10 * time.Second}
	up, err := d.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return
	}
	defer up.Close()
	stop := context.AfterFunc(ctx, func() {
		down.Close()
		up.Close()
	})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, down)
		closeWrite(up)
	}()
	_, _ = io.Copy(down, up)
	closeWrite(down)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// forwardUDP carries datagrams from each client to target over a socket of
// its own (a flow), and the answers back, until the flow is idle.
func forwardUDP(ctx context.Context, pc net.PacketConn, target netip.AddrPort, source netip.Addr) {
	var (
		mu    sync.Mutex
		flows = map[string]*net.UDPConn{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		pc.Close()
		mu.Lock()
		for _, f := range flows {
			f.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	buf := make([]byte, 64<<10)
	for {
		n, client, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		key := client.String()
		mu.Lock()
		up := flows[key]
		if up == nil && ctx.Err() == nil {
			up, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(source, 0)), net.UDPAddrFromAddrPort(target))
			if err == nil {
				flows[key] = up
				wg.Go(func() {
					defer func() {
						mu.Lock()
						delete(flows, key)
						mu.Unlock()
						up.Close()
					}()
					b := make([]byte, 64<<10)
					for {
						_ = up.SetReadDeadline(time.Now().Add(udpIdle))
						n, err := up.Read(b)
						if err != nil {
							var ne net.Error
							if errors.As(err, &ne) && !ne.Timeout() && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
								continue // an ICMP error from the pod: keep the flow
							}
							return
						}
						_, _ = pc.WriteTo(b[:n], client)
					}
				})
			}
		}
		mu.Unlock()
		if up != nil {
			_, _ = up.Write(buf[:n])
		}
	}
}
