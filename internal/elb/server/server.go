// Package server assembles the local ELB process (`elbow elb`): the state
// store, the local cloud's resources (bootstrapped from facts), every AWS
// service on one SigV4-checked endpoint, the health checker, the ALB and
// NLB data planes, the background work of ELBv2, an optional DNS server
// for load balancer names and an optional /metrics endpoint.
//
// New opens everything and binds the listening sockets, so addresses are
// known before Run; Run serves until its context ends, then shuts down
// gracefully. Data planes and the checker receive the state's snapshots
// after every committed change (Store.Subscribe + Store.Snapshot).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/elbowlb/elbow/internal/awsauthz"
	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/console"
	"github.com/elbowlb/elbow/internal/elb/dataplane/alb"
	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/dataplane/nlb"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/elb/service/shield"
	"github.com/elbowlb/elbow/internal/elb/service/sts"
	"github.com/elbowlb/elbow/internal/elb/service/tagging"
	"github.com/elbowlb/elbow/internal/elb/service/waf"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/iampolicy"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// The development credentials, refused on addresses other than loopback.
const (
	DefaultAccessKeyID     = "test"
	DefaultSecretAccessKey = "test"
)

// Config configures a Server.
type Config struct {
	// Listen is the AWS API endpoint's address, e.g. 127.0.0.1:4566
	// (port 0 picks a free port; see Server.URL).
	Listen string
	// StateDir holds the state file (and, under s3/, the objects trust
	// store bundles are read from).
	StateDir string
	// Facts describe the local cloud created at first start; nil means
	// facts.Default(Region, ClusterName).
	Facts *facts.Facts
	// Region and ClusterName feed facts.Default when Facts is nil. With
	// Facts, Region must be empty or equal to Facts.Region.
	Region      string
	ClusterName string
	// AccessKeyID and SecretAccessKey are the only credentials accepted;
	// empty means the development default test/test, which is refused
	// when Listen is not a loopback address.
	AccessKeyID     string
	SecretAccessKey string
	// DNSListen, when set, serves DNS (UDP and TCP) there: A records for
	// load balancer DNS names.
	DNSListen string
	// MetricsListen, when set, serves /metrics (Prometheus) and /healthz
	// there.
	MetricsListen string
	// ConsoleListen, when set, serves the web console there
	// (docs/console.md). Off loopback it needs credentials other than the
	// development default, and browsers give them (HTTP Basic).
	ConsoleListen string
	// Logger receives the process's logs; nil discards.
	Logger *slog.Logger
	// Registry receives every component's metrics; nil makes a new one
	// (with the Go and process collectors).
	Registry *prometheus.Registry
	// ProvisioningDelay is how long new load balancers stay provisioning
	// (elbv2.Config.ProvisioningDelay: 0 means the default, negative
	// means active at once).
	ProvisioningDelay time.Duration
	// AutoProvisionCertificates issues, on first use, ACM certificates
	// that listeners name and ACM does not hold (elbv2.Config.AutoProvision).
	AutoProvisionCertificates bool
	// AutoProvisionReferences creates, on first use, every cloud resource
	// a request names and the local cloud lacks, logging a warning for
	// each (internal/elb/service/autoprovision): subnets, security groups and
	// Elastic IPs that CreateLoadBalancer, SetSubnets, SetSecurityGroups
	// or EC2's Describe calls name, certificates that listeners or ACM's
	// reads name (as AutoProvisionCertificates does), and web ACLs that
	// AssociateWebACL names. docs/local-elb.md, "Auto-provisioned
	// references".
	AutoProvisionReferences bool
	// NoDataPlanes leaves the ALB and NLB data planes and the health
	// checker off: an API-only server.
	NoDataPlanes bool
	// AccessLogDir is where ALB access logs go (empty: StateDir/access-logs).
	AccessLogDir string
	// Throttle makes the API answer AWS's throttling errors (Throttling,
	// RequestLimitExceeded, ThrottlingException) for the calls a rule
	// matches once its token bucket is empty; SetThrottle changes them
	// while serving.
	Throttle []api.ThrottleRule
	// Limits are the ELBv2 quotas; zero fields take AWS's defaults (raise
	// one as an AWS quota increase would).
	Limits elbv2.Limits
	// StateCheckTimeout bounds the verification of the state file at start
	// (state.Options.CheckTimeout; 0: state.DefaultCheckTimeout).
	StateCheckTimeout time.Duration
	// IAMPolicy, when set, decides every request signed with AccessKeyID
	// as IAM would (elbow elb --iam-policy): refused requests get AWS's
	// access-denied answer and are logged (awsauthz.DeniedMessage).
	IAMPolicy *iampolicy.Policy
	// Principals are credentials accepted besides AccessKeyID's, each
	// with the policy that decides its requests.
	Principals []Principal
}

