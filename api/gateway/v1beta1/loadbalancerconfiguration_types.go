package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LoadBalancerConfigMergeMode says which of two LoadBalancerConfigurations
// wins a field both set, when one is attached to a Gateway and the other to
// its GatewayClass.
// +kubebuilder:validation:Enum=prefer-gateway;prefer-gateway-class
type LoadBalancerConfigMergeMode string

// The merge modes of LoadBalancerConfigurations.
const (
	// MergeModePreferGatewayClass takes the GatewayClass's value of a field
	// both configurations set (the default).
	MergeModePreferGatewayClass LoadBalancerConfigMergeMode = "prefer-gateway-class"
	// MergeModePreferGateway takes the Gateway's value of a field both
	// configurations set.
	MergeModePreferGateway LoadBalancerConfigMergeMode = "prefer-gateway"
)

// LoadBalancerScheme is the scheme of a load balancer: an internal one is
// reachable from inside its VPC only, an internet-facing one from the
// internet too.
// +kubebuilder:validation:Enum=internal;internet-facing
type LoadBalancerScheme string

// The schemes of a load balancer.
const (
	LoadBalancerSchemeInternal       LoadBalancerScheme = "internal"
	LoadBalancerSchemeInternetFacing LoadBalancerScheme = "internet-facing"
)

// LoadBalancerIpAddressType is the IP address type of a load balancer.
// +kubebuilder:validation:Enum=ipv4;dualstack;dualstack-without-public-ipv4
type LoadBalancerIpAddressType string

// The IP address types of a load balancer.
const (
	LoadBalancerIpAddressTypeIPv4                       LoadBalancerIpAddressType = "ipv4"
	LoadBalancerIpAddressTypeDualstack                  LoadBalancerIpAddressType = "dualstack"
	LoadBalancerIpAddressTypeDualstackWithoutPublicIpv4 LoadBalancerIpAddressType = "dualstack-without-public-ipv4"
)

// LoadBalancerAttribute is one load balancer attribute, as ELB names it.
type LoadBalancerAttribute struct {
	// Key is the attribute's name, e.g. idle_timeout.timeout_seconds.
	Key string `json:"key"`

	// Value is the attribute's value.
	Value string `json:"value"`
}

// ListenerAttribute is one listener attribute, as ELB names it.
type ListenerAttribute struct {
	// Key is the attribute's name, e.g. tcp.idle_timeout.seconds.
	Key string `json:"key"`

	// Value is the attribute's value.
	Value string `json:"value"`
}

// SubnetConfiguration names one subnet of a load balancer and, for a
// Network Load Balancer, the addresses it takes there.
type SubnetConfiguration struct {
	// Identifier is the subnet's ID or its Name tag.
	// +optional
	Identifier string `json:"identifier"`

	// EIPAllocation is the allocation ID of the Elastic IP address the
	// load balancer takes in this subnet [Network Load Balancer].
	// +optional
	EIPAllocation *string `json:"eipAllocation,omitempty"`

	// PrivateIPv4Allocation is the private IPv4 address the load balancer
	// takes in this subnet [Network Load Balancer].
	// +optional
	PrivateIPv4Allocation *string `json:"privateIPv4Allocation,omitempty"`

	// IPv6Allocation is the IPv6 address the load balancer takes in this
	// subnet [Network Load Balancer].
	// +optional
	IPv6Allocation *string `json:"ipv6Allocation,omitempty"`

	// SourceNatIPv6Prefix is the IPv6 prefix (a /80 of the subnet's block)
	// used for source NAT, or auto_assigned for one picked at random
	// [Network Load Balancer].
	// +optional
	SourceNatIPv6Prefix *string `json:"sourceNatIPv6Prefix,omitempty"`
}

// ALPNPolicy is the ALPN policy of a TLS listener: which application
// protocols it offers a client, in order of preference.
// +kubebuilder:validation:Enum=HTTP1Only;HTTP2Only;HTTP2Optional;HTTP2Preferred;None
type ALPNPolicy string

// The ALPN policies of a TLS listener.
const (
	// ALPNPolicyNone negotiates no protocol (the default).
	ALPNPolicyNone ALPNPolicy = "None"
	// ALPNPolicyHTTP1Only offers http/1.1 and http/1.0.
	ALPNPolicyHTTP1Only ALPNPolicy = "HTTP1Only"
	// ALPNPolicyHTTP2Only offers h2.
	ALPNPolicyHTTP2Only ALPNPolicy = "HTTP2Only"
	// ALPNPolicyHTTP2Optional offers http/1.1, http/1.0, then h2.
	ALPNPolicyHTTP2Optional ALPNPolicy = "HTTP2Optional"
	// ALPNPolicyHTTP2Preferred offers h2, then http/1.1 and http/1.0.
	ALPNPolicyHTTP2Preferred ALPNPolicy = "HTTP2Preferred"
)

