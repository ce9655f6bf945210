// Package elbtest starts a whole local ELB (`elbow elb`) in the test's
// process, for tests that need the real thing: every AWS service on one
// SigV4-checked endpoint, the health checker and the ALB and NLB data
// planes, on a free loopback port with a temporary state directory.
//
//	env := elbtest.Start(t)
//	out, err := env.ELBv2.CreateLoadBalancer(ctx, &elasticloadbalancingv2.CreateLoadBalancerInput{
//		Name: aws.String("web"), Subnets: env.PublicSubnets()[:2]})
//
// The server stops, and the state directory goes, when the test ends.
// Every server hands out load balancer addresses from the same pool
// (127.77.0.1 first), so servers of tests running at once share addresses:
// give listeners ports that are free on the load balancer's address (bind
// ADDRESS:0 and use the port) rather than fixed ones.
// Load balancers are active at once (no provisioning delay) unless
// Options.ProvisioningDelay says otherwise. Other SDK clients are made
// from env.Config (for example wafv2.NewFromConfig(env.Config)).
package elbtest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/facts"
)

// Options change what Start starts. The zero Options is a full server
// with the default facts (cluster name "test").
type Options struct {
	// Facts describe the local cloud; nil means facts.Default for
	// us-east-1 with ClusterName.
	Facts *facts.Facts
	// ClusterName tags the default facts' subnets
	// (kubernetes.io/cluster/NAME=shared); "test" when empty.
	ClusterName string
	// ProvisioningDelay is how long new load balancers are provisioning;
	// zero means none (active at once).
	ProvisioningDelay time.Duration
	// AutoProvisionCertificates issues ACM certificates that listeners
	// name and ACM does not hold.
	AutoProvisionCertificates bool
	// AutoProvisionReferences creates every reference requests name and
	// the local cloud lacks (server.Config.AutoProvisionReferences).
	AutoProvisionReferences bool
	// NoDataPlanes starts the APIs only: no health checks, no listeners.
	NoDataPlanes bool
	// DNS starts the DNS server on a free loopback port (Env.DNSAddr).
	DNS bool
	// Metrics starts /metrics on a free loopback port (Env.MetricsURL).
	Metrics bool
	// Console starts the web console on a free loopback port
	// (Env.ConsoleURL).
	Console bool
	// StateDir reuses a state directory (to test restarts); empty means
	// a new temporary one.
	StateDir string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Throttle are the API's throttle rules (server.Config.Throttle);
	// Env.Server.SetThrottle changes them later.
	Throttle []api.ThrottleRule
	// Limits are the ELBv2 quotas (server.Config.Limits).
	Limits elbv2.Limits
	// Principals are more credentials with their IAM policies
	// (server.Config.Principals); Env.Config keeps the unrestricted
	// test/test.
	Principals []server.Principal
}

// Env is a running local ELB and clients for it.
type Env struct {
	// Server is the running server.
	Server *server.Server
	// URL is the AWS endpoint (http://127.0.0.1:PORT).
	URL string
	// Config points any aws-sdk-go-v2 client at the endpoint: region
	// us-east-1 (or the facts'), credentials test/test, the SDK's
	// standard retries.
	Config aws.Config
	// Clients of the main services.
	ELBv2 *elasticloadbalancingv2.Client
	EC2   *ec2.Client
	ACM   *acm.Client
	// Facts are the local cloud's facts.
	Facts *facts.Facts
	// StateDir is the state directory.
	StateDir string
	// DNSAddr, MetricsURL and ConsoleURL are set when Options asked for
	// them.
	DNSAddr    string
	MetricsURL string
	ConsoleURL string

	stop func()
}

// Start starts a local ELB with the zero Options.
func Start(t testing.TB) *Env { return StartWith(t, Options{}) }

// StartWith starts a local ELB as opts say. It fails the test when the
// server cannot start.
func StartWith(t testing.TB, opts Options) *Env {
	t.Helper()
	dir := opts.StateDir
	if dir == "" {
		dir = t.TempDir()
	}
	cluster := opts.ClusterName
	if cluster == "" {
		cluster = "test"
	}
	delay := opts.ProvisioningDelay
	if delay == 0 {
		delay = -1
	}
	cfg := server.Config{
		Listen: "127.0.0.1:0", StateDir: dir, Facts: opts.Facts, ClusterName: cluster,
		ProvisioningDelay: delay, AutoProvisionCertificates: opts.AutoProvisionCertificates,
		AutoProvisionReferences: opts.AutoProvisionReferences, NoDataPlanes: opts.NoDataPlanes, Logger: opts.Logger,
		Throttle: opts.Throttle, Limits: opts.Limits, Principals: opts.Principals,
	}
	if opts.DNS {
		cfg.DNSListen = "127.0.0.1:0"
	}
	if opts.Metrics {
		cfg.MetricsListen = "127.0.0.1:0"
	}
	if opts.Console {
		cfg.ConsoleListen = "127.0.0.1:0"
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("elbtest: start the local ELB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("elbtest: local ELB: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	key, secret := srv.Credentials()
	e := &Env{
		Server: srv, URL: srv.URL(), ConsoleURL: srv.ConsoleURL(), Facts: srv.Facts(), StateDir: dir, stop: stop,
		Config: aws.Config{
			Region:           srv.Facts().Region,
			Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
			BaseEndpoint:     aws.String(srv.URL()),
			RetryMaxAttempts: 3,
		},
	}
	if a := srv.DNSAddr(); a != nil {
		e.DNSAddr = a.String()
	}
	if a := srv.MetricsAddr(); a != nil {
		e.MetricsURL = "http://" + a.String() + "/metrics"
	}
	e.ELBv2 = elasticloadbalancingv2.NewFromConfig(e.Config)
	e.EC2 = ec2.NewFromConfig(e.Config)
	e.ACM = acm.NewFromConfig(e.Config)
	return e
}

// Stop stops the server now (it is stopped at the end of the test
// anyway), for example to start another on the same StateDir.
func (e *Env) Stop() { e.stop() }

// PublicSubnets returns the IDs of the facts' public subnets, one per zone
// in zone order (the default facts have three).
func (e *Env) PublicSubnets() []string { return e.subnets(true) }

// PrivateSubnets returns the IDs of the facts' private subnets.
func (e *Env) PrivateSubnets() []string { return e.subnets(false) }

func (e *Env) subnets(public bool) []string {
	var out []string
	for _, s := range e.Facts.Subnets {
		if s.Public == public {
			out = append(out, s.ID)
		}
	}
	return out
}

// FreePort returns a TCP port free on a host address, such as a load
// balancer's zone address, for a listener (the test fails when there is
// none).
func FreePort(t testing.TB, host string) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("elbtest: a free port on %s: %v", host, err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// VpcID returns the first VPC of the facts.
func (e *Env) VpcID() string { return e.Facts.VPCs[0].ID }
