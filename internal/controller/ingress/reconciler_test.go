package ingress

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// recorder stands in for the deployer in this test of the reconciler's
// own logic (groups, isolation, status, finalizers, bindings): it fills in
// the status a deployer learns and remembers each stack it was given.
// The end-to-end tests in internal/controller use the real deployer.
type recorder struct {
	mu     sync.Mutex
	stacks map[string]string // stack ID -> stack JSON of the last deploy
}

func (d *recorder) Deploy(_ context.Context, s *stack.Stack) error {
	for _, lb := range s.LoadBalancers {
		lb.Status = &stack.LoadBalancerStatus{LoadBalancerARN: "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/" + lb.Spec.Name + "/0123456789abcdef",
			DNSName: "K8S-" + strings.ToUpper(strings.ReplaceAll(s.ID.String(), "/", "-")) + "-1234.us-east-1.elb.elbow.local"}
	}
	for _, tg := range s.TargetGroups {
		tg.Status = &stack.TargetGroupStatus{TargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/" + tg.Spec.Name + "/0123456789abcdef"}
	}
	for _, sg := range s.SecurityGroups {
		sg.Status = &stack.SecurityGroupStatus{GroupID: "sg-0123456789abcdef0"}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stacks[s.ID.String()] = string(b)
	return nil
}

func (d *recorder) stack(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stacks[id]
}

type staticFacts struct{ f *facts.Facts }

func (s staticFacts) Facts(context.Context, bool) (*facts.Facts, error) { return s.f, nil }

// Resolve finds nothing: the test's facts are all there is.
func (s staticFacts) Resolve(context.Context, []translate.Reference) (*facts.Facts, map[translate.Reference]string, error) {
	return s.f, nil, nil
}

func member(name, path string, ann map[string]string) *networking.Ingress {
	pt := networking.PathTypePrefix
	class := "alb"
	a := map[string]string{"alb.ingress.kubernetes.io/group.name": "shop", "alb.ingress.kubernetes.io/target-type": "ip"}
	for k, v := range ann {
		a[k] = v
	}
	return &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Annotations: a},
		Spec: networking.IngressSpec{IngressClassName: &class, Rules: []networking.IngressRule{{IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{
			Paths: []networking.HTTPIngressPath{{Path: path, PathType: &pt, Backend: networking.IngressBackend{
				Service: &networking.IngressServiceBackend{Name: name, Port: networking.ServiceBackendPort{Number: 80}}}}},
		}}}}},
	}
}

