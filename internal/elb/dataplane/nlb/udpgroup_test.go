package nlb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// freeUDP returns a UDP address on 127.0.0.1 that nothing holds.
func freeUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return a
}

func TestListenUDPGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("every socket receives flows", func(t *testing.T) {
		addr := freeUDP(t)
		conns, err := listenUDPGroup(ctx, addr, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		if len(conns) != 2 {
			t.Fatalf("%d sockets, want 2", len(conns))
		}
		// 64 flows: the kernel spreads them over the sockets by the hash
		// of their addresses (all on one: odds 2^-63).
		for range 64 {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("x"))
			c.Close()
		}
		for i, c := range conns {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := c.ReadFromUDPAddrPort(make([]byte, 16)); err != nil {
				t.Errorf("socket %d received nothing of 64 flows: %v", i, err)
			}
		}
	})

	holders := []struct {
		name string
		hold func(t *testing.T, addr netip.AddrPort) func()
	}{
		{"a plain socket", func(t *testing.T, addr netip.AddrPort) func() {
			pc, err := net.ListenPacket("udp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			return func() { pc.Close() }
		}},
		{"another group sharing the address", func(t *testing.T, addr netip.AddrPort) func() {
			lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
			}}
			pc, err := lc.ListenPacket(context.Background(), "udp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			return func() { pc.Close() }
		}},
	}
	for _, h := range holders {
		for _, n := range []int{1, 2} {
			t.Run(fmt.Sprintf("held by %s, %d sockets", h.name, n), func(t *testing.T) {
				addr := freeUDP(t)
				release := h.hold(t, addr)
				defer release()
				conns, err := listenUDPGroup(ctx, addr, n)
				if err == nil {
					for _, c := range conns {
						c.Close()
					}
					t.Fatalf("bound %d sockets to an address %s holds", len(conns), h.name)
				}
				if !errors.Is(err, syscall.EADDRINUSE) {
					t.Errorf("err = %v, want EADDRINUSE", err)
				}
			})
		}
	}
}
