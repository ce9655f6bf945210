package ec2

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
)

func groupARN(region, account, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", region, account, id)
}

// defaultEgressRule is the outbound rule every new security group gets.
func defaultEgressRule(id string) state.SGRule {
	return state.SGRule{ID: id, Egress: true, Protocol: "-1", FromPort: -1, ToPort: -1, CIDRIPv4: "0.0.0.0/0"}
}

func (s *Service) renderGroup(tx *state.Tx, g *state.SecurityGroup) (types.SecurityGroup, error) {
	tags, err := tagsOf(tx, g.ID)
	if err != nil {
		return types.SecurityGroup{}, err
	}
	acct := owner(g.OwnerID, s.account)
	return types.SecurityGroup{
		GroupId:             aws.String(g.ID),
		GroupName:           aws.String(g.Name),
		Description:         aws.String(g.Description),
		VpcId:               aws.String(g.VpcID),
		OwnerId:             aws.String(acct),
		SecurityGroupArn:    aws.String(groupARN(s.region, acct, g.ID)),
		IpPermissions:       permissions(g.Rules, false, acct),
		IpPermissionsEgress: permissions(g.Rules, true, acct),
		Tags:                tags,
	}, nil
}

func perms(egress bool, f func(p *types.IpPermission) []string) attr[types.SecurityGroup] {
	return func(g *types.SecurityGroup) []string {
		list := g.IpPermissions
		if egress {
			list = g.IpPermissionsEgress
		}
		var out []string
		for i := range list {
			out = append(out, f(&list[i])...)
		}
		return out
	}
}

var groupFilters = func() filterSpec[types.SecurityGroup] {
	attrs := map[string]attr[types.SecurityGroup]{
		"group-id":    func(g *types.SecurityGroup) []string { return str(g.GroupId) },
		"group-name":  func(g *types.SecurityGroup) []string { return str(g.GroupName) },
		"description": func(g *types.SecurityGroup) []string { return str(g.Description) },
		"vpc-id":      func(g *types.SecurityGroup) []string { return str(g.VpcId) },
		"owner-id":    func(g *types.SecurityGroup) []string { return str(g.OwnerId) },
	}
	for _, dir := range []struct {
		prefix string
		egress bool
	}{{"ip-permission.", false}, {"egress.ip-permission.", true}} {
		attrs[dir.prefix+"protocol"] = perms(dir.egress, func(p *types.IpPermission) []string { return str(p.IpProtocol) })
		attrs[dir.prefix+"from-port"] = perms(dir.egress, func(p *types.IpPermission) []string { return integer(p.FromPort) })
		attrs[dir.prefix+"to-port"] = perms(dir.egress, func(p *types.IpPermission) []string { return integer(p.ToPort) })
		attrs[dir.prefix+"cidr"] = perms(dir.egress, func(p *types.IpPermission) []string {
			var out []string
			for _, r := range p.IpRanges {
				out = append(out, str(r.CidrIp)...)
			}
			return out
		})
		attrs[dir.prefix+"ipv6-cidr"] = perms(dir.egress, func(p *types.IpPermission) []string {
			var out []string
			for _, r := range p.Ipv6Ranges {
				out = append(out, str(r.CidrIpv6)...)
			}
			return out
		})
		attrs[dir.prefix+"prefix-list-id"] = perms(dir.egress, func(p *types.IpPermission) []string {
			var out []string
			for _, r := range p.PrefixListIds {
				out = append(out, str(r.PrefixListId)...)
			}
			return out
		})
		attrs[dir.prefix+"group-id"] = perms(dir.egress, func(p *types.IpPermission) []string {
			var out []string
			for _, r := range p.UserIdGroupPairs {
				out = append(out, str(r.GroupId)...)
			}
			return out
		})
		attrs[dir.prefix+"user-id"] = perms(dir.egress, func(p *types.IpPermission) []string {
			var out []string
			for _, r := range p.UserIdGroupPairs {
				out = append(out, str(r.UserId)...)
			}
			return out
		})
	}
	return filterSpec[types.SecurityGroup]{attrs: attrs, tags: func(g *types.SecurityGroup) []types.Tag { return g.Tags }}
}()

// defaultVPC returns the ID of the default VPC, "" when there is none.
func defaultVPC(tx *state.Tx) (string, error) {
	id := ""
	err := state.ForEachPrefix(tx, state.VPCs, "", func(v *state.VPC) error {
		if v.IsDefault {
			id = v.ID
		}
		return nil
	})
	return id, err
}

