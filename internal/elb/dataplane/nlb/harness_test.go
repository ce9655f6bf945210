package nlb_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/pires/go-proxyproto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/dataplane/nlb"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/pki"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// The local VPC of the tests (internal/facts Default): zone a's and zone
// b's public subnets hold the load balancer nodes, their private subnets
// the targets.
const (
	zoneA = "us-east-1a"
	zoneB = "us-east-1b"
)

var (
	publicA  = netip.MustParsePrefix("10.0.0.0/20")
	publicB  = netip.MustParsePrefix("10.0.16.0/20")
	privateA = netip.MustParsePrefix("10.0.128.0/19")
	privateB = netip.MustParsePrefix("10.0.160.0/19")
)

// testSeq gives every test its own addresses, so tests run in parallel.
var testSeq atomic.Uint32

// nth returns the i-th address of a prefix.
func nth(p netip.Prefix, i int) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// fakeClock is a settable clock for draining deadlines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one test's view of a local cloud and the addresses the test may
// use. newEnv builds load balancers through the AWS SDK against the shared
// local ELB (cloud); newStateEnv writes records into a state of its own
// and applies them to a data plane of its own, for what the API does not
// allow (one-second health checks and idle timeouts, the health checker,
// public addresses).
type env struct {
	t       *testing.T
	c       *cloud // nil for a state env
	names   int
	seq     int
	store   *state.Store
	plane   *nlb.Plane
	checker *health.Checker
	clock   *fakeClock
	reg     *prometheus.Registry
	addrs   vpcaddr.Map
	// client is the test's client address.
	client netip.Addr
	nextIP map[string]int
}

type envOption func(*env, *nlb.Config)

func withPublic(a ...netip.Addr) envOption {
	return func(_ *env, c *nlb.Config) { c.PublicAddrs = a }
}

// withChecker runs the shared health checker on the test's state; without
// it every target counts as healthy.
func withChecker() envOption {
	return func(e *env, c *nlb.Config) {
		e.checker = health.New(health.Config{Addresses: e.addrs, Logger: c.Logger})
		c.Health = e.checker
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			e.checker.Run(ctx)
			close(done)
		}()
		e.t.Cleanup(func() {
			cancel()
			<-done
		})
	}
}

// newEnv returns an env on the shared SDK-backed local ELB.
func newEnv(t *testing.T) *env {
	t.Helper()
	seq := int(testSeq.Add(1))
	c := shared
	return &env{
		t:      t,
		c:      c,
		seq:    seq,
		store:  c.store,
		plane:  c.plane,
		clock:  c.clock,
		reg:    c.reg,
		addrs:  vpcaddr.Default(),
		client: netip.AddrFrom4([4]byte{127, 55, byte(seq), 1}),
		nextIP: map[string]int{},
	}
}

// newStateEnv returns an env with its own state and data plane.
func newStateEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	seq := int(testSeq.Add(1))
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{
		t:      t,
		seq:    seq,
		store:  st,
		clock:  &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		reg:    prometheus.NewRegistry(),
		addrs:  vpcaddr.Default(),
		client: netip.AddrFrom4([4]byte{127, 55, byte(seq), 1}),
		nextIP: map[string]int{},
	}
	level := slog.LevelWarn
	if os.Getenv("NLB_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	cfg := nlb.Config{
		Addresses:  e.addrs,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Registerer: e.reg,
		Now:        e.clock.Now,
	}
	for _, o := range opts {
		o(e, &cfg)
	}
	p, err := nlb.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.plane = p
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close plane: %v", err)
		}
	})
	e.update(func(tx *state.Tx) error {
		for _, sn := range []struct {
			id, zone string
			cidr     netip.Prefix
		}{{"subnet-pa", zoneA, publicA}, {"subnet-pb", zoneB, publicB}, {"subnet-ia", zoneA, privateA}, {"subnet-ib", zoneB, privateB}} {
			if err := state.Put(tx, state.Subnets, &state.Subnet{ID: sn.id, VpcID: "vpc-1", AvailabilityZone: sn.zone, CIDR: sn.cidr.String(), State: "available"}); err != nil {
				return err
			}
		}
		return nil
	})
	return e
}

