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
// one its finalizer names (a load balancer keeps its type), else an ALB
// when a listener of its own is HTTP or HTTPS, else an NLB when one is TCP,
// UDP or TLS, else an ALB.
func autoFlavor(gw *gwv1.Gateway) *flavor {
	for _, f := range []*flavor{albFlavor, nlbFlavor} {
		if translate.HasFinalizer(gw, f.finalizer) {
			return f
		}
	}
	for _, f := range []*flavor{albFlavor, nlbFlavor} {
		for _, l := range gw.Spec.Listeners {
			if _, ok := f.kinds[l.Protocol]; ok {
				return f
			}
		}
	}
	return albFlavor
}

// autoFeatures are the features of a ControllerAuto class: those of both
// flavors.
func autoFeatures() []features.FeatureName {
	set := map[features.FeatureName]bool{}
	for _, f := range append(append([]features.FeatureName(nil), SupportedFeatures...), SupportedFeaturesNLB...) {
		set[f] = true
	}
	out := make([]features.FeatureName, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (f *flavor) nlb() bool { return f.lbType == stack.LoadBalancerTypeNetwork }
