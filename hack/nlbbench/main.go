// Command nlbbench measures elbow's network load balancer data plane
// against the direct path and HAProxy (Debian's package, TCP mode), all on
// loopback, in one run:
//
//   - bulk TCP throughput with iperf3 (one stream);
//   - short-connection rate: connect, one byte each way, close;
//   - UDP datagrams per second (64-byte payloads) delivered to a sink, the
//     peer being nginx's stream module (HAProxy does not proxy UDP).
//
// It prints the figures and their ratios; it asserts nothing. hack/bench-nlb.sh
// installs iperf3, haproxy and nginx's stream module when missing and runs
// it.
//
// Usage: nlbbench [-d 5s] [-c 32]; nlbbench nlb -config FILE runs only the
// load balancer (used by the benchmark as a separate process).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/hack/internal/cpustat"
	"github.com/elbowlb/elbow/internal/elb/dataplane/nlb"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// The benchmark's addresses: a target at VPC address 10.0.130.10 (zone a's
// private subnet, realised on 127.10.130.10), an NLB node in zone a at
// 10.0.0.250 listening on 127.77.250.1, HAProxy and nginx on 127.0.0.1.
var (
	targetVPC  = netip.MustParseAddr("10.0.130.10")
	targetHost = netip.MustParseAddr("127.10.130.10")
	nlbAddr    = netip.MustParseAddr("127.77.250.1")
	nodeVPC    = "10.0.0.250"
	haAddr     = netip.MustParseAddr("127.0.0.1")
)

// Ports: the target's, and the same +10000 on the NLB, +20000 on HAProxy
// (nginx: UDP only, on the UDP port +20000).
const (
	portIperf = 5201
	portEcho  = 5300
	portUDP   = 5400
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "nlb":
			if err := serveNLB(); err != nil {
				fmt.Fprintln(os.Stderr, "nlb:", err)
				os.Exit(1)
			}
			return
		case "connrate":
			// nlbbench connrate ADDR:PORT [concurrency] [seconds]: one
			// short-connection measurement, for experiments.
			to := netip.MustParseAddrPort(os.Args[2])
			c, secs := 32, 5
			if len(os.Args) > 3 {
				fmt.Sscan(os.Args[3], &c)
			}
			if len(os.Args) > 4 {
				fmt.Sscan(os.Args[4], &secs)
			}
			r, err := connRate(to, c, time.Duration(secs)*time.Second)
			if err != nil {
				fmt.Fprintln(os.Stderr, "connrate:", err)
				os.Exit(1)
			}
			fmt.Printf("%.0f connections/s\n", r)
			return
		case "udprate":
			// nlbbench udprate ADDR:PORT [seconds]: datagrams per second
			// delivered to a sink on the benchmark's target address.
			to := netip.MustParseAddrPort(os.Args[2])
			secs := 4
			if len(os.Args) > 3 {
				fmt.Sscan(os.Args[3], &secs)
			}
			sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(targetHost, portUDP)))
			if err != nil {
				fmt.Fprintln(os.Stderr, "udprate:", err)
				os.Exit(1)
			}
			sink.SetReadBuffer(8 << 20)
			var received atomic.Int64
			go countDatagrams(sink, &received)
			u := udpRate(to, &received, time.Duration(secs)*time.Second)
			fmt.Printf("%.0f datagrams/s delivered of %.0f/s sent\n", u.rate, u.sent)
			return
		}
	}
	d := flag.Duration("d", 4*time.Second, "duration of each measurement")
	conc := flag.Int("c", 32, "concurrent connections of the short-connection test")
	rounds := flag.Int("rounds", 3, "measurements per path, interleaved across paths; the median is reported")
	hold := flag.Bool("hold", false, "start the servers, print their addresses and wait for a signal (for manual runs)")
	flag.Parse()
	if err := run(*d, *conc, *rounds, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "nlbbench:", err)
		os.Exit(1)
	}
}

