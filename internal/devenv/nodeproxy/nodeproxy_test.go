package nodeproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

const wait = 15 * time.Second

// env is one API server and a proxy serving two nodes.
type env struct {
	cs    kubernetes.Interface
	addrs vpcaddr.Map
	a, b  Node
	logs  *recorder
}

var (
	addrMu   sync.Mutex
	addrUsed = map[netip.Addr]bool{}
)

// vpcAddr returns a VPC address (10.0.x.y) not yet used by this test
// binary, chosen at random so that test processes running at once do not
// share host addresses.
func vpcAddr() netip.Addr {
	addrMu.Lock()
	defer addrMu.Unlock()
	for {
		a := netip.AddrFrom4([4]byte{10, 0, byte(1 + rand.IntN(254)), byte(1 + rand.IntN(254))})
		if !addrUsed[a] {
			addrUsed[a] = true
			return a
		}
	}
}

// recorder keeps the proxy's log records and writes them to the test log.
type recorder struct {
	slog.Handler
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec.Clone())
	r.mu.Unlock()
	return r.Handler.Handle(ctx, rec)
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{r: r, attrs: as, next: r.Handler.WithAttrs(as)}
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

// attrHandler is a recorder with attributes (the proxy's per-listener
// loggers).
type attrHandler struct {
	r     *recorder
	attrs []slog.Attr
	next  slog.Handler
}

func (h *attrHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }
func (h *attrHandler) Handle(ctx context.Context, rec slog.Record) error {
	c := rec.Clone()
	c.AddAttrs(h.attrs...)
	h.r.mu.Lock()
	h.r.records = append(h.r.records, c)
	h.r.mu.Unlock()
	return h.next.Handle(ctx, rec)
}
func (h *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{r: h.r, attrs: append(append([]slog.Attr(nil), h.attrs...), as...), next: h.next.WithAttrs(as)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }

// find returns the first record with message msg whose attributes include
// every one of want (compared as strings).
func (r *recorder) find(level slog.Level, msg string, want map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Level != level || rec.Message != msg {
			continue
		}
		got := map[string]string{}
		rec.Attrs(func(a slog.Attr) bool { got[a.Key] = a.Value.String(); return true })
		ok := true
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("no %s log %q with %v", level, msg, want)
}

// startProxy runs a proxy for nodes until the test ends; Run must return
// nil then.
func startProxy(t *testing.T, cs kubernetes.Interface, nodes []Node, log *slog.Logger) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Client: cs, Nodes: nodes, Addrs: vpcaddr.Default(), Logger: log, Resync: 300 * time.Millisecond})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestNodeProxy runs one API server and one proxy for two nodes, and
// checks each behaviour in a namespace of its own.
func TestNodeProxy(t *testing.T) {
	rc := ctrltest.APIServer(t)
	cs := kubernetes.NewForConfigOrDie(rc)
	rec := &recorder{Handler: ctrltest.Logger(t).Handler()}
	e := &env{
		cs:    cs,
		addrs: vpcaddr.Default(),
		a:     Node{Name: "node-a", IP: vpcAddr()},
		b:     Node{Name: "node-b", IP: vpcAddr()},
		logs:  rec,
	}
	startProxy(t, cs, []Node{e.a, e.b}, slog.New(rec))

	t.Run("ClusterTCP", e.testClusterTCP)
	t.Run("LocalTCPAndHealth", e.testLocalTCPAndHealth)
	t.Run("UDP", e.testUDP)
	t.Run("Lifecycle", e.testLifecycle)
	t.Run("BindRetry", e.testBindRetry)
	t.Run("Shutdown", e.testShutdown)
}

func (e *env) host(n Node) netip.Addr { return e.addrs.ToHost(n.IP) }

// namespace creates a namespace for one subtest.
func (e *env) namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	name = fmt.Sprintf("%s-%d", name[strings.LastIndex(name, "-")+1:], rand.IntN(1_000_000))
	if _, err := e.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// tcpBackend is a pod's TCP server: it writes "src ADDR dst ADDR\n" (the
