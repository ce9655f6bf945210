// Package devenv is `elbow dev`: a whole local cluster in which the
// manifests users write for EKS work unedited.
//
// Run starts, in order and with a progress line each: a real control
// plane (etcd, kube-apiserver, kube-controller-manager, from bin/), the
// CRDs (elbow's and the Gateway API's), the local ELB (auto-provisioning
// the references manifests name), the nodes (registered as EC2 instances
// of the local ELB) with the node agent that schedules pods and runs each
// container as the built-in echo server, the node proxy (NodePorts and
// health check node ports), and the controller. It then applies the
// files, waits until every load balancer they produce serves, prints how
// to reach each one, writes STATE/endpoints.json, and keeps running until
// its context ends; then everything stops, in reverse order.
//
// Everything persists under the state directory: a restart comes back
// with the same objects, load balancers and addresses.
package devenv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/devenv/agent"
	"github.com/elbowlb/elbow/internal/devenv/nodeproxy"
	"github.com/elbowlb/elbow/internal/devenv/podnet"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/iampolicy"
	"github.com/elbowlb/elbow/internal/impersonate"
	"github.com/elbowlb/elbow/internal/kubeproc"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Defaults of Config.
const (
	DefaultNodes       = 3
	DefaultClusterName = "elbow"
	DefaultWait        = 5 * time.Minute
	// MaxSlot bounds Config.Slot.
	MaxSlot = 15
)

// Config configures a dev environment.
type Config struct {
	// StateDir keeps the cluster and the load balancers across restarts.
	StateDir string
	// BinDir holds etcd, kube-apiserver and kube-controller-manager.
	BinDir string
	// Files are the manifests to apply (files and directories).
	Files []string
	// Nodes is the number of nodes (DefaultNodes when 0).
	Nodes int
	// ClusterName and Region name the cluster and the local cloud.
	ClusterName string
	Region      string
	// Slot sets the loopback addresses apart, so that several dev
	// environments run side by side: VPC addresses map to
	// 127.(10+Slot).0.0/16, load balancers and Elastic IPs get addresses
	// from 127.77.(16·Slot).1 and 127.78.(16·Slot).1 on. It is fixed at
	// the first start of a state directory.
	Slot int
	// Wait bounds the wait for the load balancers to serve (DefaultWait
	// when 0).
	Wait time.Duration
	// Out receives progress lines and the report.
	Out io.Writer
	// Logger receives the components' logs.
	Logger *slog.Logger
	// Processes runs the local ELB and the controller (when Controller is
	// ControllerElbow) as child processes of the elbow binary, started
	// again whenever they exit (processes.go), instead of in this process.
	Processes bool
	// Controller is ControllerElbow (the default) or ControllerNone.
	Controller string
	// ControllerRBAC, when set, is a manifest file holding one
	// ServiceAccount and the RBAC objects that grant it permissions (the
	// chart's rendering): they are applied before the controller starts,
	// and the controller then runs as that ServiceAccount (impersonated),
	// with leader election in its namespace, as it runs in a cluster. Each
	// request the API server forbids it is logged (ForbiddenMessage).
	ControllerRBAC string
	// IAMPolicy, when set, is an IAM policy file the local ELB enforces on
	// every request (elbow elb --iam-policy); each denial is logged.
	IAMPolicy string
}

// ForbiddenMessage is the log message of a request the API server
// refused the controller run as Config.ControllerRBAC's ServiceAccount.
const ForbiddenMessage = "the API server forbade a request of the controller's ServiceAccount"

// Env is a running dev environment, handed to Config callers through
// Endpoints.
type Env struct {
	cfg  Config
	out  io.Writer
	log  *slog.Logger
	rest *rest.Config
	kube kubernetes.Interface
	aws  aws.Config
	// elb is where the local ELB serves, in this process or a child.
	elb localELB
	// procs are the child processes (Config.Processes).
	procs children
	nodes []agent.Node
	cloud *facts.Facts
	addrs vpcaddr.Map
	ports ports
	// rbac and account are Config.ControllerRBAC's objects and
	// ServiceAccount; policy is Config.IAMPolicy's.
	rbac    []Object
	account types.NamespacedName
	policy  *iampolicy.Policy
	// stops run in reverse order at shutdown.
	mu     sync.Mutex
	stops  []stopper
	warned map[string]bool
}

