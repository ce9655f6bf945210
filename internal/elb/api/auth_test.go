package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elbowlb/elbow/internal/elb/api"
)

// want is the refusal expected from one protocol.
type want struct {
	code   string
	status int
	msg    string
}

// callAll calls one operation of each protocol: ELBv2 (awsQuery), EC2
// (ec2Query), ACM (JSON 1.1).
func callAll(cfg aws.Config) map[string]error {
	ctx := context.Background()
	_, e1 := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	_, e2 := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	_, e3 := acm.NewFromConfig(cfg).ListCertificates(ctx, &acm.ListCertificatesInput{})
	return map[string]error{"query": e1, "ec2": e2, "json": e3}
}

func TestSignatureRefusals(t *testing.T) {
	t.Parallel()
	const mismatch = "The request signature we calculated does not match the signature you provided"
	cases := []struct {
		name string
		opt  func(*aws.Config)
		now  time.Duration // server clock offset
		want map[string]want
	}{
		{"unsigned", anonymous, 0, map[string]want{
			"query": {"MissingAuthenticationToken", 403, "Request is missing Authentication Token"},
			"ec2":   {"MissingParameter", 400, "The request must contain the parameter AWSAccessKeyId"},
			"json":  {"MissingAuthenticationTokenException", 400, "Request is missing Authentication Token"},
		}},
		{"wrong secret", withCreds(testKey, "not-the-secret"), 0, map[string]want{
			"query": {"SignatureDoesNotMatch", 403, mismatch},
			"ec2":   {"AuthFailure", 401, "AWS was not able to validate the provided access credentials"},
			"json":  {"InvalidSignatureException", 400, mismatch},
		}},
		{"unknown key", withCreds("AKIDUNKNOWN", testSecret), 0, map[string]want{
			"query": {"InvalidClientTokenId", 403, "The security token included in the request is invalid."},
			"ec2":   {"AuthFailure", 401, "AWS was not able to validate the provided access credentials"},
			"json":  {"UnrecognizedClientException", 400, "The security token included in the request is invalid."},
		}},
		{"wrong region", withRegion("eu-west-1"), 0, map[string]want{
			"query": {"SignatureDoesNotMatch", 403, "Credential should be scoped to a valid region, not 'eu-west-1'. "},
			"ec2":   {"AuthFailure", 401, "AWS was not able to validate the provided access credentials"},
			"json":  {"InvalidSignatureException", 400, "Credential should be scoped to a valid region, not 'eu-west-1'. "},
		}},
		{"client clock 20 minutes slow", nil, 20 * time.Minute, map[string]want{
			"query": {"SignatureDoesNotMatch", 403, "Signature expired: "},
			"ec2":   {"RequestExpired", 400, "Request has expired."},
			"json":  {"InvalidSignatureException", 400, "Signature expired: "},
		}},
		{"client clock 20 minutes fast", nil, -20 * time.Minute, map[string]want{
			"query": {"SignatureDoesNotMatch", 403, "Signature not yet current: "},
			"ec2":   {"RequestExpired", 400, "Request has expired."},
			"json":  {"InvalidSignatureException", 400, "Signature not yet current: "},
		}},
		{"client clock 10 minutes slow is accepted", nil, 10 * time.Minute, nil},
		{"client clock 14 minutes fast is accepted", nil, -14 * time.Minute, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, func(c *api.Config) {
				c.Now = func() time.Time { return time.Now().Add(tc.now) }
			})
			var opts []func(*aws.Config)
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			errs := callAll(e.awsCfg(opts...))
			for proto, err := range errs {
				w, ok := tc.want[proto]
				if !ok {
					if err != nil {
						t.Errorf("%s: %v", proto, err)
					}
					continue
				}
				t.Run(proto, func(t *testing.T) { apiErr(t, err, w.code, w.status, w.msg) })
			}
		})
	}
}

func TestSignatureExpiredWording(t *testing.T) {
	t.Parallel()
	server := time.Date(2024, 1, 2, 12, 0, 0, 0, time.UTC)
	e := start(t, func(c *api.Config) { c.Now = func() time.Time { return server } })
	body := "Action=DescribeLoadBalancers&Version=2015-12-01"
	req := e.signedRequest(t, "POST", "/", "elasticloadbalancing", "application/x-www-form-urlencoded; charset=utf-8", body, nil, server.Add(-16*time.Minute))
	status, _, resp := e.do(t, req)
	want := "Signature expired: 20240102T114400Z is now earlier than 20240102T114500Z (20240102T120000Z - 15 min.)"
	if status != 403 || !strings.Contains(resp, want) || !strings.Contains(resp, "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("status %d, body %s; want 403 with %q", status, resp, want)
	}
}

