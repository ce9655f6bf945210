// Package scale_test is the controller at scale: 1,000 Ingresses in 100
// IngressGroups and 1,000 LoadBalancer Services over 10,000 pods, on a
// real kube-apiserver, against a local ELB. BenchmarkControllerAtScale
// measures how long the controller takes, and how many AWS calls it
// makes, to converge from nothing, after one change, and after a restart
// (where it must write nothing), and its peak memory.
package scale_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/controller/ctrltest/ctrlopts"
	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
)

// scale is the benchmark's size as a fraction of the (1,000
// Services, 1,000 Ingresses in 100 groups, 10,000 pods). The default, 0.2
// (200 Services, 200 Ingresses in 20 groups, 2,000 pods), runs in about 3.5
// minutes on 2 shared cores; the full size would take over 20 by the
// growth measured between 0.1 and 0.2 (the restart took 25 s at 0.1, 63 s
// at 0.2).
var scale = flag.Float64("scale", 0.2, "fraction of the full size (1: 1,000 Services, 1,000 Ingresses in 100 groups, 10,000 pods)")

const (
	podsPerService   = 10
	ingressesPerGrp  = 10
	fullServices     = 1000
	namespace        = "scale"
	childEnv         = "ELBOW_SCALE_CONTROLLER"
	clusterName      = "scale"
	settleQuiet      = 10 * time.Second
	healthPolls      = "elasticloadbalancing/DescribeTargetHealth"
	convergeDeadline = 2 * time.Hour
)

// TestMain runs the controller instead of the tests when the benchmark
// starts this binary as its controller process (so that the controller's
// memory is its own).
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runController(spec))
	}
	os.Exit(m.Run())
}

// controllerSpec is what the controller process is given.
type controllerSpec struct {
	Host             string
	CA, Cert, Key    []byte
	Options          controller.Options
	ReadyzURL        string
	MetricsURL       string
	CredentialsKey   string
	CredentialsValue string
}

// runController runs the controller as `elbow controller` does (no
// client-side rate limit on the kube client, as controller-runtime's
// GetConfig gives it) until SIGTERM.
func runController(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var s controllerSpec
	if err := json.Unmarshal(b, &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := &rest.Config{Host: s.Host, QPS: -1, TLSClientConfig: rest.TLSClientConfig{CAData: s.CA, CertData: s.Cert, KeyData: s.Key}}
	os.Setenv("AWS_ACCESS_KEY_ID", s.CredentialsKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", s.CredentialsValue)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := controller.NewDeps(ctx, s.Options, log, prometheus.NewRegistry())
	if err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		return 1
	}
	if err := controller.Run(ctx, cfg, s.Options, d); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		return 1
	}
	return 0
}

// world is the benchmark's cluster and local ELB.
type world struct {
	b        *testing.B
	cfg      *rest.Config
	c        client.Client
	elb      *ctrltest.LocalELB
	services int
	groups   int
	spec     controllerSpec
	specPath string
}

func BenchmarkControllerAtScale(b *testing.B) {
	for range b.N {
		runScale(b)
	}
}

