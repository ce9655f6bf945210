package nlb

import (
	"crypto/tls"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sort"
	"strings"
	"time"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/dataplane/access"
	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// compiled is the data plane's view of one state revision.
type compiled struct {
	revision uint64
	// routes is the route of every wanted socket.
	routes map[sockKey]*route
	// targets holds the state of every target of a target group that a
	// network load balancer's listener forwards to.
	targets map[targetKey]*targetState
	// groupTargets lists, per target group, its targets that take new
	// flows somewhere (for fail-open decisions).
	groupTargets map[string][]*targetState
	// hostCounts feed HealthyHostCount and UnHealthyHostCount.
	hostCounts []hostCount
}

// hostCount is the set of targets one load balancer counts for one target
// group: registered, not draining, in one of its zones.
type hostCount struct {
	m       *pairMetrics
	targets []*targetState
}

// route is what one listener socket does with a new flow.
type route struct {
	lbARN       string
	listenerARN string
	// protocol is the listener's: TCP, TLS, UDP or TCP_UDP.
	protocol string
	port     uint16
	// zone is the availability zone the socket serves; empty for a
	// public address, which serves all the load balancer's zones.
	zone   string
	public bool
	// source is the host address of the load balancer node's VPC address:
	// the source of connections to targets when the client's address is
	// not preserved.
	source netip.Addr
	policy *access.Policy
	idle   time.Duration
	// tls terminates TLS listeners; tlsErr says why it is missing.
	tls    *tls.Config
	tlsErr error
	// targetTLS re-encrypts to TLS target groups, by negotiated ALPN.
	targetTLS map[string]*tls.Config

	groups      []groupRoute
	totalWeight uint64
	// stickyGroups keeps a client on the target group it was sent to
	// (the forward action's target group stickiness): the group is chosen
	// by the client's address, not by its flow.
	stickyGroups bool
	// lbm counts what happens before a target group is chosen.
	lbm *pairMetrics
}

// groupRoute is one target group of a listener's forward action, with the
// targets this socket may send new flows to.
type groupRoute struct {
	tg     *tgConf
	weight uint64
	cands  []candidate
	m      *pairMetrics
}

// candidate is a target and the host address to reach it at.
type candidate struct {
	ts   *targetState
	addr netip.AddrPort
}

// tgConf is a target group's settings at one revision.
type tgConf struct {
	arn string
	s   settings.NLBTargetGroup
	// tls re-encrypts to the targets (a TLS target group).
	tls bool
}

// compile turns a snapshot into routes. Called with applyMu held; it
// creates targetStates for new targets.
func (p *Plane) compile(snap *state.Snapshot) *compiled {
	c := &compiled{
		revision:     snap.Revision,
		routes:       map[sockKey]*route{},
		targets:      map[targetKey]*targetState{},
		groupTargets: map[string][]*targetState{},
	}
	lbARNs := make([]string, 0, len(snap.LoadBalancers))
	for arn, lb := range snap.LoadBalancers {
		if lb.Type == "network" {
			lbARNs = append(lbARNs, arn)
		}
	}
	sort.Strings(lbARNs)
	tgConfs := map[string]*tgConf{}
	usedTLS := map[string]bool{}
	for _, arn := range lbARNs {
		p.compileLB(snap, snap.LoadBalancers[arn], c, tgConfs, usedTLS)
	}
	for arn := range p.tlsCache {
		if !usedTLS[arn] {
			delete(p.tlsCache, arn)
		}
	}
	used := map[[2]string]bool{}
	for _, r := range c.routes {
		used[[2]string{state.Dimension(r.lbARN), ""}] = true
		for _, g := range r.groups {
			used[[2]string{state.Dimension(r.lbARN), state.Dimension(g.tg.arn)}] = true
		}
	}
	p.m.keep(used)
	return c
}

// lbZone is one zone of a load balancer as the data plane uses it.
type lbZone struct {
	name   string
	listen netip.Addr
	source netip.Addr
}

func (p *Plane) compileLB(snap *state.Snapshot, lb *state.LoadBalancer, c *compiled, tgConfs map[string]*tgConf, usedTLS map[string]bool) {
	log := p.log.With("loadBalancer", lb.ARN)
	if lb.State == "failed" {
		return
	}
	internal := lb.Scheme == "internal"
	lbAttrs, errs := settings.NetworkLB(lb)
	for _, err := range errs {
		log.Warn("bad load balancer attribute, using the default", "err", err)
	}
	var zones []lbZone
	enabled := map[string]bool{}
	for _, z := range lb.Zones {
		enabled[z.ZoneName] = true
		addr, err := netip.ParseAddr(z.Address)
		if err != nil {
			log.Warn("zone has no usable listen address", "zone", z.ZoneName, "address", z.Address)
			continue
		}
		addr = addr.Unmap()
		if internal && !addr.IsLoopback() {
			log.Warn("internal load balancer with a non-loopback zone address: not listening there", "zone", z.ZoneName, "address", addr)
			continue
		}
		src := addr
		if vpc, err := netip.ParseAddr(z.PrivateIPv4Address); err == nil {
			src = p.cfg.Addresses.ToHost(vpc)
		} else if z.PrivateIPv4Address != "" {
			log.Warn("zone private address does not parse; connecting to targets from the listen address", "zone", z.ZoneName, "address", z.PrivateIPv4Address)
		}
		zones = append(zones, lbZone{name: z.ZoneName, listen: addr, source: src})
	}
	if len(zones) == 0 {
		return
	}
	var publics []netip.Addr
	if !internal {
		for _, a := range p.cfg.PublicAddrs {
			if a.IsValid() && !a.IsUnspecified() {
				publics = append(publics, a.Unmap())
			}
		}
	}
	policy := access.Compile(snap, lb, p.cfg.Addresses)
	lbLabel := state.Dimension(lb.ARN)
	lbm := p.m.pair(lbLabel, "")
	counted := map[string]bool{}

	for _, l := range snap.ListenersOf(lb.ARN) {
		proto := strings.ToUpper(l.Protocol)
		var networks []string
		switch proto {
		case "TCP", "TLS":
			networks = []string{"tcp"}
		case "UDP":
			networks = []string{"udp"}
		case "TCP_UDP":
			networks = []string{"tcp", "udp"}
		default:
			log.Warn("listener protocol not carried by the network data plane", "listener", l.ARN, "protocol", l.Protocol)
			continue
		}
		if l.Port < 1 || l.Port > 65535 {
			log.Warn("listener port out of range", "listener", l.ARN, "port", l.Port)
			continue
		}
		la, errs := settings.NetworkListener(l)
		for _, err := range errs {
			log.Warn("bad listener attribute, using the default", "listener", l.ARN, "err", err)
		}
		idle := la.IdleTimeout
		var tlsConf *tls.Config
		var tlsErr error
		var targetTLS map[string]*tls.Config
		if proto == "TLS" {
			usedTLS[l.ARN] = true
			var e *tlsCacheEntry
			e, tlsErr = p.serverTLS(snap, l)
			tlsConf, targetTLS = e.cfg, e.target
			if tlsErr != nil {
				log.Warn("TLS listener cannot terminate TLS; its connections are reset", "listener", l.ARN, "err", tlsErr)
			}
		}
		type weighted struct {
			tg     *tgConf
			weight uint64
		}
		var wgs []weighted
		for _, fw := range forwardTargets(l.DefaultActions) {
			tg, ok := snap.TargetGroups[fw.arn]
			if !ok {
				log.Warn("listener forwards to an unknown target group", "listener", l.ARN, "targetGroup", fw.arn)
				continue
			}
			tc := tgConfs[tg.ARN]
			if tc == nil {
				s, errs := settings.NetworkTargetGroup(tg)
				for _, err := range errs {
					log.Warn("bad target group attribute, using the default", "targetGroup", tg.ARN, "err", err)
				}
				tc = &tgConf{arn: tg.ARN, s: s, tls: strings.EqualFold(tg.Protocol, "TLS")}
				tgConfs[tg.ARN] = tc
				p.compileTargets(snap, tg, tc, c)
			}
			wgs = append(wgs, weighted{tc, fw.weight})
		}
		// Sockets: one per zone address, plus public addresses.
		type place struct {
			zone   lbZone
			public bool
			addr   netip.Addr
		}
		var places []place
		for _, z := range zones {
			places = append(places, place{zone: z, addr: z.listen})
		}
		for _, a := range publics {
			places = append(places, place{zone: lbZone{source: zones[0].source}, public: true, addr: a})
		}
		for _, pl := range places {
			r := &route{
				lbARN:       lb.ARN,
				listenerARN: l.ARN,
				protocol:    proto,
				port:        uint16(l.Port),
				zone:        pl.zone.name,
				public:      pl.public,
				source:      pl.zone.source,
				policy:      policy,
				idle:        idle,
				tls:         tlsConf,
				tlsErr:      tlsErr,
				targetTLS:   targetTLS,
				lbm:         lbm,

				stickyGroups: forwardSticky(l.DefaultActions),
			}
			for _, w := range wgs {
				cross := w.tg.s.CrossZoneWith(lbAttrs) || pl.public
				g := groupRoute{tg: w.tg, weight: w.weight, m: p.m.pair(lbLabel, state.Dimension(w.tg.arn))}
				g.cands = p.candidates(snap, c, w.tg, pl.zone.name, cross, enabled)
				r.groups = append(r.groups, g)
				r.totalWeight += w.weight
				if !counted[w.tg.arn] {
					counted[w.tg.arn] = true
					c.hostCounts = append(c.hostCounts, hostCount{m: g.m, targets: p.zoneTargets(snap, c, w.tg, enabled)})
				}
			}
			for _, n := range networks {
				k := sockKey{network: n, addr: netip.AddrPortFrom(pl.addr, uint16(l.Port))}
				if prev, ok := c.routes[k]; ok {
					if !pl.public {
						log.Warn("two listeners want one socket; keeping the first", "socket", k.String(), "listener", prev.listenerARN, "other", l.ARN)
					}
					continue
				}
				c.routes[k] = r
			}
		}
	}
}

// forwardSticky reports whether a listener's forward action has target
// group stickiness.
func forwardSticky(actions []elbv2types.Action) bool {
	for _, a := range actions {
		if a.Type == elbv2types.ActionTypeEnumForward && a.ForwardConfig != nil && a.ForwardConfig.TargetGroupStickinessConfig != nil {
			st := a.ForwardConfig.TargetGroupStickinessConfig
			return st.Enabled != nil && *st.Enabled
		}
	}
	return false
}

// forwardTarget is a target group a forward action sends to.
type forwardTarget struct {
	arn    string
	weight uint64
}

// forwardTargets returns the target groups of a listener's forward action,
// with weights (1 when not given, as ForwardConfig defaults).
func forwardTargets(actions []elbv2types.Action) []forwardTarget {
	for _, a := range actions {
		if a.Type != elbv2types.ActionTypeEnumForward {
			continue
		}
		var out []forwardTarget
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			for _, t := range a.ForwardConfig.TargetGroups {
				if t.TargetGroupArn == nil || *t.TargetGroupArn == "" {
					continue
				}
				w := uint64(1)
				if t.Weight != nil {
					if *t.Weight <= 0 {
						continue
					}
					w = uint64(*t.Weight)
				}
				out = append(out, forwardTarget{*t.TargetGroupArn, w})
			}
		} else if a.TargetGroupArn != nil && *a.TargetGroupArn != "" {
			out = append(out, forwardTarget{*a.TargetGroupArn, 1})
		}
		return out
	}
	return nil
}

