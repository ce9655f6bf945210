package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The CPU benchmark's targets run in a child process (this test binary,
// re-executed), so that the parent's CPU time is the checker's alone.
const (
	benchTargetsEnv = "ELBOW_HEALTH_BENCH_TARGETS" // "http" or "tcp": be the targets
	benchNet        = 59                           // 10.59.0.0/16 on 127.59.0.0/16
	benchTargets    = 1000
	benchInterval   = 5 * time.Second
	benchWindow     = 2 * benchInterval
)

func TestMain(m *testing.M) {
	if kind := os.Getenv(benchTargetsEnv); kind != "" {
		os.Exit(serveBenchTargets(kind))
	}
	os.Exit(m.Run())
}

// benchHost is the host address of the i-th benchmark target.
func benchHost(i int) string { return fmt.Sprintf("127.%d.%d.%d", benchNet, 1+i/250, 1+i%250) }

// serveBenchTargets listens on benchTargets addresses, prints their ports,
// serves until stdin closes and returns the exit code.
func serveBenchTargets(kind string) int {
	out := bufio.NewWriter(os.Stdout)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), ReadHeaderTimeout: 10 * time.Second}
	for i := range benchTargets {
		l, err := net.Listen("tcp", benchHost(i)+":0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(out, l.Addr().(*net.TCPAddr).Port)
		if kind == "tcp" {
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		} else {
			go srv.Serve(l)
		}
	}
	out.Flush()
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// startBenchTargets starts the child and returns the targets' ports.
func startBenchTargets(b *testing.B, kind string) []int {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchTargetsEnv+"="+kind)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	ports := make([]int, 0, benchTargets)
	sc := bufio.NewScanner(stdout)
	for len(ports) < benchTargets && sc.Scan() {
		p, err := strconv.Atoi(sc.Text())
		if err != nil {
			b.Fatalf("target process: %q", sc.Text())
		}
		ports = append(ports, p)
	}
	if len(ports) < benchTargets {
		b.Fatalf("target process gave %d ports: %v", len(ports), sc.Err())
	}
	return ports
}

// cpuTime returns the CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPercent measures this process's CPU use over benchWindow, in percent
// of one core.
func cpuPercent(b *testing.B) float64 {
	start, t0 := cpuTime(b), time.Now()
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	time.Sleep(benchWindow)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	b.Logf("user %v sys %v", time.Duration(r1.Utime.Nano()-r0.Utime.Nano()), time.Duration(r1.Stime.Nano()-r0.Stime.Nano()))
	return 100 * float64(cpuTime(b)-start) / float64(time.Since(t0))
}

