package gateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/elbowlb/elbow/internal/translate"
)

// SupportedFeatures are the Gateway API conformance features elbow's ALB
// GatewayClass claims in status.supportedFeatures: those whose behaviour the
// translation produces with API calls AWS accepts, doing on AWS what the
// conformance tests check. docs/gateway.md lists the others with the AWS
// limit that rules them out.
var SupportedFeatures = []features.FeatureName{
	features.SupportGateway,
	features.SupportGatewayAddressEmpty,
	features.SupportGatewayHTTPListenerIsolation,
	features.SupportGatewayPort8080,
	features.SupportHTTPRoute,
	features.SupportHTTPRouteBackendProtocolWebSocket,
	features.SupportHTTPRouteDestinationPortMatching,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportListenerSet,
	features.SupportReferenceGrant,
}

// SupportedFeaturesNLB are the conformance features elbow's NLB
// GatewayClass claims: TCPRoute, UDPRoute and TLSRoute with TLS
// termination on the load balancer. Not TLSRouteModeMixed: an NLB listener
// cannot tell passthrough connections from terminated ones on one port.
var SupportedFeaturesNLB = []features.FeatureName{
	features.SupportGateway,
	features.SupportGatewayAddressEmpty,
	features.SupportReferenceGrant,
	features.SupportTCPRoute,
	features.SupportTLSRoute,
	features.SupportTLSRouteModeTerminate,
	features.SupportUDPRoute,
}

// SupportedBundleVersion is the Gateway API release whose CRDs the
// translation is written for (the sigs.k8s.io/gateway-api module elbow
// builds with); see SupportedVersionCondition.
const SupportedBundleVersion = "v1.6"

// Status is the status of every object the translation read, for the
// controller to write. Conditions carry the object's generation as
// ObservedGeneration and no LastTransitionTime: the controller sets them
// with meta.SetStatusCondition, which keeps the transition time of a
// condition whose status did not change.
type Status struct {
	GatewayClasses             []GatewayClassStatus              `json:"gatewayClasses,omitempty"`
	Gateways                   []GatewayStatus                   `json:"gateways,omitempty"`
	ListenerSets               []ListenerSetStatus               `json:"listenerSets,omitempty"`
	Routes                     []RouteStatus                     `json:"routes,omitempty"`
	ListenerRuleConfigurations []ListenerRuleConfigurationStatus `json:"listenerRuleConfigurations,omitempty"`
	LoadBalancerConfigurations []ConfigurationStatus             `json:"loadBalancerConfigurations,omitempty"`
	TargetGroupConfigurations  []ConfigurationStatus             `json:"targetGroupConfigurations,omitempty"`
}

// Empty reports whether there is no status to write.
func (s Status) Empty() bool {
	return len(s.GatewayClasses)+len(s.Gateways)+len(s.ListenerSets)+len(s.Routes)+
		len(s.ListenerRuleConfigurations)+len(s.LoadBalancerConfigurations)+len(s.TargetGroupConfigurations) == 0
}

// GatewayClassStatus is the status of a GatewayClass of elbow's controllers:
// Accepted and the supported features. The controller adds the
// SupportedVersion condition (SupportedVersionCondition), which depends on
// the installed CRDs.
type GatewayClassStatus struct {
	Name   string                  `json:"name"`
	Status gwv1.GatewayClassStatus `json:"status"`
}

// GatewayStatus is the status of a Gateway as translation decides it:
// Accepted and ResolvedRefs, each listener's Accepted, Conflicted and
// ResolvedRefs and attachedRoutes, and attachedListenerSets. Programmed
// (of the Gateway and of the listeners that translation could program) is
// Unknown with reason Pending until Deployed decides it.
type GatewayStatus struct {
	Gateway translate.ObjectRef `json:"gateway"`
	Status  gwv1.GatewayStatus  `json:"status"`
}

// ListenerSetStatus is the status of a ListenerSet attached (or asking to
// be attached) to a Gateway of the ALB controller. Like GatewayStatus, its
// Programmed conditions are Pending until DeployedListenerSet decides them.
type ListenerSetStatus struct {
	ListenerSet translate.ObjectRef    `json:"listenerSet"`
	Gateway     translate.ObjectRef    `json:"gateway"`
	Status      gwv1.ListenerSetStatus `json:"status"`
}

// RouteStatus is the status of one route for the parents that are
// Gateways (or ListenerSets) of the ALB controller: one entry per
// parentRef, in the order of spec.parentRefs. The controller keeps the
// entries of other controllers (MergeParents).
type RouteStatus struct {
	Route   translate.ObjectRef      `json:"route"`
	Parents []gwv1.RouteParentStatus `json:"parents"`
}

// ListenerRuleConfigurationStatus is the status of a
// ListenerRuleConfiguration: accepted, and why not.
type ListenerRuleConfigurationStatus struct {
	Object             translate.ObjectRef `json:"object"`
	ObservedGeneration int64               `json:"observedGeneration"`
	Accepted           bool                `json:"accepted"`
	Message            string              `json:"message"`
}