// update writes to a state env's state and applies the new snapshot.
func (e *env) update(fn func(tx *state.Tx) error) {
	e.t.Helper()
	if e.c != nil {
		e.t.Fatal("state writes in an SDK env")
	}
	if err := e.store.Update(context.Background(), fn); err != nil {
		e.t.Fatalf("state update: %v", err)
	}
	snap, err := e.store.Snapshot()
	if err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	if e.checker != nil {
		e.checker.Sync(snap)
	}
	e.plane.Apply(snap)
}

// ip hands out the test's next VPC address in a prefix.
func (e *env) ip(p netip.Prefix) netip.Addr {
	k := p.String()
	e.nextIP[k]++
	return nth(p, e.seq*16+e.nextIP[k])
}

// lbSpec describes a network load balancer to create.
type lbSpec struct {
	scheme string // internet-facing (default) or internal
	zones  []string
	attrs  map[string]string
	sgs    []string
}

// lb is a created load balancer.
type lb struct {
	arn   string
	addrs map[string]netip.Addr // listen address by zone
	nodes map[string]netip.Addr // node VPC address by zone
}

func (e *env) createLB(name string, spec lbSpec) *lb {
	e.t.Helper()
	if spec.scheme == "" {
		spec.scheme = "internet-facing"
	}
	if len(spec.zones) == 0 {
		spec.zones = []string{zoneA, zoneB}
	}
	if e.c != nil {
		return e.sdkCreateLB(name, spec)
	}
	l := &lb{
		arn:   fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/%s/%016x", name, e.seq),
		addrs: map[string]netip.Addr{},
		nodes: map[string]netip.Addr{},
	}
	rec := &state.LoadBalancer{
		ARN: l.arn, Name: name, Type: "network", Scheme: spec.scheme, IPAddressType: "ipv4", VpcID: "vpc-1",
		State: "active", Attributes: map[string]string{attrCrossZone: "false"},
		SecurityGroups: spec.sgs, SecurityGroupsEnabled: len(spec.sgs) > 0,
	}
	for k, v := range spec.attrs {
		rec.Attributes[k] = v
	}
	for i, z := range spec.zones {
		// Outside the load balancer pool (127.77/16) that the SDK env
		// allocates from.
		listen := netip.AddrFrom4([4]byte{127, 79, byte(e.seq), byte(i + 1)})
		subnet := publicA
		if z == zoneB {
			subnet = publicB
		}
		node := e.ip(subnet)
		l.addrs[z] = listen
		l.nodes[z] = node
		rec.Zones = append(rec.Zones, state.LBZone{ZoneName: z, SubnetID: "subnet-" + z, Address: listen.String(), PrivateIPv4Address: node.String()})
	}
	e.update(func(tx *state.Tx) error { return state.Put(tx, state.LoadBalancers, rec) })
	return l
}

const attrCrossZone = "load_balancing.cross_zone.enabled"

// setLBAttr changes a load balancer attribute.
func (e *env) setLBAttr(l *lb, k, v string) {
	if e.c != nil {
		e.sdkSetLBAttr(l, k, v)
		return
	}
	e.update(func(tx *state.Tx) error {
		rec, _, err := state.Get(tx, state.LoadBalancers, l.arn)
		if err != nil {
			return err
		}
		rec.Attributes[k] = v
		return state.Put(tx, state.LoadBalancers, rec)
	})
}

// createTG creates a target group.
func (e *env) createTG(name, protocol, targetType string, attrs map[string]string) string {
	if e.c != nil {
		return e.sdkCreateTG(name, protocol, targetType, attrs)
	}
	arn := fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/%s/%016x", name, e.seq)
	rec := &state.TargetGroup{ARN: arn, Name: name, Protocol: protocol, TargetType: targetType, Port: 80, VpcID: "vpc-1", Attributes: map[string]string{}, HealthCheckEnabled: true}
	for k, v := range attrs {
		rec.Attributes[k] = v
	}
	e.update(func(tx *state.Tx) error { return state.Put(tx, state.TargetGroups, rec) })
	return arn
}

