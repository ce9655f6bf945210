// Package e2e drives `elbow dev` from the outside, as a user does: for
// every file in examples/ it starts `elbow dev -f FILE` (a real control
// plane, local ELB, nodes and controller), reads endpoints.json, sends
// real traffic through each load balancer and checks what the echo
// servers behind them saw, then stops it with SIGINT and checks that
// nothing is left running or bound.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elbowlb/elbow/internal/awsauthz"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/devenv"
)

var (
	elbowBin string // the elbow binary built for these tests
	binDir   string // etcd, kube-apiserver, kube-controller-manager, helm
	// rbacFile is the chart's ServiceAccount and RBAC, rendered by helm:
	// every elbow dev runs its controller as that ServiceAccount
	// (--controller-rbac), and its local ELB enforces iamPolicy on the
	// controller's requests (--iam-policy), as in a cluster on AWS.
	rbacFile  string
	iamPolicy string
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root := repoRoot()
	binDir = filepath.Join(root, "bin")
	tmp, err := os.MkdirTemp("", "elbow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	elbowBin = filepath.Join(tmp, "elbow")
	build := exec.Command("go", "build", "-o", elbowBin, "./cmd/elbow")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/elbow:", err)
		return 1
	}
	rbacFile = filepath.Join(tmp, "rbac.yaml")
	if err := renderRBAC(root, rbacFile); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	iamPolicy = filepath.Join(root, "docs", "install", "iam_policy.json")
	return m.Run()
}

// renderRBAC writes the chart's ServiceAccount and RBAC objects, as
// `helm install elbow charts/elbow -n kube-system` creates them.
func renderRBAC(root, out string) error {
	helm := filepath.Join(root, "bin", "helm")
	cmd := exec.Command(helm, "template", "elbow", filepath.Join(root, "charts", "elbow"), "--namespace", "kube-system",
		"--set", "clusterName="+devenv.DefaultClusterName,
		"--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s (run make tools): %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return os.WriteFile(out, b, 0o600)
}

// slots hands out address slots (devenv.Config.Slot) so that tests
// running at once do not share loopback addresses. Slot 0 (the
// well-known ports) is left to users.
var slots = func() chan int {
	c := make(chan int, devenv.MaxSlot)
	for i := 1; i <= devenv.MaxSlot; i++ {
		c <- i
	}
	return c
}()

// dev is a running `elbow dev`.
type dev struct {
	t     *testing.T
	dir   string
	slot  int
	files []string
	// args are more flags of elbow dev.
	args []string
	// processes runs the local ELB and the controller as child processes
	// (elbow dev --processes), with all their permissions: --processes
	// does not take --controller-rbac and --iam-policy.
	processes bool
	cmd       *exec.Cmd
	out       *lockedBuffer
	done      chan struct{}
	err       error
	rep       devenv.Report
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDev starts `elbow dev -f FILE…` on a new state directory and
// waits for its endpoints.json. The dev environment is stopped (and
// checked to leave nothing behind) when the test ends.
func startDev(t *testing.T, files ...string) *dev {
	t.Helper()
	return startDevArgs(t, nil, files...)
}

// startDevProcesses is startDev with the local ELB and the controller as
// child processes of elbow dev (--processes), which the chaos test kills.
func startDevProcesses(t *testing.T, files ...string) *dev {
	t.Helper()
	return startDevArgs(t, []string{"--processes"}, files...)
}

// startDevArgs is startDev with more flags.
func startDevArgs(t *testing.T, args []string, files ...string) *dev {
	t.Helper()
	slot := <-slots
	t.Cleanup(func() { slots <- slot })
	d := &dev{t: t, dir: t.TempDir(), slot: slot, files: files, args: args, processes: slices.Contains(args, "--processes")}
	d.start()
	t.Cleanup(func() { d.stop() })
	return d
}

// start runs elbow dev on d's state directory and waits for endpoints.json.
func (d *dev) start() {
	t := d.t
	t.Helper()
	_ = os.Remove(filepath.Join(d.dir, "endpoints.json"))
	args := []string{"dev", "--state-dir", d.dir, "--slot", strconv.Itoa(d.slot), "--wait", "4m", "--log-level", "debug"}
	if !d.processes {
		args = append(args, "--controller-rbac", rbacFile, "--iam-policy", iamPolicy)
	}
	for _, f := range d.files {
		args = append(args, "-f", filepath.Join(repoRoot(), f))
	}
	args = append(args, d.args...)
	d.cmd = exec.Command(elbowBin, args...)
	d.cmd.Env = append(os.Environ(), "ELBOW_BIN_DIR="+binDir)
	d.out = &lockedBuffer{}
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(7 * time.Minute)
	for {
		b, err := os.ReadFile(filepath.Join(d.dir, "endpoints.json"))
		if err == nil {
			if err := json.Unmarshal(b, &d.rep); err != nil {
				d.fatalf("endpoints.json: %v", err)
			}
			t.Logf("elbow dev -f %s:\n%s", strings.Join(d.files, " -f "), d.out.String())
			return
		}
		select {
		case <-d.done:
			d.fatalf("elbow dev exited before writing endpoints.json: %v", d.err)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.fatalf("no endpoints.json after 7 minutes")
		}
	}
}

// fatalf fails the test with elbow dev's output and the end of its log.
func (d *dev) fatalf(format string, args ...any) {
	d.t.Helper()
	log, _ := os.ReadFile(filepath.Join(d.dir, "logs", "elbow.log"))
	if len(log) > 20000 {
		log = log[len(log)-20000:]
	}
	d.t.Fatalf("%s\n--- elbow dev output:\n%s\n--- end of logs/elbow.log:\n%s", fmt.Sprintf(format, args...), d.out.String(), log)
}

// stop sends SIGINT and checks that elbow dev exits cleanly, that no
// process of the environment is left, and that the load balancers'
// addresses and the local ELB's port are free again.
func (d *dev) stop() {
	t := d.t
	t.Helper()
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
	default:
		_ = d.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-d.done:
		case <-time.After(90 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
			t.Errorf("elbow dev did not stop within 90 s of SIGINT\n%s", d.out.String())
		}
	}
	d.cmd = nil
	if d.err != nil {
		t.Errorf("elbow dev exited with %v after SIGINT\n%s", d.err, d.out.String())
	}
	d.checkPermissions()
	if procs := processesUsing(d.dir); len(procs) > 0 {
		t.Errorf("processes left running after elbow dev stopped: %s", strings.Join(procs, "; "))
	}
	var busy []string
	check := func(network, addr string) {
		if !free(network, addr) {
			busy = append(busy, network+" "+addr)
		}
	}
	if ep := strings.TrimPrefix(d.rep.ELBEndpoint, "http://"); ep != "" {
		check("tcp", ep)
	}
	for _, lb := range d.rep.LoadBalancers {
		for _, a := range lb.Addresses {
			for _, l := range lb.Listeners {
				addr := net.JoinHostPort(a.IP, strconv.Itoa(int(l.Port)))
				if l.Protocol != "UDP" {
					check("tcp", addr)
				}
				if l.Protocol == "UDP" || l.Protocol == "TCP_UDP" {
					check("udp", addr)
				}
			}
		}
	}
	if len(busy) > 0 {
		t.Errorf("still bound after elbow dev stopped: %s", strings.Join(busy, ", "))
	}
}

// checkPermissions fails the test for every request the API server
// forbade the controller (a rule the chart's RBAC lacks) and every call
// the local ELB refused by the IAM policy (a statement
// docs/install/iam_policy.json lacks), from elbow dev's log.
func (d *dev) checkPermissions() {
	d.t.Helper()
	log, err := os.ReadFile(filepath.Join(d.dir, "logs", "elbow.log"))
	if err != nil {
		d.t.Errorf("elbow dev's log: %v", err)
		return
	}
	var found []string
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, devenv.ForbiddenMessage) || strings.Contains(line, awsauthz.DeniedMessage) {
			found = append(found, line)
		}
	}
	if len(found) > 0 {
		if len(found) > 20 {
			found = append(found[:20], fmt.Sprintf("… and %d more", len(found)-20))
		}
		d.t.Errorf("the controller lacked permissions (chart RBAC or docs/install/iam_policy.json):\n%s", strings.Join(found, "\n"))
	}
}

