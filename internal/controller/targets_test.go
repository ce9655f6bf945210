package controller_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/facts"
)

// env is what the end-to-end tests run against: a real API server, a
// local ELB with its data planes, and the controller in process.
type env struct {
	t    *testing.T
	c    client.Client
	elb  *ctrltest.LocalELB
	opts controller.Options
	cfg  *rest.Config
	ctl  *Controller
	node string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := ctrltest.APIServer(t)
	e := &env{t: t, cfg: cfg, c: ctrltest.Client(t, cfg), elb: ctrltest.StartLocalELB(t, "test", nil)}
	e.opts = testOptions(t)
	e.ctl = startController(t, cfg, e.opts, e.deps())
	e.node = "node-a"
	ctrltest.Node(t, e.c, e.node, "us-east-1a", "i-0aaaaaaaaaaaaaaa1", nil)
	return e
}

func (e *env) deps() controller.Deps {
	return controller.Deps{ELBV2: e.elb.ELBv2, Logger: ctrltest.Logger(e.t)}
}

func (e *env) namespace(name string, labels map[string]string) {
	e.t.Helper()
	if err := e.c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
		e.t.Fatal(err)
	}
}

// albWithTargetGroup creates, outside Kubernetes, an internet-facing ALB
// with an HTTP listener on a free port forwarding to a new ip target group
// checked on /healthz every 5 s. It returns the target group's ARN and the
// listener's URL.
func (e *env) albWithTargetGroup(name string) (string, string) {
	e.t.Helper()
	ctx := context.Background()
	var public []string
	for _, s := range e.elb.Facts.Subnets {
		if s.Public {
			public = append(public, s.ID)
		}
	}
	sg, err := e.elb.EC2.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("test"), VpcId: aws.String(e.elb.Facts.VPCs[0].ID)})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.elb.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2sdk.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
	}}}); err != nil {
		e.t.Fatal(err)
	}
	lb, err := e.elb.ELBv2.CreateLoadBalancer(ctx, &elbv2sdk.CreateLoadBalancerInput{Name: aws.String(name), Subnets: public, SecurityGroups: []string{*sg.GroupId}})
	if err != nil {
		e.t.Fatal(err)
	}
	tg, err := e.elb.ELBv2.CreateTargetGroup(ctx, &elbv2sdk.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(e.elb.Facts.VPCs[0].ID),
		TargetType: elbv2types.TargetTypeEnumIp, HealthCheckPath: aws.String("/healthz"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	if _, err := e.elb.ELBv2.ModifyTargetGroupAttributes(ctx, &elbv2sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: &arn,
		Attributes: []elbv2types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}}); err != nil {
		e.t.Fatal(err)
	}
	addr := lbAddress(e.t, lb.LoadBalancers[0])
	port := freePortOn(e.t, addr)
	if _, err := e.elb.ELBv2.CreateListener(ctx, &elbv2sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(port),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: &arn}}}); err != nil {
		e.t.Fatal(err)
	}
	return arn, fmt.Sprintf("http://%s:%d", addr, port)
}

func lbAddress(t *testing.T, lb elbv2types.LoadBalancer) string {
	t.Helper()
	for _, az := range lb.AvailabilityZones {
		for _, a := range az.LoadBalancerAddresses {
			if a.IpAddress != nil {
				return *a.IpAddress
			}
		}
	}
	t.Fatalf("load balancer %s has no address", aws.ToString(lb.LoadBalancerName))
	return ""
}

func freePortOn(t *testing.T, addr string) int32 {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// targets returns the target group's targets and their states.
func (e *env) targets(arn string) map[string]string {
	e.t.Helper()
	out, err := e.elb.ELBv2.DescribeTargetHealth(context.Background(), &elbv2sdk.DescribeTargetHealthInput{TargetGroupArn: &arn})
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]string{}
	for _, d := range out.TargetHealthDescriptions {
		m[fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port))] = string(d.TargetHealth.State)
	}
	return m
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// get returns the backend that answered a GET, or an error.
func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return resp.Header.Get("X-Backend"), nil
}