// createCheckedTG creates a target group health-checked over HTTP on port
// hcPort (path /health), every second, two checks to change state.
func (e *env) createCheckedTG(name, protocol string, hcPort uint16, attrs map[string]string) string {
	arn := e.createTG(name, protocol, "ip", attrs)
	e.update(func(tx *state.Tx) error {
		rec, _, err := state.Get(tx, state.TargetGroups, arn)
		if err != nil {
			return err
		}
		rec.HealthCheckProtocol, rec.HealthCheckPort, rec.HealthCheckPath = "HTTP", fmt.Sprint(hcPort), "/health"
		rec.HealthCheckIntervalSeconds, rec.HealthCheckTimeoutSeconds = 1, 1
		rec.HealthyThresholdCount, rec.UnhealthyThresholdCount = 2, 2
		return state.Put(tx, state.TargetGroups, rec)
	})
	return arn
}

// serveHealth starts an HTTP health endpoint (/health) on one port of every
// backend's address and returns the port. A backend answers 200 while
// healthy and 503 after setHealthy(false).
func (e *env) serveHealth(bs ...*backend) uint16 {
	e.t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(bs[0].host, 0).String())
		if err != nil {
			e.t.Fatal(err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		lns := []net.Listener{ln}
		for _, b := range bs[1:] {
			l, err := net.Listen("tcp", netip.AddrPortFrom(b.host, port).String())
			if err != nil {
				break
			}
			lns = append(lns, l)
		}
		if len(lns) != len(bs) {
			for _, l := range lns {
				l.Close()
			}
			continue
		}
		for i, b := range bs {
			b.healthy.Store(true)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !b.healthy.Load() {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})}
			go srv.Serve(lns[i])
			e.t.Cleanup(func() { srv.Close() })
		}
		return port
	}
	e.t.Fatal("no health port free on every backend address")
	return 0
}

func (e *env) setTGAttr(tg, k, v string) {
	if e.c != nil {
		e.sdkSetTGAttr(tg, k, v)
		return
	}
	e.update(func(tx *state.Tx) error {
		rec, _, err := state.Get(tx, state.TargetGroups, tg)
		if err != nil {
			return err
		}
		rec.Attributes[k] = v
		return state.Put(tx, state.TargetGroups, rec)
	})
}

// listenerSpec describes a listener.
type listenerSpec struct {
	protocol string
	port     uint16 // 0: a free port
	tgs      []string
	weights  []int32
	sticky   bool     // target group stickiness of the forward action
	certs    []string // certificate ARNs, default first
	policy   string
	alpn     string
	attrs    map[string]string
}

func (e *env) createListener(l *lb, spec listenerSpec) uint16 {
	e.t.Helper()
	if spec.port == 0 {
		spec.port = freePort(e.t, l.addrs)
	}
	if e.c != nil {
		return e.sdkCreateListener(l, spec)
	}
	arn := fmt.Sprintf("%s/%d", strings.Replace(l.arn, ":loadbalancer/", ":listener/", 1), spec.port)
	act := elbv2types.Action{Type: elbv2types.ActionTypeEnumForward}
	if len(spec.tgs) == 1 {
		act.TargetGroupArn = aws.String(spec.tgs[0])
	} else {
		fc := &elbv2types.ForwardActionConfig{}
		for i, tg := range spec.tgs {
			fc.TargetGroups = append(fc.TargetGroups, elbv2types.TargetGroupTuple{TargetGroupArn: aws.String(tg), Weight: aws.Int32(spec.weights[i])})
		}
		if spec.sticky {
			fc.TargetGroupStickinessConfig = &elbv2types.TargetGroupStickinessConfig{Enabled: aws.Bool(true)}
		}
		act.ForwardConfig = fc
	}
	rec := &state.Listener{ARN: arn, LoadBalancerARN: l.arn, Port: int32(spec.port), Protocol: spec.protocol, SSLPolicy: spec.policy, DefaultActions: []elbv2types.Action{act}, Attributes: map[string]string{}}
	for i, c := range spec.certs {
		rec.Certificates = append(rec.Certificates, state.ListenerCertificate{ARN: c, Default: i == 0})
	}
	if spec.alpn != "" {
		rec.AlpnPolicy = []string{spec.alpn}
	}
	for k, v := range spec.attrs {
		rec.Attributes[k] = v
	}
	e.update(func(tx *state.Tx) error { return state.Put(tx, state.Listeners, rec) })
	return spec.port
}

