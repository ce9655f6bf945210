package nlb

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDialPreservesLocalClientAndFallsBack checks the source a target
// connection gets: a local client address is bound as it is; a client
// address that is not local (a client of a public address on another host)
// cannot be bound without IP_TRANSPARENT and routing that returns the
// target's answers, so the connection falls back to the load balancer's
// address and the reason is logged once.
func TestDialPreservesLocalClientAndFallsBack(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	p, err := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ln, err := net.Listen("tcp", "127.88.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan netip.Addr, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
			c.Close()
		}
	}()
	dst := ln.Addr().(*net.TCPAddr).AddrPort()
	lbSource := netip.MustParseAddr("127.88.0.2")

	for _, tc := range []struct {
		name      string
		client    netip.Addr
		preserve  bool
		want      netip.Addr
		preserved bool
	}{
		{"not preserved", netip.MustParseAddr("127.88.0.3"), false, lbSource, false},
		{"local client", netip.MustParseAddr("127.88.0.3"), true, netip.MustParseAddr("127.88.0.3"), true},
		{"non-local client", netip.MustParseAddr("198.51.100.7"), true, lbSource, false},
		{"non-local client again", netip.MustParseAddr("198.51.100.8"), true, lbSource, false},
	} {
		c, preserved, err := p.dialTarget(context.Background(), "tcp", dst, tc.client, tc.preserve, lbSource)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c.Close()
		if got := <-peers; got != tc.want || preserved != tc.preserved {
			t.Errorf("%s: target saw %s (preserved %t), want %s (%t)", tc.name, got, preserved, tc.want, tc.preserved)
		}
	}
	if n := strings.Count(logs.String(), "cannot preserve the address of a non-local client"); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%s", n, logs.String())
	}
}
