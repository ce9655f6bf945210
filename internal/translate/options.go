// Package translate holds what the Ingress and Service translators share:
// options (the reference controller's flags and feature gates), the cloud
// facts lookups (subnets, security groups, certificates, Elastic IPs),
// naming, and diagnostics (per-object errors, warnings and the sources of
// every defaulted or discovered decision).
//
// Translation is pure: no I/O, and the same input in any order yields the
// same stack byte for byte.
package translate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/elbowlb/elbow/internal/facts"
)

// Feature gates of the reference controller that change translation.
const (
	GateListenerRulesTagging          = "ListenerRulesTagging"
	GateWeightedTargetGroups          = "WeightedTargetGroups"
	GateServiceTypeLoadBalancerOnly   = "ServiceTypeLoadBalancerOnly"
	GateEnableIPTargetType            = "EnableIPTargetType"
	GateEnableTCPUDPListener          = "EnableTCPUDPListener"
	GateSubnetsClusterTagCheck        = "SubnetsClusterTagCheck"
	GateNLBHealthCheckAdvancedConfig  = "NLBHealthCheckAdvancedConfig"
	GateNLBSecurityGroup              = "NLBSecurityGroup"
	GateALBSingleSubnet               = "ALBSingleSubnet"
	GateLBCapacityReservation         = "LBCapacityReservation"
	GateSubnetDiscoveryByReachability = "SubnetDiscoveryByReachability"
	GateEnableDefaultTagsLowPriority  = "EnableDefaultTagsLowPriority"
	GateEnableCertificateManagement   = "EnableCertificateManagement"
	// GateEnableRGTAPI is the deployer's, not translation's: find owned
	// resources with the Resource Groups Tagging API.
	GateEnableRGTAPI = "EnableRGTAPI"
)

// defaultGates are the reference controller's defaults for the gates above.
var defaultGates = map[string]bool{
	GateListenerRulesTagging:          true,
	GateWeightedTargetGroups:          true,
	GateServiceTypeLoadBalancerOnly:   false,
	GateEnableIPTargetType:            true,
	GateEnableTCPUDPListener:          false,
	GateSubnetsClusterTagCheck:        true,
	GateNLBHealthCheckAdvancedConfig:  true,
	GateNLBSecurityGroup:              true,
	GateALBSingleSubnet:               false,
	GateLBCapacityReservation:         true,
	GateSubnetDiscoveryByReachability: true,
	GateEnableDefaultTagsLowPriority:  false,
	GateEnableCertificateManagement:   false,
	GateEnableRGTAPI:                  false,
}

// FeatureGates overrides gate defaults; a gate not set has the reference
// controller's default.
type FeatureGates map[string]bool

// Enabled reports whether a gate is on.
func (g FeatureGates) Enabled(name string) bool {
	if v, ok := g[name]; ok {
		return v
	}
	return defaultGates[name]
}

// ParseFeatureGates parses --feature-gates ("Name=true,Other=false"). Gates
// this package does not use are accepted (the controller has more).
func ParseFeatureGates(s string) (FeatureGates, error) {
	out := FeatureGates{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("--feature-gates %q: want Name=true|false, comma-separated", part)
		}
		switch strings.ToLower(v) {
		case "true":
			out[k] = true
		case "false":
			out[k] = false
		default:
			return nil, fmt.Errorf("--feature-gates %s=%s: want true or false", k, v)
		}
	}
	return out, nil
}

// Options are the controller settings translation depends on; their names
// follow the reference controller's flags. Use DefaultOptions and change
// what differs.
type Options struct {
	// ClusterName is --cluster-name: it goes into names, tags and subnet discovery.
	ClusterName string
	// VPCID is --aws-vpc-id; empty means the facts' only VPC.
	VPCID string
	// IngressClass is --ingress-class (default "alb").
	IngressClass string
	// LoadBalancerClass is --load-balancer-class (default "service.k8s.aws/nlb").
	LoadBalancerClass string
	// DefaultTargetType is --default-target-type (default "instance").
	DefaultTargetType string
	// DefaultScheme is --default-load-balancer-scheme (default "internal").
	DefaultScheme string
	// DefaultSSLPolicy is --default-ssl-policy (default "ELBSecurityPolicy-2016-08").
	DefaultSSLPolicy string
	// DefaultTags is --default-tags.
	DefaultTags map[string]string
	// ExternalManagedTags is --external-managed-tags: keys users may not set.
	ExternalManagedTags []string
	// FeatureGates is --feature-gates.
	FeatureGates FeatureGates
	// EnableBackendSG is --enable-backend-security-group (default true).
	EnableBackendSG bool
	// BackendSecurityGroupID is the shared backend security group's ID
	// (--backend-security-group, or the one the controller created). Empty:
	// looked up in the facts by name and tags, else shown as pending.
	BackendSecurityGroupID string
	// EnableManageBackendSGRules is --enable-manage-backend-security-group-rules (default false).
	EnableManageBackendSGRules bool
	// DisableRestrictedSGRules is --disable-restricted-sg-rules (default false).
	DisableRestrictedSGRules bool
	// TolerateNonExistentBackendService is
	// --tolerate-non-existent-backend-service (default true): a rule
	// forwarding to a missing Service answers 503 instead of failing.
	TolerateNonExistentBackendService bool
	// TolerateNonExistentBackendAction is
	// --tolerate-non-existent-backend-action (default true).
	TolerateNonExistentBackendAction bool
	// DefaultPCAArn is --default-pca-arn (ACM private CA for create-acm-cert).
	DefaultPCAArn string
	// AdoptServicesWithoutClass makes Services of type LoadBalancer without
	// spec.loadBalancerClass ours, as the reference's Service mutating webhook
	// (on by default in its Helm chart) does by setting the class on create.
	AdoptServicesWithoutClass bool
	// AssumeMissingReferences accepts references to cloud resources the
	// facts do not have (subnet and security group IDs or names, Elastic IP
	// allocations, web ACL, trust store and target group names), with a
	// warning, instead of failing the object.
	AssumeMissingReferences bool
	// AssumeMissingSecrets accepts OIDC Secrets absent from the input, with
	// a warning (plan: they live in the cluster, not in the manifests).
	AssumeMissingSecrets bool
	// AssumeNodePorts accepts NodePort and LoadBalancer Services whose node
	// ports are not allocated yet (manifests before apply), with a warning;
	// port 0 then stands for "allocated by the API server".
	AssumeNodePorts bool
	// References resolves names the facts do not hold.
	References References
}