// source it sees and its own address), then echoes until the client half-closes, then closes.
type tcpBackend struct {
	vpc      netip.Addr
	port     int
	accepted atomic.Int32
}

func startTCPBackend(t *testing.T, addrs vpcaddr.Map, vpc netip.Addr, port int) *tcpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addrs.ToHost(vpc), uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	b := &tcpBackend{vpc: vpc, port: ln.Addr().(*net.TCPAddr).Port}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				fmt.Fprintf(c, "src %s dst %s\n", c.RemoteAddr(), c.LocalAddr())
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return b
}

// udpBackend is a pod's UDP server: it answers every datagram with
// "src ADDR|PAYLOAD".
func startUDPBackend(t *testing.T, addrs vpcaddr.Map, vpc netip.Addr) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(addrs.ToHost(vpc), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(fmt.Sprintf("src %s|%s", from, buf[:n])), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// service creates a Service and returns it as the API server stored it
// (with its node ports).
func (e *env) service(t *testing.T, svc *corev1.Service) *corev1.Service {
	t.Helper()
	got, err := e.cs.CoreV1().Services(svc.Namespace).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func endpointAt(vpc netip.Addr, node string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{vpc.String()}, NodeName: ptr.To(node), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}
}

// slice creates or replaces an EndpointSlice of the Service.
func (e *env) slice(t *testing.T, ns, svc, name string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) {
	t.Helper()
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
	ctx := context.Background()
	old, err := e.cs.DiscoveryV1().EndpointSlices(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = e.cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, s, metav1.CreateOptions{})
	case err == nil:
		s.ResourceVersion = old.ResourceVersion
		_, err = e.cs.DiscoveryV1().EndpointSlices(ns).Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func tcpPort(name string, n int) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(int32(n)), Protocol: ptr.To(corev1.ProtocolTCP)}
}

// conn is a client connection through a node port.
type conn struct {
	*net.TCPConn
	r       *bufio.Reader
	src     string     // the source the backend saw
	backend netip.Addr // the backend's host address
}

// dial connects from src (invalid: any) to addr and reads the backend's
// greeting.
func dial(src netip.Addr, addr netip.AddrPort) (*conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(tc)
	line, err := r.ReadString('\n')
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("greeting from %s: %w", addr, err)
	}
	_ = tc.SetDeadline(time.Time{})
	var seen, dst string
	if _, err := fmt.Sscanf(line, "src %s dst %s\n", &seen, &dst); err != nil {
		tc.Close()
		return nil, fmt.Errorf("greeting %q from %s: %w", line, addr, err)
	}
	d2, err := netip.ParseAddrPort(dst)
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("greeting %q: %w", line, err)
	}
	return &conn{TCPConn: tc, r: r, src: seen, backend: d2.Addr()}, nil
}

// echo sends s and reads it back.
func (c *conn) echo(s string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, s); err != nil {
		return err
	}
	buf := make([]byte, len(s))
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return fmt.Errorf("echo of %q: %w", s, err)
	}
	if string(buf) != s {
		return fmt.Errorf("echo %q, want %q", buf, s)
	}
	return nil
}

