package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbowlb/elbow/internal/elb/api"
)

const formType = "application/x-www-form-urlencoded; charset=utf-8"

func TestBadQueryInput(t *testing.T) {
	t.Parallel()
	e := start(t)
	const elb = "Action=DescribeLoadBalancers&Version=2015-12-01"
	const rule = "Action=CreateRule&Version=2015-12-01&ListenerArn=l&Priority=1"
	const ec = "Action=DescribeSubnets&Version=2016-11-15"
	cases := []struct {
		name, service, body string
		status              int
		want                []string // substrings of the body
	}{
		{"no Action", "elasticloadbalancing", "Version=2015-12-01", 400, []string{"<Code>MissingAction</Code>"}},
		{"no Version", "elasticloadbalancing", "Action=DescribeLoadBalancers", 400, []string{"<Code>MissingParameter</Code>", "Version"}},
		{"unknown Version", "elasticloadbalancing", "Action=DescribeLoadBalancers&Version=2012-06-01", 400, []string{"<Code>InvalidAction</Code>", "Could not find operation DescribeLoadBalancers for version 2012-06-01"}},
		{"unknown Action", "elasticloadbalancing", "Action=Frobnicate&Version=2015-12-01", 400, []string{"<Code>InvalidAction</Code>", "Could not find operation Frobnicate"}},
		{"list gap", "elasticloadbalancing", elb + "&Names.member.1=a&Names.member.3=c", 400, []string{"<Code>ValidationError</Code>", "skips index 2"}},
		{"list index 0", "elasticloadbalancing", elb + "&Names.member.0=a", 400, []string{"<Code>ValidationError</Code>", "Names.member.0 is not a list index"}},
		{"list index with a leading zero", "elasticloadbalancing", elb + "&Names.member.01=a", 400, []string{"<Code>ValidationError</Code>", "not a list index"}},
		{"huge list index", "elasticloadbalancing", elb + "&Names.member.4294967297=a", 400, []string{"<Code>ValidationError</Code>", "index"}},
		{"list index over the bound", "elasticloadbalancing", elb + "&Names.member.10001=a", 400, []string{"<Code>ValidationError</Code>", "indexes go up to 10000"}},
		{"int32 overflow", "elasticloadbalancing", elb + "&PageSize=99999999999", 400, []string{"<Code>ValidationError</Code>", "PageSize", "-2147483648 and 2147483647"}},
		{"not an integer", "elasticloadbalancing", elb + "&PageSize=ten", 400, []string{"<Code>ValidationError</Code>", "Invalid value &#39;ten&#39; for parameter PageSize"}},
		{"list written EC2-style", "elasticloadbalancing", elb + "&Names.1=a", 400, []string{"<Code>ValidationError</Code>", "Names.member.1"}},
		{"scalar for a list", "elasticloadbalancing", elb + "&Names=a", 400, []string{"<Code>ValidationError</Code>", "is a list"}},
		{"parameter twice", "elasticloadbalancing", elb + "&Marker=a&Marker=b", 400, []string{"<Code>ValidationError</Code>", "Marker is given 2 times"}},
		{"invalid UTF-8", "elasticloadbalancing", elb + "&Names.member.1=%ff%fe", 400, []string{"<Code>ValidationError</Code>", "not valid UTF-8"}},
		{"malformed escape", "elasticloadbalancing", elb + "&Names.member.1=%zz", 400, []string{"<Code>ValidationError</Code>", "malformed"}},
		{"bad boolean", "elasticloadbalancing", rule + "&Actions.member.1.Type=forward&Actions.member.1.AuthenticateOidcConfig.UseExistingClientSecret=maybe", 400, []string{"expected true or false"}},
		{"map entry without key", "elasticloadbalancing", rule + "&Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.value=x", 400, []string{"has no key"}},
		{"map key twice", "elasticloadbalancing", rule + "&Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key=a&Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.2.key=a", 400, []string{"more than once"}},
		{"too deep", "elasticloadbalancing", elb + "&" + strings.Repeat("a.", 30) + "b=1", 400, []string{"levels deep"}},
		{"unknown parameter is ignored", "elasticloadbalancing", elb + "&Frobnicate=1&Names.member.1=web", 200, []string{"<DescribeLoadBalancersResponse"}},
		{"EC2 unknown parameter", "ec2", ec + "&Frobnicate=1", 400, []string{"<Code>UnknownParameter</Code>", "The parameter Frobnicate is not recognized", "<RequestID>"}},
		{"EC2 misnamed nested parameter", "ec2", ec + "&Filter.1.Name=vpc-id&Filter.1.Values.1=v", 400, []string{"<Code>UnknownParameter</Code>", "Filter.1.Values.1"}},
		{"EC2 bad integer", "ec2", ec + "&MaxResults=many", 400, []string{"<Code>InvalidParameterValue</Code>", "MaxResults"}},
		{"EC2 other version", "ec2", "Action=DescribeSubnets&Version=2014-01-01", 400, []string{"<Code>InvalidParameterValue</Code>", "Version"}},
		{"EC2 unknown action", "ec2", "Action=DescribeLoadBalancers&Version=2016-11-15", 400, []string{"<Code>InvalidAction</Code>", "The action DescribeLoadBalancers is not valid for this web service."}},
		{"EC2 list gap", "ec2", ec + "&SubnetId.1=a&SubnetId.3=b", 400, []string{"<Code>InvalidParameterValue</Code>", "skips index 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := e.do(t, e.signedRequest(t, "POST", "/", tc.service, formType, tc.body, nil, time.Time{}))
			if status != tc.status {
				t.Errorf("status %d, want %d; body %s", status, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q: %s", w, body)
				}
			}
		})
	}
}

