package gateway_test

import (
	"crypto/elliptic"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/stack"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// l4Service is a Service with one port of a protocol.
func l4Service(ns, name string, proto corev1.Protocol, port int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": name},
		Ports:    []corev1.ServicePort{{Name: "p", Protocol: proto, Port: port, TargetPort: intstr.FromInt32(port + 8000)}},
	}}
}

func backendRef(name string, port int32) gwv1.BackendRef {
	p := gwv1.PortNumber(port)
	return gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: &p}}
}

func parentRefs(names ...string) []gwv1.ParentReference {
	var out []gwv1.ParentReference
	for _, n := range names {
		out = append(out, gwv1.ParentReference{Name: gwv1.ObjectName(n)})
	}
	return out
}

// listeners returns "PROTOCOL:port" of a load balancer's listeners, with
// their certificate count when they have any.
func (e *env) listeners(lb *elbv2types.LoadBalancer) ([]string, error) {
	ls, err := e.elb.ELBv2.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls.Listeners {
		s := fmt.Sprintf("%s:%d", l.Protocol, aws.ToInt32(l.Port))
		if len(l.Certificates) > 0 {
			s += fmt.Sprintf(" certs=%d", len(l.Certificates))
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// accepted waits until a route has an Accepted parent entry of the
// controller for the Gateway.
func (e *env) accepted(route client.Object, status func() []gwv1.RouteParentStatus, controller gwv1.GatewayController, gw string) {
	e.t.Helper()
	e.eventually(func() error {
		if err := e.get(route); err != nil {
			return err
		}
		p := parent(status(), controller, gw)
		if p == nil {
			return fmt.Errorf("%s: parents %+v", route.GetName(), status())
		}
		if err := condition(p.Conditions, string(gwv1.RouteConditionAccepted), metav1.ConditionTrue, string(gwv1.RouteReasonAccepted)); err != nil {
			return err
		}
		return condition(p.Conditions, string(gwv1.RouteConditionResolvedRefs), metav1.ConditionTrue, string(gwv1.RouteReasonResolvedRefs))
	})
}

// TestNLBGatewayController runs the NLB Gateway controller (and the
// auto class's) on a real API server with the real deployer and a local
// ELB: a Gateway of TCP, UDP and TLS listeners with their routes, a
// TLS-terminating listener whose certificate comes from a Secret, an NLB
// Gateway in front of an ALB Gateway, and deletion.
func TestNLBGatewayController(t *testing.T) {
	e := start(t)
	nlb := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "nlb"}, Spec: gwv1.GatewayClassSpec{ControllerName: trgw.ControllerNLB}}
	auto := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "elbow"}, Spec: gwv1.GatewayClassSpec{ControllerName: trgw.ControllerAuto}}
	e.create(nlb, auto, ns("games"),
		l4Service("games", "db", corev1.ProtocolTCP, 5432), ipTargets("games", "db"),
		l4Service("games", "dns", corev1.ProtocolUDP, 53), ipTargets("games", "dns"),
		l4Service("games", "chat", corev1.ProtocolTCP, 6697), ipTargets("games", "chat"),
		service("games", "web"), ipTargets("games", "web"))

	t.Run("classes", func(t *testing.T) {
		e := e.in(t)
		for _, tc := range []struct {
			class *gwv1.GatewayClass
			want  []string
		}{
			{nlb, func() (out []string) {
				for _, f := range trgw.SupportedFeaturesNLB {
					out = append(out, string(f))
				}
				return out
			}()},
		} {
			e.eventually(func() error {
				if err := e.get(tc.class); err != nil {
					return err
				}
				if err := condition(tc.class.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted), metav1.ConditionTrue, string(gwv1.GatewayClassReasonAccepted)); err != nil {
					return err
				}
				var got []string
				for _, f := range tc.class.Status.SupportedFeatures {
					got = append(got, string(f.Name))
				}
				if !slices.Equal(got, tc.want) {
					return fmt.Errorf("%s supportedFeatures %v, want %v", tc.class.Name, got, tc.want)
				}
				return nil
			})
		}
		// The auto class claims both flavors' features.
		e.eventually(func() error {
			if err := e.get(auto); err != nil {
				return err
			}
			if err := condition(auto.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted), metav1.ConditionTrue, string(gwv1.GatewayClassReasonAccepted)); err != nil {
				return err
			}
			var got []string
			for _, f := range auto.Status.SupportedFeatures {
				got = append(got, string(f.Name))
			}
			for _, f := range []string{"HTTPRoute", "TCPRoute", "UDPRoute", "TLSRoute"} {
				if !slices.Contains(got, f) {
					return fmt.Errorf("auto class supportedFeatures %v lack %s", got, f)
				}
			}
			return nil
		})
	})

	games := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "games"}, Spec: gwv1.GatewaySpec{GatewayClassName: "nlb",
		Listeners: []gwv1.Listener{
			{Name: "db", Protocol: gwv1.TCPProtocolType, Port: 5432},
			{Name: "dns", Protocol: gwv1.UDPProtocolType, Port: 53},
			{Name: "tls", Protocol: gwv1.TLSProtocolType, Port: 8443, Hostname: ptr(gwv1.Hostname("db.example.com")),
				TLS: &gwv1.ListenerTLSConfig{Mode: ptr(gwv1.TLSModePassthrough)}},
		}}}
	tcp := &gwv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "db"}, Spec: gwv1.TCPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parentRefs("games")},
		Rules:           []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{backendRef("db", 5432)}}}}}
	udp := &gwv1.UDPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "dns"}, Spec: gwv1.UDPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parentRefs("games")},
		Rules:           []gwv1.UDPRouteRule{{BackendRefs: []gwv1.BackendRef{backendRef("dns", 53)}}}}}
	tls := &gwv1.TLSRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "db-tls"}, Spec: gwv1.TLSRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parentRefs("games")},
		Hostnames:       []gwv1.Hostname{"db.example.com"},
		Rules:           []gwv1.TLSRouteRule{{BackendRefs: []gwv1.BackendRef{backendRef("db", 5432)}}}}}
	t.Run("TCP, UDP and TLS passthrough", func(t *testing.T) {
		e := e.in(t)
		e.create(games, tcp, udp, tls)
		lb := e.programmed(games)
		if lb.Type != elbv2types.LoadBalancerTypeEnumNetwork {
			t.Errorf("load balancer type %s", lb.Type)
		}
		if !slices.Contains(games.Finalizers, trgw.FinalizerNLBGateway) {
			t.Errorf("finalizers %v", games.Finalizers)
		}
		e.accepted(tcp, func() []gwv1.RouteParentStatus { return tcp.Status.Parents }, trgw.ControllerNLB, "games")
		e.accepted(udp, func() []gwv1.RouteParentStatus { return udp.Status.Parents }, trgw.ControllerNLB, "games")
		e.accepted(tls, func() []gwv1.RouteParentStatus { return tls.Status.Parents }, trgw.ControllerNLB, "games")
		e.eventually(func() error {
			if err := e.get(games); err != nil {
				return err
			}
			for _, l := range games.Status.Listeners {
				if l.AttachedRoutes != 1 {
					return fmt.Errorf("listener %s: %d attached routes", l.Name, l.AttachedRoutes)
				}
				if err := condition(l.Conditions, string(gwv1.ListenerConditionProgrammed), metav1.ConditionTrue, ""); err != nil {
					return fmt.Errorf("listener %s: %v", l.Name, err)
				}
			}
			got, err := e.listeners(lb)
			if err != nil {
				return err
			}
			// TLS passthrough is a TCP listener: the NLB does not see TLS.
			if want := []string{"TCP:5432", "TCP:8443", "UDP:53"}; !slices.Equal(got, want) {
				return fmt.Errorf("listeners %v, want %v", got, want)
			}
			return nil
		})
		var tgbs elbv2api.TargetGroupBindingList
		if err := e.c.List(e.ctx, &tgbs, client.InNamespace("games"), client.MatchingLabels{stack.TagPrefixGatewayNLB + "/stack-name": "games"}); err != nil || len(tgbs.Items) != 3 {
			t.Fatalf("target group bindings %d, want 3 (%v)", len(tgbs.Items), err)
		}
	})

	t.Run("a backend Service goes and comes back", func(t *testing.T) {
		e := e.in(t)
		dns := l4Service("games", "dns", corev1.ProtocolUDP, 53)
		if err := e.c.Delete(e.ctx, dns); err != nil {
			t.Fatal(err)
		}
		e.eventually(func() error {
			if err := e.get(udp); err != nil {
				return err
			}
			p := parent(udp.Status.Parents, trgw.ControllerNLB, "games")
			if p == nil {
				return fmt.Errorf("parents %+v", udp.Status.Parents)
			}
			return condition(p.Conditions, string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound))
		})
		e.create(l4Service("games", "dns", corev1.ProtocolUDP, 53))
		e.accepted(udp, func() []gwv1.RouteParentStatus { return udp.Status.Parents }, trgw.ControllerNLB, "games")
	})

	t.Run("TLS terminated with a Secret's certificate", func(t *testing.T) {
		e := e.in(t)
		crt, key := ctrltest.SelfSigned(t, elliptic.P256(), "chat.example.com")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "chat-tls"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
		chat := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "chat"}, Spec: gwv1.GatewaySpec{GatewayClassName: "elbow",
			Listeners: []gwv1.Listener{{Name: "tls", Protocol: gwv1.TLSProtocolType, Port: 6697, Hostname: ptr(gwv1.Hostname("chat.example.com")),
				TLS: &gwv1.ListenerTLSConfig{Mode: ptr(gwv1.TLSModeTerminate), CertificateRefs: []gwv1.SecretObjectReference{{Name: "chat-tls"}}}}}}}
		route := &gwv1.TLSRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "chat"}, Spec: gwv1.TLSRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parentRefs("chat")},
			Hostnames:       []gwv1.Hostname{"chat.example.com"},
			Rules:           []gwv1.TLSRouteRule{{BackendRefs: []gwv1.BackendRef{backendRef("chat", 6697)}}}}}
		e.create(secret, chat, route)
		lb := e.programmed(chat)
		if lb.Type != elbv2types.LoadBalancerTypeEnumNetwork {
			t.Errorf("the auto class made a %s of a Gateway of TLS listeners", lb.Type)
		}
		// The route's entry names the class's controller.
		e.accepted(route, func() []gwv1.RouteParentStatus { return route.Status.Parents }, trgw.ControllerAuto, "chat")
		e.eventually(func() error {
			got, err := e.listeners(lb)
			if err != nil {
				return err
			}
			if want := []string{"TLS:6697 certs=1"}; !slices.Equal(got, want) {
				return fmt.Errorf("listeners %v, want %v", got, want)
			}
			return nil
		})
	})

	t.Run("an NLB in front of an ALB", func(t *testing.T) {
		e := e.in(t)
		front := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "front"}, Spec: gwv1.GatewaySpec{GatewayClassName: "elbow",
			Listeners: []gwv1.Listener{{Name: "tcp", Protocol: gwv1.TCPProtocolType, Port: 80}}}}
		gwGroup, gwKind := gwv1.Group(gwv1.GroupName), gwv1.Kind("Gateway")
		toALB := backendRef("site", 80)
		toALB.Group, toALB.Kind = &gwGroup, &gwKind
		chain := &gwv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "front"}, Spec: gwv1.TCPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: parentRefs("front")},
			Rules:           []gwv1.TCPRouteRule{{BackendRefs: []gwv1.BackendRef{toALB}}}}}
		// The NLB Gateway first: it waits for the ALB Gateway's load
		// balancer, then is programmed when the ALB Gateway's status says
		// which.
		e.create(front, chain)
		e.eventually(func() error {
			if err := e.get(chain); err != nil {
				return err
			}
			p := parent(chain.Status.Parents, trgw.ControllerAuto, "front")
			if p == nil {
				return fmt.Errorf("parents %+v", chain.Status.Parents)
			}
			return condition(p.Conditions, string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound))
		})
		site := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: "site"}, Spec: gwv1.GatewaySpec{GatewayClassName: "elbow",
			Listeners: []gwv1.Listener{httpListener()}}}
		e.create(site, route("games", "site", []string{"site"}, "web"))
		alb := e.programmed(site)
		if alb.Type != elbv2types.LoadBalancerTypeEnumApplication {
			t.Errorf("the auto class made a %s of a Gateway of HTTP listeners", alb.Type)
		}
		nlbLB := e.programmed(front)
		e.accepted(chain, func() []gwv1.RouteParentStatus { return chain.Status.Parents }, trgw.ControllerAuto, "front")
		e.eventually(func() error {
			tgs, err := e.elb.ELBv2.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: nlbLB.LoadBalancerArn})
			if err != nil {
				return err
			}
			if len(tgs.TargetGroups) != 1 || tgs.TargetGroups[0].TargetType != elbv2types.TargetTypeEnumAlb {
				return fmt.Errorf("target groups %+v, want one of type alb", tgs.TargetGroups)
			}
			th, err := e.elb.ELBv2.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgs.TargetGroups[0].TargetGroupArn})
			if err != nil {
				return err
			}
			if len(th.TargetHealthDescriptions) != 1 || aws.ToString(th.TargetHealthDescriptions[0].Target.Id) != aws.ToString(alb.LoadBalancerArn) {
				return fmt.Errorf("targets %+v, want the ALB %s", th.TargetHealthDescriptions, aws.ToString(alb.LoadBalancerArn))
			}
			return nil
		})
	})

	t.Run("deletion", func(t *testing.T) {
		e := e.in(t)
		for _, name := range []string{"games", "chat", "front", "site"} {
			if err := e.c.Delete(e.ctx, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "games", Name: name}}); err != nil {
				t.Fatal(err)
			}
		}
		e.eventually(func() error {
			var gws gwv1.GatewayList
			if err := e.c.List(e.ctx, &gws, client.InNamespace("games")); err != nil {
				return err
			}
			if len(gws.Items) != 0 {
				return fmt.Errorf("%d Gateways left", len(gws.Items))
			}
			lbs, err := e.elb.ELBv2.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
			if err != nil {
				return err
			}
			tgs, err := e.elb.ELBv2.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{})
			if err != nil {
				return err
			}
			if len(lbs.LoadBalancers)+len(tgs.TargetGroups) != 0 {
				return fmt.Errorf("%d load balancers, %d target groups left", len(lbs.LoadBalancers), len(tgs.TargetGroups))
			}
			return nil
		})
		// The routes lose our entries.
		e.eventually(func() error {
			if err := e.get(udp); err != nil {
				return err
			}
			if p := parent(udp.Status.Parents, trgw.ControllerNLB, "games"); p != nil {
				return fmt.Errorf("route of a deleted Gateway keeps our entry: %+v", p)
			}
			return nil
		})
		// A class no Gateway uses can go.
		if err := e.c.Delete(e.ctx, nlb); err != nil {
			t.Fatal(err)
		}
		e.eventually(func() error {
			if err := e.get(nlb); !apierrors.IsNotFound(err) {
				return fmt.Errorf("GatewayClass still there (%v)", err)
			}
			return nil
		})
	})
}

func ptr[T any](v T) *T { return &v }
