package nlb

import "github.com/elbowlb/elbow/internal/elb/state"

// OpenFlows returns the number of open flows (TCP and TLS connections,
// UDP flows) of every target that has one, keyed by state.TargetKey of
// its target group, ID and port.
func (p *Plane) OpenFlows() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, ts := range p.targets {
		ts.mu.Lock()
		n := len(ts.flows)
		ts.mu.Unlock()
		if n > 0 {
			out[state.TargetKey(k.tg, k.id, k.port)] += n
		}
	}
	return out
}