// benchChecker runs a checker over 1,000 targets checked every 5 s until
// all are healthy, then returns its CPU use and checks per second over the
// window.
func benchChecker(b *testing.B, kind string, ports []int) (cpu, checksPerSec float64) {
	b.Helper()
	st, err := state.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lbType, tgProto, hcProto := "application", "HTTP", "HTTP"
	if kind == "tcp" {
		lbType, tgProto, hcProto = "network", "TCP", "TCP"
	}
	lbARN := arnP + "loadbalancer/x/bench/1"
	tgARN := arnP + "targetgroup/bench/1"
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		err := state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lbARN, Type: lbType, Zones: []state.LBZone{
			{ZoneName: zoneA, PrivateIPv4Address: fmt.Sprintf("10.%d.0.10", benchNet)},
		}})
		if err != nil {
			return err
		}
		err = state.Put(tx, state.Listeners, &state.Listener{ARN: lbARN + "/l", LoadBalancerARN: lbARN, Port: 80,
			DefaultActions: forwardTo(tgARN)})
		if err != nil {
			return err
		}
		err = state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, TargetType: "ip", Protocol: tgProto,
			HealthCheckEnabled: true, HealthCheckProtocol: hcProto, HealthCheckPath: "/",
			HealthCheckIntervalSeconds: int32(benchInterval / time.Second), HealthCheckTimeoutSeconds: 2,
			HealthyThresholdCount: 2, UnhealthyThresholdCount: 2, MatcherHTTPCode: "200"})
		if err != nil {
			return err
		}
		for i, p := range ports {
			id := fmt.Sprintf("10.%d.%d.%d", benchNet, 1+i/250, 1+i%250)
			if err := state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: id, Port: int32(p), AvailabilityZone: zoneA}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c := New(Config{Addresses: testMap, Registerer: reg})
	c.Sync(snap)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(4 * benchInterval)
	for len(c.Group(tgARN).Healthy) < len(ports) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d targets healthy", len(c.Group(tgARN).Healthy), len(ports))
		}
		time.Sleep(100 * time.Millisecond)
	}
	checks := func() float64 {
		var sum float64
		for _, o := range []outcome{outcomeSuccess, outcomeMismatch, outcomeTimeout, outcomeFailed} {
			var m dto.Metric
			if err := c.metrics.checks.WithLabelValues(o.String()).Write(&m); err != nil {
				b.Fatal(err)
			}
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
	before, t0 := checks(), time.Now()
	cpu = cpuPercent(b)
	return cpu, (checks() - before) / time.Since(t0).Seconds()
}

// benchNaive checks the same targets the obvious way: a goroutine and a
// ticker per target, and a fresh HTTP connection per check.
func benchNaive(b *testing.B, ports []int) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i, p := range ports {
		url := fmt.Sprintf("http://%s:%d/", benchHost(i), p)
		wg.Go(func() {
			time.Sleep(time.Duration(i) * benchInterval / time.Duration(len(ports)))
			tick := time.NewTicker(benchInterval)
			defer tick.Stop()
			for {
				if resp, err := client.Get(url); err == nil {
					resp.Body.Close()
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	time.Sleep(benchInterval) // every target checked once
	cpu := cpuPercent(b)
	cancel()
	wg.Wait()
	return cpu
}

// BenchmarkCheckCPU measures the CPU the checker uses to check 1,000
// targets every 5 s (in percent of one core, over a 10 s window), against
// a naive goroutine-per-target checker measured in the same run.
func BenchmarkCheckCPU(b *testing.B) {
	b.Run("HTTP", func(b *testing.B) {
		ports := startBenchTargets(b, "http")
		for range b.N {
			cpu, rate := benchChecker(b, "http", ports)
			naive := benchNaive(b, ports)
			b.ReportMetric(cpu, "cpu%/1000targets")
			b.ReportMetric(rate, "checks/s")
			b.ReportMetric(naive, "naive-cpu%/1000targets")
			b.ReportMetric(cpu/naive, "ratio-to-naive")
		}
	})
	b.Run("TCP", func(b *testing.B) {
		ports := startBenchTargets(b, "tcp")
		for range b.N {
			cpu, rate := benchChecker(b, "tcp", ports)
			b.ReportMetric(cpu, "cpu%/1000targets")
			b.ReportMetric(rate, "checks/s")
		}
	})
}

// BenchmarkSync measures Sync over 1,000 targets: with nothing changed,
// and with one target added or removed each time.
func BenchmarkSync(b *testing.B) {
	st, err := state.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lbARN := arnP + "loadbalancer/app/sync/1"
	tgARN := arnP + "targetgroup/sync/1"
	put := func(fn func(tx *state.Tx) error) *state.Snapshot {
		if err := st.Update(context.Background(), fn); err != nil {
			b.Fatal(err)
		}
		snap, err := st.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		return snap
	}
	target := func(i int) *state.Target {
		return &state.Target{TargetGroupARN: tgARN, ID: fmt.Sprintf("10.%d.%d.%d", benchNet, 1+i/250, 1+i%250), Port: 80, AvailabilityZone: zoneA}
	}
	full := put(func(tx *state.Tx) error {
		if err := state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lbARN, Type: "application",
			Zones: []state.LBZone{{ZoneName: zoneA, PrivateIPv4Address: fmt.Sprintf("10.%d.0.10", benchNet)}}}); err != nil {
			return err
		}
		if err := state.Put(tx, state.Listeners, &state.Listener{ARN: lbARN + "/l", LoadBalancerARN: lbARN, Port: 80, DefaultActions: forwardTo(tgARN)}); err != nil {
			return err
		}
		if err := state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, TargetType: "ip", Protocol: "HTTP", HealthCheckEnabled: true,
			HealthCheckProtocol: "HTTP", HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2}); err != nil {
			return err
		}
		for i := range benchTargets {
			if err := state.Put(tx, state.Targets, target(i)); err != nil {
				return err
			}
		}
		return nil
	})
	less := put(func(tx *state.Tx) error {
		_, err := state.Delete(tx, state.Targets, state.TargetKey(tgARN, target(0).ID, 80))
		return err
	})
	b.Run("unchanged", func(b *testing.B) {
		c := New(Config{Addresses: testMap})
		c.Sync(full)
		for b.Loop() {
			c.Sync(full)
		}
	})
	b.Run("one-target-changed", func(b *testing.B) {
		c := New(Config{Addresses: testMap})
		snaps := [2]*state.Snapshot{full, less}
		i := 0
		for b.Loop() {
			c.Sync(snaps[i%2])
			i++
		}
	})
}
