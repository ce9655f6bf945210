package nlb_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	dto "github.com/prometheus/client_model/go"
)

func TestTCPEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("tcp-echo", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("tcp-echo", "TCP", "ip", nil)
	b1 := e.backendIn(privateA, "one", true, false)
	b2 := e.backendIn(privateA, "two", true, false)
	e.register(tg, b1, b2)
	port := e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}})

	c, err := e.dial(netip.AddrPortFrom(l.addrs[zoneA], port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name, err := hello(c)
	if err != nil {
		t.Fatal(err)
	}
	if name != "one" && name != "two" {
		t.Fatalf("hello %q from an unknown backend", name)
	}
	for i := range 5 {
		if err := echo(c, fmt.Sprintf("message %d through the NLB", i)); err != nil {
			t.Fatal(err)
		}
	}
	// A larger transfer, both ways at once.
	big := strings.Repeat("0123456789abcdef", 1<<16)
	if err := echo(c, big); err != nil {
		t.Fatal(err)
	}
	seen := e.spread(netip.AddrPortFrom(l.addrs[zoneA], port), 40)
	if seen["one"] == 0 || seen["two"] == 0 {
		t.Errorf("40 connections reached %v; want both targets", seen)
	}
}

func TestTLSListener(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("tls", lbSpec{zones: []string{zoneA}})
	cert := e.addCert("app.example.com")
	other := e.addCert("other.example.com")
	plain := e.createTG("tls-to-tcp", "TCP", "ip", nil)
	b := e.backendIn(privateA, "plain", true, false)
	e.register(plain, b)
	bcert, bkey := selfSigned(t, "backend.internal")
	kp, err := tls.X509KeyPair(bcert, bkey)
	if err != nil {
		t.Fatal(err)
	}
	reenc := e.createTG("tls-to-tls", "TLS", "ip", nil)
	bt := e.backendIn(privateA, "encrypted", true, false, withTLS(&tls.Config{Certificates: []tls.Certificate{kp}, NextProtos: []string{"h2", "http/1.1"}}))
	e.register(reenc, bt)
	p1 := e.createListener(l, listenerSpec{protocol: "TLS", tgs: []string{plain}, certs: []string{cert, other}})
	p2 := e.createListener(l, listenerSpec{protocol: "TLS", tgs: []string{reenc}, certs: []string{cert}, alpn: "HTTP2Preferred"})

	roots := x509.NewCertPool()
	for _, arn := range []string{cert, other} {
		roots.AppendCertsFromPEM(e.certPEM(arn))
	}
	for _, tc := range []struct {
		name, sni, want string
		port            uint16
	}{
		{"terminate to TCP", "app.example.com", "plain", p1},
		{"SNI certificate", "other.example.com", "plain", p1},
		{"re-encrypt to TLS", "app.example.com", "encrypted", p2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := e.dial(netip.AddrPortFrom(l.addrs[zoneA], tc.port))
			if err != nil {
				t.Fatal(err)
			}
			c := tls.Client(raw, &tls.Config{ServerName: tc.sni, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
			defer c.Close()
			if err := c.Handshake(); err != nil {
				t.Fatalf("handshake (the certificate for %s must verify): %v", tc.sni, err)
			}
			name, err := hello(c)
			if err != nil {
				t.Fatal(err)
			}
			if name != tc.want {
				t.Fatalf("reached %q, want %q", name, tc.want)
			}
			if err := echo(c, "over TLS "+tc.name); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The re-encrypted connection offered the target what the client and
	// the listener agreed on.
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if len(bt.alpn) != 1 || bt.alpn[0] != "h2" {
		t.Errorf("target negotiated %q; want [h2], the protocol agreed with the client", bt.alpn)
	}
}

func TestTLSPolicyRefusesOldProtocol(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("tls-policy", lbSpec{zones: []string{zoneA}})
	cert := e.addCert("app.example.com")
	tg := e.createTG("tls-policy", "TCP", "ip", nil)
	e.register(tg, e.backendIn(privateA, "b", true, false))
	port := e.createListener(l, listenerSpec{protocol: "TLS", tgs: []string{tg}, certs: []string{cert}, policy: "ELBSecurityPolicy-TLS13-1-2-2021-06"})
	to := netip.AddrPortFrom(l.addrs[zoneA], port)
	handshake := func(max uint16) error {
		raw, err := e.dial(to)
		if err != nil {
			return err
		}
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: max})
		defer c.Close()
		return c.Handshake()
	}
	if err := handshake(tls.VersionTLS11); err == nil {
		t.Error("a TLS 1.1 client completed a handshake under ELBSecurityPolicy-TLS13-1-2-2021-06")
	}
	if err := handshake(tls.VersionTLS12); err != nil {
		t.Errorf("TLS 1.2 handshake: %v", err)
	}
}

func TestALPNPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("alpn", lbSpec{zones: []string{zoneA}})
	cert := e.addCert("app.example.com")
	tg := e.createTG("alpn", "TCP", "ip", nil)
	e.register(tg, e.backendIn(privateA, "b", true, false))
	for _, tc := range []struct {
		policy string
		offer  []string
		want   string
	}{
		{"HTTP1Only", []string{"h2", "http/1.1"}, "http/1.1"},
		{"HTTP2Only", []string{"h2", "http/1.1"}, "h2"},
		{"HTTP2Optional", []string{"h2", "http/1.1"}, "http/1.1"},
		{"HTTP2Preferred", []string{"http/1.1", "h2"}, "h2"},
		{"HTTP2Preferred", []string{"http/1.1"}, "http/1.1"},
		{"None", []string{"h2", "http/1.1"}, ""},
	} {
		port := e.createListener(l, listenerSpec{protocol: "TLS", tgs: []string{tg}, certs: []string{cert}, alpn: tc.policy})
		t.Run(tc.policy+"/"+strings.Join(tc.offer, ","), func(t *testing.T) {
			raw, err := e.dial(netip.AddrPortFrom(l.addrs[zoneA], port))
			if err != nil {
				t.Fatal(err)
			}
			c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: tc.offer})
			defer c.Close()
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().NegotiatedProtocol; got != tc.want {
				t.Errorf("negotiated %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSourceIPStickiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("sticky", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("sticky", "TCP", "ip", map[string]string{"stickiness.enabled": "true", "stickiness.type": "source_ip"})
	e.register(tg, e.backendIn(privateA, "one", true, false), e.backendIn(privateA, "two", true, false), e.backendIn(privateA, "three", true, false))
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
	if seen := e.spread(to, 20); len(seen) != 1 {
		t.Errorf("one client address reached %v; want one target", seen)
	}
	// Other client addresses spread.
	if targets := e.fromClients(57, to, 20); len(targets) < 2 {
		t.Errorf("20 client addresses all reached %v", targets)
	}
}

func TestUDPFlowsPinned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("udp", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("udp", "UDP", "ip", nil)
	var bs []*backend
	for _, n := range []string{"u1", "u2", "u3"} {
		bs = append(bs, e.backendIn(privateA, n, false, true))
	}
	e.register(tg, bs...)
	port := e.createListener(l, listenerSpec{protocol: "UDP", tgs: []string{tg}})
	to := netip.AddrPortFrom(l.addrs[zoneA], port)

	used := map[string]int{}
	for i := range 30 {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.client, 0)), net.UDPAddrFromAddrPort(to))
		if err != nil {
			t.Fatal(err)
		}
		first := ""
		for j := range 5 {
			msg := fmt.Sprintf("flow %d datagram %d", i, j)
			got := udpRoundTrip(t, c, msg)
			name, payload, _ := strings.Cut(got, ":")
			if payload != msg {
				t.Fatalf("answer %q to %q", got, msg)
			}
			if first == "" {
				first = name
			} else if name != first {
				t.Fatalf("flow %d moved from target %s to %s", i, first, name)
			}
		}
		used[first]++
		c.Close()
	}
	if len(used) < 2 {
		t.Errorf("30 flows all went to %v; want a spread", used)
	}
}

// udpRoundTrip sends msg and returns the answer, retrying a few times (UDP
// may drop).
func udpRoundTrip(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	buf := make([]byte, 65536)
	for range 5 {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no answer to %q", msg)
	return ""
}

func TestTCPUDPOnOnePort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("tcpudp", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("tcpudp", "TCP_UDP", "ip", nil)
	b := e.backendIn(privateA, "both", true, true)
	e.register(tg, b)
	port := e.createListener(l, listenerSpec{protocol: "TCP_UDP", tgs: []string{tg}})
	to := netip.AddrPortFrom(l.addrs[zoneA], port)

	c, err := e.dial(to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if name, err := hello(c); err != nil || name != "both" {
		t.Fatalf("TCP hello = %q, %v", name, err)
	}
	if err := echo(c, "tcp half"); err != nil {
		t.Fatal(err)
	}
	u, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.client, 0)), net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got := udpRoundTrip(t, u, "udp half"); got != "both:udp half" {
		t.Fatalf("UDP answer %q", got)
	}
}

func TestClientAddressSeenByTarget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("client-ip", lbSpec{zones: []string{zoneA}})
	node := e.addrs.ToHost(l.nodes[zoneA])
	for _, tc := range []struct {
		name       string
		protocol   string
		targetType string
		attrs      map[string]string
		preserved  bool
	}{
		{"ip target, TCP, default off", "TCP", "ip", nil, false},
		{"ip target, TCP, preservation on", "TCP", "ip", map[string]string{"preserve_client_ip.enabled": "true"}, true},
		{"instance target, TCP, default on", "TCP", "instance", nil, true},
		{"instance target, TCP, preservation off", "TCP", "instance", map[string]string{"preserve_client_ip.enabled": "false"}, false},
		// (The API refuses to turn preservation off for UDP.)
		{"ip target, UDP, always on", "UDP", "ip", nil, true},
		{"ip target, TCP_UDP over TCP, default on", "TCP_UDP", "ip", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			tg := e.createTG("cip"+strings.ReplaceAll(tc.name, " ", ""), tc.protocol, tc.targetType, tc.attrs)
			udp := tc.protocol == "UDP"
			b := e.backendIn(privateA, "b", !udp, udp)
			if tc.targetType == "instance" {
				e.addInstance(b, zoneA)
			}
			e.register(tg, b)
			port := e.createListener(l, listenerSpec{protocol: tc.protocol, tgs: []string{tg}})
			to := netip.AddrPortFrom(l.addrs[zoneA], port)
			if udp {
				u, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.client, 0)), net.UDPAddrFromAddrPort(to))
				if err != nil {
					t.Fatal(err)
				}
				defer u.Close()
				udpRoundTrip(t, u, "hi")
			} else if _, err := e.whoami(to); err != nil {
				t.Fatal(err)
			}
			want := node
			if tc.preserved {
				want = e.client
			}
			if got := b.lastPeer().Addr(); got != want {
				t.Errorf("target saw %s, want %s", got, want)
			}
		})
	}
}

