package awsauthz

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/iampolicy"
)

const elbPrefix = "elasticloadbalancing:"

// elbv2 maps an ELBv2 write call.
func (a *Authorizer) elbv2(ctx context.Context, action string, in any) ([]iampolicy.Request, error) {
	iamAction := elbPrefix + action
	switch in := in.(type) {
	case *elbv2.CreateLoadBalancerInput:
		kind := "app"
		switch in.Type {
		case elbv2types.LoadBalancerTypeEnumNetwork:
			kind = "net"
		case elbv2types.LoadBalancerTypeEnumGateway:
			kind = "gwy"
		}
		return a.create(action, a.elbARN("loadbalancer/"+kind+"/"+aws.ToString(in.Name)+"/*"), elbTags(in.Tags)), nil
	case *elbv2.CreateTargetGroupInput:
		return a.create(action, a.elbARN("targetgroup/"+aws.ToString(in.Name)+"/*"), elbTags(in.Tags)), nil
	case *elbv2.CreateListenerInput:
		// The new listener: listener/TYPE/LB-NAME/LB-ID/*.
		return a.create(action, childARN(aws.ToString(in.LoadBalancerArn), "loadbalancer/", "listener/"), elbTags(in.Tags)), nil
	case *elbv2.CreateRuleInput:
		return a.create(action, childARN(aws.ToString(in.ListenerArn), "listener/", "listener-rule/"), elbTags(in.Tags)), nil
	case *elbv2.CreateTrustStoreInput:
		return a.create(action, a.elbARN("truststore/"+aws.ToString(in.Name)+"/*"), elbTags(in.Tags)), nil
	case *elbv2.AddTagsInput:
		return a.onExisting(ctx, iamAction, in.ResourceArns, requestTags(elbTags(in.Tags)), keyELBResourceTag)
	case *elbv2.RemoveTagsInput:
		var extra map[string][]string
		if len(in.TagKeys) > 0 {
			extra = map[string][]string{keyTagKeys: in.TagKeys}
		}
		return a.onExisting(ctx, iamAction, in.ResourceArns, extra, keyELBResourceTag)
	case *elbv2.SetRulePrioritiesInput:
		var arns []string
		for _, p := range in.RulePriorities {
			arns = append(arns, aws.ToString(p.RuleArn))
		}
		return a.onExisting(ctx, iamAction, arns, nil, keyELBResourceTag)
	}
	arns := stringFields(in, "LoadBalancerArn", "TargetGroupArn", "ListenerArn", "RuleArn", "TrustStoreArn", "ResourceArn")
	if len(arns) == 0 {
		return []iampolicy.Request{{Action: iamAction, Resource: "*"}}, nil
	}
	return a.onExisting(ctx, iamAction, arns[:1], nil, keyELBResourceTag)
}

// create is a create call on the new resource's ARN and, when it carries
// tags, elasticloadbalancing:AddTags on it with the creating operation.
func (a *Authorizer) create(action, arn string, tags map[string]string) []iampolicy.Request {
	out := []iampolicy.Request{{Action: elbPrefix + action, Resource: arn, Context: requestTags(tags)}}
	if len(tags) > 0 {
		c := requestTags(tags)
		c[keyELBCreateAction] = []string{action}
		out = append(out, iampolicy.Request{Action: elbPrefix + "AddTags", Resource: arn, Context: c})
	}
	return out
}

// elbARN is an ELBv2 ARN of this region and account.
func (a *Authorizer) elbARN(resource string) string {
	return "arn:aws:elasticloadbalancing:" + a.cfg.Region + ":" + a.cfg.AccountID + ":" + resource
}

// childARN is the ARN of a new child of a parent ELBv2 resource: the
// parent's ARN with its resource type replaced and "/*" for the new ID
// (a listener of loadbalancer/app/N/ID is listener/app/N/ID/*). A parent
// that is not of the expected type gives its ARN unchanged plus "/*".
func childARN(parent, from, to string) string {
	if i := strings.Index(parent, ":"+from); i >= 0 {
		return parent[:i+1] + to + parent[i+1+len(from):] + "/*"
	}
	return parent + "/*"
}

func elbTags(tags []elbv2types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		if k := aws.ToString(t.Key); k != "" {
			out[k] = aws.ToString(t.Value)
		}
	}
	return out
}
