package alb

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
)

// tgRuntime is a target group as the data plane runs it. It outlives
// state changes; its configuration and targets are swapped atomically.
type tgRuntime struct {
	arn string
	// dim is the CloudWatch dimension form, targetgroup/NAME/ID.
	dim string
	p   *Plane

	st    atomic.Pointer[tgState]
	cache atomic.Pointer[routeSet]
	rr    atomic.Uint64
	conns atomic.Int64 // connections opened to targets

	// pm caches the metric children of the load balancer last seen
	// forwarding to the group.
	pm atomic.Pointer[pmEntry]

	buildMu sync.Mutex
}

// tgState is one state's view of a target group; immutable.
type tgState struct {
	name       string
	protocol   string // HTTP | HTTPS | "" (lambda)
	version    string // HTTP1 | HTTP2 | GRPC
	targetType string // instance | ip | lambda | alb
	attrs      tgAttrs
	// targets are the registered targets the data plane can reach,
	// draining ones included, in key order.
	targets []*backend
	byKey   map[string]*backend
	// draining are the targets deregistered and draining: they get no
	// new requests.
	draining map[*backend]bool
}

// routeSet is the routable targets of a target group for one health
// picture and one state.
type routeSet struct {
	group  *health.Group
	st     *tgState
	all    []*backend
	byZone map[string][]*backend
	set    map[*backend]bool
}

// routable returns the targets a request may go to from a node in zone:
// the healthy ones, or all unhealthy ones when none is healthy (fail
// open); draining targets and targets still in their initial checks are
// never routable. Without a health source every registered target that is
// not draining is routable.
func (tg *tgRuntime) routable(zone string) *routeSet {
	st := tg.st.Load()
	var g *health.Group
	if tg.p.health != nil {
		g = tg.p.health.Group(tg.arn)
	}
	if rs := tg.cache.Load(); rs != nil && rs.group == g && rs.st == st {
		return rs
	}
	tg.buildMu.Lock()
	defer tg.buildMu.Unlock()
	if rs := tg.cache.Load(); rs != nil && rs.group == g && rs.st == st {
		return rs
	}
	rs := &routeSet{group: g, st: st, set: map[*backend]bool{}}
	if tg.p.health == nil {
		for _, b := range st.targets {
			if !st.draining[b] {
				rs.all = append(rs.all, b)
			}
		}
	} else {
		for _, t := range g.Routable() {
			if b := st.byKey[targetKey(t.ID, t.Port)]; b != nil && !st.draining[b] {
				rs.all = append(rs.all, b)
			}
		}
	}
	now := tg.p.now().UnixNano()
	for _, b := range rs.all {
		rs.set[b] = true
		b.since.CompareAndSwap(0, now)
	}
	for _, b := range st.targets {
		if !rs.set[b] {
			b.since.Store(0)
		}
	}
	if !st.attrs.crossZone {
		rs.byZone = map[string][]*backend{}
		for _, b := range rs.all {
			rs.byZone[b.zone] = append(rs.byZone[b.zone], b)
		}
	}
	tg.cache.Store(rs)
	return rs
}

// candidates returns the targets for a node in zone.
func (rs *routeSet) candidates(zone string) []*backend {
	if rs.byZone == nil {
		return rs.all
	}
	if bs := rs.byZone[zone]; len(bs) > 0 {
		return bs
	}
	// No target in the node's zone: ALB's nodes with cross-zone off
	// route only within their zone; targets registered in zone "all"
	// are reachable from every zone.
	return rs.byZone["all"]
}

func targetKey(id string, port int32) string { return id + ":" + strconv.Itoa(int(port)) }

