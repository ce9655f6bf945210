package ec2_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// env is an EC2 endpoint over the real wire on a bootstrapped state.
type env struct {
	*svctest.Env
	c     *sdk.Client
	facts *facts.Facts
}

func start(t *testing.T) *env {
	t.Helper()
	st := svctest.OpenStore(t)
	f := svctest.Bootstrap(t, st, ec2.Bootstrap, "demo")
	e := svctest.ServeStore(t, st, ec2.New(ec2.Config{Store: st}).API())
	return &env{Env: e, c: sdk.NewFromConfig(e.Config), facts: f}
}

var ctx = context.Background()

// apiErr asserts err is an AWS error with code and, when msg is not
// empty, that exact message.
func apiErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Fatalf("got %s: %q, want %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func (e *env) subnet(public bool, zone string) facts.Subnet {
	for _, s := range e.facts.Subnets {
		if s.Public == public && strings.HasSuffix(s.AvailabilityZone, zone) {
			return s
		}
	}
	panic("no such subnet")
}

func (e *env) defaultGroup() string {
	for _, g := range e.facts.SecurityGroups {
		if g.Name == "default" {
			return g.ID
		}
	}
	panic("no default group")
}

func TestBootstrapLocalCloud(t *testing.T) {
	e := start(t)
	vpc := e.facts.VPCs[0].ID

	vpcs, err := e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].VpcId) != vpc || aws.ToString(vpcs.Vpcs[0].CidrBlock) != "10.0.0.0/16" ||
		vpcs.Vpcs[0].State != types.VpcStateAvailable || tagMap(vpcs.Vpcs[0].Tags)["Name"] != "elbow" {
		t.Fatalf("DescribeVpcs = %+v", vpcs.Vpcs)
	}

	// Subnet discovery as the AWS Load Balancer Controller does it.
	public, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: []types.Filter{
		filter("vpc-id", vpc), filter("tag:kubernetes.io/role/elb", "", "1"), filter("tag:kubernetes.io/cluster/demo", "owned", "shared"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(public.Subnets) != 3 {
		t.Fatalf("public subnets = %d, want 3", len(public.Subnets))
	}
	for _, s := range public.Subnets {
		if !aws.ToBool(s.MapPublicIpOnLaunch) || aws.ToString(s.AvailabilityZoneId) != facts.ZoneID(aws.ToString(s.AvailabilityZone)) ||
			aws.ToInt32(s.AvailableIpAddressCount) != 4096-5 || !strings.HasPrefix(aws.ToString(s.SubnetArn), "arn:aws:ec2:us-east-1:000000000000:subnet/subnet-") {
			t.Errorf("public subnet %+v", s)
		}
	}

	rts, err := e.c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: []types.Filter{filter("vpc-id", vpc)}})
	if err != nil {
		t.Fatal(err)
	}
	igws, err := e.c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{Filters: []types.Filter{filter("attachment.vpc-id", vpc)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(igws.InternetGateways) != 1 || igws.InternetGateways[0].Attachments[0].State != "available" {
		t.Fatalf("internet gateways = %+v", igws.InternetGateways)
	}
	igw := aws.ToString(igws.InternetGateways[0].InternetGatewayId)
	var mainRT, publicRT *types.RouteTable
	for i, rt := range rts.RouteTables {
		for _, a := range rt.Associations {
			if aws.ToBool(a.Main) {
				mainRT = &rts.RouteTables[i]
			}
		}
		for _, r := range rt.Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && aws.ToString(r.GatewayId) == igw {
				publicRT = &rts.RouteTables[i]
			}
		}
	}
	if mainRT == nil || publicRT == nil || mainRT == publicRT {
		t.Fatalf("route tables = %+v", rts.RouteTables)
	}
	var assoc []string
	for _, a := range publicRT.Associations {
		assoc = append(assoc, aws.ToString(a.SubnetId))
	}
	var want []string
	for _, s := range public.Subnets {
		want = append(want, aws.ToString(s.SubnetId))
	}
	sort.Strings(assoc)
	sort.Strings(want)
	if !slices.Equal(assoc, want) {
		t.Errorf("public route table associations %v, want %v", assoc, want)
	}
	// A private subnet has no explicit association: it uses the main table.
	priv := e.subnet(false, "a").ID
	byAssoc, err := e.c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: []types.Filter{filter("association.subnet-id", priv)}})
	if err != nil || len(byAssoc.RouteTables) != 0 {
		t.Fatalf("route tables of a private subnet: %v, %v", byAssoc, err)
	}

	zones, err := e.c.DescribeAvailabilityZones(ctx, &sdk.DescribeAvailabilityZonesInput{ZoneIds: []string{"use1-az2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(zones.AvailabilityZones) != 1 || aws.ToString(zones.AvailabilityZones[0].ZoneName) != "us-east-1b" {
		t.Fatalf("zones = %+v", zones.AvailabilityZones)
	}
	_, err = e.c.DescribeAvailabilityZones(ctx, &sdk.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1z"}})
	apiErr(t, err, "InvalidParameterValue", "Invalid availability zone: [us-east-1z]")

	sgs, err := e.c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("vpc-id", vpc), filter("group-name", "default")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sgs.SecurityGroups) != 1 || len(sgs.SecurityGroups[0].IpPermissionsEgress) != 1 ||
		len(sgs.SecurityGroups[0].IpPermissions) != 1 || aws.ToString(sgs.SecurityGroups[0].IpPermissions[0].UserIdGroupPairs[0].GroupId) != e.defaultGroup() {
		t.Fatalf("default group = %+v", sgs.SecurityGroups)
	}

	attrs, err := e.c.DescribeAccountAttributes(ctx, &sdk.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{"default-vpc", "supported-platforms"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs.AccountAttributes) != 2 || aws.ToString(attrs.AccountAttributes[0].AttributeValues[0].AttributeValue) != "none" ||
		aws.ToString(attrs.AccountAttributes[1].AttributeValues[0].AttributeValue) != "VPC" {
		t.Fatalf("account attributes = %+v", attrs.AccountAttributes)
	}
}

func revision(t *testing.T, st *state.Store) uint64 {
	t.Helper()
	var rev uint64
	if err := st.View(func(tx *state.Tx) error { rev = tx.Revision(); return nil }); err != nil {
		t.Fatal(err)
	}
	return rev
}

// bootstrapCloud bootstraps the local cloud of the facts as the local ELB
// does: EC2's resources, then ACM's certificates.
func bootstrapCloud(st *state.Store, f *facts.Facts) error {
	if err := ec2.Bootstrap(ctx, st, f); err != nil {
		return err
	}
	return acm.Bootstrap(ctx, st, f)
}

func TestBootstrapIdempotent(t *testing.T) {
	st := svctest.OpenStore(t)
	f := facts.Default("us-east-1", "demo")
	f.Instances = []facts.Instance{{ID: "i-0node1", SubnetID: f.Subnets[1].ID, PrivateIP: "10.0.128.10", Tags: map[string]string{"Name": "node1"}}}
	f.ElasticIPs = []facts.ElasticIP{{AllocationID: "eipalloc-0a", Tags: map[string]string{"Name": "ip-a"}}}
	f.Certificates = []facts.Certificate{{ARN: "arn:aws:acm:us-east-1:000000000000:certificate/11111111-2222-4333-8444-555555555555", DomainName: "*.example.com"}}
	if err := bootstrapCloud(st, f); err != nil {
		t.Fatal(err)
	}
	first, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	rev := revision(t, st)
	if err := bootstrapCloud(st, f); err != nil {
		t.Fatal(err)
	}
	if got := revision(t, st); got != rev {
		t.Fatalf("a second bootstrap with the same facts wrote (revision %d -> %d)", rev, got)
	}

	// A client changes a tag; new facts add a subnet, a group and an instance.
	e := svctest.ServeStore(t, st, ec2.New(ec2.Config{Store: st}).API())
	c := sdk.NewFromConfig(e.Config)
	if _, err := c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{f.VPCs[0].ID}, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("changed")}}}); err != nil {
		t.Fatal(err)
	}
	f.Subnets = append(f.Subnets, facts.Subnet{ID: "subnet-0extra", VpcID: f.VPCs[0].ID, AvailabilityZone: "us-east-1a", CIDR: "10.0.64.0/20", Public: true})
	f.SecurityGroups = append(f.SecurityGroups, facts.SecurityGroup{ID: "sg-0nodes", Name: "nodes", VpcID: f.VPCs[0].ID, Ingress: []facts.Rule{{Protocol: "tcp", FromPort: 30000, ToPort: 32767, CIDR: "10.0.0.0/16"}}})
	f.Instances = append(f.Instances, facts.Instance{ID: "i-0node2", SubnetID: "subnet-0extra", PrivateIP: "10.0.64.10", SecurityGroups: []string{"sg-0nodes"}})
	if err := bootstrapCloud(st, f); err != nil {
		t.Fatal(err)
	}
	second, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Subnets) != len(first.Subnets)+1 || len(second.Instances) != 2 || len(second.SecurityGroups) != len(first.SecurityGroups)+1 {
		t.Fatalf("after new facts: %d subnets, %d instances, %d groups", len(second.Subnets), len(second.Instances), len(second.SecurityGroups))
	}
	if v, _ := second.Tags[f.VPCs[0].ID].Get("Name"); v != "changed" {
		t.Errorf("bootstrap overwrote a client's tag: Name=%q", v)
	}
	if second.Certificates[f.Certificates[0].ARN].CertificatePEM != first.Certificates[f.Certificates[0].ARN].CertificatePEM {
		t.Error("bootstrap re-issued an existing certificate")
	}
	// The new public subnet joined the public route table.
	rts, err := c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: []types.Filter{filter("association.subnet-id", "subnet-0extra")}})
	if err != nil || len(rts.RouteTables) != 1 {
		t.Fatalf("route table of the new public subnet: %+v, %v", rts, err)
	}
	inst, err := c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{"i-0node2"}})
	if err != nil {
		t.Fatal(err)
	}
	got := inst.Reservations[0].Instances[0]
	if aws.ToString(got.PrivateIpAddress) != "10.0.64.10" || aws.ToString(got.SecurityGroups[0].GroupId) != "sg-0nodes" ||
		aws.ToString(got.Placement.AvailabilityZone) != "us-east-1a" || got.State.Name != types.InstanceStateNameRunning {
		t.Fatalf("bootstrapped instance = %+v", got)
	}
	addrs, err := c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-0a"}})
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := netip.ParseAddr(aws.ToString(addrs.Addresses[0].PublicIp)); err != nil || !state.ElasticIPPool.Contains(ip) {
		t.Fatalf("bootstrapped Elastic IP %v not in %s", addrs.Addresses[0].PublicIp, state.ElasticIPPool)
	}

	// Facts that conflict with the state are refused and change nothing.
	rev = revision(t, st)
	bad := *f
	bad.Instances = append(append([]facts.Instance(nil), f.Instances...), facts.Instance{ID: "i-0clash", SubnetID: "subnet-0extra", PrivateIP: "10.0.64.10"})
	if err := ec2.Bootstrap(ctx, st, &bad); err == nil || !strings.Contains(err.Error(), "already used by i-0node2") {
		t.Fatalf("conflicting instance IP: %v", err)
	}
	if got := revision(t, st); got != rev {
		t.Fatal("a refused bootstrap wrote")
	}
}

