package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/instancetype"
)

// Network interfaces an API client manages: created in a subnet
// (CreateNetworkInterface), attached to an instance at a device index
// (AttachNetworkInterface, DetachNetworkInterface), given and relieved of
// secondary private addresses (AssignPrivateIpAddresses,
// UnassignPrivateIpAddresses) within the limits of the instance type they
// are attached to, and deleted (DeleteNetworkInterface). This is what the
// AWS VPC CNI does to give pods their addresses.

// maxUnattachedIPv4 bounds the addresses of an interface attached to no
// instance: the largest per-interface limit of the instance types the
// local EC2 knows (AWS checks the instance type's limit at attachment).
func maxUnattachedIPv4() int {
	m := 0
	for _, n := range instancetype.Names() {
		if l, err := instancetype.Lookup(n); err == nil && l.IPv4PerInterface > m {
			m = l.IPv4PerInterface
		}
	}
	return m
}

func errIPLimit() error {
	return awserr.New("PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.")
}

// typeLimits returns the network limits of an instance's type.
func typeLimits(in *state.Instance) (instancetype.Limits, error) {
	typ := in.InstanceType
	if typ == "" {
		typ = defaultInstanceType
	}
	l, err := instancetype.Lookup(typ)
	if err != nil {
		return l, awserr.New("InvalidParameterValue", "The local EC2 cannot check the network limits of instance %s: %v", in.ID, err)
	}
	return l, nil
}

// ipv4Limit is how many private IPv4 addresses an interface may have: its
// instance type's per-interface limit when attached.
func ipv4Limit(tx *state.Tx, n *state.NetworkInterface) (int, error) {
	if n.InstanceID == "" {
		return maxUnattachedIPv4(), nil
	}
	in, ok, err := state.Get(tx, state.Instances, n.InstanceID)
	if err != nil {
		return 0, err
	}
	if !ok {
		return maxUnattachedIPv4(), nil
	}
	l, err := typeLimits(in)
	if err != nil {
		return 0, err
	}
	return l.IPv4PerInterface, nil
}

// instanceAttachment renders the attachment of an instance's interface:
// the stored one of an interface attached by AttachNetworkInterface, else
// the primary's (device index 0, deleted with the instance).
func instanceAttachment(n *state.NetworkInterface, account string) *types.NetworkInterfaceAttachment {
	a := &types.NetworkInterfaceAttachment{
		AttachmentId:        aws.String(facts.StableID("eni-attach", n.ID)),
		InstanceId:          aws.String(n.InstanceID),
		InstanceOwnerId:     aws.String(account),
		DeviceIndex:         aws.Int32(0),
		NetworkCardIndex:    aws.Int32(0),
		DeleteOnTermination: aws.Bool(true),
		Status:              types.AttachmentStatusAttached,
	}
	if n.AttachmentID != "" {
		a.AttachmentId = aws.String(n.AttachmentID)
		a.DeviceIndex = aws.Int32(n.DeviceIndex)
		a.DeleteOnTermination = aws.Bool(n.DeleteOnTermination)
		if !n.AttachTime.IsZero() {
			t := n.AttachTime
			a.AttachTime = &t
		}
	}
	return a
}

