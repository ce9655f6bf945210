package iampolicy

import "strings"

// Request is what IAM authorizes: one action on one resource, with the
// condition keys of the request context.
type Request struct {
	// Action is "service:Operation", e.g. "elasticloadbalancing:AddTags".
	Action string
	// Resource is the resource's ARN, or "*" for actions without
	// resource-level permissions.
	Resource string
	// Context holds the condition keys present in the request (key names
	// are case-insensitive), e.g. "aws:RequestTag/elbv2.k8s.aws/cluster"
	// or the multi-valued "aws:TagKeys".
	Context map[string][]string
}

// Decision is the outcome of an evaluation.
type Decision int

// The three outcomes of IAM's evaluation logic.
const (
	// ImplicitDeny: no statement allows the request.
	ImplicitDeny Decision = iota
	// Allowed: a statement allows it and none denies it.
	Allowed
	// ExplicitDeny: a Deny statement matches.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicitly denied"
	}
	return "implicitly denied"
}

// Result is a decision and the statement that made it (nil for an
// implicit deny).
type Result struct {
	Decision  Decision
	Statement *Statement
}

// Evaluate decides the request: the first matching Deny statement denies
// it, else the first matching Allow statement allows it, else it is
// implicitly denied.
func (p *Policy) Evaluate(r Request) Result {
	var allow *Statement
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.applies(r) {
			continue
		}
		if s.Effect == Deny {
			return Result{Decision: ExplicitDeny, Statement: s}
		}
		if allow == nil {
			allow = s
		}
	}
	if allow != nil {
		return Result{Decision: Allowed, Statement: allow}
	}
	return Result{Decision: ImplicitDeny}
}

// applies reports whether the statement's action, resource and
// conditions all match the request.
func (s *Statement) applies(r Request) bool {
	action := strings.ToLower(r.Action)
	matched := false
	for _, a := range s.Actions {
		if glob(a, action) {
			matched = true
			break
		}
	}
	if matched == s.NotAction {
		return false
	}
	matched = false
	for _, res := range s.Resources {
		if resourceMatch(res, r.Resource) {
			matched = true
			break
		}
	}
	if matched == s.NotResource {
		return false
	}
	for _, c := range s.Conditions {
		if !c.holds(r.Context) {
			return false
		}
	}
	return true
}

// resourceMatch matches a Resource element against a request's resource.
func resourceMatch(pattern, resource string) bool {
	if pattern == "*" {
		return true
	}
	return arnMatch(pattern, resource)
}

// arnMatch matches an ARN pattern segment by segment: partition, service,
// region, account and resource, each with * and ? wildcards that do not
// cross into the next segment (the resource segment, the last, may hold
// colons and slashes and a * there matches them).
func arnMatch(pattern, arn string) bool {
	ps := strings.SplitN(pattern, ":", 6)
	as := strings.SplitN(arn, ":", 6)
	if len(ps) != 6 || len(as) != 6 {
		return pattern == arn
	}
	for i := range ps {
		if !glob(ps[i], as[i]) {
			return false
		}
	}
	return true
}

// glob matches s against a pattern where * matches any run of characters
// (including none) and ? exactly one; everything else is literal and case
// sensitive. It runs in O(len(pattern)·len(s)) at worst.
func glob(patternText, text string) bool {
	if !strings.ContainsAny(patternText, "*?") {
		return patternText == text
	}
	pattern, s := []rune(patternText), []rune(text)
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