func TestDescribeFilters(t *testing.T) {
	e := start(t)
	vpc := e.facts.VPCs[0].ID
	pubA := e.subnet(true, "a")
	for _, tc := range []struct {
		name    string
		filters []types.Filter
		ids     []string
		want    int
	}{
		{"all", nil, nil, 6},
		{"vpc-id", []types.Filter{filter("vpc-id", vpc)}, nil, 6},
		{"other vpc", []types.Filter{filter("vpc-id", "vpc-0other")}, nil, 0},
		{"availability-zone", []types.Filter{filter("availability-zone", "us-east-1a")}, nil, 2},
		{"availability-zone wildcard", []types.Filter{filter("availability-zone", "us-east-1?")}, nil, 6},
		{"availability-zone-id", []types.Filter{filter("availability-zone-id", "use1-az1", "use1-az3")}, nil, 4},
		{"cidr-block", []types.Filter{filter("cidr-block", "10.0.0.0/20")}, nil, 1},
		{"cidr-block wildcard", []types.Filter{filter("cidrBlock", "10.0.1??.0/19")}, nil, 3},
		{"default-for-az", []types.Filter{filter("default-for-az", "true")}, nil, 0},
		{"map-public-ip-on-launch", []types.Filter{filter("map-public-ip-on-launch", "false")}, nil, 3},
		{"state", []types.Filter{filter("state", "available")}, nil, 6},
		{"tag:Name wildcard", []types.Filter{filter("tag:Name", "elbow-private-*")}, nil, 3},
		{"tag-key", []types.Filter{filter("tag-key", "kubernetes.io/role/internal-elb")}, nil, 3},
		{"tag-value", []types.Filter{filter("tag-value", "shared")}, nil, 6},
		{"AND of filters", []types.Filter{filter("tag-key", "kubernetes.io/role/elb"), filter("availability-zone", "us-east-1b")}, nil, 1},
		{"subnet-id", []types.Filter{filter("subnet-id", pubA.ID)}, nil, 1},
		{"ids and filter", []types.Filter{filter("map-public-ip-on-launch", "false")}, []string{pubA.ID}, 0},
		{"ids", nil, []string{pubA.ID, pubA.ID}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: tc.filters, SubnetIds: tc.ids})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Subnets) != tc.want {
				t.Fatalf("got %d subnets, want %d", len(out.Subnets), tc.want)
			}
		})
	}
	_, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: []types.Filter{filter("colour", "red")}})
	apiErr(t, err, "InvalidParameterValue", "The filter 'colour' is invalid")
	_, err = e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{Filters: []types.Filter{filter("tag:Name", "elbow"), filter("is-default", "false"), filter("cidr", "10.0.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIDErrors(t *testing.T) {
	e := start(t)
	for _, tc := range []struct {
		name      string
		call      func() error
		code, msg string
	}{
		{"subnet not found", func() error {
			_, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
			return err
		}, "InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123456789abcdef0' does not exist"},
		{"subnets not found", func() error {
			_, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-01", "subnet-02"}})
			return err
		}, "InvalidSubnetID.NotFound", "The subnet IDs 'subnet-01, subnet-02' do not exist"},
		{"subnet malformed", func() error {
			_, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{"vpc-01"}})
			return err
		}, "InvalidSubnetID.Malformed", `Invalid id: "vpc-01" (expecting "subnet-...")`},
		{"vpc not found", func() error {
			_, err := e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{"vpc-0dead"}})
			return err
		}, "InvalidVpcID.NotFound", "The vpc ID 'vpc-0dead' does not exist"},
		{"vpc malformed", func() error {
			_, err := e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{"myvpc"}})
			return err
		}, "InvalidVpcID.Malformed", `Invalid id: "myvpc" (expecting "vpc-...")`},
		{"group not found", func() error {
			_, err := e.c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0dead"}})
			return err
		}, "InvalidGroup.NotFound", "The security group 'sg-0dead' does not exist"},
		{"group malformed", func() error {
			_, err := e.c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{"web"}})
			return err
		}, "InvalidGroupId.Malformed", `Invalid id: "web" (expecting "sg-...")`},
		{"group name outside default VPC", func() error {
			_, err := e.c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupNames: []string{"web"}})
			return err
		}, "InvalidGroup.NotFound", "The security group 'web' does not exist in default VPC 'none'"},
		{"instances not found", func() error {
			_, err := e.c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{"i-01", "i-02"}})
			return err
		}, "InvalidInstanceID.NotFound", "The instance IDs 'i-01, i-02' do not exist"},
		{"instance malformed", func() error {
			_, err := e.c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{"node-1"}})
			return err
		}, "InvalidInstanceID.Malformed", `Invalid id: "node-1" (expecting "i-...")`},
		{"allocation not found", func() error {
			_, err := e.c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-0dead"}})
			return err
		}, "InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-0dead' does not exist"},
		{"network interface not found", func() error {
			_, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{"eni-0dead"}})
			return err
		}, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID 'eni-0dead' does not exist"},
		{"route table not found", func() error {
			_, err := e.c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{RouteTableIds: []string{"rtb-0dead"}})
			return err
		}, "InvalidRouteTableID.NotFound", "The routeTable ID 'rtb-0dead' does not exist"},
		{"route table malformed", func() error {
			_, err := e.c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{RouteTableIds: []string{"main"}})
			return err
		}, "InvalidRouteTableId.Malformed", ""},
		{"internet gateway not found", func() error {
			_, err := e.c.DescribeInternetGateways(ctx, &sdk.DescribeInternetGatewaysInput{InternetGatewayIds: []string{"igw-0dead"}})
			return err
		}, "InvalidInternetGatewayID.NotFound", "The internetGateway ID 'igw-0dead' does not exist"},
		{"rule not found", func() error {
			_, err := e.c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{"sgr-0dead"}})
			return err
		}, "InvalidSecurityGroupRuleId.NotFound", ""},
		{"max results below minimum", func() error {
			_, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{MaxResults: aws.Int32(1)})
			return err
		}, "InvalidParameterValue", "Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{"max results above maximum", func() error {
			_, err := e.c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{MaxResults: aws.Int32(101)})
			return err
		}, "InvalidParameterValue", ""},
		{"max results with instance IDs", func() error {
			_, err := e.c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{"i-01"}, MaxResults: aws.Int32(5)})
			return err
		}, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults"},
		{"bad next token", func() error {
			_, err := e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{NextToken: aws.String("garbage")})
			return err
		}, "InvalidNextToken", ""},
		{"dry run", func() error {
			_, err := e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{DryRun: aws.Bool(true)})
			return err
		}, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."},
	} {
		t.Run(tc.name, func(t *testing.T) { apiErr(t, tc.call(), tc.code, tc.msg) })
	}
}