// TestGroupIsolation runs the Ingress reconciler on a real API server for
// a group of three: all are served; one gets a bad annotation and is left
// out with the error on itself while the other two keep being served and
// updated; fixed, it is back; deleted members are released; deleting the
// group deletes its stack, its bindings and the finalizers.
func TestGroupIsolation(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	c := ctrltest.Client(t, cfg)
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := elbv2api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Logger: logr.FromSlogHandler(ctrltest.Logger(t).Handler())})
	if err != nil {
		t.Fatal(err)
	}
	dep := &recorder{stacks: map[string]string{}}
	opts := translate.DefaultOptions()
	opts.ClusterName = "test"
	opts.BackendSecurityGroupID = "sg-0backend00000000a"
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Deployer: dep,
		Facts: staticFacts{facts.Default(facts.DefaultRegion, "test")}, Options: opts,
		Events: kube.Recorder{Events: mgr.GetEventRecorder("ingress")}}
	if err := r.SetupWithManager(ctx, mgr, 2); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := c.Create(ctx, &networking.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": n}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if err := c.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(ctx, member(n, "/"+n, nil)); err != nil {
			t.Fatal(err)
		}
	}
	getIng := func(name string) *networking.Ingress {
		ing := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, ing); err != nil {
			t.Fatal(err)
		}
		return ing
	}
	served := func(names ...string) error {
		st := dep.stack("shop")
		for _, n := range names {
			if !strings.Contains(st, `"/`+n+`"`) {
				return fmt.Errorf("stack does not route /%s: %s", n, st)
			}
		}
		return nil
	}
	ready := func(names ...string) error {
		for _, n := range names {
			ing := getIng(n)
			if ing.Annotations[StatusAnnotation] != "Reconciled" {
				return fmt.Errorf("ingress %s status annotation %q", n, ing.Annotations[StatusAnnotation])
			}
			if len(ing.Status.LoadBalancer.Ingress) != 1 || ing.Status.LoadBalancer.Ingress[0].Hostname != "k8s-shop-1234.us-east-1.elb.elbow.local" {
				return fmt.Errorf("ingress %s status %+v", n, ing.Status.LoadBalancer)
			}
			if len(ing.Finalizers) != 1 || ing.Finalizers[0] != "group.ingress.k8s.aws/shop" {
				return fmt.Errorf("ingress %s finalizers %v", n, ing.Finalizers)
			}
		}
		return nil
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		if err := served("a", "b", "c"); err != nil {
			return err
		}
		return ready("a", "b", "c")
	})
	var tgbs elbv2api.TargetGroupBindingList
	if err := c.List(ctx, &tgbs, client.MatchingLabels{"ingress.k8s.aws/stack": "shop"}); err != nil || len(tgbs.Items) != 3 {
		t.Fatalf("bindings: %d, %v", len(tgbs.Items), err)
	}

	// b gets a bad annotation: left out, the error on itself.
	b := getIng("b")
	b.Annotations["alb.ingress.kubernetes.io/healthcheck-interval-seconds"] = "often"
	if err := c.Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		st := dep.stack("shop")
		if strings.Contains(st, `"/b"`) {
			return fmt.Errorf("b still routed")
		}
		ann := getIng("b").Annotations[StatusAnnotation]
		if !strings.HasPrefix(ann, "Failed (LeftOutOfGroup): ") || !strings.Contains(ann, "healthcheck-interval-seconds") || !strings.Contains(ann, "often") {
			return fmt.Errorf("b status annotation %q", ann)
		}
		return nil
	})
	if err := served("a", "c"); err != nil {
		t.Error(err)
	}
	if err := ready("a", "c"); err != nil {
		t.Error(err)
	}
	ctrltest.Eventually(t, 10*time.Second, func() error {
		var evs eventsv1.EventList
		if err := c.List(ctx, &evs, client.InNamespace("default")); err != nil {
			return err
		}
		for _, ev := range evs.Items {
			if ev.Regarding.Name == "b" && ev.Reason == "LeftOutOfGroup" && ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Note, "healthcheck-interval-seconds") {
				return nil
			}
		}
		return fmt.Errorf("no LeftOutOfGroup event on b")
	})

	// The others keep being updated: a changes its path.
	a := getIng("a")
	a.Spec.Rules[0].HTTP.Paths[0].Path = "/a2"
	if err := c.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error { return served("a2", "c") })

	// b fixed: back in.
	b = getIng("b")
	b.Annotations["alb.ingress.kubernetes.io/healthcheck-interval-seconds"] = "10"
	if err := c.Update(ctx, b); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		if err := served("a2", "b", "c"); err != nil {
			return err
		}
		return ready("a", "b", "c")
	})

	// c deleted: out of the stack, its finalizer gone, its binding deleted.
	if err := c.Delete(ctx, getIng("c")); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "c"}, &networking.Ingress{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("c still there: %v", err)
		}
		if strings.Contains(dep.stack("shop"), `"/c"`) {
			return fmt.Errorf("c still routed")
		}
		var tgbs elbv2api.TargetGroupBindingList
		if err := c.List(ctx, &tgbs, client.MatchingLabels{"ingress.k8s.aws/stack": "shop"}); err != nil || len(tgbs.Items) != 2 {
			return fmt.Errorf("bindings: %d, %v", len(tgbs.Items), err)
		}
		return nil
	})

	// The whole group deleted: an empty stack, no bindings, no finalizers.
	for _, n := range []string{"a", "b"} {
		if err := c.Delete(ctx, getIng(n)); err != nil {
			t.Fatal(err)
		}
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		var ings networking.IngressList
		if err := c.List(ctx, &ings); err != nil || len(ings.Items) != 0 {
			return fmt.Errorf("ingresses left: %d, %v", len(ings.Items), err)
		}
		if st := dep.stack("shop"); strings.Contains(st, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
			return fmt.Errorf("last stack deployed still has a load balancer: %s", st)
		}
		var tgbs elbv2api.TargetGroupBindingList
		if err := c.List(ctx, &tgbs); err != nil || len(tgbs.Items) != 0 {
			return fmt.Errorf("bindings: %d, %v", len(tgbs.Items), err)
		}
		return nil
	})
}