// instanceInterfaces returns an instance's interfaces: the primary one,
// then those attached to it, by device index.
func instanceInterfaces(tx *state.Tx, in *state.Instance) ([]*state.NetworkInterface, error) {
	var out []*state.NetworkInterface
	if in.NetworkInterfaceID != "" {
		n, ok, err := state.Get(tx, state.NetworkInterfaces, in.NetworkInterfaceID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, n)
		}
	}
	var more []*state.NetworkInterface
	err := state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
		if n.InstanceID == in.ID && n.AttachmentID != "" && n.ID != in.NetworkInterfaceID {
			more = append(more, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(more, func(i, j int) bool { return more[i].DeviceIndex < more[j].DeviceIndex })
	return append(out, more...), nil
}

// instanceIface is an instance's interface as DescribeInstances shows it,
// with the public address of its primary private address.
type instanceIface struct {
	types.InstanceNetworkInterface
	publicIP *string
}

// instanceInterface converts a rendered interface to the instance's view
// of it.
func instanceInterface(ni types.NetworkInterface) instanceIface {
	out := instanceIface{InstanceNetworkInterface: types.InstanceNetworkInterface{
		NetworkInterfaceId: ni.NetworkInterfaceId,
		SubnetId:           ni.SubnetId,
		VpcId:              ni.VpcId,
		Description:        ni.Description,
		Groups:             ni.Groups,
		InterfaceType:      aws.String(string(ni.InterfaceType)),
		MacAddress:         ni.MacAddress,
		OwnerId:            ni.OwnerId,
		PrivateDnsName:     ni.PrivateDnsName,
		PrivateIpAddress:   ni.PrivateIpAddress,
		SourceDestCheck:    ni.SourceDestCheck,
		Status:             ni.Status,
		Attachment: &types.InstanceNetworkInterfaceAttachment{
			AttachmentId:        ni.Attachment.AttachmentId,
			AttachTime:          ni.Attachment.AttachTime,
			DeleteOnTermination: ni.Attachment.DeleteOnTermination,
			DeviceIndex:         ni.Attachment.DeviceIndex,
			NetworkCardIndex:    ni.Attachment.NetworkCardIndex,
			Status:              ni.Attachment.Status,
		},
	}}
	for _, p := range ni.PrivateIpAddresses {
		ip := types.InstancePrivateIpAddress{Primary: p.Primary, PrivateDnsName: p.PrivateDnsName, PrivateIpAddress: p.PrivateIpAddress}
		if p.Association != nil {
			ip.Association = &types.InstanceNetworkInterfaceAssociation{IpOwnerId: p.Association.IpOwnerId, PublicIp: p.Association.PublicIp}
			if aws.ToBool(p.Primary) {
				out.Association = ip.Association
				out.publicIP = p.Association.PublicIp
			}
		}
		out.PrivateIpAddresses = append(out.PrivateIpAddresses, ip)
	}
	return out
}

// managedInterface reports whether id is an interface of a load balancer
// node (amazon-elb's, derived from the load balancer), which clients may
// describe but not change.
func managedInterface(tx *state.Tx, id string) (bool, error) {
	lbs, err := lbInterfaces(tx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(lbs, func(n *state.NetworkInterface) bool { return n.ID == id }), nil
}

// clientInterface returns a stored interface a client may change:
// InvalidNetworkInterfaceID.NotFound when there is none,
// OperationNotPermitted for a load balancer's.
func clientInterface(tx *state.Tx, id string) (*state.NetworkInterface, error) {
	n, ok, err := state.Get(tx, state.NetworkInterfaces, id)
	if err != nil {
		return nil, err
	}
	if ok {
		return n, nil
	}
	managed, err := managedInterface(tx, id)
	if err != nil {
		return nil, err
	}
	if managed {
		return nil, awserr.New("OperationNotPermitted", "The network interface '%s' is managed by amazon-elb and cannot be changed.", id)
	}
	return nil, eniID.missing(id)
}

// secondaryAddresses picks the addresses to add to n: the named ones,
// checked (in its subnet, not reserved, not in use unless reassign moves
// them from another interface of the subnet), or count free ones. It
// returns the interfaces that give addresses up.
func secondaryAddresses(tx *state.Tx, n *state.NetworkInterface, named []string, count int, reassign bool) ([]netip.Addr, []*state.NetworkInterface, error) {
	sn, ok, err := state.Get(tx, state.Subnets, n.SubnetID)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, subnetID.missing(n.SubnetID)
	}
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return nil, nil, awserr.Internal(err)
	}
	used, err := usedIPs(tx)
	if err != nil {
		return nil, nil, err
	}
	var out []netip.Addr
	var losers []*state.NetworkInterface
	for _, s := range named {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, nil, awserr.New("InvalidParameterValue", "Invalid value '%s' for PrivateIpAddresses: not an IPv4 address", s)
		}
		switch {
		case !p.Contains(a):
			return nil, nil, awserr.New("InvalidParameterValue", "Address %s does not fall within the subnet's address range", s)
		case reservedInSubnet(p, a):
			return nil, nil, awserr.New("InvalidParameterValue", "Address %s is reserved by AWS in subnet %s", s, sn.ID)
		case slices.Contains(out, a):
			return nil, nil, awserr.New("InvalidParameterValue", "Address %s is named twice", s)
		}
		if owner, taken := used[a]; taken {
			from, err := reassignable(tx, owner, n, a, reassign)
			if err != nil {
				return nil, nil, err
			}
			losers = append(losers, from)
		}
		used[a] = n.ID
		out = append(out, a)
	}
	for range count {
		a, ok := freeIP(sn, used)
		if !ok {
			return nil, nil, awserr.New("InsufficientFreeAddressesInSubnet", "The specified subnet does not have enough free addresses to satisfy the request.")
		}
		used[a] = n.ID
		out = append(out, a)
	}
	return out, losers, nil
}

