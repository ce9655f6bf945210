package ingress

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
)

func TestGroupsOf(t *testing.T) {
	group := "elbv2.k8s.aws"
	classes := []networking.IngressClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "alb"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: networking.IngressClassSpec{Controller: "ingress.k8s.aws/alb",
			Parameters: &networking.IngressClassParametersReference{APIGroup: &group, Kind: "IngressClassParams", Name: "shared"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networking.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
	}
	params := []elbv2api.IngressClassParams{{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: elbv2api.IngressClassParamsSpec{Group: &elbv2api.IngressGroup{Name: "platform"}}}}
	ing := func(class string, ann map[string]string, finalizers ...string) *networking.Ingress {
		i := &networking.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Annotations: ann, Finalizers: finalizers}}
		if class != "" {
			i.Spec.IngressClassName = &class
		}
		return i
	}
	implicit := stack.ID{Namespace: "ns", Name: "web"}
	for _, tc := range []struct {
		name string
		ing  *networking.Ingress
		want []stack.ID
	}{
		{"implicit", ing("alb", nil), []stack.ID{implicit}},
		{"annotation group", ing("alb", map[string]string{"alb.ingress.kubernetes.io/group.name": "g1"}), []stack.ID{{Name: "g1"}}},
		{"params group wins", ing("shared", map[string]string{"alb.ingress.kubernetes.io/group.name": "g1"}), []stack.ID{{Name: "platform"}}},
		{"other class", ing("nginx", nil), nil},
		{"class annotation", ing("", map[string]string{"kubernetes.io/ingress.class": "alb"}), []stack.ID{implicit}},
		{"other class annotation", ing("", map[string]string{"kubernetes.io/ingress.class": "nginx"}), nil},
		{"no class", ing("", nil), nil},
		{"moved away keeps old group", ing("alb", map[string]string{"alb.ingress.kubernetes.io/group.name": "g2"}, "group.ingress.k8s.aws/g1"), []stack.ID{{Name: "g1"}, {Name: "g2"}}},
		{"left the class", ing("nginx", nil, "ingress.k8s.aws/resources"), []stack.ID{implicit}},
	} {
		got := GroupsOf(tc.ing, classes, params, "alb")
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.name, diff)
		}
	}
	deleted := ing("alb", map[string]string{"alb.ingress.kubernetes.io/group.name": "g2"}, "group.ingress.k8s.aws/g2")
	now := metav1.Now()
	deleted.DeletionTimestamp = &now
	if diff := cmp.Diff([]stack.ID{{Name: "g2"}}, GroupsOf(deleted, classes, params, "alb")); diff != "" {
		t.Errorf("deleted: (-want +got):\n%s", diff)
	}
	// With --ingress-class "", Ingresses without a class are ours.
	if diff := cmp.Diff([]stack.ID{implicit}, GroupsOf(ing("", nil), classes, params, "")); diff != "" {
		t.Errorf("empty --ingress-class: (-want +got):\n%s", diff)
	}
}

func TestBackendServices(t *testing.T) {
	pt := networking.PathTypePrefix
	i := &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			"alb.ingress.kubernetes.io/actions.split": `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"blue","servicePort":"80","weight":50},{"serviceName":"green","servicePort":"80","weight":50}]}}`,
		}},
		Spec: networking.IngressSpec{
			DefaultBackend: &networking.IngressBackend{Service: &networking.IngressServiceBackend{Name: "default"}},
			Rules: []networking.IngressRule{{IngressRuleValue: networking.IngressRuleValue{HTTP: &networking.HTTPIngressRuleValue{Paths: []networking.HTTPIngressPath{
				{Path: "/a", PathType: &pt, Backend: networking.IngressBackend{Service: &networking.IngressServiceBackend{Name: "api"}}},
				{Path: "/b", PathType: &pt, Backend: networking.IngressBackend{Service: &networking.IngressServiceBackend{Name: "split", Port: networking.ServiceBackendPort{Name: "use-annotation"}}}},
			}}}}},
		},
	}
	if diff := cmp.Diff([]string{"api", "blue", "default", "green", "split"}, BackendServices(i)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReferencedNames(t *testing.T) {
	ings := []networking.Ingress{{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		"alb.ingress.kubernetes.io/actions.a":             `{"type":"forward","targetGroupName":"legacy-tg"}`,
		"alb.ingress.kubernetes.io/actions.b":             `{"type":"forward","forwardConfig":{"targetGroups":[{"targetGroupName":"blue-tg","weight":1},{"targetGroupARN":"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1","weight":1}]}}`,
		"alb.ingress.kubernetes.io/mutual-authentication": `[{"port":443,"mode":"verify","trustStore":"my-store"},{"port":8443,"mode":"verify","trustStore":"arn:aws:elasticloadbalancing:us-east-1:1:truststore/s/1"}]`,
		"alb.ingress.kubernetes.io/wafv2-acl-name":        "web-acl",
		"alb.ingress.kubernetes.io/actions.broken":        `{`,
	}}}}
	params := []elbv2api.IngressClassParams{{Spec: elbv2api.IngressClassParamsSpec{WAFv2ACLName: "class-acl"}}}
	tgs, tss, acls := referencedNames(ings, params)
	if diff := cmp.Diff([]string{"blue-tg", "legacy-tg"}, tgs); diff != "" {
		t.Errorf("target groups (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"my-store"}, tss); diff != "" {
		t.Errorf("trust stores (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"class-acl", "web-acl"}, acls); diff != "" {
		t.Errorf("web ACLs (-want +got):\n%s", diff)
	}
}
