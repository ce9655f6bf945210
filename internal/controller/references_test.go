package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/controller/ingress"
)

// TestSubnetCreatedAfterStart: subnets created through the EC2 API after
// the controller read its facts (which it would read again only an hour
// later) are looked up when an Ingress names them, and the Ingress gets
// its load balancer in them at once. A subnet EC2 does not have is refused
// with what was looked up and what EC2 answered, not with a word about a
// facts file.
func TestSubnetCreatedAfterStart(t *testing.T) {
	ctx := context.Background()
	c, elb, d := localController(t, func(o *controller.Options) { o.FactsRefresh = time.Hour })
	if _, err := d.Facts.Facts(ctx, false); err != nil {
		t.Fatal(err)
	}

	vpc := elb.Facts.VPCs[0].ID
	var subnets []string
	for i, zone := range []string{"us-east-1a", "us-east-1b"} {
		out, err := elb.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: aws.String(vpc), CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", 64+i)), AvailabilityZone: aws.String(zone),
		})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, aws.ToString(out.Subnet.SubnetId))
	}

	ns := "later"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &networking.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	class := "alb"
	pt := networking.PathTypePrefix
	newIngress := func(name, subnetList string) *networking.Ingress {
		ing := &networking.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
				"alb.ingress.kubernetes.io/target-type": "ip",
				"alb.ingress.kubernetes.io/subnets":     subnetList,
			}},
			Spec: networking.IngressSpec{IngressClassName: &class, Rules: []networking.IngressRule{{
				IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{Paths: []networking.HTTPIngressPath{{
					Path: "/", PathType: &pt,
					Backend: networking.IngressBackend{Service: &networking.IngressServiceBackend{Name: "web", Port: networking.ServiceBackendPort{Number: 80}}},
				}}}},
			}}},
		}
		if err := c.Create(ctx, ing); err != nil {
			t.Fatal(err)
		}
		return ing
	}

	ing := newIngress("app", strings.Join(subnets, ","))
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(ing), got); err != nil {
			return err
		}
		if len(got.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("no load balancer yet (status %q)", got.Annotations[ingress.StatusAnnotation])
		}
		lbs, err := elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{})
		if err != nil {
			return err
		}
		for _, lb := range lbs.LoadBalancers {
			if !strings.EqualFold(aws.ToString(lb.DNSName), got.Status.LoadBalancer.Ingress[0].Hostname) {
				continue
			}
			var in []string
			for _, z := range lb.AvailabilityZones {
				in = append(in, aws.ToString(z.SubnetId))
			}
			slices.Sort(in)
			want := slices.Sorted(slices.Values(subnets))
			if !slices.Equal(in, want) {
				return fmt.Errorf("load balancer in subnets %v, want %v", in, want)
			}
			return nil
		}
		return fmt.Errorf("no load balancer named %s", got.Status.LoadBalancer.Ingress[0].Hostname)
	})

	// A subnet that does not exist: refused with EC2's answer.
	missing := "subnet-0123456789abcdef0"
	bad := newIngress("bad", subnets[0]+","+missing)
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(bad), got); err != nil {
			return err
		}
		status := got.Annotations[ingress.StatusAnnotation]
		for _, want := range []string{missing, "not found in AWS", "DescribeSubnets with filters subnet-id=", "answered no subnet with that ID"} {
			if !strings.Contains(status, want) {
				return fmt.Errorf("status %q lacks %q", status, want)
			}
		}
		if strings.Contains(status, "facts") {
			return fmt.Errorf("status %q speaks of facts", status)
		}
		return nil
	})
	// A subnet created later and named by its Name tag: found by that tag
	// in the cluster's VPC.
	_, err := elb.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.66.0/24"), AvailabilityZone: aws.String("us-east-1c"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("late")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	named := newIngress("named", subnets[0]+",late")
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got := &networking.Ingress{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(named), got); err != nil {
			return err
		}
		if len(got.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("no load balancer for a subnet named by its Name tag (status %q)", got.Annotations[ingress.StatusAnnotation])
		}
		return nil
	})
}
