package ec2

import (
	"context"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Instances: the local ELB runs no machine. An instance is a record with a
// subnet, a private IP and security groups, so that instance targets
// resolve to an address (realised on loopback by the address map) and
// tools can declare nodes through the real RunInstances API. Image,
// instance type and the rest of a launch request are recorded or ignored.

// terminatedVisible is how long a terminated instance stays visible.
const terminatedVisible = time.Hour

const defaultInstanceType = "m1.small"

var instanceStates = map[string]int32{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

func instanceState(name string) *types.InstanceState {
	return &types.InstanceState{Name: types.InstanceStateName(name), Code: aws.Int32(instanceStates[name])}
}

// visible reports whether an instance is still described.
func (s *Service) visible(in *state.Instance) bool {
	return in.State != "terminated" || in.TerminatedAt.IsZero() || s.now().Sub(in.TerminatedAt) < terminatedVisible
}

func (s *Service) renderInstance(tx *state.Tx, in *state.Instance, eips map[string]*state.Address) (types.Instance, error) {
	tags, err := tagsOf(tx, in.ID)
	if err != nil {
		return types.Instance{}, err
	}
	groups, err := groupIdentifiers(tx, in.SecurityGroups)
	if err != nil {
		return types.Instance{}, err
	}
	typ := in.InstanceType
	if typ == "" {
		typ = defaultInstanceType
	}
	st := in.State
	if st == "" {
		st = "running"
	}
	launch := in.LaunchTime
	out := types.Instance{
		InstanceId:         aws.String(in.ID),
		InstanceType:       types.InstanceType(typ),
		State:              instanceState(st),
		LaunchTime:         &launch,
		Placement:          &types.Placement{AvailabilityZone: aws.String(in.AvailabilityZone), Tenancy: types.TenancyDefault, GroupName: aws.String("")},
		Architecture:       types.ArchitectureValuesX8664,
		Hypervisor:         types.HypervisorTypeXen,
		VirtualizationType: types.VirtualizationTypeHvm,
		RootDeviceType:     types.DeviceTypeEbs,
		RootDeviceName:     aws.String("/dev/xvda"),
		AmiLaunchIndex:     aws.Int32(0),
		Monitoring:         &types.Monitoring{State: types.MonitoringStateDisabled},
		Tags:               tags,
		SecurityGroups:     groups,
		NetworkInterfaces:  []types.InstanceNetworkInterface{},
		PublicDnsName:      aws.String(""),
	}
	if in.ImageID != "" {
		out.ImageId = aws.String(in.ImageID)
	}
	if st == "terminated" {
		out.StateTransitionReason = aws.String("User initiated")
		out.StateReason = &types.StateReason{Code: aws.String("Client.UserInitiatedShutdown"), Message: aws.String("Client.UserInitiatedShutdown: User initiated shutdown")}
		return out, nil // a terminated instance has no network
	}
	out.StateTransitionReason = aws.String("")
	out.SubnetId = aws.String(in.SubnetID)
	out.VpcId = aws.String(in.VpcID)
	out.PrivateIpAddress = aws.String(in.PrivateIP)
	out.PrivateDnsName = aws.String(in.PrivateDNSName)
	out.SourceDestCheck = aws.Bool(true)
	ifs, err := instanceInterfaces(tx, in)
	if err != nil {
		return types.Instance{}, err
	}
	for _, n := range ifs {
		ni, err := s.renderInterface(tx, n, eips)
		if err != nil {
			return types.Instance{}, err
		}
		inst := instanceInterface(ni)
		if aws.ToInt32(inst.Attachment.DeviceIndex) == 0 {
			inst.Attachment.AttachTime = &launch
			out.PublicIpAddress = inst.publicIP
		}
		out.NetworkInterfaces = append(out.NetworkInterfaces, inst.InstanceNetworkInterface)
	}
	return out, nil
}

func netifs(f func(n *types.InstanceNetworkInterface) []string) attr[types.Instance] {
	return func(in *types.Instance) []string {
		var out []string
		for i := range in.NetworkInterfaces {
			out = append(out, f(&in.NetworkInterfaces[i])...)
		}
		return out
	}
}

var instanceFilters = filterSpec[types.Instance]{
	attrs: map[string]attr[types.Instance]{
		"instance-id":         func(in *types.Instance) []string { return str(in.InstanceId) },
		"instance-state-name": func(in *types.Instance) []string { return []string{string(in.State.Name)} },
		"instance-state-code": func(in *types.Instance) []string { return integer(in.State.Code) },
		"instance-type":       func(in *types.Instance) []string { return []string{string(in.InstanceType)} },
		"image-id":            func(in *types.Instance) []string { return str(in.ImageId) },
		"private-ip-address":  func(in *types.Instance) []string { return str(in.PrivateIpAddress) },
		"private-dns-name":    func(in *types.Instance) []string { return str(in.PrivateDnsName) },
		"ip-address":          func(in *types.Instance) []string { return str(in.PublicIpAddress) },
		"subnet-id":           func(in *types.Instance) []string { return str(in.SubnetId) },
		"vpc-id":              func(in *types.Instance) []string { return str(in.VpcId) },
		"availability-zone":   func(in *types.Instance) []string { return str(in.Placement.AvailabilityZone) },
		"architecture":        func(in *types.Instance) []string { return []string{string(in.Architecture)} },
		"instance.group-id": func(in *types.Instance) []string {
			var out []string
			for _, g := range in.SecurityGroups {
				out = append(out, str(g.GroupId)...)
			}
			return out
		},
		"instance.group-name": func(in *types.Instance) []string {
			var out []string
			for _, g := range in.SecurityGroups {
				out = append(out, str(g.GroupName)...)
			}
			return out
		},
		"network-interface.network-interface-id": netifs(func(n *types.InstanceNetworkInterface) []string {
			return str(n.NetworkInterfaceId)
		}),
		"network-interface.subnet-id": netifs(func(n *types.InstanceNetworkInterface) []string { return str(n.SubnetId) }),
		"network-interface.vpc-id":    netifs(func(n *types.InstanceNetworkInterface) []string { return str(n.VpcId) }),
		"network-interface.addresses.private-ip-address": netifs(func(n *types.InstanceNetworkInterface) []string {
			var out []string
			for _, p := range n.PrivateIpAddresses {
				out = append(out, str(p.PrivateIpAddress)...)
			}
			return out
		}),
		"network-interface.private-dns-name": netifs(func(n *types.InstanceNetworkInterface) []string {
			return str(n.PrivateDnsName)
		}),
	},
	tags: func(in *types.Instance) []types.Tag { return in.Tags },
}

// reservationFilters apply to the reservation rather than the instance.
var reservationAttrs = map[string]func(r *types.Reservation) []string{
	"reservation-id": func(r *types.Reservation) []string { return str(r.ReservationId) },
	"owner-id":       func(r *types.Reservation) []string { return str(r.OwnerId) },
}

// DescribeInstances lists instances, grouped by reservation, by ID and
// filters (instance-id, instance-state-name, private-ip-address,
// subnet-id, vpc-id, availability-zone, instance.group-id,
// network-interface.*, reservation-id, tag:KEY, …), paginated by
// reservation with MaxResults 5–1000 (not with InstanceIds). Terminated
// instances stay visible for an hour.
func (s *Service) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if err := instanceID.checkAll(in.InstanceIds); err != nil {
		return nil, err
	}
	lim := pageLimits{min: 5, max: 1000, idsParam: "instancesSet"}
	if err := checkMaxResults(lim, in.MaxResults, len(in.InstanceIds)); err != nil {
		return nil, err
	}
	// Reservation-level filters are split off; the rest apply to
	// instances.
	var instFilters []types.Filter
	type resFilter struct {
		get  func(*types.Reservation) []string
		pats []wildcard
	}
	var resFilters []resFilter
	for _, f := range in.Filters {
		if get, ok := reservationAttrs[deref(f.Name)]; ok {
			rf := resFilter{get: get}
			for _, v := range f.Values {
				rf.pats = append(rf.pats, compileWildcard(v))
			}
			resFilters = append(resFilters, rf)
			continue
		}
		instFilters = append(instFilters, f)
	}
	match, err := instanceFilters.compile(instFilters)
	if err != nil {
		return nil, err
	}
	var all []types.Reservation
	err = s.view(ctx, func(tx *state.Tx) error {
		recs, err := byIDs(tx, state.Instances, instanceID, in.InstanceIds)
		if err != nil {
			return err
		}
		eips, err := addressesByInterface(tx)
		if err != nil {
			return err
		}
		byRes := map[string]*types.Reservation{}
		var order []string
		for _, rec := range recs {
			if !s.visible(rec) {
				if len(in.InstanceIds) > 0 {
					return instanceID.missing(rec.ID)
				}
				continue
			}
			r, err := s.renderInstance(tx, rec, eips)
			if err != nil {
				return err
			}
			if !match(&r) {
				continue
			}
			resID := rec.ReservationID
			if resID == "" {
				resID = "r-" + rec.ID[len("i-"):]
			}
			res, ok := byRes[resID]
			if !ok {
				res = &types.Reservation{ReservationId: aws.String(resID), OwnerId: aws.String(s.account), Groups: []types.GroupIdentifier{}}
				byRes[resID] = res
				order = append(order, resID)
			}
			res.Instances = append(res.Instances, r)
		}
		for _, id := range order {
			res := byRes[id]
			ok := true
			for _, rf := range resFilters {
				hit := false
				for _, v := range rf.get(res) {
					for _, p := range rf.pats {
						hit = hit || p.match(v)
					}
				}
				ok = ok && hit
			}
			if ok {
				all = append(all, *res)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(s.tokens.Scope("DescribeInstances"), all, func(r types.Reservation) string { return *r.ReservationId }, lim, in.MaxResults, in.NextToken, len(in.InstanceIds))
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeInstancesOutput{Reservations: page, NextToken: next}, nil
}

// launchSpec is what RunInstances needs from a request.
type launchSpec struct {
	subnetID  string
	privateIP string
	groupIDs  []string
	groupName []string
}

func launchSpecOf(in *ec2.RunInstancesInput) (launchSpec, error) {
	sp := launchSpec{subnetID: deref(in.SubnetId), privateIP: deref(in.PrivateIpAddress), groupIDs: in.SecurityGroupIds, groupName: in.SecurityGroups}
	if len(in.NetworkInterfaces) > 0 {
		if sp.subnetID != "" {
			return sp, awserr.New("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID may not be specified on the same request")
		}
		if len(in.NetworkInterfaces) > 1 {
			return sp, awserr.New("InvalidParameterValue", "Only one network interface (device index 0) is supported by the local EC2")
		}
		ni := in.NetworkInterfaces[0]
		if aws.ToInt32(ni.DeviceIndex) != 0 {
			return sp, awserr.New("InvalidParameterValue", "The primary network interface must have device index 0")
		}
		if ni.NetworkInterfaceId != nil {
			return sp, awserr.New("InvalidParameterValue", "Attaching an existing network interface at launch is not supported by the local EC2")
		}
		if len(in.SecurityGroupIds) > 0 || len(in.SecurityGroups) > 0 {
			return sp, awserr.New("InvalidParameterCombination", "Network interfaces and an instance-level security groups may not be specified on the same request")
		}
		sp.subnetID = deref(ni.SubnetId)
		if ni.PrivateIpAddress != nil {
			if sp.privateIP != "" {
				return sp, awserr.New("InvalidParameterCombination", "Network interfaces and an instance-level private IP address may not be specified on the same request")
			}
			sp.privateIP = *ni.PrivateIpAddress
		}
		sp.groupIDs = ni.Groups
	}
	return sp, nil
}

// RunInstances launches instance records: each gets the subnet (SubnetId
// or the primary network interface's), the requested private IP (it must
// lie in the subnet, not be reserved and not be in use) or the lowest free
// one, the security groups (the VPC's default group when none), a primary
// network interface, and tags from TagSpecifications. Images and instance
// types are recorded, not run.
func (s *Service) RunInstances(ctx context.Context, in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	minN, maxN := aws.ToInt32(in.MinCount), aws.ToInt32(in.MaxCount)
	switch {
	case in.MinCount == nil:
		return nil, awserr.New("MissingParameter", "The request must contain the parameter MinCount")
	case in.MaxCount == nil:
		return nil, awserr.New("MissingParameter", "The request must contain the parameter MaxCount")
	case minN < 1 || maxN < minN:
		return nil, awserr.New("InvalidParameterValue", "Invalid MinCount/MaxCount: %d/%d (want 1 <= MinCount <= MaxCount)", minN, maxN)
	case maxN > 100:
		return nil, awserr.New("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of 100 allows.", maxN)
	}
	sp, err := launchSpecOf(in)
	if err != nil {
		return nil, err
	}
	if sp.privateIP != "" && maxN > 1 {
		return nil, awserr.New("InvalidParameterCombination", "A private IP address can only be specified when launching one instance")
	}
	if sp.subnetID != "" {
		if err := subnetID.check(sp.subnetID); err != nil {
			return nil, err
		}
	}
	if err := groupID.checkAll(sp.groupIDs); err != nil {
		return nil, err
	}
	instTags, err := specTags(in.TagSpecifications, types.ResourceTypeInstance, types.ResourceTypeInstance, types.ResourceTypeNetworkInterface, types.ResourceTypeVolume)
	if err != nil {
		return nil, err
	}
	eniTags, err := specTags(in.TagSpecifications, types.ResourceTypeNetworkInterface, types.ResourceTypeInstance, types.ResourceTypeNetworkInterface, types.ResourceTypeVolume)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	resID := newID("r")
	var out []types.Instance
	err = s.update(ctx, "RunInstances", func(tx *state.Tx) error {
		if sp.subnetID == "" {
			return awserr.New("VPCIdNotSpecified", "No default VPC for this user")
		}
		sn, ok, err := state.Get(tx, state.Subnets, sp.subnetID)
		if err != nil {
			return err
		}
		if !ok {
			return subnetID.missing(sp.subnetID)
		}
		groups, err := s.launchGroups(tx, sn.VpcID, sp)
		if err != nil {
			return err
		}
		used, err := usedIPs(tx)
		if err != nil {
			return err
		}
		var recs []*state.Instance
		for i := int32(0); i < maxN; i++ {
			ip, err := s.pickIP(sn, sp.privateIP, used, i < minN)
			if err != nil {
				return err
			}
			if !ip.IsValid() {
				break // fewer than MaxCount, at least MinCount
			}
			rec, err := createInstance(tx, s.region, sn, ip, groups, now, resID, deref(in.ImageId), string(in.InstanceType), instTags, eniTags)
			if err != nil {
				return err
			}
			used[ip] = rec.ID
			recs = append(recs, rec)
		}
		eips := map[string]*state.Address{}
		for _, rec := range recs {
			r, err := s.renderInstance(tx, rec, eips)
			if err != nil {
				return err
			}
			r.State = instanceState("pending")
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].AmiLaunchIndex = aws.Int32(int32(i))
	}
	return &ec2.RunInstancesOutput{
		ReservationId: aws.String(resID),
		OwnerId:       aws.String(s.account),
		Groups:        []types.GroupIdentifier{},
		Instances:     out,
	}, nil
}

// launchGroups resolves the launch's security groups in the subnet's VPC.
func (s *Service) launchGroups(tx *state.Tx, vpc string, sp launchSpec) ([]string, error) {
	var ids []string
	for _, id := range dedupe(sp.groupIDs) {
		g, ok, err := state.Get(tx, state.SecurityGroups, id)
		if err != nil {
			return nil, err
		}
		if !ok || g.VpcID != vpc {
			return nil, awserr.New("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", id, vpc)
		}
		ids = append(ids, id)
	}
	for _, name := range dedupe(sp.groupName) {
		g, err := groupByName(tx, vpc, name)
		if err != nil {
			return nil, err
		}
		if g == nil {
			return nil, awserr.New("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", name, vpc)
		}
		ids = append(ids, g.ID)
	}
	if len(ids) > 5 {
		return nil, awserr.New("SecurityGroupsPerInstanceLimitExceeded", "The maximum number of security groups per interface has been reached.")
	}
	if len(ids) == 0 {
		g, err := groupByName(tx, vpc, "default")
		if err != nil {
			return nil, err
		}
		if g != nil {
			ids = []string{g.ID}
		}
	}
	return ids, nil
}

// pickIP returns the requested address after checking it, or the lowest
// free one; the zero Addr when the subnet is full and the instance is
// optional (beyond MinCount).
func (s *Service) pickIP(sn *state.Subnet, want string, used map[netip.Addr]string, required bool) (netip.Addr, error) {
	p, err := netip.ParsePrefix(sn.CIDR)
	if err != nil {
		return netip.Addr{}, awserr.Internal(err)
	}
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() {
			return netip.Addr{}, awserr.New("InvalidParameterValue", "Invalid value '%s' for PrivateIpAddress: not an IPv4 address", want)
		}
		if !p.Contains(a) {
			return netip.Addr{}, awserr.New("InvalidParameterValue", "Address %s does not fall within the subnet's address range", want)
		}
		if reservedInSubnet(p, a) {
			return netip.Addr{}, awserr.New("InvalidParameterValue", "Address %s is reserved by AWS in subnet %s", want, sn.ID)
		}
		if _, taken := used[a]; taken {
			return netip.Addr{}, awserr.New("InvalidIPAddress.InUse", "Address %s is in use.", want)
		}
		return a, nil
	}
	a, ok := freeIP(sn, used)
	if !ok {
		if required {
			return netip.Addr{}, awserr.New("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.ID)
		}
		return netip.Addr{}, nil
	}
	return a, nil
}

// createInstance stores a running instance and its primary interface.
func createInstance(tx *state.Tx, region string, sn *state.Subnet, ip netip.Addr, groups []string, now time.Time, resID, image, typ string, tags, eniTags []types.Tag) (*state.Instance, error) {
	id := newID("i")
	return putInstance(tx, region, id, newID("eni"), sn, ip, groups, now, resID, image, typ, tags, eniTags)
}

func putInstance(tx *state.Tx, region, id, eni string, sn *state.Subnet, ip netip.Addr, groups []string, now time.Time, resID, image, typ string, tags, eniTags []types.Tag) (*state.Instance, error) {
	if typ == "" {
		typ = defaultInstanceType
	}
	rec := &state.Instance{
		ID:                 id,
		SubnetID:           sn.ID,
		VpcID:              sn.VpcID,
		AvailabilityZone:   sn.AvailabilityZone,
		PrivateIP:          ip.String(),
		PrivateDNSName:     privateDNSName(region, ip),
		InstanceType:       typ,
		State:              "running",
		SecurityGroups:     groups,
		LaunchTime:         now,
		NetworkInterfaceID: eni,
		ReservationID:      resID,
		ImageID:            image,
	}
	n := &state.NetworkInterface{
		ID:               eni,
		SubnetID:         sn.ID,
		VpcID:            sn.VpcID,
		AvailabilityZone: sn.AvailabilityZone,
		InterfaceType:    "interface",
		PrivateIPs:       []string{ip.String()},
		SecurityGroups:   groups,
		InstanceID:       id,
		Status:           "in-use",
	}
	if err := state.Put(tx, state.Instances, rec); err != nil {
		return nil, err
	}
	if err := state.Put(tx, state.NetworkInterfaces, n); err != nil {
		return nil, err
	}
	if err := addTags(tx, id, tags); err != nil {
		return nil, err
	}
	if err := addTags(tx, eni, eniTags); err != nil {
		return nil, err
	}
	return rec, nil
}

// TerminateInstances terminates instances: they turn shutting-down (as
// reported) then terminated, lose their primary network interface and
// private address (the other interfaces are deleted or detached by their
// DeleteOnTermination), and stay visible for an hour.
func (s *Service) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	if len(in.InstanceIds) == 0 {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter InstanceId")
	}
	if err := instanceID.checkAll(in.InstanceIds); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var changes []types.InstanceStateChange
	err := s.update(ctx, "TerminateInstances", func(tx *state.Tx) error {
		recs, err := byIDs(tx, state.Instances, instanceID, in.InstanceIds)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if !s.visible(rec) {
				return instanceID.missing(rec.ID)
			}
			prev := rec.State
			if prev == "" {
				prev = "running"
			}
			cur := "shutting-down"
			if prev == "terminated" {
				cur = "terminated"
			} else {
				rec.State = "terminated"
				rec.TerminatedAt = now
				if rec.NetworkInterfaceID != "" {
					if err := dropTags(tx, rec.NetworkInterfaceID); err != nil {
						return err
					}
					if _, err := state.Delete(tx, state.NetworkInterfaces, rec.NetworkInterfaceID); err != nil {
						return err
					}
				}
				if err := releaseInterfaces(tx, rec.ID); err != nil {
					return err
				}
				if err := state.Put(tx, state.Instances, rec); err != nil {
					return err
				}
			}
			changes = append(changes, types.InstanceStateChange{
				InstanceId:    aws.String(rec.ID),
				PreviousState: instanceState(prev),
				CurrentState:  instanceState(cur),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.TerminateInstancesOutput{TerminatingInstances: changes}, nil
}
