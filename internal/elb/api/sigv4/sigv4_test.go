package sigv4

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	akid   = "AKIDEXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region = "us-east-1"
)

func secrets(k string) (string, bool) {
	if k == akid {
		return secret, true
	}
	return "", false
}

// verifier is a server that verifies every request it gets and reports the
// result.
func verifier(t *testing.T, now func() time.Time) (*httptest.Server, <-chan error) {
	t.Helper()
	results := make(chan error, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var sig *Signature
		var err error
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if Presigned(q) {
			sig, err = ParsePresigned(q)
		} else {
			sig, err = ParseAuthorization(r.Header.Get("Authorization"))
		}
		if err == nil {
			hash := PayloadHash(body)
			if h := r.Header.Get(HeaderContentSHA256); h != "" {
				hash = h
			}
			err = Verify(sig, Request{HTTP: r, PayloadHash: hash}, Check{Secret: secrets, Region: region, Now: now()})
		}
		results <- err
	}))
	t.Cleanup(srv.Close)
	return srv, results
}

func send(t *testing.T, srv *httptest.Server, req *http.Request, results <-chan error) error {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return <-results
}

type reqSpec struct {
	name, method, path, body string
	hdr                      http.Header
}

func specs() []reqSpec {
	return []reqSpec{
		{name: "form post", method: "POST", path: "/", body: "Action=ListUsers&Version=2010-05-08", hdr: http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}},
		{name: "get with query", method: "GET", path: "/?Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a%20b&Names.member.2=%E2%9C%93&Marker=x%2By~z"},
		{name: "repeated query values", method: "GET", path: "/?b=2&a=1&b=1&empty=&flag"},
		{name: "escaped path", method: "GET", path: "/a%20b/%C3%BC/c%2Fd/"},
		{name: "json with target", method: "POST", path: "/", body: `{"MaxItems":5}`, hdr: http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"CertificateManager.ListCertificates"}}},
		{name: "excess spaces and repeated headers", method: "POST", path: "/", body: "x", hdr: http.Header{"X-Custom": {"  a   b  ", "c"}, "X-Other": {"v"}}},
		{name: "empty body", method: "POST", path: "/"},
	}
}

func build(t *testing.T, srvURL string, s reqSpec) *http.Request {
	t.Helper()
	req, err := http.NewRequest(s.method, srvURL+s.path, strings.NewReader(s.body))
	if err != nil {
		t.Fatal(err)
	}
	if s.body == "" {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, vs := range s.hdr {
		req.Header[k] = vs
	}
	return req
}

func sdkSign(t *testing.T, req *http.Request, body, sec, reg string, at time.Time) {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: sec}, req, PayloadHash([]byte(body)), "svc", reg, at)
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyAcceptsTheSDKSigner cross-checks the canonicalisation against
// the aws-sdk-go-v2 signer over a real connection.
func TestVerifyAcceptsTheSDKSigner(t *testing.T) {
	t.Parallel()
	srv, results := verifier(t, time.Now)
	for _, s := range specs() {
		t.Run(s.name, func(t *testing.T) {
			req := build(t, srv.URL, s)
			sdkSign(t, req, s.body, secret, region, time.Now())
			if err := send(t, srv, req, results); err != nil {
				t.Errorf("a request signed by the SDK was refused: %v", err)
			}
		})
	}
}