// srcIP is the address part of what the backend saw.
func (c *conn) srcIP() netip.Addr {
	ap, err := netip.ParseAddrPort(c.src)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

func (e *env) testClusterTCP(t *testing.T) {
	t.Parallel()
	ns := e.namespace(t)
	podA, podB := vpcAddr(), vpcAddr()
	ba := startTCPBackend(t, e.addrs, podA, 0)
	bb := startTCPBackend(t, e.addrs, podB, 0)
	svc := e.service(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
		}},
	})
	e.slice(t, ns, "web", "web-a", []discoveryv1.EndpointPort{tcpPort("http", ba.port)}, endpointAt(podA, e.a.Name))
	e.slice(t, ns, "web", "web-b", []discoveryv1.EndpointPort{tcpPort("http", bb.port)}, endpointAt(podB, e.b.Name))
	np := uint16(svc.Spec.Ports[0].NodePort)

	for _, n := range []Node{e.a, e.b} {
		addr := netip.AddrPortFrom(e.host(n), np)
		// Each node reaches both backends (chosen at random per
		// connection), and the backend sees the node's address.
		seen := map[netip.Addr]bool{}
		ctrltest.Eventually(t, wait, func() error {
			c, err := dial(netip.Addr{}, addr)
			if err != nil {
				return err
			}
			defer c.Close()
			if c.srcIP() != e.host(n) {
				t.Fatalf("through %s the backend saw source %s, want the node's address %s", n.Name, c.src, e.host(n))
			}
			if err := c.echo("ping"); err != nil {
				return err
			}
			seen[c.backend] = true
			if want := []netip.Addr{e.addrs.ToHost(podA), e.addrs.ToHost(podB)}; !seen[want[0]] || !seen[want[1]] {
				return fmt.Errorf("through %s reached %v, want both %v", n.Name, seen, want)
			}
			return nil
		})
	}

	// Half-close: the client's FIN reaches the backend, which then
	// finishes its echo and closes; the client reads everything and EOF.
	c, err := dial(netip.Addr{}, netip.AddrPortFrom(e.host(e.a), np))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "last words"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("read after half-close: %v", err)
	}
	if string(rest) != "last words" {
		t.Fatalf("after half-close read %q, want %q then EOF", rest, "last words")
	}
}

func (e *env) testLocalTCPAndHealth(t *testing.T) {
	t.Parallel()
	ns := e.namespace(t)
	podA := vpcAddr()
	ba := startTCPBackend(t, e.addrs, podA, 0)
	svc := e.service(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(8080)}},
		},
	})
	if svc.Spec.HealthCheckNodePort == 0 {
		t.Fatal("the API server allocated no healthCheckNodePort")
	}
	e.slice(t, ns, "web", "web-a", []discoveryv1.EndpointPort{tcpPort("http", ba.port)}, endpointAt(podA, e.a.Name))
	np := uint16(svc.Spec.Ports[0].NodePort)
	hc := uint16(svc.Spec.HealthCheckNodePort)
	client := netip.AddrFrom4([4]byte{127, 55, byte(rand.IntN(256)), byte(1 + rand.IntN(254))})

	// Node A has the endpoint: the backend sees the client's address.
	ctrltest.Eventually(t, wait, func() error {
		c, err := dial(client, netip.AddrPortFrom(e.host(e.a), np))
		if err != nil {
			return err
		}
		defer c.Close()
		if c.srcIP() != client {
			t.Fatalf("under policy Local the backend saw source %s, want the client's %s", c.src, client)
		}
		return c.echo("local")
	})

	e.checkHealth(t, e.a, hc, ns, http.StatusOK, 1)
	e.checkHealth(t, e.b, hc, ns, http.StatusServiceUnavailable, 0)

	// Node B has no local endpoint: the connection is refused, and the
	// backend never sees it.
	before := ba.accepted.Load()
	ctrltest.Eventually(t, wait, func() error {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: client.AsSlice()}}
		c, err := d.Dial("tcp", netip.AddrPortFrom(e.host(e.b), np).String())
		if err != nil {
			return err // not listening yet
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 64))
		if n != 0 || err == nil {
			t.Fatalf("node without local endpoint: read %d bytes, %v; want the connection refused", n, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("node without local endpoint: read timed out; want the connection refused")
		}
		return nil
	})
	if got := ba.accepted.Load(); got != before {
		t.Fatalf("backend accepted %d connections through the node without endpoints", got-before)
	}

	// The endpoint stops being ready but still serves while terminating:
	// the health check fails (ready endpoints only), traffic still flows
	// (kube-proxy's fallback to serving and terminating endpoints).
	term := endpointAt(podA, e.a.Name)
	term.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
	e.slice(t, ns, "web", "web-a", []discoveryv1.EndpointPort{tcpPort("http", ba.port)}, term)
	e.checkHealth(t, e.a, hc, ns, http.StatusServiceUnavailable, 0)
	c, err := dial(client, netip.AddrPortFrom(e.host(e.a), np))
	if err != nil {
		t.Fatalf("serving-terminating endpoint not used: %v", err)
	}
	c.Close()

	// A ready endpoint appears on node B: its check passes, and it now
	// serves.
	podB := vpcAddr()
	bb := startTCPBackend(t, e.addrs, podB, 0)
	e.slice(t, ns, "web", "web-b", []discoveryv1.EndpointPort{tcpPort("http", bb.port)}, endpointAt(podB, e.b.Name))
	e.checkHealth(t, e.b, hc, ns, http.StatusOK, 1)
	e.checkHealth(t, e.a, hc, ns, http.StatusServiceUnavailable, 0)
	ctrltest.Eventually(t, wait, func() error {
		c, err := dial(client, netip.AddrPortFrom(e.host(e.b), np))
		if err != nil {
			return err
		}
		defer c.Close()
		if c.srcIP() != client {
			return fmt.Errorf("backend on node B saw %s, want %s", c.src, client)
		}
		return nil
	})
}

