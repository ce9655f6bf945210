package state

import (
	"fmt"
	"sort"
	"time"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The kinds of records, one bucket each.
var (
	LoadBalancers       = Kind[LoadBalancer]{Bucket: "elbv2.loadbalancers", Key: func(v *LoadBalancer) string { return v.ARN }}
	Listeners           = Kind[Listener]{Bucket: "elbv2.listeners", Key: func(v *Listener) string { return v.ARN }}
	Rules               = Kind[Rule]{Bucket: "elbv2.rules", Key: func(v *Rule) string { return v.ARN }}
	TargetGroups        = Kind[TargetGroup]{Bucket: "elbv2.targetgroups", Key: func(v *TargetGroup) string { return v.ARN }}
	Targets             = Kind[Target]{Bucket: "elbv2.targets", Key: func(v *Target) string { return TargetKey(v.TargetGroupARN, v.ID, v.Port) }}
	TrustStores         = Kind[TrustStore]{Bucket: "elbv2.truststores", Key: func(v *TrustStore) string { return v.ARN }}
	Tags                = Kind[TagSet]{Bucket: "tags", Key: func(v *TagSet) string { return v.Resource }}
	VPCs                = Kind[VPC]{Bucket: "ec2.vpcs", Key: func(v *VPC) string { return v.ID }}
	Subnets             = Kind[Subnet]{Bucket: "ec2.subnets", Key: func(v *Subnet) string { return v.ID }}
	RouteTables         = Kind[RouteTable]{Bucket: "ec2.routetables", Key: func(v *RouteTable) string { return v.ID }}
	InternetGateways    = Kind[InternetGateway]{Bucket: "ec2.internetgateways", Key: func(v *InternetGateway) string { return v.ID }}
	SecurityGroups      = Kind[SecurityGroup]{Bucket: "ec2.securitygroups", Key: func(v *SecurityGroup) string { return v.ID }}
	Instances           = Kind[Instance]{Bucket: "ec2.instances", Key: func(v *Instance) string { return v.ID }}
	NetworkInterfaces   = Kind[NetworkInterface]{Bucket: "ec2.networkinterfaces", Key: func(v *NetworkInterface) string { return v.ID }}
	Addresses           = Kind[Address]{Bucket: "ec2.addresses", Key: func(v *Address) string { return v.AllocationID }}
	Certificates        = Kind[Certificate]{Bucket: "acm.certificates", Key: func(v *Certificate) string { return v.ARN }}
	WebACLAssociations  = Kind[WebACLAssociation]{Bucket: "wafv2.associations", Key: func(v *WebACLAssociation) string { return v.ResourceARN }}
	WebACLs             = Kind[WebACL]{Bucket: "wafv2.webacls", Key: func(v *WebACL) string { return v.ARN }}
	LoopbackAllocations = Kind[LoopbackAllocation]{Bucket: "loopback", Key: func(v *LoopbackAllocation) string { return v.Address }}
)

// TargetKey is the key of a target record: its target group, ID and port,
// so that a target group's targets are one key prefix (TargetGroupPrefix).
func TargetKey(targetGroupARN, id string, port int32) string {
	return fmt.Sprintf("%s %s %05d", targetGroupARN, id, port)
}

// TargetGroupPrefix is the key prefix of a target group's targets.
func TargetGroupPrefix(targetGroupARN string) string { return targetGroupARN + " " }

// LoadBalancer is an ELBv2 load balancer (application, network or gateway).
type LoadBalancer struct {
	ARN                   string    `json:"arn"`
	Name                  string    `json:"name"`
	Type                  string    `json:"type"`   // application | network | gateway
	Scheme                string    `json:"scheme"` // internet-facing | internal
	IPAddressType         string    `json:"ipAddressType"`
	VpcID                 string    `json:"vpcID"`
	DNSName               string    `json:"dnsName"`
	CanonicalHostedZoneID string    `json:"canonicalHostedZoneID"`
	CreatedTime           time.Time `json:"createdTime"`
	// State is provisioning until ActiveAt, then active (or failed).
	State    string    `json:"state"`
	ActiveAt time.Time `json:"activeAt"`
	Zones    []LBZone  `json:"zones"`
	// SecurityGroups are the load balancer's security group IDs.
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// SecurityGroupsEnabled is false for a network load balancer created
	// without security groups: AWS does not let one be added later.
	SecurityGroupsEnabled bool `json:"securityGroupsEnabled"`
	// Attributes hold every attribute key of the type, defaults included.
	Attributes                                           map[string]string `json:"attributes"`
	CustomerOwnedIPv4Pool                                string            `json:"customerOwnedIPv4Pool,omitempty"`
	EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic string            `json:"enforceSecurityGroupInboundRulesOnPrivateLinkTraffic,omitempty"`
	EnablePrefixForIPv6SourceNat                         string            `json:"enablePrefixForIPv6SourceNat,omitempty"`
	IPv4IPAMPoolID                                       string            `json:"ipv4IPAMPoolID,omitempty"`
	// MinimumCapacityUnits is the capacity reservation (0: none).
	MinimumCapacityUnits int32     `json:"minimumCapacityUnits,omitempty"`
	CapacityModifiedAt   time.Time `json:"capacityModifiedAt,omitempty"`
	// CapacityDecreases are when the capacity reservation was lowered
	// (or reset) in the last day: AWS allows two decreases a day.
	CapacityDecreases []time.Time `json:"capacityDecreases,omitempty"`
}

// LBZone is the load balancer's presence in one availability zone.
type LBZone struct {
	ZoneName string `json:"zoneName"`
	ZoneID   string `json:"zoneID"`
	SubnetID string `json:"subnetID"`
	// Address is the host (loopback) address the load balancer listens on
	// in this zone: from the load-balancer pool, or the Elastic IP's
	// address. It is returned as LoadBalancerAddresses[].IpAddress.
	Address string `json:"address"`
	// PrivateIPv4Address is the load balancer node's VPC address in the
	// subnet (given for an NLB, else allocated). Data planes and health
	// checks connect to targets from its mapped host address, so targets
	// see the load balancer's VPC address as on AWS.
	PrivateIPv4Address string `json:"privateIPv4Address"`
	// AllocationID is the Elastic IP given for this zone, if any.
	AllocationID string `json:"allocationID,omitempty"`
	IPv6Address  string `json:"ipv6Address,omitempty"`
}

// Listener is a load balancer listener. Its default rule is not a Rule
// record: DescribeRules presents DefaultActions under DefaultRuleARN.
type Listener struct {
	ARN             string `json:"arn"`
	LoadBalancerARN string `json:"loadBalancerARN"`
	Port            int32  `json:"port"`
	Protocol        string `json:"protocol"`
	SSLPolicy       string `json:"sslPolicy,omitempty"`
	// Certificates: the default certificate first (Default true), then
	// the SNI certificates added with AddListenerCertificates.
	Certificates         []ListenerCertificate                      `json:"certificates,omitempty"`
	AlpnPolicy           []string                                   `json:"alpnPolicy,omitempty"`
	DefaultActions       []elbv2types.Action                        `json:"defaultActions"`
	DefaultRuleARN       string                                     `json:"defaultRuleARN"`
	MutualAuthentication *elbv2types.MutualAuthenticationAttributes `json:"mutualAuthentication,omitempty"`
	// Attributes hold every listener attribute key of the protocol.
	Attributes map[string]string `json:"attributes"`
}

// ListenerCertificate is a certificate attached to a listener.
type ListenerCertificate struct {
	ARN     string `json:"arn"`
	Default bool   `json:"default"`
}

// Rule is a non-default listener rule.
type Rule struct {
	ARN         string                     `json:"arn"`
	ListenerARN string                     `json:"listenerARN"`
	Priority    int32                      `json:"priority"`
	Conditions  []elbv2types.RuleCondition `json:"conditions"`
	Actions     []elbv2types.Action        `json:"actions"`
	Transforms  []elbv2types.RuleTransform `json:"transforms,omitempty"`
}

// TargetGroup is an ELBv2 target group. The load balancers that use it are
// derived from listeners and rules (Snapshot.LoadBalancersOfTargetGroup).
type TargetGroup struct {
	ARN             string `json:"arn"`
	Name            string `json:"name"`
	TargetType      string `json:"targetType"` // instance | ip | lambda | alb
	Protocol        string `json:"protocol,omitempty"`
	ProtocolVersion string `json:"protocolVersion,omitempty"` // HTTP1 | HTTP2 | GRPC
	Port            int32  `json:"port,omitempty"`
	VpcID           string `json:"vpcID,omitempty"`
	IPAddressType   string `json:"ipAddressType,omitempty"`

	HealthCheckEnabled         bool   `json:"healthCheckEnabled"`
	HealthCheckProtocol        string `json:"healthCheckProtocol,omitempty"`
	HealthCheckPort            string `json:"healthCheckPort,omitempty"` // a number or "traffic-port"
	HealthCheckPath            string `json:"healthCheckPath,omitempty"`
	HealthCheckIntervalSeconds int32  `json:"healthCheckIntervalSeconds,omitempty"`
	HealthCheckTimeoutSeconds  int32  `json:"healthCheckTimeoutSeconds,omitempty"`
	HealthyThresholdCount      int32  `json:"healthyThresholdCount,omitempty"`
	UnhealthyThresholdCount    int32  `json:"unhealthyThresholdCount,omitempty"`
	// MatcherHTTPCode / MatcherGRPCCode are the success codes
	// ("200", "200,202", "200-299"; gRPC "12", "0-99").
	MatcherHTTPCode   string `json:"matcherHTTPCode,omitempty"`
	MatcherGRPCCode   string `json:"matcherGRPCCode,omitempty"`
	TargetControlPort int32  `json:"targetControlPort,omitempty"`
	// Attributes hold every attribute key of the target group's type.
	Attributes  map[string]string `json:"attributes"`
	CreatedTime time.Time         `json:"createdTime"`
}

// Target is a target registered in a target group.
type Target struct {
	TargetGroupARN string `json:"targetGroupARN"`
	// ID is an IP address, an instance ID, a Lambda ARN or an ALB ARN.
	ID string `json:"id"`
	// Port is the port traffic goes to: the registered port, or the
	// target group's port when none was given.
	Port int32 `json:"port"`
	// AvailabilityZone as registered ("all" allowed); empty means the
	// zone of the instance or of the subnet holding the IP.
	AvailabilityZone string    `json:"availabilityZone,omitempty"`
	QuicServerID     string    `json:"quicServerID,omitempty"`
	RegisteredAt     time.Time `json:"registeredAt"`
	// DrainUntil is set when the target was deregistered: it is draining
	// until then, and the record is removed afterwards.
	DrainUntil time.Time `json:"drainUntil,omitempty"`
}

// Draining reports whether the target was deregistered and is draining.
func (t *Target) Draining() bool { return !t.DrainUntil.IsZero() }

// TrustStore is an ELBv2 mutual-TLS trust store.
type TrustStore struct {
	ARN                    string    `json:"arn"`
	Name                   string    `json:"name"`
	Status                 string    `json:"status"`
	NumberOfCACertificates int32     `json:"numberOfCACertificates"`
	CABundlePEM            string    `json:"caBundlePEM,omitempty"`
	CreatedTime            time.Time `json:"createdTime"`
}

// TagSet is the tags of one resource (an ELBv2 ARN, an EC2 resource ID or
// an ACM ARN), in the order they were first added.
type TagSet struct {
	Resource string `json:"resource"`
	Tags     []Tag  `json:"tags"`
}

// Tag is a key and a value.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SortedTags returns the tags of a key-value map, by key.
func SortedTags(m map[string]string) []Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Tag, len(keys))
	for i, k := range keys {
		out[i] = Tag{Key: k, Value: m[k]}
	}
	return out
}

