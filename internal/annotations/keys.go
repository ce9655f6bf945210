// Package annotations names the annotations elbow reads (the AWS Load
// Balancer Controller's, on Ingresses and Services) and parses their values.
// Every parse error names the annotation, the value and what is accepted.
package annotations

import "fmt"

// Prefixes of the annotation families.
const (
	IngressPrefix = "alb.ingress.kubernetes.io/"
	ServicePrefix = "service.beta.kubernetes.io/"
)

// IngressClass is the legacy annotation that selects an Ingress's controller.
const IngressClass = "kubernetes.io/ingress.class"

// Ingress annotations (reference §2.3). Those marked Ing,Svc are also read
// from the backend Service, whose value wins.
const (
	IngressLoadBalancerName               = IngressPrefix + "load-balancer-name"
	IngressGroupName                      = IngressPrefix + "group.name"
	IngressGroupOrder                     = IngressPrefix + "group.order"
	IngressTags                           = IngressPrefix + "tags"
	IngressIPAddressType                  = IngressPrefix + "ip-address-type"
	IngressScheme                         = IngressPrefix + "scheme"
	IngressSubnets                        = IngressPrefix + "subnets"
	IngressSecurityGroups                 = IngressPrefix + "security-groups"
	IngressManageBackendSGRules           = IngressPrefix + "manage-backend-security-group-rules"
	IngressCustomerOwnedIPv4Pool          = IngressPrefix + "customer-owned-ipv4-pool"
	IngressLoadBalancerAttributes         = IngressPrefix + "load-balancer-attributes"
	IngressWAFv2ACLARN                    = IngressPrefix + "wafv2-acl-arn"
	IngressWAFv2ACLName                   = IngressPrefix + "wafv2-acl-name"
	IngressWAFACLID                       = IngressPrefix + "waf-acl-id"
	IngressWebACLID                       = IngressPrefix + "web-acl-id" // deprecated spelling of waf-acl-id
	IngressShieldAdvancedProtection       = IngressPrefix + "shield-advanced-protection"
	IngressListenPorts                    = IngressPrefix + "listen-ports"
	IngressSSLRedirect                    = IngressPrefix + "ssl-redirect"
	IngressInboundCIDRs                   = IngressPrefix + "inbound-cidrs"
	IngressSecurityGroupPrefixLists       = IngressPrefix + "security-group-prefix-lists"
	IngressCertificateARN                 = IngressPrefix + "certificate-arn"
	IngressSSLPolicy                      = IngressPrefix + "ssl-policy"
	IngressMutualAuthentication           = IngressPrefix + "mutual-authentication"
	IngressTargetType                     = IngressPrefix + "target-type"
	IngressBackendProtocol                = IngressPrefix + "backend-protocol"
	IngressBackendProtocolVersion         = IngressPrefix + "backend-protocol-version"
	IngressTargetGroupAttributes          = IngressPrefix + "target-group-attributes"
	IngressHealthCheckPort                = IngressPrefix + "healthcheck-port"
	IngressHealthCheckProtocol            = IngressPrefix + "healthcheck-protocol"
	IngressHealthCheckPath                = IngressPrefix + "healthcheck-path"
	IngressHealthCheckIntervalSeconds     = IngressPrefix + "healthcheck-interval-seconds"
	IngressHealthCheckTimeoutSeconds      = IngressPrefix + "healthcheck-timeout-seconds"
	IngressHealthyThresholdCount          = IngressPrefix + "healthy-threshold-count"
	IngressUnhealthyThresholdCount        = IngressPrefix + "unhealthy-threshold-count"
	IngressSuccessCodes                   = IngressPrefix + "success-codes"
	IngressAuthType                       = IngressPrefix + "auth-type"
	IngressAuthIDPCognito                 = IngressPrefix + "auth-idp-cognito"
	IngressAuthIDPOIDC                    = IngressPrefix + "auth-idp-oidc"
	IngressAuthOnUnauthenticatedRequest   = IngressPrefix + "auth-on-unauthenticated-request"
	IngressAuthScope                      = IngressPrefix + "auth-scope"
	IngressAuthSessionCookie              = IngressPrefix + "auth-session-cookie"
	IngressAuthSessionTimeout             = IngressPrefix + "auth-session-timeout"
	IngressJwtValidation                  = IngressPrefix + "jwt-validation"
	IngressUseRegexPathMatch              = IngressPrefix + "use-regex-path-match"
	IngressTargetNodeLabels               = IngressPrefix + "target-node-labels"
	IngressMultiClusterTargetGroup        = IngressPrefix + "multi-cluster-target-group"
	IngressMinimumLoadBalancerCapacity    = IngressPrefix + "minimum-load-balancer-capacity"
	IngressIPAMIPv4PoolID                 = IngressPrefix + "ipam-ipv4-pool-id"
	IngressEnableFrontendNLB              = IngressPrefix + "enable-frontend-nlb"
	IngressFrontendNLBScheme              = IngressPrefix + "frontend-nlb-scheme"
	IngressFrontendNLBSubnets             = IngressPrefix + "frontend-nlb-subnets"
	IngressFrontendNLBSecurityGroups      = IngressPrefix + "frontend-nlb-security-groups"
	IngressFrontendNLBEIPAllocations      = IngressPrefix + "frontend-nlb-eip-allocations"
	IngressFrontendNLBListenerPortMapping = IngressPrefix + "frontend-nlb-listener-port-mapping"
	IngressFrontendNLBHealthCheckPort     = IngressPrefix + "frontend-nlb-healthcheck-port"
	IngressFrontendNLBHealthCheckProtocol = IngressPrefix + "frontend-nlb-healthcheck-protocol"
	IngressFrontendNLBHealthCheckPath     = IngressPrefix + "frontend-nlb-healthcheck-path"
	IngressFrontendNLBHealthCheckInterval = IngressPrefix + "frontend-nlb-healthcheck-interval-seconds"
	IngressFrontendNLBHealthCheckTimeout  = IngressPrefix + "frontend-nlb-healthcheck-timeout-seconds"
	IngressFrontendNLBHealthyThreshold    = IngressPrefix + "frontend-nlb-healthcheck-healthy-threshold-count"
	IngressFrontendNLBUnhealthyThreshold  = IngressPrefix + "frontend-nlb-healthcheck-unhealthy-threshold-count"
	IngressFrontendNLBHealthCheckSuccess  = IngressPrefix + "frontend-nlb-healthcheck-success-codes"
	IngressFrontendNLBAttributes          = IngressPrefix + "frontend-nlb-attributes"
	IngressFrontendNLBTags                = IngressPrefix + "frontend-nlb-tags"
	IngressCreateACMCert                  = IngressPrefix + "create-acm-cert"
	IngressACMPCAARN                      = IngressPrefix + "acm-pca-arn"
	IngressDryRunPlan                     = IngressPrefix + "dry-run-plan"
	ingressActionsPrefix                  = IngressPrefix + "actions."
	ingressConditionsPrefix               = IngressPrefix + "conditions."
	ingressTransformsPrefix               = IngressPrefix + "transforms."
	ingressListenerAttributesPrefix       = IngressPrefix + "listener-attributes."
	ingressTargetControlPortPrefix        = IngressPrefix + "target-control-port."
)

