package translate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
)

func cloudFor(t *testing.T, f *facts.Facts, mutate func(*Options)) (*Cloud, *Trace) {
	t.Helper()
	o := DefaultOptions()
	o.ClusterName = "demo"
	if mutate != nil {
		mutate(&o)
	}
	c, err := NewCloud(f, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c, &Trace{}
}

func TestDiscoverSubnetsDefaultFacts(t *testing.T) {
	f := facts.Default("us-east-1", "demo")
	c, _ := cloudFor(t, f, nil)
	for _, tc := range []struct {
		scheme stack.Scheme
		public bool
	}{{stack.SchemeInternetFacing, true}, {stack.SchemeInternal, false}} {
		got, src, err := c.DiscoverSubnets(SubnetQuery{LBType: stack.LoadBalancerTypeApplication, Scheme: tc.scheme, IPAddressType: stack.IPAddressTypeIPv4}, nil)
		if err != nil || len(got) != 3 {
			t.Fatalf("%s: %v %v", tc.scheme, got, err)
		}
		for i, s := range got {
			if s.Public != tc.public || (i > 0 && got[i-1].ID >= s.ID) {
				t.Fatalf("%s: subnets %+v (want %v subnets sorted by ID; %s)", tc.scheme, got, tc.public, src)
			}
		}
	}
	if _, _, err := c.DiscoverSubnets(SubnetQuery{LBType: stack.LoadBalancerTypeApplication, Scheme: stack.SchemeInternal, IPAddressType: stack.IPAddressTypeDualStack}, nil); err == nil || !strings.Contains(err.Error(), "IPv6") {
		t.Fatalf("dualstack without IPv6 subnets: %v", err)
	}
}

func TestClusterTagCheckGate(t *testing.T) {
	f := &facts.Facts{Region: "us-east-1", AccountID: facts.DefaultAccountID,
		VPCs: []facts.VPC{{ID: "vpc-1", CIDR: "10.0.0.0/16"}},
		Subnets: []facts.Subnet{
			{ID: "subnet-1", VpcID: "vpc-1", AvailabilityZone: "us-east-1a", CIDR: "10.0.0.0/24", Tags: map[string]string{TagRoleInternalELB: "1", "kubernetes.io/cluster/other": "owned"}},
			{ID: "subnet-2", VpcID: "vpc-1", AvailabilityZone: "us-east-1b", CIDR: "10.0.1.0/24", Tags: map[string]string{TagRoleInternalELB: "1"}},
		}}
	q := SubnetQuery{LBType: stack.LoadBalancerTypeNetwork, Scheme: stack.SchemeInternal}
	c, _ := cloudFor(t, f, nil)
	got, _, err := c.DiscoverSubnets(q, nil)
	if err != nil || len(got) != 1 || got[0].ID != "subnet-2" {
		t.Fatalf("with the cluster tag check: %v %v", got, err)
	}
	c, _ = cloudFor(t, f, func(o *Options) { o.FeatureGates = FeatureGates{GateSubnetsClusterTagCheck: false} })
	if got, _, _ = c.DiscoverSubnets(q, nil); len(got) != 2 {
		t.Fatalf("without the cluster tag check: %v", got)
	}
}

func TestSubnetsByNameOrIDAssumption(t *testing.T) {
	f := facts.Default("us-east-1", "demo")
	known := f.Subnets[0] // public, us-east-1a
	q := SubnetQuery{LBType: stack.LoadBalancerTypeNetwork, Scheme: stack.SchemeInternetFacing}
	c, tr := cloudFor(t, f, nil)
	if _, err := c.SubnetsByNameOrID([]string{known.ID, "subnet-new"}, q, Source{Field: "annotation x"}, tr); err == nil || !strings.Contains(err.Error(), "subnet-new") {
		t.Fatalf("missing subnet without assumption: %v", err)
	}
	c, tr = cloudFor(t, f, func(o *Options) { o.AssumeMissingReferences = true })
	got, err := c.SubnetsByNameOrID([]string{"subnet-new", known.ID}, q, Source{Field: "annotation x"}, tr)
	if err != nil {
		t.Fatal(err)
	}
	// The assumed subnet takes the first zone the named ones leave free.
	if got[0].ID != "subnet-new" || got[0].AvailabilityZone != "us-east-1b" || !got[0].Public || !got[0].Assumed || got[1].ID != known.ID {
		t.Fatalf("got %+v", got)
	}
	if len(tr.Diagnostics) != 1 || tr.Diagnostics[0].Severity != Warning {
		t.Fatalf("diagnostics %+v", tr.Diagnostics)
	}
	if _, err := c.SubnetsByNameOrID([]string{f.Subnets[0].ID, f.Subnets[1].ID}, q, Source{Field: "annotation x"}, tr); err == nil || !strings.Contains(err.Error(), "same availability zone") {
		t.Fatalf("two subnets in one zone: %v", err)
	}
}

func TestDiscoverCertificates(t *testing.T) {
	f := facts.Default("us-east-1", "demo")
	f.Certificates = []facts.Certificate{
		{ARN: "arn:b", DomainName: "*.example.com"},
		{ARN: "arn:a", DomainName: "shop.example.com", SubjectAlternativeNames: []string{"www.shop.example.com"}},
		{ARN: "arn:c", DomainName: "pending.other.net", Status: "PENDING_VALIDATION"},
	}
	c, _ := cloudFor(t, f, nil)
	for _, tc := range []struct {
		hosts []string
		want  string
		err   string
	}{
		{[]string{"shop.example.com"}, "arn:a,arn:b", ""},
		{[]string{"www.shop.example.com"}, "arn:a", ""},
		{[]string{"x.example.com"}, "arn:b", ""},
		{[]string{"a.b.example.com", "pending.other.net"}, "", "a.b.example.com, pending.other.net"},
		{nil, "", ""},
	} {
		got, err := c.DiscoverCertificates(tc.hosts)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.hosts, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%v: got %v %v, want %s", tc.hosts, got, err, tc.want)
		}
	}
}

