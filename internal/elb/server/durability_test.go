package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elbowlb/elbow/internal/facts"
)

// buildElbow builds the elbow binary into a temporary directory.
func buildElbow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "elbow")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build elbow: %v", err)
	}
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/elbowlb/elbow/cmd/elbow")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is an `elbow elb` child process.
type process struct {
	cmd *exec.Cmd
	url string
}

// startElbow starts `elbow elb` on a state directory and waits for its
// "serving" log line, which names the endpoint.
func startElbow(t *testing.T, bin, dir string) *process {
	t.Helper()
	cmd := exec.Command(bin, "elb", "--listen", "127.0.0.1:0", "--state-dir", dir, "--provisioning-delay", "0", "--log-format", "json")
	cmd.Env = append(os.Environ(), "ELBOW_ACCESS_KEY_ID=", "ELBOW_SECRET_ACCESS_KEY=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
				API string `json:"api"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "elbow elb serving" {
				found <- line.API
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("elbow elb did not report serving within 30 s")
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func (p *process) config() aws.Config {
	return aws.Config{Region: facts.DefaultRegion, BaseEndpoint: aws.String(p.url), RetryMaxAttempts: 3,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// TestDurabilityAfterKill builds a full setup through a child `elbow elb`,
// kills it with SIGKILL right after the last acknowledged write, restarts
// it on the same state directory, and checks that every Describe returns
// what it returned before.
func TestDurabilityAfterKill(t *testing.T) {
	bin := buildElbow(t)
	dir := t.TempDir()
	p := startElbow(t, bin, dir)
	cfg := p.config()
	elb, ec2c, acmc := sdk.NewFromConfig(cfg), ec2sdk.NewFromConfig(cfg), acmsdk.NewFromConfig(cfg)
	f := facts.Default(facts.DefaultRegion, "")
	var public, private []string
	for _, s := range f.Subnets {
		if s.Public {
			public = append(public, s.ID)
		} else {
			private = append(private, s.ID)
		}
	}
	vpc := f.VPCs[0].ID
	tag := func(k, v string) []types.Tag { return []types.Tag{{Key: aws.String(k), Value: aws.String(v)}} }

	sg := must[*ec2sdk.CreateSecurityGroupOutput](t)(ec2c.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web"), VpcId: aws.String(vpc)}))
	must[*ec2sdk.AuthorizeSecurityGroupIngressOutput](t)(ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2sdk.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId,
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(443), CidrIp: aws.String("0.0.0.0/0")}))
	eip := must[*ec2sdk.AllocateAddressOutput](t)(ec2c.AllocateAddress(ctx, &ec2sdk.AllocateAddressInput{}))
	inst := must[*ec2sdk.RunInstancesOutput](t)(ec2c.RunInstances(ctx, &ec2sdk.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(private[0])}))
	cert1 := must[*acmsdk.RequestCertificateOutput](t)(acmc.RequestCertificate(ctx, &acmsdk.RequestCertificateInput{DomainName: aws.String("www.example.com"),
		Tags: []acmtypes.Tag{{Key: aws.String("app"), Value: aws.String("web")}}})).CertificateArn
	cert2 := must[*acmsdk.RequestCertificateOutput](t)(acmc.RequestCertificate(ctx, &acmsdk.RequestCertificateInput{DomainName: aws.String("api.example.com")})).CertificateArn

	alb := must[*sdk.CreateLoadBalancerOutput](t)(elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: public[:2],
		SecurityGroups: []string{*sg.GroupId}, Tags: tag("app", "web")})).LoadBalancers[0]
	nlb := must[*sdk.CreateLoadBalancerOutput](t)(elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("tcp"), Type: types.LoadBalancerTypeEnumNetwork,
		SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(public[0]), AllocationId: eip.AllocationId}, {SubnetId: aws.String(public[1])}}, Tags: tag("app", "tcp")})).LoadBalancers[0]
	must[*sdk.ModifyLoadBalancerAttributesOutput](t)(elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: alb.LoadBalancerArn,
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("90")}}}))

	httpTG := must[*sdk.CreateTargetGroupOutput](t)(elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("http"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(8080), VpcId: aws.String(vpc), TargetType: types.TargetTypeEnumIp, HealthCheckPath: aws.String("/healthz"), Tags: tag("tg", "http")})).TargetGroups[0]
	apiTG := must[*sdk.CreateTargetGroupOutput](t)(elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("api"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(9090), VpcId: aws.String(vpc), TargetType: types.TargetTypeEnumInstance})).TargetGroups[0]
	tcpTG := must[*sdk.CreateTargetGroupOutput](t)(elb.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("tcp"), Protocol: types.ProtocolEnumTcp,
		Port: aws.Int32(5432), VpcId: aws.String(vpc), TargetType: types.TargetTypeEnumIp})).TargetGroups[0]
	must[*sdk.ModifyTargetGroupAttributesOutput](t)(elb.ModifyTargetGroupAttributes(ctx, &sdk.ModifyTargetGroupAttributesInput{TargetGroupArn: tcpTG.TargetGroupArn,
		Attributes: []types.TargetGroupAttribute{{Key: aws.String("proxy_protocol_v2.enabled"), Value: aws.String("true")}}}))
	must[*sdk.RegisterTargetsOutput](t)(elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: httpTG.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("10.0.0.10")}, {Id: aws.String("10.0.16.10"), Port: aws.Int32(8081)}, {Id: aws.String("10.0.0.11")}}}))
	must[*sdk.RegisterTargetsOutput](t)(elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: apiTG.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: inst.Instances[0].InstanceId}}}))
	must[*sdk.RegisterTargetsOutput](t)(elb.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tcpTG.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("10.0.0.20")}, {Id: aws.String("10.0.16.20")}}}))

	port := func() int32 { return freePort(t, "127.0.0.1") }
	httpL := must[*sdk.CreateListenerOutput](t)(elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: alb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(port()), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: httpTG.TargetGroupArn}}, Tags: tag("l", "http")})).Listeners[0]
	httpsL := must[*sdk.CreateListenerOutput](t)(elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: alb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps,
		Port: aws.Int32(port()), Certificates: []types.Certificate{{CertificateArn: cert1}},
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("nope")}}}})).Listeners[0]
	must[*sdk.AddListenerCertificatesOutput](t)(elb.AddListenerCertificates(ctx, &sdk.AddListenerCertificatesInput{ListenerArn: httpsL.ListenerArn, Certificates: []types.Certificate{{CertificateArn: cert2}}}))
	tcpL := must[*sdk.CreateListenerOutput](t)(elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: nlb.LoadBalancerArn, Protocol: types.ProtocolEnumTcp,
		Port: aws.Int32(port()), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tcpTG.TargetGroupArn}}})).Listeners[0]
	must[*sdk.ModifyListenerAttributesOutput](t)(elb.ModifyListenerAttributes(ctx, &sdk.ModifyListenerAttributesInput{ListenerArn: tcpL.ListenerArn,
		Attributes: []types.ListenerAttribute{{Key: aws.String("tcp.idle_timeout.seconds"), Value: aws.String("900")}}}))
	must[*sdk.CreateRuleOutput](t)(elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: httpL.ListenerArn, Priority: aws.Int32(10),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}},
		Actions:    []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: apiTG.TargetGroupArn}}, Tags: tag("rule", "api")}))
	must[*sdk.CreateRuleOutput](t)(elb.CreateRule(ctx, &sdk.CreateRuleInput{ListenerArn: httpL.ListenerArn, Priority: aws.Int32(20),
		Conditions: []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{"old.example.com"}}}},
		Actions: []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301,
			Host: aws.String("new.example.com")}}}}))
	must[*sdk.ModifyCapacityReservationOutput](t)(elb.ModifyCapacityReservation(ctx, &sdk.ModifyCapacityReservationInput{LoadBalancerArn: alb.LoadBalancerArn,
		MinimumLoadBalancerCapacity: &types.MinimumLoadBalancerCapacity{CapacityUnits: aws.Int32(100)}}))
	// The last acknowledged write before the kill: a deregistration.
	must[*sdk.DeregisterTargetsOutput](t)(elb.DeregisterTargets(ctx, &sdk.DeregisterTargetsInput{TargetGroupArn: httpTG.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String("10.0.0.11")}}}))

	before := describeAll(t, p.config())
	p.kill(t)
	p2 := startElbow(t, bin, dir)
	after := describeAll(t, p2.config())
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("state after kill -9 and restart differs (-before +after):\n%s", diff)
	}
	if !strings.Contains(fmt.Sprint(after["health "+*httpTG.TargetGroupArn]), "10.0.0.11:8080 draining") {
		t.Errorf("the last write (a deregistration) is lost: %v", after["health "+*httpTG.TargetGroupArn])
	}
	// SIGTERM stops the server gracefully: exit status 0.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- p2.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("elbow elb after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("elbow elb did not stop within 20 s of SIGTERM")
	}
}

// describeAll records what every Describe of the setup returns, as JSON
// values keyed by call.
func describeAll(t *testing.T, cfg aws.Config) map[string]any {
	t.Helper()
	elb, ec2c, acmc := sdk.NewFromConfig(cfg), ec2sdk.NewFromConfig(cfg), acmsdk.NewFromConfig(cfg)
	out := map[string]any{}
	put := func(key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var x any
		if err := json.Unmarshal(b, &x); err != nil {
			t.Fatal(err)
		}
		if m, ok := x.(map[string]any); ok {
			delete(m, "ResultMetadata")
		}
		out[key] = x
	}
	lbs := must[*sdk.DescribeLoadBalancersOutput](t)(elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}))
	put("lbs", lbs)
	var arns []string
	for _, lb := range lbs.LoadBalancers {
		arns = append(arns, *lb.LoadBalancerArn)
		put("lbattrs "+*lb.LoadBalancerArn, must[*sdk.DescribeLoadBalancerAttributesOutput](t)(elb.DescribeLoadBalancerAttributes(ctx, &sdk.DescribeLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn})))
		put("capacity "+*lb.LoadBalancerArn, must[*sdk.DescribeCapacityReservationOutput](t)(elb.DescribeCapacityReservation(ctx, &sdk.DescribeCapacityReservationInput{LoadBalancerArn: lb.LoadBalancerArn})))
		ls := must[*sdk.DescribeListenersOutput](t)(elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn}))
		put("listeners "+*lb.LoadBalancerArn, ls)
		for _, l := range ls.Listeners {
			arns = append(arns, *l.ListenerArn)
			put("lattrs "+*l.ListenerArn, must[*sdk.DescribeListenerAttributesOutput](t)(elb.DescribeListenerAttributes(ctx, &sdk.DescribeListenerAttributesInput{ListenerArn: l.ListenerArn})))
			put("lcerts "+*l.ListenerArn, must[*sdk.DescribeListenerCertificatesOutput](t)(elb.DescribeListenerCertificates(ctx, &sdk.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn})))
			if lb.Type == types.LoadBalancerTypeEnumApplication {
				rules := must[*sdk.DescribeRulesOutput](t)(elb.DescribeRules(ctx, &sdk.DescribeRulesInput{ListenerArn: l.ListenerArn}))
				put("rules "+*l.ListenerArn, rules)
				for _, r := range rules.Rules {
					arns = append(arns, *r.RuleArn)
				}
			}
		}
	}
	tgs := must[*sdk.DescribeTargetGroupsOutput](t)(elb.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{}))
	put("tgs", tgs)
	for _, tg := range tgs.TargetGroups {
		arns = append(arns, *tg.TargetGroupArn)
		put("tgattrs "+*tg.TargetGroupArn, must[*sdk.DescribeTargetGroupAttributesOutput](t)(elb.DescribeTargetGroupAttributes(ctx, &sdk.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn})))
		h := must[*sdk.DescribeTargetHealthOutput](t)(elb.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
		// Health checks move on; registrations and draining must not.
		var targets []string
		for _, d := range h.TargetHealthDescriptions {
			s := fmt.Sprintf("%s:%d", *d.Target.Id, *d.Target.Port)
			if d.TargetHealth.State == types.TargetHealthStateEnumDraining {
				s += " draining"
			}
			targets = append(targets, s)
		}
		sort.Strings(targets)
		put("health "+*tg.TargetGroupArn, targets)
	}
	for i := 0; i < len(arns); i += 20 {
		put(fmt.Sprintf("tags %d", i), must[*sdk.DescribeTagsOutput](t)(elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: arns[i:min(i+20, len(arns))]})))
	}
	put("ssl", must[*sdk.DescribeSSLPoliciesOutput](t)(elb.DescribeSSLPolicies(ctx, &sdk.DescribeSSLPoliciesInput{})))
	put("sgs", must[*ec2sdk.DescribeSecurityGroupsOutput](t)(ec2c.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{})))
	put("eips", must[*ec2sdk.DescribeAddressesOutput](t)(ec2c.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{})))
	put("instances", must[*ec2sdk.DescribeInstancesOutput](t)(ec2c.DescribeInstances(ctx, &ec2sdk.DescribeInstancesInput{})))
	put("enis", must[*ec2sdk.DescribeNetworkInterfacesOutput](t)(ec2c.DescribeNetworkInterfaces(ctx, &ec2sdk.DescribeNetworkInterfacesInput{})))
	put("subnets", must[*ec2sdk.DescribeSubnetsOutput](t)(ec2c.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{})))
	certs := must[*acmsdk.ListCertificatesOutput](t)(acmc.ListCertificates(ctx, &acmsdk.ListCertificatesInput{}))
	put("certs", certs)
	for _, c := range certs.CertificateSummaryList {
		put("cert "+*c.CertificateArn, must[*acmsdk.DescribeCertificateOutput](t)(acmc.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: c.CertificateArn})))
		put("certtags "+*c.CertificateArn, must[*acmsdk.ListTagsForCertificateOutput](t)(acmc.ListTagsForCertificate(ctx, &acmsdk.ListTagsForCertificateInput{CertificateArn: c.CertificateArn})))
	}
	return out
}
