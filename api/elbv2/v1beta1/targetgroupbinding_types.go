package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TargetType is the target type of an ELBv2 target group: with `instance`,
// nodes are registered on the Service's NodePort; with `ip`, pods on their
// container port.
// +kubebuilder:validation:Enum=instance;ip
type TargetType string

// The target types.
const (
	TargetTypeInstance TargetType = "instance"
	TargetTypeIP       TargetType = "ip"
)

// TargetGroupIPAddressType is the IP address type of a target group.
// +kubebuilder:validation:Enum=ipv4;ipv6
type TargetGroupIPAddressType string

// The IP address types of a target group.
const (
	TargetGroupIPAddressTypeIPv4 TargetGroupIPAddressType = "ipv4"
	TargetGroupIPAddressTypeIPv6 TargetGroupIPAddressType = "ipv6"
)

// TargetGroupProtocol is the protocol of a target group.
type TargetGroupProtocol string

// The protocols of a target group.
const (
	TargetGroupProtocolHTTP    TargetGroupProtocol = "HTTP"
	TargetGroupProtocolHTTPS   TargetGroupProtocol = "HTTPS"
	TargetGroupProtocolTCP     TargetGroupProtocol = "TCP"
	TargetGroupProtocolTLS     TargetGroupProtocol = "TLS"
	TargetGroupProtocolUDP     TargetGroupProtocol = "UDP"
	TargetGroupProtocolTCPUDP  TargetGroupProtocol = "TCP_UDP"
	TargetGroupProtocolQUIC    TargetGroupProtocol = "QUIC"
	TargetGroupProtocolTCPQUIC TargetGroupProtocol = "TCP_QUIC"
)

// ServiceReference names a Kubernetes Service and one of its ports.
type ServiceReference struct {
	// Name is the name of the Service.
	Name string `json:"name"`

	// Port is the port of the ServicePort, by number or name.
	Port intstr.IntOrString `json:"port"`
}

// IPBlock is a source CIDR of a networking rule.
type IPBlock struct {
	// CIDR is the network CIDR, IPv4 or IPv6.
	CIDR string `json:"cidr"`
}

// SecurityGroup names an EC2 security group.
type SecurityGroup struct {
	// GroupID is the EC2 security group ID.
	GroupID string `json:"groupID"`
}

// NetworkingPeer is the source of a networking rule: one of an IP block and a
// security group.
type NetworkingPeer struct {
	// IPBlock is an IP block peer. If set, no other field may be.
	// +optional
	IPBlock *IPBlock `json:"ipBlock,omitempty"`

	// SecurityGroup is a security group peer. If set, no other field may be.
	// +optional
	SecurityGroup *SecurityGroup `json:"securityGroup,omitempty"`
}

// NetworkingProtocol is the protocol of a networking rule.
// +kubebuilder:validation:Enum=TCP;UDP
type NetworkingProtocol string

// The protocols of a networking rule.
const (
	NetworkingProtocolTCP NetworkingProtocol = "TCP"
	NetworkingProtocolUDP NetworkingProtocol = "UDP"
)

// NetworkingPort is the port and protocol of a networking rule.
type NetworkingPort struct {
	// Protocol is the protocol traffic must match; TCP when unset.
	Protocol *NetworkingProtocol `json:"protocol,omitempty"`

	// Port is the port traffic must match; all ports when unset. With
	// instance targets it must be a number; with ip targets it may name a
	// container port.
	// +optional
	Port *intstr.IntOrString `json:"port,omitempty"`
}

// NetworkingIngressRule lets traffic from peers reach the targets on ports.
type NetworkingIngressRule struct {
	// From lists the peers allowed in; at least one is required.
	From []NetworkingPeer `json:"from"`

	// Ports lists the target ports opened; all TCP ports when empty.
	Ports []NetworkingPort `json:"ports"`
}

// TargetGroupBindingNetworking holds the rules that let the load balancer
// reach the targets.
type TargetGroupBindingNetworking struct {
	// Ingress lists the inbound rules.
	// +optional
	Ingress []NetworkingIngressRule `json:"ingress,omitempty"`
}

// TargetGroupBindingSpec binds a Service's endpoints to a target group.
type TargetGroupBindingSpec struct {
	// TargetGroupARN is the ARN of the target group.
	// +optional
	TargetGroupARN string `json:"targetGroupARN,omitempty"`

	// TargetGroupName is the name of the target group.
	// +optional
	TargetGroupName string `json:"targetGroupName,omitempty"`

	// MultiClusterTargetGroup says the target group is shared by clusters.
	// +optional
	MultiClusterTargetGroup bool `json:"multiClusterTargetGroup,omitempty"`

	// TargetType is the target type of the target group; inferred when unset.
	// +optional
	TargetType *TargetType `json:"targetType,omitempty"`

	// TargetGroupProtocol is the protocol of the target group; inferred when unset.
	// +optional
	// +kubebuilder:validation:Enum=HTTP;HTTPS;TCP;TLS;UDP;TCP_UDP;QUIC;TCP_QUIC
	TargetGroupProtocol *TargetGroupProtocol `json:"targetGroupProtocol,omitempty"`

	// ServiceRef names the Service and port whose endpoints become targets.
	ServiceRef ServiceReference `json:"serviceRef"`

	// Networking holds the rules that let the load balancer reach the targets.
	// +optional
	Networking *TargetGroupBindingNetworking `json:"networking,omitempty"`

	// NodeSelector restricts instance targets to matching nodes.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// IPAddressType is the IP address type of the target group; inferred when unset.
	// +optional
	IPAddressType *TargetGroupIPAddressType `json:"ipAddressType,omitempty"`

	// VpcID is the VPC of the target group; inferred when unset.
	// +optional
	VpcID string `json:"vpcID,omitempty"`

	// IamRoleArnToAssume is an IAM role to assume for the AWS calls (a target
	// group in another account).
	// +optional
	IamRoleArnToAssume string `json:"iamRoleArnToAssume,omitempty"`

	// AssumeRoleExternalId is the external ID used when assuming IamRoleArnToAssume.
	// +optional
	AssumeRoleExternalId string `json:"assumeRoleExternalId,omitempty"`
}

// TargetGroupBindingStatus is the observed state of a TargetGroupBinding.
type TargetGroupBindingStatus struct {
	// ObservedGeneration is the generation last acted on.
	// +optional
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`

	// Conditions describe the current state of the binding.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// TargetGroupBinding is the schema of the TargetGroupBinding API.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="SERVICE-NAME",type="string",JSONPath=".spec.serviceRef.name",description="The Kubernetes Service's name"
// +kubebuilder:printcolumn:name="SERVICE-PORT",type="string",JSONPath=".spec.serviceRef.port",description="The Kubernetes Service's port"
// +kubebuilder:printcolumn:name="TARGET-TYPE",type="string",JSONPath=".spec.targetType",description="The AWS TargetGroup's TargetType"
// +kubebuilder:printcolumn:name="ARN",type="string",JSONPath=".spec.targetGroupARN",description="The AWS TargetGroup's Amazon Resource Name",priority=1
// +kubebuilder:printcolumn:name="NAME",type="string",JSONPath=".spec.targetGroupName",description="The AWS TargetGroup's Name",priority=2
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type TargetGroupBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TargetGroupBindingSpec   `json:"spec,omitempty"`
	Status TargetGroupBindingStatus `json:"status,omitempty"`
}

// TargetGroupBindingList is a list of TargetGroupBindings.
//
// +kubebuilder:object:root=true
type TargetGroupBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TargetGroupBinding `json:"items"`
}
