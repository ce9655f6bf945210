package state

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Snapshot is a consistent, read-only copy of the whole state at one
// revision, with indexes for the data planes and the health checker.
// Nothing in it may be modified.
type Snapshot struct {
	Revision uint64

	LoadBalancers  map[string]*LoadBalancer // by ARN
	Listeners      map[string]*Listener     // by ARN
	Rules          map[string]*Rule         // by ARN
	TargetGroups   map[string]*TargetGroup  // by ARN
	Subnets        map[string]*Subnet       // by ID
	SecurityGroups map[string]*SecurityGroup
	Instances      map[string]*Instance
	Certificates   map[string]*Certificate
	TrustStores    map[string]*TrustStore
	Tags           map[string]*TagSet // by resource

	listenersByLB   map[string][]*Listener // sorted by port
	rulesByListener map[string][]*Rule     // sorted by priority
	targetsByTG     map[string][]*Target   // in key order
	lbsByTG         map[string][]string    // sorted ARNs
}

// Snapshot reads the whole state in one transaction. A state that cannot
// be read whole fails the store (Err): the data planes would otherwise be
// fed nothing while the API answers.
func (s *Store) Snapshot() (*Snapshot, error) {
	var snap *Snapshot
	err := s.View(func(tx *Tx) error {
		var err error
		snap, err = ReadSnapshot(tx)
		return err
	})
	if err != nil && s.Err() == nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		s.fail(err)
	}
	return snap, err
}

// ReadSnapshot builds a Snapshot from a transaction.
func ReadSnapshot(tx *Tx) (*Snapshot, error) {
	s := &Snapshot{
		Revision:        tx.Revision(),
		listenersByLB:   map[string][]*Listener{},
		rulesByListener: map[string][]*Rule{},
		targetsByTG:     map[string][]*Target{},
		lbsByTG:         map[string][]string{},
	}
	var err error
	if s.LoadBalancers, err = readMap(tx, LoadBalancers); err != nil {
		return nil, err
	}
	if s.Listeners, err = readMap(tx, Listeners); err != nil {
		return nil, err
	}
	if s.Rules, err = readMap(tx, Rules); err != nil {
		return nil, err
	}
	if s.TargetGroups, err = readMap(tx, TargetGroups); err != nil {
		return nil, err
	}
	if s.Subnets, err = readMap(tx, Subnets); err != nil {
		return nil, err
	}
	if s.SecurityGroups, err = readMap(tx, SecurityGroups); err != nil {
		return nil, err
	}
	if s.Instances, err = readMap(tx, Instances); err != nil {
		return nil, err
	}
	if s.Certificates, err = readMap(tx, Certificates); err != nil {
		return nil, err
	}
	if s.TrustStores, err = readMap(tx, TrustStores); err != nil {
		return nil, err
	}
	if s.Tags, err = readMap(tx, Tags); err != nil {
		return nil, err
	}
	err = ForEachPrefix(tx, Targets, "", func(t *Target) error {
		s.targetsByTG[t.TargetGroupARN] = append(s.targetsByTG[t.TargetGroupARN], t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, l := range s.Listeners {
		s.listenersByLB[l.LoadBalancerARN] = append(s.listenersByLB[l.LoadBalancerARN], l)
	}
	for _, ls := range s.listenersByLB {
		sort.Slice(ls, func(i, j int) bool { return ls[i].Port < ls[j].Port })
	}
	for _, r := range s.Rules {
		s.rulesByListener[r.ListenerARN] = append(s.rulesByListener[r.ListenerARN], r)
	}
	for _, rs := range s.rulesByListener {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Priority < rs[j].Priority })
	}
	use := map[string]map[string]bool{}
	addUse := func(lbARN string, actions []elbv2types.Action) {
		for _, tg := range ActionTargetGroups(actions) {
			if use[tg] == nil {
				use[tg] = map[string]bool{}
			}
			use[tg][lbARN] = true
		}
	}
	for _, l := range s.Listeners {
		addUse(l.LoadBalancerARN, l.DefaultActions)
		for _, r := range s.rulesByListener[l.ARN] {
			addUse(l.LoadBalancerARN, r.Actions)
		}
	}
	for tg, lbs := range use {
		for lb := range lbs {
			s.lbsByTG[tg] = append(s.lbsByTG[tg], lb)
		}
		sort.Strings(s.lbsByTG[tg])
	}
	return s, nil
}

func readMap[T any](tx *Tx, k Kind[T]) (map[string]*T, error) {
	m := map[string]*T{}
	err := ForEachPrefix(tx, k, "", func(v *T) error {
		m[k.Key(v)] = v
		return nil
	})
	return m, err
}

// ActionTargetGroups returns the target group ARNs that forward actions
// name, each once, in order of appearance.
func ActionTargetGroups(actions []elbv2types.Action) []string {
	var out []string
	seen := map[string]bool{}
	add := func(arn *string) {
		if arn != nil && *arn != "" && !seen[*arn] {
			seen[*arn] = true
			out = append(out, *arn)
		}
	}
	for _, a := range actions {
		if a.Type != elbv2types.ActionTypeEnumForward {
			continue
		}
		add(a.TargetGroupArn)
		if a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				add(t.TargetGroupArn)
			}
		}
	}
	return out
}

