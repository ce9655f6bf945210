package gateway

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/translate"
)

// ProtocolPort is a parsed LoadBalancerConfiguration listener key
// ("HTTPS:443"). An empty Protocol or a zero Port matches any.
type ProtocolPort struct {
	Protocol string
	Port     int32
}

// protocolPortProtocols are the protocols a protocolPort may name (the
// CRD's pattern).
var protocolPortProtocols = map[string]bool{"HTTP": true, "HTTPS": true, "TLS": true, "TCP": true, "UDP": true, "TCP_UDP": true}

// ParseProtocolPort parses a listenerConfigurations[].protocolPort value:
// PROTOCOL:PORT where PROTOCOL is one of HTTP, HTTPS, TLS, TCP, UDP and
// TCP_UDP and PORT is 1 to 65535; either may be left out (":443" is any
// protocol on 443, "HTTPS:" any HTTPS listener), the colon may not.
func ParseProtocolPort(s string) (ProtocolPort, error) {
	want := "PROTOCOL:PORT, PROTOCOL one of HTTP, HTTPS, TLS, TCP, UDP, TCP_UDP and PORT 1-65535 (either may be empty)"
	proto, port, ok := strings.Cut(s, ":")
	if !ok {
		return ProtocolPort{}, fmt.Errorf("protocolPort %q: no ':'; want %s", s, want)
	}
	var pp ProtocolPort
	if proto != "" {
		if !protocolPortProtocols[proto] {
			return ProtocolPort{}, fmt.Errorf("protocolPort %q: unknown protocol %q; want %s", s, proto, want)
		}
		pp.Protocol = proto
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || (len(port) > 1 && port[0] == '0') {
			return ProtocolPort{}, fmt.Errorf("protocolPort %q: port %q is not 1-65535; want %s", s, port, want)
		}
		pp.Port = int32(n)
	}
	return pp, nil
}

// specificity ranks how closely a key names a listener: both parts, port
// only, protocol only, neither.
func (p ProtocolPort) specificity() int {
	n := 0
	if p.Port != 0 {
		n += 2
	}
	if p.Protocol != "" {
		n++
	}
	return n
}

func (p ProtocolPort) matches(proto string, port int32) bool {
	return (p.Protocol == "" || p.Protocol == proto) && (p.Port == 0 || p.Port == port)
}

// listenerConfig returns the listener configuration for a listener: the
// most specific protocolPort that matches it.
func listenerConfig(spec *v1beta1.LoadBalancerConfigurationSpec, proto string, port int32) *v1beta1.ListenerConfiguration {
	if spec.ListenerConfigurations == nil {
		return nil
	}
	var best *v1beta1.ListenerConfiguration
	bestRank := -1
	for i := range *spec.ListenerConfigurations {
		lc := &(*spec.ListenerConfigurations)[i]
		pp, err := ParseProtocolPort(string(lc.ProtocolPort))
		if err != nil || !pp.matches(proto, port) {
			continue
		}
		if r := pp.specificity(); r > bestRank {
			best, bestRank = lc, r
		}
	}
	return best
}

var lbNameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

// validateLBC checks what the CRD's schema cannot, and what the API
// server checks (for manifests that never went through it).
func validateLBC(s *v1beta1.LoadBalancerConfigurationSpec) error {
	if m := s.MergingMode; m != nil && *m != v1beta1.MergeModePreferGatewayClass && *m != v1beta1.MergeModePreferGateway {
		return fmt.Errorf("mergingMode %q: want prefer-gateway-class or prefer-gateway", *m)
	}
	if v := s.Scheme; v != nil && *v != v1beta1.LoadBalancerSchemeInternal && *v != v1beta1.LoadBalancerSchemeInternetFacing {
		return fmt.Errorf("scheme %q: want internal or internet-facing", *v)
	}
	if v := s.IpAddressType; v != nil {
		switch *v {
		case v1beta1.LoadBalancerIpAddressTypeIPv4, v1beta1.LoadBalancerIpAddressTypeDualstack, v1beta1.LoadBalancerIpAddressTypeDualstackWithoutPublicIpv4:
		default:
			return fmt.Errorf("ipAddressType %q: want ipv4, dualstack or dualstack-without-public-ipv4", *v)
		}
	}
	if n := s.LoadBalancerName; n != nil {
		if !lbNameRE.MatchString(*n) || strings.HasPrefix(*n, "internal-") {
			return fmt.Errorf("loadBalancerName %q: want 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen, nor with \"internal-\"", *n)
		}
	}
	if s.ListenerConfigurations != nil {
		seen := map[ProtocolPort]bool{}
		for i, lc := range *s.ListenerConfigurations {
			pp, err := ParseProtocolPort(string(lc.ProtocolPort))
			if err != nil {
				return fmt.Errorf("listenerConfigurations[%d]: %w", i, err)
			}
			if seen[pp] {
				return fmt.Errorf("listenerConfigurations[%d]: protocolPort %q is configured twice", i, lc.ProtocolPort)
			}
			seen[pp] = true
			if m := lc.MutualAuthentication; m != nil {
				switch m.Mode {
				case v1beta1.MutualAuthenticationOffMode, v1beta1.MutualAuthenticationPassthroughMode:
					if m.TrustStore != nil || m.IgnoreClientCertificateExpiry != nil || m.AdvertiseTrustStoreCaNames != nil {
						return fmt.Errorf("listenerConfigurations[%d].mutualAuthentication: trustStore, ignoreClientCertificateExpiry and advertiseTrustStoreCaNames apply to mode verify only", i)
					}
				case v1beta1.MutualAuthenticationVerifyMode:
					if m.TrustStore == nil || *m.TrustStore == "" {
						return fmt.Errorf("listenerConfigurations[%d].mutualAuthentication: mode verify needs a trustStore", i)
					}
				default:
					return fmt.Errorf("listenerConfigurations[%d].mutualAuthentication.mode %q: want off, passthrough or verify", i, m.Mode)
				}
			}
		}
	}
	if s.SourceRanges != nil {
		for _, c := range *s.SourceRanges {
			if _, err := netip.ParsePrefix(c); err != nil {
				return fmt.Errorf("sourceRanges: %q is not a CIDR", c)
			}
		}
	}
	if c := s.MinimumLoadBalancerCapacity; c != nil && c.CapacityUnits < 0 {
		return fmt.Errorf("minimumLoadBalancerCapacity.capacityUnits %d: want 0 or more", c.CapacityUnits)
	}
	return nil
}

