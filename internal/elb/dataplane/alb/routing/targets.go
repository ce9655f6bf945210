package routing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/settings"
)

// TargetGroup is a target group as the data plane routes to it. It
// outlives state changes (its round-robin position and slow start clocks
// carry over); its configuration and targets are swapped atomically.
type TargetGroup struct {
	ARN string
	r   *Router

	st    atomic.Pointer[GroupState]
	cache atomic.Pointer[routeSet]
	rr    atomic.Uint64

	buildMu sync.Mutex
}

// State returns the group's current configuration and targets.
func (g *TargetGroup) State() *GroupState { return g.st.Load() }

// GroupState is one state's view of a target group; immutable.
type GroupState struct {
	Name       string
	Protocol   string // HTTP | HTTPS | "" (lambda)
	Version    string // HTTP1 | HTTP2 | GRPC
	TargetType string // instance | ip | lambda | alb
	Attrs      settings.ALBTargetGroup
	// Targets are the registered targets the data plane can reach,
	// draining ones included, in key order.
	Targets []*Target
	byKey   map[string]*Target
	// Draining are the targets deregistered and draining: they get no
	// new requests.
	Draining map[*Target]bool
}

// Target is one registered target of a target group as the data plane
// reaches it; it outlives state changes that keep the target.
type Target struct {
	ID   string
	Port int32
	Addr netip.AddrPort // where to connect (host address)
	VPC  netip.AddrPort // the target's VPC address, as logs report it
	Zone string
	TLS  bool // the group's protocol is HTTPS
	// Cookie is the target's opaque identity in stickiness cookies.
	Cookie string

	// Inflight counts the requests in flight to the target; the
	// transports count them, least_outstanding_requests reads them.
	Inflight atomic.Int64
	// since is when the target last became routable (UnixNano), for slow
	// start; 0 while it is not.
	since atomic.Int64
	// removed: the target left the state.
	removed atomic.Bool
}

// Removed reports whether the target has left the state (its connections
// are to be closed).
func (t *Target) Removed() bool { return t.removed.Load() }

// routeSet is the routable targets of a target group for one health
// picture and one state.
type routeSet struct {
	group  *health.Group
	st     *GroupState
	all    []*Target
	byZone map[string][]*Target
	set    map[*Target]bool
}

// routable returns the targets a request may go to from a node in zone:
// the healthy ones, or all unhealthy ones when none is healthy (fail
// open); draining targets and targets still in their initial checks are
// never routable. Without a health source every registered target that is
// not draining is routable.
func (g *TargetGroup) routable() *routeSet {
	st := g.st.Load()
	var hg *health.Group
	if g.r.health != nil {
		hg = g.r.health.Group(g.ARN)
	}
	if rs := g.cache.Load(); rs != nil && rs.group == hg && rs.st == st {
		return rs
	}
	g.buildMu.Lock()
	defer g.buildMu.Unlock()
	if rs := g.cache.Load(); rs != nil && rs.group == hg && rs.st == st {
		return rs
	}
	rs := &routeSet{group: hg, st: st, set: map[*Target]bool{}}
	if g.r.health == nil {
		for _, t := range st.Targets {
			if !st.Draining[t] {
				rs.all = append(rs.all, t)
			}
		}
	} else {
		for _, ht := range hg.Routable() {
			if t := st.byKey[targetKey(ht.ID, ht.Port)]; t != nil && !st.Draining[t] {
				rs.all = append(rs.all, t)
			}
		}
	}
	now := g.r.now().UnixNano()
	for _, t := range rs.all {
		rs.set[t] = true
		t.since.CompareAndSwap(0, now)
	}
	for _, t := range st.Targets {
		if !rs.set[t] {
			t.since.Store(0)
		}
	}
	if !st.Attrs.CrossZone {
		rs.byZone = map[string][]*Target{}
		for _, t := range rs.all {
			rs.byZone[t.Zone] = append(rs.byZone[t.Zone], t)
		}
	}
	g.cache.Store(rs)
	return rs
}

// candidates returns the targets for a node in zone.
func (rs *routeSet) candidates(zone string) []*Target {
	if rs.byZone == nil {
		return rs.all
	}
	if ts := rs.byZone[zone]; len(ts) > 0 {
		return ts
	}
	// No target in the node's zone: ALB's nodes with cross-zone off
	// route only within their zone; targets registered in zone "all"
	// are reachable from every zone.
	return rs.byZone["all"]
}

func targetKey(id string, port int32) string { return id + ":" + strconv.Itoa(int(port)) }

