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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// udpEnv is a plane with one UDP listener forwarding to one UDP echo
// target, on addresses of its own (third octet seq).
type udpEnv struct {
	plane  *Plane
	reg    *prometheus.Registry
	listen netip.AddrPort
	echoed atomic.Int64 // datagrams the target answered
}

// newUDPEnv starts it; setup, when not nil, changes the plane before its
// listener opens (its answer readers, its flow table).
func newUDPEnv(tb testing.TB, seq byte, setup func(*Plane)) *udpEnv {
	tb.Helper()
	st, err := state.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	e := &udpEnv{reg: prometheus.NewRegistry()}
	p, err := New(Config{Addresses: vpcaddr.Default(), Registerer: e.reg})
	if err != nil {
		tb.Fatal(err)
	}
	if setup != nil {
		setup(p)
	}
	e.plane = p
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			tb.Errorf("close plane: %v", err)
		}
	})
	// the target: a UDP echo on the host address of 10.0.128.<seq>
	target := netip.AddrFrom4([4]byte{10, 0, 128, seq})
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(vpcaddr.Default().ToHost(target), 0)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := pc.WriteToUDPAddrPort(buf[:n], from); err == nil {
				e.echoed.Add(1)
			}
		}
	}()
	listen := netip.AddrFrom4([4]byte{127, 81, seq, 1})
	port := freeUDPPort(tb, listen)
	e.listen = netip.AddrPortFrom(listen, port)
	lbARN := fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/udp%d/%016x", seq, seq)
	tgARN := fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/udp%d/%016x", seq, seq)
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		puts := []error{
			state.Put(tx, state.Subnets, &state.Subnet{ID: "subnet-pa", VpcID: "vpc-1", AvailabilityZone: "us-east-1a", CIDR: "10.0.0.0/20", State: "available"}),
			state.Put(tx, state.Subnets, &state.Subnet{ID: "subnet-ia", VpcID: "vpc-1", AvailabilityZone: "us-east-1a", CIDR: "10.0.128.0/19", State: "available"}),
			state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lbARN, Name: "udp", Type: "network", Scheme: "internet-facing",
				IPAddressType: "ipv4", VpcID: "vpc-1", State: "active", Attributes: map[string]string{},
				Zones: []state.LBZone{{ZoneName: "us-east-1a", SubnetID: "subnet-pa", Address: listen.String(), PrivateIPv4Address: fmt.Sprintf("10.0.0.%d", seq)}}}),
			state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: "udp", Protocol: "UDP", TargetType: "ip", Port: 53, VpcID: "vpc-1",
				Attributes: map[string]string{}, HealthCheckEnabled: true}),
			state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: target.String(), Port: int32(pc.LocalAddr().(*net.UDPAddr).Port)}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: lbARN + "/l", LoadBalancerARN: lbARN, Port: int32(port), Protocol: "UDP", Attributes: map[string]string{},
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}}),
		}
		return errors.Join(puts...)
	})
	if err != nil {
		tb.Fatal(err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	p.Apply(snap)
	return e
}

func freeUDPPort(tb testing.TB, a netip.Addr) uint16 {
	tb.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
	if err != nil {
		tb.Fatal(err)
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// counter returns the sum of a counter's series.
func (e *udpEnv) counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// flowCount returns the UDP flows the plane holds.
func (e *udpEnv) flowCount() int {
	n := 0
	e.plane.mu.Lock()
	defer e.plane.mu.Unlock()
	for _, s := range e.plane.sockets {
		if u, ok := s.(*udpSocket); ok {
			u.mu.Lock()
			n += len(u.flows)
			u.mu.Unlock()
		}
	}
	return n
}

// expireAll ends every flow as if it had been idle past the timeout.
func (e *udpEnv) expireAll() {
	e.plane.mu.Lock()
	var us []*udpSocket
	for _, s := range e.plane.sockets {
		if u, ok := s.(*udpSocket); ok {
			us = append(us, u)
		}
	}
	e.plane.mu.Unlock()
	for _, u := range us {
		u.expire(time.Now().Add(udpIdleTimeout + time.Second))
	}
}

// roundTrip sends msg from a new socket on src (port 0: any) and waits
// for the echo; the flow stays in the plane after the socket closes.
func roundTrip(to, src netip.AddrPort, msg string) error {
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(src), net.UDPAddrFromAddrPort(to))
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 256)
	for range 20 {
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			if string(buf[:n]) != msg {
				return fmt.Errorf("answer %q to %q", buf[:n], msg)
			}
			return nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return err
			}
		}
	}
	return fmt.Errorf("no answer to %q", msg)
}

