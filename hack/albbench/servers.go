// Command albbench measures elbow's application load balancer data plane
// against the direct path and nginx (Debian's package) proxying to the
// same backend, all on loopback, in one run:
//
//   - HTTP/1.1 with keep-alive (wrk, 64 connections): (a) the backend
//     direct, (b) nginx proxying with X-Forwarded-For, (c) elbow's ALB with
//     one forward rule, and (d) elbow with 100 non-matching rules in front
//     of the matching one;
//   - HTTPS (wrk over TLS): nginx and elbow terminating TLS;
//   - HTTP/2 (h2load over TLS): nginx and elbow.
//
// The backend is nginx answering a 13-byte body, the same for every run.
// It prints requests per second, p99 latency and the ratios; it asserts
// nothing. hack/bench-alb.sh installs wrk, nginx and h2load when missing
// and runs it.
//
// Usage: albbench [-d 10s] [-c 64] [-t 2]; albbench alb -state DIR runs
// only the load balancer (the benchmark starts it as a separate process).
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// The benchmark's addresses: the backend at VPC address 10.0.130.20 (host
// 127.10.130.20), the ALB node in zone a at 10.0.0.251 listening on
// 127.77.251.1, nginx on 127.0.0.1.
var (
	backendVPC = netip.MustParseAddr("10.0.130.20")
	nodeVPC    = netip.MustParseAddr("10.0.0.251")
	lbAddr     = netip.MustParseAddr("127.77.251.1")
	addrs      = vpcaddr.Default()
)

const (
	backendPort = 18180
	nginxHTTP   = 18181
	nginxHTTPS  = 18182
	nginxH2     = 18183
	albHTTP     = 18190
	albRules    = 18191
	albHTTPS    = 18192
	lbARN       = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/bench/0000000000000001"
	tgARN       = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench/0000000000000001"
	certARN     = "arn:aws:acm:us-east-1:000000000000:certificate/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "alb" {
		runALB(os.Args[2:])
		return
	}
	dur := flag.Duration("d", 10*time.Second, "duration of each run")
	conns := flag.Int("c", 64, "connections")
	threads := flag.Int("t", 2, "wrk threads")
	only := flag.String("only", "", "run only the runs whose names match this regexp")
	profile := flag.String("cpuprofile", "", "write the load balancer's CPU profile to this file")
	flag.BoolVar(&hold, "hold", false, "start the servers, print their URLs and wait for a signal (for manual runs)")
	flag.Parse()
	if *profile != "" {
		os.Setenv("ALBBENCH_CPUPROFILE", *profile)
	}
	onlyRe = regexp.MustCompile(*only)
	if err := bench(*dur, *conns, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "albbench:", err)
		os.Exit(1)
	}
}

// onlyRe selects the runs.
var onlyRe *regexp.Regexp

// hold keeps the servers up for manual measurements.
var hold bool

type result struct {
	name string
	rps  float64
	p99  time.Duration
	note string
}

