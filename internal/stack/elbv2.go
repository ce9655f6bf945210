package stack

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Resource types: the keys of the stack JSON's "resources" object.
const (
	TypeLoadBalancer                 = "AWS::ElasticLoadBalancingV2::LoadBalancer"
	TypeListener                     = "AWS::ElasticLoadBalancingV2::Listener"
	TypeListenerRule                 = "AWS::ElasticLoadBalancingV2::ListenerRule"
	TypeTargetGroup                  = "AWS::ElasticLoadBalancingV2::TargetGroup"
	TypeTargetGroupBinding           = "K8S::ElasticLoadBalancingV2::TargetGroupBinding"
	TypeSecurityGroup                = "AWS::EC2::SecurityGroup"
	TypeWAFv2WebACLAssociation       = "AWS::WAFv2::WebACLAssociation"
	TypeWAFRegionalWebACLAssociation = "AWS::WAFRegional::WebACLAssociation"
	TypeShieldProtection             = "AWS::Shield::Protection"
	TypeFrontendNLBTargetGroup       = "FrontendNLBTargetGroup"
)

// Well-known resource IDs.
const (
	// IDLoadBalancer is the ID of a stack's load balancer, and of the add-ons
	// attached to it (WAF associations, Shield protection).
	IDLoadBalancer = "LoadBalancer"
	// IDFrontendNLB is the ID of an Ingress group's frontend NLB.
	IDFrontendNLB = "FrontendNlb"
	// IDManagedSecurityGroup is the ID of the security group elbow creates
	// for a load balancer.
	IDManagedSecurityGroup = "ManagedLBSecurityGroup"
	// IDFrontendNLBTargetGroup is the ID of the frontend NLB pseudo-resource.
	IDFrontendNLBTargetGroup = "FrontendNLBTargetGroup"
)

// LoadBalancerType is the type of a load balancer.
type LoadBalancerType string

// Load balancer types.
const (
	LoadBalancerTypeApplication LoadBalancerType = "application"
	LoadBalancerTypeNetwork     LoadBalancerType = "network"
)

// Scheme is a load balancer's scheme.
type Scheme string

// Schemes.
const (
	SchemeInternal       Scheme = "internal"
	SchemeInternetFacing Scheme = "internet-facing"
)

// IPAddressType is a load balancer's IP address type.
type IPAddressType string

// IP address types.
const (
	IPAddressTypeIPv4                       IPAddressType = "ipv4"
	IPAddressTypeDualStack                  IPAddressType = "dualstack"
	IPAddressTypeDualStackWithoutPublicIPv4 IPAddressType = "dualstack-without-public-ipv4"
)

// SubnetMapping places a load balancer in a subnet, optionally with fixed
// addresses (NLB).
type SubnetMapping struct {
	AllocationID        *string `json:"allocationID,omitempty"`
	PrivateIPv4Address  *string `json:"privateIPv4Address,omitempty"`
	IPv6Address         *string `json:"ipv6Address,omitempty"`
	SourceNatIPv6Prefix *string `json:"sourceNatIpv6Prefix,omitempty"`
	SubnetID            string  `json:"subnetID"`
}

// Attribute is a load balancer or target group attribute.
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ListenerAttribute is a listener attribute. Its JSON keys are capitalised,
// as in the reference controller's stack JSON.
type ListenerAttribute struct {
	Key   string
	Value string
}

// MinimumCapacity is a load balancer capacity reservation.
type MinimumCapacity struct {
	CapacityUnits int32 `json:"capacityUnits"`
}

// LoadBalancerSpec is the desired state of a load balancer.
type LoadBalancerSpec struct {
	Name                                    string            `json:"name"`
	Type                                    LoadBalancerType  `json:"type"`
	Scheme                                  Scheme            `json:"scheme,omitempty"`
	IPAddressType                           IPAddressType     `json:"ipAddressType,omitempty"`
	EnablePrefixForIPv6SourceNat            string            `json:"enablePrefixForIpv6SourceNat,omitempty"`
	SubnetMappings                          []SubnetMapping   `json:"subnetMapping,omitempty"`
	SecurityGroups                          []Token           `json:"securityGroups,omitempty"`
	SecurityGroupsInboundRulesOnPrivateLink *string           `json:"securityGroupsInboundRulesOnPrivateLink,omitempty"`
	CustomerOwnedIPv4Pool                   *string           `json:"customerOwnedIPv4Pool,omitempty"`
	LoadBalancerAttributes                  []Attribute       `json:"loadBalancerAttributes,omitempty"`
	MinimumLoadBalancerCapacity             *MinimumCapacity  `json:"minimumLoadBalancerCapacity,omitempty"`
	Tags                                    map[string]string `json:"tags,omitempty"`
	IPv4IPAMPool                            *string           `json:"ipv4IPAMPool,omitempty"`
}

