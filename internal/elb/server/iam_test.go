package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/elbtest"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/iampolicy"
)

const iamTestPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["elasticloadbalancing:Describe*", "ec2:Describe*"], "Resource": "*"},
    {"Effect": "Allow", "Action": "elasticloadbalancing:CreateLoadBalancer", "Resource": "*",
     "Condition": {"Null": {"aws:RequestTag/owner": "false"}}},
    {"Effect": "Allow", "Action": "elasticloadbalancing:AddTags", "Resource": "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
     "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": "CreateLoadBalancer"}}},
    {"Sid": "NoSecurityGroups", "Effect": "Deny", "Action": "ec2:CreateSecurityGroup", "Resource": "*"},
    {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}
  ]
}`

// TestIAMPolicy: requests signed with a principal's key are decided by its
// policy and refused with each protocol's access-denied error and IAM's
// message, before anything changes; the unrestricted key is unaffected.
func TestIAMPolicy(t *testing.T) {
	p, err := iampolicy.Parse([]byte(iamTestPolicy))
	if err != nil {
		t.Fatal(err)
	}
	env := elbtest.StartWith(t, elbtest.Options{NoDataPlanes: true, Principals: []server.Principal{
		{Name: "controller", AccessKeyID: "AKIDCONTROLLER", SecretAccessKey: "controller-secret", Policy: p},
	}})
	ctx := context.Background()
	cfg := env.Config.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDCONTROLLER", "controller-secret", "")
	cfg.RetryMaxAttempts = 1
	elb := elasticloadbalancingv2.NewFromConfig(cfg)
	ec := ec2.NewFromConfig(cfg)

	if _, err := elb.DescribeLoadBalancers(ctx, &elasticloadbalancingv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatalf("allowed Describe: %v", err)
	}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity needs no permission: %v", err)
	}

	_, err = elb.CreateLoadBalancer(ctx, &elasticloadbalancingv2.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: env.PublicSubnets()[:2]})
	checkDenied(t, err, "AccessDenied", 403, "User: arn:aws:iam::000000000000:user/controller is not authorized to perform: elasticloadbalancing:CreateLoadBalancer on resource: arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/* because no identity-based policy allows the elasticloadbalancing:CreateLoadBalancer action")
	out, err := env.ELBv2.DescribeLoadBalancers(ctx, &elasticloadbalancingv2.DescribeLoadBalancersInput{})
	if err != nil || len(out.LoadBalancers) != 0 {
		t.Fatalf("a denied CreateLoadBalancer left %d load balancers (%v)", len(out.LoadBalancers), err)
	}

	if _, err := elb.CreateLoadBalancer(ctx, &elasticloadbalancingv2.CreateLoadBalancerInput{
		Name: aws.String("web"), Subnets: env.PublicSubnets()[:2],
		Tags: []elbv2types.Tag{{Key: aws.String("owner"), Value: aws.String("team-a")}},
	}); err != nil {
		t.Fatalf("CreateLoadBalancer with the owner tag: %v", err)
	}

	_, err = ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), VpcId: aws.String(env.VpcID())})
	checkDenied(t, err, "UnauthorizedOperation", 403, "You are not authorized to perform this operation. User: arn:aws:iam::000000000000:user/controller is not authorized to perform: ec2:CreateSecurityGroup on resource: arn:aws:ec2:us-east-1:000000000000:security-group/* with an explicit deny in an identity-based policy")

	_, err = acm.NewFromConfig(cfg).ListCertificates(ctx, &acm.ListCertificatesInput{})
	checkDenied(t, err, "AccessDeniedException", 400, "User: arn:aws:iam::000000000000:user/controller is not authorized to perform: acm:ListCertificates on resource: * because no identity-based policy allows the acm:ListCertificates action")

	// The development credentials have no policy.
	if _, err := env.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), Description: aws.String("x"), VpcId: aws.String(env.VpcID())}); err != nil {
		t.Fatalf("CreateSecurityGroup with the unrestricted credentials: %v", err)
	}
}

func checkDenied(t *testing.T, err error, code string, status int, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || ae.ErrorMessage() != message {
		t.Errorf("%s: %q\nwant %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, message)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("HTTP status of %s: %v, want %d", code, err, status)
	}
}

// TestIAMPolicyRefusedAtStart: a policy whose condition keys the local ELB
// cannot evaluate stops the server from starting, naming the key.
func TestIAMPolicyRefusedAtStart(t *testing.T) {
	p, err := iampolicy.Parse([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(server.Config{Listen: "127.0.0.1:0", StateDir: t.TempDir(), NoDataPlanes: true, IAMPolicy: p})
	if err == nil || !strings.Contains(err.Error(), "aws:SourceVpce") {
		t.Errorf("server.New: %v, want an error naming aws:SourceVpce", err)
	}
}
