package stack

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

func ptr[T any](v T) *T { return &v }

// sample builds a small ALB stack in the shape of the reference controller's.
func sample(t *testing.T) *Stack {
	t.Helper()
	s := New(ID{Namespace: "ns-1", Name: "ing-1"}, TagPrefixIngress)
	sg := &SecurityGroup{ResID: IDManagedSecurityGroup, Spec: SecurityGroupSpec{
		GroupName: "k8s-ns1-ing1-bd83176788", Description: "[k8s] Managed SecurityGroup for LoadBalancer",
		Ingress: []IPPermission{{IPProtocol: "tcp", FromPort: ptr(int32(80)), ToPort: ptr(int32(80)), IPRanges: []IPRange{{CIDRIP: "0.0.0.0/0"}}}},
	}}
	lb := &LoadBalancer{ResID: IDLoadBalancer, Spec: LoadBalancerSpec{
		Name: "k8s-ns1-ing1-b7e914000d", Type: LoadBalancerTypeApplication, Scheme: SchemeInternal, IPAddressType: IPAddressTypeIPv4,
		SubnetMappings: []SubnetMapping{{SubnetID: "subnet-a"}, {SubnetID: "subnet-b"}},
		SecurityGroups: []Token{sg.GroupID(), Literal("sg-auto")},
	}}
	tg := &TargetGroup{ResID: "ns-1/ing-1-svc-1:http", Spec: TargetGroupSpec{
		Name: "k8s-ns1-svc1-9889425938", TargetType: TargetTypeInstance, Port: ptr(int32(32768)), Protocol: ProtocolHTTP,
		ProtocolVersion: ptr(ProtocolVersionHTTP1), IPAddressType: TargetGroupIPv4,
		HealthCheckConfig: &HealthCheck{Port: ptr(intstr.FromString("traffic-port")), Protocol: ProtocolHTTP, Path: ptr("/"),
			Matcher: &Matcher{HTTPCode: ptr("200")}, IntervalSeconds: ptr(int32(15)), TimeoutSeconds: ptr(int32(5)),
			HealthyThresholdCount: ptr(int32(2)), UnhealthyThresholdCount: ptr(int32(2))},
	}}
	ls := &Listener{ResID: "80", Spec: ListenerSpec{LoadBalancerARN: lb.ARN(), Port: 80, Protocol: ProtocolHTTP,
		DefaultActions: []Action{{Type: ActionTypeFixedResponse, FixedResponseConfig: &FixedResponseConfig{ContentType: ptr("text/plain"), StatusCode: "404"}}}}}
	rule := &ListenerRule{ResID: "80:1", Spec: ListenerRuleSpec{ListenerARN: ls.ARN(), Priority: 1,
		Actions:    []Action{{Type: ActionTypeForward, ForwardConfig: &ForwardConfig{TargetGroups: []TargetGroupTuple{{TargetGroupARN: tg.ARN()}}}}},
		Conditions: []Condition{{Field: ConditionHostHeader, HostHeaderConfig: &ValuesConfig{Values: []string{"app-1.example.com"}}}}}}
	tt := elbv2api.TargetTypeInstance
	tcp := elbv2api.NetworkingProtocolTCP
	port := intstr.FromInt32(32768)
	tgb := &TargetGroupBinding{ResID: tg.ResID}
	tgb.Spec.Template.Name = tg.Spec.Name
	tgb.Spec.Template.Namespace = "ns-1"
	tgb.Spec.Template.Spec = TGBSpec{TargetGroupARN: tg.ARN(), TargetType: &tt,
		ServiceRef: elbv2api.ServiceReference{Name: "svc-1", Port: intstr.FromString("http")},
		Networking: &TGBNetworking{Ingress: []NetworkingIngressRule{{From: []NetworkingPeer{{SecurityGroup: &TGBSecurityGroup{GroupID: Literal("sg-auto")}}},
			Ports: []elbv2api.NetworkingPort{{Protocol: &tcp, Port: &port}}}}},
		IPAddressType: elbv2api.TargetGroupIPAddressTypeIPv4, VpcID: "vpc-dummy", TargetGroupProtocol: ptr(ProtocolHTTP)}
	for _, r := range []Resource{sg, lb, tg, ls, rule, tgb, &FrontendNLBTargetGroups{TargetGroups: map[string]*FrontendNLBTarget{}}} {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// The reference controller's stack JSON for the same stack (its
// model_builder_test base stack, trimmed to these resources), as its
// marshaller writes it: map keys sorted, struct fields in order.
const sampleJSON = `{"id":"ns-1/ing-1","resources":{` +
	`"AWS::EC2::SecurityGroup":{"ManagedLBSecurityGroup":{"spec":{"groupName":"k8s-ns1-ing1-bd83176788","description":"[k8s] Managed SecurityGroup for LoadBalancer","ingress":[{"ipProtocol":"tcp","fromPort":80,"toPort":80,"ipRanges":[{"cidrIP":"0.0.0.0/0"}]}]}}},` +
	`"AWS::ElasticLoadBalancingV2::Listener":{"80":{"spec":{"loadBalancerARN":{"$ref":"#/resources/AWS::ElasticLoadBalancingV2::LoadBalancer/LoadBalancer/status/loadBalancerARN"},"port":80,"protocol":"HTTP","defaultActions":[{"type":"fixed-response","fixedResponseConfig":{"contentType":"text/plain","statusCode":"404"}}]}}},` +
	`"AWS::ElasticLoadBalancingV2::ListenerRule":{"80:1":{"spec":{"listenerARN":{"$ref":"#/resources/AWS::ElasticLoadBalancingV2::Listener/80/status/listenerARN"},"priority":1,"actions":[{"type":"forward","forwardConfig":{"targetGroups":[{"targetGroupARN":{"$ref":"#/resources/AWS::ElasticLoadBalancingV2::TargetGroup/ns-1/ing-1-svc-1:http/status/targetGroupARN"}}]}}],"conditions":[{"field":"host-header","hostHeaderConfig":{"values":["app-1.example.com"]}}]}}},` +
	`"AWS::ElasticLoadBalancingV2::LoadBalancer":{"LoadBalancer":{"spec":{"name":"k8s-ns1-ing1-b7e914000d","type":"application","scheme":"internal","ipAddressType":"ipv4","subnetMapping":[{"subnetID":"subnet-a"},{"subnetID":"subnet-b"}],"securityGroups":[{"$ref":"#/resources/AWS::EC2::SecurityGroup/ManagedLBSecurityGroup/status/groupID"},"sg-auto"]}}},` +
	`"AWS::ElasticLoadBalancingV2::TargetGroup":{"ns-1/ing-1-svc-1:http":{"spec":{"name":"k8s-ns1-svc1-9889425938","targetType":"instance","port":32768,"protocol":"HTTP","protocolVersion":"HTTP1","ipAddressType":"ipv4","healthCheckConfig":{"port":"traffic-port","protocol":"HTTP","path":"/","matcher":{"httpCode":"200"},"intervalSeconds":15,"timeoutSeconds":5,"healthyThresholdCount":2,"unhealthyThresholdCount":2}}}},` +
	`"FrontendNLBTargetGroup":{"FrontendNLBTargetGroup":{"TargetGroups":{}}},` +
	`"K8S::ElasticLoadBalancingV2::TargetGroupBinding":{"ns-1/ing-1-svc-1:http":{"spec":{"template":{"metadata":{"name":"k8s-ns1-svc1-9889425938","namespace":"ns-1"},"spec":{"targetGroupARN":{"$ref":"#/resources/AWS::ElasticLoadBalancingV2::TargetGroup/ns-1/ing-1-svc-1:http/status/targetGroupARN"},"targetType":"instance","serviceRef":{"name":"svc-1","port":"http"},"networking":{"ingress":[{"from":[{"securityGroup":{"groupID":"sg-auto"}}],"ports":[{"protocol":"TCP","port":32768}]}]},"ipAddressType":"ipv4","vpcID":"vpc-dummy","targetGroupProtocol":"HTTP"}}}}}` +
	`}}`

func TestMarshalMatchesReferenceShape(t *testing.T) {
	got, err := json.Marshal(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != sampleJSON {
		t.Fatalf("stack JSON differs\n got: %s\nwant: %s", got, sampleJSON)
	}
}

func TestUnmarshalRoundTrip(t *testing.T) {
	var s Stack
	if err := json.Unmarshal([]byte(sampleJSON), &s); err != nil {
		t.Fatal(err)
	}
	if s.TagPrefix != TagPrefixIngress || s.ID != (ID{Namespace: "ns-1", Name: "ing-1"}) {
		t.Fatalf("id %v prefix %q", s.ID, s.TagPrefix)
	}
	again, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, []byte(sampleJSON)) {
		t.Fatalf("round trip differs\n got: %s\nwant: %s", again, sampleJSON)
	}
}

func TestAddRejectsDuplicates(t *testing.T) {
	s := New(ID{Name: "g"}, TagPrefixIngress)
	if err := s.Add(&Listener{ResID: "80"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(&Listener{ResID: "80"}); err == nil {
		t.Fatal("second listener 80 accepted")
	}
}

func TestResolve(t *testing.T) {
	s := sample(t)
	lb := s.LoadBalancers[IDLoadBalancer]
	if _, err := s.Resolve(lb.ARN()); err == nil {
		t.Fatal("resolved an ARN before the status was set")
	}
	lb.Status = &LoadBalancerStatus{LoadBalancerARN: "arn:lb", DNSName: "x.elb"}
	if v, err := s.Resolve(lb.ARN()); err != nil || v != "arn:lb" {
		t.Fatalf("Resolve = %q, %v", v, err)
	}
	if v, err := s.Resolve(Literal("sg-1")); err != nil || v != "sg-1" {
		t.Fatalf("Resolve literal = %q, %v", v, err)
	}
	if _, err := s.Resolve(RefTo(TypeTargetGroup, "nope", "targetGroupARN")); err == nil {
		t.Fatal("resolved a reference to a missing resource")
	}
}

func TestParsePointer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		ok   bool
	}{
		{"#/resources/AWS::ElasticLoadBalancingV2::TargetGroup/ns/ing-svc:80/status/targetGroupARN", Ref{TypeTargetGroup, "ns/ing-svc:80", "targetGroupARN"}, true},
		{"#/resources/AWS::EC2::SecurityGroup/ManagedLBSecurityGroup/status/groupID", Ref{TypeSecurityGroup, IDManagedSecurityGroup, "groupID"}, true},
		{"#/resources/X/status/f", Ref{}, false},
		{"resources/X/Y/status/f", Ref{}, false},
		{"#/resources/X/Y/status/", Ref{}, false},
	} {
		got, err := ParsePointer(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePointer(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestResourcesOrderAndRules(t *testing.T) {
	s := New(ID{Name: "g"}, TagPrefixIngress)
	lb := &LoadBalancer{ResID: IDLoadBalancer}
	for _, port := range []string{"443", "80", "8080"} {
		_ = s.Add(&Listener{ResID: port, Spec: ListenerSpec{LoadBalancerARN: lb.ARN()}})
	}
	ls80 := s.Listeners["80"]
	for _, id := range []string{"80:10", "80:2", "443:1"} {
		r := &ListenerRule{ResID: id}
		if id == "443:1" {
			r.Spec.ListenerARN = s.Listeners["443"].ARN()
		} else {
			r.Spec.ListenerARN = ls80.ARN()
			r.Spec.Priority = map[string]int32{"80:10": 10, "80:2": 2}[id]
		}
		_ = s.Add(r)
	}
	var ids []string
	for _, r := range s.Resources() {
		ids = append(ids, r.Type()+" "+r.ID())
	}
	want := []string{TypeListener + " 80", TypeListener + " 443", TypeListener + " 8080", TypeListenerRule + " 80:2", TypeListenerRule + " 80:10", TypeListenerRule + " 443:1"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("Resources order %v, want %v", ids, want)
	}
	rules := s.RulesOf(ls80)
	if len(rules) != 2 || rules[0].ResID != "80:2" || rules[1].ResID != "80:10" {
		t.Fatalf("RulesOf(80) = %v", rules)
	}
}

func TestTrackingTags(t *testing.T) {
	s := New(ID{Namespace: "default", Name: "web"}, TagPrefixService)
	tg := &TargetGroup{ResID: "default/web:80"}
	got := s.ResourceTags("demo", tg, map[string]string{"team": "a", TagCluster: "spoof"})
	want := map[string]string{"team": "a", TagCluster: "demo", "service.k8s.aws/stack": "default/web", "service.k8s.aws/resource": "default/web:80"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ResourceTags = %v, want %v", got, want)
	}
	if l := s.StackLabels(); l["service.k8s.aws/stack-namespace"] != "default" || l["service.k8s.aws/stack-name"] != "web" {
		t.Fatalf("StackLabels = %v", l)
	}
	g := New(ID{Name: "shared"}, TagPrefixIngress)
	if l := g.StackLabels(); len(l) != 1 || l["ingress.k8s.aws/stack"] != "shared" {
		t.Fatalf("explicit group labels = %v", l)
	}
}

func TestOIDCRedactedInJSONButNotInSDK(t *testing.T) {
	a := Action{Type: ActionTypeAuthenticateOIDC, AuthenticateOIDCConfig: &AuthenticateOIDCConfig{Issuer: "i", ClientID: "id", ClientSecret: "secret"}}
	b, _ := json.Marshal(a)
	if bytes.Contains(b, []byte("secret")) || !bytes.Contains(b, []byte(Redacted)) {
		t.Fatalf("JSON not redacted: %s", b)
	}
	sa, err := a.SDK(func(Token) (string, error) { return "", nil })
	if err != nil || *sa.AuthenticateOidcConfig.ClientSecret != "secret" {
		t.Fatalf("SDK conversion lost the secret: %v", err)
	}
}

func TestSDKActionsOrderAndResolve(t *testing.T) {
	s := sample(t)
	s.TargetGroups["ns-1/ing-1-svc-1:http"].Status = &TargetGroupStatus{TargetGroupARN: "arn:tg"}
	rule := s.ListenerRules["80:1"]
	acts, err := SDKActions(append([]Action{{Type: ActionTypeJwtValidation, JwtValidationConfig: &JwtValidationConfig{Issuer: "i", JwksEndpoint: "j"}}}, rule.Spec.Actions...), s.Resolve)
	if err != nil {
		t.Fatal(err)
	}
	if *acts[0].Order != 1 || *acts[1].Order != 2 || *acts[1].ForwardConfig.TargetGroups[0].TargetGroupArn != "arn:tg" {
		t.Fatalf("SDK actions %+v", acts)
	}
	c := rule.Spec.Conditions[0].SDK()
	if *c.Field != "host-header" || c.HostHeaderConfig.Values[0] != "app-1.example.com" {
		t.Fatalf("SDK condition %+v", c)
	}
	tr := Transform{Type: TransformURLRewrite, URLRewriteConfig: &RewriteConfig{Rewrites: []Rewrite{{Regex: "^/a", Replace: "/b"}}}}.SDK()
	if *tr.UrlRewriteConfig.Rewrites[0].Replace != "/b" {
		t.Fatalf("SDK transform %+v", tr)
	}
}

// TestImportedCertificate checks the certificate imported from a Secret:
// its JSON round trip, its place before the listeners that use it, and the
// resolution of the listener's certificate token once the deployer set its
// ARN.
func TestImportedCertificate(t *testing.T) {
	s := New(ID{Namespace: "shop", Name: "gw"}, TagPrefixGatewayALB)
	c := &ImportedCertificate{ResID: "shop/tls", Spec: ImportedCertificateSpec{
		SecretRef: SecretReference{Namespace: "shop", Name: "tls"}, ContentSHA256: "ab12", DomainNames: []string{"shop.example.com"},
	}}
	lb := &LoadBalancer{ResID: IDLoadBalancer, Spec: LoadBalancerSpec{Name: "lb", Type: LoadBalancerTypeApplication}}
	ls := &Listener{ResID: "443", Spec: ListenerSpec{LoadBalancerARN: lb.ARN(), Port: 443, Protocol: ProtocolHTTPS,
		Certificates: []Certificate{{CertificateARN: c.ARN()}}}}
	for _, r := range []Resource{ls, lb, c} {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(&ImportedCertificate{ResID: "shop/tls"}); err == nil {
		t.Fatal("a second certificate with the same ID was added")
	}
	if first := s.Resources()[0]; first != Resource(c) {
		t.Fatalf("first resource %s %s, want the certificate (dependencies first)", first.Type(), first.ID())
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `"K8S::ACM::ImportedCertificate":{"shop/tls":{"spec":{"secretRef":{"namespace":"shop","name":"tls"},"contentSHA256":"ab12","domainNames":["shop.example.com"]}}}`
	if !bytes.Contains(b, []byte(want)) || !bytes.Contains(b, []byte(`"certificateARN":{"$ref":"#/resources/K8S::ACM::ImportedCertificate/shop/tls/status/certificateARN"}`)) {
		t.Fatalf("JSON %s", b)
	}
	var back Stack
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.ImportedCertificates["shop/tls"]; got == nil || !reflect.DeepEqual(got.Spec, c.Spec) {
		t.Fatalf("round trip: %+v", got)
	}
	tok := s.Listeners["443"].Spec.Certificates[0].CertificateARN
	if _, err := s.Resolve(tok); err == nil {
		t.Fatal("resolved before the certificate was imported")
	}
	c.Status = &ImportedCertificateStatus{CertificateARN: "arn:aws:acm:us-east-1:000000000000:certificate/x"}
	if v, err := s.Resolve(tok); err != nil || v != c.Status.CertificateARN {
		t.Fatalf("resolve: %q %v", v, err)
	}
}