// Principal is a caller of the local ELB with credentials of its own and
// its IAM policy (nil: every request allowed).
type Principal struct {
	// Name goes into the caller's ARN in denials, arn:aws:iam::ACCOUNT:user/NAME.
	Name                         string
	AccessKeyID, SecretAccessKey string
	Policy                       *iampolicy.Policy
}

// Server is the running local ELB.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *state.Store
	facts    *facts.Facts
	addrs    vpcaddr.Map
	elbv2    *elbv2.Service
	checker  *health.Checker
	albPlane *alb.Plane
	nlbPlane *nlb.Plane
	registry *prometheus.Registry

	api       *api.Handler
	apiLn     net.Listener
	apiSrv    *http.Server
	metricsLn net.Listener
	metrics   *http.Server
	dns       *dnsServer
	control   *control

	console    *console.Console
	consoleLn  net.Listener
	consoleSrv *http.Server

	mu      sync.Mutex
	running bool
	closed  bool
}

// SetThrottle replaces the API's throttle rules (Config.Throttle) while
// serving.
func (s *Server) SetThrottle(rules []api.ThrottleRule) { s.api.SetThrottle(rules) }

// New opens the state, creates the local cloud's resources the facts
// describe and the state lacks, builds every service and binds the
// listening sockets. Run serves; Close releases everything if Run is
// never called.
func New(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("a state directory is required")
	}
	if cfg.Listen == "" {
		return nil, errors.New("a listen address is required")
	}
	if err := checkCredentials(&cfg); err != nil {
		return nil, err
	}
	f := cfg.Facts
	if f == nil {
		f = facts.Default(cfg.Region, cfg.ClusterName)
	} else if cfg.Region != "" && cfg.Region != f.Region {
		return nil, fmt.Errorf("region %s differs from the facts' region %s", cfg.Region, f.Region)
	}
	addrs, err := f.Addresses()
	if err != nil {
		return nil, fmt.Errorf("facts: address map: %w", err)
	}
	s := &Server{cfg: cfg, log: log, facts: f, addrs: addrs, registry: cfg.Registry}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	ctx := context.Background()
	s.store, err = state.OpenWith(ctx, cfg.StateDir, state.Options{CheckTimeout: cfg.StateCheckTimeout, Logger: log.With("component", "state")})
	if err != nil {
		return nil, err
	}
	if s.control, err = listenControl(s.store, log.With("component", "control")); err != nil {
		return nil, err
	}
	if err := ec2.Bootstrap(ctx, s.store, f); err != nil {
		return nil, fmt.Errorf("bootstrap the local cloud: %w", err)
	}
	if err := acm.Bootstrap(ctx, s.store, f); err != nil {
		return nil, fmt.Errorf("bootstrap the local cloud: %w", err)
	}
	if !cfg.NoDataPlanes {
		s.checker = health.New(health.Config{Addresses: addrs, Logger: log.With("component", "health"), Registerer: s.registry})
	}
	var hs health.Source
	if s.checker != nil {
		hs = s.checker
	}
	refs := cfg.AutoProvisionReferences
	s.elbv2 = elbv2.New(elbv2.Config{
		Store: s.store, Region: f.Region, AccountID: f.AccountID, Health: hs,
		Logger: log.With("service", "elasticloadbalancing"), ProvisioningDelay: cfg.ProvisioningDelay,
		AutoProvision: cfg.AutoProvisionCertificates, AutoProvisionReferences: refs, ClusterName: f.ClusterName,
		Objects: os.DirFS(filepath.Join(cfg.StateDir, "s3")),
		Limits:  cfg.Limits,
	})
	services := []api.Service{
		s.elbv2.API(),
		ec2.New(ec2.Config{Store: s.store, Region: f.Region, AccountID: f.AccountID, Zones: f.Zones(), Logger: log.With("service", "ec2"),
			AutoProvisionReferences: refs, ClusterName: f.ClusterName}).API(),
		acm.New(acm.Config{Store: s.store, Region: f.Region, AccountID: f.AccountID, Logger: log.With("service", "acm"),
			AutoProvisionReferences: refs, AutoProvisionDomain: acm.AutoProvisionDomain(s.elbv2.DNSDomain())}).API(),
		waf.New(waf.Config{Store: s.store, Region: f.Region, AccountID: f.AccountID, Logger: log.With("service", "wafv2"), AutoProvisionReferences: refs}).API(),
		shield.New().API(),
		tagging.New(s.store).API(),
		sts.New(f.AccountID).API(),
	}
	creds, authorize, err := s.principals(f)
	if err != nil {
		return nil, err
	}
	handler, err := api.NewHandler(api.Config{
		Region:      f.Region,
		Credentials: creds,
		Services:    services,
		Logger:      log.With("component", "api"),
		Registerer:  s.registry,
		Throttle:    cfg.Throttle,
		Authorize:   authorize,
	})
	if err != nil {
		return nil, fmt.Errorf("API handler: %w", err)
	}
	s.api = handler
	if !cfg.NoDataPlanes {
		logDir := cfg.AccessLogDir
		if logDir == "" {
			logDir = filepath.Join(cfg.StateDir, "access-logs")
		}
		s.albPlane = alb.New(alb.Config{Addresses: addrs, Health: s.checker, Logger: log.With("component", "alb"), Registerer: s.registry, AccessLogDir: logDir})
		if s.nlbPlane, err = nlb.New(nlb.Config{Addresses: addrs, Health: s.checker, Logger: log.With("component", "nlb"), Registerer: s.registry}); err != nil {
			return nil, fmt.Errorf("NLB data plane: %w", err)
		}
	}
	if s.apiLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	s.apiSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	if cfg.MetricsListen != "" {
		if s.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("listen %s: %w", cfg.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", s.healthz)
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	if cfg.ConsoleListen != "" {
		if err := s.newConsole(); err != nil {
			return nil, err
		}
	}
	if cfg.DNSListen != "" {
		if s.dns, err = newDNSServer(cfg.DNSListen, s.elbv2.DNSDomain(), log.With("component", "dns")); err != nil {
			return nil, err
		}
		if s.nlbPlane != nil {
			s.dns.serving = s.nlbPlane.ServingZones
		}
	}
	ok = true
	return s, nil
}

// healthz answers 200 "ok" while the server is sound, and 503 with the
// reason once its state cannot be read (the store refuses writes then).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := s.store.Err(); err != nil {
		http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// newConsole builds the console on the data planes' counters and the
// health checker, and binds its socket.
func (s *Server) newConsole() error {
	cfg := console.Config{
		Metrics: s.registry, Addresses: s.addrs, Logger: s.log.With("component", "console"),
		RequireAuth: !loopbackAddr(s.cfg.ConsoleListen), AccessKeyID: s.cfg.AccessKeyID, SecretAccessKey: s.cfg.SecretAccessKey,
	}
	if s.checker != nil {
		cfg.Health = s.checker
	}
	if s.albPlane != nil {
		cfg.Activity = append(cfg.Activity, s.albPlane.InFlight)
	}
	if s.nlbPlane != nil {
		cfg.Activity = append(cfg.Activity, s.nlbPlane.OpenFlows)
	}
	s.console = console.New(cfg)
	ln, err := net.Listen("tcp", s.cfg.ConsoleListen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.ConsoleListen, err)
	}
	s.consoleLn = ln
	s.consoleSrv = &http.Server{Handler: s.console.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	return nil
}

// principals returns the accepted credentials and, when a policy applies
// to some of them, the API's authorization hook.
func (s *Server) principals(f *facts.Facts) (map[string]string, func(context.Context, api.RequestInfo, any) (string, error), error) {
	all := append([]Principal{{Name: "elbow", AccessKeyID: s.cfg.AccessKeyID, SecretAccessKey: s.cfg.SecretAccessKey, Policy: s.cfg.IAMPolicy}}, s.cfg.Principals...)
	creds := map[string]string{}
	byKey := map[string]*awsauthz.Authorizer{}
	tags := func(_ context.Context, resource string) (map[string]string, error) {
		out := map[string]string{}
		err := s.store.View(func(tx *state.Tx) error {
			ts, ok, err := state.Get(tx, state.Tags, resource)
			if ok {
				for _, t := range ts.Tags {
					out[t.Key] = t.Value
				}
			}
			return err
		})
		return out, err
	}
	for _, p := range all {
		if p.AccessKeyID == "" || p.SecretAccessKey == "" {
			return nil, nil, fmt.Errorf("principal %q: an access key ID and a secret access key are required", p.Name)
		}
		if _, dup := creds[p.AccessKeyID]; dup {
			return nil, nil, fmt.Errorf("principal %q: access key ID %s is used twice", p.Name, p.AccessKeyID)
		}
		creds[p.AccessKeyID] = p.SecretAccessKey
		if p.Policy == nil {
			continue
		}
		a, err := awsauthz.New(awsauthz.Config{
			Policy: p.Policy, Region: f.Region, AccountID: f.AccountID, Tags: tags,
			Principal: "arn:aws:iam::" + f.AccountID + ":user/" + p.Name,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("IAM policy of %q: %w", p.Name, err)
		}
		byKey[p.AccessKeyID] = a
	}
	if len(byKey) == 0 {
		return creds, nil, nil
	}
	log := s.log.With("component", "iam")
	return creds, func(ctx context.Context, info api.RequestInfo, in any) (string, error) {
		a := byKey[info.AccessKeyID]
		if a == nil {
			return "", nil
		}
		d, err := a.Authorize(ctx, info.Service, info.Action, in)
		if err != nil || d == nil {
			return "", err
		}
		log.Warn(awsauthz.DeniedMessage, "principal", d.Principal, "action", d.Action, "resource", d.Resource, "explicit", d.Explicit, "statement", d.Statement, "request_id", info.RequestID)
		return d.Message(), nil
	}, nil
}

// checkCredentials fills the development credentials when none are given
// and refuses them on an address other than loopback (the API's or the
// console's).
func checkCredentials(cfg *Config) error {
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return errors.New("an access key ID and a secret access key go together")
	}
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.SecretAccessKey = DefaultAccessKeyID, DefaultSecretAccessKey
	}
	if cfg.AccessKeyID == DefaultAccessKeyID && cfg.SecretAccessKey == DefaultSecretAccessKey {
		if !loopbackAddr(cfg.Listen) {
			return fmt.Errorf("the development credentials test/test are refused on %s, which is not a loopback address: set an access key ID and secret access key", cfg.Listen)
		}
		if cfg.ConsoleListen != "" && !loopbackAddr(cfg.ConsoleListen) {
			return fmt.Errorf("the console on %s, which is not a loopback address, needs credentials other than the development test/test (browsers give them to open it): set an access key ID and secret access key", cfg.ConsoleListen)
		}
	}
	return nil
}

