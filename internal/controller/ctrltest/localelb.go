package ctrltest

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/acm"
	"github.com/elbowlb/elbow/internal/elb/alb"
	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/ec2"
	"github.com/elbowlb/elbow/internal/elb/elbv2"
	"github.com/elbowlb/elbow/internal/elb/health"
	"github.com/elbowlb/elbow/internal/elb/nlb"
	"github.com/elbowlb/elbow/internal/elb/shield"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/elb/sts"
	"github.com/elbowlb/elbow/internal/elb/tagging"
	"github.com/elbowlb/elbow/internal/elb/waf"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Credentials the local ELB of the tests accepts.
const (
	AccessKeyID     = "AKIDCONTROLLERTEST"
	SecretAccessKey = "controller-test-secret"
)

// LocalELB is a whole local ELB in the test process: every AWS service on
// one SigV4-checked endpoint, the health checker, and the ALB and NLB data
// planes following the state.
type LocalELB struct {
	Store *state.Store
	Facts *facts.Facts
	// Config points SDK clients at the endpoint.
	Config aws.Config
	URL    string
	// Registry holds the endpoint's request metrics.
	Registry *prometheus.Registry

	ELBV2 *elbv2sdk.Client
	EC2   *ec2sdk.Client
	ACM   *acmsdk.Client
}

// StartLocalELB starts a local ELB on the default local cloud of cluster
// (edit changes the facts before they are created) and stops it when the
// test ends.
func StartLocalELB(t testing.TB, cluster string, edit func(*facts.Facts)) *LocalELB {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	f := facts.Default(facts.DefaultRegion, cluster)
	if edit != nil {
		edit(f)
	}
	if err := ec2.Bootstrap(ctx, st, f); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	// Load balancer addresses from a random point of the pool, so that
	// tests running at once in other processes (each with a store of its
	// own) do not get the same address and ports.
	start := netip.AddrFrom4([4]byte{127, 77, byte(64 + rand.IntN(190)), 1})
	if err := st.Update(ctx, func(tx *state.Tx) error {
		return tx.PutMeta("loopback.next."+state.LoadBalancerPool.String(), []byte(start.String()))
	}); err != nil {
		t.Fatalf("address pool: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addrs := vpcaddr.Default()
	checker := health.New(health.Config{Addresses: addrs, Logger: log})
	elbSvc := elbv2.New(elbv2.Config{Store: st, Health: checker, ProvisioningDelay: -1, Logger: log, ReapInterval: 200 * time.Millisecond})
	reg := prometheus.NewRegistry()
	h, err := api.NewHandler(api.Config{
		Region:      facts.DefaultRegion,
		Credentials: map[string]string{AccessKeyID: SecretAccessKey},
		Services: []api.Service{
			elbSvc.API(), ec2.New(ec2.Config{Store: st}).API(), acm.New(acm.Config{Store: st}).API(),
			sts.New(facts.DefaultAccountID).API(), waf.New(waf.Config{Store: st}).API(), shield.New().API(), tagging.New(st).API(),
		},
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		t.Fatalf("api handler: %v", err)
	}
	srv := httptest.NewServer(h)
	albPlane := alb.New(alb.Config{Addresses: addrs, Health: checker, Logger: log})
	nlbPlane, err := nlb.New(nlb.Config{Addresses: addrs, Health: checker, Logger: log})
	if err != nil {
		t.Fatalf("nlb: %v", err)
	}
	changes, unsubscribe := st.Subscribe()
	apply := func() {
		snap, err := st.Snapshot()
		if err != nil {
			t.Logf("local ELB snapshot: %v", err)
			return
		}
		checker.Sync(snap)
		albPlane.Apply(snap)
		nlbPlane.Apply(snap)
	}
	apply()
	done := make(chan struct{}, 3)
	go func() {
		defer func() { done <- struct{}{} }()
		for range changes {
			apply()
		}
	}()
	go func() { defer func() { done <- struct{}{} }(); checker.Run(ctx) }()
	go func() { defer func() { done <- struct{}{} }(); elbSvc.Run(ctx) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		unsubscribe()
		for i := 0; i < 3; i++ {
			<-done
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = albPlane.Close(cctx)
		_ = nlbPlane.Close(cctx)
		_ = st.Close()
	})
	cfg := aws.Config{
		Region:           facts.DefaultRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 3,
		HTTPClient:       srv.Client(),
	}
	return &LocalELB{
		Store: st, Facts: f, Config: cfg, URL: srv.URL, Registry: reg,
		ELBV2: elbv2sdk.NewFromConfig(cfg), EC2: ec2sdk.NewFromConfig(cfg), ACM: acmsdk.NewFromConfig(cfg),
	}
}

// Calls returns the requests served so far, by "service/action", for
// actions that write (not Describe*, List*, Get*) when writes is set, else
// for every action.
func (e *LocalELB) Calls(t testing.TB, writes bool) map[string]int {
	t.Helper()
	mfs, err := e.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "elbow_elb_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var svc, action string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "service":
					svc = l.GetValue()
				case "action":
					action = l.GetValue()
				}
			}
			if writes && (strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "List") || strings.HasPrefix(action, "Get")) {
				continue
			}
			out[svc+"/"+action] += int(m.GetCounter().GetValue())
		}
	}
	return out
}
