package ec2

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Provisioner creates, inside a caller's write transaction, the EC2
// resources a request names and the state lacks, for
// --auto-provision-references: subnets, security groups and Elastic IPs.
// ELBv2 uses it for CreateLoadBalancer, SetSubnets and SetSecurityGroups,
// the EC2 service for DescribeSubnets, DescribeSecurityGroups and
// DescribeAddresses with explicit IDs. Each creation is noted in the
// request's autoprovision.Request, to be logged once the transaction has
// committed; when the request fails, the transaction and so every
// creation is rolled back.
type Provisioner struct {
	// AccountID owns what is created (facts.DefaultAccountID when empty).
	AccountID string
	// Region names the zones of created subnets: REGION + a, b, c, …
	// (facts.DefaultRegion when empty).
	Region string
	// ClusterName, when set, tags created subnets
	// kubernetes.io/cluster/NAME=shared, as the default subnets are.
	ClusterName string
}

// Ref is a reference a request makes: an ID and the parameter naming it
// (for the log), e.g. SubnetMappings[0].SubnetId.
type Ref struct {
	ID        string
	Parameter string
}

// ProvisionError says why a reference could not be auto-provisioned.
// Callers answer it with their usual NotFound error, adding the reason.
type ProvisionError struct {
	ID     string
	Reason string
}

func (e *ProvisionError) Error() string {
	return fmt.Sprintf("%s cannot be auto-provisioned: %s", e.ID, e.Reason)
}

// IsSubnetID, IsSecurityGroupID and IsAllocationID report whether an ID
// has the shape of its kind (prefix, dash, letters and digits): only
// such IDs are auto-provisioned.
func IsSubnetID(id string) bool { return subnetID.wellFormed(id) }

// IsSecurityGroupID reports whether id has a security group ID's shape.
func IsSecurityGroupID(id string) bool { return groupID.wellFormed(id) }

// IsAllocationID reports whether id has an Elastic IP allocation ID's
// shape.
func IsAllocationID(id string) bool { return allocID.wellFormed(id) }

func (p Provisioner) account() string {
	if p.AccountID == "" {
		return facts.DefaultAccountID
	}
	return p.AccountID
}

func (p Provisioner) region() string {
	if p.Region == "" {
		return facts.DefaultRegion
	}
	return p.Region
}

// Subnet roles, as the default subnets are tagged.
const (
	roleELB         = "kubernetes.io/role/elb"
	roleInternalELB = "kubernetes.io/role/internal-elb"
)

