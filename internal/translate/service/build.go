package service

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// NLB defaults of the reference's Service model builder.
const (
	defaultHealthCheckPath     = "/"
	defaultHealthCheckInterval = 10
	defaultHealthCheckTimeout  = 10
	defaultHealthyThreshold    = 3
	defaultUnhealthyThreshold  = 3
	defaultMatcher             = "200-399"
	managedSGDescription       = "[k8s] Managed SecurityGroup for LoadBalancer"
)

func ptr[T any](v T) *T { return &v }

type builder struct {
	cloud     *translate.Cloud
	opts      *translate.Options
	svc       *corev1.Service
	ref       translate.ObjectRef
	ann       annotations.Set
	services  map[string]*corev1.Service
	workloads []translate.Workload
	stack     *stack.Stack
	trace     *translate.Trace

	lb                 *stack.LoadBalancer
	subnets            []translate.Subnet
	backendSG          *stack.Token
	backendSGAllocated bool
	preserveClientIP   bool
	tgs                map[string]*stack.TargetGroup
	existing           *translate.ExistingLoadBalancer
}

func newBuilder(cloud *translate.Cloud, opts *translate.Options, svc *corev1.Service, services map[string]*corev1.Service, workloads []translate.Workload) *builder {
	b := &builder{cloud: cloud, opts: opts, svc: svc, ref: translate.ServiceRef(svc), ann: annotations.Set(svc.Annotations),
		services: services, workloads: workloads,
		stack: stack.New(stack.ID{Namespace: svc.Namespace, Name: svc.Name}, stack.TagPrefixService),
		trace: &translate.Trace{}, tgs: map[string]*stack.TargetGroup{}}
	if ex, ok := opts.References.ExistingLoadBalancers[svc.Namespace+"/"+svc.Name]; ok {
		b.existing = &ex
	}
	return b
}

func (b *builder) decide(subject, value, format string, args ...any) {
	b.trace.DecideOnce(subject, value, format, args...)
}

func (b *builder) src(key string) string { return "annotation " + key }

func (b *builder) run() error {
	scheme, err := b.scheme()
	if err != nil {
		return err
	}
	ipType, err := b.ipAddressType()
	if err != nil {
		return err
	}
	if err := b.resolveSubnets(scheme, ipType); err != nil {
		return err
	}
	if err := b.buildLoadBalancer(scheme, ipType); err != nil {
		return err
	}
	return b.buildListeners(scheme)
}

func (b *builder) scheme() (stack.Scheme, error) {
	if v, ok := b.ann.String(annotations.ServiceScheme); ok {
		if v != "internal" && v != "internet-facing" {
			return "", &annotations.Error{Key: annotations.ServiceScheme, Value: v, Want: "internal or internet-facing"}
		}
		b.decide("scheme", v, "%s", b.src(annotations.ServiceScheme))
		return stack.Scheme(v), nil
	}
	internal, ok, err := b.ann.Bool(annotations.ServiceInternal)
	if err != nil {
		return "", err
	}
	if ok {
		s := stack.SchemeInternetFacing
		if internal {
			s = stack.SchemeInternal
		}
		b.decide("scheme", string(s), "deprecated %s", b.src(annotations.ServiceInternal))
		return s, nil
	}
	if b.existing != nil && (b.existing.Scheme == "internal" || b.existing.Scheme == "internet-facing") {
		b.decide("scheme", b.existing.Scheme, "kept from the existing load balancer")
		return stack.Scheme(b.existing.Scheme), nil
	}
	b.decide("scheme", b.opts.DefaultScheme, "default --default-load-balancer-scheme (no %s)", annotations.ServiceScheme)
	return stack.Scheme(b.opts.DefaultScheme), nil
}

func (b *builder) ipAddressType() (stack.IPAddressType, error) {
	v, ok := b.ann.String(annotations.ServiceIPAddressType)
	if !ok {
		return stack.IPAddressTypeIPv4, nil
	}
	switch stack.IPAddressType(v) {
	case stack.IPAddressTypeIPv4, stack.IPAddressTypeDualStack:
		return stack.IPAddressType(v), nil
	}
	return "", &annotations.Error{Key: annotations.ServiceIPAddressType, Value: v, Want: "ipv4 or dualstack"}
}

