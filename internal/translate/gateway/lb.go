package gateway

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// managedSGDescription is the description of the security group the
// controller creates for a load balancer.
const managedSGDescription = "[k8s] Managed SecurityGroup for LoadBalancer"

// tags applies --default-tags to a configuration's tags and refuses
// external-managed keys, as the reference's tag helper does.
func (b *gwBuilder) tags(own *map[string]string, what string) (map[string]string, error) {
	var m map[string]string
	if own != nil {
		m = *own
		for k := range m {
			if b.opts.ExternalManaged(k) {
				return nil, fmt.Errorf("%s: tag key %s is external-managed (--external-managed-tags) and cannot be set", what, k)
			}
		}
	}
	return b.opts.WithDefaultTags(m), nil
}

// buildLoadBalancer adds the load balancer, its security groups and its
// add-ons.
func (b *gwBuilder) buildLoadBalancer() error {
	s := &b.cfg.spec
	scheme := stack.Scheme(b.opts.DefaultScheme)
	if s.Scheme != nil {
		scheme = stack.Scheme(*s.Scheme)
		b.decide("scheme", string(scheme), "%s", b.cfg.source(b.cfg.class != nil && b.cfg.class.Spec.Scheme != nil, b.cfg.gateway != nil && b.cfg.gateway.Spec.Scheme != nil))
	} else {
		b.decide("scheme", string(scheme), "default --default-load-balancer-scheme (no LoadBalancerConfiguration sets scheme)")
	}
	ipType := stack.IPAddressTypeIPv4
	if s.IpAddressType != nil {
		ipType = stack.IPAddressType(*s.IpAddressType)
	}
	tags, err := b.tags(s.Tags, kindLBC)
	if err != nil {
		return err
	}
	b.lbTags = tags
	spec := stack.LoadBalancerSpec{Type: b.flavor.lbType, Scheme: scheme, IPAddressType: ipType, Tags: tags}
	if spec.SubnetMappings, err = b.subnets(scheme, ipType); err != nil {
		return err
	}
	if spec.SecurityGroups, err = b.securityGroups(ipType); err != nil {
		return err
	}
	for _, a := range s.LoadBalancerAttributes {
		spec.LoadBalancerAttributes = append(spec.LoadBalancerAttributes, stack.Attribute{Key: a.Key, Value: a.Value})
	}
	if b.flavor.nlb() {
		if err := b.nlbFields(&spec); err != nil {
			return err
		}
	} else {
		b.albFields(&spec)
	}
	if s.LoadBalancerName != nil {
		spec.Name = *s.LoadBalancerName
		b.decide("name", spec.Name, "%s loadBalancerName (takes effect only when the load balancer is created)", b.cfg.source(b.cfg.class != nil && b.cfg.class.Spec.LoadBalancerName != nil, b.cfg.gateway != nil && b.cfg.gateway.Spec.LoadBalancerName != nil))
	} else {
		hash := translate.Hash(b.opts.ClusterName, string(b.gw.UID), string(scheme))
		spec.Name = fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.gw.Namespace), 8), translate.Trunc(translate.Sanitize(b.gw.Name), 8), hash[:10])
		b.decide("name", spec.Name, "generated: sha256(cluster %q + Gateway UID %q + scheme %q)", b.opts.ClusterName, b.gw.UID, scheme)
		if b.gw.UID == "" {
			b.trace.Add(translate.Note, b.ref, "the Gateway has no UID (manifests before apply): the load balancer name hashes an empty UID, and changes once the Gateway exists")
		}
	}
	b.lb = &stack.LoadBalancer{ResID: stack.IDLoadBalancer, Spec: spec}
	if err := b.addons(); err != nil {
		return err
	}
	return b.stack.Add(b.lb)
}

// albFields sets what only an ALB takes, and notes the NLB-only settings
// it ignores.
func (b *gwBuilder) albFields(spec *stack.LoadBalancerSpec) {
	s := &b.cfg.spec
	spec.CustomerOwnedIPv4Pool = s.CustomerOwnedIpv4Pool
	spec.IPv4IPAMPool = s.IPv4IPAMPoolId
	if s.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic != nil {
		b.trace.Add(translate.Warning, b.ref, "%s enforceSecurityGroupInboundRulesOnPrivateLinkTraffic applies to Network Load Balancers; ignored", kindLBC)
	}
	if s.DisableSecurityGroup != nil && *s.DisableSecurityGroup {
		b.trace.Add(translate.Warning, b.ref, "%s disableSecurityGroup applies to Network Load Balancers (an ALB always has security groups); ignored", kindLBC)
	}
}

