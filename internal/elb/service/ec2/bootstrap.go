package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Bootstrap creates, in one transaction, the resources of f that the state
// does not hold yet: VPCs (each with a main route table, an internet
// gateway and its default security group), subnets (public ones
// associated with a route table that routes 0.0.0.0/0 to the internet
// gateway), security groups with their inbound rules and the default
// outbound rule, instances with their primary network interfaces and
// Elastic IPs, with their tags (the facts' certificates are ACM's:
// acm.Bootstrap). A resource already present is left as it
// is (a client may have changed it), so Bootstrap is idempotent: with the
// same facts a later start changes nothing, and facts that add resources
// add only those. IDs derived here (route tables, gateways, interfaces)
// are stable.
func Bootstrap(ctx context.Context, store *state.Store, f *facts.Facts) error {
	if f == nil {
		return errors.New("bootstrap: no facts")
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("bootstrap: facts: %w", err)
	}
	b := &bootstrap{f: f, now: time.Now().UTC().Truncate(time.Second), account: f.AccountID, region: f.Region}
	if b.account == "" {
		b.account = facts.DefaultAccountID
	}
	if b.region == "" {
		b.region = facts.DefaultRegion
	}
	err := store.UpdateIfChanged(ctx, func(tx *state.Tx) (bool, error) {
		b.tx = tx
		for _, step := range []func() error{b.vpcs, b.subnets, b.groups, b.defaultGroups, b.instances, b.elasticIPs} {
			if err := step(); err != nil {
				return false, err
			}
		}
		return b.created, nil
	})
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

type bootstrap struct {
	f       *facts.Facts
	tx      *state.Tx
	now     time.Time
	account string
	region  string
	created bool
}

// absent reports whether a record is missing.
func absent[T any](tx *state.Tx, k state.Kind[T], id string) (bool, error) {
	_, ok, err := state.Get(tx, k, id)
	return !ok, err
}

func mainRouteTableID(vpc string) string   { return facts.StableID("rtb", vpc+"/main") }
func publicRouteTableID(vpc string) string { return facts.StableID("rtb", vpc+"/public") }
func gatewayID(vpc string) string          { return facts.StableID("igw", vpc) }

func (b *bootstrap) vpcs() error {
	for _, v := range b.f.VPCs {
		if miss, err := absent(b.tx, state.VPCs, v.ID); err != nil {
			return err
		} else if miss {
			rec := &state.VPC{ID: v.ID, CIDR: v.CIDR, IPv6CIDR: v.IPv6CIDR, State: "available", OwnerID: b.account}
			if err := state.Put(b.tx, state.VPCs, rec); err != nil {
				return err
			}
			if err := putStateTags(b.tx, v.ID, state.SortedTags(v.Tags)); err != nil {
				return err
			}
			b.created = true
		}
		rtb := mainRouteTableID(v.ID)
		if miss, err := absent(b.tx, state.RouteTables, rtb); err != nil {
			return err
		} else if miss {
			rt := &state.RouteTable{ID: rtb, VpcID: v.ID, Main: true, Routes: localRoutes(v.CIDR, v.IPv6CIDR), OwnerID: b.account}
			if err := state.Put(b.tx, state.RouteTables, rt); err != nil {
				return err
			}
			b.created = true
		}
		igw := gatewayID(v.ID)
		if miss, err := absent(b.tx, state.InternetGateways, igw); err != nil {
			return err
		} else if miss {
			if err := state.Put(b.tx, state.InternetGateways, &state.InternetGateway{ID: igw, VpcID: v.ID, OwnerID: b.account}); err != nil {
				return err
			}
			b.created = true
		}
	}
	return nil
}

// localRoutes are the routes of a VPC's own CIDR blocks.
func localRoutes(cidr, ipv6CIDR string) []state.Route {
	r := []state.Route{{DestinationCIDR: cidr, GatewayID: "local"}}
	if ipv6CIDR != "" {
		r = append(r, state.Route{DestinationCIDR: ipv6CIDR, GatewayID: "local"})
	}
	return r
}

func (b *bootstrap) subnets() error {
	for _, sn := range b.f.Subnets {
		miss, err := absent(b.tx, state.Subnets, sn.ID)
		if err != nil {
			return err
		}
		if !miss {
			continue
		}
		if err := createSubnet(b.tx, b.account, sn); err != nil {
			return err
		}
		b.created = true
	}
	return nil
}

// createSubnet stores a subnet the state lacks, with its tags; a public
// one is associated with its VPC's public route table. Bootstrap creates
// the facts' subnets with it, and auto-provisioning the subnets requests
// name (Provisioner.Subnets).
func createSubnet(tx *state.Tx, account string, sn facts.Subnet) error {
	zoneID := sn.AvailabilityZoneID
	if zoneID == "" {
		zoneID = facts.ZoneID(sn.AvailabilityZone)
	}
	rec := &state.Subnet{
		ID: sn.ID, VpcID: sn.VpcID, AvailabilityZone: sn.AvailabilityZone, AvailabilityZoneID: zoneID,
		CIDR: sn.CIDR, IPv6CIDR: sn.IPv6CIDR, MapPublicIPOnLaunch: sn.Public, State: "available", OwnerID: account,
	}
	if err := state.Put(tx, state.Subnets, rec); err != nil {
		return err
	}
	if err := putStateTags(tx, sn.ID, state.SortedTags(sn.Tags)); err != nil {
		return err
	}
	if sn.Public {
		return routePublic(tx, account, sn)
	}
	return nil
}

// routePublic associates a public subnet with its VPC's public route
// table (0.0.0.0/0, and ::/0 for a dual-stack VPC, to the internet
// gateway), creating the table on first use.
func routePublic(tx *state.Tx, account string, sn facts.Subnet) error {
	id := publicRouteTableID(sn.VpcID)
	rt, ok, err := state.Get(tx, state.RouteTables, id)
	if err != nil {
		return err
	}
	if !ok {
		v, _, err := state.Get(tx, state.VPCs, sn.VpcID)
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("subnet %s: VPC %s does not exist", sn.ID, sn.VpcID)
		}
		routes := localRoutes(v.CIDR, v.IPv6CIDR)
		routes = append(routes, state.Route{DestinationCIDR: "0.0.0.0/0", GatewayID: gatewayID(sn.VpcID)})
		if v.IPv6CIDR != "" {
			routes = append(routes, state.Route{DestinationCIDR: "::/0", GatewayID: gatewayID(sn.VpcID)})
		}
		rt = &state.RouteTable{ID: id, VpcID: sn.VpcID, Routes: routes, OwnerID: account}
		if err := putStateTags(tx, id, []state.Tag{{Key: "Name", Value: "public"}}); err != nil {
			return err
		}
	}
	for _, s := range rt.Subnets {
		if s == sn.ID {
			return nil
		}
	}
	rt.Subnets = append(rt.Subnets, sn.ID)
	return state.Put(tx, state.RouteTables, rt)
}

