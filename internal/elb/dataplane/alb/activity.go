package alb

import "github.com/elbowlb/elbow/internal/elb/state"

// InFlight returns the requests in flight to every target that has one,
// keyed by state.TargetKey of its target group, ID and port.
func (p *Plane) InFlight() map[string]int {
	p.applyMu.Lock()
	groups := p.router.Groups()
	p.applyMu.Unlock()
	out := map[string]int{}
	for _, g := range groups {
		st := g.State()
		if st == nil {
			continue
		}
		for _, t := range st.Targets {
			if n := t.Inflight.Load(); n > 0 {
				out[state.TargetKey(g.ARN, t.ID, t.Port)] += int(n)
			}
		}
	}
	return out
}
