package translate

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
)

// Subnet role tags.
const (
	TagRoleELB         = "kubernetes.io/role/elb"
	TagRoleInternalELB = "kubernetes.io/role/internal-elb"
	clusterTagPrefix   = "kubernetes.io/cluster/"
)

// Cloud answers translation's questions about the cloud from Facts. It does
// no I/O.
type Cloud struct {
	facts *facts.Facts
	opts  *Options
	vpc   facts.VPC
	// missing are the references asked for that the facts lack.
	missing map[Reference]bool
}

// RefKind is a kind of cloud resource that manifests name by ID or name.
type RefKind string

// The kinds of references translation checks against the facts.
const (
	RefSubnet        RefKind = "subnet"
	RefSecurityGroup RefKind = "security group"
	RefElasticIP     RefKind = "Elastic IP allocation"
)

// Reference is a cloud resource a manifest names: an ID (subnet-…, sg-…,
// eipalloc-…) or a name (a subnet's or security group's Name tag, a
// security group's name), looked up in the cluster's VPC.
type Reference struct {
	Kind RefKind
	Name string
}

// String returns "kind name".
func (r Reference) String() string { return string(r.Kind) + " " + r.Name }

// Missing returns the references asked for so far that the facts lack,
// sorted by kind and name: the caller may look them up in the cloud and
// translate again with what it found (and, in Options.References.Absent,
// what the cloud answered for the rest).
func (c *Cloud) Missing() []Reference {
	out := make([]Reference, 0, len(c.missing))
	for r := range c.missing {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// miss records references the facts lack and says why they are refused:
// what the cloud answered when each was looked up, or, when any was not
// looked up, that the facts lack them.
func (c *Cloud) miss(kind RefKind, names []string) (answers string, lookedUp bool) {
	if c.missing == nil {
		c.missing = map[Reference]bool{}
	}
	lookedUp = true
	var out []string
	for _, n := range names {
		ref := Reference{Kind: kind, Name: n}
		c.missing[ref] = true
		a, ok := c.opts.References.Absent[ref]
		if !ok {
			lookedUp = false
		}
		out = append(out, a)
	}
	return strings.Join(out, "; "), lookedUp
}

// NewCloud picks the cluster's VPC (Options.VPCID, or the facts' only VPC).
func NewCloud(f *facts.Facts, o *Options) (*Cloud, error) {
	if f == nil {
		return nil, fmt.Errorf("no facts")
	}
	c := &Cloud{facts: f, opts: o}
	switch {
	case o.VPCID != "":
		for _, v := range f.VPCs {
			if v.ID == o.VPCID {
				c.vpc = v
			}
		}
		if c.vpc.ID == "" {
			return nil, fmt.Errorf("VPC %s is not in the facts", o.VPCID)
		}
	case len(f.VPCs) == 1:
		c.vpc = f.VPCs[0]
	case len(f.VPCs) == 0:
		return nil, fmt.Errorf("the facts have no VPC")
	default:
		ids := make([]string, 0, len(f.VPCs))
		for _, v := range f.VPCs {
			ids = append(ids, v.ID)
		}
		return nil, fmt.Errorf("the facts have %d VPCs (%s): name the cluster's with the VPC ID option", len(ids), strings.Join(ids, ", "))
	}
	return c, nil
}

// VPCID returns the cluster VPC's ID.
func (c *Cloud) VPCID() string { return c.vpc.ID }

// VPCCIDRs returns the cluster VPC's IPv4 and IPv6 CIDRs.
func (c *Cloud) VPCCIDRs() (v4, v6 []string) {
	if c.vpc.CIDR != "" {
		v4 = []string{c.vpc.CIDR}
	}
	if c.vpc.IPv6CIDR != "" {
		v6 = []string{c.vpc.IPv6CIDR}
	}
	return v4, v6
}

// Region returns the facts' region.
func (c *Cloud) Region() string { return c.facts.Region }

// Subnet is a subnet a load balancer may use.
type Subnet struct {
	ID               string
	AvailabilityZone string
	CIDR             string
	IPv6CIDR         string
	Public           bool
	Tags             map[string]string
	// Assumed is set for a subnet the facts do not have, taken on trust.
	Assumed bool
}

// SubnetQuery says what a load balancer needs of its subnets.
type SubnetQuery struct {
	LBType        stack.LoadBalancerType
	Scheme        stack.Scheme
	IPAddressType stack.IPAddressType
}

func (q SubnetQuery) needsIPv6() bool {
	return q.IPAddressType == stack.IPAddressTypeDualStack || q.IPAddressType == stack.IPAddressTypeDualStackWithoutPublicIPv4
}

func (c *Cloud) vpcSubnets() []Subnet {
	var out []Subnet
	for _, s := range c.facts.Subnets {
		if s.VpcID != c.vpc.ID {
			continue
		}
		out = append(out, Subnet{ID: s.ID, AvailabilityZone: s.AvailabilityZone, CIDR: s.CIDR, IPv6CIDR: s.IPv6CIDR, Public: s.Public, Tags: s.Tags})
	}
	return out
}

// SubnetByID returns the facts' subnet of the VPC with an ID.
func (c *Cloud) SubnetByID(id string) (Subnet, bool) {
	for _, s := range c.vpcSubnets() {
		if s.ID == id {
			return s, true
		}
	}
	return Subnet{}, false
}

// matchesTags reports whether a subnet carries every key of filters with
// one of its values.
func matchesTags(s Subnet, filters map[string][]string) bool {
	for k, vals := range filters {
		v, ok := s.Tags[k]
		if !ok {
			return false
		}
		found := false
		for _, want := range vals {
			if v == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (c *Cloud) ownClusterTag(s Subnet) bool {
	_, ok := s.Tags[clusterTagPrefix+c.opts.ClusterName]
	return ok
}

// eligibleClusterTag: no cluster tag at all, or one for this cluster.
func (c *Cloud) eligibleClusterTag(s Subnet) bool {
	if !c.opts.FeatureGates.Enabled(GateSubnetsClusterTagCheck) || c.ownClusterTag(s) {
		return true
	}
	for k := range s.Tags {
		if strings.HasPrefix(k, "kubernetes.io/cluster") {
			return false
		}
	}
	return true
}

// freeAddresses estimates a subnet's free addresses from its size (AWS
// reserves five per subnet).
func freeAddresses(cidr string) int {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return 1 << 16
	}
	bits := 32 - p.Bits()
	if bits > 16 {
		bits = 16
	}
	return (1 << bits) - 5
}

// DiscoverSubnets picks one subnet per zone as the reference does: the
// candidates are the subnets matching tagFilters if given, else those with
// the scheme's role tag (value "" or "1"), else (gate
// SubnetDiscoveryByReachability) those whose reachability matches the
// scheme; subnets tagged for other clusters, too small, or without IPv6 for
// a dual-stack load balancer are dropped; in each zone a subnet tagged for
// this cluster wins, then the lowest ID. The result is sorted by ID and
// source says how the subnets were found.
func (c *Cloud) DiscoverSubnets(q SubnetQuery, tagFilters map[string][]string) (chosen []Subnet, source string, err error) {
	all := c.vpcSubnets()
	var cands []Subnet
	if len(tagFilters) > 0 {
		for _, s := range all {
			if matchesTags(s, tagFilters) {
				cands = append(cands, s)
			}
		}
		source = "subnets matching the tag selector " + formatTagFilters(tagFilters)
	} else {
		role := TagRoleInternalELB
		if q.Scheme == stack.SchemeInternetFacing {
			role = TagRoleELB
		}
		for _, s := range all {
			if matchesTags(s, map[string][]string{role: {"", "1"}}) {
				cands = append(cands, s)
			}
		}
		source = fmt.Sprintf("discovered by role tag %s", role)
		if len(cands) == 0 && c.opts.FeatureGates.Enabled(GateSubnetDiscoveryByReachability) {
			for _, s := range all {
				if s.Public == (q.Scheme == stack.SchemeInternetFacing) {
					cands = append(cands, s)
				}
			}
			kind := "private"
			if q.Scheme == stack.SchemeInternetFacing {
				kind = "public"
			}
			source = fmt.Sprintf("no subnet has the role tag %s: discovered the %s subnets by reachability", role, kind)
		}
	}
	var otherCluster, tooSmall, noIPv6 int
	byZone := map[string][]Subnet{}
	for _, s := range cands {
		switch {
		case !c.eligibleClusterTag(s):
			otherCluster++
		case freeAddresses(s.CIDR) < 8:
			tooSmall++
		case q.needsIPv6() && s.IPv6CIDR == "":
			noIPv6++
		default:
			byZone[s.AvailabilityZone] = append(byZone[s.AvailabilityZone], s)
		}
	}
	for _, zs := range byZone {
		sort.Slice(zs, func(i, j int) bool {
			oi, oj := c.ownClusterTag(zs[i]), c.ownClusterTag(zs[j])
			if oi != oj {
				return oi
			}
			return zs[i].ID < zs[j].ID
		})
		chosen = append(chosen, zs[0])
	}
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].ID < chosen[j].ID })
	if len(chosen) == 0 {
		msg := fmt.Sprintf("unable to resolve at least one subnet (%s). Evaluated %d subnets: %d are tagged for other clusters, and %d have insufficient available IP addresses",
			source, len(cands), otherCluster, tooSmall)
		if q.needsIPv6() {
			msg += fmt.Sprintf(", and %d don't have an associated IPv6 CIDR block, which %s load balancers need", noIPv6, q.IPAddressType)
		}
		return nil, source, fmt.Errorf("%s", msg)
	}
	if err := c.checkCount(chosen, q); err != nil {
		return nil, source, fmt.Errorf("%s: %w", source, err)
	}
	return chosen, source, nil
}

func (c *Cloud) checkCount(subnets []Subnet, q SubnetQuery) error {
	min := 1
	if q.LBType == stack.LoadBalancerTypeApplication && !c.opts.FeatureGates.Enabled(GateALBSingleSubnet) {
		min = 2
	}
	if len(subnets) < min {
		return fmt.Errorf("subnets count less than minimal required count: %d < %d (an application load balancer needs subnets in at least two availability zones)", len(subnets), min)
	}
	return nil
}

func formatTagFilters(f map[string][]string) string {
	var parts []string
	for _, k := range SortedKeys(f) {
		parts = append(parts, k+" in ["+strings.Join(f[k], ", ")+"]")
	}
	return "{" + strings.Join(parts, "; ") + "}"
}

// Source names what a reference came from, for messages.
type Source struct {
	Object ObjectRef
	// Field is the annotation key or field path.
	Field string
}

func (s Source) String() string { return s.Object.String() + " " + s.Field }

// SubnetsByNameOrID resolves explicit subnets, in the order named: IDs
// ("subnet-…") directly, other values by their Name tag in the VPC. Subnets
// the facts lack are assumed (with a warning in tr) when the options allow,
// placed in the VPC in the zones a, b, c… not already used, public for an
// internet-facing load balancer and private for an internal one.
func (c *Cloud) SubnetsByNameOrID(items []string, q SubnetQuery, src Source, tr *Trace) ([]Subnet, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: unable to resolve at least one subnet", src.Field)
	}
	all := c.vpcSubnets()
	byName := map[string][]Subnet{}
	for _, s := range all {
		if n := s.Tags["Name"]; n != "" {
			byName[n] = append(byName[n], s)
		}
	}
	for _, l := range byName {
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	}
	used := map[string]int{}
	out := make([]Subnet, len(items))
	var missing []int
	for i, item := range items {
		if strings.HasPrefix(item, "subnet-") {
			found := false
			for _, f := range c.facts.Subnets {
				if f.ID == item {
					out[i] = Subnet{ID: f.ID, AvailabilityZone: f.AvailabilityZone, CIDR: f.CIDR, IPv6CIDR: f.IPv6CIDR, Public: f.Public, Tags: f.Tags}
					found = true
				}
			}
			if !found {
				missing = append(missing, i)
			}
			continue
		}
		l := byName[item]
		if used[item] < len(l) {
			out[i] = l[used[item]]
			used[item]++
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 {
		var names []string
		for _, i := range missing {
			names = append(names, items[i])
		}
		answers, lookedUp := c.miss(RefSubnet, names)
		if !c.opts.AssumeMissingReferences {
			if lookedUp {
				return nil, fmt.Errorf("%s: %s", src.Field, answers)
			}
			return nil, fmt.Errorf("%s: subnets %s are not in the facts (VPC %s); add them to the facts file, or pass --auto-provision-references to assume them",
				src.Field, strings.Join(names, ", "), c.vpc.ID)
		}
		taken := map[string]bool{}
		for i := range out {
			if out[i].ID != "" {
				taken[out[i].AvailabilityZone] = true
			}
		}
		letter := 'a'
		for _, i := range missing {
			for taken[fmt.Sprintf("%s%c", c.facts.Region, letter)] {
				letter++
			}
			zone := fmt.Sprintf("%s%c", c.facts.Region, letter)
			taken[zone] = true
			id := items[i]
			if !strings.HasPrefix(id, "subnet-") {
				id = facts.StableID("subnet", c.facts.Region+"/name/"+items[i])
			}
			kind := "private"
			if q.Scheme == stack.SchemeInternetFacing {
				kind = "public"
			}
			out[i] = Subnet{ID: id, AvailabilityZone: zone, Public: kind == "public", Assumed: true, Tags: map[string]string{"Name": items[i]}}
			tr.Add(Warning, src.Object, "ASSUMED subnet %s (%s): not in the facts; taken as a %s subnet of %s in %s (elbow dev's local ELB creates it on first use)",
				items[i], src.Field, kind, c.vpc.ID, zone)
		}
	}
	zones := map[string][]string{}
	for _, s := range out {
		zones[s.AvailabilityZone] = append(zones[s.AvailabilityZone], s.ID)
	}
	for _, z := range SortedKeys(zones) {
		if len(zones[z]) > 1 {
			return nil, fmt.Errorf("%s: multiple subnets in the same availability zone %s: %s", src.Field, z, strings.Join(zones[z], ", "))
		}
	}
	if q.needsIPv6() {
		var noV6 []string
		for _, s := range out {
			if s.IPv6CIDR == "" && !s.Assumed {
				noV6 = append(noV6, s.ID)
			}
		}
		if len(noV6) > 0 {
			return nil, fmt.Errorf("%s: subnets %s have no IPv6 CIDR block, which %s load balancers need", src.Field, strings.Join(noV6, ", "), q.IPAddressType)
		}
	}
	if err := c.checkCount(out, q); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Field, err)
	}
	return out, nil
}

