package alb_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// A Host header that carries a port, over real sockets: ALB compares
// host-header conditions with the whole header, port included; a
// redirect's #{host} is the host alone. (The host-header-rewrite
// transform, which also sees the port, is in TestTransforms.)

func hostRegex(res ...string) elbv2types.RuleCondition {
	return elbv2types.RuleCondition{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{RegexValues: res}}
}

// TestHostConditionWithPort: a host-header value (a wildcard too) does not
// match a Host with a port; a regular expression naming the port does.
func TestHostConditionWithPort(t *testing.T) { bothLoops(t, testHostConditionWithPort) }

func testHostConditionWithPort(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", fixed("404", "default"))
	e.rule(l, 1, []elbv2types.RuleCondition{cond("host-header", "api.example.com")}, fixed("200", "value"))
	e.rule(l, 2, []elbv2types.RuleCondition{cond("host-header", "*.wild.example.com")}, fixed("200", "wildcard"))
	e.rule(l, 3, []elbv2types.RuleCondition{hostRegex(`^regex\.example\.com:8443$`)}, fixed("200", "regex-port"))
	e.rule(l, 4, []elbv2types.RuleCondition{hostRegex(`^\[2001:db8::1\]:8080$`)}, fixed("200", "ipv6"))
	c := client(e.clientAddr(0))
	for _, tc := range []struct{ host, want string }{
		{"api.example.com", "value"},
		{"api.example.com:8080", "default"},
		{"api.example.com:80", "default"},
		{"x.wild.example.com", "wildcard"},
		{"x.wild.example.com:8080", "default"},
		{"regex.example.com:8443", "regex-port"},
		{"regex.example.com", "default"},
		{"[2001:db8::1]:8080", "ipv6"},
		{"[2001:db8::1]", "default"},
	} {
		if _, _, body := get(t, c, "GET", base+"/", map[string]string{"Host": tc.host}); body != tc.want {
			t.Errorf("Host %q: answered by %q, want %q", tc.host, body, tc.want)
		}
	}
}

// TestRedirectHostWithPort: #{host} leaves the Host's port out; the
// redirect's Port follows it.
func TestRedirectHostWithPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTP", fixed("404", "default"))
	port := base[strings.LastIndex(base, ":")+1:]
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/secure/*")}, redirect(elbv2types.RedirectActionStatusCodeEnumHttp301, "HTTPS", "", "443", "", ""))
	e.rule(l, 2, []elbv2types.RuleCondition{cond("path-pattern", "/moved/*")}, redirect(elbv2types.RedirectActionStatusCodeEnumHttp302, "", "new.#{host}", "", "/v2/#{path}", ""))
	c := client(e.clientAddr(0))
	for _, tc := range []struct{ host, path, want string }{
		{"example.com:8080", "/secure/a?x=1", "https://example.com/secure/a?x=1"},
		{"[2001:db8::1]:8080", "/secure/a", "https://[2001:db8::1]/secure/a"},
		{"example.com:9999", "/moved/b", "http://new.example.com:" + port + "/v2/moved/b"},
	} {
		code, h, _ := get(t, c, "GET", base+tc.path, map[string]string{"Host": tc.host})
		if code/100 != 3 || h.Get("Location") != tc.want {
			t.Errorf("Host %q %s: %d Location %q, want %q", tc.host, tc.path, code, h.Get("Location"), tc.want)
		}
	}
}

// TestHTTP2AuthorityWithPort: an HTTP/2 request's :authority is its Host
// header, compared whole as well.
func TestHTTP2AuthorityWithPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.newLB("internet-facing", nil)
	cert := e.addCert("api.example.com")
	l, base := lb.listener("HTTPS", fixed("404", "default"), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", cert))
	e.rule(l, 1, []elbv2types.RuleCondition{cond("host-header", "api.example.com")}, fixed("200", "value"))
	e.rule(l, 2, []elbv2types.RuleCondition{hostRegex(`^regex\.example\.com:8443$`)}, fixed("200", "regex-port"))
	h2only := new(http.Protocols)
	h2only.SetHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: h2only, TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "api.example.com"}}} // self-signed test certificate
	for _, tc := range []struct{ authority, want string }{
		{"api.example.com", "value"},
		{"api.example.com:8443", "default"},
		{"regex.example.com:8443", "regex-port"},
	} {
		req, err := http.NewRequest("GET", base+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.authority
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf(":authority %q: %v", tc.authority, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || string(body) != tc.want {
			t.Errorf(":authority %q: %s answered by %q, want HTTP/2 and %q", tc.authority, resp.Proto, body, tc.want)
		}
	}
}
