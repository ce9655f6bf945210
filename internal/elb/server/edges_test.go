package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
)

// postQuery sends body, exactly, as a SigV4-signed awsQuery request to
// ELBv2 and returns the status and the response body.
func postQuery(t *testing.T, env *elbtest.Env, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds, err := env.Config.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "elasticloadbalancing", env.Config.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// queryError decodes an awsQuery error body.
func queryError(t *testing.T, body string) (code, message string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string
			Message string
		}
	}
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %.200q: %v", body, err)
	}
	return e.Error.Code, e.Error.Message
}

// TestLongTagValueIsNotEchoed is the fifth edge: a tag value of a
// megabyte is refused with ValidationError, and the answer repeats an
// excerpt of it, not the megabyte.
func TestLongTagValueIsNotEchoed(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true})
	lb := must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
		Name: aws.String("tagged"), Subnets: env.PublicSubnets()[:2]})).LoadBalancers[0]
	value := strings.Repeat("a", 1_000_000)
	body := "Action=AddTags&Version=2015-12-01&ResourceArns.member.1=" + *lb.LoadBalancerArn +
		"&Tags.member.1.Key=big&Tags.member.1.Value=" + value
	status, resp := postQuery(t, env, body)
	if status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400; body %.300q", status, resp)
	}
	if len(resp) > 2048 {
		t.Errorf("the answer is %d bytes long: it repeats the value", len(resp))
	}
	code, msg := queryError(t, resp)
	if code != "ValidationError" || !strings.Contains(msg, strings.Repeat("a", 64)+"…(1000000 bytes)") || !strings.Contains(msg, "256") {
		t.Errorf("answer %s %q, want ValidationError with an excerpt of the value, its length and the limit", code, msg)
	}
}

// TestForgedMarkerIsRefused is the sixth edge: a Marker that is
// valid base64 but was not issued by the listing is refused with
// ValidationError instead of restarting the listing; markers the listing
// issued page through every load balancer once.
func TestForgedMarkerIsRefused(t *testing.T) {
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true})
	for _, name := range []string{"one", "two", "three"} {
		must[*sdk.CreateLoadBalancerOutput](t)(env.ELBv2.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
			Name: aws.String(name), Subnets: env.PublicSubnets()[:2]}))
	}
	for name, marker := range map[string]string{
		"valid base64 of a key":   base64.RawURLEncoding.EncodeToString([]byte("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/one/0")),
		"short valid base64":      "AAAA",
		"another listing's token": describeTGMarker(t, env),
	} {
		status, resp := postQuery(t, env, "Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=1&Marker="+marker)
		code, msg := queryError(t, resp)
		if status != http.StatusBadRequest || code != "ValidationError" || !strings.Contains(msg, "marker") {
			t.Errorf("%s marker: %d %s %q, want 400 ValidationError about the marker", name, status, code, msg)
		}
	}
	var names []string
	var marker *string
	for range 5 {
		out := must[*sdk.DescribeLoadBalancersOutput](t)(env.ELBv2.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{PageSize: aws.Int32(1), Marker: marker}))
		for _, lb := range out.LoadBalancers {
			names = append(names, *lb.LoadBalancerName)
		}
		if marker = out.NextMarker; marker == nil {
			break
		}
	}
	if len(names) != 3 {
		t.Errorf("paging with issued markers gave %v, want each of three load balancers once", names)
	}
}

// describeTGMarker returns a Marker DescribeTargetGroups issued.
func describeTGMarker(t *testing.T, env *elbtest.Env) string {
	t.Helper()
	for _, name := range []string{"tg-a", "tg-b"} {
		if err := createTG(t, env.ELBv2, env.VpcID(), name); err != nil {
			t.Fatal(err)
		}
	}
	out := must[*sdk.DescribeTargetGroupsOutput](t)(env.ELBv2.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{PageSize: aws.Int32(1)}))
	if out.NextMarker == nil {
		t.Fatal("DescribeTargetGroups issued no marker")
	}
	return *out.NextMarker
}