// compileTargets records every target of a target group with its settings.
func (p *Plane) compileTargets(snap *state.Snapshot, tg *state.TargetGroup, tc *tgConf, c *compiled) {
	for _, t := range snap.TargetsOf(tg.ARN) {
		k := targetKey{tg: tg.ARN, id: t.ID, port: t.Port}
		ts := p.targetState(k)
		ts.setInfo(&targetInfo{tg: tc, drainUntil: t.DrainUntil})
		c.targets[k] = ts
		if !t.Draining() {
			c.groupTargets[tg.ARN] = append(c.groupTargets[tg.ARN], ts)
		}
	}
}

// targetState returns the plane's state for a target, creating it (with
// its health read) when new. Called by compile, with applyMu held, so that
// the sweeper does not forget a state being compiled in.
func (p *Plane) targetState(k targetKey) *targetState {
	p.mu.Lock()
	ts, ok := p.targets[k]
	if !ok {
		ts = &targetState{key: k, hash: maphash.Comparable(p.seed, k)}
		p.targets[k] = ts
	}
	p.mu.Unlock()
	if !ok {
		p.readHealth(ts)
	}
	return ts
}

// resolve returns where a target is reached from a node in zone, and the
// target's zone: an IP or instance target's mapped VPC address, or for an
// Application Load Balancer target that ALB's address in the same zone
// (any of its zones when it has none there).
func (p *Plane) resolve(snap *state.Snapshot, tg *state.TargetGroup, t *state.Target, zone string) (netip.AddrPort, string, error) {
	if tg.TargetType == "alb" {
		alb, ok := snap.LoadBalancers[t.ID]
		if !ok {
			return netip.AddrPort{}, "", fmt.Errorf("target %s: no such load balancer", t.ID)
		}
		var addr netip.Addr
		for _, z := range alb.Zones {
			a, err := netip.ParseAddr(z.Address)
			if err != nil {
				continue
			}
			if !addr.IsValid() || z.ZoneName == zone {
				addr = a
			}
		}
		if !addr.IsValid() {
			return netip.AddrPort{}, "", fmt.Errorf("target %s: load balancer has no address", t.ID)
		}
		return netip.AddrPortFrom(addr, uint16(t.Port)), "all", nil
	}
	if inst, ok := snap.Instances[t.ID]; ok && inst.State != "" && inst.State != "running" {
		return netip.AddrPort{}, "", fmt.Errorf("instance %s is %s", t.ID, inst.State)
	}
	return snap.TargetHostAddr(p.cfg.Addresses, t)
}

