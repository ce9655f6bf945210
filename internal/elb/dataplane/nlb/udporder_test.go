package nlb_test

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUDPFlowOrderKept sends numbered datagrams from many clients at once
// through a listener read by several sockets and checks that each
// client's answers come back in the order sent: a flow keeps to one
// reader. Datagrams may be lost (UDP), never reordered on loopback.
func TestUDPFlowOrderKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("udporder", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("udporder", "UDP", "ip", nil)
	e.register(tg, e.backendIn(privateA, "o1", false, true), e.backendIn(privateA, "o2", false, true))
	port := e.createListener(l, listenerSpec{protocol: "UDP", tgs: []string{tg}})
	to := netip.AddrPortFrom(l.addrs[zoneA], port)

	// Windows of datagrams in flight, answered before the next: the
	// test's goroutines share the process with the load balancer, and
	// bursts without pauses would fill its socket's buffer before its
	// readers run.
	const clients, windows, window = 8, 20, 16
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.client, 0)), net.UDPAddrFromAddrPort(to))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			buf := make([]byte, 256)
			last, got := -1, 0
			for w := range windows {
				for j := range window {
					if _, err := c.Write([]byte(strconv.Itoa(w*window + j))); err != nil {
						errs <- err
						return
					}
				}
				for range window {
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					n, err := c.Read(buf)
					if err != nil {
						break // the rest of the window was lost
					}
					_, num, _ := strings.Cut(string(buf[:n]), ":")
					k, err := strconv.Atoi(num)
					if err != nil {
						errs <- fmt.Errorf("client %d: answer %q", i, buf[:n])
						return
					}
					if k <= last {
						errs <- fmt.Errorf("client %d: datagram %d answered after %d", i, k, last)
						return
					}
					last, got = k, got+1
				}
			}
			if got < windows*window/2 {
				errs <- fmt.Errorf("client %d: %d of %d datagrams answered", i, got, windows*window)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
