package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"

	"github.com/elbowlb/elbow/internal/devenv"
)

// Annotations that add tags to what an Ingress's or a Service's load
// balancer is made of.
const (
	ingressTags = "alb.ingress.kubernetes.io/tags"
	serviceTags = "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags"
)

// lifecycle changes and then deletes, through the API server as a user
// would, the objects behind every load balancer an example made: an
// annotation on each object reaches its load balancer, a replica more of
// a Deployment whose pods are IP targets becomes a target, and deleting
// the objects removes every AWS resource they owned and their finalizers.
func lifecycle(t *testing.T, d *dev) {
	t.Helper()
	if len(d.rep.LoadBalancers) == 0 {
		return
	}
	k := d.kube()
	elb := elbv2.NewFromConfig(d.awsConfig())

	// An annotation: a tag on the load balancer.
	for i, lb := range d.rep.LoadBalancers {
		tag := fmt.Sprintf("e2e-change-%d", i)
		for _, o := range lb.Objects {
			annotate(t, d, o, tag)
		}
		eventually(t, 2*time.Minute, func() error {
			out, err := elb.DescribeTags(ctx(t), &elbv2.DescribeTagsInput{ResourceArns: []string{lb.ARN}})
			if err != nil {
				return err
			}
			for _, td := range out.TagDescriptions {
				for _, tg := range td.Tags {
					if aws.ToString(tg.Key) == tag {
						return nil
					}
				}
			}
			return fmt.Errorf("load balancer %s has no tag %s after the annotation changed", lb.Name, tag)
		})
		t.Logf("lifecycle: %s tagged %s=1 after its objects' annotation changed", lb.Name, tag)
	}

	// A replica: the new pod becomes an IP target.
	targets := ipTargets(t, d, elb)
	deps, err := k.AppsV1().Deployments("").List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range deps.Items {
		ips := podIPs(t, d, dep.Namespace, metav1.FormatLabelSelector(dep.Spec.Selector))
		if !slices.ContainsFunc(ips, func(ip string) bool { return targets[ip] }) {
			continue // not behind an IP target group
		}
		want := *dep.Spec.Replicas + 1
		patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, want)
		if _, err := k.AppsV1().Deployments(dep.Namespace).Patch(ctx(t), dep.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Minute, func() error {
			ips := podIPs(t, d, dep.Namespace, metav1.FormatLabelSelector(dep.Spec.Selector))
			if len(ips) != int(want) {
				return fmt.Errorf("deployment %s: %d running pods, want %d", dep.Name, len(ips), want)
			}
			targets := ipTargets(t, d, elb)
			for _, ip := range ips {
				if !targets[ip] {
					return fmt.Errorf("deployment %s scaled to %d: pod %s is no target", dep.Name, want, ip)
				}
			}
			return nil
		})
		t.Logf("lifecycle: deployment %s scaled to %d, every pod an IP target", dep.Name, want)
	}

	// Deletion: nothing owned is left, no object waits on a finalizer.
	for _, lb := range d.rep.LoadBalancers {
		for _, o := range lb.Objects {
			var err error
			switch o.Kind {
			case "Ingress":
				err = k.NetworkingV1().Ingresses(o.Namespace).Delete(ctx(t), o.Name, metav1.DeleteOptions{})
			case "Service":
				err = k.CoreV1().Services(o.Namespace).Delete(ctx(t), o.Name, metav1.DeleteOptions{})
			case "Gateway":
				err = d.objects().Delete(ctx(t), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name}})
			}
			if err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
		}
	}
	eventually(t, 3*time.Minute, func() error {
		for _, lb := range d.rep.LoadBalancers {
			for _, o := range lb.Objects {
				var obj metav1.Object
				var err error
				switch o.Kind {
				case "Ingress":
					obj, err = k.NetworkingV1().Ingresses(o.Namespace).Get(ctx(t), o.Name, metav1.GetOptions{})
				case "Service":
					obj, err = k.CoreV1().Services(o.Namespace).Get(ctx(t), o.Name, metav1.GetOptions{})
				case "Gateway":
					gw := &gwv1.Gateway{}
					obj, err = gw, d.objects().Get(ctx(t), types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, gw)
				}
				if err == nil {
					return fmt.Errorf("%s still there, finalizers %v", o, obj.GetFinalizers())
				}
				if !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
		return nil
	})
	eventually(t, 3*time.Minute, func() error {
		if left := owned(t, d, elb); len(left) != 0 {
			return fmt.Errorf("left after the objects were deleted: %v", left)
		}
		return nil
	})
	t.Logf("lifecycle: objects deleted, no finalizer waits, no owned load balancer, target group or security group left")
}

// annotate adds tag=1 to the tags annotation of an Ingress or Service,
// or to the tags of a Gateway's LoadBalancerConfiguration.
func annotate(t *testing.T, d *dev, o devenv.ObjectRef, tag string) {
	t.Helper()
	if o.Kind == "Gateway" {
		tagGateway(t, d, o, tag)
		return
	}
	if err := annotateObject(d, o, tag); err != nil {
		t.Fatal(err)
	}
}

// annotateObject adds tag=1 to the tags annotation of an Ingress or
// Service, returning what failed.
func annotateObject(d *dev, o devenv.ObjectRef, tag string) error {
	k := d.kube()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var key string
	var current map[string]string
	switch o.Kind {
	case "Ingress":
		ing, err := k.NetworkingV1().Ingresses(o.Namespace).Get(c, o.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		key, current = ingressTags, ing.Annotations
	case "Service":
		svc, err := k.CoreV1().Services(o.Namespace).Get(c, o.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		key, current = serviceTags, svc.Annotations
	default:
		return fmt.Errorf("%s: no tags annotation for kind %s", o, o.Kind)
	}
	value := tag + "=1"
	if v := strings.TrimSpace(current[key]); v != "" {
		value = v + "," + value
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	switch o.Kind {
	case "Ingress":
		_, err = k.NetworkingV1().Ingresses(o.Namespace).Patch(c, o.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	case "Service":
		_, err = k.CoreV1().Services(o.Namespace).Patch(c, o.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		return fmt.Errorf("%s: annotate %s=%q: %w", o, key, value, err)
	}
	return nil
}

// tagGateway adds tag=1 to the tags of the LoadBalancerConfiguration the
// Gateway names (every Gateway example names one).
func tagGateway(t *testing.T, d *dev, o devenv.ObjectRef, tag string) {
	t.Helper()
	c := d.objects()
	gw := &gwv1.Gateway{}
	if err := c.Get(ctx(t), types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, gw); err != nil {
		t.Fatal(err)
	}
	inf := gw.Spec.Infrastructure
	if inf == nil || inf.ParametersRef == nil || inf.ParametersRef.Kind != "LoadBalancerConfiguration" {
		t.Fatalf("%s names no LoadBalancerConfiguration: the lifecycle check tags the load balancer through one", o)
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"tags": map[string]string{tag: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	lbc := &gwaws.LoadBalancerConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: inf.ParametersRef.Name}}
	if err := c.Patch(ctx(t), lbc, crclient.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("%s: tag LoadBalancerConfiguration %s: %v", o, lbc.Name, err)
	}
}

// podIPs returns the IPs of the running pods a selector picks.
func podIPs(t *testing.T, d *dev, ns, selector string) []string {
	t.Helper()
	pods, err := d.kube().CoreV1().Pods(ns).List(ctx(t), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
			out = append(out, p.Status.PodIP)
		}
	}
	return out
}

// ipTargets returns the IP targets (not draining) of every target group
// of the example's load balancers.
func ipTargets(t *testing.T, d *dev, elb *elbv2.Client) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, lb := range d.rep.LoadBalancers {
		for _, tg := range targetGroups(t, d, lb) {
			if tg.TargetType != elbv2types.TargetTypeEnumIp {
				continue
			}
			th, err := elb.DescribeTargetHealth(ctx(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range th.TargetHealthDescriptions {
				if h.TargetHealth.State != elbv2types.TargetHealthStateEnumDraining {
					out[aws.ToString(h.Target.Id)] = true
				}
			}
		}
	}
	return out
}

// owned lists the load balancers, target groups, managed security groups
// and imported certificates that carry the dev cluster's tag.
func owned(t *testing.T, d *dev, elb *elbv2.Client) []string {
	t.Helper()
	var out []string
	var arns []string
	lbs, err := elb.DescribeLoadBalancers(ctx(t), &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lb := range lbs.LoadBalancers {
		arns = append(arns, aws.ToString(lb.LoadBalancerArn))
	}
	tgs, err := elb.DescribeTargetGroups(ctx(t), &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tgs.TargetGroups {
		arns = append(arns, aws.ToString(tg.TargetGroupArn))
	}
	for len(arns) > 0 {
		n := min(len(arns), 20)
		out2, err := elb.DescribeTags(ctx(t), &elbv2.DescribeTagsInput{ResourceArns: arns[:n]})
		if err != nil {
			t.Fatal(err)
		}
		for _, td := range out2.TagDescriptions {
			for _, tag := range td.Tags {
				if aws.ToString(tag.Key) == "elbv2.k8s.aws/cluster" {
					out = append(out, aws.ToString(td.ResourceArn))
				}
			}
		}
		arns = arns[n:]
	}
	sgs, err := ec2.NewFromConfig(d.awsConfig()).DescribeSecurityGroups(ctx(t), &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sgs.SecurityGroups {
		for _, tag := range g.Tags {
			if v := aws.ToString(tag.Value); strings.HasSuffix(aws.ToString(tag.Key), "k8s.aws/resource") && v == "ManagedLBSecurityGroup" {
				out = append(out, aws.ToString(g.GroupId)+" ("+aws.ToString(g.GroupName)+")")
			}
		}
	}
	// Certificates imported from Secrets.
	a := acm.NewFromConfig(d.awsConfig())
	certs, err := a.ListCertificates(ctx(t), &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{
		acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmEcPrime256v1, acmtypes.KeyAlgorithmEcSecp384r1}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range certs.CertificateSummaryList {
		if c.Type != acmtypes.CertificateTypeImported {
			continue
		}
		tags, err := a.ListTagsForCertificate(ctx(t), &acm.ListTagsForCertificateInput{CertificateArn: c.CertificateArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags.Tags {
			if aws.ToString(tag.Key) == "elbv2.k8s.aws/cluster" {
				out = append(out, aws.ToString(c.CertificateArn))
			}
		}
	}
	return out
}