// freePort finds a port free on every address for TCP and UDP.
func freePort(t *testing.T, addrs map[string]netip.Addr) uint16 {
	t.Helper()
	var first netip.Addr
	for _, a := range addrs {
		first = a
		break
	}
	for range 100 {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(first, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		ok := true
		for _, a := range addrs {
			pc, err := net.ListenPacket("udp", netip.AddrPortFrom(a, port).String())
			if err != nil {
				ok = false
				break
			}
			pc.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// register registers backends as targets (IP targets by their VPC address,
// instance targets by instance ID).
func (e *env) register(tg string, bs ...*backend) {
	if e.c != nil {
		e.sdkRegister(tg, bs...)
		return
	}
	e.update(func(tx *state.Tx) error {
		for _, b := range bs {
			if err := state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tg, ID: b.id, Port: int32(b.port), RegisteredAt: e.clock.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
}

// deregister marks a target draining until the given time.
func (e *env) deregister(tg string, b *backend, until time.Time) {
	if e.c != nil {
		e.sdkDeregister(tg, b, until)
		return
	}
	e.update(func(tx *state.Tx) error {
		rec, ok, err := state.Get(tx, state.Targets, state.TargetKey(tg, b.id, int32(b.port)))
		if err != nil || !ok {
			return fmt.Errorf("target %s: %v", b.id, err)
		}
		rec.DrainUntil = until
		return state.Put(tx, state.Targets, rec)
	})
}

// addInstance records an EC2 instance holding a backend's VPC address.
func (e *env) addInstance(b *backend, zone string) {
	if e.c != nil {
		e.sdkAddInstance(b, zone)
		return
	}
	b.id = fmt.Sprintf("i-%08x%04x", e.seq, b.vpc.As4()[3])
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Instances, &state.Instance{ID: b.id, SubnetID: "subnet-i" + zone[len(zone)-1:], VpcID: "vpc-1", AvailabilityZone: zone, PrivateIP: b.vpc.String(), State: "running"})
	})
}

// addCert stores a certificate for names and returns its ARN.
func (e *env) addCert(names ...string) string {
	e.t.Helper()
	if e.c != nil {
		return e.sdkAddCert(names...)
	}
	certPEM, keyPEM := selfSigned(e.t, names...)
	arn := fmt.Sprintf("arn:aws:acm:us-east-1:000000000000:certificate/%s-%d", names[0], e.seq)
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Certificates, &state.Certificate{ARN: arn, DomainName: names[0], SubjectAlternativeNames: names, Status: "ISSUED", Type: "IMPORTED", CertificatePEM: string(certPEM), PrivateKeyPEM: string(keyPEM)})
	})
	return arn
}

// certPEM returns a certificate of the state.
func (e *env) certPEM(arn string) []byte {
	e.t.Helper()
	var pemText string
	e.store.View(func(tx *state.Tx) error {
		if c, ok, _ := state.Get(tx, state.Certificates, arn); ok {
			pemText = c.CertificatePEM
		}
		return nil
	})
	if pemText == "" {
		e.t.Fatalf("certificate %s not in the state", arn)
	}
	return []byte(pemText)
}

// createSG creates a security group admitting TCP and UDP from one address.
func (e *env) createSG(from netip.Addr) string {
	if e.c != nil {
		return e.sdkCreateSG(from)
	}
	id := fmt.Sprintf("sg-%08x", e.seq)
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.SecurityGroups, &state.SecurityGroup{ID: id, VpcID: "vpc-1", Rules: []state.SGRule{
			{ID: "sgr-1", Protocol: "tcp", FromPort: 1, ToPort: 65535, CIDRIPv4: from.String() + "/32"},
			{ID: "sgr-2", Protocol: "udp", FromPort: 1, ToPort: 65535, CIDRIPv4: from.String() + "/32"},
		}})
	})
	return id
}