// LoadBalancerState is the provisioning state the ELBv2 API reports.
type LoadBalancerState struct {
	Code   string `json:"Code,omitempty"`
	Reason string `json:"Reason,omitempty"`
}

// LoadBalancerStatus is what the deployer learns once the load balancer exists.
type LoadBalancerStatus struct {
	LoadBalancerARN   string             `json:"loadBalancerARN"`
	DNSName           string             `json:"dnsName"`
	ProvisioningState *LoadBalancerState `json:"provisioningState"`
	// StaticAddresses are an NLB's addresses of its subnet mappings'
	// Elastic IPs and private IPv4 allocations, in zone order.
	StaticAddresses []string `json:"staticAddresses,omitempty"`
}

// LoadBalancer is an ELBv2 load balancer.
type LoadBalancer struct {
	ResID  string              `json:"-"`
	Spec   LoadBalancerSpec    `json:"spec"`
	Status *LoadBalancerStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *LoadBalancer) ID() string { return r.ResID }

// Type returns TypeLoadBalancer.
func (r *LoadBalancer) Type() string { return TypeLoadBalancer }

// ARN refers to the load balancer's ARN.
func (r *LoadBalancer) ARN() Token { return RefTo(TypeLoadBalancer, r.ResID, "loadBalancerARN") }

// DNSName refers to the load balancer's DNS name.
func (r *LoadBalancer) DNSName() Token { return RefTo(TypeLoadBalancer, r.ResID, "dnsName") }

// Protocol is a listener or target group protocol.
type Protocol string

// Protocols.
const (
	ProtocolHTTP    Protocol = "HTTP"
	ProtocolHTTPS   Protocol = "HTTPS"
	ProtocolTCP     Protocol = "TCP"
	ProtocolTLS     Protocol = "TLS"
	ProtocolUDP     Protocol = "UDP"
	ProtocolTCPUDP  Protocol = "TCP_UDP"
	ProtocolQUIC    Protocol = "QUIC"
	ProtocolTCPQUIC Protocol = "TCP_QUIC"
)

// ProtocolVersion is an ALB target group's protocol version.
type ProtocolVersion string

// Protocol versions.
const (
	ProtocolVersionHTTP1 ProtocolVersion = "HTTP1"
	ProtocolVersionHTTP2 ProtocolVersion = "HTTP2"
	ProtocolVersionGRPC  ProtocolVersion = "GRPC"
)

// ActionType is the type of a listener or rule action.
type ActionType string

// Action types.
const (
	ActionTypeAuthenticateCognito ActionType = "authenticate-cognito"
	ActionTypeAuthenticateOIDC    ActionType = "authenticate-oidc"
	ActionTypeFixedResponse       ActionType = "fixed-response"
	ActionTypeForward             ActionType = "forward"
	ActionTypeJwtValidation       ActionType = "jwt-validation"
	ActionTypeRedirect            ActionType = "redirect"
)

// MutualAuthentication is an HTTPS listener's mutual TLS configuration.
type MutualAuthentication struct {
	Mode                          string  `json:"mode"`
	TrustStoreArn                 *string `json:"trustStoreArn,omitempty"`
	IgnoreClientCertificateExpiry *bool   `json:"ignoreClientCertificateExpiry,omitempty"`
	AdvertiseTrustStoreCaNames    *string `json:"advertiseTrustStoreCaNames,omitempty"`
}

