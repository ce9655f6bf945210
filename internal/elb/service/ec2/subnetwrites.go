package ec2

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Subnet block sizes AWS accepts for IPv4.
const (
	subnetMinBits = 16
	subnetMaxBits = 28
)

// CreateSubnet creates a subnet of a VPC: an IPv4 block of /16 to /28
// inside the VPC's that overlaps no other subnet of it (and optionally a
// /64 of the VPC's IPv6 block), in a zone of the region (the first when
// none is named), associated with the VPC's main route table (so private
// until associated elsewhere), with tags from TagSpecifications.
func (s *Service) CreateSubnet(ctx context.Context, in *ec2.CreateSubnetInput) (*ec2.CreateSubnetOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	vpc, cidr := deref(in.VpcId), deref(in.CidrBlock)
	switch {
	case vpc == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter vpcId")
	case cidr == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter cidrBlock (IPv6-only subnets are not supported by the local EC2)")
	case in.AvailabilityZone != nil && in.AvailabilityZoneId != nil:
		return nil, awserr.New("InvalidParameterCombination", "Only one of availabilityZone and availabilityZoneId may be specified")
	case in.Ipv4IpamPoolId != nil || in.Ipv6IpamPoolId != nil || in.OutpostArn != nil || aws.ToBool(in.Ipv6Native):
		return nil, awserr.New("InvalidParameterValue", "IPAM pools, Outposts and IPv6-only subnets are not supported by the local EC2")
	}
	if err := vpcID.check(vpc); err != nil {
		return nil, err
	}
	block, err := netip.ParsePrefix(cidr)
	if err != nil || !block.Addr().Is4() {
		return nil, awserr.New("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", cidr)
	}
	if block != block.Masked() || block.Bits() < subnetMinBits || block.Bits() > subnetMaxBits {
		return nil, awserr.New("InvalidSubnet.Range", "The CIDR '%s' is invalid.", cidr)
	}
	tags, err := specTags(in.TagSpecifications, types.ResourceTypeSubnet, types.ResourceTypeSubnet)
	if err != nil {
		return nil, err
	}
	var out types.Subnet
	err = s.update(ctx, "CreateSubnet", func(tx *state.Tx) error {
		v, ok, err := state.Get(tx, state.VPCs, vpc)
		if err != nil {
			return err
		}
		if !ok {
			return vpcID.missing(vpc)
		}
		vb, err := netip.ParsePrefix(v.CIDR)
		if err != nil || !vb.Contains(block.Addr()) || block.Bits() < vb.Bits() {
			return awserr.New("InvalidSubnet.Range", "The CIDR '%s' is invalid.", cidr)
		}
		v4, v6, err := subnetBlocks(tx, vpc)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(v4, block.Overlaps) {
			return awserr.New("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", cidr)
		}
		zone, err := s.subnetZone(tx, in)
		if err != nil {
			return err
		}
		sn := facts.Subnet{
			ID: newID("subnet"), VpcID: vpc, AvailabilityZone: zone, AvailabilityZoneID: s.zoneIDOf(tx, zone), CIDR: block.String(),
		}
		if c6 := deref(in.Ipv6CidrBlock); c6 != "" {
			p6, err := netip.ParsePrefix(c6)
			vb6, verr := netip.ParsePrefix(v.IPv6CIDR)
			if err != nil || verr != nil || p6.Bits() != 64 || p6 != p6.Masked() || !vb6.Contains(p6.Addr()) {
				return awserr.New("InvalidSubnet.Range", "The IPv6 CIDR '%s' is invalid (want a /64 of the VPC's IPv6 block %q).", c6, v.IPv6CIDR)
			}
			if slices.ContainsFunc(v6, p6.Overlaps) {
				return awserr.New("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", c6)
			}
			sn.IPv6CIDR = p6.String()
		}
		if err := createSubnet(tx, owner("", s.account), sn); err != nil {
			return err
		}
		if err := addTags(tx, sn.ID, tags); err != nil {
			return err
		}
		rec, _, err := state.Get(tx, state.Subnets, sn.ID)
		if err != nil {
			return err
		}
		used, err := usedIPs(tx)
		if err != nil {
			return err
		}
		out, err = s.renderSubnet(tx, rec, used)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CreateSubnetOutput{Subnet: &out}, nil
}

// subnetZone returns the zone a new subnet goes to: the one named (by
// name or ID), else the region's first.
func (s *Service) subnetZone(tx *state.Tx, in *ec2.CreateSubnetInput) (string, error) {
	zones, err := s.zoneNames(tx)
	if err != nil {
		return "", err
	}
	switch {
	case in.AvailabilityZone != nil:
		if z := *in.AvailabilityZone; slices.Contains(zones, z) {
			return z, nil
		}
		return "", awserr.New("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.", *in.AvailabilityZone, strings.Join(zones, ", "))
	case in.AvailabilityZoneId != nil:
		var ids []string
		for _, z := range zones {
			id := s.zoneIDOf(tx, z)
			if id == *in.AvailabilityZoneId {
				return z, nil
			}
			ids = append(ids, id)
		}
		return "", awserr.New("InvalidParameterValue", "Value (%s) for parameter availabilityZoneId is invalid. Subnets can currently only be created in the following availability zones: %s.", *in.AvailabilityZoneId, strings.Join(ids, ", "))
	}
	return zones[0], nil
}

// DeleteSubnet deletes a subnet nothing uses (no instance that is not
// terminated, no network interface, no load balancer), its route table
// associations and its tags.
func (s *Service) DeleteSubnet(ctx context.Context, in *ec2.DeleteSubnetInput) (*ec2.DeleteSubnetOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	id := deref(in.SubnetId)
	if id == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter subnetId")
	}
	if err := subnetID.check(id); err != nil {
		return nil, err
	}
	err := s.update(ctx, "DeleteSubnet", func(tx *state.Tx) error {
		if _, ok, err := state.Get(tx, state.Subnets, id); err != nil {
			return err
		} else if !ok {
			return subnetID.missing(id)
		}
		inUse := awserr.New("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted.", id)
		used := false
		if err := state.ForEachPrefix(tx, state.Instances, "", func(r *state.Instance) error {
			used = used || (r.SubnetID == id && r.State != "terminated")
			return nil
		}); err != nil {
			return err
		}
		if err := state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
			used = used || n.SubnetID == id
			return nil
		}); err != nil {
			return err
		}
		if err := state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
			for _, z := range lb.Zones {
				used = used || z.SubnetID == id
			}
			return nil
		}); err != nil {
			return err
		}
		if used {
			return inUse
		}
		var tables []*state.RouteTable
		if err := state.ForEachPrefix(tx, state.RouteTables, "", func(rt *state.RouteTable) error {
			if slices.Contains(rt.Subnets, id) {
				tables = append(tables, rt)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, rt := range tables {
			rt.Subnets = slices.DeleteFunc(rt.Subnets, func(s string) bool { return s == id })
			if err := state.Put(tx, state.RouteTables, rt); err != nil {
				return err
			}
		}
		if err := dropTags(tx, id); err != nil {
			return err
		}
		_, err := state.Delete(tx, state.Subnets, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DeleteSubnetOutput{}, nil
}