func TestProxyProtocolV2(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("proxy", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("proxy", "TCP", "ip", map[string]string{"proxy_protocol_v2.enabled": "true"})
	b := e.backendIn(privateA, "pp", true, false, withProxy())
	e.register(tg, b)
	port := e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}})
	to := netip.AddrPortFrom(l.addrs[zoneA], port)
	c, err := e.dial(to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if name, err := hello(c); err != nil || name != "pp" {
		t.Fatalf("hello = %q, %v", name, err)
	}
	if err := echo(c, "after the header"); err != nil {
		t.Fatal(err)
	}
	h := b.lastHeader()
	if h == nil {
		t.Fatal("backend parsed no PROXY header")
	}
	src, dst, ok := h.TCPAddrs()
	if !ok || h.Version != 2 || h.Command != proxyproto.PROXY {
		t.Fatalf("header %+v: want a v2 PROXY header over TCP", h)
	}
	client := c.LocalAddr().(*net.TCPAddr).AddrPort()
	if src.AddrPort() != netip.AddrPortFrom(client.Addr().Unmap(), client.Port()) {
		t.Errorf("header source %s, want the client %s", src, client)
	}
	if dst.AddrPort() != netip.AddrPortFrom(to.Addr(), to.Port()) {
		t.Errorf("header destination %s, want the listener %s", dst, to)
	}
	if tlvs, err := h.TLVs(); err != nil || len(tlvs) != 0 {
		t.Errorf("TLVs %v (%v): AWS sends none outside PrivateLink", tlvs, err)
	}

	// UDP: the header leads every datagram.
	utg := e.createTG("proxyudp", "UDP", "ip", map[string]string{"proxy_protocol_v2.enabled": "true"})
	ub := e.backendIn(privateA, "ppu", false, true, withProxy())
	e.register(utg, ub)
	uport := e.createListener(l, listenerSpec{protocol: "UDP", tgs: []string{utg}})
	u, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.client, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.addrs[zoneA], uport)))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got := udpRoundTrip(t, u, "datagram"); got != "ppu:datagram" {
		t.Fatalf("UDP answer %q", got)
	}
	uh := ub.lastHeader()
	if uh == nil {
		t.Fatal("UDP backend parsed no PROXY header")
	}
	usrc, _, ok := uh.UDPAddrs()
	if !ok || usrc.AddrPort() != u.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Errorf("UDP header source %v, want %s", usrc, u.LocalAddr())
	}
}

