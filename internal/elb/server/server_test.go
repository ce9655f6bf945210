package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	stssdk "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/miekg/dns"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

var ctx = context.Background()

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// freePort returns a port free on a host address.
func freePort(t testing.TB, host string) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// poll calls fn until it returns nil or ten seconds pass.
func poll(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEndToEnd drives a whole server through the SDK: the APIs, the
// health checker, the ALB data plane, DNS and metrics.
func TestEndToEnd(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{DNS: true, Metrics: true})
	id := must[*stssdk.GetCallerIdentityOutput](t)(stssdk.NewFromConfig(env.Config).GetCallerIdentity(ctx, &stssdk.GetCallerIdentityInput{}))
	if *id.Account != "000000000000" {
		t.Errorf("account %s", *id.Account)
	}
	vpcs := must[*ec2sdk.DescribeVpcsOutput](t)(env.EC2.DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{}))
	if len(vpcs.Vpcs) != 1 || *vpcs.Vpcs[0].VpcId != env.VpcID() {
		t.Errorf("VPCs %+v", vpcs.Vpcs)
	}

	// A backend at a VPC address, realised on its mapped loopback address.
	backendVPC := netip.MustParseAddr("10.0.0.77")
	backendHost := vpcaddr.Default().ToHost(backendVPC)
	ln, err := net.Listen("tcp", net.JoinHostPort(backendHost.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	backendPort := int32(ln.Addr().(*net.TCPAddr).Port)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	lb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("e2e"), Subnets: env.PublicSubnets()[:2]})).LoadBalancers[0]
	if lb.State.Code != "active" {
		t.Errorf("elbtest load balancer state %s, want active at once", lb.State.Code)
	}
	tg := must[*sdk.CreateTargetGroupOutput](t)(env.ELBv2.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("e2e"),
		Protocol: types.ProtocolEnumHttp, Port: aws.Int32(backendPort), VpcId: aws.String(env.VpcID()), TargetType: types.TargetTypeEnumIp,
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})).TargetGroups[0]
	must[*sdk.RegisterTargetsOutput](t)(env.ELBv2.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(backendVPC.String())}}}))
	lbAddr := *lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress
	port := freePort(t, lbAddr)
	// The load balancer's (default) security group admits the listener port.
	must[*ec2sdk.AuthorizeSecurityGroupIngressOutput](t)(env.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2sdk.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(lb.SecurityGroups[0]), IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port), CidrIp: aws.String("0.0.0.0/0")}))
	must[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}}))

	// An NLB in front of a TCP echo backend, checked at the same time.
	echoVPC := netip.MustParseAddr("10.0.16.78")
	echoLn, err := net.Listen("tcp", net.JoinHostPort(vpcaddr.Default().ToHost(echoVPC).String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echoLn.Close() })
	go func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	nlb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("e2e-tcp"),
		Type: types.LoadBalancerTypeEnumNetwork, Subnets: env.PublicSubnets()[:2]})).LoadBalancers[0]
	tcpTG := must[*sdk.CreateTargetGroupOutput](t)(env.ELBv2.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("e2e-tcp"),
		Protocol: types.ProtocolEnumTcp, Port: aws.Int32(int32(echoLn.Addr().(*net.TCPAddr).Port)), VpcId: aws.String(env.VpcID()), TargetType: types.TargetTypeEnumIp,
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})).TargetGroups[0]
	must[*sdk.RegisterTargetsOutput](t)(env.ELBv2.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tcpTG.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(echoVPC.String())}}}))
	nlbAddr := *nlb.AvailabilityZones[1].LoadBalancerAddresses[0].IpAddress
	nlbPort := freePort(t, nlbAddr)
	must[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: nlb.LoadBalancerArn,
		Protocol: types.ProtocolEnumTcp, Port: aws.Int32(nlbPort), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tcpTG.TargetGroupArn}}}))

	// The checker finds the target healthy; DescribeTargetHealth says so.
	poll(t, "target healthy", func() error {
		h := must[*sdk.DescribeTargetHealthOutput](t)(env.ELBv2.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}))
		if st := h.TargetHealthDescriptions[0].TargetHealth.State; st != "healthy" {
			return fmt.Errorf("state %s (%s)", st, h.TargetHealthDescriptions[0].TargetHealth.Reason)
		}
		return nil
	})
	// The ALB carries a request to it.
	url := fmt.Sprintf("http://%s:%d/hello", lbAddr, port)
	poll(t, "request through the ALB", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "backend saw /hello" {
			return fmt.Errorf("%d %q", resp.StatusCode, b)
		}
		return nil
	})

	// The NLB carries a TCP stream to its target.
	poll(t, "stream through the NLB", func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(nlbAddr, fmt.Sprint(nlbPort)), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			return fmt.Errorf("echo %q: %v", buf, err)
		}
		return nil
	})

	// DNS answers the load balancer's name with its zone addresses.
	c := new(dns.Client)
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(*lb.DNSName), dns.TypeA)
	var r *dns.Msg
	poll(t, "DNS answer", func() error {
		var err error
		if r, _, err = c.Exchange(q, env.DNSAddr); err != nil {
			return err
		}
		if len(r.Answer) != 2 {
			return fmt.Errorf("answers %v", r.Answer)
		}
		return nil
	})
	if a := r.Answer[0].(*dns.A).A.String(); a != lbAddr && a != *lb.AvailabilityZones[1].LoadBalancerAddresses[0].IpAddress {
		t.Errorf("DNS answer %s", a)
	}
	for name, rcode := range map[string]int{"nope-0123.us-east-1.elb.localhost.": dns.RcodeNameError, "example.com.": dns.RcodeRefused} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(q, env.DNSAddr)
		if err != nil || r.Rcode != rcode {
			t.Errorf("DNS %s: %v rcode %d, want %d", name, err, r.Rcode, rcode)
		}
	}

	// Metrics count the calls.
	resp, err := http.Get(env.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`elbow_elb_api_requests_total{action="CreateLoadBalancer",code="OK",service="elasticloadbalancing"} 2`, "elbow_health_checks_total", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// ACM works on the same endpoint.
	must[*acmsdk.ListCertificatesOutput](t)(env.ACM.ListCertificates(ctx, &acmsdk.ListCertificatesInput{}))
}

