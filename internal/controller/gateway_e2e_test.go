package controller_test

import (
	"context"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// TestGatewayEndToEnd runs the whole controller against a local ELB with
// the Gateway API installed: an ALB Gateway with an HTTP and an HTTPS
// listener (its certificate from a Secret) serves its HTTPRoute's rules
// from the backends' pods, a renewed Secret is what the HTTPS listener
// presents next, and deleting the Gateway leaves no AWS resource.
func TestGatewayEndToEnd(t *testing.T) {
	ctx := context.Background()
	c, elb, _ := localControllerOn(t, ctrltest.APIServerWithGatewayAPI(t), nil)
	ctrltest.Node(t, c, "node-a", "us-east-1a", "i-0aaaaaaaaaaaaaaa1", nil)

	ns := "shop"
	create := func(objs ...client.Object) {
		t.Helper()
		for _, obj := range objs {
			if err := c.Create(ctx, obj); err != nil {
				t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
			}
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	ip := v1beta1.TargetTypeIP
	interval, timeout, threshold := int32(5), int32(2), int32(2)
	for _, name := range []string{"web", "api"} {
		create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		}}, &gwaws.TargetGroupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1beta1.TargetGroupConfigurationSpec{
			TargetReference: &v1beta1.Reference{Name: name},
			DefaultConfiguration: v1beta1.TargetGroupProps{TargetType: &ip, HealthCheckConfig: &v1beta1.HealthCheckConfiguration{
				HealthCheckInterval: &interval, HealthCheckTimeout: &timeout, HealthyThresholdCount: &threshold}},
		}})
		w := ctrltest.NewWorkload(t, c, ns, name, map[string]string{"app": name}, "http", 8080, "node-a")
		w.Run()
		w.AddPod(name + "-1")
	}
	crt, key := ctrltest.SelfSigned(t, elliptic.P256(), "shop.example.com")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
	scheme := "internet-facing"
	create(secret,
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: gwv1.GatewayClassSpec{ControllerName: "gateway.k8s.aws/alb"}},
		&gwaws.LoadBalancerConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}, Spec: v1beta1.LoadBalancerConfigurationSpec{
			Scheme: (*v1beta1.LoadBalancerScheme)(&scheme)}},
	)
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}, Spec: gwv1.GatewaySpec{
		GatewayClassName: "alb",
		Infrastructure:   &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.k8s.aws", Kind: "LoadBalancerConfiguration", Name: "shop"}},
		Listeners: []gwv1.Listener{
			{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType},
			{Name: "https", Port: 443, Protocol: gwv1.HTTPSProtocolType, TLS: &gwv1.ListenerTLSConfig{CertificateRefs: []gwv1.SecretObjectReference{{Name: "shop-tls"}}}},
		},
	}}
	port := gwv1.PortNumber(80)
	backend := func(name string) []gwv1.HTTPBackendRef {
		return []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: &port}}}}
	}
	prefix := gwv1.PathMatchPathPrefix
	api := "/api"
	route := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "shop"}}},
		Hostnames:       []gwv1.Hostname{"shop.example.com"},
		Rules: []gwv1.HTTPRouteRule{
			{Matches: []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &api}}}, BackendRefs: backend("api")},
			{BackendRefs: backend("web")},
		},
	}}
	create(gw, route)

	// Programmed, with the ALB's DNS name as its address.
	var addr string
	ctrltest.Eventually(t, 90*time.Second, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(gw), gw); err != nil {
			return err
		}
		if cond := meta.FindStatusCondition(gw.Status.Conditions, string(gwv1.GatewayConditionProgrammed)); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("not programmed: %+v", cond)
		}
		if len(gw.Status.Addresses) == 0 {
			return fmt.Errorf("no address")
		}
		out, err := elb.ELBv2.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{})
		if err != nil {
			return err
		}
		for _, lb := range out.LoadBalancers {
			if strings.EqualFold(aws.ToString(lb.DNSName), gw.Status.Addresses[0].Value) {
				addr = lbAddress(t, lb)
			}
		}
		if addr == "" {
			return fmt.Errorf("no load balancer named %s", gw.Status.Addresses[0].Value)
		}
		return nil
	})

	// The HTTPS listener presents the Secret's certificate.
	presented := func() (*x509.Certificate, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", net.JoinHostPort(addr, "443"),
			&tls.Config{ServerName: "shop.example.com", InsecureSkipVerify: true}) //nolint:gosec // the test compares the certificate itself
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}
	leaf := func(pemBytes []byte) *x509.Certificate {
		b, _ := pem.Decode(pemBytes)
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "shop.example.com", InsecureSkipVerify: true}, //nolint:gosec // as above
	}}
	served := func(url, backend string) func() error {
		return func() error {
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			req.Host = "shop.example.com"
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), backend) {
				return fmt.Errorf("GET %s: %s %q, want %s", url, resp.Status, b, backend)
			}
			return nil
		}
	}
	ctrltest.Eventually(t, 90*time.Second, served("http://"+addr+"/", "web-1"))
	ctrltest.Eventually(t, 30*time.Second, served("http://"+addr+"/api/items", "api-1"))
	ctrltest.Eventually(t, 30*time.Second, served("https://"+addr+"/api/items", "api-1"))
	ctrltest.Eventually(t, 30*time.Second, func() error {
		got, err := presented()
		if err != nil {
			return err
		}
		if !got.Equal(leaf(crt)) {
			return fmt.Errorf("listener presents %s, not the Secret's certificate", got.Subject)
		}
		return nil
	})

	// The Secret renewed: the listener presents the new certificate.
	crt2, key2 := ctrltest.SelfSigned(t, elliptic.P256(), "shop.example.com")
	if err := c.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{corev1.TLSCertKey: crt2, corev1.TLSPrivateKeyKey: key2}
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 60*time.Second, func() error {
		got, err := presented()
		if err != nil {
			return err
		}
		if !got.Equal(leaf(crt2)) {
			return fmt.Errorf("listener still presents the old certificate")
		}
		return nil
	})

	// Deletion: nothing is left in AWS, and the Gateway goes.
	if err := c.Delete(ctx, gw); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 90*time.Second, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(gw), &gwv1.Gateway{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Gateway still there (%v)", err)
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