// factsRule converts a facts inbound rule.
func factsRule(id string, r facts.Rule) (state.SGRule, error) {
	proto, err := normProtocol(r.Protocol)
	if err != nil {
		return state.SGRule{}, err
	}
	from, to := r.FromPort, r.ToPort
	if !hasPorts(proto) {
		from, to = -1, -1
	}
	rule := state.SGRule{ID: id, Protocol: proto, FromPort: from, ToPort: to, SourceGroupID: r.SourceGroupID, Description: r.Description}
	if r.CIDR != "" {
		p, err := netip.ParsePrefix(r.CIDR)
		if err != nil {
			return state.SGRule{}, err
		}
		if p.Addr().Is4() {
			rule.CIDRIPv4 = p.Masked().String()
		} else {
			rule.CIDRIPv6 = p.Masked().String()
		}
	}
	return rule, nil
}

func (b *bootstrap) groups() error {
	known := map[string]bool{}
	for _, g := range b.f.SecurityGroups {
		known[g.ID] = true
	}
	for _, g := range b.f.SecurityGroups {
		miss, err := absent(b.tx, state.SecurityGroups, g.ID)
		if err != nil {
			return err
		}
		if !miss {
			continue
		}
		if _, err := createGroup(b.tx, b.account, g, known); err != nil {
			return err
		}
		b.created = true
	}
	return nil
}

// createGroup stores a security group the state lacks: its inbound rules
// (sources that are neither in known nor in the state are refused), the
// default outbound rule, and its tags. Bootstrap creates the facts'
// groups with it, and auto-provisioning the groups requests name
// (Provisioner.SecurityGroup).
func createGroup(tx *state.Tx, account string, g facts.SecurityGroup, known map[string]bool) (*state.SecurityGroup, error) {
	other, err := groupByName(tx, g.VpcID, g.Name)
	if err != nil {
		return nil, err
	}
	if other != nil {
		return nil, fmt.Errorf("security group %s: VPC %s already has a group named %q (%s)", g.ID, g.VpcID, g.Name, other.ID)
	}
	rec := &state.SecurityGroup{ID: g.ID, Name: g.Name, Description: g.Description, VpcID: g.VpcID, OwnerID: account}
	if rec.Description == "" {
		rec.Description = g.Name
	}
	for i, r := range g.Ingress {
		if r.SourceGroupID != "" && !known[r.SourceGroupID] {
			if miss, err := absent(tx, state.SecurityGroups, r.SourceGroupID); err != nil {
				return nil, err
			} else if miss {
				return nil, fmt.Errorf("security group %s: ingress rule %d: source group %s is unknown", g.ID, i, r.SourceGroupID)
			}
		}
		rule, err := factsRule(facts.StableID("sgr", g.ID+"/in/"+strconv.Itoa(i)), r)
		if err != nil {
			return nil, fmt.Errorf("security group %s: ingress rule %d: %w", g.ID, i, err)
		}
		rec.Rules = append(rec.Rules, rule)
	}
	if g.Name == "default" && len(g.Ingress) == 0 {
		// AWS's default group admits traffic from its own members.
		rec.Rules = append(rec.Rules, state.SGRule{ID: facts.StableID("sgr", g.ID+"/default-in"), Protocol: "-1", FromPort: -1, ToPort: -1, SourceGroupID: g.ID})
	}
	rec.Rules = append(rec.Rules, defaultEgressRule(facts.StableID("sgr", g.ID+"/egress")))
	if err := state.Put(tx, state.SecurityGroups, rec); err != nil {
		return nil, err
	}
	if err := putStateTags(tx, g.ID, state.SortedTags(g.Tags)); err != nil {
		return nil, err
	}
	return rec, nil
}

