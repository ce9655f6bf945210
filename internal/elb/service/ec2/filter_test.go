package ec2

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
)

func TestMatchWildcard(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "a", true},
		{"a*", "abc", true},
		{"a*", "bac", false},
		{"*c", "abc", true},
		{"*c", "abd", false},
		{"a*c", "ac", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbcd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "abbc", false},
		{"??", "ab", true},
		{"??", "a", false},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b*", "xxbxxaxx", false},
		{"kubernetes.io/cluster/*", "kubernetes.io/cluster/demo", true},
		{"10.0.*", "10.0.3.7", true},
		{"10.0.?.7", "10.0.3.7", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\?`, "a?", true},
		{`a\?`, "ab", false},
		{`a\\b`, `a\b`, true},
		{`a\b`, `a\b`, true},    // a backslash before another character is literal
		{`a\`, `a\`, true},      // and so is a trailing one
		{"é*", "été", true},     // characters, not bytes
		{"?", "é", true},        // one character of two bytes
		{"**a", "a", true},      // repeated stars
		{"*?*", "", false},      // '?' needs a character
		{"Name", "name", false}, // case-sensitive
	} {
		if got := matchWildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("matchWildcard(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// reference compiles a filter value to an anchored regular expression.
func reference(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for _, tok := range compileWildcard(pattern) {
		switch tok.kind {
		case wStar:
			b.WriteString(`.*`)
		case wOne:
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(tok.r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func FuzzMatchWildcard(f *testing.F) {
	for _, seed := range [][2]string{
		{"*", "abc"}, {"a*c", "abbc"}, {"a?c", "abc"}, {`a\*b`, "a*b"}, {"*a*b*c*", "xaybzc"},
		{"??*?", "abc"}, {`\\*`, `\x`}, {"é?", "éa"}, {"*", "\xff\xfe"}, {"10.0.*.?", "10.0.33.7"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return
		}
		got := matchWildcard(pattern, s)
		// The reference sees the same characters: each byte of invalid
		// UTF-8 is one U+FFFD for both.
		want := reference(pattern).MatchString(string([]rune(s)))
		if got != want {
			t.Fatalf("matchWildcard(%q, %q) = %v, reference says %v", pattern, s, got, want)
		}
	})
}

type res struct {
	id   string
	vals []string
	tags []types.Tag
}

var testSpec = filterSpec[res]{
	attrs: map[string]attr[res]{
		"id":   func(r *res) []string { return []string{r.id} },
		"vals": func(r *res) []string { return r.vals },
	},
	tags: func(r *res) []types.Tag { return r.tags },
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestFilterSemantics(t *testing.T) {
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	a := &res{id: "a-1", vals: []string{"x", "y"}, tags: []types.Tag{tag("Name", "alpha"), tag("env", "prod")}}
	b := &res{id: "b-2", vals: []string{"z"}, tags: []types.Tag{tag("Name", "beta"), tag("empty", "")}}
	for _, tc := range []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"none", nil, []string{"a-1", "b-2"}},
		{"values are OR-ed", []types.Filter{filter("id", "a-1", "b-2")}, []string{"a-1", "b-2"}},
		{"filters are AND-ed", []types.Filter{filter("id", "a-1", "b-2"), filter("vals", "z")}, []string{"b-2"}},
		{"any attribute value matches", []types.Filter{filter("vals", "y")}, []string{"a-1"}},
		{"wildcard", []types.Filter{filter("id", "*-2")}, []string{"b-2"}},
		{"tag:KEY", []types.Filter{filter("tag:Name", "alpha")}, []string{"a-1"}},
		{"tag:KEY wildcard", []types.Filter{filter("tag:Name", "*a")}, []string{"a-1", "b-2"}},
		{"tag:KEY absent key", []types.Filter{filter("tag:env", "*")}, []string{"a-1"}},
		{"tag:KEY empty value", []types.Filter{filter("tag:empty", "")}, []string{"b-2"}},
		{"tag-key", []types.Filter{filter("tag-key", "env")}, []string{"a-1"}},
		{"tag-value", []types.Filter{filter("tag-value", "beta", "prod")}, []string{"a-1", "b-2"}},
		{"no values matches nothing", []types.Filter{filter("id")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			match, err := testSpec.compile(tc.filters)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range []*res{a, b} {
				if match(r) {
					got = append(got, r.id)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	long := strings.Repeat("x", 256)
	many := make([]string, 201)
	for _, tc := range []struct {
		name    string
		filters []types.Filter
		code    string
		message string
	}{
		{"unknown name", []types.Filter{filter("bogus", "1")}, "InvalidParameterValue", "The filter 'bogus' is invalid"},
		{"missing name", []types.Filter{{Values: []string{"1"}}}, "InvalidParameterValue", "The filter 'null' is invalid"},
		{"tag: without key", []types.Filter{filter("tag:", "1")}, "InvalidParameterValue", "The filter 'tag:' is invalid"},
		{"value too long", []types.Filter{filter("id", long)}, "FilterLimitExceeded", "The maximum length for a filter value is 255 characters"},
		{"too many values", []types.Filter{filter("id", many...)}, "FilterLimitExceeded", "The maximum number of filter values specified on a single call is 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testSpec.compile(tc.filters)
			e, ok := err.(*awserr.Error)
			if !ok || e.Code != tc.code || e.Message != tc.message {
				t.Fatalf("got %v, want %s: %s", err, tc.code, tc.message)
			}
		})
	}
}

func TestPaginate(t *testing.T) {
	items := []string{"d", "b", "a", "c", "e"}
	lim := pageLimits{min: 2, max: 3}
	key := func(s string) string { return s }
	tokens := pagetoken.New([]byte("test key")).Scope("DescribeVpcs")
	var got []string
	var tok *string
	for range 10 {
		page, next, err := paginate(tokens, append([]string(nil), items...), key, lim, aws.Int32(2), tok, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == nil {
			break
		}
		tok = next
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("pages = %v, want a..e once each", got)
	}
	// A token stays valid when items are added or removed before it.
	_, next, _ := paginate(tokens, []string{"a", "b", "c"}, key, lim, aws.Int32(2), nil, 0)
	page, _, err := paginate(tokens, []string{"b", "c", "d", "aa"}, key, lim, aws.Int32(2), next, 0)
	if err != nil || strings.Join(page, ",") != "c,d" {
		t.Fatalf("after changes: %v, %v; want [c d]", page, err)
	}
	for _, tc := range []struct {
		name string
		max  *int32
		tok  *string
		nIDs int
		lim  pageLimits
		code string
	}{
		{"below minimum", aws.Int32(1), nil, 0, lim, "InvalidParameterValue"},
		{"above maximum", aws.Int32(4), nil, 0, lim, "InvalidParameterValue"},
		{"bad token", nil, aws.String("!!"), 0, lim, "InvalidNextToken"},
		{"foreign token", nil, aws.String("Zm9v"), 0, lim, "InvalidNextToken"},
		{"another operation's token", nil, aws.String(pagetoken.New([]byte("test key")).Scope("DescribeSubnets").Seal("a")), 0, lim, "InvalidNextToken"},
		{"with ids", aws.Int32(2), nil, 1, pageLimits{min: 2, max: 3, idsParam: "instancesSet"}, "InvalidParameterCombination"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := paginate(tokens, items, key, tc.lim, tc.max, tc.tok, tc.nIDs)
			if !awserr.Is(err, tc.code) {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

// FuzzRulesFromPermissions checks that any permission a client sends is
// either refused with an AWS error or stored in canonical form.
func FuzzRulesFromPermissions(f *testing.F) {
	f.Add("tcp", int32(80), int32(80), "0.0.0.0/0", "::/0", "d")
	f.Add("-1", int32(0), int32(0), "10.1.2.3/16", "", "")
	f.Add("icmp", int32(-1), int32(3), "10.0.0.0/8", "", "x")
	f.Add("58", int32(128), int32(0), "", "2001:db8::1/64", "ünïcode")
	f.Add("sctp", int32(1), int32(2), "1.2.3.4", "", "")
	f.Fuzz(func(t *testing.T, proto string, from, to int32, cidr4, cidr6, desc string) {
		p := types.IpPermission{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to)}
		if cidr4 != "" {
			p.IpRanges = []types.IpRange{{CidrIp: aws.String(cidr4), Description: aws.String(desc)}}
		}
		if cidr6 != "" {
			p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(cidr6)}}
		}
		rules, err := rulesFromPermissions([]types.IpPermission{p}, false, func(id, name string) (string, error) { return id, nil })
		if err != nil {
			var e *awserr.Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("not an AWS error: %v", err)
			}
			return
		}
		for _, r := range rules {
			c := r.CIDRIPv4 + r.CIDRIPv6
			pfx, err := netip.ParsePrefix(c)
			if err != nil || pfx.Masked().String() != c {
				t.Fatalf("stored CIDR %q is not canonical", c)
			}
			if hasPorts(r.Protocol) && r.Protocol != "icmp" && r.Protocol != "icmpv6" && (r.FromPort > r.ToPort || r.FromPort < 0 || r.ToPort > 65535) {
				t.Fatalf("stored port range %d-%d", r.FromPort, r.ToPort)
			}
			if _, err := normProtocol(r.Protocol); err != nil {
				t.Fatalf("stored protocol %q", r.Protocol)
			}
		}
	})
}
