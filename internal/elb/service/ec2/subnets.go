package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// usedIPs returns the VPC addresses in use, each with what uses it:
// running instances, network interfaces and load balancer nodes.
func usedIPs(tx *state.Tx) (map[netip.Addr]string, error) {
	used := map[netip.Addr]string{}
	add := func(ip, owner string) {
		if a, err := netip.ParseAddr(ip); err == nil {
			if _, seen := used[a.Unmap()]; !seen {
				used[a.Unmap()] = owner
			}
		}
	}
	err := state.ForEachPrefix(tx, state.Instances, "", func(in *state.Instance) error {
		if in.State != "terminated" {
			add(in.PrivateIP, in.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
		for _, ip := range n.PrivateIPs {
			add(ip, n.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
		for _, z := range lb.Zones {
			add(z.PrivateIPv4Address, lb.ARN)
		}
		return nil
	})
	return used, err
}

// reservedInSubnet reports whether AWS reserves an address of a subnet:
// the network address, the next three (router, DNS, future use) and the
// broadcast address.
func reservedInSubnet(p netip.Prefix, a netip.Addr) bool {
	first := p.Masked().Addr()
	if a == first || a == first.Next() || a == first.Next().Next() || a == first.Next().Next().Next() {
		return true
	}
	return a == lastAddr(p)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}

// subnetSize is the number of addresses of an IPv4 subnet.
func subnetSize(p netip.Prefix) int {
	host := 32 - p.Bits()
	if host > 30 {
		host = 30
	}
	return 1 << host
}

func subnetARN(region, account, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", region, account, id)
}

func (s *Service) renderSubnet(tx *state.Tx, sn *state.Subnet, used map[netip.Addr]string) (types.Subnet, error) {
	tags, err := tagsOf(tx, sn.ID)
	if err != nil {
		return types.Subnet{}, err
	}
	free := 0
	if p, err := netip.ParsePrefix(sn.CIDR); err == nil {
		free = subnetSize(p) - 5
		for a := range used {
			if p.Contains(a) {
				free--
			}
		}
		if free < 0 {
			free = 0
		}
	}
	zoneID := sn.AvailabilityZoneID
	if zoneID == "" {
		zoneID = facts.ZoneID(sn.AvailabilityZone)
	}
	out := types.Subnet{
		SubnetId:                    aws.String(sn.ID),
		SubnetArn:                   aws.String(subnetARN(s.region, owner(sn.OwnerID, s.account), sn.ID)),
		VpcId:                       aws.String(sn.VpcID),
		AvailabilityZone:            aws.String(sn.AvailabilityZone),
		AvailabilityZoneId:          aws.String(zoneID),
		CidrBlock:                   aws.String(sn.CIDR),
		AvailableIpAddressCount:     aws.Int32(int32(free)),
		DefaultForAz:                aws.Bool(false),
		MapPublicIpOnLaunch:         aws.Bool(sn.MapPublicIPOnLaunch),
		MapCustomerOwnedIpOnLaunch:  aws.Bool(false),
		AssignIpv6AddressOnCreation: aws.Bool(false),
		EnableDns64:                 aws.Bool(false),
		Ipv6Native:                  aws.Bool(false),
		State:                       types.SubnetStateAvailable,
		OwnerId:                     aws.String(owner(sn.OwnerID, s.account)),
		PrivateDnsNameOptionsOnLaunch: &types.PrivateDnsNameOptionsOnLaunch{
			HostnameType:                    types.HostnameTypeIpName,
			EnableResourceNameDnsARecord:    aws.Bool(false),
			EnableResourceNameDnsAAAARecord: aws.Bool(false),
		},
		Tags: tags,
	}
	if sn.State != "" {
		out.State = types.SubnetState(sn.State)
	}
	if sn.IPv6CIDR != "" {
		out.Ipv6CidrBlockAssociationSet = []types.SubnetIpv6CidrBlockAssociation{{
			AssociationId:      aws.String(facts.StableID("subnet-cidr-assoc", sn.ID+"/"+sn.IPv6CIDR)),
			Ipv6CidrBlock:      aws.String(sn.IPv6CIDR),
			Ipv6CidrBlockState: &types.SubnetCidrBlockState{State: types.SubnetCidrBlockStateCodeAssociated},
		}}
	}
	return out, nil
}

var subnetFilters = func() filterSpec[types.Subnet] {
	cidr := func(v *types.Subnet) []string { return str(v.CidrBlock) }
	dfa := func(v *types.Subnet) []string { return boolean(v.DefaultForAz) }
	return filterSpec[types.Subnet]{
		attrs: map[string]attr[types.Subnet]{
			"subnet-id":            func(v *types.Subnet) []string { return str(v.SubnetId) },
			"subnet-arn":           func(v *types.Subnet) []string { return str(v.SubnetArn) },
			"vpc-id":               func(v *types.Subnet) []string { return str(v.VpcId) },
			"availability-zone":    func(v *types.Subnet) []string { return str(v.AvailabilityZone) },
			"availability-zone-id": func(v *types.Subnet) []string { return str(v.AvailabilityZoneId) },
			"available-ip-address-count": func(v *types.Subnet) []string {
				return integer(v.AvailableIpAddressCount)
			},
			"cidr-block":              cidr,
			"cidr":                    cidr,
			"cidrBlock":               cidr,
			"default-for-az":          dfa,
			"defaultForAz":            dfa,
			"map-public-ip-on-launch": func(v *types.Subnet) []string { return boolean(v.MapPublicIpOnLaunch) },
			"owner-id":                func(v *types.Subnet) []string { return str(v.OwnerId) },
			"state":                   func(v *types.Subnet) []string { return []string{string(v.State)} },
			"ipv6-native":             func(v *types.Subnet) []string { return boolean(v.Ipv6Native) },
			"ipv6-cidr-block-association.ipv6-cidr-block": func(v *types.Subnet) []string {
				var out []string
				for _, a := range v.Ipv6CidrBlockAssociationSet {
					out = append(out, str(a.Ipv6CidrBlock)...)
				}
				return out
			},
		},
		tags: func(v *types.Subnet) []types.Tag { return v.Tags },
	}
}()

// DescribeSubnets lists subnets by ID and filters (subnet-id, vpc-id,
// availability-zone, availability-zone-id, cidr-block, default-for-az,
// map-public-ip-on-launch, state, tag:KEY, …), paginated with MaxResults
// 5–1000.
func (s *Service) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.Subnet]{
		op: "DescribeSubnets", dryRun: in.DryRun, kind: &subnetID, ids: in.SubnetIds, filters: subnetFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.Subnet)) error {
			used, err := usedIPs(tx)
			if err != nil {
				return err
			}
			return renderByID(tx, state.Subnets, subnetID, in.SubnetIds, func(sn *state.Subnet) (types.Subnet, error) { return s.renderSubnet(tx, sn, used) }, emit)
		},
		provision: func(tx *state.Tx, req *autoprovision.Request) error {
			refs := make([]Ref, len(in.SubnetIds))
			for i, id := range in.SubnetIds {
				refs[i] = Ref{ID: id, Parameter: "SubnetIds"}
			}
			return s.prov.Subnets(tx, req, refs, filterValue(in.Filters, "vpc-id"), false)
		},
		key: func(v types.Subnet) string { return *v.SubnetId }, limits: pageLimits{min: 5, max: 1000}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeSubnetsOutput{Subnets: page, NextToken: next}, nil
}

// freeIP returns the lowest address of a subnet that is neither reserved
// nor used.
func freeIP(sn *state.Subnet, used map[netip.Addr]string) (netip.Addr, bool) {
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return netip.Addr{}, false
	}
	p = p.Masked()
	for a, n := p.Addr(), 0; p.Contains(a) && n < subnetSize(p); a, n = a.Next(), n+1 {
		if reservedInSubnet(p, a) {
			continue
		}
		if _, taken := used[a]; !taken {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// privateDNSName returns an instance's private DNS name as EC2 forms it:
// ip-10-0-1-5.ec2.internal in us-east-1, ip-10-0-1-5.REGION.compute.internal
// elsewhere.
func privateDNSName(region string, ip netip.Addr) string {
	b := ip.As4()
	host := "ip-" + strconv.Itoa(int(b[0])) + "-" + strconv.Itoa(int(b[1])) + "-" + strconv.Itoa(int(b[2])) + "-" + strconv.Itoa(int(b[3]))
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}
