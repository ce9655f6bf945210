package routing

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/settings"
)

func TestWildcard(t *testing.T) {
	cases := []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"example.com", "example.com", true, true},
		{"example.com", "EXAMPLE.com", true, true},
		{"example.com", "example.co", true, false},
		{"*.example.com", "api.example.com", true, true},
		{"*.example.com", "a.b.example.com", true, true},
		{"*.example.com", "example.com", true, false},
		{"api-?.example.com", "api-1.example.com", true, true},
		{"api-?.example.com", "api-12.example.com", true, false},
		{"/img/*", "/img/a/b.png", false, true},
		{"/img/*", "/IMG/a.png", false, false},
		{"/img/*", "/img", false, false},
		{"/*/edit", "/users/1/edit", false, true},
		{"/*/edit", "/users/1/view", false, false},
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbYcZ", false, false},
		{"a*b*c", "abbbc", false, true},
		{"?", "", false, false},
		{"??", "ab", false, true},
		{"*?", "", false, false},
		{"*?", "x", false, true},
		{"/api/v1", "/api/v1", false, true},
		{"/api/v1", "/api/v1/", false, false},
	}
	for _, c := range cases {
		w := compileWildcard(c.pat, c.fold)
		if got := w.match([]byte(c.s)); got != c.want {
			t.Errorf("%q (fold %v) against %q = %v, want %v", c.pat, c.fold, c.s, got, c.want)
		}
	}
}

