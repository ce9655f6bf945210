package facts

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDefaultIsValidAndStable(t *testing.T) {
	a, b := Default("us-east-1", "demo"), Default("us-east-1", "demo")
	if err := a.Validate(); err != nil {
		t.Fatalf("Default facts invalid: %v", err)
	}
	if a.VPCs[0].ID != b.VPCs[0].ID || a.Subnets[3].ID != b.Subnets[3].ID {
		t.Error("Default IDs differ between calls")
	}
	if len(a.Subnets) != 6 || len(a.Zones()) != 3 {
		t.Fatalf("want 6 subnets in 3 zones, got %d in %v", len(a.Subnets), a.Zones())
	}
	var public, private int
	for _, s := range a.Subnets {
		if s.Tags["kubernetes.io/cluster/demo"] != "shared" {
			t.Errorf("subnet %s lacks the cluster tag", s.ID)
		}
		if s.Public {
			public++
			if s.Tags["kubernetes.io/role/elb"] != "1" {
				t.Errorf("public subnet %s lacks kubernetes.io/role/elb", s.ID)
			}
		} else {
			private++
			if s.Tags["kubernetes.io/role/internal-elb"] != "1" {
				t.Errorf("private subnet %s lacks kubernetes.io/role/internal-elb", s.ID)
			}
		}
		if !strings.HasPrefix(s.ID, "subnet-") || len(s.ID) != len("subnet-")+17 {
			t.Errorf("subnet ID %q is not of AWS's shape", s.ID)
		}
	}
	if public != 3 || private != 3 {
		t.Errorf("public/private = %d/%d, want 3/3", public, private)
	}
	if Default("eu-west-1", "").VPCs[0].ID == a.VPCs[0].ID {
		t.Error("two regions share a VPC ID")
	}
	s, ok := a.SubnetOf(netip.MustParseAddr("10.0.130.5"))
	if !ok || s.AvailabilityZone != "us-east-1a" || s.Public {
		t.Errorf("SubnetOf(10.0.130.5) = %+v, %v; want the private subnet of us-east-1a", s, ok)
	}
}

func TestZoneID(t *testing.T) {
	for zone, want := range map[string]string{
		"us-east-1a":      "use1-az1",
		"us-west-2c":      "usw2-az3",
		"ap-northeast-2b": "apne2-az2",
		"eu-central-1a":   "euc1-az1",
		"x":               "x",
	} {
		if got := ZoneID(zone); got != want {
			t.Errorf("ZoneID(%q) = %q, want %q", zone, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"unknown field":    "regin: us-east-1\n",
		"bad region":       "region: mars\n",
		"subnet outside":   "vpcs: [{id: vpc-1, cidr: 10.0.0.0/16}]\nsubnets: [{id: subnet-1, vpcID: vpc-1, availabilityZone: us-east-1a, cidr: 10.1.0.0/24}]\n",
		"unknown vpc":      "subnets: [{id: subnet-1, vpcID: vpc-9, availabilityZone: us-east-1a, cidr: 10.1.0.0/24}]\n",
		"zone of another":  "vpcs: [{id: vpc-1, cidr: 10.0.0.0/16}]\nsubnets: [{id: subnet-1, vpcID: vpc-1, availabilityZone: eu-west-1a, cidr: 10.0.0.0/24}]\n",
		"duplicate id":     "vpcs: [{id: vpc-1, cidr: 10.0.0.0/16}, {id: vpc-1, cidr: 10.1.0.0/16}]\n",
		"instance outside": "vpcs: [{id: vpc-1, cidr: 10.0.0.0/16}]\nsubnets: [{id: subnet-1, vpcID: vpc-1, availabilityZone: us-east-1a, cidr: 10.0.0.0/24}]\ninstances: [{id: i-1, subnetID: subnet-1, privateIP: 10.0.1.1}]\n",
		"bad address map":  "addressMap: 10.0.0.0/16=127.10.0.0/24\n",
		"rule two sources": "vpcs: [{id: vpc-1, cidr: 10.0.0.0/16}]\nsecurityGroups: [{id: sg-1, name: a, vpcID: vpc-1, ingress: [{protocol: tcp, fromPort: 80, toPort: 80, cidr: 0.0.0.0/0, sourceGroupID: sg-1}]}]\n",
		"key without cert": "certificates: [{arn: 'arn:aws:acm:us-east-1:000000000000:certificate/x', domainName: a.example, privateKeyPEM: x}]\n",
	}
	for name, in := range cases {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse succeeded, want an error", name)
		}
	}
	f, err := Parse([]byte("addressMap: \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Addresses()
	if !m.Empty() {
		t.Error(`addressMap "" should be the identity map`)
	}
}