// AuthenticateCognitoConfig is an authenticate-cognito action.
type AuthenticateCognitoConfig struct {
	AuthenticationRequestExtraParams map[string]string `json:"authenticationRequestExtraParams,omitempty"`
	OnUnauthenticatedRequest         string            `json:"onUnauthenticatedRequest,omitempty"`
	Scope                            *string           `json:"scope,omitempty"`
	SessionCookieName                *string           `json:"sessionCookieName,omitempty"`
	SessionTimeout                   *int64            `json:"sessionTimeout,omitempty"`
	UserPoolARN                      string            `json:"userPoolARN"`
	UserPoolClientID                 string            `json:"userPoolClientID"`
	UserPoolDomain                   string            `json:"userPoolDomain"`
}

// AuthenticateOIDCConfig is an authenticate-oidc action. Its client ID and
// secret are redacted in JSON, as in the reference controller.
type AuthenticateOIDCConfig struct {
	AuthenticationRequestExtraParams map[string]string `json:"authenticationRequestExtraParams,omitempty"`
	OnUnauthenticatedRequest         string            `json:"onUnauthenticatedRequest,omitempty"`
	Scope                            *string           `json:"scope,omitempty"`
	SessionCookieName                *string           `json:"sessionCookieName,omitempty"`
	SessionTimeout                   *int64            `json:"sessionTimeout,omitempty"`
	Issuer                           string            `json:"issuer"`
	AuthorizationEndpoint            string            `json:"authorizationEndpoint"`
	TokenEndpoint                    string            `json:"tokenEndpoint"`
	UserInfoEndpoint                 string            `json:"userInfoEndpoint"`
	ClientID                         string            `json:"clientID"`
	ClientSecret                     string            `json:"clientSecret"`
}

// Redacted is the value the JSON form shows in place of OIDC client
// credentials.
const Redacted = "[REDACTED]"

// MarshalJSON implements json.Marshaler, redacting the client credentials.
func (c AuthenticateOIDCConfig) MarshalJSON() ([]byte, error) {
	type plain AuthenticateOIDCConfig
	p := plain(c)
	p.ClientID, p.ClientSecret = Redacted, Redacted
	return json.Marshal(p)
}

// JwtAdditionalClaim is a claim a jwt-validation action checks.
type JwtAdditionalClaim struct {
	Format string   `json:"format"`
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// JwtValidationConfig is a jwt-validation action.
type JwtValidationConfig struct {
	JwksEndpoint     string               `json:"jwksEndpoint"`
	Issuer           string               `json:"issuer"`
	AdditionalClaims []JwtAdditionalClaim `json:"additionalClaims,omitempty"`
}

// FixedResponseConfig is a fixed-response action.
type FixedResponseConfig struct {
	ContentType *string `json:"contentType,omitempty"`
	MessageBody *string `json:"messageBody,omitempty"`
	StatusCode  string  `json:"statusCode"`
}

// RedirectConfig is a redirect action.
type RedirectConfig struct {
	Host       *string `json:"host,omitempty"`
	Path       *string `json:"path,omitempty"`
	Port       *string `json:"port,omitempty"`
	Protocol   *string `json:"protocol,omitempty"`
	Query      *string `json:"query,omitempty"`
	StatusCode string  `json:"statusCode"`
}

// TargetGroupTuple is one target group of a forward action.
type TargetGroupTuple struct {
	TargetGroupARN Token  `json:"targetGroupARN"`
	Weight         *int32 `json:"weight,omitempty"`
}

// TargetGroupStickinessConfig is a forward action's target group stickiness.
type TargetGroupStickinessConfig struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	DurationSeconds *int32 `json:"durationSeconds,omitempty"`
}

// ForwardConfig is a forward action.
type ForwardConfig struct {
	TargetGroups                []TargetGroupTuple           `json:"targetGroups"`
	TargetGroupStickinessConfig *TargetGroupStickinessConfig `json:"targetGroupStickinessConfig,omitempty"`
}

// Action is a listener default action or a rule action: the shape the ELBv2
// API takes.
type Action struct {
	Type                      ActionType                 `json:"type"`
	AuthenticateCognitoConfig *AuthenticateCognitoConfig `json:"authenticateCognitoConfig,omitempty"`
	AuthenticateOIDCConfig    *AuthenticateOIDCConfig    `json:"authenticateOIDCConfig,omitempty"`
	JwtValidationConfig       *JwtValidationConfig       `json:"jwtValidationConfig,omitempty"`
	FixedResponseConfig       *FixedResponseConfig       `json:"fixedResponseConfig,omitempty"`
	RedirectConfig            *RedirectConfig            `json:"redirectConfig,omitempty"`
	ForwardConfig             *ForwardConfig             `json:"forwardConfig,omitempty"`
}