// serveNLB runs the load balancer until SIGTERM: a state in a temporary
// directory with one network load balancer and three listeners, applied to
// an nlb.Plane.
func serveNLB() error {
	dir, err := os.MkdirTemp("", "nlbbench-state-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := state.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := nlb.New(nlb.Config{Addresses: vpcaddr.Default(), Logger: log})
	if err != nil {
		return err
	}
	lbARN := "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/bench/0123456789abcdef"
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		if err := state.Put(tx, state.Subnets, &state.Subnet{ID: "subnet-a", VpcID: "vpc-1", AvailabilityZone: "us-east-1a", CIDR: "10.0.128.0/19", State: "available"}); err != nil {
			return err
		}
		if err := state.Put(tx, state.LoadBalancers, &state.LoadBalancer{
			ARN: lbARN, Name: "bench", Type: "network", Scheme: "internal", State: "active", VpcID: "vpc-1",
			Zones:      []state.LBZone{{ZoneName: "us-east-1a", Address: nlbAddr.String(), PrivateIPv4Address: nodeVPC}},
			Attributes: map[string]string{"load_balancing.cross_zone.enabled": "false"},
		}); err != nil {
			return err
		}
		for _, l := range []struct {
			proto string
			port  int32
		}{{"TCP", portIperf}, {"TCP", portEcho}, {"UDP", portUDP}} {
			tgARN := fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench-%d/0123456789abcdef", l.port)
			if err := state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: fmt.Sprintf("bench-%d", l.port), Protocol: l.proto, TargetType: "ip", Port: l.port, VpcID: "vpc-1", Attributes: map[string]string{}}); err != nil {
				return err
			}
			if err := state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: targetVPC.String(), Port: l.port}); err != nil {
				return err
			}
			if err := state.Put(tx, state.Listeners, &state.Listener{
				ARN: fmt.Sprintf("%s/%d", lbARN, l.port), LoadBalancerARN: lbARN, Port: l.port + 10000, Protocol: l.proto,
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}},
				Attributes:     map[string]string{},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	snap, err := st.Snapshot()
	if err != nil {
		return err
	}
	p.Apply(snap)
	if f := os.Getenv("NLBBENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Close(ctx)
}

// path is one way to the target.
type path struct {
	name string
	addr netip.Addr
	off  uint16
}

