// Command albbench measures elbow's application load balancer data plane
// against the direct path and nginx (Debian's package) proxying to the
// same backends, all on loopback, in one run:
//
//   - HTTP/1.1 with keep-alive (wrk, 64 connections): (a) the backend
//     direct, (b) nginx proxying with X-Forwarded-For, (c) elbow's ALB with
//     one forward rule, and (d) elbow with 100 non-matching rules in front
//     of the matching one;
//   - the relay (HAProxy in TCP mode, one thread): the same HTTP/1.1 and
//     HTTPS loads through a proxy that parses nothing, reading and writing
//     each request and response once as any proxy must; the peer's CPU
//     per request over the relay's bounds the ratio a proxy as cheap as
//     the relay reaches on this machine, and the goals above it are
//     marked;
//   - HTTPS (wrk over TLS): nginx and elbow terminating TLS;
//   - HTTP/2 (h2load over TLS, 64 connections of 10 streams): nginx and
//     elbow, forwarding to the HTTP/1.1 backend;
//   - gRPC over TLS (ghz, 64 workers on 16 connections): unary calls and
//     bidirectional streams of 10 messages, through nginx's grpc_pass and
//     elbow (a GRPC target group) to a grpc-go backend.
//
// The HTTP backend is nginx answering a 13-byte body. Each run is
// measured in several rounds, interleaved across the paths so that the
// machine's other load falls on all of them alike; the median is
// reported, with the proxy's CPU time per request and the whole machine's
// (load generator, backend and proxy: on a machine whose cores are all
// busy, req/s is the cores over that figure). It prints the ratios
// the goals are stated in and asserts nothing. hack/bench-alb.sh installs
// wrk, nginx, h2load and ghz when missing and runs it.
//
// Usage: albbench [-d 5s] [-rounds 3] [-c 64] [-only REGEXP]; albbench alb
// -state DIR runs only the load balancer (the benchmark starts it as a
// separate process).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "alb" {
		runALB(os.Args[2:])
		return
	}
	var o options
	flag.DurationVar(&o.dur, "d", 5*time.Second, "duration of each measurement")
	flag.IntVar(&o.rounds, "rounds", 3, "measurements per run, interleaved across runs; the median is reported")
	flag.IntVar(&o.conns, "c", 64, "connections (HTTP), workers (gRPC)")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.IntVar(&o.port, "port", 18180, "the first of the 16 ports the benchmark's servers use")
	only := flag.String("only", "", "run only the runs whose names match this regexp")
	flag.StringVar(&o.profile, "cpuprofile", "", "write the load balancer's CPU profile to this file")
	flag.StringVar(&o.ghz, "ghz", "ghz", "the ghz command (gRPC runs are skipped when it is missing)")
	flag.BoolVar(&o.hold, "hold", false, "start the servers, print their addresses and wait for a signal (for manual runs)")
	flag.Parse()
	if o.profile != "" {
		os.Setenv("ALBBENCH_CPUPROFILE", o.profile)
	}
	o.only = regexp.MustCompile(*only)
	if err := bench(o); err != nil {
		fmt.Fprintln(os.Stderr, "albbench:", err)
		os.Exit(1)
	}
}

type options struct {
	dur            time.Duration
	rounds         int
	conns, threads int
	port           int
	only           *regexp.Regexp
	profile        string
	ghz            string
	hold           bool
	ghzMissing     bool
	protoset, cert string
	grpcUnaryData  string
	grpcStreamData string
	elbowPID       func() []int
	nginxPID       func() []int
	relayPID       func() []int
}

// run is one path measured with one tool.
type run struct {
	name  string
	tool  tool
	addr  string // URL (wrk, h2load) or host:port (ghz)
	proxy string // "elbow", "nginx", or "" (direct)
}

type tool int

const (
	wrkTool tool = iota
	h2loadTool
	ghzUnary
	ghzStream
)

// result is one measurement.
type result struct {
	rps  float64
	p99  time.Duration
	mean time.Duration
	// cpu is the proxy's CPU time per request (0 without a proxy).
	cpu time.Duration
	// machine is the whole machine's busy CPU time per request (load
	// generator, target and proxy); busy the share of its cores' time
	// that was busy.
	machine time.Duration
	busy    float64
	errs    string
}