// TestTargetGroupBindingIP binds a Service to a target group made outside
// Kubernetes, by name: the webhook fills in the ARN and target type; the
// pods get the readiness gate, are registered, turn ready only once
// healthy, serve through the load balancer; a pod whose deletion starts
// is deregistered at once; deleting the binding deregisters everything.
func TestTargetGroupBindingIP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ns := "shop"
	e.namespace(ns, map[string]string{"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"})
	arn, url := e.albWithTargetGroup("shop-web")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
	}}
	if err := e.c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: elbv2api.TargetGroupBindingSpec{TargetGroupName: "shop-web", ServiceRef: elbv2api.ServiceReference{Name: "web", Port: intstr.FromInt32(80)}}}
	ctrltest.Eventually(t, 30*time.Second, func() error { return e.c.Create(ctx, tgb) })
	if tgb.Spec.TargetGroupARN != arn || tgb.Spec.TargetType == nil || *tgb.Spec.TargetType != elbv2api.TargetTypeIP || tgb.Spec.VpcID != e.elb.Facts.VPCs[0].ID {
		t.Errorf("defaulted spec: %+v", tgb.Spec)
	}

	w := ctrltest.NewWorkload(t, e.c, ns, "web", map[string]string{"app": "web"}, "http", 8080, e.node)
	w.Run()
	b1, b2 := w.AddPod("web-1"), w.AddPod("web-2")
	gate := corev1.PodConditionType("target-health.elbv2.k8s.aws/web")
	p := &corev1.Pod{}
	if err := e.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-1"}, p); err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.ReadinessGates) != 1 || p.Spec.ReadinessGates[0].ConditionType != gate {
		t.Fatalf("readiness gates %+v", p.Spec.ReadinessGates)
	}
	want1, want2 := b1.IP.String()+":8080", b2.IP.String()+":8080"
	// Registered, then healthy; the gate is False (with the ELB's reason)
	// until the target is healthy, then True.
	sawFalse := false
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got := e.targets(arn)
		for _, name := range []string{"web-1", "web-2"} {
			p := &corev1.Pod{}
			if err := e.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
				return err
			}
			st := podCondition(p, gate)
			if st == corev1.ConditionFalse {
				sawFalse = true
			}
			if st == corev1.ConditionTrue {
				for _, tgt := range []string{want1, want2} {
					if strings.HasPrefix(tgt, p.Status.PodIP+":") && got[tgt] != "healthy" {
						return fmt.Errorf("pod %s gate True while its target is %q", name, got[tgt])
					}
				}
			}
			if st != corev1.ConditionTrue || podCondition(p, corev1.PodReady) != corev1.ConditionTrue {
				return fmt.Errorf("pod %s: gate %q, ready %q; targets %v", name, st, podCondition(p, corev1.PodReady), got)
			}
		}
		if got[want1] != "healthy" || got[want2] != "healthy" || len(got) != 2 {
			return fmt.Errorf("targets %v", got)
		}
		return nil
	})
	if !sawFalse {
		t.Log("the gates turned True before a poll saw them False (targets turned healthy quickly)")
	}
	// A pod whose health check fails: registered, its gate False with the
	// ELB's reason, not Ready; True once it passes.
	b3 := w.AddFailingPod("web-3")
	want3 := b3.IP.String() + ":8080"
	gateOf := func(name string) (corev1.PodCondition, corev1.ConditionStatus) {
		p := &corev1.Pod{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == gate {
				return c, podCondition(p, corev1.PodReady)
			}
		}
		return corev1.PodCondition{}, podCondition(p, corev1.PodReady)
	}
	ctrltest.Eventually(t, 60*time.Second, func() error {
		c, ready := gateOf("web-3")
		if e.targets(arn)[want3] != "unhealthy" || c.Status != corev1.ConditionFalse || c.Reason != "Target.ResponseCodeMismatch" || ready == corev1.ConditionTrue {
			return fmt.Errorf("web-3: target %q, gate %+v, ready %q", e.targets(arn)[want3], c, ready)
		}
		return nil
	})
	b3.SetFailing(false)
	ctrltest.Eventually(t, 60*time.Second, func() error {
		c, ready := gateOf("web-3")
		if c.Status != corev1.ConditionTrue || ready != corev1.ConditionTrue {
			return fmt.Errorf("web-3: target %q, gate %+v, ready %q", e.targets(arn)[want3], c, ready)
		}
		return nil
	})
	w.DeletePod("web-3", 0)
	seen := map[string]bool{}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		b, err := get(url + "/")
		if err != nil {
			return err
		}
		seen[b] = true
		if !seen["web-1"] || !seen["web-2"] {
			return fmt.Errorf("served by %v", seen)
		}
		return nil
	})
	cur := &elbv2api.TargetGroupBinding{}
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(tgb), cur); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(cur.Status.Conditions, "Ready"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("binding status %+v", cur.Status)
	}
	if len(cur.Finalizers) != 1 || cur.Finalizers[0] != "elbv2.k8s.aws/resources" {
		t.Errorf("binding finalizers %v", cur.Finalizers)
	}

	// A pod whose deletion starts leaves the target group during its
	// preStop pause, while it still serves, even when the EndpointSlice
	// controller has not caught up yet.
	w.FreezeSlices(true)
	done := make(chan struct{})
	go func() { w.DeletePod("web-1", 5*time.Second); close(done) }()
	ctrltest.Eventually(t, 2*time.Second, func() error {
		got := e.targets(arn)
		if s, ok := got[want1]; ok && s != "draining" {
			return fmt.Errorf("web-1 is %q during its preStop pause", s)
		}
		return nil
	})
	<-done
	w.FreezeSlices(false)
	for i := 0; i < 20; i++ {
		if b, err := get(url + "/"); err != nil || b != "web-2" {
			t.Errorf("after web-1 left: %q, %v", b, err)
			break
		}
	}

	// Deleting the binding deregisters its targets, then the finalizer goes.
	if err := e.c.Delete(ctx, cur); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(tgb), &elbv2api.TargetGroupBinding{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("binding still there: %v", err)
		}
		for tgt, s := range e.targets(arn) {
			if s != "draining" {
				return fmt.Errorf("target %s is %s", tgt, s)
			}
		}
		return nil
	})
}