// wildcardRegexp is the reference meaning of a pattern.
func wildcardRegexp(p string, fold bool) *regexp.Regexp {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{{"*.example.com", "a.example.com"}, {"/a*b?c", "/aXXbYc"}, {"a*", "A"}, {"??*", "ab"}, {"*a*a*a", "aaaa"}} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pat, s string, fold bool) {
		if !isASCII(pat) || !isASCII(s) || len(pat) > 64 || len(s) > 256 {
			return
		}
		w := compileWildcard(pat, fold)
		want := wildcardRegexp(pat, fold).MatchString(s)
		if got := w.match([]byte(s)); got != want {
			t.Fatalf("%q (fold %v) against %q = %v, reference says %v", pat, fold, s, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hdrs(kv ...string) []Header {
	var out []Header
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

func TestConditions(t *testing.T) {
	in := func() *routeInput {
		return &routeInput{
			method:  []byte("POST"),
			host:    []byte("Api.Example.com"),
			path:    []byte("/v1/users/42"),
			query:   []byte("version=2&debug&q=hello%20world&Mode=FAST"),
			headers: hdrs("User-Agent", "curl/8.5", "X-Env", "staging", "X-Env", "blue"),
			src:     netip.MustParseAddr("127.56.1.1"),
			srcVPC:  netip.MustParseAddr("10.0.1.1"),
		}
	}
	qs := func(kv ...*string) *elbv2types.QueryStringConditionConfig {
		c := &elbv2types.QueryStringConditionConfig{}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Values = append(c.Values, elbv2types.QueryStringKeyValuePair{Key: kv[i], Value: kv[i+1]})
		}
		return c
	}
	cases := []struct {
		name string
		rc   elbv2types.RuleCondition
		want bool
	}{
		{"host exact case-insensitive", elbv2types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{"api.example.com"}}}, true},
		{"host wildcard", elbv2types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{"*.example.org", "*.EXAMPLE.com"}}}, true},
		{"host legacy values", elbv2types.RuleCondition{Field: aws.String("host-header"), Values: []string{"other.com"}}, false},
		{"host regex", elbv2types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{RegexValues: []string{"^[A-Za-z]+\\.Example\\.com$"}}}, true},
		{"path wildcard", elbv2types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/v1/*"}}}, true},
		{"path case-sensitive", elbv2types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/V1/*"}}}, false},
		{"path ignores query", elbv2types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"*version*"}}}, false},
		{"path regex", elbv2types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{RegexValues: []string{"^/v[0-9]+/users/[0-9]+$"}}}, true},
		{"header value", elbv2types.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("user-agent"), Values: []string{"*Curl*"}}}, true},
		{"header second instance", elbv2types.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Env"), Values: []string{"blue"}}}, true},
		{"header absent", elbv2types.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Missing"), Values: []string{"*"}}}, false},
		{"header regex", elbv2types.RuleCondition{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("x-env"), RegexValues: []string{"^stag"}}}, true},
		{"method", elbv2types.RuleCondition{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &elbv2types.HttpRequestMethodConditionConfig{Values: []string{"GET", "POST"}}}, true},
		{"method case-sensitive", elbv2types.RuleCondition{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &elbv2types.HttpRequestMethodConditionConfig{Values: []string{"post"}}}, false},
		{"query key and value", elbv2types.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: qs(aws.String("version"), aws.String("2"))}, true},
		{"query value any key", elbv2types.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: qs(nil, aws.String("fast"))}, true},
		{"query decoded wildcard", elbv2types.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: qs(aws.String("q"), aws.String("hello*"))}, true},
		{"query no match", elbv2types.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: qs(aws.String("version"), aws.String("3"))}, false},
		{"query key without value", elbv2types.RuleCondition{Field: aws.String("query-string"), QueryStringConfig: qs(aws.String("debug"), aws.String(""))}, true},
		{"source ip host address", elbv2types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &elbv2types.SourceIpConditionConfig{Values: []string{"127.56.0.0/16"}}}, true},
		{"source ip VPC address", elbv2types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &elbv2types.SourceIpConditionConfig{Values: []string{"10.0.0.0/16"}}}, true},
		{"source ip outside", elbv2types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &elbv2types.SourceIpConditionConfig{Values: []string{"192.0.2.0/24", "2001:db8::/32"}}}, false},
	}
	for _, c := range cases {
		cond, err := compileCondition(c.rc)
		if err != nil {
			t.Errorf("%s: compile: %v", c.name, err)
			continue
		}
		if got := cond.match(in()); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConditionErrors(t *testing.T) {
	for _, rc := range []elbv2types.RuleCondition{
		{Field: aws.String("host-header")},
		{Field: aws.String("cookie"), Values: []string{"x"}},
		{Field: aws.String("source-ip"), SourceIpConfig: &elbv2types.SourceIpConditionConfig{Values: []string{"not-a-cidr"}}},
		{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{RegexValues: []string{"(unclosed"}}},
		{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2types.HttpHeaderConditionConfig{Values: []string{"x"}}},
		{Field: aws.String("query-string")},
	} {
		if _, err := compileCondition(rc); err == nil {
			t.Errorf("condition %s compiled; want an error", aws.ToString(rc.Field))
		} else if !strings.Contains(err.Error(), aws.ToString(rc.Field)) && aws.ToString(rc.Field) != "query-string" {
			t.Errorf("error %q does not name the field %s", err, aws.ToString(rc.Field))
		}
	}
}

func FuzzConditions(f *testing.F) {
	f.Add("host-header", "*.example.com", "api.example.com", "/a", "x=1", "GET")
	f.Add("path-pattern", "/a/*/c?", "h", "/a/b/cd", "", "POST")
	f.Add("query-string", "v*", "h", "/", "k=v%20x&z", "GET")
	f.Add("http-header", "*fox*", "h", "/", "", "GET")
	f.Fuzz(func(t *testing.T, field, pattern, host, path, query, method string) {
		rc := elbv2types.RuleCondition{Field: aws.String(field)}
		switch field {
		case "host-header":
			rc.HostHeaderConfig = &elbv2types.HostHeaderConditionConfig{Values: []string{pattern}, RegexValues: []string{pattern}}
		case "path-pattern":
			rc.PathPatternConfig = &elbv2types.PathPatternConditionConfig{Values: []string{pattern}}
		case "query-string":
			rc.QueryStringConfig = &elbv2types.QueryStringConditionConfig{Values: []elbv2types.QueryStringKeyValuePair{{Key: aws.String(pattern), Value: aws.String(pattern)}, {Value: aws.String(pattern)}}}
		case "http-header":
			rc.HttpHeaderConfig = &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Test"), Values: []string{pattern}}
		default:
			rc.Values = []string{pattern}
		}
		c, err := compileCondition(rc)
		if err != nil {
			return
		}
		in := &routeInput{method: []byte(method), host: []byte(host), path: []byte(path), query: []byte(query), headers: hdrs("X-Test", host)}
		c.match(in) // must not panic or hang
	})
}

