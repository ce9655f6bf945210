package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elbowlb/elbow/internal/devenv"
)

// clientIP is the loopback address test clients bind to, so that the
// address a target sees tells the client from the load balancer.
const clientIP = "127.0.0.77"

// checks are the per-example assertions; every file in examples/ has one.
var checks = map[string]func(t *testing.T, d *dev){
	"alb-ingress-full.yaml":            checkALBFull,
	"alb-ingress-minimal.yaml":         checkALBMinimal,
	"alb-web-app.yaml":                 checkALBWebApp,
	"alb-grpc.yaml":                    checkALBGRPC,
	"nlb-ip.yaml":                      checkNLBIP,
	"nlb-ip-preserve-client-ip.yaml":   checkNLBPreserveClientIP,
	"nlb-instance-local.yaml":          checkNLBInstanceLocal,
	"nlb-instance-proxy-protocol.yaml": checkNLBProxyProtocol,
	"nlb-tls.yaml":                     checkNLBTLS,
	"nlb-eip.yaml":                     checkNLBEIP,
	"nlb-internal.yaml":                checkNLBInternal,
	"nlb-annotations-tour.yaml":        checkNLBTour,
	"nlb-redis.yaml":                   checkNLBRedis,
	"nlb-game-server.yaml":             checkNLBGameServer,
	"mixed-internal.yaml":              checkMixedInternal,
	"gateway-alb.yaml":                 checkGatewayALB,
	"gateway-alb-routes.yaml":          checkGatewayALBRoutes,
	"gateway-alb-grpc.yaml":            checkGatewayALBGRPC,
	"gateway-nlb.yaml":                 checkGatewayNLB,
	"gateway-nlb-game-server.yaml":     checkGatewayNLBGameServer,
	"gateway-nlb-tls-terminate.yaml":   checkGatewayNLBTLSTerminate,
	"gateway-nlb-tls-passthrough.yaml": checkGatewayNLBTLSPassthrough,
	"gateway-nlb-to-alb.yaml":          checkGatewayNLBToALB,
	"hostnetwork-and-etp.yaml":         checkHostNetwork,
}

// TestExamples runs every example in its own elbow dev.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(), "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		name := filepath.Base(f)
		check, ok := checks[name]
		if !ok {
			t.Errorf("examples/%s has no end-to-end check: add one to checks", name)
			continue
		}
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			d := startDev(t, filepath.Join("examples", name))
			check(t, d)
			lifecycle(t, d)
		})
	}
}

func addr(lb devenv.LoadBalancer, i int, port int32) string {
	return net.JoinHostPort(lb.Addresses[i].IP, strconv.Itoa(int(port)))
}

// servedAddr is the address through which elbow dev found the listener
// serving (the first of the load balancer's, in zone order, that answered).
func servedAddr(t *testing.T, lb devenv.LoadBalancer, l devenv.Listener) string {
	t.Helper()
	if l.Address == "" {
		t.Fatalf("elbow dev found %s %s:%d not serving: %v", lb.Name, l.Protocol, l.Port, lb.Problems)
	}
	return net.JoinHostPort(l.Address, strconv.Itoa(int(l.Port)))
}

// listener returns the load balancer's listener on a port.
func listener(t *testing.T, lb devenv.LoadBalancer, protocol string, port int32) devenv.Listener {
	t.Helper()
	for _, l := range lb.Listeners {
		if l.Protocol == protocol && l.Port == port {
			return l
		}
	}
	t.Fatalf("%s has no %s:%d listener: %+v", lb.Name, protocol, port, lb.Listeners)
	return devenv.Listener{}
}

// served checks that GET url with host reaches a pod of the given name
// prefix, with X-Forwarded-For and X-Forwarded-Proto set by the ALB.
func served(t *testing.T, url, host, podPrefix, proto string) echo {
	t.Helper()
	c := &client{local: clientIP}
	var e echo
	eventually(t, 30*time.Second, func() error {
		var err error
		e, err = c.get(ctx(t), url, host)
		return err
	})
	if !strings.HasPrefix(e.Pod, podPrefix) {
		t.Errorf("GET %s (Host %s) reached pod %q, want %s*", url, host, e.Pod, podPrefix)
	}
	if xff := e.header("X-Forwarded-For"); !strings.Contains(xff, clientIP) {
		t.Errorf("GET %s: X-Forwarded-For %q does not name the client %s", url, xff, clientIP)
	}
	if xfp := e.header("X-Forwarded-Proto"); xfp != proto {
		t.Errorf("GET %s: X-Forwarded-Proto %q, want %s", url, xfp, proto)
	}
	return e
}