// processesUsing lists the processes whose command line names dir.
func processesUsing(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " ")))
	}
	return out
}

func free(network, addr string) bool {
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// lbFor returns the load balancer made for an object ("Kind ns/name").
func (d *dev) lbFor(ref string) devenv.LoadBalancer {
	d.t.Helper()
	for _, lb := range d.rep.LoadBalancers {
		for _, o := range lb.Objects {
			if o.String() == ref {
				if !lb.Serving {
					d.fatalf("%s: load balancer %s is not serving: %v", ref, lb.Name, lb.Problems)
				}
				return lb
			}
		}
	}
	d.fatalf("no load balancer for %s in endpoints.json (not served: %+v)", ref, d.rep.NotServed)
	return devenv.LoadBalancer{}
}

// kube returns a client of the environment's cluster.
func (d *dev) kube() kubernetes.Interface {
	d.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", d.rep.Kubeconfig)
	if err != nil {
		d.t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

// objects returns a client of the environment's cluster that knows the
// controller's kinds (Gateway API, gateway.k8s.aws).
func (d *dev) objects() crclient.Client {
	d.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", d.rep.Kubeconfig)
	if err != nil {
		d.t.Fatal(err)
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		d.t.Fatal(err)
	}
	c, err := crclient.New(cfg, crclient.Options{Scheme: scheme})
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// awsConfig returns an AWS SDK configuration for the local ELB.
func (d *dev) awsConfig() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(d.rep.ELBEndpoint),
	}
}

// eventually retries f until it succeeds or the limit passes.
func eventually(t *testing.T, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", limit, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

var errNoAnswer = errors.New("no answer")