// source returns the client address and port of the i-th flow from n
// sources: address i mod n (127.82.0.0/16 and up), port 10000 + i/n
// (below the ephemeral ports, so that no two flows share one).
func source(i, n int) netip.AddrPort {
	a := i % n
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(82 + a/65000), byte(a % 65000 / 250), byte(a%250 + 1)}), uint16(10000+i/n))
}

// TestUDPAnswersWithoutAGoroutinePerFlow: 300 flows are answered, and the
// process holds about as many goroutines as before them.
func TestUDPAnswersWithoutAGoroutinePerFlow(t *testing.T) {
	e := newUDPEnv(t, 1, nil)
	// the first flow starts the readers
	if err := roundTrip(e.listen, source(0, 50), "first"); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := 1; i <= 300; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := roundTrip(e.listen, source(i, 50), fmt.Sprintf("flow %d", i)); err != nil {
				errs <- err
			}
		}()
		if i%50 == 0 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.flowCount(); n != 301 {
		t.Errorf("plane holds %d flows, want 301", n)
	}
	if after := runtime.NumGoroutine(); after > before+10 {
		t.Errorf("%d goroutines with 301 flows, %d with one: flows cost goroutines", after, before)
	}
	e.expireAll()
	if n := e.flowCount(); n != 0 {
		t.Errorf("%d flows left after expiry", n)
	}
	if err := roundTrip(e.listen, source(7, 50), "after expiry"); err != nil {
		t.Errorf("a new flow after expiry: %v", err)
	}
}

// TestUDPFlowTableFull: beyond the table's limit a new flow is dropped and
// counted (PortAllocationErrorCount); once a flow ends, a new one is
// admitted.
func TestUDPFlowTableFull(t *testing.T) {
	e := newUDPEnv(t, 2, func(p *Plane) { p.udpFlows.limit = 2 })
	for i := range 2 {
		if err := roundTrip(e.listen, source(100+i, 1000), "fits"); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(source(102, 1000)), net.UDPAddrFromAddrPort(e.listen))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("no room")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.counter(t, "elbow_nlb_PortAllocationErrorCount") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("PortAllocationErrorCount = %v, want 1", e.counter(t, "elbow_nlb_PortAllocationErrorCount"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.flowCount(); n != 2 {
		t.Errorf("%d flows with a table of 2", n)
	}
	e.expireAll()
	if err := roundTrip(e.listen, source(103, 1000), "room again"); err != nil {
		t.Errorf("after flows ended: %v", err)
	}
}

// goroutinePerFlow is the design before the answer readers, kept for the
// benchmark's comparison: a goroutine per flow, blocked reading the flow's
// socket into a buffer of its own, sending each datagram on alone.
type goroutinePerFlow struct{ p *Plane }

func (g goroutinePerFlow) add(f *udpFlow) error {
	g.p.wg.Add(1)
	go func() {
		defer g.p.wg.Done()
		buf := make([]byte, maxDatagram)
		for {
			n, err := f.up.Read(buf)
			if err != nil {
				if f.closed.Load() || errors.Is(err, net.ErrClosed) {
					return
				}
				if errors.Is(err, syscall.ECONNREFUSED) {
					continue
				}
				f.terminate("target socket failed: " + err.Error())
				return
			}
			f.last.Store(time.Now().UnixNano())
			if _, err := f.s.conns[0].WriteToUDPAddrPort(buf[:n], f.client); err == nil {
				f.m.bytes.Add(float64(n))
				f.m.packets.Inc()
			}
		}
	}()
	return nil
}

func (goroutinePerFlow) remove(*udpFlow) {}
func (goroutinePerFlow) close()          {}

// memory returns the Go heap and stacks in use after a collection.
func memory() (heap, stacks uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// udpFlowRun is what one design cost.
type udpFlowRun struct {
	flows, sources                   int
	baseMB, peakMB, afterMB          float64
	baseGoroutines, peakGoroutines   int
	afterGoroutines                  int
	heapPerFlowBytes, stackPerFlowKB float64
}

// runUDPFlows opens flows from sources (round robin, one round trip per
// flow, from sockets that close at once: the flows stay in the plane),
// measures, ends them all, and measures again.
func runUDPFlows(b *testing.B, seq byte, setup func(*Plane), sources, flows int) udpFlowRun {
	e := newUDPEnv(b, seq, setup)
	run := udpFlowRun{flows: flows, sources: sources}
	if err := roundTrip(e.listen, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 80, 0, 1}), 0), "warm"); err != nil {
		b.Fatal(err)
	}
	e.expireAll()
	baseHeap, baseStack := memory()
	run.baseMB = float64(baseHeap+baseStack) / (1 << 20)
	run.baseGoroutines = runtime.NumGoroutine()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= run.flows {
					return
				}
				if roundTrip(e.listen, source(i, sources), "flow") != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := e.flowCount(); n != run.flows || failed.Load() > 0 {
		b.Fatalf("%d flows held, %d round trips failed; want %d flows", n, failed.Load(), run.flows)
	}
	peakHeap, peakStack := memory()
	run.peakMB = float64(peakHeap+peakStack) / (1 << 20)
	run.peakGoroutines = runtime.NumGoroutine()
	run.heapPerFlowBytes = float64(int64(peakHeap)-int64(baseHeap)) / float64(run.flows)
	run.stackPerFlowKB = float64(int64(peakStack)-int64(baseStack)) / float64(run.flows) / 1024
	e.expireAll()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > run.baseGoroutines+4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	afterHeap, afterStack := memory()
	run.afterMB = float64(afterHeap+afterStack) / (1 << 20)
	run.afterGoroutines = runtime.NumGoroutine()
	return run
}