func run(d time.Duration, conc, rounds int, hold bool) error {
	for _, bin := range []string{"iperf3", "haproxy"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found: install Debian's package (hack/bench-nlb.sh does)", bin)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()

	// Targets: iperf3, a TCP echo server, a UDP sink.
	iperf := exec.CommandContext(ctx, "iperf3", "-s", "-B", targetHost.String(), "-p", fmt.Sprint(portIperf))
	iperf.Stdout, iperf.Stderr = io.Discard, os.Stderr
	if err := iperf.Start(); err != nil {
		return err
	}
	procs = append(procs, iperf)
	echoLn, err := net.Listen("tcp", netip.AddrPortFrom(targetHost, portEcho).String())
	if err != nil {
		return err
	}
	defer echoLn.Close()
	go serveEcho(echoLn)
	sink, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(targetHost, portUDP)))
	if err != nil {
		return err
	}
	defer sink.Close()
	sink.SetReadBuffer(8 << 20)
	var received atomic.Int64
	go countDatagrams(sink, &received)

	// The load balancer, as its own process.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	lb := exec.CommandContext(ctx, self, "nlb")
	lb.Stderr = os.Stderr
	out, err := lb.StdoutPipe()
	if err != nil {
		return err
	}
	if err := lb.Start(); err != nil {
		return err
	}
	procs = append(procs, lb)
	ready := make([]byte, 6)
	if _, err := io.ReadFull(out, ready); err != nil || string(ready) != "ready\n" {
		return fmt.Errorf("load balancer did not start: %q %v", ready, err)
	}

	// HAProxy in TCP mode.
	dir, err := os.MkdirTemp("", "nlbbench-haproxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(haproxyConfig()), 0o644); err != nil {
		return err
	}
	ha := exec.CommandContext(ctx, "haproxy", "-db", "-f", cfgPath)
	ha.Stdout, ha.Stderr = io.Discard, os.Stderr
	if err := ha.Start(); err != nil {
		return err
	}
	procs = append(procs, ha)

	// nginx's stream module proxying UDP, with a worker per core.
	ng, err := startNginxUDP(ctx, dir)
	if err != nil {
		return err
	}
	defer func() { // before dir goes, which holds its pid file
		ng.Process.Signal(syscall.SIGTERM)
		ng.Wait()
	}()
	// (iperf3's port is not probed: a bare connection makes it log an
	// error; iperf3 runs are retried instead.)
	for _, a := range []netip.AddrPort{
		netip.AddrPortFrom(nlbAddr, portEcho+10000), netip.AddrPortFrom(haAddr, portEcho+20000),
	} {
		if err := waitListening(a); err != nil {
			return err
		}
	}

	paths := []path{{"direct", targetHost, 0}, {"elbow NLB", nlbAddr, 10000}, {"HAProxy", haAddr, 20000}}
	// UDP's peer is nginx (HAProxy does not proxy UDP), on HAProxy's address and offset.
	udpPaths := []path{paths[0], paths[1], {"nginx", haAddr, 20000}}
	if hold {
		for _, p := range paths {
			fmt.Printf("%-10s iperf3 %s  echo %s\n", p.name, netip.AddrPortFrom(p.addr, portIperf+p.off), netip.AddrPortFrom(p.addr, portEcho+p.off))
		}
		for _, p := range udpPaths {
			fmt.Printf("%-10s UDP %s\n", p.name, netip.AddrPortFrom(p.addr, portUDP+p.off))
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		return nil
	}
	fmt.Printf("elbow NLB benchmark: %d CPUs, GOMAXPROCS %d, %s per measurement, median of %d interleaved rounds, loopback\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), d, rounds)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average before the run: %s", la)
	}
	fmt.Println()

	// The proxies' CPU time per unit of work, and the whole machine's (load
	// generator, target and proxy), read from /proc around each
	// measurement: steadier than rates on a shared machine. With the
	// cores all busy, a rate is the cores over the machine's CPU per unit.
	pids := map[string]int{"elbow NLB": lb.Process.Pid, "HAProxy": ha.Process.Pid}
	bulk, rate, pps := samples{}, samples{}, samples{}
	bulkCPU, rateCPU := samples{}, samples{}
	bulkAll, rateAll, ppsAll, busy, sent := samples{}, samples{}, samples{}, samples{}, samples{}
	for range rounds {
		for _, p := range paths {
			before, m := cpustat.Process(pids[p.name]), cpustat.ReadMachine()
			bps, err := iperf3(ctx, netip.AddrPortFrom(p.addr, portIperf+p.off), d)
			if err != nil {
				return fmt.Errorf("iperf3 %s: %w", p.name, err)
			}
			all := m.Since()
			gb := bps * d.Seconds() / 8 / 1e9
			bulk.add(p.name, bps)
			bulkAll.add(p.name, all.Busy.Seconds()/gb)
			busy.add("bulk "+p.name, all.BusyShare())
			if pid := pids[p.name]; pid != 0 {
				bulkCPU.add(p.name, (cpustat.Process(pid)-before).Seconds()/gb)
			}
		}
	}
	for range rounds {
		for _, p := range paths {
			before, m := cpustat.Process(pids[p.name]), cpustat.ReadMachine()
			r, err := connRate(netip.AddrPortFrom(p.addr, portEcho+p.off), conc, d)
			if err != nil {
				return fmt.Errorf("connection rate %s: %w", p.name, err)
			}
			all := m.Since()
			rate.add(p.name, r)
			rateAll.add(p.name, float64(all.Busy.Microseconds())/(r*d.Seconds()))
			busy.add("rate "+p.name, all.BusyShare())
			if pid := pids[p.name]; pid != 0 {
				rateCPU.add(p.name, float64((cpustat.Process(pid)-before).Microseconds())/(r*d.Seconds()))
			}
		}
	}
	for range rounds {
		for _, p := range udpPaths {
			u := udpRate(netip.AddrPortFrom(p.addr, portUDP+p.off), &received, d)
			pps.add(p.name, u.rate)
			sent.add(p.name, u.sent)
			ppsAll.add(p.name, float64(u.cpu.Nanoseconds())/1e3)
			busy.add("udp "+p.name, u.busy)
		}
	}

	fmt.Printf("bulk TCP, iperf3 one stream (Gbit/s; the proxy's CPU seconds per GB; the machine's; the share of its cores' time busy)\n")
	for _, p := range paths {
		fmt.Printf("  %-10s %8.2f  %5.2f × direct  %s  all %.2f s/GB  busy %3.0f%%   (runs: %s)\n", p.name, bulk.median(p.name)/1e9, bulk.median(p.name)/bulk.median("direct"), cpuNote(bulkCPU, p.name, "%.2f s/GB"),
			bulkAll.median(p.name), 100*busy.median("bulk "+p.name), bulk.list(p.name, 1e9, "%.2f"))
	}
	fmt.Printf("short connections, %d concurrent: connect, 1 byte each way, close (connections/s; the proxy's CPU per connection; the machine's; busy)\n", conc)
	for _, p := range paths {
		fmt.Printf("  %-10s %8.0f  %5.2f × direct  %5.2f × HAProxy  %s  all %.0f µs  busy %3.0f%%   (runs: %s)\n", p.name, rate.median(p.name), rate.median(p.name)/rate.median("direct"), rate.median(p.name)/rate.median("HAProxy"), cpuNote(rateCPU, p.name, "%.0f µs"),
			rateAll.median(p.name), 100*busy.median("rate "+p.name), rate.list(p.name, 1, "%.0f"))
	}
	fmt.Printf("UDP, 64-byte datagrams from 8 flows, as fast as they go, delivered to the target (packets/s; the share of those sent; the machine's CPU per datagram delivered; busy)\n")
	for _, p := range udpPaths {
		fmt.Printf("  %-10s %8.0f  %5.2f × direct  %5.2f × nginx  delivered %3.0f%%  all %.1f µs  busy %3.0f%%   (runs: %s)\n", p.name, pps.median(p.name), pps.median(p.name)/pps.median("direct"),
			pps.median(p.name)/pps.median("nginx"), 100*pps.median(p.name)/sent.median(p.name), ppsAll.median(p.name), 100*busy.median("udp "+p.name), pps.list(p.name, 1, "%.0f"))
	}
	fmt.Printf("  (the senders outrun every path: what is not delivered is dropped at the receiving socket, the sink's on the direct path, the proxy's otherwise; a path's rate is the CPU its receiver wins)\n")
	b, c, u := bulk.median("elbow NLB")/bulk.median("direct"), rate.median("elbow NLB")/rate.median("HAProxy"), pps.median("elbow NLB")/pps.median("direct")
	fmt.Printf("\ngoals: bulk ≥ 0.85 × direct: %.2f (%s; HAProxy %.2f); short connections ≥ 1.2 × HAProxy: %.2f (%s); UDP ≥ 0.9 × direct: %.2f (%s; nginx %.2f)\n",
		b, verdict(b >= 0.85), bulk.median("HAProxy")/bulk.median("direct"), c, verdict(c >= 1.2), u, verdict(u >= 0.9), pps.median("nginx")/pps.median("direct"))
	return nil
}