// Get returns the value of a tag key.
func (s *TagSet) Get(key string) (string, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Set adds a tag or replaces the value of an existing key.
func (s *TagSet) Set(key, value string) {
	for i := range s.Tags {
		if s.Tags[i].Key == key {
			s.Tags[i].Value = value
			return
		}
	}
	s.Tags = append(s.Tags, Tag{Key: key, Value: value})
}

// Remove deletes a tag key and reports whether it was there.
func (s *TagSet) Remove(key string) bool {
	for i := range s.Tags {
		if s.Tags[i].Key == key {
			s.Tags = append(s.Tags[:i], s.Tags[i+1:]...)
			return true
		}
	}
	return false
}

// VPC is an EC2 VPC.
type VPC struct {
	ID        string `json:"id"`
	CIDR      string `json:"cidr"`
	IPv6CIDR  string `json:"ipv6CIDR,omitempty"`
	State     string `json:"state"`
	IsDefault bool   `json:"isDefault"`
	OwnerID   string `json:"ownerID"`
}

// Subnet is an EC2 subnet.
type Subnet struct {
	ID                  string `json:"id"`
	VpcID               string `json:"vpcID"`
	AvailabilityZone    string `json:"availabilityZone"`
	AvailabilityZoneID  string `json:"availabilityZoneID"`
	CIDR                string `json:"cidr"`
	IPv6CIDR            string `json:"ipv6CIDR,omitempty"`
	MapPublicIPOnLaunch bool   `json:"mapPublicIPOnLaunch"`
	State               string `json:"state"`
	OwnerID             string `json:"ownerID"`
}

// RouteTable is an EC2 route table.
type RouteTable struct {
	ID      string   `json:"id"`
	VpcID   string   `json:"vpcID"`
	Main    bool     `json:"main"`
	Subnets []string `json:"subnets,omitempty"` // explicitly associated subnets
	Routes  []Route  `json:"routes"`
	OwnerID string   `json:"ownerID"`
}

// Route is one route of a route table.
type Route struct {
	DestinationCIDR string `json:"destinationCIDR"`
	GatewayID       string `json:"gatewayID"` // "local", igw-…
}

// InternetGateway is an EC2 internet gateway.
type InternetGateway struct {
	ID      string `json:"id"`
	VpcID   string `json:"vpcID,omitempty"` // attached VPC
	OwnerID string `json:"ownerID"`
}

// SecurityGroup is an EC2 security group. Rules are kept one source per
// rule (as AWS's security group rules are), so duplicates and revocations
// compare simply.
type SecurityGroup struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	VpcID       string   `json:"vpcID"`
	OwnerID     string   `json:"ownerID"`
	Rules       []SGRule `json:"rules,omitempty"`
}