// ConfigurationStatus is the status of a LoadBalancerConfiguration or a
// TargetGroupConfiguration: the generation last used through a Gateway
// and through a GatewayClass (nil: not used that way).
type ConfigurationStatus struct {
	Object                                      translate.ObjectRef `json:"object"`
	ObservedGatewayConfigurationGeneration      *int64              `json:"observedGatewayConfigurationGeneration,omitempty"`
	ObservedGatewayClassConfigurationGeneration *int64              `json:"observedGatewayClassConfigurationGeneration,omitempty"`
}

// Deployment is what the controller learned deploying a Gateway's stack.
type Deployment struct {
	// LoadBalancerARN and DNSName are the load balancer's, empty when it
	// does not exist (a dry run, or a failed first deploy).
	LoadBalancerARN string
	DNSName         string
	// State is the load balancer's provisioning state code: active,
	// active_impaired, provisioning or failed; empty when unknown.
	State string
	// StaticAddresses are the addresses an NLB was given in its subnets
	// (Elastic IPs, private IPv4 allocations), in zone order; they follow
	// the DNS name in status.addresses.
	StaticAddresses []string
	// DryRun says the stack was not deployed on purpose.
	DryRun bool
	// Err is the deploy error.
	Err error
}

// Deployed returns the Gateway's status once its stack is deployed: the
// Programmed conditions translation left Unknown (Pending) decided from d,
// the Gateway's and its listeners' (those translation set False stay so),
// and the load balancer's DNS name as a Hostname address, followed by its
// static addresses as IPAddress ones.
func (s GatewayStatus) Deployed(d Deployment) gwv1.GatewayStatus {
	out := *s.Status.DeepCopy()
	gen := observedGeneration(out.Conditions)
	programmed, reason, msg := deployedProgrammed(d)
	accepted := conditionTrue(out.Conditions, string(gwv1.GatewayConditionAccepted))
	switch c := findCondition(out.Conditions, string(gwv1.GatewayConditionProgrammed)); {
	case !accepted:
		setCondition(&out.Conditions, cond(string(gwv1.GatewayConditionProgrammed), metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), "The Gateway is not accepted.", gen))
	case c == nil || c.Status == metav1.ConditionUnknown:
		setCondition(&out.Conditions, cond(string(gwv1.GatewayConditionProgrammed), programmed, reason, msg, gen))
	}
	for i := range out.Listeners {
		l := &out.Listeners[i]
		if c := findCondition(l.Conditions, string(gwv1.ListenerConditionProgrammed)); c != nil && c.Status == metav1.ConditionUnknown {
			setCondition(&l.Conditions, cond(string(gwv1.ListenerConditionProgrammed), programmed, reason, msg, c.ObservedGeneration))
		}
	}
	if d.DNSName != "" && accepted {
		t := gwv1.HostnameAddressType
		out.Addresses = []gwv1.GatewayStatusAddress{{Type: &t, Value: strings.ToLower(d.DNSName)}}
		for _, a := range d.StaticAddresses {
			ip := gwv1.IPAddressType
			out.Addresses = append(out.Addresses, gwv1.GatewayStatusAddress{Type: &ip, Value: a})
		}
	}
	return out
}

// DeployedListenerSet is Deployed for a ListenerSet of the Gateway.
func (s ListenerSetStatus) DeployedListenerSet(d Deployment) gwv1.ListenerSetStatus {
	out := *s.Status.DeepCopy()
	programmed, reason, msg := deployedProgrammed(d)
	if c := findCondition(out.Conditions, string(gwv1.ListenerSetConditionProgrammed)); c != nil && c.Status == metav1.ConditionUnknown {
		setCondition(&out.Conditions, cond(string(gwv1.ListenerSetConditionProgrammed), programmed, reason, msg, c.ObservedGeneration))
	}
	for i := range out.Listeners {
		l := &out.Listeners[i]
		if c := findCondition(l.Conditions, string(gwv1.ListenerEntryConditionProgrammed)); c != nil && c.Status == metav1.ConditionUnknown {
			setCondition(&l.Conditions, cond(string(gwv1.ListenerEntryConditionProgrammed), programmed, reason, msg, c.ObservedGeneration))
		}
	}
	return out
}

func deployedProgrammed(d Deployment) (metav1.ConditionStatus, string, string) {
	pending := string(gwv1.GatewayReasonPending)
	switch {
	case d.DryRun:
		return metav1.ConditionFalse, pending, "Dry run (annotation " + AnnotationDryRun + "): the load balancer is planned, not deployed."
	case d.Err != nil:
		return metav1.ConditionFalse, pending, "Deploying the load balancer failed: " + d.Err.Error()
	}
	switch d.State {
	case "active", "active_impaired":
		return metav1.ConditionTrue, string(gwv1.GatewayReasonProgrammed), "Load balancer " + d.LoadBalancerARN + " is " + d.State + "."
	case "failed":
		return metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), "Load balancer " + d.LoadBalancerARN + " failed to provision."
	}
	return metav1.ConditionUnknown, pending, "Waiting for the load balancer to be active."
}

