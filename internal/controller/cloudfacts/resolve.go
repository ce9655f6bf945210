package cloudfacts

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/translate"
)

// Resolve looks up in EC2 the references the cached facts lack, adds
// those found to the cached facts and returns them; for the others it
// returns what was asked and what EC2 answered, worded for the people who
// read the refusal. An error means EC2 could not be asked.
//
// Subnets and security groups are looked up by ID in any VPC, by name
// (the Name tag, and a security group's own name) in the cluster's, as the
// reference controller resolves them; Elastic IPs by allocation ID. Each
// kind takes one call a filter (subnet-id, group-id, allocation-id,
// tag:Name, group-name) with every missing value, so that the calls do not
// grow with the references and a reference that does not exist is an
// empty answer rather than an error that hides the others.
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
	byKind := map[translate.RefKind][]string{}
	for _, ref := range refs {
		byKind[ref.Kind] = append(byKind[ref.Kind], ref.Name)
	}
	var found facts.Facts
	answers := map[translate.Reference][]string{}
	for kind, names := range byKind {
		var err error
		switch kind {
		case translate.RefSubnet:
			err = r.lookupSubnets(ctx, vpcID, names, &found, answers)
		case translate.RefSecurityGroup:
			err = r.lookupSecurityGroups(ctx, vpcID, names, &found, answers)
		case translate.RefElasticIP:
			err = r.lookupElasticIPs(ctx, names, &found, answers)
		default:
			err = fmt.Errorf("unknown kind of reference %q", kind)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("look up %ss %s in EC2: %w", kind, strings.Join(names, ", "), err)
		}
	}
	absent := map[translate.Reference]string{}
	for ref, said := range answers {
		absent[ref] = fmt.Sprintf("%s %s not found in AWS (%s)", ref.Kind, ref.Name, strings.Join(said, "; "))
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

// split separates IDs (with the kind's prefix) from names.
func split(names []string, prefix string) (idList, nameList []string) {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			idList = append(idList, n)
		} else {
			nameList = append(nameList, n)
		}
	}
	return idList, nameList
}

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

// asked renders a lookup for messages: "EC2 DescribeSubnets with filters
// vpc-id=vpc-1, tag:Name=a|b".
func asked(op string, filters []ec2types.Filter) string {
	var fs []string
	for _, f := range filters {
		fs = append(fs, aws.ToString(f.Name)+"="+strings.Join(f.Values, "|"))
	}
	return "EC2 " + op + " with filters " + strings.Join(fs, ", ")
}

// notFound records, for each wanted value without a hit, what was asked
// and that the answer held none; it returns those values.
func notFound(kind translate.RefKind, want []string, hit map[string]bool, what, key string, answers map[translate.Reference][]string) []string {
	var missing []string
	for _, w := range want {
		if !hit[w] {
			ref := translate.Reference{Kind: kind, Name: w}
			answers[ref] = append(answers[ref], fmt.Sprintf("%s answered no %s with that %s", what, kind, key))
			missing = append(missing, w)
		}
	}
	return missing
}

func (r *Reader) lookupSubnets(ctx context.Context, vpcID string, names []string, found *facts.Facts, answers map[translate.Reference][]string) error {
	idList, nameList := split(names, "subnet-")
	type ask struct {
		filters []ec2types.Filter
		want    []string
		key     string
		of      func(ec2types.Subnet) []string
	}
	var asks []ask
	if len(idList) > 0 {
		asks = append(asks, ask{[]ec2types.Filter{filter("subnet-id", idList...)}, idList, "ID",
			func(s ec2types.Subnet) []string { return []string{aws.ToString(s.SubnetId)} }})
	}
	if len(nameList) > 0 {
		asks = append(asks, ask{[]ec2types.Filter{filter("vpc-id", vpcID), filter("tag:Name", nameList...)}, nameList, "Name tag",
			func(s ec2types.Subnet) []string { return []string{tagMap(s.Tags)["Name"]} }})
	}
	for _, a := range asks {
		var subnets []ec2types.Subnet
		p := ec2.NewDescribeSubnetsPaginator(r.EC2, &ec2.DescribeSubnetsInput{Filters: a.filters})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			subnets = append(subnets, page.Subnets...)
		}
		hit := map[string]bool{}
		byVPC := map[string][]ec2types.Subnet{}
		for _, s := range subnets {
			for _, k := range a.of(s) {
				hit[k] = true
			}
			byVPC[aws.ToString(s.VpcId)] = append(byVPC[aws.ToString(s.VpcId)], s)
		}
		for v, ss := range byVPC {
			public, err := r.publicSubnets(ctx, []ec2types.Filter{filter("vpc-id", v)})
			if err != nil {
				return err
			}
			for _, s := range ss {
				found.Subnets = append(found.Subnets, toSubnet(s, public))
			}
		}
		notFound(translate.RefSubnet, a.want, hit, asked("DescribeSubnets", a.filters), a.key, answers)
	}
	return nil
}