func TestPagination(t *testing.T) {
	e := start(t)
	for i := range 7 {
		if _, err := e.c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{
			GroupName: aws.String(fmt.Sprintf("g%d", i)), Description: aws.String("page"), VpcId: aws.String(e.facts.VPCs[0].ID),
		}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	pages := 0
	p := sdk.NewDescribeSecurityGroupsPaginator(e.c, &sdk.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.SecurityGroups) > 5 {
			t.Fatalf("page of %d > MaxResults", len(out.SecurityGroups))
		}
		for _, g := range out.SecurityGroups {
			if seen[*g.GroupId] {
				t.Fatalf("group %s on two pages", *g.GroupId)
			}
			seen[*g.GroupId] = true
		}
	}
	if len(seen) != 8 || pages != 2 {
		t.Fatalf("%d groups in %d pages, want 8 in 2", len(seen), pages)
	}
	tags, err := e.c.DescribeTags(ctx, &sdk.DescribeTagsInput{MaxResults: aws.Int32(5)})
	if err != nil || len(tags.Tags) != 5 || tags.NextToken == nil {
		t.Fatalf("DescribeTags page: %+v, %v", tags, err)
	}
}

func perm(proto string, from, to int32, cidrs ...string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to)}
	for _, c := range cidrs {
		if strings.Contains(c, ":") {
			p.Ipv6Ranges = append(p.Ipv6Ranges, types.Ipv6Range{CidrIpv6: aws.String(c)})
		} else {
			p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: aws.String(c)})
		}
	}
	return p
}