func TestSecurityGroupsElasticIPsAndLookups(t *testing.T) {
	f := facts.Default("us-east-1", "demo")
	vpc := f.VPCs[0].ID
	f.SecurityGroups = append(f.SecurityGroups, facts.SecurityGroup{ID: "sg-web", Name: "web-group", VpcID: vpc, Tags: map[string]string{"Name": "web"}})
	f.ElasticIPs = []facts.ElasticIP{{AllocationID: "eipalloc-1"}}
	c, tr := cloudFor(t, f, nil)
	got, err := c.SecurityGroupsByNameOrID([]string{"web", "sg-web", "web-group"}, Source{Field: "x"}, tr)
	if err != nil || strings.Join(got, ",") != "sg-web,sg-web,sg-web" {
		t.Fatalf("by ID, Name tag and group name: %v %v", got, err)
	}
	if _, err := c.SecurityGroupsByNameOrID([]string{"sg-none"}, Source{Field: "x"}, tr); err == nil {
		t.Fatal("unknown security group accepted")
	}
	if err := c.CheckElasticIPs([]string{"eipalloc-1", "eipalloc-2"}, Source{Field: "x"}, tr); err == nil || !strings.Contains(err.Error(), "eipalloc-2") {
		t.Fatalf("unknown EIP: %v", err)
	}
	if _, err := c.LookupARN("web ACL", map[string]string{"a": "arn:a"}, "b", func() string { return "arn:assumed" }, Source{Field: "x"}, tr); err == nil {
		t.Fatal("unknown name accepted")
	}
	c, tr = cloudFor(t, f, func(o *Options) { o.AssumeMissingReferences = true })
	if arn, err := c.LookupARN("web ACL", nil, "b", func() string { return "arn:assumed" }, Source{Field: "x"}, tr); err != nil || arn != "arn:assumed" || len(tr.Diagnostics) != 1 {
		t.Fatalf("assumed lookup: %v %v %v", arn, err, tr.Diagnostics)
	}
	if id := c.BackendSecurityGroup(ObjectRef{Kind: "Service"}, tr); id != "<pending:"+c.BackendSecurityGroupName()+">" {
		t.Fatalf("backend security group %q", id)
	}
	f.SecurityGroups = append(f.SecurityGroups, facts.SecurityGroup{ID: "sg-bk", Name: c.BackendSecurityGroupName(), VpcID: vpc})
	if id := c.BackendSecurityGroup(ObjectRef{Kind: "Service"}, tr); id != "sg-bk" {
		t.Fatalf("backend security group from the facts: %q", id)
	}
}

func TestNamesMatchReference(t *testing.T) {
	// The reference's backend security group name for cluster "cluster-name".
	o := DefaultOptions()
	o.ClusterName = "my.cluster"
	c := &Cloud{opts: &o}
	if got := c.BackendSecurityGroupName(); !strings.HasPrefix(got, "k8s-traffic-mycluster-") || len(got) != len("k8s-traffic-mycluster-")+10 {
		t.Fatalf("backend SG name %q", got)
	}
	if Trunc("abcdef", 3) != "abc" || Sanitize("a-b.c_d") != "abcd" {
		t.Fatal("Trunc/Sanitize")
	}
}

