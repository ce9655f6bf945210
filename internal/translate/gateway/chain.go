package gateway

import (
	"fmt"
	"regexp"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/translate"
)

// albARNRE finds an ALB's ARN in a Gateway's Programmed condition
// message: the reference writes the bare ARN, elbow a sentence naming it.
var albARNRE = regexp.MustCompile(`arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/[A-Za-z0-9-]+/[0-9a-f]+`)

// ProgrammedALBARN returns the ARN of an ALB Gateway's load balancer from
// its status (the Programmed condition, True), or "".
func ProgrammedALBARN(gw *gwv1.Gateway) string {
	for _, c := range gw.Status.Conditions {
		if c.Type == string(gwv1.GatewayConditionProgrammed) && c.Status == metav1.ConditionTrue {
			return albARNRE.FindString(c.Message)
		}
	}
	return ""
}

// resolveGatewayBackend resolves a backendRef of kind Gateway ("gateway
// chaining"): an ALB Gateway of elbow's ALB controller that an NLB
// forwards to through a target group of target type alb, on one of the
// ALB's listener ports. The ALB's ARN comes from the Gateway's status, as
// the reference reads it.
func (t *translator) resolveGatewayBackend(r *route, be *backend, ns string, a *routeAnalysis) *backend {
	fail := func(reason, format string, args ...any) *backend {
		be.bad = &problem{reason: reason, msg: fmt.Sprintf(format, args...)}
		a.refs = append(a.refs, *be.bad)
		return be
	}
	ref := be.ref
	if ref.Port == nil {
		return fail(string(gwv1.RouteReasonUnsupportedValue), "backendRef %s: a Gateway backend needs the port of one of its listeners", be)
	}
	if ns != r.ref.Namespace && !t.x.granted(groupGateway, r.kind, r.ref.Namespace, groupGateway, kindGateway, ns, string(ref.Name)) {
		return fail(string(gwv1.RouteReasonRefNotPermitted), "backendRef %s: Gateway %s/%s is in another namespace and no ReferenceGrant there allows %s from %s to refer to it", be, ns, ref.Name, r.kind, r.ref.Namespace)
	}
	gw, ok := t.x.gatewayByKey[key(ns, string(ref.Name))]
	if !ok {
		return fail(string(gwv1.RouteReasonBackendNotFound), "backendRef %s: Gateway %s/%s not found", be, ns, ref.Name)
	}
	if ci := t.classInfo[string(gw.Spec.GatewayClassName)]; ci == nil || (ci.flavor != albFlavor && (ci.flavor != nil || autoFlavor(gw, t.off) != albFlavor)) {
		return fail(string(gwv1.RouteReasonInvalidKind), "backendRef %s: Gateway %s/%s is not an ALB Gateway of elbow's controllers; an NLB forwards to Application Load Balancers only (target type alb)", be, ns, ref.Name)
	}
	port := int32(*ref.Port)
	found := false
	for _, l := range gw.Spec.Listeners {
		if int32(l.Port) == port && (l.Protocol == gwv1.HTTPProtocolType || l.Protocol == gwv1.HTTPSProtocolType) {
			found = true
		}
	}
	if !found {
		return fail(string(gwv1.RouteReasonUnsupportedValue), "backendRef %s: Gateway %s/%s has no HTTP or HTTPS listener on port %d; an alb target group's port is one of the ALB's listener ports", be, ns, ref.Name, port)
	}
	be.gateway = gw
	be.albARN = ProgrammedALBARN(gw)
	if be.albARN != "" {
		return be
	}
	if !t.opts.AssumeMissingReferences {
		return fail(string(gwv1.RouteReasonBackendNotFound), "backendRef %s: Gateway %s/%s has no load balancer yet (its Programmed condition names none)", be, ns, ref.Name)
	}
	be.albARN = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s", t.cloud.Region(), t.cloud.Account(),
		translate.Trunc("k8s-"+translate.Sanitize(ns)+"-"+translate.Sanitize(string(ref.Name)), 32), translate.Trunc(translate.Hash(ns, string(ref.Name)), 16))
	t.note(translate.Warning, r.ref, "ASSUMED Gateway %s/%s's load balancer (backendRef %s): it has no Programmed condition naming one yet; taken as %s", ns, ref.Name, be, be.albARN)
	return be
}
