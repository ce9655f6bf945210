package ec2

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Network interfaces are the stored ones (instances' primary interfaces,
// interfaces from facts) and, derived from the state, one per load
// balancer zone, owned by amazon-elb, as AWS creates them: description
// "ELB app/NAME/ID" (or net/…), the zone's private address, the load
// balancer's security groups. They are not stored, so they come and go
// with the load balancer.

// lbInterfaceID is the stable ID of a load balancer's interface in a zone.
func lbInterfaceID(lbARN, zone string) string { return facts.StableID("eni", lbARN+" "+zone) }

// lbInterfaces derives the network interfaces of load balancer nodes.
func lbInterfaces(tx *state.Tx) ([]*state.NetworkInterface, error) {
	var out []*state.NetworkInterface
	err := state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
		typ := "interface"
		switch lb.Type {
		case "network":
			typ = "network_load_balancer"
		case "gateway":
			typ = "gateway_load_balancer"
		}
		desc := "ELB " + lb.ARN
		if _, res, ok := strings.Cut(lb.ARN, ":loadbalancer/"); ok {
			desc = "ELB " + res
		}
		for _, z := range lb.Zones {
			n := &state.NetworkInterface{
				ID:               lbInterfaceID(lb.ARN, z.ZoneName),
				SubnetID:         z.SubnetID,
				VpcID:            lb.VpcID,
				AvailabilityZone: z.ZoneName,
				Description:      desc,
				InterfaceType:    typ,
				SecurityGroups:   lb.SecurityGroups,
				RequesterID:      "amazon-elb",
				Status:           "in-use",
			}
			if z.PrivateIPv4Address != "" {
				n.PrivateIPs = []string{z.PrivateIPv4Address}
			}
			if z.IPv6Address != "" {
				n.IPv6Addresses = []string{z.IPv6Address}
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// macAddress derives a stable, locally administered MAC address.
func macAddress(id string) string {
	h := sha256.Sum256([]byte(id))
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", h[0]&0xfe|0x02, h[1], h[2], h[3], h[4], h[5])
}

// groupIdentifiers renders security group IDs with their names.
func groupIdentifiers(tx *state.Tx, ids []string) ([]types.GroupIdentifier, error) {
	out := []types.GroupIdentifier{}
	for _, id := range ids {
		gi := types.GroupIdentifier{GroupId: aws.String(id)}
		if g, ok, err := state.Get(tx, state.SecurityGroups, id); err != nil {
			return nil, err
		} else if ok {
			gi.GroupName = aws.String(g.Name)
		}
		out = append(out, gi)
	}
	return out, nil
}

// addressesByInterface returns the Elastic IPs associated with network
// interfaces, by interface ID and private address.
func addressesByInterface(tx *state.Tx) (map[string]*state.Address, error) {
	out := map[string]*state.Address{}
	lbZones := map[string]state.LBZone{}
	lbs := map[string]string{}
	err := state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
		for _, z := range lb.Zones {
			if z.AllocationID != "" {
				lbZones[z.AllocationID] = z
				lbs[z.AllocationID] = lb.ARN
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = state.ForEachPrefix(tx, state.Addresses, "", func(a *state.Address) error {
		switch {
		case a.NetworkInterfaceID != "":
			out[a.NetworkInterfaceID+" "+a.PrivateIPAddress] = a
		default:
			if z, ok := lbZones[a.AllocationID]; ok {
				out[lbInterfaceID(lbs[a.AllocationID], z.ZoneName)+" "+z.PrivateIPv4Address] = a
			}
		}
		return nil
	})
	return out, err
}

func (s *Service) renderInterface(tx *state.Tx, n *state.NetworkInterface, eips map[string]*state.Address) (types.NetworkInterface, error) {
	tags, err := tagsOf(tx, n.ID)
	if err != nil {
		return types.NetworkInterface{}, err
	}
	groups, err := groupIdentifiers(tx, n.SecurityGroups)
	if err != nil {
		return types.NetworkInterface{}, err
	}
	managed := n.RequesterID != ""
	out := types.NetworkInterface{
		NetworkInterfaceId: aws.String(n.ID),
		SubnetId:           aws.String(n.SubnetID),
		VpcId:              aws.String(n.VpcID),
		AvailabilityZone:   aws.String(n.AvailabilityZone),
		AvailabilityZoneId: aws.String(facts.ZoneID(n.AvailabilityZone)),
		Description:        aws.String(n.Description),
		InterfaceType:      types.NetworkInterfaceType(n.InterfaceType),
		Groups:             groups,
		MacAddress:         aws.String(macAddress(n.ID)),
		OwnerId:            aws.String(s.account),
		RequesterManaged:   aws.Bool(managed),
		SourceDestCheck:    aws.Bool(true),
		Status:             types.NetworkInterfaceStatus(n.Status),
		TagSet:             tags,
		PrivateIpAddresses: []types.NetworkInterfacePrivateIpAddress{},
		Ipv6Addresses:      []types.NetworkInterfaceIpv6Address{},
	}
	if managed {
		out.RequesterId = aws.String(n.RequesterID)
	}
	if out.Status == "" {
		out.Status = types.NetworkInterfaceStatusInUse
	}
	for i, ip := range n.PrivateIPs {
		pa := types.NetworkInterfacePrivateIpAddress{Primary: aws.Bool(i == 0), PrivateIpAddress: aws.String(ip)}
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			pa.PrivateDnsName = aws.String(privateDNSName(s.region, a))
		}
		if eip, ok := eips[n.ID+" "+ip]; ok {
			pa.Association = s.eipAssociation(eip)
			if i == 0 {
				out.Association = pa.Association
			}
		}
		if i == 0 {
			out.PrivateIpAddress = pa.PrivateIpAddress
			out.PrivateDnsName = pa.PrivateDnsName
		}
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, pa)
	}
	for _, ip := range n.IPv6Addresses {
		out.Ipv6Addresses = append(out.Ipv6Addresses, types.NetworkInterfaceIpv6Address{Ipv6Address: aws.String(ip)})
	}
	switch {
	case n.InstanceID != "":
		out.Attachment = instanceAttachment(n, s.account)
	case managed:
		out.Attachment = &types.NetworkInterfaceAttachment{
			AttachmentId:        aws.String(facts.StableID("eni-attach", n.ID)),
			InstanceOwnerId:     aws.String(n.RequesterID),
			DeviceIndex:         aws.Int32(1),
			NetworkCardIndex:    aws.Int32(0),
			DeleteOnTermination: aws.Bool(false),
			Status:              types.AttachmentStatusAttached,
		}
	}
	return out, nil
}

func (s *Service) eipAssociation(a *state.Address) *types.NetworkInterfaceAssociation {
	return &types.NetworkInterfaceAssociation{
		AllocationId:  aws.String(a.AllocationID),
		AssociationId: aws.String(eipAssociationID(a)),
		IpOwnerId:     aws.String(s.account),
		PublicIp:      aws.String(a.PublicIP),
	}
}

func eipAssociationID(a *state.Address) string {
	if a.AssociationID != "" {
		return a.AssociationID
	}
	return facts.StableID("eipassoc", a.AllocationID)
}

func privateIPs(n *types.NetworkInterface) []string {
	var out []string
	for _, p := range n.PrivateIpAddresses {
		out = append(out, str(p.PrivateIpAddress)...)
	}
	return out
}

var interfaceFilters = filterSpec[types.NetworkInterface]{
	attrs: map[string]attr[types.NetworkInterface]{
		"network-interface-id":         func(n *types.NetworkInterface) []string { return str(n.NetworkInterfaceId) },
		"subnet-id":                    func(n *types.NetworkInterface) []string { return str(n.SubnetId) },
		"vpc-id":                       func(n *types.NetworkInterface) []string { return str(n.VpcId) },
		"availability-zone":            func(n *types.NetworkInterface) []string { return str(n.AvailabilityZone) },
		"description":                  func(n *types.NetworkInterface) []string { return str(n.Description) },
		"interface-type":               func(n *types.NetworkInterface) []string { return []string{string(n.InterfaceType)} },
		"mac-address":                  func(n *types.NetworkInterface) []string { return str(n.MacAddress) },
		"owner-id":                     func(n *types.NetworkInterface) []string { return str(n.OwnerId) },
		"requester-id":                 func(n *types.NetworkInterface) []string { return str(n.RequesterId) },
		"requester-managed":            func(n *types.NetworkInterface) []string { return boolean(n.RequesterManaged) },
		"source-dest-check":            func(n *types.NetworkInterface) []string { return boolean(n.SourceDestCheck) },
		"status":                       func(n *types.NetworkInterface) []string { return []string{string(n.Status)} },
		"private-ip-address":           privateIPs,
		"addresses.private-ip-address": privateIPs,
		"private-dns-name":             func(n *types.NetworkInterface) []string { return str(n.PrivateDnsName) },
		"ipv6-addresses.ipv6-address":  ipv6s,
		"ipv6-address":                 ipv6s,
		"attachment.instance-id":       attachment(func(a *types.NetworkInterfaceAttachment) []string { return str(a.InstanceId) }),
		"attachment.instance-owner-id": attachment(func(a *types.NetworkInterfaceAttachment) []string { return str(a.InstanceOwnerId) }),
		"attachment.attachment-id":     attachment(func(a *types.NetworkInterfaceAttachment) []string { return str(a.AttachmentId) }),
		"attachment.status":            attachment(func(a *types.NetworkInterfaceAttachment) []string { return []string{string(a.Status)} }),
		"attachment.device-index":      attachment(func(a *types.NetworkInterfaceAttachment) []string { return integer(a.DeviceIndex) }),
		"attachment.delete-on-termination": attachment(func(a *types.NetworkInterfaceAttachment) []string {
			return boolean(a.DeleteOnTermination)
		}),
		"group-id": func(n *types.NetworkInterface) []string {
			var out []string
			for _, g := range n.Groups {
				out = append(out, str(g.GroupId)...)
			}
			return out
		},
		"group-name": func(n *types.NetworkInterface) []string {
			var out []string
			for _, g := range n.Groups {
				out = append(out, str(g.GroupName)...)
			}
			return out
		},
		"association.public-ip":      association(func(a *types.NetworkInterfaceAssociation) []string { return str(a.PublicIp) }),
		"association.allocation-id":  association(func(a *types.NetworkInterfaceAssociation) []string { return str(a.AllocationId) }),
		"association.association-id": association(func(a *types.NetworkInterfaceAssociation) []string { return str(a.AssociationId) }),
		"association.ip-owner-id":    association(func(a *types.NetworkInterfaceAssociation) []string { return str(a.IpOwnerId) }),
	},
	tags: func(n *types.NetworkInterface) []types.Tag { return n.TagSet },
}

func ipv6s(n *types.NetworkInterface) []string {
	var out []string
	for _, a := range n.Ipv6Addresses {
		out = append(out, str(a.Ipv6Address)...)
	}
	return out
}

func attachment(f func(*types.NetworkInterfaceAttachment) []string) attr[types.NetworkInterface] {
	return func(n *types.NetworkInterface) []string {
		if n.Attachment == nil {
			return nil
		}
		return f(n.Attachment)
	}
}

func association(f func(*types.NetworkInterfaceAssociation) []string) attr[types.NetworkInterface] {
	return func(n *types.NetworkInterface) []string {
		var out []string
		for _, p := range n.PrivateIpAddresses {
			if p.Association != nil {
				out = append(out, f(p.Association)...)
			}
		}
		return out
	}
}

// allInterfaces returns stored and load balancer interfaces, by ID.
func allInterfaces(tx *state.Tx) ([]*state.NetworkInterface, error) {
	stored, err := state.List(tx, state.NetworkInterfaces)
	if err != nil {
		return nil, err
	}
	derived, err := lbInterfaces(tx)
	if err != nil {
		return nil, err
	}
	all := append(stored, derived...)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all, nil
}

// DescribeNetworkInterfaces lists network interfaces (instances', and
// load balancer nodes' owned by amazon-elb) by ID and filters (vpc-id,
// subnet-id, addresses.private-ip-address, private-ip-address,
// network-interface-id, attachment.instance-id, group-id, description,
// interface-type, requester-id, status, association.public-ip, tag:KEY,
// …), paginated with MaxResults 5–1000 (not with NetworkInterfaceIds).
func (s *Service) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.NetworkInterface]{
		op: "DescribeNetworkInterfaces", dryRun: in.DryRun, kind: &eniID, ids: in.NetworkInterfaceIds, filters: interfaceFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.NetworkInterface)) error {
			recs, err := allInterfaces(tx)
			if err != nil {
				return err
			}
			if len(in.NetworkInterfaceIds) > 0 {
				byID := map[string]*state.NetworkInterface{}
				for _, n := range recs {
					byID[n.ID] = n
				}
				recs = recs[:0]
				var missing []string
				for _, id := range dedupe(in.NetworkInterfaceIds) {
					n, ok := byID[id]
					if !ok {
						missing = append(missing, id)
						continue
					}
					recs = append(recs, n)
				}
				if len(missing) > 0 {
					return eniID.missing(missing...)
				}
			}
			eips, err := addressesByInterface(tx)
			if err != nil {
				return err
			}
			for _, n := range recs {
				r, err := s.renderInterface(tx, n, eips)
				if err != nil {
					return err
				}
				emit(r)
			}
			return nil
		},
		key:    func(v types.NetworkInterface) string { return *v.NetworkInterfaceId },
		limits: pageLimits{min: 5, max: 1000, idsParam: "networkInterfaceIdSet"}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeNetworkInterfacesOutput{NetworkInterfaces: page, NextToken: next}, nil
}
