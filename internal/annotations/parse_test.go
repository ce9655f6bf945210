package annotations

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseStringMap(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"a=1,b=2", map[string]string{"a": "1", "b": "2"}, false},
		{" a = 1 , b= 2 ", map[string]string{"a": "1", "b": "2"}, false},
		{`desc=x\,y,b=2`, map[string]string{"desc": "x,y", "b": "2"}, false},
		{"k=v,", map[string]string{"k": "v,"}, false},   // trailing comma stays in the value
		{"k=a=b", map[string]string{"k": "a=b"}, false}, // only the first '=' splits
		{"k=", map[string]string{"k": ""}, false},       // empty value is allowed
		{"", map[string]string{}, false},
		{"a=1,b", nil, true},     // piece without '='
		{"a=1,2,b=3", nil, true}, // unescaped comma inside a value
		{"=1", nil, true},        // empty key
		{"novalue", nil, true},
	} {
		got, err := ParseStringMap(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseStringMap(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseStringMap(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseStringList(t *testing.T) {
	if got := ParseStringList(" a, ,b ,, c,"); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %v", got)
	}
	if got := ParseStringList(""); got != nil {
		t.Fatalf("empty list = %v", got)
	}
}

func TestSetErrorsNameKeyValueAndWant(t *testing.T) {
	s := Set{IngressHealthCheckIntervalSeconds: "ten", IngressShieldAdvancedProtection: "yes", IngressTags: "a=1,b"}
	_, _, err := s.Int32(IngressHealthCheckIntervalSeconds)
	var ae *Error
	if !errors.As(err, &ae) || ae.Key != IngressHealthCheckIntervalSeconds || ae.Value != "ten" {
		t.Fatalf("Int32 error %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "healthcheck-interval-seconds") || !strings.Contains(msg, `"ten"`) || !strings.Contains(msg, "decimal integer") {
		t.Fatalf("message %q", msg)
	}
	if _, ok, err := s.Bool(IngressShieldAdvancedProtection); !ok || err == nil || !strings.Contains(err.Error(), "true or false") {
		t.Fatalf("Bool: ok=%v err=%v", ok, err)
	}
	if _, ok, err := s.StringMap(IngressTags); !ok || err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Fatalf("StringMap: ok=%v err=%v", ok, err)
	}
	if _, ok, err := s.Int32(IngressGroupOrder); ok || err != nil {
		t.Fatalf("absent key: ok=%v err=%v", ok, err)
	}
	if v, ok, err := (Set{IngressGroupOrder: "-5"}).Int32(IngressGroupOrder); !ok || err != nil || v != -5 {
		t.Fatalf("Int32(-5) = %v %v %v", v, ok, err)
	}
	if _, _, err := (Set{IngressGroupOrder: "99999999999"}).Int32(IngressGroupOrder); err == nil {
		t.Fatal("Int32 accepted an out-of-range value")
	}
	if v, _, err := (Set{IngressUseRegexPathMatch: "1"}).Bool(IngressUseRegexPathMatch); err != nil || !v {
		t.Fatalf("Bool(1) = %v, %v", v, err)
	}
}

func TestMergeFirstWins(t *testing.T) {
	m := Merge(Set{"a": "svc"}, Set{"a": "ing", "b": "ing"})
	if m["a"] != "svc" || m["b"] != "ing" {
		t.Fatalf("Merge = %v", m)
	}
}

func TestParseListenPorts(t *testing.T) {
	got, err := ParseListenPorts(`[{"HTTP": 80}, {"HTTPS": 443}, {"HTTP": 8080}]`)
	if err != nil || !reflect.DeepEqual(got, ListenPorts{80: "HTTP", 443: "HTTPS", 8080: "HTTP"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if !reflect.DeepEqual(got.Ports(), []int32{80, 443, 8080}) {
		t.Fatalf("Ports() = %v", got.Ports())
	}
	if got, _ := ParseListenPorts(`[{"HTTP": 80}, {"HTTPS": 80}]`); got[80] != "HTTPS" {
		t.Fatalf("last entry for a port should win: %v", got)
	}
	for _, bad := range []string{``, `[]`, `{"HTTP":80}`, `[{"HTTP":"80"}]`, `[{"HTTP":0}]`, `[{"HTTP":70000}]`, `[{"TCP":80}]`, `[{"http":80}]`} {
		if _, err := ParseListenPorts(bad); err == nil {
			t.Errorf("ParseListenPorts(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "listen-ports") {
			t.Errorf("error %q does not name the annotation", err)
		}
	}
}

func TestParseAction(t *testing.T) {
	key := IngressActions("x")
	a, err := ParseAction(key, `{"type":"forward","targetGroupARN":"arn:tg"}`)
	if err != nil || a.ForwardConfig == nil || *a.ForwardConfig.TargetGroups[0].TargetGroupARN != "arn:tg" || a.TargetGroupARN != nil {
		t.Fatalf("simplified forward not normalised: %+v %v", a, err)
	}
	a, err = ParseAction(key, `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"s","servicePort":"80","weight":1},{"serviceName":"t","servicePort":"http","weight":2}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p := a.ForwardConfig.TargetGroups[0].ServicePort; p.IntValue() != 80 || p.Type != 0 {
		t.Fatalf("servicePort \"80\" not normalised to a number: %v", p)
	}
	if p := a.ForwardConfig.TargetGroups[1].ServicePort; p.StrVal != "http" {
		t.Fatalf("named servicePort changed: %v", p)
	}
	for _, bad := range []string{
		`{"type":"fixed-response"}`,
		`{"type":"fixed-response","fixedResponseConfig":{}}`,
		`{"type":"redirect","redirectConfig":{"path":"/x"}}`,
		`{"type":"forward"}`,
		`{"type":"forward","targetGroupARN":"a","forwardConfig":{"targetGroups":[]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"s"}]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"s","servicePort":80},{"serviceName":"t","servicePort":80,"weight":1}]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"s","servicePort":80,"targetGroupARN":"a"}]}}`,
		`{"type":"drop"}`,
		`not json`,
	} {
		if _, err := ParseAction(key, bad); err == nil {
			t.Errorf("ParseAction(%s) accepted", bad)
		} else if !strings.Contains(err.Error(), "actions.x") {
			t.Errorf("error %q does not name the annotation", err)
		}
	}
}

func TestParseConditionsAndTransforms(t *testing.T) {
	cs, err := ParseConditions("k", `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Env","values":["dev"]}},{"Field":"query-string","QueryStringConfig":{"Values":[{"key":"a","value":"b"}]}}]`)
	if err != nil || len(cs) != 2 || cs[1].QueryStringConfig.Values[0].Value != "b" {
		t.Fatalf("conditions %+v %v (keys should match case-insensitively)", cs, err)
	}
	for _, bad := range []string{
		`[{"field":"host-header"}]`,
		`[{"field":"host-header","hostHeaderConfig":{"values":["a"],"regexValues":["b"]}}]`,
		`[{"field":"path-pattern","pathPatternConfig":{}}]`,
		`[{"field":"http-request-method","httpRequestMethodConfig":{"values":[]}}]`,
		`[{"field":"query-string","queryStringConfig":{"values":[{"key":"a"}]}}]`,
		`[{"field":"source-ip"}]`,
		`{"field":"source-ip"}`,
	} {
		if _, err := ParseConditions("k", bad); err == nil {
			t.Errorf("ParseConditions(%s) accepted", bad)
		}
	}
	ts, err := ParseTransforms("k", `[{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"regex":"^/api/(.*)","replace":"/$1"}]}}]`)
	if err != nil || ts[0].URLRewriteConfig.Rewrites[0].Replace != "/$1" {
		t.Fatalf("transforms %+v %v", ts, err)
	}
	for _, bad := range []string{`[{"type":"url-rewrite"}]`, `[{"type":"host-header-rewrite","hostHeaderRewriteConfig":{"rewrites":[]}}]`, `[{"type":"x"}]`} {
		if _, err := ParseTransforms("k", bad); err == nil {
			t.Errorf("ParseTransforms(%s) accepted", bad)
		}
	}
}

func TestParseMutualAuthentication(t *testing.T) {
	m, err := ParseMutualAuthentication(`[{"port":443,"mode":"verify","trustStore":"ts"},{"port":8443,"mode":"passthrough"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if v := m[443]; v.IgnoreClientCertificateExpiry == nil || *v.IgnoreClientCertificateExpiry || *v.TrustStore != "ts" {
		t.Fatalf("verify entry %+v", v)
	}
	if v := m[8443]; v.Mode != "passthrough" || *v.TrustStore != "" {
		t.Fatalf("passthrough entry %+v", v)
	}
	for _, bad := range []string{
		`[]`, `[{"port":443}]`, `[{"port":443,"mode":"on"}]`, `[{"port":443,"mode":"verify"}]`,
		`[{"port":443,"mode":"off","trustStore":"x"}]`, `[{"port":443,"mode":"off","ignoreClientCertificateExpiry":true}]`,
		`[{"port":443,"mode":"passthrough","advertiseTrustStoreCaNames":"on"}]`,
		`[{"port":443,"mode":"verify","trustStore":"x","advertiseTrustStoreCaNames":"yes"}]`, `[{"port":0,"mode":"off"}]`,
	} {
		if _, err := ParseMutualAuthentication(bad); err == nil {
			t.Errorf("ParseMutualAuthentication(%s) accepted", bad)
		}
	}
}

func TestParseJwtAndAuth(t *testing.T) {
	j, err := ParseJwtValidation(`{"jwksEndpoint":"https://j","issuer":"i","additionalClaims":[{"name":"scope","format":"space-separated-values","values":["read"]}]}`)
	if err != nil || j.AdditionalClaims[0].Format != "space-separated-values" {
		t.Fatalf("%+v %v", j, err)
	}
	for _, bad := range []string{`{}`, `{"jwksEndpoint":"j"}`, `{"jwksEndpoint":"j","issuer":"i","additionalClaims":[{"name":"a","values":["x"]}]}`, `{"jwksEndpoint":"j","issuer":"i","additionalClaims":[{"name":"a","format":"single-string"}]}`} {
		if _, err := ParseJwtValidation(bad); err == nil {
			t.Errorf("ParseJwtValidation(%s) accepted", bad)
		}
	}
	if c, err := ParseCognitoIDP(`{"userPoolARN":"arn:p","userPoolClientID":"c","userPoolDomain":"d"}`); err != nil || c.UserPoolDomain != "d" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseOIDCIDP(`{"issuer": 5}`); err == nil || !strings.Contains(err.Error(), "auth-idp-oidc") {
		t.Fatalf("ParseOIDCIDP error %v", err)
	}
}

func TestParseServiceAction(t *testing.T) {
	key := ServiceActions("TCP", 80)
	a, err := ParseServiceAction(key, `{"type":"forward","forwardConfig":{"baseServiceWeight":10,"targetGroups":[{"serviceName":"canary","servicePort":80,"weight":90}]}}`)
	if err != nil || *a.ForwardConfig.BaseServiceWeight != 10 || *a.ForwardConfig.TargetGroups[0].ServiceName != "canary" {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{
		`{"type":"redirect"}`, `{"type":"forward"}`,
		`{"type":"forward","forwardConfig":{"baseServiceWeight":1000,"targetGroups":[]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a","targetGroupARN":"b","servicePort":1}]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a"}]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a","servicePort":1,"weight":1},{"targetGroupARN":"b"}]}}`,
	} {
		if _, err := ParseServiceAction(key, bad); err == nil {
			t.Errorf("ParseServiceAction(%s) accepted", bad)
		}
	}
}

func TestKeyHelpers(t *testing.T) {
	if IngressListenerAttributes("HTTPS", 443) != "alb.ingress.kubernetes.io/listener-attributes.HTTPS-443" ||
		IngressTargetControlPort("svc", "80") != "alb.ingress.kubernetes.io/target-control-port.svc.80" ||
		ServiceTargetGroupAttributesForPort(80) != "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.80" ||
		ServiceActions("TCP", 80) != "service.beta.kubernetes.io/actions.TCP-80" ||
		ServiceListenerAttributes("TCP", 80) != "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80" {
		t.Fatal("key helpers disagree with the reference's key formats")
	}
}