// deleteListener deletes a load balancer's listener on a port.
func (e *env) deleteListener(l *lb, port uint16) {
	if e.c != nil {
		e.sdkDeleteListener(l, port)
		return
	}
	e.update(func(tx *state.Tx) error {
		all, err := state.List(tx, state.Listeners)
		if err != nil {
			return err
		}
		for _, ls := range all {
			if ls.LoadBalancerARN == l.arn && ls.Port == int32(port) {
				if _, err := state.Delete(tx, state.Listeners, ls.ARN); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// deleteLB deletes a load balancer and its listeners.
func (e *env) deleteLB(l *lb) {
	if e.c != nil {
		e.sdkDeleteLB(l)
		return
	}
	e.update(func(tx *state.Tx) error {
		all, err := state.List(tx, state.Listeners)
		if err != nil {
			return err
		}
		for _, ls := range all {
			if ls.LoadBalancerARN == l.arn {
				if _, err := state.Delete(tx, state.Listeners, ls.ARN); err != nil {
					return err
				}
			}
		}
		_, err = state.Delete(tx, state.LoadBalancers, l.arn)
		return err
	})
}

func selfSigned(t *testing.T, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	c, err := pki.SelfSigned(pki.Request{Subject: pkix.Name{CommonName: names[0]}, Hosts: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), Usage: pki.Server})
	if err != nil {
		t.Fatal(err)
	}
	return c.CertPEM(), c.KeyPEM()
}

// backend is a target: TCP and/or UDP servers on the host address that
// realises a VPC address. On every TCP connection it first sends its name
// and a newline, then echoes; every UDP datagram is answered with
// "name:payload". It records the peer addresses it saw and the PROXY
// headers it parsed.
type backend struct {
	t     *testing.T
	name  string
	id    string // target ID: VPC IP or instance ID
	vpc   netip.Addr
	host  netip.Addr
	port  uint16
	proxy bool
	tls   *tls.Config

	mu      sync.Mutex
	peers   []netip.AddrPort
	headers []*proxyproto.Header
	conns   atomic.Int32
	healthy atomic.Bool
	alpn    []string // protocols negotiated by TLS connections
}

func (b *backend) setHealthy(ok bool) { b.healthy.Store(ok) }

type backendOpt func(*backend)

func withProxy() backendOpt            { return func(b *backend) { b.proxy = true } }
func withTLS(c *tls.Config) backendOpt { return func(b *backend) { b.tls = c } }
func (e *env) backendIn(p netip.Prefix, name string, tcp, udp bool, opts ...backendOpt) *backend {
	e.t.Helper()
	vpc := e.ip(p)
	b := &backend{t: e.t, name: name, id: vpc.String(), vpc: vpc, host: e.addrs.ToHost(vpc)}
	for _, o := range opts {
		o(b)
	}
	var ln net.Listener
	var pc *net.UDPConn
	var err error
	for range 50 {
		if tcp {
			ln, err = net.Listen("tcp", netip.AddrPortFrom(b.host, 0).String())
			if err != nil {
				e.t.Fatal(err)
			}
			b.port = uint16(ln.Addr().(*net.TCPAddr).Port)
		}
		if udp {
			pc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.host, b.port)))
			if err != nil {
				if ln != nil {
					ln.Close()
				}
				continue
			}
			b.port = uint16(pc.LocalAddr().(*net.UDPAddr).Port)
		}
		break
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if ln != nil {
		e.t.Cleanup(func() { ln.Close() })
		go b.serveTCP(ln)
	}
	if pc != nil {
		e.t.Cleanup(func() { pc.Close() })
		go b.serveUDP(pc)
	}
	return b
}

func (b *backend) record(peer netip.AddrPort, h *proxyproto.Header) {
	b.mu.Lock()
	b.peers = append(b.peers, peer)
	if h != nil {
		b.headers = append(b.headers, h)
	}
	b.mu.Unlock()
}

func (b *backend) lastPeer() netip.AddrPort {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.peers) == 0 {
		return netip.AddrPort{}
	}
	return b.peers[len(b.peers)-1]
}

func (b *backend) lastHeader() *proxyproto.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.headers) == 0 {
		return nil
	}
	return b.headers[len(b.headers)-1]
}