// SecurityGroupsByNameOrID resolves security groups: IDs ("sg-…") as named,
// then names (the Name tag, or the group name) in the VPC. The result lists
// the IDs first in the order named, then the groups found by name.
func (c *Cloud) SecurityGroupsByNameOrID(items []string, src Source, tr *Trace) ([]string, error) {
	var ids, names []string
	for _, it := range items {
		if strings.HasPrefix(it, "sg-") {
			ids = append(ids, it)
		} else {
			names = append(names, it)
		}
	}
	var out, missing []string
	for _, id := range ids {
		found := false
		for _, g := range c.facts.SecurityGroups {
			if g.ID == id {
				found = true
			}
		}
		if !found {
			missing = append(missing, id)
		}
		out = append(out, id)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		var hits []string
		for _, g := range c.facts.SecurityGroups {
			if g.VpcID == c.vpc.ID && (g.Tags["Name"] == n || g.Name == n) {
				hits = append(hits, g.ID)
			}
		}
		if len(hits) == 0 {
			missing = append(missing, n)
			if c.opts.AssumeMissingReferences {
				out = append(out, facts.StableID("sg", c.facts.Region+"/name/"+n))
			}
			continue
		}
		sort.Strings(hits)
		out = append(out, hits...)
	}
	if len(missing) > 0 {
		answers, lookedUp := c.miss(RefSecurityGroup, missing)
		if !c.opts.AssumeMissingReferences {
			if lookedUp {
				return nil, fmt.Errorf("%s: %s", src.Field, answers)
			}
			return nil, fmt.Errorf("%s: security groups %s are not in the facts (VPC %s); add them to the facts file, or pass --auto-provision-references to assume them",
				src.Field, strings.Join(missing, ", "), c.vpc.ID)
		}
		for _, m := range missing {
			tr.Add(Warning, src.Object, "ASSUMED security group %s (%s): not in the facts; taken to exist in %s", m, src.Field, c.vpc.ID)
		}
	}
	return out, nil
}