// Certificate is a listener certificate.
type Certificate struct {
	CertificateARN Token `json:"certificateARN"`
}

// ListenerSpec is the desired state of a listener.
type ListenerSpec struct {
	LoadBalancerARN      Token                 `json:"loadBalancerARN"`
	Port                 int32                 `json:"port"`
	Protocol             Protocol              `json:"protocol"`
	DefaultActions       []Action              `json:"defaultActions,omitempty"`
	Certificates         []Certificate         `json:"certificates,omitempty"`
	SSLPolicy            *string               `json:"sslPolicy,omitempty"`
	ALPNPolicy           []string              `json:"alpnPolicy,omitempty"`
	MutualAuthentication *MutualAuthentication `json:"mutualAuthentication,omitempty"`
	Tags                 map[string]string     `json:"tags,omitempty"`
	ListenerAttributes   []ListenerAttribute   `json:"listenerAttributes,omitempty"`
}

// ListenerStatus is what the deployer learns once the listener exists.
type ListenerStatus struct {
	ListenerARN string `json:"listenerARN"`
}

// Listener is an ELBv2 listener. Its ID is its port.
type Listener struct {
	ResID  string          `json:"-"`
	Spec   ListenerSpec    `json:"spec"`
	Status *ListenerStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *Listener) ID() string { return r.ResID }

// Type returns TypeListener.
func (r *Listener) Type() string { return TypeListener }

// ARN refers to the listener's ARN.
func (r *Listener) ARN() Token { return RefTo(TypeListener, r.ResID, "listenerARN") }

// Condition fields.
const (
	ConditionHTTPHeader        = "http-header"
	ConditionHTTPRequestMethod = "http-request-method"
	ConditionHostHeader        = "host-header"
	ConditionPathPattern       = "path-pattern"
	ConditionQueryString       = "query-string"
	ConditionSourceIP          = "source-ip"
)

// ValuesConfig is a host-header or path-pattern condition.
type ValuesConfig struct {
	RegexValues []string `json:"regexValues,omitempty"`
	Values      []string `json:"values,omitempty"`
}

// HTTPHeaderConfig is an http-header condition.
type HTTPHeaderConfig struct {
	HTTPHeaderName string   `json:"httpHeaderName"`
	RegexValues    []string `json:"regexValues,omitempty"`
	Values         []string `json:"values,omitempty"`
}

// MethodConfig is an http-request-method condition.
type MethodConfig struct {
	Values []string `json:"values"`
}

// QueryStringKeyValue is one pair of a query-string condition.
type QueryStringKeyValue struct {
	Key   *string `json:"key,omitempty"`
	Value string  `json:"value"`
}

// QueryStringConfig is a query-string condition.
type QueryStringConfig struct {
	Values []QueryStringKeyValue `json:"values"`
}

// SourceIPConfig is a source-ip condition.
type SourceIPConfig struct {
	Values []string `json:"values"`
}

// Condition is a rule condition: the shape the ELBv2 API takes.
type Condition struct {
	Field                   string             `json:"field"`
	HostHeaderConfig        *ValuesConfig      `json:"hostHeaderConfig,omitempty"`
	HTTPHeaderConfig        *HTTPHeaderConfig  `json:"httpHeaderConfig,omitempty"`
	HTTPRequestMethodConfig *MethodConfig      `json:"httpRequestMethodConfig,omitempty"`
	PathPatternConfig       *ValuesConfig      `json:"pathPatternConfig,omitempty"`
	QueryStringConfig       *QueryStringConfig `json:"queryStringConfig,omitempty"`
	SourceIPConfig          *SourceIPConfig    `json:"sourceIPConfig,omitempty"`
}

// Transform types.
const (
	TransformURLRewrite        = "url-rewrite"
	TransformHostHeaderRewrite = "host-header-rewrite"
)

// Rewrite is one regex rewrite of a transform.
type Rewrite struct {
	Regex   string `json:"regex"`
	Replace string `json:"replace"`
}

