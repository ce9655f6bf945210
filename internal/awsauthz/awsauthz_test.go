package awsauthz

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elbowlb/elbow/internal/iampolicy"
)

const (
	region  = "us-east-1"
	account = "000000000000"
	ownLB   = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/k8s-default-web-1234567890/50dc6c495c0c9188"
	otherLB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/not-ours/60dc6c495c0c9188"
	ownTG   = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/k8s-default-web-1234567890/73e2d6bc24d8a067"
	ownCert = "arn:aws:acm:us-east-1:000000000000:certificate/0f4a9d1e-5b6c-4d7e-8f90-a1b2c3d4e5f6"
	other   = "arn:aws:acm:us-east-1:000000000000:certificate/1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0"
)

var clusterTag = map[string]string{"elbv2.k8s.aws/cluster": "prod", "ingress.k8s.aws/stack": "default/web"}

var tags = map[string]map[string]string{
	ownLB:        clusterTag,
	ownTG:        clusterTag,
	"sg-owned":   clusterTag,
	"sg-foreign": {"Name": "nodes"},
	otherLB:      {"team": "x"},
	ownCert:      clusterTag,
	other:        {"team": "x"},
}

func shippedPolicy(t *testing.T) *iampolicy.Policy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "install", "iam_policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iampolicy.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func authorizer(t *testing.T, p *iampolicy.Policy) *Authorizer {
	t.Helper()
	a, err := New(Config{Policy: p, Region: region, AccountID: account, Tags: func(_ context.Context, r string) (map[string]string, error) {
		return tags[r], nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func elbTagList(m map[string]string) []elbv2types.Tag {
	var out []elbv2types.Tag
	for k, v := range m {
		out = append(out, elbv2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func acmTagList(m map[string]string) []acmtypes.Tag {
	var out []acmtypes.Tag
	for k, v := range m {
		out = append(out, acmtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func ec2TagList(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for k, v := range m {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

// TestShippedPolicy checks docs/install/iam_policy.json against the calls
// the controller makes: allowed on what carries the cluster tag, refused
// on what does not.
func TestShippedPolicy(t *testing.T) {
	a := authorizer(t, shippedPolicy(t))
	for _, tc := range []struct {
		name    string
		service string
		action  string
		in      any
		denied  string // the refused IAM action, "" when allowed
	}{
		{"describe", "elasticloadbalancing", "DescribeLoadBalancers", &elbv2.DescribeLoadBalancersInput{}, ""},
		{"create ALB tagged for the cluster", "elasticloadbalancing", "CreateLoadBalancer",
			&elbv2.CreateLoadBalancerInput{Name: aws.String("k8s-default-web-1234567890"), Tags: elbTagList(clusterTag)}, ""},
		{"create NLB tagged for the cluster", "elasticloadbalancing", "CreateLoadBalancer",
			&elbv2.CreateLoadBalancerInput{Name: aws.String("n"), Type: elbv2types.LoadBalancerTypeEnumNetwork, Tags: elbTagList(clusterTag)}, ""},
		{"create ALB without the cluster tag", "elasticloadbalancing", "CreateLoadBalancer",
			&elbv2.CreateLoadBalancerInput{Name: aws.String("x"), Tags: elbTagList(map[string]string{"team": "x"})}, "elasticloadbalancing:CreateLoadBalancer"},
		{"create gateway LB (tagging it is not granted)", "elasticloadbalancing", "CreateLoadBalancer",
			&elbv2.CreateLoadBalancerInput{Name: aws.String("g"), Type: elbv2types.LoadBalancerTypeEnumGateway, Tags: elbTagList(clusterTag)}, "elasticloadbalancing:AddTags"},
		{"create target group", "elasticloadbalancing", "CreateTargetGroup",
			&elbv2.CreateTargetGroupInput{Name: aws.String("k8s-default-web-1234567890"), Tags: elbTagList(clusterTag)}, ""},
		{"create tagged listener", "elasticloadbalancing", "CreateListener",
			&elbv2.CreateListenerInput{LoadBalancerArn: aws.String(ownLB), Tags: elbTagList(clusterTag)}, ""},
		{"create tagged rule", "elasticloadbalancing", "CreateRule",
			&elbv2.CreateRuleInput{ListenerArn: aws.String(strings.Replace(ownLB, "loadbalancer/", "listener/", 1) + "/aaa"), Tags: elbTagList(clusterTag)}, ""},
		{"change own LB", "elasticloadbalancing", "SetSubnets", &elbv2.SetSubnetsInput{LoadBalancerArn: aws.String(ownLB)}, ""},
		{"change someone else's LB", "elasticloadbalancing", "SetSubnets", &elbv2.SetSubnetsInput{LoadBalancerArn: aws.String(otherLB)}, "elasticloadbalancing:SetSubnets"},
		{"delete someone else's LB", "elasticloadbalancing", "DeleteLoadBalancer", &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(otherLB)}, "elasticloadbalancing:DeleteLoadBalancer"},
		{"retag own LB", "elasticloadbalancing", "AddTags",
			&elbv2.AddTagsInput{ResourceArns: []string{ownLB}, Tags: elbTagList(map[string]string{"team": "y"})}, ""},
		{"claim someone else's LB", "elasticloadbalancing", "AddTags",
			&elbv2.AddTagsInput{ResourceArns: []string{otherLB}, Tags: elbTagList(map[string]string{"elbv2.k8s.aws/cluster": "prod"})}, "elasticloadbalancing:AddTags"},
		{"register targets", "elasticloadbalancing", "RegisterTargets", &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(ownTG)}, ""},
		{"create SG tagged for the cluster", "ec2", "CreateSecurityGroup", &ec2.CreateSecurityGroupInput{
			GroupName: aws.String("k8s-x"), VpcId: aws.String("vpc-1"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: ec2TagList(clusterTag)}}}, ""},
		{"create untagged SG", "ec2", "CreateSecurityGroup", &ec2.CreateSecurityGroupInput{GroupName: aws.String("x"), VpcId: aws.String("vpc-1")}, "ec2:CreateSecurityGroup"},
		{"open own SG", "ec2", "AuthorizeSecurityGroupIngress", &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-owned")}, ""},
		{"open the nodes' SG", "ec2", "AuthorizeSecurityGroupIngress", &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-foreign")}, "ec2:AuthorizeSecurityGroupIngress"},
		{"delete own SG", "ec2", "DeleteSecurityGroup", &ec2.DeleteSecurityGroupInput{GroupId: aws.String("sg-owned")}, ""},
		{"tag own SG", "ec2", "CreateTags", &ec2.CreateTagsInput{Resources: []string{"sg-owned"}, Tags: ec2TagList(map[string]string{"team": "y"})}, ""},
		{"claim the nodes' SG", "ec2", "CreateTags", &ec2.CreateTagsInput{Resources: []string{"sg-foreign"}, Tags: ec2TagList(map[string]string{"elbv2.k8s.aws/cluster": "prod"})}, "ec2:CreateTags"},
		{"untag own SG's cluster tag", "ec2", "DeleteTags", &ec2.DeleteTagsInput{Resources: []string{"sg-owned"}, Tags: ec2TagList(map[string]string{"elbv2.k8s.aws/cluster": ""})}, "ec2:DeleteTags"},
		{"import a certificate tagged for the cluster", "acm", "ImportCertificate",
			&acm.ImportCertificateInput{Certificate: []byte("c"), PrivateKey: []byte("k"), Tags: acmTagList(clusterTag)}, ""},
		{"import an untagged certificate", "acm", "ImportCertificate",
			&acm.ImportCertificateInput{Certificate: []byte("c"), PrivateKey: []byte("k")}, "acm:ImportCertificate"},
		{"re-import own certificate", "acm", "ImportCertificate", &acm.ImportCertificateInput{CertificateArn: aws.String(ownCert)}, ""},
		{"re-import someone else's certificate", "acm", "ImportCertificate", &acm.ImportCertificateInput{CertificateArn: aws.String(other)}, "acm:ImportCertificate"},
		{"retag own certificate", "acm", "AddTagsToCertificate",
			&acm.AddTagsToCertificateInput{CertificateArn: aws.String(ownCert), Tags: acmTagList(map[string]string{"team": "y"})}, ""},
		{"untag own certificate", "acm", "RemoveTagsFromCertificate",
			&acm.RemoveTagsFromCertificateInput{CertificateArn: aws.String(ownCert), Tags: acmTagList(map[string]string{"team": ""})}, ""},
		{"retag someone else's certificate", "acm", "AddTagsToCertificate",
			&acm.AddTagsToCertificateInput{CertificateArn: aws.String(other), Tags: acmTagList(map[string]string{"team": "y"})}, "acm:AddTagsToCertificate"},
		{"list a certificate's tags", "acm", "ListTagsForCertificate", &acm.ListTagsForCertificateInput{CertificateArn: aws.String(other)}, ""},
		{"delete own certificate", "acm", "DeleteCertificate", &acm.DeleteCertificateInput{CertificateArn: aws.String(ownCert)}, ""},
		{"delete someone else's certificate", "acm", "DeleteCertificate", &acm.DeleteCertificateInput{CertificateArn: aws.String(other)}, "acm:DeleteCertificate"},
		{"caller identity needs no permission", "sts", "GetCallerIdentity", &sts.GetCallerIdentityInput{}, ""},
		{"a call the policy leaves out", "elasticloadbalancing", "SetWebAcl", &elbv2.DescribeSSLPoliciesInput{}, "elasticloadbalancing:SetWebAcl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := a.Authorize(context.Background(), tc.service, tc.action, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.denied == "" && d != nil:
				t.Errorf("denied: %s", d.Message())
			case tc.denied != "" && d == nil:
				t.Errorf("allowed, want %s denied", tc.denied)
			case tc.denied != "" && d.Action != tc.denied:
				t.Errorf("denied %s, want %s denied", d.Action, tc.denied)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	a := authorizer(t, shippedPolicy(t))
	reqs, err := a.Requests(context.Background(), "elasticloadbalancing", "CreateLoadBalancer",
		&elbv2.CreateLoadBalancerInput{Name: aws.String("web"), Type: elbv2types.LoadBalancerTypeEnumNetwork, Tags: elbTagList(map[string]string{"a": "1"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want CreateLoadBalancer and AddTags", len(reqs))
	}
	want := "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/web/*"
	for _, r := range reqs {
		if r.Resource != want {
			t.Errorf("%s on %s, want %s", r.Action, r.Resource, want)
		}
		if got := r.Context["aws:RequestTag/a"]; len(got) != 1 || got[0] != "1" {
			t.Errorf("%s: request tag %v", r.Action, got)
		}
	}
	if got := reqs[1].Context["elasticloadbalancing:CreateAction"]; reqs[1].Action != "elasticloadbalancing:AddTags" || len(got) != 1 || got[0] != "CreateLoadBalancer" {
		t.Errorf("second request %s with CreateAction %v", reqs[1].Action, got)
	}

	reqs, err = a.Requests(context.Background(), "acm", "ImportCertificate",
		&acm.ImportCertificateInput{Certificate: []byte("c"), PrivateKey: []byte("k"), Tags: acmTagList(map[string]string{"a": "1"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Action != "acm:ImportCertificate" || reqs[1].Action != "acm:AddTagsToCertificate" {
		t.Fatalf("tagged import requests %+v, want ImportCertificate and AddTagsToCertificate", reqs)
	}
	for _, r := range reqs {
		if r.Resource != "arn:aws:acm:us-east-1:000000000000:certificate/*" {
			t.Errorf("%s on %s", r.Action, r.Resource)
		}
		if got := r.Context["aws:RequestTag/a"]; len(got) != 1 || got[0] != "1" {
			t.Errorf("%s: request tag %v", r.Action, got)
		}
	}

	reqs, err = a.Requests(context.Background(), "elasticloadbalancing", "CreateRule",
		&elbv2.CreateRuleInput{ListenerArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/50dc/f2f7")})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Resource != "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/web/50dc/f2f7/*" {
		t.Errorf("CreateRule requests %+v", reqs)
	}

	reqs, err = a.Requests(context.Background(), "ec2", "DeleteTags", &ec2.DeleteTagsInput{Resources: []string{"sg-owned", "subnet-1"}, Tags: ec2TagList(map[string]string{"x": ""})})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Resource != "arn:aws:ec2:us-east-1:000000000000:security-group/sg-owned" || reqs[1].Resource != "arn:aws:ec2:us-east-1:000000000000:subnet/subnet-1" {
		t.Fatalf("DeleteTags requests %+v", reqs)
	}
	if got := reqs[0].Context["aws:ResourceTag/elbv2.k8s.aws/cluster"]; len(got) != 1 || got[0] != "prod" {
		t.Errorf("resource tag %v", got)
	}
	if got := reqs[0].Context["ec2:ResourceTag/elbv2.k8s.aws/cluster"]; len(got) != 1 || got[0] != "prod" {
		t.Errorf("ec2 resource tag %v", got)
	}
	if got := reqs[0].Context["aws:TagKeys"]; len(got) != 1 || got[0] != "x" {
		t.Errorf("tag keys %v", got)
	}
}

func TestDenialMessage(t *testing.T) {
	p, err := iampolicy.Parse([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:*","Resource":"*"},
		{"Sid":"NoDelete","Effect":"Deny","Action":"ec2:DeleteSecurityGroup","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := authorizer(t, p)
	d, err := a.Authorize(context.Background(), "ec2", "DeleteSecurityGroup", &ec2.DeleteSecurityGroupInput{GroupId: aws.String("sg-owned")})
	if err != nil || d == nil {
		t.Fatalf("%v %v", d, err)
	}
	want := "User: arn:aws:iam::000000000000:user/elbow is not authorized to perform: ec2:DeleteSecurityGroup on resource: arn:aws:ec2:us-east-1:000000000000:security-group/sg-owned with an explicit deny in an identity-based policy"
	if d.Message() != want || d.Statement != "NoDelete" {
		t.Errorf("message %q (statement %s)\nwant    %q", d.Message(), d.Statement, want)
	}
	d, _ = a.Authorize(context.Background(), "elasticloadbalancing", "DeleteLoadBalancer", &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(ownLB)})
	if d == nil || !strings.HasSuffix(d.Message(), "because no identity-based policy allows the elasticloadbalancing:DeleteLoadBalancer action") {
		t.Errorf("implicit denial %+v", d)
	}
}

func TestNewRefusesUnsupportedKeys(t *testing.T) {
	p, err := iampolicy.Parse([]byte(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Policy: p, Region: region, AccountID: account, Tags: func(context.Context, string) (map[string]string, error) { return nil, nil }})
	if err == nil || !strings.Contains(err.Error(), "aws:SourceVpc") {
		t.Errorf("New: %v", err)
	}
	for _, k := range []string{"aws:requesttag/x", "AWS:TagKeys", "elasticloadbalancing:CreateAction", "ec2:ResourceTag/Name"} {
		if !SupportedKey(k) {
			t.Errorf("%s not supported", k)
		}
	}
	if SupportedKey("aws:RequestTag/") {
		t.Error("aws:RequestTag/ without a tag key is supported")
	}
}
