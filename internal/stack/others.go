package stack

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// IPRange is an IPv4 source of a security group rule.
type IPRange struct {
	CIDRIP      string `json:"cidrIP"`
	Description string `json:"description,omitempty"`
}

// IPv6Range is an IPv6 source of a security group rule.
type IPv6Range struct {
	CIDRIPv6    string `json:"cidrIPv6"`
	Description string `json:"description,omitempty"`
}

// UserIDGroupPair is a security group source of a security group rule.
type UserIDGroupPair struct {
	GroupID     string `json:"groupID"`
	Description string `json:"description,omitempty"`
}

// PrefixList is a prefix list source of a security group rule.
type PrefixList struct {
	ListID      string `json:"listID"`
	Description string `json:"description,omitempty"`
}

// IPPermission is an inbound security group rule.
type IPPermission struct {
	IPProtocol       string            `json:"ipProtocol"`
	FromPort         *int32            `json:"fromPort,omitempty"`
	ToPort           *int32            `json:"toPort,omitempty"`
	IPRanges         []IPRange         `json:"ipRanges,omitempty"`
	IPv6Ranges       []IPv6Range       `json:"ipv6Ranges,omitempty"`
	UserIDGroupPairs []UserIDGroupPair `json:"userIDGroupPairs,omitempty"`
	PrefixLists      []PrefixList      `json:"prefixLists,omitempty"`
}

// SecurityGroupSpec is the desired state of a security group.
type SecurityGroupSpec struct {
	GroupName   string            `json:"groupName"`
	Description string            `json:"description"`
	Tags        map[string]string `json:"tags,omitempty"`
	Ingress     []IPPermission    `json:"ingress,omitempty"`
}

// SecurityGroupStatus is what the deployer learns once the group exists.
type SecurityGroupStatus struct {
	GroupID string `json:"groupID"`
}

// SecurityGroup is an EC2 security group elbow manages for a load balancer.
type SecurityGroup struct {
	ResID  string               `json:"-"`
	Spec   SecurityGroupSpec    `json:"spec"`
	Status *SecurityGroupStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *SecurityGroup) ID() string { return r.ResID }

// Type returns TypeSecurityGroup.
func (r *SecurityGroup) Type() string { return TypeSecurityGroup }

// GroupID refers to the security group's ID.
func (r *SecurityGroup) GroupID() Token { return RefTo(TypeSecurityGroup, r.ResID, "groupID") }

// TGBSecurityGroup is a security group peer of a binding's networking rule.
type TGBSecurityGroup struct {
	GroupID Token `json:"groupID"`
}

// NetworkingPeer is the source of a binding's networking rule.
type NetworkingPeer struct {
	IPBlock       *elbv2api.IPBlock `json:"ipBlock,omitempty"`
	SecurityGroup *TGBSecurityGroup `json:"securityGroup,omitempty"`
}

// NetworkingIngressRule lets peers reach the targets on ports.
type NetworkingIngressRule struct {
	From  []NetworkingPeer          `json:"from"`
	Ports []elbv2api.NetworkingPort `json:"ports"`
}

// TGBNetworking holds a binding's networking rules.
type TGBNetworking struct {
	Ingress []NetworkingIngressRule `json:"ingress,omitempty"`
}

// TGBSpec is the spec of the TargetGroupBinding object to create.
type TGBSpec struct {
	TargetGroupARN          Token                             `json:"targetGroupARN"`
	TargetType              *elbv2api.TargetType              `json:"targetType,omitempty"`
	ServiceRef              elbv2api.ServiceReference         `json:"serviceRef"`
	Networking              *TGBNetworking                    `json:"networking,omitempty"`
	NodeSelector            *metav1.LabelSelector             `json:"nodeSelector,omitempty"`
	IPAddressType           elbv2api.TargetGroupIPAddressType `json:"ipAddressType,omitempty"`
	VpcID                   string                            `json:"vpcID,omitempty"`
	MultiClusterTargetGroup bool                              `json:"multiClusterTargetGroup,omitempty"`
	TargetGroupProtocol     *Protocol                         `json:"targetGroupProtocol,omitempty"`
}