// RewriteConfig lists a transform's rewrites.
type RewriteConfig struct {
	Rewrites []Rewrite `json:"rewrites"`
}

// Transform is a rule transform: the shape the ELBv2 API takes.
type Transform struct {
	Type                    string         `json:"type"`
	HostHeaderRewriteConfig *RewriteConfig `json:"hostHeaderRewriteConfig,omitempty"`
	URLRewriteConfig        *RewriteConfig `json:"urlRewriteConfig,omitempty"`
}

// ListenerRuleSpec is the desired state of a listener rule.
type ListenerRuleSpec struct {
	ListenerARN Token             `json:"listenerARN"`
	Priority    int32             `json:"priority"`
	Actions     []Action          `json:"actions"`
	Conditions  []Condition       `json:"conditions"`
	Transforms  []Transform       `json:"transforms,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// ListenerRuleStatus is what the deployer learns once the rule exists.
type ListenerRuleStatus struct {
	RuleARN string `json:"ruleARN"`
}

// ListenerRule is an ELBv2 listener rule. Its ID is "<port>:<priority>".
type ListenerRule struct {
	ResID  string              `json:"-"`
	Spec   ListenerRuleSpec    `json:"spec"`
	Status *ListenerRuleStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *ListenerRule) ID() string { return r.ResID }

// Type returns TypeListenerRule.
func (r *ListenerRule) Type() string { return TypeListenerRule }

// TargetType is a target group's target type.
type TargetType string

// Target types.
const (
	TargetTypeInstance TargetType = "instance"
	TargetTypeIP       TargetType = "ip"
	TargetTypeALB      TargetType = "alb"
)

// Target group IP address types.
const (
	TargetGroupIPv4 = "ipv4"
	TargetGroupIPv6 = "ipv6"
)

// HealthCheckPortTrafficPort is the health check port meaning "the port
// the target receives traffic on".
const HealthCheckPortTrafficPort = "traffic-port"

// Matcher is a health check's success codes.
type Matcher struct {
	HTTPCode *string `json:"httpCode,omitempty"`
	GRPCCode *string `json:"grpcCode,omitempty"`
}

// HealthCheck is a target group's health check.
type HealthCheck struct {
	Port                    *intstr.IntOrString `json:"port,omitempty"`
	Protocol                Protocol            `json:"protocol,omitempty"`
	Path                    *string             `json:"path,omitempty"`
	Matcher                 *Matcher            `json:"matcher,omitempty"`
	IntervalSeconds         *int32              `json:"intervalSeconds,omitempty"`
	TimeoutSeconds          *int32              `json:"timeoutSeconds,omitempty"`
	HealthyThresholdCount   *int32              `json:"healthyThresholdCount,omitempty"`
	UnhealthyThresholdCount *int32              `json:"unhealthyThresholdCount,omitempty"`
}

// TargetGroupSpec is the desired state of a target group.
type TargetGroupSpec struct {
	Name                  string            `json:"name"`
	TargetType            TargetType        `json:"targetType"`
	Port                  *int32            `json:"port"`
	Protocol              Protocol          `json:"protocol"`
	ProtocolVersion       *ProtocolVersion  `json:"protocolVersion,omitempty"`
	IPAddressType         string            `json:"ipAddressType,omitempty"`
	HealthCheckConfig     *HealthCheck      `json:"healthCheckConfig,omitempty"`
	TargetGroupAttributes []Attribute       `json:"targetGroupAttributes,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
	TargetControlPort     *int32            `json:"targetControlPort,omitempty"`
}

// TargetGroupStatus is what the deployer learns once the target group exists.
type TargetGroupStatus struct {
	TargetGroupARN string `json:"targetGroupARN"`
}

// TargetGroup is an ELBv2 target group.
type TargetGroup struct {
	ResID  string             `json:"-"`
	Spec   TargetGroupSpec    `json:"spec"`
	Status *TargetGroupStatus `json:"status,omitempty"`
}

// ID returns the resource ID.
func (r *TargetGroup) ID() string { return r.ResID }

// Type returns TypeTargetGroup.
func (r *TargetGroup) Type() string { return TypeTargetGroup }

// ARN refers to the target group's ARN.
func (r *TargetGroup) ARN() Token { return RefTo(TypeTargetGroup, r.ResID, "targetGroupARN") }