func TestVerifyAcceptsSDKPresignedURLs(t *testing.T) {
	t.Parallel()
	srv, results := verifier(t, time.Now)
	for _, s := range specs()[:4] {
		t.Run(s.name, func(t *testing.T) {
			req := build(t, srv.URL, s)
			q := req.URL.Query()
			q.Set("X-Amz-Expires", "300")
			req.URL.RawQuery = q.Encode()
			u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, PayloadHash([]byte(s.body)), "svc", region, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			preq, _ := http.NewRequest(s.method, u, strings.NewReader(s.body))
			preq.Header = hdr
			if err := send(t, srv, preq, results); err != nil {
				t.Errorf("a URL presigned by the SDK was refused: %v", err)
			}
		})
	}
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	s := specs()[0]
	cases := []struct {
		name   string
		now    time.Duration
		mutate func(req *http.Request) // after signing
		sec    string
		reg    string
		at     time.Time
		want   Kind
		msg    string
	}{
		{name: "wrong secret", sec: "other", want: Mismatch, msg: "does not match"},
		{name: "wrong region", reg: "eu-west-1", want: WrongRegion, msg: "not 'eu-west-1'"},
		{name: "unknown key", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), akid, "AKIDOTHER", 1))
		}, want: UnknownKey},
		{name: "tampered header", mutate: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, want: Mismatch},
		{name: "tampered query", mutate: func(r *http.Request) { r.URL.RawQuery = "x=1" }, want: Mismatch},
		{name: "signed header missing", mutate: func(r *http.Request) { r.Header.Del("Content-Type") }, want: Incomplete, msg: "content-type"},
		{name: "expired", now: 16 * time.Minute, want: Expired, msg: "Signature expired: "},
		{name: "not yet current", now: -16 * time.Minute, want: NotYetCurrent, msg: "Signature not yet current: "},
		{name: "scope date is not the request date", at: time.Date(2024, 3, 1, 23, 59, 0, 0, time.UTC), mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", "20240302T000100Z")
		}, want: DateMismatch, msg: "'20240301' != '20240302'"},
		{name: "no date", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, want: Incomplete, msg: "X-Amz-Date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := time.Now()
			if !tc.at.IsZero() {
				at = tc.at
			}
			srv, results := verifier(t, func() time.Time { return at.Add(tc.now) })
			req := build(t, srv.URL, s)
			sec, reg := secret, region
			if tc.sec != "" {
				sec = tc.sec
			}
			if tc.reg != "" {
				reg = tc.reg
			}
			sdkSign(t, req, s.body, sec, reg, at)
			if tc.mutate != nil {
				tc.mutate(req)
			}
			err := send(t, srv, req, results)
			if kindOf(err) != tc.want || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v (kind %d), want kind %d mentioning %q", err, kindOf(err), tc.want, tc.msg)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	good := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	sig, err := ParseAuthorization(good)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Credential != (Credential{AccessKeyID: "AKIDEXAMPLE", Date: "20150830", Region: "us-east-1", Service: "iam"}) ||
		strings.Join(sig.SignedHeaders, ";") != "content-type;host;x-amz-date" || sig.Signature[:8] != "5d672d79" {
		t.Errorf("parsed %+v", sig)
	}
	bad := []struct{ h, msg string }{
		{"", "requires 'Credential'"},
		{"Bearer x", "requires 'Credential'"},
		{"AWS4-HMAC-SHA1 Credential=a", "Unsupported AWS 'algorithm'"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request", "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "not a valid key=value pair (missing equal-sign)"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015-08-30/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "YYYYMMDD"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//iam/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "empty region"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=Host, Signature=" + strings.Repeat("a", 64), "lower-case"},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=xyz", "64 hexadecimal"},
		{"AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/iam/aws4_request, Credential=b/20150830/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64), "more than once"},
		{"AWS4-HMAC-SHA256 " + strings.Repeat("x", 9000), "too long"},
	}
	for _, b := range bad {
		_, err := ParseAuthorization(b.h)
		if kindOf(err) != Incomplete || !strings.Contains(err.Error(), b.msg) {
			t.Errorf("ParseAuthorization(%.60q) = %v, want Incomplete mentioning %q", b.h, err, b.msg)
		}
	}
}

func TestParsePresignedRefuses(t *testing.T) {
	t.Parallel()
	base := url.Values{
		QueryAlgorithm: {Algorithm}, QueryCredential: {"AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request"},
		QueryDate: {"20150830T123600Z"}, QuerySignedHeaders: {"host"}, QuerySignature: {strings.Repeat("a", 64)}, QueryExpires: {"60"},
	}
	if _, err := ParsePresigned(base); err != nil {
		t.Fatalf("valid presigned parameters refused: %v", err)
	}
	for _, tc := range []struct {
		key, val, msg string
	}{
		{QueryAlgorithm, "AWS4-HMAC-SHA1", "only supports"},
		{QueryExpires, "0", "X-Amz-Expires"},
		{QueryExpires, "604801", "X-Amz-Expires"},
		{QuerySignature, "", "missing: X-Amz-Signature"},
	} {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set(tc.key, tc.val)
		if _, err := ParsePresigned(q); kindOf(err) != Incomplete || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s=%q: %v, want Incomplete mentioning %q", tc.key, tc.val, err, tc.msg)
		}
	}
}

// seedHeaders are Authorization headers written by the SDK's signer.
func seedHeaders(f *testing.F) []string {
	var out []string
	for _, s := range specs() {
		req, _ := http.NewRequest(s.method, "http://127.0.0.1:4566"+s.path, strings.NewReader(s.body))
		for k, vs := range s.hdr {
			req.Header[k] = vs
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, PayloadHash([]byte(s.body)), "elasticloadbalancing", region, time.Now()); err != nil {
			f.Fatal(err)
		}
		out = append(out, req.Header.Get("Authorization"))
	}
	return out
}

func FuzzParseAuthorization(f *testing.F) {
	for _, h := range seedHeaders(f) {
		f.Add(h)
	}
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request,SignedHeaders=,Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,=,==")
	f.Fuzz(func(t *testing.T, h string) {
		sig, err := ParseAuthorization(h)
		if err != nil {
			if kindOf(err) != Incomplete {
				t.Fatalf("error of kind %d: %v", kindOf(err), err)
			}
			return
		}
		c := sig.Credential
		if c.AccessKeyID == "" || c.Region == "" || c.Service == "" || len(c.Date) != 8 || len(sig.Signature) != 64 || len(sig.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete signature: %+v", sig)
		}
		again := Algorithm + " Credential=" + c.AccessKeyID + "/" + c.Scope() + ", SignedHeaders=" + strings.Join(sig.SignedHeaders, ";") + ", Signature=" + sig.Signature
		sig2, err := ParseAuthorization(again)
		if err != nil || sig2.Credential != c || sig2.Signature != sig.Signature {
			t.Fatalf("re-parse of %q: %+v, %v", again, sig2, err)
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:4566/?Action=GetCallerIdentity&Version=2011-06-15", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, req, PayloadHash(nil), "sts", region, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	pu, _ := url.Parse(u)
	f.Add(pu.RawQuery)
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=99999999999999999999")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sig, err := ParsePresigned(q)
		if err != nil {
			if kindOf(err) != Incomplete {
				t.Fatalf("error of kind %d: %v", kindOf(err), err)
			}
			return
		}
		if !sig.Presigned || sig.Expires <= 0 || sig.Expires > maxPresignExpiry {
			t.Fatalf("accepted %+v", sig)
		}
	})
}
