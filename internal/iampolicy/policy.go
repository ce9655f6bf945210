// Package iampolicy parses AWS IAM identity-based policies and evaluates
// requests against them the way IAM does for one principal: an explicit
// Deny wins, else an Allow allows, else the request is implicitly denied.
//
// Statements may use Action or NotAction (with * and ? wildcards, case
// insensitive), Resource or NotResource (ARN patterns matched segment by
// segment) and Condition blocks with the string, ARN, Bool and Null
// operators, the ForAnyValue: and ForAllValues: set qualifiers and the
// IfExists suffix. Anything else (numeric, date and IP operators, policy
// variables, Principal) is refused when the policy is parsed, never
// silently taken as true; Policy.Keys lists the condition keys a policy
// uses so that a caller can refuse the keys it does not supply.
//
// The package is pure: no I/O, no clock.
package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Effect is a statement's effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy is a parsed identity-based policy.
type Policy struct {
	// Version is the policy language version (2012-10-17 or 2008-10-17).
	Version string
	// Statements in their order in the document.
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	// Sid is the statement's optional ID.
	Sid string
	// Index is the statement's position in the policy, from 0.
	Index  int
	Effect Effect
	// Actions are patterns ("elasticloadbalancing:Describe*"); with
	// NotAction the statement applies to every action that matches none.
	Actions   []string
	NotAction bool
	// Resources are ARN patterns or "*"; with NotResource the statement
	// applies to every resource that matches none.
	Resources   []string
	NotResource bool
	// Conditions must all hold.
	Conditions []Condition
}

// Name is the statement's Sid, else its position.
func (s Statement) Name() string {
	if s.Sid != "" {
		return s.Sid
	}
	return "statement " + strconv.Itoa(s.Index+1)
}

// Condition is one key of one operator of a Condition block.
type Condition struct {
	// Operator as written, e.g. "ForAnyValue:StringLike".
	Operator string
	// Key as written, e.g. "aws:RequestTag/elbv2.k8s.aws/cluster".
	Key    string
	Values []string

	op       operator
	set      setQualifier
	ifExists bool
}

// Versions of the policy language.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// MaxPolicyBytes bounds a policy document (IAM's own limit for a managed
// policy is 6,144 characters; inline and local files get room to spare).
const MaxPolicyBytes = 1 << 20