// subnets picks the load balancer's subnets: named ones, a tag selector,
// the existing load balancer's, or discovery.
func (b *gwBuilder) subnets(scheme stack.Scheme, ipType stack.IPAddressType) ([]stack.SubnetMapping, error) {
	s := &b.cfg.spec
	q := translate.SubnetQuery{LBType: b.flavor.lbType, Scheme: scheme, IPAddressType: ipType}
	var chosen []translate.Subnet
	var err error
	switch {
	case s.LoadBalancerSubnets != nil && len(*s.LoadBalancerSubnets) > 0:
		var ids []string
		for i, sn := range *s.LoadBalancerSubnets {
			if !b.flavor.nlb() && (sn.EIPAllocation != nil || sn.PrivateIPv4Allocation != nil || sn.IPv6Allocation != nil || sn.SourceNatIPv6Prefix != nil) {
				return nil, fmt.Errorf("%s loadBalancerSubnets[%d]: eipAllocation, privateIPv4Allocation, ipv6Allocation and sourceNatIPv6Prefix are for Network Load Balancers; an ALB takes none", kindLBC, i)
			}
			ids = append(ids, sn.Identifier)
		}
		chosen, err = b.cloud.SubnetsByNameOrID(ids, q, translate.Source{Object: b.ref, Field: kindLBC + " loadBalancerSubnets"}, b.trace)
		if err != nil {
			return nil, err
		}
		b.decide("subnets", translate.DescribeSubnets(chosen), "%s loadBalancerSubnets", kindLBC)
		b.subnetsUsed = chosen
		if b.flavor.nlb() {
			return b.subnetAllocations(chosen, *s.LoadBalancerSubnets, scheme, ipType)
		}
	case s.LoadBalancerSubnetsSelector != nil && len(*s.LoadBalancerSubnetsSelector) > 0:
		var src string
		chosen, src, err = b.cloud.DiscoverSubnets(q, *s.LoadBalancerSubnetsSelector)
		if err != nil {
			return nil, fmt.Errorf("%s loadBalancerSubnetsSelector: %w", kindLBC, err)
		}
		b.decide("subnets", translate.DescribeSubnets(chosen), "%s loadBalancerSubnetsSelector: %s, one per zone", kindLBC, src)
		b.subnetsUsed = chosen
	default:
		out, value, source, err := b.cloud.DefaultSubnets(q, b.stack.ID.String())
		if err != nil {
			return nil, err
		}
		b.decide("subnets", value, "%s", source)
		for _, m := range out {
			if sn, ok := b.cloud.SubnetByID(m.SubnetID); ok {
				b.subnetsUsed = append(b.subnetsUsed, sn)
			}
		}
		return out, nil
	}
	return translate.SubnetMappings(chosen), nil
}

// securityGroups returns the load balancer's security groups: the managed
// one (with the shared backend security group), or the configured ones.
func (b *gwBuilder) securityGroups(ipType stack.IPAddressType) ([]stack.Token, error) {
	s := &b.cfg.spec
	if b.flavor.nlb() && s.DisableSecurityGroup != nil && *s.DisableSecurityGroup {
		if s.SecurityGroups != nil && len(*s.SecurityGroups) > 0 {
			return nil, fmt.Errorf("%s: disableSecurityGroup and securityGroups cannot both be set", kindLBC)
		}
		b.decide("security groups", "none", "%s disableSecurityGroup (the targets admit the load balancer's subnets, or the clients when their addresses are preserved)", kindLBC)
		return nil, nil
	}
	if s.SecurityGroups == nil || len(*s.SecurityGroups) == 0 {
		sg, err := b.managedSecurityGroup(ipType)
		if err != nil {
			return nil, err
		}
		if err := b.stack.Add(sg); err != nil {
			return nil, err
		}
		toks := []stack.Token{sg.GroupID()}
		if !b.opts.EnableBackendSG {
			t := sg.GroupID()
			b.backendSG = &t
			b.decide("security groups", sg.Spec.GroupName, "managed security group (no %s securityGroups); it also admits the load balancer to the targets (backend security group disabled)", kindLBC)
			return toks, nil
		}
		t := stack.Literal(b.cloud.BackendSecurityGroup(b.ref, b.trace))
		b.backendSG, b.backendSGAllocated = &t, true
		b.decide("security groups", sg.Spec.GroupName+" + "+t.Value, "managed security group for the listeners (no %s securityGroups) and the shared backend security group %s", kindLBC, b.cloud.BackendSecurityGroupName())
		return append(toks, t), nil
	}
	ids, err := b.cloud.SecurityGroupsByNameOrID(*s.SecurityGroups, translate.Source{Object: b.ref, Field: kindLBC + " securityGroups"}, b.trace)
	if err != nil {
		return nil, err
	}
	var toks []stack.Token
	for _, id := range ids {
		toks = append(toks, stack.Literal(id))
	}
	b.decide("security groups", strings.Join(ids, ", "), "%s securityGroups", kindLBC)
	if s.ManageBackendSecurityGroupRules != nil && *s.ManageBackendSecurityGroupRules {
		if !b.opts.EnableBackendSG {
			return nil, fmt.Errorf("%s manageBackendSecurityGroupRules needs the backend security group, which is disabled (--enable-backend-security-group=false)", kindLBC)
		}
		t := stack.Literal(b.cloud.BackendSecurityGroup(b.ref, b.trace))
		b.backendSG, b.backendSGAllocated = &t, true
		toks = append(toks, t)
	}
	return toks, nil
}

