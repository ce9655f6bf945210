package elbv2_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/service/elbv2"
	"github.com/elbowlb/elbow/internal/elb/state"
)

func TestServiceDescriptor(t *testing.T) {
	handlerFor(t, elbv2.New(elbv2.Config{Store: svctestStore(t)}))
}

func TestCreateLoadBalancerShapes(t *testing.T) {
	e := start(t)
	alb := e.alb(t, "web", func(in *sdk.CreateLoadBalancerInput) {
		in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}
	})
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/[0-9a-f]{16}$`).MatchString(*alb.LoadBalancerArn) {
		t.Errorf("ALB ARN %s", *alb.LoadBalancerArn)
	}
	id := (*alb.LoadBalancerArn)[strings.LastIndexByte(*alb.LoadBalancerArn, '/')+1:]
	if want := "web-" + id + ".us-east-1.elb.localhost"; *alb.DNSName != want {
		t.Errorf("DNS name %s, want %s", *alb.DNSName, want)
	}
	if *alb.CanonicalHostedZoneId != "Z35SXDOTRQ7X7K" || alb.Type != "application" || alb.Scheme != "internet-facing" || alb.IpAddressType != "ipv4" {
		t.Errorf("ALB fields %+v", alb)
	}
	if alb.State.Code != types.LoadBalancerStateEnumProvisioning {
		t.Errorf("new ALB state %s, want provisioning", alb.State.Code)
	}
	if *alb.VpcId != e.vpc || !slices.Equal(alb.SecurityGroups, []string{e.defaultSG}) {
		t.Errorf("ALB VPC %s SGs %v, want %s [%s]", *alb.VpcId, alb.SecurityGroups, e.vpc, e.defaultSG)
	}
	if len(alb.AvailabilityZones) != 2 {
		t.Fatalf("zones %+v", alb.AvailabilityZones)
	}
	for _, z := range alb.AvailabilityZones {
		a := netip.MustParseAddr(*z.LoadBalancerAddresses[0].IpAddress)
		if !state.LoadBalancerPool.Contains(a) {
			t.Errorf("zone %s address %s outside the load balancer pool", *z.ZoneName, a)
		}
	}
	nlb := e.nlb(t, "tcp", func(in *sdk.CreateLoadBalancerInput) {
		in.Scheme = types.LoadBalancerSchemeEnumInternal
		in.Subnets = e.private
	})
	if !strings.Contains(*nlb.LoadBalancerArn, ":loadbalancer/net/tcp/") || !strings.HasPrefix(*nlb.DNSName, "internal-tcp-") ||
		*nlb.CanonicalHostedZoneId != "Z26RNL4JYFTOTI" || len(nlb.SecurityGroups) != 0 {
		t.Errorf("NLB %+v", nlb)
	}
	for i, z := range nlb.AvailabilityZones {
		pa := netip.MustParseAddr(*z.LoadBalancerAddresses[0].PrivateIPv4Address)
		sn := e.facts.Subnets[2*i+1]
		if *z.SubnetId != sn.ID || !netip.MustParsePrefix(sn.CIDR).Contains(pa) {
			t.Errorf("NLB zone %s subnet %s private address %s, want one of %s", *z.ZoneName, *z.SubnetId, pa, sn.CIDR)
		}
	}
	gw := e.alb(t, "gw", func(in *sdk.CreateLoadBalancerInput) { in.Type = types.LoadBalancerTypeEnumGateway })
	if !strings.Contains(*gw.LoadBalancerArn, ":loadbalancer/gwy/gw/") {
		t.Errorf("GWLB ARN %s", *gw.LoadBalancerArn)
	}

	// Provisioning, then active once the delay has passed.
	e.clock.Add(elbv2.DefaultProvisioningDelay)
	out := must[*sdk.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{Names: []string{"web"}}))
	if out.LoadBalancers[0].State.Code != types.LoadBalancerStateEnumActive {
		t.Errorf("state after the delay %s, want active", out.LoadBalancers[0].State.Code)
	}
	if err := e.svc.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := e.store().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.LoadBalancers[*alb.LoadBalancerArn].State; got != "active" {
		t.Errorf("stored state after Reap %s, want active", got)
	}
	tags := must[*sdk.DescribeTagsOutput](t)(e.elb.DescribeTags(ctx, &sdk.DescribeTagsInput{ResourceArns: []string{*alb.LoadBalancerArn}}))
	if m := tagMap(tags.TagDescriptions[0].Tags); len(m) != 1 || m["team"] != "a" {
		t.Errorf("tags %v", m)
	}
}

func TestCreateLoadBalancerIdempotent(t *testing.T) {
	e := start(t)
	a := e.alb(t, "same")
	b := e.alb(t, "same")
	if *a.LoadBalancerArn != *b.LoadBalancerArn {
		t.Fatalf("second create made %s, want %s", *b.LoadBalancerArn, *a.LoadBalancerArn)
	}
	_, err := e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("same"), Subnets: e.public, Scheme: types.LoadBalancerSchemeEnumInternetFacing})
	apiErr(t, err, "DuplicateLoadBalancerName")
	_, err = e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("same"), Subnets: e.public[:2], Type: types.LoadBalancerTypeEnumNetwork})
	apiErr(t, err, "DuplicateLoadBalancerName")
}

func TestCreateLoadBalancerErrors(t *testing.T) {
	e := start(t)
	eip := must[*ec2sdk.AllocateAddressOutput](t)(e.ec2.AllocateAddress(ctx, &ec2sdk.AllocateAddressInput{}))
	otherSG := must[*ec2sdk.CreateSecurityGroupOutput](t)(e.ec2.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{
		GroupName: aws.String("lb"), Description: aws.String("lb"), VpcId: aws.String(e.vpc)}))
	_ = otherSG
	long := strings.Repeat("a", 33)
	cases := []struct {
		name string
		in   sdk.CreateLoadBalancerInput
		code string
	}{
		{"too long", sdk.CreateLoadBalancerInput{Name: aws.String(long), Subnets: e.public[:2]}, "ValidationError"},
		{"bad char", sdk.CreateLoadBalancerInput{Name: aws.String("a_b"), Subnets: e.public[:2]}, "ValidationError"},
		{"leading hyphen", sdk.CreateLoadBalancerInput{Name: aws.String("-ab"), Subnets: e.public[:2]}, "ValidationError"},
		{"trailing hyphen", sdk.CreateLoadBalancerInput{Name: aws.String("ab-"), Subnets: e.public[:2]}, "ValidationError"},
		{"internal prefix", sdk.CreateLoadBalancerInput{Name: aws.String("internal-x"), Subnets: e.public[:2]}, "ValidationError"},
		{"one zone ALB", sdk.CreateLoadBalancerInput{Name: aws.String("one"), Subnets: e.public[:1]}, "ValidationError"},
		{"unknown subnet", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: []string{e.public[0], "subnet-0123456789abcdef0"}}, "SubnetNotFound"},
		{"two subnets one zone", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: []string{e.public[0], e.private[0]}}, "InvalidConfigurationRequest"},
		{"subnets and mappings", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(e.public[2])}}}, "ValidationError"},
		{"unknown SG", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], SecurityGroups: []string{"sg-0123456789abcdef0"}}, "InvalidSecurityGroup"},
		{"bad scheme", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], Scheme: "public"}, "InvalidScheme"},
		{"bad type", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], Type: "classic"}, "ValidationError"},
		{"EIP on ALB", sdk.CreateLoadBalancerInput{Name: aws.String("x"), SubnetMappings: []types.SubnetMapping{
			{SubnetId: aws.String(e.public[0]), AllocationId: eip.AllocationId}, {SubnetId: aws.String(e.public[1])}}}, "InvalidConfigurationRequest"},
		{"unknown EIP", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Type: types.LoadBalancerTypeEnumNetwork, SubnetMappings: []types.SubnetMapping{
			{SubnetId: aws.String(e.public[0]), AllocationId: aws.String("eipalloc-0123456789abcdef0")}}}, "AllocationIdNotFound"},
		{"EIP on internal NLB", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal,
			SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(e.public[0]), AllocationId: eip.AllocationId}}}, "InvalidConfigurationRequest"},
		{"private IP outside subnet", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal,
			SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(e.private[0]), PrivateIPv4Address: aws.String("10.0.200.10")}}}, "InvalidConfigurationRequest"},
		{"reserved private IP", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal,
			SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(e.private[0]), PrivateIPv4Address: aws.String("10.0.128.1")}}}, "InvalidConfigurationRequest"},
		{"dualstack without IPv6", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], IpAddressType: types.IpAddressTypeDualstack}, "InvalidSubnet"},
		{"SG on gateway", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], Type: types.LoadBalancerTypeEnumGateway, SecurityGroups: []string{e.defaultSG}}, "ValidationError"},
		{"aws tag", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}, "ValidationError"},
		{"duplicate tag", sdk.CreateLoadBalancerInput{Name: aws.String("x"), Subnets: e.public[:2], Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}}}, "DuplicateTagKeys"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.elb.CreateLoadBalancer(ctx, &c.in)
			apiErr(t, err, c.code)
		})
	}
	// Nothing was half-created.
	out := must[*sdk.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{}))
	if len(out.LoadBalancers) != 0 {
		t.Errorf("failed creates left %d load balancers", len(out.LoadBalancers))
	}
	snap, _ := e.store().Snapshot()
	if n := countLoopback(t, e); n != 0 {
		t.Errorf("failed creates left %d loopback allocations (%d LBs)", n, len(snap.LoadBalancers))
	}
}

func countLoopback(t *testing.T, e *env) int {
	t.Helper()
	n := 0
	err := e.store().View(func(tx *state.Tx) error {
		all, err := state.List(tx, state.LoopbackAllocations)
		for _, a := range all {
			if a.Pool == state.LoadBalancerPool.String() {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNLBSubnetMappings(t *testing.T) {
	e := start(t)
	eip := must[*ec2sdk.AllocateAddressOutput](t)(e.ec2.AllocateAddress(ctx, &ec2sdk.AllocateAddressInput{}))
	lb := e.nlb(t, "static", func(in *sdk.CreateLoadBalancerInput) {
		in.Subnets = nil
		in.SubnetMappings = []types.SubnetMapping{{SubnetId: aws.String(e.public[0]), AllocationId: eip.AllocationId}, {SubnetId: aws.String(e.public[1])}}
	})
	z := lb.AvailabilityZones[0].LoadBalancerAddresses[0]
	if *z.IpAddress != *eip.PublicIp || *z.AllocationId != *eip.AllocationId {
		t.Errorf("zone address %+v, want the Elastic IP %s", z, *eip.PublicIp)
	}
	// The Elastic IP is in use.
	_, err := e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("other"), Type: types.LoadBalancerTypeEnumNetwork,
		SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(e.public[0]), AllocationId: eip.AllocationId}}})
	apiErr(t, err, "InvalidConfigurationRequest")
	addrs := must[*ec2sdk.DescribeAddressesOutput](t)(e.ec2.DescribeAddresses(ctx, &ec2sdk.DescribeAddressesInput{AllocationIds: []string{*eip.AllocationId}}))
	if addrs.Addresses[0].NetworkInterfaceId == nil {
		t.Errorf("EC2 does not show the Elastic IP associated: %+v", addrs.Addresses[0])
	}
	// A given private address is used.
	in := e.nlb(t, "private", func(in *sdk.CreateLoadBalancerInput) {
		in.Scheme = types.LoadBalancerSchemeEnumInternal
		in.Subnets = nil
		in.SubnetMappings = []types.SubnetMapping{{SubnetId: aws.String(e.private[0]), PrivateIPv4Address: aws.String("10.0.128.50")}}
	})
	if got := *in.AvailabilityZones[0].LoadBalancerAddresses[0].PrivateIPv4Address; got != "10.0.128.50" {
		t.Errorf("private address %s", got)
	}
	_, err = e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("clash"), Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal,
		SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String(e.private[0]), PrivateIPv4Address: aws.String("10.0.128.50")}}})
	apiErr(t, err, "InvalidConfigurationRequest")

	// Deleting releases the Elastic IP for another load balancer.
	must[*sdk.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}))
	e.nlb(t, "again", func(in *sdk.CreateLoadBalancerInput) {
		in.Subnets = nil
		in.SubnetMappings = []types.SubnetMapping{{SubnetId: aws.String(e.public[0]), AllocationId: eip.AllocationId}}
	})
}

func TestDeleteLoadBalancer(t *testing.T) {
	e := start(t)
	lb := e.alb(t, "gone")
	tg := e.tg(t, "tg", types.ProtocolEnumHttp, 80)
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, forward(tg.TargetGroupArn))
	before := countLoopback(t, e)
	must[*sdk.ModifyLoadBalancerAttributesOutput](t)(e.elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: lb.LoadBalancerArn, Attributes: []types.LoadBalancerAttribute{{Key: aws.String("deletion_protection.enabled"), Value: aws.String("true")}}}))
	_, err := e.elb.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn})
	apiErr(t, err, "OperationNotPermitted")
	must[*sdk.ModifyLoadBalancerAttributesOutput](t)(e.elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: lb.LoadBalancerArn, Attributes: []types.LoadBalancerAttribute{{Key: aws.String("deletion_protection.enabled"), Value: aws.String("false")}}}))
	must[*sdk.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}))
	if after := countLoopback(t, e); after != before-2 {
		t.Errorf("loopback allocations %d -> %d, want 2 released", before, after)
	}
	_, err = e.elb.DescribeListeners(ctx, &sdk.DescribeListenersInput{ListenerArns: []string{*l.ListenerArn}})
	apiErr(t, err, "ListenerNotFound")
	_, err = e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lb.LoadBalancerArn}})
	apiErr(t, err, "LoadBalancerNotFound")
	_, err = e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{Names: []string{"gone"}})
	apiErr(t, err, "LoadBalancerNotFound")
	// Deleting again succeeds; the target group is free again.
	must[*sdk.DeleteLoadBalancerOutput](t)(e.elb.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}))
	must[*sdk.DeleteTargetGroupOutput](t)(e.elb.DeleteTargetGroup(ctx, &sdk.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn}))
	_, err = e.elb.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: aws.String("arn:aws:s3:::x")})
	apiErr(t, err, "ValidationError")
}

func TestDescribeLoadBalancersPagination(t *testing.T) {
	e := start(t)
	var want []string
	for i := range 7 {
		e.clock.Add(time.Second)
		want = append(want, *e.alb(t, fmt.Sprintf("lb-%d", i)).LoadBalancerArn)
	}
	var got []string
	var marker *string
	pages := 0
	for {
		out := must[*sdk.DescribeLoadBalancersOutput](t)(e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(3), Marker: marker}))
		pages++
		for _, lb := range out.LoadBalancers {
			got = append(got, *lb.LoadBalancerArn)
		}
		if out.NextMarker == nil {
			break
		}
		marker = out.NextMarker
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages %v, want 3 pages %v", pages, got, want)
	}
	// The SDK paginator sees the same.
	p := sdk.NewDescribeLoadBalancersPaginator(e.elb, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(2)})
	n := 0
	for p.HasMorePages() {
		out := must[*sdk.DescribeLoadBalancersOutput](t)(p.NextPage(ctx))
		n += len(out.LoadBalancers)
	}
	if n != 7 {
		t.Errorf("paginator saw %d load balancers", n)
	}
	for _, size := range []int32{0, 401} {
		_, err := e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(size)})
		apiErr(t, err, "ValidationError")
	}
	_, err := e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{Marker: aws.String("%%%")})
	apiErr(t, err, "ValidationError")
	_, err = e.elb.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{Names: []string{"lb-1"}, LoadBalancerArns: want[:1]})
	apiErr(t, err, "ValidationError")
}

func TestTooManyLoadBalancers(t *testing.T) {
	e := start(t, withLimits(elbv2.Limits{ApplicationLoadBalancers: 2, NetworkLoadBalancers: 1}))
	e.alb(t, "a1")
	e.alb(t, "a2")
	_, err := e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("a3"), Subnets: e.public[:2]})
	apiErr(t, err, "TooManyLoadBalancers")
	e.nlb(t, "n1")
	_, err = e.elb.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{Name: aws.String("n2"), Subnets: e.public[:2], Type: types.LoadBalancerTypeEnumNetwork})
	apiErr(t, err, "TooManyLoadBalancers")
}

func TestSetSecurityGroupsSubnetsIPType(t *testing.T) {
	e := start(t)
	sg := must[*ec2sdk.CreateSecurityGroupOutput](t)(e.ec2.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{
		GroupName: aws.String("lb"), Description: aws.String("lb"), VpcId: aws.String(e.vpc)}))
	alb := e.alb(t, "web")
	out := must[*sdk.SetSecurityGroupsOutput](t)(e.elb.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: alb.LoadBalancerArn, SecurityGroups: []string{*sg.GroupId}}))
	if !slices.Equal(out.SecurityGroupIds, []string{*sg.GroupId}) {
		t.Errorf("SGs %v", out.SecurityGroupIds)
	}
	_, err := e.elb.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: alb.LoadBalancerArn, SecurityGroups: []string{"sg-0000000000000000f"}})
	apiErr(t, err, "InvalidSecurityGroup")
	// The EC2 side refuses to delete a group a load balancer uses.
	_, err = e.ec2.DeleteSecurityGroup(ctx, &ec2sdk.DeleteSecurityGroupInput{GroupId: sg.GroupId})
	apiErr(t, err, "DependencyViolation")

	plain := e.nlb(t, "plain")
	_, err = e.elb.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: plain.LoadBalancerArn, SecurityGroups: []string{*sg.GroupId}})
	apiErr(t, err, "InvalidConfigurationRequest")
	withSG := e.nlb(t, "withsg", func(in *sdk.CreateLoadBalancerInput) { in.SecurityGroups = []string{*sg.GroupId} })
	out = must[*sdk.SetSecurityGroupsOutput](t)(e.elb.SetSecurityGroups(ctx, &sdk.SetSecurityGroupsInput{LoadBalancerArn: withSG.LoadBalancerArn, SecurityGroups: []string{e.defaultSG},
		EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: types.EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnumOff}))
	if !slices.Equal(out.SecurityGroupIds, []string{e.defaultSG}) || out.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic != "off" {
		t.Errorf("NLB SetSecurityGroups %+v", out)
	}

	// SetSubnets keeps the addresses of zones kept, gives new zones new ones.
	keep := *alb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress
	sub := must[*sdk.SetSubnetsOutput](t)(e.elb.SetSubnets(ctx, &sdk.SetSubnetsInput{LoadBalancerArn: alb.LoadBalancerArn, Subnets: []string{e.public[0], e.public[2]}}))
	if len(sub.AvailabilityZones) != 2 || *sub.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress != keep ||
		*sub.AvailabilityZones[1].SubnetId != e.public[2] {
		t.Errorf("SetSubnets zones %+v (kept address %s)", sub.AvailabilityZones, keep)
	}
	_, err = e.elb.SetSubnets(ctx, &sdk.SetSubnetsInput{LoadBalancerArn: alb.LoadBalancerArn, Subnets: []string{e.public[0]}})
	apiErr(t, err, "ValidationError")
	_, err = e.elb.SetSubnets(ctx, &sdk.SetSubnetsInput{LoadBalancerArn: aws.String(strings.Replace(*alb.LoadBalancerArn, "/web/", "/nope/", 1)), Subnets: e.public})
	apiErr(t, err, "LoadBalancerNotFound")

	_, err = e.elb.SetIpAddressType(ctx, &sdk.SetIpAddressTypeInput{LoadBalancerArn: alb.LoadBalancerArn, IpAddressType: types.IpAddressTypeDualstack})
	apiErr(t, err, "InvalidSubnet")
	ip := must[*sdk.SetIpAddressTypeOutput](t)(e.elb.SetIpAddressType(ctx, &sdk.SetIpAddressTypeInput{LoadBalancerArn: alb.LoadBalancerArn, IpAddressType: types.IpAddressTypeIpv4}))
	if ip.IpAddressType != "ipv4" {
		t.Errorf("ip type %s", ip.IpAddressType)
	}
	_, err = e.elb.SetIpAddressType(ctx, &sdk.SetIpAddressTypeInput{LoadBalancerArn: plain.LoadBalancerArn, IpAddressType: types.IpAddressTypeDualstackWithoutPublicIpv4})
	apiErr(t, err, "InvalidConfigurationRequest")
}

func TestLoadBalancerAttributes(t *testing.T) {
	e := start(t)
	alb := e.alb(t, "web")
	nlb := e.nlb(t, "tcp", func(in *sdk.CreateLoadBalancerInput) {
		in.Scheme = types.LoadBalancerSchemeEnumInternal
		in.Subnets = e.private
	})
	kv := func(a types.LoadBalancerAttribute) (*string, *string) { return a.Key, a.Value }
	am := attrMap(must[*sdk.DescribeLoadBalancerAttributesOutput](t)(e.elb.DescribeLoadBalancerAttributes(ctx, &sdk.DescribeLoadBalancerAttributesInput{LoadBalancerArn: alb.LoadBalancerArn})).Attributes, kv)
	wantALB := map[string]string{
		"deletion_protection.enabled": "false", "load_balancing.cross_zone.enabled": "true", "idle_timeout.timeout_seconds": "60",
		"client_keep_alive.seconds": "3600", "routing.http2.enabled": "true", "routing.http.desync_mitigation_mode": "defensive",
		"routing.http.xff_header_processing.mode": "append", "access_logs.s3.enabled": "false", "access_logs.s3.bucket": "",
		"ipv6.deny_all_igw_traffic": "false", "waf.fail_open.enabled": "false", "connection_logs.s3.enabled": "false",
	}
	for k, v := range wantALB {
		if got, ok := am[k]; !ok || got != v {
			t.Errorf("ALB attribute %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := am["dns_record.client_routing_policy"]; ok {
		t.Error("ALB has an NLB attribute")
	}
	nm := attrMap(must[*sdk.DescribeLoadBalancerAttributesOutput](t)(e.elb.DescribeLoadBalancerAttributes(ctx, &sdk.DescribeLoadBalancerAttributesInput{LoadBalancerArn: nlb.LoadBalancerArn})).Attributes, kv)
	if nm["load_balancing.cross_zone.enabled"] != "false" || nm["dns_record.client_routing_policy"] != "any_availability_zone" ||
		nm["ipv6.deny_all_igw_traffic"] != "true" || len(nm) != 9 {
		t.Errorf("NLB attributes %v", nm)
	}
	if _, ok := nm["idle_timeout.timeout_seconds"]; ok {
		t.Error("NLB has an ALB attribute")
	}
	mod := must[*sdk.ModifyLoadBalancerAttributesOutput](t)(e.elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: alb.LoadBalancerArn,
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("120")},
			{Key: aws.String("access_logs.s3.enabled"), Value: aws.String("true")}, {Key: aws.String("access_logs.s3.bucket"), Value: aws.String("logs")}}}))
	if m := attrMap(mod.Attributes, kv); m["idle_timeout.timeout_seconds"] != "120" || m["access_logs.s3.bucket"] != "logs" || len(m) != len(am) {
		t.Errorf("modified attributes %v", m)
	}
	bad := []struct {
		arn  *string
		k, v string
		code string
	}{
		{alb.LoadBalancerArn, "idle_timeout.timeout_seconds", "0", "ValidationError"},
		{alb.LoadBalancerArn, "idle_timeout.timeout_seconds", "4001", "ValidationError"},
		{alb.LoadBalancerArn, "routing.http.desync_mitigation_mode", "lax", "ValidationError"},
		{alb.LoadBalancerArn, "load_balancing.cross_zone.enabled", "false", "ValidationError"},
		{alb.LoadBalancerArn, "no.such.key", "1", "ValidationError"},
		{alb.LoadBalancerArn, "deletion_protection.enabled", "yes", "ValidationError"},
		{nlb.LoadBalancerArn, "idle_timeout.timeout_seconds", "60", "ValidationError"},
		{nlb.LoadBalancerArn, "secondary_ips.auto_assigned.per_subnet", "8", "ValidationError"},
		{nlb.LoadBalancerArn, "access_logs.s3.enabled", "true", "InvalidConfigurationRequest"},
	}
	for _, b := range bad {
		_, err := e.elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: b.arn,
			Attributes: []types.LoadBalancerAttribute{{Key: aws.String(b.k), Value: aws.String(b.v)}}})
		if err == nil {
			t.Errorf("%s=%s accepted", b.k, b.v)
			continue
		}
		apiErr(t, err, b.code)
	}
	must[*sdk.ModifyLoadBalancerAttributesOutput](t)(e.elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: nlb.LoadBalancerArn,
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("secondary_ips.auto_assigned.per_subnet"), Value: aws.String("2")}}}))
	_, err := e.elb.ModifyLoadBalancerAttributes(ctx, &sdk.ModifyLoadBalancerAttributesInput{LoadBalancerArn: nlb.LoadBalancerArn,
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("secondary_ips.auto_assigned.per_subnet"), Value: aws.String("1")}}})
	apiErr(t, err, "InvalidConfigurationRequest")
}

// TestIDSource makes IDs from the configured source: ARNs and DNS names
// carry them.
func TestIDSource(t *testing.T) {
	n := 0
	e := start(t, func(c *elbv2.Config) {
		c.NewID = func() string { n++; return fmt.Sprintf("%016x", n) }
		c.DNSSuffix = "elb.test"
	})
	lb := e.alb(t, "fixed", func(in *sdk.CreateLoadBalancerInput) {
		in.Scheme = types.LoadBalancerSchemeEnumInternal
		in.Subnets = e.private[:2]
	})
	if *lb.LoadBalancerArn != "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/fixed/0000000000000001" ||
		*lb.DNSName != "internal-fixed-0000000000000001.us-east-1.elb.test" {
		t.Errorf("ARN %s DNS %s", *lb.LoadBalancerArn, *lb.DNSName)
	}
	l := e.listener(t, lb.LoadBalancerArn, types.ProtocolEnumHttp, 80, fixed("200"))
	if *l.ListenerArn != "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/fixed/0000000000000001/0000000000000002" {
		t.Errorf("listener ARN %s", *l.ListenerArn)
	}
	if e.svc.DNSDomain() != "us-east-1.elb.test" {
		t.Errorf("DNS domain %s", e.svc.DNSDomain())
	}
}
