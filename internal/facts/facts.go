// Package facts describes the cloud around the load balancers: VPCs,
// subnets, security groups, instances, certificates and Elastic IPs.
//
// One Facts value feeds both halves of elbow. The local ELB (`elbow elb
// --facts FILE`) creates these resources at its first start, and `elbow plan
// --facts FILE` translates manifests against them. Without a file both use
// Default, so a plan made on a laptop names the same subnets the local ELB
// will create.
//
// The file is YAML (or JSON) with the field names below, for example:
//
//	region: us-east-1
//	clusterName: demo
//	addressMap: "10.0.0.0/16=127.10.0.0/16"
//	vpcs:
//	- id: vpc-0abc
//	  cidr: 10.0.0.0/16
//	subnets:
//	- id: subnet-0a1
//	  vpcID: vpc-0abc
//	  availabilityZone: us-east-1a
//	  cidr: 10.0.0.0/20
//	  public: true
//	  tags: {kubernetes.io/role/elb: "1"}
package facts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// DefaultRegion and DefaultAccountID are the local cloud's identity.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
)

// Facts is everything elbow knows about the cloud before it creates a load
// balancer.
type Facts struct {
	Region      string `json:"region,omitempty"`
	AccountID   string `json:"accountID,omitempty"`
	ClusterName string `json:"clusterName,omitempty"`
	// AddressMap realises VPC addresses on the host (vpcaddr.Parse syntax).
	// nil means vpcaddr.Default; "" means the identity map.
	AddressMap     *string         `json:"addressMap,omitempty"`
	VPCs           []VPC           `json:"vpcs,omitempty"`
	Subnets        []Subnet        `json:"subnets,omitempty"`
	SecurityGroups []SecurityGroup `json:"securityGroups,omitempty"`
	Instances      []Instance      `json:"instances,omitempty"`
	Certificates   []Certificate   `json:"certificates,omitempty"`
	ElasticIPs     []ElasticIP     `json:"elasticIPs,omitempty"`
}

// VPC is a virtual network.
type VPC struct {
	ID   string `json:"id"`
	CIDR string `json:"cidr"`
	// IPv6CIDR, when set, makes the VPC dual-stack.
	IPv6CIDR string            `json:"ipv6CIDR,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// Subnet is a subnet of a VPC in one availability zone.
type Subnet struct {
	ID                 string `json:"id"`
	VpcID              string `json:"vpcID"`
	AvailabilityZone   string `json:"availabilityZone"`
	AvailabilityZoneID string `json:"availabilityZoneID,omitempty"`
	CIDR               string `json:"cidr"`
	IPv6CIDR           string `json:"ipv6CIDR,omitempty"`
	// Public subnets route to an internet gateway (and map public IPs).
	Public bool              `json:"public,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// SecurityGroup is an EC2 security group and its inbound rules.
type SecurityGroup struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	VpcID       string            `json:"vpcID"`
	Tags        map[string]string `json:"tags,omitempty"`
	Ingress     []Rule            `json:"ingress,omitempty"`
}

// Rule is one inbound security group rule: a protocol and port range from
// one source (a CIDR or a security group).
type Rule struct {
	// Protocol is "tcp", "udp", "icmp", "icmpv6" or "-1" (all).
	Protocol      string `json:"protocol"`
	FromPort      int32  `json:"fromPort,omitempty"`
	ToPort        int32  `json:"toPort,omitempty"`
	CIDR          string `json:"cidr,omitempty"`
	SourceGroupID string `json:"sourceGroupID,omitempty"`
	Description   string `json:"description,omitempty"`
}

