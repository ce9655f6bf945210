package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/elbowlb/elbow/internal/devenv"
)

// The chaos test's bounds: how long components are killed for, how far
// apart kills and changes are, and how fast the traffic goes.
const (
	chaosFor        = 90 * time.Second
	chaosMinGap     = 6 * time.Second
	chaosMaxGap     = 12 * time.Second
	trafficInterval = 50 * time.Millisecond // per stream: at most 20 requests a second
	downLimit       = 60 * time.Second      // a killed local ELB must serve again within this
)

// request is one request of the traffic and what became of it.
type request struct {
	start, end time.Time
	err        error
}

// stream sends one request after another to one listener.
type stream struct {
	name string
	url  string
	host string

	mu   sync.Mutex
	reqs []request
}

func (s *stream) run(stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	c := &client{local: clientIP}
	tick := time.NewTicker(trafficInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		r := request{start: time.Now()}
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, r.err = c.get(rctx, s.url, s.host)
		cancel()
		r.end = time.Now()
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.mu.Unlock()
	}
}

// kill is a SIGKILL sent to a component.
type kill struct {
	component string
	pid       int
	at        time.Time
}

// TestChaos runs elbow dev with its local ELB and controller as child
// processes (--processes; with all their permissions, unlike the other
// end-to-end tests) on an ALB and an NLB example, sends bounded
// traffic through both, and for chaosFor kills the local ELB or the
// controller with SIGKILL at random moments (elbow dev starts them again,
// as a supervisor would) while the examples' objects change (tags
// annotations, replicas). Then: the cloud converges to what the objects
// say (each object's load balancer the one it had, tagged as annotated,
// its target group holding exactly the running pods), with no duplicate
// and, once the objects are deleted, nothing left. Every request is
// counted: answered; refused while the local ELB was down; lost in flight
// at a kill of the local ELB. Any other failure fails the test.
func TestChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ELBOW_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("ELBOW_CHAOS_SEED: %v", err)
		}
	}
	t.Logf("chaos seed %d (ELBOW_CHAOS_SEED=%d repeats the schedule)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	d := startDevProcesses(t, "examples/alb-ingress-minimal.yaml", "examples/nlb-ip-preserve-client-ip.yaml")
	alb := d.lbFor("Ingress default/my-app")
	nlb := d.lbFor("Service default/my-nlb-client-ip")
	albL := listener(t, alb, "HTTP", 80)
	nlbL := listener(t, nlb, "TCP", 8080)
	checkConsole(t, d, alb.ARN, nlb.ARN)
	elb := elbv2.NewFromConfig(d.awsConfig())
	ownedBefore := owned(t, d, elb)
	sort.Strings(ownedBefore)

	streams := []*stream{
		{name: "ALB", url: "http://" + servedAddr(t, alb, albL) + "/", host: "api.example.com"},
		{name: "NLB", url: "http://" + servedAddr(t, nlb, nlbL) + "/"},
	}
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	for _, s := range streams {
		traffic.Add(1)
		go s.run(stop, &traffic)
	}

	var kills []kill
	var changes []string
	tags := map[string][]string{} // object -> tags annotated
	replicas := map[string]int32{"my-app": 2, "client-ip-app": 2}
	end := time.Now().Add(chaosFor)
	for i := 0; time.Now().Before(end); i++ {
		time.Sleep(chaosMinGap + time.Duration(rng.Int64N(int64(chaosMaxGap-chaosMinGap))))
		// a change, then a kill a random moment later: mid-reconcile
		// or not
		switch rng.IntN(3) {
		case 0, 1:
			o := devenv.ObjectRef{Kind: "Ingress", Namespace: "default", Name: "my-app"}
			if rng.IntN(2) == 1 {
				o = devenv.ObjectRef{Kind: "Service", Namespace: "default", Name: "my-nlb-client-ip"}
			}
			tag := fmt.Sprintf("chaos-%d", i)
			retryChange(t, func() error { return annotateObject(d, o, tag) })
			tags[o.String()] = append(tags[o.String()], tag)
			changes = append(changes, fmt.Sprintf("%s tagged %s", o, tag))
		default:
			dep := "my-app"
			if rng.IntN(2) == 1 {
				dep = "client-ip-app"
			}
			if replicas[dep] >= 4 {
				break
			}
			replicas[dep]++
			patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas[dep])
			retryChange(t, func() error {
				_, err := d.kube().AppsV1().Deployments("default").Patch(ctx(t), dep, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
				return err
			})
			changes = append(changes, fmt.Sprintf("deployment %s scaled to %d", dep, replicas[dep]))
		}
		time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
		component := "elb"
		if rng.IntN(2) == 1 {
			component = "controller"
		}
		kills = append(kills, killComponent(t, d, component))
	}
	// the last kill's component serves again, then the traffic stops
	waitRestarted(t, d, kills[len(kills)-1])
	time.Sleep(5 * time.Second)
	close(stop)
	traffic.Wait()
	t.Logf("chaos: %d kills (%s), %d changes (%s)", len(kills), describeKills(kills), len(changes), strings.Join(changes, "; "))

	// traffic: every failure is explained by a kill of the local ELB
	for _, s := range streams {
		counts, unexplained := classify(s.reqs, kills)
		t.Logf("chaos traffic %s: %d requests: %d answered, %d in flight at a kill of the local ELB, %d refused while it was down",
			s.name, len(s.reqs), counts.answered, counts.inFlight, counts.whileDown)
		for _, r := range unexplained {
			t.Errorf("%s: a request at %s failed outside any kill of the local ELB: %v", s.name, r.start.Format(time.RFC3339Nano), r.err)
		}
		if counts.answered == 0 {
			t.Errorf("%s: no request answered", s.name)
		}
	}

	// convergence: the same load balancers, tagged as annotated, every
	// running pod a target and nothing else
	eventually(t, 3*time.Minute, func() error {
		for obj, lb := range map[string]devenv.LoadBalancer{"Ingress default/my-app": alb, "Service default/my-nlb-client-ip": nlb} {
			out, err := elb.DescribeTags(ctx(t), &elbv2.DescribeTagsInput{ResourceArns: []string{lb.ARN}})
			if err != nil {
				return fmt.Errorf("%s: load balancer %s: %w", obj, lb.ARN, err)
			}
			have := map[string]bool{}
			for _, td := range out.TagDescriptions {
				for _, tg := range td.Tags {
					have[aws.ToString(tg.Key)] = true
				}
			}
			for _, tag := range tags[obj] {
				if !have[tag] {
					return fmt.Errorf("%s: load balancer %s lacks tag %s", obj, lb.Name, tag)
				}
			}
		}
		for dep, lb := range map[string]devenv.LoadBalancer{"my-app": alb, "client-ip-app": nlb} {
			pods := podIPs(t, d, "default", "app="+dep)
			if len(pods) != int(replicas[dep]) {
				return fmt.Errorf("deployment %s: %d running pods, want %d", dep, len(pods), replicas[dep])
			}
			tgs := targetGroups(t, d, lb)
			if len(tgs) != 1 {
				return fmt.Errorf("load balancer %s has %d target groups, want 1", lb.Name, len(tgs))
			}
			th, err := elb.DescribeTargetHealth(ctx(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgs[0].TargetGroupArn})
			if err != nil {
				return err
			}
			var targets []string
			for _, h := range th.TargetHealthDescriptions {
				if h.TargetHealth.State != elbv2types.TargetHealthStateEnumDraining {
					targets = append(targets, aws.ToString(h.Target.Id))
				}
			}
			sort.Strings(pods)
			sort.Strings(targets)
			if !slices.Equal(pods, targets) {
				return fmt.Errorf("deployment %s: pods %v, targets %v", dep, pods, targets)
			}
		}
		return nil
	})
	ownedAfter := owned(t, d, elb)
	sort.Strings(ownedAfter)
	if !slices.Equal(ownedBefore, ownedAfter) {
		t.Errorf("owned resources changed through the chaos (a duplicate or a replacement):\nbefore %v\nafter  %v", ownedBefore, ownedAfter)
	}
	t.Logf("chaos: converged: the same %d owned resources, every tag annotated on its load balancer, every running pod a target", len(ownedAfter))

	// no leak: deleting the objects removes everything they owned
	lifecycle(t, d)
}

