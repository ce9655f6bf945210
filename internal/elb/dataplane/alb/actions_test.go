package alb_test

import (
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func redirect(code elbv2types.RedirectActionStatusCodeEnum, proto, host, port, path, query string) []elbv2types.Action {
	rc := &elbv2types.RedirectActionConfig{StatusCode: code}
	if proto != "" {
		rc.Protocol = aws.String(proto)
	}
	if host != "" {
		rc.Host = aws.String(host)
	}
	if port != "" {
		rc.Port = aws.String(port)
	}
	if path != "" {
		rc.Path = aws.String(path)
	}
	if query != "" {
		rc.Query = aws.String(query)
	}
	return []elbv2types.Action{{Type: elbv2types.ActionTypeEnumRedirect, RedirectConfig: rc}}
}

func TestRedirectAndFixedResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", fixed("503", "maintenance"))
	port := strings.TrimPrefix(base[strings.LastIndex(base, ":"):], ":")
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/secure/*")}, redirect(elbv2types.RedirectActionStatusCodeEnumHttp301, "HTTPS", "", "443", "", ""))
	e.rule(l, 2, []elbv2types.RuleCondition{cond("path-pattern", "/moved/*")}, redirect(elbv2types.RedirectActionStatusCodeEnumHttp302, "#{protocol}", "new.#{host}", "#{port}", "/v2/#{path}", "#{query}&src=#{port}"))
	e.rule(l, 3, []elbv2types.RuleCondition{cond("path-pattern", "/json")}, []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{
		StatusCode: aws.String("418"), ContentType: aws.String("application/json"), MessageBody: aws.String(`{"teapot":true}`)}}})
	e.rule(l, 4, []elbv2types.RuleCondition{cond("path-pattern", "/login")}, []elbv2types.Action{
		{Type: elbv2types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: &elbv2types.AuthenticateOidcActionConfig{Issuer: aws.String("https://idp.example.com")}},
		{Type: elbv2types.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("200")}},
	})
	c := client(e.clientAddr(0))
	code, h, _ := get(t, c, "GET", base+"/secure/page?a=1", map[string]string{"Host": "example.com"})
	if code != 301 || h.Get("Location") != "https://example.com/secure/page?a=1" {
		t.Errorf("redirect to HTTPS: %d %q", code, h.Get("Location"))
	}
	code, h, _ = get(t, c, "GET", base+"/moved/x/y?k=v", map[string]string{"Host": "example.com"})
	want := "http://new.example.com:" + port + "/v2/moved/x/y?k=v&src=" + port
	if code != 302 || h.Get("Location") != want {
		t.Errorf("redirect with placeholders: %d %q, want %q", code, h.Get("Location"), want)
	}
	code, h, body := get(t, c, "GET", base+"/json", nil)
	if code != 418 || h.Get("Content-Type") != "application/json" || body != `{"teapot":true}` || h.Get("Server") != "awselb/2.0" {
		t.Errorf("fixed response: %d %q %q %q", code, h.Get("Content-Type"), body, h.Get("Server"))
	}
	code, _, body = get(t, c, "GET", base+"/login", nil)
	if code != 501 || !strings.Contains(body, "authenticate-oidc") || !strings.Contains(body, "not supported") {
		t.Errorf("authenticate-oidc: %d %q", code, body)
	}
	code, _, body = get(t, c, "GET", base+"/other", nil)
	if code != 503 || body != "maintenance" {
		t.Errorf("default fixed response: %d %q", code, body)
	}
}

func TestWeightedForwardAndGroupStickiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startBackend("A", nil)
	b := e.startBackend("B", nil)
	tgA := e.targetGroup("HTTP", "HTTP1", nil)
	tgB := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tgA, a.vpc)
	e.register(tgB, b.vpc)
	lb := e.newLB("internet-facing", nil)
	weighted := func(wa, wb int32, sticky bool) []elbv2types.Action {
		fc := &elbv2types.ForwardActionConfig{TargetGroups: []elbv2types.TargetGroupTuple{
			{TargetGroupArn: aws.String(tgA), Weight: aws.Int32(wa)}, {TargetGroupArn: aws.String(tgB), Weight: aws.Int32(wb)}}}
		if sticky {
			fc.TargetGroupStickinessConfig = &elbv2types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(600)}
		}
		return []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, ForwardConfig: fc}}
	}
	l, base := lb.listener("HTTP", weighted(80, 20, false))
	c := client(e.clientAddr(0))
	const n = 1000
	countA := 0
	for i := 0; i < n; i++ {
		if getEcho(t, c, base+"/", nil).ID == "A" {
			countA++
		}
	}
	// Binomial(1000, 0.8): standard deviation 12.6; allow 5 of them.
	if share := float64(countA) / n; math.Abs(share-0.8) > 0.063 {
		t.Errorf("weights 80/20: target group A got %.3f of %d requests", share, n)
	}
	// Weight 0 gets nothing.
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/zero")}, weighted(0, 5, false))
	for i := 0; i < 50; i++ {
		if id := getEcho(t, c, base+"/zero", nil).ID; id != "B" {
			t.Fatalf("weight 0 target group got a request")
		}
	}
	// Target group stickiness: the AWSALBTG cookie keeps a client on its
	// target group.
	e.rule(l, 2, []elbv2types.RuleCondition{cond("path-pattern", "/sticky")}, weighted(50, 50, true))
	req, _ := http.NewRequest("GET", base+"/sticky", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "AWSALBTG" {
			cookie = ck
		}
	}
	if cookie == nil {
		t.Fatalf("no AWSALBTG cookie: %v", resp.Header["Set-Cookie"])
	}
	if !strings.Contains(strings.Join(resp.Header["Set-Cookie"], "\n"), "AWSALBTGCORS=") {
		t.Errorf("no AWSALBTGCORS cookie: %v", resp.Header["Set-Cookie"])
	}
	first := ""
	for i := 0; i < 40; i++ {
		id := getEcho(t, c, base+"/sticky", map[string]string{"Cookie": "AWSALBTG=" + cookie.Value}).ID
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("sticky request %d went to %s after %s", i, id, first)
		}
	}
}

// rw is a transform of one rewrite.
func rw(kind elbv2types.TransformTypeEnum, re, repl string) elbv2types.RuleTransform {
	cfg := []elbv2types.RewriteConfig{{Regex: aws.String(re), Replace: aws.String(repl)}}
	if kind == elbv2types.TransformTypeEnumHostHeaderRewrite {
		return elbv2types.RuleTransform{Type: kind, HostHeaderRewriteConfig: &elbv2types.HostHeaderRewriteConfig{Rewrites: cfg}}
	}
	return elbv2types.RuleTransform{Type: kind, UrlRewriteConfig: &elbv2types.UrlRewriteConfig{Rewrites: cfg}}
}

func TestTransforms(t *testing.T) { bothLoops(t, testTransforms) }

func testTransforms(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	a := e.startBackend("A", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", fixed("404", "none"))
	// Routing is decided before the rewrite: /api/* matches, the target
	// sees the rewritten path and host.
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/api/*")}, forward(tg),
		rw(elbv2types.TransformTypeEnumUrlRewrite, "^/api/(.*)$", "/$1"),
		rw(elbv2types.TransformTypeEnumHostHeaderRewrite, "^(.+)\\.example\\.com$", "$1.internal"))
	e.rule(l, 2, []elbv2types.RuleCondition{cond("path-pattern", "/broken/*")}, forward(tg),
		rw(elbv2types.TransformTypeEnumUrlRewrite, "^/broken/(.*)$", "nope-$1"))
	e.rule(l, 3, []elbv2types.RuleCondition{cond("path-pattern", "/port/*")}, forward(tg),
		rw(elbv2types.TransformTypeEnumHostHeaderRewrite, `^(.+)\.example\.com:([0-9]+)$`, "$1.internal:$2"))
	c := client(e.clientAddr(0))
	ec := getEcho(t, c, base+"/api/users?id=3", map[string]string{"Host": "shop.example.com"})
	if ec.URI != "/users?id=3" || ec.Host != "shop.internal" {
		t.Errorf("rewritten request: uri %q host %q", ec.URI, ec.Host)
	}
	// No match: the request goes unchanged.
	ec = getEcho(t, c, base+"/api/x", map[string]string{"Host": "other.org"})
	if ec.URI != "/x" || !strings.HasPrefix(ec.Host, "other.org") {
		t.Errorf("host rewrite without match changed the host: %q (uri %q)", ec.Host, ec.URI)
	}
	// The host rewrite's expression runs on the whole Host header, port
	// included: one written for the name alone leaves a Host with a port
	// as it is; one that names the port rewrites it.
	for _, tc := range []struct{ path, host, want string }{
		{"/api/x", "shop.example.com:1234", "shop.example.com:1234"},
		{"/port/x", "shop.example.com:1234", "shop.internal:1234"},
	} {
		if ec := getEcho(t, c, base+tc.path, map[string]string{"Host": tc.host}); ec.Host != tc.want {
			t.Errorf("%s with Host %q: target saw Host %q, want %q", tc.path, tc.host, ec.Host, tc.want)
		}
	}
	// A rewrite that matches but yields an unusable URL: HTTP 500.
	if code, _, _ := get(t, c, "GET", base+"/broken/a", nil); code != 500 {
		t.Errorf("failed transform: status %d, want 500", code)
	}
}