func TestSecurityGroups(t *testing.T) {
	e := start(t)
	vpc := e.facts.VPCs[0].ID
	created, err := e.c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{
		GroupName: aws.String("k8s-web"), Description: aws.String("[k8s] Managed SecurityGroup"), VpcId: aws.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{
			{Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String("demo")}, {Key: aws.String("ingress.k8s.aws/stack"), Value: aws.String("ns/web")},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sg := aws.ToString(created.GroupId)
	if !strings.HasPrefix(sg, "sg-") || len(sg) != len("sg-")+17 || aws.ToString(created.SecurityGroupArn) != "arn:aws:ec2:us-east-1:000000000000:security-group/"+sg {
		t.Fatalf("created %+v", created)
	}

	for _, tc := range []struct {
		name, group, desc, vpc, code, msg string
	}{
		{"duplicate", "k8s-web", "x", vpc, "InvalidGroup.Duplicate", "The security group 'k8s-web' already exists for VPC '" + vpc + "'"},
		{"reserved", "default", "x", vpc, "InvalidGroup.Reserved", ""},
		{"sg- prefix", "sg-web", "x", vpc, "InvalidParameterValue", ""},
		{"no description", "other", "", vpc, "MissingParameter", ""},
		{"unknown VPC", "other", "x", "vpc-0dead", "InvalidVpcID.NotFound", "The vpc ID 'vpc-0dead' does not exist"},
		{"no default VPC", "other", "x", "", "VPCIdNotSpecified", "No default VPC for this user"},
	} {
		t.Run("create "+tc.name, func(t *testing.T) {
			in := &sdk.CreateSecurityGroupInput{GroupName: aws.String(tc.group), Description: aws.String(tc.desc)}
			if tc.vpc != "" {
				in.VpcId = aws.String(tc.vpc)
			}
			_, err := e.c.CreateSecurityGroup(ctx, in)
			apiErr(t, err, tc.code, tc.msg)
		})
	}

	// Rules are one per source and rendered grouped by protocol and ports.
	auth, err := e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(sg),
		IpPermissions: []types.IpPermission{
			perm("tcp", 443, 443, "0.0.0.0/0", "::/0"),
			perm("tcp", 80, 80, "10.1.2.3/16"), // canonicalised to 10.1.0.0/16
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(e.defaultGroup()), Description: aws.String("from default")}}},
		},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroupRule, Tags: []types.Tag{{Key: aws.String("rule"), Value: aws.String("web")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(auth.SecurityGroupRules) != 4 || !aws.ToBool(auth.Return) {
		t.Fatalf("authorized %+v", auth.SecurityGroupRules)
	}
	for _, r := range auth.SecurityGroupRules {
		if !strings.HasPrefix(aws.ToString(r.SecurityGroupRuleId), "sgr-") || tagMap(r.Tags)["rule"] != "web" {
			t.Errorf("rule %+v", r)
		}
	}
	desc, err := e.c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	g := desc.SecurityGroups[0]
	if len(g.IpPermissions) != 2 {
		t.Fatalf("IpPermissions = %+v, want two (443 and 80)", g.IpPermissions)
	}
	p443 := g.IpPermissions[0]
	if aws.ToInt32(p443.FromPort) != 443 || len(p443.IpRanges) != 1 || len(p443.Ipv6Ranges) != 1 || len(p443.UserIdGroupPairs) != 1 ||
		aws.ToString(p443.UserIdGroupPairs[0].Description) != "from default" {
		t.Errorf("443 permission = %+v", p443)
	}
	if aws.ToString(g.IpPermissions[1].IpRanges[0].CidrIp) != "10.1.0.0/16" {
		t.Errorf("80 permission = %+v", g.IpPermissions[1])
	}
	if len(g.IpPermissionsEgress) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpProtocol) != "-1" || g.IpPermissionsEgress[0].FromPort != nil ||
		aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Errorf("default egress = %+v", g.IpPermissionsEgress)
	}
	if tagMap(g.Tags)["ingress.k8s.aws/stack"] != "ns/web" {
		t.Errorf("tags = %v", g.Tags)
	}
	// Filters on rules.
	byPort, err := e.c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: []types.Filter{
		filter("ip-permission.from-port", "80"), filter("ip-permission.cidr", "10.1.0.0/16"), filter("tag:elbv2.k8s.aws/cluster", "demo"),
	}})
	if err != nil || len(byPort.SecurityGroups) != 1 {
		t.Fatalf("filter on rules: %+v, %v", byPort, err)
	}

	for _, tc := range []struct {
		name  string
		perms []types.IpPermission
		code  string
		msg   string
	}{
		{"duplicate rule", []types.IpPermission{perm("tcp", 443, 443, "0.0.0.0/0")}, "InvalidPermission.Duplicate", `the specified rule "peer: 0.0.0.0/0, TCP, from port: 443, to port: 443, ALLOW" already exists`},
		{"duplicate non-canonical CIDR", []types.IpPermission{perm("tcp", 80, 80, "10.1.9.9/16")}, "InvalidPermission.Duplicate", ""},
		{"same rule twice", []types.IpPermission{perm("udp", 53, 53, "10.0.0.0/8"), perm("17", 53, 53, "10.0.0.0/8")}, "InvalidParameterValue", "The same permission must not appear multiple times"},
		{"bad CIDR", []types.IpPermission{perm("tcp", 22, 22, "10.0.0.0/33")}, "InvalidParameterValue", "CIDR block 10.0.0.0/33 is malformed"},
		{"bad protocol", []types.IpPermission{perm("sctp", 1, 2, "10.0.0.0/8")}, "InvalidParameterValue", ""},
		{"bad port range", []types.IpPermission{perm("tcp", 90, 80, "10.0.0.0/8")}, "InvalidParameterValue", ""},
		{"unknown source group", []types.IpPermission{{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String("sg-0dead")}}}}, "InvalidGroup.NotFound", "The security group 'sg-0dead' does not exist"},
		{"no source", []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(1), ToPort: aws.Int32(2)}}, "MissingParameter", ""},
	} {
		t.Run("authorize "+tc.name, func(t *testing.T) {
			_, err := e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: tc.perms})
			apiErr(t, err, tc.code, tc.msg)
		})
	}

	// Revoke by permission (descriptions do not matter) and by rule ID.
	rev, err := e.c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{perm("tcp", 443, 443, "::/0")}})
	if err != nil || len(rev.RevokedSecurityGroupRules) != 1 || aws.ToString(rev.RevokedSecurityGroupRules[0].CidrIpv6) != "::/0" {
		t.Fatalf("revoke by permission: %+v, %v", rev, err)
	}
	_, err = e.c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{perm("tcp", 443, 443, "::/0")}})
	apiErr(t, err, "InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
	rules, err := e.c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{Filters: []types.Filter{filter("group-id", sg), filter("tag:rule", "web")}})
	if err != nil || len(rules.SecurityGroupRules) != 3 {
		t.Fatalf("rules of %s: %+v, %v", sg, rules, err)
	}
	var ids []string
	for _, r := range rules.SecurityGroupRules {
		ids = append(ids, aws.ToString(r.SecurityGroupRuleId))
	}
	if _, err := e.c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), SecurityGroupRuleIds: ids}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(sg), SecurityGroupRuleIds: ids[:1]})
	apiErr(t, err, "InvalidSecurityGroupRuleId.NotFound", "")
	if tags, err := e.c.DescribeTags(ctx, &sdk.DescribeTagsInput{Filters: []types.Filter{filter("resource-id", ids...)}}); err != nil || len(tags.Tags) != 0 {
		t.Fatalf("tags of revoked rules remain: %+v, %v", tags, err)
	}

	// The quota: 60 inbound IPv4 rules.
	var many []types.IpPermission
	for i := range 60 {
		many = append(many, perm("tcp", int32(1000+i), int32(1000+i), "10.0.0.0/8"))
	}
	if _, err := e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: many}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{perm("tcp", 1, 1, "10.0.0.0/8")}})
	apiErr(t, err, "RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
	// IPv6 rules are counted apart.
	if _, err := e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: []types.IpPermission{perm("tcp", 1, 1, "::/0")}}); err != nil {
		t.Fatalf("an IPv6 rule beside 60 IPv4 rules: %v", err)
	}

	// Deletion.
	_, err = e.c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(e.defaultGroup())})
	apiErr(t, err, "CannotDelete", `the specified group: "`+e.defaultGroup()+`" name: "default" cannot be deleted by a user`)
	if _, err := e.c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(sg)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(sg)})
	apiErr(t, err, "InvalidGroup.NotFound", "The security group '"+sg+"' does not exist")
}

