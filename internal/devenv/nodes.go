package devenv

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/elbowlb/elbow/internal/devenv/agent"
	"github.com/elbowlb/elbow/internal/facts"
)

// MaxNodes bounds --nodes: each zone's private subnet gives node addresses
// from .10 of its first /24 onwards.
const MaxNodes = 60

// planNodes returns n nodes spread over the facts' zones in turn (a, b, c,
// a, …), each in its zone's private subnet at .10, .11, … of the subnet's
// first /24, named as EKS names nodes (ip-10-0-128-10.ec2.internal), with
// a stable instance ID.
func planNodes(f *facts.Facts, n int) ([]agent.Node, error) {
	if n < 1 || n > MaxNodes {
		return nil, fmt.Errorf("--nodes %d: want 1 to %d", n, MaxNodes)
	}
	type zoneSubnet struct {
		zone, id string
		cidr     netip.Prefix
	}
	var zones []zoneSubnet
	for _, z := range f.Zones() {
		for _, s := range f.Subnets {
			if s.AvailabilityZone != z || s.Public {
				continue
			}
			p, err := netip.ParsePrefix(s.CIDR)
			if err != nil || !p.Addr().Is4() {
				continue
			}
			zones = append(zones, zoneSubnet{zone: z, id: s.ID, cidr: p.Masked()})
			break
		}
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("the local cloud has no private IPv4 subnet to put nodes in")
	}
	var out []agent.Node
	for i := 0; i < n; i++ {
		z := zones[i%len(zones)]
		b := z.cidr.Addr().As4()
		b[3] = byte(10 + i/len(zones))
		ip := netip.AddrFrom4(b)
		name := "ip-" + strings.ReplaceAll(ip.String(), ".", "-") + ".ec2.internal"
		if f.Region != "us-east-1" {
			name = "ip-" + strings.ReplaceAll(ip.String(), ".", "-") + "." + f.Region + ".compute.internal"
		}
		out = append(out, agent.Node{
			Name:       name,
			Zone:       z.zone,
			InstanceID: facts.StableID("i", f.Region+"/dev-node/"+name),
			IP:         ip,
			Subnet:     z.cidr,
		})
	}
	return out, nil
}

// withInstances adds the nodes to the facts as EC2 instances, so that the
// local ELB resolves instance targets to the nodes' addresses.
func withInstances(f *facts.Facts, nodes []agent.Node) error {
	for _, n := range nodes {
		sub := ""
		for _, s := range f.Subnets {
			if p, err := netip.ParsePrefix(s.CIDR); err == nil && p.Contains(n.IP) && s.AvailabilityZone == n.Zone {
				sub = s.ID
			}
		}
		if sub == "" {
			return fmt.Errorf("node %s: no subnet holds %s", n.Name, n.IP)
		}
		tags := map[string]string{"Name": n.Name}
		if f.ClusterName != "" {
			tags["kubernetes.io/cluster/"+f.ClusterName] = "owned"
		}
		f.Instances = append(f.Instances, facts.Instance{ID: n.InstanceID, SubnetID: sub, PrivateIP: n.IP.String(), Tags: tags, InstanceType: agent.InstanceType})
	}
	return nil
}
