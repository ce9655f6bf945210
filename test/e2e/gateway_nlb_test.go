package e2e

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/devenv"
)

// nlbGateway returns the load balancer of an NLB Gateway and checks its
// type and scheme.
func nlbGateway(t *testing.T, d *dev, ref, scheme string) devenv.LoadBalancer {
	t.Helper()
	lb := d.lbFor(ref)
	if lb.Type != "network" || lb.Scheme != scheme {
		t.Errorf("%s: load balancer %s %s, want network %s", ref, lb.Type, lb.Scheme, scheme)
	}
	return lb
}

// routeAccepted checks that a route (TCPRoute, UDPRoute or TLSRoute) has
// an Accepted entry of the NLB controller in its status.
func routeAccepted(t *testing.T, d *dev, kind, ns, name string) {
	t.Helper()
	key := types.NamespacedName{Namespace: ns, Name: name}
	eventually(t, 30*time.Second, func() error {
		var parents []gwv1.RouteParentStatus
		var err error
		switch kind {
		case "TCPRoute":
			r := &gwv1.TCPRoute{}
			err = d.objects().Get(ctx(t), key, r)
			parents = r.Status.Parents
		case "UDPRoute":
			r := &gwv1.UDPRoute{}
			err = d.objects().Get(ctx(t), key, r)
			parents = r.Status.Parents
		case "TLSRoute":
			r := &gwv1.TLSRoute{}
			err = d.objects().Get(ctx(t), key, r)
			parents = r.Status.Parents
		}
		if err != nil {
			return err
		}
		for _, p := range parents {
			if p.ControllerName != "gateway.k8s.aws/nlb" {
				continue
			}
			for _, c := range p.Conditions {
				if c.Type == string(gwv1.RouteConditionAccepted) && c.Status == metav1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("%s %s: parent %+v not Accepted", kind, key, p)
		}
		return fmt.Errorf("%s %s: no entry of gateway.k8s.aws/nlb in %+v", kind, key, parents)
	})
}

// rawTCP checks that bytes sent through a TCP listener come back as sent
// (the echo's raw mode, as a database or game protocol would see it).
func rawTCP(t *testing.T, lb devenv.LoadBalancer, l devenv.Listener, msg []byte) {
	t.Helper()
	eventually(t, time.Minute, func() error {
		got, err := tcpEcho(servedAddr(t, lb, l), clientIP, msg)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("raw TCP through %s:%d came back as %q", l.Protocol, l.Port, got)
		}
		return nil
	})
}

