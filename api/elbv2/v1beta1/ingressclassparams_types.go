package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPAddressType is the IP address type of a load balancer.
// +kubebuilder:validation:Enum=ipv4;dualstack;dualstack-without-public-ipv4
type IPAddressType string

// The IP address types of a load balancer.
const (
	IPAddressTypeIPV4                       IPAddressType = "ipv4"
	IPAddressTypeDualStack                  IPAddressType = "dualstack"
	IPAddressTypeDualStackWithoutPublicIPV4 IPAddressType = "dualstack-without-public-ipv4"
)

// LoadBalancerScheme is the scheme of a load balancer: the nodes of an
// internet-facing load balancer have public IP addresses, those of an
// internal one only private addresses.
// +kubebuilder:validation:Enum=internal;internet-facing
type LoadBalancerScheme string

// The schemes of a load balancer.
const (
	LoadBalancerSchemeInternal       LoadBalancerScheme = "internal"
	LoadBalancerSchemeInternetFacing LoadBalancerScheme = "internet-facing"
)

// SubnetID is the ID of a subnet.
// +kubebuilder:validation:Pattern=subnet-[0-9a-f]+
type SubnetID string

// SubnetSelector selects existing subnets, by IDs or by tags.
type SubnetSelector struct {
	// IDs are the resource IDs of subnets. Exactly one of this or `tags` must be specified.
	// +kubebuilder:validation:MinItems=1
	// +optional
	IDs []SubnetID `json:"ids,omitempty"`

	// Tags selects the subnets of the load balancer's VPC where each tag named
	// by a key holds one of the values listed for it. Exactly one of this or
	// `ids` must be specified.
	// +optional
	Tags map[string][]string `json:"tags,omitempty"`
}

// IngressGroup names the IngressGroup of the Ingresses of a class.
type IngressGroup struct {
	// Name is the name of the IngressGroup.
	Name string `json:"name"`
}

// Tag is an AWS tag.
type Tag struct {
	// Key is the tag's key.
	Key string `json:"key"`

	// Value is the tag's value.
	Value string `json:"value"`
}

// Attribute is a load balancer or listener attribute.
type Attribute struct {
	// Key is the attribute's name.
	Key string `json:"key"`

	// Value is the attribute's value.
	Value string `json:"value"`
}

// ListenerProtocol is the protocol of an ALB listener.
type ListenerProtocol string

// The protocols of an ALB listener.
const (
	ListenerProtocolHTTP  ListenerProtocol = "HTTP"
	ListenerProtocolHTTPS ListenerProtocol = "HTTPS"
)

// Listener carries the attributes of one listener (it does not create one).
type Listener struct {
	// Protocol is the listener's protocol.
	Protocol ListenerProtocol `json:"protocol,omitempty"`
	// Port is the listener's port.
	Port int32 `json:"port,omitempty"`
	// ListenerAttributes are the attributes of the listener.
	ListenerAttributes []Attribute `json:"listenerAttributes,omitempty"`
}

// MinimumLoadBalancerCapacity is a load balancer capacity reservation.
type MinimumLoadBalancerCapacity struct {
	// CapacityUnits is the number of capacity units reserved.
	CapacityUnits int32 `json:"capacityUnits"`
}

// IPAMConfiguration is the IPAM configuration of a load balancer.
type IPAMConfiguration struct {
	// IPv4IPAMPoolId is the IPAM pool the load balancer's IPv4 addresses come from.
	// +optional
	IPv4IPAMPoolId *string `json:"ipv4IPAMPoolId,omitempty"`
}