func TestHandMadeSignatures(t *testing.T) {
	t.Parallel()
	e := start(t)
	const form = "application/x-www-form-urlencoded; charset=utf-8"
	elbBody := "Action=DescribeLoadBalancers&Version=2015-12-01"

	t.Run("signed for a service not served", func(t *testing.T) {
		status, _, body := e.do(t, e.signedRequest(t, "POST", "/", "s3", form, elbBody, nil, time.Time{}))
		if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(body, "Credential should be scoped to correct service: &#39;elasticloadbalancing&#39;. ") {
			t.Errorf("status %d body %s", status, body)
		}
		status, hdr, body := e.do(t, e.signedRequest(t, "POST", "/", "s3", "application/x-amz-json-1.1", "{}", map[string]string{"X-Amz-Target": "CertificateManager.ListCertificates"}, time.Time{}))
		if status != 400 || hdr.Get("X-Amzn-ErrorType") != "InvalidSignatureException" || !strings.Contains(body, "correct service: 'acm'") {
			t.Errorf("status %d %v body %s", status, hdr, body)
		}
	})

	t.Run("an ELBv2 action signed for ec2 is EC2's unknown action", func(t *testing.T) {
		status, _, body := e.do(t, e.signedRequest(t, "POST", "/", "ec2", form, "Action=DescribeLoadBalancers&Version=2016-11-15", nil, time.Time{}))
		if status != 400 || !strings.Contains(body, "<Response><Errors><Error><Code>InvalidAction</Code>") || !strings.Contains(body, "<RequestID>") {
			t.Errorf("status %d body %s", status, body)
		}
	})

	t.Run("tampered body", func(t *testing.T) {
		req := e.signedRequest(t, "POST", "/", "elasticloadbalancing", form, elbBody, nil, time.Time{})
		tampered := strings.Replace(elbBody, "DescribeLoadBalancers", "DeleteLoadBalancer", 1)
		req.Body = ioNopCloser(tampered)
		req.ContentLength = int64(len(tampered))
		status, _, body := e.do(t, req)
		if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
			t.Errorf("status %d body %s", status, body)
		}
		if e.rec.got("DeleteLoadBalancer") != nil {
			t.Error("the tampered request reached the operation")
		}
	})

	t.Run("payload hash header that lies", func(t *testing.T) {
		req := e.signedRequest(t, "POST", "/", "elasticloadbalancing", form, elbBody, map[string]string{"X-Amz-Content-Sha256": hashOf("something else")}, time.Time{})
		status, _, body := e.do(t, req)
		if status != 403 || !strings.Contains(body, "x-amz-content-sha256") {
			t.Errorf("status %d body %s", status, body)
		}
	})

	t.Run("UNSIGNED-PAYLOAD", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader(elbBody))
		req.Header.Set("Content-Type", form)
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		signWith(t, req, "UNSIGNED-PAYLOAD", "elasticloadbalancing")
		status, _, body := e.do(t, req)
		if status != 200 || !strings.Contains(body, "<DescribeLoadBalancersResponse") {
			t.Errorf("status %d body %s", status, body)
		}
	})

	t.Run("malformed Authorization", func(t *testing.T) {
		for _, h := range []string{
			"AWS4-HMAC-SHA256 Credential=abc",
			"AWS4-HMAC-SHA256 Credential=" + testKey + "/20240101/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=zz",
			"AWS4-HMAC-SHA256 Credential " + testKey,
			"Bearer token",
		} {
			req, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader(elbBody))
			req.Header.Set("Content-Type", form)
			req.Header.Set("Authorization", h)
			req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
			status, _, body := e.do(t, req)
			if status != 400 || !strings.Contains(body, "<Code>IncompleteSignature</Code>") {
				t.Errorf("%q: status %d body %s", h, status, body)
			}
		}
	})

	t.Run("presigned GetCallerIdentity", func(t *testing.T) {
		p, err := sts.NewPresignClient(sts.NewFromConfig(e.awsCfg())).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(p.Method, p.URL, nil)
		for k, v := range p.SignedHeader {
			req.Header[k] = v
		}
		status, _, body := e.do(t, req)
		if status != 200 || !strings.Contains(body, "<UserId>"+testKey+"</UserId>") {
			t.Errorf("status %d body %s", status, body)
		}
		// the same URL, tampered
		req, _ = http.NewRequest(p.Method, strings.Replace(p.URL, "GetCallerIdentity", "GetSessionToken", 1), nil)
		status, _, body = e.do(t, req)
		if status != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
			t.Errorf("tampered presigned URL: status %d body %s", status, body)
		}
	})

	t.Run("presigned URL after its expiry", func(t *testing.T) {
		late := start(t, func(c *api.Config) { c.Now = func() time.Time { return time.Now().Add(20 * time.Minute) } })
		p, err := sts.NewPresignClient(sts.NewFromConfig(late.awsCfg())).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{},
			func(o *sts.PresignOptions) { o.ClientOptions = append(o.ClientOptions, func(*sts.Options) {}) })
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(p.Method, p.URL, nil)
		for k, v := range p.SignedHeader {
			req.Header[k] = v
		}
		status, _, body := late.do(t, req)
		if status != 403 || !strings.Contains(body, "Request has expired") {
			t.Errorf("status %d body %s", status, body)
		}
	})
}