// CheckElasticIPs checks that Elastic IP allocations exist (or assumes them).
func (c *Cloud) CheckElasticIPs(allocs []string, src Source, tr *Trace) error {
	var missing []string
	for _, a := range allocs {
		found := false
		for _, e := range c.facts.ElasticIPs {
			if e.AllocationID == a {
				found = true
			}
		}
		if !found {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	answers, lookedUp := c.miss(RefElasticIP, missing)
	if !c.opts.AssumeMissingReferences {
		if lookedUp {
			return fmt.Errorf("%s: %s", src.Field, answers)
		}
		return fmt.Errorf("%s: Elastic IP allocations %s are not in the facts; add them to the facts file, or pass --auto-provision-references to assume them",
			src.Field, strings.Join(missing, ", "))
	}
	for _, m := range missing {
		tr.Add(Warning, src.Object, "ASSUMED Elastic IP allocation %s (%s): not in the facts (elbow dev's local ELB allocates it on first use)", m, src.Field)
	}
	return nil
}

// DiscoverCertificates finds, for every host, the issued certificates whose
// domain name or subject alternative names match it (exactly, or by a
// "*.domain" wildcard one label deep). A host without a certificate is an
// error. The result is sorted by ARN, as the reference returns it.
func (c *Cloud) DiscoverCertificates(hosts []string) ([]string, error) {
	set := map[string]bool{}
	var missing []string
	for _, h := range hosts {
		n := 0
		for _, cert := range c.facts.Certificates {
			if cert.Status != "" && cert.Status != "ISSUED" {
				continue
			}
			domains := append([]string{cert.DomainName}, cert.SubjectAlternativeNames...)
			for _, d := range domains {
				if d != "" && domainMatches(d, h) {
					set[cert.ARN] = true
					n++
					break
				}
			}
		}
		if n == 0 {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no issued certificate found for host: %s", strings.Join(missing, ", "))
	}
	return SortedKeys(set), nil
}

func domainMatches(domain, host string) bool {
	if strings.HasPrefix(domain, "*.") {
		ds, hs := strings.Split(domain, "."), strings.Split(host, ".")
		if len(ds) != len(hs) {
			return false
		}
		for i := 1; i < len(ds); i++ {
			if ds[i] != hs[i] {
				return false
			}
		}
		return true
	}
	return domain == host
}

// BackendSecurityGroupName is the name of the cluster's shared backend
// security group.
func (c *Cloud) BackendSecurityGroupName() string {
	return BackendSecurityGroupName(c.opts.ClusterName)
}

// BackendSecurityGroup returns the shared backend security group's ID: the
// option, else the facts' group with its name or its tags
// (elbv2.k8s.aws/cluster and elbv2.k8s.aws/resource=backend-sg), else a
// placeholder "<pending:NAME>" with a note (the controller creates it).
func (c *Cloud) BackendSecurityGroup(obj ObjectRef, tr *Trace) string {
	if c.opts.BackendSecurityGroupID != "" {
		return c.opts.BackendSecurityGroupID
	}
	name := c.BackendSecurityGroupName()
	for _, g := range c.facts.SecurityGroups {
		if g.VpcID != c.vpc.ID {
			continue
		}
		if g.Name == name || (g.Tags[stack.TagCluster] == c.opts.ClusterName && g.Tags["elbv2.k8s.aws/resource"] == "backend-sg") {
			return g.ID
		}
	}
	tr.Add(Note, obj, "the shared backend security group %s is not in the facts: the controller creates it on first apply; its ID shows as <pending:%s>", name, name)
	return "<pending:" + name + ">"
}

// LookupARN resolves a name to an ARN through refs, or assumes one of the
// right shape (with a warning) when the options allow.
func (c *Cloud) LookupARN(kind string, refs map[string]string, name string, assume func() string, src Source, tr *Trace) (string, error) {
	if arn, ok := refs[name]; ok {
		return arn, nil
	}
	if !c.opts.AssumeMissingReferences {
		return "", fmt.Errorf("%s: %s %q is not known; pass --auto-provision-references to assume it", src.Field, kind, name)
	}
	arn := assume()
	tr.Add(Warning, src.Object, "ASSUMED %s %q (%s): not known; taken as %s", kind, name, src.Field, arn)
	return arn, nil
}

// Account returns the facts' account ID.
func (c *Cloud) Account() string { return c.facts.AccountID }

// DescribeSubnets lists subnets with their zones, for decisions.
func DescribeSubnets(ss []Subnet) string {
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ID+" ("+s.AvailabilityZone+")")
	}
	return strings.Join(ids, ", ")
}

// SubnetMappings places a load balancer in subnets, one mapping each.
func SubnetMappings(ss []Subnet) []stack.SubnetMapping {
	out := make([]stack.SubnetMapping, 0, len(ss))
	for _, s := range ss {
		out = append(out, stack.SubnetMapping{SubnetID: s.ID})
	}
	return out
}

// DefaultSubnets picks the subnets of a load balancer that names none:
// those of the load balancer the stack already has, when its scheme is the
// same (as the reference keeps them), else one per zone by
// DiscoverSubnets. value and source describe the choice for a decision.
func (c *Cloud) DefaultSubnets(q SubnetQuery, stackID string) (mappings []stack.SubnetMapping, value, source string, err error) {
	if ex, ok := c.opts.References.ExistingLoadBalancers[stackID]; ok && ex.Scheme == string(q.Scheme) && len(ex.SubnetIDs) > 0 {
		for _, id := range ex.SubnetIDs {
			mappings = append(mappings, stack.SubnetMapping{SubnetID: id})
		}
		return mappings, strings.Join(ex.SubnetIDs, ", "), "kept from the existing load balancer of the stack", nil
	}
	chosen, src, err := c.DiscoverSubnets(q, nil)
	if err != nil {
		return nil, "", "", fmt.Errorf("couldn't auto-discover subnets for a %s %s load balancer: %w", q.Scheme, q.IPAddressType, err)
	}
	return SubnetMappings(chosen), DescribeSubnets(chosen), fmt.Sprintf("%s in %s, one per zone (cluster-tagged first, then lowest ID)", src, c.VPCID()), nil
}

// BackendNetworking lets the backend security group sg reach the targets
// on the TCP ports, or on every TCP port when ports is empty. perPort puts
// each port in its own rule; otherwise one rule lists them all.
func BackendNetworking(sg stack.Token, perPort bool, ports ...intstr.IntOrString) *stack.TGBNetworking {
	tcp := elbv2api.NetworkingProtocolTCP
	from := []stack.NetworkingPeer{{SecurityGroup: &stack.TGBSecurityGroup{GroupID: sg}}}
	if len(ports) == 0 {
		return &stack.TGBNetworking{Ingress: []stack.NetworkingIngressRule{{From: from, Ports: []elbv2api.NetworkingPort{{Protocol: &tcp}}}}}
	}
	var np []elbv2api.NetworkingPort
	for _, p := range ports {
		p := p
		np = append(np, elbv2api.NetworkingPort{Protocol: &tcp, Port: &p})
	}
	if !perPort {
		return &stack.TGBNetworking{Ingress: []stack.NetworkingIngressRule{{From: from, Ports: np}}}
	}
	var rules []stack.NetworkingIngressRule
	for _, p := range np {
		rules = append(rules, stack.NetworkingIngressRule{From: from, Ports: []elbv2api.NetworkingPort{p}})
	}
	return &stack.TGBNetworking{Ingress: rules}
}
