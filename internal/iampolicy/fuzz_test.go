package iampolicy

import (
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse and evaluates whatever
// parses: neither may panic, and a parsed policy decides every request.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
		`{"Statement":[{"Sid":"a","Effect":"Deny","NotAction":["ec2:*"],"NotResource":"arn:aws:ec2:*:*:vpc/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:AddTags","Resource":["arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"],"Condition":{"StringEquals":{"elasticloadbalancing:CreateAction":["CreateTargetGroup"]},"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"false"}}}]}`,
		`{"Statement":{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ForAllValues:StringLikeIfExists":{"aws:TagKeys":["a*",1,true]}}}}`,
		`{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"NumericEquals":{"a:b":1}}}}`,
		`[]`, `{`, `{"Statement":null}`,
	} {
		f.Add([]byte(seed), "ec2:CreateTags", "arn:aws:ec2:us-east-1:000000000000:security-group/sg-1", "aws:TagKeys", "Name")
	}
	f.Fuzz(func(t *testing.T, doc []byte, action, resource, key, value string) {
		p, err := Parse(doc)
		if err != nil {
			if p != nil {
				t.Fatal("a policy and an error")
			}
			return
		}
		_ = p.Keys()
		r := p.Evaluate(Request{Action: action, Resource: resource, Context: map[string][]string{key: {value}}})
		if r.Decision == ImplicitDeny && r.Statement != nil {
			t.Fatal("implicit deny names a statement")
		}
		if r.Decision != ImplicitDeny && r.Statement == nil {
			t.Fatal("a decision without its statement")
		}
	})
}
