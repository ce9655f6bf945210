package cloudfacts

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	elbacm "github.com/elbowlb/elbow/internal/elb/service/acm"
	elbec2 "github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/facts"
)

// TestReader reads the local cloud's facts back through the EC2 and ACM
// APIs over the real wire: the VPC, every subnet with its zone, tags and
// reachability, the security groups, Elastic IPs and issued certificates.
func TestReader(t *testing.T) {
	ctx := context.Background()
	st := svctest.OpenStore(t)
	want := facts.Default(facts.DefaultRegion, "demo")
	want.Certificates = []facts.Certificate{
		{ARN: "arn:aws:acm:us-east-1:000000000000:certificate/11111111-1111-1111-1111-111111111111", DomainName: "*.example.com", SubjectAlternativeNames: []string{"example.com"}},
		{ARN: "arn:aws:acm:us-east-1:000000000000:certificate/22222222-2222-2222-2222-222222222222", DomainName: "pending.example.org", Status: "PENDING_VALIDATION"},
	}
	want.ElasticIPs = []facts.ElasticIP{{AllocationID: "eipalloc-0123456789abcdef0"}}
	if err := elbec2.Bootstrap(ctx, st, want); err != nil {
		t.Fatal(err)
	}
	if err := elbacm.Bootstrap(ctx, st, want); err != nil {
		t.Fatal(err)
	}
	e := svctest.ServeStore(t, st, elbec2.New(elbec2.Config{Store: st}).API(), elbacm.New(elbacm.Config{Store: st}).API())
	r := &Reader{EC2: ec2.NewFromConfig(e.Config), ACM: acm.NewFromConfig(e.Config), Region: facts.DefaultRegion, ClusterName: "demo"}
	got, err := r.Facts(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.VPCs, got.VPCs, cmpopts.IgnoreFields(facts.VPC{}, "Tags")); diff != "" {
		t.Errorf("VPCs (-want +got):\n%s", diff)
	}
	sortSubnets := cmpopts.SortSlices(func(a, b facts.Subnet) bool { return a.ID < b.ID })
	if diff := cmp.Diff(want.Subnets, got.Subnets, sortSubnets, cmpopts.IgnoreFields(facts.Subnet{}, "IPv6CIDR")); diff != "" {
		t.Errorf("subnets (-want +got):\n%s", diff)
	}
	if len(got.SecurityGroups) == 0 || got.SecurityGroups[0].VpcID != want.VPCs[0].ID {
		t.Errorf("security groups: %+v", got.SecurityGroups)
	}
	var names []string
	for _, g := range got.SecurityGroups {
		names = append(names, g.Name)
	}
	if !cmp.Equal(names, []string{"default"}, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
		t.Errorf("security group names %v", names)
	}
	if len(got.Certificates) != 1 || got.Certificates[0].ARN != want.Certificates[0].ARN ||
		got.Certificates[0].DomainName != "*.example.com" || !cmp.Equal(got.Certificates[0].SubjectAlternativeNames, []string{"*.example.com", "example.com"}, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
		t.Errorf("certificates (only the issued one): %+v", got.Certificates)
	}
	if diff := cmp.Diff([]string{"eipalloc-0123456789abcdef0"}, []string{got.ElasticIPs[0].AllocationID}); diff != "" || len(got.ElasticIPs) != 1 {
		t.Errorf("Elastic IPs %+v", got.ElasticIPs)
	}
	// Cached: a second read within Refresh returns the same facts.
	again, err := r.Facts(ctx, false)
	if err != nil || again != got {
		t.Errorf("second read was not cached: %p %p %v", again, got, err)
	}

	// The backend security group is created once, then found.
	b := &BackendSG{EC2: ec2.NewFromConfig(e.Config), VpcID: want.VPCs[0].ID, ClusterName: "demo", Name: "k8s-traffic-demo-0123456789"}
	id, err := b.ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b2 := &BackendSG{EC2: ec2.NewFromConfig(e.Config), VpcID: want.VPCs[0].ID, ClusterName: "demo", Name: "k8s-traffic-demo-0123456789"}
	id2, err := b2.ID(ctx)
	if err != nil || id2 != id {
		t.Errorf("second lookup: %s, %v; want %s", id2, err, id)
	}
	fresh, err := r.Facts(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range fresh.SecurityGroups {
		if g.ID == id && g.Name == "k8s-traffic-demo-0123456789" && g.Tags["elbv2.k8s.aws/resource"] == "backend-sg" && g.Tags["elbv2.k8s.aws/cluster"] == "demo" {
			found = true
		}
	}
	if !found {
		t.Errorf("backend security group %s not in the facts: %+v", id, fresh.SecurityGroups)
	}
}
