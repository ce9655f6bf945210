package ingress

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// pick is a value one member provides for a group-wide setting.
type pick struct {
	m      *member
	value  string
	source string
}

// exclusive collects a group-wide setting that every member giving it must
// give alike: the first member (in group order) wins and a later member
// with a different value is left out.
func (b *builder) exclusive(setting string, get func(m *member) (value, source string, ok bool, err error)) (*pick, error) {
	var first *pick
	for _, m := range b.members {
		v, src, ok, err := get(m)
		if err != nil {
			return nil, blame(m, err)
		}
		if !ok {
			continue
		}
		if first == nil {
			first = &pick{m: m, value: v, source: src}
		} else if first.value != v {
			return nil, blame(m, fmt.Errorf("conflicting %s: %s wants %q, %s wants %q", setting, first.m.ref.Key(), first.value, m.ref.Key(), v))
		}
	}
	return first, nil
}

func annSource(key string, m *member) string { return "annotation " + key + " on " + m.ref.String() }

func (b *builder) buildLoadBalancer() error {
	scheme, err := b.exclusive("scheme", func(m *member) (string, string, bool, error) {
		if m.params != nil && m.params.Spec.Scheme != nil {
			return string(*m.params.Spec.Scheme), "IngressClassParams " + m.params.Name + " spec.scheme", true, nil
		}
		v, ok := m.ann.String(annotations.IngressScheme)
		if ok && v != "internal" && v != "internet-facing" {
			return "", "", false, &annotations.Error{Key: annotations.IngressScheme, Value: v, Want: "internal or internet-facing"}
		}
		return v, annSource(annotations.IngressScheme, m), ok, nil
	})
	if err != nil {
		return err
	}
	sch := stack.Scheme(b.opts.DefaultScheme)
	if scheme != nil {
		sch = stack.Scheme(scheme.value)
		b.decide("scheme", scheme.value, "%s", scheme.source)
	} else {
		b.decide("scheme", string(sch), "default --default-load-balancer-scheme (no member sets %s)", annotations.IngressScheme)
	}
	ipt, err := b.exclusive("ip-address-type", func(m *member) (string, string, bool, error) {
		if m.params != nil && m.params.Spec.IPAddressType != nil {
			return string(*m.params.Spec.IPAddressType), "IngressClassParams " + m.params.Name, true, nil
		}
		v, ok := m.ann.String(annotations.IngressIPAddressType)
		switch stack.IPAddressType(v) {
		case stack.IPAddressTypeIPv4, stack.IPAddressTypeDualStack, stack.IPAddressTypeDualStackWithoutPublicIPv4:
		default:
			if ok {
				return "", "", false, &annotations.Error{Key: annotations.IngressIPAddressType, Value: v, Want: "ipv4, dualstack or dualstack-without-public-ipv4"}
			}
		}
		return v, annSource(annotations.IngressIPAddressType, m), ok, nil
	})
	if err != nil {
		return err
	}
	ipType := stack.IPAddressTypeIPv4
	if ipt != nil {
		ipType = stack.IPAddressType(ipt.value)
	}
	spec := stack.LoadBalancerSpec{Type: stack.LoadBalancerTypeApplication, Scheme: sch, IPAddressType: ipType}
	// A discovery failure is blamed on the member whose setting asked for
	// it (dual-stack needs IPv6 subnets; a scheme needs subnets of its
	// kind), so that the members that did not ask still build.
	var culprit *member
	if ipt != nil && ipType != stack.IPAddressTypeIPv4 {
		culprit = ipt.m
	} else if scheme != nil {
		culprit = scheme.m
	}
	if spec.SubnetMappings, err = b.subnets(sch, ipType, culprit); err != nil {
		return err
	}
	if spec.SecurityGroups, err = b.securityGroups(ipType); err != nil {
		return err
	}
	coip, err := b.exclusive("customer-owned-ipv4-pool", func(m *member) (string, string, bool, error) {
		v, ok := m.ann.String(annotations.IngressCustomerOwnedIPv4Pool)
		if ok && v == "" {
			return "", "", false, &annotations.Error{Key: annotations.IngressCustomerOwnedIPv4Pool, Value: v, Want: "a customer-owned IPv4 pool ID"}
		}
		return v, "", ok, nil
	})
	if err != nil {
		return err
	}
	if coip != nil {
		spec.CustomerOwnedIPv4Pool = &coip.value
	}
	attrs, err := b.lbAttributes()
	if err != nil {
		return err
	}
	spec.LoadBalancerAttributes = sortedAttrs(attrs)
	tags, err := b.groupTags(b.members)
	if err != nil {
		return err
	}
	spec.Tags = b.opts.WithDefaultTags(tags)
	if spec.Name, err = b.lbName(sch); err != nil {
		return err
	}
	if spec.MinimumLoadBalancerCapacity, err = b.capacity(); err != nil {
		return err
	}
	if spec.IPv4IPAMPool, err = b.ipam(); err != nil {
		return err
	}
	b.lb = &stack.LoadBalancer{ResID: stack.IDLoadBalancer, Spec: spec}
	return b.stack.Add(b.lb)
}