func putLoadBalancer(t *testing.T, st *state.Store, lb *state.LoadBalancer) {
	t.Helper()
	if err := st.Update(ctx, func(tx *state.Tx) error { return state.Put(tx, state.LoadBalancers, lb) }); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteSecurityGroupDependencies(t *testing.T) {
	e := start(t)
	vpc := e.facts.VPCs[0].ID
	mk := func(name string) string {
		out, err := e.c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name), VpcId: aws.String(vpc)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.GroupId
	}
	lbSG, instSG, refSG, referrer := mk("lb"), mk("inst"), mk("ref"), mk("referrer")
	putLoadBalancer(t, e.Store, &state.LoadBalancer{ARN: "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef", Type: "application", VpcID: vpc, SecurityGroups: []string{lbSG}})
	if _, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(e.subnet(false, "a").ID), SecurityGroupIds: []string{instSG}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(referrer), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(refSG)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	// A self-reference does not block deletion.
	if _, err := e.c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(referrer), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(referrer)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, sg := range []string{lbSG, instSG, refSG} {
		_, err := e.c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(sg)})
		apiErr(t, err, "DependencyViolation", "resource "+sg+" has a dependent object")
	}
	if _, err := e.c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(referrer)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(refSG)}); err != nil {
		t.Fatalf("once the referring group is gone: %v", err)
	}
}