// loopbackAddr reports whether a listen address only binds loopback.
func loopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// URL returns the AWS API endpoint, e.g. http://127.0.0.1:4566.
func (s *Server) URL() string { return "http://" + s.apiLn.Addr().String() }

// Addr returns the API endpoint's address.
func (s *Server) Addr() net.Addr { return s.apiLn.Addr() }

// MetricsAddr returns the metrics endpoint's address, nil without one.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// ConsoleURL returns the console's address, e.g. http://127.0.0.1:9090/,
// empty without one.
func (s *Server) ConsoleURL() string {
	if s.consoleLn == nil {
		return ""
	}
	return "http://" + s.consoleLn.Addr().String() + "/"
}

// DNSAddr returns the DNS server's (UDP) address, nil without one.
func (s *Server) DNSAddr() net.Addr {
	if s.dns == nil {
		return nil
	}
	return s.dns.Addr()
}

// Store returns the server's state.
func (s *Server) Store() *state.Store { return s.store }

// Facts returns the facts the local cloud was bootstrapped from.
func (s *Server) Facts() *facts.Facts { return s.facts }

// Credentials returns the access key ID and secret the endpoint accepts.
func (s *Server) Credentials() (accessKeyID, secretAccessKey string) {
	return s.cfg.AccessKeyID, s.cfg.SecretAccessKey
}

