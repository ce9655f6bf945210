package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// operator is a base condition operator.
type operator int

const (
	opStringEquals operator = iota + 1
	opStringNotEquals
	opStringEqualsIgnoreCase
	opStringNotEqualsIgnoreCase
	opStringLike
	opStringNotLike
	opArnLike // ArnEquals behaves as ArnLike on AWS
	opArnNotLike
	opBool
	opNull
)

var operators = map[string]operator{
	"StringEquals":              opStringEquals,
	"StringNotEquals":           opStringNotEquals,
	"StringEqualsIgnoreCase":    opStringEqualsIgnoreCase,
	"StringNotEqualsIgnoreCase": opStringNotEqualsIgnoreCase,
	"StringLike":                opStringLike,
	"StringNotLike":             opStringNotLike,
	"ArnEquals":                 opArnLike,
	"ArnLike":                   opArnLike,
	"ArnNotEquals":              opArnNotLike,
	"ArnNotLike":                opArnNotLike,
	"Bool":                      opBool,
	"Null":                      opNull,
}

// negated reports whether the operator holds when no value matches.
func (o operator) negated() bool {
	switch o {
	case opStringNotEquals, opStringNotEqualsIgnoreCase, opStringNotLike, opArnNotLike:
		return true
	}
	return false
}

// setQualifier is the ForAnyValue:/ForAllValues: prefix.
type setQualifier int

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

// supportedOperators lists the operators for error messages.
func supportedOperators() string {
	names := make([]string, 0, len(operators))
	for n := range operators {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (operator, setQualifier, bool, error) {
	rest := name
	set := setNone
	if q, r, ok := strings.Cut(rest, ":"); ok {
		switch q {
		case "ForAnyValue":
			set = setAnyValue
		case "ForAllValues":
			set = setAllValues
		default:
			return 0, 0, false, fmt.Errorf("operator %q: unknown qualifier %q (want ForAnyValue: or ForAllValues:)", name, q)
		}
		rest = r
	}
	ifExists := false
	if base, ok := strings.CutSuffix(rest, "IfExists"); ok {
		ifExists, rest = true, base
	}
	op, ok := operators[rest]
	if !ok {
		return 0, 0, false, fmt.Errorf("operator %q is not supported (supported: %s, with ForAnyValue:/ForAllValues: and …IfExists)", name, supportedOperators())
	}
	if op == opNull && (ifExists || set != setNone) {
		return 0, 0, false, fmt.Errorf("operator %q: Null takes no qualifier and no IfExists", name)
	}
	return op, set, ifExists, nil
}

func parseConditions(raw json.RawMessage, version string) ([]Condition, error) {
	var block map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil {
		return nil, fmt.Errorf("want an object of operators: %w", err)
	}
	ops := make([]string, 0, len(block))
	for k := range block {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	var out []Condition
	for _, name := range ops {
		op, set, ifExists, err := parseOperator(name)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(block[name]))
		dec.UseNumber()
		var keys map[string]json.RawMessage
		if err := dec.Decode(&keys); err != nil || len(keys) == 0 {
			return nil, fmt.Errorf("%s: want an object of condition keys and values", name)
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, key := range names {
			if err := checkKey(key, version); err != nil {
				return nil, fmt.Errorf("%s: key %q: %w", name, key, err)
			}
			vals, err := conditionValues(keys[key])
			if err != nil {
				return nil, fmt.Errorf("%s: key %q: %w", name, key, err)
			}
			for _, v := range vals {
				if version == Version2012 && strings.Contains(v, "${") {
					return nil, fmt.Errorf("%s: key %q: value %q: policy variables (${…}) are not supported", name, key, v)
				}
				switch op {
				case opNull, opBool:
					if lv := strings.ToLower(v); lv != "true" && lv != "false" {
						return nil, fmt.Errorf("%s: key %q: value %q: want true or false", name, key, v)
					}
				}
			}
			out = append(out, Condition{Operator: name, Key: key, Values: vals, op: op, set: set, ifExists: ifExists})
		}
	}
	return out, nil
}

func checkKey(key, version string) error {
	svc, name, ok := strings.Cut(key, ":")
	if !ok || svc == "" || name == "" {
		return errors.New(`want "service:name", e.g. aws:RequestTag/KEY`)
	}
	if version == Version2012 && strings.Contains(key, "${") {
		return errors.New("policy variables (${…}) are not supported")
	}
	return nil
}

// conditionValues decodes a value or an array of values (strings,
// numbers, booleans), as strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var many []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &many); err != nil {
			return nil, err
		}
		if len(many) == 0 {
			return nil, errors.New("empty array of values")
		}
	} else {
		many = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(many))
	for _, r := range many {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case bool:
			if x {
				out = append(out, "true")
			} else {
				out = append(out, "false")
			}
		default:
			return nil, fmt.Errorf("value %s: want a string, number or boolean", r)
		}
	}
	return out, nil
}

// holds evaluates the condition against the request context.
func (c Condition) holds(ctx map[string][]string) bool {
	vals, present := lookup(ctx, c.Key)
	if c.op == opNull {
		absent := !present || len(vals) == 0
		for _, v := range c.Values {
			if strings.EqualFold(v, "true") == absent {
				return true
			}
		}
		return false
	}
	if !present || len(vals) == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setAllValues:
			// ForAllValues over an empty set holds (IAM's documented
			// behaviour: pair it with a Null check to require the key).
			return true
		case c.set == setAnyValue:
			return false
		}
		// A missing key matches nothing: positive operators fail,
		// negated ones hold.
		return c.op.negated()
	}
	switch c.set {
	case setAnyValue:
		for _, v := range vals {
			if c.valueHolds(v) {
				return true
			}
		}
		return false
	case setAllValues:
		for _, v := range vals {
			if !c.valueHolds(v) {
				return false
			}
		}
		return true
	}
	// A single-valued operator on several context values: positive
	// operators hold if any value matches, negated ones if none does.
	if c.op.negated() {
		for _, v := range vals {
			if !c.valueHolds(v) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if c.valueHolds(v) {
			return true
		}
	}
	return false
}

// valueHolds applies the operator to one context value.
func (c Condition) valueHolds(v string) bool {
	match := false
	for _, p := range c.Values {
		if c.matches(p, v) {
			match = true
			break
		}
	}
	if c.op.negated() {
		return !match
	}
	return match
}

func (c Condition) matches(pattern, v string) bool {
	switch c.op {
	case opStringEquals, opStringNotEquals:
		return pattern == v
	case opStringEqualsIgnoreCase, opStringNotEqualsIgnoreCase:
		return strings.EqualFold(pattern, v)
	case opStringLike, opStringNotLike:
		return glob(pattern, v)
	case opArnLike, opArnNotLike:
		return arnMatch(pattern, v)
	case opBool:
		return strings.EqualFold(pattern, v)
	}
	return false
}

// lookup finds a key in the context; key names are case-insensitive.
func lookup(ctx map[string][]string, key string) ([]string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}
