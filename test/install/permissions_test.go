package install

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/awsauthz"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/controller/ctrltest/ctrlopts"
	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/iampolicy"
	"github.com/elbowlb/elbow/internal/impersonate"
)

// The chart's ServiceAccount as `helm install elbow charts/elbow -n
// kube-system` names it.
const (
	saNamespace = Namespace
	saName      = "elbow"
)

// chartRBAC renders the chart's ServiceAccount and RBAC objects.
func chartRBAC(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, "template", "elbow", chartDir(), "--namespace", Namespace, "--set", "clusterName=test",
		"--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return objects(t, out)
}

// applyAll creates or replaces objects as the administrator.
func applyAll(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		o = o.DeepCopy()
		if err := c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("elbow-install-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// forbiddenLog collects the requests the API server forbade.
type forbiddenLog struct {
	mu   sync.Mutex
	seen []impersonate.Forbidden
}

func (f *forbiddenLog) add(x impersonate.Forbidden) {
	f.mu.Lock()
	f.seen = append(f.seen, x)
	f.mu.Unlock()
}

func (f *forbiddenLog) list() []impersonate.Forbidden {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]impersonate.Forbidden(nil), f.seen...)
}

// runAsServiceAccount runs the controller as the chart's ServiceAccount
// (leader election in its namespace, webhooks registered by the
// administrator as the chart registers them) against the local ELB at
// elbURL with the given credentials, until stop or the end of the test.
func runAsServiceAccount(t *testing.T, admin *rest.Config, elbURL string, creds aws.CredentialsProvider, forbidden *forbiddenLog) (stop func()) {
	t.Helper()
	ctx := context.Background()
	o := ctrlopts.ForTest(t, "test")
	o.AWSRegion = "us-east-1"
	o.ELBEndpoint = elbURL
	o.Credentials = creds
	// Leader election in the ServiceAccount's namespace, as the chart runs
	// it: its Role must allow the lease.
	o.EnableLeaderElection = true
	o.LeaderElectionNamespace = saNamespace
	o.MetricsBindAddr = "0"
	o.TargetGroupBindingRequeueDuration = 2 * time.Second
	o.SkipNameValidation = true
	log := ctrltest.Logger(t)
	if err := controller.PrepareWebhooks(ctx, admin, o, log); err != nil {
		t.Fatal(err)
	}
	o.WebhookURL = ""
	d, err := controller.NewDeps(ctx, o, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard())
	cfg := impersonate.ServiceAccount(admin, saNamespace, saName, forbidden.add)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- controller.Run(rctx, cfg, o, d) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("controller: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("controller did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	ctrltest.WaitHTTPOK(t, "http://"+o.HealthProbeBindAddr+"/readyz", 60*time.Second)
	return stop
}

// workload is a namespace (with readiness gate injection) holding the
// Service svc (edit changes it before it is created), with pods on
// node-a.
func workload(t *testing.T, c client.Client, ns, svc string, edit func(*corev1.Service)) *ctrltest.Workload {
	t.Helper()
	ctx := context.Background()
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": svc},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
	}}
	if edit != nil {
		edit(s)
	}
	if err := c.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	w := ctrltest.NewWorkload(t, c, ns, svc, map[string]string{"app": svc}, "http", 8080, "node-a")
	w.Run()
	return w
}

// shippedPolicy is docs/install/iam_policy.json, without the statements
// named drop.
func shippedPolicy(t *testing.T, drop ...string) *iampolicy.Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "install", "iam_policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iampolicy.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range drop {
		n := len(p.Statements)
		p.Statements = slices.DeleteFunc(p.Statements, func(s iampolicy.Statement) bool { return s.Sid == sid })
		if len(p.Statements) == n {
			t.Fatalf("docs/install/iam_policy.json has no statement %s", sid)
		}
	}
	return p
}

// denials records the local ELB's IAM denials (its log records with
// awsauthz.DeniedMessage) by principal.
type denials struct {
	mu   sync.Mutex
	seen map[string][]string // principal ARN -> "action on resource"
}

func (d *denials) Enabled(context.Context, slog.Level) bool { return true }
func (d *denials) WithAttrs([]slog.Attr) slog.Handler       { return d }
func (d *denials) WithGroup(string) slog.Handler            { return d }
func (d *denials) Handle(_ context.Context, r slog.Record) error {
	if r.Message != awsauthz.DeniedMessage {
		return nil
	}
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string][]string{}
	}
	d.seen[attrs["principal"]] = append(d.seen[attrs["principal"]], attrs["action"]+" on "+attrs["resource"])
	return nil
}

