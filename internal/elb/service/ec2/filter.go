package ec2

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
)

// EC2 describe filters: each filter names an attribute of the resource and
// lists values; a resource matches a filter when any of its attribute values
// matches any of the filter's values (values are OR-ed), and it is returned
// when it matches every filter (filters are AND-ed). Values may contain the
// wildcards '*' (any run of characters) and '?' (exactly one character);
// a backslash escapes them. Matching is case-sensitive.

// Limits AWS documents for filters.
const (
	maxFilterValueLen = 255
	maxFilterValues   = 200
)

// wildcard is a compiled filter value.
type wildcard []wtok

type wtokKind uint8

const (
	wLit wtokKind = iota
	wOne
	wStar
)

type wtok struct {
	kind wtokKind
	r    rune
}

// compileWildcard parses a filter value: '*' and '?' are wildcards, '\*',
// '\?' and '\\' are the literal characters, and a backslash before any
// other character (or at the end) is itself literal.
func compileWildcard(pattern string) wildcard {
	var out wildcard
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			// Consecutive stars are one star.
			if len(out) == 0 || out[len(out)-1].kind != wStar {
				out = append(out, wtok{kind: wStar})
			}
		case '?':
			out = append(out, wtok{kind: wOne})
		case '\\':
			if i+1 < len(rs) && (rs[i+1] == '*' || rs[i+1] == '?' || rs[i+1] == '\\') {
				i++
				out = append(out, wtok{kind: wLit, r: rs[i]})
			} else {
				out = append(out, wtok{kind: wLit, r: r})
			}
		default:
			out = append(out, wtok{kind: wLit, r: r})
		}
	}
	return out
}

// match reports whether s matches the whole pattern. It runs in
// O(len(pattern)·len(s)) time and constant extra space.
func (w wildcard) match(s string) bool {
	// Fast path: no wildcard at all.
	literal := true
	for _, t := range w {
		if t.kind != wLit {
			literal = false
			break
		}
	}
	if literal {
		if utf8.RuneCountInString(s) != len(w) {
			return false
		}
		i := 0
		for _, r := range s {
			if w[i].r != r {
				return false
			}
			i++
		}
		return true
	}
	rs := []rune(s)
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(rs) {
		switch {
		case p < len(w) && (w[p].kind == wOne || (w[p].kind == wLit && w[p].r == rs[i])):
			p++
			i++
		case p < len(w) && w[p].kind == wStar:
			starP, starI = p, i
			p++
		case starP >= 0:
			starI++
			p, i = starP+1, starI
		default:
			return false
		}
	}
	for p < len(w) && w[p].kind == wStar {
		p++
	}
	return p == len(w)
}

// matchWildcard reports whether s matches an EC2 filter value pattern.
func matchWildcard(pattern, s string) bool { return compileWildcard(pattern).match(s) }

// attr returns the values of one filterable attribute of a resource.
type attr[T any] func(*T) []string

// filterSpec lists the filters an operation accepts for its resource type.
type filterSpec[T any] struct {
	attrs map[string]attr[T]
	// tags returns the resource's tags; nil when the resource has none,
	// and then tag:, tag-key and tag-value are not accepted.
	tags func(*T) []types.Tag
}

// compile checks the request's filters and returns a predicate that
// reports whether a resource matches all of them.
func (fs filterSpec[T]) compile(filters []types.Filter) (func(*T) bool, error) {
	var preds []func(*T) bool
	for _, f := range filters {
		name := deref(f.Name)
		if len(f.Values) > maxFilterValues {
			return nil, awserr.New("FilterLimitExceeded", "The maximum number of filter values specified on a single call is %d", maxFilterValues)
		}
		pats := make([]wildcard, len(f.Values))
		for i, v := range f.Values {
			if len(v) > maxFilterValueLen {
				return nil, awserr.New("FilterLimitExceeded", "The maximum length for a filter value is %d characters", maxFilterValueLen)
			}
			pats[i] = compileWildcard(v)
		}
		get, err := fs.lookup(name)
		if err != nil {
			return nil, err
		}
		preds = append(preds, func(v *T) bool {
			for _, have := range get(v) {
				for _, p := range pats {
					if p.match(have) {
						return true
					}
				}
			}
			return false
		})
	}
	return func(v *T) bool {
		for _, p := range preds {
			if !p(v) {
				return false
			}
		}
		return true
	}, nil
}

func (fs filterSpec[T]) lookup(name string) (attr[T], error) {
	if a, ok := fs.attrs[name]; ok {
		return a, nil
	}
	if fs.tags != nil {
		switch {
		case strings.HasPrefix(name, "tag:") && len(name) > len("tag:"):
			key := strings.TrimPrefix(name, "tag:")
			return func(v *T) []string {
				for _, t := range fs.tags(v) {
					if deref(t.Key) == key {
						return []string{deref(t.Value)}
					}
				}
				return nil
			}, nil
		case name == "tag-key":
			return func(v *T) []string {
				var out []string
				for _, t := range fs.tags(v) {
					out = append(out, deref(t.Key))
				}
				return out
			}, nil
		case name == "tag-value":
			return func(v *T) []string {
				var out []string
				for _, t := range fs.tags(v) {
					out = append(out, deref(t.Value))
				}
				return out
			}, nil
		}
	}
	if name == "" {
		name = "null"
	}
	return nil, awserr.New("InvalidParameterValue", "The filter '%s' is invalid", name)
}

// Attribute helpers.

func str(s *string) []string {
	if s == nil {
		return nil
	}
	return []string{*s}
}

func boolean(b *bool) []string {
	if b == nil {
		return nil
	}
	return []string{strconv.FormatBool(*b)}
}

func integer(n *int32) []string {
	if n == nil {
		return nil
	}
	return []string{strconv.Itoa(int(*n))}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