func (b *builder) resolveSubnets(scheme stack.Scheme, ipType stack.IPAddressType) error {
	q := translate.SubnetQuery{LBType: stack.LoadBalancerTypeNetwork, Scheme: scheme, IPAddressType: ipType}
	var err error
	if l, ok := b.ann.StringList(annotations.ServiceSubnets); ok {
		b.subnets, err = b.cloud.SubnetsByNameOrID(l, q, translate.Source{Object: b.ref, Field: "annotation " + annotations.ServiceSubnets}, b.trace)
		if err == nil {
			b.decide("subnets", subnetList(b.subnets), "%s", b.src(annotations.ServiceSubnets))
		}
		return err
	}
	if b.existing != nil && b.existing.Scheme == string(scheme) && len(b.existing.SubnetIDs) > 0 {
		b.subnets, err = b.cloud.SubnetsByNameOrID(b.existing.SubnetIDs, q, translate.Source{Object: b.ref, Field: "existing load balancer subnets"}, b.trace)
		if err == nil {
			b.decide("subnets", subnetList(b.subnets), "kept from the existing load balancer")
		}
		return err
	}
	var src string
	b.subnets, src, err = b.cloud.DiscoverSubnets(q, nil)
	if err != nil {
		return fmt.Errorf("couldn't auto-discover subnets: %w", err)
	}
	b.decide("subnets", subnetList(b.subnets), "%s in %s, one per zone (cluster-tagged first, then lowest ID)", src, b.cloud.VPCID())
	b.narrowToAddresses()
	return nil
}

// narrowToAddresses handles fixed addresses (Elastic IPs, private IPv4 or
// IPv6 addresses) fewer than the discovered subnets. The reference fails
// (one address per subnet); with assumed references (a plan against the
// local cloud, or elbow dev) the load balancer is placed in the first
// zones only, one per address, with a warning.
func (b *builder) narrowToAddresses() {
	if !b.opts.AssumeMissingReferences {
		return
	}
	for _, key := range []string{annotations.ServiceEIPAllocations, annotations.ServicePrivateIPv4Addresses, annotations.ServiceIPv6Addresses} {
		l, ok := b.ann.StringList(key)
		if !ok || len(l) == 0 || len(l) >= len(b.subnets) {
			continue
		}
		byZone := append([]translate.Subnet(nil), b.subnets...)
		sort.SliceStable(byZone, func(i, j int) bool { return byZone[i].AvailabilityZone < byZone[j].AvailabilityZone })
		keep := map[string]bool{}
		for _, s := range byZone[:len(l)] {
			keep[s.ID] = true
		}
		var kept []translate.Subnet
		for _, s := range b.subnets {
			if keep[s.ID] {
				kept = append(kept, s)
			}
		}
		b.trace.Add(translate.Warning, b.ref, "%s names %d address(es) for %d discovered subnets: the reference controller fails here (one address per subnet); elbow plan places the load balancer in the first %d zone(s) only (%s); name the subnets with %s to choose",
			key, len(l), len(b.subnets), len(l), subnetList(kept), annotations.ServiceSubnets)
		b.subnets = kept
		b.decide("subnets", subnetList(kept), "narrowed to one subnet per address of %s", key)
		return
	}
}

func subnetList(ss []translate.Subnet) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID+" ("+s.AvailabilityZone+")")
	}
	return strings.Join(out, ", ")
}

// tags are the Service's additional-resource-tags with --default-tags.
func (b *builder) tags() (map[string]string, error) {
	t, _, err := b.ann.StringMap(annotations.ServiceAdditionalResourceTags)
	if err != nil {
		return nil, err
	}
	for k := range t {
		if b.opts.ExternalManaged(k) {
			return nil, &annotations.Error{Key: annotations.ServiceAdditionalResourceTags, Value: b.ann[annotations.ServiceAdditionalResourceTags], Err: fmt.Errorf("tag key %s is external-managed and cannot be set", k)}
		}
	}
	return b.opts.WithDefaultTags(t), nil
}