// managedSecurityGroup is the security group the controller creates for
// the Gateway: the listener ports open to the source ranges (every
// address by default) and prefix lists.
func (b *gwBuilder) managedSecurityGroup(ipType stack.IPAddressType) (*stack.SecurityGroup, error) {
	s := &b.cfg.spec
	hash := translate.Hash(b.opts.ClusterName, b.gw.Name, b.gw.Namespace, string(b.gw.UID))
	name := fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.gw.Namespace), 8), translate.Trunc(translate.Sanitize(b.gw.Name), 8), hash[:10])
	ranges := []string{"0.0.0.0/0", "::/0"}
	if s.SourceRanges != nil {
		ranges = *s.SourceRanges
	}
	var prefixes []string
	if s.SecurityGroupPrefixes != nil {
		prefixes = *s.SecurityGroupPrefixes
	}
	icmp := s.EnableICMP != nil && *s.EnableICMP
	v6 := ipType == stack.IPAddressTypeDualStack || ipType == stack.IPAddressTypeDualStackWithoutPublicIPv4
	var perms []stack.IPPermission
	for _, pp := range b.portProtocols() {
		p, proto := pp.port, pp.ipProtocol
		for _, c := range ranges {
			pre, err := netip.ParsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("%s sourceRanges: %q is not a CIDR", kindLBC, c)
			}
			if pre.Addr().Is4() {
				perms = append(perms, stack.IPPermission{IPProtocol: proto, FromPort: &p, ToPort: &p, IPRanges: []stack.IPRange{{CIDRIP: c}}})
				if icmp {
					perms = append(perms, stack.IPPermission{IPProtocol: "icmp", FromPort: ptrTo(int32(3)), ToPort: ptrTo(int32(4)), IPRanges: []stack.IPRange{{CIDRIP: c}}})
				}
			} else if v6 {
				perms = append(perms, stack.IPPermission{IPProtocol: proto, FromPort: &p, ToPort: &p, IPv6Ranges: []stack.IPv6Range{{CIDRIPv6: c}}})
				if icmp {
					perms = append(perms, stack.IPPermission{IPProtocol: "icmpv6", FromPort: ptrTo(int32(2)), ToPort: ptrTo(int32(0)), IPv6Ranges: []stack.IPv6Range{{CIDRIPv6: c}}})
				}
			}
		}
		for _, pl := range prefixes {
			perms = append(perms, stack.IPPermission{IPProtocol: proto, FromPort: &p, ToPort: &p, PrefixLists: []stack.PrefixList{{ListID: pl}}})
		}
	}
	return &stack.SecurityGroup{ResID: stack.IDManagedSecurityGroup, Spec: stack.SecurityGroupSpec{
		GroupName: name, Description: managedSGDescription, Tags: b.lbTags, Ingress: perms,
	}}, nil
}

// addons adds WAFv2, Shield Advanced and capacity reservation as the
// configuration asks; a setting removed since the last deploy (the
// Gateway's add-on annotations) is switched off once.
func (b *gwBuilder) addons() error {
	s := &b.cfg.spec
	was := func(name string) bool { return b.gw.Annotations[AnnotationAddonPrefix+name] == "true" }
	b.addonState = map[string]bool{}
	lbARN := b.lb.ARN()
	acl := ""
	if s.WAFv2 != nil {
		acl = s.WAFv2.ACL
	}
	shield := s.ShieldAdvanced != nil && s.ShieldAdvanced.Enabled
	if b.flavor.nlb() && (acl != "" || shield) {
		// The reference's NLB Gateways have the capacity add-on only.
		b.trace.Add(translate.Warning, b.ref, "%s wafV2 and shieldConfiguration apply to Application Load Balancers; ignored", kindLBC)
		acl, shield = "", false
	}
	if acl != "" || was(AddonWAFv2) {
		if err := b.stack.Add(&stack.WAFv2Association{ResID: stack.IDLoadBalancer, Spec: stack.WAFv2AssociationSpec{WebACLARN: acl, ResourceARN: lbARN}}); err != nil {
			return err
		}
	}
	b.addonState[AddonWAFv2] = acl != ""
	if shield || was(AddonShield) {
		if err := b.stack.Add(&stack.ShieldProtection{ResID: stack.IDLoadBalancer, Spec: stack.ShieldProtectionSpec{Enabled: shield, ResourceARN: lbARN}}); err != nil {
			return err
		}
	}
	b.addonState[AddonShield] = shield
	var units int32
	if s.MinimumLoadBalancerCapacity != nil {
		units = s.MinimumLoadBalancerCapacity.CapacityUnits
	}
	if units > 0 || was(AddonProvisionedCapacity) {
		if b.opts.FeatureGates.Enabled(translate.GateLBCapacityReservation) {
			b.lb.Spec.MinimumLoadBalancerCapacity = &stack.MinimumCapacity{CapacityUnits: units}
		}
	}
	b.addonState[AddonProvisionedCapacity] = units > 0
	return nil
}

// deletionProtected reports whether the configuration turns deletion
// protection on.
func deletionProtected(s *v1beta1.LoadBalancerConfigurationSpec) bool {
	for _, a := range s.LoadBalancerAttributes {
		if a.Key == "deletion_protection.enabled" {
			return strings.EqualFold(a.Value, "true")
		}
	}
	return false
}
