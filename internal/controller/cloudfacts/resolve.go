package cloudfacts

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/translate"
)

// notFoundCodes are the EC2 error codes that answer "no such resource" for
// the IDs Resolve looks up; any other error is a failure to ask.
var notFoundCodes = map[string]bool{
	"InvalidSubnetID.NotFound":      true,
	"InvalidSubnetID.Malformed":     true,
	"InvalidGroup.NotFound":         true,
	"InvalidGroupId.Malformed":      true,
	"InvalidAllocationID.NotFound":  true,
	"InvalidAllocationID.Malformed": true,
}

// Resolve looks up in EC2 the references the cached facts lack (each by
// its ID, or by its Name tag in the cluster's VPC, as the reference
// controller resolves them), adds those found to the cached facts and
// returns them; for the others it returns what EC2 answered, worded for
// the people who read the refusal. An error means EC2 could not be asked.
func (r *Reader) Resolve(ctx context.Context, refs []translate.Reference) (*facts.Facts, map[translate.Reference]string, error) {
	cur, err := r.Facts(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if len(refs) == 0 {
		return cur, nil, nil
	}
	vpcID := ""
	if len(cur.VPCs) > 0 {
		vpcID = cur.VPCs[0].ID
	}
	var (
		found  facts.Facts
		absent = map[translate.Reference]string{}
	)
	for _, ref := range refs {
		var answer string
		var err error
		switch ref.Kind {
		case translate.RefSubnet:
			answer, err = r.lookupSubnet(ctx, vpcID, ref.Name, &found)
		case translate.RefSecurityGroup:
			answer, err = r.lookupSecurityGroup(ctx, vpcID, ref.Name, &found)
		case translate.RefElasticIP:
			answer, err = r.lookupElasticIP(ctx, ref.Name, &found)
		default:
			return nil, nil, fmt.Errorf("look up %s: unknown kind of reference", ref)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("look up %s in EC2: %w", ref, err)
		}
		if answer != "" {
			absent[ref] = answer
		}
	}
	if len(found.Subnets)+len(found.SecurityGroups)+len(found.ElasticIPs) == 0 {
		return cur, absent, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		r.cur = cur
	}
	merged := merge(r.cur, &found)
	r.cur = merged
	if r.Logger != nil {
		r.Logger.Info("looked up references missing from the cached facts",
			"subnets", ids(found.Subnets, func(s facts.Subnet) string { return s.ID }),
			"securityGroups", ids(found.SecurityGroups, func(g facts.SecurityGroup) string { return g.ID }),
			"elasticIPs", ids(found.ElasticIPs, func(e facts.ElasticIP) string { return e.AllocationID }))
	}
	return merged, absent, nil
}

// merge returns a copy of cur with the resources of add it lacks.
func merge(cur, add *facts.Facts) *facts.Facts {
	out := *cur
	out.Subnets = union(cur.Subnets, add.Subnets, func(s facts.Subnet) string { return s.ID })
	out.SecurityGroups = union(cur.SecurityGroups, add.SecurityGroups, func(g facts.SecurityGroup) string { return g.ID })
	out.ElasticIPs = union(cur.ElasticIPs, add.ElasticIPs, func(e facts.ElasticIP) string { return e.AllocationID })
	return &out
}

// union returns a new slice with the elements of a, then those of b whose
// key a (or an earlier element of b) lacks, sorted by key.
func union[T any](a, b []T, key func(T) string) []T {
	out := append([]T(nil), a...)
	seen := map[string]bool{}
	for _, v := range a {
		seen[key(v)] = true
	}
	for _, v := range b {
		if !seen[key(v)] {
			seen[key(v)] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

func ids[T any](l []T, key func(T) string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		out = append(out, key(v))
	}
	return out
}

// notFound returns EC2's answer when err says the resource does not
// exist, "" and err otherwise.
func notFound(err error) (string, error) {
	var ae smithy.APIError
	if errors.As(err, &ae) && notFoundCodes[ae.ErrorCode()] {
		return ae.ErrorCode() + ": " + ae.ErrorMessage(), nil
	}
	return "", err
}

func (r *Reader) lookupSubnet(ctx context.Context, vpcID, name string, found *facts.Facts) (string, error) {
	in := &ec2.DescribeSubnetsInput{}
	asked := ""
	if strings.HasPrefix(name, "subnet-") {
		in.SubnetIds = []string{name}
		asked = "EC2 DescribeSubnets for subnet ID " + name
	} else {
		in.Filters = []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpcID}},
			{Name: aws.String("tag:Name"), Values: []string{name}},
		}
		asked = fmt.Sprintf("EC2 DescribeSubnets for Name tag %q in VPC %s", name, vpcID)
	}
	out, err := r.EC2.DescribeSubnets(ctx, in)
	if err != nil {
		answer, err := notFound(err)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("subnet %s not found in AWS (%s answered %s)", name, asked, answer), nil
	}
	if len(out.Subnets) == 0 {
		return fmt.Sprintf("subnet %s not found in AWS (%s found none)", name, asked), nil
	}
	byVPC := map[string][]ec2types.Subnet{}
	for _, s := range out.Subnets {
		byVPC[aws.ToString(s.VpcId)] = append(byVPC[aws.ToString(s.VpcId)], s)
	}
	for v, subnets := range byVPC {
		public, err := r.publicSubnets(ctx, []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{v}}})
		if err != nil {
			return "", err
		}
		for _, s := range subnets {
			found.Subnets = append(found.Subnets, toSubnet(s, public))
		}
	}
	return "", nil
}