// localELB is where the local ELB serves and the credentials it takes,
// whether it runs in this process or as a child (Config.Processes).
type localELB struct {
	url, dnsAddr, consoleURL     string
	accessKeyID, secretAccessKey string
}

// URL returns the AWS endpoint.
func (l localELB) URL() string { return l.url }

// DNSAddr returns the DNS server's address for load balancer names.
func (l localELB) DNSAddr() string { return l.dnsAddr }

// ConsoleURL returns the web console's address.
func (l localELB) ConsoleURL() string { return l.consoleURL }

// Credentials returns the development credentials the local ELB accepts.
func (l localELB) Credentials() (accessKeyID, secretAccessKey string) {
	return l.accessKeyID, l.secretAccessKey
}

type stopper struct {
	name string
	stop func()
}

// ports are the addresses chosen at the first start and kept.
type ports struct {
	Slot    int `json:"slot"`
	ELB     int `json:"elbPort"`
	DNS     int `json:"dnsPort"`
	Webhook int `json:"webhookPort"`
	Console int `json:"consolePort"`
}

// Run runs the environment until ctx ends. It returns an error when a
// component fails to start, or when the files cannot be applied; load
// balancers that do not serve in time are reported, not fatal.
func Run(ctx context.Context, cfg Config) error {
	if cfg.StateDir == "" {
		return errors.New("a state directory is required")
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = DefaultNodes
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = DefaultClusterName
	}
	if cfg.Region == "" {
		cfg.Region = facts.DefaultRegion
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	switch cfg.Controller {
	case "":
		cfg.Controller = ControllerElbow
	case ControllerElbow, ControllerNone:
	default:
		return fmt.Errorf("--controller %q: want %s or %s", cfg.Controller, ControllerElbow, ControllerNone)
	}
	if cfg.Slot < 0 || cfg.Slot > MaxSlot {
		return fmt.Errorf("--slot %d: want 0 to %d", cfg.Slot, MaxSlot)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	cfg.StateDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	objs, err := LoadObjects(cfg.Files)
	if err != nil {
		return err
	}
	if cfg.Processes && (cfg.ControllerRBAC != "" || cfg.IAMPolicy != "") {
		return errors.New("--processes runs the local ELB and the controller as elbow elb and elbow controller, without --controller-rbac or --iam-policy: give one or the other")
	}
	e := &Env{cfg: cfg, out: cfg.Out, log: cfg.Logger}
	if cfg.ControllerRBAC != "" {
		if e.rbac, e.account, err = loadRBAC(cfg.ControllerRBAC); err != nil {
			return err
		}
	}
	if cfg.IAMPolicy != "" {
		b, err := os.ReadFile(cfg.IAMPolicy)
		if err != nil {
			return fmt.Errorf("--iam-policy: %w", err)
		}
		if e.policy, err = iampolicy.Parse(b); err != nil {
			return fmt.Errorf("--iam-policy %s: %w", cfg.IAMPolicy, err)
		}
	}
	defer e.stopAll()
	if err := e.start(ctx); err != nil {
		return err
	}
	if cfg.Controller == ControllerNone {
		ca, err := e.prepareWebhooks()
		if err != nil {
			return err
		}
		rep := e.baseReport()
		rep.Pending = "a controller's webhook server at " + e.webhookURL()
		if err := e.writeEndpoints(rep); err != nil {
			return err
		}
		e.printSettings(rep.Settings)
		if err := e.awaitController(ctx, ca); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	e.progress("applying %d objects from %s", len(objs), describeFiles(cfg.Files))
	a, err := newApplier(e.rest, e.warn)
	if err != nil {
		return err
	}
	applied, applyErr := a.Apply(ctx, objs)
	if applyErr != nil {
		fmt.Fprintf(e.out, "elbow dev: %v\n", applyErr)
	}
	e.progress("applied %d objects; waiting (up to %s) for their load balancers to serve", len(applied), cfg.Wait)
	rep, err := e.waitServing(ctx, applied)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := e.writeEndpoints(rep); err != nil {
		return err
	}
	e.printReport(rep)
	fmt.Fprintf(e.out, "\nconsole: %s\nkubectl: export KUBECONFIG=%s\nendpoints: %s\nlogs: %s\nelbow dev is running; press Ctrl-C to stop.\n",
		e.elb.ConsoleURL(), filepath.Join(dir, "kubeconfig"), filepath.Join(dir, "endpoints.json"), filepath.Join(dir, "logs"))
	<-ctx.Done()
	fmt.Fprintln(e.out, "elbow dev: stopping")
	return nil
}

func (e *Env) progress(format string, args ...any) {
	fmt.Fprintf(e.out, "elbow dev: "+format+"\n", args...)
}

// warn prints an API server warning once.
func (e *Env) warn(text string) {
	e.mu.Lock()
	if e.warned == nil {
		e.warned = map[string]bool{}
	}
	seen := e.warned[text]
	e.warned[text] = true
	e.mu.Unlock()
	if !seen {
		e.progress("warning from the API server: %s", text)
	}
}

func (e *Env) onStop(name string, stop func()) {
	e.mu.Lock()
	e.stops = append(e.stops, stopper{name, stop})
	e.mu.Unlock()
}

// stopAll stops the components in reverse order of their start.
func (e *Env) stopAll() {
	e.mu.Lock()
	stops := e.stops
	e.stops = nil
	e.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		e.log.Info("stopping", "component", stops[i].name)
		stops[i].stop()
	}
}

// goRun runs a component until the environment stops; its stop cancels
// it and waits for it to return.
func (e *Env) goRun(ctx context.Context, name string, run func(context.Context) error, failed chan<- error) {
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(cctx); err != nil && cctx.Err() == nil {
			e.log.Error("component failed", "component", name, "error", err)
			select {
			case failed <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
	e.onStop(name, func() { cancel(); <-done })
}

func (e *Env) start(ctx context.Context) error {
	cfg := e.cfg
	var err error
	if e.ports, err = loadPorts(filepath.Join(cfg.StateDir, "dev.json"), cfg.Slot); err != nil {
		return err
	}
	if e.ports.Slot != cfg.Slot {
		return fmt.Errorf("--slot %d: the state in %s was made with --slot %d, which stays", cfg.Slot, cfg.StateDir, e.ports.Slot)
	}

	t := time.Now()
	e.progress("starting etcd, kube-apiserver and kube-controller-manager (state %s)", cfg.StateDir)
	cp, err := kubeproc.Start(ctx, kubeproc.Config{
		BinDir: cfg.BinDir, DataDir: cfg.StateDir, ControllerManager: true,
		Logger: e.log.With("component", "kubeproc"),
	})
	if err != nil {
		return err
	}
	e.onStop("control plane", cp.Stop)
	e.rest = cp.REST
	if e.kube, err = kubernetes.NewForConfig(cp.REST); err != nil {
		return err
	}
	e.progress("control plane ready at %s in %s (kubeconfig %s)", cp.URL, since(t), cp.Kubeconfig)

	t = time.Now()
	n, err := e.installCRDs(ctx)
	if err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	e.progress("installed %d CRDs in %s", n, since(t))

	f := facts.Default(cfg.Region, cfg.ClusterName)
	e.cloud = f
	amap := fmt.Sprintf("10.0.0.0/16=127.%d.0.0/16", 10+cfg.Slot)
	f.AddressMap = &amap
	if e.addrs, err = f.Addresses(); err != nil {
		return err
	}
	if e.nodes, err = planNodes(f, cfg.Nodes); err != nil {
		return err
	}
	if err := withInstances(f, e.nodes); err != nil {
		return err
	}

	t = time.Now()
	failed := make(chan error, 8)
	e.procs.path = filepath.Join(cfg.StateDir, ProcessesFile)
	if cfg.Processes {
		if err := e.startELBProcess(ctx, f); err != nil {
			return fmt.Errorf("local ELB: %w", err)
		}
	} else {
		elbDir := filepath.Join(cfg.StateDir, "elb")
		first := !exists(elbDir)
		srv, err := server.New(server.Config{
			Listen:                  "127.0.0.1:" + strconv.Itoa(e.ports.ELB),
			DNSListen:               "127.0.0.1:" + strconv.Itoa(e.ports.DNS),
			ConsoleListen:           "127.0.0.1:" + strconv.Itoa(e.ports.Console),
			StateDir:                elbDir,
			Facts:                   f,
			Logger:                  e.log.With("component", "elb"),
			AutoProvisionReferences: true,
			Principals:              e.principals(),
		})
		if err != nil {
			return fmt.Errorf("local ELB: %w", err)
		}
		if first {
			if err := e.seedPools(ctx, srv.Store()); err != nil {
				srv.Close()
				return err
			}
		}
		e.goRun(ctx, "local ELB", srv.Run, failed)
		e.elb = localELB{url: srv.URL(), consoleURL: srv.ConsoleURL()}
		e.elb.accessKeyID, e.elb.secretAccessKey = srv.Credentials()
		if a := srv.DNSAddr(); a != nil {
			e.elb.dnsAddr = a.String()
		}
	}
	ak, sk := e.elb.Credentials()
	e.aws = aws.Config{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint: aws.String(e.elb.URL()),
	}
	e.progress("local ELB at %s (DNS for load balancer names at %s, console at %s) in %s", e.elb.URL(), e.elb.DNSAddr(), e.elb.ConsoleURL(), since(t))

	var names []string
	for _, nd := range e.nodes {
		names = append(names, fmt.Sprintf("%s (%s, %s, %s)", nd.Name, nd.Zone, nd.IP, nd.InstanceID))
	}
	enis := &podnet.Pool{EC2: ec2.NewFromConfig(e.aws), ClusterName: cfg.ClusterName, Logger: e.log.With("component", "podnet")}
	e.goRun(ctx, "node agent", func(ctx context.Context) error {
		return agent.Run(ctx, agent.Config{Client: e.kube, Nodes: e.nodes, Region: cfg.Region, Addrs: e.addrs, ENIs: enis, Logger: e.log.With("component", "agent"), DataDir: filepath.Join(cfg.StateDir, "agent")})
	}, failed)
	var pn []nodeproxy.Node
	for _, nd := range e.nodes {
		pn = append(pn, nodeproxy.Node{Name: nd.Name, IP: nd.IP})
	}
	e.goRun(ctx, "node proxy", func(ctx context.Context) error {
		return nodeproxy.Run(ctx, nodeproxy.Config{Client: e.kube, Nodes: pn, Addrs: e.addrs, Logger: e.log.With("component", "nodeproxy")})
	}, failed)
	e.progress("%d nodes with the node agent and node proxy:%s", len(e.nodes), joinLines(names))

	if cfg.Controller == ControllerElbow {
		t = time.Now()
		if e.rbac != nil {
			a, err := newApplier(e.rest, e.warn)
			if err != nil {
				return err
			}
			if _, err := a.Apply(ctx, e.rbac); err != nil {
				return fmt.Errorf("controller RBAC from %s: %w", cfg.ControllerRBAC, err)
			}
		}
		if cfg.Processes {
			if err := e.startControllerProcess(ctx, e.elb.URL()); err != nil {
				return fmt.Errorf("controller: %w", err)
			}
		} else if err := e.startController(ctx, e.elb.URL(), failed); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
		if err := e.installIngressClass(ctx); err != nil {
			return fmt.Errorf("IngressClass alb: %w", err)
		}
		e.progress("controller running (cluster %s, webhooks at %s) and the IngressClass alb in %s", cfg.ClusterName, e.webhookURL(), since(t))
	}
	select {
	case err := <-failed:
		return err
	default:
	}
	go func() {
		// A component that fails later is logged and reported once.
		select {
		case err := <-failed:
			fmt.Fprintf(e.out, "elbow dev: %v (see %s)\n", err, filepath.Join(cfg.StateDir, "logs"))
		case <-ctx.Done():
		}
	}()
	return nil
}

// seedPools starts the load balancer and Elastic IP address pools of a
// new state at the slot's place.
func (e *Env) seedPools(ctx context.Context, st *state.Store) error {
	return st.Update(ctx, func(tx *state.Tx) error {
		for _, pool := range []netip.Prefix{state.LoadBalancerPool, state.ElasticIPPool} {
			b := pool.Addr().As4()
			b[2] = byte(16 * e.cfg.Slot)
			b[3] = 1
			if err := state.SeedLoopback(tx, pool, netip.AddrFrom4(b)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Env) startController(ctx context.Context, elbURL string, failed chan<- error) error {
	o := controller.DefaultOptions()
	o.ClusterName = e.cfg.ClusterName
	o.AWSRegion = e.cfg.Region
	o.ELBEndpoint = elbURL
	o.Credentials = e.aws.Credentials
	if e.policy != nil {
		o.Credentials = credentials.NewStaticCredentialsProvider(controllerAccessKeyID, controllerSecretAccessKey, "")
	}
	o.AutoProvisionReferences = true
	o.EnableLeaderElection = false
	o.MetricsBindAddr = "0"
	o.HealthProbeBindAddr = "0"
	o.WebhookBindHost = "127.0.0.1"
	o.WebhookBindPort = e.ports.Webhook
	o.WebhookCertDir = e.webhookCertDir()
	o.WebhookURL = e.webhookURL()
	// Facts change only through this environment: read them often, so
	// that references the local ELB auto-provisions are seen soon.
	o.FactsRefresh = 30 * time.Second
	log := e.log.With("component", "controller")
	deps, err := controller.NewDeps(ctx, o, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	cfg := e.rest
	if e.rbac != nil {
		// The webhook configurations are the chart's, not the
		// controller's to write: register them as the administrator, then
		// run the controller as its ServiceAccount, as in a cluster.
		if err := controller.PrepareWebhooks(ctx, e.rest, o, log); err != nil {
			return err
		}
		o.WebhookURL = ""
		o.EnableLeaderElection = true
		o.LeaderElectionNamespace = e.account.Namespace
		cfg = impersonate.ServiceAccount(e.rest, e.account.Namespace, e.account.Name, func(f impersonate.Forbidden) {
			log.Error(ForbiddenMessage, "serviceAccount", e.account.String(), "method", f.Method, "path", f.Path)
		})
	}
	e.goRun(ctx, "controller", func(ctx context.Context) error {
		return controller.Run(ctx, cfg, o, deps)
	}, failed)
	return waitTLS(ctx, fmt.Sprintf("127.0.0.1:%d", e.ports.Webhook), time.Minute)
}

// waitTLS waits until a TLS server answers a handshake at addr (the
// webhook server: the API server calls it for every pod and Service), for
// up to limit (no limit when 0).
func waitTLS(ctx context.Context, addr string, limit time.Duration) error {
	return waitDial(ctx, addr, limit, func() (io.Closer, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only a readiness check
	})
}

// waitTCP waits until something accepts TCP connections at addr.
func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	return waitDial(ctx, addr, limit, func() (io.Closer, error) { return net.DialTimeout("tcp", addr, time.Second) })
}

// waitDial retries dial every 100 ms until it succeeds, limit passes (no
// limit when 0) or ctx ends.
func waitDial(ctx context.Context, addr string, limit time.Duration, dial func() (io.Closer, error)) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := dial()
		if err == nil {
			c.Close()
			return nil
		}
		if limit > 0 && time.Now().After(deadline) {
			return fmt.Errorf("nothing listens at %s after %s: %w", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ports that are not well-known ones are chosen from a range of its own
// per slot, below the system's ephemeral ports (32768 and up on Linux),
// from which outgoing connections draw theirs: a free ephemeral port seen
// at the start may be some connection's by the time the server binds it,
// seconds later.
const (
	portBase     = 24000
	portsPerSlot = 64
)

// loadPorts returns the ports recorded at the first start, choosing them
// when there are none: the well-known ones (ELB 4566, DNS 5353, webhooks
// 9443, console 4567) when free and the slot is 0, else free ones of the
// slot's range.
func loadPorts(path string, slot int) (ports, error) {
	var p ports
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &p); err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		for name, port := range map[string]int{"local ELB": p.ELB, "webhooks": p.Webhook, "console": p.Console} {
			if port != 0 && !tcpFree(port) {
				return p, fmt.Errorf("port %d (%s, recorded in %s) is in use: is another elbow dev running on this state dir?", port, name, path)
			}
		}
		if p.Console != 0 {
			return p, nil
		}
		// A state dir from before the console: its port is chosen now.
		slot = p.Slot
	case !errors.Is(err, os.ErrNotExist):
		return p, err
	default:
		p.Slot = slot
	}
	next := portBase + slot*portsPerSlot
	end := next + portsPerSlot
	taken := func(port int) bool { return port == p.ELB || port == p.DNS || port == p.Webhook }
	pick := func(preferred int, udp bool) (int, error) {
		if slot == 0 && !taken(preferred) && tcpFree(preferred) && (!udp || udpFree(preferred)) {
			return preferred, nil
		}
		for next < end {
			port := next
			next++
			if !taken(port) && tcpFree(port) && (!udp || udpFree(port)) {
				return port, nil
			}
		}
		return 0, fmt.Errorf("no free port on 127.0.0.1 in %d-%d (slot %d)", portBase+slot*portsPerSlot, end-1, slot)
	}
	if p.ELB == 0 {
		if p.ELB, err = pick(4566, false); err != nil {
			return p, err
		}
		if p.DNS, err = pick(5353, true); err != nil {
			return p, err
		}
		if p.Webhook, err = pick(9443, false); err != nil {
			return p, err
		}
	}
	if p.Console, err = pick(4567, false); err != nil {
		return p, err
	}
	b, _ = json.MarshalIndent(p, "", "  ")
	return p, os.WriteFile(path, b, 0o600)
}

func tcpFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func udpFree(port int) bool {
	c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func joinLines(items []string) string {
	out := ""
	for _, it := range items {
		out += "\n    " + it
	}
	return out
}

func describeFiles(files []string) string {
	switch len(files) {
	case 0:
		return "no files"
	case 1:
		return files[0]
	}
	return fmt.Sprintf("%s and %d more", files[0], len(files)-1)
}

// The controller's own credentials with Config.IAMPolicy: the local ELB
// decides its requests by the policy, while elbow dev's checks and users'
// tools keep the endpoint's unrestricted development credentials (as an
// administrator's role next to the controller's on AWS).
const (
	controllerAccessKeyID     = "elbow-controller"
	controllerSecretAccessKey = "elbow-controller"
	// ControllerPrincipal names the controller in the local ELB's denials.
	ControllerPrincipal = "elbow-controller"
)

// principals are the local ELB's credentials besides the development
// ones: the controller's, with Config.IAMPolicy.
func (e *Env) principals() []server.Principal {
	if e.policy == nil {
		return nil
	}
	return []server.Principal{{
		Name: ControllerPrincipal, AccessKeyID: controllerAccessKeyID, SecretAccessKey: controllerSecretAccessKey, Policy: e.policy,
	}}
}

// loadRBAC reads Config.ControllerRBAC: RBAC objects and exactly one
// ServiceAccount, the controller's.
func loadRBAC(path string) ([]Object, types.NamespacedName, error) {
	objs, err := LoadObjects([]string{path})
	if err != nil {
		return nil, types.NamespacedName{}, fmt.Errorf("--controller-rbac: %w", err)
	}
	var accounts []types.NamespacedName
	for _, o := range objs {
		switch o.GroupVersionKind().Group {
		case "", "rbac.authorization.k8s.io":
		default:
			return nil, types.NamespacedName{}, fmt.Errorf("--controller-rbac %s: %s is not a ServiceAccount or an RBAC object", path, o.Ref())
		}
		switch o.GetKind() {
		case "ServiceAccount":
			if o.GetNamespace() == "" {
				return nil, types.NamespacedName{}, fmt.Errorf("--controller-rbac %s: %s has no namespace", path, o.Ref())
			}
			accounts = append(accounts, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
		case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
		default:
			return nil, types.NamespacedName{}, fmt.Errorf("--controller-rbac %s: %s is not a ServiceAccount or an RBAC object", path, o.Ref())
		}
	}
	if len(accounts) != 1 {
		return nil, types.NamespacedName{}, fmt.Errorf("--controller-rbac %s: %d ServiceAccounts, want exactly one (the controller's)", path, len(accounts))
	}
	return objs, accounts[0], nil
}
