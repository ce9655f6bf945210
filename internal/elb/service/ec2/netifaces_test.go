package ec2_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// instanceAddrs returns an instance's interfaces (by device index, the
// primary at 0) with
// their private addresses, the primary first, as DescribeInstances shows
// them.
func (e *env) instanceAddrs(t *testing.T, id string) [][]string {
	t.Helper()
	out, err := e.c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	var ifs [][]string
	last := int32(-1)
	for i, n := range out.Reservations[0].Instances[0].NetworkInterfaces {
		if got := aws.ToInt32(n.Attachment.DeviceIndex); got <= last || (i == 0) != (got == 0) {
			t.Fatalf("interface %d has device index %d, after %d", i, got, last)
		}
		last = aws.ToInt32(n.Attachment.DeviceIndex)
		var addrs []string
		for j, a := range n.PrivateIpAddresses {
			if aws.ToBool(a.Primary) != (j == 0) {
				t.Fatalf("interface %s: address %d primary=%v", aws.ToString(n.NetworkInterfaceId), j, aws.ToBool(a.Primary))
			}
			addrs = append(addrs, aws.ToString(a.PrivateIpAddress))
		}
		ifs = append(ifs, addrs)
	}
	return ifs
}

// interfaceOf returns the interface DescribeNetworkInterfaces finds for an
// address with the AWS Load Balancer Controller's filters.
func (e *env) interfaceOf(t *testing.T, vpc, ip string) []types.NetworkInterface {
	t.Helper()
	out, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: []types.Filter{
		filter("vpc-id", vpc), filter("addresses.private-ip-address", ip),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return out.NetworkInterfaces
}

// TestPodAddresses drives what the AWS VPC CNI does to give pods addresses
// on an m5.large (3 interfaces of 10 IPv4 addresses): secondary addresses
// on the primary interface up to the limit, a created interface attached
// for more, every address visible on its instance and found by
// DescribeNetworkInterfaces, and AWS's errors at each limit.
func TestPodAddresses(t *testing.T) {
	e := start(t)
	sn := e.subnet(false, "b")
	run, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeM5Large,
		SubnetId: aws.String(sn.ID), PrivateIpAddress: aws.String("10.0.160.10"),
	})
	if err != nil {
		t.Fatal(err)
	}
	inst := aws.ToString(run.Instances[0].InstanceId)
	primary := aws.ToString(run.Instances[0].NetworkInterfaces[0].NetworkInterfaceId)
	assign := func(eni string, ips ...string) error {
		_, err := e.c.AssignPrivateIpAddresses(ctx, &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(eni), PrivateIpAddresses: ips})
		return err
	}

	// A pod's address on the node's primary interface.
	if err := assign(primary, "10.0.160.50"); err != nil {
		t.Fatal(err)
	}
	if got := e.instanceAddrs(t, inst); fmt.Sprint(got) != "[[10.0.160.10 10.0.160.50]]" {
		t.Fatalf("instance addresses %v", got)
	}
	if found := e.interfaceOf(t, sn.VpcID, "10.0.160.50"); len(found) != 1 || aws.ToString(found[0].NetworkInterfaceId) != primary || aws.ToString(found[0].Attachment.InstanceId) != inst {
		t.Fatalf("interface of the pod address: %+v", found)
	}
	// EC2 picks the next eight; the interface is then full.
	got, err := e.c.AssignPrivateIpAddresses(ctx, &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(primary), SecondaryPrivateIpAddressCount: aws.Int32(8)})
	if err != nil || len(got.AssignedPrivateIpAddresses) != 8 || aws.ToString(got.NetworkInterfaceId) != primary {
		t.Fatalf("assign 8: %+v, %v", got, err)
	}
	apiErr(t, assign(primary, "10.0.160.60"), "PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit.")

	other, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(sn.ID), PrivateIpAddress: aws.String("10.0.160.30")})
	if err != nil {
		t.Fatal(err)
	}
	otherENI := aws.ToString(other.Instances[0].NetworkInterfaces[0].NetworkInterfaceId)
	for _, tc := range []struct {
		name      string
		in        *sdk.AssignPrivateIpAddressesInput
		code, msg string
	}{
		{"both", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), PrivateIpAddresses: []string{"10.0.160.70"}, SecondaryPrivateIpAddressCount: aws.Int32(1)}, "InvalidParameterCombination", ""},
		{"neither", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI)}, "MissingParameter", ""},
		{"unknown interface", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String("eni-0123456789abcdef0"), SecondaryPrivateIpAddressCount: aws.Int32(1)}, "InvalidNetworkInterfaceID.NotFound", ""},
		{"in use", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), PrivateIpAddresses: []string{"10.0.160.50"}}, "InvalidIPAddress.InUse", "Address 10.0.160.50 is in use."},
		{"a primary address, reassigned", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), PrivateIpAddresses: []string{"10.0.160.10"}, AllowReassignment: aws.Bool(true)}, "InvalidIPAddress.InUse", ""},
		{"outside the subnet", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), PrivateIpAddresses: []string{"10.0.0.70"}}, "InvalidParameterValue", "Address 10.0.0.70 does not fall within the subnet's address range"},
		{"reserved", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), PrivateIpAddresses: []string{"10.0.160.2"}}, "InvalidParameterValue", ""},
		{"m1.small limit", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), SecondaryPrivateIpAddressCount: aws.Int32(4)}, "PrivateIpAddressLimitExceeded", ""},
		{"prefixes", &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), Ipv4PrefixCount: aws.Int32(1)}, "InvalidParameterValue", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.AssignPrivateIpAddresses(ctx, tc.in)
			apiErr(t, err, tc.code, tc.msg)
		})
	}
	// The other instance's interface takes a pod address by reassignment.
	if _, err := e.c.AssignPrivateIpAddresses(ctx, &sdk.AssignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(otherENI), PrivateIpAddresses: []string{"10.0.160.50"}, AllowReassignment: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if got := e.instanceAddrs(t, inst); len(got[0]) != 9 || slices.Contains(got[0], "10.0.160.50") {
		t.Fatalf("after reassignment the first instance has %v", got)
	}
	if got := e.instanceAddrs(t, aws.ToString(other.Instances[0].InstanceId)); fmt.Sprint(got) != "[[10.0.160.30 10.0.160.50]]" {
		t.Fatalf("after reassignment the second instance has %v", got)
	}

	// More pods: an interface of the CNI's, attached at device index 1,
	// then a third; a fourth is beyond an m5.large.
	create := func() string {
		t.Helper()
		out, err := e.c.CreateNetworkInterface(ctx, &sdk.CreateNetworkInterfaceInput{
			SubnetId: aws.String(sn.ID), Description: aws.String("aws-K8S-" + inst),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeNetworkInterface, Tags: []types.Tag{{Key: aws.String("node.k8s.amazonaws.com/instance_id"), Value: aws.String(inst)}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		n := out.NetworkInterface
		if n.Status != types.NetworkInterfaceStatusAvailable || n.Attachment != nil || aws.ToString(n.Groups[0].GroupId) != e.defaultGroup() || tagMap(n.TagSet)["node.k8s.amazonaws.com/instance_id"] != inst {
			t.Fatalf("created interface %+v", n)
		}
		return aws.ToString(n.NetworkInterfaceId)
	}
	attach := func(eni string, index int32) (string, error) {
		out, err := e.c.AttachNetworkInterface(ctx, &sdk.AttachNetworkInterfaceInput{InstanceId: aws.String(inst), NetworkInterfaceId: aws.String(eni), DeviceIndex: aws.Int32(index)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.AttachmentId), nil
	}
	second := create()
	attachment, err := attach(second, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = attach(second, 2)
	apiErr(t, err, "InvalidNetworkInterface.InUse", "")
	third := create()
	_, err = attach(third, 1)
	apiErr(t, err, "InvalidParameterValue", fmt.Sprintf("Instance '%s' already has an interface attached at device index '1'.", inst))
	if _, err := attach(third, 2); err != nil {
		t.Fatal(err)
	}
	fourth := create()
	_, err = attach(fourth, 3)
	apiErr(t, err, "AttachmentLimitExceeded", "Interface count 4 exceeds the limit for m5.large")
	if err := assign(second, "10.0.160.60", "10.0.160.61"); err != nil {
		t.Fatal(err)
	}
	addrs := e.instanceAddrs(t, inst)
	if len(addrs) != 3 || len(addrs[0]) != 9 || !slices.Equal(addrs[1][1:], []string{"10.0.160.60", "10.0.160.61"}) || len(addrs[2]) != 1 {
		t.Fatalf("instance addresses %v", addrs)
	}
	if found := e.interfaceOf(t, sn.VpcID, "10.0.160.61"); len(found) != 1 || aws.ToString(found[0].NetworkInterfaceId) != second ||
		aws.ToString(found[0].Attachment.InstanceId) != inst || aws.ToInt32(found[0].Attachment.DeviceIndex) != 1 || found[0].Status != types.NetworkInterfaceStatusInUse {
		t.Fatalf("interface of 10.0.160.61: %+v", found)
	}
	byInstance, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: []types.Filter{filter("attachment.instance-id", inst)}})
	if err != nil || len(byInstance.NetworkInterfaces) != 3 {
		t.Fatalf("interfaces of the instance: %+v, %v", byInstance, err)
	}

	// A pod goes: its address is unassigned.
	unassign := func(eni string, ips ...string) error {
		_, err := e.c.UnassignPrivateIpAddresses(ctx, &sdk.UnassignPrivateIpAddressesInput{NetworkInterfaceId: aws.String(eni), PrivateIpAddresses: ips})
		return err
	}
	if err := unassign(second, "10.0.160.61"); err != nil {
		t.Fatal(err)
	}
	if found := e.interfaceOf(t, sn.VpcID, "10.0.160.61"); len(found) != 0 {
		t.Fatalf("an unassigned address is still found on %+v", found)
	}
	apiErr(t, unassign(second, "10.0.160.61"), "InvalidParameterValue", "")
	apiErr(t, unassign(primary, "10.0.160.10"), "InvalidParameterValue", "")

	// Interfaces leave: not while attached; the primary stays.
	_, err = e.c.DeleteNetworkInterface(ctx, &sdk.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(second)})
	apiErr(t, err, "InvalidNetworkInterface.InUse", "")
	attachments, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{primary}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DetachNetworkInterface(ctx, &sdk.DetachNetworkInterfaceInput{AttachmentId: attachments.NetworkInterfaces[0].Attachment.AttachmentId})
	apiErr(t, err, "OperationNotPermitted", "")
	if _, err := e.c.DetachNetworkInterface(ctx, &sdk.DetachNetworkInterfaceInput{AttachmentId: aws.String(attachment)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteNetworkInterface(ctx, &sdk.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	if got := e.instanceAddrs(t, inst); len(got) != 2 {
		t.Fatalf("after detaching device 1: %v", got)
	}
	// Terminating the instance detaches what it did not delete.
	if _, err := e.c.TerminateInstances(ctx, &sdk.TerminateInstancesInput{InstanceIds: []string{inst}}); err != nil {
		t.Fatal(err)
	}
	left, err := e.c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{third}})
	if err != nil || left.NetworkInterfaces[0].Status != types.NetworkInterfaceStatusAvailable || left.NetworkInterfaces[0].Attachment != nil {
		t.Fatalf("interface of a terminated instance: %+v, %v", left, err)
	}
}

// TestCreateSubnet creates and deletes subnets as an AWS client does, with
// AWS's errors for blocks outside the VPC, overlapping ones, bad zones and
// subnets in use.
func TestCreateSubnet(t *testing.T) {
	e := start(t)
	vpc := e.facts.VPCs[0].ID
	out, err := e.c.CreateSubnet(ctx, &sdk.CreateSubnetInput{
		VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.64.0/24"), AvailabilityZone: aws.String("us-east-1b"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSubnet, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("extra")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Subnet.SubnetId)
	got, err := e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	s := got.Subnets[0]
	if aws.ToString(s.CidrBlock) != "10.0.64.0/24" || aws.ToString(s.AvailabilityZone) != "us-east-1b" || aws.ToString(s.AvailabilityZoneId) != "use1-az2" ||
		aws.ToString(s.VpcId) != vpc || aws.ToInt32(s.AvailableIpAddressCount) != 251 || tagMap(s.Tags)["Name"] != "extra" || s.State != types.SubnetStateAvailable {
		t.Fatalf("created subnet %+v", s)
	}
	first, err := e.c.CreateSubnet(ctx, &sdk.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.65.0/28")})
	if err != nil || aws.ToString(first.Subnet.AvailabilityZone) != "us-east-1a" {
		t.Fatalf("subnet without a zone: %+v, %v", first, err)
	}
	for _, tc := range []struct {
		name      string
		in        *sdk.CreateSubnetInput
		code, msg string
	}{
		{"overlap", &sdk.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.64.128/25")}, "InvalidSubnet.Conflict", "The CIDR '10.0.64.128/25' conflicts with another subnet"},
		{"outside the VPC", &sdk.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.1.0.0/24")}, "InvalidSubnet.Range", "The CIDR '10.1.0.0/24' is invalid."},
		{"too small", &sdk.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.66.0/29")}, "InvalidSubnet.Range", ""},
		{"not a CIDR", &sdk.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.66.0")}, "InvalidParameterValue", ""},
		{"bad zone", &sdk.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.0.66.0/24"), AvailabilityZone: aws.String("us-east-1z")}, "InvalidParameterValue", ""},
		{"unknown VPC", &sdk.CreateSubnetInput{VpcId: aws.String("vpc-0123456789abcdef0"), CidrBlock: aws.String("10.0.66.0/24")}, "InvalidVpcID.NotFound", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.CreateSubnet(ctx, tc.in)
			apiErr(t, err, tc.code, tc.msg)
		})
	}
	if _, err := e.c.RunInstances(ctx, &sdk.RunInstancesInput{MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DeleteSubnet(ctx, &sdk.DeleteSubnetInput{SubnetId: aws.String(id)})
	apiErr(t, err, "DependencyViolation", fmt.Sprintf("The subnet '%s' has dependencies and cannot be deleted.", id))
	if _, err := e.c.DeleteSubnet(ctx, &sdk.DeleteSubnetInput{SubnetId: first.Subnet.SubnetId}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{aws.ToString(first.Subnet.SubnetId)}})
	apiErr(t, err, "InvalidSubnetID.NotFound", "")
}