// checkHealth polls the health check node port of node n until it answers
// code with kube-proxy's JSON for count local endpoints.
func (e *env) checkHealth(t *testing.T, n Node, port uint16, ns string, code, count int) {
	t.Helper()
	want := fmt.Sprintf("{\n\t\"service\": {\n\t\t\"namespace\": %q,\n\t\t\"name\": \"web\"\n\t},\n\t\"localEndpoints\": %d,\n\t\"serviceProxyHealthy\": true\n}", ns, count)
	hc := &http.Client{Timeout: 5 * time.Second}
	ctrltest.Eventually(t, wait, func() error {
		// Any path is answered.
		for _, path := range []string{"/", "/healthz", "/any/path?x=1"} {
			resp, err := hc.Get(fmt.Sprintf("http://%s%s", netip.AddrPortFrom(e.host(n), port), path))
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode != code || string(body) != want {
				return fmt.Errorf("%s %s: %d %s, want %d %s", n.Name, path, resp.StatusCode, body, code, want)
			}
			if ct, nosniff := resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"); ct != "application/json" || nosniff != "nosniff" {
				return fmt.Errorf("headers Content-Type %q X-Content-Type-Options %q", ct, nosniff)
			}
			var parsed struct {
				Service        struct{ Namespace, Name string } `json:"service"`
				LocalEndpoints int                              `json:"localEndpoints"`
			}
			if err := json.Unmarshal(body, &parsed); err != nil || parsed.LocalEndpoints != count || parsed.Service.Namespace != ns {
				return fmt.Errorf("body %s does not parse to %d endpoints of %s/web: %v", body, count, ns, err)
			}
		}
		return nil
	})
}

func (e *env) testUDP(t *testing.T) {
	t.Parallel()
	ns := e.namespace(t)
	pod := vpcAddr()
	bport := startUDPBackend(t, e.addrs, pod)
	svc := e.service(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt(5353)},
		}},
	})
	e.slice(t, ns, "dns", "dns-1", []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To(int32(bport)), Protocol: ptr.To(corev1.ProtocolUDP)}}, endpointAt(pod, e.b.Name))
	np := uint16(svc.Spec.Ports[0].NodePort)
	target := netip.AddrPortFrom(e.host(e.a), np)

	type client struct {
		pc  *net.UDPConn
		src string // the source the backend saw
	}
	var clients []*client
	for range 2 {
		src := netip.AddrFrom4([4]byte{127, 56, byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		clients = append(clients, &client{pc: pc})
	}
	exchange := func(c *client, msg string) (string, error) {
		if _, err := c.pc.WriteToUDPAddrPort([]byte(msg), target); err != nil {
			return "", err
		}
		_ = c.pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 2048)
		for {
			n, from, err := c.pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return "", err
			}
			if from != target {
				return "", fmt.Errorf("reply from %s, want from the node port %s", from, target)
			}
			src, payload, _ := strings.Cut(strings.TrimPrefix(string(buf[:n]), "src "), "|")
			if payload != msg {
				continue // a late reply to an earlier try
			}
			return src, nil
		}
	}
	for i, c := range clients {
		// The first datagrams may go out before the listener exists.
		ctrltest.Eventually(t, wait, func() error {
			src, err := exchange(c, fmt.Sprintf("hello %d", i))
			c.src = src
			return err
		})
	}
	for i, c := range clients {
		for j := range 3 {
			src, err := exchange(c, fmt.Sprintf("again %d.%d", i, j))
			if err != nil {
				t.Fatalf("client %d datagram %d: %v", i, j, err)
			}
			// One flow per client: the same upstream socket every time.
			if src != c.src {
				t.Fatalf("client %d: backend saw %s, then %s; want one flow", i, c.src, src)
			}
		}
		ap, err := netip.ParseAddrPort(c.src)
		if err != nil || ap.Addr() != e.host(e.a) {
			t.Fatalf("client %d: backend saw source %s, want node A's address %s (policy Cluster)", i, c.src, e.host(e.a))
		}
	}
	if clients[0].src == clients[1].src {
		t.Fatalf("both clients share the upstream flow %s", clients[0].src)
	}
}

