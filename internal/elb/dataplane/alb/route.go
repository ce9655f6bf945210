package alb

import "math/rand/v2"

// route returns the first rule (by priority, the default rule last) whose
// conditions all match.
func (sc *sockCfg) route(in *routeInput) *rule {
	for _, r := range sc.rules {
		if r.match(in) {
			return r
		}
	}
	return nil
}

// chooseTargetGroup picks the target group of a forward action: the one
// an AWSALBTG cookie names when target group stickiness is on, else by
// weight. cookie is the AWSALBTG value to set (empty without stickiness).
func (p *Plane) chooseTargetGroup(act *action, hs []header) (wt *weightedTG, cookie string) {
	if len(act.tgs) == 1 {
		return &act.tgs[0], ""
	}
	if act.tgSticky > 0 {
		if v := cookieValue(hs, "AWSALBTG"); v != nil {
			for i := range act.tgs {
				if p.tgCookie(act.tgs[i].tg.arn) == string(v) {
					return &act.tgs[i], string(v)
				}
			}
		}
	}
	n := rand.IntN(act.total)
	wt = &act.tgs[len(act.tgs)-1]
	for i := range act.tgs {
		if n < act.tgs[i].weight {
			wt = &act.tgs[i]
			break
		}
		n -= act.tgs[i].weight
	}
	if act.tgSticky > 0 {
		cookie = p.tgCookie(wt.tg.arn)
	}
	return wt, cookie
}

// chooseTarget picks the target of a request: the one a stickiness
// cookie names while it is routable, else one by the group's algorithm
// among the routable targets seen from zone. It returns nil when no
// target is routable.
func (tg *tgRuntime) chooseTarget(st *tgState, zone string, hs []header) *backend {
	rs := tg.routable(zone)
	var b *backend
	switch st.attrs.sticky {
	case stickyLBCookie:
		if v := cookieValue(hs, "AWSALB"); v != nil {
			b = st.stickyTarget(rs, v)
		}
	case stickyAppCookie:
		if v := cookieValue(hs, "AWSALBAPP-0"); v != nil {
			b = st.stickyTarget(rs, v)
		}
	}
	if b == nil {
		b = tg.pick(st, rs.candidates(zone))
	}
	return b
}