// status checks the status an ALB answers itself (a default action).
func status(t *testing.T, url, host string, want int) {
	t.Helper()
	c := &client{local: clientIP}
	resp, body, err := c.do(ctx(t), "GET", url, host)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	if resp.StatusCode != want {
		t.Errorf("GET %s (Host %s): %s %s, want %d", url, host, resp.Status, body, want)
	}
}

// certificateOf returns the leaf certificate ACM holds for an ARN.
func certificateOf(t *testing.T, d *dev, arn string) []byte {
	t.Helper()
	out, err := acm.NewFromConfig(d.awsConfig()).GetCertificate(ctx(t), &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("ACM GetCertificate %s: %v", arn, err)
	}
	b, _ := pem.Decode([]byte(aws.ToString(out.Certificate)))
	if b == nil {
		t.Fatalf("ACM certificate %s: no PEM", arn)
	}
	return b.Bytes
}

// checkServedCertificate checks that a TLS handshake at addr serves the
// ACM certificate arn, negotiates TLS 1.2 or later, and that a TLS 1.1
// handshake is refused (every TLS 1.2+ policy).
func checkServedCertificate(t *testing.T, d *dev, addr, serverName, arn string) {
	t.Helper()
	want := certificateOf(t, d, arn)
	st, err := tlsHandshake(addr, serverName, 0)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	if len(st.PeerCertificates) == 0 || !bytes.Equal(st.PeerCertificates[0].Raw, want) {
		t.Errorf("TLS to %s: the served certificate is not ACM's %s", addr, arn)
	}
	if st.Version < tls.VersionTLS12 {
		t.Errorf("TLS to %s negotiated %s", addr, tls.VersionName(st.Version))
	}
	if _, err := tlsHandshake(addr, serverName, tls.VersionTLS11); err == nil {
		t.Errorf("TLS 1.1 to %s was accepted under a TLS 1.2+ policy", addr)
	}
}

