package awsthrottle

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go/middleware"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    []string // Rule.String of each
		wantErr string
	}{
		{spec: "", want: nil},
		{spec: "Elastic Load Balancing v2:^Describe.*=10:40", want: []string{"Elastic Load Balancing v2:^Describe.*=10:40"}},
		{spec: " EC2:.*=0.5:1 , WAFV2:^Associate|^Disassociate=2:3,", want: []string{"EC2:.*=0.5:1", "WAFV2:^Associate|^Disassociate=2:3"}},
		{spec: "EC2:Describe(?:Subnets)=1:1", want: []string{"EC2:Describe(?:Subnets)=1:1"}},
		{spec: "EC2", wantErr: `throttle rule "EC2": no '=' before rate:burst`},
		{spec: "EC2=1:2", wantErr: "no service ID before ':'"},
		{spec: ":Describe=1:2", wantErr: "no service ID before ':'"},
		{spec: "EC2:=1:2", wantErr: "empty operation regex"},
		{spec: "EC2:(=1:2", wantErr: "operation regex: error parsing regexp"},
		{spec: "EC2:.*=1", wantErr: `limits "1" are not rate:burst`},
		{spec: "EC2:.*=x:2", wantErr: `rate "x" is not a number`},
		{spec: "EC2:.*=-1:2", wantErr: `rate "-1" is not a number`},
		{spec: "EC2:.*=NaN:2", wantErr: `rate "NaN" is not a number`},
		{spec: "EC2:.*=1:0", wantErr: `burst "0" is not a whole number`},
		{spec: "EC2:.*=1:1.5", wantErr: `burst "1.5" is not a whole number`},
		{spec: "EC2:.*=1:2,bad", wantErr: `throttle rule "bad"`},
	} {
		rules, err := Parse(tc.spec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "ServiceID:operationRegex=rate:burst") {
				t.Errorf("Parse(%q): %v, want an error with %q and the accepted format", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		var got []string
		for _, r := range rules {
			got = append(got, r.String())
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Parse(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestMerge(t *testing.T) {
	over, err := Parse("Elastic Load Balancing v2:.*=1:1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range Merge(Defaults(), over) {
		got = append(got, r.String())
	}
	want := []string{
		"WAF Regional:^AssociateWebACL|^DisassociateWebACL=0.5:1",
		"WAF Regional:^GetWebACLForResource=1:1",
		"WAFV2:^AssociateWebACL|^DisassociateWebACL=0.5:1",
		"WAFV2:^GetWebACLForResource=1:1",
		"Elastic Load Balancing v2:.*=1:1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Merge: the ELBv2 defaults should give way to the override, the others stay:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLimiterWait(t *testing.T) {
	rules, err := Parse("Elastic Load Balancing v2:^Describe=0.001:2")
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimiter(rules)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		if err := l.Wait(ctx, "Elastic Load Balancing v2", "DescribeLoadBalancers"); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	// The bucket is empty and refills once in 1000 s: a third call cannot
	// get a token before the context's deadline and fails at once.
	err = l.Wait(ctx, "Elastic Load Balancing v2", "DescribeTargetGroups")
	if err == nil || !strings.Contains(err.Error(), "client-side rate limit Elastic Load Balancing v2:^Describe=0.001:2") {
		t.Errorf("third Describe: %v, want the rate limit named", err)
	}
	// Other operations and services are not limited.
	for _, c := range [][2]string{{"Elastic Load Balancing v2", "CreateRule"}, {"EC2", "DescribeSubnets"}} {
		if err := l.Wait(ctx, c[0], c[1]); err != nil {
			t.Errorf("%s %s: %v, want no limit", c[0], c[1], err)
		}
	}
}

// TestMiddleware checks that the limiter sees the SDK's service ID and
// operation name: a call over the limit fails before it is sent.
func TestMiddleware(t *testing.T) {
	rules, err := Parse("Elastic Load Balancing v2:^DescribeLoadBalancers$=0.001:1")
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimiter(rules)
	sent := 0
	client := elbv2.New(elbv2.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String("http://127.0.0.1:1"),
		APIOptions: []func(*middlewareStack) error{l.Middleware},
		HTTPClient: countingClient{&sent},
		Retryer:    aws.NopRetryer{},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if sent != 1 {
		t.Fatalf("first call: %d requests sent, want 1", sent)
	}
	_, err = client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err == nil || !strings.Contains(err.Error(), "client-side rate limit") {
		t.Errorf("second call: %v, want the client-side rate limit", err)
	}
	if sent != 1 {
		t.Errorf("the limited call was sent (%d requests)", sent)
	}
	_, _ = client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if sent != 2 {
		t.Errorf("DescribeTargetGroups: %d requests sent, want 2 (not limited)", sent)
	}
}

var errNoNetwork = errors.New("no network in this test")

type middlewareStack = middleware.Stack

// countingClient counts the requests the SDK sends and answers none.
type countingClient struct{ n *int }

func (c countingClient) Do(*http.Request) (*http.Response, error) {
	*c.n++
	return nil, errNoNetwork
}

// FuzzParse checks that any flag value gives rules or an error naming the
// accepted format, never a panic, and that rules print back to a spec
// that parses to the same rules.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "EC2:.*=1:2", "Elastic Load Balancing v2:^Describe.*=10:40,WAFV2:^Associate=0.5:1", "a:=b:c", "x:(=1:1", "::=::", "a:b=1e9:1000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rules, err := Parse(spec)
		if err != nil {
			if !strings.Contains(err.Error(), Format) {
				t.Fatalf("Parse(%q): error %q does not say what is accepted", spec, err)
			}
			return
		}
		var parts []string
		for _, r := range rules {
			if r.Service == "" || r.Operation == nil || r.Burst < 1 || r.Rate < 0 {
				t.Fatalf("Parse(%q): invalid rule %+v", spec, r)
			}
			parts = append(parts, r.String())
		}
		again, err := Parse(strings.Join(parts, ","))
		if err != nil || len(again) != len(rules) {
			t.Fatalf("Parse(%q) printed as %q parses to %d rules, %v", spec, strings.Join(parts, ","), len(again), err)
		}
	})
}
