package health

import "time"

// The bounds of a target's history: the checker keeps the last
// HistoryResults check results and the last HistoryTransitions status
// changes of every checked target, and forgets them with the target.
const (
	HistoryResults     = 20
	HistoryTransitions = 10
)

// CheckResult is the outcome of one health check.
type CheckResult struct {
	// Time is when the result came in.
	Time time.Time
	// Result is the outcome as elbow_health_checks_total labels it:
	// success, response_code_mismatch, timeout or failed.
	Result string
	// Code is the HTTP or gRPC status received, 0 when none was.
	Code int
	// Error says why the check failed; empty on success.
	Error string
}

// Transition is a change of a target's health status.
type Transition struct {
	Time     time.Time
	From, To Status
}

// History is what the checker remembers of one target's checks, oldest
// first.
type History struct {
	Results     []CheckResult
	Transitions []Transition
}

// ring is a bounded, allocation-free record of the latest n values.
type ring[T any] struct {
	buf  []T
	next int
	full bool
}

func (r *ring[T]) add(v T) {
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// list returns the values, oldest first, in a new slice.
func (r *ring[T]) list() []T {
	if !r.full {
		return append([]T(nil), r.buf[:r.next]...)
	}
	return append(append(make([]T, 0, len(r.buf)), r.buf[r.next:]...), r.buf[:r.next]...)
}

// probeHistory is a probe's record: results without their error text, which
// is made only when read.
type probeHistory struct {
	results     ring[stamped]
	transitions ring[Transition]
}

// stamped is one stored result.
type stamped struct {
	at time.Time
	r  result
}

func newHistory() *probeHistory {
	return &probeHistory{
		results:     ring[stamped]{buf: make([]stamped, HistoryResults)},
		transitions: ring[Transition]{buf: make([]Transition, HistoryTransitions)},
	}
}

// History returns a target's last check results and status changes,
// oldest first; empty for a target the checker does not check (draining,
// unused, health checks disabled, unknown).
func (c *Checker) History(tgARN, targetID string, port int32) History {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[tgARN]
	if g == nil {
		return History{}
	}
	p := g.probes[targetKey{targetID, port}]
	if p == nil {
		return History{}
	}
	rs := p.history.results.list()
	out := History{Results: make([]CheckResult, len(rs)), Transitions: p.history.transitions.list()}
	for i, r := range rs {
		out.Results[i] = CheckResult{Time: r.at, Result: r.r.outcome.String(), Code: r.r.code}
		if r.r.err != nil {
			out.Results[i].Error = r.r.err.Error()
		}
	}
	return out
}