func (b *builder) subnets(sch stack.Scheme, ipType stack.IPAddressType, culprit *member) ([]stack.SubnetMapping, error) {
	q := translate.SubnetQuery{LBType: stack.LoadBalancerTypeApplication, Scheme: sch, IPAddressType: ipType}
	var selBy, listBy *member
	var list []string
	for _, m := range b.members {
		if m.params != nil && m.params.Spec.Subnets != nil {
			if listBy != nil {
				return nil, blame(m, fmt.Errorf("conflicting subnet specifications: %s has annotation %s, %s has IngressClassParams %s spec.subnets", listBy.ref.Key(), annotations.IngressSubnets, m.ref.Key(), m.params.Name))
			}
			if selBy == nil {
				selBy = m
			} else if !reflect.DeepEqual(*selBy.params.Spec.Subnets, *m.params.Spec.Subnets) {
				return nil, blame(m, fmt.Errorf("conflicting IngressClassParams subnet selectors: %s (via %s) and %s (via %s)", selBy.ref.Key(), selBy.params.Name, m.ref.Key(), m.params.Name))
			}
			continue
		}
		l, ok := m.ann.StringList(annotations.IngressSubnets)
		if !ok {
			continue
		}
		if selBy != nil {
			return nil, blame(m, fmt.Errorf("conflicting subnet specifications: %s has IngressClassParams %s spec.subnets, %s has annotation %s", selBy.ref.Key(), selBy.params.Name, m.ref.Key(), annotations.IngressSubnets))
		}
		if listBy == nil {
			listBy, list = m, l
		} else if !sameSet(list, l) {
			return nil, blame(m, fmt.Errorf("conflicting subnets: %s wants %v, %s wants %v", listBy.ref.Key(), list, m.ref.Key(), l))
		}
	}
	var chosen []translate.Subnet
	var err error
	switch {
	case selBy != nil:
		sel := selBy.params.Spec.Subnets
		if len(sel.IDs) > 0 {
			ids := make([]string, 0, len(sel.IDs))
			for _, id := range sel.IDs {
				ids = append(ids, string(id))
			}
			chosen, err = b.cloud.SubnetsByNameOrID(ids, q, translate.Source{Object: selBy.ref, Field: "IngressClassParams " + selBy.params.Name + " spec.subnets.ids"}, b.trace)
			b.decide("subnets", translate.DescribeSubnets(chosen), "IngressClassParams %s spec.subnets.ids", selBy.params.Name)
		} else {
			var src string
			chosen, src, err = b.cloud.DiscoverSubnets(q, sel.Tags)
			b.decide("subnets", translate.DescribeSubnets(chosen), "IngressClassParams %s spec.subnets.tags: %s, one per zone", selBy.params.Name, src)
		}
		if err != nil {
			return nil, blame(selBy, err)
		}
	case listBy != nil:
		chosen, err = b.cloud.SubnetsByNameOrID(list, q, translate.Source{Object: listBy.ref, Field: "annotation " + annotations.IngressSubnets}, b.trace)
		if err != nil {
			return nil, blame(listBy, err)
		}
		b.decide("subnets", translate.DescribeSubnets(chosen), "annotation %s on %s", annotations.IngressSubnets, listBy.ref)
	default:
		out, value, source, err := b.cloud.DefaultSubnets(q, b.id.String())
		if err != nil {
			if culprit != nil {
				return nil, blame(culprit, err)
			}
			return nil, err
		}
		b.decide("subnets", value, "%s", source)
		return out, nil
	}
	return translate.SubnetMappings(chosen), nil
}