func TestTraceHeader(t *testing.T) {
	now := mustTime("2026-01-02T03:04:05Z")
	ts := fmt.Sprintf("%08x", now.Unix())
	root := "Root=1-67891233-abcdef012345678912345678"
	cases := []struct {
		name, in string
		check    func(t *testing.T, out string)
	}{
		{"absent: Root added", "", func(t *testing.T, out string) {
			if !regexp.MustCompile(`^Root=1-` + ts + `-[0-9a-f]{24}$`).MatchString(out) {
				t.Errorf("got %q", out)
			}
		}},
		{"Root present: Self inserted", root, func(t *testing.T, out string) {
			if !regexp.MustCompile(`^Self=1-` + ts + `-[0-9a-f]{24};` + root + `$`).MatchString(out) {
				t.Errorf("got %q", out)
			}
		}},
		{"Root and custom field: both kept", root + ";CalledFrom=app", func(t *testing.T, out string) {
			if !regexp.MustCompile(`^Self=1-` + ts + `-[0-9a-f]{24};` + root + `;CalledFrom=app$`).MatchString(out) {
				t.Errorf("got %q", out)
			}
		}},
		{"Self present: Self updated", "Self=1-11111111-222222222222222222222222;" + root + ";CalledFrom=app", func(t *testing.T, out string) {
			if !regexp.MustCompile(`^Self=1-` + ts + `-[0-9a-f]{24};` + root + `;CalledFrom=app$`).MatchString(out) {
				t.Errorf("got %q", out)
			}
		}},
		{"invalid value: new Root", "garbage", func(t *testing.T, out string) {
			if !regexp.MustCompile(`^Root=1-` + ts + `-[0-9a-f]{24}$`).MatchString(out) {
				t.Errorf("got %q", out)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, string(AppendTraceHeader(nil, []byte(c.in), 100, now)))
		})
	}
	// Headers over 7 KB: the header is rewritten with a Root field.
	out := string(AppendTraceHeader(nil, []byte(root), 8<<10, now))
	if !strings.HasPrefix(out, "Root=1-"+ts+"-") || strings.Contains(out, "67891233") {
		t.Errorf("large headers: got %q", out)
	}
	// Two ids differ.
	a, b := appendTraceID(nil, now), appendTraceID(nil, now)
	if string(a) == string(b) {
		t.Errorf("two trace ids are equal: %s", a)
	}
}

func FuzzTraceHeader(f *testing.F) {
	f.Add("Root=1-67891233-abcdef012345678912345678;Self=x;a=b", 100)
	f.Add(";;Self=;", 10)
	f.Fuzz(func(t *testing.T, in string, size int) {
		now := mustTime("2026-01-02T03:04:05Z")
		out := AppendTraceHeader(nil, []byte(in), size, now)
		if !strings.Contains(string(out), fmt.Sprintf("=1-%08x-", now.Unix())) {
			t.Fatalf("%q -> %q: no new trace id", in, out)
		}
	})
}

func TestXFF(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.1.5:40000")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:443")
	cases := []struct {
		in       string
		client   netip.AddrPort
		withPort bool
		want     string
	}{
		{"", v4, false, "10.0.1.5"},
		{"203.0.113.7", v4, false, "203.0.113.7, 10.0.1.5"},
		{"", v4, true, "10.0.1.5:40000"},
		{"", v6, true, "[2001:db8::1]:443"},
		{"", v6, false, "2001:db8::1"},
	}
	for _, c := range cases {
		if got := string(AppendXFF(nil, []byte(c.in), c.client, c.withPort)); got != c.want {
			t.Errorf("AppendXFF(%q, %s, %v) = %q, want %q", c.in, c.client, c.withPort, got, c.want)
		}
	}
}

