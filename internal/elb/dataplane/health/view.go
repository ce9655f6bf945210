package health

import (
	"net/netip"
	"sync/atomic"
)

// Target is a registered target as a data plane reaches it.
type Target struct {
	// ID and Port identify the target in its target group (Port is the
	// traffic port).
	ID   string
	Port int32
	// Zone is the target's Availability Zone, "all" for an address
	// outside the VPC's subnets.
	Zone string
	// Addr is the host address and traffic port to connect to: the
	// target's VPC address realised through the address map (for an "alb"
	// target, the load balancer's listen address). It is invalid for a
	// target that has no address (a Lambda function, an unknown instance).
	Addr netip.AddrPort
}

// TargetHealth is a target and its health.
type TargetHealth struct {
	Target
	Status Status
}

// Group is an immutable picture of one target group's targets and their
// health. The checker replaces a group's picture atomically whenever a
// target's status changes or the state changes; readers never lock and
// never allocate. Nothing in a Group may be modified.
type Group struct {
	// ARN is the target group's ARN.
	ARN string
	// Targets are every registered target (draining ones included) in
	// the state's key order.
	Targets []TargetHealth
	// Healthy are the targets that may receive traffic: healthy ones, and
	// in a target group whose health checks are disabled every registered
	// target in use (ELB routes to them without checking).
	Healthy []Target
	// Unhealthy are the targets in use whose health checks failed. When a
	// target group holds only unhealthy targets, ELB routes to all of them
	// ("fail open"); see Routable.
	Unhealthy []Target

	healthyByZone map[string][]Target // zone -> healthy targets there or in "all"
	index         map[targetKey]int   // into Targets; shared by pictures of the same targets
}

// targetKey identifies a target within its target group.
type targetKey struct {
	id   string
	port int32
}

// Lookup returns a target's entry. A nil Group holds nothing.
func (g *Group) Lookup(id string, port int32) (TargetHealth, bool) {
	if g == nil {
		return TargetHealth{}, false
	}
	i, ok := g.index[targetKey{id, port}]
	if !ok {
		return TargetHealth{}, false
	}
	return g.Targets[i], true
}

// HealthyInZone returns the healthy targets that a load balancer node in
// zone reaches without crossing zones: those in zone and those outside the
// VPC ("all"). For a load balancer with cross-zone load balancing off.
func (g *Group) HealthyInZone(zone string) []Target {
	if g == nil {
		return nil
	}
	if ts, ok := g.healthyByZone[zone]; ok {
		return ts
	}
	return g.healthyByZone[zoneAll]
}

// Routable returns the targets to spread traffic over: the healthy ones,
// or when there is none, the unhealthy ones (ELB fails open: "If a target
// group contains only unhealthy registered targets, the load balancer
// routes requests to all those targets"). Targets still in their initial
// health checks, draining or unused are never routable. The result may be
// empty.
func (g *Group) Routable() []Target {
	if g == nil {
		return nil
	}
	if len(g.Healthy) > 0 {
		return g.Healthy
	}
	return g.Unhealthy
}

// zoneAll is the zone of targets outside the VPC.
const zoneAll = "all"

// routable reports whether a status lets a target receive traffic.
func routable(s Status) bool {
	return s.State == StateHealthy || s == HealthCheckDisabled
}

// indexOf maps targets' keys to their positions.
func indexOf(entries []entry) map[targetKey]int {
	m := make(map[targetKey]int, len(entries))
	for i, e := range entries {
		m[targetKey{e.target.ID, e.target.Port}] = i
	}
	return m
}

// newGroup builds a Group from a target group's targets and their index.
func newGroup(arn string, targets []TargetHealth, index map[targetKey]int) *Group {
	g := &Group{ARN: arn, Targets: targets, index: index}
	zones := map[string]bool{}
	for _, t := range targets {
		switch {
		case routable(t.Status):
			g.Healthy = append(g.Healthy, t.Target)
			if t.Zone != zoneAll && t.Zone != "" {
				zones[t.Zone] = true
			}
		case t.Status.State == StateUnhealthy:
			g.Unhealthy = append(g.Unhealthy, t.Target)
		}
	}
	g.healthyByZone = make(map[string][]Target, len(zones)+1)
	var all []Target
	for _, t := range g.Healthy {
		if t.Zone == zoneAll || t.Zone == "" {
			all = append(all, t)
		}
	}
	g.healthyByZone[zoneAll] = all
	for z := range zones {
		var ts []Target
		for _, t := range g.Healthy {
			if t.Zone == z || t.Zone == zoneAll || t.Zone == "" {
				ts = append(ts, t)
			}
		}
		g.healthyByZone[z] = ts
	}
	return g
}

// slot holds the current picture of one target group.
type slot struct {
	group atomic.Pointer[Group]
}
