package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reference names the Kubernetes object (a Service, by default) whose
// target groups a TargetGroupConfiguration sets up.
type Reference struct {
	// Group is the referent's API group; empty means the core group.
	// +optional
	// +kubebuilder:default=""
	Group *string `json:"group,omitempty"`

	// Kind is the referent's kind; Service when left out.
	// +optional
	// +kubebuilder:default=Service
	Kind *string `json:"kind,omitempty"`

	// Name is the referent's name, in the TargetGroupConfiguration's
	// namespace.
	Name string `json:"name"`
}

// HealthCheckMatcher is what a health check response must hold to count as
// a success: HTTP status codes or gRPC status codes (set one of them).
type HealthCheckMatcher struct {
	// HTTPCode are the HTTP status codes of a success, e.g. 200 or
	// 200-299 or 200,302.
	HTTPCode *string `json:"httpCode,omitempty"`

	// GRPCCode are the gRPC status codes of a success, e.g. 0 or 0-99.
	GRPCCode *string `json:"grpcCode,omitempty"`
}

// HealthCheckConfiguration is the health check of a target group. Fields
// left out take ELB's or the controller's defaults.
type HealthCheckConfiguration struct {
	// HealthyThresholdCount is the number of successes in a row that make
	// an unhealthy target healthy.
	// +optional
	HealthyThresholdCount *int32 `json:"healthyThresholdCount,omitempty"`

	// HealthCheckInterval is the time between two checks of a target, in
	// seconds.
	// +optional
	HealthCheckInterval *int32 `json:"healthCheckInterval,omitempty"`

	// HealthCheckPath is the path of HTTP(S) and gRPC checks.
	// +optional
	HealthCheckPath *string `json:"healthCheckPath,omitempty"`

	// HealthCheckPort is the port checked: a number, or traffic-port (the
	// port each target receives traffic on, the default).
	// +optional
	HealthCheckPort *string `json:"healthCheckPort,omitempty"`

	// HealthCheckProtocol is the protocol of the checks.
	// +optional
	HealthCheckProtocol *TargetGroupHealthCheckProtocol `json:"healthCheckProtocol,omitempty"`

	// HealthCheckTimeout is how long, in seconds, a check waits for an
	// answer before it counts as failed.
	// +optional
	HealthCheckTimeout *int32 `json:"healthCheckTimeout,omitempty"`

	// UnhealthyThresholdCount is the number of failures in a row that make
	// a target unhealthy.
	// +optional
	UnhealthyThresholdCount *int32 `json:"unhealthyThresholdCount,omitempty"`

	// Matcher is what a successful answer holds.
	// +optional
	Matcher *HealthCheckMatcher `json:"matcher,omitempty"`
}

// TargetGroupIPAddressType is the IP address family of a target group's
// targets.
// +kubebuilder:validation:Enum=ipv4;ipv6
type TargetGroupIPAddressType string

// The IP address types of a target group.
const (
	TargetGroupIPAddressTypeIPv4 TargetGroupIPAddressType = "ipv4"
	TargetGroupIPAddressTypeIPv6 TargetGroupIPAddressType = "ipv6"
)

// TargetType is what a target group's targets are: nodes (instance,
// traffic to the Service's node port) or pods (ip, traffic to the pods'
// container port).
// +kubebuilder:validation:Enum=instance;ip
type TargetType string

// The target types of a target group.
const (
	TargetTypeInstance TargetType = "instance"
	TargetTypeIP       TargetType = "ip"
)

// TargetGroupHealthCheckProtocol is the protocol of a target group's
// health checks.
// +kubebuilder:validation:Enum=HTTP;HTTPS;TCP
type TargetGroupHealthCheckProtocol string

// The health check protocols of a target group.
const (
	TargetGroupHealthCheckProtocolHTTP  TargetGroupHealthCheckProtocol = "HTTP"
	TargetGroupHealthCheckProtocolHTTPS TargetGroupHealthCheckProtocol = "HTTPS"
	TargetGroupHealthCheckProtocolTCP   TargetGroupHealthCheckProtocol = "TCP"
)

// Protocol is the protocol of a target group.
// +kubebuilder:validation:Enum=HTTP;HTTPS;TCP;TLS;UDP;TCP_UDP
type Protocol string

// The protocols of a target group. QUIC and TCP_QUIC are not accepted in a
// TargetGroupConfiguration (the field's enum leaves them out, as the
// reference controller's does); the controller derives them from a
// listener's quicEnabled.
const (
	ProtocolHTTP     Protocol = "HTTP"
	ProtocolHTTPS    Protocol = "HTTPS"
	ProtocolTCP      Protocol = "TCP"
	ProtocolTLS      Protocol = "TLS"
	ProtocolUDP      Protocol = "UDP"
	ProtocolTCP_UDP  Protocol = "TCP_UDP"
	ProtocolQUIC     Protocol = "QUIC"
	ProtocolTCP_QUIC Protocol = "TCP_QUIC"
)

// ProtocolVersion is the HTTP version an HTTP or HTTPS target group speaks
// to its targets.
// +kubebuilder:validation:Enum=HTTP1;HTTP2;GRPC
type ProtocolVersion string

// The protocol versions of a target group.
const (
	ProtocolVersionHTTP1 ProtocolVersion = "HTTP1"
	ProtocolVersionHTTP2 ProtocolVersion = "HTTP2"
	ProtocolVersionGRPC  ProtocolVersion = "GRPC"
)

// TargetGroupConfigMergeMode is how route-specific target group properties
// combine with the defaults. The reference controller defines it; no field
// of this version uses it.
// +kubebuilder:validation:Enum=none;prefer-route-specific;prefer-default
type TargetGroupConfigMergeMode string