// SGRule is one security group rule with one source or destination.
type SGRule struct {
	ID     string `json:"id"` // sgr-…
	Egress bool   `json:"egress,omitempty"`
	// Protocol is "tcp", "udp", "icmp", "icmpv6", "-1" or a number.
	Protocol      string `json:"protocol"`
	FromPort      int32  `json:"fromPort"`
	ToPort        int32  `json:"toPort"`
	CIDRIPv4      string `json:"cidrIPv4,omitempty"`
	CIDRIPv6      string `json:"cidrIPv6,omitempty"`
	PrefixListID  string `json:"prefixListID,omitempty"`
	SourceGroupID string `json:"sourceGroupID,omitempty"`
	Description   string `json:"description,omitempty"`
}

// Instance is an EC2 instance.
type Instance struct {
	ID               string    `json:"id"`
	SubnetID         string    `json:"subnetID"`
	VpcID            string    `json:"vpcID"`
	AvailabilityZone string    `json:"availabilityZone"`
	PrivateIP        string    `json:"privateIP"`
	PrivateDNSName   string    `json:"privateDNSName"`
	InstanceType     string    `json:"instanceType"`
	State            string    `json:"state"` // running, stopped, terminated, …
	SecurityGroups   []string  `json:"securityGroups,omitempty"`
	LaunchTime       time.Time `json:"launchTime"`
	// NetworkInterfaceID is the primary network interface.
	NetworkInterfaceID string `json:"networkInterfaceID,omitempty"`
	// ReservationID is the launch request (r-…) the instance came from.
	ReservationID string `json:"reservationID,omitempty"`
	// ImageID is the AMI named at launch, if any (the local ELB runs no
	// image).
	ImageID string `json:"imageID,omitempty"`
	// TerminatedAt is when the instance was terminated; EC2 keeps
	// describing a terminated instance for about an hour.
	TerminatedAt time.Time `json:"terminatedAt,omitzero"`
}

