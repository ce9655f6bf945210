package podnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	elbec2 "github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/facts"
)

// TestPoolFillsAnInstance assigns an m5.large's 27 pod addresses (9 on each
// of 3 interfaces, two of them created and attached by the pool, tagged as
// the VPC CNI tags them), refuses the 28th with EC2's errors and leaves no
// interface behind for it, then unassigns and releases.
func TestPoolFillsAnInstance(t *testing.T) {
	ctx := context.Background()
	f := facts.Default(facts.DefaultRegion, "test")
	var sub facts.Subnet
	for _, s := range f.Subnets {
		if !s.Public && s.AvailabilityZone == "us-east-1a" {
			sub = s
		}
	}
	const instance = "i-0aaaaaaaaaaaaaaa1"
	f.Instances = []facts.Instance{{ID: instance, SubnetID: sub.ID, PrivateIP: "10.0.128.10", InstanceType: "m5.large"}}
	st := svctest.OpenStore(t)
	if err := elbec2.Bootstrap(ctx, st, f); err != nil {
		t.Fatal(err)
	}
	c := ec2.NewFromConfig(svctest.ServeStore(t, st, elbec2.New(elbec2.Config{Store: st}).API()).Config)
	p := &Pool{EC2: c, ClusterName: "test"}

	addr := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("10.0.129.%d", i)) }
	for i := range 27 {
		if err := p.Assign(ctx, instance, addr(i)); err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
	}
	// Assigning an address the instance has is no change.
	if err := p.Assign(ctx, instance, addr(5)); err != nil {
		t.Fatal(err)
	}
	err := p.Assign(ctx, instance, addr(27))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PrivateIpAddressLimitExceeded" || !strings.Contains(err.Error(), "AttachmentLimitExceeded") {
		t.Fatalf("the 28th address: %v, want EC2's address and attachment limits", err)
	}
	ifs, err := p.interfaces(ctx, instance)
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 3 || len(ifs[0].secondary) != 9 || len(ifs[1].secondary) != 9 || len(ifs[2].secondary) != 9 {
		t.Fatalf("interfaces %+v", ifs)
	}
	created, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + TagInstanceID), Values: []string{instance}},
		{Name: aws.String("tag:" + TagClusterName), Values: []string{"test"}},
		{Name: aws.String("description"), Values: []string{DescriptionPrefix + instance}},
	}})
	if err != nil || len(created.NetworkInterfaces) != 2 {
		t.Fatalf("interfaces the pool created: %+v, %v; want the 2 attached ones (the unattachable third deleted)", created, err)
	}

	if err := p.Unassign(ctx, instance, addr(12)); err != nil {
		t.Fatal(err)
	}
	if err := p.Unassign(ctx, instance, addr(12)); err != nil {
		t.Fatalf("unassigning an address the instance lacks: %v", err)
	}
	// A free slot on the second interface takes the next address.
	if err := p.Assign(ctx, instance, addr(27)); err != nil {
		t.Fatal(err)
	}
	keep := map[netip.Addr]bool{addr(0): true, addr(27): true}
	if err := p.Release(ctx, instance, func(a netip.Addr) bool { return keep[a] }); err != nil {
		t.Fatal(err)
	}
	ifs, err = p.interfaces(ctx, instance)
	if err != nil {
		t.Fatal(err)
	}
	var left []netip.Addr
	for _, f := range ifs {
		left = append(left, f.secondary...)
	}
	if fmt.Sprint(left) != fmt.Sprint([]netip.Addr{addr(0), addr(27)}) {
		t.Fatalf("after release: %v", left)
	}
}