func bench(dur time.Duration, conns, threads int) error {
	dir, err := os.MkdirTemp("", "albbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return err
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)

	backendHost := addrs.ToHost(backendVPC)
	stopBackend, err := startNginx(dir, "backend", fmt.Sprintf(`
worker_processes 1;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen %s:%d reuseport; location / { return 200 "hello, world\n"; } }
}`, backendHost, backendPort))
	if err != nil {
		return err
	}
	defer stopBackend()
	stopProxy, err := startNginx(dir, "proxy", fmt.Sprintf(`
worker_processes auto;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server %s:%d; keepalive 128; }
  server {
    listen 127.0.0.1:%d;
    listen 127.0.0.1:%d ssl;
    listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s; ssl_certificate_key %s;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}`, backendHost, backendPort, nginxHTTP, nginxHTTPS, nginxH2, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))
	if err != nil {
		return err
	}
	defer stopProxy()
	stopALB, err := startALB(dir, string(certPEM), string(keyPEM))
	if err != nil {
		return err
	}
	defer stopALB()

	direct := fmt.Sprintf("http://%s:%d/", backendHost, backendPort)
	urls := map[string]string{
		"direct":          direct,
		"nginx":           fmt.Sprintf("http://127.0.0.1:%d/", nginxHTTP),
		"elbow":           fmt.Sprintf("http://%s:%d/", lbAddr, albHTTP),
		"elbow 100 rules": fmt.Sprintf("http://%s:%d/", lbAddr, albRules),
		"nginx https":     fmt.Sprintf("https://127.0.0.1:%d/", nginxHTTPS),
		"elbow https":     fmt.Sprintf("https://%s:%d/", lbAddr, albHTTPS),
		"nginx h2":        fmt.Sprintf("https://127.0.0.1:%d/", nginxH2),
		"elbow h2":        fmt.Sprintf("https://%s:%d/", lbAddr, albHTTPS),
	}
	for name, u := range urls {
		if err := waitHTTP(u); err != nil {
			return fmt.Errorf("%s not answering at %s: %w", name, u, err)
		}
	}
	if hold {
		for name, u := range urls {
			fmt.Printf("%-16s %s\n", name, u)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		return nil
	}
	fmt.Printf("albbench: wrk -t%d -c%d -d%s --latency (HTTP/1.1 keep-alive), h2load -c%d -m10 (HTTP/2); %d CPUs\n", threads, conns, dur, conns, numCPU())
	var results []result
	for _, name := range []string{"direct", "nginx", "elbow", "elbow 100 rules", "nginx https", "elbow https"} {
		if !onlyRe.MatchString(name) {
			continue
		}
		wrk(urls[name], threads, conns, 2*time.Second) // warm-up
		r, err := wrk(urls[name], threads, conns, dur)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.name = name
		results = append(results, r)
		fmt.Printf("  %-16s %10.0f req/s  p99 %8s\n", name, r.rps, r.p99.Round(10*time.Microsecond))
	}
	for _, name := range []string{"nginx h2", "elbow h2"} {
		if !onlyRe.MatchString(name) {
			continue
		}
		r, err := h2load(urls[name], conns, dur)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.name = name
		results = append(results, r)
		fmt.Printf("  %-16s %10.0f req/s  mean %7s (h2load reports no p99)\n", name, r.rps, r.p99.Round(10*time.Microsecond))
	}
	get := func(n string) result {
		for _, r := range results {
			if r.name == n {
				return r
			}
		}
		return result{}
	}
	ratio := func(a, b string) {
		ra, rb := get(a), get(b)
		if ra.rps == 0 || rb.rps == 0 {
			return
		}
		fmt.Printf("  %-28s req/s %.2f   latency %.2f\n", a+" / "+b, ra.rps/rb.rps, float64(ra.p99)/float64(rb.p99))
	}
	fmt.Println("ratios (latency: p99, h2: mean):")
	ratio("nginx", "direct")
	ratio("elbow", "direct")
	ratio("elbow", "nginx")
	ratio("elbow 100 rules", "elbow")
	ratio("elbow https", "nginx https")
	ratio("elbow h2", "nginx h2")
	fmt.Println("target: elbow / nginx req/s >= 0.80, p99 <= 1.50")
	return nil
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

var (
	rpsRe = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99Re = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	errRe = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)`)
)

func wrk(url string, threads, conns int, dur time.Duration) (result, error) {
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(dur.Seconds()))+"s", "--latency", url).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r result
	if m := rpsRe.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := p99Re.FindSubmatch(out); m != nil {
		r.p99 = parseDur(string(m[1]), string(m[2]))
	}
	if m := errRe.Find(out); m != nil {
		r.note = string(m)
		fmt.Printf("    (%s)\n", m)
	}
	if r.rps == 0 {
		return r, fmt.Errorf("wrk output without a rate: %s", out)
	}
	return r, nil
}

var (
	h2rpsRe  = regexp.MustCompile(`finished in [0-9.]+\w+, ([0-9.]+) req/s`)
	h2meanRe = regexp.MustCompile(`time for request:\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s)`)
	h2okRe   = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed`)
)

func h2load(url string, conns int, dur time.Duration) (result, error) {
	out, err := exec.Command("h2load", "-c", strconv.Itoa(conns), "-m", "10", "-t", "1", "-D", strconv.Itoa(int(dur.Seconds())), "--warm-up-time=1", url).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("h2load: %v: %s", err, out)
	}
	var r result
	if m := h2rpsRe.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := h2meanRe.FindSubmatch(out); m != nil {
		r.p99 = parseDur(string(m[1]), string(m[2]))
	}
	if m := h2okRe.FindSubmatch(out); m != nil && string(m[2]) != "0" {
		fmt.Printf("    (%s failed)\n", m[2])
	}
	if r.rps == 0 {
		return r, fmt.Errorf("h2load output without a rate: %s", out)
	}
	return r, nil
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