// cpuNote formats a path's median CPU figure, "-" without one.
func cpuNote(s samples, path, format string) string {
	if len(s[path]) == 0 {
		return "        -"
	}
	return fmt.Sprintf(format, s.median(path))
}

// samples are measurements by path.
type samples map[string][]float64

func (s samples) add(path string, v float64) { s[path] = append(s[path], v) }

func (s samples) median(path string) float64 {
	v := append([]float64(nil), s[path]...)
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

func (s samples) list(path string, unit float64, format string) string {
	var parts []string
	for _, v := range s[path] {
		parts = append(parts, fmt.Sprintf(format, v/unit))
	}
	return strings.Join(parts, " ")
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func haproxyConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn 4000\n\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\n")
	for _, port := range []int{portIperf, portEcho} {
		fmt.Fprintf(&b, "listen p%d\n  bind %s:%d\n  server t %s:%d\n\n", port, haAddr, port+20000, targetHost, port)
	}
	return b.String()
}

func waitListening(a netip.AddrPort) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", a.String(), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening: %w", a, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// iperf3 runs one client and returns the received bits per second. A run
// that fails to start (the server still busy or starting) is retried.
func iperf3(ctx context.Context, to netip.AddrPort, d time.Duration) (float64, error) {
	var out []byte
	var err error
	for try := 0; try < 10; try++ {
		out, err = exec.CommandContext(ctx, "iperf3", "-c", to.Addr().String(), "-p", fmt.Sprint(to.Port()),
			"-t", fmt.Sprint(int(d.Seconds())), "-J").Output()
		if err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, err
	}
	if r.Error != "" {
		return 0, errors.New(r.Error)
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// countDatagrams counts what a sink receives.
func countDatagrams(sink *net.UDPConn, received *atomic.Int64) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
		received.Add(1)
	}
}

func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// clientAddrs spread the load generator over source addresses, so that
// ephemeral ports are not what limits the rate.
func clientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 56, 250, byte(1 + i%64)})
}

