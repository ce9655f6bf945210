package v1beta1

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestAddToSchemeRegistersKinds(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"IngressClassParams", "IngressClassParamsList", "TargetGroupBinding", "TargetGroupBindingList"} {
		if !s.Recognizes(GroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not recognise %s", kind)
		}
	}
}

func TestIngressClassParamsYAMLFields(t *testing.T) {
	const doc = `
apiVersion: elbv2.k8s.aws/v1beta1
kind: IngressClassParams
metadata: {name: alb}
spec:
  group: {name: shared}
  scheme: internal
  subnets: {tags: {kubernetes.io/role/internal-elb: ["1"]}}
  tags: [{key: team, value: web}]
  PrefixListsIDs: [pl-1]
  listeners: [{protocol: HTTPS, port: 443, listenerAttributes: [{key: a, value: b}]}]
`
	var p IngressClassParams
	if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Group.Name != "shared" || *p.Spec.Scheme != LoadBalancerSchemeInternal ||
		p.Spec.Subnets.Tags["kubernetes.io/role/internal-elb"][0] != "1" || p.Spec.Tags[0].Value != "web" ||
		p.Spec.PrefixListsIDsLegacy[0] != "pl-1" || p.Spec.Listeners[0].ListenerAttributes[0].Key != "a" {
		t.Fatalf("decoded %+v", p.Spec)
	}
	cp := p.DeepCopy()
	cp.Spec.Tags[0].Value = "changed"
	if p.Spec.Tags[0].Value != "web" {
		t.Fatal("DeepCopy shares the tags slice")
	}
}

func TestTargetGroupBindingYAMLFields(t *testing.T) {
	const doc = `
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata: {name: tgb, namespace: default}
spec:
  targetGroupARN: arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/x/1
  targetType: ip
  targetGroupProtocol: TCP
  serviceRef: {name: svc, port: http}
  networking:
    ingress:
    - from: [{securityGroup: {groupID: sg-1}}]
      ports: [{protocol: TCP, port: 8080}]
`
	var b TargetGroupBinding
	if err := yaml.UnmarshalStrict([]byte(doc), &b); err != nil {
		t.Fatal(err)
	}
	if *b.Spec.TargetType != TargetTypeIP || b.Spec.ServiceRef.Port.StrVal != "http" ||
		b.Spec.Networking.Ingress[0].Ports[0].Port.IntValue() != 8080 || *b.Spec.TargetGroupProtocol != TargetGroupProtocolTCP {
		t.Fatalf("decoded %+v", b.Spec)
	}
}