// NetworkInterface is an EC2 network interface (an instance's, a load
// balancer node's, or a pod's).
type NetworkInterface struct {
	ID               string   `json:"id"`
	SubnetID         string   `json:"subnetID"`
	VpcID            string   `json:"vpcID"`
	AvailabilityZone string   `json:"availabilityZone"`
	Description      string   `json:"description,omitempty"`
	InterfaceType    string   `json:"interfaceType"` // interface, network_load_balancer, …
	PrivateIPs       []string `json:"privateIPs"`    // primary first
	IPv6Addresses    []string `json:"ipv6Addresses,omitempty"`
	SecurityGroups   []string `json:"securityGroups,omitempty"`
	InstanceID       string   `json:"instanceID,omitempty"`
	RequesterID      string   `json:"requesterID,omitempty"`
	Status           string   `json:"status"`
	// AttachmentID, DeviceIndex and DeleteOnTermination describe an
	// attachment made by AttachNetworkInterface; an instance's primary
	// interface (device index 0, deleted with the instance) has none.
	AttachmentID        string    `json:"attachmentID,omitempty"`
	DeviceIndex         int32     `json:"deviceIndex,omitempty"`
	DeleteOnTermination bool      `json:"deleteOnTermination,omitempty"`
	AttachTime          time.Time `json:"attachTime,omitzero"`
}