func (b *builder) buildLoadBalancer(scheme stack.Scheme, ipType stack.IPAddressType) error {
	spec := stack.LoadBalancerSpec{Type: stack.LoadBalancerTypeNetwork, Scheme: scheme, IPAddressType: ipType, EnablePrefixForIPv6SourceNat: "off"}
	if v, ok := b.ann.String(annotations.ServiceEnablePrefixForIPv6SourceNat); ok {
		if v != "on" && v != "off" {
			return &annotations.Error{Key: annotations.ServiceEnablePrefixForIPv6SourceNat, Value: v, Want: "on or off"}
		}
		if v == "on" {
			if ipType == stack.IPAddressTypeIPv4 {
				return &annotations.Error{Key: annotations.ServiceEnablePrefixForIPv6SourceNat, Value: v, Err: fmt.Errorf("only dualstack load balancers can use a prefix for IPv6 source NAT")}
			}
			var noV6 []string
			for _, s := range b.subnets {
				if s.IPv6CIDR == "" && !s.Assumed {
					noV6 = append(noV6, s.ID)
				}
			}
			if len(noV6) > 0 {
				return &annotations.Error{Key: annotations.ServiceEnablePrefixForIPv6SourceNat, Value: v, Err: fmt.Errorf("subnets %s have no IPv6 CIDR", strings.Join(noV6, ", "))}
			}
		}
		spec.EnablePrefixForIPv6SourceNat = v
	}
	attrs, err := b.lbAttributes()
	if err != nil {
		return err
	}
	spec.LoadBalancerAttributes = attrs
	if spec.MinimumLoadBalancerCapacity, err = b.capacity(); err != nil {
		return err
	}
	if spec.SecurityGroups, err = b.securityGroups(ipType); err != nil {
		return err
	}
	if spec.Tags, err = b.tags(); err != nil {
		return err
	}
	if spec.SubnetMappings, err = b.subnetMappings(scheme, ipType, spec.EnablePrefixForIPv6SourceNat == "on"); err != nil {
		return err
	}
	if spec.Name, err = b.name(scheme); err != nil {
		return err
	}
	if v, ok := b.ann.String(annotations.ServiceInboundSGRulesOnPrivateLink); ok {
		if v != "on" && v != "off" {
			return &annotations.Error{Key: annotations.ServiceInboundSGRulesOnPrivateLink, Value: v, Want: "on or off"}
		}
		spec.SecurityGroupsInboundRulesOnPrivateLink = &v
	}
	b.lb = &stack.LoadBalancer{ResID: stack.IDLoadBalancer, Spec: spec}
	return b.stack.Add(b.lb)
}

func (b *builder) lbAttributes() ([]stack.Attribute, error) {
	attrs, _, err := b.ann.StringMap(annotations.ServiceAttributes)
	if err != nil {
		return nil, err
	}
	if p, ok := attrs["dns_record.client_routing_policy"]; ok {
		switch p {
		case "availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone":
		default:
			return nil, &annotations.Error{Key: annotations.ServiceAttributes, Value: b.ann[annotations.ServiceAttributes], Want: "dns_record.client_routing_policy any_availability_zone, partial_availability_zone_affinity or availability_zone_affinity"}
		}
	}
	// The deprecated dedicated annotations win over aws-load-balancer-attributes.
	specific := map[string]string{}
	on, ok, err := b.ann.Bool(annotations.ServiceAccessLogEnabled)
	if err != nil {
		return nil, err
	}
	if ok {
		b.trace.Add(translate.Note, b.ref, "%s is deprecated: use %s: access_logs.s3.enabled=…", annotations.ServiceAccessLogEnabled, annotations.ServiceAttributes)
	}
	if ok && on {
		specific["access_logs.s3.enabled"] = "true"
		if v, ok := b.ann.String(annotations.ServiceAccessLogS3BucketName); ok {
			specific["access_logs.s3.bucket"] = v
		}
		if v, ok := b.ann.String(annotations.ServiceAccessLogS3BucketPrefix); ok {
			specific["access_logs.s3.prefix"] = v
		}
	}
	cz, ok, err := b.ann.Bool(annotations.ServiceCrossZoneEnabled)
	if err != nil {
		return nil, err
	}
	if ok {
		specific["load_balancing.cross_zone.enabled"] = strconv.FormatBool(cz)
		b.trace.Add(translate.Note, b.ref, "%s is deprecated: use %s: load_balancing.cross_zone.enabled=…", annotations.ServiceCrossZoneEnabled, annotations.ServiceAttributes)
	}
	merged := translate.MergeTags(specific, attrs)
	var out []stack.Attribute
	for _, k := range translate.SortedKeys(merged) {
		out = append(out, stack.Attribute{Key: k, Value: merged[k]})
	}
	return out, nil
}