// Subnets creates the subnets among refs (a request's subnet IDs, in
// request order, known and unknown) that are well-formed subnet IDs the
// state lacks; other IDs are left for the caller to refuse. Each is
// created:
//
//   - in the VPC of the request's known subnets, else in vpcID when it
//     is given, else in the default (or only) VPC;
//   - in the first zone of the region (REGION + a, b, c, …) that neither
//     a known subnet of the request nor an earlier created one is in, so
//     that a load balancer gets distinct zones: this is what elbow's
//     translation assumes of a missing subnet;
//   - with the first /20 (or smaller block) of the VPC's CIDR that
//     overlaps no subnet, and the first free /64 of a dual-stack VPC's
//     IPv6 block;
//   - public (associated with the VPC's public route table, which routes
//     to the internet gateway, and tagged kubernetes.io/role/elb=1) or
//     private (kubernetes.io/role/internal-elb=1), tagged Name=ID and,
//     with a cluster name, kubernetes.io/cluster/NAME=shared.
//
// A subnet named twice is created once.
func (p Provisioner) Subnets(tx *state.Tx, req *autoprovision.Request, refs []Ref, vpcID string, public bool) error {
	var missing []Ref
	taken := map[string]bool{}
	knownVPC := ""
	seen := map[string]bool{}
	for _, r := range refs {
		if r.ID == "" || seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		sn, ok, err := state.Get(tx, state.Subnets, r.ID)
		if err != nil {
			return err
		}
		switch {
		case ok:
			taken[sn.AvailabilityZone] = true
			if knownVPC == "" {
				knownVPC = sn.VpcID
			}
		case IsSubnetID(r.ID):
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if knownVPC != "" {
		vpcID = knownVPC
	}
	vpc, err := p.vpc(tx, missing[0].ID, vpcID)
	if err != nil {
		return err
	}
	block, err := netip.ParsePrefix(vpc.CIDR)
	if err != nil || !block.Addr().Is4() {
		return &ProvisionError{ID: missing[0].ID, Reason: fmt.Sprintf("VPC %s has no IPv4 CIDR block (%q)", vpc.ID, vpc.CIDR)}
	}
	v4, v6, err := subnetBlocks(tx, vpc.ID)
	if err != nil {
		return err
	}
	kind, role := "private", roleInternalELB
	if public {
		kind, role = "public", roleELB
	}
	letter := 'a'
	for _, r := range missing {
		for letter <= 'z' && taken[fmt.Sprintf("%s%c", p.region(), letter)] {
			letter++
		}
		if letter > 'z' {
			return &ProvisionError{ID: r.ID, Reason: fmt.Sprintf("the request's subnets take every zone of %s", p.region())}
		}
		zone := fmt.Sprintf("%s%c", p.region(), letter)
		taken[zone] = true
		cidr, ok := freeBlock(block, v4, 20, 28)
		if !ok {
			return &ProvisionError{ID: r.ID, Reason: fmt.Sprintf("VPC %s (%s) has no free /28", vpc.ID, vpc.CIDR)}
		}
		v4 = append(v4, cidr)
		sn := facts.Subnet{
			ID: r.ID, VpcID: vpc.ID, AvailabilityZone: zone, AvailabilityZoneID: facts.ZoneID(zone),
			CIDR: cidr.String(), Public: public,
			Tags: map[string]string{"Name": r.ID, role: "1"},
		}
		if p.ClusterName != "" {
			sn.Tags["kubernetes.io/cluster/"+p.ClusterName] = "shared"
		}
		if vpc.IPv6CIDR != "" {
			if b, err := netip.ParsePrefix(vpc.IPv6CIDR); err == nil {
				if c6, ok := freeBlock(b, v6, 64, 64); ok {
					v6 = append(v6, c6)
					sn.IPv6CIDR = c6.String()
				}
			}
		}
		if err := createSubnet(tx, p.account(), sn); err != nil {
			return fmt.Errorf("auto-provision subnet %s: %w", r.ID, err)
		}
		attrs := []slog.Attr{slog.String("vpc", vpc.ID), slog.String("zone", zone), slog.String("cidr", sn.CIDR), slog.String("role", role)}
		if sn.IPv6CIDR != "" {
			attrs = append(attrs, slog.String("ipv6CIDR", sn.IPv6CIDR))
		}
		req.Add(autoprovision.KindSubnet, r.ID, r.Parameter,
			fmt.Sprintf("a %s subnet %s of VPC %s in %s", kind, sn.CIDR, vpc.ID, zone), attrs...)
	}
	return nil
}

// vpc returns the VPC auto-provisioned resources go to: want when given,
// else the default VPC, else the only one.
func (p Provisioner) vpc(tx *state.Tx, id, want string) (*state.VPC, error) {
	if want == "" {
		var err error
		if want, err = defaultVPC(tx); err != nil {
			return nil, err
		}
	}
	if want != "" {
		v, ok, err := state.Get(tx, state.VPCs, want)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &ProvisionError{ID: id, Reason: fmt.Sprintf("VPC %s does not exist", want)}
		}
		return v, nil
	}
	vpcs, err := state.List(tx, state.VPCs)
	if err != nil {
		return nil, err
	}
	if len(vpcs) != 1 {
		return nil, &ProvisionError{ID: id, Reason: fmt.Sprintf("the local cloud has %d VPCs and none is the default; name it with a known resource of the VPC in the same request", len(vpcs))}
	}
	return vpcs[0], nil
}

// subnetBlocks returns the IPv4 and IPv6 blocks of a VPC's subnets.
func subnetBlocks(tx *state.Tx, vpcID string) (v4, v6 []netip.Prefix, err error) {
	err = state.ForEachPrefix(tx, state.Subnets, "", func(sn *state.Subnet) error {
		if sn.VpcID != vpcID {
			return nil
		}
		if p, err := netip.ParsePrefix(sn.CIDR); err == nil {
			v4 = append(v4, p.Masked())
		}
		if p, err := netip.ParsePrefix(sn.IPv6CIDR); err == nil {
			v6 = append(v6, p.Masked())
		}
		return nil
	})
	return v4, v6, err
}

// freeBlock returns the first block of within, of minBits bits (or, when
// none is free, of the next sizes down to maxBits), that overlaps none of
// used.
func freeBlock(within netip.Prefix, used []netip.Prefix, minBits, maxBits int) (netip.Prefix, bool) {
	within = within.Masked()
	for bits := max(minBits, within.Bits()); bits <= maxBits; bits++ {
		for c := netip.PrefixFrom(within.Addr(), bits); c.IsValid() && within.Contains(c.Addr()); {
			free := true
			for _, u := range used {
				if u.Overlaps(c) {
					free = false
					break
				}
			}
			if free {
				return c, true
			}
			next := lastAddr(c).Next()
			if !next.IsValid() {
				break
			}
			c = netip.PrefixFrom(next, bits)
		}
	}
	return netip.Prefix{}, false
}

// autoGroupDescription is the description of auto-provisioned security
// groups.
const autoGroupDescription = "auto-provisioned by the local ELB (--auto-provision-references): admits all traffic"

// SecurityGroup creates the security group ref names, when it is a
// well-formed group ID the state lacks, in vpcID (the default or only VPC
// when empty): the group name is the ID, the description says it was
// auto-provisioned, and one inbound rule admits all traffic from
// 0.0.0.0/0 (and one from ::/0 in a dual-stack VPC), so that traffic
// passes as it would through the real group the request names; the
// outbound rule is the default one. It returns the group (nil when the
// ID is not well-formed) and whether it was created.
func (p Provisioner) SecurityGroup(tx *state.Tx, req *autoprovision.Request, ref Ref, vpcID string) (*state.SecurityGroup, bool, error) {
	if g, ok, err := state.Get(tx, state.SecurityGroups, ref.ID); err != nil || ok {
		return g, false, err
	}
	if !IsSecurityGroupID(ref.ID) {
		return nil, false, nil
	}
	vpc, err := p.vpc(tx, ref.ID, vpcID)
	if err != nil {
		return nil, false, err
	}
	fg := facts.SecurityGroup{ID: ref.ID, Name: ref.ID, Description: autoGroupDescription, VpcID: vpc.ID,
		Ingress: []facts.Rule{{Protocol: "-1", CIDR: "0.0.0.0/0", Description: "auto-provisioned: all traffic"}}}
	sources := "0.0.0.0/0"
	if vpc.IPv6CIDR != "" {
		fg.Ingress = append(fg.Ingress, facts.Rule{Protocol: "-1", CIDR: "::/0", Description: "auto-provisioned: all traffic"})
		sources += " and ::/0"
	}
	g, err := createGroup(tx, p.account(), fg, nil)
	if err != nil {
		return nil, false, &ProvisionError{ID: ref.ID, Reason: err.Error()}
	}
	req.Add(autoprovision.KindSecurityGroup, ref.ID, ref.Parameter,
		fmt.Sprintf("a security group of VPC %s admitting all inbound traffic from %s, so that traffic passes as through the group named", vpc.ID, sources),
		slog.String("vpc", vpc.ID), slog.String("ingress", "all traffic from "+sources))
	return g, true, nil
}

// ElasticIP allocates the Elastic IP ref names, when it is a well-formed
// allocation ID the state lacks, as AllocateAddress does: the next address
// of the Elastic IP pool, in the vpc domain. It returns the address (nil
// when the ID is not well-formed) and whether it was created.
// Auto-provisioned addresses count against, but are not refused by, the
// Elastic IP quota.
func (p Provisioner) ElasticIP(tx *state.Tx, req *autoprovision.Request, ref Ref) (*state.Address, bool, error) {
	if a, ok, err := state.Get(tx, state.Addresses, ref.ID); err != nil || ok {
		return a, false, err
	}
	if !IsAllocationID(ref.ID) {
		return nil, false, nil
	}
	a, err := allocateAddress(tx, ref.ID)
	if err != nil {
		return nil, false, &ProvisionError{ID: ref.ID, Reason: err.Error()}
	}
	req.Add(autoprovision.KindElasticIP, ref.ID, ref.Parameter,
		fmt.Sprintf("an Elastic IP %s from the Elastic IP pool %s", a.PublicIP, state.ElasticIPPool),
		slog.String("publicIP", a.PublicIP))
	return a, true, nil
}
