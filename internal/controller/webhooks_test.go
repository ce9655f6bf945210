package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

func albClass(name string) *networking.IngressClass {
	return &networking.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"},
	}
}

func ingressOf(ns, name, class string, ann map[string]string) *networking.Ingress {
	pt := networking.PathTypePrefix
	return &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: networking.IngressSpec{
			IngressClassName: &class,
			Rules: []networking.IngressRule{{IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{
				Paths: []networking.HTTPIngressPath{{Path: "/", PathType: &pt, Backend: networking.IngressBackend{
					Service: &networking.IngressServiceBackend{Name: "web", Port: networking.ServiceBackendPort{Number: 80}},
				}}},
			}}}},
		},
	}
}

// TestWebhooksOutOfCluster runs the controller outside the cluster with a
// generated certificate and self-registered webhook configurations, and
// checks that the API server calls it: invalid IngressClassParams and
// Ingresses of its class are refused with the reference's messages, valid
// ones and other classes' Ingresses pass.
func TestWebhooksOutOfCluster(t *testing.T) {
	cfg := ctrltest.APIServer(t)
	c := ctrltest.Client(t, cfg)
	ctx := context.Background()
	o := testOptions(t)
	startController(t, cfg, o, deps(t))

	// The webhook server comes up after the configurations are
	// registered: until then the API server fails the call.
	bad := &elbv2api.IngressClassParams{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec:       elbv2api.IngressClassParamsSpec{InboundCIDRs: []string{"10.0.0.1"}},
	}
	ctrltest.Eventually(t, 30*time.Second, func() error {
		err := c.Create(ctx, bad.DeepCopy())
		if err == nil {
			return fmt.Errorf("IngressClassParams with inboundCIDRs 10.0.0.1 accepted")
		}
		if !strings.Contains(err.Error(), `did you mean "10.0.0.1/32"`) {
			return fmt.Errorf("not refused by the webhook yet: %v", err)
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		spec elbv2api.IngressClassParamsSpec
		want string
	}{
		{"host-bits", elbv2api.IngressClassParamsSpec{InboundCIDRs: []string{"10.0.0.1/8"}}, `did you mean "10.0.0.0/8"`},
		{"both-selectors", elbv2api.IngressClassParamsSpec{Subnets: &elbv2api.SubnetSelector{IDs: []elbv2api.SubnetID{"subnet-1"}, Tags: map[string][]string{"a": {"b"}}}}, "may not have both `ids` and `tags` set"},
		{"dup-ids", elbv2api.IngressClassParamsSpec{Subnets: &elbv2api.SubnetSelector{IDs: []elbv2api.SubnetID{"subnet-1", "subnet-1"}}}, "Duplicate value"},
		{"good", elbv2api.IngressClassParamsSpec{InboundCIDRs: []string{"10.0.0.0/8"}, Subnets: &elbv2api.SubnetSelector{Tags: map[string][]string{"tier": {"web"}}}}, ""},
	} {
		err := c.Create(ctx, &elbv2api.IngressClassParams{ObjectMeta: metav1.ObjectMeta{Name: tc.name}, Spec: tc.spec})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("IngressClassParams %s refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("IngressClassParams %s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}

	if err := c.Create(ctx, albClass("alb")); err != nil {
		t.Fatal(err)
	}
	other := &networking.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networking.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
	if err := c.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	badCond := map[string]string{"alb.ingress.kubernetes.io/conditions.web": `[{"field":"host-header"}]`}
	for _, tc := range []struct {
		ing  *networking.Ingress
		want string
	}{
		{ingressOf("default", "bad-conditions", "alb", badCond), "alb.ingress.kubernetes.io/conditions.web"},
		{ingressOf("default", "missing-class", "nope", nil), "invalid ingress class"},
		{ingressOf("default", "other-class", "nginx", badCond), ""},
		{ingressOf("default", "good", "alb", map[string]string{"alb.ingress.kubernetes.io/conditions.web": `[{"field":"host-header","hostHeaderConfig":{"values":["a.example.com"]}}]`}), ""},
	} {
		err := c.Create(ctx, tc.ing)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Ingress %s refused: %v", tc.ing.Name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Ingress %s: error %v, want one containing %q", tc.ing.Name, err, tc.want)
		}
	}
	// An update that breaks the conditions is refused too.
	good := &networking.Ingress{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "good"}, good); err != nil {
		t.Fatal(err)
	}
	good.Annotations = badCond
	if err := c.Update(ctx, good); err == nil || !strings.Contains(err.Error(), "conditions.web") {
		t.Errorf("update with bad conditions: %v", err)
	}

	// New LoadBalancer Services get the class; others are left alone; an
	// update that drops the class keeps it.
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "lb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}}
	plain := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "plain"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, svc := range []*corev1.Service{lb, plain} {
		if err := c.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	if lb.Spec.LoadBalancerClass == nil || *lb.Spec.LoadBalancerClass != "service.k8s.aws/nlb" {
		t.Errorf("LoadBalancer Service class %v", lb.Spec.LoadBalancerClass)
	}
	if plain.Spec.LoadBalancerClass != nil {
		t.Errorf("ClusterIP Service class %v", *plain.Spec.LoadBalancerClass)
	}
	lb.Spec.LoadBalancerClass = nil
	if err := c.Update(ctx, lb); err != nil {
		t.Errorf("update without class: %v", err)
	} else if lb.Spec.LoadBalancerClass == nil || *lb.Spec.LoadBalancerClass != "service.k8s.aws/nlb" {
		t.Errorf("class after update %v", lb.Spec.LoadBalancerClass)
	}

	// Operations endpoints.
	for _, u := range []string{"http://" + o.HealthProbeBindAddr + "/healthz", "http://" + o.HealthProbeBindAddr + "/readyz"} {
		ctrltest.Eventually(t, 10*time.Second, func() error {
			resp, err := http.Get(u)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", u, resp.Status)
			}
			return nil
		})
	}
	resp, err := http.Get("http://" + o.MetricsBindAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`controller_runtime_reconcile_total{controller="targetGroupBinding"`, `workqueue_adds_total{controller="targetGroupBinding"`, "controller_runtime_webhook_requests_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics has no %s", m)
		}
	}
}