func TestInstances(t *testing.T) {
	e := start(t)
	sn := e.subnet(false, "b")
	run, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), ImageId: aws.String("ami-0abc"), InstanceType: types.InstanceTypeT3Medium,
		SubnetId: aws.String(sn.ID), PrivateIpAddress: aws.String("10.0.160.20"),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("node-b")}}},
			{ResourceType: types.ResourceTypeNetworkInterface, Tags: []types.Tag{{Key: aws.String("eni"), Value: aws.String("yes")}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	inst := run.Instances[0]
	id := aws.ToString(inst.InstanceId)
	if inst.State.Name != types.InstanceStateNamePending || aws.ToString(inst.PrivateIpAddress) != "10.0.160.20" ||
		aws.ToString(inst.PrivateDnsName) != "ip-10-0-160-20.ec2.internal" || aws.ToString(inst.SecurityGroups[0].GroupId) != e.defaultGroup() ||
		!strings.HasPrefix(aws.ToString(run.ReservationId), "r-") {
		t.Fatalf("RunInstances = %+v", run)
	}
	for _, tc := range []struct {
		name   string
		in     *sdk.RunInstancesInput
		code   string
		msg    string
		subnet string
	}{
		{"IP in use", &sdk.RunInstancesInput{PrivateIpAddress: aws.String("10.0.160.20")}, "InvalidIPAddress.InUse", "Address 10.0.160.20 is in use.", sn.ID},
		{"IP outside subnet", &sdk.RunInstancesInput{PrivateIpAddress: aws.String("10.0.0.20")}, "InvalidParameterValue", "Address 10.0.0.20 does not fall within the subnet's address range", sn.ID},
		{"reserved IP", &sdk.RunInstancesInput{PrivateIpAddress: aws.String("10.0.160.1")}, "InvalidParameterValue", "", sn.ID},
		{"unknown subnet", &sdk.RunInstancesInput{}, "InvalidSubnetID.NotFound", "The subnet ID 'subnet-0dead' does not exist", "subnet-0dead"},
		{"no subnet", &sdk.RunInstancesInput{}, "VPCIdNotSpecified", "No default VPC for this user", ""},
		{"group of another VPC", &sdk.RunInstancesInput{SecurityGroupIds: []string{"sg-0dead"}}, "InvalidGroup.NotFound", "", sn.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.MinCount, tc.in.MaxCount = aws.Int32(1), aws.Int32(1)
			if tc.subnet != "" {
				tc.in.SubnetId = aws.String(tc.subnet)
			}
			_, err := e.c.RunInstances(ctx, tc.in)
			apiErr(t, err, tc.code, tc.msg)
		})
	}
	// Several at once get the lowest free addresses, via a network interface spec.
	many, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), SubnetId: aws.String(sn.ID)}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{aws.ToString(many.Instances[0].PrivateIpAddress), aws.ToString(many.Instances[1].PrivateIpAddress)}; !slices.Equal(got, []string{"10.0.160.4", "10.0.160.5"}) {
		t.Fatalf("addresses %v", got)
	}

	for _, tc := range []struct {
		name    string
		filters []types.Filter
		want    int
	}{
		{"private-ip-address", []types.Filter{filter("private-ip-address", "10.0.160.20")}, 1},
		{"wildcard IP", []types.Filter{filter("private-ip-address", "10.0.160.*")}, 3},
		{"tag:Name", []types.Filter{filter("tag:Name", "node-b")}, 1},
		{"instance-state-name", []types.Filter{filter("instance-state-name", "running")}, 3},
		{"subnet-id and zone", []types.Filter{filter("subnet-id", sn.ID), filter("availability-zone", "us-east-1b")}, 3},
		{"instance.group-id", []types.Filter{filter("instance.group-id", e.defaultGroup())}, 3},
		{"instance-type", []types.Filter{filter("instance-type", "t3.medium")}, 1},
		{"reservation-id", []types.Filter{filter("reservation-id", aws.ToString(many.ReservationId))}, 2},
		{"network-interface.addresses.private-ip-address", []types.Filter{filter("network-interface.addresses.private-ip-address", "10.0.160.4")}, 1},
	} {
		t.Run("describe "+tc.name, func(t *testing.T) {
			out, err := e.c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: tc.filters})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range out.Reservations {
				n += len(r.Instances)
			}
			if n != tc.want {
				t.Fatalf("got %d instances, want %d", n, tc.want)
			}
		})
	}
	// The instance's interface, as the AWS Load Balancer Controller looks it up.
	enis, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: []types.Filter{
		filter("vpc-id", sn.VpcID), filter("addresses.private-ip-address", "10.0.160.20"),
	}})
	if err != nil || len(enis.NetworkInterfaces) != 1 {
		t.Fatalf("interface of 10.0.160.20: %+v, %v", enis, err)
	}
	eni := enis.NetworkInterfaces[0]
	if aws.ToString(eni.Attachment.InstanceId) != id || tagMap(eni.TagSet)["eni"] != "yes" || aws.ToString(eni.Groups[0].GroupId) != e.defaultGroup() {
		t.Fatalf("interface %+v", eni)
	}

	term, err := e.c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil || term.TerminatingInstances[0].CurrentState.Name != types.InstanceStateNameShuttingDown {
		t.Fatalf("TerminateInstances: %+v, %v", term, err)
	}
	after, err := e.c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || after.Reservations[0].Instances[0].State.Name != types.InstanceStateNameTerminated {
		t.Fatalf("terminated instance: %+v, %v", after, err)
	}
	if _, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(sn.ID), PrivateIpAddress: aws.String("10.0.160.20")}); err != nil {
		t.Fatalf("the address of a terminated instance is free again: %v", err)
	}
}