// spreadRound is a change, then what 30 connections must reach once it
// has taken effect.
type spreadRound struct {
	what   string
	before func()
	want   func(map[string]int) bool
}

// spreadRounds applies each round's change and waits until 30 connections
// to the address spread as it wants. A connection racing a health change
// may be reset (flows to a target that turns unhealthy end), so a failed
// round is just polled again.
func (e *env) spreadRounds(to netip.AddrPort, rounds []spreadRound) {
	e.t.Helper()
	for _, r := range rounds {
		r.before()
		eventually(e.t, r.what, func() error {
			seen, err := e.trySpread(to, 30)
			if err == nil && !r.want(seen) {
				err = fmt.Errorf("30 connections reached %v", seen)
			}
			return err
		})
	}
}

func TestHealthFailoverAndFailOpen(t *testing.T) {
	t.Parallel()
	e := newStateEnv(t, withChecker())
	l := e.createLB("health", lbSpec{zones: []string{zoneA}})
	b1 := e.backendIn(privateA, "one", true, false)
	b2 := e.backendIn(privateA, "two", true, false)
	tg := e.createCheckedTG("health", "TCP", e.serveHealth(b1, b2), nil)
	e.register(tg, b1, b2)
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))

	// While the checks decide (initial), no target takes traffic; then
	// both do.
	rounds := []spreadRound{
		{"both targets healthy", func() {}, func(s map[string]int) bool { return s["one"] > 0 && s["two"] > 0 }},
		{"failover to the healthy target", func() { b1.setHealthy(false) }, func(s map[string]int) bool { return s["one"] == 0 }},
		{"fail-open to both unhealthy targets", func() { b2.setHealthy(false) }, func(s map[string]int) bool { return s["one"] > 0 && s["two"] > 0 }},
		{"back to the one healthy target", func() { b1.setHealthy(true) }, func(s map[string]int) bool { return s["two"] == 0 }},
	}
	e.spreadRounds(to, rounds)
}

