package api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func sp(s string) *string { return &s }

func TestResourceOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, action string
		in, out      any
		want         string
	}{
		{"create: the new ARN from the output", "CreateLoadBalancer",
			&elbv2.CreateLoadBalancerInput{Name: sp("web")},
			&elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbtypes.LoadBalancer{{LoadBalancerArn: sp("arn:lb")}}}, "arn:lb"},
		{"create without output: the input's name", "CreateLoadBalancer", &elbv2.CreateLoadBalancerInput{Name: sp("web")}, nil, "web"},
		{"modify: the input ARN", "SetSecurityGroups",
			&elbv2.SetSecurityGroupsInput{LoadBalancerArn: sp("arn:lb"), SecurityGroups: []string{"sg-1"}},
			&elbv2.SetSecurityGroupsOutput{SecurityGroupIds: []string{"sg-1"}}, "arn:lb"},
		{"a list of IDs", "CreateTags", &ec2.CreateTagsInput{Resources: []string{"sg-1", "sg-2", "sg-3", "sg-4"}}, &ec2.CreateTagsOutput{}, "sg-1,sg-2,sg-3,..."},
		{"nested", "RegisterTargets", &elbv2.RegisterTargetsInput{Targets: []elbtypes.TargetDescription{{Id: sp("i-1")}}}, nil, "i-1"},
		{"nothing", "DeleteTags", &ec2.DeleteTagsInput{}, nil, ""},
	}
	for _, tc := range cases {
		if got := resourceOf(tc.action, tc.in, tc.out); got != tc.want {
			t.Errorf("%s: resourceOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