// groupByName returns the group of a VPC with a name.
func groupByName(tx *state.Tx, vpc, name string) (*state.SecurityGroup, error) {
	var found *state.SecurityGroup
	err := state.ForEachPrefix(tx, state.SecurityGroups, "", func(g *state.SecurityGroup) error {
		if g.VpcID == vpc && g.Name == name {
			found = g
		}
		return nil
	})
	return found, err
}

// targetGroup finds the group an operation acts on: by ID, or by name in
// the default VPC as AWS allows.
func targetGroup(tx *state.Tx, id, name *string) (*state.SecurityGroup, error) {
	switch {
	case id != nil && *id != "":
		if err := groupID.check(*id); err != nil {
			return nil, err
		}
		g, ok, err := state.Get(tx, state.SecurityGroups, *id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, groupID.missing(*id)
		}
		return g, nil
	case name != nil && *name != "":
		vpc, err := defaultVPC(tx)
		if err != nil {
			return nil, err
		}
		var g *state.SecurityGroup
		if vpc != "" {
			if g, err = groupByName(tx, vpc, *name); err != nil {
				return nil, err
			}
		}
		if g == nil {
			if vpc == "" {
				vpc = "none"
			}
			return nil, awserr.New("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", *name, vpc)
		}
		return g, nil
	}
	return nil, awserr.New("MissingParameter", "The request must contain the parameter groupName or groupId")
}

// validateGroupText checks a group name or description.
func validateGroupText(param, v string) error {
	if v == "" {
		return awserr.New("MissingParameter", "The request must contain the parameter %s", param)
	}
	if utf8.RuneCountInString(v) > 255 {
		return awserr.New("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Length exceeds maximum of 255.", v, param)
	}
	if !sgText.MatchString(v) {
		return awserr.New("InvalidParameterValue", "Value (%s) for parameter %s is invalid. Character sets beyond ASCII are not supported.", v, param)
	}
	return nil
}

