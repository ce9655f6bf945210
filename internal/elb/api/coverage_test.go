package api

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/shield"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
)

// clientOps returns the input and output types of a client's operations,
// the listed ones or, with none listed, all of them.
func clientOps(t *testing.T, client any, names ...string) map[string][2]reflect.Type {
	t.Helper()
	ct := reflect.TypeOf(client)
	ops := map[string][2]reflect.Type{}
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		mt := m.Type
		if mt.NumIn() < 3 || mt.NumOut() != 2 || mt.In(2).Kind() != reflect.Pointer || mt.In(2).Elem().Name() != m.Name+"Input" {
			continue
		}
		ops[m.Name] = [2]reflect.Type{mt.In(2).Elem(), mt.Out(0).Elem()}
	}
	if len(names) == 0 {
		return ops
	}
	sel := map[string][2]reflect.Type{}
	for _, n := range names {
		op, ok := ops[n]
		if !ok {
			t.Fatalf("%T has no operation %s", client, n)
		}
		sel[n] = op
	}
	return sel
}

// TestWireCoversServedOperations checks that every operation the local ELB
// serves (issue 2's list) passes NewHandler's wire check, so the service
// engineers' methods register.
func TestWireCoversServedOperations(t *testing.T) {
	t.Parallel()
	groups := []struct {
		p   Protocol
		ops map[string][2]reflect.Type
	}{
		{Query, clientOps(t, &elbv2.Client{})},
		{Query, clientOps(t, &sts.Client{}, "GetCallerIdentity")},
		{EC2Query, clientOps(t, &ec2.Client{}, "DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeAvailabilityZones",
			"DescribeInternetGateways", "DescribeAccountAttributes", "DescribeSecurityGroups", "CreateSecurityGroup", "DeleteSecurityGroup",
			"AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "CreateTags", "DeleteTags", "DescribeTags", "DescribeInstances",
			"DescribeNetworkInterfaces", "AllocateAddress", "ReleaseAddress", "DescribeAddresses", "RunInstances", "TerminateInstances",
			"DescribeSecurityGroupRules")},
		{JSON11, clientOps(t, &acm.Client{}, "ImportCertificate", "RequestCertificate", "ListCertificates", "DescribeCertificate",
			"GetCertificate", "DeleteCertificate", "AddTagsToCertificate", "ListTagsForCertificate", "RemoveTagsFromCertificate")},
		{JSON11, clientOps(t, &wafv2.Client{}, "AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource", "GetWebACL", "ListWebACLs")},
		{JSON11, clientOps(t, &shield.Client{}, "GetSubscriptionState", "DescribeProtection")},
		{JSON11, clientOps(t, &resourcegroupstaggingapi.Client{}, "GetResources", "TagResources", "UntagResources")},
	}
	n := 0
	for _, g := range groups {
		for name, io := range g.ops {
			if err := checkWire(g.p, io[0], true); err != nil {
				t.Errorf("%s input: %v", name, err)
			}
			if err := checkWire(g.p, io[1], false); err != nil {
				t.Errorf("%s output: %v", name, err)
			}
			n++
		}
	}
	if n < 90 {
		t.Errorf("checked %d operations; the ELBv2 client alone has more", n)
	}
}
