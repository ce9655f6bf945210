package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	wafsdk "github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// logBuf collects a server's JSON log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// warnings returns the auto-provisioning warnings logged so far.
func (l *logBuf) warnings(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == autoprovision.Message {
			if m["level"] != "WARN" {
				t.Errorf("auto-provisioning logged at %v, want WARN: %v", m["level"], m)
			}
			out = append(out, m)
		}
	}
	return out
}

// startAuto starts a local ELB with --auto-provision-references (or
// without, when auto is false) and returns it with its log.
func startAuto(t *testing.T, auto bool, opts elbtest.Options) (*elbtest.Env, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	opts.AutoProvisionReferences = auto
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return elbtest.StartWith(t, opts), logs
}

// apiCode fails the test unless err is an AWS error with code.
func apiCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// wantWarning checks the i-th auto-provisioning warning.
func wantWarning(t *testing.T, ws []map[string]any, i int, kind, id, operation, parameter string) {
	t.Helper()
	if i >= len(ws) {
		t.Fatalf("warning %d (%s %s) missing; have %d", i, kind, id, len(ws))
	}
	w := ws[i]
	if w["kind"] != kind || w["id"] != id || w["operation"] != operation || w["parameter"] != parameter || w["created"] == "" {
		t.Errorf("warning %d = %v, want %s %s named by %s %s", i, w, kind, id, operation, parameter)
	}
}

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