func (d *denials) of(principal string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen["arn:aws:iam::000000000000:user/"+principal]...)
}

// TestControllerPermissions runs the controller as it runs in a cluster
// on AWS: authenticated as the chart's ServiceAccount with the chart's
// RBAC only, against a local ELB that decides its calls by
// docs/install/iam_policy.json. An ALB Ingress and an NLB Service go
// through their whole life (created, targets registered and healthy with
// readiness gates, deleted) and the API server forbids nothing, the
// policy denies nothing. Then the same checks catch a ClusterRole
// without the rule on Services' status and a policy without the
// statement on cluster security groups, which shows they can fail.
func TestControllerPermissions(t *testing.T) {
	ctx := context.Background()
	admin := ctrltest.APIServer(t)
	c := ctrltest.Client(t, admin)
	rbac := chartRBAC(t)
	applyAll(t, c, rbac)
	var denied denials
	elb := ctrltest.StartLocalELBWith(t, "test", nil, elbtest.Options{
		Logger: slog.New(&denied),
		Principals: []server.Principal{
			{Name: "controller", AccessKeyID: "controller", SecretAccessKey: "controller-secret", Policy: shippedPolicy(t)},
			{Name: "reduced", AccessKeyID: "reduced", SecretAccessKey: "reduced-secret", Policy: shippedPolicy(t, "ChangeClusterSecurityGroups")},
		},
	})
	creds := credentials.NewStaticCredentialsProvider("controller", "controller-secret", "")
	ctrltest.Node(t, c, "node-a", "us-east-1a", "i-0aaaaaaaaaaaaaaa1", nil)
	if err := c.Create(ctx, &networking.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}}); err != nil {
		t.Fatal(err)
	}

	var forbidden forbiddenLog
	stop := runAsServiceAccount(t, admin, elb.URL, creds, &forbidden)
	web := workload(t, c, "shop", "web", nil)

	ann := map[string]string{
		"alb.ingress.kubernetes.io/target-type":                  "ip",
		"alb.ingress.kubernetes.io/scheme":                       "internet-facing",
		"alb.ingress.kubernetes.io/healthcheck-interval-seconds": "5",
		"alb.ingress.kubernetes.io/healthcheck-timeout-seconds":  "2",
		"alb.ingress.kubernetes.io/healthy-threshold-count":      "2",
	}
	class := "alb"
	pt := networking.PathTypePrefix
	ing := &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Annotations: ann},
		Spec: networking.IngressSpec{IngressClassName: &class, Rules: []networking.IngressRule{{
			IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{Paths: []networking.HTTPIngressPath{{
				Path: "/", PathType: &pt, Backend: networking.IngressBackend{Service: &networking.IngressServiceBackend{Name: "web", Port: networking.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
	if err := c.Create(ctx, ing); err != nil {
		t.Fatal(err)
	}
	nlbAnn := map[string]string{
		"service.beta.kubernetes.io/aws-load-balancer-type":                          "external",
		"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":               "ip",
		"service.beta.kubernetes.io/aws-load-balancer-scheme":                        "internet-facing",
		"service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold": "2",
	}
	asNLB := func(s *corev1.Service) {
		s.Annotations = nlbAnn
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
	}
	game := workload(t, c, "shop", "game", asNLB)
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "game"}}

	// Pods come once the TargetGroupBindings exist, so that the webhook
	// gives them readiness gates.
	ctrltest.Eventually(t, 2*time.Minute, func() error {
		var tgbs elbv2api.TargetGroupBindingList
		if err := c.List(ctx, &tgbs, client.InNamespace("shop")); err != nil {
			return err
		}
		if len(tgbs.Items) != 2 {
			return fmt.Errorf("%d TargetGroupBindings, want 2", len(tgbs.Items))
		}
		return nil
	})
	web.AddPod("web-1")
	game.AddPod("game-1")

	// Both get an address, both target groups get their pod as a healthy
	// target, and the pods' readiness gates turn true.
	ctrltest.Eventually(t, 3*time.Minute, func() error {
		gotIng := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ing), gotIng); err != nil {
			return err
		}
		if len(gotIng.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("Ingress has no address yet")
		}
		gotSvc := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(lb), gotSvc); err != nil {
			return err
		}
		if len(gotSvc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("Service has no address yet")
		}
		var tgbs elbv2api.TargetGroupBindingList
		if err := c.List(ctx, &tgbs, client.InNamespace("shop")); err != nil {
			return err
		}
		if len(tgbs.Items) != 2 {
			return fmt.Errorf("%d TargetGroupBindings, want 2", len(tgbs.Items))
		}
		for _, b := range tgbs.Items {
			h, err := elb.ELBv2.DescribeTargetHealth(ctx, &elbv2sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(b.Spec.TargetGroupARN)})
			if err != nil {
				return err
			}
			if len(h.TargetHealthDescriptions) != 1 || h.TargetHealthDescriptions[0].TargetHealth.State != "healthy" {
				return fmt.Errorf("target group of %s: targets %+v, want one healthy", b.Name, h.TargetHealthDescriptions)
			}
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("shop")); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if len(p.Spec.ReadinessGates) == 0 {
				return fmt.Errorf("pod %s has no readiness gate", p.Name)
			}
			for _, g := range p.Spec.ReadinessGates {
				ok := false
				for _, cond := range p.Status.Conditions {
					ok = ok || cond.Type == g.ConditionType && cond.Status == corev1.ConditionTrue
				}
				if !ok {
					return fmt.Errorf("pod %s: readiness gate %s not true yet", p.Name, g.ConditionType)
				}
			}
		}
		return nil
	})

	// Deletion: finalizers removed, every AWS resource gone.
	if err := c.Delete(ctx, ing); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, lb); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 2*time.Minute, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ing), &networking.Ingress{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Ingress still there (%v)", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(lb), &corev1.Service{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Service still there (%v)", err)
		}
		out, err := elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{})
		if err != nil {
			return err
		}
		if len(out.LoadBalancers) > 0 {
			return fmt.Errorf("%d load balancers left", len(out.LoadBalancers))
		}
		return nil
	})
	if f := forbidden.list(); len(f) > 0 {
		t.Errorf("the API server forbade the chart's ServiceAccount %d requests: %+v", len(f), f)
	}
	if d := denied.of("controller"); len(d) > 0 {
		t.Errorf("docs/install/iam_policy.json denied the controller %d calls: %s", len(d), strings.Join(d, "; "))
	}
	stop()

	t.Run("a rule or a statement removed is caught", func(t *testing.T) {
		// The ClusterRole without the rule on services/status, the policy
		// without the statement that lets the controller open its
		// security groups.
		applyAll(t, c, removeRule(t, rbac, "services/status"))
		var caught forbiddenLog
		runAsServiceAccount(t, admin, elb.URL, credentials.NewStaticCredentialsProvider("reduced", "reduced-secret", ""), &caught)
		workload(t, c, "shop", "game-2", asNLB)
		ctrltest.Eventually(t, 2*time.Minute, func() error {
			sawRBAC, sawIAM := false, false
			for _, f := range caught.list() {
				sawRBAC = sawRBAC || f.Method == http.MethodPatch && strings.HasSuffix(f.Path, "/services/game-2/status")
			}
			for _, d := range denied.of("reduced") {
				sawIAM = sawIAM || strings.HasPrefix(d, "ec2:AuthorizeSecurityGroupIngress on arn:aws:ec2:us-east-1:000000000000:security-group/sg-")
			}
			if !sawRBAC || !sawIAM {
				return fmt.Errorf("forbidden PATCH of the Service's status seen: %v (%+v); AuthorizeSecurityGroupIngress denied: %v (%v)", sawRBAC, caught.list(), sawIAM, denied.of("reduced"))
			}
			return nil
		})
	})
}

// removeRule returns the RBAC objects with the ClusterRole's rule on
// resource removed (failing when there is no such rule).
func removeRule(t *testing.T, objs []*unstructured.Unstructured, resource string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	removed := false
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetKind() == "ClusterRole" {
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			var kept []any
			for _, r := range rules {
				res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				if len(res) == 1 && res[0] == resource {
					removed = true
					continue
				}
				kept = append(kept, r)
			}
			if err := unstructured.SetNestedSlice(o.Object, kept, "rules"); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, o)
	}
	if !removed {
		t.Fatalf("the ClusterRole has no rule on %s alone", resource)
	}
	return out
}
