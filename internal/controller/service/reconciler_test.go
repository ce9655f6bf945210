package service

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
	"k8s.io/apimachinery/pkg/api/meta"
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
// own logic: it fills in the status a deployer learns and remembers each
// stack. The end-to-end tests in internal/controller use the real deployer.
type recorder struct {
	mu     sync.Mutex
	stacks map[string]string
}

func (d *recorder) Deploy(_ context.Context, s *stack.Stack) error {
	for _, lb := range s.LoadBalancers {
		lb.Status = &stack.LoadBalancerStatus{LoadBalancerARN: "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/" + lb.Spec.Name + "/0123456789abcdef",
			DNSName: strings.ToUpper(lb.Spec.Name) + "-1234.elb.us-east-1.elbow.local"}
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

// TestServiceLifecycle runs the Service reconciler on a real API server:
// a handled Service gets its finalizer, hostname and Ready condition; a
// bad annotation turns the condition False with the reason and an Event;
// a Service that stops being handled has its stack deleted, its status
// cleared and its finalizer removed.
func TestServiceLifecycle(t *testing.T) {
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
	r := &Reconciler{Client: mgr.GetClient(), Deployer: dep, Facts: staticFacts{facts.Default(facts.DefaultRegion, "test")},
		Options: opts, Events: kube.Recorder{Events: mgr.GetEventRecorder("service")}}
	if err := r.SetupWithManager(mgr, 2); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); <-done })

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "redis", Annotations: map[string]string{
		"service.beta.kubernetes.io/aws-load-balancer-type":            "external",
		"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
	}}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "redis"},
		Ports: []corev1.ServicePort{{Port: 6379, TargetPort: intstr.FromInt32(6379)}}}}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	get := func() *corev1.Service {
		s := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		s := get()
		cond := meta.FindStatusCondition(s.Status.Conditions, ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != ReasonSuccessfullyReconciled {
			return fmt.Errorf("condition %+v", cond)
		}
		if len(s.Status.LoadBalancer.Ingress) != 1 || !strings.HasSuffix(s.Status.LoadBalancer.Ingress[0].Hostname, "-1234.elb.us-east-1.elbow.local") ||
			strings.ToLower(s.Status.LoadBalancer.Ingress[0].Hostname) != s.Status.LoadBalancer.Ingress[0].Hostname {
			return fmt.Errorf("status %+v", s.Status.LoadBalancer)
		}
		if len(s.Finalizers) != 1 || s.Finalizers[0] != "service.k8s.aws/resources" {
			return fmt.Errorf("finalizers %v", s.Finalizers)
		}
		var tgbs elbv2api.TargetGroupBindingList
		if err := c.List(ctx, &tgbs, client.MatchingLabels{"service.k8s.aws/stack-namespace": "default", "service.k8s.aws/stack-name": "redis"}); err != nil || len(tgbs.Items) != 1 {
			return fmt.Errorf("bindings %d, %v", len(tgbs.Items), err)
		}
		return nil
	})

	// A bad annotation: the condition says what and where.
	s := get()
	s.Annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval"] = "ten"
	if err := c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		cond := meta.FindStatusCondition(get().Status.Conditions, ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != ReasonFailedBuildModel ||
			!strings.Contains(cond.Message, "aws-load-balancer-healthcheck-interval") || !strings.Contains(cond.Message, "ten") {
			return fmt.Errorf("condition %+v", cond)
		}
		var evs eventsv1.EventList
		if err := c.List(ctx, &evs, client.InNamespace("default")); err != nil {
			return err
		}
		for _, ev := range evs.Items {
			if ev.Regarding.Name == "redis" && ev.Reason == ReasonFailedBuildModel && ev.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no FailedBuildModel event")
	})

	// No longer handled (the annotations go): the stack is deleted.
	s = get()
	delete(s.Annotations, "service.beta.kubernetes.io/aws-load-balancer-type")
	delete(s.Annotations, "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval")
	if err := c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 20*time.Second, func() error {
		s := get()
		if len(s.Finalizers) != 0 || len(s.Status.LoadBalancer.Ingress) != 0 || meta.FindStatusCondition(s.Status.Conditions, ConditionReady) != nil {
			return fmt.Errorf("finalizers %v, status %+v", s.Finalizers, s.Status)
		}
		if st := dep.stack("default/redis"); strings.Contains(st, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
			return fmt.Errorf("last stack still has a load balancer")
		}
		var tgbs elbv2api.TargetGroupBindingList
		if err := c.List(ctx, &tgbs); err != nil || len(tgbs.Items) != 0 {
			return fmt.Errorf("bindings %d, %v", len(tgbs.Items), err)
		}
		return nil
	})
}
