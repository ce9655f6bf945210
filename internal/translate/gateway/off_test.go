package gateway_test

import (
	"strings"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/translate/gateway"
	"github.com/elbowlb/elbow/internal/translate/plan/golden"
)

// TestControllerOff translates auto-class with the NLB controller off (its
// route kinds not served): the auto class claims the ALB's features only,
// a Gateway of TCP listeners becomes an ALB that refuses them, and the
// Gateway whose finalizer says it is an NLB is left alone; an NLB class's
// Gateways are not handled at all.
func TestControllerOff(t *testing.T) {
	c, err := golden.Load("testdata/auto-class.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Objects
	nlbClass := gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "nlb"}, Spec: gwv1.GatewayClassSpec{ControllerName: gateway.ControllerNLB}}
	nlbGW := gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "plain-nlb", Namespace: "app", Finalizers: []string{gateway.FinalizerNLBGateway}},
		Spec: gwv1.GatewaySpec{GatewayClassName: "nlb", Listeners: []gwv1.Listener{{Name: "tcp", Protocol: gwv1.TCPProtocolType, Port: 9000}}}}
	objs := o.Objects
	objs.GatewayClasses = append(objs.GatewayClasses, nlbClass)
	objs.Gateways = append(objs.Gateways, nlbGW)
	in := gateway.Input{Objects: objs, Services: o.Services, Secrets: o.Secrets, Namespaces: o.Namespaces, Facts: c.Facts, Options: c.Options}

	all := gateway.Build(in)
	in.Off = []gwv1.GatewayController{gateway.ControllerNLB}
	res := gateway.Build(in)

	gws := map[string]gateway.Gateway{}
	for _, g := range res.Gateways {
		gws[g.Gateway.Name] = g
	}
	if _, ok := gws["plain-nlb"]; ok {
		t.Error("a Gateway of an NLB class is translated (a deletion, by its finalizer) while the NLB controller is off")
	}
	if g := gws["was-nlb"]; g.Stack != nil || g.Err == nil || !strings.Contains(g.Err.Error(), "NLB Gateway controller is off") {
		t.Errorf("was-nlb (an NLB by its finalizer): stack %v, error %v; want no stack and an error saying the NLB controller is off", g.Stack != nil, g.Err)
	}
	if g := gws["l4"]; g.Finalizer != gateway.FinalizerALBGateway || g.Stack != nil {
		t.Errorf("l4 (TCP listeners only): finalizer %s, stack %v; want an ALB that is not built", g.Finalizer, g.Stack != nil)
	}
	found := false
	for _, st := range res.Status.Gateways {
		if st.Gateway.Name != "l4" {
			continue
		}
		found = true
		if c := apimeta.FindStatusCondition(st.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionFalse {
			t.Errorf("l4 Accepted: %+v", c)
		}
		if len(st.Status.Listeners) != 1 || !strings.Contains(st.Status.Listeners[0].Conditions[0].Message+st.Status.Listeners[0].Conditions[1].Message, "NLB Gateway controller is off") {
			t.Errorf("l4 listeners: %+v; want the TCP listener refused, saying the NLB controller is off", st.Status.Listeners)
		}
	}
	if !found {
		t.Error("l4 has no status")
	}
	feats := func(r gateway.Result, class string) int {
		for _, c := range r.Status.GatewayClasses {
			if c.Name == class {
				return len(c.Status.SupportedFeatures)
			}
		}
		return -1
	}
	if feats(res, "nlb") != -1 {
		t.Error("the NLB class has a status while the NLB controller is off")
	}
	if n, m := feats(res, "elbow"), feats(all, "elbow"); n != len(gateway.SupportedFeatures) || m <= n {
		t.Errorf("auto class features: %d with the NLB controller off, %d with both; want the ALB's %d, then more", n, m, len(gateway.SupportedFeatures))
	}
}