func (b *builder) capacity() (*stack.MinimumCapacity, error) {
	if !b.opts.FeatureGates.Enabled(translate.GateLBCapacityReservation) {
		return nil, nil
	}
	m, ok, err := b.ann.StringMap(annotations.ServiceMinimumLoadBalancerCapacity)
	if err != nil || !ok {
		return nil, err
	}
	var out *stack.MinimumCapacity
	for _, k := range translate.SortedKeys(m) {
		if k != "CapacityUnits" {
			return nil, &annotations.Error{Key: annotations.ServiceMinimumLoadBalancerCapacity, Value: b.ann[annotations.ServiceMinimumLoadBalancerCapacity], Want: "CapacityUnits=N", Err: fmt.Errorf("unknown key %s", k)}
		}
		n, err := strconv.ParseInt(m[k], 10, 32)
		if err != nil {
			return nil, &annotations.Error{Key: annotations.ServiceMinimumLoadBalancerCapacity, Value: b.ann[annotations.ServiceMinimumLoadBalancerCapacity], Want: "CapacityUnits=N"}
		}
		out = &stack.MinimumCapacity{CapacityUnits: int32(n)}
	}
	return out, nil
}

func (b *builder) securityGroups(ipType stack.IPAddressType) ([]stack.Token, error) {
	disable, disableSet, err := b.ann.Bool(annotations.ServiceDisableNLBSecurityGroup)
	if err != nil {
		return nil, err
	}
	if b.existing != nil && len(b.existing.SecurityGroups) == 0 {
		b.decide("security groups", "none", "the existing load balancer has none (an NLB cannot gain security groups later)")
		return nil, nil
	}
	if !b.opts.FeatureGates.Enabled(translate.GateNLBSecurityGroup) || (disableSet && disable) {
		if b.existing != nil && len(b.existing.SecurityGroups) > 0 {
			return nil, fmt.Errorf("conflicting security groups configuration: the existing load balancer has security groups, which cannot be removed")
		}
		b.decide("security groups", "none", "disabled (%s or gate NLBSecurityGroup off)", annotations.ServiceDisableNLBSecurityGroup)
		return nil, nil
	}
	list, _ := b.ann.StringList(annotations.ServiceSecurityGroups)
	var toks []stack.Token
	if len(list) == 0 {
		sg, err := b.managedSecurityGroup(ipType)
		if err != nil {
			return nil, err
		}
		if err := b.stack.Add(sg); err != nil {
			return nil, err
		}
		toks = append(toks, sg.GroupID())
		if !b.opts.EnableBackendSG {
			t := sg.GroupID()
			b.backendSG = &t
			b.decide("security groups", sg.Spec.GroupName, "managed security group (no %s)", annotations.ServiceSecurityGroups)
			return toks, nil
		}
		t := stack.Literal(b.cloud.BackendSecurityGroup(b.ref, b.trace))
		b.backendSG, b.backendSGAllocated = &t, true
		b.decide("security groups", sg.Spec.GroupName+" + "+t.Value, "managed security group for the listeners (no %s) and the shared backend security group %s", annotations.ServiceSecurityGroups, b.cloud.BackendSecurityGroupName())
		return append(toks, t), nil
	}
	manage := b.opts.EnableManageBackendSGRules
	if v, ok, err := b.ann.Bool(annotations.ServiceManageBackendSGRules); err != nil {
		return nil, err
	} else if ok {
		manage = v
	}
	ids, err := b.cloud.SecurityGroupsByNameOrID(list, translate.Source{Object: b.ref, Field: "annotation " + annotations.ServiceSecurityGroups}, b.trace)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		toks = append(toks, stack.Literal(id))
	}
	b.decide("security groups", strings.Join(ids, ", "), "%s", b.src(annotations.ServiceSecurityGroups))
	if manage {
		if !b.opts.EnableBackendSG {
			return nil, fmt.Errorf("managing backend security group rules with explicit security groups needs the backend security group, which is disabled")
		}
		t := stack.Literal(b.cloud.BackendSecurityGroup(b.ref, b.trace))
		b.backendSG, b.backendSGAllocated = &t, true
		toks = append(toks, t)
	} else {
		b.trace.Add(translate.Note, b.ref, "with explicit security groups the controller does not add rules to the targets' security groups (%s is false): allow the load balancer's traffic to the targets yourself", annotations.ServiceManageBackendSGRules)
	}
	return toks, nil
}