// chooseTarget picks the target of a request: the one a stickiness
// cookie names while it is routable, else one by the group's algorithm
// among the routable targets seen from zone. It returns nil when no
// target is routable.
func (g *TargetGroup) chooseTarget(st *GroupState, zone string, hs []Header) *Target {
	rs := g.routable()
	var t *Target
	switch st.Attrs.Sticky {
	case settings.StickyLBCookie:
		if v := cookieValue(hs, "AWSALB"); v != nil {
			t = st.stickyTarget(rs, v)
		}
	case settings.StickyAppCookie:
		if v := cookieValue(hs, "AWSALBAPP-0"); v != nil {
			t = st.stickyTarget(rs, v)
		}
	}
	if t == nil {
		t = g.pick(st, rs.candidates(zone))
	}
	return t
}

// pick chooses a target among ts by the target group's algorithm, with
// slow start ramping new targets' shares.
func (g *TargetGroup) pick(st *GroupState, ts []*Target) *Target {
	n := len(ts)
	switch n {
	case 0:
		return nil
	case 1:
		return ts[0]
	}
	var now int64
	slow := st.Attrs.SlowStart > 0
	if slow {
		now = g.r.now().UnixNano()
		slow = anyWarm(ts, now, st.Attrs.SlowStart)
	}
	accept := func(t *Target) bool {
		if !slow {
			return true
		}
		w := warmth(t, now, st.Attrs.SlowStart)
		return w >= 1 || rand.Float64() < w
	}
	switch st.Attrs.Algorithm {
	case settings.LeastOutstanding:
		start := int(g.rr.Add(1) % uint64(n))
		var best *Target
		var bestLoad float64
		for i := 0; i < n; i++ {
			t := ts[(start+i)%n]
			load := float64(t.Inflight.Load() + 1)
			if slow {
				load /= max(warmth(t, now, st.Attrs.SlowStart), 0.01)
			}
			if best == nil || load < bestLoad {
				best, bestLoad = t, load
			}
		}
		return best
	case settings.WeightedRandom:
		for i := 0; i < 2*n; i++ {
			if t := ts[rand.IntN(n)]; accept(t) {
				return t
			}
		}
		return ts[rand.IntN(n)]
	default:
		start := g.rr.Add(1)
		for i := 0; i < n; i++ {
			if t := ts[int((start+uint64(i))%uint64(n))]; accept(t) {
				return t
			}
		}
		return ts[int(start%uint64(n))]
	}
}

// warmth is a target's share in slow start: from near 0 when it became
// routable to 1 after the slow start duration (a linear ramp, as ALB's).
func warmth(t *Target, now int64, d time.Duration) float64 {
	s := t.since.Load()
	if s == 0 {
		return 1
	}
	w := float64(now-s) / float64(d)
	if w >= 1 {
		return 1
	}
	return max(w, 0.01)
}

// anyWarm reports whether some target is out of slow start: ALB puts
// targets in slow start only when the group has targets that are not.
func anyWarm(ts []*Target, now int64, d time.Duration) bool {
	for _, t := range ts {
		if warmth(t, now, d) >= 1 {
			return true
		}
	}
	return false
}

// Stickiness cookies. ALB's cookies are opaque and encrypted; elbow's are
// an HMAC over the target group and target with the router's key, so that
// a forged or stale cookie is ignored.

func (r *Router) cookieFor(tgARN, key string) string {
	m := hmac.New(sha256.New, r.cookieKey[:])
	m.Write([]byte(tgARN))
	m.Write([]byte{0})
	m.Write([]byte(key))
	sum := m.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:12]) + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// stickyTarget returns the routable target a stickiness cookie value names.
func (st *GroupState) stickyTarget(rs *routeSet, v []byte) *Target {
	dot := strings.IndexByte(string(v), '.')
	if dot < 0 {
		return nil
	}
	key, err := base64.RawURLEncoding.DecodeString(string(v[dot+1:]))
	if err != nil {
		return nil
	}
	t := st.byKey[string(key)]
	if t == nil || t.Cookie != string(v) || !rs.set[t] {
		return nil
	}
	return t
}

// groupCookie is the value of an AWSALBTG cookie naming a target group of
// a weighted forward action.
func (r *Router) groupCookie(arn string) string {
	m := hmac.New(sha256.New, r.cookieKey[:])
	m.Write([]byte("tg\x00"))
	m.Write([]byte(arn))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// cookieValue returns the value of the named cookie in the Cookie headers.
func cookieValue(hs []Header, name string) []byte {
	for i := range hs {
		if !EqualFold(hs[i].Name, "cookie") {
			continue
		}
		v := hs[i].Value
		for len(v) > 0 {
			var part []byte
			if j := indexByte(v, ';'); j >= 0 {
				part, v = v[:j], v[j+1:]
			} else {
				part, v = v, nil
			}
			part = TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && string(part[:len(name)]) == name {
				return part[len(name)+1:]
			}
		}
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
