package elbv2_test

import (
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/pki"
)

func TestListenersALB(t *testing.T) {
	e := start(t)
	lb := e.alb(t, "web")
	tg := e.tg(t, "web", types.ProtocolEnumHttp, 80)
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(tg.TargetGroupArn))
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/[0-9a-f]{16}/[0-9a-f]{16}$`).MatchString(*l.ListenerArn) {
		t.Errorf("listener ARN %s", *l.ListenerArn)
	}
	a := l.DefaultActions[0]
	if *a.Order != 1 || *a.TargetGroupArn != *tg.TargetGroupArn || len(a.ForwardConfig.TargetGroups) != 1 ||
		*a.ForwardConfig.TargetGroups[0].Weight != 1 || *a.ForwardConfig.TargetGroupStickinessConfig.Enabled {
		t.Errorf("normalised forward action %+v", a)
	}
	// Same settings: idempotent; other settings on the port: DuplicateListener.
	again := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(tg.TargetGroupArn))
	if *again.ListenerArn != *l.ListenerArn {
		t.Errorf("second create made %s", *again.ListenerArn)
	}
	_, err := e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), DefaultActions: fixed("404")})
	apiErr(t, err, "DuplicateListener")

	certARN := e.cert(t, "www.example.com")
	https := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttps, 443, fixed("503"), func(in *sdk.CreateListenerInput) {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(certARN)}}
	})
	if *https.SslPolicy != "ELBSecurityPolicy-2016-08" || len(https.Certificates) != 1 || https.Certificates[0].IsDefault != nil ||
		https.MutualAuthentication == nil || *https.MutualAuthentication.Mode != "off" {
		t.Errorf("HTTPS listener %+v", https)
	}
	// ACM refuses to delete a certificate in use.
	_, err = e.acm.DeleteCertificate(ctx, &acmsdk.DeleteCertificateInput{CertificateArn: aws.String(certARN)})
	if err == nil || !strings.Contains(err.Error(), "ResourceInUse") {
		t.Errorf("ACM deleted a certificate in use: %v", err)
	}

	errs := []struct {
		name string
		in   sdk.CreateListenerInput
		code string
	}{
		{"HTTPS without certificate", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443), DefaultActions: fixed("200")}, "ValidationError"},
		{"unknown certificate", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443), DefaultActions: fixed("200"),
			Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000")}}}, "CertificateNotFound"},
		{"unknown policy", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443), DefaultActions: fixed("200"), SslPolicy: aws.String("Nope"),
			Certificates: []types.Certificate{{CertificateArn: aws.String(certARN)}}}, "SSLPolicyNotFound"},
		{"certificate on HTTP", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: fixed("200"),
			Certificates: []types.Certificate{{CertificateArn: aws.String(certARN)}}}, "ValidationError"},
		{"TCP on ALB", sdk.CreateListenerInput{Protocol: types.ProtocolEnumTcp, Port: aws.Int32(8080), DefaultActions: fixed("200")}, "UnsupportedProtocol"},
		{"port 0", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(0), DefaultActions: fixed("200")}, "ValidationError"},
		{"no actions", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{}}, "ValidationError"},
		{"unknown target group", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
			DefaultActions: forward(aws.String(*tg.TargetGroupArn + "0"))}, "TargetGroupNotFound"},
		{"authenticate on HTTP", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: &types.AuthenticateOidcActionConfig{Issuer: aws.String("https://i"),
				AuthorizationEndpoint: aws.String("https://a"), TokenEndpoint: aws.String("https://t"), UserInfoEndpoint: aws.String("https://u"),
				ClientId: aws.String("c"), ClientSecret: aws.String("s")}},
			{Type: types.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}}, "InvalidLoadBalancerAction"},
		{"two terminal actions", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumFixedResponse, Order: aws.Int32(1), FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}},
			{Type: types.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}}, "InvalidLoadBalancerAction"},
		{"missing order", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}},
			{Type: types.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}}, "ValidationError"},
		{"fixed 302", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: fixed("302")}, "InvalidLoadBalancerAction"},
		{"fixed content type", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200"), ContentType: aws.String("image/png")}}}}, "InvalidLoadBalancerAction"},
		{"redirect loop", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}}, "InvalidLoadBalancerAction"},
		{"redirect bad port", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301, Port: aws.String("99999")}}}}, "InvalidLoadBalancerAction"},
		{"weight 1000", sdk.CreateListenerInput{Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), DefaultActions: []types.Action{
			{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{TargetGroups: []types.TargetGroupTuple{{TargetGroupArn: tg.TargetGroupArn, Weight: aws.Int32(1000)}}}}}}, "ValidationError"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.LoadBalancerArn = lb.LoadBalancerArn
			_, err := e.elb.CreateListener(ctx, &in)
			apiErr(t, err, c.code)
		})
	}
	// A redirect gets AWS's default components.
	r := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 8081, []types.Action{{Type: types.ActionTypeEnumRedirect,
		RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301, Protocol: aws.String("HTTPS"), Port: aws.String("443")}}})
	rc := r.DefaultActions[0].RedirectConfig
	if *rc.Host != "#{host}" || *rc.Path != "/#{path}" || *rc.Query != "#{query}" || *rc.Protocol != "HTTPS" {
		t.Errorf("redirect %+v", rc)
	}
	_, err = e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443),
		Certificates: []types.Certificate{{CertificateArn: aws.String(certARN)}}, DefaultActions: []types.Action{{Type: types.ActionTypeEnumRedirect,
			RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp302, Protocol: aws.String("HTTP")}}}})
	apiErr(t, err, "InvalidLoadBalancerAction")

	// Describe by load balancer, by port order.
	ls := must[*sdk.DescribeListenersOutput](t)(e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn, PageSize: aws.Int32(2)}))
	if len(ls.Listeners) != 2 || *ls.Listeners[0].Port != 80 || *ls.Listeners[1].Port != 443 || ls.NextMarker == nil {
		t.Errorf("first page %+v", ls)
	}
	ls2 := must[*sdk.DescribeListenersOutput](t)(e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn, PageSize: aws.Int32(2), Marker: ls.NextMarker}))
	if len(ls2.Listeners) != 1 || *ls2.Listeners[0].Port != 8081 || ls2.NextMarker != nil {
		t.Errorf("second page %+v", ls2)
	}
	_, err = e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{})
	apiErr(t, err, "ValidationError")
	_, err = e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{ListenerArns: []string{*l.ListenerArn + "0"}})
	apiErr(t, err, "ListenerNotFound")
}

func TestListenerTargetGroupCompatibility(t *testing.T) {
	e := start(t)
	alb := e.alb(t, "web")
	nlb := e.nlb(t, "tcp")
	http := e.tg(t, "http", types.ProtocolEnumHttp, 80)
	tcp := e.tg(t, "tcp", types.ProtocolEnumTcp, 80)
	udp := e.tg(t, "udp", types.ProtocolEnumUdp, 53)
	grpc := e.tg(t, "grpc", types.ProtocolEnumHttp, 80, func(in *sdk.CreateTargetGroupInput) { in.ProtocolVersion = aws.String("GRPC") })
	try := func(lb *string, proto types.ProtocolEnum, port int32, tg *string) error {
		_, err := e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb, Protocol: proto, Port: aws.Int32(port), DefaultActions: forward(tg)})
		return err
	}
	apiErr(t, try(alb.LoadBalancerArn, types.ProtocolEnumHttp, 80, tcp.TargetGroupArn), "IncompatibleProtocols")
	apiErr(t, try(nlb.LoadBalancerArn, types.ProtocolEnumTcp, 80, http.TargetGroupArn), "IncompatibleProtocols")
	apiErr(t, try(nlb.LoadBalancerArn, types.ProtocolEnumTcp, 80, udp.TargetGroupArn), "IncompatibleProtocols")
	apiErr(t, try(alb.LoadBalancerArn, types.ProtocolEnumHttp, 80, grpc.TargetGroupArn), "IncompatibleProtocols")
	apiErr(t, try(nlb.LoadBalancerArn, types.ProtocolEnumUdp, 53, aws.String("bad")), "ValidationError")
	if err := try(nlb.LoadBalancerArn, types.ProtocolEnumUdp, 53, udp.TargetGroupArn); err != nil {
		t.Fatal(err)
	}
	if err := try(alb.LoadBalancerArn, types.ProtocolEnumHttp, 80, http.TargetGroupArn); err != nil {
		t.Fatal(err)
	}
	// A target group serves one load balancer.
	other := e.alb(t, "other")
	apiErr(t, try(other.LoadBalancerArn, types.ProtocolEnumHttp, 80, http.TargetGroupArn), "TargetGroupAssociationLimit")
	// NLBs forward only.
	_, err := e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: nlb.LoadBalancerArn, Protocol: types.ProtocolEnumTcp, Port: aws.Int32(81), DefaultActions: fixed("200")})
	apiErr(t, err, "InvalidLoadBalancerAction")
	// TLS listeners: certificate, policy, ALPN.
	certARN := e.cert(t, "tls.example.com")
	tls := e.listener(t, nlb.LoadBalancerArn, types.ProtocolEnumTls, 443, forward(tcp.TargetGroupArn), func(in *sdk.CreateListenerInput) {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(certARN)}}
		in.AlpnPolicy = []string{"HTTP2Preferred"}
		in.SslPolicy = aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06")
	})
	if tls.AlpnPolicy[0] != "HTTP2Preferred" || *tls.SslPolicy != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Errorf("TLS listener %+v", tls)
	}
	_, err = e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: nlb.LoadBalancerArn, Protocol: types.ProtocolEnumTls, Port: aws.Int32(8443),
		Certificates: []types.Certificate{{CertificateArn: aws.String(certARN)}}, AlpnPolicy: []string{"HTTP3"}, DefaultActions: forward(tcp.TargetGroupArn)})
	apiErr(t, err, "ALPNPolicyNotFound")
}

func TestTooManyListeners(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{ListenersPerALB: 2}))
	lb := e.alb(t, "web")
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, fixed("200"))
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 81, fixed("200"))
	_, err := e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(82), DefaultActions: fixed("200")})
	apiErr(t, err, "TooManyListeners")
	_, err = e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: aws.String(*lb.LoadBalancerArn + "0"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(82), DefaultActions: fixed("200")})
	apiErr(t, err, "LoadBalancerNotFound")
}

func TestListenerCertificates(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{CertificatesPerLoadBalancer: 2}))
	lb := e.alb(t, "web")
	c0, c1, c2, c3 := e.cert(t, "a.example.com"), e.cert(t, "b.example.com"), e.cert(t, "c.example.com"), e.cert(t, "d.example.com")
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttps, 443, fixed("200"), func(in *sdk.CreateListenerInput) {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(c0)}}
	})
	add := func(arn string) error {
		_, err := e.elb.AddListenerCertificates(ctx, &sdk.AddListenerCertificatesInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(arn)}}})
		return err
	}
	for _, c := range []string{c1, c2, c1} {
		if err := add(c); err != nil {
			t.Fatal(err)
		}
	}
	apiErr(t, add(c3), "TooManyCertificates")
	apiErr(t, add("arn:aws:acm:us-east-1:000000000000:certificate/11111111-1111-1111-1111-111111111111"), "CertificateNotFound")
	list := func() []string {
		var out []string
		p := sdk.NewDescribeListenerCertificatesPaginator(e.elb, &sdk.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn, PageSize: aws.Int32(1)})
		for p.HasMorePages() {
			for _, c := range must[*sdk.DescribeListenerCertificatesOutput](t)(p.NextPage(ctx)).Certificates {
				out = append(out, fmt.Sprintf("%s=%v", *c.CertificateArn, *c.IsDefault))
			}
		}
		return out
	}
	if got, want := strings.Join(list(), " "), fmt.Sprintf("%s=true %s=false %s=false", c0, c1, c2); got != want {
		t.Errorf("certificates %s, want %s", got, want)
	}
	_, err := e.elb.RemoveListenerCertificates(ctx, &sdk.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(c0)}}})
	apiErr(t, err, "OperationNotPermitted")
	must[*sdk.RemoveListenerCertificatesOutput](t)(e.elb.RemoveListenerCertificates(ctx, &sdk.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(c1)}}}))
	if got := list(); len(got) != 2 {
		t.Errorf("after remove %v", got)
	}
	// A new default certificate replaces the old default; SNI certificates stay.
	mod := must[*sdk.ModifyListenerOutput](t)(e.elb.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn, Certificates: []types.Certificate{{CertificateArn: aws.String(c3)}}}))
	if *mod.Listeners[0].Certificates[0].CertificateArn != c3 {
		t.Errorf("modified default %+v", mod.Listeners[0].Certificates)
	}
	if got, want := strings.Join(list(), " "), fmt.Sprintf("%s=true %s=false", c3, c2); got != want {
		t.Errorf("certificates %s, want %s", got, want)
	}
	// HTTPS -> HTTP drops certificates and policy; HTTP -> HTTPS needs a certificate.
	plain := must[*sdk.ModifyListenerOutput](t)(e.elb.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80)}))
	if p := plain.Listeners[0]; p.SslPolicy != nil || p.Certificates != nil || p.MutualAuthentication != nil || *p.Port != 80 {
		t.Errorf("HTTP listener %+v", p)
	}
	_, err = e.elb.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn, Protocol: types.ProtocolEnumHttps})
	apiErr(t, err, "ValidationError")
}

func TestListenerAutoProvision(t *testing.T) {
	e := start(t, func(c *elbv2.Config) { c.AutoProvision = true })
	lb := e.alb(t, "web")
	arn := "arn:aws:acm:us-east-1:000000000000:certificate/22222222-2222-2222-2222-222222222222"
	e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttps, 443, fixed("200"), func(in *sdk.CreateListenerInput) {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(arn)}}
	})
	d := must[*acmsdk.DescribeCertificateOutput](t)(e.acm.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(arn)}))
	if d.Certificate.Status != "ISSUED" {
		t.Errorf("auto-provisioned certificate %+v", d.Certificate)
	}
	// Not an ACM ARN: still not found.
	_, err := e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443),
		Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:iam::000000000000:server-certificate/x")}}, DefaultActions: fixed("200")})
	apiErr(t, err, "CertificateNotFound")
}

func TestListenerAttributes(t *testing.T) {
	e := start(t)
	alb, nlb := e.alb(t, "web"), e.nlb(t, "tcp")
	tcpTG := e.tg(t, "tcp", types.ProtocolEnumTcp, 80)
	udpTG := e.tg(t, "udp", types.ProtocolEnumUdp, 53)
	h := e.listener(t, alb.LoadBalancerArn, types.ProtocolEnumHttp, 80, fixed("200"))
	tcp := e.listener(t, nlb.LoadBalancerArn, types.ProtocolEnumTcp, 80, forward(tcpTG.TargetGroupArn))
	udp := e.listener(t, nlb.LoadBalancerArn, types.ProtocolEnumUdp, 53, forward(udpTG.TargetGroupArn))
	kv := func(a types.ListenerAttribute) (*string, *string) { return a.Key, a.Value }
	get := func(arn *string) map[string]string {
		return attrMap(must[*sdk.DescribeListenerAttributesOutput](t)(e.elb.DescribeListenerAttributes(ctx, &sdk.DescribeListenerAttributesInput{ListenerArn: arn})).Attributes, kv)
	}
	if m := get(h.ListenerArn); m["routing.http.response.server.enabled"] != "true" || len(m) != 11 {
		t.Errorf("HTTP listener attributes %v", m)
	}
	if m := get(tcp.ListenerArn); len(m) != 1 || m["tcp.idle_timeout.seconds"] != "350" {
		t.Errorf("TCP listener attributes %v", m)
	}
	if m := get(udp.ListenerArn); len(m) != 0 {
		t.Errorf("UDP listener attributes %v", m)
	}
	out := must[*sdk.ModifyListenerAttributesOutput](t)(e.elb.ModifyListenerAttributes(ctx, &sdk.ModifyListenerAttributesInput{ListenerArn: tcp.ListenerArn,
		Attributes: []types.ListenerAttribute{{Key: aws.String("tcp.idle_timeout.seconds"), Value: aws.String("600")}}}))
	if m := attrMap(out.Attributes, kv); m["tcp.idle_timeout.seconds"] != "600" {
		t.Errorf("modified %v", m)
	}
	for _, bad := range [][3]string{{*tcp.ListenerArn, "tcp.idle_timeout.seconds", "59"}, {*h.ListenerArn, "tcp.idle_timeout.seconds", "100"},
		{*h.ListenerArn, "routing.http.response.server.enabled", "maybe"}} {
		_, err := e.elb.ModifyListenerAttributes(ctx, &sdk.ModifyListenerAttributesInput{ListenerArn: aws.String(bad[0]),
			Attributes: []types.ListenerAttribute{{Key: aws.String(bad[1]), Value: aws.String(bad[2])}}})
		apiErr(t, err, "ValidationError")
	}
}

func TestTrustStoresAndMutualTLS(t *testing.T) {
	dir := t.TempDir()
	bundle := caPEM(t)
	if err := os.MkdirAll(filepath.Join(dir, "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bucket", "ca.pem"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *elbv2.Config) {
		c.Objects = fstest.MapFS{"bucket/ca.pem": {Data: bundle}, "bucket/junk.pem": {Data: []byte("junk")}}
	})
	ts := must[*sdk.CreateTrustStoreOutput](t)(e.elb.CreateTrustStore(ctx, &sdk.CreateTrustStoreInput{Name: aws.String("clients"),
		CaCertificatesBundleS3Bucket: aws.String("bucket"), CaCertificatesBundleS3Key: aws.String("ca.pem")})).TrustStores[0]
	if *ts.NumberOfCaCertificates != 1 || ts.Status != "ACTIVE" || !strings.Contains(*ts.TrustStoreArn, ":truststore/clients/") {
		t.Errorf("trust store %+v", ts)
	}
	_, err := e.elb.CreateTrustStore(ctx, &sdk.CreateTrustStoreInput{Name: aws.String("x"), CaCertificatesBundleS3Bucket: aws.String("bucket"), CaCertificatesBundleS3Key: aws.String("none.pem")})
	apiErr(t, err, "CaCertificatesBundleNotFound")
	_, err = e.elb.CreateTrustStore(ctx, &sdk.CreateTrustStoreInput{Name: aws.String("x"), CaCertificatesBundleS3Bucket: aws.String("bucket"), CaCertificatesBundleS3Key: aws.String("junk.pem")})
	apiErr(t, err, "InvalidCaCertificatesBundle")
	_, err = e.elb.CreateTrustStore(ctx, &sdk.CreateTrustStoreInput{Name: aws.String("clients"), CaCertificatesBundleS3Bucket: aws.String("bucket"), CaCertificatesBundleS3Key: aws.String("ca.pem")})
	apiErr(t, err, "DuplicateTrustStoreName")
	d := must[*sdk.DescribeTrustStoresOutput](t)(e.elb.DescribeTrustStores(ctx, &sdk.DescribeTrustStoresInput{Names: []string{"clients"}}))
	if len(d.TrustStores) != 1 || *d.TrustStores[0].TrustStoreArn != *ts.TrustStoreArn {
		t.Errorf("describe %+v", d.TrustStores)
	}
	_, err = e.elb.DescribeTrustStores(ctx, &sdk.DescribeTrustStoresInput{Names: []string{"nope"}})
	apiErr(t, err, "TrustStoreNotFound")

	lb := e.alb(t, "web")
	certARN := e.cert(t, "mtls.example.com")
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttps, 443, fixed("200"), func(in *sdk.CreateListenerInput) {
		in.Certificates = []types.Certificate{{CertificateArn: aws.String(certARN)}}
		in.MutualAuthentication = &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: ts.TrustStoreArn}
	})
	if m := l.MutualAuthentication; *m.Mode != "verify" || *m.TrustStoreArn != *ts.TrustStoreArn || *m.IgnoreClientCertificateExpiry {
		t.Errorf("mutual authentication %+v", m)
	}
	_, err = e.elb.DeleteTrustStore(ctx, &sdk.DeleteTrustStoreInput{TrustStoreArn: ts.TrustStoreArn})
	apiErr(t, err, "TrustStoreInUse")
	_, err = e.elb.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443),
		Certificates: []types.Certificate{{CertificateArn: aws.String(certARN)}}, DefaultActions: fixed("200"),
		MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String(*ts.TrustStoreArn + "0")}})
	apiErr(t, err, "TrustStoreNotFound")
	must[*sdk.DeleteListenerOutput](t)(e.elb.DeleteListener(ctx, &sdk.DeleteListenerInput{ListenerArn: l.ListenerArn}))
	must[*sdk.DeleteTrustStoreOutput](t)(e.elb.DeleteTrustStore(ctx, &sdk.DeleteTrustStoreInput{TrustStoreArn: ts.TrustStoreArn}))
}

// caPEM returns a self-signed CA certificate in PEM.
func caPEM(t *testing.T) []byte {
	t.Helper()
	ca, err := pki.NewCA(pkix.Name{CommonName: "test CA"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM()
}

// TestNLBWeightedForward checks the rules of weighted target groups on
// Network Load Balancer listeners (November 2025): up to five target
// groups with weights 0-999; a TLS listener's all of one protocol; one IP
// address type per action; target group stickiness without a duration,
// not on TLS listeners.
func TestNLBWeightedForward(t *testing.T) {
	e := start(t)
	nlb := e.nlb(t, "weighted")
	var tcp []types.TargetGroup
	for i := range 6 {
		tcp = append(tcp, e.tg(t, fmt.Sprintf("tcp%d", i), types.ProtocolEnumTcp, 80))
	}
	tls := e.tg(t, "tls", types.ProtocolEnumTls, 443)
	v6 := e.tg(t, "v6", types.ProtocolEnumTcp, 80, func(in *sdk.CreateTargetGroupInput) { in.IpAddressType = types.TargetGroupIpAddressTypeEnumIpv6 })
	weighted := func(st *types.TargetGroupStickinessConfig, tgs ...types.TargetGroup) []types.Action {
		fc := &types.ForwardActionConfig{TargetGroupStickinessConfig: st}
		for i, tg := range tgs {
			fc.TargetGroups = append(fc.TargetGroups, types.TargetGroupTuple{TargetGroupArn: tg.TargetGroupArn, Weight: aws.Int32(int32(i * 10))})
		}
		return []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: fc}}
	}
	try := func(proto types.ProtocolEnum, port int32, actions []types.Action) (types.Listener, error) {
		in := &sdk.CreateListenerInput{LoadBalancerArn: nlb.LoadBalancerArn, Protocol: proto, Port: aws.Int32(port), DefaultActions: actions}
		if proto == types.ProtocolEnumTls {
			in.Certificates = []types.Certificate{{CertificateArn: aws.String(e.cert(t, "w.example.com"))}}
		}
		out, err := e.elb.CreateListener(ctx, in)
		if err != nil {
			return types.Listener{}, err
		}
		return out.Listeners[0], nil
	}
	l, err := try(types.ProtocolEnumTcp, 80, weighted(&types.TargetGroupStickinessConfig{Enabled: aws.Bool(true)}, tcp[:5]...))
	if err != nil {
		t.Fatal(err)
	}
	fc := l.DefaultActions[0].ForwardConfig
	if len(fc.TargetGroups) != 5 || *fc.TargetGroups[0].Weight != 0 || *fc.TargetGroups[4].Weight != 40 || !*fc.TargetGroupStickinessConfig.Enabled || l.DefaultActions[0].TargetGroupArn != nil {
		t.Errorf("weighted NLB forward %+v", l.DefaultActions[0])
	}
	_, err = try(types.ProtocolEnumTcp, 81, weighted(nil, tcp...))
	apiErr(t, err, "TooManyTargetGroups")
	_, err = try(types.ProtocolEnumTcp, 82, weighted(&types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(60)}, tcp[5]))
	apiErr(t, err, "ValidationError")
	_, err = try(types.ProtocolEnumTls, 443, weighted(nil, tcp[5], tls))
	apiErr(t, err, "InvalidLoadBalancerAction")
	_, err = try(types.ProtocolEnumTls, 443, weighted(&types.TargetGroupStickinessConfig{Enabled: aws.Bool(true)}, tcp[5]))
	apiErr(t, err, "InvalidLoadBalancerAction")
	_, err = try(types.ProtocolEnumTcp, 83, weighted(nil, tcp[5], v6))
	apiErr(t, err, "InvalidLoadBalancerAction")
}