func (b *builder) managedSecurityGroup(ipType stack.IPAddressType) (*stack.SecurityGroup, error) {
	hash := translate.Hash(b.opts.ClusterName, b.svc.Name, b.svc.Namespace, string(b.svc.UID))
	name := fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.svc.Namespace), 8), translate.Trunc(translate.Sanitize(b.svc.Name), 8), hash[:10])
	tags, err := b.tags()
	if err != nil {
		return nil, err
	}
	icmp, _ := b.ann.String(annotations.ServiceEnableICMPForPathMTUDiscovery)
	prefixLists, plSet := b.ann.StringList(annotations.ServiceSecurityGroupPrefixLists)
	cidrs, cidrSource := b.sourceRanges()
	for _, c := range cidrs {
		if strings.Contains(c, ":") && ipType != stack.IPAddressTypeDualStack {
			return nil, fmt.Errorf("source range %s is IPv6 but the load balancer is not dualstack (set %s: dualstack)", c, annotations.ServiceIPAddressType)
		}
	}
	if len(cidrs) == 0 && !plSet {
		cidrs = []string{"0.0.0.0/0"}
		if ipType == stack.IPAddressTypeDualStack {
			cidrs = append(cidrs, "::/0")
		}
		cidrSource = "default: open to the world (no loadBalancerSourceRanges)"
	}
	b.decide("inbound sources", strings.Join(append(append([]string{}, cidrs...), prefixLists...), ", "), "%s", cidrSource)
	var perms []stack.IPPermission
	for _, p := range b.svc.Spec.Ports {
		port := p.Port
		proto := strings.ToLower(string(p.Protocol))
		for _, c := range cidrs {
			if !strings.Contains(c, ":") {
				perms = append(perms, stack.IPPermission{IPProtocol: proto, FromPort: &port, ToPort: &port, IPRanges: []stack.IPRange{{CIDRIP: c}}})
				if icmp == "on" {
					perms = append(perms, stack.IPPermission{IPProtocol: "icmp", FromPort: ptr(int32(3)), ToPort: ptr(int32(4)), IPRanges: []stack.IPRange{{CIDRIP: c}}})
				}
			} else {
				perms = append(perms, stack.IPPermission{IPProtocol: proto, FromPort: &port, ToPort: &port, IPv6Ranges: []stack.IPv6Range{{CIDRIPv6: c}}})
				if icmp == "on" {
					perms = append(perms, stack.IPPermission{IPProtocol: "icmpv6", FromPort: ptr(int32(2)), ToPort: ptr(int32(0)), IPv6Ranges: []stack.IPv6Range{{CIDRIPv6: c}}})
				}
			}
		}
		for _, pl := range prefixLists {
			perms = append(perms, stack.IPPermission{IPProtocol: proto, FromPort: &port, ToPort: &port, PrefixLists: []stack.PrefixList{{ListID: pl}}})
		}
	}
	return &stack.SecurityGroup{ResID: stack.IDManagedSecurityGroup, Spec: stack.SecurityGroupSpec{
		GroupName: name, Description: managedSGDescription, Tags: b.opts.WithDefaultTags(tags), Ingress: perms,
	}}, nil
}