// CreateSecurityGroup creates a security group in a VPC (the default VPC
// when none is named) with the default outbound rule (all traffic to
// 0.0.0.0/0). Names are unique within a VPC (InvalidGroup.Duplicate);
// "default" is reserved and names may not start with "sg-".
func (s *Service) CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput) (*ec2.CreateSecurityGroupOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	name, desc := deref(in.GroupName), deref(in.Description)
	if err := validateGroupText("groupName", name); err != nil {
		return nil, err
	}
	if err := validateGroupText("groupDescription", desc); err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.ToLower(name), "sg-") {
		return nil, awserr.New("InvalidParameterValue", "Invalid value '%s' for groupName. Group names may not be in the format sg-*.", name)
	}
	if name == "default" {
		return nil, awserr.New("InvalidGroup.Reserved", "The name 'default' is reserved, and cannot be used to create a new security group.")
	}
	tags, err := specTags(in.TagSpecifications, types.ResourceTypeSecurityGroup, types.ResourceTypeSecurityGroup)
	if err != nil {
		return nil, err
	}
	if in.VpcId != nil {
		if err := vpcID.check(*in.VpcId); err != nil {
			return nil, err
		}
	}
	g := &state.SecurityGroup{ID: newID("sg"), Name: name, Description: desc, OwnerID: s.account}
	g.Rules = []state.SGRule{defaultEgressRule(newID("sgr"))}
	err = s.update(ctx, "CreateSecurityGroup", func(tx *state.Tx) error {
		if in.VpcId == nil {
			vpc, err := defaultVPC(tx)
			if err != nil {
				return err
			}
			if vpc == "" {
				return awserr.New("VPCIdNotSpecified", "No default VPC for this user")
			}
			g.VpcID = vpc
		} else {
			if _, ok, err := state.Get(tx, state.VPCs, *in.VpcId); err != nil {
				return err
			} else if !ok {
				return vpcID.missing(*in.VpcId)
			}
			g.VpcID = *in.VpcId
		}
		dup, err := groupByName(tx, g.VpcID, name)
		if err != nil {
			return err
		}
		if dup != nil {
			return awserr.New("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, g.VpcID)
		}
		if err := state.Put(tx, state.SecurityGroups, g); err != nil {
			return err
		}
		return addTags(tx, g.ID, tags)
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CreateSecurityGroupOutput{
		GroupId:          aws.String(g.ID),
		SecurityGroupArn: aws.String(groupARN(s.region, s.account, g.ID)),
		Tags:             tags,
	}, nil
}

// groupInUse reports what keeps a group from being deleted: a load
// balancer, a running instance or a network interface using it, or a rule
// of another group referencing it.
func groupInUse(tx *state.Tx, id string) (string, error) {
	var by string
	err := state.ForEachPrefix(tx, state.LoadBalancers, "", func(lb *state.LoadBalancer) error {
		for _, sg := range lb.SecurityGroups {
			if sg == id && by == "" {
				by = lb.ARN
			}
		}
		return nil
	})
	if err != nil || by != "" {
		return by, err
	}
	err = state.ForEachPrefix(tx, state.Instances, "", func(in *state.Instance) error {
		if in.State == "terminated" {
			return nil
		}
		for _, sg := range in.SecurityGroups {
			if sg == id && by == "" {
				by = in.ID
			}
		}
		return nil
	})
	if err != nil || by != "" {
		return by, err
	}
	err = state.ForEachPrefix(tx, state.NetworkInterfaces, "", func(n *state.NetworkInterface) error {
		for _, sg := range n.SecurityGroups {
			if sg == id && by == "" {
				by = n.ID
			}
		}
		return nil
	})
	if err != nil || by != "" {
		return by, err
	}
	err = state.ForEachPrefix(tx, state.SecurityGroups, "", func(g *state.SecurityGroup) error {
		if g.ID == id {
			return nil
		}
		for _, r := range g.Rules {
			if r.SourceGroupID == id && by == "" {
				by = g.ID
			}
		}
		return nil
	})
	return by, err
}

// DeleteSecurityGroup deletes a security group. The VPC's default group
// cannot be deleted (CannotDelete); a group in use by a load balancer, an
// instance or a network interface, or referenced by another group's rule,
// is DependencyViolation.
func (s *Service) DeleteSecurityGroup(ctx context.Context, in *ec2.DeleteSecurityGroupInput) (*ec2.DeleteSecurityGroupOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var id string
	err := s.update(ctx, "DeleteSecurityGroup", func(tx *state.Tx) error {
		g, err := targetGroup(tx, in.GroupId, in.GroupName)
		if err != nil {
			return err
		}
		id = g.ID
		if g.Name == "default" {
			return awserr.New("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
		}
		by, err := groupInUse(tx, g.ID)
		if err != nil {
			return err
		}
		if by != "" {
			return awserr.New("DependencyViolation", "resource %s has a dependent object", g.ID)
		}
		for _, r := range g.Rules {
			if err := dropTags(tx, r.ID); err != nil {
				return err
			}
		}
		if err := dropTags(tx, g.ID); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.SecurityGroups, g.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DeleteSecurityGroupOutput{Return: aws.Bool(true), GroupId: aws.String(id)}, nil
}

// DescribeSecurityGroups lists security groups by ID, by name (default
// VPC) and filters (group-id, group-name, vpc-id, description, owner-id,
// ip-permission.*, egress.ip-permission.*, tag:KEY, …), paginated with
// MaxResults 5–1000. Rules are grouped into IpPermissions by protocol and
// port range.
func (s *Service) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput) (*ec2.DescribeSecurityGroupsOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.SecurityGroup]{
		op: "DescribeSecurityGroups", dryRun: in.DryRun, kind: &groupID, ids: in.GroupIds, filters: groupFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.SecurityGroup)) error {
			var recs []*state.SecurityGroup
			if len(in.GroupIds) > 0 || len(in.GroupNames) > 0 {
				if len(in.GroupIds) > 0 {
					byID, err := byIDs(tx, state.SecurityGroups, groupID, in.GroupIds)
					if err != nil {
						return err
					}
					recs = append(recs, byID...)
				}
				for _, n := range dedupe(in.GroupNames) {
					n := n
					g, err := targetGroup(tx, nil, &n)
					if err != nil {
						return err
					}
					recs = append(recs, g)
				}
			} else {
				var err error
				if recs, err = state.List(tx, state.SecurityGroups); err != nil {
					return err
				}
			}
			return renderEach(recs, func(g *state.SecurityGroup) string { return g.ID },
				func(g *state.SecurityGroup) (types.SecurityGroup, error) { return s.renderGroup(tx, g) }, emit)
		},
		provision: func(tx *state.Tx, req *autoprovision.Request) error {
			vpc := filterValue(in.Filters, "vpc-id")
			for _, id := range dedupe(in.GroupIds) {
				if _, _, err := s.prov.SecurityGroup(tx, req, Ref{ID: id, Parameter: "GroupIds"}, vpc); err != nil {
					return err
				}
			}
			return nil
		},
		key: func(v types.SecurityGroup) string { return *v.GroupId }, limits: pageLimits{min: 5, max: 1000}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: page, NextToken: next}, nil
}

var ruleFilters = filterSpec[types.SecurityGroupRule]{
	attrs: map[string]attr[types.SecurityGroupRule]{
		"group-id":               func(r *types.SecurityGroupRule) []string { return str(r.GroupId) },
		"security-group-rule-id": func(r *types.SecurityGroupRule) []string { return str(r.SecurityGroupRuleId) },
	},
	tags: func(r *types.SecurityGroupRule) []types.Tag { return r.Tags },
}

// DescribeSecurityGroupRules lists security group rules by ID and filters
// (group-id, security-group-rule-id, tag:KEY, …), paginated with
// MaxResults 5–1000.
func (s *Service) DescribeSecurityGroupRules(ctx context.Context, in *ec2.DescribeSecurityGroupRulesInput) (*ec2.DescribeSecurityGroupRulesOutput, error) {
	want := map[string]bool{}
	for _, id := range in.SecurityGroupRuleIds {
		want[id] = true
	}
	page, next, err := describe(ctx, s, describeReq[types.SecurityGroupRule]{
		op: "DescribeSecurityGroupRules", dryRun: in.DryRun, kind: &ruleID, ids: in.SecurityGroupRuleIds, filters: ruleFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.SecurityGroupRule)) error {
			found := map[string]bool{}
			err := state.ForEachPrefix(tx, state.SecurityGroups, "", func(g *state.SecurityGroup) error {
				for _, r := range g.Rules {
					if len(want) > 0 && !want[r.ID] {
						continue
					}
					found[r.ID] = true
					tags, err := tagsOf(tx, r.ID)
					if err != nil {
						return err
					}
					emit(s.sdkRule(g, r, tags))
				}
				return nil
			})
			if err != nil {
				return err
			}
			var missing []string
			for _, id := range dedupe(in.SecurityGroupRuleIds) {
				if !found[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return ruleID.missing(missing...)
			}
			return nil
		},
		key: func(v types.SecurityGroupRule) string { return *v.SecurityGroupRuleId }, limits: pageLimits{min: 5, max: 1000}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeSecurityGroupRulesOutput{SecurityGroupRules: page, NextToken: next}, nil
}

// ruleChange is an authorize or revoke request in either direction.
type ruleChange struct {
	action     string
	egress     bool
	groupID    *string
	groupName  *string
	perms      []types.IpPermission
	ruleIDs    []string
	tagSpecs   []types.TagSpecification
	cidr       *string
	protocol   *string
	fromPort   *int32
	toPort     *int32
	sourceName *string
}

// permissionsOf returns the request's IP permissions, building them from
// the older single-rule parameters when IpPermissions is empty.
func (c *ruleChange) permissionsOf() ([]types.IpPermission, error) {
	legacy := c.cidr != nil || c.protocol != nil || c.fromPort != nil || c.toPort != nil || c.sourceName != nil
	if len(c.perms) > 0 {
		if legacy {
			return nil, awserr.New("InvalidParameterCombination", "The parameter IpPermissions cannot be used with CidrIp, IpProtocol, FromPort, ToPort or SourceSecurityGroupName")
		}
		return c.perms, nil
	}
	if !legacy {
		return nil, nil
	}
	if c.sourceName != nil {
		if c.cidr != nil {
			return nil, awserr.New("InvalidParameterCombination", "The parameter sourceSecurityGroupName cannot be used with the parameter cidrIp")
		}
		// The rule grants full ICMP, UDP and TCP access from the group.
		pair := []types.UserIdGroupPair{{GroupName: c.sourceName}}
		return []types.IpPermission{
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535), UserIdGroupPairs: pair},
			{IpProtocol: aws.String("udp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535), UserIdGroupPairs: pair},
			{IpProtocol: aws.String("icmp"), FromPort: aws.Int32(-1), ToPort: aws.Int32(-1), UserIdGroupPairs: pair},
		}, nil
	}
	p := types.IpPermission{IpProtocol: c.protocol, FromPort: c.fromPort, ToPort: c.toPort}
	if c.cidr != nil {
		p.IpRanges = []types.IpRange{{CidrIp: c.cidr}}
	}
	return []types.IpPermission{p}, nil
}

// resolver returns how the rules of a group in vpc name other groups;
// mustExist is false for revocations, which may name a deleted group.
func resolver(tx *state.Tx, vpc string, mustExist bool) groupResolver {
	return func(id, name string) (string, error) {
		if id == "" {
			if name == "" {
				return "", awserr.New("MissingParameter", "A security group reference must contain GroupId or GroupName")
			}
			g, err := groupByName(tx, vpc, name)
			if err != nil {
				return "", err
			}
			if g == nil {
				return "", awserr.New("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", name, vpc)
			}
			return g.ID, nil
		}
		if err := groupID.check(id); err != nil {
			return "", err
		}
		if !mustExist {
			return id, nil
		}
		g, ok, err := state.Get(tx, state.SecurityGroups, id)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", groupID.missing(id)
		}
		if g.VpcID != vpc {
			return "", awserr.New("InvalidParameterValue", "You have specified two resources that belong to different networks.")
		}
		return id, nil
	}
}

func (s *Service) authorize(ctx context.Context, c *ruleChange) ([]types.SecurityGroupRule, error) {
	perms, err := c.permissionsOf()
	if err != nil {
		return nil, err
	}
	if len(perms) == 0 {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter ipPermissions")
	}
	tags, err := specTags(c.tagSpecs, types.ResourceTypeSecurityGroupRule, types.ResourceTypeSecurityGroupRule)
	if err != nil {
		return nil, err
	}
	var out []types.SecurityGroupRule
	err = s.update(ctx, c.action, func(tx *state.Tx) error {
		g, err := targetGroup(tx, c.groupID, c.groupName)
		if err != nil {
			return err
		}
		rules, err := rulesFromPermissions(perms, c.egress, resolver(tx, g.VpcID, true))
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, r := range g.Rules {
			have[ruleKey(r)] = true
		}
		inRequest := map[string]bool{}
		for i := range rules {
			k := ruleKey(rules[i])
			if inRequest[k] {
				return awserr.New("InvalidParameterValue", "The same permission must not appear multiple times")
			}
			inRequest[k] = true
			if have[k] {
				return awserr.New("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", ruleString(rules[i]))
			}
			rules[i].ID = newID("sgr")
		}
		g.Rules = append(g.Rules, rules...)
		if v4, v6 := countRules(g.Rules, c.egress); v4 > maxRulesPerGroup || v6 > maxRulesPerGroup {
			return awserr.New("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
		}
		if err := state.Put(tx, state.SecurityGroups, g); err != nil {
			return err
		}
		for _, r := range rules {
			if err := addTags(tx, r.ID, tags); err != nil {
				return err
			}
			out = append(out, s.sdkRule(g, r, tags))
		}
		return nil
	})
	return out, err
}

func (s *Service) revoke(ctx context.Context, c *ruleChange) ([]types.RevokedSecurityGroupRule, []types.IpPermission, error) {
	perms, err := c.permissionsOf()
	if err != nil {
		return nil, nil, err
	}
	if len(perms) > 0 && len(c.ruleIDs) > 0 {
		return nil, nil, awserr.New("InvalidParameterCombination", "The parameter SecurityGroupRuleIds cannot be used with IpPermissions")
	}
	if len(perms) == 0 && len(c.ruleIDs) == 0 {
		return nil, nil, awserr.New("MissingParameter", "The request must contain the parameter ipPermissions or securityGroupRuleIds")
	}
	if err := ruleID.checkAll(c.ruleIDs); err != nil {
		return nil, nil, err
	}
	var revoked []types.RevokedSecurityGroupRule
	var unknown []types.IpPermission
	err = s.update(ctx, c.action, func(tx *state.Tx) error {
		g, err := targetGroup(tx, c.groupID, c.groupName)
		if err != nil {
			return err
		}
		remove := map[string]bool{}
		if len(c.ruleIDs) > 0 {
			byID := map[string]state.SGRule{}
			for _, r := range g.Rules {
				byID[r.ID] = r
			}
			var missing []string
			for _, id := range dedupe(c.ruleIDs) {
				r, ok := byID[id]
				if !ok || r.Egress != c.egress {
					missing = append(missing, id)
					continue
				}
				remove[id] = true
			}
			if len(missing) > 0 {
				return ruleID.missing(missing...)
			}
		} else {
			rules, err := rulesFromPermissions(perms, c.egress, resolver(tx, g.VpcID, false))
			if err != nil {
				return err
			}
			byKey := map[string]string{}
			for _, r := range g.Rules {
				byKey[ruleKey(r)] = r.ID
			}
			vpc, _, err := state.Get(tx, state.VPCs, g.VpcID)
			if err != nil {
				return err
			}
			for _, r := range rules {
				id, ok := byKey[ruleKey(r)]
				if ok {
					remove[id] = true
					continue
				}
				if vpc == nil || !vpc.IsDefault {
					// A nondefault VPC answers an unknown rule with an
					// error and revokes nothing.
					return awserr.New("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
				}
				unknown = append(unknown, permissions([]state.SGRule{r}, c.egress, s.account)...)
			}
		}
		kept := g.Rules[:0:0]
		for _, r := range g.Rules {
			if !remove[r.ID] {
				kept = append(kept, r)
				continue
			}
			if err := dropTags(tx, r.ID); err != nil {
				return err
			}
			rv := types.RevokedSecurityGroupRule{
				SecurityGroupRuleId: aws.String(r.ID),
				GroupId:             aws.String(g.ID),
				IsEgress:            aws.Bool(r.Egress),
				IpProtocol:          aws.String(r.Protocol),
				FromPort:            aws.Int32(r.FromPort),
				ToPort:              aws.Int32(r.ToPort),
				CidrIpv4:            optional(r.CIDRIPv4),
				CidrIpv6:            optional(r.CIDRIPv6),
				PrefixListId:        optional(r.PrefixListID),
				ReferencedGroupId:   optional(r.SourceGroupID),
				Description:         optional(r.Description),
			}
			revoked = append(revoked, rv)
		}
		g.Rules = kept
		return state.Put(tx, state.SecurityGroups, g)
	})
	return revoked, unknown, err
}

// AuthorizeSecurityGroupIngress adds inbound rules, one per source, with
// IDs sgr-…. A rule that exists is InvalidPermission.Duplicate; more than
// 60 inbound rules (IPv4 and IPv6 counted apart) is
// RulesPerSecurityGroupLimitExceeded. Nothing is added when one fails.
func (s *Service) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2.AuthorizeSecurityGroupIngressInput) (*ec2.AuthorizeSecurityGroupIngressOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	rules, err := s.authorize(ctx, &ruleChange{
		action: "AuthorizeSecurityGroupIngress", groupID: in.GroupId, groupName: in.GroupName,
		perms: in.IpPermissions, tagSpecs: in.TagSpecifications,
		cidr: in.CidrIp, protocol: in.IpProtocol, fromPort: in.FromPort, toPort: in.ToPort, sourceName: in.SourceSecurityGroupName,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.AuthorizeSecurityGroupIngressOutput{Return: aws.Bool(true), SecurityGroupRules: rules}, nil
}

// RevokeSecurityGroupIngress removes inbound rules given as IpPermissions
// (matched on protocol, ports and source; descriptions are ignored) or as
// SecurityGroupRuleIds. In a nondefault VPC an unknown rule is
// InvalidPermission.NotFound and nothing is revoked; in a default VPC it
// is reported in UnknownIpPermissions.
func (s *Service) RevokeSecurityGroupIngress(ctx context.Context, in *ec2.RevokeSecurityGroupIngressInput) (*ec2.RevokeSecurityGroupIngressOutput, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	revoked, unknown, err := s.revoke(ctx, &ruleChange{
		action: "RevokeSecurityGroupIngress", groupID: in.GroupId, groupName: in.GroupName,
		perms: in.IpPermissions, ruleIDs: in.SecurityGroupRuleIds,
		cidr: in.CidrIp, protocol: in.IpProtocol, fromPort: in.FromPort, toPort: in.ToPort, sourceName: in.SourceSecurityGroupName,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.RevokeSecurityGroupIngressOutput{Return: aws.Bool(true), RevokedSecurityGroupRules: revoked, UnknownIpPermissions: unknown}, nil
}