// pick chooses a target among bs by the target group's algorithm, with
// slow start ramping new targets' shares.
func (tg *tgRuntime) pick(st *tgState, bs []*backend) *backend {
	n := len(bs)
	switch n {
	case 0:
		return nil
	case 1:
		return bs[0]
	}
	var now int64
	slow := st.attrs.slowStart > 0
	if slow {
		now = tg.p.now().UnixNano()
		slow = anyWarm(bs, now, st.attrs.slowStart)
	}
	accept := func(b *backend) bool {
		if !slow {
			return true
		}
		w := warmth(b, now, st.attrs.slowStart)
		return w >= 1 || rand.Float64() < w
	}
	switch st.attrs.algorithm {
	case leastOutstanding:
		start := int(tg.rr.Add(1) % uint64(n))
		var best *backend
		var bestLoad float64
		for i := 0; i < n; i++ {
			b := bs[(start+i)%n]
			load := float64(b.inflight.Load() + 1)
			if slow {
				load /= max(warmth(b, now, st.attrs.slowStart), 0.01)
			}
			if best == nil || load < bestLoad {
				best, bestLoad = b, load
			}
		}
		return best
	case weightedRandom:
		for i := 0; i < 2*n; i++ {
			if b := bs[rand.IntN(n)]; accept(b) {
				return b
			}
		}
		return bs[rand.IntN(n)]
	default:
		start := tg.rr.Add(1)
		for i := 0; i < n; i++ {
			if b := bs[int((start+uint64(i))%uint64(n))]; accept(b) {
				return b
			}
		}
		return bs[int(start%uint64(n))]
	}
}

// warmth is a target's share in slow start: from near 0 when it became
// routable to 1 after the slow start duration (a linear ramp, as ALB's).
func warmth(b *backend, now int64, d time.Duration) float64 {
	s := b.since.Load()
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
func anyWarm(bs []*backend, now int64, d time.Duration) bool {
	for _, b := range bs {
		if warmth(b, now, d) >= 1 {
			return true
		}
	}
	return false
}

// Stickiness cookies. ALB's cookies are opaque and encrypted; elbow's are
// an HMAC over the target group and target with the target's key, so that
// a forged or stale cookie is ignored.

func (p *Plane) cookieFor(tgARN, key string) string {
	m := hmac.New(sha256.New, p.cookieKey[:])
	m.Write([]byte(tgARN))
	m.Write([]byte{0})
	m.Write([]byte(key))
	sum := m.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:12]) + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// stickyTarget returns the routable target a stickiness cookie value names.
func (st *tgState) stickyTarget(rs *routeSet, v []byte) *backend {
	dot := strings.IndexByte(string(v), '.')
	if dot < 0 {
		return nil
	}
	key, err := base64.RawURLEncoding.DecodeString(string(v[dot+1:]))
	if err != nil {
		return nil
	}
	b := st.byKey[string(key)]
	if b == nil || b.cookie != string(v) || !rs.set[b] {
		return nil
	}
	return b
}

// tgCookie is the value of an AWSALBTG cookie naming a target group of a
// weighted forward action.
func (p *Plane) tgCookie(arn string) string {
	m := hmac.New(sha256.New, p.cookieKey[:])
	m.Write([]byte("tg\x00"))
	m.Write([]byte(arn))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// cookieValue returns the value of the named cookie in the Cookie headers.
func cookieValue(hs []header, name string) []byte {
	for i := range hs {
		if !asciiEqualFold(hs[i].name, "cookie") {
			continue
		}
		v := hs[i].value
		for len(v) > 0 {
			var part []byte
			if j := indexByte(v, ';'); j >= 0 {
				part, v = v[:j], v[j+1:]
			} else {
				part, v = v, nil
			}
			part = trimSpace(part)
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

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

type pmEntry struct {
	lb *lbMetrics
	pm *pairMetrics
}

// metrics returns the metric children of a load balancer and the group.
func (tg *tgRuntime) metrics(lb *lbMetrics) *pairMetrics {
	if e := tg.pm.Load(); e != nil && e.lb == lb {
		return e.pm
	}
	pm := lb.pair(tg.dim)
	tg.pm.Store(&pmEntry{lb, pm})
	return pm
}