// BenchmarkUDPFlows opens flows from 5,000 sources through one UDP
// listener, once with the plane's answer readers and once with a
// goroutine per flow (the design before them), and reports the Go memory
// (heap and stacks) and goroutines of each before the flows, at their
// peak, and after they end, with the ratios of the readers' figures to the
// goroutines'. 100,000 flows, or as many as the process's file descriptor
// limit lets the flow table hold (each flow holds a socket): the flows and
// sources run are reported.
func BenchmarkUDPFlows(b *testing.B) {
	const sources, wantFlows = 5000, 100_000
	flows := min(wantFlows, int(newUDPFlowTable().limit)-512) // room for the clients' sockets in flight
	for range b.N {
		readers := runUDPFlows(b, 10, nil, sources, flows)
		goroutines := runUDPFlows(b, 11, func(p *Plane) {
			p.newAnswers = func(p *Plane) (udpAnswers, error) { return goroutinePerFlow{p}, nil }
		}, sources, flows)
		for _, r := range []struct {
			name string
			run  udpFlowRun
		}{{"readers", readers}, {"goroutine-per-flow", goroutines}} {
			b.Logf("%s: %d flows from %d sources: Go memory %.1f MB before, %.1f MB at peak, %.1f MB after; goroutines %d, %d, %d; per flow %.0f B heap, %.1f KB stack",
				r.name, r.run.flows, r.run.sources, r.run.baseMB, r.run.peakMB, r.run.afterMB,
				r.run.baseGoroutines, r.run.peakGoroutines, r.run.afterGoroutines, r.run.heapPerFlowBytes, r.run.stackPerFlowKB)
		}
		b.ReportMetric(float64(readers.flows), "flows")
		b.ReportMetric(readers.peakMB, "readers-peak-MB")
		b.ReportMetric(readers.afterMB, "readers-after-MB")
		b.ReportMetric(float64(readers.peakGoroutines), "readers-peak-goroutines")
		b.ReportMetric(goroutines.peakMB, "goroutine-per-flow-peak-MB")
		b.ReportMetric(goroutines.afterMB, "goroutine-per-flow-after-MB")
		b.ReportMetric(float64(goroutines.peakGoroutines), "goroutine-per-flow-peak-goroutines")
		b.ReportMetric((readers.peakMB-readers.baseMB)/(goroutines.peakMB-goroutines.baseMB), "peak-growth-ratio")
	}
}