// sourceRanges are spec.loadBalancerSourceRanges, else the annotation.
func (b *builder) sourceRanges() ([]string, string) {
	if len(b.svc.Spec.LoadBalancerSourceRanges) > 0 {
		return append([]string(nil), b.svc.Spec.LoadBalancerSourceRanges...), "spec.loadBalancerSourceRanges"
	}
	if l, ok := b.ann.StringList(annotations.ServiceLoadBalancerSourceRanges); ok && len(l) > 0 {
		return l, b.src(annotations.ServiceLoadBalancerSourceRanges)
	}
	return nil, ""
}

func (b *builder) subnetMappings(scheme stack.Scheme, ipType stack.IPAddressType, prefixNat bool) ([]stack.SubnetMapping, error) {
	n := len(b.subnets)
	eips, eipSet := b.ann.StringList(annotations.ServiceEIPAllocations)
	if eipSet {
		if scheme != stack.SchemeInternetFacing {
			return nil, &annotations.Error{Key: annotations.ServiceEIPAllocations, Value: b.ann[annotations.ServiceEIPAllocations], Err: fmt.Errorf("elastic IPs can only be set for internet-facing load balancers (scheme is %s)", scheme)}
		}
		if len(eips) != n {
			return nil, &annotations.Error{Key: annotations.ServiceEIPAllocations, Value: b.ann[annotations.ServiceEIPAllocations], Err: fmt.Errorf("count of EIP allocations (%d) and subnets (%d) must match: one per subnet (%s)", len(eips), n, subnetList(b.subnets))}
		}
		if err := b.cloud.CheckElasticIPs(eips, translate.Source{Object: b.ref, Field: "annotation " + annotations.ServiceEIPAllocations}, b.trace); err != nil {
			return nil, err
		}
	}
	var v4 []netip.Addr
	raw4, v4Set := b.ann.StringList(annotations.ServicePrivateIPv4Addresses)
	if v4Set {
		if scheme != stack.SchemeInternal {
			return nil, &annotations.Error{Key: annotations.ServicePrivateIPv4Addresses, Value: b.ann[annotations.ServicePrivateIPv4Addresses], Err: fmt.Errorf("private IPv4 addresses can only be set for internal load balancers")}
		}
		if len(raw4) != n {
			return nil, &annotations.Error{Key: annotations.ServicePrivateIPv4Addresses, Value: b.ann[annotations.ServicePrivateIPv4Addresses], Err: fmt.Errorf("count of private IPv4 addresses (%d) and subnets (%d) must match", len(raw4), n)}
		}
		for _, r := range raw4 {
			a, err := netip.ParseAddr(r)
			if err != nil || !a.Is4() {
				return nil, &annotations.Error{Key: annotations.ServicePrivateIPv4Addresses, Value: b.ann[annotations.ServicePrivateIPv4Addresses], Want: "IPv4 addresses, one per subnet", Err: fmt.Errorf("%q is not an IPv4 address", r)}
			}
			v4 = append(v4, a)
		}
	}
	var v6 []netip.Addr
	raw6, v6Set := b.ann.StringList(annotations.ServiceIPv6Addresses)
	if v6Set {
		if ipType != stack.IPAddressTypeDualStack {
			return nil, &annotations.Error{Key: annotations.ServiceIPv6Addresses, Value: b.ann[annotations.ServiceIPv6Addresses], Err: fmt.Errorf("IPv6 addresses can only be set for dualstack load balancers")}
		}
		if len(raw6) != n {
			return nil, &annotations.Error{Key: annotations.ServiceIPv6Addresses, Value: b.ann[annotations.ServiceIPv6Addresses], Err: fmt.Errorf("count of IPv6 addresses (%d) and subnets (%d) must match", len(raw6), n)}
		}
		for _, r := range raw6 {
			a, err := netip.ParseAddr(r)
			if err != nil || !a.Is6() {
				return nil, &annotations.Error{Key: annotations.ServiceIPv6Addresses, Value: b.ann[annotations.ServiceIPv6Addresses], Want: "IPv6 addresses, one per subnet", Err: fmt.Errorf("%q is not an IPv6 address", r)}
			}
			v6 = append(v6, a)
		}
	}
	natPrefixes, natSet := b.ann.StringList(annotations.ServiceSourceNatIPv6Prefixes)
	if natSet {
		if err := b.checkNatPrefixes(natPrefixes, ipType, prefixNat); err != nil {
			return nil, err
		}
	}
	out := make([]stack.SubnetMapping, 0, n)
	for i, s := range b.subnets {
		m := stack.SubnetMapping{SubnetID: s.ID}
		if eipSet {
			m.AllocationID = ptr(eips[i])
		}
		if v4Set {
			a, err := addrIn(v4, s.CIDR, i, s.Assumed)
			if err != nil {
				return nil, &annotations.Error{Key: annotations.ServicePrivateIPv4Addresses, Value: b.ann[annotations.ServicePrivateIPv4Addresses], Err: fmt.Errorf("subnet %s: %w", s.ID, err)}
			}
			m.PrivateIPv4Address = ptr(a)
		}
		if prefixNat && natSet {
			m.SourceNatIPv6Prefix = ptr(natPrefixes[i])
		}
		if v6Set {
			a, err := addrIn(v6, s.IPv6CIDR, i, s.Assumed)
			if err != nil {
				return nil, &annotations.Error{Key: annotations.ServiceIPv6Addresses, Value: b.ann[annotations.ServiceIPv6Addresses], Err: fmt.Errorf("subnet %s: %w", s.ID, err)}
			}
			m.IPv6Address = ptr(a)
		}
		out = append(out, m)
	}
	return out, nil
}