func TestBadJSONInput(t *testing.T) {
	t.Parallel()
	e := start(t)
	cases := []struct {
		name, target, body string
		status             int
		code, msg          string
	}{
		{"truncated", "CertificateManager.ListCertificates", "{", 400, "SerializationException", "not valid JSON"},
		{"not an object", "CertificateManager.ListCertificates", "[]", 400, "SerializationException", "must be a JSON object"},
		{"trailing data", "CertificateManager.ListCertificates", "{}{}", 400, "SerializationException", "after the JSON document"},
		{"string for an integer", "CertificateManager.ListCertificates", `{"MaxItems":"x"}`, 400, "SerializationException", "Expected an integer for MaxItems"},
		{"int32 overflow", "CertificateManager.ListCertificates", `{"MaxItems":99999999999}`, 400, "SerializationException", "MaxItems"},
		{"scalar for a list", "CertificateManager.ListCertificates", `{"Includes":{"keyTypes":"RSA_2048"}}`, 400, "SerializationException", "Expected an array for Includes.keyTypes"},
		{"bad base64", "CertificateManager.ImportCertificate", `{"Certificate":"%%%","PrivateKey":"AA=="}`, 400, "SerializationException", "base64"},
		{"invalid UTF-8", "CertificateManager.ListCertificates", "{\"NextToken\":\"\xff\"}", 400, "SerializationException", "UTF-8"},
		{"unknown operation", "CertificateManager.Frobnicate", "{}", 400, "UnknownOperationException", "Frobnicate"},
		{"another service's prefix", "AWSWAF_20190729.ListWebACLs", "{}", 400, "UnknownOperationException", "CertificateManager"},
		{"no target", "", "{}", 400, "UnknownOperationException", ""},
		{"unknown members are ignored", "CertificateManager.ListCertificates", `{"Frobnicate":[1,{"a":null}],"MaxItems":5}`, 200, "", ""},
		{"empty body is an empty input", "CertificateManager.ListCertificates", "", 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.target != "" {
				hdr["X-Amz-Target"] = tc.target
			}
			status, h, body := e.do(t, e.signedRequest(t, "POST", "/", "acm", "application/x-amz-json-1.1", tc.body, hdr, time.Time{}))
			if status != tc.status {
				t.Errorf("status %d, want %d; body %s", status, tc.status, body)
			}
			if tc.code != "" && (h.Get("X-Amzn-ErrorType") != tc.code || !strings.Contains(body, `"__type":"`+tc.code+`"`)) {
				t.Errorf("error type %q body %s, want %s", h.Get("X-Amzn-ErrorType"), body, tc.code)
			}
			if !strings.Contains(body, tc.msg) {
				t.Errorf("body %s lacks %q", body, tc.msg)
			}
			if !uuidShape.MatchString(h.Get("x-amzn-RequestId")) {
				t.Errorf("x-amzn-RequestId = %q", h.Get("x-amzn-RequestId"))
			}
		})
	}
}

func TestBodyBound(t *testing.T) {
	t.Parallel()
	e := start(t, func(c *api.Config) { c.MaxBodyBytes = 1024 })
	big := "Action=DescribeLoadBalancers&Version=2015-12-01&Marker=" + strings.Repeat("m", 2000)
	status, _, body := e.do(t, e.signedRequest(t, "POST", "/", "elasticloadbalancing", formType, big, nil, time.Time{}))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "<Code>RequestEntityTooLarge</Code>") {
		t.Errorf("declared length: status %d body %s", status, body)
	}
	// chunked: no Content-Length, the bound applies while reading
	req := e.signedRequest(t, "POST", "/", "acm", "application/x-amz-json-1.1", `{"NextToken":"`+strings.Repeat("n", 2000)+`"}`, map[string]string{"X-Amz-Target": "CertificateManager.ListCertificates"}, time.Time{})
	req.ContentLength = -1
	status, h, body := e.do(t, req)
	if status != http.StatusRequestEntityTooLarge || h.Get("X-Amzn-ErrorType") != "RequestEntityTooLargeException" {
		t.Errorf("chunked: status %d %v body %s", status, h, body)
	}
	// within the bound
	status, _, body = e.do(t, e.signedRequest(t, "POST", "/", "elasticloadbalancing", formType, "Action=DescribeLoadBalancers&Version=2015-12-01", nil, time.Time{}))
	if status != 200 {
		t.Errorf("small request: status %d body %s", status, body)
	}
}

func TestQueryInURL(t *testing.T) {
	t.Parallel()
	e := start(t)
	status, _, body := e.do(t, e.signedRequest(t, "GET", "/?Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=web&Names.member.2=a%20b", "elasticloadbalancing", "", "", nil, time.Time{}))
	if status != 200 {
		t.Fatalf("status %d body %s", status, body)
	}
	got := e.rec.got("DescribeLoadBalancers").(*elbv2.DescribeLoadBalancersInput)
	if diff := cmp.Diff([]string{"web", "a b"}, got.Names); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
}
