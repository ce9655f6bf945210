package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/hack/internal/cpustat"
)

// measure runs one load generator for d and returns its figures, with the
// proxy's CPU time per request.
func (o *options) measure(r run, d time.Duration) (result, error) {
	var pids func() []int
	switch r.proxy {
	case "elbow":
		pids = o.elbowPID
	case "nginx":
		pids = o.nginxPID
	case "relay":
		pids = o.relayPID
	}
	var before time.Duration
	if pids != nil {
		before = cpustat.Process(pids()...)
	}
	machine := cpustat.ReadMachine()
	var res result
	var n int64
	var err error
	switch r.tool {
	case wrkTool:
		res, n, err = wrk(r.addr, o.threads, o.conns, d)
	case h2loadTool:
		res, n, err = h2load(r.addr, o.conns, d)
	case ghzUnary, ghzStream:
		res, n, err = o.ghzRun(r, d)
	}
	if err != nil {
		return res, err
	}
	m := machine.Since()
	res.busy = m.BusyShare()
	if n > 0 {
		res.machine = m.Busy / time.Duration(n)
		if pids != nil {
			res.cpu = (cpustat.Process(pids()...) - before) / time.Duration(n)
		}
	}
	return res, nil
}

var (
	rpsRe   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRe = regexp.MustCompile(`(\d+) requests in`)
	p99Re   = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	avgRe   = regexp.MustCompile(`Latency\s+([0-9.]+)(us|ms|s)`)
	errRe   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)`)
)

func wrk(url string, threads, conns int, dur time.Duration) (result, int64, error) {
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+durArg(dur), "--latency", url).CombinedOutput()
	if err != nil {
		return result{}, 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r result
	var n int64
	if m := rpsRe.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := totalRe.FindSubmatch(out); m != nil {
		n, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := p99Re.FindSubmatch(out); m != nil {
		r.p99 = parseDur(string(m[1]), string(m[2]))
	}
	if m := avgRe.FindSubmatch(out); m != nil {
		r.mean = parseDur(string(m[1]), string(m[2]))
	}
	if m := errRe.Find(out); m != nil {
		r.errs = string(m)
	}
	if r.rps == 0 {
		return r, 0, fmt.Errorf("wrk output without a rate: %s", out)
	}
	return r, n, nil
}

// durArg is a duration in whole seconds, at least one, as wrk and h2load
// take it.
func durArg(d time.Duration) string {
	s := int(d.Seconds())
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s) + "s"
}

var (
	h2rpsRe = regexp.MustCompile(`finished in [0-9.]+\w+, ([0-9.]+) req/s`)
	h2okRe  = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed`)
)

// h2load runs h2load with 10 streams per connection; the latencies come
// from its per-request log.
func h2load(url string, conns int, dur time.Duration) (result, int64, error) {
	logf, err := os.CreateTemp("", "albbench-h2load-*.log")
	if err != nil {
		return result{}, 0, err
	}
	logf.Close()
	defer os.Remove(logf.Name())
	out, err := exec.Command("h2load", "-c", strconv.Itoa(conns), "-m", "10", "-t", "1", "-D", durArg(dur), "--log-file="+logf.Name(), url).CombinedOutput()
	if err != nil {
		return result{}, 0, fmt.Errorf("h2load: %v: %s", err, out)
	}
	var r result
	if m := h2rpsRe.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	var n int64
	if m := h2okRe.FindSubmatch(out); m != nil {
		n, _ = strconv.ParseInt(string(m[1]), 10, 64)
		if string(m[2]) != "0" {
			r.errs = string(m[2]) + " failed"
		}
	}
	if r.rps == 0 {
		return r, 0, fmt.Errorf("h2load output without a rate: %s", out)
	}
	lat, err := h2loadLatencies(logf.Name())
	if err != nil {
		return r, 0, err
	}
	if len(lat) > 0 {
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		r.mean = sum / time.Duration(len(lat))
		r.p99 = lat[len(lat)*99/100]
	}
	return r, n, nil
}

// h2loadLatencies reads h2load's log (start µs, status, duration µs per
// line), sorted.
func h2loadLatencies(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 {
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, sc.Err()
}

// ghzRun runs ghz: unary calls, or bidirectional streams of 10 messages.
func (o *options) ghzRun(r run, d time.Duration) (result, int64, error) {
	call, data := "grpc.testing.TestService.UnaryCall", o.grpcUnaryData
	if r.tool == ghzStream {
		call, data = "grpc.testing.TestService.FullDuplexCall", o.grpcStreamData
	}
	out, err := exec.Command(o.ghz, "--skipTLS", "--protoset", o.protoset, "--call", call, "-d", data,
		"-c", strconv.Itoa(o.conns), "--connections", "16", "-z", d.String(), "--duration-stop", "ignore", "-O", "json", r.addr).Output()
	if err != nil {
		return result{}, 0, fmt.Errorf("ghz: %v: %s", err, out)
	}
	var rep struct {
		Count   int64   `json:"count"`
		RPS     float64 `json:"rps"`
		Average int64   `json:"average"`
		Lat     []struct {
			Percentage int   `json:"percentage"`
			Latency    int64 `json:"latency"`
		} `json:"latencyDistribution"`
		StatusCodeDistribution map[string]int64 `json:"statusCodeDistribution"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return result{}, 0, fmt.Errorf("ghz output: %w", err)
	}
	res := result{rps: rep.RPS, mean: time.Duration(rep.Average)}
	for _, l := range rep.Lat {
		if l.Percentage == 99 {
			res.p99 = time.Duration(l.Latency)
		}
	}
	var bad []string
	for code, n := range rep.StatusCodeDistribution {
		if code != "OK" {
			bad = append(bad, fmt.Sprintf("%s %d", code, n))
		}
	}
	sort.Strings(bad)
	res.errs = strings.Join(bad, ", ")
	if res.rps == 0 {
		return res, 0, fmt.Errorf("ghz reported no calls: %s", out)
	}
	return res, rep.Count, nil
}

func parseDur(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	}
	return time.Duration(f * float64(time.Second))
}