// TGBTemplate is the TargetGroupBinding object to create.
type TGBTemplate struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              TGBSpec `json:"spec"`
}

// TargetGroupBindingSpec is the desired state of a binding resource.
type TargetGroupBindingSpec struct {
	Template TGBTemplate `json:"template"`
}

// TargetGroupBindingStatus is what the deployer learns once the object exists.
type TargetGroupBindingStatus struct {
	TargetGroupBindingRef ObjectReference `json:"targetGroupBindingRef"`
}

// ObjectReference names a Kubernetes object.
type ObjectReference struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// TargetGroupBinding is the TargetGroupBinding object that keeps a target
// group's targets registered. Its ID is its target group's ID.
type TargetGroupBinding struct {
	ResID  string                    `json:"-"`
	Spec   TargetGroupBindingSpec    `json:"spec"`
	Status *TargetGroupBindingStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *TargetGroupBinding) ID() string { return r.ResID }

// Type returns TypeTargetGroupBinding.
func (r *TargetGroupBinding) Type() string { return TypeTargetGroupBinding }

// WAFv2AssociationSpec associates a WAFv2 web ACL with a load balancer; an
// empty WebACLARN removes any association.
type WAFv2AssociationSpec struct {
	WebACLARN   string `json:"webACLARN"`
	ResourceARN Token  `json:"resourceARN"`
}

// WAFv2Association is a WAFv2 web ACL association.
type WAFv2Association struct {
	ResID string               `json:"-"`
	Spec  WAFv2AssociationSpec `json:"spec"`
}

// ID returns the resource ID.
func (r *WAFv2Association) ID() string { return r.ResID }

// Type returns TypeWAFv2WebACLAssociation.
func (r *WAFv2Association) Type() string { return TypeWAFv2WebACLAssociation }

// WAFRegionalAssociationSpec associates a WAF Classic regional web ACL with
// a load balancer; an empty WebACLID removes any association.
type WAFRegionalAssociationSpec struct {
	WebACLID    string `json:"webACLID"`
	ResourceARN Token  `json:"resourceARN"`
}

// WAFRegionalAssociation is a WAF Classic regional web ACL association.
type WAFRegionalAssociation struct {
	ResID string                     `json:"-"`
	Spec  WAFRegionalAssociationSpec `json:"spec"`
}

// ID returns the resource ID.
func (r *WAFRegionalAssociation) ID() string { return r.ResID }

// Type returns TypeWAFRegionalWebACLAssociation.
func (r *WAFRegionalAssociation) Type() string { return TypeWAFRegionalWebACLAssociation }

// ShieldProtectionSpec turns Shield Advanced protection on or off.
type ShieldProtectionSpec struct {
	Enabled     bool  `json:"enabled"`
	ResourceARN Token `json:"resourceARN"`
}

// ShieldProtection is a Shield Advanced protection.
type ShieldProtection struct {
	ResID string               `json:"-"`
	Spec  ShieldProtectionSpec `json:"spec"`
}

// ID returns the resource ID.
func (r *ShieldProtection) ID() string { return r.ResID }

// Type returns TypeShieldProtection.
func (r *ShieldProtection) Type() string { return TypeShieldProtection }

// FrontendNLBTarget is the wiring of one frontend NLB target group to its
// ALB listener (the ALB is the target, registered on TargetPort).
type FrontendNLBTarget struct {
	Name       string
	ARN        Token
	Port       int32
	TargetARN  Token
	TargetPort int32
}

// FrontendNLBTargetGroups is the Ingress-only pseudo-resource that tells the
// deployer which ALB to register in which frontend NLB target group, keyed
// by target group name. Its JSON keys are capitalised, as in the reference
// controller's stack JSON, and it is present (possibly empty) in every
// Ingress stack.
type FrontendNLBTargetGroups struct {
	TargetGroups map[string]*FrontendNLBTarget
}

// ID returns IDFrontendNLBTargetGroup.
func (r *FrontendNLBTargetGroups) ID() string { return IDFrontendNLBTargetGroup }

// Type returns TypeFrontendNLBTargetGroup.
func (r *FrontendNLBTargetGroups) Type() string { return TypeFrontendNLBTargetGroup }
