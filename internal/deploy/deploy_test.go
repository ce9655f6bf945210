package deploy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go/middleware"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elbowlb/elbow/internal/deploy"
	"github.com/elbowlb/elbow/internal/elb/elbtest"
	elbv2svc "github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	"github.com/elbowlb/elbow/internal/translate/manifests"
	"github.com/elbowlb/elbow/internal/translate/plan"
)

const cluster = "test"

// calls records the AWS operations clients make.
type calls struct {
	mu  sync.Mutex
	ops []string
	// cancelAfter, when > 0, cancels cancel after that many calls.
	cancelAfter int
	cancel      context.CancelFunc
	// lose makes the cancelAfter-th call's answer lost: the server did
	// the work, the caller gets an error.
	lose bool
}

func (c *calls) middleware(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleInitialize(ctx, in)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ops = append(c.ops, awsmiddleware.GetOperationName(ctx))
		if c.cancelAfter > 0 && len(c.ops) >= c.cancelAfter && c.cancel != nil {
			c.cancel()
			if c.lose && len(c.ops) == c.cancelAfter && err == nil {
				return middleware.InitializeOutput{}, md, fmt.Errorf("answer lost: %w", context.Canceled)
			}
		}
		return out, md, err
	}), middleware.After)
}

func isWrite(op string) bool {
	for _, p := range []string{"Describe", "Get", "List"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	return true
}

// take returns the calls made since the last take: all, and writes only
// (sorted).
func (c *calls) take() (all, writes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all, c.ops = c.ops, nil
	for _, op := range all {
		if isWrite(op) {
			writes = append(writes, op)
		}
	}
	sort.Strings(writes)
	return all, writes
}

// env is a local ELB with counted clients, the facts the examples name,
// and the shared backend security group.
type env struct {
	elb     *elbtest.Env
	calls   *calls
	elbv2   *elbv2.Client
	ec2     *ec2.Client
	acm     *acm.Client
	facts   *facts.Facts
	backend string
	// secrets hold the TLS Secrets of the manifests translated.
	secrets *secretStore
}

func newEnv(t testing.TB) *env { return newEnvLimits(t, elbv2svc.Limits{}) }

// newEnvLimits is newEnv with raised ELBv2 quotas.
func newEnvLimits(t testing.TB, limits elbv2svc.Limits) *env {
	t.Helper()
	f := facts.Default("us-east-1", cluster)
	vpc := f.VPCs[0].ID
	f.Subnets = append(f.Subnets,
		facts.Subnet{ID: "subnet-xxx", VpcID: vpc, AvailabilityZone: "us-east-1a", CIDR: "10.0.48.0/20"},
		facts.Subnet{ID: "subnet-yyy", VpcID: vpc, AvailabilityZone: "us-east-1b", CIDR: "10.0.64.0/20"},
	)
	f.SecurityGroups = append(f.SecurityGroups, facts.SecurityGroup{ID: "sg-xxx", Name: "examples", VpcID: vpc})
	f.ElasticIPs = append(f.ElasticIPs, facts.ElasticIP{AllocationID: "eipalloc-xxx"}, facts.ElasticIP{AllocationID: "eipalloc-yyy"})
	for _, z := range "abc" {
		f.ElasticIPs = append(f.ElasticIPs, facts.ElasticIP{AllocationID: "eipalloc-0e1b0a0000000000" + string(z)})
	}
	for _, arn := range []string{
		"arn:aws:acm:ap-northeast-2:123456789:certificate/xxx",
		"arn:aws:acm:ap-northeast-2:123456789012:certificate/grpc",
		"arn:aws:acm:ap-northeast-2:123456789012:certificate/web",
	} {
		f.Certificates = append(f.Certificates, facts.Certificate{ARN: arn, DomainName: "example.com", SubjectAlternativeNames: []string{"*.example.com"}})
	}
	e := &env{elb: elbtest.StartWith(t, elbtest.Options{Facts: f, ClusterName: cluster, AutoProvisionCertificates: true, NoDataPlanes: true, Limits: limits}), calls: &calls{}, facts: f,
		secrets: &secretStore{m: map[string][2][]byte{}}}
	e.elbv2 = elbv2.NewFromConfig(e.elb.Config, func(o *elbv2.Options) { o.APIOptions = append(o.APIOptions, e.calls.middleware) })
	e.ec2 = ec2.NewFromConfig(e.elb.Config, func(o *ec2.Options) { o.APIOptions = append(o.APIOptions, e.calls.middleware) })
	e.acm = acm.NewFromConfig(e.elb.Config, func(o *acm.Options) { o.APIOptions = append(o.APIOptions, e.calls.middleware) })
	out, err := e.elb.EC2.CreateSecurityGroup(context.Background(), &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("k8s-traffic-test"), Description: aws.String("[k8s] Shared Backend SecurityGroup for LoadBalancer"), VpcId: aws.String(vpc),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.backend = aws.ToString(out.GroupId)
	return e
}

func (e *env) deployer(t testing.TB) *deploy.Deployer {
	t.Helper()
	d, err := deploy.New(e.elbv2, e.ec2, deploy.Config{ClusterName: cluster, ACM: e.acm, Secrets: e.secrets, DeleteTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// stacks translates manifests into stacks, as the controller does.
func (e *env) stacks(t *testing.T, paths ...string) []*stack.Stack {
	t.Helper()
	objs, err := manifests.LoadPaths(paths)
	if err != nil {
		t.Fatal(err)
	}
	return e.stacksOf(t, objs)
}

func (e *env) stacksOf(t testing.TB, objs *manifests.Objects) []*stack.Stack {
	t.Helper()
	o := translate.DefaultOptions()
	o.ClusterName = cluster
	o.BackendSecurityGroupID = e.backend
	o.AssumeMissingReferences = true
	o.AssumeMissingSecrets = true
	o.AssumeNodePorts = true
	o.AdoptServicesWithoutClass = true // as the Service webhook makes it (loadBalancerClass set on create)
	allocateNodePorts(objs)
	for _, sec := range objs.Secrets {
		crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
		if crt == nil {
			crt, key = []byte(sec.StringData[corev1.TLSCertKey]), []byte(sec.StringData[corev1.TLSPrivateKeyKey])
		}
		e.secrets.set(sec.Namespace, sec.Name, crt, key)
	}
	plan.AddDefaultIngressClass(objs, o.IngressClass)
	p := plan.Build(plan.Input{Objects: objs, Facts: e.facts, Options: o})
	var out []*stack.Stack
	for _, s := range p.Report(false).Stacks {
		if s.Error != "" {
			t.Fatalf("%s %s: %s", s.Kind, s.ID, s.Error)
		}
		out = append(out, s.Stack)
	}
	return out
}

// allocateNodePorts does what the API server does on create: node ports
// for NodePort and LoadBalancer Services, a health check node port for
// externalTrafficPolicy Local.
func allocateNodePorts(objs *manifests.Objects) {
	next := int32(30000)
	for i := range objs.Services {
		svc := &objs.Services[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeNodePort {
			continue
		}
		for j := range svc.Spec.Ports {
			if svc.Spec.Ports[j].NodePort == 0 {
				svc.Spec.Ports[j].NodePort = next
				next++
			}
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && svc.Spec.HealthCheckNodePort == 0 {
			svc.Spec.HealthCheckNodePort = next
			next++
		}
	}
}

func deployAll(t testing.TB, d *deploy.Deployer, stacks []*stack.Stack) {
	t.Helper()
	for _, s := range stacks {
		if err := d.Deploy(context.Background(), s); err != nil {
			t.Fatalf("deploy: %v", err)
		}
	}
}

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	return files
}

// owned lists every load balancer, target group and security group tagged
// for the cluster, by name.
func (e *env) owned(t testing.TB) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	lbs, err := e.elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lb := range lbs.LoadBalancers {
		out = append(out, "lb/"+aws.ToString(lb.LoadBalancerName))
	}
	tgs, err := e.elb.ELBv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tgs.TargetGroups {
		out = append(out, "tg/"+aws.ToString(tg.TargetGroupName))
	}
	sgs, err := e.elb.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sgs.SecurityGroups {
		for _, tag := range g.Tags {
			if aws.ToString(tag.Key) == stack.TagCluster {
				out = append(out, "sg/"+aws.ToString(g.GroupName))
			}
		}
	}
	sort.Strings(out)
	return out
}

func empty(s *stack.Stack) *stack.Stack { return stack.New(s.ID, s.TagPrefix) }

// TestExamples deploys every example from nothing, checks what the API
// reports against the stack, deploys again with zero writes, and removes
// everything.
func TestExamples(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			d := e.deployer(t)
			programmed := e.programChainedALBs(t, file, d)
			stacks := e.exampleStacks(t, file, programmed)
			if len(stacks) == 0 {
				objs, _ := manifests.LoadPaths([]string{file})
				t.Fatalf("no stack from %d Services and %d Ingresses", len(objs.Services), len(objs.Ingresses))
			}
			deployAll(t, d, stacks)
			e.calls.take()
			for _, s := range stacks {
				checkDeployed(t, e, s)
			}
			e.calls.take()

			// The same stacks again, translated afresh: nothing to write.
			again := e.exampleStacks(t, file, programmed)
			deployAll(t, d, again)
			all, writes := e.calls.take()
			if len(writes) != 0 {
				t.Errorf("second deploy made writes %v", writes)
			}
			t.Logf("steady state: %d reads for %d stacks", len(all), len(again))

			// A new deployer (a restarted controller) writes nothing either.
			deployAll(t, e.deployer(t), e.exampleStacks(t, file, programmed))
			if _, writes := e.calls.take(); len(writes) != 0 {
				t.Errorf("deploy by a restarted deployer made writes %v", writes)
			}

			for _, s := range again {
				if err := d.Deploy(context.Background(), empty(s)); err != nil {
					t.Fatalf("remove: %v", err)
				}
			}
			if left := e.owned(t); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// programChainedALBs does for an example with an NLB Gateway in front of
// an ALB Gateway what the controller does: it deploys the ALB Gateways'
// stacks first and returns the Programmed condition each Gateway then has
// (naming its load balancer, which the NLB's translation reads), by
// namespace/name; nil when no Gateway forwards to another.
func (e *env) programChainedALBs(t *testing.T, file string, d *deploy.Deployer) map[string]metav1.Condition {
	t.Helper()
	stacks := e.stacks(t, file)
	chained := false
	for _, s := range stacks {
		chained = chained || (s.FrontendNLB != nil && len(s.FrontendNLB.TargetGroups) > 0)
	}
	if !chained {
		return nil
	}
	out := map[string]metav1.Condition{}
	for _, s := range stacks {
		if s.TagPrefix != stack.TagPrefixGatewayALB {
			continue
		}
		if err := d.Deploy(context.Background(), s); err != nil {
			t.Fatalf("deploy %s: %v", s.ID, err)
		}
		lb := s.LoadBalancers[stack.IDLoadBalancer]
		out[s.ID.String()] = metav1.Condition{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed",
			Message: "Load balancer " + lb.Status.LoadBalancerARN + " is active."}
	}
	return out
}

// exampleStacks translates an example, its Gateways carrying the
// Programmed conditions given.
func (e *env) exampleStacks(t *testing.T, file string, programmed map[string]metav1.Condition) []*stack.Stack {
	t.Helper()
	objs, err := manifests.LoadPaths([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	for i := range objs.Gateways {
		gw := &objs.Gateways[i]
		if c, ok := programmed[gw.Namespace+"/"+gw.Name]; ok {
			gw.Status.Conditions = []metav1.Condition{c}
		}
	}
	return e.stacksOf(t, objs)
}

// checkDeployed reads the load balancer back and compares it with the stack.
func checkDeployed(t *testing.T, e *env, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	for _, lb := range s.LoadBalancers {
		if lb.Status == nil || lb.Status.LoadBalancerARN == "" || lb.Status.DNSName == "" {
			t.Fatalf("load balancer %s: status not filled: %+v", lb.Spec.Name, lb.Status)
		}
		out, err := e.elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{lb.Status.LoadBalancerARN}})
		if err != nil {
			t.Fatal(err)
		}
		got := out.LoadBalancers[0]
		fixed := 0
		for _, m := range lb.Spec.SubnetMappings {
			if m.AllocationID != nil || m.PrivateIPv4Address != nil {
				fixed++
			}
		}
		if len(lb.Status.StaticAddresses) != fixed {
			t.Errorf("load balancer %s: static addresses %v, want one for each of the %d subnet mappings with an Elastic IP or a private address", lb.Spec.Name, lb.Status.StaticAddresses, fixed)
		}
		if aws.ToString(got.LoadBalancerName) != lb.Spec.Name || string(got.Type) != string(lb.Spec.Type) || (lb.Spec.Scheme != "" && string(got.Scheme) != string(lb.Spec.Scheme)) {
			t.Errorf("load balancer: got %s %s %s, want %s %s %s", aws.ToString(got.LoadBalancerName), got.Type, got.Scheme, lb.Spec.Name, lb.Spec.Type, lb.Spec.Scheme)
		}
		ls, err := e.elb.ELBv2.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: got.LoadBalancerArn})
		if err != nil {
			t.Fatal(err)
		}
		ports := map[int32]string{}
		for _, l := range ls.Listeners {
			ports[aws.ToInt32(l.Port)] = string(l.Protocol)
		}
		for _, l := range s.Listeners {
			if ports[l.Spec.Port] != string(l.Spec.Protocol) {
				t.Errorf("listener %d: got %q, want %s", l.Spec.Port, ports[l.Spec.Port], l.Spec.Protocol)
			}
			rules, err := e.elb.ELBv2.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: aws.String(l.Status.ListenerARN)})
			if err != nil {
				t.Fatal(err)
			}
			prios := map[string]bool{}
			for _, r := range rules.Rules {
				prios[aws.ToString(r.Priority)] = true
			}
			for _, r := range s.RulesOf(l) {
				if !prios[itoa(r.Spec.Priority)] || r.Status == nil || r.Status.RuleARN == "" {
					t.Errorf("rule %s: not deployed at priority %d", r.ResID, r.Spec.Priority)
				}
			}
			if len(rules.Rules) != len(s.RulesOf(l))+1 {
				t.Errorf("listener %d: %d rules, want %d and the default", l.Spec.Port, len(rules.Rules), len(s.RulesOf(l)))
			}
		}
		if len(ls.Listeners) != len(s.Listeners) {
			t.Errorf("%d listeners, want %d", len(ls.Listeners), len(s.Listeners))
		}
	}
	for _, tg := range s.TargetGroups {
		out, err := e.elb.ELBv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{tg.Status.TargetGroupARN}})
		if err != nil {
			t.Fatal(err)
		}
		got := out.TargetGroups[0]
		if aws.ToString(got.TargetGroupName) != tg.Spec.Name || string(got.Protocol) != string(tg.Spec.Protocol) || string(got.TargetType) != string(tg.Spec.TargetType) {
			t.Errorf("target group: got %s %s %s, want %s %s %s", aws.ToString(got.TargetGroupName), got.Protocol, got.TargetType, tg.Spec.Name, tg.Spec.Protocol, tg.Spec.TargetType)
		}
		if hc := tg.Spec.HealthCheckConfig; hc != nil && hc.Path != nil && aws.ToString(got.HealthCheckPath) != *hc.Path {
			t.Errorf("target group %s: health check path %q, want %q", tg.Spec.Name, aws.ToString(got.HealthCheckPath), *hc.Path)
		}
		tags, err := e.elb.ELBv2.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{tg.Status.TargetGroupARN}})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]string{}
		for _, tag := range tags.TagDescriptions[0].Tags {
			have[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		for k, v := range s.ResourceTags(cluster, tg, tg.Spec.Tags) {
			if have[k] != v {
				t.Errorf("target group %s: tag %s=%q, want %q", tg.Spec.Name, k, have[k], v)
			}
		}
	}
	if s.FrontendNLB == nil {
		return
	}
	for name, ft := range s.FrontendNLB.TargetGroups {
		tgARN, err := s.Resolve(ft.ARN)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.elb.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.TargetHealthDescriptions); n != 1 || aws.ToString(out.TargetHealthDescriptions[0].Target.Id) != ft.TargetARN.Value ||
			aws.ToInt32(out.TargetHealthDescriptions[0].Target.Port) != ft.TargetPort {
			t.Errorf("alb target group %s: targets %+v, want ALB %s on port %d", name, out.TargetHealthDescriptions, ft.TargetARN.Value, ft.TargetPort)
		}
	}
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