func runScale(b *testing.B) {
	services := int(float64(fullServices) * *scale)
	if services < ingressesPerGrp {
		services = ingressesPerGrp
	}
	services -= services % ingressesPerGrp
	w := &world{b: b, services: services, groups: services / ingressesPerGrp}
	w.cfg = ctrltest.APIServer(b)
	fast := rest.CopyConfig(w.cfg)
	fast.QPS, fast.Burst = 2000, 4000
	w.c = ctrltest.Client(b, fast)
	limits := elbv2.DefaultLimits()
	// Quotas raised as an account running this many load balancers has
	// them raised.
	limits.NetworkLoadBalancers = services + 10
	limits.ApplicationLoadBalancers = w.groups + 10
	limits.TargetGroups = 2*services + 100
	w.elb = ctrltest.StartLocalELBWith(b, clusterName, nil, elbtest.Options{NoDataPlanes: true, Limits: limits})
	w.writeSpec()

	start := time.Now()
	w.createObjects()
	b.Logf("created %d Services (LoadBalancer), %d pods, %d EndpointSlices, %d Ingresses in %d groups in %s",
		services, services*podsPerService, services, services, w.groups, time.Since(start).Round(time.Second))

	type phase struct {
		name string
		took time.Duration
		calls
		peakMiB float64
	}
	var phases []phase

	// From nothing.
	before := w.elb.Calls(b, false)
	ctl := w.startController()
	t0 := time.Now()
	w.waitConverged(time.Second, func() error { return w.converged("") })
	took := time.Since(t0)
	after := w.elb.Calls(b, false)
	n := diffCalls(before, after)
	phases = append(phases, phase{"from nothing", took, n, 0})
	b.Logf("converged from nothing in %s: %s; by action: %s", took.Round(time.Second), n, topActions(before, after, 12))

	// One change: a new path on one Ingress.
	before = after
	t0 = time.Now()
	w.addPath()
	w.waitConverged(100*time.Millisecond, func() error { return w.converged("/extra") })
	took = time.Since(t0)
	w.settle(ctl)
	after = w.elb.Calls(b, false)
	n = diffCalls(before, after)
	phases = append(phases, phase{"one change", took, n, 0})
	b.Logf("one change in %s: %s; by action: %s", took.Round(time.Millisecond), n, topActions(before, after, 8))
	peak1 := ctl.stop()

	// A restart: everything is read again, nothing written.
	before = w.elb.Calls(b, false)
	ctl = w.startController()
	t0 = time.Now()
	last := w.settle(ctl)
	took = last.Sub(t0)
	after = w.elb.Calls(b, false)
	n = diffCalls(before, after)
	if err := w.converged("/extra"); err != nil {
		b.Errorf("after the restart: %v", err)
	}
	phases = append(phases, phase{"restart", took, n, 0})
	b.Logf("restart settled in %s: %s; by action: %s", took.Round(time.Second), n, topActions(before, after, 8))
	if n.writes != 0 {
		b.Errorf("the restarted controller made %d write calls, want 0", n.writes)
	}
	peak2 := ctl.stop()
	phases[0].peakMiB, phases[2].peakMiB = peak1, peak2

	fmt.Printf("controller at scale: %d Ingresses in %d groups, %d LoadBalancer Services, %d pods (-scale %g; -scale 1 is the full size)\n",
		services, w.groups, services, services*podsPerService, *scale)
	fmt.Printf("  %-13s %10s %10s %8s %13s %10s\n", "phase", "time", "AWS calls", "writes", "health polls", "peak RSS")
	for _, p := range phases {
		mem := "-"
		if p.peakMiB > 0 {
			mem = fmt.Sprintf("%.0f MiB", p.peakMiB)
		}
		fmt.Printf("  %-13s %10s %10d %8d %13d %10s\n", p.name, p.took.Round(100*time.Millisecond), p.calls.all, p.calls.writes, p.calls.polls, mem)
	}
	fmt.Println("  (AWS calls: every call but DescribeTargetHealth; health polls: DescribeTargetHealth, which the controller repeats while targets are not healthy, and with no data plane here they never are)")
	b.ReportMetric(phases[0].took.Seconds(), "converge-s")
	b.ReportMetric(float64(phases[0].calls.all), "converge-calls")
	b.ReportMetric(phases[1].took.Seconds(), "change-s")
	b.ReportMetric(float64(phases[1].calls.all), "change-calls")
	b.ReportMetric(phases[2].took.Seconds(), "restart-s")
	b.ReportMetric(float64(phases[2].calls.writes), "restart-writes")
	b.ReportMetric(max(peak1, peak2), "peak-MiB")
}