func (b *backend) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			b.conns.Add(1)
			defer b.conns.Add(-1)
			r := bufio.NewReader(c)
			var h *proxyproto.Header
			if b.proxy {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var err error
				if h, err = proxyproto.Read(r); err != nil {
					b.t.Logf("backend %s: PROXY header: %v", b.name, err)
					return
				}
				c.SetReadDeadline(time.Time{})
			}
			b.record(c.RemoteAddr().(*net.TCPAddr).AddrPort(), h)
			var rw io.ReadWriter = struct {
				io.Reader
				io.Writer
			}{r, c}
			if b.tls != nil {
				tc := tls.Server(bufConn{c, r}, b.tls)
				rw = tc
				defer tc.Close()
				if err := tc.Handshake(); err != nil {
					return
				}
				b.mu.Lock()
				b.alpn = append(b.alpn, tc.ConnectionState().NegotiatedProtocol)
				b.mu.Unlock()
			}
			if _, err := io.WriteString(rw, b.name+"\n"); err != nil {
				return
			}
			io.Copy(rw, rw)
		}()
	}
}

// bufConn is a net.Conn reading through a bufio.Reader that may hold bytes
// already read.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (b *backend) serveUDP(pc *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		payload := buf[:n]
		var h *proxyproto.Header
		if b.proxy {
			if h, payload, err = proxyproto.ParseUDPDatagram(payload); err != nil {
				b.t.Logf("backend %s: PROXY header in datagram: %v", b.name, err)
				continue
			}
		}
		b.record(from, h)
		pc.WriteToUDPAddrPort(append([]byte(b.name+":"), payload...), from)
	}
}

// dial connects from the test's client address to a load balancer.
func (e *env) dial(to netip.AddrPort) (*net.TCPConn, error) {
	return dialFrom(e.client, to)
}

func dialFrom(from netip.Addr, to netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// fromClients connects to to from n client addresses 127.<net>.<seq>.<i>
// and returns the backends that answered.
func (e *env) fromClients(net byte, to netip.AddrPort, n int) map[string]bool {
	e.t.Helper()
	seen := map[string]bool{}
	for i := range n {
		c, err := dialFrom(netip.AddrFrom4([4]byte{127, net, byte(e.seq), byte(i + 1)}), to)
		if err != nil {
			e.t.Fatal(err)
		}
		name, err := hello(c)
		c.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		seen[name] = true
	}
	return seen
}

// hello reads the backend's name from a fresh connection.
func hello(c net.Conn) (string, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// whoami connects, reads the backend's name and closes.
func (e *env) whoami(to netip.AddrPort) (string, error) {
	c, err := e.dial(to)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return hello(c)
}

// echo sends msg on c and reads it back.
func echo(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo: got %q, want %q", got, msg)
	}
	return nil
}

// spread connects n times and counts the backends answering.
func (e *env) spread(to netip.AddrPort, n int) map[string]int {
	e.t.Helper()
	seen := map[string]int{}
	for range n {
		name, err := e.whoami(to)
		if err != nil {
			e.t.Fatalf("connection to %s: %v", to, err)
		}
		seen[name]++
	}
	return seen
}

// trySpread is spread returning the first connection error.
func (e *env) trySpread(to netip.AddrPort, n int) (map[string]int, error) {
	seen := map[string]int{}
	for range n {
		name, err := e.whoami(to)
		if err != nil {
			return seen, err
		}
		seen[name]++
	}
	return seen, nil
}

// eventually polls fn until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// closedByPeer reports whether a connection was closed or reset by the
// other side (a read returns an error other than a timeout).
func closedByPeer(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	_, err := c.Read(b[:])
	if err == nil {
		return errors.New("connection delivered data")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.New("connection still open")
	}
	return nil
}