func (b *builder) securityGroups(ipType stack.IPAddressType) ([]stack.Token, error) {
	var by *member
	var list []string
	for _, m := range b.members {
		l, ok := m.ann.StringList(annotations.IngressSecurityGroups)
		if !ok {
			continue
		}
		if by == nil {
			by, list = m, l
		} else if !reflect.DeepEqual(list, l) {
			return nil, blame(m, fmt.Errorf("conflicting security-groups: %s wants %v, %s wants %v", by.ref.Key(), list, m.ref.Key(), l))
		}
	}
	var toks []stack.Token
	if by == nil {
		sg := b.managedSecurityGroup(ipType)
		if err := b.stack.Add(sg); err != nil {
			return nil, err
		}
		toks = append(toks, sg.GroupID())
		if !b.opts.EnableBackendSG {
			t := sg.GroupID()
			b.backendSG = &t
			b.decide("security groups", sg.Spec.GroupName, "managed security group (no %s); it also admits the load balancer to the targets (backend security group disabled)", annotations.IngressSecurityGroups)
		} else {
			t := stack.Literal(b.cloud.BackendSecurityGroup(b.members[0].ref, b.trace))
			b.backendSG = &t
			b.backendSGAllocated = true
			toks = append(toks, t)
			b.decide("security groups", sg.Spec.GroupName+" + "+t.Value, "managed security group for the listeners (no %s) and the shared backend security group %s", annotations.IngressSecurityGroups, b.cloud.BackendSecurityGroupName())
		}
		return toks, nil
	}
	manage, err := b.exclusive("manage-backend-security-group-rules", func(m *member) (string, string, bool, error) {
		v, ok, err := m.ann.Bool(annotations.IngressManageBackendSGRules)
		return strconv.FormatBool(v), annSource(annotations.IngressManageBackendSGRules, m), ok, err
	})
	if err != nil {
		return nil, err
	}
	ids, err := b.cloud.SecurityGroupsByNameOrID(list, translate.Source{Object: by.ref, Field: "annotation " + annotations.IngressSecurityGroups}, b.trace)
	if err != nil {
		return nil, blame(by, err)
	}
	for _, id := range ids {
		toks = append(toks, stack.Literal(id))
	}
	b.decide("security groups", strings.Join(ids, ", "), "annotation %s on %s", annotations.IngressSecurityGroups, by.ref)
	on := b.opts.EnableManageBackendSGRules
	if manage != nil {
		on = manage.value == "true"
	}
	if on {
		if !b.opts.EnableBackendSG {
			return nil, blame(by, fmt.Errorf("managing backend security group rules with explicit security groups needs the backend security group, which is disabled"))
		}
		t := stack.Literal(b.cloud.BackendSecurityGroup(by.ref, b.trace))
		b.backendSG = &t
		b.backendSGAllocated = true
		toks = append(toks, t)
	}
	return toks, nil
}

func (b *builder) managedSecurityGroup(ipType stack.IPAddressType) *stack.SecurityGroup {
	hash := translate.Hash(b.opts.ClusterName, b.id.String())
	var name string
	if b.id.Namespace == "" {
		name = fmt.Sprintf("k8s-%s-%s", translate.Trunc(translate.Sanitize(b.id.Name), 17), hash[:10])
	} else {
		name = fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.id.Namespace), 8), translate.Trunc(translate.Sanitize(b.id.Name), 8), hash[:10])
	}
	tags, _ := b.groupTags(b.members) // errors were reported when building the load balancer
	var perms []stack.IPPermission
	for _, port := range b.listenPorts() {
		cfg := b.portConfigs[port]
		p := port
		for _, c := range cfg.inboundV4 {
			perms = append(perms, stack.IPPermission{IPProtocol: "tcp", FromPort: &p, ToPort: &p, IPRanges: []stack.IPRange{{CIDRIP: c}}})
		}
		if ipType == stack.IPAddressTypeDualStack || ipType == stack.IPAddressTypeDualStackWithoutPublicIPv4 {
			for _, c := range cfg.inboundV6 {
				perms = append(perms, stack.IPPermission{IPProtocol: "tcp", FromPort: &p, ToPort: &p, IPv6Ranges: []stack.IPv6Range{{CIDRIPv6: c}}})
			}
		}
		for _, pl := range cfg.prefixLists {
			perms = append(perms, stack.IPPermission{IPProtocol: "tcp", FromPort: &p, ToPort: &p, PrefixLists: []stack.PrefixList{{ListID: pl}}})
		}
		sources := append([]string{}, cfg.inboundV4...)
		if ipType == stack.IPAddressTypeDualStack || ipType == stack.IPAddressTypeDualStackWithoutPublicIPv4 {
			sources = append(sources, cfg.inboundV6...)
		}
		sources = append(sources, cfg.prefixLists...)
		b.decide(fmt.Sprintf("inbound sources of port %d", port), strings.Join(sources, ", "), "%s", cfg.cidrSource)
	}
	return &stack.SecurityGroup{ResID: stack.IDManagedSecurityGroup, Spec: stack.SecurityGroupSpec{
		GroupName: name, Description: managedSGDescription, Tags: b.opts.WithDefaultTags(tags), Ingress: perms,
	}}
}