// load sends requests from n clients until stop, counting answers by
// backend and failures.
type load struct {
	mu       sync.Mutex
	ok       int
	failures []string
	by       map[string]int
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(url string, n int) *load {
	l := &load{by: map[string]int{}, stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get(url)
				var msg, backend string
				if err != nil {
					msg = err.Error()
				} else {
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					backend = resp.Header.Get("X-Backend")
					switch {
					case rerr != nil:
						msg = rerr.Error()
					case resp.StatusCode != http.StatusOK:
						msg = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
					}
				}
				l.mu.Lock()
				if msg != "" {
					l.failures = append(l.failures, msg)
				} else {
					l.ok++
					l.by[backend]++
				}
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) finish() (ok int, failures []string, by map[string]int) {
	close(l.stop)
	l.wg.Wait()
	return l.ok, l.failures, l.by
}

// TestRollingUpdateNoFailedRequests replaces every pod of a Service, one
// at a time as a Deployment with maxUnavailable 0 does (a new pod, wait
// until it is Ready — which its readiness gate holds back until the load
// balancer sees it healthy — then delete an old one with a preStop
// pause), under constant load through the ALB: no request fails.
func TestRollingUpdateNoFailedRequests(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ns := "roll"
	e.namespace(ns, map[string]string{"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"})
	arn, url := e.albWithTargetGroup("roll-web")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
	}}
	if err := e.c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: elbv2api.TargetGroupBindingSpec{TargetGroupARN: arn, ServiceRef: elbv2api.ServiceReference{Name: "web", Port: intstr.FromString("http")}}}
	ctrltest.Eventually(t, 30*time.Second, func() error { return e.c.Create(ctx, tgb) })
	w := ctrltest.NewWorkload(t, e.c, ns, "web", map[string]string{"app": "web"}, "http", 8080, e.node)
	w.Run()
	ready := func(name string) error {
		p := &corev1.Pod{}
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			return err
		}
		if podCondition(p, corev1.PodReady) != corev1.ConditionTrue {
			return fmt.Errorf("pod %s not ready; targets %v", name, e.targets(arn))
		}
		return nil
	}
	old := []string{"v1-a", "v1-b", "v1-c"}
	for _, name := range old {
		w.AddPod(name)
	}
	for _, name := range old {
		ctrltest.Eventually(t, 60*time.Second, func() error { return ready(name) })
	}
	ctrltest.Eventually(t, 20*time.Second, func() error { _, err := get(url + "/"); return err })

	l := startLoad(url+"/", 4)
	fresh := map[string]bool{}
	for i, name := range old {
		next := fmt.Sprintf("v2-%c", 'a'+i)
		b := w.AddPod(next)
		fresh[b.IP.String()+":8080"] = true
		ctrltest.Eventually(t, 60*time.Second, func() error { return ready(next) })
		w.DeletePod(name, 2*time.Second)
	}
	time.Sleep(500 * time.Millisecond)
	ok, failures, by := l.finish()
	if len(failures) > 0 {
		n := len(failures)
		if n > 10 {
			failures = failures[:10]
		}
		t.Errorf("%d of %d requests failed during the rollout, first: %q", n, ok+n, failures)
	}
	for _, name := range []string{"v2-a", "v2-b", "v2-c"} {
		if by[name] == 0 {
			t.Errorf("new pod %s served no request (served: %v)", name, by)
		}
	}
	t.Logf("%d requests, by backend %v", ok, by)
	// New pods' targets are healthy; old ones draining, or (their delay
	// over, as AWS shows them until they leave) unused.
	got := e.targets(arn)
	for tgt, s := range got {
		if fresh[tgt] && s != "healthy" || !fresh[tgt] && s != "draining" && s != "unused" {
			t.Errorf("target %s (new pod: %v) is %s after the rollout", tgt, fresh[tgt], s)
		}
	}
	for tgt := range fresh {
		if got[tgt] == "" {
			t.Errorf("new pod's target %s is not registered", tgt)
		}
	}
}

