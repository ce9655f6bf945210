package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/elbowlb/elbow/internal/elb/api"
)

// FuzzHandler sends signed requests with arbitrary bodies through the whole
// handler: whatever the body, the answer is an AWS error or a success,
// never a 5xx, a panic or a hang.
func FuzzHandler(f *testing.F) {
	rec := newRecorder()
	h, err := api.NewHandler(api.Config{
		Region: testRegion, Credentials: map[string]string{testKey: testSecret},
		Services: []api.Service{api.ELBv2(&fakeELB{rec}), api.EC2(&fakeEC2{rec}), api.ACM(&fakeACM{rec})},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), "Action=CreateLoadBalancer&Version=2015-12-01&Name=a&Subnets.member.1=s&Tags.member.1.Key=k", "")
	f.Add(uint8(0), "Action=CreateRule&Version=2015-12-01&Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key=a&Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.value=b", "")
	f.Add(uint8(1), "Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=v", "")
	f.Add(uint8(1), "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&IpPermissions.1.Groups.1.GroupId=sg", "")
	f.Add(uint8(2), `{"Includes":{"keyTypes":["RSA_2048"]},"MaxItems":4}`, "CertificateManager.ListCertificates")
	f.Add(uint8(2), `{"Certificate":"AA==","PrivateKey":"AA==","Tags":[{"Key":"k"}]}`, "CertificateManager.ImportCertificate")
	services := []string{"elasticloadbalancing", "ec2", "acm"}
	f.Fuzz(func(t *testing.T, svc uint8, body, target string) {
		service := services[int(svc)%len(services)]
		req := httptest.NewRequest("POST", "http://127.0.0.1:4566/", strings.NewReader(body))
		if service == "acm" {
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if target != "" && !strings.ContainsAny(target, "\r\n\x00") {
			req.Header.Set("X-Amz-Target", target)
		}
		creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashOf(body), service, testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
		if w.Code != http.StatusOK && w.Header().Get("x-amzn-RequestId") == "" {
			t.Fatalf("error without a request ID: %d %s", w.Code, w.Body.String())
		}
	})
}
