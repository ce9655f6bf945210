package gateway

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/translate"
)

// listener is a listener of a Gateway, its own or from an attached
// ListenerSet, with what validation decided of it.
type listener struct {
	name     gwv1.SectionName
	hostname string
	port     int32
	protocol gwv1.ProtocolType
	tls      *gwv1.ListenerTLSConfig
	allowed  *gwv1.AllowedRoutes
	// owner is the Gateway or ListenerSet that declares the listener.
	owner    translate.ObjectRef
	ownerGen int64
	ls       *gwv1.ListenerSet

	kinds []gwv1.RouteGroupKind

	accepted                bool
	acceptedReason, accMsg  string
	conflicted              bool
	conflictReason, confMsg string
	refsOK                  bool
	refsReason, refsMsg     string
	// certs are the listener's valid certificateRefs, imported into ACM.
	certs []*secretCert
	// unprogrammable says why the listener cannot be programmed, even if
	// accepted (no usable certificate, say); set while building.
	unprogrammable string
	// attached holds the keys of the routes attached to the listener.
	attached map[string]bool
}

func (l *listener) String() string {
	return fmt.Sprintf("listener %s of %s", l.name, l.owner)
}

// usable reports whether routes attached to the listener are programmed.
func (l *listener) usable() bool { return l.accepted && !l.conflicted && l.unprogrammable == "" }

// gatewayListeners returns a Gateway's own listeners.
func gatewayListeners(gw *gwv1.Gateway) []*listener {
	var out []*listener
	for _, l := range gw.Spec.Listeners {
		out = append(out, &listener{name: l.Name, hostname: hostString(l.Hostname), port: int32(l.Port), protocol: l.Protocol,
			tls: l.TLS, allowed: l.AllowedRoutes, owner: objRef(kindGateway, gw), ownerGen: gw.Generation, attached: map[string]bool{}})
	}
	return out
}

// listenerSetListeners returns the listeners of a ListenerSet.
func listenerSetListeners(ls *gwv1.ListenerSet) []*listener {
	var out []*listener
	for _, l := range ls.Spec.Listeners {
		out = append(out, &listener{name: l.Name, hostname: hostString(l.Hostname), port: int32(l.Port), protocol: l.Protocol,
			tls: l.TLS, allowed: l.AllowedRoutes, owner: objRef(kindLS, ls), ownerGen: ls.Generation, ls: ls, attached: map[string]bool{}})
	}
	return out
}

func hostString(h *gwv1.Hostname) string {
	if h == nil {
		return ""
	}
	return string(*h)
}

// validateListeners decides each listener's Accepted, ResolvedRefs and
// Conflicted conditions. Listeners come in precedence order (the
// Gateway's, then each ListenerSet's, oldest first): on a conflict the
// earlier listener keeps the port and the later one is conflicted.
func (b *gwBuilder) validateListeners(ls []*listener) {
	f := b.flavor
	for _, l := range ls {
		l.accepted, l.acceptedReason, l.accMsg = true, string(gwv1.ListenerReasonAccepted), "Listener is accepted."
		l.refsOK, l.refsReason, l.refsMsg = true, string(gwv1.ListenerReasonResolvedRefs), "All references are resolved."
		kinds, ok := f.kinds[l.protocol]
		if !ok {
			l.accepted, l.acceptedReason = false, string(gwv1.ListenerReasonUnsupportedProtocol)
			l.accMsg = unsupportedProtocolMessage(f, l.protocol)
			if b.class.flavor == nil && b.t.off[f.other()] {
				l.accMsg = fmt.Sprintf("Protocol %s needs an %s, and elbow's %s Gateway controller is off (%s).", l.protocol, f.other().short, f.other().short, f.other().offWhy())
			} else if b.class.flavor == nil {
				l.accMsg = fmt.Sprintf("Protocol %s cannot join this Gateway, which is an %s (class controller %s chooses by the listeners, HTTP and HTTPS making an ALB, TCP, UDP and TLS an NLB, and a load balancer keeps its type): put %s listeners on a Gateway of their own.", l.protocol, f.short, ControllerAuto, l.protocol)
			}
			l.kinds = []gwv1.RouteGroupKind{}
			continue
		}
		b.listenerKinds(l, kinds)
		if f.nlb() {
			b.checkNLBListener(l)
		} else {
			b.checkALBListener(l)
		}
	}
	if f.nlb() {
		nlbConflicts(ls)
		return
	}
	protoByPort := map[int32]gwv1.ProtocolType{}
	for _, l := range ls {
		// A port taken with another protocol conflicts whatever the
		// listener's own protocol (an unsupported one included): the
		// conflict is what the spec reports.
		if p, ok := protoByPort[l.port]; ok && p != l.protocol {
			l.conflicted, l.conflictReason = true, string(gwv1.ListenerReasonProtocolConflict)
			l.confMsg = fmt.Sprintf("Port %d is already used with protocol %s by an earlier listener; an ALB listener has one protocol.", l.port, p)
			continue
		}
		if !l.accepted {
			continue
		}
		protoByPort[l.port] = l.protocol
	}
	hostnameConflicts(ls, func(l *listener) string { return fmt.Sprintf("%d/%s", l.port, l.hostname) })
}