func TestOptionsAndGates(t *testing.T) {
	g, err := ParseFeatureGates("NLBSecurityGroup=false, EnableTCPUDPListener=true")
	if err != nil || g.Enabled(GateNLBSecurityGroup) || !g.Enabled(GateEnableTCPUDPListener) || !g.Enabled(GateSubnetsClusterTagCheck) {
		t.Fatalf("gates %v %v", g, err)
	}
	for _, bad := range []string{"X", "X=maybe", "=true"} {
		if _, err := ParseFeatureGates(bad); err == nil {
			t.Errorf("ParseFeatureGates(%q) accepted", bad)
		}
	}
	o := DefaultOptions()
	if err := o.Validate(); err == nil {
		t.Fatal("options without a cluster name accepted")
	}
	o.ClusterName = "c"
	o.DefaultTags = map[string]string{"elbv2.k8s.aws/cluster": "x"}
	if err := o.Validate(); err == nil {
		t.Fatal("a default tag with a tracking key accepted")
	}
	o.DefaultTags = map[string]string{"env": "prod"}
	if got := o.WithDefaultTags(map[string]string{"env": "dev", "team": "a"}); got["env"] != "prod" || got["team"] != "a" {
		t.Fatalf("default tags should win: %v", got)
	}
	o.FeatureGates = FeatureGates{GateEnableDefaultTagsLowPriority: true}
	if got := o.WithDefaultTags(map[string]string{"env": "dev"}); got["env"] != "dev" {
		t.Fatalf("low-priority default tags: %v", got)
	}
}

func TestNewCloudPicksVPC(t *testing.T) {
	f := facts.Default("us-east-1", "")
	f.VPCs = append(f.VPCs, facts.VPC{ID: "vpc-2", CIDR: "10.1.0.0/16"})
	o := DefaultOptions()
	o.ClusterName = "c"
	if _, err := NewCloud(f, &o); err == nil || !strings.Contains(err.Error(), "2 VPCs") {
		t.Fatalf("two VPCs without a choice: %v", err)
	}
	o.VPCID = "vpc-2"
	if c, err := NewCloud(f, &o); err != nil || c.VPCID() != "vpc-2" {
		t.Fatalf("chosen VPC: %v", err)
	}
	o.VPCID = "vpc-9"
	if _, err := NewCloud(f, &o); err == nil {
		t.Fatal("unknown VPC accepted")
	}
}

// TestMissingReferences: every reference the facts lack is recorded for
// the caller to look up, and one the caller looked up without finding is
// refused with what the cloud answered instead of "not in the facts".
func TestMissingReferences(t *testing.T) {
	f := facts.Default("us-east-1", "demo")
	q := SubnetQuery{LBType: stack.LoadBalancerTypeNetwork, Scheme: stack.SchemeInternetFacing}
	c, tr := cloudFor(t, f, nil)
	_, errSubnet := c.SubnetsByNameOrID([]string{f.Subnets[0].ID, "subnet-new", "by-name"}, q, Source{Field: "annotation x"}, tr)
	_, errSG := c.SecurityGroupsByNameOrID([]string{"sg-new", f.SecurityGroups[0].ID, "web"}, Source{Field: "annotation y"}, tr)
	errEIP := c.CheckElasticIPs([]string{"eipalloc-new"}, Source{Field: "annotation z"}, tr)
	for _, err := range []error{errSubnet, errSG, errEIP} {
		if err == nil || !strings.Contains(err.Error(), "not in the facts") {
			t.Errorf("not looked up: %v, want a refusal naming the facts", err)
		}
	}
	want := []Reference{
		{RefElasticIP, "eipalloc-new"},
		{RefSecurityGroup, "sg-new"}, {RefSecurityGroup, "web"},
		{RefSubnet, "by-name"}, {RefSubnet, "subnet-new"},
	}
	if got := c.Missing(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("missing %v, want %v", got, want)
	}

	absent := map[Reference]string{}
	for _, r := range want {
		absent[r] = r.Name + " answer"
	}
	c, tr = cloudFor(t, f, func(o *Options) { o.References.Absent = absent })
	_, errSubnet = c.SubnetsByNameOrID([]string{"subnet-new", "by-name"}, q, Source{Field: "annotation x"}, tr)
	_, errSG = c.SecurityGroupsByNameOrID([]string{"sg-new", "web"}, Source{Field: "annotation y"}, tr)
	errEIP = c.CheckElasticIPs([]string{"eipalloc-new"}, Source{Field: "annotation z"}, tr)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errSubnet, "annotation x: subnet-new answer; by-name answer"},
		{errSG, "annotation y: sg-new answer; web answer"},
		{errEIP, "annotation z: eipalloc-new answer"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("looked up: %v, want %q", tc.err, tc.want)
		}
	}
	// A reference not looked up among looked-up ones: the facts are named.
	if _, err := c.SubnetsByNameOrID([]string{"subnet-new", "subnet-other"}, q, Source{Field: "annotation x"}, tr); err == nil || !strings.Contains(err.Error(), "not in the facts") {
		t.Errorf("partly looked up: %v", err)
	}
}
