// Package gateway translates Gateway API objects of the AWS Load Balancer
// Controller's GatewayClasses into one load balancer stack per Gateway: an
// ALB for controllerName gateway.k8s.aws/alb (HTTPRoutes and GRPCRoutes),
// an NLB for gateway.k8s.aws/nlb (TCPRoutes, UDPRoutes and TLSRoutes). It
// decides the status of every object it reads: GatewayClasses, Gateways
// and their listeners, ListenerSets, routes (per parent), and the
// gateway.k8s.aws configuration objects.
//
// It decides what the reference controller decides (names, tags, resource
// IDs, defaults, finalizers, the dry-run annotation), so that the load
// balancers it created are adopted in place, and goes further where the
// Gateway API asks and AWS allows: listener certificateRefs to Secrets
// (imported into ACM), per-rule isolation of broken routes, listener
// isolation, exact header matching. Where an ALB cannot do what the spec
// asks, the object gets the spec's condition saying so, with the limit
// named in the message; nothing is served differently from what the
// status says.
//
// Translation is pure: no I/O, and the same objects in any order give the
// same stacks and status, byte for byte.
package gateway

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// Controller names of the reference controller's GatewayClasses.
const (
	// ControllerALB is the controllerName of GatewayClasses whose Gateways
	// become Application Load Balancers (this package).
	ControllerALB gwv1.GatewayController = "gateway.k8s.aws/alb"
	// ControllerNLB is the controllerName of GatewayClasses whose Gateways
	// become Network Load Balancers (TCP, UDP and TLS listeners).
	ControllerNLB gwv1.GatewayController = "gateway.k8s.aws/nlb"
	// ControllerAuto is elbow's own controllerName, beyond the reference:
	// a Gateway of its classes becomes an ALB when it has HTTP or HTTPS
	// listeners, else an NLB, and keeps the load balancer type it was
	// created with (its finalizer says which). One class then serves every
	// route kind, as the Gateway API conformance profiles expect of the
	// class they run against.
	ControllerAuto gwv1.GatewayController = "elbowlb.dev/gateway"
)

// Finalizers the reference controller puts on the objects it uses.
const (
	FinalizerALBGateway                = "gateway.k8s.aws/alb"
	FinalizerNLBGateway                = "gateway.k8s.aws/nlb"
	FinalizerGatewayClass              = "gateway.k8s.aws/gatewayclass"
	FinalizerLoadBalancerConfiguration = "gateway.k8s.aws/loadbalancerconfigurations"
	FinalizerTargetGroupConfiguration  = "gateway.k8s.aws/targetgroupconfigurations"
	FinalizerListenerRuleConfiguration = "gateway.k8s.aws/listenerruleconfigurations"
)

// Gateway annotations of the reference controller.
const (
	// AnnotationDryRun set to "true" on a Gateway that does not carry its
	// finalizer yet asks for the stack to be built and not deployed.
	AnnotationDryRun = "gateway.k8s.aws/dry-run"
	// AnnotationDryRunPlan is where the controller writes the stack JSON of
	// a dry-run Gateway.
	AnnotationDryRunPlan = "gateway.k8s.aws/dry-run-plan"
	// AnnotationAddonPrefix prefixes the annotations that remember which
	// add-ons (wafv2, shield, provisionedcapacity) were enabled, so that a
	// removed setting is switched off once, and then left alone.
	AnnotationAddonPrefix = "gateway.k8s.aws.addon."
)

// The add-ons whose state the controller keeps in annotations.
const (
	AddonWAFv2               = "wafv2"
	AddonShield              = "shield"
	AddonProvisionedCapacity = "provisionedcapacity"
)

// API groups and kinds this package refers to.
const (
	groupGateway  = gwv1.GroupName
	groupAWS      = "gateway.k8s.aws"
	kindGateway   = "Gateway"
	kindLS        = "ListenerSet"
	kindHTTPRoute = "HTTPRoute"
	kindGRPCRoute = "GRPCRoute"
	kindTCPRoute  = "TCPRoute"
	kindUDPRoute  = "UDPRoute"
	kindTLSRoute  = "TLSRoute"
	kindService   = "Service"
	kindSecret    = "Secret"
	kindLBC       = "LoadBalancerConfiguration"
	kindTGC       = "TargetGroupConfiguration"
	kindLRC       = "ListenerRuleConfiguration"
	// kindTargetGroupName is the reference controller's backendRef kind
	// naming an existing target group.
	kindTargetGroupName = "TargetGroupName"
)

// Objects are the Gateway API objects and the AWS Load Balancer
// Controller's gateway.k8s.aws configuration objects.
type Objects struct {
	GatewayClasses  []gwv1.GatewayClass
	Gateways        []gwv1.Gateway
	ListenerSets    []gwv1.ListenerSet
	HTTPRoutes      []gwv1.HTTPRoute
	GRPCRoutes      []gwv1.GRPCRoute
	TCPRoutes       []gwv1.TCPRoute
	UDPRoutes       []gwv1.UDPRoute
	TLSRoutes       []gwv1.TLSRoute
	ReferenceGrants []gwv1.ReferenceGrant

	LoadBalancerConfigurations []gwaws.LoadBalancerConfiguration
	TargetGroupConfigurations  []gwaws.TargetGroupConfiguration
	ListenerRuleConfigurations []gwaws.ListenerRuleConfiguration
}

