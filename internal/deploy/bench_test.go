package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/deploy"
	elbv2svc "github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate/manifests"
)

const (
	benchIngresses = 100
	benchPaths     = 5 // per Ingress: 500 rules
)

// benchGroup is an IngressGroup of benchIngresses Ingresses, each with
// benchPaths paths to its own Service, on one HTTP listener. extra adds a
// path to the Ingress of that index (-1: none).
func benchGroup(extra int) string {
	var b strings.Builder
	for i := range benchIngresses {
		fmt.Fprintf(&b, "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: app-%03d\n  namespace: bench\n  annotations:\n", i)
		fmt.Fprintf(&b, "    alb.ingress.kubernetes.io/group.name: bench\n    alb.ingress.kubernetes.io/group.order: %q\n    alb.ingress.kubernetes.io/target-type: ip\n", fmt.Sprint(i+1))
		fmt.Fprintf(&b, "spec:\n  ingressClassName: alb\n  rules:\n  - host: app-%03d.example.com\n    http:\n      paths:\n", i)
		n := benchPaths
		if i == extra {
			n++
		}
		for p := range n {
			fmt.Fprintf(&b, "      - path: /p%d\n        pathType: Prefix\n        backend:\n          service:\n            name: svc-%03d\n            port:\n              number: 80\n", p, i)
		}
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%03d\n  namespace: bench\nspec:\n  selector:\n    app: app-%03d\n  ports:\n  - port: 80\n    targetPort: 8080\n", i, i)
	}
	return b.String()
}

func (e *env) benchStack(b *testing.B, extra int) *stack.Stack {
	b.Helper()
	objs := &manifests.Objects{}
	if err := objs.Add("bench.yaml", []byte(benchGroup(extra))); err != nil {
		b.Fatal(err)
	}
	st := e.stacksOf(b, objs)
	want := benchIngresses * benchPaths
	if extra >= 0 {
		want++
	}
	if len(st) != 1 {
		b.Fatalf("%d stacks, want 1", len(st))
	}
	if len(st[0].ListenerRules) != want {
		b.Fatalf("%d rules, want %d", len(st[0].ListenerRules), want)
	}
	return st[0]
}

// convergence is one measured deploy.
type convergence struct {
	calls, writes int
	took          time.Duration
}

func (e *env) converge(b *testing.B, d *deploy.Deployer, s *stack.Stack) convergence {
	b.Helper()
	e.calls.take()
	start := time.Now()
	if err := d.Deploy(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	all, writes := e.calls.take()
	return convergence{len(all), len(writes), took}
}

// BenchmarkConverge deploys a group of 100 Ingresses with 500 rules (100
// target groups, one listener) against a local ELB whose quotas are
// raised as an AWS quota increase would: from nothing, after one change
// (a path added to one Ingress), and with no change. It reports calls,
// writes and time per deploy and, as the peer measured in the same run,
// the ratio of each to the deploy from nothing (what rebuilding the group
// would cost).
func BenchmarkConverge(b *testing.B) {
	e := newEnvLimits(b, elbv2svc.Limits{RulesPerALB: 1000, TargetGroupsPerALB: 200})
	d := e.deployer(b)
	base := e.benchStack(b, -1)
	var fromNothing convergence
	report := func(b *testing.B, c convergence, n int) {
		b.ReportMetric(float64(c.calls)/float64(n), "calls/op")
		b.ReportMetric(float64(c.writes)/float64(n), "writes/op")
		if fromNothing.calls > 0 {
			b.ReportMetric(float64(c.calls)/float64(n)/float64(fromNothing.calls), "calls-vs-from-nothing")
			b.ReportMetric(float64(c.took.Nanoseconds())/float64(n)/float64(fromNothing.took.Nanoseconds()), "time-vs-from-nothing")
		}
	}
	b.Run("from-nothing", func(b *testing.B) {
		var sum convergence
		for range b.N {
			c := e.converge(b, d, e.benchStack(b, -1))
			sum.calls, sum.writes, sum.took = sum.calls+c.calls, sum.writes+c.writes, sum.took+c.took
			b.StopTimer()
			if err := d.Deploy(context.Background(), empty(base)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		fromNothing = convergence{sum.calls / b.N, sum.writes / b.N, sum.took / time.Duration(b.N)}
		b.Logf("from nothing: %d calls (%d writes) in %s", fromNothing.calls, fromNothing.writes, fromNothing.took.Round(time.Millisecond))
		report(b, sum, b.N)
	})
	b.Run("one-change", func(b *testing.B) {
		b.StopTimer()
		e.converge(b, d, e.benchStack(b, -1))
		var sum convergence
		for i := range b.N {
			extra := -1
			if i%2 == 0 {
				extra = 42
			}
			b.StartTimer()
			c := e.converge(b, d, e.benchStack(b, extra))
			b.StopTimer()
			sum.calls, sum.writes, sum.took = sum.calls+c.calls, sum.writes+c.writes, sum.took+c.took
		}
		b.Logf("one change: %d calls (%d writes) in %s per deploy", sum.calls/b.N, sum.writes/b.N, (sum.took / time.Duration(b.N)).Round(time.Microsecond))
		report(b, sum, b.N)
	})
	b.Run("no-change", func(b *testing.B) {
		b.StopTimer()
		e.converge(b, d, e.benchStack(b, -1))
		var sum convergence
		for range b.N {
			b.StartTimer()
			c := e.converge(b, d, e.benchStack(b, -1))
			b.StopTimer()
			if c.writes != 0 {
				b.Fatalf("a deploy with no change wrote %d times", c.writes)
			}
			sum.calls, sum.took = sum.calls+c.calls, sum.took+c.took
		}
		b.Logf("no change: %d calls (0 writes) in %s per deploy", sum.calls/b.N, (sum.took / time.Duration(b.N)).Round(time.Microsecond))
		report(b, sum, b.N)
	})
}