// writeSpec prepares the controller process's configuration.
func (w *world) writeSpec() {
	b := w.b
	o := ctrlopts.ForTest(b, clusterName)
	o.AWSRegion = "us-east-1"
	o.ELBEndpoint = w.elb.URL
	w.spec = controllerSpec{
		Host: w.cfg.Host, CA: w.cfg.CAData, Cert: w.cfg.CertData, Key: w.cfg.KeyData,
		Options:   o,
		ReadyzURL: "http://" + o.HealthProbeBindAddr + "/readyz", MetricsURL: "http://" + o.MetricsBindAddr + "/metrics",
		CredentialsKey: "test", CredentialsValue: "test",
	}
	data, err := json.Marshal(w.spec)
	if err != nil {
		b.Fatal(err)
	}
	w.specPath = filepath.Join(b.TempDir(), "controller.json")
	if err := os.WriteFile(w.specPath, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// controllerProc is a running controller process.
type controllerProc struct {
	w    *world
	cmd  *exec.Cmd
	done chan error
	log  string // the process's stderr
}

// exited fails the benchmark with the end of the controller's log.
func (p *controllerProc) exited(err error) {
	tail, _ := os.ReadFile(p.log)
	if len(tail) > 4096 {
		tail = tail[len(tail)-4096:]
	}
	p.w.b.Fatalf("controller exited: %v; its log ends:\n%s", err, tail)
}

func (w *world) startController() *controllerProc {
	b := w.b
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+w.specPath)
	// The controller's log (its warnings, and the errors of reconciles
	// cut short when it stops) goes to a file, shown if it fails.
	logFile, err := os.CreateTemp(b.TempDir(), "controller-*.log")
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &controllerProc{w: w, cmd: cmd, done: make(chan error, 1), log: logFile.Name()}
	go func() { p.done <- cmd.Wait() }()
	b.Cleanup(func() { p.stop() })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(w.spec.ReadyzURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			p.exited(err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatal("controller not ready within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the controller and returns its peak resident memory (MiB).
func (p *controllerProc) stop() float64 {
	if p.cmd == nil {
		return 0
	}
	peak := peakRSS(p.cmd.Process.Pid)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	return peak
}

// peakRSS reads a process's VmHWM (MiB).
func peakRSS(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// settle waits until the controller has been quiet for settleQuiet (no
// AWS call but the target health polls, empty work queues) and returns
// when it last did something. Target groups whose targets are not all
// healthy are polled (DescribeTargetHealth) for as long as they are not,
// and with no data plane here they never are: those polls are the
// controller's steady state, not work left.
func (w *world) settle(p *controllerProc) time.Time {
	b := w.b
	last := time.Now()
	prevCalls := -1
	deadline := time.Now().Add(convergeDeadline)
	lastNote, noted := time.Now(), w.elb.Calls(b, false)
	for {
		all := w.elb.Calls(b, false)
		calls := 0
		for k, n := range all {
			if k != healthPolls {
				calls += n
			}
		}
		reconciles, depth := controllerMetrics(w.spec.MetricsURL)
		now := time.Now()
		if calls != prevCalls || depth > 0 {
			last = now
			prevCalls = calls
		}
		if now.Sub(lastNote) >= 30*time.Second {
			fmt.Fprintf(os.Stderr, "scale: settling: %.0f reconciles, queue depth %.0f, calls in the last 30 s: %s\n", reconciles, depth, topActions(noted, all, 10))
			lastNote, noted = now, all
		}
		if reconciles > 0 && now.Sub(last) >= settleQuiet {
			return last
		}
		if now.After(deadline) {
			b.Fatalf("controller still busy after %s", convergeDeadline)
		}
		select {
		case err := <-p.done:
			p.exited(err)
		default:
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// controllerMetrics sums the controller's reconciles and work queue
// depths from its /metrics.
func controllerMetrics(url string) (reconciles, depth float64) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "controller_runtime_reconcile_total{"):
			reconciles += v
		case strings.HasPrefix(line, "workqueue_depth{"):
			depth += v
		}
	}
	return reconciles, depth
}

// waitConverged polls cond every interval.
func (w *world) waitConverged(interval time.Duration, cond func() error) {
	deadline := time.Now().Add(convergeDeadline)
	var err error
	lastNote := time.Now()
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		if time.Since(lastNote) >= 30*time.Second {
			// Progress on a run that takes minutes.
			fmt.Fprintf(os.Stderr, "scale: waiting: %v\n", err)
			lastNote = time.Now()
		}
		time.Sleep(interval)
	}
	w.b.Fatalf("not converged within %s: %v", convergeDeadline, err)
}

// converged checks that every Service and Ingress has its load balancer's
// name in its status and every target group all its targets (and, with
// path set, that the first group's load balancer has a rule for it).
func (w *world) converged(path string) error {
	ctx := context.Background()
	var svcs corev1.ServiceList
	if err := w.c.List(ctx, &svcs, client.InNamespace(namespace)); err != nil {
		return err
	}
	n := 0
	for _, s := range svcs.Items {
		if len(s.Status.LoadBalancer.Ingress) > 0 && s.Status.LoadBalancer.Ingress[0].Hostname != "" {
			n++
		}
	}
	if n != w.services {
		return fmt.Errorf("%d of %d Services have a load balancer", n, w.services)
	}
	var ings networking.IngressList
	if err := w.c.List(ctx, &ings, client.InNamespace(namespace)); err != nil {
		return err
	}
	n = 0
	for _, i := range ings.Items {
		if len(i.Status.LoadBalancer.Ingress) > 0 && i.Status.LoadBalancer.Ingress[0].Hostname != "" {
			n++
		}
	}
	if n != w.services {
		return fmt.Errorf("%d of %d Ingresses have a load balancer", n, w.services)
	}
	snap, err := w.elb.Server.Store().Snapshot()
	if err != nil {
		return err
	}
	var lbs [2]int
	for _, lb := range snap.LoadBalancers {
		switch lb.Type {
		case "network":
			lbs[0]++
		case "application":
			lbs[1]++
		}
	}
	if lbs[0] != w.services || lbs[1] != w.groups {
		return fmt.Errorf("%d NLBs and %d ALBs, want %d and %d", lbs[0], lbs[1], w.services, w.groups)
	}
	targets := 0
	for arn := range snap.TargetGroups {
		targets += len(snap.TargetsOf(arn))
	}
	if want := 2 * w.services * podsPerService; targets != want {
		return fmt.Errorf("%d targets registered, want %d", targets, want)
	}
	if path != "" {
		found := false
		for _, r := range snap.Rules {
			for _, c := range r.Conditions {
				if c.PathPatternConfig != nil && containsPrefix(c.PathPatternConfig.Values, path) {
					found = true
				}
			}
		}
		if !found {
			return fmt.Errorf("no rule for %s yet", path)
		}
	}
	return nil
}

func containsPrefix(vs []string, p string) bool {
	for _, v := range vs {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// calls counts the AWS calls of a phase.
type calls struct {
	all    int // every call but the health polls
	writes int // calls that change something
	polls  int // DescribeTargetHealth
}

func (c calls) String() string {
	return fmt.Sprintf("%d AWS calls, %d writes, %d health polls", c.all, c.writes, c.polls)
}

// diffCalls counts the AWS calls made between two readings.
func diffCalls(before, after map[string]int) calls {
	var c calls
	for k, n := range after {
		d := n - before[k]
		if k == healthPolls {
			c.polls += d
			continue
		}
		c.all += d
		action := k[strings.IndexByte(k, '/')+1:]
		if !strings.HasPrefix(action, "Describe") && !strings.HasPrefix(action, "List") && !strings.HasPrefix(action, "Get") {
			c.writes += d
		}
	}
	return c
}

// topActions lists the most frequent actions between two readings.
func topActions(before, after map[string]int, n int) string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			all = append(all, kv{k, d})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].k < all[j].k })
	var parts []string
	for i, e := range all {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.n))
	}
	return strings.Join(parts, ", ")
}