// subnet describes a subnet through a filter (which never provisions);
// nil when absent.
func subnet(t *testing.T, env *elbtest.Env, id string) *ec2types.Subnet {
	t.Helper()
	out := must[*ec2sdk.DescribeSubnetsOutput](t)(env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("subnet-id", id)}}))
	if len(out.Subnets) == 0 {
		return nil
	}
	return &out.Subnets[0]
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// checkSubnet checks an auto-provisioned subnet's shape.
func checkSubnet(t *testing.T, env *elbtest.Env, id, zone, cidr string, public bool, cluster string) {
	t.Helper()
	sn := subnet(t, env, id)
	if sn == nil {
		t.Fatalf("subnet %s was not created", id)
	}
	if aws.ToString(sn.VpcId) != env.VpcID() || aws.ToString(sn.AvailabilityZone) != zone || aws.ToString(sn.CidrBlock) != cidr ||
		aws.ToString(sn.AvailabilityZoneId) != facts.ZoneID(zone) || aws.ToBool(sn.MapPublicIpOnLaunch) != public || sn.State != ec2types.SubnetStateAvailable {
		t.Errorf("subnet %s: vpc %s zone %s (%s) cidr %s public %v state %s; want %s %s %s public %v", id, aws.ToString(sn.VpcId), aws.ToString(sn.AvailabilityZone),
			aws.ToString(sn.AvailabilityZoneId), aws.ToString(sn.CidrBlock), aws.ToBool(sn.MapPublicIpOnLaunch), sn.State, env.VpcID(), zone, cidr, public)
	}
	want := map[string]string{"Name": id}
	if public {
		want["kubernetes.io/role/elb"] = "1"
	} else {
		want["kubernetes.io/role/internal-elb"] = "1"
	}
	if cluster != "" {
		want["kubernetes.io/cluster/"+cluster] = "shared"
	}
	if got := tagMap(sn.Tags); !mapsEqual(got, want) {
		t.Errorf("subnet %s tags %v, want %v", id, got, want)
	}
	rts := must[*ec2sdk.DescribeRouteTablesOutput](t)(env.EC2.DescribeRouteTables(ctx, &ec2sdk.DescribeRouteTablesInput{Filters: []ec2types.Filter{filter("association.subnet-id", id)}}))
	toIGW := false
	for _, rt := range rts.RouteTables {
		for _, r := range rt.Routes {
			if aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && strings.HasPrefix(aws.ToString(r.GatewayId), "igw-") {
				toIGW = true
			}
		}
	}
	if toIGW != public {
		t.Errorf("subnet %s: route to the internet gateway %v, want %v (%+v)", id, toIGW, public, rts.RouteTables)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func subnetCount(t *testing.T, env *elbtest.Env) int {
	t.Helper()
	return len(must[*ec2sdk.DescribeSubnetsOutput](t)(env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{})).Subnets)
}

func zonesOf(lb types.LoadBalancer) map[string]string {
	m := map[string]string{}
	for _, z := range lb.AvailabilityZones {
		m[aws.ToString(z.SubnetId)] = aws.ToString(z.ZoneName)
	}
	return m
}

// TestAutoProvisionSubnets: unknown subnets that CreateLoadBalancer,
// SetSubnets and DescribeSubnets name are created once, in distinct free
// zones next to the request's known subnets, with the first free /20s.
func TestAutoProvisionSubnets(t *testing.T) {
	t.Parallel()
	env, logs := startAuto(t, true, elbtest.Options{NoDataPlanes: true})
	pub := env.PublicSubnets() // zones a, b, c
	base := subnetCount(t, env)

	// No known subnet: the first two zones, private for an internal NLB.
	nlb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("internal"),
		Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal, Subnets: []string{"subnet-xxx", "subnet-yyy"}})).LoadBalancers[0]
	if z := zonesOf(nlb); z["subnet-xxx"] != "us-east-1a" || z["subnet-yyy"] != "us-east-1b" {
		t.Errorf("internal NLB zones %v", z)
	}
	checkSubnet(t, env, "subnet-xxx", "us-east-1a", "10.0.48.0/20", false, "test")
	checkSubnet(t, env, "subnet-yyy", "us-east-1b", "10.0.64.0/20", false, "test")

	// One known subnet in zone b: the unknown ones take a and c, in
	// request order, public for an internet-facing ALB.
	alb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("web"),
		Subnets: []string{pub[1], "subnet-new1", "subnet-new2"}})).LoadBalancers[0]
	if z := zonesOf(alb); z[pub[1]] != "us-east-1b" || z["subnet-new1"] != "us-east-1a" || z["subnet-new2"] != "us-east-1c" {
		t.Errorf("ALB zones %v", z)
	}
	checkSubnet(t, env, "subnet-new1", "us-east-1a", "10.0.80.0/20", true, "test")
	checkSubnet(t, env, "subnet-new2", "us-east-1c", "10.0.96.0/20", true, "test")

	// Subnet mappings; the known subnet's zone is taken whatever its place.
	mapped := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("mapped"),
		Type: types.LoadBalancerTypeEnumNetwork, SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String("subnet-m1")}, {SubnetId: aws.String(pub[0])}}})).LoadBalancers[0]
	if z := zonesOf(mapped); z["subnet-m1"] != "us-east-1b" {
		t.Errorf("mapped NLB zones %v", z)
	}
	checkSubnet(t, env, "subnet-m1", "us-east-1b", "10.0.112.0/20", true, "test")

	// SetSubnets: in the load balancer's VPC, zone c free next to a and b.
	set := must[*sdk.SetSubnetsOutput](t)(env.ELBv2.SetSubnets(ctx, &sdk.SetSubnetsInput{LoadBalancerArn: nlb.LoadBalancerArn,
		Subnets: []string{"subnet-xxx", "subnet-yyy", "subnet-zzz"}}))
	if len(set.AvailabilityZones) != 3 {
		t.Errorf("SetSubnets zones %+v", set.AvailabilityZones)
	}
	checkSubnet(t, env, "subnet-zzz", "us-east-1c", "10.0.224.0/20", false, "test")

	ws := logs.warnings(t)
	for i, w := range []struct{ id, op, param string }{
		{"subnet-xxx", "CreateLoadBalancer", "Subnets"}, {"subnet-yyy", "CreateLoadBalancer", "Subnets"},
		{"subnet-new1", "CreateLoadBalancer", "Subnets"}, {"subnet-new2", "CreateLoadBalancer", "Subnets"},
		{"subnet-m1", "CreateLoadBalancer", "SubnetMappings[0].SubnetId"}, {"subnet-zzz", "SetSubnets", "Subnets"},
	} {
		wantWarning(t, ws, i, autoprovision.KindSubnet, w.id, w.op, w.param)
	}
	if len(ws) != 6 {
		t.Errorf("%d warnings, want 6: %v", len(ws), ws)
	}
	if ws[0]["zone"] != "us-east-1a" || ws[0]["cidr"] != "10.0.48.0/20" || ws[0]["vpc"] != env.VpcID() {
		t.Errorf("warning lacks the subnet's particulars: %v", ws[0])
	}

	// A second use creates nothing.
	must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("again"),
		Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal, Subnets: []string{"subnet-yyy", "subnet-xxx"}}))
	if n := subnetCount(t, env); n != base+6 {
		t.Errorf("%d subnets, want %d", n, base+6)
	}

	// DescribeSubnets with explicit IDs: private, zones as for a load
	// balancer (a is free next to the known c).
	out := must[*ec2sdk.DescribeSubnetsOutput](t)(env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{SubnetIds: []string{pub[2], "subnet-d1"}}))
	if len(out.Subnets) != 2 {
		t.Fatalf("DescribeSubnets %+v", out.Subnets)
	}
	checkSubnet(t, env, "subnet-d1", "us-east-1a", "10.0.240.0/20", false, "test")
	ws = logs.warnings(t)
	wantWarning(t, ws, 6, autoprovision.KindSubnet, "subnet-d1", "DescribeSubnets", "SubnetIds")
	must[*ec2sdk.DescribeSubnetsOutput](t)(env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-d1"}}))
	if n := len(logs.warnings(t)); n != 7 {
		t.Errorf("a second DescribeSubnets logged again: %d warnings", n)
	}

	// The VPC has no room left: the AWS error, with the reason, and
	// nothing created.
	_, err := env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-full"}})
	apiCode(t, err, "InvalidSubnetID.NotFound")
	if !strings.Contains(err.Error(), "auto-provision") {
		t.Errorf("error %v does not say why the subnet was not auto-provisioned", err)
	}
	// Malformed IDs are refused as before.
	_, err = env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{SubnetIds: []string{"nope"}})
	apiCode(t, err, "InvalidSubnetID.Malformed")
	_, err = env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("badid"), Subnets: []string{"my-subnet", pub[0]}})
	apiCode(t, err, "SubnetNotFound")
	if n := subnetCount(t, env); n != base+7 {
		t.Errorf("%d subnets, want %d", n, base+7)
	}
}