// Input is everything the translation reads. Objects are as the API server
// stores them; the Gateway API's CRD defaults are applied here again, so
// manifests that leave defaulted fields out translate the same.
type Input struct {
	Objects

	Services []corev1.Service
	// Secrets hold listener certificates (kubernetes.io/tls) and OIDC
	// client credentials.
	Secrets []corev1.Secret
	// Namespaces are used for namespace selectors; a namespace not listed
	// is taken to carry only the label kubernetes.io/metadata.name.
	Namespaces []corev1.Namespace
	// Workloads are pod templates, for the pitfall checks.
	Workloads []translate.Workload
	Facts     *facts.Facts
	Options   translate.Options
	// Off names the controllers (ControllerALB, ControllerNLB) that do not
	// run, their route kinds not being served or their feature gate off:
	// their classes and Gateways are left alone, and a ControllerAuto
	// Gateway does not become their load balancer. Empty: both run, as in
	// elbow plan.
	Off []gwv1.GatewayController
}

// Result is the translation of every Gateway of the ALB and NLB
// controllers, and the status of every object read.
type Result struct {
	// Gateways are ordered by namespace and name.
	Gateways []Gateway
	// Status is the status of every object, for the controller to write.
	Status Status
	// Diagnostics are about objects not tied to one Gateway.
	Diagnostics []translate.Diagnostic
}

// Gateway is the translation of one Gateway.
type Gateway struct {
	Gateway translate.ObjectRef
	// Class is the Gateway's GatewayClass.
	Class string
	// Stack is the desired stack. An empty stack (no resources) means the
	// Gateway is being deleted or is no longer ours but still carries the
	// finalizer: delete what it owns, then remove the finalizer. Nil means
	// it could not be built (Err): change nothing.
	Stack *stack.Stack
	Err   error
	// Finalizer is the finalizer the controller adds to the Gateway before
	// deploying and removes once an empty stack is deployed
	// (FinalizerALBGateway or FinalizerNLBGateway).
	Finalizer string
	// DryRun says the stack must not be deployed: the controller writes its
	// JSON to the AnnotationDryRunPlan annotation instead.
	DryRun bool
	// Addons is the add-on state to keep in the Gateway's annotations
	// (AnnotationAddonPrefix + name: "true"), after a successful deploy.
	Addons map[string]bool
	// BackendSecurityGroup says the stack uses the shared backend security group.
	BackendSecurityGroup bool
	// ListenPorts are the ports of the load balancer's listeners, ascending.
	ListenPorts []int32
	// Secrets are the Secrets the stack was built from (certificates,
	// OIDC credentials): the controller watches them.
	Secrets []translate.ObjectRef
	// Decisions say where each defaulted or discovered setting came from.
	Decisions []translate.Decision
	// Diagnostics are the warnings and errors of the Gateway, its
	// listeners and the routes attached to it.
	Diagnostics []translate.Diagnostic
}

// Build translates the Gateways of the ALB and NLB controllers and decides
// the status of every object.
func Build(in Input) Result {
	var res Result
	opts := in.Options
	cloud, diags := translate.Start(in.Facts, &opts)
	if cloud == nil {
		res.Diagnostics = diags
		return res
	}
	x := newIndex(&in)
	t := &translator{x: x, cloud: cloud, opts: &opts, status: newStatusBook(), off: offFlavors(in.Off)}
	t.classes()
	for _, gw := range x.gateways {
		if g, ok := t.gateway(gw); ok {
			res.Gateways = append(res.Gateways, g)
		}
	}
	t.configStatus()
	res.Status = t.status.result(x)
	res.Diagnostics = translate.SortDiagnostics(t.diags)
	return res
}

// translator holds what one Build shares across Gateways.
type translator struct {
	x      *index
	cloud  *translate.Cloud
	opts   *translate.Options
	status *statusBook
	diags  []translate.Diagnostic
	// classInfo holds the GatewayClasses of elbow's controllers by name.
	classInfo map[string]*classInfo
	// off holds the flavors whose controller does not run.
	off map[*flavor]bool
	// lrcChecked holds the result of checking each
	// ListenerRuleConfiguration, by namespace/name.
	lrcChecked map[string]error
}

func (t *translator) note(sev translate.Severity, obj translate.ObjectRef, format string, args ...any) {
	t.diags = append(t.diags, translate.Diagnostic{Severity: sev, Object: obj, Message: fmt.Sprintf(format, args...)})
}

// objRef returns the ObjectRef of a Kubernetes object.
func objRef(kind string, m metav1.Object) translate.ObjectRef {
	return translate.ObjectRef{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}
}