func targetGroups(t *testing.T, d *dev, lb devenv.LoadBalancer) []elbv2types.TargetGroup {
	t.Helper()
	out, err := elbv2.NewFromConfig(d.awsConfig()).DescribeTargetGroups(ctx(t), &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lb.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	return out.TargetGroups
}

func checkALBFull(t *testing.T, d *dev) {
	lb := d.lbFor("Ingress default/my-app-ingress")
	if lb.Name != "my-app-alb" || lb.Scheme != "internet-facing" || lb.Type != "application" {
		t.Errorf("load balancer %s %s %s, want my-app-alb internet-facing application", lb.Name, lb.Scheme, lb.Type)
	}
	listener(t, lb, "HTTP", 80)
	listener(t, lb, "HTTPS", 443)
	for i := range lb.Addresses {
		served(t, "http://"+addr(lb, i, 80)+"/", "api.example.com", "my-app-", "http")
	}
	served(t, "https://"+addr(lb, 0, 443)+"/", "api.example.com", "my-app-", "https")
	status(t, "http://"+addr(lb, 0, 80)+"/", "other.example.com", 404)
	checkServedCertificate(t, d, addr(lb, 0, 443), "api.example.com", "arn:aws:acm:ap-northeast-2:123456789:certificate/xxx")
	st, err := tlsHandshake(addr(lb, 0, 443), "api.example.com", 0)
	if err == nil && st.Version != tls.VersionTLS13 {
		t.Errorf("ELBSecurityPolicy-TLS13-1-2-2021-06 negotiated %s with a TLS 1.3 client", tls.VersionName(st.Version))
	}
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || aws.ToString(tgs[0].HealthCheckPath) != "/health" || aws.ToInt32(tgs[0].HealthCheckIntervalSeconds) != 15 {
		t.Errorf("target groups %+v, want one with health check /health every 15 s", tgs)
	}
	checkHealthyTargets(t, d, tgs[0], 3)
}

// checkHealthyTargets waits until a target group has n healthy targets.
func checkHealthyTargets(t *testing.T, d *dev, tg elbv2types.TargetGroup, n int) {
	t.Helper()
	c := elbv2.NewFromConfig(d.awsConfig())
	eventually(t, time.Minute, func() error {
		out, err := c.DescribeTargetHealth(ctx(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			return err
		}
		healthy := 0
		for _, h := range out.TargetHealthDescriptions {
			if h.TargetHealth.State == elbv2types.TargetHealthStateEnumHealthy {
				healthy++
			}
		}
		if healthy != n {
			return fmt.Errorf("target group %s: %d healthy targets, want %d", aws.ToString(tg.TargetGroupName), healthy, n)
		}
		return nil
	})
}

func checkALBMinimal(t *testing.T, d *dev) {
	lb := d.lbFor("Ingress default/my-app")
	served(t, "http://"+addr(lb, 0, 80)+"/anything", "api.example.com", "my-app-", "http")
	status(t, "http://"+addr(lb, 0, 80)+"/", "", 404)
}

func checkALBWebApp(t *testing.T, d *dev) {
	lb := d.lbFor("Ingress default/web-app-ingress")
	for _, tc := range []struct{ scheme, path, host, pod string }{
		{"http", "/", "www.example.com", "frontend-"},
		{"http", "/v1", "api.example.com", "api-v1-"},
		{"http", "/v2", "api.example.com", "api-v2-"},
		{"https", "/v1", "api.example.com", "api-v1-"},
	} {
		port := int32(80)
		if tc.scheme == "https" {
			port = 443
		}
		e := served(t, tc.scheme+"://"+addr(lb, 0, port)+tc.path, tc.host, tc.pod, tc.scheme)
		if e.Path != tc.path {
			t.Errorf("%s %s: the pod saw path %q", tc.host, tc.path, e.Path)
		}
	}
	status(t, "http://"+addr(lb, 0, 80)+"/v3", "api.example.com", 404)
}

func checkALBGRPC(t *testing.T, d *dev) {
	lb := d.lbFor("Ingress default/grpc-ingress")
	l := listener(t, lb, "HTTPS", 443)
	if l.TargetProtocolVersion != "GRPC" {
		t.Errorf("listener HTTPS:443 forwards to %s target groups, want GRPC", l.TargetProtocolVersion)
	}
	grpcServing(t, addr(lb, 0, 443), "grpc.example.com")
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || aws.ToString(tgs[0].ProtocolVersion) != "GRPC" || aws.ToString(tgs[0].HealthCheckPath) != "/grpc.health.v1.Health/Check" {
		t.Errorf("target groups %+v, want one GRPC group checked on /grpc.health.v1.Health/Check", tgs)
	}
}

// grpcServing waits until a gRPC health check over TLS (any certificate)
// to address, for authority, answers SERVING.
func grpcServing(t *testing.T, address, authority string) {
	t.Helper()
	conn, err := grpc.NewClient(address,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, ServerName: authority})), //nolint:gosec // local certificates; callers check them where it matters
		grpc.WithAuthority(authority))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, 30*time.Second, func() error {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx(t), &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health: %s", resp.GetStatus())
		}
		return nil
	})
}

// nlbEchoAt fetches url through an NLB TCP listener (HTTP to the echo,
// or HTTPS when the echo's TLS is passed through) from clientIP.
func nlbEchoAt(t *testing.T, url string) echo {
	t.Helper()
	return nlbEchoAny(t, []string{url})
}

// nlbEcho asks an NLB listener's echo target through the first of the
// load balancer's addresses that answers. With cross-zone load balancing
// off (NLB's default) a zone's address forwards only to targets in its
// zone, so a zone without a pod (or, under externalTrafficPolicy Local,
// without a node that runs one) does not serve; AWS takes such a zone's
// address out of DNS.
func nlbEcho(t *testing.T, lb devenv.LoadBalancer, scheme string, port int32) echo {
	t.Helper()
	var urls []string
	for i := range lb.Addresses {
		urls = append(urls, scheme+"://"+addr(lb, i, port)+"/")
	}
	return nlbEchoAny(t, urls)
}