func newEnvWith(t *testing.T, edit func(*facts.Facts)) *env {
	t.Helper()
	cfg := ctrltest.APIServer(t)
	e := &env{t: t, cfg: cfg, c: ctrltest.Client(t, cfg), elb: ctrltest.StartLocalELB(t, "test", edit)}
	e.opts = testOptions(t)
	e.ctl = startController(t, cfg, e.opts, e.deps())
	return e
}

// instances adds three nodes' instances to the facts, one per zone.
func instances(f *facts.Facts) {
	var private []facts.Subnet
	for _, s := range f.Subnets {
		if !s.Public {
			private = append(private, s)
		}
	}
	for i, id := range []string{"i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2", "i-0ccccccccccccccc3"} {
		ip := netip.MustParsePrefix(private[i].CIDR).Addr().As4()
		ip[3] = 10
		f.Instances = append(f.Instances, facts.Instance{ID: id, SubnetID: private[i].ID, PrivateIP: netip.AddrFrom4(ip).String()})
	}
}

// TestTargetGroupBindingInstance registers eligible nodes on the Service's
// NodePort in an instance target group of an NLB made outside Kubernetes:
// traffic reaches the nodes (their kube-proxy stands in as a server on the
// node address and NodePort); a node excluded by label, tainted for
// removal or not Ready is not a target.
func TestTargetGroupBindingInstance(t *testing.T) {
	e := newEnvWith(t, instances)
	ctx := context.Background()
	ins := e.elb.Facts.Instances
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	nodes := []string{"node-a", "node-b", "node-c"}
	for i, n := range nodes {
		var labels map[string]string
		if n == "node-c" {
			labels = map[string]string{"node.kubernetes.io/exclude-from-external-load-balancers": "true"}
		}
		ctrltest.Node(t, e.c, n, zones[i], ins[i].ID, labels)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "game"}, Spec: corev1.ServiceSpec{
		Type:     corev1.ServiceTypeNodePort,
		Selector: map[string]string{"app": "game"},
		Ports:    []corev1.ServicePort{{Name: "tcp", Port: 7000, TargetPort: intstr.FromInt32(7000)}},
	}}
	if err := e.c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	nodePort := svc.Spec.Ports[0].NodePort
	// kube-proxy on node-a and node-b.
	for i := 0; i < 2; i++ {
		if _, err := ctrltest.StartBackend(t, nodes[i], netip.MustParseAddr(ins[i].PrivateIP), uint16(nodePort)); err != nil {
			t.Fatal(err)
		}
	}
	lb, err := e.elb.ELBv2.CreateLoadBalancer(ctx, &elbv2sdk.CreateLoadBalancerInput{Name: aws.String("game"), Type: elbv2types.LoadBalancerTypeEnumNetwork,
		Scheme: elbv2types.LoadBalancerSchemeEnumInternetFacing, Subnets: e.elb.PublicSubnets()})
	if err != nil {
		t.Fatal(err)
	}
	// One address serves every zone's targets.
	if _, err := e.elb.ELBv2.ModifyLoadBalancerAttributes(ctx, &elbv2sdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Attributes: []elbv2types.LoadBalancerAttribute{{Key: aws.String("load_balancing.cross_zone.enabled"), Value: aws.String("true")}}}); err != nil {
		t.Fatal(err)
	}
	tg, err := e.elb.ELBv2.CreateTargetGroup(ctx, &elbv2sdk.CreateTargetGroupInput{
		Name: aws.String("game"), Protocol: elbv2types.ProtocolEnumTcp, Port: aws.Int32(7000), VpcId: aws.String(e.elb.VpcID()),
		TargetType: elbv2types.TargetTypeEnumInstance, HealthCheckProtocol: elbv2types.ProtocolEnumTcp, HealthCheckTimeoutSeconds: aws.Int32(2),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	addr := lbAddress(t, lb.LoadBalancers[0])
	port := freePortOn(t, addr)
	if _, err := e.elb.ELBv2.CreateListener(ctx, &elbv2sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbv2types.ProtocolEnumTcp, Port: aws.Int32(port),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: &arn}}}); err != nil {
		t.Fatal(err)
	}
	tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "game"},
		Spec: elbv2api.TargetGroupBindingSpec{TargetGroupARN: arn, ServiceRef: elbv2api.ServiceReference{Name: "game", Port: intstr.FromString("tcp")}}}
	if err := e.c.Create(ctx, tgb); err != nil {
		t.Fatal(err)
	}
	if tgb.Spec.TargetType == nil || *tgb.Spec.TargetType != elbv2api.TargetTypeInstance {
		t.Fatalf("target type %v", tgb.Spec.TargetType)
	}
	np := fmt.Sprint(nodePort)
	wantA, wantB := ins[0].ID+":"+np, ins[1].ID+":"+np
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got := e.targets(arn)
		if len(got) != 2 || got[wantA] != "healthy" || got[wantB] != "healthy" {
			return fmt.Errorf("targets %v", got)
		}
		return nil
	})
	url := fmt.Sprintf("http://%s:%d/", addr, port)
	seen := map[string]bool{}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Backend")] = true
		if !seen["node-a"] || !seen["node-b"] {
			return fmt.Errorf("served by %v", seen)
		}
		return nil
	})

	// node-b is about to be removed by the cluster autoscaler.
	nb := &corev1.Node{}
	if err := e.c.Get(ctx, client.ObjectKey{Name: "node-b"}, nb); err != nil {
		t.Fatal(err)
	}
	nb.Spec.Taints = append(nb.Spec.Taints, corev1.Taint{Key: "ToBeDeletedByClusterAutoscaler", Effect: corev1.TaintEffectNoSchedule})
	if err := e.c.Update(ctx, nb); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 10*time.Second, func() error {
		if s, ok := e.targets(arn)[wantB]; ok && s != "draining" {
			return fmt.Errorf("tainted node-b is %s", s)
		}
		return nil
	})
	// node-c stops being excluded: it is registered.
	nc := &corev1.Node{}
	if err := e.c.Get(ctx, client.ObjectKey{Name: "node-c"}, nc); err != nil {
		t.Fatal(err)
	}
	nc.Labels = nil
	if err := e.c.Update(ctx, nc); err != nil {
		t.Fatal(err)
	}
	wantC := ins[2].ID + ":" + np
	ctrltest.Eventually(t, 10*time.Second, func() error {
		if _, ok := e.targets(arn)[wantC]; !ok {
			return fmt.Errorf("node-c not registered: %v", e.targets(arn))
		}
		return nil
	})
	// node-a goes NotReady: deregistered.
	na := &corev1.Node{}
	if err := e.c.Get(ctx, client.ObjectKey{Name: "node-a"}, na); err != nil {
		t.Fatal(err)
	}
	na.Status.Conditions[0].Status = corev1.ConditionFalse
	if err := e.c.Status().Update(ctx, na); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 10*time.Second, func() error {
		if s, ok := e.targets(arn)[wantA]; ok && s != "draining" {
			return fmt.Errorf("NotReady node-a is %s", s)
		}
		return nil
	})
}

