package deploy_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/elbowlb/elbow/internal/deploy"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate/manifests"
)

// gatewayShop is an ALB Gateway with two routes to two Services: two
// target groups, a managed security group, one listener.
const gatewayShop = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop, namespace: shop, uid: 5c4a3ee6-3e1e-4a8a-9a55-0c1f0f6f2b11}
spec:
  gatewayClassName: alb
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: shop}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /cart}}]
    backendRefs: [{name: cart, port: 80}]
  - backendRefs: [{name: front, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {type: NodePort, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: shop}
spec: {type: NodePort, ports: [{port: 80}]}
`

// TestAdoption creates a stack's security group, target groups and load
// balancer as the AWS Load Balancer Controller does (its names, its tags
// written literally here, one target group of an IngressGroup with the
// legacy cluster tag of its older releases, one health check path out of
// date, no listeners yet), then deploys with a new deployer: everything is
// updated in place (same ARNs and ID, nothing created again or deleted),
// the missing parts are added, and a further deploy writes nothing. It
// does so for an IngressGroup and for an ALB Gateway.
func TestAdoption(t *testing.T) {
	for _, tc := range []struct {
		name string
		// stack translates the objects.
		stack func(e *env) *stack.Stack
		// tags are the reference's tags of a resource; legacy asks for the
		// legacy cluster tag.
		tags func(resource string, legacy bool) map[string]string
		// legacy says whether a target group carries the legacy cluster tag.
		legacy bool
	}{
		{
			name:  "IngressGroup",
			stack: func(e *env) *stack.Stack { return e.shopStack(t, baseShop()) },
			tags: func(resource string, legacy bool) map[string]string {
				cl := "elbv2.k8s.aws/cluster"
				if legacy {
					cl = "ingress.k8s.aws/cluster"
				}
				return map[string]string{cl: cluster, "ingress.k8s.aws/stack": "shop", "ingress.k8s.aws/resource": resource}
			},
			legacy: true,
		},
		{
			name: "Gateway",
			stack: func(e *env) *stack.Stack {
				objs := &manifests.Objects{}
				if err := objs.Add("gateway.yaml", []byte(gatewayShop)); err != nil {
					t.Fatal(err)
				}
				stacks := e.stacksOf(t, objs)
				if len(stacks) != 1 {
					t.Fatalf("%d stacks, want 1", len(stacks))
				}
				return stacks[0]
			},
			tags: func(resource string, _ bool) map[string]string {
				return map[string]string{"elbv2.k8s.aws/cluster": cluster, "gateway.k8s.aws.alb/stack": "shop/shop", "gateway.k8s.aws.alb/resource": resource}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			adopt(t, e, func() *stack.Stack { return tc.stack(e) }, tc.tags, tc.legacy)
		})
	}
}

// adopt creates the resources of the stack build returns with the
// reference's tags, deploys it, and checks that they were adopted.
func adopt(t *testing.T, e *env, build func() *stack.Stack, refTags func(string, bool) map[string]string, legacy bool) {
	ctx := context.Background()
	st := build()
	if st.LoadBalancers["LoadBalancer"] == nil || st.SecurityGroups["ManagedLBSecurityGroup"] == nil || len(st.TargetGroups) < 2 {
		t.Fatalf("stack %s: load balancers %v, security groups %v, %d target groups", st.ID, sortedKeys(st.LoadBalancers), sortedKeys(st.SecurityGroups), len(st.TargetGroups))
	}
	vpc := e.facts.VPCs[0].ID

	sg := st.SecurityGroups["ManagedLBSecurityGroup"]
	sgOut, err := e.elb.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(sg.Spec.GroupName), Description: aws.String(sg.Spec.Description), VpcId: aws.String(vpc),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: ec2Tags(refTags("ManagedLBSecurityGroup", false))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sgID := aws.ToString(sgOut.GroupId)

	tgARNs := map[string]string{} // name -> ARN
	for i, id := range sortedKeys(st.TargetGroups) {
		tg := st.TargetGroups[id]
		in := &elbv2.CreateTargetGroupInput{
			Name: aws.String(tg.Spec.Name), Protocol: elbv2types.ProtocolEnum(tg.Spec.Protocol), Port: tg.Spec.Port,
			TargetType: elbv2types.TargetTypeEnum(tg.Spec.TargetType), VpcId: aws.String(vpc), Tags: elbTags(refTags(tg.ResID, legacy && i == 0)),
		}
		if tg.Spec.ProtocolVersion != nil {
			in.ProtocolVersion = aws.String(string(*tg.Spec.ProtocolVersion))
		}
		if i == 1 {
			in.HealthCheckPath = aws.String("/out-of-date")
		}
		out, err := e.elb.ELBv2.CreateTargetGroup(ctx, in)
		if err != nil {
			t.Fatalf("target group %s: %v", tg.Spec.Name, err)
		}
		tgARNs[tg.Spec.Name] = aws.ToString(out.TargetGroups[0].TargetGroupArn)
	}

	lb := st.LoadBalancers["LoadBalancer"]
	var subnets []string
	for _, m := range lb.Spec.SubnetMappings {
		subnets = append(subnets, m.SubnetID)
	}
	lbOut, err := e.elb.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String(lb.Spec.Name), Type: elbv2types.LoadBalancerTypeEnum(lb.Spec.Type), Scheme: elbv2types.LoadBalancerSchemeEnum(lb.Spec.Scheme),
		Subnets: subnets, SecurityGroups: []string{sgID, e.backend}, Tags: elbTags(refTags("LoadBalancer", false)),
	})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := aws.ToString(lbOut.LoadBalancers[0].LoadBalancerArn)
	before := e.owned(t)
	e.calls.take()

	deployAll(t, e.deployer(t), []*stack.Stack{st})
	_, writes := e.calls.take()
	t.Logf("writes to adopt: %v", writes)
	for _, w := range writes {
		if strings.HasPrefix(w, "Delete") || slices.Contains([]string{"CreateLoadBalancer", "CreateTargetGroup", "CreateSecurityGroup"}, w) {
			t.Errorf("adoption made %s; writes %v", w, writes)
		}
	}
	for _, w := range []string{"ModifyTargetGroup", "CreateListener", "CreateRule", "AuthorizeSecurityGroupIngress"} {
		if !slices.Contains(writes, w) {
			t.Errorf("adoption made no %s (the out-of-date health check, the missing listeners, rules and security group rules); writes %v", w, writes)
		}
	}
	if got := lb.Status.LoadBalancerARN; got != lbARN {
		t.Errorf("load balancer %s, want the existing %s", got, lbARN)
	}
	if got := sg.Status.GroupID; got != sgID {
		t.Errorf("security group %s, want the existing %s", got, sgID)
	}
	for _, tg := range st.TargetGroups {
		if tg.Status == nil || tg.Status.TargetGroupARN != tgARNs[tg.Spec.Name] {
			t.Errorf("target group %s: %+v, want the existing %s", tg.Spec.Name, tg.Status, tgARNs[tg.Spec.Name])
		}
	}
	if after := e.owned(t); !slices.Equal(after, before) {
		t.Errorf("resources after adoption %v, before %v", after, before)
	}
	checkDeployed(t, e, st)
	deployAll(t, e.deployer(t), []*stack.Stack{build()})
	if _, writes := e.calls.take(); len(writes) != 0 {
		t.Errorf("after adoption, a further deploy wrote %v", writes)
	}
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func elbTags(m map[string]string) []elbv2types.Tag {
	var out []elbv2types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, elbv2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// TestTaggingAPIIndex runs restarted deployers whose index comes from the
// Resource Groups Tagging API (GetResources by cluster tag, the reference's
// EnableRGTAPI). The shop group's load balancer and target groups are
// found, one of them tagged only with the legacy cluster tag: a deploy of
// the same stack writes only that target group's tags, and a deployer
// whose first deploy removes the stack (it knows the stack's resources
// only from the scan) deletes everything the stack owns.
func TestTaggingAPIIndex(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := e.shopStack(t, baseShop())
	deployAll(t, e.deployer(t), []*stack.Stack{st})
	legacy := st.TargetGroups[sortedKeys(st.TargetGroups)[0]].Status.TargetGroupARN
	tagLegacy := func() {
		t.Helper()
		if _, err := e.elb.ELBv2.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{legacy}, Tags: elbTags(map[string]string{"ingress.k8s.aws/cluster": cluster})}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.elb.ELBv2.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{legacy}, TagKeys: []string{"elbv2.k8s.aws/cluster"}}); err != nil {
			t.Fatal(err)
		}
	}
	tagging := rgt.NewFromConfig(e.elb.Config, func(o *rgt.Options) { o.APIOptions = append(o.APIOptions, e.calls.middleware) })
	restarted := func() *deploy.Deployer {
		t.Helper()
		d, err := deploy.New(e.elbv2, e.ec2, deploy.Config{ClusterName: cluster, Tagging: tagging})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	tagLegacy()
	e.calls.take()
	deployAll(t, restarted(), []*stack.Stack{e.shopStack(t, baseShop())})
	all, writes := e.calls.take()
	if !slices.Contains(all, "GetResources") {
		t.Errorf("the index was not built with GetResources: %v", all)
	}
	if !slices.Equal(writes, []string{"AddTags", "RemoveTags"}) {
		t.Errorf("first deploy wrote %v, want only the legacy target group's tags", writes)
	}

	tagLegacy()
	deployAll(t, restarted(), []*stack.Stack{empty(st)})
	if left := e.owned(t); len(left) != 0 {
		t.Errorf("removal by a deployer indexed with GetResources left %v", left)
	}
}