// createObjects creates the namespace, the IngressClass, three nodes, the
// Services with their pods and EndpointSlices, and the Ingresses.
func (w *world) createObjects() {
	b := w.b
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))
	must(w.c.Create(ctx, &networking.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}}))
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	for i, z := range zones {
		ctrltest.Node(b, w.c, "node-"+z[len(z)-1:], z, fmt.Sprintf("i-0%016x", i+1), nil)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := w.createService(ctx, i, zones); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range w.services {
		work <- i
	}
	close(work)
	wg.Wait()
	must(firstErr)
}

// podIP is pod j's address: the three private subnets of the local VPC in
// turn (10.0.128.0/19, 10.0.160.0/19, 10.0.192.0/19).
func podIP(j int) netip.Addr {
	subnet := j % 3
	off := j/3 + 16
	return netip.AddrFrom4([4]byte{10, 0, byte(128 + 32*subnet + off/256), byte(off % 256)})
}

// createService creates Service i (an NLB with IP targets), its pods and
// EndpointSlice, and Ingress i (in group i/10) routing to it.
func (w *world) createService(ctx context.Context, i int, zones []string) error {
	app := fmt.Sprintf("app-%04d", i)
	class := "service.k8s.aws/nlb"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app, Annotations: map[string]string{
			"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
		}},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: &class,
			Selector:          map[string]string{"app": app},
			Ports:             []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	if err := w.c.Create(ctx, svc); err != nil {
		return fmt.Errorf("service %s: %w", app, err)
	}
	var eps []discoveryv1.Endpoint
	yes, no := true, false
	for k := range podsPerService {
		j := i*podsPerService + k
		zone := zones[j%3]
		node := "node-" + zone[len(zone)-1:]
		ip := podIP(j)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("%s-%d", app, k), Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
				Name: "app", Image: "echo-basic", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}}},
		}
		if err := w.c.Create(ctx, pod); err != nil {
			return fmt.Errorf("pod %s: %w", pod.Name, err)
		}
		now := metav1.Now()
		pod.Status = corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip.String(), PodIPs: []corev1.PodIP{{IP: ip.String()}},
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			},
		}
		if err := w.c.Status().Update(ctx, pod); err != nil {
			return fmt.Errorf("pod %s status: %w", pod.Name, err)
		}
		eps = append(eps, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &yes, Serving: &yes, Terminating: &no},
			NodeName:   &node,
			Zone:       &zone,
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: namespace, Name: pod.Name, UID: pod.UID},
		})
	}
	port, proto, portName := int32(8080), corev1.ProtocolTCP, "http"
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app + "-scale",
			Labels: map[string]string{discoveryv1.LabelServiceName: app, discoveryv1.LabelManagedBy: "elbow-scale"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port, Protocol: &proto}},
	}
	if err := w.c.Create(ctx, slice); err != nil {
		return fmt.Errorf("endpointslice %s: %w", app, err)
	}
	ing := ingressFor(i, "")
	if err := w.c.Create(ctx, ing); err != nil {
		return fmt.Errorf("ingress %s: %w", ing.Name, err)
	}
	return nil
}