// TestRoutingFailoverThresholds: below the target group's routing
// failover thresholds (count, 1 by default, and percentage) new flows go
// to the unhealthy targets as well as the healthy ones.
func TestRoutingFailoverThresholds(t *testing.T) {
	t.Parallel()
	e := newStateEnv(t, withChecker())
	l := e.createLB("routing", lbSpec{zones: []string{zoneA}})
	b1 := e.backendIn(privateA, "one", true, false)
	b2 := e.backendIn(privateA, "two", true, false)
	tg := e.createCheckedTG("routing", "TCP", e.serveHealth(b1, b2), nil)
	e.register(tg, b1, b2)
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
	const (
		count   = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"
		percent = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"
	)
	both := func(s map[string]int) bool { return s["one"] > 0 && s["two"] > 0 }
	rounds := []spreadRound{
		{"both targets healthy", func() {}, both},
		{"one healthy, the default count of 1 met: only the healthy one", func() { b1.setHealthy(false) }, func(s map[string]int) bool { return s["one"] == 0 }},
		{"one healthy, two wanted: both", func() { e.setTGAttr(tg, count, "2") }, both},
	}
	e.spreadRounds(to, rounds)

	// A flow sent to the unhealthy target while the group fails open is
	// not ended for being unhealthy (termination is on by default).
	var held net.Conn
	for i := 0; held == nil && i < 100; i++ {
		c, err := e.dial(to)
		if err != nil {
			t.Fatal(err)
		}
		if name, err := hello(c); err == nil && name == "one" {
			held = c
		} else {
			c.Close()
		}
	}
	if held == nil {
		t.Fatal("no connection reached the unhealthy target in 100")
	}
	defer held.Close()
	time.Sleep(time.Second) // five of the plane's 200 ms sweeps, which end flows
	if err := echo(held, "still here"); err != nil {
		t.Fatalf("a flow to the unhealthy target of a group failing open was ended: %v", err)
	}

	e.spreadRounds(to, []spreadRound{
		{"count 1 again", func() { e.setTGAttr(tg, count, "1") }, func(s map[string]int) bool { return s["one"] == 0 }},
		{"half healthy, 60% wanted: both", func() { e.setTGAttr(tg, percent, "60") }, both},
		{"half healthy, 50% wanted: only the healthy one", func() { e.setTGAttr(tg, percent, "50") }, func(s map[string]int) bool { return s["one"] == 0 }},
	})
}

func TestCrossZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("zones", lbSpec{zones: []string{zoneA, zoneB}})
	tg := e.createTG("zones", "TCP", "ip", nil)
	ba := e.backendIn(privateA, "in-a", true, false)
	bb := e.backendIn(privateB, "in-b", true, false)
	e.register(tg, ba, bb)
	port := e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}})
	toA := netip.AddrPortFrom(l.addrs[zoneA], port)
	toB := netip.AddrPortFrom(l.addrs[zoneB], port)

	if seen := e.spread(toA, 30); seen["in-a"] != 30 {
		t.Errorf("cross-zone off (NLB default): zone a's address reached %v; want only in-a", seen)
	}
	if seen := e.spread(toB, 30); seen["in-b"] != 30 {
		t.Errorf("cross-zone off: zone b's address reached %v; want only in-b", seen)
	}
	e.setLBAttr(l, attrCrossZone, "true")
	if seen := e.spread(toA, 40); seen["in-a"] == 0 || seen["in-b"] == 0 {
		t.Errorf("cross-zone on: zone a's address reached %v; want both zones", seen)
	}
	e.setTGAttr(tg, attrCrossZone, "false")
	if seen := e.spread(toA, 30); seen["in-a"] != 30 {
		t.Errorf("target group overrides cross-zone off: reached %v; want only in-a", seen)
	}
	e.setLBAttr(l, attrCrossZone, "false")
	e.setTGAttr(tg, attrCrossZone, "true")
	if seen := e.spread(toB, 40); seen["in-a"] == 0 || seen["in-b"] == 0 {
		t.Errorf("target group overrides cross-zone on: reached %v; want both zones", seen)
	}
}