func TestRedirectLocation(t *testing.T) {
	cases := []struct {
		cfg                     redirectConfig
		scheme                  string
		port                    int32
		host, path, query, want string
	}{
		{redirectConfig{protocol: "HTTPS", host: "#{host}", port: "443", path: "/#{path}", query: "#{query}"}, "http", 80, "example.com", "/a/b", "x=1", "https://example.com/a/b?x=1"},
		{redirectConfig{protocol: "#{protocol}", host: "new.#{host}", port: "#{port}", path: "/v2/#{path}", query: "#{query}&from=#{port}"}, "http", 8080, "example.com", "/a", "", "http://new.example.com:8080/v2/a?&from=8080"},
		{redirectConfig{protocol: "HTTP", host: "h", port: "80", path: "/", query: ""}, "https", 443, "example.com", "/x", "y=2", "http://h/"},
	}
	for _, c := range cases {
		if got := c.cfg.location(c.scheme, c.port, []byte(c.host), []byte(c.path), []byte(c.query)); got != c.want {
			t.Errorf("location = %q, want %q", got, c.want)
		}
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestForwardHost(t *testing.T) {
	cases := []struct {
		port     int32
		preserve bool
		in, want string
	}{
		{80, false, "example.com", "example.com"},
		{80, false, "example.com:8080", "example.com"},
		{443, false, "[2001:db8::1]:443", "[2001:db8::1]"},
		{8080, false, "example.com", "example.com:8080"},
		{8080, false, "example.com:9", "example.com:9"},
		{8080, false, "[2001:db8::1]", "[2001:db8::1]:8080"},
		{80, true, "example.com:8080", "example.com:8080"},
		{443, false, "[2001:db8::1]", "[2001:db8::1]"},
		{8080, false, "[2001:db8::1]:9", "[2001:db8::1]:9"},
	}
	for _, c := range cases {
		l := &Listener{Port: c.port, PortStr: strconv.Itoa(int(c.port)), LB: &settings.ALB{PreserveHost: c.preserve}}
		if got := string(l.forwardHost(&Decision{}, []byte(c.in))); got != c.want {
			t.Errorf("port %d preserve %v: Host %q -> %q, want %q", c.port, c.preserve, c.in, got, c.want)
		}
	}
}

func TestHostName(t *testing.T) {
	for _, c := range []struct{ in, name, only string }{
		{"example.com", "example.com", "example.com"},
		{"example.com:8080", "example.com", "example.com"},
		{"example.com:", "example.com", "example.com"},
		{"127.0.0.1:80", "127.0.0.1", "127.0.0.1"},
		{"[2001:db8::1]:8080", "[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1]", "[2001:db8::1]", "2001:db8::1"},
		{"[2001:db8::1", "[2001:db8::1", "[2001:db8::1"},
		{"2001:db8::1", "2001:db8::1", "2001:db8::1"},
		{"", "", ""},
	} {
		if got := string(hostName([]byte(c.in))); got != c.name {
			t.Errorf("hostName(%q) = %q, want %q", c.in, got, c.name)
		}
		if got := string(HostOnly([]byte(c.in))); got != c.only {
			t.Errorf("HostOnly(%q) = %q, want %q", c.in, got, c.only)
		}
	}
}

func FuzzHostName(f *testing.F) {
	for _, s := range []string{"example.com:8080", "[::1]:80", "[::1", "::1", "a:b", ":", "[]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		n := string(hostName([]byte(h)))
		if !strings.HasPrefix(h, n) {
			t.Fatalf("hostName(%q) = %q: not a prefix", h, n)
		}
		if rest := h[len(n):]; rest != "" && rest[0] != ':' {
			t.Fatalf("hostName(%q) = %q leaves %q, not a port", h, n, rest)
		}
		if !strings.Contains(h, ":") && n != h {
			t.Fatalf("hostName(%q) = %q: no port to remove", h, n)
		}
		if o := string(HostOnly([]byte(h))); !strings.Contains(n, o) {
			t.Fatalf("HostOnly(%q) = %q is not within %q", h, o, n)
		}
	})
}