// Instance is an EC2 instance (a Kubernetes node, usually).
type Instance struct {
	ID             string            `json:"id"`
	SubnetID       string            `json:"subnetID"`
	PrivateIP      string            `json:"privateIP"`
	SecurityGroups []string          `json:"securityGroups,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	// InstanceType sets the limits of the instance's network interfaces
	// (see package instancetype); empty: the local EC2's default type.
	InstanceType string `json:"instanceType,omitempty"`
}

// Certificate is an ACM certificate. Without PEM material the local ELB
// issues one from its local CA for DomainName and SubjectAlternativeNames.
type Certificate struct {
	ARN                     string            `json:"arn"`
	DomainName              string            `json:"domainName"`
	SubjectAlternativeNames []string          `json:"subjectAlternativeNames,omitempty"`
	Status                  string            `json:"status,omitempty"`       // default ISSUED
	Type                    string            `json:"type,omitempty"`         // IMPORTED or AMAZON_ISSUED (default)
	KeyAlgorithm            string            `json:"keyAlgorithm,omitempty"` // default RSA_2048
	NotAfter                *time.Time        `json:"notAfter,omitempty"`
	CertificatePEM          string            `json:"certificatePEM,omitempty"`
	PrivateKeyPEM           string            `json:"privateKeyPEM,omitempty"`
	ChainPEM                string            `json:"chainPEM,omitempty"`
	Tags                    map[string]string `json:"tags,omitempty"`
}

// ElasticIP is an allocated Elastic IP address.
type ElasticIP struct {
	AllocationID string            `json:"allocationID"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// Load reads a facts file. Fields the file leaves out are not defaulted:
// call Default for a complete local cloud.
func Load(path string) (*Facts, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("facts file: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("facts file %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes YAML or JSON facts strictly (unknown fields are errors),
// fills Region and AccountID when absent, and validates the result.
func Parse(b []byte) (*Facts, error) {
	var f Facts
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, err
	}
	if f.Region == "" {
		f.Region = DefaultRegion
	}
	if f.AccountID == "" {
		f.AccountID = DefaultAccountID
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

// Validate checks references and address ranges: every ID unique, every
// subnet inside its VPC and in a zone of the region, every instance inside
// its subnet, every security group in a known VPC.
func (f *Facts) Validate() error {
	if !regionRE.MatchString(f.Region) {
		return fmt.Errorf("region %q: want a region name such as us-east-1", f.Region)
	}
	if !accountRE.MatchString(f.AccountID) {
		return fmt.Errorf("accountID %q: want 12 digits", f.AccountID)
	}
	if _, err := f.Addresses(); err != nil {
		return fmt.Errorf("addressMap: %w", err)
	}
	seen := map[string]string{}
	unique := func(kind, id string) error {
		if id == "" {
			return fmt.Errorf("%s without an id", kind)
		}
		if prev, ok := seen[id]; ok {
			return fmt.Errorf("%s %s: id already used by a %s", kind, id, prev)
		}
		seen[id] = kind
		return nil
	}
	vpcs := map[string]netip.Prefix{}
	for _, v := range f.VPCs {
		if err := unique("vpc", v.ID); err != nil {
			return err
		}
		p, err := netip.ParsePrefix(v.CIDR)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("vpc %s: cidr %q: want an IPv4 CIDR such as 10.0.0.0/16", v.ID, v.CIDR)
		}
		vpcs[v.ID] = p
	}
	subnets := map[string]netip.Prefix{}
	for _, s := range f.Subnets {
		if err := unique("subnet", s.ID); err != nil {
			return err
		}
		vp, ok := vpcs[s.VpcID]
		if !ok {
			return fmt.Errorf("subnet %s: vpcID %q is not a vpc of these facts", s.ID, s.VpcID)
		}
		p, err := netip.ParsePrefix(s.CIDR)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("subnet %s: cidr %q: want an IPv4 CIDR", s.ID, s.CIDR)
		}
		if !vp.Contains(p.Addr()) || p.Bits() < vp.Bits() {
			return fmt.Errorf("subnet %s: cidr %s is not inside vpc %s (%s)", s.ID, p, s.VpcID, vp)
		}
		if !strings.HasPrefix(s.AvailabilityZone, f.Region) || len(s.AvailabilityZone) != len(f.Region)+1 {
			return fmt.Errorf("subnet %s: availabilityZone %q is not a zone of region %s (want %sa, %sb, …)", s.ID, s.AvailabilityZone, f.Region, f.Region, f.Region)
		}
		for id, other := range subnets {
			if other.Overlaps(p) && f.subnet(id).VpcID == s.VpcID {
				return fmt.Errorf("subnet %s: cidr %s overlaps subnet %s (%s)", s.ID, p, id, other)
			}
		}
		subnets[s.ID] = p
	}
	for _, g := range f.SecurityGroups {
		if err := unique("security group", g.ID); err != nil {
			return err
		}
		if _, ok := vpcs[g.VpcID]; !ok {
			return fmt.Errorf("security group %s: vpcID %q is not a vpc of these facts", g.ID, g.VpcID)
		}
		if g.Name == "" {
			return fmt.Errorf("security group %s: name is required", g.ID)
		}
		for i, r := range g.Ingress {
			if err := r.validate(); err != nil {
				return fmt.Errorf("security group %s: ingress rule %d: %w", g.ID, i, err)
			}
		}
	}
	for _, in := range f.Instances {
		if err := unique("instance", in.ID); err != nil {
			return err
		}
		sp, ok := subnets[in.SubnetID]
		if !ok {
			return fmt.Errorf("instance %s: subnetID %q is not a subnet of these facts", in.ID, in.SubnetID)
		}
		ip, err := netip.ParseAddr(in.PrivateIP)
		if err != nil || !sp.Contains(ip) {
			return fmt.Errorf("instance %s: privateIP %q is not an address of subnet %s (%s)", in.ID, in.PrivateIP, in.SubnetID, sp)
		}
	}
	for _, c := range f.Certificates {
		if err := unique("certificate", c.ARN); err != nil {
			return err
		}
		if c.DomainName == "" && c.CertificatePEM == "" {
			return fmt.Errorf("certificate %s: domainName or certificatePEM is required", c.ARN)
		}
		if (c.CertificatePEM == "") != (c.PrivateKeyPEM == "") {
			return fmt.Errorf("certificate %s: certificatePEM and privateKeyPEM go together", c.ARN)
		}
	}
	for _, e := range f.ElasticIPs {
		if err := unique("elastic IP", e.AllocationID); err != nil {
			return err
		}
	}
	return nil
}

func (r Rule) validate() error {
	switch r.Protocol {
	case "tcp", "udp", "icmp", "icmpv6", "-1":
	default:
		return fmt.Errorf("protocol %q: want tcp, udp, icmp, icmpv6 or -1", r.Protocol)
	}
	if (r.CIDR == "") == (r.SourceGroupID == "") {
		return fmt.Errorf("exactly one of cidr and sourceGroupID is required")
	}
	if r.CIDR != "" {
		if _, err := netip.ParsePrefix(r.CIDR); err != nil {
			return fmt.Errorf("cidr %q: %w", r.CIDR, err)
		}
	}
	if r.FromPort > r.ToPort {
		return fmt.Errorf("fromPort %d is above toPort %d", r.FromPort, r.ToPort)
	}
	return nil
}

func (f *Facts) subnet(id string) *Subnet {
	for i := range f.Subnets {
		if f.Subnets[i].ID == id {
			return &f.Subnets[i]
		}
	}
	return nil
}

// Addresses returns the address map the facts configure.
func (f *Facts) Addresses() (vpcaddr.Map, error) {
	if f.AddressMap == nil {
		return vpcaddr.Default(), nil
	}
	return vpcaddr.Parse(*f.AddressMap)
}

// Subnet returns the subnet with the given ID.
func (f *Facts) Subnet(id string) (Subnet, bool) {
	if s := f.subnet(id); s != nil {
		return *s, true
	}
	return Subnet{}, false
}

// SubnetOf returns the subnet whose CIDR holds an IPv4 address.
func (f *Facts) SubnetOf(ip netip.Addr) (Subnet, bool) {
	for _, s := range f.Subnets {
		if p, err := netip.ParsePrefix(s.CIDR); err == nil && p.Contains(ip.Unmap()) {
			return s, true
		}
	}
	return Subnet{}, false
}

// StableID derives a resource ID of AWS's shape (prefix, a dash, 17 hex
// digits) from a seed, so that default facts name the same resources on
// every machine and at every start.
func StableID(prefix, seed string) string {
	sum := sha256.Sum256([]byte("elbow/" + seed))
	return prefix + "-" + hex.EncodeToString(sum[:])[:17]
}

// ZoneID returns the availability zone ID elbow uses for a zone name, in
// AWS's shape: us-east-1a -> use1-az1, ap-northeast-2c -> apne2-az3.
func ZoneID(zone string) string {
	if len(zone) < 2 {
		return zone
	}
	region, letter := zone[:len(zone)-1], zone[len(zone)-1]
	parts := strings.Split(region, "-")
	if len(parts) < 3 || letter < 'a' || letter > 'z' {
		return zone
	}
	short := map[string]string{
		"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
		"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1 : len(parts)-1] {
		if s, ok := short[p]; ok {
			b.WriteString(s)
		} else {
			b.WriteByte(p[0])
		}
	}
	b.WriteString(parts[len(parts)-1])
	return fmt.Sprintf("%s-az%d", b.String(), letter-'a'+1)
}

// Default returns the local cloud: one VPC (10.0.0.0/16) with a public and
// a private subnet in each of three zones, tagged for subnet discovery as on
// an EKS VPC (kubernetes.io/role/elb on public subnets,
// kubernetes.io/role/internal-elb on private ones, and
// kubernetes.io/cluster/NAME=shared when a cluster name is given), plus the
// VPC's default security group. IDs are stable for a region.
//
//	zone a: public 10.0.0.0/20   private 10.0.128.0/19
//	zone b: public 10.0.16.0/20  private 10.0.160.0/19
//	zone c: public 10.0.32.0/20  private 10.0.192.0/19
func Default(region, clusterName string) *Facts {
	if region == "" {
		region = DefaultRegion
	}
	vpcID := StableID("vpc", region+"/vpc")
	f := &Facts{
		Region:      region,
		AccountID:   DefaultAccountID,
		ClusterName: clusterName,
		VPCs: []VPC{{
			ID:   vpcID,
			CIDR: "10.0.0.0/16",
			Tags: map[string]string{"Name": "elbow"},
		}},
		SecurityGroups: []SecurityGroup{{
			ID:          StableID("sg", region+"/default-sg"),
			Name:        "default",
			Description: "default VPC security group",
			VpcID:       vpcID,
		}},
	}
	public := []string{"10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"}
	private := []string{"10.0.128.0/19", "10.0.160.0/19", "10.0.192.0/19"}
	for i, letter := range []string{"a", "b", "c"} {
		zone := region + letter
		for _, kind := range []struct {
			name, cidr, role string
			public           bool
		}{
			{"public", public[i], "kubernetes.io/role/elb", true},
			{"private", private[i], "kubernetes.io/role/internal-elb", false},
		} {
			tags := map[string]string{
				"Name":    fmt.Sprintf("elbow-%s-%s", kind.name, zone),
				kind.role: "1",
			}
			if clusterName != "" {
				tags["kubernetes.io/cluster/"+clusterName] = "shared"
			}
			f.Subnets = append(f.Subnets, Subnet{
				ID:                 StableID("subnet", region+"/"+kind.name+"/"+zone),
				VpcID:              vpcID,
				AvailabilityZone:   zone,
				AvailabilityZoneID: ZoneID(zone),
				CIDR:               kind.cidr,
				Public:             kind.public,
				Tags:               tags,
			})
		}
	}
	return f
}

// Zones returns the availability zones the facts' subnets use, sorted.
func (f *Facts) Zones() []string {
	set := map[string]bool{}
	for _, s := range f.Subnets {
		set[s.AvailabilityZone] = true
	}
	out := make([]string, 0, len(set))
	for z := range set {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}