func waitHTTP(u string) error {
	var last error
	for i := 0; i < 100; i++ {
		out, err := exec.Command("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", u).Output()
		if err == nil && string(out) == "200" {
			return nil
		}
		last = fmt.Errorf("%v %s", err, out)
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// startNginx runs nginx in the foreground with a configuration.
func startNginx(dir, name, conf string) (func(), error) {
	d := filepath.Join(dir, name)
	os.MkdirAll(filepath.Join(d, "logs"), 0o755)
	full := "pid " + filepath.Join(d, "nginx.pid") + ";\nerror_log " + filepath.Join(d, "logs", "error.log") + ";\ndaemon off;\n" + conf
	full = strings.Replace(full, "http {", "http {\n  client_body_temp_path "+d+"/body; proxy_temp_path "+d+"/proxy; fastcgi_temp_path "+d+"/fcgi; uwsgi_temp_path "+d+"/uwsgi; scgi_temp_path "+d+"/scgi;", 1)
	path := filepath.Join(d, "nginx.conf")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("nginx", "-p", d, "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("nginx %s: %w", name, err)
	}
	return func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	}, nil
}

// startALB writes the benchmark's state and runs the load balancer as a
// separate process.
func startALB(dir, certPEM, keyPEM string) (func(), error) {
	sdir := filepath.Join(dir, "state")
	st, err := state.Open(sdir)
	if err != nil {
		return nil, err
	}
	listenerARN := func(port int) string {
		return strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/" + strconv.Itoa(port)
	}
	fwd := []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		puts := []error{
			state.Put(tx, state.LoadBalancers, &state.LoadBalancer{
				ARN: lbARN, Name: "bench", Type: "application", Scheme: "internal", State: "active", IPAddressType: "ipv4",
				Zones:      []state.LBZone{{ZoneName: "us-east-1a", Address: lbAddr.String(), PrivateIPv4Address: nodeVPC.String()}},
				Attributes: map[string]string{"idle_timeout.timeout_seconds": "60", "routing.http2.enabled": "true"},
			}),
			state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: "bench", TargetType: "ip", Protocol: "HTTP", ProtocolVersion: "HTTP1", Port: backendPort, Attributes: map[string]string{}}),
			state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: backendVPC.String(), Port: backendPort}),
			state.Put(tx, state.Certificates, &state.Certificate{ARN: certARN, DomainName: "bench.test", Status: "ISSUED", CertificatePEM: certPEM, PrivateKeyPEM: keyPEM}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(albHTTP), LoadBalancerARN: lbARN, Port: albHTTP, Protocol: "HTTP", DefaultActions: fwd}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(albHTTPS), LoadBalancerARN: lbARN, Port: albHTTPS, Protocol: "HTTPS",
				SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", Certificates: []state.ListenerCertificate{{ARN: certARN, Default: true}}, DefaultActions: fwd}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(albRules), LoadBalancerARN: lbARN, Port: albRules, Protocol: "HTTP",
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}}),
		}
		for i := 1; i <= 100; i++ {
			puts = append(puts, state.Put(tx, state.Rules, &state.Rule{
				ARN: listenerARN(albRules) + "/rule/" + strconv.Itoa(i), ListenerARN: listenerARN(albRules), Priority: int32(i),
				Conditions: []elbv2types.RuleCondition{
					{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{fmt.Sprintf("svc%d.example.com", i)}}},
					{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{fmt.Sprintf("/api/v%d/*", i)}}},
				},
				Actions: fwd,
			}))
		}
		puts = append(puts, state.Put(tx, state.Rules, &state.Rule{
			ARN: listenerARN(albRules) + "/rule/101", ListenerARN: listenerARN(albRules), Priority: 101,
			Conditions: []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/*"}}}},
			Actions:    fwd,
		}))
		for _, err := range puts {
			if err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "alb", "-state", sdir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}, nil
}

// runALB serves the state of a directory until SIGTERM.
func runALB(args []string) {
	fs := flag.NewFlagSet("alb", flag.ExitOnError)
	sdir := fs.String("state", "", "state directory")
	fs.Parse(args)
	st, err := state.Open(*sdir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	snap, err := st.Snapshot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if prof := os.Getenv("ALBBENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	p := alb.New(alb.Config{Addresses: addrs, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	p.Apply(snap)
	if errs := p.BindErrors(); len(errs) > 0 {
		fmt.Fprintln(os.Stderr, "bind errors:", errs)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Close(ctx)
	st.Close()
}

func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench.test"}, DNSNames: []string{"bench.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), lbAddr.AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