func (b *builder) lbAttributes() (map[string]string, error) {
	cls := map[string]string{}
	if len(b.members) > 0 && b.members[0].params != nil {
		for _, a := range b.members[0].params.Spec.LoadBalancerAttributes {
			cls[a.Key] = a.Value
		}
	}
	out := map[string]string{}
	by := map[string]*member{}
	for _, m := range b.members {
		attrs, _, err := m.ann.StringMap(annotations.IngressLoadBalancerAttributes)
		if err != nil {
			return nil, blame(m, err)
		}
		for _, k := range translate.SortedKeys(attrs) {
			if prev, ok := out[k]; ok && prev != attrs[k] {
				if _, fromClass := cls[k]; !fromClass {
					return nil, blame(m, fmt.Errorf("conflicting load balancer attribute %s: %s sets %q, %s sets %q", k, by[k].ref.Key(), prev, m.ref.Key(), attrs[k]))
				}
			}
			out[k], by[k] = attrs[k], m
		}
	}
	for k, v := range cls {
		out[k] = v
	}
	return out, nil
}

func (b *builder) lbName(sch stack.Scheme) (string, error) {
	name, err := b.exclusive("load balancer name", func(m *member) (string, string, bool, error) {
		if m.params != nil && m.params.Spec.LoadBalancerName != "" {
			return m.params.Spec.LoadBalancerName, "IngressClassParams " + m.params.Name + " spec.loadBalancerName", true, nil
		}
		v, ok := m.ann.String(annotations.IngressLoadBalancerName)
		if ok && len(v) > 32 {
			return "", "", false, &annotations.Error{Key: annotations.IngressLoadBalancerName, Value: v, Want: "at most 32 characters"}
		}
		return v, annSource(annotations.IngressLoadBalancerName, m), ok, nil
	})
	if err != nil {
		return "", err
	}
	if name != nil {
		if len(name.value) > 32 {
			return "", blame(name.m, fmt.Errorf("load balancer name %q is longer than 32 characters", name.value))
		}
		b.decide("name", name.value, "%s (takes effect only when the load balancer is created)", name.source)
		return name.value, nil
	}
	hash := translate.Hash(b.opts.ClusterName, b.id.String(), string(sch))
	var n string
	if b.id.Namespace == "" {
		n = fmt.Sprintf("k8s-%s-%s", translate.Trunc(translate.Sanitize(b.id.Name), 17), hash[:10])
	} else {
		n = fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.id.Namespace), 8), translate.Trunc(translate.Sanitize(b.id.Name), 8), hash[:10])
	}
	b.decide("name", n, "generated: sha256(cluster %q + group %q + scheme %q)", b.opts.ClusterName, b.id.String(), sch)
	return n, nil
}

func (b *builder) capacity() (*stack.MinimumCapacity, error) {
	if !b.opts.FeatureGates.Enabled(translate.GateLBCapacityReservation) {
		return nil, nil
	}
	if len(b.members) > 0 {
		if p := b.members[0].params; p != nil && p.Spec.MinimumLoadBalancerCapacity != nil {
			return &stack.MinimumCapacity{CapacityUnits: p.Spec.MinimumLoadBalancerCapacity.CapacityUnits}, nil
		}
	}
	merged := map[string]string{}
	by := map[string]*member{}
	for _, m := range b.members {
		c, _, err := m.ann.StringMap(annotations.IngressMinimumLoadBalancerCapacity)
		if err != nil {
			return nil, blame(m, err)
		}
		for _, k := range translate.SortedKeys(c) {
			if k != "CapacityUnits" {
				return nil, blame(m, &annotations.Error{Key: annotations.IngressMinimumLoadBalancerCapacity, Value: m.ann[annotations.IngressMinimumLoadBalancerCapacity], Want: "CapacityUnits=N", Err: fmt.Errorf("unknown key %s", k)})
			}
			if _, err := strconv.ParseInt(c[k], 10, 32); err != nil {
				return nil, blame(m, &annotations.Error{Key: annotations.IngressMinimumLoadBalancerCapacity, Value: m.ann[annotations.IngressMinimumLoadBalancerCapacity], Want: "CapacityUnits=N"})
			}
			if prev, ok := merged[k]; ok && prev != c[k] {
				return nil, blame(m, fmt.Errorf("conflicting minimum-load-balancer-capacity %s: %s sets %s, %s sets %s", k, by[k].ref.Key(), prev, m.ref.Key(), c[k]))
			}
			merged[k], by[k] = c[k], m
		}
	}
	v, ok := merged["CapacityUnits"]
	if !ok {
		return nil, nil
	}
	n, _ := strconv.ParseInt(v, 10, 32)
	return &stack.MinimumCapacity{CapacityUnits: int32(n)}, nil
}