// counts are what became of a stream's requests.
type counts struct{ answered, inFlight, whileDown int }

// classify sorts requests by what a kill of the local ELB explains: a
// failed request in flight at a kill; a failed request started after a
// kill and before the stream's first answered request after it (the local
// ELB was down). Other failures are returned.
func classify(reqs []request, kills []kill) (counts, []request) {
	var c counts
	var unexplained []request
	for i, r := range reqs {
		if r.err == nil {
			c.answered++
			continue
		}
		explained := false
		for _, k := range kills {
			if k.component != "elb" {
				continue
			}
			if r.start.Before(k.at) && r.end.After(k.at) {
				c.inFlight++
				explained = true
				break
			}
			if !r.start.Before(k.at) && !answeredBetween(reqs[:i], k.at) {
				c.whileDown++
				explained = true
				break
			}
		}
		if !explained {
			unexplained = append(unexplained, r)
		}
	}
	return c, unexplained
}

// answeredBetween reports whether a request started after t was answered.
func answeredBetween(earlier []request, t time.Time) bool {
	for _, r := range earlier {
		if r.err == nil && !r.start.Before(t) {
			return true
		}
	}
	return false
}

// killComponent sends SIGKILL to a child process of elbow dev and waits
// until elbow dev has started it again and it serves.
func killComponent(t *testing.T, d *dev, component string) kill {
	t.Helper()
	pids, err := devenv.ReadProcesses(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	pid := pids[component]
	if pid == 0 {
		t.Fatalf("no %s process in %s: %v", component, devenv.ProcessesFile, pids)
	}
	k := kill{component: component, pid: pid, at: time.Now()}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", component, pid, err)
	}
	waitRestarted(t, d, k)
	return k
}