func TestCredentialsOnNonLoopback(t *testing.T) {
	_, err := server.New(server.Config{Listen: "0.0.0.0:0", StateDir: t.TempDir(), NoDataPlanes: true})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("default credentials on 0.0.0.0: %v", err)
	}
	_, err = server.New(server.Config{Listen: "127.0.0.1:0", StateDir: t.TempDir(), AccessKeyID: "only-key", NoDataPlanes: true})
	if err == nil {
		t.Fatal("an access key without a secret was accepted")
	}
	s, err := server.New(server.Config{Listen: "0.0.0.0:0", StateDir: t.TempDir(), AccessKeyID: "AKID", SecretAccessKey: "secret", NoDataPlanes: true})
	if err != nil {
		t.Fatalf("own credentials on 0.0.0.0: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// TestRestartKeepsState stops a server and starts another on its state
// directory: load balancers keep their ARNs and addresses.
func TestRestartKeepsState(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true})
	lb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("keep"), Subnets: env.PublicSubnets()[:2]})).LoadBalancers[0]
	env.Stop()
	again := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true, StateDir: env.StateDir})
	out := must[*sdk.DescribeLoadBalancersOutput](t)(again.ELBv2.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}))
	if len(out.LoadBalancers) != 1 || *out.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn ||
		*out.LoadBalancers[0].AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress != *lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress {
		t.Errorf("after restart %+v, want %+v", out.LoadBalancers, lb)
	}
	vpcs := must[*ec2sdk.DescribeVpcsOutput](t)(again.EC2.DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{}))
	if len(vpcs.Vpcs) != 1 {
		t.Errorf("bootstrap ran twice: %d VPCs", len(vpcs.Vpcs))
	}
}