// mergedConfig is the LoadBalancerConfiguration a Gateway uses: its
// GatewayClass's merged with its own.
type mergedConfig struct {
	spec v1beta1.LoadBalancerConfigurationSpec
	// class and gateway are the two configurations (nil when absent).
	class, gateway *gwaws.LoadBalancerConfiguration
	mode           v1beta1.LoadBalancerConfigMergeMode
}

// source names the configuration a scalar field's value came from, given
// whether each configuration sets it.
func (m *mergedConfig) source(classSets, gatewaySets bool) string {
	name := func(c *gwaws.LoadBalancerConfiguration, role string) string {
		return fmt.Sprintf("%s %s/%s (of the %s)", kindLBC, c.Namespace, c.Name, role)
	}
	switch {
	case classSets && gatewaySets:
		if m.mode == v1beta1.MergeModePreferGateway {
			return name(m.gateway, "Gateway") + ", over the GatewayClass's (mergingMode prefer-gateway)"
		}
		return name(m.class, "GatewayClass") + ", over the Gateway's (mergingMode prefer-gateway-class)"
	case classSets:
		return name(m.class, "GatewayClass")
	case gatewaySets:
		return name(m.gateway, "Gateway")
	}
	return ""
}

// mergeConfigs merges a GatewayClass's and a Gateway's configurations as
// the reference does: mergingMode (of the GatewayClass's configuration,
// prefer-gateway-class by default) says which wins a field both set;
// tags and load balancer attributes merge by key and listener
// configurations by protocolPort, the preferred one winning a key both
// set.
func mergeConfigs(class, gw *gwaws.LoadBalancerConfiguration) *mergedConfig {
	m := &mergedConfig{class: class, gateway: gw, mode: v1beta1.MergeModePreferGatewayClass}
	if class != nil && class.Spec.MergingMode != nil {
		m.mode = *class.Spec.MergingMode
	}
	switch {
	case class == nil && gw == nil:
		return m
	case class == nil:
		m.spec = *gw.Spec.DeepCopy()
		return m
	case gw == nil:
		m.spec = *class.Spec.DeepCopy()
		return m
	}
	hi, lo := class.Spec.DeepCopy(), gw.Spec.DeepCopy()
	if m.mode == v1beta1.MergeModePreferGateway {
		hi, lo = lo, hi
	}
	out := *hi
	if out.LoadBalancerName == nil {
		out.LoadBalancerName = lo.LoadBalancerName
	}
	if out.Scheme == nil {
		out.Scheme = lo.Scheme
	}
	if out.IpAddressType == nil {
		out.IpAddressType = lo.IpAddressType
	}
	if out.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic == nil {
		out.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic = lo.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic
	}
	if out.CustomerOwnedIpv4Pool == nil {
		out.CustomerOwnedIpv4Pool = lo.CustomerOwnedIpv4Pool
	}
	if out.IPv4IPAMPoolId == nil {
		out.IPv4IPAMPoolId = lo.IPv4IPAMPoolId
	}
	if out.LoadBalancerSubnets == nil {
		out.LoadBalancerSubnets = lo.LoadBalancerSubnets
	}
	if out.LoadBalancerSubnetsSelector == nil {
		out.LoadBalancerSubnetsSelector = lo.LoadBalancerSubnetsSelector
	}
	if out.SecurityGroups == nil {
		out.SecurityGroups = lo.SecurityGroups
	}
	if out.SecurityGroupPrefixes == nil {
		out.SecurityGroupPrefixes = lo.SecurityGroupPrefixes
	}
	if out.SourceRanges == nil {
		out.SourceRanges = lo.SourceRanges
	}
	if out.EnableICMP == nil {
		out.EnableICMP = lo.EnableICMP
	}
	if out.ManageBackendSecurityGroupRules == nil {
		out.ManageBackendSecurityGroupRules = lo.ManageBackendSecurityGroupRules
	}
	if out.WAFv2 == nil {
		out.WAFv2 = lo.WAFv2
	}
	if out.ShieldAdvanced == nil {
		out.ShieldAdvanced = lo.ShieldAdvanced
	}
	if out.DisableSecurityGroup == nil {
		out.DisableSecurityGroup = lo.DisableSecurityGroup
	}
	if out.MinimumLoadBalancerCapacity == nil {
		out.MinimumLoadBalancerCapacity = lo.MinimumLoadBalancerCapacity
	}
	if out.DefaultTargetGroupConfiguration == nil {
		out.DefaultTargetGroupConfiguration = lo.DefaultTargetGroupConfiguration
	}
	out.Tags = mergeTags(hi.Tags, lo.Tags)
	out.LoadBalancerAttributes = mergeAttributes(hi.LoadBalancerAttributes, lo.LoadBalancerAttributes,
		func(a v1beta1.LoadBalancerAttribute) (string, string) { return a.Key, a.Value },
		func(k, v string) v1beta1.LoadBalancerAttribute {
			return v1beta1.LoadBalancerAttribute{Key: k, Value: v}
		})
	if hi.ListenerConfigurations != nil || lo.ListenerConfigurations != nil {
		byKey := map[v1beta1.ProtocolPort]v1beta1.ListenerConfiguration{}
		if lo.ListenerConfigurations != nil {
			for _, lc := range *lo.ListenerConfigurations {
				byKey[lc.ProtocolPort] = lc
			}
		}
		if hi.ListenerConfigurations != nil {
			for _, lc := range *hi.ListenerConfigurations {
				byKey[lc.ProtocolPort] = lc
			}
		}
		lcs := make([]v1beta1.ListenerConfiguration, 0, len(byKey))
		for _, lc := range byKey {
			lcs = append(lcs, lc)
		}
		sort.Slice(lcs, func(i, j int) bool { return lcs[i].ProtocolPort < lcs[j].ProtocolPort })
		out.ListenerConfigurations = &lcs
	}
	out.MergingMode = nil
	m.spec = out
	return m
}