// ListenersOf returns a load balancer's listeners, by port.
func (s *Snapshot) ListenersOf(lbARN string) []*Listener { return s.listenersByLB[lbARN] }

// RulesOf returns a listener's non-default rules, by priority.
func (s *Snapshot) RulesOf(listenerARN string) []*Rule { return s.rulesByListener[listenerARN] }

// TargetsOf returns a target group's targets, draining ones included.
func (s *Snapshot) TargetsOf(tgARN string) []*Target { return s.targetsByTG[tgARN] }

// LoadBalancersOfTargetGroup returns the ARNs of the load balancers whose
// listeners or rules forward to a target group, sorted.
func (s *Snapshot) LoadBalancersOfTargetGroup(tgARN string) []string { return s.lbsByTG[tgARN] }

// TargetVPCAddress returns the VPC address and availability zone of a
// target: an IP target's own address and the zone of its subnet (or its
// registered zone, "all" for addresses outside the VPC), an instance
// target's private IP and zone.
func (s *Snapshot) TargetVPCAddress(t *Target) (netip.Addr, string, error) {
	if inst, ok := s.Instances[t.ID]; ok {
		a, err := netip.ParseAddr(inst.PrivateIP)
		if err != nil {
			return netip.Addr{}, "", fmt.Errorf("instance %s: private IP %q: %w", t.ID, inst.PrivateIP, err)
		}
		return a, inst.AvailabilityZone, nil
	}
	a, err := netip.ParseAddr(t.ID)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("target %s is neither a known instance nor an IP address", t.ID)
	}
	if t.AvailabilityZone != "" {
		return a, t.AvailabilityZone, nil
	}
	for _, sn := range s.Subnets {
		if p, err := netip.ParsePrefix(sn.CIDR); err == nil && p.Contains(a.Unmap()) {
			return a, sn.AvailabilityZone, nil
		}
	}
	return a, "all", nil
}

// TargetHostAddr returns where to connect to reach a target's traffic port:
// its VPC address realised through the address map, and its zone.
func (s *Snapshot) TargetHostAddr(m vpcaddr.Map, t *Target) (netip.AddrPort, string, error) {
	a, zone, err := s.TargetVPCAddress(t)
	if err != nil {
		return netip.AddrPort{}, "", err
	}
	return netip.AddrPortFrom(m.ToHost(a), uint16(t.Port)), zone, nil
}

// HealthCheckPort returns the port a target is health-checked on: its
// traffic port, or the target group's HealthCheckPort when that is a number.
func HealthCheckPort(tg *TargetGroup, t *Target) uint16 {
	if tg.HealthCheckPort != "" && tg.HealthCheckPort != "traffic-port" {
		if p, err := strconv.Atoi(tg.HealthCheckPort); err == nil && p > 0 && p < 65536 {
			return uint16(p)
		}
	}
	return uint16(t.Port)
}
