package gateway

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/internal/translate"
)

// classInfo is a GatewayClass of elbow's controllers with its
// configuration.
type classInfo struct {
	class *gwv1.GatewayClass
	// flavor is the class's; nil for a ControllerAuto class, whose
	// Gateways choose theirs (autoFlavor).
	flavor *flavor
	lbc    *gwaws.LoadBalancerConfiguration
	// err says why the class is not accepted.
	err error
}

// classes decides the status of the GatewayClasses of elbow's controllers.
func (t *translator) classes() {
	t.classInfo = map[string]*classInfo{}
	for _, name := range t.x.classNames {
		c := t.x.classes[name]
		ref := translate.ObjectRef{Kind: "GatewayClass", Name: c.Name}
		f, ok := flavorOf(c.Spec.ControllerName)
		if !ok {
			t.note(translate.Note, ref, "not handled: controllerName %s is not %s, %s or %s", c.Spec.ControllerName, ControllerALB, ControllerNLB, ControllerAuto)
			continue
		}
		if f != nil && t.off[f] {
			t.note(translate.Note, ref, "not handled: elbow's %s Gateway controller is off (%s)", f.short, f.offWhy())
			continue
		}
		ci := &classInfo{class: c, flavor: f}
		ci.lbc, ci.err = t.classConfig(c)
		t.classInfo[name] = ci
		st := &GatewayClassStatus{Name: c.Name}
		if ci.err != nil {
			st.Status.Conditions = []metav1.Condition{cond(string(gwv1.GatewayClassConditionStatusAccepted), metav1.ConditionFalse,
				string(gwv1.GatewayClassReasonInvalidParameters), ci.err.Error(), c.Generation)}
			t.note(translate.Error, ref, "not accepted: %v", ci.err)
		} else {
			who := "elbow's Gateway controller (ALB or NLB Gateways by their listeners)"
			for _, fl := range []*flavor{albFlavor, nlbFlavor} {
				if t.off[fl] {
					who = fmt.Sprintf("elbow's Gateway controller (%s Gateways only: the %s Gateway controller is off, %s)", fl.other().short, fl.short, fl.offWhy())
				}
			}
			if f != nil {
				who = "elbow's " + f.short + " Gateway controller"
			}
			st.Status.Conditions = []metav1.Condition{cond(string(gwv1.GatewayClassConditionStatusAccepted), metav1.ConditionTrue,
				string(gwv1.GatewayClassReasonAccepted), "Accepted by "+who+".", c.Generation)}
		}
		feats := autoFeatures(t.off)
		if f != nil {
			feats = f.features
		}
		for _, feat := range feats {
			st.Status.SupportedFeatures = append(st.Status.SupportedFeatures, gwv1.SupportedFeature{Name: gwv1.FeatureName(feat)})
		}
		t.status.classes[c.Name] = st
	}
}

// classConfig resolves a GatewayClass's parametersRef.
func (t *translator) classConfig(c *gwv1.GatewayClass) (*gwaws.LoadBalancerConfiguration, error) {
	p := c.Spec.ParametersRef
	if p == nil {
		return nil, nil
	}
	if string(p.Group) != groupAWS || string(p.Kind) != kindLBC {
		return nil, fmt.Errorf("parametersRef %s/%s %s: want group %s, kind %s", p.Group, p.Kind, p.Name, groupAWS, kindLBC)
	}
	if p.Namespace == nil || *p.Namespace == "" {
		return nil, fmt.Errorf("parametersRef %s %s has no namespace: a GatewayClass's LoadBalancerConfiguration must name its namespace", kindLBC, p.Name)
	}
	lbc, ok := t.x.lbcs[key(string(*p.Namespace), p.Name)]
	if !ok {
		return nil, fmt.Errorf("parametersRef: %s %s/%s not found", kindLBC, *p.Namespace, p.Name)
	}
	if err := validateLBC(&lbc.Spec); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", kindLBC, lbc.Namespace, lbc.Name, err)
	}
	t.useLBC(lbc, false)
	return lbc, nil
}

// useLBC records that a LoadBalancerConfiguration is in use, for its status.
func (t *translator) useLBC(lbc *gwaws.LoadBalancerConfiguration, byGateway bool) {
	useConfig(t.status.lbcs, kindLBC, lbc, byGateway)
}

// useTGC records that a TargetGroupConfiguration is in use, for its status.
func (t *translator) useTGC(tgc *gwaws.TargetGroupConfiguration, byGateway bool) {
	useConfig(t.status.tgcs, kindTGC, tgc, byGateway)
}

// useConfig records in statuses the generation of a configuration in use,
// by a Gateway or by its GatewayClass.
func useConfig(statuses map[string]*ConfigurationStatus, kind string, obj metav1.Object, byGateway bool) {
	k := key(obj.GetNamespace(), obj.GetName())
	st := statuses[k]
	if st == nil {
		st = &ConfigurationStatus{Object: objRef(kind, obj)}
		statuses[k] = st
	}
	g := obj.GetGeneration()
	if byGateway {
		st.ObservedGatewayConfigurationGeneration = &g
	} else {
		st.ObservedGatewayClassConfigurationGeneration = &g
	}
}

// configStatus decides the status of the ListenerRuleConfigurations no
// route used (the others were decided when a rule used them).
func (t *translator) configStatus() {
	for _, k := range translate.SortedKeys(t.x.lrcs) {
		if _, done := t.status.lrcs[k]; done {
			continue
		}
		t.checkLRC(t.x.lrcs[k])
	}
}