// TestAutoProvisionSecurityGroupsAndElasticIPs: unknown security groups
// and Elastic IPs are created once, with the documented shape.
func TestAutoProvisionSecurityGroupsAndElasticIPs(t *testing.T) {
	t.Parallel()
	env, logs := startAuto(t, true, elbtest.Options{NoDataPlanes: true})
	pub := env.PublicSubnets()
	groups := func() int {
		return len(must[*ec2sdk.DescribeSecurityGroupsOutput](t)(env.EC2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{})).SecurityGroups)
	}
	baseGroups := groups()

	alb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("sg"),
		Subnets: pub[:2], SecurityGroups: []string{"sg-xxx"}})).LoadBalancers[0]
	if !slices.Equal(alb.SecurityGroups, []string{"sg-xxx"}) {
		t.Errorf("load balancer groups %v", alb.SecurityGroups)
	}
	must[*sdk.SetSecurityGroupsOutput](t)(env.ELBv2.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: alb.LoadBalancerArn, SecurityGroups: []string{"sg-xxx", "sg-yyy"}}))
	must[*ec2sdk.DescribeSecurityGroupsOutput](t)(env.EC2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-zzz"}}))
	for _, id := range []string{"sg-xxx", "sg-yyy", "sg-zzz"} {
		out := must[*ec2sdk.DescribeSecurityGroupsOutput](t)(env.EC2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{filter("group-id", id)}}))
		if len(out.SecurityGroups) != 1 {
			t.Fatalf("group %s: %+v", id, out.SecurityGroups)
		}
		g := out.SecurityGroups[0]
		if aws.ToString(g.GroupName) != id || aws.ToString(g.VpcId) != env.VpcID() || !strings.Contains(aws.ToString(g.Description), "auto-provisioned") {
			t.Errorf("group %s: name %s vpc %s description %q", id, aws.ToString(g.GroupName), aws.ToString(g.VpcId), aws.ToString(g.Description))
		}
		if len(g.IpPermissions) != 1 || aws.ToString(g.IpPermissions[0].IpProtocol) != "-1" || len(g.IpPermissions[0].IpRanges) != 1 ||
			aws.ToString(g.IpPermissions[0].IpRanges[0].CidrIp) != "0.0.0.0/0" || len(g.IpPermissions[0].Ipv6Ranges) != 0 {
			t.Errorf("group %s inbound rules %+v, want all traffic from 0.0.0.0/0", id, g.IpPermissions)
		}
		if len(g.IpPermissionsEgress) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpProtocol) != "-1" {
			t.Errorf("group %s outbound rules %+v, want the default", id, g.IpPermissionsEgress)
		}
	}
	// A second use creates nothing.
	must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("sg2"),
		Subnets: pub[1:], SecurityGroups: []string{"sg-zzz", "sg-xxx"}}))
	if n := groups(); n != baseGroups+3 {
		t.Errorf("%d security groups, want %d", n, baseGroups+3)
	}

	// Elastic IPs of an internet-facing NLB's subnet mappings.
	nlb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("eip"),
		Type: types.LoadBalancerTypeEnumNetwork, SubnetMappings: []types.SubnetMapping{
			{SubnetId: aws.String(pub[0]), AllocationId: aws.String("eipalloc-xxx")},
			{SubnetId: aws.String(pub[1]), AllocationId: aws.String("eipalloc-yyy")}}})).LoadBalancers[0]
	addrs := must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-xxx", "eipalloc-yyy"}})).Addresses
	if len(addrs) != 2 {
		t.Fatalf("addresses %+v", addrs)
	}
	byAlloc := map[string]ec2types.Address{}
	for _, a := range addrs {
		byAlloc[aws.ToString(a.AllocationId)] = a
		ip, err := netip.ParseAddr(aws.ToString(a.PublicIp))
		if err != nil || !state.ElasticIPPool.Contains(ip) || a.Domain != ec2types.DomainTypeVpc || a.NetworkInterfaceId == nil {
			t.Errorf("address %+v: want an associated vpc address of %s", a, state.ElasticIPPool)
		}
	}
	for _, z := range nlb.AvailabilityZones {
		la := z.LoadBalancerAddresses[0]
		if a, ok := byAlloc[aws.ToString(la.AllocationId)]; !ok || aws.ToString(la.IpAddress) != aws.ToString(a.PublicIp) {
			t.Errorf("zone %s listens on %s (%s), not on its Elastic IP", aws.ToString(z.ZoneName), aws.ToString(la.IpAddress), aws.ToString(la.AllocationId))
		}
	}
	free := must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-zzz"}})).Addresses
	if len(free) != 1 || free[0].NetworkInterfaceId != nil || free[0].AssociationId != nil {
		t.Errorf("described address %+v, want one not associated", free)
	}
	// AllocateAddress draws from the same pool: another address.
	alloc := must[*ec2sdk.AllocateAddressOutput](t)(env.EC2.AllocateAddress(ctx, &ec2sdk.AllocateAddressInput{}))
	all := must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-xxx"}})).Addresses
	seen := map[string]bool{aws.ToString(alloc.PublicIp): true}
	for _, a := range append(addrs, free...) {
		if seen[aws.ToString(a.PublicIp)] {
			t.Errorf("address %s handed out twice", aws.ToString(a.PublicIp))
		}
		seen[aws.ToString(a.PublicIp)] = true
	}
	if n := len(must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{})).Addresses); n != 4 || len(all) != 1 {
		t.Errorf("%d addresses, want 4 (a second use creates none)", n)
	}

	ws := logs.warnings(t)
	for i, w := range []struct{ kind, id, op, param string }{
		{autoprovision.KindSecurityGroup, "sg-xxx", "CreateLoadBalancer", "SecurityGroups"},
		{autoprovision.KindSecurityGroup, "sg-yyy", "SetSecurityGroups", "SecurityGroups"},
		{autoprovision.KindSecurityGroup, "sg-zzz", "DescribeSecurityGroups", "GroupIds"},
		{autoprovision.KindElasticIP, "eipalloc-xxx", "CreateLoadBalancer", "SubnetMappings[0].AllocationId"},
		{autoprovision.KindElasticIP, "eipalloc-yyy", "CreateLoadBalancer", "SubnetMappings[1].AllocationId"},
		{autoprovision.KindElasticIP, "eipalloc-zzz", "DescribeAddresses", "AllocationIds"},
	} {
		wantWarning(t, ws, i, w.kind, w.id, w.op, w.param)
	}
	if len(ws) != 6 {
		t.Errorf("%d warnings, want 6: %v", len(ws), ws)
	}
	if !strings.Contains(fmt.Sprint(ws[0]["created"]), "all inbound traffic from 0.0.0.0/0") {
		t.Errorf("the security group warning does not say it admits everything: %v", ws[0])
	}
}