func TestElasticIPs(t *testing.T) {
	e := start(t)
	var ids []string
	for i := range 5 {
		out, err := e.c.AllocateAddress(ctx, &sdk.AllocateAddressInput{Domain: types.DomainTypeVpc,
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeElasticIp, Tags: []types.Tag{{Key: aws.String("n"), Value: aws.String(fmt.Sprint(i))}}}}})
		if err != nil {
			t.Fatal(err)
		}
		ip, err := netip.ParseAddr(aws.ToString(out.PublicIp))
		if err != nil || !state.ElasticIPPool.Contains(ip) || !strings.HasPrefix(aws.ToString(out.AllocationId), "eipalloc-") {
			t.Fatalf("AllocateAddress = %+v", out)
		}
		ids = append(ids, *out.AllocationId)
	}
	_, err := e.c.AllocateAddress(ctx, &sdk.AllocateAddressInput{})
	apiErr(t, err, "AddressLimitExceeded", "The maximum number of addresses has been reached.")

	byTag, err := e.c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{Filters: []types.Filter{filter("tag:n", "3")}})
	if err != nil || len(byTag.Addresses) != 1 || aws.ToString(byTag.Addresses[0].AllocationId) != ids[3] {
		t.Fatalf("by tag: %+v, %v", byTag, err)
	}
	ip3 := aws.ToString(byTag.Addresses[0].PublicIp)
	byIP, err := e.c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{PublicIps: []string{ip3}})
	if err != nil || len(byIP.Addresses) != 1 || aws.ToString(byIP.Addresses[0].AllocationId) != ids[3] {
		t.Fatalf("by public IP: %+v, %v", byIP, err)
	}

	// An NLB uses the first address in zone a.
	sn := e.subnet(true, "a")
	lbARN := "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/edge/0123456789abcdef"
	putLoadBalancer(t, e.Store, &state.LoadBalancer{ARN: lbARN, Type: "network", VpcID: sn.VpcID,
		Zones: []state.LBZone{{ZoneName: sn.AvailabilityZone, SubnetID: sn.ID, PrivateIPv4Address: "10.0.0.9", AllocationID: ids[0]}}})
	used, err := e.c.DescribeAddresses(ctx, &sdk.DescribeAddressesInput{AllocationIds: []string{ids[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if a := used.Addresses[0]; aws.ToString(a.PrivateIpAddress) != "10.0.0.9" || a.AssociationId == nil || a.NetworkInterfaceId == nil {
		t.Fatalf("address used by an NLB = %+v", a)
	}
	enis, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("description", "ELB net/edge/*")}})
	if err != nil || len(enis.NetworkInterfaces) != 1 {
		t.Fatalf("NLB interface: %+v, %v", enis, err)
	}
	if n := enis.NetworkInterfaces[0]; n.InterfaceType != "network_load_balancer" || aws.ToString(n.RequesterId) != "amazon-elb" ||
		aws.ToString(n.PrivateIpAddress) != "10.0.0.9" || aws.ToString(n.Association.PublicIp) == "" ||
		aws.ToString(n.NetworkInterfaceId) != aws.ToString(used.Addresses[0].NetworkInterfaceId) {
		t.Fatalf("NLB interface = %+v", n)
	}
	_, err = e.c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: aws.String(ids[0])})
	apiErr(t, err, "InvalidIPAddress.InUse", "")
	// The NLB's node address is taken in its subnet.
	_, err = e.c.RunInstances(ctx, &sdk.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(sn.ID), PrivateIpAddress: aws.String("10.0.0.9")})
	apiErr(t, err, "InvalidIPAddress.InUse", "Address 10.0.0.9 is in use.")

	if _, err := e.c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: aws.String(ids[1])}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{AllocationId: aws.String(ids[1])})
	apiErr(t, err, "InvalidAllocationID.NotFound", "The allocation ID '"+ids[1]+"' does not exist")
	_, err = e.c.ReleaseAddress(ctx, &sdk.ReleaseAddressInput{PublicIp: aws.String(ip3)})
	apiErr(t, err, "InvalidParameterValue", "You must specify an allocation id when releasing a VPC elastic IP address")
	// A released address does not come back at once.
	again, err := e.c.AllocateAddress(ctx, &sdk.AllocateAddressInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.AllocationId) == ids[1] {
		t.Fatal("allocation ID reused")
	}
}