// gatewayConfig resolves a Gateway's spec.infrastructure.parametersRef.
func (t *translator) gatewayConfig(gw *gwv1.Gateway) (*gwaws.LoadBalancerConfiguration, error) {
	if gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
		return nil, nil
	}
	p := gw.Spec.Infrastructure.ParametersRef
	if string(p.Group) != groupAWS || string(p.Kind) != kindLBC {
		return nil, fmt.Errorf("spec.infrastructure.parametersRef %s/%s %s: want group %s, kind %s", p.Group, p.Kind, p.Name, groupAWS, kindLBC)
	}
	lbc, ok := t.x.lbcs[key(gw.Namespace, p.Name)]
	if !ok {
		return nil, fmt.Errorf("spec.infrastructure.parametersRef: %s %s/%s not found", kindLBC, gw.Namespace, p.Name)
	}
	if err := validateLBC(&lbc.Spec); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", kindLBC, lbc.Namespace, lbc.Name, err)
	}
	t.useLBC(lbc, true)
	return lbc, nil
}

// mergeTags merges two optional tag maps, hi's values winning.
func mergeTags(hi, lo *map[string]string) *map[string]string {
	if hi == nil && lo == nil {
		return nil
	}
	tags := map[string]string{}
	for _, m := range []*map[string]string{lo, hi} {
		if m != nil {
			for k, v := range *m {
				tags[k] = v
			}
		}
	}
	return &tags
}

// mergeAttributes merges two key/value attribute lists, hi's values
// winning, sorted by key.
func mergeAttributes[T any](hi, lo []T, kv func(T) (string, string), mk func(k, v string) T) []T {
	attrs := map[string]string{}
	for _, list := range [][]T{lo, hi} {
		for _, a := range list {
			k, v := kv(a)
			attrs[k] = v
		}
	}
	var out []T
	for _, k := range translate.SortedKeys(attrs) {
		out = append(out, mk(k, attrs[k]))
	}
	return out
}