// IngressActions is the actions annotation a use-annotation backend named
// name reads.
func IngressActions(name string) string { return ingressActionsPrefix + name }

// IngressConditions is the conditions annotation of the backend named name.
func IngressConditions(name string) string { return ingressConditionsPrefix + name }

// IngressTransforms is the transforms annotation of the backend named name.
func IngressTransforms(name string) string { return ingressTransformsPrefix + name }

// IngressListenerAttributes is the listener-attributes annotation of the
// listener with the given protocol and port ("listener-attributes.HTTPS-443").
func IngressListenerAttributes(protocol string, port int32) string {
	return fmt.Sprintf("%s%s-%d", ingressListenerAttributesPrefix, protocol, port)
}

// IngressTargetControlPort is the target-control-port annotation of a
// Service port ("target-control-port.<svcName>.<svcPort>").
func IngressTargetControlPort(svcName, svcPort string) string {
	return ingressTargetControlPortPrefix + svcName + "." + svcPort
}

// Service annotations (reference §3.2).
const (
	ServiceLoadBalancerSourceRanges      = ServicePrefix + "load-balancer-source-ranges"
	ServiceType                          = ServicePrefix + "aws-load-balancer-type"
	ServiceNLBTargetType                 = ServicePrefix + "aws-load-balancer-nlb-target-type"
	ServiceName                          = ServicePrefix + "aws-load-balancer-name"
	ServiceInternal                      = ServicePrefix + "aws-load-balancer-internal"
	ServiceScheme                        = ServicePrefix + "aws-load-balancer-scheme"
	ServiceProxyProtocol                 = ServicePrefix + "aws-load-balancer-proxy-protocol"
	ServiceProxyProtocolPerTargetGroup   = ServicePrefix + "aws-load-balancer-proxy-protocol-per-target-group"
	ServiceIPAddressType                 = ServicePrefix + "aws-load-balancer-ip-address-type"
	ServiceAccessLogEnabled              = ServicePrefix + "aws-load-balancer-access-log-enabled"
	ServiceAccessLogS3BucketName         = ServicePrefix + "aws-load-balancer-access-log-s3-bucket-name"
	ServiceAccessLogS3BucketPrefix       = ServicePrefix + "aws-load-balancer-access-log-s3-bucket-prefix"
	ServiceCrossZoneEnabled              = ServicePrefix + "aws-load-balancer-cross-zone-load-balancing-enabled"
	ServiceSSLCert                       = ServicePrefix + "aws-load-balancer-ssl-cert"
	ServiceSSLPorts                      = ServicePrefix + "aws-load-balancer-ssl-ports"
	ServiceSSLNegotiationPolicy          = ServicePrefix + "aws-load-balancer-ssl-negotiation-policy"
	ServiceBackendProtocol               = ServicePrefix + "aws-load-balancer-backend-protocol"
	ServiceAdditionalResourceTags        = ServicePrefix + "aws-load-balancer-additional-resource-tags"
	ServiceHealthyThreshold              = ServicePrefix + "aws-load-balancer-healthcheck-healthy-threshold"
	ServiceUnhealthyThreshold            = ServicePrefix + "aws-load-balancer-healthcheck-unhealthy-threshold"
	ServiceHealthCheckTimeout            = ServicePrefix + "aws-load-balancer-healthcheck-timeout"
	ServiceHealthCheckInterval           = ServicePrefix + "aws-load-balancer-healthcheck-interval"
	ServiceHealthCheckProtocol           = ServicePrefix + "aws-load-balancer-healthcheck-protocol"
	ServiceHealthCheckPort               = ServicePrefix + "aws-load-balancer-healthcheck-port"
	ServiceHealthCheckPath               = ServicePrefix + "aws-load-balancer-healthcheck-path"
	ServiceHealthCheckSuccessCodes       = ServicePrefix + "aws-load-balancer-healthcheck-success-codes"
	ServiceEIPAllocations                = ServicePrefix + "aws-load-balancer-eip-allocations"
	ServicePrivateIPv4Addresses          = ServicePrefix + "aws-load-balancer-private-ipv4-addresses"
	ServiceIPv6Addresses                 = ServicePrefix + "aws-load-balancer-ipv6-addresses"
	ServiceTargetGroupAttributes         = ServicePrefix + "aws-load-balancer-target-group-attributes"
	ServiceSubnets                       = ServicePrefix + "aws-load-balancer-subnets"
	ServiceALPNPolicy                    = ServicePrefix + "aws-load-balancer-alpn-policy"
	ServiceTargetNodeLabels              = ServicePrefix + "aws-load-balancer-target-node-labels"
	ServiceAttributes                    = ServicePrefix + "aws-load-balancer-attributes"
	ServiceSecurityGroups                = ServicePrefix + "aws-load-balancer-security-groups"
	ServiceManageBackendSGRules          = ServicePrefix + "aws-load-balancer-manage-backend-security-group-rules"
	ServiceInboundSGRulesOnPrivateLink   = ServicePrefix + "aws-load-balancer-inbound-sg-rules-on-private-link-traffic"
	ServiceSecurityGroupPrefixLists      = ServicePrefix + "aws-load-balancer-security-group-prefix-lists"
	ServiceMultiClusterTargetGroup       = ServicePrefix + "aws-load-balancer-multi-cluster-target-group"
	ServiceEnablePrefixForIPv6SourceNat  = ServicePrefix + "aws-load-balancer-enable-prefix-for-ipv6-source-nat"
	ServiceSourceNatIPv6Prefixes         = ServicePrefix + "aws-load-balancer-source-nat-ipv6-prefixes"
	ServiceMinimumLoadBalancerCapacity   = ServicePrefix + "aws-load-balancer-minimum-load-balancer-capacity"
	ServiceEnableICMPForPathMTUDiscovery = ServicePrefix + "aws-load-balancer-enable-icmp-for-path-mtu-discovery"
	ServiceEnableTCPUDPListener          = ServicePrefix + "aws-load-balancer-enable-tcp-udp-listener"
	ServiceDisableNLBSecurityGroup       = ServicePrefix + "aws-load-balancer-disable-nlb-sg"
	ServiceQUICEnabledPorts              = ServicePrefix + "aws-load-balancer-quic-enabled-ports"
	ServiceQUICEnabledContainers         = ServicePrefix + "aws-load-balancer-quic-enabled-containers"
	serviceListenerAttributesPrefix      = ServicePrefix + "aws-load-balancer-listener-attributes."
	serviceActionsPrefix                 = ServicePrefix + "actions."
)

// ServiceListenerAttributes is the listener-attributes annotation of the
// listener with the given protocol and port.
func ServiceListenerAttributes(protocol string, port int32) string {
	return fmt.Sprintf("%s%s-%d", serviceListenerAttributesPrefix, protocol, port)
}

// ServiceTargetGroupAttributesForPort is the per-port override of
// aws-load-balancer-target-group-attributes.
func ServiceTargetGroupAttributesForPort(port int32) string {
	return fmt.Sprintf("%s.%d", ServiceTargetGroupAttributes, port)
}

// ServiceActions is the weighted forward action annotation of the listener
// with the given protocol and port ("actions.TCP-80").
func ServiceActions(protocol string, port int32) string {
	return fmt.Sprintf("%s%s-%d", serviceActionsPrefix, protocol, port)
}