// The merge modes of target group properties.
const (
	MergeModeNone                TargetGroupConfigMergeMode = "none"
	MergeModePreferRouteSpecific TargetGroupConfigMergeMode = "prefer-route-specific"
	MergeModePreferDefault       TargetGroupConfigMergeMode = "prefer-default"
)

// TargetGroupConfigurationSpec is the target group setting of the object
// TargetReference names, with defaults and per-route overrides.
type TargetGroupConfigurationSpec struct {
	// TargetReference is the object (a Service) the setting is for. A
	// configuration without one only serves as the defaults a
	// LoadBalancerConfiguration's defaultTargetGroupConfiguration names.
	// +optional
	TargetReference *Reference `json:"targetReference,omitempty"`

	// DefaultConfiguration applies to the target groups of every route
	// that RouteConfigurations do not override.
	// +optional
	DefaultConfiguration TargetGroupProps `json:"defaultConfiguration,omitempty"`

	// RouteConfigurations are properties for the target groups of
	// particular routes; the most specific matching entry (kind, namespace
	// and name, then kind and namespace, then kind) is combined with the
	// defaults.
	// +optional
	RouteConfigurations []RouteConfiguration `json:"routeConfigurations,omitempty"`
}

// RouteIdentifier picks routes by kind and, optionally, namespace and
// name; every field set must match exactly.
type RouteIdentifier struct {
	// RouteKind is the route's kind, e.g. HTTPRoute.
	RouteKind string `json:"kind,omitempty"`
	// RouteNamespace is the route's namespace.
	RouteNamespace string `json:"namespace,omitempty"`
	// RouteName is the route's name.
	RouteName string `json:"name,omitempty"`
}

// RouteConfiguration is the target group setting of the routes an
// identifier picks.
type RouteConfiguration struct {
	// RouteIdentifier picks the routes.
	RouteIdentifier RouteIdentifier `json:"routeIdentifier"`

	// TargetGroupProps are the properties of those routes' target groups.
	TargetGroupProps TargetGroupProps `json:"targetGroupProps"`
}

// TargetGroupProps are the properties of a target group. Fields left out
// are inferred or defaulted by the controller.
type TargetGroupProps struct {
	// TargetGroupName is the target group's name; generated when left out.
	// +optional
	TargetGroupName *string `json:"targetGroupName,omitempty"`

	// IPAddressType is the address family of the targets; inferred when
	// left out.
	// +optional
	IPAddressType *TargetGroupIPAddressType `json:"ipAddressType,omitempty"`

	// HealthCheckConfig is the target group's health check.
	// +optional
	HealthCheckConfig *HealthCheckConfiguration `json:"healthCheckConfig,omitempty"`

	// NodeSelector limits the nodes registered in an instance target
	// group to those it selects.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// TargetGroupAttributes are the target group's attributes.
	// +optional
	TargetGroupAttributes []TargetGroupAttribute `json:"targetGroupAttributes,omitempty"`

	// TargetType is the target group's target type; instance when left
	// out.
	// +optional
	TargetType *TargetType `json:"targetType,omitempty"`

	// Protocol is the target group's protocol; inferred when left out.
	// +optional
	Protocol *Protocol `json:"protocol,omitempty"`

	// ProtocolVersion is the HTTP version spoken to the targets of an HTTP
	// or HTTPS target group.
	// +optional
	ProtocolVersion *ProtocolVersion `json:"protocolVersion,omitempty"`

	// TargetControlPort is the port on which targets report their capacity
	// [Application Load Balancer]; fixed once the target group exists.
	// +optional
	TargetControlPort *int32 `json:"targetControlPort,omitempty"`

	// EnableMultiCluster lets other clusters and Services register targets
	// in the generated target group.
	// +optional
	EnableMultiCluster *bool `json:"enableMultiCluster,omitempty"`

	// Tags are AWS tags put on the target group.
	// +optional
	Tags *map[string]string `json:"tags,omitempty"`
}

// TargetGroupAttribute is one target group attribute, as ELB names it.
type TargetGroupAttribute struct {
	// Key is the attribute's name, e.g. deregistration_delay.timeout_seconds.
	Key string `json:"key"`

	// Value is the attribute's value.
	Value string `json:"value"`
}

// TargetGroupConfigurationStatus is what the controller last saw of a
// TargetGroupConfiguration.
type TargetGroupConfigurationStatus struct {
	// ObservedGatewayConfigurationGeneration is the generation last
	// applied through a Gateway.
	// +optional
	ObservedGatewayConfigurationGeneration *int64 `json:"observedGatewayConfigurationGeneration,omitempty"`

	// ObservedGatewayClassConfigurationGeneration is the generation last
	// applied through a GatewayClass.
	// +optional
	ObservedGatewayClassConfigurationGeneration *int64 `json:"observedGatewayClassConfigurationGeneration,omitempty"`
}

// TargetGroupConfiguration is the target group setting of a Service a
// Gateway's routes send traffic to.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:deprecatedversion:warning="gateway.k8s.aws/v1beta1 TargetGroupConfiguration is deprecated; use gateway.k8s.aws/v1 instead"
// +kubebuilder:printcolumn:name="SERVICE-NAME",type="string",JSONPath=".spec.targetReference.name",description="The Kubernetes Service's name"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type TargetGroupConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired setting.
	Spec TargetGroupConfigurationSpec `json:"spec,omitempty"`
	// Status is what the controller last saw.
	Status TargetGroupConfigurationStatus `json:"status,omitempty"`
}

// TargetGroupConfigurationList is a list of TargetGroupConfigurations.
// +kubebuilder:object:root=true
type TargetGroupConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the TargetGroupConfigurations.
	Items []TargetGroupConfiguration `json:"items"`
}