func (r *Reader) lookupSecurityGroup(ctx context.Context, vpcID, name string, found *facts.Facts) (string, error) {
	var asks []*ec2.DescribeSecurityGroupsInput
	var asked []string
	if strings.HasPrefix(name, "sg-") {
		asks = append(asks, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{name}})
		asked = append(asked, "EC2 DescribeSecurityGroups for group ID "+name)
	} else {
		// The reference matches the Name tag; translation also takes the
		// group's own name.
		for _, filter := range []string{"tag:Name", "group-name"} {
			asks = append(asks, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
				{Name: aws.String("vpc-id"), Values: []string{vpcID}},
				{Name: aws.String(filter), Values: []string{name}},
			}})
			asked = append(asked, fmt.Sprintf("EC2 DescribeSecurityGroups for %s %q in VPC %s", filter, name, vpcID))
		}
	}
	var answers []string
	for i, in := range asks {
		out, err := r.EC2.DescribeSecurityGroups(ctx, in)
		if err != nil {
			answer, err := notFound(err)
			if err != nil {
				return "", err
			}
			answers = append(answers, asked[i]+" answered "+answer)
			continue
		}
		if len(out.SecurityGroups) == 0 {
			answers = append(answers, asked[i]+" found none")
			continue
		}
		for _, g := range out.SecurityGroups {
			found.SecurityGroups = append(found.SecurityGroups, toSecurityGroup(g))
		}
		return "", nil
	}
	return fmt.Sprintf("security group %s not found in AWS (%s)", name, strings.Join(answers, "; ")), nil
}

func (r *Reader) lookupElasticIP(ctx context.Context, id string, found *facts.Facts) (string, error) {
	asked := "EC2 DescribeAddresses for allocation ID " + id
	out, err := r.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{id}})
	if err != nil {
		answer, err := notFound(err)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Elastic IP allocation %s not found in AWS (%s answered %s)", id, asked, answer), nil
	}
	n := 0
	for _, a := range out.Addresses {
		if a.AllocationId != nil {
			found.ElasticIPs = append(found.ElasticIPs, facts.ElasticIP{AllocationID: *a.AllocationId, Tags: tagMap(a.Tags)})
			n++
		}
	}
	if n == 0 {
		return fmt.Sprintf("Elastic IP allocation %s not found in AWS (%s found none)", id, asked), nil
	}
	return "", nil
}
