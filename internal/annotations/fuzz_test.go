package annotations

import (
	"strings"
	"testing"
)

func FuzzParseStringMap(f *testing.F) {
	for _, s := range []string{"a=1,b=2", `k=x\,y`, "k=v,", "a=1,b", "=", "\\", ",,=", "a=1, ,b=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseStringMap(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
				t.Fatalf("ParseStringMap(%q) gave key %q value %q", s, k, v)
			}
		}
	})
}

func FuzzParseStringList(f *testing.F) {
	for _, s := range []string{"a,b", " a , ,b", "", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, item := range ParseStringList(s) {
			if item == "" || item != strings.TrimSpace(item) || strings.Contains(item, ",") {
				t.Fatalf("ParseStringList(%q) gave item %q", s, item)
			}
		}
	})
}

func FuzzParseListenPorts(f *testing.F) {
	for _, s := range []string{`[{"HTTP":80},{"HTTPS":443}]`, `[]`, `[{"HTTP":0}]`, `[{"X":1}]`, `null`, `[{"HTTP":80,"HTTPS":443}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParseListenPorts(s)
		if err != nil {
			if !strings.Contains(err.Error(), IngressListenPorts) {
				t.Fatalf("error %q does not name the annotation", err)
			}
			return
		}
		if len(ports) == 0 {
			t.Fatalf("ParseListenPorts(%q) accepted no port", s)
		}
		for p, proto := range ports {
			if p < 1 || p > 65535 || (proto != "HTTP" && proto != "HTTPS") {
				t.Fatalf("ParseListenPorts(%q) gave %d:%s", s, p, proto)
			}
		}
	})
}

func FuzzParseAction(f *testing.F) {
	for _, s := range []string{
		`{"type":"forward","targetGroupARN":"a"}`,
		`{"type":"fixed-response","fixedResponseConfig":{"statusCode":"503"}}`,
		`{"type":"redirect","redirectConfig":{"statusCode":"HTTP_301","protocol":"HTTPS"}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"s","servicePort":"http","weight":1}]}}`,
		`{}`, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAction("k", s)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted action fails validation: %v", err)
		}
		if a.TargetGroupARN != nil || a.TargetGroupName != nil {
			t.Fatalf("simplified forward not normalised: %s", s)
		}
	})
}

func FuzzParseConditions(f *testing.F) {
	for _, s := range []string{
		`[{"field":"host-header","hostHeaderConfig":{"values":["a.b"]}}]`,
		`[{"field":"query-string","queryStringConfig":{"values":[{"key":"k","value":"v"}]}}]`,
		`[{"field":"source-ip","sourceIpConfig":{"values":["10.0.0.0/8"]}}]`,
		`[]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConditions("k", s)
		if err != nil {
			return
		}
		for i := range cs {
			if err := cs[i].Validate(); err != nil {
				t.Fatalf("accepted condition fails validation: %v", err)
			}
		}
	})
}

func FuzzParseTransforms(f *testing.F) {
	for _, s := range []string{
		`[{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"regex":"a","replace":"b"}]}}]`,
		`[{"type":"host-header-rewrite","hostHeaderRewriteConfig":{"rewrites":[{"regex":"a","replace":"b"}]}}]`,
		`[{"type":"x"}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTransforms("k", s)
		if err != nil {
			return
		}
		for i := range ts {
			if err := ts[i].Validate(); err != nil {
				t.Fatalf("accepted transform fails validation: %v", err)
			}
		}
	})
}

func FuzzParseMutualAuthentication(f *testing.F) {
	for _, s := range []string{`[{"port":443,"mode":"verify","trustStore":"ts"}]`, `[{"port":443,"mode":"off"}]`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMutualAuthentication(s)
		if err != nil {
			return
		}
		for port, e := range m {
			if port != e.Port || e.TrustStore == nil || (e.Mode == "verify") != (*e.TrustStore != "") {
				t.Fatalf("inconsistent entry %+v for %q", e, s)
			}
		}
	})
}

func FuzzParseJwtValidation(f *testing.F) {
	f.Add(`{"jwksEndpoint":"j","issuer":"i"}`)
	f.Add(`{"jwksEndpoint":"j","issuer":"i","additionalClaims":[{"name":"n","format":"string-array","values":["v"]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJwtValidation(s)
		if err == nil && (j.Issuer == "" || j.JwksEndpoint == "") {
			t.Fatalf("accepted %q without issuer or JWKS endpoint", s)
		}
	})
}

func FuzzParseServiceAction(f *testing.F) {
	f.Add(`{"type":"forward","forwardConfig":{"baseServiceWeight":10,"targetGroups":[{"serviceName":"c","servicePort":80,"weight":90}]}}`)
	f.Add(`{"type":"forward"}`)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseServiceAction("k", s)
		if err == nil && a.ForwardConfig == nil {
			t.Fatalf("accepted %q without forwardConfig", s)
		}
	})
}

func FuzzScalars(f *testing.F) {
	for _, s := range []string{"true", "1", "x", "-2147483648", "2147483648", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set := Set{"k": s}
		if _, ok, err := set.Bool("k"); !ok || (err != nil && !strings.Contains(err.Error(), "annotation k")) {
			t.Fatalf("Bool(%q): ok=%v err=%v", s, ok, err)
		}
		if _, ok, err := set.Int32("k"); !ok || (err != nil && !strings.Contains(err.Error(), "annotation k")) {
			t.Fatalf("Int32(%q): ok=%v err=%v", s, ok, err)
		}
		if _, ok, err := set.Int64("k"); !ok || (err != nil && !strings.Contains(err.Error(), "annotation k")) {
			t.Fatalf("Int64(%q): ok=%v err=%v", s, ok, err)
		}
	})
}
