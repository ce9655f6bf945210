package nlb

import (
	"hash/maphash"
	"net/netip"
)

// Transport numbers for the flow hash.
const (
	protoTCP = 6
	protoUDP = 17
)

// fiveTuple is what a flow is hashed on.
type fiveTuple struct {
	client, listener netip.AddrPort
	proto            uint8
}

// flowHash hashes a flow's 5-tuple (client address and port, listener
// address and port, transport).
func (p *Plane) flowHash(client, listener netip.AddrPort, proto uint8) uint64 {
	return maphash.Comparable(p.seed, fiveTuple{client, listener, proto})
}

// sourceHash hashes a client's address alone, for source_ip stickiness.
func (p *Plane) sourceHash(client netip.Addr) uint64 {
	return maphash.Comparable(p.seed, client)
}

// mix is a 64-bit finaliser (splitmix64), so that rendezvous scores of
// neighbouring hashes are independent.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// groupHash is what a route chooses a flow's target group by: the flow's
// hash h, or its client's address when the listener keeps clients on their
// target group (target group stickiness).
func (p *Plane) groupHash(r *route, h uint64, client netip.Addr) uint64 {
	if r.stickyGroups {
		return p.sourceHash(client)
	}
	return h
}

// pickGroup chooses the target group of a flow by weight.
func (r *route) pickGroup(h uint64) *groupRoute {
	switch len(r.groups) {
	case 0:
		return nil
	case 1:
		return &r.groups[0]
	}
	if r.totalWeight == 0 {
		return nil
	}
	n := mix(h^0x9e3779b97f4a7c15) % r.totalWeight
	for i := range r.groups {
		if n < r.groups[i].weight {
			return &r.groups[i]
		}
		n -= r.groups[i].weight
	}
	return &r.groups[len(r.groups)-1]
}

// pick chooses a flow's target by rendezvous hashing among the healthy
// candidates while they meet the target group's routing failover thresholds
// (target_group_health.unhealthy_state_routing.minimum_healthy_targets:
// count, 1 by default, and percentage); below them, among the healthy and
// unhealthy ones (fail open: "the load balancer sends traffic to all
// targets that are available to the load balancer node, including
// unhealthy targets"). Targets still in their initial health checks are
// never chosen. Rendezvous hashing moves only the flows of a target that
// comes or goes. It returns nil when no target qualifies.
func (g *groupRoute) pick(h uint64) *candidate {
	s := &g.tg.s
	if g.meets(s.RoutingFailoverCount, s.RoutingFailoverPercent) {
		if c := g.best(h, (*targetState).isHealthy); c != nil {
			return c
		}
	}
	return g.best(h, (*targetState).isChecked)
}

// meets reports whether the group's healthy candidates number at least
// count and make at least percent of all its candidates (0: no such
// threshold).
func (g *groupRoute) meets(count, percent int) bool {
	healthy := 0
	for i := range g.cands {
		if g.cands[i].ts.isHealthy() {
			healthy++
		}
	}
	return meetsThresholds(healthy, len(g.cands), count, percent)
}

// meetsThresholds reports whether healthy targets of total number at least
// count and make at least percent of them (0: no such threshold).
func meetsThresholds(healthy, total, count, percent int) bool {
	return (count == 0 || healthy >= count) && (percent == 0 || healthy*100 >= percent*total)
}

func (g *groupRoute) best(h uint64, ok func(*targetState) bool) *candidate {
	var best *candidate
	var bestScore uint64
	for i := range g.cands {
		c := &g.cands[i]
		if !ok(c.ts) {
			continue
		}
		if s := mix(h ^ c.ts.hash); best == nil || s > bestScore {
			best, bestScore = c, s
		}
	}
	return best
}

func (ts *targetState) isHealthy() bool { return ts.healthy.Load() }

// isChecked reports whether the target's checks have decided: healthy or
// unhealthy, not initial.
func (ts *targetState) isChecked() bool { return ts.healthy.Load() || ts.unhealthy.Load() }

// ServingZones returns the zones of a network load balancer whose
// addresses AWS's DNS keeps in the load balancer's name: a zone stays while
// every target group the load balancer forwards to has, among the targets
// that zone's address reaches (its own zone's with cross-zone load
// balancing off, NLB's default; every enabled zone's with it on), at least
// the group's DNS failover thresholds of healthy targets
// (target_group_health.dns_failover.minimum_healthy_targets.count, 1 by
// default, and .percentage; "If you specify both types of thresholds ...
// the load balancer takes the action when either threshold is breached").
// It returns nil when no zone serves, or the load balancer is not one the
// plane carries: then every address stays (DNS fails open, as AWS's does).
func (p *Plane) ServingZones(lbARN string) map[string]bool {
	c := p.cur.Load()
	if c == nil {
		return nil
	}
	zones := map[string]bool{} // zone: still serving
	for _, r := range c.routes {
		if r.lbARN != lbARN || r.zone == "" {
			continue
		}
		serving, seen := zones[r.zone]
		if seen && !serving {
			continue
		}
		serving = true
		for i := range r.groups {
			if !r.groups[i].keepsZone() {
				serving = false
				break
			}
		}
		zones[r.zone] = serving
	}
	var out map[string]bool
	for z, serving := range zones {
		if serving {
			if out == nil {
				out = map[string]bool{}
			}
			out[z] = true
		}
	}
	return out
}

// keepsZone reports whether the target group's targets reachable from a
// route's zone meet its DNS failover thresholds (both "off": always).
func (g *groupRoute) keepsZone() bool {
	return g.meets(g.tg.s.DNSFailoverCount, g.tg.s.DNSFailoverPercent)
}