func bench(o options) error {
	env, err := startServers(&o)
	if err != nil {
		return err
	}
	defer env.stop()
	runs := []run{
		{"direct", wrkTool, env.urls["direct"], ""},
		{"nginx", wrkTool, env.urls["nginx"], "nginx"},
		{"elbow", wrkTool, env.urls["elbow"], "elbow"},
		{"elbow 100 rules", wrkTool, env.urls["elbow 100 rules"], "elbow"},
		{"relay", wrkTool, env.urls["relay"], "relay"},
		{"nginx https", wrkTool, env.urls["nginx https"], "nginx"},
		{"elbow https", wrkTool, env.urls["elbow https"], "elbow"},
		{"relay https", wrkTool, env.urls["relay https"], "relay"},
		{"nginx h2", h2loadTool, env.urls["nginx h2"], "nginx"},
		{"elbow h2", h2loadTool, env.urls["elbow h2"], "elbow"},
		{"nginx grpc unary", ghzUnary, env.grpc["nginx"], "nginx"},
		{"elbow grpc unary", ghzUnary, env.grpc["elbow"], "elbow"},
		{"nginx grpc stream", ghzStream, env.grpc["nginx"], "nginx"},
		{"elbow grpc stream", ghzStream, env.grpc["elbow"], "elbow"},
	}
	if o.hold {
		for _, r := range runs {
			fmt.Printf("%-18s %s\n", r.name, r.addr)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		return nil
	}
	var selected []run
	for _, r := range runs {
		if !o.only.MatchString(r.name) {
			continue
		}
		if (r.tool == ghzUnary || r.tool == ghzStream) && o.ghzMissing {
			continue
		}
		selected = append(selected, r)
	}
	if o.ghzMissing {
		fmt.Println("albbench: ghz not found; gRPC runs skipped (hack/bench-alb.sh installs it)")
	}
	fmt.Printf("albbench: %d CPUs; %s per measurement, median of %d rounds interleaved across runs\n", numCPU(), o.dur, o.rounds)
	fmt.Printf("  wrk -t%d -c%d (HTTP/1.1 keep-alive); h2load -c%d -m10 (HTTP/2, TLS); ghz -c%d --connections 16 (gRPC, TLS)\n", o.threads, o.conns, o.conns, o.conns)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("  load average before the run: %s", la)
	}
	// A warm-up of every run, then the rounds.
	for _, r := range selected {
		o.measure(r, time.Second)
	}
	all := map[string][]result{}
	for i := range o.rounds {
		for _, r := range selected {
			res, err := o.measure(r, o.dur)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			if res.errs != "" {
				fmt.Printf("  (%s, round %d: %s)\n", r.name, i+1, res.errs)
			}
			all[r.name] = append(all[r.name], res)
		}
	}
	med := map[string]result{}
	fmt.Printf("\n  %-18s %10s %10s %10s %12s %12s %5s   %s\n", "run", "req/s", "p99", "mean", "proxy CPU/req", "all CPU/req", "busy", "req/s of each round")
	for _, r := range selected {
		rs := all[r.name]
		m := median(rs)
		med[r.name] = m
		var each []string
		for _, x := range rs {
			each = append(each, fmt.Sprintf("%.0f", x.rps))
		}
		cpu := "-"
		if m.cpu > 0 {
			cpu = fmt.Sprintf("%.1fµs", float64(m.cpu.Nanoseconds())/1e3)
		}
		fmt.Printf("  %-18s %10.0f %10s %10s %12s %12s %4.0f%%   %s\n", r.name, m.rps, m.p99.Round(10*time.Microsecond), m.mean.Round(10*time.Microsecond), cpu,
			fmt.Sprintf("%.1fµs", float64(m.machine.Nanoseconds())/1e3), 100*m.busy, strings.Join(each, " "))
	}
	fmt.Println("  (all CPU/req: the machine's busy CPU time per request, load generator, backend and proxy together;\n   busy: the share of the cores' time that was busy. With the cores all busy, req/s = cores / all CPU/req.)")
	fmt.Println("\nratios (medians; latency ratios: lower is better):")
	type goal struct {
		a, b    string
		min     float64 // req/s ratio at least
		latency bool    // p99 and mean at most the peer's
		ceiling string  // the relay run whose CPU per request bounds a's ratio to b
	}
	goals := []goal{
		{"nginx", "direct", 0, false, ""},
		{"relay", "direct", 0, false, ""},
		{"elbow", "direct", 0.8, false, "relay"},
		{"elbow", "nginx", 1.3, false, "relay"},
		{"elbow 100 rules", "elbow", 0, false, ""},
		{"elbow https", "nginx https", 1.2, false, "relay https"},
		{"elbow h2", "nginx h2", 1.2, true, ""},
		{"elbow grpc unary", "nginx grpc unary", 1.2, false, ""},
		{"elbow grpc stream", "nginx grpc stream", 1.2, false, ""},
	}
	reach := 0
	met, total := 0, 0
	for _, g := range goals {
		a, b := med[g.a], med[g.b]
		if a.rps == 0 || b.rps == 0 {
			continue
		}
		line := fmt.Sprintf("  %-40s req/s %5.2f   p99 %5.2f   mean %5.2f", g.a+" / "+g.b, a.rps/b.rps, ratio(a.p99, b.p99), ratio(a.mean, b.mean))
		if g.min > 0 {
			ok := a.rps/b.rps >= g.min
			want := fmt.Sprintf("req/s ≥ %.1f", g.min)
			if g.latency {
				ok = ok && a.p99 <= b.p99 && a.mean <= b.mean
				want += ", p99 and mean ≤ 1"
			}
			total++
			if ok {
				met++
			}
			line += fmt.Sprintf("   goal %s: %s", want, verdict(ok))
			// With the cores all busy a rate is the cores over the
			// machine's CPU per request, so the relay's CPU per request
			// bounds the ratio a proxy as cheap as the relay reaches
			// (its rate alone would also count how much CPU its one
			// thread wins against the load generator's).
			if c := med[g.ceiling]; !ok && c.machine > 0 {
				bound := float64(b.machine) / float64(c.machine)
				if bound < g.min {
					reach++
					line += fmt.Sprintf(" (above the relay's %.2f by CPU per request)", bound)
				} else {
					line += fmt.Sprintf(" (the relay's, by CPU per request: %.2f)", bound)
				}
			}
		}
		fmt.Println(line)
	}
	fmt.Printf("goals met: %d of %d\n", met, total)
	if reach > 0 {
		fmt.Printf("goals above the relay's ratio by CPU per request in this run: %d (a proxy would have to cost the machine less per request than HAProxy relaying the bytes unparsed)\n", reach)
	}
	return nil
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// median returns the measurement of median rate, and the median of each
// other figure.
func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return result{
		rps:  pick(func(r result) float64 { return r.rps }),
		p99:  time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
		mean: time.Duration(pick(func(r result) float64 { return float64(r.mean) })),
		cpu:  time.Duration(pick(func(r result) float64 { return float64(r.cpu) })),

		machine: time.Duration(pick(func(r result) float64 { return float64(r.machine) })),
		busy:    pick(func(r result) float64 { return r.busy }),
	}
}

func numCPU() int {
	n := 0
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "processor") {
			n++
		}
	}
	return n
}
