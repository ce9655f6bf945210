package alb_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// TestThroughTheSDK builds an Application Load Balancer the way a user
// does, with the AWS SDK against the local ELB's ELBv2, EC2 and ACM
// services, and sends traffic through it: every state change reaches the
// data plane as it does in the server.
func TestThroughTheSDK(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := svctest.OpenStore(t)
	f := svctest.Bootstrap(t, st, ec2.Bootstrap, "sdk")
	svc := elbv2.New(elbv2.Config{Store: st, ProvisioningDelay: -1})
	e := svctest.ServeStore(t, st, svc.API(), ec2.New(ec2.Config{Store: st}).API(), acm.New(acm.Config{Store: st}).API())
	elb, ec2c, acmc := elbsdk.NewFromConfig(e.Config), ec2sdk.NewFromConfig(e.Config), acmsdk.NewFromConfig(e.Config)

	plane := alb.New(alb.Config{Addresses: vpcaddr.Default(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		plane.Close(cctx)
	})
	changes, stop := st.Subscribe()
	defer stop()
	apply := func() {
		snap, err := st.Snapshot()
		if err != nil {
			t.Errorf("snapshot: %v", err)
			return
		}
		plane.Apply(snap)
	}
	apply()
	go func() {
		for range changes {
			apply()
		}
	}()

	var public []string
	for _, sn := range f.Subnets {
		if sn.Public {
			public = append(public, sn.ID)
		}
	}
	// A security group open to the test's client only.
	envSeq := int(testSeq.Add(1))
	clientIP := netip.AddrFrom4([4]byte{127, 56, byte(envSeq % 250), 1})
	sg, err := ec2c.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String("alb-sdk"), Description: aws.String("test"), VpcId: aws.String(f.VPCs[0].ID)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2sdk.AuthorizeSecurityGroupIngressInput{GroupId: sg.GroupId, IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535), IpRanges: []ec2types.IpRange{{CidrIp: aws.String(clientIP.String() + "/32")}},
	}}}); err != nil {
		t.Fatal(err)
	}
	lbOut, err := elb.CreateLoadBalancer(ctx, &elbsdk.CreateLoadBalancerInput{Name: aws.String("sdk-alb"), Subnets: public[:2], SecurityGroups: []string{*sg.GroupId}})
	if err != nil {
		t.Fatal(err)
	}
	lb := lbOut.LoadBalancers[0]
	addr := ""
	for _, az := range lb.AvailabilityZones {
		for _, a := range az.LoadBalancerAddresses {
			if addr == "" {
				addr = aws.ToString(a.IpAddress)
			}
		}
	}
	if addr == "" {
		t.Fatalf("no load balancer address in %+v", lb.AvailabilityZones)
	}
	// Targets: two echo servers at VPC addresses of the private subnet.
	tenv := &env{t: t, seq: envSeq, addrs: vpcaddr.Default()}
	b1, b2 := tenv.startBackend("one", nil), tenv.startBackend("two", nil)
	tg, err := elb.CreateTargetGroup(ctx, &elbsdk.CreateTargetGroupInput{Name: aws.String("sdk-tg"), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80),
		VpcId: aws.String(f.VPCs[0].ID), TargetType: elbv2types.TargetTypeEnumIp, HealthCheckPath: aws.String("/health")})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := elb.RegisterTargets(ctx, &elbsdk.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []elbv2types.TargetDescription{
		{Id: aws.String(b1.vpc.Addr().String()), Port: aws.Int32(int32(b1.vpc.Port()))},
		{Id: aws.String(b2.vpc.Addr().String()), Port: aws.Int32(int32(b2.vpc.Port()))},
	}}); err != nil {
		t.Fatal(err)
	}
	port := freePortOn(t, addr)
	l, err := elb.CreateListener(ctx, &elbsdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(port),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no route")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elb.CreateRule(ctx, &elbsdk.CreateRuleInput{ListenerArn: l.Listeners[0].ListenerArn, Priority: aws.Int32(10),
		Conditions: []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/app/*"}}}},
		Actions:    []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://%s:%d", addr, port)
	c := client(clientIP)
	eventually(t, "the listener served", func() bool {
		resp, err := c.Get(base + "/app/x")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	seen := map[string]bool{}
	for i := 0; i < 10; i++ {
		ec := getEcho(t, c, base+"/app/hello", nil)
		seen[ec.ID] = true
		if got := ec.Headers["X-Forwarded-For"]; len(got) != 1 || got[0] != clientIP.String() {
			t.Errorf("X-Forwarded-For %q", got)
		}
	}
	if !seen["one"] || !seen["two"] {
		t.Errorf("requests reached %v, want both targets", seen)
	}
	if code, _, body := get(t, c, "GET", base+"/other", nil); code != 404 || body != "no route" {
		t.Errorf("default action: %d %q", code, body)
	}
	// An attribute changed through the API takes effect.
	if _, err := elb.ModifyLoadBalancerAttributes(ctx, &elbsdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancerArn,
		Attributes: []elbv2types.LoadBalancerAttribute{{Key: aws.String("routing.http.xff_header_processing.mode"), Value: aws.String("remove")}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "X-Forwarded-For removed", func() bool {
		_, ok := getEcho(t, c, base+"/app/hello", nil).Headers["X-Forwarded-For"]
		return !ok
	})
	// The security group keeps other clients out.
	if _, err := client(netip.AddrFrom4([4]byte{127, 56, byte(envSeq % 250), 2})).Get(base + "/app/x"); err == nil {
		t.Errorf("a client outside the security group was served")
	}

	// HTTPS with a certificate requested from the local ACM.
	cert, err := acmc.RequestCertificate(ctx, &acmsdk.RequestCertificateInput{DomainName: aws.String("app.example.test")})
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := freePortOn(t, addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = elb.CreateListener(ctx, &elbsdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: elbv2types.ProtocolEnumHttps, Port: aws.Int32(tlsPort),
			SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06"), Certificates: []elbv2types.Certificate{{CertificateArn: cert.CertificateArn}},
			DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: tgARN}}})
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "Certificate") {
			break
		}
		time.Sleep(100 * time.Millisecond) // the certificate is being issued
	}
	if err != nil {
		t.Fatal(err)
	}
	https := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "app.example.test", InsecureSkipVerify: true}, // the local CA is not in the system pool
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: clientIP.AsSlice()}}).DialContext,
	}}
	eventually(t, "the HTTPS listener served", func() bool {
		resp, err := https.Get(fmt.Sprintf("https://%s:%d/app/tls", addr, tlsPort))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(string(b), `"X-Forwarded-Proto":["https"]`) && resp.TLS.PeerCertificates[0].DNSNames[0] == "app.example.test"
	})

	// Deleting the load balancer closes its listeners.
	if _, err := elb.DeleteLoadBalancer(ctx, &elbsdk.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the listeners closed", func() bool {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", addr, port), time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
}

// freePortOn returns a port free on a host address.
func freePortOn(t *testing.T, addr string) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}