// connRate runs conc loops of connect, write a byte, read it back, close,
// for d, and returns completed connections per second.
func connRate(to netip.AddrPort, conc int, d time.Duration) (float64, error) {
	var done atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: clientAddr(i).AsSlice()}, Timeout: 5 * time.Second}
			b := []byte{'x'}
			for time.Now().Before(stop) {
				c, err := dl.Dial("tcp", to.String())
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				_, err = c.Write(b)
				if err == nil {
					_, err = io.ReadFull(c, b)
				}
				c.Close()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	n := done.Load()
	if n == 0 {
		if err, ok := firstErr.Load().(error); ok {
			return 0, err
		}
		return 0, errors.New("no connection completed")
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// udpResult is one UDP measurement.
type udpResult struct {
	// rate is the datagrams per second the sink received, sent those the
	// senders sent.
	rate, sent float64
	// cpu is the machine's busy CPU time per datagram received, busy the
	// share of its cores' time that was busy, both while the datagrams
	// were sent (the pauses around it left out).
	cpu  time.Duration
	busy float64
}

// udpRate sends 64-byte datagrams from 8 sockets (flows) for d, as fast as
// they go.
func udpRate(to netip.AddrPort, received *atomic.Int64, d time.Duration) udpResult {
	const flows = 8
	var sent atomic.Int64
	payload := make([]byte, 64)
	stop := time.Now().Add(d)
	// Let the previous run's datagrams drain.
	time.Sleep(200 * time.Millisecond)
	before := received.Load()
	start, m := time.Now(), cpustat.ReadMachine()
	var wg sync.WaitGroup
	for i := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(clientAddr(i), 0)), net.UDPAddrFromAddrPort(to))
			if err != nil {
				return
			}
			defer c.Close()
			n := int64(0)
			for time.Now().Before(stop) {
				if _, err := c.Write(payload); err == nil {
					n++
				}
			}
			sent.Add(n)
		}()
	}
	wg.Wait()
	elapsed, all := time.Since(start), m.Since()
	time.Sleep(100 * time.Millisecond)
	n := received.Load() - before
	u := udpResult{rate: float64(n) / elapsed.Seconds(), sent: float64(sent.Load()) / elapsed.Seconds(), busy: all.BusyShare()}
	if n > 0 {
		u.cpu = all.Busy / time.Duration(n)
	}
	return u
}

// startNginxUDP runs nginx proxying UDP from the UDP port +20000 on
// 127.0.0.1 to the target, one worker per core sharing the port.
func startNginxUDP(ctx context.Context, dir string) (*exec.Cmd, error) {
	const module = "/usr/lib/nginx/modules/ngx_stream_module.so"
	if _, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("nginx's stream module (%s) not found: install Debian's libnginx-mod-stream (hack/bench-nlb.sh does)", module)
	}
	conf := fmt.Sprintf(`load_module %s;
worker_processes auto;
pid %s/nginx.pid;
error_log stderr;
daemon off;
events { worker_connections 4096; }
stream {
  server {
    listen %s udp reuseport;
    proxy_pass %s;
    proxy_timeout 120s;
  }
}
`, module, dir, netip.AddrPortFrom(haAddr, portUDP+20000), netip.AddrPortFrom(targetHost, portUDP))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "nginx", "-t", "-q", "-p", dir, "-c", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nginx's configuration: %v: %s", err, out)
	}
	ng := exec.CommandContext(ctx, "nginx", "-p", dir, "-c", path)
	ng.Stdout, ng.Stderr = io.Discard, os.Stderr
	if err := ng.Start(); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	return ng, nil
}