// TestAutoProvisionDualStackVPC: in a dual-stack VPC a created group also
// admits ::/0 and a created subnet gets a /64; a nearly full VPC gets a
// block smaller than /20; without a cluster name no cluster tag.
func TestAutoProvisionDualStackVPC(t *testing.T) {
	t.Parallel()
	f := &facts.Facts{Region: "us-east-1", AccountID: facts.DefaultAccountID,
		VPCs: []facts.VPC{{ID: "vpc-0d5", CIDR: "10.1.0.0/16", IPv6CIDR: "2600:1f18:abcd:1200::/56"}}}
	for i, c := range []string{"10.1.0.0/17", "10.1.128.0/18", "10.1.192.0/19", "10.1.224.0/20", "10.1.240.0/21"} {
		f.Subnets = append(f.Subnets, facts.Subnet{ID: fmt.Sprintf("subnet-0d%d", i), VpcID: "vpc-0d5", AvailabilityZone: "us-east-1a", CIDR: c,
			IPv6CIDR: fmt.Sprintf("2600:1f18:abcd:12%02x::/64", i)})
	}
	env, logs := startAuto(t, true, elbtest.Options{NoDataPlanes: true, Facts: f})
	out := must[*ec2sdk.DescribeSubnetsOutput](t)(env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-v6"}}))
	sn := out.Subnets[0]
	if aws.ToString(sn.CidrBlock) != "10.1.248.0/21" || len(sn.Ipv6CidrBlockAssociationSet) != 1 ||
		aws.ToString(sn.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock) != "2600:1f18:abcd:1205::/64" || aws.ToString(sn.AvailabilityZone) != "us-east-1a" {
		t.Errorf("subnet %s %s %+v", aws.ToString(sn.CidrBlock), aws.ToString(sn.AvailabilityZone), sn.Ipv6CidrBlockAssociationSet)
	}
	if tags := tagMap(sn.Tags); !mapsEqual(tags, map[string]string{"Name": "subnet-v6", "kubernetes.io/role/internal-elb": "1"}) {
		t.Errorf("tags %v", tags)
	}
	g := must[*ec2sdk.DescribeSecurityGroupsOutput](t)(env.EC2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-v6"}})).SecurityGroups[0]
	var v4, v6 []string
	for _, p := range g.IpPermissions {
		for _, r := range p.IpRanges {
			v4 = append(v4, aws.ToString(p.IpProtocol)+" "+aws.ToString(r.CidrIp))
		}
		for _, r := range p.Ipv6Ranges {
			v6 = append(v6, aws.ToString(p.IpProtocol)+" "+aws.ToString(r.CidrIpv6))
		}
	}
	if !slices.Equal(v4, []string{"-1 0.0.0.0/0"}) || !slices.Equal(v6, []string{"-1 ::/0"}) {
		t.Errorf("dual-stack group rules %v %v", v4, v6)
	}
	if n := len(logs.warnings(t)); n != 2 {
		t.Errorf("%d warnings, want 2", n)
	}
}

// TestAutoProvisionCertificatesAndWebACLs: certificates listeners and
// ACM's reads name, in any region and account, and web ACLs of another
// region, are created once and described afterwards.
func TestAutoProvisionCertificatesAndWebACLs(t *testing.T) {
	t.Parallel()
	env, logs := startAuto(t, true, elbtest.Options{NoDataPlanes: true})
	pub := env.PublicSubnets()
	lb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("tls"), Subnets: pub[:2]})).LoadBalancers[0]
	cert := func(name string) string { return "arn:aws:acm:ap-northeast-2:123456789012:certificate/" + name }
	// examples/alb-ingress-full.yaml names an account of nine digits.
	short := "arn:aws:acm:ap-northeast-2:123456789:certificate/xxx"
	fixed := []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}
	l := must[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443), Certificates: []types.Certificate{{CertificateArn: aws.String(cert("grpc"))}}, DefaultActions: fixed})).Listeners[0]
	must[*sdk.AddListenerCertificatesOutput](t)(env.ELBv2.AddListenerCertificates(ctx, &sdk.AddListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(short)}}}))
	d := must[*acmsdk.DescribeCertificateOutput](t)(env.ACM.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(cert("grpc"))})).Certificate
	if aws.ToString(d.DomainName) != "*.us-east-1.elb.localhost" || d.Status != "ISSUED" || d.Type != "AMAZON_ISSUED" ||
		!slices.Equal(d.InUseBy, []string{aws.ToString(lb.LoadBalancerArn)}) {
		t.Errorf("listener's certificate %s %s %s in use by %v", aws.ToString(d.DomainName), d.Status, d.Type, d.InUseBy)
	}
	must[*sdk.ModifyListenerOutput](t)(env.ELBv2.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(cert("modified"))}}}))
	// ACM's own reads of unknown certificates, any region and account.
	d = must[*acmsdk.DescribeCertificateOutput](t)(env.ACM.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String("arn:aws:acm:eu-west-1:111122223333:certificate/described")})).Certificate
	if aws.ToString(d.DomainName) != "*.us-east-1.elb.localhost" || d.Status != "ISSUED" || len(d.InUseBy) != 0 {
		t.Errorf("described certificate %+v", d)
	}
	g := must[*acmsdk.GetCertificateOutput](t)(env.ACM.GetCertificate(ctx, &acmsdk.GetCertificateInput{CertificateArn: aws.String(cert("fetched"))}))
	if !strings.HasPrefix(aws.ToString(g.Certificate), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("fetched certificate %q", aws.ToString(g.Certificate))
	}
	tags := must[*acmsdk.ListTagsForCertificateOutput](t)(env.ACM.ListTagsForCertificate(ctx, &acmsdk.ListTagsForCertificateInput{CertificateArn: aws.String(cert("tagged"))}))
	if tags.Tags == nil || len(tags.Tags) != 0 {
		t.Errorf("tags of a new certificate %+v", tags.Tags)
	}
	// A second use creates nothing.
	must[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn,
		Protocol: types.ProtocolEnumHttps, Port: aws.Int32(8443), Certificates: []types.Certificate{{CertificateArn: aws.String(cert("grpc"))}}, DefaultActions: fixed}))
	must[*acmsdk.DescribeCertificateOutput](t)(env.ACM.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(cert("fetched"))}))
	if n := len(must[*acmsdk.ListCertificatesOutput](t)(env.ACM.ListCertificates(ctx, &acmsdk.ListCertificatesInput{})).CertificateSummaryList); n != 6 {
		t.Errorf("%d certificates, want 6", n)
	}
	// Not an ACM ARN: still CertificateNotFound.
	_, err := env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps, Port: aws.Int32(9443),
		Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:iam::000000000000:server-certificate/x")}}, DefaultActions: fixed})
	apiCode(t, err, "CertificateNotFound")

	// A web ACL of another region and account.
	waf := wafsdk.NewFromConfig(env.Config)
	acl := "arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/web/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
	must[*wafsdk.AssociateWebACLOutput](t)(waf.AssociateWebACL(ctx, &wafsdk.AssociateWebACLInput{ResourceArn: lb.LoadBalancerArn, WebACLArn: aws.String(acl)}))
	got := must[*wafsdk.GetWebACLForResourceOutput](t)(waf.GetWebACLForResource(ctx, &wafsdk.GetWebACLForResourceInput{ResourceArn: lb.LoadBalancerArn}))
	if got.WebACL == nil || aws.ToString(got.WebACL.ARN) != acl || aws.ToString(got.WebACL.Name) != "web" {
		t.Errorf("web ACL for the load balancer %+v", got.WebACL)
	}
	for _, in := range []*wafsdk.GetWebACLInput{
		{ARN: aws.String(acl)},
		{Name: aws.String("web"), Id: aws.String("a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"), Scope: waftypes.ScopeRegional},
	} {
		w := must[*wafsdk.GetWebACLOutput](t)(waf.GetWebACL(ctx, in))
		if w.WebACL == nil || aws.ToString(w.WebACL.ARN) != acl || aws.ToString(w.WebACL.Id) != "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111" || aws.ToString(w.LockToken) == "" {
			t.Errorf("GetWebACL %+v: %+v", in, w)
		}
	}
	_, err = waf.GetWebACL(ctx, &wafsdk.GetWebACLInput{Name: aws.String("web"), Id: aws.String("other"), Scope: waftypes.ScopeRegional})
	apiCode(t, err, "WAFNonexistentItemException")
	// A second association creates no second record.
	lb2 := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("tls2"), Subnets: pub[1:]})).LoadBalancers[0]
	must[*wafsdk.AssociateWebACLOutput](t)(waf.AssociateWebACL(ctx, &wafsdk.AssociateWebACLInput{ResourceArn: lb2.LoadBalancerArn, WebACLArn: aws.String(acl)}))
	var records int
	if err := env.Server.Store().View(func(tx *state.Tx) error { records = state.Count(tx, state.WebACLs); return nil }); err != nil || records != 1 {
		t.Errorf("%d web ACL records (%v), want 1", records, err)
	}

	ws := logs.warnings(t)
	for i, w := range []struct{ kind, id, op, param string }{
		{autoprovision.KindCertificate, cert("grpc"), "CreateListener", "Certificates[0].CertificateArn"},
		{autoprovision.KindCertificate, short, "AddListenerCertificates", "Certificates[0].CertificateArn"},
		{autoprovision.KindCertificate, cert("modified"), "ModifyListener", "Certificates[0].CertificateArn"},
		{autoprovision.KindCertificate, "arn:aws:acm:eu-west-1:111122223333:certificate/described", "DescribeCertificate", "CertificateArn"},
		{autoprovision.KindCertificate, cert("fetched"), "GetCertificate", "CertificateArn"},
		{autoprovision.KindCertificate, cert("tagged"), "ListTagsForCertificate", "CertificateArn"},
		{autoprovision.KindWebACL, acl, "AssociateWebACL", "WebACLArn"},
	} {
		wantWarning(t, ws, i, w.kind, w.id, w.op, w.param)
	}
	if len(ws) != 7 {
		t.Errorf("%d warnings, want 7: %v", len(ws), ws)
	}
	if ws[0]["domain"] != "*.us-east-1.elb.localhost" {
		t.Errorf("certificate warning without its domain: %v", ws[0])
	}
}