// References maps names to ARNs for lookups the facts do not cover; the
// controller fills them from the APIs.
type References struct {
	// WebACLs maps WAFv2 web ACL names to ARNs.
	WebACLs map[string]string
	// TrustStores maps ELBv2 trust store names to ARNs.
	TrustStores map[string]string
	// TargetGroups maps target group names to ARNs.
	TargetGroups map[string]string
	// Absent says, for references the facts lack and the caller looked
	// up in the cloud without finding, what the cloud answered; those
	// references are refused with that answer instead of "not in the
	// facts".
	Absent map[Reference]string
	// ExistingLoadBalancers maps stack IDs to the load balancer the stack
	// already has: its scheme and subnets are kept when unchanged, as the
	// reference does.
	ExistingLoadBalancers map[string]ExistingLoadBalancer
}

// ExistingLoadBalancer is what translation needs to know about a load
// balancer a stack already owns.
type ExistingLoadBalancer struct {
	Scheme         string
	SubnetIDs      []string
	SecurityGroups []string
}

// DefaultOptions returns the reference controller's defaults.
func DefaultOptions() Options {
	return Options{
		IngressClass:                      "alb",
		LoadBalancerClass:                 "service.k8s.aws/nlb",
		DefaultTargetType:                 "instance",
		DefaultScheme:                     "internal",
		DefaultSSLPolicy:                  "ELBSecurityPolicy-2016-08",
		EnableBackendSG:                   true,
		TolerateNonExistentBackendService: true,
		TolerateNonExistentBackendAction:  true,
	}
}

// Validate checks the options as the reference validates its flags.
func (o *Options) Validate() error {
	if o.ClusterName == "" {
		return fmt.Errorf("cluster name is required")
	}
	switch o.DefaultTargetType {
	case "instance", "ip":
	default:
		return fmt.Errorf("default target type %q: want instance or ip", o.DefaultTargetType)
	}
	switch o.DefaultScheme {
	case "internal", "internet-facing":
	default:
		return fmt.Errorf("default load balancer scheme %q: want internal or internet-facing", o.DefaultScheme)
	}
	for k := range o.DefaultTags {
		if strings.HasPrefix(k, "elbv2.k8s.aws/") || strings.HasPrefix(k, "ingress.k8s.aws/") || strings.HasPrefix(k, "service.k8s.aws/") {
			return fmt.Errorf("default tag %q uses a key reserved for tracking tags", k)
		}
	}
	return nil
}

// Start validates the options and makes the Cloud of the facts; on error
// it returns the diagnostic to report instead.
func Start(f *facts.Facts, o *Options) (*Cloud, []Diagnostic) {
	if err := o.Validate(); err != nil {
		return nil, []Diagnostic{{Severity: Error, Object: ObjectRef{Kind: "Options"}, Message: err.Error()}}
	}
	c, err := NewCloud(f, o)
	if err != nil {
		return nil, []Diagnostic{{Severity: Error, Object: ObjectRef{Kind: "Facts"}, Message: err.Error()}}
	}
	return c, nil
}

// ExternalManaged reports whether a tag key is external-managed.
func (o *Options) ExternalManaged(key string) bool {
	for _, k := range o.ExternalManagedTags {
		if k == key {
			return true
		}
	}
	return false
}

// MergeTags merges maps; for a key several maps hold, the first wins.
func MergeTags(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// WithDefaultTags merges a resource's own tags with --default-tags in the
// reference's priority: default tags win unless the gate
// EnableDefaultTagsLowPriority is on.
func (o *Options) WithDefaultTags(own map[string]string) map[string]string {
	if o.FeatureGates.Enabled(GateEnableDefaultTagsLowPriority) {
		return MergeTags(own, o.DefaultTags)
	}
	return MergeTags(o.DefaultTags, own)
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
