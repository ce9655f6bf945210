package elbv2

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Schemes, IP address types and target types.
const (
	schemeInternal       = "internal"
	schemeInternetFacing = "internet-facing"

	ipv4                     = "ipv4"
	ipv6                     = "ipv6"
	dualstack                = "dualstack"
	dualstackWithoutPublicV4 = "dualstack-without-public-ipv4"

	targetInstance = "instance"
	targetIP       = "ip"
	targetLambda   = "lambda"
	targetALB      = "alb"

	stateProvisioning = "provisioning"
	stateActive       = "active"
)

// CreateLoadBalancer creates an application, network or gateway load
// balancer, or returns the existing one of that name when its settings are
// the same (API_CreateLoadBalancer).
func (s *Service) CreateLoadBalancer(ctx context.Context, in *sdk.CreateLoadBalancerInput) (*sdk.CreateLoadBalancerOutput, error) {
	name := str(in.Name)
	if in.Name == nil {
		return nil, missing("name")
	}
	if err := checkName("Load balancer", name, true); err != nil {
		return nil, err
	}
	lbType := string(in.Type)
	if lbType == "" {
		lbType = typeApplication
	}
	if lbType != typeApplication && lbType != typeNetwork && lbType != typeGateway {
		return nil, badEnum("type", lbType, typeApplication, typeNetwork, typeGateway)
	}
	scheme := string(in.Scheme)
	switch {
	case scheme != "" && lbType == typeGateway:
		return nil, validation("A scheme cannot be specified for Gateway Load Balancers")
	case scheme == "":
		scheme = schemeInternetFacing
		if lbType == typeGateway {
			scheme = schemeInternal
		}
	case scheme != schemeInternal && scheme != schemeInternetFacing:
		return nil, errf(codeInvalidScheme, "The scheme '%s' is not valid; use internet-facing or internal", scheme)
	}
	ipType, err := checkIPAddressType(lbType, scheme, string(in.IpAddressType))
	if err != nil {
		return nil, err
	}
	if lbType == typeGateway && len(in.SecurityGroups) > 0 {
		return nil, validation("Security groups are not supported for Gateway Load Balancers")
	}
	if err := s.checkTags(in.Tags); err != nil {
		return nil, err
	}
	prefixNAT := string(in.EnablePrefixForIpv6SourceNat)
	if prefixNAT != "" && prefixNAT != "on" && prefixNAT != "off" {
		return nil, badEnum("enablePrefixForIpv6SourceNat", prefixNAT, "on", "off")
	}
	if prefixNAT == "on" && (lbType != typeNetwork || ipType != dualstack) {
		return nil, errf(codeInvalidConfiguration, "Prefixes for IPv6 source NAT can only be enabled on dualstack Network Load Balancers")
	}

	var out *state.LoadBalancer
	err = s.updateProvisioning(ctx, "CreateLoadBalancer", in.Name, func(tx *state.Tx, req *autoprovision.Request) error {
		now := s.now()
		zones, vpcID, err := s.resolveSubnets(tx, req, lbType, scheme, ipType, "", in.Subnets, in.SubnetMappings)
		if err != nil {
			return err
		}
		sgs, err := s.resolveSecurityGroups(tx, req, lbType, vpcID, in.SecurityGroups, in.SecurityGroups != nil)
		if err != nil {
			return err
		}
		all, err := state.List(tx, state.LoadBalancers)
		if err != nil {
			return err
		}
		count := 0
		for _, lb := range all {
			if strings.EqualFold(lb.Name, name) {
				if sameLoadBalancer(lb, lbType, scheme, ipType, zones, sgs) {
					out = lb
					return nil
				}
				return errf(codeDuplicateLoadBalancerName, "A load balancer with the same name '%s' exists, but with different settings", name)
			}
			if lb.Type == lbType {
				count++
			}
		}
		if max := s.lbQuota(lbType); count >= max {
			return errf(codeTooManyLoadBalancers, "You've reached the limit on the number of load balancers for your AWS account (%d of type %s)", max, lbType)
		}
		id := s.newID()
		lb := &state.LoadBalancer{
			ARN:                          s.lbARN(lbType, name, id),
			Name:                         name,
			Type:                         lbType,
			Scheme:                       scheme,
			IPAddressType:                ipType,
			VpcID:                        vpcID,
			DNSName:                      s.dnsName(name, id, scheme),
			CanonicalHostedZoneID:        s.hostedZoneID(lbType),
			CreatedTime:                  now.UTC().Truncate(time.Millisecond),
			State:                        stateProvisioning,
			ActiveAt:                     now.Add(s.delay).UTC(),
			SecurityGroups:               sgs,
			SecurityGroupsEnabled:        len(sgs) > 0,
			Attributes:                   defaultAttrs(lbAttrSpecs(lbType, scheme)),
			CustomerOwnedIPv4Pool:        str(in.CustomerOwnedIpv4Pool),
			EnablePrefixForIPv6SourceNat: prefixNAT,
		}
		if s.delay == 0 {
			lb.State = stateActive
		}
		if lbType == typeNetwork && lb.SecurityGroupsEnabled {
			lb.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic = "on"
		}
		if lb.Zones, err = s.placeZones(tx, lb, nil, zones); err != nil {
			return err
		}
		if err := state.Put(tx, state.LoadBalancers, lb); err != nil {
			return err
		}
		if err := s.putNewTags(tx, lb.ARN, in.Tags); err != nil {
			return err
		}
		out = lb
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.State == stateProvisioning {
		s.noteDue(out.ActiveAt)
	}
	return &sdk.CreateLoadBalancerOutput{LoadBalancers: []types.LoadBalancer{s.renderLB(out)}}, nil
}

func (s *Service) lbQuota(lbType string) int {
	switch lbType {
	case typeNetwork:
		return s.limits.NetworkLoadBalancers
	case typeGateway:
		return s.limits.GatewayLoadBalancers
	}
	return s.limits.ApplicationLoadBalancers
}

// checkIPAddressType validates an IP address type for a load balancer type.
func checkIPAddressType(lbType, scheme, t string) (string, error) {
	switch t {
	case "":
		return ipv4, nil
	case ipv4, dualstack:
		return t, nil
	case dualstackWithoutPublicV4:
		if lbType != typeApplication {
			return "", errf(codeInvalidConfiguration, "The IP address type '%s' is only supported by Application Load Balancers", t)
		}
		if scheme == schemeInternal {
			return "", errf(codeInvalidConfiguration, "The IP address type '%s' is only supported by internet-facing load balancers", t)
		}
		return t, nil
	}
	return "", badEnum("ipAddressType", t, ipv4, dualstack, dualstackWithoutPublicV4)
}

// sameLoadBalancer reports whether an existing load balancer has the
// settings of a create request, so that the create is idempotent.
func sameLoadBalancer(lb *state.LoadBalancer, lbType, scheme, ipType string, zones []zoneRequest, sgs []string) bool {
	if lb.Type != lbType || lb.Scheme != scheme || lb.IPAddressType != ipType || len(lb.Zones) != len(zones) {
		return false
	}
	have := map[string]state.LBZone{}
	for _, z := range lb.Zones {
		have[z.SubnetID] = z
	}
	for _, z := range zones {
		h, ok := have[z.subnet.ID]
		if !ok || (z.allocationID != "" && z.allocationID != h.AllocationID) ||
			(z.privateIP != "" && z.privateIP != h.PrivateIPv4Address) {
			return false
		}
	}
	a, b := slices.Clone(lb.SecurityGroups), slices.Clone(sgs)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// zoneRequest is one subnet a load balancer is asked to use.
type zoneRequest struct {
	subnet       *state.Subnet
	allocationID string
	address      *state.Address
	privateIP    string
	ipv6         string
}

// resolveSubnets checks the subnets or subnet mappings of a request: they
// exist, are in one VPC, one per zone, in two zones at least for an
// application load balancer; Elastic IPs and private addresses only where
// the type and scheme allow them. With AutoProvisionReferences, unknown
// subnets (public for an internet-facing load balancer, in the VPC of the
// request's known subnets, else vpcID, else the default VPC) and Elastic
// IPs are created first.
func (s *Service) resolveSubnets(tx *state.Tx, req *autoprovision.Request, lbType, scheme, ipType, vpcHint string, subnets []string, mappings []types.SubnetMapping) ([]zoneRequest, string, error) {
	if len(subnets) > 0 && len(mappings) > 0 {
		return nil, "", validation("You can specify subnets or subnet mappings, but not both")
	}
	byMapping := len(mappings) > 0
	for _, id := range subnets {
		mappings = append(mappings, types.SubnetMapping{SubnetId: ptr(id)})
	}
	if len(mappings) == 0 {
		return nil, "", validation("At least one subnet must be specified")
	}
	param := func(i int, field string) string {
		if byMapping {
			return fmt.Sprintf("SubnetMappings[%d].%s", i, field)
		}
		return "Subnets"
	}
	if s.refs != nil {
		refs := make([]ec2.Ref, len(mappings))
		for i, m := range mappings {
			refs[i] = ec2.Ref{ID: str(m.SubnetId), Parameter: param(i, "SubnetId")}
		}
		if err := s.refs.Subnets(tx, req, refs, vpcHint, scheme == schemeInternetFacing); err != nil {
			return nil, "", provisionErr(err, codeSubnetNotFound, "subnet ID")
		}
	}
	var out []zoneRequest
	vpcID := ""
	zones := map[string]string{}
	eips := map[string]bool{}
	for i, m := range mappings {
		id := str(m.SubnetId)
		if id == "" {
			return nil, "", missing("subnetMappings.member.subnetId")
		}
		sn, ok, err := state.Get(tx, state.Subnets, id)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return nil, "", errf(codeSubnetNotFound, "The subnet ID '%s' is not valid", id)
		}
		if vpcID == "" {
			vpcID = sn.VpcID
		} else if sn.VpcID != vpcID {
			return nil, "", errf(codeInvalidSubnet, "Subnets '%s' and '%s' are in different VPCs; all subnets must be in one VPC", out[0].subnet.ID, id)
		}
		if prev, dup := zones[sn.AvailabilityZone]; dup {
			return nil, "", errf(codeInvalidConfiguration, "A load balancer cannot be attached to multiple subnets in the same Availability Zone (subnets '%s' and '%s' are in %s)", prev, id, sn.AvailabilityZone)
		}
		zones[sn.AvailabilityZone] = id
		if ipType != ipv4 && sn.IPv6CIDR == "" {
			return nil, "", errf(codeInvalidSubnet, "Subnet '%s' has no IPv6 CIDR block; the IP address type '%s' needs one in every subnet", id, ipType)
		}
		z := zoneRequest{subnet: sn, allocationID: str(m.AllocationId), privateIP: str(m.PrivateIPv4Address), ipv6: str(m.IPv6Address)}
		if lbType != typeNetwork && (z.allocationID != "" || z.privateIP != "" || z.ipv6 != "") {
			return nil, "", errf(codeInvalidConfiguration, "Elastic IP addresses, private IPv4 addresses and IPv6 addresses can only be specified for Network Load Balancers")
		}
		if m.SourceNatIpv6Prefix != nil {
			return nil, "", errf(codeInvalidConfiguration, "Source NAT IPv6 prefixes are not supported by the local ELB")
		}
		if z.allocationID != "" {
			if scheme != schemeInternetFacing {
				return nil, "", errf(codeInvalidConfiguration, "Elastic IP addresses can only be specified for internet-facing load balancers")
			}
			if eips[z.allocationID] {
				return nil, "", errf(codeInvalidConfiguration, "Elastic IP '%s' is specified more than once", z.allocationID)
			}
			eips[z.allocationID] = true
			a, ok, err := state.Get(tx, state.Addresses, z.allocationID)
			if err != nil {
				return nil, "", err
			}
			if !ok && s.refs != nil {
				if a, _, err = s.refs.ElasticIP(tx, req, ec2.Ref{ID: z.allocationID, Parameter: param(i, "AllocationId")}); err != nil {
					return nil, "", provisionErr(err, codeAllocationIDNotFound, "allocation ID")
				}
				ok = a != nil
			}
			if !ok {
				return nil, "", errf(codeAllocationIDNotFound, "The allocation ID '%s' does not exist", z.allocationID)
			}
			z.address = a
		}
		if z.privateIP != "" && scheme != schemeInternal {
			return nil, "", errf(codeInvalidConfiguration, "Private IPv4 addresses can only be specified for internal load balancers")
		}
		if z.ipv6 != "" && ipType != dualstack {
			return nil, "", errf(codeInvalidConfiguration, "IPv6 addresses can only be specified for dualstack load balancers")
		}
		out = append(out, z)
	}
	if lbType == typeApplication && len(zones) < 2 {
		return nil, "", validation("At least two subnets in two different Availability Zones must be specified")
	}
	if scheme == schemeInternetFacing {
		hasIGW := false
		err := state.ForEachPrefix(tx, state.InternetGateways, "", func(g *state.InternetGateway) error {
			if g.VpcID == vpcID {
				hasIGW = true
			}
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		if !hasIGW {
			return nil, "", errf(codeInvalidSubnet, "VPC %s has no internet gateway", vpcID)
		}
	}
	return out, vpcID, nil
}

// resolveSecurityGroups checks the security groups of a request: they
// exist and are in the VPC; an application load balancer without any gets
// the VPC's default security group, as on AWS. With
// AutoProvisionReferences, unknown groups are created in the VPC first.
func (s *Service) resolveSecurityGroups(tx *state.Tx, req *autoprovision.Request, lbType, vpcID string, ids []string, given bool) ([]string, error) {
	if len(ids) > s.limits.SecurityGroupsPerLoadBalancer {
		return nil, errf(codeInvalidConfiguration, "A load balancer can have at most %d security groups", s.limits.SecurityGroupsPerLoadBalancer)
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		g, ok, err := state.Get(tx, state.SecurityGroups, id)
		if err != nil {
			return nil, err
		}
		if !ok && s.refs != nil {
			if g, _, err = s.refs.SecurityGroup(tx, req, ec2.Ref{ID: id, Parameter: "SecurityGroups"}, vpcID); err != nil {
				return nil, provisionErr(err, codeInvalidSecurityGroup, "security group")
			}
			ok = g != nil
		}
		if !ok {
			return nil, errf(codeInvalidSecurityGroup, "Security group '%s' does not exist", id)
		}
		if g.VpcID != vpcID {
			return nil, errf(codeInvalidSecurityGroup, "Security group '%s' is in VPC '%s', not in the load balancer's VPC '%s'", id, g.VpcID, vpcID)
		}
		out = append(out, id)
	}
	if len(out) == 0 && lbType == typeApplication && !given {
		err := state.ForEachPrefix(tx, state.SecurityGroups, "", func(g *state.SecurityGroup) error {
			if g.VpcID == vpcID && g.Name == "default" && len(out) == 0 {
				out = append(out, g.ID)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// placeZones gives each requested zone its host address and VPC address:
// zones the load balancer already has in the same subnet keep theirs; new
// zones get their Elastic IP's address or a fresh address of the load
// balancer pool, and the given or a free private address of the subnet.
// Addresses of zones no longer used are released.
func (s *Service) placeZones(tx *state.Tx, lb *state.LoadBalancer, old []state.LBZone, reqs []zoneRequest) ([]state.LBZone, error) {
	keep := map[string]state.LBZone{}
	for _, z := range old {
		keep[z.SubnetID] = z
	}
	var used map[string]bool
	var zones []state.LBZone
	kept := map[string]bool{}
	for _, r := range reqs {
		if z, ok := keep[r.subnet.ID]; ok {
			if (r.allocationID != "" && r.allocationID != z.AllocationID) || (r.privateIP != "" && r.privateIP != z.PrivateIPv4Address) {
				return nil, errf(codeInvalidConfiguration, "The addresses of the enabled subnet '%s' cannot be changed", r.subnet.ID)
			}
			kept[r.subnet.ID] = true
			zones = append(zones, z)
			continue
		}
		if used == nil {
			var err error
			if used, err = usedVPCAddresses(tx); err != nil {
				return nil, err
			}
		}
		z := state.LBZone{ZoneName: r.subnet.AvailabilityZone, ZoneID: r.subnet.AvailabilityZoneID, SubnetID: r.subnet.ID, IPv6Address: r.ipv6}
		if r.address != nil {
			if r.address.LoadBalancerARN != "" && r.address.LoadBalancerARN != lb.ARN || r.address.NetworkInterfaceID != "" {
				return nil, errf(codeInvalidConfiguration, "The Elastic IP '%s' is already in use", r.allocationID)
			}
			z.AllocationID = r.allocationID
			z.Address = r.address.PublicIP
			a := *r.address
			a.LoadBalancerARN = lb.ARN
			if err := state.Put(tx, state.Addresses, &a); err != nil {
				return nil, err
			}
		} else {
			addr, err := state.AllocateLoopback(tx, state.LoadBalancerPool, lb.ARN+" "+z.ZoneName)
			if err != nil {
				return nil, fmt.Errorf("load balancer %s zone %s: %w", lb.Name, z.ZoneName, err)
			}
			z.Address = addr.String()
		}
		ip, err := pickSubnetAddress(r.subnet, r.privateIP, lb.ARN+" "+z.ZoneName, used)
		if err != nil {
			return nil, err
		}
		used[ip] = true
		z.PrivateIPv4Address = ip
		zones = append(zones, z)
	}
	for _, z := range old {
		if !kept[z.SubnetID] {
			if err := releaseZone(tx, lb.ARN, z); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(zones, func(i, j int) bool { return zones[i].ZoneName < zones[j].ZoneName })
	return zones, nil
}

// releaseZone gives back a zone's addresses.
func releaseZone(tx *state.Tx, lbARN string, z state.LBZone) error {
	if z.AllocationID != "" {
		a, ok, err := state.Get(tx, state.Addresses, z.AllocationID)
		if err != nil {
			return err
		}
		if ok && a.LoadBalancerARN == lbARN {
			a.LoadBalancerARN = ""
			if err := state.Put(tx, state.Addresses, a); err != nil {
				return err
			}
		}
		return nil
	}
	if z.Address != "" {
		return state.ReleaseLoopback(tx, z.Address)
	}
	return nil
}

// DeleteLoadBalancer deletes a load balancer, its listeners, rules and
// tags, and releases its addresses. Deleting one that does not exist
// succeeds (API_DeleteLoadBalancer).
func (s *Service) DeleteLoadBalancer(ctx context.Context, in *sdk.DeleteLoadBalancerInput) (*sdk.DeleteLoadBalancerOutput, error) {
	arn := str(in.LoadBalancerArn)
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	if err := checkARN(arn, kindLoadBalancer); err != nil {
		return nil, err
	}
	err := s.update(ctx, "DeleteLoadBalancer", in.LoadBalancerArn, func(tx *state.Tx) error {
		lb, ok, err := state.Get(tx, state.LoadBalancers, arn)
		if err != nil || !ok {
			return err
		}
		if lb.Attributes["deletion_protection.enabled"] == "true" {
			return errf(codeOperationNotPermitted, "Load balancer '%s' cannot be deleted because deletion protection is enabled", arn)
		}
		listeners, err := listenersOf(tx, arn)
		if err != nil {
			return err
		}
		for _, l := range listeners {
			if err := deleteListener(tx, l); err != nil {
				return err
			}
		}
		for _, z := range lb.Zones {
			if err := releaseZone(tx, arn, z); err != nil {
				return err
			}
		}
		if _, err := state.Delete(tx, state.LoadBalancers, arn); err != nil {
			return err
		}
		if _, err := state.Delete(tx, state.WebACLAssociations, arn); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.Tags, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DeleteLoadBalancerOutput{}, nil
}

// DescribeLoadBalancers lists load balancers, all of them or those named
// by ARN or name, in creation order, paginated (API_DescribeLoadBalancers).
func (s *Service) DescribeLoadBalancers(ctx context.Context, in *sdk.DescribeLoadBalancersInput) (*sdk.DescribeLoadBalancersOutput, error) {
	if len(in.LoadBalancerArns) > 0 && len(in.Names) > 0 {
		return nil, validation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	if len(in.LoadBalancerArns) > 20 {
		return nil, tooLong("loadBalancerArns", len(in.LoadBalancerArns), 20)
	}
	if len(in.Names) > 20 {
		return nil, tooLong("names", len(in.Names), 20)
	}
	for _, arn := range in.LoadBalancerArns {
		if err := checkARN(arn, kindLoadBalancer); err != nil {
			return nil, err
		}
	}
	var lbs []*state.LoadBalancer
	err := s.view(ctx, func(tx *state.Tx) error {
		switch {
		case len(in.LoadBalancerArns) > 0:
			for _, arn := range dedupe(in.LoadBalancerArns) {
				lb, ok, err := state.Get(tx, state.LoadBalancers, arn)
				if err != nil {
					return err
				}
				if !ok {
					return errf(codeLoadBalancerNotFound, "One or more load balancers not found")
				}
				lbs = append(lbs, lb)
			}
		case len(in.Names) > 0:
			all, err := state.List(tx, state.LoadBalancers)
			if err != nil {
				return err
			}
			var missing []string
			for _, n := range dedupe(in.Names) {
				found := false
				for _, lb := range all {
					if strings.EqualFold(lb.Name, n) {
						lbs = append(lbs, lb)
						found = true
					}
				}
				if !found {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				return errf(codeLoadBalancerNotFound, "Load balancers '[%s]' not found", strings.Join(missing, ", "))
			}
		default:
			var err error
			lbs, err = state.List(tx, state.LoadBalancers)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(s.tokens.Scope("DescribeLoadBalancers"), lbs, lbSortKey, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeLoadBalancersOutput{LoadBalancers: make([]types.LoadBalancer, 0, len(page)), NextMarker: next}
	for _, lb := range page {
		out.LoadBalancers = append(out.LoadBalancers, s.renderLB(lb))
	}
	return out, nil
}

func lbSortKey(lb *state.LoadBalancer) string {
	return lb.CreatedTime.UTC().Format("20060102T150405.000000000") + " " + lb.ARN
}

// renderLB returns a load balancer in the API's shape.
func (s *Service) renderLB(lb *state.LoadBalancer) types.LoadBalancer {
	out := types.LoadBalancer{
		LoadBalancerArn:       ptr(lb.ARN),
		LoadBalancerName:      ptr(lb.Name),
		DNSName:               ptr(lb.DNSName),
		CanonicalHostedZoneId: ptr(lb.CanonicalHostedZoneID),
		CreatedTime:           ptr(lb.CreatedTime),
		Scheme:                types.LoadBalancerSchemeEnum(lb.Scheme),
		Type:                  types.LoadBalancerTypeEnum(lb.Type),
		VpcId:                 ptr(lb.VpcID),
		IpAddressType:         types.IpAddressType(lb.IPAddressType),
		State:                 &types.LoadBalancerState{Code: types.LoadBalancerStateEnum(s.lbState(lb))},
		AvailabilityZones:     make([]types.AvailabilityZone, 0, len(lb.Zones)),
	}
	if len(lb.SecurityGroups) > 0 {
		out.SecurityGroups = slices.Clone(lb.SecurityGroups)
	}
	if lb.CustomerOwnedIPv4Pool != "" {
		out.CustomerOwnedIpv4Pool = ptr(lb.CustomerOwnedIPv4Pool)
	}
	if lb.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic != "" {
		out.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic = ptr(lb.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic)
	}
	if lb.EnablePrefixForIPv6SourceNat != "" {
		out.EnablePrefixForIpv6SourceNat = types.EnablePrefixForIpv6SourceNatEnum(lb.EnablePrefixForIPv6SourceNat)
	}
	out.AvailabilityZones = s.renderZones(lb)
	return out
}

func (s *Service) renderZones(lb *state.LoadBalancer) []types.AvailabilityZone {
	out := make([]types.AvailabilityZone, 0, len(lb.Zones))
	for _, z := range lb.Zones {
		addr := types.LoadBalancerAddress{IpAddress: ptr(z.Address)}
		if lb.Type == typeNetwork {
			if z.AllocationID != "" {
				addr.AllocationId = ptr(z.AllocationID)
			}
			if z.PrivateIPv4Address != "" {
				addr.PrivateIPv4Address = ptr(z.PrivateIPv4Address)
			}
			if z.IPv6Address != "" {
				addr.IPv6Address = ptr(z.IPv6Address)
			}
		}
		out = append(out, types.AvailabilityZone{
			ZoneName:              ptr(z.ZoneName),
			SubnetId:              ptr(z.SubnetID),
			LoadBalancerAddresses: []types.LoadBalancerAddress{addr},
		})
	}
	return out
}

// lbState is a load balancer's state now: provisioning until its
// activation time, then active.
func (s *Service) lbState(lb *state.LoadBalancer) string {
	if lb.State == stateProvisioning && !s.now().Before(lb.ActiveAt) {
		return stateActive
	}
	return lb.State
}

// getLB reads a load balancer or returns LoadBalancerNotFound.
func getLB(tx *state.Tx, arn string) (*state.LoadBalancer, error) {
	if err := checkARN(arn, kindLoadBalancer); err != nil {
		return nil, err
	}
	lb, ok, err := state.Get(tx, state.LoadBalancers, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, lbNotFound(arn)
	}
	return lb, nil
}

// SetSecurityGroups replaces a load balancer's security groups
// (API_SetSecurityGroups).
func (s *Service) SetSecurityGroups(ctx context.Context, in *sdk.SetSecurityGroupsInput) (*sdk.SetSecurityGroupsOutput, error) {
	arn := str(in.LoadBalancerArn)
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	enforce := string(in.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic)
	if enforce != "" && enforce != "on" && enforce != "off" {
		return nil, badEnum("enforceSecurityGroupInboundRulesOnPrivateLinkTraffic", enforce, "on", "off")
	}
	var lb *state.LoadBalancer
	err := s.updateProvisioning(ctx, "SetSecurityGroups", in.LoadBalancerArn, func(tx *state.Tx, req *autoprovision.Request) error {
		var err error
		if lb, err = getLB(tx, arn); err != nil {
			return err
		}
		switch {
		case lb.Type == typeGateway:
			return errf(codeInvalidConfiguration, "Security groups cannot be associated with a Gateway Load Balancer")
		case lb.Type == typeNetwork && !lb.SecurityGroupsEnabled:
			return errf(codeInvalidConfiguration, "You cannot set security groups on a Network Load Balancer which was created without any security groups")
		case lb.Type == typeApplication && len(in.SecurityGroups) == 0:
			return errf(codeInvalidConfiguration, "An Application Load Balancer must have at least one security group")
		case lb.Type == typeApplication && enforce != "":
			return errf(codeInvalidConfiguration, "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic applies only to Network Load Balancers")
		}
		sgs, err := s.resolveSecurityGroups(tx, req, lb.Type, lb.VpcID, in.SecurityGroups, true)
		if err != nil {
			return err
		}
		lb.SecurityGroups = sgs
		if enforce != "" {
			lb.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic = enforce
		}
		return state.Put(tx, state.LoadBalancers, lb)
	})
	if err != nil {
		return nil, err
	}
	out := &sdk.SetSecurityGroupsOutput{SecurityGroupIds: slices.Clone(lb.SecurityGroups)}
	if out.SecurityGroupIds == nil {
		out.SecurityGroupIds = []string{}
	}
	if lb.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic != "" {
		out.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic = types.EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum(lb.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic)
	}
	return out, nil
}

// SetSubnets replaces the subnets (zones) of a load balancer: zones kept
// keep their addresses, new zones get new ones (API_SetSubnets).
func (s *Service) SetSubnets(ctx context.Context, in *sdk.SetSubnetsInput) (*sdk.SetSubnetsOutput, error) {
	arn := str(in.LoadBalancerArn)
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	var lb *state.LoadBalancer
	err := s.updateProvisioning(ctx, "SetSubnets", in.LoadBalancerArn, func(tx *state.Tx, req *autoprovision.Request) error {
		var err error
		if lb, err = getLB(tx, arn); err != nil {
			return err
		}
		ipType := lb.IPAddressType
		if in.IpAddressType != "" {
			if ipType, err = checkIPAddressType(lb.Type, lb.Scheme, string(in.IpAddressType)); err != nil {
				return err
			}
		}
		reqs, vpcID, err := s.resolveSubnets(tx, req, lb.Type, lb.Scheme, ipType, lb.VpcID, in.Subnets, in.SubnetMappings)
		if err != nil {
			return err
		}
		if vpcID != lb.VpcID {
			return errf(codeInvalidSubnet, "The subnets must be in the load balancer's VPC '%s'", lb.VpcID)
		}
		if lb.Type == typeGateway {
			want := map[string]bool{}
			for _, r := range reqs {
				want[r.subnet.ID] = true
			}
			for _, z := range lb.Zones {
				if !want[z.SubnetID] {
					return errf(codeInvalidConfiguration, "Subnet '%s' is enabled for the Gateway Load Balancer; you must include every subnet enabled before", z.SubnetID)
				}
			}
		}
		if ipType != lb.IPAddressType {
			if err := checkDualstackListeners(tx, lb, ipType); err != nil {
				return err
			}
		}
		if lb.Zones, err = s.placeZones(tx, lb, lb.Zones, reqs); err != nil {
			return err
		}
		lb.IPAddressType = ipType
		if v := string(in.EnablePrefixForIpv6SourceNat); v != "" {
			if v != "on" && v != "off" {
				return badEnum("enablePrefixForIpv6SourceNat", v, "on", "off")
			}
			lb.EnablePrefixForIPv6SourceNat = v
		}
		return state.Put(tx, state.LoadBalancers, lb)
	})
	if err != nil {
		return nil, err
	}
	out := &sdk.SetSubnetsOutput{AvailabilityZones: s.renderZones(lb), IpAddressType: types.IpAddressType(lb.IPAddressType)}
	if lb.EnablePrefixForIPv6SourceNat != "" {
		out.EnablePrefixForIpv6SourceNat = types.EnablePrefixForIpv6SourceNatEnum(lb.EnablePrefixForIPv6SourceNat)
	}
	return out, nil
}

// checkDualstackListeners refuses dualstack for a network load balancer
// with UDP or QUIC listeners unless IPv6 source NAT prefixes are on.
func checkDualstackListeners(tx *state.Tx, lb *state.LoadBalancer, ipType string) error {
	if lb.Type != typeNetwork || ipType != dualstack || lb.EnablePrefixForIPv6SourceNat == "on" {
		return nil
	}
	ls, err := listenersOf(tx, lb.ARN)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if udpLike(l.Protocol) {
			return errf(codeInvalidConfiguration, "The IP address type cannot be dualstack while listener %s uses %s without IPv6 source NAT prefixes", l.ARN, l.Protocol)
		}
	}
	return nil
}

func udpLike(p string) bool { return p == "UDP" || p == "TCP_UDP" || p == "QUIC" || p == "TCP_QUIC" }

// SetIpAddressType sets a load balancer's IP address type
// (API_SetIpAddressType).
func (s *Service) SetIpAddressType(ctx context.Context, in *sdk.SetIpAddressTypeInput) (*sdk.SetIpAddressTypeOutput, error) {
	arn := str(in.LoadBalancerArn)
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	if in.IpAddressType == "" {
		return nil, missing("ipAddressType")
	}
	var lb *state.LoadBalancer
	err := s.update(ctx, "SetIpAddressType", in.LoadBalancerArn, func(tx *state.Tx) error {
		var err error
		if lb, err = getLB(tx, arn); err != nil {
			return err
		}
		ipType, err := checkIPAddressType(lb.Type, lb.Scheme, string(in.IpAddressType))
		if err != nil {
			return err
		}
		if ipType != ipv4 {
			for _, z := range lb.Zones {
				sn, ok, err := state.Get(tx, state.Subnets, z.SubnetID)
				if err != nil {
					return err
				}
				if !ok || sn.IPv6CIDR == "" {
					return errf(codeInvalidSubnet, "Subnet '%s' has no IPv6 CIDR block; the IP address type '%s' needs one in every subnet", z.SubnetID, ipType)
				}
			}
		}
		if err := checkDualstackListeners(tx, lb, ipType); err != nil {
			return err
		}
		lb.IPAddressType = ipType
		return state.Put(tx, state.LoadBalancers, lb)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.SetIpAddressTypeOutput{IpAddressType: types.IpAddressType(lb.IPAddressType)}, nil
}

// DescribeLoadBalancerAttributes returns every attribute of a load
// balancer's type, defaults included (API_DescribeLoadBalancerAttributes).
func (s *Service) DescribeLoadBalancerAttributes(ctx context.Context, in *sdk.DescribeLoadBalancerAttributesInput) (*sdk.DescribeLoadBalancerAttributesOutput, error) {
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	var lb *state.LoadBalancer
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		lb, err = getLB(tx, *in.LoadBalancerArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DescribeLoadBalancerAttributesOutput{Attributes: lbAttrList(lb)}, nil
}

func lbAttrList(lb *state.LoadBalancer) []types.LoadBalancerAttribute {
	m := rebaseAttrs(lbAttrSpecs(lb.Type, lb.Scheme), lb.Attributes)
	out := make([]types.LoadBalancerAttribute, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.LoadBalancerAttribute{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}

// ModifyLoadBalancerAttributes changes attributes of a load balancer and
// returns all of them (API_ModifyLoadBalancerAttributes).
func (s *Service) ModifyLoadBalancerAttributes(ctx context.Context, in *sdk.ModifyLoadBalancerAttributesInput) (*sdk.ModifyLoadBalancerAttributesOutput, error) {
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	if in.Attributes == nil {
		return nil, missing("attributes")
	}
	keys, values := make([]string, len(in.Attributes)), make([]string, len(in.Attributes))
	for i, a := range in.Attributes {
		keys[i], values[i] = str(a.Key), str(a.Value)
	}
	var lb *state.LoadBalancer
	err := s.update(ctx, "ModifyLoadBalancerAttributes", in.LoadBalancerArn, func(tx *state.Tx) error {
		var err error
		if lb, err = getLB(tx, *in.LoadBalancerArn); err != nil {
			return err
		}
		m, err := applyAttrs("Load balancer", lbAttrSpecs(lb.Type, lb.Scheme), lb.Attributes, keys, values)
		if err != nil {
			return err
		}
		for _, p := range []string{"access_logs", "connection_logs", "health_check_logs"} {
			if m[p+".s3.enabled"] == "true" && m[p+".s3.bucket"] == "" {
				return errf(codeInvalidConfiguration, "The value of '%s.s3.bucket' cannot be empty when %s are enabled", p, strings.ReplaceAll(p, "_", " "))
			}
		}
		if old, nw := lb.Attributes["secondary_ips.auto_assigned.per_subnet"], m["secondary_ips.auto_assigned.per_subnet"]; old != "" && nw < old {
			return errf(codeInvalidConfiguration, "The value of 'secondary_ips.auto_assigned.per_subnet' cannot be decreased (from %s to %s)", old, nw)
		}
		lb.Attributes = m
		return state.Put(tx, state.LoadBalancers, lb)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.ModifyLoadBalancerAttributesOutput{Attributes: lbAttrList(lb)}, nil
}

// dedupe returns items without repeats, in order.
func dedupe(items []string) []string {
	seen := make(map[string]bool, len(items))
	out := make([]string, 0, len(items))
	for _, v := range items {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
