package ctrltest

import (
	"bufio"
	"context"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// LocalELB is a whole local ELB (elbtest) with its request metrics on.
type LocalELB struct {
	*elbtest.Env
}

// StartLocalELB starts a local ELB on the default local cloud of cluster
// (edit changes the facts before they are created) and stops it when the
// test ends.
func StartLocalELB(t testing.TB, cluster string, edit func(*facts.Facts)) *LocalELB {
	t.Helper()
	return StartLocalELBWith(t, cluster, edit, elbtest.Options{})
}

// StartLocalELBWith is StartLocalELB with more options (principals with
// IAM policies, a logger); their Facts, ClusterName and Metrics are set
// here.
func StartLocalELBWith(t testing.TB, cluster string, edit func(*facts.Facts), opts elbtest.Options) *LocalELB {
	t.Helper()
	f := facts.Default(facts.DefaultRegion, cluster)
	if edit != nil {
		edit(f)
	}
	opts.Facts, opts.ClusterName, opts.Metrics = f, cluster, true
	env := elbtest.StartWith(t, opts)
	// Load balancer addresses from a random point of the pool, so that
	// tests running at once in other processes (each with a store of its
	// own) do not get the same address and ports.
	start := netip.AddrFrom4([4]byte{127, 77, byte(64 + rand.IntN(190)), 1})
	if err := env.Server.Store().Update(context.Background(), func(tx *state.Tx) error {
		return state.SeedLoopback(tx, state.LoadBalancerPool, start)
	}); err != nil {
		t.Fatalf("address pool: %v", err)
	}
	return &LocalELB{Env: env}
}

// Calls returns the requests served so far, by "service/action", for
// actions that write (not Describe*, List*, Get*) when writes is set, else
// for every action. It reads the server's /metrics.
func (e *LocalELB) Calls(t testing.TB, writes bool) map[string]int {
	t.Helper()
	resp, err := http.Get(e.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "elbow_elb_api_requests_total{") {
			continue
		}
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, "elbow_elb_api_requests_total{"), "} ")
		if !ok {
			continue
		}
		var svc, action string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "service":
				svc = v
			case "action":
				action = v
			}
		}
		if writes && (strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "List") || strings.HasPrefix(action, "Get")) {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		out[svc+"/"+action] += int(n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
