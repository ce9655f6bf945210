package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// TestIngressEndToEnd runs the whole controller (translation, the real
// deployer, TargetGroupBindings, status) against a local ELB: an Ingress
// becomes an ALB that serves its backends, a new path is served after an
// update, and deletion leaves no AWS resource and no finalizer.
func TestIngressEndToEnd(t *testing.T) {
	ctx := context.Background()
	c, elb, _ := localController(t, nil)
	ctrltest.Node(t, c, "node-a", "us-east-1a", "i-0aaaaaaaaaaaaaaa1", nil)

	ns := "shop"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &networking.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	workload := func(name string) *ctrltest.Workload {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		}}
		if err := c.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
		w := ctrltest.NewWorkload(t, c, ns, name, map[string]string{"app": name}, "http", 8080, "node-a")
		w.Run()
		w.AddPod(name + "-1")
		return w
	}
	workload("web")
	workload("api")

	path := func(p, svc string) networking.HTTPIngressPath {
		pt := networking.PathTypePrefix
		return networking.HTTPIngressPath{Path: p, PathType: &pt, Backend: networking.IngressBackend{
			Service: &networking.IngressServiceBackend{Name: svc, Port: networking.ServiceBackendPort{Number: 80}},
		}}
	}
	class := "alb"
	ing := &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop", Annotations: map[string]string{
			"alb.ingress.kubernetes.io/scheme":                       "internet-facing",
			"alb.ingress.kubernetes.io/target-type":                  "ip",
			"alb.ingress.kubernetes.io/healthcheck-interval-seconds": "5",
			"alb.ingress.kubernetes.io/healthcheck-timeout-seconds":  "2",
			"alb.ingress.kubernetes.io/healthy-threshold-count":      "2",
		}},
		Spec: networking.IngressSpec{IngressClassName: &class, Rules: []networking.IngressRule{{
			Host:             "shop.example.com",
			IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{Paths: []networking.HTTPIngressPath{path("/", "web")}}},
		}}},
	}
	if err := c.Create(ctx, ing); err != nil {
		t.Fatal(err)
	}

	// The ALB exists, its DNS name is on the Ingress, and it serves.
	var base string
	ctrltest.Eventually(t, 90*time.Second, func() error {
		got := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ing), got); err != nil {
			return err
		}
		if len(got.Status.LoadBalancer.Ingress) == 0 || got.Status.LoadBalancer.Ingress[0].Hostname == "" {
			return fmt.Errorf("no hostname in the Ingress status yet")
		}
		host := got.Status.LoadBalancer.Ingress[0].Hostname
		out, err := elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{})
		if err != nil {
			return err
		}
		for _, lb := range out.LoadBalancers {
			if strings.EqualFold(aws.ToString(lb.DNSName), host) {
				base = "http://" + lbAddress(t, lb)
			}
		}
		if base == "" {
			return fmt.Errorf("no load balancer named %s", host)
		}
		return nil
	})
	fetch := func(p string) (string, error) {
		req, err := http.NewRequest(http.MethodGet, base+p, nil)
		if err != nil {
			return "", err
		}
		req.Host = "shop.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s %s", p, resp.Status, b)
		}
		return string(b), nil
	}
	served := func(p, backend string) func() error {
		return func() error {
			body, err := fetch(p)
			if err != nil {
				return err
			}
			if !strings.Contains(body, backend) {
				return fmt.Errorf("GET %s served by %q, want %s", p, body, backend)
			}
			return nil
		}
	}
	ctrltest.Eventually(t, 90*time.Second, served("/", "web-1"))

	// An update: a new path to another Service is served.
	if err := retryUpdate(ctx, c, ing, func(i *networking.Ingress) {
		paths := &i.Spec.Rules[0].HTTP.Paths
		*paths = append([]networking.HTTPIngressPath{path("/api", "api")}, *paths...)
	}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 90*time.Second, served("/api/items", "api-1"))
	ctrltest.Eventually(t, 10*time.Second, served("/", "web-1"))

	// Deletion: the finalizer goes once every owned resource is gone.
	if err := c.Delete(ctx, ing); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 90*time.Second, func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(ing), &networking.Ingress{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("Ingress still there (%v)", err)
		}
		lbs, err := elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{})
		if err != nil {
			return err
		}
		tgs, err := elb.ELBv2.DescribeTargetGroups(ctx, &elbv2sdk.DescribeTargetGroupsInput{})
		if err != nil {
			return err
		}
		if len(lbs.LoadBalancers)+len(tgs.TargetGroups) != 0 {
			return fmt.Errorf("%d load balancers and %d target groups left", len(lbs.LoadBalancers), len(tgs.TargetGroups))
		}
		return nil
	})
}

// retryUpdate applies edit to the latest version of the object until the
// update is not refused for a conflict.
func retryUpdate(ctx context.Context, c client.Client, ing *networking.Ingress, edit func(*networking.Ingress)) error {
	for i := 0; ; i++ {
		cur := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ing), cur); err != nil {
			return err
		}
		edit(cur)
		err := c.Update(ctx, cur)
		if err == nil || !apierrors.IsConflict(err) || i > 10 {
			return err
		}
	}
}