// Address is an Elastic IP. PublicIP is a host (loopback) address from the
// Elastic IP pool.
type Address struct {
	AllocationID       string `json:"allocationID"`
	PublicIP           string `json:"publicIP"`
	Domain             string `json:"domain"` // vpc
	AssociationID      string `json:"associationID,omitempty"`
	NetworkInterfaceID string `json:"networkInterfaceID,omitempty"`
	PrivateIPAddress   string `json:"privateIPAddress,omitempty"`
	// LoadBalancerARN is the load balancer that uses the address, if any.
	LoadBalancerARN string `json:"loadBalancerARN,omitempty"`
}

// Certificate is an ACM certificate with its key material.
type Certificate struct {
	ARN                     string    `json:"arn"`
	DomainName              string    `json:"domainName"`
	SubjectAlternativeNames []string  `json:"subjectAlternativeNames,omitempty"`
	Status                  string    `json:"status"`       // ISSUED, PENDING_VALIDATION, …
	Type                    string    `json:"type"`         // IMPORTED | AMAZON_ISSUED | PRIVATE
	KeyAlgorithm            string    `json:"keyAlgorithm"` // RSA_2048, EC_prime256v1, …
	Serial                  string    `json:"serial,omitempty"`
	Subject                 string    `json:"subject,omitempty"`
	Issuer                  string    `json:"issuer,omitempty"`
	NotBefore               time.Time `json:"notBefore"`
	NotAfter                time.Time `json:"notAfter"`
	CreatedAt               time.Time `json:"createdAt"`
	IssuedAt                time.Time `json:"issuedAt,omitempty"`
	ImportedAt              time.Time `json:"importedAt,omitempty"`
	CertificatePEM          string    `json:"certificatePEM"`
	ChainPEM                string    `json:"chainPEM,omitempty"`
	PrivateKeyPEM           string    `json:"privateKeyPEM"`
}

// WebACLAssociation records a WAFv2 web ACL associated with a resource.
type WebACLAssociation struct {
	ResourceARN string `json:"resourceARN"`
	WebACLARN   string `json:"webACLARN"`
}

// WebACL is a WAFv2 web ACL the local WAF holds as a record: one
// auto-provisioned because a request named it (--auto-provision-references).
// Web ACLs of the local region and account are otherwise not modelled
// (any well-formed ARN of them can be associated).
type WebACL struct {
	ARN       string    `json:"arn"`
	Name      string    `json:"name"`
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// LoopbackAllocation records a host address handed out from a pool, so
// that addresses stay stable across restarts and are never given twice.
type LoopbackAllocation struct {
	Address string `json:"address"`
	Pool    string `json:"pool"`
	// Owner is the resource holding the address (a load balancer zone
	// "ARN zone", or an Elastic IP allocation ID).
	Owner string `json:"owner"`
}