// nlbEchoAny fetches, from clientIP, the first of urls that answers,
// trying them all until one does or a minute has passed.
func nlbEchoAny(t *testing.T, urls []string) echo {
	t.Helper()
	c := &client{local: clientIP}
	var e echo
	eventually(t, time.Minute, func() error {
		var errs []error
		for _, url := range urls {
			var err error
			if e, err = c.get(ctx(t), url, ""); err == nil {
				return nil
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	return e
}

// privateAddresses returns the private IPs of a load balancer's network
// interfaces (description "ELB net/NAME/ID").
func privateAddresses(t *testing.T, d *dev, lb devenv.LoadBalancer) map[string]bool {
	t.Helper()
	_, res, _ := strings.Cut(lb.ARN, ":loadbalancer/")
	out, err := ec2.NewFromConfig(d.awsConfig()).DescribeNetworkInterfaces(ctx(t), &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("description"), Values: []string{"ELB " + res}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, n := range out.NetworkInterfaces {
		ips[aws.ToString(n.PrivateIpAddress)] = true
	}
	if len(ips) == 0 {
		t.Fatalf("no network interface described as ELB %s", res)
	}
	return ips
}

func checkNLBIP(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-nlb-service")
	if lb.Name != "my-nlb" || lb.Type != "network" {
		t.Errorf("load balancer %s %s, want my-nlb network", lb.Name, lb.Type)
	}
	// TCP passes TLS through: the echo terminates it itself.
	e := nlbEcho(t, lb, "https", 443)
	if e.TLS == nil {
		t.Errorf("TCP listener: the pod did not terminate TLS itself: %+v", e)
	}
	// As on AWS, the target sees the NLB's private address in the zone's
	// subnet (its network interface's), realised on loopback.
	private := privateAddresses(t, d, lb)
	if h, _, _ := net.SplitHostPort(e.SourceVPC); !private[h] {
		t.Errorf("IP target over TCP without client IP preservation: the pod saw %s (VPC %s), want one of the NLB's private addresses %v", e.Source, e.SourceVPC, private)
	}
}

func checkNLBPreserveClientIP(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-nlb-client-ip")
	e := nlbEcho(t, lb, "http", 8080)
	if e.sourceIP() != clientIP {
		t.Errorf("preserve_client_ip.enabled=true: the pod saw %s, want the client %s", e.Source, clientIP)
	}
}

func checkNLBInstanceLocal(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-nlb-service")
	e := nlbEcho(t, lb, "https", 443)
	if e.sourceIP() != clientIP {
		t.Errorf("instance mode, externalTrafficPolicy Local: the pod saw %s, want the client %s", e.Source, clientIP)
	}
	// Only the nodes that run a pod pass the health check on the
	// healthCheckNodePort.
	pods, err := d.kube().CoreV1().Pods("default").List(ctx(t), metav1.ListOptions{LabelSelector: "app=my-app"})
	if err != nil {
		t.Fatal(err)
	}
	withPod := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			withPod[p.Spec.NodeName] = true
		}
	}
	instance := map[string]string{}
	for _, n := range d.rep.Nodes {
		instance[n.InstanceID] = n.Name
	}
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || tgs[0].TargetType != elbv2types.TargetTypeEnumInstance || aws.ToString(tgs[0].HealthCheckPath) != "/healthz" {
		t.Fatalf("target groups %+v, want one instance group checked on /healthz", tgs)
	}
	c := elbv2.NewFromConfig(d.awsConfig())
	eventually(t, 90*time.Second, func() error {
		out, err := c.DescribeTargetHealth(ctx(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgs[0].TargetGroupArn})
		if err != nil {
			return err
		}
		if len(out.TargetHealthDescriptions) != len(d.rep.Nodes) {
			return fmt.Errorf("%d targets, want every node (%d)", len(out.TargetHealthDescriptions), len(d.rep.Nodes))
		}
		for _, h := range out.TargetHealthDescriptions {
			node := instance[aws.ToString(h.Target.Id)]
			healthy := h.TargetHealth.State == elbv2types.TargetHealthStateEnumHealthy
			if healthy != withPod[node] {
				return fmt.Errorf("node %s (pod there: %v) is %s", node, withPod[node], h.TargetHealth.State)
			}
		}
		return nil
	})
	// The load balancer's DNS name answers only the zones whose address
	// reaches a healthy target: with cross-zone off, the zones of the
	// nodes that run a pod (AWS's DNS failover).
	zoneOf := map[string]string{}
	for _, n := range d.rep.Nodes {
		zoneOf[n.Name] = n.Zone
	}
	want := map[string]bool{}
	for node := range withPod {
		for _, a := range lb.Addresses {
			if a.Zone == zoneOf[node] {
				want[a.IP] = true
			}
		}
	}
	eventually(t, 30*time.Second, func() error {
		got, err := resolveA(d.rep.DNSServer, lb.DNSName)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("%s resolves to %v, want the addresses of the zones with a pod %v", lb.DNSName, got, want)
		}
		for _, ip := range got {
			if !want[ip] {
				return fmt.Errorf("%s resolves to %v, want the addresses of the zones with a pod %v", lb.DNSName, got, want)
			}
		}
		t.Logf("%s resolves to %v of %d zone addresses (the zones with a pod)", lb.DNSName, got, len(lb.Addresses))
		return nil
	})
}

func checkNLBProxyProtocol(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-nlb-pp2")
	e := nlbEcho(t, lb, "http", 80)
	if e.ProxyProtocol == nil || e.ProxyProtocol.Version != 2 {
		t.Fatalf("the pod got no PROXY v2 header: %+v", e)
	}
	if h, _, _ := net.SplitHostPort(e.ProxyProtocol.Source); h != clientIP {
		t.Errorf("PROXY v2 source %s, want the client %s", e.ProxyProtocol.Source, clientIP)
	}
}

func checkNLBTLS(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-nlb-tls")
	listener(t, lb, "TLS", 443)
	checkServedCertificate(t, d, addr(lb, 0, 443), "", "arn:aws:acm:ap-northeast-2:123456789012:certificate/nlb-tls")
	e := nlbEcho(t, lb, "https", 443)
	if e.TLS != nil {
		t.Errorf("the NLB should terminate TLS and send plain bytes, but the pod saw TLS: %+v", e.TLS)
	}
}

func checkNLBEIP(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-nlb-eip")
	out, err := ec2.NewFromConfig(d.awsConfig()).DescribeAddresses(ctx(t), &ec2.DescribeAddressesInput{AllocationIds: []string{"eipalloc-xxx", "eipalloc-yyy"}})
	if err != nil {
		t.Fatal(err)
	}
	var eips, got []string
	for _, a := range out.Addresses {
		eips = append(eips, aws.ToString(a.PublicIp))
	}
	for _, a := range lb.Addresses {
		got = append(got, a.IP)
	}
	sort.Strings(eips)
	sort.Strings(got)
	if strings.Join(eips, ",") != strings.Join(got, ",") || len(got) != 2 {
		t.Errorf("load balancer addresses %v, want the Elastic IPs %v", got, eips)
	}
	for i := range lb.Addresses {
		nlbEchoAt(t, "https://"+addr(lb, i, 443)+"/")
	}
}

// nonLoopback returns an address of this host outside loopback, if any.
func nonLoopback() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// checkInternal checks that an internal load balancer answers on its
// loopback addresses and on no other address of the host.
func checkInternal(t *testing.T, lb devenv.LoadBalancer, port int32) {
	t.Helper()
	if lb.Scheme != "internal" {
		t.Errorf("%s is %s, want internal", lb.Name, lb.Scheme)
	}
	for _, a := range lb.Addresses {
		if !net.ParseIP(a.IP).IsLoopback() {
			t.Errorf("internal load balancer %s has address %s outside loopback", lb.Name, a.IP)
		}
	}
	if ip := nonLoopback(); ip != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))), time.Second); err == nil {
			c.Close()
			t.Errorf("internal load balancer %s answers on %s:%d, outside loopback", lb.Name, ip, port)
		}
	}
}