func TestTags(t *testing.T) {
	e := start(t)
	vpc, sn := e.facts.VPCs[0].ID, e.subnet(true, "c").ID
	tags := []types.Tag{{Key: aws.String("z"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("")}, {Key: aws.String("m"), Value: aws.String("x y")}}
	if _, err := e.c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{vpc, sn}, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	out, err := e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{vpc}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tg := range out.Vpcs[0].Tags {
		keys = append(keys, *tg.Key)
	}
	if !slices.Equal(keys, []string{"Name", "z", "a", "m"}) || tagMap(out.Vpcs[0].Tags)["a"] != "" {
		t.Fatalf("tags round-trip: %v", out.Vpcs[0].Tags)
	}
	desc, err := e.c.DescribeTags(ctx, &sdk.DescribeTagsInput{Filters: []types.Filter{filter("resource-type", "subnet"), filter("key", "z", "m"), filter("resource-id", sn)}})
	if err != nil || len(desc.Tags) != 2 || desc.Tags[0].ResourceType != types.ResourceTypeSubnet {
		t.Fatalf("DescribeTags: %+v, %v", desc, err)
	}
	// DeleteTags: a value must match; no value deletes whatever the value.
	if _, err := e.c.DeleteTags(ctx, &sdk.DeleteTagsInput{Resources: []string{vpc}, Tags: []types.Tag{
		{Key: aws.String("z"), Value: aws.String("2")}, {Key: aws.String("m")}, {Key: aws.String("a"), Value: aws.String("")},
	}}); err != nil {
		t.Fatal(err)
	}
	out, _ = e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{vpc}})
	if m := tagMap(out.Vpcs[0].Tags); len(m) != 2 || m["z"] != "1" || m["Name"] != "elbow" {
		t.Fatalf("after DeleteTags: %v", m)
	}
	for _, tc := range []struct {
		name string
		in   *sdk.CreateTagsInput
		code string
		msg  string
	}{
		{"unknown ID kind", &sdk.CreateTagsInput{Resources: []string{"ami-0abc"}, Tags: tags}, "InvalidID", "The ID 'ami-0abc' is not valid"},
		{"missing resource", &sdk.CreateTagsInput{Resources: []string{vpc, "subnet-0dead"}, Tags: tags}, "InvalidSubnetID.NotFound", "The subnet ID 'subnet-0dead' does not exist"},
		{"aws: prefix", &sdk.CreateTagsInput{Resources: []string{vpc}, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}, "InvalidParameterValue", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CreateTags(ctx, tc.in)
			apiErr(t, err, tc.code, tc.msg)
		})
	}
	// Nothing was tagged by the failed call.
	out, _ = e.c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{vpc}})
	if len(out.Vpcs[0].Tags) != 2 {
		t.Fatalf("a failed CreateTags changed tags: %v", out.Vpcs[0].Tags)
	}
	var fifty []types.Tag
	for i := range 49 {
		fifty = append(fifty, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}
	_, err = e.c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{vpc}, Tags: fifty})
	apiErr(t, err, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
}

func TestAPIRegistersEveryOperation(t *testing.T) {
	h, err := api.NewHandler(api.Config{Region: "us-east-1", Credentials: map[string]string{"a": "b"}, Services: []api.Service{ec2.New(ec2.Config{Store: svctest.OpenStore(t)}).API()}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"AllocateAddress", "AssignPrivateIpAddresses", "AttachNetworkInterface", "AuthorizeSecurityGroupIngress",
		"CreateNetworkInterface", "CreateSecurityGroup", "CreateSubnet", "CreateTags", "DeleteNetworkInterface",
		"DeleteSecurityGroup", "DeleteSubnet", "DeleteTags",
		"DescribeAccountAttributes", "DescribeAddresses", "DescribeAvailabilityZones", "DescribeInstances", "DescribeInternetGateways",
		"DescribeNetworkInterfaces", "DescribeRouteTables", "DescribeSecurityGroupRules", "DescribeSecurityGroups", "DescribeSubnets",
		"DescribeTags", "DescribeVpcs", "DetachNetworkInterface", "ReleaseAddress", "RevokeSecurityGroupIngress", "RunInstances",
		"TerminateInstances", "UnassignPrivateIpAddresses",
	}
	if got := h.Operations("ec2"); !slices.Equal(got, want) {
		t.Fatalf("operations %v\nwant %v", got, want)
	}
}