// hostnameConflicts marks conflicted, with reason HostnameConflict, the
// accepted listeners whose key an earlier listener already has.
func hostnameConflicts(ls []*listener, key func(*listener) string) {
	seen := map[string]*listener{}
	for _, l := range ls {
		if !l.accepted || l.conflicted {
			continue
		}
		k := key(l)
		if prev, ok := seen[k]; ok {
			l.conflicted, l.conflictReason = true, string(gwv1.ListenerReasonHostnameConflict)
			h := l.hostname
			if h == "" {
				h = "(any)"
			}
			l.confMsg = fmt.Sprintf("Port %d with hostname %s is already used by %s.", l.port, h, prev)
			continue
		}
		seen[k] = l
	}
}

// unsupportedProtocolMessage says which controller serves a protocol.
func unsupportedProtocolMessage(f *flavor, p gwv1.ProtocolType) string {
	if f.nlb() {
		return fmt.Sprintf("Protocol %s is not supported by Network Load Balancer Gateways (class controller %s serves TCP, UDP and TLS; HTTP and HTTPS listeners are for %s classes).", p, ControllerNLB, ControllerALB)
	}
	return fmt.Sprintf("Protocol %s is not supported by Application Load Balancer Gateways (class controller %s serves HTTP and HTTPS; TCP, UDP and TLS listeners are for %s classes).", p, ControllerALB, ControllerNLB)
}

// checkALBListener checks what an ALB listener of a protocol needs.
func (b *gwBuilder) checkALBListener(l *listener) {
	switch l.protocol {
	case gwv1.HTTPSProtocolType:
		if b.gw.Spec.TLS != nil && b.gw.Spec.TLS.Frontend != nil {
			l.accepted, l.acceptedReason = false, string(gwv1.ListenerReasonUnsupportedValue)
			l.accMsg = "spec.tls.frontend (client certificate validation against CA certificates from ConfigMaps) is not supported: ALB verifies client certificates against an ELB trust store; set mutualAuthentication on the listener in a LoadBalancerConfiguration listenerConfiguration."
			return
		}
		b.listenerCertificates(l)
	case gwv1.HTTPProtocolType:
		if l.tls != nil {
			l.accepted, l.acceptedReason, l.accMsg = false, string(gwv1.ListenerReasonUnsupportedValue), "tls is not allowed on an HTTP listener."
		}
	}
}

// listenerKinds decides the route kinds a listener supports.
func (b *gwBuilder) listenerKinds(l *listener, allowed []string) {
	l.kinds = []gwv1.RouteGroupKind{}
	group := gwv1.Group(groupGateway)
	if l.allowed == nil || len(l.allowed.Kinds) == 0 {
		for _, k := range allowed {
			l.kinds = append(l.kinds, gwv1.RouteGroupKind{Group: ptrTo(group), Kind: gwv1.Kind(k)})
		}
		return
	}
	var bad []string
	for _, k := range l.allowed.Kinds {
		g := groupGateway
		if k.Group != nil {
			g = string(*k.Group)
		}
		ok := false
		if g == groupGateway {
			for _, a := range allowed {
				if string(k.Kind) == a {
					ok = true
				}
			}
		}
		if ok {
			l.kinds = append(l.kinds, gwv1.RouteGroupKind{Group: ptrTo(group), Kind: k.Kind})
			continue
		}
		why := fmt.Sprintf("%s/%s", g, k.Kind)
		if g == groupGateway && string(k.Kind) == kindGRPCRoute && l.protocol == gwv1.HTTPProtocolType {
			why += " (ALB serves gRPC on HTTPS listeners only)"
		}
		bad = append(bad, why)
	}
	if len(bad) > 0 {
		l.refsOK, l.refsReason = false, string(gwv1.ListenerReasonInvalidRouteKinds)
		l.refsMsg = fmt.Sprintf("Route kinds %s are not supported by %s listeners of %ss; supported: %s.",
			strings.Join(bad, ", "), l.protocol, b.flavor.name, strings.Join(allowed, ", "))
	}
}