// addrIn picks the one address inside a subnet's CIDR; for an assumed
// subnet (CIDR unknown) the address in the same position is taken.
func addrIn(addrs []netip.Addr, cidr string, i int, assumed bool) (string, error) {
	if assumed || cidr == "" {
		return addrs[i].String(), nil
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", err
	}
	var in []string
	for _, a := range addrs {
		if p.Contains(a) {
			in = append(in, a.String())
		}
	}
	if len(in) != 1 {
		return "", fmt.Errorf("want exactly one address inside %s, found %d", cidr, len(in))
	}
	return in[0], nil
}

func (b *builder) checkNatPrefixes(prefixes []string, ipType stack.IPAddressType, enabled bool) error {
	fail := func(format string, args ...any) error {
		return &annotations.Error{Key: annotations.ServiceSourceNatIPv6Prefixes, Value: b.ann[annotations.ServiceSourceNatIPv6Prefixes], Want: "auto_assigned or an IPv6 /80 inside each subnet, one per subnet", Err: fmt.Errorf(format, args...)}
	}
	if ipType != stack.IPAddressTypeDualStack {
		return fail("only dualstack load balancers take source NAT prefixes")
	}
	if !enabled {
		return fail("needs %s: on", annotations.ServiceEnablePrefixForIPv6SourceNat)
	}
	if len(prefixes) != len(b.subnets) {
		return fail("%d prefixes for %d subnets", len(prefixes), len(b.subnets))
	}
	for i, p := range prefixes {
		if err := translate.CheckSourceNATPrefix(p, b.subnets[i]); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}

func (b *builder) name(scheme stack.Scheme) (string, error) {
	if v, ok := b.ann.String(annotations.ServiceName); ok {
		if len(v) > 32 {
			return "", &annotations.Error{Key: annotations.ServiceName, Value: v, Want: "at most 32 characters"}
		}
		b.decide("name", v, "%s (takes effect only when the load balancer is created)", b.src(annotations.ServiceName))
		return v, nil
	}
	hash := translate.Hash(b.opts.ClusterName, string(b.svc.UID), string(scheme))
	n := fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.svc.Namespace), 8), translate.Trunc(translate.Sanitize(b.svc.Name), 8), hash[:10])
	if b.svc.UID == "" {
		b.decide("name", n, "generated: sha256(cluster %q + Service UID + scheme %q); the UID is assigned by the API server on create, so the real name differs", b.opts.ClusterName, scheme)
	} else {
		b.decide("name", n, "generated: sha256(cluster %q + Service UID %s + scheme %q)", b.opts.ClusterName, b.svc.UID, scheme)
	}
	return n, nil
}
