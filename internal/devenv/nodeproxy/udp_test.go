package nodeproxy

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// udpEcho answers datagrams starting with "reply" with "src ADDR|PAYLOAD"
// and ignores the others.
func udpEcho(t *testing.T, host netip.Addr) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(buf[:n]), "reply") {
				_, _ = pc.WriteToUDPAddrPort([]byte(fmt.Sprintf("src %s|%s", from, buf[:n])), from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func loopback(second byte) netip.Addr {
	return netip.AddrFrom4([4]byte{127, second, byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
}

// udpClient is a client socket on its own address.
type udpClient struct {
	pc     *net.UDPConn
	target netip.AddrPort
}

func newUDPClient(t *testing.T, target netip.AddrPort) *udpClient {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback(58), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &udpClient{pc: pc, target: target}
}

// send sends msg and returns the source the backend saw for it, or an
// error when no answer comes within wait.
func (c *udpClient) send(msg string, wait time.Duration) (netip.AddrPort, error) {
	if _, err := c.pc.WriteToUDPAddrPort([]byte(msg), c.target); err != nil {
		return netip.AddrPort{}, err
	}
	_ = c.pc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	for {
		n, _, err := c.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return netip.AddrPort{}, err
		}
		src, payload, _ := strings.Cut(strings.TrimPrefix(string(buf[:n]), "src "), "|")
		if payload != msg {
			continue
		}
		return netip.ParseAddrPort(src)
	}
}

func startTestUDP(t *testing.T, r *route, limits udpLimits) (*udpFrontend, netip.Addr) {
	t.Helper()
	node := loopback(59)
	f, err := startUDP(context.Background(), netip.AddrPortFrom(node, 0), node, r, limits, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	return f, node
}

// TestUDPFlowExpiry: an idle flow expires, and the client's next datagram
// opens a new one (a new upstream socket).
func TestUDPFlowExpiry(t *testing.T) {
	backend := udpEcho(t, loopback(60))
	f, _ := startTestUDP(t, &route{backends: []netip.AddrPort{backend}}, udpLimits{timeout: 100 * time.Millisecond, stream: 100 * time.Millisecond, maxFlows: 16})
	c := newUDPClient(t, f.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	first, err := c.send("reply 0", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Wait longer and longer between datagrams until one arrives after
	// the flow expired (each datagram refreshes the flow).
	gap := 10 * time.Millisecond
	ctrltest.Eventually(t, 20*time.Second, func() error {
		time.Sleep(gap)
		gap *= 2
		src, err := c.send(fmt.Sprintf("reply after %s", gap), 5*time.Second)
		if err != nil {
			return err
		}
		if src == first {
			return fmt.Errorf("still the flow from %s", first)
		}
		return nil
	})
}

// TestUDPFlowTableBound: a full table evicts the flow the endpoint never
// answered, and drops a new flow when every flow has been answered.
func TestUDPFlowTableBound(t *testing.T) {
	backend := udpEcho(t, loopback(60))
	f, _ := startTestUDP(t, &route{backends: []netip.AddrPort{backend}}, udpLimits{timeout: time.Minute, stream: time.Minute, maxFlows: 2})
	target := f.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	c1, c2, c3 := newUDPClient(t, target), newUDPClient(t, target), newUDPClient(t, target)
	if _, err := c1.send("reply 1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// c2's flow is never answered.
	if _, err := c2.pc.WriteToUDPAddrPort([]byte("silent"), target); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.flows) != 2 {
			return fmt.Errorf("%d flows, want 2", len(f.flows))
		}
		return nil
	})
	// c3 takes c2's place.
	if _, err := c3.send("reply 3", 5*time.Second); err != nil {
		t.Fatalf("new flow in a full table with an unanswered flow: %v", err)
	}
	// Both flows answered: c2's new flow is dropped.
	if _, err := c2.send("reply 2", 300*time.Millisecond); err == nil {
		t.Fatal("a full table of answered flows took a new flow")
	}
	f.mu.Lock()
	n := len(f.flows)
	f.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d flows, want at most 2", n)
	}
	if _, err := c1.send("reply 1 again", 5*time.Second); err != nil {
		t.Fatalf("established flow lost: %v", err)
	}
}

// TestUDPLocalSource: under policy Local the endpoint sees the client's
// address; under Cluster the node's.
func TestUDPLocalSource(t *testing.T) {
	backend := udpEcho(t, loopback(60))
	for _, local := range []bool{true, false} {
		f, node := startTestUDP(t, &route{local: local, backends: []netip.AddrPort{backend}}, udpLimits{timeout: time.Minute, stream: time.Minute, maxFlows: 16})
		c := newUDPClient(t, f.conn.LocalAddr().(*net.UDPAddr).AddrPort())
		src, err := c.send("reply", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := node
		if local {
			want = c.pc.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
		}
		if src.Addr() != want {
			t.Fatalf("local=%v: endpoint saw %s, want %s", local, src, want)
		}
	}
}

// TestUDPStaleEndpoint: a flow to an endpoint the route no longer has is
// forgotten; the next datagram goes to a current endpoint.
func TestUDPStaleEndpoint(t *testing.T) {
	old, cur := udpEcho(t, loopback(60)), udpEcho(t, loopback(61))
	f, _ := startTestUDP(t, &route{backends: []netip.AddrPort{old}}, udpLimits{timeout: time.Minute, stream: time.Minute, maxFlows: 16})
	c := newUDPClient(t, f.conn.LocalAddr().(*net.UDPAddr).AddrPort())
	if _, err := c.send("reply old", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.setRoute(&route{backends: []netip.AddrPort{cur}})
	ctrltest.Eventually(t, 5*time.Second, func() error {
		_, err := c.send("reply new", time.Second)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if fl := f.flows[c.pc.LocalAddr().(*net.UDPAddr).AddrPort()]; fl == nil || fl.backend != cur {
			return fmt.Errorf("flow %+v, want one to %s", fl, cur)
		}
		return nil
	})
}
