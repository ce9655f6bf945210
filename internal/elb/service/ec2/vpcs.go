package ec2

import (
	"context"
	"net/http"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// dryRun answers a request with DryRun set: the caller may do it, so the
// answer is DryRunOperation (HTTP 412), and nothing is done.
func dryRun(flag *bool) error {
	if aws.ToBool(flag) {
		return awserr.WithStatus(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	}
	return nil
}

func (s *Service) renderVPC(tx *state.Tx, v *state.VPC) (types.Vpc, error) {
	tags, err := tagsOf(tx, v.ID)
	if err != nil {
		return types.Vpc{}, err
	}
	out := types.Vpc{
		VpcId:     aws.String(v.ID),
		CidrBlock: aws.String(v.CIDR),
		CidrBlockAssociationSet: []types.VpcCidrBlockAssociation{{
			AssociationId:  aws.String(facts.StableID("vpc-cidr-assoc", v.ID+"/"+v.CIDR)),
			CidrBlock:      aws.String(v.CIDR),
			CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated},
		}},
		DhcpOptionsId:   aws.String(facts.StableID("dopt", s.region+"/dhcp")),
		InstanceTenancy: types.TenancyDefault,
		IsDefault:       aws.Bool(v.IsDefault),
		OwnerId:         aws.String(owner(v.OwnerID, s.account)),
		State:           types.VpcStateAvailable,
		Tags:            tags,
	}
	if v.State != "" {
		out.State = types.VpcState(v.State)
	}
	if v.IPv6CIDR != "" {
		out.Ipv6CidrBlockAssociationSet = []types.VpcIpv6CidrBlockAssociation{{
			AssociationId:      aws.String(facts.StableID("vpc-cidr-assoc", v.ID+"/"+v.IPv6CIDR)),
			Ipv6CidrBlock:      aws.String(v.IPv6CIDR),
			Ipv6CidrBlockState: &types.VpcCidrBlockState{State: types.VpcCidrBlockStateCodeAssociated},
			Ipv6Pool:           aws.String("Amazon"),
			NetworkBorderGroup: aws.String(s.region),
		}}
	}
	return out, nil
}

func owner(recorded, account string) string {
	if recorded != "" {
		return recorded
	}
	return account
}

var vpcFilters = filterSpec[types.Vpc]{
	attrs: map[string]attr[types.Vpc]{
		"vpc-id": func(v *types.Vpc) []string { return str(v.VpcId) },
		"cidr":   func(v *types.Vpc) []string { return str(v.CidrBlock) },
		"state":  func(v *types.Vpc) []string { return []string{string(v.State)} },
		"is-default": func(v *types.Vpc) []string {
			return boolean(v.IsDefault)
		},
		"owner-id":        func(v *types.Vpc) []string { return str(v.OwnerId) },
		"dhcp-options-id": func(v *types.Vpc) []string { return str(v.DhcpOptionsId) },
		"cidr-block-association.cidr-block": func(v *types.Vpc) []string {
			var out []string
			for _, a := range v.CidrBlockAssociationSet {
				out = append(out, str(a.CidrBlock)...)
			}
			return out
		},
		"cidr-block-association.association-id": func(v *types.Vpc) []string {
			var out []string
			for _, a := range v.CidrBlockAssociationSet {
				out = append(out, str(a.AssociationId)...)
			}
			return out
		},
		"cidr-block-association.state": func(v *types.Vpc) []string {
			var out []string
			for _, a := range v.CidrBlockAssociationSet {
				out = append(out, string(a.CidrBlockState.State))
			}
			return out
		},
		"ipv6-cidr-block-association.ipv6-cidr-block": func(v *types.Vpc) []string {
			var out []string
			for _, a := range v.Ipv6CidrBlockAssociationSet {
				out = append(out, str(a.Ipv6CidrBlock)...)
			}
			return out
		},
	},
	tags: func(v *types.Vpc) []types.Tag { return v.Tags },
}

// DescribeVpcs lists VPCs by ID and filters (vpc-id, cidr,
// cidr-block-association.*, dhcp-options-id, is-default, owner-id, state,
// tag:KEY, tag-key, tag-value), paginated with MaxResults 5–1000.
func (s *Service) DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput) (*ec2.DescribeVpcsOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.Vpc]{
		op: "DescribeVpcs", dryRun: in.DryRun, kind: &vpcID, ids: in.VpcIds, filters: vpcFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.Vpc)) error {
			return renderByID(tx, state.VPCs, vpcID, in.VpcIds, func(v *state.VPC) (types.Vpc, error) { return s.renderVPC(tx, v) }, emit)
		},
		key: func(v types.Vpc) string { return *v.VpcId }, limits: pageLimits{min: 5, max: 1000}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeVpcsOutput{Vpcs: page, NextToken: next}, nil
}