// Run serves until ctx ends, then stops accepting requests, lets those in
// flight finish (up to ten seconds), stops the data planes and closes the
// state. It returns the first serving error, nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running || s.closed {
		s.mu.Unlock()
		return errors.New("server: Run called twice or after Close")
	}
	s.running = true
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 8)
	// serving: the API and metrics servers, which end at shutdown;
	// workers: the background work, which ends with ctx and must end
	// before the data planes close.
	var serving, workers sync.WaitGroup
	goRun := func(wg *sync.WaitGroup, fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	goRun(&serving, func() {
		if err := s.apiSrv.Serve(s.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("API server: %w", err)
		}
	})
	goRun(&serving, func() {
		if err := s.control.serve(); err != nil {
			errc <- err
		}
	})
	if s.metrics != nil {
		goRun(&serving, func() {
			if err := s.metrics.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics server: %w", err)
			}
		})
	}
	if s.consoleSrv != nil {
		goRun(&serving, func() {
			if err := s.consoleSrv.Serve(s.consoleLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("console: %w", err)
			}
		})
	}
	var consumers []consumer
	if s.console != nil {
		consumers = append(consumers, consumer{"console", s.console.Apply})
		goRun(&workers, func() { s.console.Run(ctx) })
	}
	if s.dns != nil {
		s.dns.start(errc)
		consumers = append(consumers, consumer{"dns", s.dns.apply})
	}
	if s.checker != nil {
		consumers = append(consumers, consumer{"health", s.checker.Sync})
		goRun(&workers, func() { s.checker.Run(ctx) })
	}
	if s.albPlane != nil {
		consumers = append(consumers, consumer{"alb", s.albPlane.Apply})
	}
	if s.nlbPlane != nil {
		consumers = append(consumers, consumer{"nlb", s.nlbPlane.Apply})
	}
	goRun(&workers, func() { s.elbv2.Run(ctx) })
	goRun(&workers, func() { distribute(ctx, s.store, s.log, consumers) })
	s.log.Info("elbow elb serving", "api", s.URL(), "region", s.facts.Region, "stateDir", s.cfg.StateDir,
		"dns", addrString(s.DNSAddr()), "metrics", addrString(s.MetricsAddr()), "console", s.ConsoleURL(), "control", s.control.path, "dataPlanes", !s.cfg.NoDataPlanes)
	if s.cfg.AutoProvisionReferences {
		s.log.Warn("auto-provisioning references: subnets, security groups, Elastic IPs, certificates and web ACLs that requests name and the local cloud lacks are created on first use (AWS would refuse them)")
	} else if s.cfg.AutoProvisionCertificates {
		s.log.Warn("auto-provisioning certificates: ACM certificates that listeners name and ACM does not hold are issued by the local CA on first use (AWS would refuse them)")
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("serving failed; shutting down", "error", runErr)
	}
	cancel()
	workers.Wait()
	s.shutdown()
	serving.Wait()
	if err := s.closeStore(); err != nil && runErr == nil {
		runErr = err
	}
	s.log.Info("elbow elb stopped")
	return runErr
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// shutdown stops the servers and data planes.
func (s *Server) shutdown() {
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.apiSrv.Shutdown(sctx); err != nil {
		s.log.Warn("API server shutdown", "error", err)
	}
	if s.metrics != nil {
		_ = s.metrics.Shutdown(sctx)
	}
	if s.consoleSrv != nil {
		_ = s.consoleSrv.Shutdown(sctx)
	}
	s.control.shutdown(sctx)
	if s.dns != nil {
		s.dns.stop()
	}
	if s.albPlane != nil {
		if err := s.albPlane.Close(sctx); err != nil {
			s.log.Warn("ALB data plane shutdown", "error", err)
		}
	}
	if s.nlbPlane != nil {
		if err := s.nlbPlane.Close(sctx); err != nil {
			s.log.Warn("NLB data plane shutdown", "error", err)
		}
	}
}

func (s *Server) closeStore() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.store == nil {
		return nil
	}
	return s.store.Close()
}

// Close releases a server that was never Run (Run closes everything
// itself when it returns).
func (s *Server) Close() error {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if running {
		return nil
	}
	if s.apiLn != nil {
		s.apiLn.Close()
	}
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
	if s.consoleLn != nil {
		s.consoleLn.Close()
	}
	if s.control != nil {
		s.control.close()
	}
	if s.dns != nil {
		s.dns.closeSockets()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.albPlane != nil {
		_ = s.albPlane.Close(sctx)
	}
	if s.nlbPlane != nil {
		_ = s.nlbPlane.Close(sctx)
	}
	return s.closeStore()
}