func (e *env) testLifecycle(t *testing.T) {
	t.Parallel()
	ns := e.namespace(t)
	pod := vpcAddr()
	ba := startTCPBackend(t, e.addrs, pod, 0)
	bb := startTCPBackend(t, e.addrs, pod, 0) // the pod's second port
	svc := e.service(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
			{Name: "a", Port: 80, TargetPort: intstr.FromInt(8080)},
		}},
	})
	ports := []discoveryv1.EndpointPort{tcpPort("a", ba.port), tcpPort("b", bb.port)}
	e.slice(t, ns, "web", "web-1", ports, endpointAt(pod, e.a.Name))
	npA := uint16(svc.Spec.Ports[0].NodePort)

	var established *conn
	ctrltest.Eventually(t, wait, func() error {
		c, err := dial(netip.Addr{}, netip.AddrPortFrom(e.host(e.a), npA))
		if err != nil {
			return err
		}
		established = c
		return nil
	})
	defer established.Close()
	if err := established.echo("before"); err != nil {
		t.Fatal(err)
	}

	// An unrelated Service comes, changes and goes: the established
	// connection carries on.
	other := e.service(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Name: "x", Port: 81}}},
	})
	other.Spec.Ports = append(other.Spec.Ports, corev1.ServicePort{Name: "y", Port: 82})
	other.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	if _, err := e.cs.CoreV1().Services(ns).Update(context.Background(), other, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	otherPort := netip.AddrPortFrom(e.host(e.a), uint16(other.Spec.Ports[0].NodePort))
	ctrltest.Eventually(t, wait, func() error { return listening(otherPort) })
	if err := e.cs.CoreV1().Services(ns).Delete(context.Background(), "other", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, wait, func() error { return notListening(otherPort) })
	if err := established.echo("after an unrelated change"); err != nil {
		t.Fatalf("established connection broken by an unrelated Service change: %v", err)
	}

	// A port added later gets a listener; the established connection of
	// the unchanged port carries on.
	cur, err := e.cs.CoreV1().Services(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Spec.Ports = append(cur.Spec.Ports, corev1.ServicePort{Name: "b", Port: 443, TargetPort: intstr.FromInt(8443)})
	cur, err = e.cs.CoreV1().Services(ns).Update(context.Background(), cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Spec.Ports[0].NodePort != int32(npA) {
		t.Fatalf("node port of port a changed from %d to %d", npA, cur.Spec.Ports[0].NodePort)
	}
	npB := uint16(cur.Spec.Ports[1].NodePort)
	before := bb.accepted.Load()
	ctrltest.Eventually(t, wait, func() error {
		c, err := dial(netip.Addr{}, netip.AddrPortFrom(e.host(e.b), npB))
		if err != nil {
			return err
		}
		defer c.Close()
		return c.echo("port b")
	})
	if bb.accepted.Load() == before {
		t.Fatalf("the added port's listener did not reach the pod's port b")
	}
	if err := established.echo("after the port was added"); err != nil {
		t.Fatalf("established connection broken by adding another port: %v", err)
	}

	// The Service deleted: its listeners close on every node.
	if err := e.cs.CoreV1().Services(ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Node{e.a, e.b} {
		for _, p := range []uint16{npA, npB} {
			ctrltest.Eventually(t, wait, func() error { return notListening(netip.AddrPortFrom(e.host(n), p)) })
		}
	}
}

// listening reports nil when something accepts TCP connections at addr.
func listening(addr netip.AddrPort) error {
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

// notListening reports nil when connections to addr are refused.
func notListening(addr netip.AddrPort) error {
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s still accepts connections", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("dial %s: %w, want connection refused", addr, err)
	}
	return nil
}

func (e *env) testBindRetry(t *testing.T) {
	t.Parallel()
	ns := e.namespace(t)
	pod := vpcAddr()
	b := startTCPBackend(t, e.addrs, pod, 0)
	// Something else holds node A's address at the port the Service asks
	// for.
	var (
		blocker net.Listener
		svc     *corev1.Service
	)
	for try := 0; svc == nil; try++ {
		port := 30000 + rand.IntN(2768)
		ln, err := net.Listen("tcp", netip.AddrPortFrom(e.host(e.a), uint16(port)).String())
		if err != nil {
			continue
		}
		s, err := e.cs.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, NodePort: int32(port)},
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			ln.Close()
			if try > 20 {
				t.Fatal(err)
			}
			continue // port allocated already
		}
		blocker, svc = ln, s
	}
	defer blocker.Close()
	e.slice(t, ns, "web", "web-1", []discoveryv1.EndpointPort{tcpPort("http", b.port)}, endpointAt(pod, e.a.Name))
	np := uint16(svc.Spec.Ports[0].NodePort)

	// Node B serves; node A's failure is logged with the Service and port.
	ctrltest.Eventually(t, wait, func() error {
		c, err := dial(netip.Addr{}, netip.AddrPortFrom(e.host(e.b), np))
		if err != nil {
			return err
		}
		c.Close()
		return nil
	})
	ctrltest.Eventually(t, wait, func() error {
		return e.logs.find(slog.LevelError, "cannot listen on node port; retrying on the next change or resync", map[string]string{
			"service": ns + "/web", "port": "http", "nodePort": fmt.Sprint(np), "node": e.a.Name, "protocol": "TCP",
		})
	})

	// The port freed, the next resync binds it.
	blocker.Close()
	ctrltest.Eventually(t, wait, func() error {
		c, err := dial(netip.Addr{}, netip.AddrPortFrom(e.host(e.a), np))
		if err != nil {
			return err
		}
		defer c.Close()
		return c.echo("bound at last")
	})
}

func (e *env) testShutdown(t *testing.T) {
	t.Parallel()
	ns := e.namespace(t)
	// A proxy of its own, for a node of its own.
	n := Node{Name: "node-c", IP: vpcAddr()}
	stop := startProxy(t, e.cs, []Node{n}, slog.New(slog.DiscardHandler))
	pod := vpcAddr()
	b := startTCPBackend(t, e.addrs, pod, 0)
	svc := e.service(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80},
		}},
	})
	e.slice(t, ns, "web", "web-1", []discoveryv1.EndpointPort{tcpPort("http", b.port)}, endpointAt(pod, n.Name))
	addr := netip.AddrPortFrom(e.host(n), uint16(svc.Spec.Ports[0].NodePort))
	var c *conn
	ctrltest.Eventually(t, wait, func() error {
		var err error
		c, err = dial(netip.Addr{}, addr)
		return err
	})
	defer c.Close()
	if err := c.echo("alive"); err != nil {
		t.Fatal(err)
	}

	stop() // Run returns nil (checked by stop)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.r.Read(make([]byte, 16)); err == nil {
		t.Fatalf("connection still open after Run returned (read %d bytes)", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after Run returned (read timed out)")
	}
	if err := notListening(addr); err != nil {
		t.Fatalf("after Run returned: %v", err)
	}
}