func TestDraining(t *testing.T) {
	t.Parallel()
	// The subtests run one after the other: they move the shared clock.
	for _, terminate := range []bool{false, true} {
		t.Run(fmt.Sprintf("connection_termination=%t", terminate), func(t *testing.T) {
			e := newEnv(t)
			l := e.createLB("drain", lbSpec{zones: []string{zoneA}})
			tg := e.createTG("drain", "TCP", "ip", map[string]string{"deregistration_delay.connection_termination.enabled": fmt.Sprint(terminate)})
			b := e.backendIn(privateA, "only", true, false)
			e.register(tg, b)
			to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
			c, err := e.dial(to)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := hello(c); err != nil {
				t.Fatal(err)
			}
			e.deregister(tg, b, e.clock.Now().Add(300*time.Second))
			// New connections are refused: the only target is draining.
			if name, err := e.whoami(to); err == nil {
				t.Fatalf("a new connection reached %q while the only target drains", name)
			}
			// The open one keeps working through the delay.
			e.clock.Advance(299 * time.Second)
			time.Sleep(3 * 200 * time.Millisecond) // let sweeps see the clock; the assertion is below
			if err := echo(c, "still draining"); err != nil {
				t.Fatalf("open connection during the deregistration delay: %v", err)
			}
			e.clock.Advance(2 * time.Second)
			if terminate {
				eventually(t, "connection closed at the end of the delay", func() error { return closedByPeer(c) })
				return
			}
			time.Sleep(3 * 200 * time.Millisecond)
			if err := echo(c, "delay over, no termination"); err != nil {
				t.Fatalf("without connection termination the connection must stay: %v", err)
			}
		})
	}
}

func TestUnhealthyConnectionTermination(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attrs    map[string]string
		closes   bool
		interval bool
	}{
		{"default terminates", nil, true, false},
		{"termination off keeps", map[string]string{"target_health_state.unhealthy.connection_termination.enabled": "false"}, false, false},
		{"draining interval ends", map[string]string{
			"target_health_state.unhealthy.connection_termination.enabled": "false",
			"target_health_state.unhealthy.draining_interval_seconds":      "4",
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newStateEnv(t, withChecker())
			l := e.createLB("unhealthy", lbSpec{zones: []string{zoneA}})
			b1 := e.backendIn(privateA, "one", true, false)
			b2 := e.backendIn(privateA, "two", true, false)
			tg := e.createCheckedTG("unhealthy", "TCP", e.serveHealth(b1, b2), tc.attrs)
			e.register(tg, b1, b2)
			to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
			// Open connections until one lands on each target.
			conns := map[string]net.Conn{}
			tries := map[string]int{}
			eventually(t, "a connection to each target", func() error {
				c, err := e.dial(to)
				if err != nil {
					tries[err.Error()]++
					return err
				}
				name, err := hello(c)
				if err != nil {
					tries[err.Error()]++
					c.Close()
					return err
				}
				tries[name]++
				if _, ok := conns[name]; ok {
					c.Close()
				} else {
					conns[name] = c
					t.Cleanup(func() { c.Close() })
				}
				if len(conns) < 2 {
					return fmt.Errorf("connected to %d targets; tries %v", len(conns), tries)
				}
				return nil
			})
			b1.setHealthy(false)
			eventually(t, "new connections avoid the unhealthy target", func() error {
				seen, err := e.trySpread(to, 20)
				if err == nil && seen["one"] > 0 {
					err = fmt.Errorf("got %v", seen)
				}
				return err
			})
			if tc.interval {
				// Within the unhealthy draining interval the flow stays.
				if err := echo(conns["one"], "still draining"); err != nil {
					t.Fatalf("connection during the unhealthy draining interval: %v", err)
				}
			}
			if tc.closes {
				eventually(t, "connection to the unhealthy target closed", func() error { return closedByPeer(conns["one"]) })
			} else if err := echo(conns["one"], "kept"); err != nil {
				t.Fatalf("connection to the unhealthy target with termination off: %v", err)
			}
			if err := echo(conns["two"], "healthy one untouched"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSecurityGroupRefusesOutsideCIDR(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sg := e.createSG(e.client)
	l := e.createLB("sg", lbSpec{zones: []string{zoneA}, sgs: []string{sg}})
	tg := e.createTG("sg", "TCP_UDP", "ip", nil)
	b := e.backendIn(privateA, "b", true, true)
	e.register(tg, b)
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP_UDP", tgs: []string{tg}}))
	if name, err := e.whoami(to); err != nil || name != "b" {
		t.Fatalf("allowed client: %q, %v", name, err)
	}
	outsider := netip.AddrFrom4([4]byte{127, 56, byte(e.seq), 1})
	c, err := dialFrom(outsider, to)
	if err == nil {
		defer c.Close()
		if name, err := hello(c); err == nil {
			t.Fatalf("client %s outside the allowed CIDR reached %q", outsider, name)
		}
	}
	u, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(outsider, 0)), net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte("let me in"))
	u.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := u.Read(make([]byte, 100)); err == nil {
		t.Fatalf("UDP client outside the allowed CIDR got an answer (%d bytes)", n)
	}
	for _, p := range b.peersSnapshot() {
		if p.Addr() == outsider {
			t.Fatalf("the target saw the refused client %s", outsider)
		}
	}
}

func (b *backend) peersSnapshot() []netip.AddrPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]netip.AddrPort(nil), b.peers...)
}