// defaultGroups gives every VPC its "default" security group when the
// facts name none.
func (b *bootstrap) defaultGroups() error {
	for _, v := range b.f.VPCs {
		g, err := groupByName(b.tx, v.ID, "default")
		if err != nil {
			return err
		}
		if g != nil {
			continue
		}
		id := facts.StableID("sg", v.ID+"/default")
		rec := &state.SecurityGroup{
			ID: id, Name: "default", Description: "default VPC security group", VpcID: v.ID, OwnerID: b.account,
			Rules: []state.SGRule{
				{ID: facts.StableID("sgr", id+"/default-in"), Protocol: "-1", FromPort: -1, ToPort: -1, SourceGroupID: id},
				defaultEgressRule(facts.StableID("sgr", id+"/egress")),
			},
		}
		if err := state.Put(b.tx, state.SecurityGroups, rec); err != nil {
			return err
		}
		b.created = true
	}
	return nil
}

// instanceType gives an existing instance the type its facts name (a
// state made before the facts named one has the default type).
func (b *bootstrap) instanceType(in facts.Instance) error {
	if in.InstanceType == "" {
		return nil
	}
	rec, ok, err := state.Get(b.tx, state.Instances, in.ID)
	if err != nil || !ok || rec.InstanceType == in.InstanceType {
		return err
	}
	rec.InstanceType = in.InstanceType
	b.created = true
	return state.Put(b.tx, state.Instances, rec)
}

func (b *bootstrap) instances() error {
	var used map[netip.Addr]string
	for _, in := range b.f.Instances {
		miss, err := absent(b.tx, state.Instances, in.ID)
		if err != nil {
			return err
		}
		if !miss {
			if err := b.instanceType(in); err != nil {
				return err
			}
			continue
		}
		if used == nil {
			if used, err = usedIPs(b.tx); err != nil {
				return err
			}
		}
		sn, ok, err := state.Get(b.tx, state.Subnets, in.SubnetID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("instance %s: subnet %s does not exist", in.ID, in.SubnetID)
		}
		ip, err := netip.ParseAddr(in.PrivateIP)
		if err != nil {
			return fmt.Errorf("instance %s: private IP %q: %w", in.ID, in.PrivateIP, err)
		}
		if p, err := netip.ParsePrefix(sn.CIDR); err != nil || reservedInSubnet(p, ip) {
			return fmt.Errorf("instance %s: private IP %s is reserved in subnet %s (the first four and the last address)", in.ID, ip, sn.ID)
		}
		if owner, taken := used[ip]; taken {
			return fmt.Errorf("instance %s: private IP %s is already used by %s", in.ID, ip, owner)
		}
		groups := in.SecurityGroups
		for _, g := range groups {
			rec, ok, err := state.Get(b.tx, state.SecurityGroups, g)
			if err != nil {
				return err
			}
			if !ok || rec.VpcID != sn.VpcID {
				return fmt.Errorf("instance %s: security group %s is not a group of VPC %s", in.ID, g, sn.VpcID)
			}
		}
		if len(groups) == 0 {
			g, err := groupByName(b.tx, sn.VpcID, "default")
			if err != nil {
				return err
			}
			if g != nil {
				groups = []string{g.ID}
			}
		}
		rec, err := putInstance(b.tx, b.region, in.ID, facts.StableID("eni", in.ID), sn, ip, groups, b.now, facts.StableID("r", in.ID), "", in.InstanceType, nil, nil)
		if err != nil {
			return err
		}
		if err := putStateTags(b.tx, rec.ID, state.SortedTags(in.Tags)); err != nil {
			return err
		}
		used[ip] = in.ID
		b.created = true
	}
	return nil
}

func (b *bootstrap) elasticIPs() error {
	for _, e := range b.f.ElasticIPs {
		miss, err := absent(b.tx, state.Addresses, e.AllocationID)
		if err != nil {
			return err
		}
		if !miss {
			continue
		}
		if _, err := allocateAddress(b.tx, e.AllocationID); err != nil {
			return fmt.Errorf("elastic IP %s: %w", e.AllocationID, err)
		}
		if err := putStateTags(b.tx, e.AllocationID, state.SortedTags(e.Tags)); err != nil {
			return err
		}
		b.created = true
	}
	return nil
}