func (b *builder) ipam() (*string, error) {
	if len(b.members) > 0 {
		if p := b.members[0].params; p != nil && p.Spec.IPAMConfiguration != nil && p.Spec.IPAMConfiguration.IPv4IPAMPoolId != nil {
			v := *p.Spec.IPAMConfiguration.IPv4IPAMPoolId
			return &v, nil
		}
	}
	pool, err := b.exclusive("ipam-ipv4-pool-id", func(m *member) (string, string, bool, error) {
		v, ok := m.ann.String(annotations.IngressIPAMIPv4PoolID)
		return v, "", ok && v != "", nil
	})
	if err != nil || pool == nil {
		return nil, err
	}
	return &pool.value, nil
}

// buildAddOns adds the WAFv2, WAF Classic and Shield resources the members ask for.
func (b *builder) buildAddOns() error {
	lbARN := b.lb.ARN()
	name, err := b.exclusive("wafv2-acl-name", func(m *member) (string, string, bool, error) {
		if m.params != nil && m.params.Spec.WAFv2ACLName != "" {
			return m.params.Spec.WAFv2ACLName, "IngressClassParams " + m.params.Name, true, nil
		}
		v, _ := m.ann.String(annotations.IngressWAFv2ACLName)
		return v, annSource(annotations.IngressWAFv2ACLName, m), v != "", nil
	})
	if err != nil {
		return err
	}
	arn := ""
	set := false
	if name != nil {
		set = true
		if name.value != "none" {
			arn, err = b.cloud.LookupARN("WAFv2 web ACL", b.opts.References.WebACLs, name.value, func() string {
				return fmt.Sprintf("arn:aws:wafv2:%s:%s:regional/webacl/%s/%s", b.cloud.Region(), b.cloud.Account(), name.value, translate.Trunc(translate.Hash(name.value), 36))
			}, translate.Source{Object: name.m.ref, Field: "annotation " + annotations.IngressWAFv2ACLName}, b.trace)
			if err != nil {
				return blame(name.m, err)
			}
		}
	} else {
		a, err := b.exclusive("wafv2-acl-arn", func(m *member) (string, string, bool, error) {
			if m.params != nil && m.params.Spec.WAFv2ACLArn != "" {
				return m.params.Spec.WAFv2ACLArn, "", true, nil
			}
			v, ok := m.ann.String(annotations.IngressWAFv2ACLARN)
			return v, "", ok, nil
		})
		if err != nil {
			return err
		}
		if a != nil {
			set, arn = true, a.value
			if arn == "none" {
				arn = ""
			}
		}
	}
	if set {
		if err := b.stack.Add(&stack.WAFv2Association{ResID: stack.IDLoadBalancer, Spec: stack.WAFv2AssociationSpec{WebACLARN: arn, ResourceARN: lbARN}}); err != nil {
			return err
		}
	}
	wafID, err := b.exclusive("waf-acl-id", func(m *member) (string, string, bool, error) {
		v, ok := m.ann.String(annotations.IngressWAFACLID)
		if !ok {
			v, _ = m.ann.String(annotations.IngressWebACLID)
		}
		return v, "", v != "", nil
	})
	if err != nil {
		return err
	}
	if wafID != nil {
		id := wafID.value
		if id == "none" {
			id = ""
		}
		if err := b.stack.Add(&stack.WAFRegionalAssociation{ResID: stack.IDLoadBalancer, Spec: stack.WAFRegionalAssociationSpec{WebACLID: id, ResourceARN: lbARN}}); err != nil {
			return err
		}
	}
	shield, err := b.exclusive("shield-advanced-protection", func(m *member) (string, string, bool, error) {
		v, ok, err := m.ann.Bool(annotations.IngressShieldAdvancedProtection)
		return strconv.FormatBool(v), "", ok, err
	})
	if err != nil {
		return err
	}
	if shield != nil {
		return b.stack.Add(&stack.ShieldProtection{ResID: stack.IDLoadBalancer, Spec: stack.ShieldProtectionSpec{Enabled: shield.value == "true", ResourceARN: lbARN}})
	}
	return nil
}