// ingressFor is Ingress i: host app-i.example.com, path / (and extra, if
// set) to Service app-i, in group i/10.
func ingressFor(i int, extra string) *networking.Ingress {
	app := fmt.Sprintf("app-%04d", i)
	class := "alb"
	pt := networking.PathTypePrefix
	path := func(p string) networking.HTTPIngressPath {
		return networking.HTTPIngressPath{Path: p, PathType: &pt, Backend: networking.IngressBackend{
			Service: &networking.IngressServiceBackend{Name: app, Port: networking.ServiceBackendPort{Number: 80}},
		}}
	}
	paths := []networking.HTTPIngressPath{path("/")}
	if extra != "" {
		paths = append([]networking.HTTPIngressPath{path(extra)}, paths...)
	}
	return &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: app, Annotations: map[string]string{
			"alb.ingress.kubernetes.io/group.name":  fmt.Sprintf("group-%03d", i/ingressesPerGrp),
			"alb.ingress.kubernetes.io/group.order": strconv.Itoa(i%ingressesPerGrp + 1),
			"alb.ingress.kubernetes.io/target-type": "ip",
		}},
		Spec: networking.IngressSpec{IngressClassName: &class, Rules: []networking.IngressRule{{
			Host:             app + ".example.com",
			IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{Paths: paths}},
		}}},
	}
}

// addPath adds the path /extra to Ingress 0.
func (w *world) addPath() {
	ctx := context.Background()
	cur := &networking.Ingress{}
	if err := w.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "app-0000"}, cur); err != nil {
		w.b.Fatal(err)
	}
	cur.Spec = ingressFor(0, "/extra").Spec
	if err := w.c.Update(ctx, cur); err != nil {
		w.b.Fatal(err)
	}
}
