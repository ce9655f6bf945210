package ec2

import (
	"context"
	"net/netip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Elastic IPs are host (loopback) addresses from state.ElasticIPPool, kept
// across restarts. A load balancer created with SubnetMappings[].AllocationId
// listens on its zone's Elastic IP; the address is then shown associated
// with the load balancer's network interface in that zone.

// addressUser returns the load balancer using an Elastic IP, if any.
func addressUser(tx *state.Tx, a *state.Address) (lbARN, zone string, z state.LBZone, err error) {
	err = state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
		for _, lz := range lb.Zones {
			if lz.AllocationID == a.AllocationID {
				lbARN, zone, z = lb.ARN, lz.ZoneName, lz
			}
		}
		return nil
	})
	if err == nil && lbARN == "" && a.LoadBalancerARN != "" {
		lbARN = a.LoadBalancerARN
	}
	return lbARN, zone, z, err
}

func (s *Service) renderAddress(tx *state.Tx, a *state.Address) (types.Address, error) {
	tags, err := tagsOf(tx, a.AllocationID)
	if err != nil {
		return types.Address{}, err
	}
	out := types.Address{
		AllocationId:       aws.String(a.AllocationID),
		PublicIp:           aws.String(a.PublicIP),
		Domain:             types.DomainTypeVpc,
		PublicIpv4Pool:     aws.String("amazon"),
		NetworkBorderGroup: aws.String(s.region),
		Tags:               tags,
	}
	lb, zone, z, err := addressUser(tx, a)
	if err != nil {
		return types.Address{}, err
	}
	switch {
	case a.NetworkInterfaceID != "":
		out.AssociationId = aws.String(eipAssociationID(a))
		out.NetworkInterfaceId = aws.String(a.NetworkInterfaceID)
		out.NetworkInterfaceOwnerId = aws.String(s.account)
		out.PrivateIpAddress = optional(a.PrivateIPAddress)
		if n, ok, err := state.Get(tx, state.NetworkInterfaces, a.NetworkInterfaceID); err != nil {
			return types.Address{}, err
		} else if ok && n.InstanceID != "" {
			out.InstanceId = aws.String(n.InstanceID)
		}
	case zone != "":
		out.AssociationId = aws.String(eipAssociationID(a))
		out.NetworkInterfaceId = aws.String(lbInterfaceID(lb, zone))
		out.NetworkInterfaceOwnerId = aws.String(s.account)
		out.PrivateIpAddress = optional(z.PrivateIPv4Address)
		out.SubnetId = optional(z.SubnetID)
	}
	return out, nil
}

var addressFilters = filterSpec[types.Address]{
	attrs: map[string]attr[types.Address]{
		"allocation-id":              func(a *types.Address) []string { return str(a.AllocationId) },
		"association-id":             func(a *types.Address) []string { return str(a.AssociationId) },
		"domain":                     func(a *types.Address) []string { return []string{string(a.Domain)} },
		"instance-id":                func(a *types.Address) []string { return str(a.InstanceId) },
		"network-border-group":       func(a *types.Address) []string { return str(a.NetworkBorderGroup) },
		"network-interface-id":       func(a *types.Address) []string { return str(a.NetworkInterfaceId) },
		"network-interface-owner-id": func(a *types.Address) []string { return str(a.NetworkInterfaceOwnerId) },
		"private-ip-address":         func(a *types.Address) []string { return str(a.PrivateIpAddress) },
		"public-ip":                  func(a *types.Address) []string { return str(a.PublicIp) },
		"public-ipv4-pool":           func(a *types.Address) []string { return str(a.PublicIpv4Pool) },
	},
	tags: func(a *types.Address) []types.Tag { return a.Tags },
}

