package api_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
)

// TestAWSCLI drives the endpoint with the AWS CLI (botocore: another
// signer and other serializers than the Go SDK's).
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI (`aws`) is not installed: .ci/run installs it (apt-get install awscli)")
	}
	e := start(t)
	run := func(t *testing.T, args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "aws", append(args, "--endpoint-url", e.srv.URL, "--region", testRegion, "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testKey, "AWS_SECRET_ACCESS_KEY="+testSecret,
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	t.Run("elbv2 describe-load-balancers", func(t *testing.T) {
		t.Parallel()
		e.rec.setOut("DescribeLoadBalancers", &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbtypes.LoadBalancer{fullLoadBalancer()}})
		out, stderr, err := run(t, "elbv2", "describe-load-balancers", "--names", "web", "a b")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		got := e.rec.got("DescribeLoadBalancers").(*elbv2.DescribeLoadBalancersInput)
		if diff := cmp.Diff([]string{"web", "a b"}, got.Names); diff != "" {
			t.Errorf("Names (-sent +decoded):\n%s", diff)
		}
		var res struct {
			LoadBalancers []struct {
				LoadBalancerArn   string
				CreatedTime       string
				AvailabilityZones []struct{ LoadBalancerAddresses []struct{ IpAddress string } }
			}
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.LoadBalancers) != 1 {
			t.Fatalf("output %s: %v", out, err)
		}
		lb := res.LoadBalancers[0]
		if lb.LoadBalancerArn != lbARN || !strings.HasPrefix(lb.CreatedTime, "2024-05-06T07:08:09.123") || lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress != "127.77.0.1" {
			t.Errorf("the CLI decoded %+v", lb)
		}
	})

	t.Run("elbv2 error", func(t *testing.T) {
		t.Parallel()
		e.rec.setErr("DeleteLoadBalancer", awserr.New("OperationNotPermitted", "Load balancer '%s' cannot be deleted because deletion protection is enabled", lbARN))
		_, stderr, err := run(t, "elbv2", "delete-load-balancer", "--load-balancer-arn", lbARN)
		if err == nil || !strings.Contains(stderr, "(OperationNotPermitted)") || !strings.Contains(stderr, "deletion protection is enabled") {
			t.Errorf("err %v, stderr %s", err, stderr)
		}
	})

	t.Run("ec2 describe-subnets", func(t *testing.T) {
		t.Parallel()
		_, stderr, err := run(t, "ec2", "describe-subnets", "--filters", "Name=vpc-id,Values=vpc-1,vpc-2", "Name=tag:kubernetes.io/role/elb,Values=1", "--subnet-ids", "subnet-1")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		got := e.rec.got("DescribeSubnets").(*ec2.DescribeSubnetsInput)
		if len(got.Filters) != 2 || *got.Filters[0].Name != "vpc-id" || strings.Join(got.Filters[0].Values, ",") != "vpc-1,vpc-2" ||
			*got.Filters[1].Name != "tag:kubernetes.io/role/elb" || strings.Join(got.SubnetIds, ",") != "subnet-1" {
			t.Errorf("decoded %+v", got)
		}
	})

	t.Run("acm list-certificates", func(t *testing.T) {
		t.Parallel()
		_, stderr, err := run(t, "acm", "list-certificates", "--includes", "keyTypes=RSA_2048,EC_prime256v1", "--certificate-statuses", "ISSUED")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		got := e.rec.got("ListCertificates").(*acm.ListCertificatesInput)
		if got.Includes == nil || len(got.Includes.KeyTypes) != 2 || got.Includes.KeyTypes[1] != acmtypes.KeyAlgorithmEcPrime256v1 || got.CertificateStatuses[0] != "ISSUED" {
			t.Errorf("decoded %+v", got)
		}
	})

	t.Run("sts get-caller-identity", func(t *testing.T) {
		t.Parallel()
		out, stderr, err := run(t, "sts", "get-caller-identity")
		if err != nil || !strings.Contains(out, `"UserId": "`+testKey+`"`) {
			t.Errorf("%v: %s %s", err, out, stderr)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "aws", "elbv2", "describe-load-balancers", "--endpoint-url", e.srv.URL, "--region", testRegion)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testKey, "AWS_SECRET_ACCESS_KEY=wrong", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "(SignatureDoesNotMatch)") {
			t.Errorf("err %v, output %s", err, out)
		}
	})
}

// TestCurlSigV4 signs a hand-written query request with curl's own SigV4
// implementation.
func TestCurlSigV4(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: .ci/run installs it (apt-get install curl)")
	}
	e := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", "-sS", "--aws-sigv4", "aws:amz:"+testRegion+":elasticloadbalancing", "--user", testKey+":"+testSecret,
		"-H", "Content-Type: application/x-www-form-urlencoded", "-d", "Action=DescribeTargetGroups&Version=2015-12-01&Names.member.1=web", e.srv.URL+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "<DescribeTargetGroupsResponse") {
		t.Errorf("curl got %s", out)
	}
	got := e.rec.got("DescribeTargetGroups").(*elbv2.DescribeTargetGroupsInput)
	if strings.Join(got.Names, ",") != "web" {
		t.Errorf("decoded %+v", got)
	}
}
