package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/stack"
)

func TestParseProtocolPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ProtocolPort
		err  string
	}{
		{"HTTPS:443", ProtocolPort{"HTTPS", 443}, ""},
		{":8443", ProtocolPort{"", 8443}, ""},
		{"HTTP:", ProtocolPort{"HTTP", 0}, ""},
		{":", ProtocolPort{}, ""},
		{"TCP_UDP:53", ProtocolPort{"TCP_UDP", 53}, ""},
		{"HTTPS", ProtocolPort{}, "no ':'"},
		{"https:443", ProtocolPort{}, "unknown protocol"},
		{"HTTPS:0", ProtocolPort{}, "not 1-65535"},
		{"HTTPS:65536", ProtocolPort{}, "not 1-65535"},
		{"HTTPS:080", ProtocolPort{}, "not 1-65535"},
		{"HTTPS:-1", ProtocolPort{}, "not 1-65535"},
	} {
		got, err := ParseProtocolPort(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "want PROTOCOL:PORT") {
				t.Errorf("%q: error %v, want one saying %q and what is accepted", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseProtocolPort(f *testing.F) {
	for _, s := range []string{"HTTPS:443", ":80", "TLS:", "x", ":", "UDP:65535", "HTTP:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pp, err := ParseProtocolPort(s)
		if err != nil {
			return
		}
		if pp.Port < 0 || (pp.Protocol != "" && !protocolPortProtocols[pp.Protocol]) {
			t.Fatalf("%q parsed to %+v", s, pp)
		}
		again, err := ParseProtocolPort(s)
		if err != nil || again != pp {
			t.Fatalf("%q parses differently the second time", s)
		}
	})
}

func TestIntersectHostnames(t *testing.T) {
	for _, tc := range []struct {
		listener string
		route    []string
		want     string
		ok       bool
	}{
		{"", nil, "", true},
		{"", []string{"a.example.com", "*.x.io"}, "a.example.com,*.x.io", true},
		{"very.specific.com", nil, "very.specific.com", true},
		{"very.specific.com", []string{"non.matching.com", "*.specific.com", "very.specific.com"}, "very.specific.com,very.specific.com", true},
		{"*.wildcard.io", []string{"wildcard.io", "foo.wildcard.io", "foo.bar.wildcard.io"}, "foo.wildcard.io,foo.bar.wildcard.io", true},
		{"*.wildcard.io", []string{"*.foo.wildcard.io", "*.io"}, "*.foo.wildcard.io,*.wildcard.io", true},
		{"*.example.com", []string{"example.com", "other.net"}, "", false},
		{"Foo.Example.com", []string{"foo.example.COM"}, "foo.example.com", true},
	} {
		var rh []gwv1.Hostname
		for _, h := range tc.route {
			rh = append(rh, gwv1.Hostname(h))
		}
		got, ok := intersectHostnames(strings.ToLower(tc.listener), rh)
		if ok != tc.ok || strings.Join(got, ",") != tc.want {
			t.Errorf("listener %q, route %v: %v %v, want %q %v", tc.listener, tc.route, got, ok, tc.want, tc.ok)
		}
	}
}

// TestPrefixRewrite applies the url-rewrite transforms the way a regular
// expression replacement does (as an ALB applies them: the first match of
// the request URL, path and query, replaced) and checks the Gateway API's
// ReplacePrefixMatch results.
func TestPrefixRewrite(t *testing.T) {
	for _, tc := range []struct{ prefix, repl, in, want string }{
		{"/prefix/one", "/one", "/prefix/one/two", "/one/two"},
		{"/prefix/one", "/one", "/prefix/one", "/one"},
		{"/prefix/one", "/one", "/prefix/one/", "/one/"},
		{"/prefix/one", "/one/", "/prefix/one/two?x=1", "/one/two?x=1"},
		{"/prefix/one", "/one", "/prefix/one?a=b", "/one?a=b"},
		{"/strip-prefix", "/", "/strip-prefix/three", "/three"},
		{"/strip-prefix", "/", "/strip-prefix", "/"},
		{"/strip-prefix", "/", "/strip-prefix?q=1", "/?q=1"},
		{"/", "/api", "/users", "/api/users"},
		{"/a.b", "/c$d", "/a.b/x", "/c$d/x"},
	} {
		re, repl := prefixRewrite(tc.prefix, tc.repl)
		got := regexp.MustCompile(re).ReplaceAllString(tc.in, repl)
		if got != tc.want {
			t.Errorf("prefix %q -> %q on %q: %q (regex %q, replacement %q), want %q", tc.prefix, tc.repl, tc.in, got, re, repl, tc.want)
		}
	}
}

// TestPathConditionMatches checks that the conditions of exact and prefix
// matches accept and refuse what the Gateway API says, evaluating plain
// values as ALB path patterns ('*' any run) and regular expressions as
// regular expressions.
func TestPathConditionMatches(t *testing.T) {
	match := func(c stack.Condition, path string) bool {
		pc := c.PathPatternConfig
		for _, v := range pc.Values {
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(v), `\*`, ".*") + "$"
			if regexp.MustCompile(re).MatchString(path) {
				return true
			}
		}
		for _, r := range pc.RegexValues {
			if regexp.MustCompile(r).MatchString(path) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		typ       gwv1.PathMatchType
		value     string
		yes, no   []string
		wantRegex bool
	}{
		{gwv1.PathMatchPathPrefix, "/abc", []string{"/abc", "/abc/", "/abc/def"}, []string{"/abcd", "/ab"}, false},
		{gwv1.PathMatchPathPrefix, "/abc/", []string{"/abc", "/abc/def"}, []string{"/abcd"}, false},
		{gwv1.PathMatchPathPrefix, "/", []string{"/", "/x/y"}, nil, false},
		{gwv1.PathMatchPathPrefix, "/with space", []string{"/with space", "/with space/x"}, []string{"/with spaces"}, true},
		{gwv1.PathMatchExact, "/exact", []string{"/exact"}, []string{"/exact/", "/exactly"}, false},
		{gwv1.PathMatchExact, "/a;b", []string{"/a;b"}, []string{"/a;bc", "/xa;b"}, true},
	} {
		var c conds
		if err := pathCondition(&gwv1.HTTPPathMatch{Type: &tc.typ, Value: &tc.value}, &c); err != nil {
			t.Fatalf("%s %q: %v", tc.typ, tc.value, err)
		}
		if got := len(c.list[0].PathPatternConfig.RegexValues) > 0; got != tc.wantRegex {
			t.Errorf("%s %q: regex %v, want %v", tc.typ, tc.value, got, tc.wantRegex)
		}
		for _, p := range tc.yes {
			if !match(c.list[0], p) {
				t.Errorf("%s %q does not match %q", tc.typ, tc.value, p)
			}
		}
		for _, p := range tc.no {
			if match(c.list[0], p) {
				t.Errorf("%s %q matches %q", tc.typ, tc.value, p)
			}
		}
	}
}

func FuzzPathCondition(f *testing.F) {
	for _, s := range []string{"/", "/abc", "/a b", "/x*y", "/(", "^/files/[0-9]+$", "/%2F"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	types := []gwv1.PathMatchType{gwv1.PathMatchExact, gwv1.PathMatchPathPrefix, gwv1.PathMatchRegularExpression}
	f.Fuzz(func(t *testing.T, v string, ty uint8) {
		typ := types[int(ty)%len(types)]
		var c conds
		if err := pathCondition(&gwv1.HTTPPathMatch{Type: &typ, Value: &v}, &c); err != nil {
			return
		}
		pc := c.list[0].PathPatternConfig
		for _, r := range pc.RegexValues {
			re, err := regexp.Compile(r)
			if err != nil || len(r) > maxValueLen {
				t.Fatalf("%s %q: regex %q not usable: %v", typ, v, r, err)
			}
			if typ == gwv1.PathMatchExact && !re.MatchString(v) {
				t.Fatalf("exact %q: regex %q does not match the path itself", v, r)
			}
		}
		for _, x := range pc.Values {
			if len(x) > maxValueLen || !pathValueRE.MatchString(strings.ReplaceAll(x, "*", "")) {
				t.Fatalf("%s %q: value %q is not an ALB path pattern", typ, v, x)
			}
		}
	})
}

func selfSigned(t testing.TB, key any, pub any) (crtPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop.example.com"},
		DNSNames: []string{"shop.example.com", "www.shop.example.com"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(4000000000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
}

func TestParseCertificateSecret(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	crt, key := selfSigned(t, ec, &ec.PublicKey)
	domains, notAfter, err := ParseCertificateSecret(crt, key)
	if err != nil || strings.Join(domains, ",") != "shop.example.com,www.shop.example.com" || notAfter.Unix() != 4000000000 {
		t.Fatalf("valid certificate: %v %v %v", domains, notAfter, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, otherKey := selfSigned(t, other, &other.PublicKey)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224crt, p224key := selfSigned(t, p224, &p224.PublicKey)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edcrt, edkey := selfSigned(t, edPriv, edPriv.Public())
	for _, tc := range []struct {
		name     string
		crt, key []byte
		want     string
	}{
		{"empty certificate", nil, key, "tls.crt is empty"},
		{"empty key", crt, nil, "tls.key is empty"},
		{"not PEM", []byte("Hello world\n"), []byte("Hello world\n"), "not PEM-encoded"},
		{"key of another certificate", crt, otherKey, "does not go with tls.crt"},
		{"P-224 key", p224crt, p224key, "P-256, P-384 and P-521"},
		{"Ed25519 key", edcrt, edkey, "RSA and ECDSA"},
	} {
		if _, _, err := ParseCertificateSecret(tc.crt, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseCertificateSecret(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	crt, key := selfSigned(f, ec, &ec.PublicKey)
	f.Add(crt, key)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), key)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, crt, key []byte) {
		domains, _, err := ParseCertificateSecret(crt, key)
		if err != nil && domains != nil {
			t.Fatalf("error %v with domains %v", err, domains)
		}
	})
}

func TestDeployedStatus(t *testing.T) {
	pending := GatewayStatus{Status: gwv1.GatewayStatus{
		Conditions: []metav1.Condition{
			cond("Accepted", metav1.ConditionTrue, "Accepted", "", 4),
			cond("Programmed", metav1.ConditionUnknown, "Pending", "", 4),
		},
		Listeners: []gwv1.ListenerStatus{
			{Name: "ok", Conditions: []metav1.Condition{cond("Programmed", metav1.ConditionUnknown, "Pending", "", 4)}},
			{Name: "bad", Conditions: []metav1.Condition{cond("Programmed", metav1.ConditionFalse, "Invalid", "no certificate", 4)}},
		},
	}}
	active := pending.Deployed(Deployment{LoadBalancerARN: "arn:lb", DNSName: "Internal-K8s-App.elb.example", State: "active"})
	if c := findCondition(active.Conditions, "Programmed"); c.Status != metav1.ConditionTrue || c.Reason != "Programmed" || c.ObservedGeneration != 4 {
		t.Errorf("active: %+v", c)
	}
	if c := findCondition(active.Listeners[0].Conditions, "Programmed"); c.Status != metav1.ConditionTrue {
		t.Errorf("active, listener ok: %+v", c)
	}
	if c := findCondition(active.Listeners[1].Conditions, "Programmed"); c.Status != metav1.ConditionFalse || c.Message != "no certificate" {
		t.Errorf("active, listener bad keeps its condition: %+v", c)
	}
	if len(active.Addresses) != 1 || active.Addresses[0].Value != "internal-k8s-app.elb.example" || *active.Addresses[0].Type != gwv1.HostnameAddressType {
		t.Errorf("addresses %+v", active.Addresses)
	}
	if c := findCondition(pending.Status.Conditions, "Programmed"); c.Status != metav1.ConditionUnknown {
		t.Errorf("Deployed changed the translated status: %+v", c)
	}
	for _, tc := range []struct {
		d      Deployment
		status metav1.ConditionStatus
		reason string
	}{
		{Deployment{State: "provisioning", DNSName: "x"}, metav1.ConditionUnknown, "Pending"},
		{Deployment{State: "failed"}, metav1.ConditionFalse, "Invalid"},
		{Deployment{Err: errors.New("throttled")}, metav1.ConditionFalse, "Pending"},
		{Deployment{DryRun: true}, metav1.ConditionFalse, "Pending"},
	} {
		got := pending.Deployed(tc.d)
		if c := findCondition(got.Conditions, "Programmed"); c.Status != tc.status || c.Reason != tc.reason {
			t.Errorf("%+v: %+v, want %s %s", tc.d, c, tc.status, tc.reason)
		}
	}
	notAccepted := GatewayStatus{Status: gwv1.GatewayStatus{Conditions: []metav1.Condition{
		cond("Accepted", metav1.ConditionFalse, "InvalidParameters", "", 1)}}}
	got := notAccepted.Deployed(Deployment{State: "active", DNSName: "x"})
	if c := findCondition(got.Conditions, "Programmed"); c.Status != metav1.ConditionFalse || len(got.Addresses) != 0 {
		t.Errorf("a Gateway not accepted is not programmed and has no address: %+v %v", c, got.Addresses)
	}
}

func TestMergeParentsAndSupportedVersion(t *testing.T) {
	other := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "x"}, ControllerName: "example.com/other"}
	stale := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "old"}, ControllerName: ControllerALB}
	ours := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "gw"}, ControllerName: ControllerALB}
	got := MergeParents([]gwv1.RouteParentStatus{stale, other}, []gwv1.RouteParentStatus{ours}, ControllerALB)
	if len(got) != 2 || got[0].ControllerName != "example.com/other" || got[1].ParentRef.Name != "gw" {
		t.Errorf("merged %+v", got)
	}
	for v, want := range map[string]metav1.ConditionStatus{"v1.6.3": metav1.ConditionTrue, "v1.6": metav1.ConditionTrue, "v1.60.0": metav1.ConditionFalse, "v1.5.1": metav1.ConditionFalse, "": metav1.ConditionFalse} {
		if c := SupportedVersionCondition(v, 2); c.Status != want || c.ObservedGeneration != 2 {
			t.Errorf("%q: %+v, want %s", v, c, want)
		}
	}
}