// AdvertiseTrustStoreCaNamesEnum says whether a listener verifying client
// certificates sends the names of its trust store's CAs to clients.
// +kubebuilder:validation:Enum=on;off
type AdvertiseTrustStoreCaNamesEnum string

// The values of AdvertiseTrustStoreCaNamesEnum.
const (
	AdvertiseTrustStoreCaNamesEnumOn  AdvertiseTrustStoreCaNamesEnum = "on"
	AdvertiseTrustStoreCaNamesEnumOff AdvertiseTrustStoreCaNamesEnum = "off"
)

// MutualAuthenticationMode is how an HTTPS listener handles client
// certificates (mutual TLS).
// +kubebuilder:validation:Enum=off;passthrough;verify
type MutualAuthenticationMode string

// The mutual TLS modes of a listener.
const (
	// MutualAuthenticationOffMode asks for no client certificate.
	MutualAuthenticationOffMode MutualAuthenticationMode = "off"
	// MutualAuthenticationPassthroughMode passes the client's certificate
	// chain on to the targets in a header, unverified.
	MutualAuthenticationPassthroughMode MutualAuthenticationMode = "passthrough"
	// MutualAuthenticationVerifyMode verifies the client's certificate
	// against a trust store.
	MutualAuthenticationVerifyMode MutualAuthenticationMode = "verify"
)

// MutualAuthenticationAttributes is the mutual TLS setting of a listener.
// The trust store and the options that refine verification are allowed in
// verify mode only, and verify mode needs a trust store.
// +kubebuilder:validation:XValidation:rule="!(self.mode == 'verify' && !has(self.trustStore))",message="trustStore is required when mutualAuthentication mode is 'verify'"
// +kubebuilder:validation:XValidation:rule="!(self.mode != 'verify' && has(self.trustStore))",message="Mutual Authentication mode 'off' or 'passthrough' does not support 'trustStore'"
// +kubebuilder:validation:XValidation:rule="!(self.mode != 'verify' && has(self.ignoreClientCertificateExpiry))",message="Mutual Authentication mode 'off' or 'passthrough' does not support 'ignoreClientCertificateExpiry'"
// +kubebuilder:validation:XValidation:rule="!(self.mode != 'verify' && has(self.advertiseTrustStoreCaNames))",message="Mutual Authentication mode 'off' or 'passthrough' does not support 'advertiseTrustStoreCaNames'"
type MutualAuthenticationAttributes struct {
	// AdvertiseTrustStoreCaNames says whether the listener sends the names
	// of its trust store's CAs to clients.
	// +optional
	AdvertiseTrustStoreCaNames *AdvertiseTrustStoreCaNamesEnum `json:"advertiseTrustStoreCaNames,omitempty"`

	// IgnoreClientCertificateExpiry accepts client certificates that have
	// expired.
	// +optional
	IgnoreClientCertificateExpiry *bool `json:"ignoreClientCertificateExpiry,omitempty"`

	// Mode is how client certificates are handled: off, passthrough or
	// verify.
	Mode MutualAuthenticationMode `json:"mode"`

	// TrustStore is the name or ARN of the trust store client certificates
	// are verified against.
	// +optional
	TrustStore *string `json:"trustStore,omitempty"`
}

// ShieldConfiguration is the AWS Shield Advanced setting of a Gateway's
// load balancer.
type ShieldConfiguration struct {
	// Enabled protects the load balancer with Shield Advanced.
	Enabled bool `json:"enabled,omitempty"`
}

// WAFv2Configuration is the AWS WAF setting of a Gateway's load balancer.
type WAFv2Configuration struct {
	// ACL is the web ACL associated with the load balancer.
	ACL string `json:"webACL"`
}

// ProtocolPort names a listener as PROTOCOL:PORT, e.g. HTTPS:443; either
// part may be left empty.
// +kubebuilder:validation:Pattern="^(HTTP|HTTPS|TLS|TCP|UDP|TCP_UDP)?:(6553[0-5]|655[0-2]\\d|65[0-4]\\d{2}|6[0-4]\\d{3}|[1-5]\\d{4}|[1-9]\\d{0,3})?$"
type ProtocolPort string