// hostAddress returns a non-loopback address of this host.
func hostAddress(t *testing.T) netip.Addr {
	t.Helper()
	ifaces, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ifaces {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	t.Skip("this host has no non-loopback IPv4 address to test public listening on")
	return netip.Addr{}
}

func TestInternalNotReachableOutsideLoopback(t *testing.T) {
	t.Parallel()
	pub := hostAddress(t)
	e := newStateEnv(t, withPublic(pub))
	internal := e.createLB("internal", lbSpec{scheme: "internal", zones: []string{zoneA}})
	facing := e.createLB("facing", lbSpec{scheme: "internet-facing", zones: []string{zoneB}})
	tg := e.createTG("pub", "TCP", "ip", map[string]string{attrCrossZone: "true"})
	e.register(tg, e.backendIn(privateA, "b", true, false))
	ip := e.createListener(internal, listenerSpec{protocol: "TCP", tgs: []string{tg}, port: freePort(t, map[string]netip.Addr{"x": pub})})
	if name, err := e.whoami(netip.AddrPortFrom(internal.addrs[zoneA], ip)); err != nil {
		t.Fatalf("internal load balancer on its loopback address: %q, %v", name, err)
	}
	if c, err := dialFrom(pub, netip.AddrPortFrom(pub, ip)); err == nil {
		c.Close()
		t.Fatalf("internal load balancer reachable on %s:%d", pub, ip)
	}
	tg2 := e.createTG("pub2", "TCP", "ip", map[string]string{attrCrossZone: "true"})
	e.register(tg2, e.backendIn(privateB, "b2", true, false))
	fp := e.createListener(facing, listenerSpec{protocol: "TCP", tgs: []string{tg2}, port: freePort(t, map[string]netip.Addr{"x": pub})})
	c, err := dialFrom(pub, netip.AddrPortFrom(pub, fp))
	if err != nil {
		t.Fatalf("internet-facing load balancer on the public address: %v", err)
	}
	defer c.Close()
	if name, err := hello(c); err != nil || name != "b2" {
		t.Fatalf("internet-facing hello = %q, %v", name, err)
	}
}

func TestFlowsSurviveUnrelatedChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("stable", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("stable", "TCP", "ip", nil)
	b := e.backendIn(privateA, "b", true, false)
	e.register(tg, b)
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
	c, err := e.dial(to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := hello(c); err != nil {
		t.Fatal(err)
	}
	// Another target, another listener, an attribute change.
	e.register(tg, e.backendIn(privateA, "b2", true, false))
	other := e.createTG("other", "TCP", "ip", nil)
	e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{other}})
	e.setLBAttr(l, attrCrossZone, "true")
	if err := echo(c, "still here"); err != nil {
		t.Fatalf("established flow after unrelated changes: %v", err)
	}
	// Removing the listener ends its flows.
	e.deleteListener(l, to.Port())
	eventually(t, "flow of a deleted listener closed", func() error { return closedByPeer(c) })
	if _, err := e.dial(to); err == nil {
		t.Fatal("deleted listener still accepts connections")
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newStateEnv(t)
	l := e.createLB("idle", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("idle", "TCP", "ip", nil)
	e.register(tg, e.backendIn(privateA, "b", true, false))
	// The API keeps tcp.idle_timeout.seconds within 60-6000; the data
	// plane honours what the state holds, so a few seconds keep this short
	// (TCP keepalive probes come at most once a second).
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}, attrs: map[string]string{"tcp.idle_timeout.seconds": "3"}}))
	var idle, busy, keepalive *net.TCPConn
	for _, c := range []**net.TCPConn{&idle, &busy, &keepalive} {
		var err error
		if *c, err = e.dial(to); err != nil {
			t.Fatal(err)
		}
		defer (*c).Close()
		if _, err := hello(*c); err != nil {
			t.Fatal(err)
		}
	}
	// Keepalive probes carry no data but count as traffic, as on AWS.
	if err := keepalive.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 9}); err != nil {
		t.Fatal(err)
	}
	// The busy connection talks every 200 ms while the idle one says
	// nothing; poll until the idle one is gone.
	deadline := time.Now().Add(20 * time.Second)
	for closedByPeer(idle) != nil {
		if time.Now().After(deadline) {
			t.Fatal("idle connection still open")
		}
		if err := echo(busy, "x"); err != nil {
			t.Fatalf("busy connection closed: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := echo(busy, "after"); err != nil {
		t.Fatalf("busy connection: %v", err)
	}
	if err := echo(keepalive, "kept alive by keepalive probes"); err != nil {
		t.Fatalf("connection with TCP keepalive probes: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("metrics", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("metrics", "TCP", "ip", nil)
	b := e.backendIn(privateA, "b", true, false)
	e.register(tg, b)
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
	open, err := e.dial(to)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := hello(open); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.whoami(to); err != nil {
			t.Fatal(err)
		}
	}
	lbDim := l.arn[strings.Index(l.arn, "loadbalancer/")+len("loadbalancer/"):]
	tgDim := tg[strings.LastIndex(tg, ":")+1:]
	eventually(t, "metrics", func() error {
		got := gather(t, e, lbDim, tgDim)
		want := map[string]func(float64) bool{
			"elbow_nlb_NewFlowCount":    func(v float64) bool { return v == 4 },
			"elbow_nlb_ActiveFlowCount": func(v float64) bool { return v == 1 },
			// The three closed flows carried "b\n" each; bytes of an open
			// flow are counted as its copy loop wakes up.
			"elbow_nlb_ProcessedBytes":     func(v float64) bool { return v >= 3*2 },
			"elbow_nlb_ProcessedPackets":   func(v float64) bool { return v > 0 },
			"elbow_nlb_HealthyHostCount":   func(v float64) bool { return v == 1 },
			"elbow_nlb_UnHealthyHostCount": func(v float64) bool { return v == 0 },
		}
		for name, ok := range want {
			v, found := got[name]
			if !found || !ok(v) {
				return fmt.Errorf("%s = %v (found %t); all: %v", name, v, found, got)
			}
		}
		return nil
	})
	// A deleted load balancer leaves no series behind.
	open.Close()
	e.deleteLB(l)
	if got := gather(t, e, lbDim, tgDim); len(got) != 0 {
		t.Errorf("series of a deleted load balancer: %v", got)
	}
}

// gather returns the values of the metrics labelled with a load balancer
// and target group.
func gather(t *testing.T, e *env, lbDim, tgDim string) map[string]float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, lbDim, tgDim) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				out[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func hasLabels(m *dto.Metric, lbDim, tgDim string) bool {
	var lbOK, tgOK bool
	for _, lp := range m.GetLabel() {
		switch lp.GetName() {
		case "load_balancer":
			lbOK = lp.GetValue() == lbDim
		case "target_group":
			tgOK = lp.GetValue() == tgDim
		}
	}
	return lbOK && tgOK
}

func TestStaleSnapshotIgnored(t *testing.T) {
	t.Parallel()
	e := newStateEnv(t)
	l := e.createLB("stale", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("stale", "TCP", "ip", nil)
	e.register(tg, e.backendIn(privateA, "b", true, false))
	old, err := e.store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}}))
	// A snapshot read before the listener existed, applied late (two
	// watchers racing), must not take the listener away.
	e.plane.Apply(old)
	if name, err := e.whoami(to); err != nil || name != "b" {
		t.Fatalf("after a stale snapshot: %q, %v", name, err)
	}
}

