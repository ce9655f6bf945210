package cloudfacts

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elbec2 "github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/translate"
)

// TestResolve: references created through the EC2 API after the facts were
// read are found by Resolve and join the cached facts; references EC2 does
// not have come back with what EC2 answered.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	st := svctest.OpenStore(t)
	f := facts.Default(facts.DefaultRegion, "demo")
	if err := elbec2.Bootstrap(ctx, st, f); err != nil {
		t.Fatal(err)
	}
	e := svctest.ServeStore(t, st, elbec2.New(elbec2.Config{Store: st}).API())
	client := ec2.NewFromConfig(e.Config)
	r := &Reader{EC2: client, Region: facts.DefaultRegion, ClusterName: "demo"}
	before, err := r.Facts(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	vpc := before.VPCs[0].ID

	sg, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("web-lb"), Description: aws.String("web"), VpcId: aws.String(vpc),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	named, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("by-group-name"), Description: aws.String("x"), VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	eip, err := client.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	// The cache does not have them yet.
	if again, _ := r.Facts(ctx, false); again != before {
		t.Fatal("facts were read again within the refresh interval")
	}

	refs := []translate.Reference{
		{Kind: translate.RefSecurityGroup, Name: aws.ToString(sg.GroupId)},
		{Kind: translate.RefSecurityGroup, Name: "web"},
		{Kind: translate.RefSecurityGroup, Name: "by-group-name"},
		{Kind: translate.RefElasticIP, Name: aws.ToString(eip.AllocationId)},
		{Kind: translate.RefSubnet, Name: "subnet-0123456789abcdef0"},
		{Kind: translate.RefSubnet, Name: "no-such-name"},
		{Kind: translate.RefSecurityGroup, Name: "sg-0123456789abcdef0"},
		{Kind: translate.RefSecurityGroup, Name: "no-such-group"},
		{Kind: translate.RefElasticIP, Name: "eipalloc-0123456789abcdef0"},
	}
	got, absent, err := r.Resolve(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	wantAbsent := map[translate.Reference][]string{
		refs[4]: {"subnet subnet-0123456789abcdef0 not found in AWS (EC2 DescribeSubnets with filters subnet-id=subnet-0123456789abcdef0 answered no subnet with that ID)"},
		refs[5]: {"subnet no-such-name not found in AWS", "vpc-id=" + vpc, "tag:Name=no-such-name", "no subnet with that Name tag"},
		refs[6]: {"security group sg-0123456789abcdef0 not found in AWS", "DescribeSecurityGroups with filters group-id=", "no security group with that ID"},
		refs[7]: {"security group no-such-group not found in AWS", "tag:Name=", "group-name=", "no security group with that Name tag", "no security group with that group name"},
		refs[8]: {"Elastic IP allocation eipalloc-0123456789abcdef0 not found in AWS", "DescribeAddresses with filters allocation-id=", "no Elastic IP allocation with that allocation ID"},
	}
	if len(absent) != len(wantAbsent) {
		t.Errorf("absent %v, want %d entries", absent, len(wantAbsent))
	}
	for ref, parts := range wantAbsent {
		for _, p := range parts {
			if !strings.Contains(absent[ref], p) {
				t.Errorf("%s: answer %q lacks %q", ref, absent[ref], p)
			}
		}
	}
	var groups []string
	for _, g := range got.SecurityGroups {
		groups = append(groups, g.ID)
	}
	for _, want := range []string{aws.ToString(sg.GroupId), aws.ToString(named.GroupId)} {
		if !strings.Contains(strings.Join(groups, ","), want) {
			t.Errorf("security group %s not in the resolved facts %v", want, groups)
		}
	}
	if len(got.SecurityGroups) != len(before.SecurityGroups)+2 {
		t.Errorf("security groups %v: want the %d cached plus 2 found (once each)", groups, len(before.SecurityGroups))
	}
	if len(got.ElasticIPs) != 1 || got.ElasticIPs[0].AllocationID != aws.ToString(eip.AllocationId) {
		t.Errorf("Elastic IPs %+v", got.ElasticIPs)
	}
	// The cache has them now, and translation takes them.
	cached, err := r.Facts(ctx, false)
	if err != nil || cached != got {
		t.Fatalf("cached facts are not the resolved ones: %v", err)
	}
	o := translate.DefaultOptions()
	o.ClusterName = "demo"
	c, err := translate.NewCloud(cached, &o)
	if err != nil {
		t.Fatal(err)
	}
	tr := &translate.Trace{}
	if ids, err := c.SecurityGroupsByNameOrID([]string{"web", aws.ToString(sg.GroupId)}, translate.Source{Field: "x"}, tr); err != nil || len(ids) != 2 {
		t.Errorf("security groups after resolve: %v %v", ids, err)
	}
	if err := c.CheckElasticIPs([]string{aws.ToString(eip.AllocationId)}, translate.Source{Field: "x"}, tr); err != nil {
		t.Errorf("Elastic IP after resolve: %v", err)
	}
	if len(c.Missing()) != 0 {
		t.Errorf("still missing: %v", c.Missing())
	}
}

// TestResolveDoesNotProvision: lookups use filters, which a local ELB that
// auto-provisions references (elbow dev's) answers as AWS does, without
// creating what they name; elbow dev's translation assumes those and the
// local ELB creates them where the load balancer needs them.
func TestResolveDoesNotProvision(t *testing.T) {
	ctx := context.Background()
	st := svctest.OpenStore(t)
	if err := elbec2.Bootstrap(ctx, st, facts.Default(facts.DefaultRegion, "demo")); err != nil {
		t.Fatal(err)
	}
	e := svctest.ServeStore(t, st, elbec2.New(elbec2.Config{Store: st, AutoProvisionReferences: true}).API())
	client := ec2.NewFromConfig(e.Config)
	r := &Reader{EC2: client, Region: facts.DefaultRegion, ClusterName: "demo"}
	refs := []translate.Reference{{Kind: translate.RefSubnet, Name: "subnet-0123456789abcdef0"}, {Kind: translate.RefSecurityGroup, Name: "sg-0123456789abcdef0"}}
	_, absent, err := r.Resolve(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(absent) != 2 {
		t.Fatalf("absent %v, want both", absent)
	}
	out, err := client.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: []string{"subnet-0123456789abcdef0"}}}})
	if err != nil || len(out.Subnets) != 0 {
		t.Fatalf("the lookup created the subnet: %+v, %v", out, err)
	}
}