// ListenerConfiguration is the setting of one listener of the load
// balancer, the one ProtocolPort names.
type ListenerConfiguration struct {
	// ProtocolPort is the listener this setting applies to, as
	// PROTOCOL:PORT.
	ProtocolPort ProtocolPort `json:"protocolPort"`

	// DefaultCertificate is the ARN of the listener's default certificate.
	DefaultCertificate *string `json:"defaultCertificate,omitempty"`

	// Certificates are the ARNs of further certificates of the listener,
	// chosen by SNI.
	// +optional
	Certificates []*string `json:"certificates,omitempty"`

	// SslPolicy is the security policy (TLS versions and ciphers) of an
	// HTTPS or TLS listener.
	SslPolicy *string `json:"sslPolicy,omitempty"`

	// ALPNPolicy is the ALPN policy of a TLS listener.
	// +optional
	// +kubebuilder:default="None"
	ALPNPolicy *ALPNPolicy `json:"alpnPolicy,omitempty"`

	// TargetGroupStickiness keeps a client on one target group of a
	// listener forwarding to weighted target groups [Network Load
	// Balancer].
	// +optional
	TargetGroupStickiness *bool `json:"targetGroupStickiness,omitempty"`

	// MutualAuthentication is the listener's mutual TLS setting.
	// +optional
	MutualAuthentication *MutualAuthenticationAttributes `json:"mutualAuthentication,omitempty"`

	// ListenerAttributes are the listener's attributes.
	// +optional
	ListenerAttributes []ListenerAttribute `json:"listenerAttributes,omitempty"`

	// QuicEnabled turns a UDP listener into a QUIC one (and a TCP_UDP one
	// into TCP_QUIC).
	// +optional
	QuicEnabled *bool `json:"quicEnabled,omitempty"`
}

// LoadBalancerConfigurationSpec is the load balancer setting a Gateway or
// a GatewayClass refers to (spec.infrastructure.parametersRef and
// spec.parametersRef). Every field is optional; what is left out is
// inferred or defaulted by the controller.
type LoadBalancerConfigurationSpec struct {
	// MergingMode says which configuration wins a field set both by the
	// GatewayClass's configuration and by the Gateway's. Only the
	// GatewayClass's configuration's value counts; the default is
	// prefer-gateway-class.
	// +optional
	MergingMode *LoadBalancerConfigMergeMode `json:"mergingMode,omitempty"`

	// LoadBalancerName is the name of the load balancer; generated when
	// left out.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +optional
	LoadBalancerName *string `json:"loadBalancerName,omitempty"`

	// Scheme is the load balancer's scheme; inferred when left out.
	// +optional
	Scheme *LoadBalancerScheme `json:"scheme,omitempty"`

	// IpAddressType is the load balancer's IP address type.
	// +optional
	IpAddressType *LoadBalancerIpAddressType `json:"ipAddressType,omitempty"`

	// EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic ("on" or "off")
	// says whether inbound security group rules apply to traffic reaching
	// a Network Load Balancer through AWS PrivateLink.
	// +optional
	EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic *string `json:"enforceSecurityGroupInboundRulesOnPrivateLinkTraffic,omitempty"`

	// CustomerOwnedIpv4Pool is the ID of the customer-owned address pool
	// of an Application Load Balancer on Outposts.
	// +optional
	CustomerOwnedIpv4Pool *string `json:"customerOwnedIpv4Pool,omitempty"`

	// IPv4IPAMPoolId is the IPAM pool the IPv4 addresses of an
	// Application Load Balancer come from.
	// +optional
	IPv4IPAMPoolId *string `json:"ipv4IPAMPoolId,omitempty"`

	// LoadBalancerSubnets lists the load balancer's subnets; it wins over
	// LoadBalancerSubnetsSelector when both are set.
	// +optional
	LoadBalancerSubnets *[]SubnetConfiguration `json:"loadBalancerSubnets,omitempty"`

	// LoadBalancerSubnetsSelector selects the subnets of the load
	// balancer's VPC where each tag named by a key holds one of the values
	// listed for it.
	// +optional
	LoadBalancerSubnetsSelector *map[string][]string `json:"loadBalancerSubnetsSelector,omitempty"`

	// ListenerConfigurations are settings of individual listeners.
	// +optional
	ListenerConfigurations *[]ListenerConfiguration `json:"listenerConfigurations,omitempty"`

	// DisableSecurityGroup creates a Network Load Balancer without
	// security groups.
	DisableSecurityGroup *bool `json:"disableSecurityGroup,omitempty"`

	// SecurityGroups are the IDs or names of the security groups of the
	// load balancer, in place of the one the controller manages.
	// +optional
	SecurityGroups *[]string `json:"securityGroups,omitempty"`

	// SecurityGroupPrefixes are the managed prefix lists allowed to reach
	// the load balancer.
	// +optional
	SecurityGroupPrefixes *[]string `json:"securityGroupPrefixes,omitempty"`

	// SourceRanges are the CIDRs allowed to reach the load balancer.
	// +optional
	SourceRanges *[]string `json:"sourceRanges,omitempty"`

	// LoadBalancerAttributes are the load balancer's attributes.
	// +optional
	LoadBalancerAttributes []LoadBalancerAttribute `json:"loadBalancerAttributes,omitempty"`

	// Tags are AWS tags put on every resource created for the Gateway.
	// +optional
	Tags *map[string]string `json:"tags,omitempty"`

	// EnableICMP adds rules to the managed security group that let ICMP
	// through, for path MTU discovery [Network Load Balancer].
	// +optional
	EnableICMP *bool `json:"enableICMP,omitempty"`

	// ManageBackendSecurityGroupRules has the controller open the nodes'
	// and pods' security groups to the load balancer even when
	// SecurityGroups is set.
	// +optional
	ManageBackendSecurityGroupRules *bool `json:"manageBackendSecurityGroupRules,omitempty"`

	// MinimumLoadBalancerCapacity reserves capacity for the load balancer.
	// +optional
	MinimumLoadBalancerCapacity *MinimumLoadBalancerCapacity `json:"minimumLoadBalancerCapacity,omitempty"`

	// WAFv2 associates a web ACL with the load balancer [Application Load
	// Balancer].
	// +optional
	WAFv2 *WAFv2Configuration `json:"wafV2,omitempty"`

	// ShieldAdvanced is the load balancer's Shield Advanced setting
	// [Application Load Balancer].
	// +optional
	ShieldAdvanced *ShieldConfiguration `json:"shieldConfiguration,omitempty"`

	// DefaultTargetGroupConfiguration names a TargetGroupConfiguration of
	// this namespace whose defaults apply to every Service the Gateway
	// routes to; a Service's own TargetGroupConfiguration overrides them
	// field by field.
	// +optional
	DefaultTargetGroupConfiguration *DefaultTargetGroupConfigurationReference `json:"defaultTargetGroupConfiguration,omitempty"`
}