// servingZones returns a check that the load balancer's serving zones are
// want, for eventually.
func (e *env) servingZones(l *lb) func(want ...string) func() error {
	return func(want ...string) func() error {
		return func() error {
			got := e.plane.ServingZones(l.arn)
			if len(got) != len(want) {
				return fmt.Errorf("serving zones %v, want %v", got, want)
			}
			for _, z := range want {
				if !got[z] {
					return fmt.Errorf("serving zones %v, want %v", got, want)
				}
			}
			return nil
		}
	}
}

// TestServingZones checks the zones whose addresses DNS keeps: those
// whose address reaches a healthy target (its own zone's, with cross-zone
// off), every zone with cross-zone on while any target is healthy, and
// none (DNS fails open) when no target is healthy.
func TestServingZones(t *testing.T) {
	t.Parallel()
	e := newStateEnv(t, withChecker())
	l := e.createLB("dnsfail", lbSpec{zones: []string{zoneA, zoneB}})
	ba := e.backendIn(privateA, "in-a", true, false)
	bb := e.backendIn(privateB, "in-b", true, false)
	tg := e.createCheckedTG("dnsfail", "TCP", e.serveHealth(ba, bb), nil)
	e.register(tg, ba, bb)
	e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}})
	zones := e.servingZones(l)
	eventually(t, "both zones' targets healthy", zones(zoneA, zoneB))
	bb.setHealthy(false)
	eventually(t, "zone b's only target unhealthy", zones(zoneA))
	e.setLBAttr(l, attrCrossZone, "true")
	eventually(t, "cross-zone on: zone b's address reaches zone a's target", zones(zoneA, zoneB))
	e.setLBAttr(l, attrCrossZone, "false")
	ba.setHealthy(false)
	eventually(t, "no healthy target: no zone preferred (DNS fails open)", zones())
	if got := e.plane.ServingZones("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/unknown/0123456789abcdef"); got != nil {
		t.Errorf("unknown load balancer: %v, want nil", got)
	}
}