// SupportedVersionCondition is the GatewayClass SupportedVersion condition
// for the installed CRDs' bundle version (the annotation
// gateway.networking.k8s.io/bundle-version of the Gateway API CRDs): True
// for the release the translation is written for (SupportedBundleVersion,
// any patch), False otherwise.
func SupportedVersionCondition(bundleVersion string, generation int64) metav1.Condition {
	t := string(gwv1.GatewayClassConditionStatusSupportedVersion)
	if bundleVersion == SupportedBundleVersion || strings.HasPrefix(bundleVersion, SupportedBundleVersion+".") {
		return cond(t, metav1.ConditionTrue, string(gwv1.GatewayClassReasonSupportedVersion), "Gateway API "+bundleVersion+" is supported.", generation)
	}
	return cond(t, metav1.ConditionFalse, string(gwv1.GatewayClassReasonUnsupportedVersion),
		fmt.Sprintf("The installed Gateway API CRDs are %q; elbow supports %s.x.", bundleVersion, SupportedBundleVersion), generation)
}

// MergeParents returns a route's status.parents with the entries of the
// controller, and of the controllers of ours, replaced by ours: other
// controllers' entries are kept in place, ours follow in spec order.
func MergeParents(existing, ours []gwv1.RouteParentStatus, controller gwv1.GatewayController) []gwv1.RouteParentStatus {
	mine := map[gwv1.GatewayController]bool{controller: true}
	for _, p := range ours {
		mine[p.ControllerName] = true
	}
	out := make([]gwv1.RouteParentStatus, 0, len(existing)+len(ours))
	for _, p := range existing {
		if !mine[p.ControllerName] {
			out = append(out, p)
		}
	}
	return append(out, ours...)
}

// cond builds a condition.
func cond(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen}
}

func condBool(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

func findCondition(cs []metav1.Condition, typ string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

func conditionTrue(cs []metav1.Condition, typ string) bool {
	c := findCondition(cs, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// setCondition replaces the condition of the same type, or appends it.
func setCondition(cs *[]metav1.Condition, c metav1.Condition) {
	if old := findCondition(*cs, c.Type); old != nil {
		*old = c
		return
	}
	*cs = append(*cs, c)
}

func observedGeneration(cs []metav1.Condition) int64 {
	if len(cs) > 0 {
		return cs[0].ObservedGeneration
	}
	return 0
}

// statusBook collects statuses while Gateways are translated.
type statusBook struct {
	classes      map[string]*GatewayClassStatus
	gateways     map[string]*GatewayStatus
	listenerSets map[string]*ListenerSetStatus
	// routes maps route key (Kind/ns/name) to parentRef index to status.
	routes map[string]map[int]gwv1.RouteParentStatus
	lrcs   map[string]*ListenerRuleConfigurationStatus
	lbcs   map[string]*ConfigurationStatus
	tgcs   map[string]*ConfigurationStatus
}

func newStatusBook() *statusBook {
	return &statusBook{
		classes: map[string]*GatewayClassStatus{}, gateways: map[string]*GatewayStatus{},
		listenerSets: map[string]*ListenerSetStatus{}, routes: map[string]map[int]gwv1.RouteParentStatus{},
		lrcs: map[string]*ListenerRuleConfigurationStatus{}, lbcs: map[string]*ConfigurationStatus{}, tgcs: map[string]*ConfigurationStatus{},
	}
}

func (b *statusBook) setRouteParent(r *route, i int, ps gwv1.RouteParentStatus) {
	m := b.routes[r.key()]
	if m == nil {
		m = map[int]gwv1.RouteParentStatus{}
		b.routes[r.key()] = m
	}
	m[i] = ps
}

// result assembles the statuses in a stable order.
func (b *statusBook) result(x *index) Status {
	s := Status{
		GatewayClasses:             sortedValues(b.classes),
		Gateways:                   sortedValues(b.gateways),
		ListenerSets:               sortedValues(b.listenerSets),
		ListenerRuleConfigurations: sortedValues(b.lrcs),
		LoadBalancerConfigurations: sortedValues(b.lbcs),
		TargetGroupConfigurations:  sortedValues(b.tgcs),
	}
	for _, r := range x.routes {
		m := b.routes[r.key()]
		if len(m) == 0 {
			continue
		}
		idx := make([]int, 0, len(m))
		for i := range m {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		rs := RouteStatus{Route: r.ref}
		for _, i := range idx {
			rs.Parents = append(rs.Parents, m[i])
		}
		s.Routes = append(s.Routes, rs)
	}
	return s
}

// sortedValues returns the values of m in the order of their keys.
func sortedValues[V any](m map[string]*V) []V {
	var out []V
	for _, k := range translate.SortedKeys(m) {
		out = append(out, *m[k])
	}
	return out
}
