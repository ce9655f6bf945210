package gateway

import (
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
)

func TestDeployedStaticAddresses(t *testing.T) {
	pending := GatewayStatus{Status: gwv1.GatewayStatus{Conditions: []metav1.Condition{
		cond("Accepted", metav1.ConditionTrue, "Accepted", "", 1),
		cond("Programmed", metav1.ConditionUnknown, "Pending", "", 1)}}}
	got := pending.Deployed(Deployment{State: "active", DNSName: "K8s-Edge.elb.example", StaticAddresses: []string{"192.0.2.10", "192.0.2.11"}})
	if len(got.Addresses) != 3 || *got.Addresses[0].Type != gwv1.HostnameAddressType || got.Addresses[0].Value != "k8s-edge.elb.example" ||
		*got.Addresses[1].Type != gwv1.IPAddressType || got.Addresses[1].Value != "192.0.2.10" || got.Addresses[2].Value != "192.0.2.11" {
		t.Errorf("addresses %+v", got.Addresses)
	}
}

func TestMergeParentsReplacesEveryControllerOfOurs(t *testing.T) {
	other := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "x"}, ControllerName: "example.com/other"}
	staleALB := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "alb"}, ControllerName: ControllerALB}
	staleNLB := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "nlb"}, ControllerName: ControllerNLB}
	ours := []gwv1.RouteParentStatus{
		{ParentRef: gwv1.ParentReference{Name: "a"}, ControllerName: ControllerALB},
		{ParentRef: gwv1.ParentReference{Name: "n"}, ControllerName: ControllerNLB},
	}
	got := MergeParents([]gwv1.RouteParentStatus{staleALB, other, staleNLB}, ours, ControllerALB)
	if len(got) != 3 || got[0].ControllerName != "example.com/other" || got[1].ParentRef.Name != "a" || got[2].ParentRef.Name != "n" {
		t.Errorf("merged %+v", got)
	}
	// With nothing of ours left, the controller's stale entries still go.
	got = MergeParents([]gwv1.RouteParentStatus{staleNLB, other}, nil, ControllerNLB)
	if len(got) != 1 || got[0].ControllerName != "example.com/other" {
		t.Errorf("merged %+v", got)
	}
}

func TestProgrammedALBARN(t *testing.T) {
	const arn = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/k8s-web-web-1a2b3c4d5e/0123456789abcdef"
	gw := func(status metav1.ConditionStatus, msg string) *gwv1.Gateway {
		return &gwv1.Gateway{Status: gwv1.GatewayStatus{Conditions: []metav1.Condition{{Type: "Programmed", Status: status, Message: msg}}}}
	}
	for _, tc := range []struct {
		gw   *gwv1.Gateway
		want string
	}{
		{gw(metav1.ConditionTrue, arn), arn},
		{gw(metav1.ConditionTrue, "Load balancer "+arn+" is active."), arn},
		{gw(metav1.ConditionTrue, "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/x/0f"), "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/x/0f"},
		{gw(metav1.ConditionUnknown, arn), ""},
		{gw(metav1.ConditionTrue, "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/k8s-x/0123"), ""},
		{gw(metav1.ConditionTrue, "Waiting."), ""},
		{&gwv1.Gateway{}, ""},
	} {
		if got := ProgrammedALBARN(tc.gw); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.gw.Status.Conditions, got, tc.want)
		}
	}
}

func FuzzProgrammedALBARN(f *testing.F) {
	for _, s := range []string{"Load balancer arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/a/0f is active.", "", "arn:aws:", "loadbalancer/app//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		arn := ProgrammedALBARN(&gwv1.Gateway{Status: gwv1.GatewayStatus{Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Message: msg}}}})
		if arn != "" && (!strings.Contains(msg, arn) || !strings.Contains(arn, ":loadbalancer/app/")) {
			t.Fatalf("%q gave %q", msg, arn)
		}
	})
}

func TestNLBHealthCheck(t *testing.T) {
	local := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, HealthCheckNodePort: 32100}}
	cluster := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "admin", Port: 9000, TargetPort: intstrFromInt(9001)}}}}
	httpProto := v1beta1.TargetGroupHealthCheckProtocolHTTP
	for _, tc := range []struct {
		name  string
		props *v1beta1.TargetGroupProps
		svc   *corev1.Service
		tt    stack.TargetType
		want  string
		err   string
	}{
		{"default", nil, cluster, stack.TargetTypeIP, "TCP traffic-port 15/5 3/3", ""},
		{"etp local instance", nil, local, stack.TargetTypeInstance, "HTTP 32100 /healthz 200-399 10/6 2/2", ""},
		{"etp local ip", nil, local, stack.TargetTypeIP, "TCP traffic-port 15/5 3/3", ""},
		{"http named port", &v1beta1.TargetGroupProps{HealthCheckConfig: &v1beta1.HealthCheckConfiguration{HealthCheckProtocol: &httpProto, HealthCheckPort: ptrTo("admin")}}, cluster, stack.TargetTypeIP, "HTTP 9001 / 200-399 15/5 3/3", ""},
		{"bad port name", &v1beta1.TargetGroupProps{HealthCheckConfig: &v1beta1.HealthCheckConfiguration{HealthCheckPort: ptrTo("nope")}}, cluster, stack.TargetTypeIP, "", "healthCheckPort \"nope\""},
	} {
		hc, err := nlbHealthCheck(tc.props, tc.svc, tc.tt, false)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := string(hc.Protocol) + " " + hc.Port.String()
		if hc.Path != nil {
			got += " " + *hc.Path + " " + *hc.Matcher.HTTPCode
		}
		got += " " + itoa(*hc.IntervalSeconds) + "/" + itoa(*hc.TimeoutSeconds) + " " + itoa(*hc.HealthyThresholdCount) + "/" + itoa(*hc.UnhealthyThresholdCount)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := nlbHealthCheck(nil, &corev1.Service{Spec: corev1.ServiceSpec{ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal}}, stack.TargetTypeInstance, false); err == nil {
		t.Error("externalTrafficPolicy Local without a healthCheckNodePort must fail unless node ports are assumed")
	}
}

func TestPreservesClientIP(t *testing.T) {
	tg := func(p stack.Protocol, tt stack.TargetType, attrs ...stack.Attribute) *stack.TargetGroup {
		return &stack.TargetGroup{Spec: stack.TargetGroupSpec{Protocol: p, TargetType: tt, TargetGroupAttributes: attrs}}
	}
	off := stack.Attribute{Key: "preserve_client_ip.enabled", Value: "false"}
	on := stack.Attribute{Key: "preserve_client_ip.enabled", Value: "true"}
	for _, tc := range []struct {
		tg   *stack.TargetGroup
		want bool
	}{
		{tg(stack.ProtocolUDP, stack.TargetTypeIP, off), true},
		{tg(stack.ProtocolTCPUDP, stack.TargetTypeIP), true},
		{tg(stack.ProtocolTCP, stack.TargetTypeIP), false},
		{tg(stack.ProtocolTCP, stack.TargetTypeInstance), true},
		{tg(stack.ProtocolTCP, stack.TargetTypeInstance, off), false},
		{tg(stack.ProtocolTLS, stack.TargetTypeIP, on), true},
	} {
		if got := preservesClientIP(tc.tg); got != tc.want {
			t.Errorf("%+v: %v", tc.tg.Spec, got)
		}
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func intstrFromInt(n int32) intstr.IntOrString { return intstr.FromInt32(n) }
