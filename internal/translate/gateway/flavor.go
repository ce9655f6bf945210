package gateway

import (
	"sort"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// flavor is what differs between the Gateways of the two controllers: the
// load balancer they become, their finalizer and tag prefix, the listener
// protocols and route kinds they serve, the features their GatewayClasses
// claim.
type flavor struct {
	lbType     stack.LoadBalancerType
	controller gwv1.GatewayController
	finalizer  string
	tagPrefix  string
	// name is the load balancer's name for people, short its initials.
	name, short string
	// kinds are the route kinds a listener serves, by protocol; a protocol
	// missing here is not supported.
	kinds    map[gwv1.ProtocolType][]string
	features []features.FeatureName
}

// The two flavors.
var (
	albFlavor = &flavor{
		lbType: stack.LoadBalancerTypeApplication, controller: ControllerALB,
		finalizer: FinalizerALBGateway, tagPrefix: stack.TagPrefixGatewayALB, name: "Application Load Balancer", short: "ALB",
		// gRPC needs HTTP/2 from the client, which ALBs speak on HTTPS
		// listeners only.
		kinds: map[gwv1.ProtocolType][]string{
			gwv1.HTTPProtocolType:  {kindHTTPRoute},
			gwv1.HTTPSProtocolType: {kindHTTPRoute, kindGRPCRoute},
		},
		features: SupportedFeatures,
	}
	nlbFlavor = &flavor{
		lbType: stack.LoadBalancerTypeNetwork, controller: ControllerNLB,
		finalizer: FinalizerNLBGateway, tagPrefix: stack.TagPrefixGatewayNLB, name: "Network Load Balancer", short: "NLB",
		kinds: map[gwv1.ProtocolType][]string{
			gwv1.TCPProtocolType: {kindTCPRoute},
			gwv1.UDPProtocolType: {kindUDPRoute},
			gwv1.TLSProtocolType: {kindTLSRoute},
		},
		features: SupportedFeaturesNLB,
	}
)

// flavorOf returns the flavor of a controllerName (nil for ControllerAuto,
// whose Gateways choose theirs); ok is false when the controllerName is
// not one of elbow's.
func flavorOf(c gwv1.GatewayController) (f *flavor, ok bool) {
	switch c {
	case ControllerALB:
		return albFlavor, true
	case ControllerNLB:
		return nlbFlavor, true
	case ControllerAuto:
		return nil, true
	}
	return nil, false
}

// autoFlavor is the flavor of a Gateway of a ControllerAuto class: the
// one its finalizer names (a load balancer keeps its type, even when its
// controller is off), else an ALB when a listener of its own is HTTP or
// HTTPS, else an NLB when one is TCP, UDP or TLS, else an ALB; a flavor
// whose controller is off is not chosen by the listeners.
func autoFlavor(gw *gwv1.Gateway, off map[*flavor]bool) *flavor {
	for _, f := range []*flavor{albFlavor, nlbFlavor} {
		if translate.HasFinalizer(gw, f.finalizer) {
			return f
		}
	}
	for _, f := range []*flavor{albFlavor, nlbFlavor} {
		if off[f] {
			continue
		}
		for _, l := range gw.Spec.Listeners {
			if _, ok := f.kinds[l.Protocol]; ok {
				return f
			}
		}
	}
	if off[albFlavor] {
		return nlbFlavor
	}
	return albFlavor
}

// autoFeatures are the features of a ControllerAuto class: those of the
// flavors whose controller runs.
func autoFeatures(off map[*flavor]bool) []features.FeatureName {
	set := map[features.FeatureName]bool{}
	for _, fl := range []*flavor{albFlavor, nlbFlavor} {
		if off[fl] {
			continue
		}
		for _, f := range fl.features {
			set[f] = true
		}
	}
	out := make([]features.FeatureName, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// offFlavors maps the flavors of the controllerNames in off.
func offFlavors(off []gwv1.GatewayController) map[*flavor]bool {
	out := map[*flavor]bool{}
	for _, c := range off {
		if f, _ := flavorOf(c); f != nil {
			out[f] = true
		}
	}
	return out
}

// other is the other flavor.
func (f *flavor) other() *flavor {
	if f == albFlavor {
		return nlbFlavor
	}
	return albFlavor
}

// offWhy says why a flavor's controller can be off.
func (f *flavor) offWhy() string {
	if f.nlb() {
		return "the API server does not serve TCPRoute, UDPRoute and TLSRoute v1 (CRDs of an older Gateway API release), or --feature-gates NLBGatewayAPI=false"
	}
	return "the API server does not serve HTTPRoute and GRPCRoute v1, or --feature-gates ALBGatewayAPI=false"
}

func (f *flavor) nlb() bool { return f.lbType == stack.LoadBalancerTypeNetwork }