// listenerStatus renders a listener's conditions; programmed says whether
// it is waiting for the load balancer (Unknown, Pending) or not
// programmable (False, Invalid).
func (l *listener) conditions() []metav1.Condition {
	g := l.ownerGen
	if l.conflicted && l.ls != nil {
		// A ListenerSet's conflicted listener is not accepted, and says
		// why in each condition (the ListenerSet conformance tests).
		return []metav1.Condition{
			cond(string(gwv1.ListenerConditionAccepted), metav1.ConditionFalse, l.conflictReason, l.confMsg, g),
			cond(string(gwv1.ListenerConditionConflicted), metav1.ConditionTrue, l.conflictReason, l.confMsg, g),
			cond(string(gwv1.ListenerConditionResolvedRefs), condBool(l.refsOK), l.refsReason, l.refsMsg, g),
			cond(string(gwv1.ListenerConditionProgrammed), metav1.ConditionFalse, l.conflictReason, "The listener is conflicted.", g),
		}
	}
	cs := []metav1.Condition{
		cond(string(gwv1.ListenerConditionAccepted), condBool(l.accepted), l.acceptedReason, l.accMsg, g),
	}
	if l.conflicted {
		cs = append(cs, cond(string(gwv1.ListenerConditionConflicted), metav1.ConditionTrue, l.conflictReason, l.confMsg, g))
	} else {
		cs = append(cs, cond(string(gwv1.ListenerConditionConflicted), metav1.ConditionFalse, string(gwv1.ListenerReasonNoConflicts), "No conflicts.", g))
	}
	cs = append(cs, cond(string(gwv1.ListenerConditionResolvedRefs), condBool(l.refsOK), l.refsReason, l.refsMsg, g))
	switch {
	case !l.accepted:
		cs = append(cs, cond(string(gwv1.ListenerConditionProgrammed), metav1.ConditionFalse, string(gwv1.ListenerReasonInvalid), "The listener is not accepted.", g))
	case l.conflicted:
		cs = append(cs, cond(string(gwv1.ListenerConditionProgrammed), metav1.ConditionFalse, string(gwv1.ListenerReasonInvalid), "The listener is conflicted.", g))
	case l.unprogrammable != "":
		cs = append(cs, cond(string(gwv1.ListenerConditionProgrammed), metav1.ConditionFalse, string(gwv1.ListenerReasonInvalid), l.unprogrammable, g))
	default:
		cs = append(cs, cond(string(gwv1.ListenerConditionProgrammed), metav1.ConditionUnknown, string(gwv1.ListenerReasonPending), "Waiting for the load balancer.", g))
	}
	return cs
}

// diagnose reports a listener's problems as diagnostics.
func (l *listener) diagnose(tr *translate.Trace) {
	switch {
	case !l.accepted:
		tr.Add(translate.Error, l.owner, "listener %s (%s:%d) not accepted: %s", l.name, l.protocol, l.port, l.accMsg)
		return
	case l.conflicted:
		tr.Add(translate.Error, l.owner, "listener %s (%s:%d) conflicted: %s", l.name, l.protocol, l.port, l.confMsg)
		return
	}
	if !l.refsOK && l.unprogrammable == "" {
		tr.Add(translate.Error, l.owner, "listener %s (%s:%d): %s", l.name, l.protocol, l.port, l.refsMsg)
	}
	if l.unprogrammable != "" {
		tr.Add(translate.Error, l.owner, "listener %s (%s:%d) not programmed: %s", l.name, l.protocol, l.port, l.unprogrammable)
	}
}