// TestServingZonesEveryTargetGroup checks AWS's rule for a load balancer
// of several target groups: a zone stays in DNS only while every target
// group has enough healthy targets reachable from it (its DNS failover
// thresholds: count, 1 by default, and percentage; "off" for both never
// takes the zone out for that group).
func TestServingZonesEveryTargetGroup(t *testing.T) {
	t.Parallel()
	e := newStateEnv(t, withChecker())
	l := e.createLB("dnsall", lbSpec{zones: []string{zoneA, zoneB}})
	web1, web2 := e.backendIn(privateA, "web-a", true, false), e.backendIn(privateB, "web-b", true, false)
	db1, db2 := e.backendIn(privateA, "db-a", true, false), e.backendIn(privateB, "db-b", true, false)
	web := e.createCheckedTG("dnsall-web", "TCP", e.serveHealth(web1, web2), nil)
	db := e.createCheckedTG("dnsall-db", "TCP", e.serveHealth(db1, db2), nil)
	e.register(web, web1, web2)
	e.register(db, db1, db2)
	e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{web}})
	e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{db}})
	zones := e.servingZones(l)
	const (
		dnsCount   = "target_group_health.dns_failover.minimum_healthy_targets.count"
		dnsPercent = "target_group_health.dns_failover.minimum_healthy_targets.percentage"
	)
	eventually(t, "every group healthy in both zones", zones(zoneA, zoneB))
	db2.setHealthy(false)
	eventually(t, "zone b has a healthy web target but no healthy db target", zones(zoneA))
	e.setTGAttr(db, dnsCount, "off")
	eventually(t, "db's DNS failover off: zone b stays", zones(zoneA, zoneB))
	e.setTGAttr(db, dnsCount, "1")
	db2.setHealthy(true)
	eventually(t, "db healthy again", zones(zoneA, zoneB))
	e.setTGAttr(web, dnsCount, "2")
	eventually(t, "one healthy web target per zone, two wanted: no zone serves (DNS fails open)", zones())
	e.setLBAttr(l, attrCrossZone, "true")
	eventually(t, "cross-zone on: each zone reaches both web targets", zones(zoneA, zoneB))
	e.setTGAttr(web, dnsCount, "off")
	e.setTGAttr(web, dnsPercent, "100")
	web2.setHealthy(false)
	eventually(t, "half the web targets healthy, all wanted", zones())
	e.setTGAttr(web, dnsPercent, "50")
	eventually(t, "half the web targets healthy, half wanted", zones(zoneA, zoneB))
}

// TestTCPBulkAndHalfClose moves 16 MiB each way at once through a TCP
// listener (a bulk flow, spliced), then half-closes: the target sees the
// end of the data, answers its last bytes and closes, and the client
// reads every byte, in order, then the end.
func TestTCPBulkAndHalfClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("bulk", lbSpec{zones: []string{zoneA}})
	tg := e.createTG("bulk", "TCP", "ip", nil)
	b := e.backendIn(privateA, "bulk", true, false)
	e.register(tg, b)
	port := e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{tg}})
	c, err := e.dial(netip.AddrPortFrom(l.addrs[zoneA], port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, 16<<20)
	rand.Read(data)
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the echo: %v (after %d bytes)", err, len(got))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	want := append([]byte("bulk\n"), data...)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("echo of %d bytes differs from byte %d (got %d bytes)", len(want), i, len(got))
	}
}

// TestWeightedTargetGroups checks a listener forwarding to weighted target
// groups (NLB weighted target groups): flows split by weight, a group of
// weight 0 gets none; with target group stickiness a client address stays
// on one group while other addresses spread.
func TestWeightedTargetGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := e.createLB("weighted", lbSpec{zones: []string{zoneA}})
	blue, green, off := e.createTG("blue", "TCP", "ip", nil), e.createTG("green", "TCP", "ip", nil), e.createTG("off", "TCP", "ip", nil)
	e.register(blue, e.backendIn(privateA, "blue", true, false))
	e.register(green, e.backendIn(privateA, "green", true, false))
	e.register(off, e.backendIn(privateA, "off", true, false))
	to := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{blue, green, off}, weights: []int32{3, 1, 0}}))
	seen := e.spread(to, 200)
	// Binomial(200, 1/4): green below 10 or above 100 is beyond 6 standard
	// deviations.
	if seen["off"] != 0 || seen["blue"]+seen["green"] != 200 || seen["green"] < 10 || seen["green"] > 100 {
		t.Errorf("200 connections at weights 3:1:0 reached %v", seen)
	}

	b2, g2 := e.createTG("b2", "TCP", "ip", nil), e.createTG("g2", "TCP", "ip", nil)
	e.register(b2, e.backendIn(privateA, "b2", true, false))
	e.register(g2, e.backendIn(privateA, "g2", true, false))
	sticky := netip.AddrPortFrom(l.addrs[zoneA], e.createListener(l, listenerSpec{protocol: "TCP", tgs: []string{b2, g2}, weights: []int32{1, 1}, sticky: true}))
	if seen := e.spread(sticky, 20); len(seen) != 1 {
		t.Errorf("one client address reached %v; target group stickiness keeps it on one group", seen)
	}
	if groups := e.fromClients(58, sticky, 20); len(groups) != 2 {
		t.Errorf("20 client addresses reached %v; want both groups", groups)
	}
}