// AllocateAddress allocates an Elastic IP in the vpc domain: a stable host
// address from the Elastic IP pool. The account may hold MaxElasticIPs of
// them (AWS's default quota is 5): beyond, AddressLimitExceeded.
func (s *Service) AllocateAddress(ctx context.Context, in *ec2.AllocateAddressInput) (*ec2.AllocateAddressOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if in.Domain != "" && in.Domain != types.DomainTypeVpc {
		return nil, awserr.New("InvalidParameterValue", "Invalid value '%s' for domain: only vpc is supported", in.Domain)
	}
	if in.Address != nil || in.CustomerOwnedIpv4Pool != nil || in.IpamPoolId != nil {
		return nil, awserr.New("InvalidParameterValue", "Allocating a specific address or from a customer-owned or IPAM pool is not supported by the local EC2")
	}
	if in.PublicIpv4Pool != nil && *in.PublicIpv4Pool != "amazon" {
		return nil, awserr.New("InvalidParameterValue", "Invalid value '%s' for PublicIpv4Pool: only amazon is supported", *in.PublicIpv4Pool)
	}
	if in.NetworkBorderGroup != nil && *in.NetworkBorderGroup != s.region {
		return nil, awserr.New("InvalidParameterValue", "Invalid value '%s' for NetworkBorderGroup: the local region's network border group is %s", *in.NetworkBorderGroup, s.region)
	}
	tags, err := specTags(in.TagSpecifications, types.ResourceTypeElasticIp, types.ResourceTypeElasticIp)
	if err != nil {
		return nil, err
	}
	a := &state.Address{AllocationID: newID("eipalloc"), Domain: "vpc"}
	err = s.update(ctx, "AllocateAddress", func(tx *state.Tx) error {
		if state.Count(tx, state.Addresses) >= s.maxElasticIPs {
			return awserr.New("AddressLimitExceeded", "The maximum number of addresses has been reached.")
		}
		var err error
		if a, err = allocateAddress(tx, a.AllocationID); err != nil {
			return err
		}
		return addTags(tx, a.AllocationID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &ec2.AllocateAddressOutput{
		AllocationId:       aws.String(a.AllocationID),
		PublicIp:           aws.String(a.PublicIP),
		Domain:             types.DomainTypeVpc,
		PublicIpv4Pool:     aws.String("amazon"),
		NetworkBorderGroup: aws.String(s.region),
	}, nil
}

// allocateAddress allocates an Elastic IP of the vpc domain with an
// allocation ID: the next address of the Elastic IP pool, recorded as the
// allocation's. AllocateAddress, Bootstrap (facts) and auto-provisioning
// (Provisioner.ElasticIP) allocate through it.
func allocateAddress(tx *state.Tx, allocationID string) (*state.Address, error) {
	ip, err := state.AllocateLoopback(tx, state.ElasticIPPool, allocationID)
	if err != nil {
		return nil, err
	}
	a := &state.Address{AllocationID: allocationID, PublicIP: ip.String(), Domain: "vpc"}
	if err := state.Put(tx, state.Addresses, a); err != nil {
		return nil, err
	}
	return a, nil
}

// ReleaseAddress releases an Elastic IP by allocation ID. An address a
// load balancer or a network interface uses is InvalidIPAddress.InUse.
func (s *Service) ReleaseAddress(ctx context.Context, in *ec2.ReleaseAddressInput) (*ec2.ReleaseAddressOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if in.AllocationId == nil {
		if in.PublicIp != nil {
			return nil, awserr.New("InvalidParameterValue", "You must specify an allocation id when releasing a VPC elastic IP address")
		}
		return nil, awserr.New("MissingParameter", "The request must contain the parameter AllocationId")
	}
	if err := allocID.check(*in.AllocationId); err != nil {
		return nil, err
	}
	err := s.update(ctx, "ReleaseAddress", func(tx *state.Tx) error {
		a, ok, err := state.Get(tx, state.Addresses, *in.AllocationId)
		if err != nil {
			return err
		}
		if !ok {
			return allocID.missing(*in.AllocationId)
		}
		lb, _, _, err := addressUser(tx, a)
		if err != nil {
			return err
		}
		if lb != "" || a.NetworkInterfaceID != "" {
			return awserr.New("InvalidIPAddress.InUse", "Address %s is in use.", a.PublicIP)
		}
		if err := state.ReleaseLoopback(tx, a.PublicIP); err != nil {
			return err
		}
		if err := dropTags(tx, a.AllocationID); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.Addresses, a.AllocationID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2.ReleaseAddressOutput{}, nil
}

// DescribeAddresses lists Elastic IPs by allocation ID, public IP and
// filters (allocation-id, association-id, domain, instance-id,
// network-interface-id, private-ip-address, public-ip, tag:KEY, …). It
// is not paginated.
func (s *Service) DescribeAddresses(ctx context.Context, in *ec2.DescribeAddressesInput) (*ec2.DescribeAddressesOutput, error) {
	out, _, err := describe(ctx, s, describeReq[types.Address]{
		op: "DescribeAddresses", dryRun: in.DryRun, kind: &allocID, ids: in.AllocationIds, filters: addressFilters, in: in.Filters,
		check: func() error {
			for _, ip := range in.PublicIps {
				if _, err := netip.ParseAddr(ip); err != nil {
					return awserr.New("InvalidAddress.Malformed", "Invalid address: '%s'", ip)
				}
			}
			return nil
		},
		read: func(tx *state.Tx, emit func(types.Address)) error {
			recs, err := byIDs(tx, state.Addresses, allocID, in.AllocationIds)
			if err != nil {
				return err
			}
			if len(in.PublicIps) > 0 {
				all := recs
				if len(in.AllocationIds) > 0 {
					if all, err = state.List(tx, state.Addresses); err != nil {
						return err
					}
				}
				byIP := map[string]*state.Address{}
				for _, a := range all {
					byIP[a.PublicIP] = a
				}
				for _, ip := range dedupe(in.PublicIps) {
					a, ok := byIP[ip]
					if !ok {
						return awserr.New("InvalidAddress.NotFound", "Address '%s' not found.", ip)
					}
					if len(in.AllocationIds) == 0 {
						continue
					}
					recs = append(recs, a)
				}
				if len(in.AllocationIds) == 0 {
					recs = recs[:0]
					for _, ip := range dedupe(in.PublicIps) {
						recs = append(recs, byIP[ip])
					}
				}
			}
			return renderEach(recs, func(a *state.Address) string { return a.AllocationID },
				func(a *state.Address) (types.Address, error) { return s.renderAddress(tx, a) }, emit)
		},
		provision: func(tx *state.Tx, req *autoprovision.Request) error {
			for _, id := range dedupe(in.AllocationIds) {
				if _, _, err := s.prov.ElasticIP(tx, req, Ref{ID: id, Parameter: "AllocationIds"}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []types.Address{}
	}
	return &ec2.DescribeAddressesOutput{Addresses: out}, nil
}