func checkNLBInternal(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/my-internal-nlb")
	checkInternal(t, lb, lb.Listeners[0].Port)
	tgsNotEmpty := targetGroups(t, d, lb)
	if len(tgsNotEmpty) == 0 {
		t.Error("no target group")
	}
	out, err := elbv2.NewFromConfig(d.awsConfig()).DescribeLoadBalancers(ctx(t), &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{lb.ARN}})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for _, z := range out.LoadBalancers[0].AvailabilityZones {
		subnets = append(subnets, aws.ToString(z.SubnetId))
	}
	sort.Strings(subnets)
	if strings.Join(subnets, ",") != "subnet-xxx,subnet-yyy" {
		t.Errorf("subnets %v, want the auto-provisioned subnet-xxx and subnet-yyy", subnets)
	}
	l := lb.Listeners[0]
	nlbEcho(t, lb, map[bool]string{true: "https", false: "http"}[l.Port == 443], l.Port)
}

func checkNLBTour(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/tour-nlb")
	nlbEcho(t, lb, "http", 80)
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || tgs[0].HealthCheckProtocol != elbv2types.ProtocolEnumHttp || aws.ToString(tgs[0].HealthCheckPath) != "/health" {
		t.Errorf("target groups %+v, want an HTTP health check on /health", tgs)
	}
	attrs, err := elbv2.NewFromConfig(d.awsConfig()).DescribeLoadBalancerAttributes(ctx(t), &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range attrs.Attributes {
		got[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	if got["load_balancing.cross_zone.enabled"] != "true" || got["access_logs.s3.enabled"] != "true" || got["access_logs.s3.bucket"] != "my-bucket" {
		t.Errorf("attributes %v, want cross-zone on and access logs to my-bucket", got)
	}
	sgs, err := ec2.NewFromConfig(d.awsConfig()).DescribeSecurityGroups(ctx(t), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-xxx"}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Errorf("security group sg-xxx (auto-provisioned): %v %+v", err, sgs)
	}
}

func checkNLBRedis(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/redis-nlb")
	l := lb.Listeners[0]
	rawTCP(t, lb, l, []byte("*1\r\n$4\r\nPING\r\n"))
}

func checkNLBGameServer(t *testing.T, d *dev) {
	lb := d.lbFor("Service default/game-server")
	listener(t, lb, "TCP", 7777)
	udp := servedAddr(t, lb, listener(t, lb, "UDP", 7778))
	nlbEcho(t, lb, "http", 7777)
	eventually(t, 2*time.Minute, func() error {
		got, err := udpEcho(udp, []byte("voice packet"))
		if err != nil {
			return err
		}
		if string(got) != "voice packet" {
			return fmt.Errorf("UDP came back as %q", got)
		}
		return nil
	})
}

func checkMixedInternal(t *testing.T, d *dev) {
	alb := d.lbFor("Ingress default/internal-api")
	checkInternal(t, alb, 80)
	served(t, "http://"+addr(alb, 0, 80)+"/", "internal-api.corp.local", "internal-api-", "http")
	nlb := d.lbFor("Service default/internal-db")
	checkInternal(t, nlb, 5432)
	nlbEcho(t, nlb, "http", 5432)
}

// checkGatewayALB: the ALB Gateway serves its HTTPRoute on both listeners
// (HTTPS with the LoadBalancerConfiguration's certificate and policy), the
// TargetGroupConfiguration's health check finds both pods healthy, and
// other hosts get the listeners' 404.
func checkGatewayALB(t *testing.T, d *dev) {
	lb := d.lbFor("Gateway app-ns/my-alb")
	if lb.Scheme != "internet-facing" || lb.Type != "application" {
		t.Errorf("load balancer %s %s, want internet-facing application", lb.Scheme, lb.Type)
	}
	listener(t, lb, "HTTP", 80)
	listener(t, lb, "HTTPS", 443)
	served(t, "http://"+addr(lb, 0, 80)+"/", "app.example.com", "app-", "http")
	served(t, "https://"+addr(lb, 0, 443)+"/orders", "app.example.com", "app-", "https")
	status(t, "http://"+addr(lb, 0, 80)+"/", "other.example.com", 404)
	checkServedCertificate(t, d, addr(lb, 0, 443), "app.example.com", "arn:aws:acm:ap-northeast-2:123456789012:certificate/xxxx")
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || tgs[0].TargetType != elbv2types.TargetTypeEnumIp || aws.ToString(tgs[0].HealthCheckPath) != "/health" || aws.ToInt32(tgs[0].HealthCheckIntervalSeconds) != 15 {
		t.Errorf("target groups %+v, want one of ip targets with health check /health every 15 s", tgs)
	}
	checkHealthyTargets(t, d, tgs[0], 2)
}

// checkGatewayALBRoutes: each rule of the HTTPRoute reaches its backend
// (or is answered by the ALB), as the route's matches, weights, filters
// and ListenerRuleConfigurations say.
func checkGatewayALBRoutes(t *testing.T, d *dev) {
	lb := d.lbFor("Gateway store/store")
	base := "http://" + addr(lb, 0, 80)
	const host = "store.example.com"
	served(t, base+"/", host, "web-", "http")
	served(t, base+"/api/v2/items", host, "api-v2-", "http")
	served(t, base+"/?preview=true", host, "web-preview-", "http")
	if e := served(t, base+"/shop/cart", host, "web-", "http"); e.Path != "/cart" {
		t.Errorf("/shop/cart reached the pod as %q, want /cart (URLRewrite ReplacePrefixMatch)", e.Path)
	}
	// The header match.
	c := &client{local: clientIP, header: http.Header{"X-Api-Version": {"2"}}}
	if e, err := c.get(ctx(t), base+"/api/items", host); err != nil || !strings.HasPrefix(e.Pod, "api-v2-") {
		t.Errorf("GET /api/items with x-api-version: 2 reached %q (%v), want api-v2-*", e.Pod, err)
	}
	// The weights: both versions answer /api (a version's target group
	// may still be checking its first target: the ALB answers 503 until
	// one is healthy).
	seen := map[string]bool{}
	plain := &client{local: clientIP}
	eventually(t, 2*time.Minute, func() error {
		e, err := plain.get(ctx(t), base+"/api/items", host)
		if err != nil {
			return err
		}
		seen[strings.SplitN(e.Pod, "-", 3)[1]] = true
		if !seen["v1"] || !seen["v2"] {
			return fmt.Errorf("requests to /api reached %v, want both api-v1 and api-v2 (weights 50/50)", seen)
		}
		return nil
	})
	// The method match (the orders target group may still be checking its
	// first target: the ALB answers 503 until it is healthy).
	eventually(t, 2*time.Minute, func() error {
		resp, body, err := plain.do(ctx(t), http.MethodPost, base+"/orders", host)
		if err != nil {
			return err
		}
		var posted echo
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &posted) != nil || !strings.HasPrefix(posted.Pod, "orders-") {
			return fmt.Errorf("POST /orders: %s %.200q, want the orders pod", resp.Status, body)
		}
		return nil
	})
	status(t, base+"/orders", host, 200) // GET /orders falls through to web
	// ListenerRuleConfigurations: the fixed response, and a source-IP
	// condition that the test client (not in 192.0.2.0/24) does not meet.
	resp, body, err := plain.do(ctx(t), http.MethodGet, base+"/checkout", host)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "back soon") {
		t.Errorf("GET /checkout: %v %v %q, want 503 with the maintenance message", resp, err, body)
	}
	served(t, base+"/admin", host, "web-", "http")
	// The old domain redirects.
	resp, _, err = plain.do(ctx(t), http.MethodGet, base+"/some/page?x=1", "shop.example.org")
	if err != nil || resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "http://store.example.com/some/page?x=1" {
		t.Errorf("GET shop.example.org: %v %v, want a 301 to http://store.example.com/some/page?x=1", resp, err)
	}
	status(t, base+"/", "other.example.com", 404)
}

// checkGatewayALBGRPC: the GRPCRoute is served over the HTTPS listener,
// whose certificate is the Secret's, imported into ACM with the Gateway's
// tags; the gRPC health check finds the pods healthy.
func checkGatewayALBGRPC(t *testing.T, d *dev) {
	lb := d.lbFor("Gateway grpc/grpc")
	l := listener(t, lb, "HTTPS", 443)
	if l.TargetProtocolVersion != "GRPC" {
		t.Errorf("listener HTTPS:443 forwards to %s target groups, want GRPC", l.TargetProtocolVersion)
	}
	grpcServing(t, addr(lb, 0, 443), "grpc.example.com")
	// The certificate: the Secret's, in ACM, tagged as the Gateway's.
	sec, err := d.kube().CoreV1().Secrets("grpc").Get(ctx(t), "grpc-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if b == nil {
		t.Fatal("Secret grpc-tls: no PEM certificate")
	}
	st, err := tlsHandshake(addr(lb, 0, 443), "grpc.example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.PeerCertificates[0].Raw, b.Bytes) {
		t.Error("the HTTPS listener does not present the Secret's certificate")
	}
	certs, err := acm.NewFromConfig(d.awsConfig()).ListCertificates(ctx(t), &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmEcPrime256v1}}})
	if err != nil {
		t.Fatal(err)
	}
	imported := 0
	for _, c := range certs.CertificateSummaryList {
		if c.Type != acmtypes.CertificateTypeImported {
			continue
		}
		imported++
		tags, err := acm.NewFromConfig(d.awsConfig()).ListTagsForCertificate(ctx(t), &acm.ListTagsForCertificateInput{CertificateArn: c.CertificateArn})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, tag := range tags.Tags {
			got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if got["gateway.k8s.aws.alb/stack"] != "grpc/grpc" || got["gateway.k8s.aws.alb/resource"] != "grpc/grpc-tls" {
			t.Errorf("imported certificate %s tags %v, want the Gateway's stack and the Secret's resource ID", aws.ToString(c.CertificateArn), got)
		}
	}
	if imported != 1 {
		t.Errorf("%d imported certificates, want 1", imported)
	}
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || aws.ToString(tgs[0].ProtocolVersion) != "GRPC" {
		t.Fatalf("target groups %+v, want one GRPC group", tgs)
	}
	checkHealthyTargets(t, d, tgs[0], 2)
}

