package iampolicy

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not json", `{`, "not a JSON object"},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"empty statements", `{"Version":"2012-10-17","Statement":[]}`, "empty"},
		{"bad version", `{"Version":"2020-01-01","Statement":[]}`, "Version"},
		{"unknown top element", `{"Version":"2012-10-17","Foo":1,"Statement":[]}`, `"Foo"`},
		{"bad effect", `{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}`, "Effect"},
		{"no action", `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "no Action"},
		{"both actions", `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}`, "both Action and NotAction"},
		{"no resource", `{"Statement":{"Effect":"Allow","Action":"*"}}`, "no Resource"},
		{"both resources", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}`, "both Resource"},
		{"principal", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "principal"},
		{"bad action", `{"Statement":{"Effect":"Allow","Action":"CreateLoadBalancer","Resource":"*"}}`, "service:Operation"},
		{"bad resource", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"sg-1"}}`, "ARN pattern"},
		{"variable in resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"arn:aws:ec2:*:*:security-group/${aws:username}"}}`, "policy variables"},
		{"variable in value", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}}}`, "policy variables"},
		{"numeric operator", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"NumericLessThan":{"ec2:VolumeSize":"10"}}}}`, "not supported"},
		{"ip operator", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, "not supported"},
		{"bad qualifier", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}}}`, "qualifier"},
		{"null with qualifier", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"ForAnyValue:Null":{"aws:TagKeys":"true"}}}}`, "Null takes no qualifier"},
		{"null value", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"Null":{"aws:RequestTag/a":"yes"}}}}`, "want true or false"},
		{"bad key", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"RequestTag":"a"}}}}`, "service:name"},
		{"empty values", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/a":[]}}}}`, "empty array"},
		{"object value", `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/a":{"x":1}}}}}`, "want a string"},
		{"duplicate sid", `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}]}`, "used twice"},
		{"trailing", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{
			"StringEquals":{"ec2:CreateAction":"CreateSecurityGroup"},
			"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"false"}}},
		{"Effect":"Allow","Action":"ec2:DeleteTags","Resource":"*","Condition":{
			"Null":{"AWS:RequestTag/elbv2.k8s.aws/cluster":"true","aws:ResourceTag/elbv2.k8s.aws/cluster":"false"}}}]}`)
	got := strings.Join(p.Keys(), " ")
	if got != "aws:RequestTag/elbv2.k8s.aws/cluster aws:ResourceTag/elbv2.k8s.aws/cluster ec2:CreateAction" {
		t.Errorf("Keys() = %s", got)
	}
}

const lbARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/k8s-default-web-0123456789/50dc6c495c0c9188"

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		req    Request
		want   Decision
	}{
		{
			name:   "allow by wildcard action, case-insensitive",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:Describe*","Resource":"*"}}`,
			req:    Request{Action: "elasticloadbalancing:DESCRIBELoadBalancers", Resource: "*"},
			want:   Allowed,
		},
		{
			name:   "other service is not allowed",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:Describe*","Resource":"*"}}`,
			req:    Request{Action: "ec2:DescribeSubnets", Resource: "*"},
			want:   ImplicitDeny,
		},
		{
			name:   "question mark is one character",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:?escribeVpcs","Resource":"*"}}`,
			req:    Request{Action: "ec2:DescribeVpcs", Resource: "*"},
			want:   Allowed,
		},
		{
			name: "explicit deny wins over allow",
			policy: `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
				{"Effect":"Deny","Action":"elasticloadbalancing:DeleteLoadBalancer","Resource":"*"}]}`,
			req:  Request{Action: "elasticloadbalancing:DeleteLoadBalancer", Resource: lbARN},
			want: ExplicitDeny,
		},
		{
			name:   "NotAction allows the rest",
			policy: `{"Statement":{"Effect":"Allow","NotAction":"elasticloadbalancing:Delete*","Resource":"*"}}`,
			req:    Request{Action: "elasticloadbalancing:DeleteLoadBalancer", Resource: lbARN},
			want:   ImplicitDeny,
		},
		{
			name:   "resource pattern per segment",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*"}}`,
			req:    Request{Action: "elasticloadbalancing:SetSubnets", Resource: lbARN},
			want:   Allowed,
		},
		{
			name:   "resource pattern of another type",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*"}}`,
			req:    Request{Action: "elasticloadbalancing:SetSubnets", Resource: lbARN},
			want:   ImplicitDeny,
		},
		{
			name:   "another region",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"arn:aws:elasticloadbalancing:us-west-2:*:loadbalancer/app/*/*"}}`,
			req:    Request{Action: "elasticloadbalancing:SetSubnets", Resource: lbARN},
			want:   ImplicitDeny,
		},
		{
			name:   "a star in the resource segment spans slashes",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"arn:aws:elasticloadbalancing:*:*:loadbalancer/*"}}`,
			req:    Request{Action: "elasticloadbalancing:SetSubnets", Resource: lbARN},
			want:   Allowed,
		},
		{
			name:   "a star in the region segment does not span colons",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"arn:aws:elasticloadbalancing:*:loadbalancer/app/x:*"}}`,
			req:    Request{Action: "elasticloadbalancing:SetSubnets", Resource: "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x:y"},
			want:   ImplicitDeny,
		},
		{
			name:   "a request on * does not match an ARN pattern",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*"}}`,
			req:    Request{Action: "elasticloadbalancing:DescribeLoadBalancers", Resource: "*"},
			want:   ImplicitDeny,
		},
		{
			name:   "NotResource",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:*","NotResource":"arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"}}`,
			req:    Request{Action: "elasticloadbalancing:SetSubnets", Resource: lbARN},
			want:   Allowed,
		},
		{
			name:   "Null false needs the key",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:CreateLoadBalancer","Resource":"*","Condition":{"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"false"}}}}`,
			req:    Request{Action: "elasticloadbalancing:CreateLoadBalancer", Resource: "*", Context: map[string][]string{"aws:RequestTag/Name": {"x"}}},
			want:   ImplicitDeny,
		},
		{
			name:   "Null false with the key, key names case-insensitive",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:CreateLoadBalancer","Resource":"*","Condition":{"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"false"}}}}`,
			req:    Request{Action: "elasticloadbalancing:CreateLoadBalancer", Resource: "*", Context: map[string][]string{"AWS:REQUESTTAG/ELBV2.K8S.AWS/CLUSTER": {"prod"}}},
			want:   Allowed,
		},
		{
			name: "Null true and false together (tags on a tagged resource, not the cluster tag)",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"Null":{
				"aws:RequestTag/elbv2.k8s.aws/cluster":"true","aws:ResourceTag/elbv2.k8s.aws/cluster":"false"}}}}`,
			req: Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{
				"aws:RequestTag/elbv2.k8s.aws/cluster": {"other"}, "aws:ResourceTag/elbv2.k8s.aws/cluster": {"prod"}}},
			want: ImplicitDeny,
		},
		{
			name:   "StringEquals one of the values",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringEquals":{"elasticloadbalancing:CreateAction":["CreateTargetGroup","CreateLoadBalancer"]}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{"elasticloadbalancing:CreateAction": {"CreateLoadBalancer"}}},
			want:   Allowed,
		},
		{
			name:   "StringEquals is case-sensitive",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringEquals":{"elasticloadbalancing:CreateAction":"CreateLoadBalancer"}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{"elasticloadbalancing:CreateAction": {"createloadbalancer"}}},
			want:   ImplicitDeny,
		},
		{
			name:   "StringEqualsIgnoreCase",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"elasticloadbalancing:CreateAction":"CreateLoadBalancer"}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{"elasticloadbalancing:CreateAction": {"createloadbalancer"}}},
			want:   Allowed,
		},
		{
			name:   "StringEquals on a missing key fails",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringEquals":{"elasticloadbalancing:CreateAction":"CreateLoadBalancer"}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN},
			want:   ImplicitDeny,
		},
		{
			name:   "StringNotEquals on a missing key holds",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringNotEquals":{"aws:ResourceTag/env":"prod"}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN},
			want:   Allowed,
		},
		{
			name:   "StringNotEquals with a matching value fails",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringNotEquals":{"aws:ResourceTag/env":["prod","staging"]}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{"aws:ResourceTag/env": {"staging"}}},
			want:   ImplicitDeny,
		},
		{
			name:   "StringEqualsIfExists on a missing key holds",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:ResourceTag/env":"prod"}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN},
			want:   Allowed,
		},
		{
			name:   "StringEqualsIfExists with another value fails",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:ResourceTag/env":"prod"}}}}`,
			req:    Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{"aws:ResourceTag/env": {"dev"}}},
			want:   ImplicitDeny,
		},
		{
			name:   "StringLike",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"StringLike":{"aws:RequestTag/ingress.k8s.aws/stack":"default/*"}}}}`,
			req:    Request{Action: "ec2:CreateTags", Resource: "*", Context: map[string][]string{"aws:RequestTag/ingress.k8s.aws/stack": {"default/web"}}},
			want:   Allowed,
		},
		{
			name:   "StringNotLike",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"StringNotLike":{"aws:RequestTag/ingress.k8s.aws/stack":"kube-system/*"}}}}`,
			req:    Request{Action: "ec2:CreateTags", Resource: "*", Context: map[string][]string{"aws:RequestTag/ingress.k8s.aws/stack": {"kube-system/x"}}},
			want:   ImplicitDeny,
		},
		{
			name:   "ForAnyValue on tag keys",
			policy: `{"Statement":{"Effect":"Deny","Action":"ec2:DeleteTags","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["elbv2.k8s.aws/cluster"]}}}}`,
			req:    Request{Action: "ec2:DeleteTags", Resource: "*", Context: map[string][]string{"aws:TagKeys": {"Name", "elbv2.k8s.aws/cluster"}}},
			want:   ExplicitDeny,
		},
		{
			name:   "ForAnyValue on a missing key fails",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:DeleteTags","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["Name"]}}}}`,
			req:    Request{Action: "ec2:DeleteTags", Resource: "*"},
			want:   ImplicitDeny,
		},
		{
			name:   "ForAllValues: every key allowed",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["Name","kubernetes.io/*"]}}}}`,
			req:    Request{Action: "ec2:CreateTags", Resource: "*", Context: map[string][]string{"aws:TagKeys": {"Name", "kubernetes.io/role/elb"}}},
			want:   Allowed,
		},
		{
			name:   "ForAllValues: one key outside",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["Name","kubernetes.io/*"]}}}}`,
			req:    Request{Action: "ec2:CreateTags", Resource: "*", Context: map[string][]string{"aws:TagKeys": {"Name", "owner"}}},
			want:   ImplicitDeny,
		},
		{
			name:   "ForAllValues on a missing key holds",
			policy: `{"Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Name"]}}}}`,
			req:    Request{Action: "ec2:CreateTags", Resource: "*"},
			want:   Allowed,
		},
		{
			name:   "ArnLike",
			policy: `{"Statement":{"Effect":"Allow","Action":"shield:CreateProtection","Resource":"*","Condition":{"ArnLike":{"shield:ResourceArn":"arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*"}}}}`,
			req:    Request{Action: "shield:CreateProtection", Resource: "*", Context: map[string][]string{"shield:ResourceArn": {lbARN}}},
			want:   Allowed,
		},
		{
			name:   "Bool",
			policy: `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}}`,
			req:    Request{Action: "ec2:DescribeVpcs", Resource: "*", Context: map[string][]string{"aws:SecureTransport": {"false"}}},
			want:   ExplicitDeny,
		},
		{
			name: "every condition must hold",
			policy: `{"Statement":{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":"*","Condition":{
				"StringEquals":{"elasticloadbalancing:CreateAction":"CreateLoadBalancer"},
				"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"false"}}}}`,
			req:  Request{Action: "elasticloadbalancing:AddTags", Resource: lbARN, Context: map[string][]string{"elasticloadbalancing:CreateAction": {"CreateLoadBalancer"}}},
			want: ImplicitDeny,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			if got := p.Evaluate(tc.req); got.Decision != tc.want {
				t.Errorf("Evaluate = %v, want %v", got.Decision, tc.want)
			}
		})
	}
}

func TestEvaluateNamesStatement(t *testing.T) {
	p := mustParse(t, `{"Statement":[
		{"Sid":"Read","Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
		{"Effect":"Deny","Action":"ec2:DescribeVpcs","Resource":"*"}]}`)
	r := p.Evaluate(Request{Action: "ec2:DescribeSubnets", Resource: "*"})
	if r.Decision != Allowed || r.Statement == nil || r.Statement.Name() != "Read" {
		t.Errorf("allowed by %+v", r.Statement)
	}
	r = p.Evaluate(Request{Action: "ec2:DescribeVpcs", Resource: "*"})
	if r.Decision != ExplicitDeny || r.Statement == nil || r.Statement.Name() != "statement 2" {
		t.Errorf("denied by %+v", r.Statement)
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"", "", true},
		{"*", "", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "ac", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"ab", "abc", false},
		{"é?", "éü", true},
		{"**", "x", true},
	} {
		if got := glob(tc.p, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