// waitRestarted waits until the component killed by k runs again under a
// new process ID and listens (the local ELB's API; the controller's
// webhooks).
func waitRestarted(t *testing.T, d *dev, k kill) {
	t.Helper()
	addr := strings.TrimPrefix(d.rep.ELBEndpoint, "http://")
	if k.component == "controller" {
		addr = "" // webhooks: checked by the changes that need them
	}
	eventually(t, downLimit, func() error {
		pids, err := devenv.ReadProcesses(d.dir)
		if err != nil {
			return err
		}
		if pids[k.component] == k.pid || pids[k.component] == 0 {
			return fmt.Errorf("%s not started again after the kill of pid %d", k.component, k.pid)
		}
		if addr == "" {
			return nil
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	})
}

// retryChange applies a change until the API server takes it: while the
// controller is down its webhooks refuse, as they would for a user.
func retryChange(t *testing.T, change func() error) {
	t.Helper()
	eventually(t, downLimit, change)
}

func describeKills(ks []kill) string {
	n := map[string]int{}
	for _, k := range ks {
		n[k.component]++
	}
	return fmt.Sprintf("local ELB %d, controller %d", n["elb"], n["controller"])
}

// checkConsole checks that the console the child elbow elb serves is the
// one endpoints.json names, and that it shows the load balancers.
func checkConsole(t *testing.T, d *dev, arns ...string) {
	t.Helper()
	if d.rep.Console == "" {
		d.fatalf("endpoints.json names no console")
	}
	eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(d.rep.Console + "api/model")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("console %sapi/model: %s: %s", d.rep.Console, resp.Status, b)
		}
		for _, arn := range arns {
			if !strings.Contains(string(b), arn) {
				return fmt.Errorf("console %sapi/model does not show %s", d.rep.Console, arn)
			}
		}
		return nil
	})
}