// DefaultTargetGroupConfigurationReference names a TargetGroupConfiguration
// of the referring object's namespace.
type DefaultTargetGroupConfigurationReference struct {
	// Name is the TargetGroupConfiguration's name.
	Name string `json:"name"`
}

// LoadBalancerConfigurationStatus is what the controller last saw of a
// LoadBalancerConfiguration.
type LoadBalancerConfigurationStatus struct {
	// ObservedGatewayConfigurationGeneration is the generation last
	// applied through a Gateway.
	// +optional
	ObservedGatewayConfigurationGeneration *int64 `json:"observedGatewayConfigurationGeneration,omitempty"`

	// ObservedGatewayClassConfigurationGeneration is the generation last
	// applied through a GatewayClass.
	// +optional
	ObservedGatewayClassConfigurationGeneration *int64 `json:"observedGatewayClassConfigurationGeneration,omitempty"`
}

// LoadBalancerConfiguration is the load balancer setting of a Gateway or a
// GatewayClass.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:deprecatedversion:warning="gateway.k8s.aws/v1beta1 LoadBalancerConfiguration is deprecated; use gateway.k8s.aws/v1 instead"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type LoadBalancerConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired setting.
	Spec LoadBalancerConfigurationSpec `json:"spec,omitempty"`
	// Status is what the controller last saw.
	Status LoadBalancerConfigurationStatus `json:"status,omitempty"`
}

// LoadBalancerConfigurationList is a list of LoadBalancerConfigurations.
// +kubebuilder:object:root=true
type LoadBalancerConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the LoadBalancerConfigurations.
	Items []LoadBalancerConfiguration `json:"items"`
}

// MinimumLoadBalancerCapacity is a capacity reservation of a load balancer.
type MinimumLoadBalancerCapacity struct {
	// CapacityUnits is the number of load balancer capacity units
	// reserved.
	CapacityUnits int32 `json:"capacityUnits"`
}
