package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
)

// TestAWSCLI follows docs/local-elb.md: the AWS CLI pointed at the local
// ELB with --endpoint-url creates and describes load balancers.
func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI (`aws`) is not installed: .ci/run installs it (apt-get install awscli)")
	}
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true})
	aws := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "aws", append(args, "--endpoint-url", env.URL, "--region", "us-east-1", "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return string(out)
	}
	var subnets struct{ Subnets []struct{ SubnetId string } }
	if err := json.Unmarshal([]byte(aws("ec2", "describe-subnets", "--filters", "Name=tag:kubernetes.io/role/elb,Values=1")), &subnets); err != nil || len(subnets.Subnets) != 3 {
		t.Fatalf("public subnets %+v: %v", subnets, err)
	}
	var created struct {
		LoadBalancers []struct{ LoadBalancerArn, DNSName string }
	}
	out := aws("elbv2", "create-load-balancer", "--name", "cli", "--subnets", subnets.Subnets[0].SubnetId, subnets.Subnets[1].SubnetId,
		"--tags", "Key=team,Value=web")
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created.LoadBalancers) != 1 {
		t.Fatalf("create-load-balancer %s: %v", out, err)
	}
	if !strings.HasSuffix(created.LoadBalancers[0].DNSName, ".us-east-1.elb.localhost") {
		t.Errorf("DNS name %s", created.LoadBalancers[0].DNSName)
	}
	var described struct {
		LoadBalancers []struct{ LoadBalancerArn string }
	}
	if err := json.Unmarshal([]byte(aws("elbv2", "describe-load-balancers", "--names", "cli")), &described); err != nil ||
		len(described.LoadBalancers) != 1 || described.LoadBalancers[0].LoadBalancerArn != created.LoadBalancers[0].LoadBalancerArn {
		t.Errorf("describe-load-balancers %+v: %v", described, err)
	}
	var tags struct {
		TagDescriptions []struct{ Tags []struct{ Key, Value string } }
	}
	if err := json.Unmarshal([]byte(aws("elbv2", "describe-tags", "--resource-arns", created.LoadBalancers[0].LoadBalancerArn)), &tags); err != nil ||
		len(tags.TagDescriptions[0].Tags) != 1 || tags.TagDescriptions[0].Tags[0].Value != "web" {
		t.Errorf("describe-tags %+v: %v", tags, err)
	}
}
