package routing

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Config configures a Router.
type Config struct {
	// Addresses realises VPC addresses (targets) on the host; the zero
	// Map uses them as they are.
	Addresses vpcaddr.Map
	// Health tells which targets are healthy. Nil treats every
	// registered target that is not draining as healthy.
	Health health.Source
	// Logger receives what does not compile; nil discards it.
	Logger *slog.Logger
	// Now is the clock of slow start; nil means time.Now.
	Now func() time.Time
}

// Router compiles the application load balancers' listeners of state
// snapshots and keeps their target groups from one snapshot to the next.
// Compile calls must not overlap; the Listeners they return are
// immutable and safe for concurrent use.
type Router struct {
	addrs     vpcaddr.Map
	health    health.Source
	log       *slog.Logger
	now       func() time.Time
	cookieKey [32]byte
	groups    map[string]*TargetGroup
}

// NewRouter returns a Router with no target groups yet.
func NewRouter(cfg Config) *Router {
	r := &Router{addrs: cfg.Addresses, health: cfg.Health, log: cfg.Logger, now: cfg.Now, groups: map[string]*TargetGroup{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	rand.Read(r.cookieKey[:])
	return r
}

// Listener is one snapshot's compiled listener of an application load
// balancer: what routing a request needs. Immutable.
type Listener struct {
	ARN             string
	LoadBalancerARN string
	Port            int32
	PortStr         string
	Protocol        string // HTTP | HTTPS
	Scheme          string // http | https
	// Rules are the listener's rules by priority, the default rule last.
	Rules []*Rule
	// LB are the load balancer's attributes.
	LB *settings.ALB

	ServerHeader     bool     // routing.http.response.server.enabled
	ResponseHeaders  []Header // routing.http.response.*.header_value
	TLSVersionHeader string   // header name for the TLS version (x-amzn-tls-version)
	TLSCipherHeader  string

	router *Router
}

// Compiled is what one Compile produced.
type Compiled struct {
	// Listeners are the compiled HTTP and HTTPS listeners of the
	// application load balancers, by listener ARN. A listener whose
	// default actions do not compile is missing (and logged); a rule that
	// does not compile is left out of its listener (and logged).
	Listeners map[string]*Listener
	// RemovedTargets are the targets that left the state since the
	// previous Compile (marked Removed): their connections are to be
	// closed.
	RemovedTargets []*Target
	// RemovedGroups are the target groups no listener forwards to any
	// more.
	RemovedGroups []*TargetGroup
}

// Compile compiles the listeners of every application load balancer in
// the snapshot (failed ones excepted) and brings the target groups they
// forward to up to the snapshot.
func (r *Router) Compile(snap *state.Snapshot) *Compiled {
	c := &compilation{r: r, snap: snap, used: map[string]bool{}, out: &Compiled{Listeners: map[string]*Listener{}}}
	lbARNs := make([]string, 0, len(snap.LoadBalancers))
	for arn, lb := range snap.LoadBalancers {
		if lb.Type == "application" && lb.State != "failed" {
			lbARNs = append(lbARNs, arn)
		}
	}
	sort.Strings(lbARNs)
	for _, arn := range lbARNs {
		lb := snap.LoadBalancers[arn]
		attrs, errs := settings.ApplicationLB(lb)
		for _, err := range errs {
			r.log.Warn("bad ALB attribute, using the default", "lb", lb.Name, "err", err)
		}
		for _, l := range snap.ListenersOf(arn) {
			if l.Protocol != "HTTP" && l.Protocol != "HTTPS" {
				continue
			}
			cl, err := c.listener(lb, &attrs, l)
			if err != nil {
				r.log.Warn("ALB listener not served", "lb", lb.Name, "listener", l.ARN, "err", err)
				continue
			}
			c.out.Listeners[l.ARN] = cl
		}
	}
	for arn, g := range r.groups {
		if !c.used[arn] {
			delete(r.groups, arn)
			c.out.RemovedGroups = append(c.out.RemovedGroups, g)
			if st := g.st.Load(); st != nil {
				c.removed(st.Targets...)
			}
		}
	}
	return c.out
}

// Groups returns the target groups of the last Compile.
func (r *Router) Groups() []*TargetGroup {
	out := make([]*TargetGroup, 0, len(r.groups))
	for _, g := range r.groups {
		out = append(out, g)
	}
	return out
}

// compilation is one Compile under way.
type compilation struct {
	r    *Router
	snap *state.Snapshot
	used map[string]bool
	out  *Compiled
}

func (c *compilation) removed(ts ...*Target) {
	for _, t := range ts {
		t.removed.Store(true)
	}
	c.out.RemovedTargets = append(c.out.RemovedTargets, ts...)
}

// group returns a target group brought up to the snapshot, once per
// compilation; nil when the snapshot lacks it.
func (c *compilation) group(arn string) *TargetGroup {
	if c.used[arn] {
		return c.r.groups[arn]
	}
	g := c.syncGroup(arn)
	if g != nil {
		c.used[arn] = true
	}
	return g
}

// listener compiles a listener's rules and attributes.
func (c *compilation) listener(lb *state.LoadBalancer, attrs *settings.ALB, l *state.Listener) (*Listener, error) {
	la, errs := settings.ApplicationListener(l)
	for _, err := range errs {
		c.r.log.Warn("bad ALB listener attribute, using the default", "listener", l.ARN, "err", err)
	}
	cl := &Listener{
		ARN:              l.ARN,
		LoadBalancerARN:  lb.ARN,
		Port:             l.Port,
		PortStr:          strconv.Itoa(int(l.Port)),
		Protocol:         l.Protocol,
		Scheme:           strings.ToLower(l.Protocol),
		LB:               attrs,
		ServerHeader:     la.ServerHeader,
		TLSVersionHeader: la.TLSVersionHeader,
		TLSCipherHeader:  la.TLSCipherHeader,
		router:           c.r,
	}
	for _, h := range la.ResponseHeaders {
		cl.ResponseHeaders = append(cl.ResponseHeaders, Header{Name: []byte(h[0]), Value: []byte(h[1])})
	}
	for _, r := range c.snap.RulesOf(l.ARN) {
		cr, err := compileRule(r, c.group)
		if err != nil {
			c.r.log.Warn("ALB rule not served", "lb", lb.Name, "rule", r.ARN, "err", err)
			continue
		}
		cl.Rules = append(cl.Rules, cr)
	}
	def, err := compileActions(l.DefaultActions, c.group)
	if err != nil {
		return nil, fmt.Errorf("default actions: %w", err)
	}
	cl.Rules = append(cl.Rules, &Rule{ARN: l.DefaultRuleARN, Priority: 0, Action: def})
	return cl, nil
}

func compileRule(r *state.Rule, groupOf func(string) *TargetGroup) (*Rule, error) {
	cr := &Rule{ARN: r.ARN, Priority: r.Priority}
	for _, c := range r.Conditions {
		cc, err := compileCondition(c)
		if err != nil {
			return nil, err
		}
		cr.conds = append(cr.conds, cc)
	}
	act, err := compileActions(r.Actions, groupOf)
	if err != nil {
		return nil, err
	}
	cr.Action = act
	cr.hostRewrite, cr.urlRewrite, err = compileTransforms(r.Transforms)
	if err != nil {
		return nil, err
	}
	return cr, nil
}

// syncGroup brings a target group up to the snapshot; the targets it no
// longer has are marked removed.
func (c *compilation) syncGroup(arn string) *TargetGroup {
	snap, r := c.snap, c.r
	rec, ok := snap.TargetGroups[arn]
	if !ok {
		return nil
	}
	g := r.groups[arn]
	if g == nil {
		g = &TargetGroup{ARN: arn, r: r}
		r.groups[arn] = g
	}
	old := g.st.Load()
	groupAttrs, errs := settings.ApplicationTargetGroup(rec)
	for _, err := range errs {
		r.log.Warn("bad target group attribute, using the default", "targetGroup", arn, "err", err)
	}
	st := &GroupState{
		Name:       rec.Name,
		Protocol:   rec.Protocol,
		Version:    rec.ProtocolVersion,
		TargetType: rec.TargetType,
		Attrs:      groupAttrs,
		byKey:      map[string]*Target{},
		Draining:   map[*Target]bool{},
	}
	if st.Version == "" {
		st.Version = "HTTP1"
	}
	isTLS := rec.Protocol == "HTTPS"
	for _, t := range snap.TargetsOf(arn) {
		key := targetKey(t.ID, t.Port)
		addr, zone, err := snap.TargetHostAddr(r.addrs, t)
		if err != nil {
			continue
		}
		vpcAddr, _, _ := snap.TargetVPCAddress(t)
		var tt *Target
		if old != nil {
			if ot := old.byKey[key]; ot != nil && ot.Addr == addr && ot.TLS == isTLS && ot.Zone == zone {
				tt = ot
			}
		}
		if tt == nil {
			tt = &Target{ID: t.ID, Port: t.Port, Addr: addr, VPC: netip.AddrPortFrom(vpcAddr, uint16(t.Port)), Zone: zone, TLS: isTLS}
			tt.Cookie = r.cookieFor(arn, key)
		}
		st.Targets = append(st.Targets, tt)
		st.byKey[key] = tt
		if t.Draining() {
			st.Draining[tt] = true
		}
	}
	if old != nil {
		for key, ot := range old.byKey {
			if st.byKey[key] != ot {
				c.removed(ot)
			}
		}
	}
	g.st.Store(st)
	return g
}
