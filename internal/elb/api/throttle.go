package api

import (
	"golang.org/x/time/rate"
)

// throttle is a ThrottleRule with its token bucket.
type throttle struct {
	rule    ThrottleRule
	limiter *rate.Limiter
}

// SetThrottle replaces the throttle rules (safe while serving). Each rule has
// its own token bucket, shared by every call it matches; a call is refused
// with AWS's throttling error when a matching rule's bucket is empty. A
// rule with Rate 0 and Burst 0 throttles every call it matches.
func (h *Handler) SetThrottle(rules []ThrottleRule) {
	ts := make([]*throttle, 0, len(rules))
	for _, r := range rules {
		burst := max(r.Burst, 0)
		lim := rate.Limit(max(r.Rate, 0))
		ts = append(ts, &throttle{rule: r, limiter: rate.NewLimiter(lim, burst)})
	}
	h.throttle.Store(&ts)
}

// throttled reports whether a call of action on s must be refused.
func (h *Handler) throttled(s *service, action string) bool {
	p := h.throttle.Load()
	if p == nil {
		return false
	}
	for _, t := range *p {
		r := t.rule
		if r.Service != "" && r.Service != s.Name && r.Service != s.SigningName {
			continue
		}
		if r.Action != nil && !r.Action.MatchString(action) {
			continue
		}
		if !t.limiter.Allow() {
			return true
		}
	}
	return false
}