// TestAutoProvisionOff: without the option every unknown reference is
// AWS's error, and nothing is created.
func TestAutoProvisionOff(t *testing.T) {
	t.Parallel()
	env, logs := startAuto(t, false, elbtest.Options{NoDataPlanes: true})
	pub := env.PublicSubnets()
	alb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: pub[:2]})).LoadBalancers[0]
	fixed := []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}
	cert := "arn:aws:acm:ap-northeast-2:123456789012:certificate/grpc"
	waf := wafsdk.NewFromConfig(env.Config)
	for _, tc := range []struct {
		name, code string
		call       func() error
	}{
		{"CreateLoadBalancer subnet", "SubnetNotFound", func() error {
			_, err := env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("x"), Type: types.LoadBalancerTypeEnumNetwork,
				Scheme: types.LoadBalancerSchemeEnumInternal, Subnets: []string{"subnet-xxx", "subnet-yyy"}})
			return err
		}},
		{"SetSubnets", "SubnetNotFound", func() error {
			_, err := env.ELBv2.SetSubnets(ctx, &sdk.SetSubnetsInput{LoadBalancerArn: alb.LoadBalancerArn, Subnets: []string{pub[0], "subnet-xxx"}})
			return err
		}},
		{"DescribeSubnets", "InvalidSubnetID.NotFound", func() error {
			_, err := env.EC2.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-xxx"}})
			return err
		}},
		{"CreateLoadBalancer security group", "InvalidSecurityGroup", func() error {
			_, err := env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: pub[:2], SecurityGroups: []string{"sg-xxx"}})
			return err
		}},
		{"SetSecurityGroups", "InvalidSecurityGroup", func() error {
			_, err := env.ELBv2.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: alb.LoadBalancerArn, SecurityGroups: []string{"sg-xxx"}})
			return err
		}},
		{"DescribeSecurityGroups", "InvalidGroup.NotFound", func() error {
			_, err := env.EC2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-xxx"}})
			return err
		}},
		{"CreateLoadBalancer Elastic IP", "AllocationIdNotFound", func() error {
			_, err := env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("x"), Type: types.LoadBalancerTypeEnumNetwork,
				SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(pub[0]), AllocationId: aws.String("eipalloc-xxx")}}})
			return err
		}},
		{"DescribeAddresses", "InvalidAllocationID.NotFound", func() error {
			_, err := env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-xxx"}})
			return err
		}},
		{"CreateListener certificate", "CertificateNotFound", func() error {
			_, err := env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: alb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps,
				Port: aws.Int32(443), Certificates: []types.Certificate{{CertificateArn: aws.String(cert)}}, DefaultActions: fixed})
			return err
		}},
		{"DescribeCertificate", "ResourceNotFoundException", func() error {
			_, err := env.ACM.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(cert)})
			return err
		}},
		{"GetCertificate", "ResourceNotFoundException", func() error {
			_, err := env.ACM.GetCertificate(ctx, &acmsdk.GetCertificateInput{CertificateArn: aws.String(cert)})
			return err
		}},
		{"ListTagsForCertificate", "ResourceNotFoundException", func() error {
			_, err := env.ACM.ListTagsForCertificate(ctx, &acmsdk.ListTagsForCertificateInput{CertificateArn: aws.String(cert)})
			return err
		}},
		{"AssociateWebACL", "WAFNonexistentItemException", func() error {
			_, err := waf.AssociateWebACL(ctx, &wafsdk.AssociateWebACLInput{ResourceArn: alb.LoadBalancerArn,
				WebACLArn: aws.String("arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/web/1")})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { apiCode(t, tc.call(), tc.code) })
	}
	if sn := subnet(t, env, "subnet-xxx"); sn != nil {
		t.Errorf("subnet created without the option: %+v", sn)
	}
	if n := len(must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{})).Addresses); n != 0 {
		t.Errorf("%d addresses created without the option", n)
	}
	if ws := logs.warnings(t); len(ws) != 0 {
		t.Errorf("warnings without the option: %v", ws)
	}
}