// candidates returns the targets a node in zone sends new flows of a
// target group to: registered and not draining, in one of the load
// balancer's zones, and in the node's own zone unless cross is set.
func (p *Plane) candidates(snap *state.Snapshot, c *compiled, tc *tgConf, zone string, cross bool, enabled map[string]bool) []candidate {
	tg := snap.TargetGroups[tc.arn]
	var out []candidate
	for _, t := range snap.TargetsOf(tc.arn) {
		if t.Draining() || t.Port < 1 || t.Port > 65535 {
			continue
		}
		addr, tz, err := p.resolve(snap, tg, t, zone)
		if err != nil {
			p.log.Debug("target not routable", "targetGroup", tc.arn, "target", t.ID, "err", err)
			continue
		}
		if tz != "all" {
			if !enabled[tz] {
				continue
			}
			if !cross && tz != zone {
				continue
			}
		}
		ts, ok := c.targets[targetKey{tg: tc.arn, id: t.ID, port: t.Port}]
		if !ok {
			continue
		}
		out = append(out, candidate{ts: ts, addr: addr})
	}
	return out
}

// zoneTargets returns the targets a load balancer counts as hosts of a
// target group: registered, not draining, in one of its zones.
func (p *Plane) zoneTargets(snap *state.Snapshot, c *compiled, tc *tgConf, enabled map[string]bool) []*targetState {
	tg := snap.TargetGroups[tc.arn]
	var out []*targetState
	for _, t := range snap.TargetsOf(tc.arn) {
		if t.Draining() {
			continue
		}
		_, tz, err := p.resolve(snap, tg, t, "")
		if err != nil || (tz != "all" && !enabled[tz]) {
			continue
		}
		if ts, ok := c.targets[targetKey{tg: tc.arn, id: t.ID, port: t.Port}]; ok {
			out = append(out, ts)
		}
	}
	return out
}