func checkHostNetwork(t *testing.T, d *dev) {
	k := d.kube()
	// hostnetwork-pod and the DaemonSet's pods all take port 80 of their
	// node: one of them runs on each node, and the one left over (whichever
	// the scheduler came to last, as in Kubernetes) waits for free ports.
	var byNode map[string]corev1.Pod
	eventually(t, time.Minute, func() error {
		pods, err := k.CoreV1().Pods("default").List(ctx(t), metav1.ListOptions{})
		if err != nil {
			return err
		}
		byNode = map[string]corev1.Pod{}
		var pending []string
		for _, p := range pods.Items {
			if p.Name != "hostnetwork-pod" && p.Labels["app"] != "nginx-ingress" {
				continue
			}
			if p.Status.Phase != corev1.PodRunning {
				unschedulable := false
				for _, c := range p.Status.Conditions {
					unschedulable = unschedulable || c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, "didn't have free ports")
				}
				if !unschedulable {
					return fmt.Errorf("pod %s is %s and not unschedulable for want of free ports: %+v", p.Name, p.Status.Phase, p.Status.Conditions)
				}
				pending = append(pending, p.Name)
				continue
			}
			if o, dup := byNode[p.Spec.NodeName]; dup {
				return fmt.Errorf("%s and %s both run on %s with host port 80", o.Name, p.Name, p.Spec.NodeName)
			}
			byNode[p.Spec.NodeName] = p
		}
		if len(byNode) != len(d.rep.Nodes) || len(pending) != 1 {
			return fmt.Errorf("%d nodes run a pod on host port 80, pending %v; want every node (%d) and one pending", len(byNode), pending, len(d.rep.Nodes))
		}
		return nil
	})
	c := &client{}
	for _, n := range d.rep.Nodes {
		pod := byNode[n.Name]
		if pod.Status.PodIP != pod.Status.HostIP {
			t.Errorf("hostNetwork pod %s's IP %s differs from its node's %s", pod.Name, pod.Status.PodIP, pod.Status.HostIP)
		}
		e, err := c.get(ctx(t), "http://"+net.JoinHostPort(n.HostIP, "80")+"/", "")
		if err != nil {
			t.Fatalf("%s on its node's address %s:80: %v", pod.Name, n.HostIP, err)
		}
		if e.Pod != pod.Name {
			t.Errorf("%s:80 (node %s) answered for pod %q, want %s", n.HostIP, n.Name, e.Pod, pod.Name)
		}
	}
	// The plain type LoadBalancer Service becomes an instance-mode NLB
	// (the Service mutator webhook sets loadBalancerClass, as the
	// reference chart does) with the health check node port of
	// externalTrafficPolicy Local.
	lb := d.lbFor("Service default/my-service")
	e := nlbEcho(t, lb, "http", 80)
	if !strings.HasPrefix(e.Pod, "my-app-") {
		t.Errorf("my-service reached pod %q", e.Pod)
	}
}

// TestRestartKeepsAddresses stops an environment and starts it again on
// the same state: the same load balancers at the same addresses serve.
func TestRestartKeepsAddresses(t *testing.T) {
	t.Parallel()
	d := startDev(t, "examples/alb-ingress-minimal.yaml")
	before := d.lbFor("Ingress default/my-app")
	d.stop()
	d.start()
	after := d.lbFor("Ingress default/my-app")
	if before.ARN != after.ARN || fmt.Sprint(before.Addresses) != fmt.Sprint(after.Addresses) {
		t.Errorf("after a restart: %s %v, before: %s %v", after.ARN, after.Addresses, before.ARN, before.Addresses)
	}
	served(t, "http://"+addr(after, 0, 80)+"/", "api.example.com", "my-app-", "http")
}