// TestAutoProvisionFailedRequestCreatesNothing: a request that names
// unknown references and then fails validation leaves nothing behind.
func TestAutoProvisionFailedRequestCreatesNothing(t *testing.T) {
	t.Parallel()
	env, logs := startAuto(t, true, elbtest.Options{NoDataPlanes: true})
	pub := env.PublicSubnets()
	alb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: pub[:2]})).LoadBalancers[0]
	nlb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("tcp"), Subnets: pub[:2],
		Type: types.LoadBalancerTypeEnumNetwork})).LoadBalancers[0]
	waf := wafsdk.NewFromConfig(env.Config)
	acl := "arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/never/1"
	cert := "arn:aws:acm:ap-northeast-2:123456789012:certificate/never"
	baseSubnets := subnetCount(t, env)

	// An ALB needs two zones: the one unknown subnet is not kept.
	_, err := env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("lonely"), Subnets: []string{"subnet-lonely"}})
	apiCode(t, err, "ValidationError")
	// The Elastic IP named twice: the subnets and the first Elastic IP
	// were provisioned before the second mapping failed.
	_, err = env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("twice"), Type: types.LoadBalancerTypeEnumNetwork,
		SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String("subnet-m1"), AllocationId: aws.String("eipalloc-m")},
			{SubnetId: aws.String("subnet-m2"), AllocationId: aws.String("eipalloc-m")}}})
	apiCode(t, err, "InvalidConfigurationRequest")
	// The name is taken with other settings: the new group is not kept.
	_, err = env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: pub[1:], SecurityGroups: []string{"sg-dup"}})
	apiCode(t, err, "DuplicateLoadBalancerName")
	// SetSecurityGroups on an NLB created without groups.
	_, err = env.ELBv2.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: nlb.LoadBalancerArn, SecurityGroups: []string{"sg-nlb"}})
	apiCode(t, err, "InvalidConfigurationRequest")
	// An unknown SSL policy after the certificate.
	_, err = env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: alb.LoadBalancerArn, Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443),
		SslPolicy: aws.String("nope"), Certificates: []types.Certificate{{CertificateArn: aws.String(cert)}},
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}})
	apiCode(t, err, "SSLPolicyNotFound")
	// A web ACL for a network load balancer.
	_, err = waf.AssociateWebACL(ctx, &wafsdk.AssociateWebACLInput{ResourceArn: nlb.LoadBalancerArn, WebACLArn: aws.String(acl)})
	apiCode(t, err, "WAFInvalidParameterException")

	if n := subnetCount(t, env); n != baseSubnets {
		t.Errorf("%d subnets after failed requests, want %d", n, baseSubnets)
	}
	for _, id := range []string{"subnet-lonely", "subnet-m1", "subnet-m2"} {
		if subnet(t, env, id) != nil {
			t.Errorf("%s kept", id)
		}
	}
	if n := len(must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{})).Addresses); n != 0 {
		t.Errorf("%d Elastic IPs kept", n)
	}
	gs := must[*ec2sdk.DescribeSecurityGroupsOutput](t)(env.EC2.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{filter("group-id", "sg-dup", "sg-nlb")}}))
	if len(gs.SecurityGroups) != 0 {
		t.Errorf("security groups kept: %+v", gs.SecurityGroups)
	}
	for _, c := range must[*acmsdk.ListCertificatesOutput](t)(env.ACM.ListCertificates(ctx, &acmsdk.ListCertificatesInput{})).CertificateSummaryList {
		if aws.ToString(c.CertificateArn) == cert {
			t.Errorf("certificate %s kept", cert)
		}
	}
	_, err = waf.GetWebACL(ctx, &wafsdk.GetWebACLInput{ARN: aws.String(acl)})
	apiCode(t, err, "WAFNonexistentItemException")
	if ws := logs.warnings(t); len(ws) != 0 {
		t.Errorf("failed requests logged creations: %v", ws)
	}
}