func (r *Reader) lookupSecurityGroups(ctx context.Context, vpcID string, names []string, found *facts.Facts, answers map[translate.Reference][]string) error {
	idList, nameList := split(names, "sg-")
	describe := func(filters []ec2types.Filter) ([]ec2types.SecurityGroup, error) {
		var out []ec2types.SecurityGroup
		p := ec2.NewDescribeSecurityGroupsPaginator(r.EC2, &ec2.DescribeSecurityGroupsInput{Filters: filters})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			out = append(out, page.SecurityGroups...)
		}
		return out, nil
	}
	if len(idList) > 0 {
		filters := []ec2types.Filter{filter("group-id", idList...)}
		groups, err := describe(filters)
		if err != nil {
			return err
		}
		hit := map[string]bool{}
		for _, g := range groups {
			hit[aws.ToString(g.GroupId)] = true
			found.SecurityGroups = append(found.SecurityGroups, toSecurityGroup(g))
		}
		notFound(translate.RefSecurityGroup, idList, hit, asked("DescribeSecurityGroups", filters), "ID", answers)
	}
	// By name: the Name tag (the reference's lookup), then the group's own
	// name for those still missing.
	for _, by := range []struct{ filter, key string }{{"tag:Name", "Name tag"}, {"group-name", "group name"}} {
		if len(nameList) == 0 {
			break
		}
		filters := []ec2types.Filter{filter("vpc-id", vpcID), filter(by.filter, nameList...)}
		groups, err := describe(filters)
		if err != nil {
			return err
		}
		hit := map[string]bool{}
		for _, g := range groups {
			key := tagMap(g.Tags)["Name"]
			if by.filter == "group-name" {
				key = aws.ToString(g.GroupName)
			}
			hit[key] = true
			found.SecurityGroups = append(found.SecurityGroups, toSecurityGroup(g))
		}
		nameList = notFound(translate.RefSecurityGroup, nameList, hit, asked("DescribeSecurityGroups", filters), by.key, answers)
	}
	// A name found by its group name after its Name tag missed is found.
	for ref := range answers {
		if ref.Kind == translate.RefSecurityGroup && !strings.HasPrefix(ref.Name, "sg-") && !slices.Contains(nameList, ref.Name) {
			delete(answers, ref)
		}
	}
	return nil
}

func (r *Reader) lookupElasticIPs(ctx context.Context, allocs []string, found *facts.Facts, answers map[translate.Reference][]string) error {
	filters := []ec2types.Filter{filter("allocation-id", allocs...)}
	out, err := r.EC2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: filters})
	if err != nil {
		return err
	}
	hit := map[string]bool{}
	for _, a := range out.Addresses {
		if a.AllocationId != nil {
			hit[*a.AllocationId] = true
			found.ElasticIPs = append(found.ElasticIPs, facts.ElasticIP{AllocationID: *a.AllocationId, Tags: tagMap(a.Tags)})
		}
	}
	notFound(translate.RefElasticIP, allocs, hit, asked("DescribeAddresses", filters), "allocation ID", answers)
	return nil
}