// byIDs returns the records with the given IDs (all records when ids is
// empty), answering the kind's NotFound error naming every missing ID.
func byIDs[T any](tx *state.Tx, k state.Kind[T], kind idKind, ids []string) ([]*T, error) {
	if len(ids) == 0 {
		return state.List(tx, k)
	}
	var out []*T
	var missing []string
	for _, id := range dedupe(ids) {
		v, ok, err := state.Get(tx, k, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, id)
			continue
		}
		out = append(out, v)
	}
	if len(missing) > 0 {
		return nil, kind.missing(missing...)
	}
	return out, nil
}

// zoneNames returns the availability zones of the region: those
// configured and those of existing subnets, or a, b and c when there are
// none.
func (s *Service) zoneNames(tx *state.Tx) ([]string, error) {
	set := map[string]bool{}
	for _, z := range s.zones {
		set[z] = true
	}
	err := state.ForEachPrefix(tx, state.Subnets, "", func(sn *state.Subnet) error {
		set[sn.AvailabilityZone] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(set) == 0 {
		for _, l := range []string{"a", "b", "c"} {
			set[s.region+l] = true
		}
	}
	out := make([]string, 0, len(set))
	for z := range set {
		out = append(out, z)
	}
	sort.Strings(out)
	return out, nil
}

func (s *Service) zoneIDOf(tx *state.Tx, zone string) string {
	id := ""
	_ = state.ForEachPrefix(tx, state.Subnets, "", func(sn *state.Subnet) error {
		if sn.AvailabilityZone == zone && sn.AvailabilityZoneID != "" {
			id = sn.AvailabilityZoneID
		}
		return nil
	})
	if id == "" {
		id = facts.ZoneID(zone)
	}
	return id
}

var zoneFilters = filterSpec[types.AvailabilityZone]{
	attrs: map[string]attr[types.AvailabilityZone]{
		"zone-name":            func(z *types.AvailabilityZone) []string { return str(z.ZoneName) },
		"zone-id":              func(z *types.AvailabilityZone) []string { return str(z.ZoneId) },
		"region-name":          func(z *types.AvailabilityZone) []string { return str(z.RegionName) },
		"state":                func(z *types.AvailabilityZone) []string { return []string{string(z.State)} },
		"zone-type":            func(z *types.AvailabilityZone) []string { return str(z.ZoneType) },
		"group-name":           func(z *types.AvailabilityZone) []string { return str(z.GroupName) },
		"opt-in-status":        func(z *types.AvailabilityZone) []string { return []string{string(z.OptInStatus)} },
		"network-border-group": func(z *types.AvailabilityZone) []string { return str(z.NetworkBorderGroup) },
		"message":              func(z *types.AvailabilityZone) []string { return nil },
	},
}

// DescribeAvailabilityZones lists the region's zones, by ZoneNames or
// ZoneIds (an unknown one is InvalidParameterValue) and filters.
func (s *Service) DescribeAvailabilityZones(ctx context.Context, in *ec2.DescribeAvailabilityZonesInput) (*ec2.DescribeAvailabilityZonesOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	match, err := zoneFilters.compile(in.Filters)
	if err != nil {
		return nil, err
	}
	var out []types.AvailabilityZone
	err = s.view(ctx, func(tx *state.Tx) error {
		names, err := s.zoneNames(tx)
		if err != nil {
			return err
		}
		byName := map[string]types.AvailabilityZone{}
		byID := map[string]types.AvailabilityZone{}
		var all []types.AvailabilityZone
		for _, n := range names {
			z := types.AvailabilityZone{
				ZoneName:           aws.String(n),
				ZoneId:             aws.String(s.zoneIDOf(tx, n)),
				RegionName:         aws.String(s.region),
				State:              types.AvailabilityZoneStateAvailable,
				ZoneType:           aws.String("availability-zone"),
				OptInStatus:        types.AvailabilityZoneOptInStatusOptInNotRequired,
				GroupName:          aws.String(s.region),
				NetworkBorderGroup: aws.String(s.region),
				Messages:           []types.AvailabilityZoneMessage{},
			}
			byName[n] = z
			byID[*z.ZoneId] = z
			all = append(all, z)
		}
		if len(in.ZoneNames) > 0 || len(in.ZoneIds) > 0 {
			all = nil
			seen := map[string]bool{}
			for _, n := range in.ZoneNames {
				z, ok := byName[n]
				if !ok {
					return awserr.New("InvalidParameterValue", "Invalid availability zone: [%s]", n)
				}
				if !seen[n] {
					seen[n] = true
					all = append(all, z)
				}
			}
			for _, id := range in.ZoneIds {
				z, ok := byID[id]
				if !ok {
					return awserr.New("InvalidParameterValue", "Invalid availability zone ID: [%s]", id)
				}
				if !seen[*z.ZoneName] {
					seen[*z.ZoneName] = true
					all = append(all, z)
				}
			}
		}
		for i := range all {
			if match(&all[i]) {
				out = append(out, all[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeAvailabilityZonesOutput{AvailabilityZones: out}, nil
}

// DescribeAccountAttributes reports the account's EC2 attributes:
// supported-platforms (VPC), default-vpc, max-instances,
// vpc-max-security-groups-per-interface, max-elastic-ips and
// vpc-max-elastic-ips.
func (s *Service) DescribeAccountAttributes(ctx context.Context, in *ec2.DescribeAccountAttributesInput) (*ec2.DescribeAccountAttributesOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	defaultVPC := "none"
	err := s.view(ctx, func(tx *state.Tx) error {
		return state.ForEachPrefix(tx, state.VPCs, "", func(v *state.VPC) error {
			if v.IsDefault {
				defaultVPC = v.ID
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	eips := strconv.Itoa(s.maxElasticIPs)
	values := map[types.AccountAttributeName][]string{
		types.AccountAttributeNameSupportedPlatforms: {"VPC"},
		types.AccountAttributeNameDefaultVpc:         {defaultVPC},
		"max-instances":                              {"20"},
		"vpc-max-security-groups-per-interface":      {"5"},
		"max-elastic-ips":                            {eips},
		"vpc-max-elastic-ips":                        {eips},
	}
	order := []types.AccountAttributeName{
		types.AccountAttributeNameSupportedPlatforms, types.AccountAttributeNameDefaultVpc,
		"max-instances", "vpc-max-security-groups-per-interface", "max-elastic-ips", "vpc-max-elastic-ips",
	}
	names := in.AttributeNames
	if len(names) == 0 {
		names = order
	}
	var out []types.AccountAttribute
	for _, n := range names {
		vals, ok := values[n]
		if !ok {
			return nil, awserr.New("InvalidParameterValue", "Value (%s) for parameter attributeName is invalid. Unknown attribute.", n)
		}
		a := types.AccountAttribute{AttributeName: aws.String(string(n))}
		for _, v := range vals {
			a.AttributeValues = append(a.AttributeValues, types.AccountAttributeValue{AttributeValue: aws.String(v)})
		}
		out = append(out, a)
	}
	return &ec2.DescribeAccountAttributesOutput{AccountAttributes: out}, nil
}
