package gateway

import (
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/elbowlb/elbow/internal/stack"
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

// flavorOf returns the flavor of a controllerName, nil when it is not one
// of elbow's.
func flavorOf(c gwv1.GatewayController) *flavor {
	switch c {
	case ControllerALB:
		return albFlavor
	case ControllerNLB:
		return nlbFlavor
	}
	return nil
}

func (f *flavor) nlb() bool { return f.lbType == stack.LoadBalancerTypeNetwork }