// TestRestartMakesNoWrites restarts the controller once its bindings are
// in line: the new one reads the target groups and writes nothing, to AWS
// or to the bindings.
func TestRestartMakesNoWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ns := "steady"
	e.namespace(ns, map[string]string{"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"})
	arn, _ := e.albWithTargetGroup("steady-web")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
	}}
	if err := e.c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	tgb := &elbv2api.TargetGroupBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: elbv2api.TargetGroupBindingSpec{TargetGroupARN: arn, ServiceRef: elbv2api.ServiceReference{Name: "web", Port: intstr.FromInt32(80)}}}
	if err := e.c.Create(ctx, tgb); err != nil {
		t.Fatal(err)
	}
	w := ctrltest.NewWorkload(t, e.c, ns, "web", map[string]string{"app": "web"}, "http", 8080, e.node)
	w.Run()
	w.AddPod("web-1")
	w.AddPod("web-2")
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got := e.targets(arn)
		if len(got) != 2 {
			return fmt.Errorf("targets %v", got)
		}
		for tgt, s := range got {
			if s != "healthy" {
				return fmt.Errorf("target %s is %s", tgt, s)
			}
		}
		for _, name := range []string{"web-1", "web-2"} {
			p := &corev1.Pod{}
			if err := e.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
				return err
			}
			if podCondition(p, corev1.PodReady) != corev1.ConditionTrue {
				return fmt.Errorf("pod %s not ready", name)
			}
		}
		return nil
	})
	// Let the first controller settle (its last status writes).
	time.Sleep(time.Second)
	e.ctl.Stop(t)
	before := &elbv2api.TargetGroupBinding{}
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(tgb), before); err != nil {
		t.Fatal(err)
	}
	writes := e.elb.Calls(t, true)
	reads := e.elb.Calls(t, false)["elasticloadbalancing/DescribeTargetHealth"]

	o := testOptions(t)
	e.ctl = startController(t, e.cfg, o, e.deps())
	ctrltest.Eventually(t, 20*time.Second, func() error {
		if n := e.elb.Calls(t, false)["elasticloadbalancing/DescribeTargetHealth"]; n <= reads {
			return fmt.Errorf("the new controller has not read the target group yet (%d calls)", n)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if diff := cmp.Diff(writes, e.elb.Calls(t, true)); diff != "" {
		t.Errorf("write calls after the restart (-before +after):\n%s", diff)
	}
	after := &elbv2api.TargetGroupBinding{}
	if err := e.c.Get(ctx, client.ObjectKeyFromObject(tgb), after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the binding was written after the restart: %+v -> %+v", before.Status, after.Status)
	}
}
