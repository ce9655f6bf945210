package routing

import (
	"bytes"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// wildcard is a compiled ALB match pattern: '*' matches any run of
// characters (empty included), '?' exactly one; every other character
// matches itself (ignoring ASCII case when fold is set).
type wildcard struct {
	pat  []byte // lower-cased when fold
	fold bool
	// kind selects a fast form: an exact string, a prefix (one trailing
	// '*'), or the general glob.
	kind wildKind
}

type wildKind uint8

const (
	wildExact wildKind = iota
	wildPrefix
	wildGlob
)

func compileWildcard(p string, fold bool) wildcard {
	w := wildcard{pat: []byte(p), fold: fold}
	if fold {
		w.pat = bytes.ToLower(w.pat)
	}
	stars := bytes.Count(w.pat, []byte{'*'})
	quests := bytes.Count(w.pat, []byte{'?'})
	switch {
	case stars == 0 && quests == 0:
		w.kind = wildExact
	case stars == 1 && quests == 0 && w.pat[len(w.pat)-1] == '*':
		w.kind = wildPrefix
		w.pat = w.pat[:len(w.pat)-1]
	default:
		w.kind = wildGlob
	}
	return w
}

func (w *wildcard) match(s []byte) bool {
	switch w.kind {
	case wildExact:
		if w.fold {
			return len(s) == len(w.pat) && foldHasPrefix(s, w.pat)
		}
		return bytes.Equal(s, w.pat)
	case wildPrefix:
		if w.fold {
			return len(s) >= len(w.pat) && foldHasPrefix(s, w.pat)
		}
		return bytes.HasPrefix(s, w.pat)
	}
	return globMatch(w.pat, s, w.fold)
}

// foldHasPrefix reports whether s begins with the lower-case prefix p,
// ignoring ASCII case in s.
func foldHasPrefix(s, p []byte) bool {
	if len(s) < len(p) {
		return false
	}
	for i, c := range p {
		if lowerByte(s[i]) != c {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern of literals, '*' and '?' in
// linear time (greedy with backtracking to the last star).
func globMatch(p, s []byte, fold bool) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			c := s[si]
			if fold {
				c = lowerByte(c)
			}
			switch {
			case p[pi] == '*':
				star, mark = pi, si
				pi++
				continue
			case p[pi] == '?' || p[pi] == c:
				pi++
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		pi = star + 1
		mark++
		si = mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// routeInput is what rule conditions look at in a request.
type routeInput struct {
	method  []byte
	host    []byte // the first Host header as received, port included
	path    []byte // the request path (no query)
	query   []byte // the raw query, without '?'
	headers []Header
	src     netip.Addr // client address on the host
	srcVPC  netip.Addr // the VPC address it stands for, if any

	pairs  []queryPair
	parsed bool
}

type queryPair struct{ key, value []byte }

// queryPairs splits and unescapes the query once per request.
func (in *routeInput) queryPairs() []queryPair {
	if in.parsed {
		return in.pairs
	}
	in.parsed = true
	q := in.query
	for len(q) > 0 {
		var part []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			part, q = q[:i], q[i+1:]
		} else {
			part, q = q, nil
		}
		if len(part) == 0 {
			continue
		}
		k, v := part, []byte(nil)
		if i := bytes.IndexByte(part, '='); i >= 0 {
			k, v = part[:i], part[i+1:]
		}
		in.pairs = append(in.pairs, queryPair{unescape(k), unescape(v)})
	}
	return in.pairs
}

func unescape(b []byte) []byte {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return b
	}
	s, err := url.QueryUnescape(string(b))
	if err != nil {
		return b
	}
	return []byte(s)
}

// condKind is the field of a rule condition.
type condKind uint8

const (
	condHost condKind = iota
	condPath
	condHeader
	condMethod
	condQuery
	condSourceIP
)

// condition is one compiled rule condition: its values are OR-ed.
type condition struct {
	kind     condKind
	patterns []wildcard
	regexes  []*regexp.Regexp
	name     string // http-header: the lower-case header name
	methods  [][]byte
	query    []queryMatch
	prefixes []netip.Prefix
}

type queryMatch struct {
	key   *wildcard // nil: any key
	value wildcard
}

func (c *condition) match(in *routeInput) bool {
	switch c.kind {
	case condHost:
		return c.matchValue(in.host)
	case condPath:
		return c.matchValue(in.path)
	case condMethod:
		for _, m := range c.methods {
			if bytes.Equal(in.method, m) {
				return true
			}
		}
		return false
	case condHeader:
		for i := range in.headers {
			h := &in.headers[i]
			if EqualFold(h.Name, c.name) && c.matchValue(h.Value) {
				return true
			}
		}
		return false
	case condQuery:
		pairs := in.queryPairs()
		for i := range c.query {
			q := &c.query[i]
			for _, p := range pairs {
				if (q.key == nil || q.key.match(p.key)) && q.value.match(p.value) {
					return true
				}
			}
		}
		return false
	case condSourceIP:
		for _, p := range c.prefixes {
			if p.Contains(in.src) || in.srcVPC.IsValid() && p.Contains(in.srcVPC) {
				return true
			}
		}
		return false
	}
	return false
}

func (c *condition) matchValue(v []byte) bool {
	for i := range c.patterns {
		if c.patterns[i].match(v) {
			return true
		}
	}
	for _, re := range c.regexes {
		if re.Match(v) {
			return true
		}
	}
	return false
}

// compileCondition compiles one rule condition of the ELBv2 API, either in
// its legacy form (Field with Values) or with its *Config.
func compileCondition(rc elbv2types.RuleCondition) (condition, error) {
	field := ""
	if rc.Field != nil {
		field = *rc.Field
	}
	var c condition
	var values, regexes []string
	switch field {
	case "host-header":
		c.kind = condHost
		values, regexes = rc.Values, rc.RegexValues
		if rc.HostHeaderConfig != nil {
			values = append(append([]string(nil), values...), rc.HostHeaderConfig.Values...)
			regexes = append(append([]string(nil), regexes...), rc.HostHeaderConfig.RegexValues...)
		}
		for _, v := range values {
			c.patterns = append(c.patterns, compileWildcard(v, true))
		}
	case "path-pattern":
		c.kind = condPath
		values, regexes = rc.Values, rc.RegexValues
		if rc.PathPatternConfig != nil {
			values = append(append([]string(nil), values...), rc.PathPatternConfig.Values...)
			regexes = append(append([]string(nil), regexes...), rc.PathPatternConfig.RegexValues...)
		}
		for _, v := range values {
			c.patterns = append(c.patterns, compileWildcard(v, false))
		}
	case "http-header":
		c.kind = condHeader
		if rc.HttpHeaderConfig == nil || rc.HttpHeaderConfig.HttpHeaderName == nil || *rc.HttpHeaderConfig.HttpHeaderName == "" {
			return c, fmt.Errorf("http-header condition without HttpHeaderConfig.HttpHeaderName")
		}
		c.name = strings.ToLower(*rc.HttpHeaderConfig.HttpHeaderName)
		values = rc.HttpHeaderConfig.Values
		regexes = append(append([]string(nil), rc.RegexValues...), rc.HttpHeaderConfig.RegexValues...)
		for _, v := range values {
			c.patterns = append(c.patterns, compileWildcard(v, true))
		}
	case "http-request-method":
		c.kind = condMethod
		if rc.HttpRequestMethodConfig == nil {
			return c, fmt.Errorf("http-request-method condition without HttpRequestMethodConfig")
		}
		for _, m := range rc.HttpRequestMethodConfig.Values {
			c.methods = append(c.methods, []byte(m))
		}
		if len(c.methods) == 0 {
			return c, fmt.Errorf("http-request-method condition without values")
		}
	case "query-string":
		c.kind = condQuery
		if rc.QueryStringConfig == nil || len(rc.QueryStringConfig.Values) == 0 {
			return c, fmt.Errorf("query-string condition without QueryStringConfig.Values")
		}
		for _, kv := range rc.QueryStringConfig.Values {
			var q queryMatch
			if kv.Key != nil && *kv.Key != "" {
				k := compileWildcard(*kv.Key, true)
				q.key = &k
			}
			v := ""
			if kv.Value != nil {
				v = *kv.Value
			}
			q.value = compileWildcard(v, true)
			c.query = append(c.query, q)
		}
	case "source-ip":
		c.kind = condSourceIP
		if rc.SourceIpConfig == nil || len(rc.SourceIpConfig.Values) == 0 {
			return c, fmt.Errorf("source-ip condition without SourceIpConfig.Values")
		}
		for _, v := range rc.SourceIpConfig.Values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return c, fmt.Errorf("source-ip condition value %q is not a CIDR block: %w", v, err)
			}
			c.prefixes = append(c.prefixes, p.Masked())
		}
	default:
		return c, fmt.Errorf("condition field %q: want host-header, path-pattern, http-header, http-request-method, query-string or source-ip", field)
	}
	for _, r := range regexes {
		re, err := regexp.Compile(r)
		if err != nil {
			return c, fmt.Errorf("%s condition regex %q: %w", field, r, err)
		}
		c.regexes = append(c.regexes, re)
	}
	if (c.kind == condHost || c.kind == condPath || c.kind == condHeader) && len(c.patterns) == 0 && len(c.regexes) == 0 {
		return c, fmt.Errorf("%s condition without values", field)
	}
	return c, nil
}

// HostOnly returns a Host header's host without its port (IPv6
// literals keep their brackets off).
func HostOnly(h []byte) []byte {
	n := hostName(h)
	if len(n) > 1 && n[0] == '[' && n[len(n)-1] == ']' {
		return n[1 : len(n)-1]
	}
	return n
}

// hostName returns the host of a Host header (RFC 3986's host: a name, an
// IPv4 address, or an IPv6 literal in its brackets) without the ":port"
// that may follow it; a malformed header it returns whole. A bare IPv6
// address (more than one ':' and no brackets, as a listener address is
// written) has no port. Routing never uses it to match: ALB compares
// host-header conditions with the whole header (see Request.Host).
func hostName(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i > 0 && (i+1 == len(h) || h[i+1] == ':') {
			return h[:i+1]
		}
		return h
	}
	i := bytes.IndexByte(h, ':')
	if i < 0 || bytes.IndexByte(h[i+1:], ':') >= 0 {
		return h
	}
	return h[:i]
}

// splitTarget splits a request target into path and query.
func splitTarget(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}