func TestDeployedKeepsTranslationFailure(t *testing.T) {
	failed := GatewayStatus{Status: gwv1.GatewayStatus{Conditions: []metav1.Condition{
		cond("Accepted", metav1.ConditionTrue, "Accepted", "", 1),
		cond("Programmed", metav1.ConditionFalse, "Invalid", "no subnets", 1)}}}
	got := failed.Deployed(Deployment{Err: errors.New("not deployed")})
	if c := findCondition(got.Conditions, "Programmed"); c.Status != metav1.ConditionFalse || c.Message != "no subnets" {
		t.Errorf("a translation failure must stay the Programmed condition: %+v", c)
	}
}

// TestHostCondition evaluates host conditions as ALB does, against the
// whole Host header, port included: the Gateway API matches the name.
func TestHostCondition(t *testing.T) {
	for _, tc := range []struct {
		host    string
		yes, no []string
	}{
		{"very.specific.com", []string{"very.specific.com", "very.specific.com:1234", "Very.Specific.COM"}, []string{"foo.very.specific.com", "very.specific.com.evil", "very.specific.co", "very.specific.com:", "veryxspecific.com"}},
		{"*.wildcard.io", []string{"foo.wildcard.io", "foo.bar.wildcard.io:8080", "FOO.wildcard.io"}, []string{"wildcard.io", ".wildcard.io", "foo.wildcard.io.evil", "foowildcard.io"}},
	} {
		c, _, err := hostCondition(tc.host)
		if err != nil || len(c.HostHeaderConfig.RegexValues) != 1 {
			t.Fatalf("%s: %+v %v", tc.host, c, err)
		}
		re := regexp.MustCompile(c.HostHeaderConfig.RegexValues[0])
		for _, h := range tc.yes {
			if !re.MatchString(h) {
				t.Errorf("%s does not match Host %q", tc.host, h)
			}
		}
		for _, h := range tc.no {
			if re.MatchString(h) {
				t.Errorf("%s matches Host %q", tc.host, h)
			}
		}
	}
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + ".com"
	if c, _, err := hostCondition(long); err != nil || len(c.HostHeaderConfig.Values) != 1 || c.HostHeaderConfig.Values[0] != long {
		t.Errorf("long host: %+v %v", c, err)
	}
}