// IngressClassParamsSpec holds the settings an IngressClass imposes on its Ingresses.
// +kubebuilder:validation:XValidation:rule="!(has(self.prefixListsIDs) && has(self.PrefixListsIDs))", message="cannot specify both 'prefixListsIDs' and 'PrefixListsIDs' fields"
type IngressClassParamsSpec struct {
	// LoadBalancerName is the name of the load balancer created for this class.
	// +optional
	LoadBalancerName string `json:"loadBalancerName,omitempty"`

	// CertificateArn lists the certificates of every Ingress of the class.
	// +optional
	CertificateArn []string `json:"certificateArn,omitempty"`

	// NamespaceSelector restricts the namespaces whose Ingresses may use the
	// class; absent or empty, it selects every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Group is the IngressGroup of every Ingress of the class.
	// +optional
	Group *IngressGroup `json:"group,omitempty"`

	// Scheme is the scheme of every Ingress of the class.
	// +optional
	Scheme *LoadBalancerScheme `json:"scheme,omitempty"`

	// InboundCIDRs are the CIDRs allowed to reach the Ingresses of the class.
	// +optional
	InboundCIDRs []string `json:"inboundCIDRs,omitempty"`

	// SSLPolicy is the SSL policy of every Ingress of the class.
	// +optional
	SSLPolicy string `json:"sslPolicy,omitempty"`

	// SSLRedirectPort is the SSL redirect port of every Ingress of the class.
	// +optional
	SSLRedirectPort string `json:"sslRedirectPort,omitempty"`

	// Subnets are the subnets of every Ingress of the class.
	// +optional
	Subnets *SubnetSelector `json:"subnets,omitempty"`

	// IPAddressType is the IP address type of every Ingress of the class.
	// +optional
	IPAddressType *IPAddressType `json:"ipAddressType,omitempty"`

	// Tags are the tags of the AWS resources provisioned for the class.
	Tags []Tag `json:"tags,omitempty"`

	// TargetType is the target type of the target groups of the class.
	// +optional
	TargetType TargetType `json:"targetType,omitempty"`

	// LoadBalancerAttributes are the load balancer attributes of the class.
	// +optional
	LoadBalancerAttributes []Attribute `json:"loadBalancerAttributes,omitempty"`

	// Listeners carry listener attributes by protocol and port.
	// +optional
	Listeners []Listener `json:"listeners,omitempty"`

	// MinimumLoadBalancerCapacity is the capacity reservation of the class's load balancers.
	// +optional
	MinimumLoadBalancerCapacity *MinimumLoadBalancerCapacity `json:"minimumLoadBalancerCapacity,omitempty"`

	// IPAMConfiguration is the IPAM configuration of the class's load balancers.
	// +optional
	IPAMConfiguration *IPAMConfiguration `json:"ipamConfiguration,omitempty"`

	// PrefixListsIDsLegacy are the security group prefix lists of the class
	// (legacy spelling; use prefixListsIDs).
	// +optional
	PrefixListsIDsLegacy []string `json:"PrefixListsIDs,omitempty"`

	// PrefixListsIDs are the security group prefix lists of the class.
	// +optional
	PrefixListsIDs []string `json:"prefixListsIDs,omitempty"`

	// WAFv2ACLArn is the ARN of the WAFv2 web ACL of the class.
	// +optional
	WAFv2ACLArn string `json:"wafv2AclArn"`

	// WAFv2ACLName is the name of the WAFv2 web ACL of the class.
	// +optional
	WAFv2ACLName string `json:"wafv2AclName"`
}

// IngressClassParams is the schema of the IngressClassParams API: settings
// an IngressClass with controller ingress.k8s.aws/alb imposes.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,singular=ingressclassparam
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="GROUP-NAME",type="string",JSONPath=".spec.group.name",description="The Ingress Group name"
// +kubebuilder:printcolumn:name="SCHEME",type="string",JSONPath=".spec.scheme",description="The AWS Load Balancer scheme"
// +kubebuilder:printcolumn:name="IP-ADDRESS-TYPE",type="string",JSONPath=".spec.ipAddressType",description="The AWS Load Balancer ipAddressType"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type IngressClassParams struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec IngressClassParamsSpec `json:"spec,omitempty"`
}

// IngressClassParamsList is a list of IngressClassParams.
//
// +kubebuilder:object:root=true
type IngressClassParamsList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IngressClassParams `json:"items"`
}
