package elbv2

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// The parsers of client input: ARNs, markers, matchers, rule conditions
// and transforms, attribute values. None may panic; accepted values must
// satisfy what the parser promises.

func FuzzARN(f *testing.F) {
	for _, s := range []string{
		"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef",
		"arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/web/0123456789abcdef/0123456789abcdef/0123456789abcdef",
		"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/0123456789abcdef",
		"arn:aws:s3:::bucket", "", "arn:", "arn:aws:elasticloadbalancing:::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		k := kindOf(arn)
		if k != kindUnknown && checkARN(arn, k) != nil {
			t.Fatalf("kindOf(%q) = %d but checkARN refuses it", arn, k)
		}
		if k == kindListener {
			if lb := lbARNOfListener(arn); kindOf(lb) != kindLoadBalancer {
				t.Fatalf("listener %q derives load balancer %q", arn, lb)
			}
		}
		_ = checkName("Load balancer", arn, true)
	})
}

func FuzzMarker(f *testing.F) {
	tokens := pagetoken.New([]byte("fuzz key")).Scope("DescribeRules")
	f.Add("")
	f.Add(tokens.Seal("20260101T000000.000000000 arn"))
	f.Add(tokens.Seal("b"))
	f.Add("%%%")
	f.Add("YQ") // "a", valid base64 but not a marker of ours
	f.Fuzz(func(t *testing.T, m string) {
		items := []string{"a", "b", "c", "d"}
		page, next, err := paginate(tokens, items, func(s string) string { return s }, &m, ptr(int32(2)))
		if err == nil && (len(page) > 2 || (next != nil && len(page) == 0)) {
			t.Fatalf("marker %q: page %v next %v", m, page, next)
		}
		if _, issued := tokens.Open(m); issued != (err == nil) {
			t.Fatalf("marker %q: issued %v, but paginate answered %v", m, issued, err)
		}
	})
}

func FuzzMatcher(f *testing.F) {
	for _, s := range []string{"200", "200,202", "200-299", "0-99", "12", "", "-", "200-", "1-2-3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = checkCodes("HTTP", s, 200, 499)
	})
}

// FuzzConditions feeds rule conditions and transforms decoded from JSON
// (the SDK types' shape) to the validators.
func FuzzConditions(f *testing.F) {
	for _, s := range []string{
		`[{"Field":"host-header","Values":["a.example.com"]}]`,
		`[{"Field":"path-pattern","PathPatternConfig":{"Values":["/a/*"]}},{"Field":"http-header","HttpHeaderConfig":{"HttpHeaderName":"X","Values":["*"]}}]`,
		`[{"Field":"query-string","QueryStringConfig":{"Values":[{"Key":"a","Value":"b\\*"}]}}]`,
		`[{"Field":"source-ip","SourceIpConfig":{"Values":["10.0.0.0/8","::/0"]}}]`,
		`[{"Field":"path-pattern","RegexValues":["^/(a|b)+$"]}]`,
		`[{"Field":"http-request-method","HttpRequestMethodConfig":{"Values":["GET"]}}]`,
	} {
		f.Add(s, `[{"Type":"url-rewrite","UrlRewriteConfig":{"Rewrites":[{"Regex":"^/a(.*)","Replace":"$1"}]}}]`)
	}
	f.Fuzz(func(t *testing.T, conds, transforms string) {
		var cs []types.RuleCondition
		if json.Unmarshal([]byte(conds), &cs) == nil {
			out, err := checkConditions(DefaultLimits(), cs)
			if err == nil && len(out) != len(cs) {
				t.Fatalf("%d conditions in, %d out", len(cs), len(out))
			}
		}
		var ts []types.RuleTransform
		if json.Unmarshal([]byte(transforms), &ts) == nil {
			_ = checkTransforms(ts)
		}
	})
}

func FuzzAttributes(f *testing.F) {
	f.Add("idle_timeout.timeout_seconds", "60")
	f.Add("routing.http.xff_header_processing.mode", "append")
	f.Add("access_logs.s3.bucket", "my-logs")
	f.Add("stickiness.app_cookie.cookie_name", "AWSALB")
	f.Fuzz(func(t *testing.T, k, v string) {
		for _, specs := range [][]attrSpec{lbAttrSpecs(typeApplication, schemeInternetFacing), lbAttrSpecs(typeNetwork, schemeInternal),
			listenerAttrSpecs(typeApplication, "HTTPS"), tgAttrSpecs(&stateTG)} {
			m, err := applyAttrs("X", specs, nil, []string{k}, []string{v})
			if err == nil && m[k] != v {
				t.Fatalf("%s=%q accepted but stored %q", k, v, m[k])
			}
		}
	})
}

var stateTG = state.TargetGroup{Protocol: "HTTP", TargetType: "ip"}