// Parse parses a policy document, refusing what it cannot evaluate
// faithfully. Errors name the statement and the element at fault.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxPolicyBytes {
		return nil, fmt.Errorf("policy is %d bytes, more than %d", len(data), MaxPolicyBytes)
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("policy is not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("policy: trailing data after the JSON object")
	}
	p := &Policy{Version: Version2008}
	for k, v := range doc {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != Version2012 && p.Version != Version2008) {
				return nil, fmt.Errorf("policy Version %s: want %q or %q", v, Version2012, Version2008)
			}
		case "Id":
		case "Statement":
		default:
			return nil, fmt.Errorf("policy element %q: want Version, Id and Statement", k)
		}
	}
	raw, ok := doc["Statement"]
	if !ok {
		return nil, errors.New("policy has no Statement")
	}
	var stmts []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &stmts); err != nil {
			return nil, fmt.Errorf("policy Statement: %w", err)
		}
	} else {
		stmts = []json.RawMessage{raw}
	}
	if len(stmts) == 0 {
		return nil, errors.New("policy Statement is empty")
	}
	sids := map[string]bool{}
	for i, r := range stmts {
		s, err := parseStatement(r, i, p.Version)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, fmt.Errorf("statement %d: Sid %q is used twice", i+1, s.Sid)
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, index int, version string) (Statement, error) {
	s := Statement{Index: index}
	where := fmt.Sprintf("statement %d", index+1)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return s, fmt.Errorf("%s: not a JSON object: %w", where, err)
	}
	if v, ok := m["Sid"]; ok {
		if err := json.Unmarshal(v, &s.Sid); err != nil {
			return s, fmt.Errorf("%s: Sid: want a string", where)
		}
		where = fmt.Sprintf("statement %d (%s)", index+1, s.Sid)
	}
	for k := range m {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition":
		case "Principal", "NotPrincipal":
			return s, fmt.Errorf("%s: %s: an identity-based policy has no principal element", where, k)
		default:
			return s, fmt.Errorf("%s: unknown element %q (want Sid, Effect, Action or NotAction, Resource or NotResource, Condition)", where, k)
		}
	}
	var effect string
	if err := json.Unmarshal(m["Effect"], &effect); err != nil || (effect != string(Allow) && effect != string(Deny)) {
		return s, fmt.Errorf("%s: Effect %s: want \"Allow\" or \"Deny\"", where, m["Effect"])
	}
	s.Effect = Effect(effect)

	a, na := m["Action"], m["NotAction"]
	switch {
	case a != nil && na != nil:
		return s, fmt.Errorf("%s: both Action and NotAction", where)
	case a == nil && na == nil:
		return s, fmt.Errorf("%s: no Action or NotAction", where)
	}
	if na != nil {
		a, s.NotAction = na, true
	}
	actions, err := stringList(a)
	if err != nil {
		return s, fmt.Errorf("%s: Action: %w", where, err)
	}
	for _, act := range actions {
		if err := checkAction(act); err != nil {
			return s, fmt.Errorf("%s: Action %q: %w", where, act, err)
		}
		s.Actions = append(s.Actions, strings.ToLower(act))
	}

	r, nr := m["Resource"], m["NotResource"]
	switch {
	case r != nil && nr != nil:
		return s, fmt.Errorf("%s: both Resource and NotResource", where)
	case r == nil && nr == nil:
		return s, fmt.Errorf("%s: no Resource or NotResource (an identity-based policy names its resources, \"*\" for all)", where)
	}
	if nr != nil {
		r, s.NotResource = nr, true
	}
	if s.Resources, err = stringList(r); err != nil {
		return s, fmt.Errorf("%s: Resource: %w", where, err)
	}
	for _, res := range s.Resources {
		if err := checkResource(res, version); err != nil {
			return s, fmt.Errorf("%s: Resource %q: %w", where, res, err)
		}
	}

	if c, ok := m["Condition"]; ok {
		if s.Conditions, err = parseConditions(c, version); err != nil {
			return s, fmt.Errorf("%s: Condition: %w", where, err)
		}
	}
	return s, nil
}

// stringList decodes a string or a non-empty array of strings.
func stringList(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%s: want a string or an array of strings", raw)
	}
	if len(many) == 0 {
		return nil, errors.New("empty array")
	}
	return many, nil
}

func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	svc, op, ok := strings.Cut(a, ":")
	if !ok || svc == "" || op == "" {
		return errors.New(`want "service:Operation" (wildcards * and ? allowed) or "*"`)
	}
	for _, r := range svc {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("service prefix %q: want letters, digits and hyphens", svc)
		}
	}
	for _, r := range op {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '*' || r == '?' || r == '-' || r == '_') {
			return fmt.Errorf("operation %q: want letters, digits and the wildcards * and ?", op)
		}
	}
	return nil
}

func checkResource(r, version string) error {
	if r == "*" {
		return nil
	}
	if version == Version2012 && strings.Contains(r, "${") {
		return errors.New("policy variables (${…}) are not supported")
	}
	if !strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5 {
		return errors.New(`want "*" or an ARN pattern arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`)
	}
	return nil
}

// Keys returns the condition keys the policy uses, as written, sorted and
// without duplicates (keys that differ only in case, which IAM takes as
// the same key, are listed once).
func (p *Policy) Keys() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Statements {
		for _, c := range s.Conditions {
			if k := strings.ToLower(c.Key); !seen[k] {
				seen[k] = true
				out = append(out, c.Key)
			}
		}
	}
	sort.Strings(out)
	return out
}