// reassignable returns the interface that holds a as a secondary address,
// when the request allows reassignment and that interface is another one
// of the subnet; otherwise the address is in use.
func reassignable(tx *state.Tx, owner string, to *state.NetworkInterface, a netip.Addr, reassign bool) (*state.NetworkInterface, error) {
	inUse := awserr.New("InvalidIPAddress.InUse", "Address %s is in use.", a)
	if !reassign || owner == to.ID {
		return nil, inUse
	}
	from, ok, err := state.Get(tx, state.NetworkInterfaces, owner)
	if err != nil {
		return nil, err
	}
	if !ok || from.SubnetID != to.SubnetID || len(from.PrivateIPs) == 0 || from.PrivateIPs[0] == a.String() {
		return nil, inUse // a primary address, an instance's or a load balancer's
	}
	return from, nil
}

// AssignPrivateIpAddresses adds secondary private IPv4 addresses to a
// network interface: the named ones (AllowReassignment moves one from
// another interface of the subnet) or SecondaryPrivateIpAddressCount free
// ones of its subnet, within the per-interface limit of the instance type
// it is attached to (PrivateIpAddressLimitExceeded beyond). IPv4 prefixes
// are not supported.
func (s *Service) AssignPrivateIpAddresses(ctx context.Context, in *ec2.AssignPrivateIpAddressesInput) (*ec2.AssignPrivateIpAddressesOutput, error) {
	id := deref(in.NetworkInterfaceId)
	count := int(aws.ToInt32(in.SecondaryPrivateIpAddressCount))
	switch {
	case id == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter networkInterfaceId")
	case len(in.Ipv4Prefixes) > 0 || in.Ipv4PrefixCount != nil:
		return nil, awserr.New("InvalidParameterValue", "IPv4 prefixes (Ipv4Prefixes, Ipv4PrefixCount) are not supported by the local EC2; assign addresses")
	case len(in.PrivateIpAddresses) > 0 && in.SecondaryPrivateIpAddressCount != nil:
		return nil, awserr.New("InvalidParameterCombination", "Specify either PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both.")
	case len(in.PrivateIpAddresses) == 0 && in.SecondaryPrivateIpAddressCount == nil:
		return nil, awserr.New("MissingParameter", "The request must contain either PrivateIpAddresses or SecondaryPrivateIpAddressCount")
	case in.SecondaryPrivateIpAddressCount != nil && count < 1:
		return nil, awserr.New("InvalidParameterValue", "Invalid value '%d' for SecondaryPrivateIpAddressCount: it must be at least 1", count)
	}
	if err := eniID.check(id); err != nil {
		return nil, err
	}
	out := &ec2.AssignPrivateIpAddressesOutput{NetworkInterfaceId: aws.String(id), AssignedPrivateIpAddresses: []types.AssignedPrivateIpAddress{}}
	err := s.update(ctx, "AssignPrivateIpAddresses", func(tx *state.Tx) error {
		out.AssignedPrivateIpAddresses = out.AssignedPrivateIpAddresses[:0]
		n, err := clientInterface(tx, id)
		if err != nil {
			return err
		}
		limit, err := ipv4Limit(tx, n)
		if err != nil {
			return err
		}
		if len(n.PrivateIPs)+len(in.PrivateIpAddresses)+count > limit {
			return errIPLimit()
		}
		addrs, losers, err := secondaryAddresses(tx, n, in.PrivateIpAddresses, count, aws.ToBool(in.AllowReassignment))
		if err != nil {
			return err
		}
		for _, from := range losers {
			from.PrivateIPs = slices.DeleteFunc(from.PrivateIPs, func(ip string) bool {
				a, _ := netip.ParseAddr(ip)
				return slices.Contains(addrs, a)
			})
			if err := state.Put(tx, state.NetworkInterfaces, from); err != nil {
				return err
			}
		}
		for _, a := range addrs {
			n.PrivateIPs = append(n.PrivateIPs, a.String())
			out.AssignedPrivateIpAddresses = append(out.AssignedPrivateIpAddresses, types.AssignedPrivateIpAddress{PrivateIpAddress: aws.String(a.String())})
		}
		return state.Put(tx, state.NetworkInterfaces, n)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UnassignPrivateIpAddresses removes secondary private IPv4 addresses
// from a network interface; the primary address stays (InvalidParameterValue),
// and every address named must be the interface's.
func (s *Service) UnassignPrivateIpAddresses(ctx context.Context, in *ec2.UnassignPrivateIpAddressesInput) (*ec2.UnassignPrivateIpAddressesOutput, error) {
	id := deref(in.NetworkInterfaceId)
	switch {
	case id == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter networkInterfaceId")
	case len(in.Ipv4Prefixes) > 0:
		return nil, awserr.New("InvalidParameterValue", "IPv4 prefixes are not supported by the local EC2")
	case len(in.PrivateIpAddresses) == 0:
		return nil, awserr.New("MissingParameter", "The request must contain the parameter PrivateIpAddresses")
	}
	if err := eniID.check(id); err != nil {
		return nil, err
	}
	err := s.update(ctx, "UnassignPrivateIpAddresses", func(tx *state.Tx) error {
		n, err := clientInterface(tx, id)
		if err != nil {
			return err
		}
		var notHers []string
		for _, ip := range in.PrivateIpAddresses {
			i := slices.Index(n.PrivateIPs, ip)
			switch {
			case i == 0:
				return awserr.New("InvalidParameterValue", "The primary private IP address %s of %s cannot be unassigned", ip, id)
			case i < 0:
				notHers = append(notHers, ip)
			}
		}
		if len(notHers) > 0 {
			return awserr.New("InvalidParameterValue", "Some of the specified addresses are not assigned to interface %s: %v", id, notHers)
		}
		n.PrivateIPs = slices.DeleteFunc(n.PrivateIPs, func(ip string) bool { return slices.Contains(in.PrivateIpAddresses, ip) })
		return state.Put(tx, state.NetworkInterfaces, n)
	})
	if err != nil {
		return nil, err
	}
	return &ec2.UnassignPrivateIpAddressesOutput{}, nil
}

// CreateNetworkInterface creates an interface in a subnet, available
// (attached to nothing), with the given or lowest free primary address,
// SecondaryPrivateIpAddressCount more, the security groups (the VPC's
// default group when none), a description and tags.
func (s *Service) CreateNetworkInterface(ctx context.Context, in *ec2.CreateNetworkInterfaceInput) (*ec2.CreateNetworkInterfaceOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sub := deref(in.SubnetId)
	count := int(aws.ToInt32(in.SecondaryPrivateIpAddressCount))
	switch {
	case sub == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter subnetId")
	case len(in.PrivateIpAddresses) > 0 || len(in.Ipv4Prefixes) > 0 || in.Ipv4PrefixCount != nil || len(in.Ipv6Addresses) > 0 || in.Ipv6AddressCount != nil || len(in.Ipv6Prefixes) > 0 || in.Ipv6PrefixCount != nil:
		return nil, awserr.New("InvalidParameterValue", "The local EC2 creates interfaces with PrivateIpAddress and SecondaryPrivateIpAddressCount only (no PrivateIpAddresses list, prefixes or IPv6 addresses)")
	case in.InterfaceType != "":
		return nil, awserr.New("InvalidParameterValue", "Interface type '%s' is not supported by the local EC2 (standard interfaces only)", in.InterfaceType)
	case count < 0:
		return nil, awserr.New("InvalidParameterValue", "Invalid value '%d' for SecondaryPrivateIpAddressCount", count)
	case count+1 > maxUnattachedIPv4():
		return nil, errIPLimit()
	}
	if err := subnetID.check(sub); err != nil {
		return nil, err
	}
	if err := groupID.checkAll(in.Groups); err != nil {
		return nil, err
	}
	tags, err := specTags(in.TagSpecifications, types.ResourceTypeNetworkInterface, types.ResourceTypeNetworkInterface)
	if err != nil {
		return nil, err
	}
	var out types.NetworkInterface
	err = s.update(ctx, "CreateNetworkInterface", func(tx *state.Tx) error {
		sn, ok, err := state.Get(tx, state.Subnets, sub)
		if err != nil {
			return err
		}
		if !ok {
			return subnetID.missing(sub)
		}
		groups, err := s.launchGroups(tx, sn.VpcID, launchSpec{groupIDs: in.Groups})
		if err != nil {
			if awserr.Is(err, "SecurityGroupsPerInstanceLimitExceeded") {
				return awserr.New("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.")
			}
			return err
		}
		used, err := usedIPs(tx)
		if err != nil {
			return err
		}
		primary, err := s.pickIP(sn, deref(in.PrivateIpAddress), used, true)
		if err != nil {
			return err
		}
		n := &state.NetworkInterface{
			ID: newID("eni"), SubnetID: sn.ID, VpcID: sn.VpcID, AvailabilityZone: sn.AvailabilityZone,
			Description: deref(in.Description), InterfaceType: "interface", PrivateIPs: []string{primary.String()},
			SecurityGroups: groups, Status: "available",
		}
		if err := state.Put(tx, state.NetworkInterfaces, n); err != nil {
			return err
		}
		more, _, err := secondaryAddresses(tx, n, nil, count, false)
		if err != nil {
			return err
		}
		for _, a := range more {
			n.PrivateIPs = append(n.PrivateIPs, a.String())
		}
		if err := state.Put(tx, state.NetworkInterfaces, n); err != nil {
			return err
		}
		if err := addTags(tx, n.ID, tags); err != nil {
			return err
		}
		eips, err := addressesByInterface(tx)
		if err != nil {
			return err
		}
		out, err = s.renderInterface(tx, n, eips)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CreateNetworkInterfaceOutput{NetworkInterface: &out}, nil
}

// AttachNetworkInterface attaches an available interface to a running
// instance of its zone at a free device index, within the instance type's
// interface limit (AttachmentLimitExceeded) and per-interface address
// limit. The attachment is not deleted with the instance unless changed.
func (s *Service) AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput) (*ec2.AttachNetworkInterfaceOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	eni, inst := deref(in.NetworkInterfaceId), deref(in.InstanceId)
	switch {
	case eni == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter networkInterfaceId")
	case inst == "":
		return nil, awserr.New("MissingParameter", "The request must contain the parameter instanceId")
	case in.DeviceIndex == nil:
		return nil, awserr.New("MissingParameter", "The request must contain the parameter deviceIndex")
	case aws.ToInt32(in.NetworkCardIndex) != 0:
		return nil, awserr.New("InvalidParameterValue", "Network card index %d: the local EC2's instances have one network card (index 0)", aws.ToInt32(in.NetworkCardIndex))
	}
	if err := eniID.check(eni); err != nil {
		return nil, err
	}
	if err := instanceID.check(inst); err != nil {
		return nil, err
	}
	index := aws.ToInt32(in.DeviceIndex)
	attachment := newID("eni-attach")
	err := s.update(ctx, "AttachNetworkInterface", func(tx *state.Tx) error {
		n, err := clientInterface(tx, eni)
		if err != nil {
			return err
		}
		rec, ok, err := state.Get(tx, state.Instances, inst)
		if err != nil {
			return err
		}
		if !ok || !s.visible(rec) {
			return instanceID.missing(inst)
		}
		if st := rec.State; st != "" && st != "running" && st != "stopped" {
			return awserr.New("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", inst)
		}
		if n.InstanceID != "" || n.Status != "available" {
			return awserr.New("InvalidNetworkInterface.InUse", "Interface: [%s] in use.", eni)
		}
		if n.AvailabilityZone != rec.AvailabilityZone || n.VpcID != rec.VpcID {
			return awserr.New("InvalidParameterValue", "The network interface %s (%s) and the instance %s (%s) are not in the same availability zone", eni, n.AvailabilityZone, inst, rec.AvailabilityZone)
		}
		if index < 1 {
			return awserr.New("InvalidParameterValue", "Instance '%s' already has an interface attached at device index '%d'.", inst, index)
		}
		attached, err := instanceInterfaces(tx, rec)
		if err != nil {
			return err
		}
		for _, o := range attached {
			if o.AttachmentID != "" && o.DeviceIndex == index {
				return awserr.New("InvalidParameterValue", "Instance '%s' already has an interface attached at device index '%d'.", inst, index)
			}
		}
		l, err := typeLimits(rec)
		if err != nil {
			return err
		}
		if len(attached)+1 > l.NetworkInterfaces {
			typ := rec.InstanceType
			if typ == "" {
				typ = defaultInstanceType
			}
			return awserr.New("AttachmentLimitExceeded", "Interface count %d exceeds the limit for %s", len(attached)+1, typ)
		}
		if len(n.PrivateIPs) > l.IPv4PerInterface {
			return errIPLimit()
		}
		n.InstanceID, n.AttachmentID, n.DeviceIndex, n.DeleteOnTermination = inst, attachment, index, false
		n.AttachTime = s.now().UTC().Truncate(time.Second)
		n.Status = "in-use"
		return state.Put(tx, state.NetworkInterfaces, n)
	})
	if err != nil {
		return nil, err
	}
	return &ec2.AttachNetworkInterfaceOutput{AttachmentId: aws.String(attachment), NetworkCardIndex: aws.Int32(0)}, nil
}

// DetachNetworkInterface detaches an interface attached by
// AttachNetworkInterface; an instance's primary interface stays.
func (s *Service) DetachNetworkInterface(ctx context.Context, in *ec2.DetachNetworkInterfaceInput) (*ec2.DetachNetworkInterfaceOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	id := deref(in.AttachmentId)
	if id == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter attachmentId")
	}
	err := s.update(ctx, "DetachNetworkInterface", func(tx *state.Tx) error {
		var found *state.NetworkInterface
		err := state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
			switch {
			case n.AttachmentID == id:
				found = n
			case n.InstanceID != "" && n.AttachmentID == "" && facts.StableID("eni-attach", n.ID) == id:
				return awserr.New("OperationNotPermitted", "The network interface at device index 0 cannot be detached.")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if found == nil {
			return awserr.New("InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", id)
		}
		detach(found)
		return state.Put(tx, state.NetworkInterfaces, found)
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DetachNetworkInterfaceOutput{}, nil
}

func detach(n *state.NetworkInterface) {
	n.InstanceID, n.AttachmentID, n.DeviceIndex, n.DeleteOnTermination = "", "", 0, false
	n.AttachTime = time.Time{}
	n.Status = "available"
}

// DeleteNetworkInterface deletes an interface attached to nothing, and its
// tags.
func (s *Service) DeleteNetworkInterface(ctx context.Context, in *ec2.DeleteNetworkInterfaceInput) (*ec2.DeleteNetworkInterfaceOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	id := deref(in.NetworkInterfaceId)
	if id == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter networkInterfaceId")
	}
	if err := eniID.check(id); err != nil {
		return nil, err
	}
	err := s.update(ctx, "DeleteNetworkInterface", func(tx *state.Tx) error {
		n, err := clientInterface(tx, id)
		if err != nil {
			if awserr.Is(err, "OperationNotPermitted") {
				return awserr.New("InvalidNetworkInterface.InUse", "The network interface '%s' is currently in use.", id)
			}
			return err
		}
		if n.InstanceID != "" {
			return awserr.New("InvalidNetworkInterface.InUse", "The network interface '%s' is currently in use.", id)
		}
		if err := dropTags(tx, id); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.NetworkInterfaces, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DeleteNetworkInterfaceOutput{}, nil
}

// releaseInterfaces handles the attached interfaces of a terminated
// instance: deleted when DeleteOnTermination is set, detached otherwise.
func releaseInterfaces(tx *state.Tx, instanceID string) error {
	var attached []*state.NetworkInterface
	err := state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
		if n.InstanceID == instanceID && n.AttachmentID != "" {
			attached = append(attached, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range attached {
		if n.DeleteOnTermination {
			if err := dropTags(tx, n.ID); err != nil {
				return err
			}
			if _, err := state.Delete(tx, state.NetworkInterfaces, n.ID); err != nil {
				return err
			}
			continue
		}
		detach(n)
		if err := state.Put(tx, state.NetworkInterfaces, n); err != nil {
			return fmt.Errorf("detach %s: %w", n.ID, err)
		}
	}
	return nil
}
