package deploy

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// securityGroups creates or updates the stack's managed security groups and
// dooms the owned ones it no longer has.
func (r *run) securityGroups(ctx context.Context) error {
	want := map[string]bool{}
	for _, id := range sortedKeys(r.s.SecurityGroups) {
		sg := r.s.SecurityGroups[id]
		want[id] = true
		if err := r.securityGroup(ctx, sg); err != nil {
			return fmt.Errorf("security group %s (%s): %w", id, sg.Spec.GroupName, err)
		}
	}
	for id, g := range r.sgs {
		if !want[id] {
			r.doomedSGs = append(r.doomedSGs, aws.ToString(g.GroupId))
		}
	}
	return nil
}

func (r *run) securityGroup(ctx context.Context, sg *stack.SecurityGroup) error {
	tags := r.desiredTags(sg, sg.Spec.Tags)
	cur, ok := r.sgs[sg.ResID]
	var gid string
	var have map[string]ec2types.IpPermission
	if !ok {
		vpc, err := r.vpcID(ctx)
		if err != nil {
			return err
		}
		out, err := r.d.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:   aws.String(sg.Spec.GroupName),
			Description: aws.String(sg.Spec.Description),
			VpcId:       aws.String(vpc),
			TagSpecifications: []ec2types.TagSpecification{{
				ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: ec2TagList(tags),
			}},
		})
		if err != nil {
			return r.fail(fmt.Errorf("CreateSecurityGroup: %w", err))
		}
		gid = aws.ToString(out.GroupId)
		r.d.note(r.s, "sg", gid, true)
		r.changed("SecurityGroup", "created", "id", gid, "name", sg.Spec.GroupName)
		have = map[string]ec2types.IpPermission{}
	} else {
		gid = aws.ToString(cur.GroupId)
		have = atoms(cur.IpPermissions)
		if err := r.syncEC2Tags(ctx, gid, tags); err != nil {
			return err
		}
	}
	sg.Status = &stack.SecurityGroupStatus{GroupID: gid}

	want := map[string]ec2types.IpPermission{}
	for _, p := range sg.Spec.Ingress {
		for k, v := range atoms([]ec2types.IpPermission{sdkPermission(p)}) {
			want[k] = v
		}
	}
	var add, revoke []ec2types.IpPermission
	for _, k := range sortedKeys(want) {
		if _, ok := have[k]; !ok {
			add = append(add, want[k])
		}
	}
	for _, k := range sortedKeys(have) {
		if _, ok := want[k]; !ok {
			revoke = append(revoke, have[k])
		}
	}
	if len(add) > 0 {
		if _, err := r.d.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid), IpPermissions: add}); err != nil && !isCode(err, "InvalidPermission.Duplicate") {
			return r.fail(fmt.Errorf("AuthorizeSecurityGroupIngress: %w", err))
		}
	}
	if len(revoke) > 0 {
		if _, err := r.d.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(gid), IpPermissions: revoke}); err != nil && !isCode(err, "InvalidPermission.NotFound") {
			return r.fail(fmt.Errorf("RevokeSecurityGroupIngress: %w", err))
		}
	}
	if ok && len(add)+len(revoke) > 0 {
		r.changed("SecurityGroup", "changed", "id", gid, "authorized", len(add), "revoked", len(revoke))
	}
	return nil
}

func sdkPermission(p stack.IPPermission) ec2types.IpPermission {
	out := ec2types.IpPermission{IpProtocol: aws.String(p.IPProtocol), FromPort: p.FromPort, ToPort: p.ToPort}
	for _, v := range p.IPRanges {
		out.IpRanges = append(out.IpRanges, ec2types.IpRange{CidrIp: aws.String(v.CIDRIP), Description: optString(v.Description)})
	}
	for _, v := range p.IPv6Ranges {
		out.Ipv6Ranges = append(out.Ipv6Ranges, ec2types.Ipv6Range{CidrIpv6: aws.String(v.CIDRIPv6), Description: optString(v.Description)})
	}
	for _, v := range p.UserIDGroupPairs {
		out.UserIdGroupPairs = append(out.UserIdGroupPairs, ec2types.UserIdGroupPair{GroupId: aws.String(v.GroupID), Description: optString(v.Description)})
	}
	for _, v := range p.PrefixLists {
		out.PrefixListIds = append(out.PrefixListIds, ec2types.PrefixListId{PrefixListId: aws.String(v.ListID), Description: optString(v.Description)})
	}
	return out
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// atoms splits permissions into one permission per source, keyed by
// protocol, ports and source (descriptions do not make a rule different).
func atoms(perms []ec2types.IpPermission) map[string]ec2types.IpPermission {
	out := map[string]ec2types.IpPermission{}
	for _, p := range perms {
		proto := aws.ToString(p.IpProtocol)
		from, to := int32(-1), int32(-1)
		if proto != "-1" && proto != "all" {
			from, to = aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
		} else {
			proto = "-1"
		}
		base := func() ec2types.IpPermission {
			q := ec2types.IpPermission{IpProtocol: aws.String(proto)}
			if proto != "-1" {
				q.FromPort, q.ToPort = aws.Int32(from), aws.Int32(to)
			}
			return q
		}
		key := proto + "|" + strconv.Itoa(int(from)) + "|" + strconv.Itoa(int(to)) + "|"
		for _, v := range p.IpRanges {
			q := base()
			q.IpRanges = []ec2types.IpRange{v}
			out[key+"cidr|"+aws.ToString(v.CidrIp)] = q
		}
		for _, v := range p.Ipv6Ranges {
			q := base()
			q.Ipv6Ranges = []ec2types.Ipv6Range{v}
			out[key+"cidr6|"+aws.ToString(v.CidrIpv6)] = q
		}
		for _, v := range p.UserIdGroupPairs {
			q := base()
			q.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: v.GroupId, Description: v.Description}}
			out[key+"sg|"+aws.ToString(v.GroupId)] = q
		}
		for _, v := range p.PrefixListIds {
			q := base()
			q.PrefixListIds = []ec2types.PrefixListId{v}
			out[key+"pl|"+aws.ToString(v.PrefixListId)] = q
		}
	}
	return out
}

// vpcID is the VPC of the stack's target groups and security groups: the
// configured one, or that of the load balancer's first subnet.
func (r *run) vpcID(ctx context.Context) (string, error) {
	if r.d.cfg.VPCID != "" {
		return r.d.cfg.VPCID, nil
	}
	var subnet string
	for _, id := range sortedKeys(r.s.LoadBalancers) {
		if m := r.s.LoadBalancers[id].Spec.SubnetMappings; len(m) > 0 {
			subnet = m[0].SubnetID
		}
	}
	if subnet == "" {
		for _, lb := range r.lbs {
			return aws.ToString(lb.VpcId), nil
		}
		return "", fmt.Errorf("no VPC: the stack has no subnet to take it from; set the VPC ID (--aws-vpc-id)")
	}
	r.d.mu.Lock()
	vpc, ok := r.d.vpcCache[subnet]
	r.d.mu.Unlock()
	if ok {
		return vpc, nil
	}
	out, err := r.d.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	if err != nil {
		return "", r.fail(fmt.Errorf("DescribeSubnets %s (to learn the VPC): %w", subnet, err))
	}
	if len(out.Subnets) == 0 {
		return "", fmt.Errorf("subnet %s not found (to learn the VPC)", subnet)
	}
	vpc = aws.ToString(out.Subnets[0].VpcId)
	r.d.mu.Lock()
	r.d.vpcCache[subnet] = vpc
	r.d.mu.Unlock()
	return vpc, nil
}