// checkGatewayNLB (the reference's example as written, v1alpha2 TCPRoute
// and v1beta1 GatewayClass): an internal NLB whose TCP listener passes raw
// bytes to the pods, with the LoadBalancerConfiguration's cross-zone
// attribute and the TargetGroupConfiguration's health check.
func checkGatewayNLB(t *testing.T, d *dev) {
	lb := nlbGateway(t, d, "Gateway app-ns/my-nlb", "internal")
	checkInternal(t, lb, 9000)
	rawTCP(t, lb, listener(t, lb, "TCP", 9000), []byte("hello over TCP\n"))
	attrs, err := elbv2.NewFromConfig(d.awsConfig()).DescribeLoadBalancerAttributes(ctx(t), &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lb.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attrs.Attributes {
		if aws.ToString(a.Key) == "load_balancing.cross_zone.enabled" && aws.ToString(a.Value) != "true" {
			t.Errorf("cross-zone load balancing %s, want true (LoadBalancerConfiguration)", aws.ToString(a.Value))
		}
	}
	tgs := targetGroups(t, d, lb)
	if len(tgs) != 1 || tgs[0].TargetType != elbv2types.TargetTypeEnumIp || tgs[0].HealthCheckProtocol != elbv2types.ProtocolEnumTcp || aws.ToInt32(tgs[0].HealthCheckIntervalSeconds) != 10 {
		t.Errorf("target groups %+v, want one of ip targets with a TCP health check every 10 s", tgs)
	} else {
		checkHealthyTargets(t, d, tgs[0], 2)
	}
	routeAccepted(t, d, "TCPRoute", "app-ns", "tcp-app-route")
}

// checkGatewayNLBGameServer: the TCPRoute and UDPRoute on port 7777 share
// one TCP_UDP listener; TCP reaches a pod from the client's own address
// (client IP preservation is on, and cannot be turned off, for TCP_UDP
// target groups, IP targets included), UDP datagrams come back.
func checkGatewayNLBGameServer(t *testing.T, d *dev) {
	lb := nlbGateway(t, d, "Gateway game/game", "internet-facing")
	l := listener(t, lb, "TCP_UDP", 7777)
	if len(lb.Listeners) != 1 {
		t.Errorf("listeners %+v, want the one TCP_UDP listener", lb.Listeners)
	}
	e := nlbEcho(t, lb, "http", 7777)
	if h, _, _ := net.SplitHostPort(e.Source); h != clientIP {
		t.Errorf("TCP to IP targets of a TCP_UDP group: the pod saw %s (VPC %s), want the client %s (client IP preservation)", e.Source, e.SourceVPC, clientIP)
	}
	udp := servedAddr(t, lb, l)
	eventually(t, 2*time.Minute, func() error {
		got, err := udpEcho(udp, []byte("player 1 moves"))
		if err != nil {
			return err
		}
		if string(got) != "player 1 moves" {
			return fmt.Errorf("UDP came back as %q", got)
		}
		return nil
	})
	routeAccepted(t, d, "UDPRoute", "game", "game-udp")
	routeAccepted(t, d, "TCPRoute", "game", "game-tcp")
}

// checkGatewayNLBTLSTerminate: the NLB's TLS listener presents the
// certificateRefs Secret's certificate (imported into ACM), refuses TLS
// 1.1, and sends the pods plain bytes.
func checkGatewayNLBTLSTerminate(t *testing.T, d *dev) {
	lb := nlbGateway(t, d, "Gateway chat/chat", "internet-facing")
	l := listener(t, lb, "TLS", 5223)
	sec, err := d.kube().CoreV1().Secrets("chat").Get(ctx(t), "chat-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if b == nil {
		t.Fatal("Secret chat-tls: no PEM certificate")
	}
	at := servedAddr(t, lb, l)
	st, err := tlsHandshake(at, "chat.example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.PeerCertificates) == 0 || !bytes.Equal(st.PeerCertificates[0].Raw, b.Bytes) {
		t.Error("the TLS listener does not present the Secret's certificate")
	}
	if _, err := tlsHandshake(at, "chat.example.com", 0x0302); err == nil {
		t.Error("TLS 1.1 was accepted under the default TLS 1.2+ policy")
	}
	e := nlbEchoAt(t, "https://"+at+"/")
	if e.TLS != nil {
		t.Errorf("the NLB should terminate TLS and send plain bytes, but the pod saw TLS: %+v", e.TLS)
	}
	routeAccepted(t, d, "TLSRoute", "chat", "chat")
}

// checkGatewayNLBTLSPassthrough: the Passthrough listener is a TCP
// listener; the pod terminates TLS itself and sees the client's SNI.
func checkGatewayNLBTLSPassthrough(t *testing.T, d *dev) {
	lb := nlbGateway(t, d, "Gateway vault/vault", "internal")
	l := listener(t, lb, "TCP", 8200)
	const sni = "eu.vault.example.com"
	c := &client{local: clientIP}
	var e echo
	eventually(t, time.Minute, func() error {
		var err error
		e, err = c.get(ctx(t), "https://"+servedAddr(t, lb, l)+"/", sni)
		return err
	})
	if e.TLS == nil || e.TLS.ServerName != sni {
		t.Errorf("passthrough: the pod should terminate TLS with SNI %s itself, saw %+v", sni, e.TLS)
	}
	routeAccepted(t, d, "TLSRoute", "vault", "vault")
}

// checkGatewayNLBToALB: the NLB Gateway, on its Elastic IPs, forwards to
// the ALB Gateway (an alb target group whose target is the ALB), which
// routes HTTP by path.
func checkGatewayNLBToALB(t *testing.T, d *dev) {
	nlb := nlbGateway(t, d, "Gateway shop/shop-edge", "internet-facing")
	alb := d.lbFor("Gateway shop/shop")
	if alb.Type != "application" {
		t.Errorf("shop/shop: %s, want an ALB", alb.Type)
	}
	allocs := []string{"eipalloc-0e1b0a0000000000a", "eipalloc-0e1b0a0000000000b", "eipalloc-0e1b0a0000000000c"}
	out, err := ec2.NewFromConfig(d.awsConfig()).DescribeAddresses(ctx(t), &ec2.DescribeAddressesInput{AllocationIds: allocs})
	if err != nil {
		t.Fatal(err)
	}
	var eips, got []string
	for _, a := range out.Addresses {
		eips = append(eips, aws.ToString(a.PublicIp))
	}
	for _, a := range nlb.Addresses {
		got = append(got, a.IP)
	}
	sort.Strings(eips)
	sort.Strings(got)
	if strings.Join(eips, ",") != strings.Join(got, ",") || len(got) != 3 {
		t.Errorf("NLB addresses %v, want the Elastic IPs %v", got, eips)
	}
	tgs := targetGroups(t, d, nlb)
	if len(tgs) != 1 || tgs[0].TargetType != elbv2types.TargetTypeEnumAlb {
		t.Fatalf("NLB target groups %+v, want one of type alb", tgs)
	}
	th, err := elbv2.NewFromConfig(d.awsConfig()).DescribeTargetHealth(ctx(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgs[0].TargetGroupArn})
	if err != nil || len(th.TargetHealthDescriptions) != 1 || aws.ToString(th.TargetHealthDescriptions[0].Target.Id) != alb.ARN {
		t.Errorf("alb target group targets %+v (%v), want the ALB %s", th, err, alb.ARN)
	}
	c := &client{local: clientIP}
	for path, pod := range map[string]string{"/cart": "cart-", "/": "storefront-"} {
		var e echo
		eventually(t, 2*time.Minute, func() error {
			var errs []string
			for i := range nlb.Addresses {
				var err error
				if e, err = c.get(ctx(t), "http://"+addr(nlb, i, 80)+path, ""); err == nil {
					return nil
				}
				errs = append(errs, err.Error())
			}
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		})
		if !strings.HasPrefix(e.Pod, pod) {
			t.Errorf("GET %s through the NLB reached pod %q, want %s*", path, e.Pod, pod)
		}
		if e.header("X-Forwarded-For") == "" {
			t.Errorf("GET %s through the NLB: no X-Forwarded-For, so the ALB did not route it", path)
		}
	}
}