// TestAutoProvisionedElasticIPCarriesNLBTraffic: an NLB created with an
// auto-provisioned Elastic IP listens on that address and forwards.
func TestAutoProvisionedElasticIPCarriesNLBTraffic(t *testing.T) {
	env, _ := startAuto(t, true, elbtest.Options{})
	echoVPC := netip.MustParseAddr("10.0.0.93")
	echoLn, err := net.Listen("tcp", net.JoinHostPort(vpcaddr.Default().ToHost(echoVPC).String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echoLn.Close() })
	go func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	nlb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("game"),
		Type: types.LoadBalancerTypeEnumNetwork, SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(env.PublicSubnets()[0]), AllocationId: aws.String("eipalloc-game")}}})).LoadBalancers[0]
	eip := must[*ec2sdk.DescribeAddressesOutput](t)(env.EC2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{AllocationIds: []string{"eipalloc-game"}})).Addresses[0]
	addr := aws.ToString(eip.PublicIp)
	if got := aws.ToString(nlb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress); got != addr {
		t.Fatalf("NLB address %s, Elastic IP %s", got, addr)
	}
	tg := must[*sdk.CreateTargetGroupOutput](t)(env.ELBv2.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{Name: aws.String("game"),
		Protocol: types.ProtocolEnumTcp, Port: aws.Int32(int32(echoLn.Addr().(*net.TCPAddr).Port)), VpcId: aws.String(env.VpcID()), TargetType: types.TargetTypeEnumIp,
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})).TargetGroups[0]
	must[*sdk.RegisterTargetsOutput](t)(env.ELBv2.RegisterTargets(ctx, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
		Targets: []types.TargetDescription{{Id: aws.String(echoVPC.String())}}}))
	port := freePort(t, addr)
	must[*sdk.CreateListenerOutput](t)(env.ELBv2.CreateListener(ctx, &sdk.CreateListenerInput{LoadBalancerArn: nlb.LoadBalancerArn,
		Protocol: types.ProtocolEnumTcp, Port: aws.Int32(port), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}}))
	poll(t, "stream through the NLB on its Elastic IP", func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, fmt.Sprint(port)), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			return fmt.Errorf("echo %q: %v", buf, err)
		}
		return nil
	})
}
