package awsauthz

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/iampolicy"
)

const ec2Prefix = "ec2:"

// ec2 maps an EC2 write call.
func (a *Authorizer) ec2(ctx context.Context, action string, in any) ([]iampolicy.Request, error) {
	iamAction := ec2Prefix + action
	switch in := in.(type) {
	case *ec2.CreateSecurityGroupInput:
		tags := ec2Tags(in.TagSpecifications, ec2types.ResourceTypeSecurityGroup)
		sg := a.ec2ARN("security-group/*")
		out := []iampolicy.Request{{Action: iamAction, Resource: sg, Context: requestTags(tags)}}
		// The VPC it goes in (the default VPC's ID is not known here).
		vpcID, vpc := aws.ToString(in.VpcId), a.ec2ARN("vpc/*")
		if vpcID != "" {
			vpc = a.ec2ARN("vpc/" + vpcID)
		}
		vpcReqs, err := a.onExisting(ctx, iamAction, []string{vpcID}, nil, keyEC2ResourceTag, func(string) string { return vpc })
		if err != nil {
			return nil, err
		}
		out = append(out, vpcReqs...)
		if len(tags) > 0 {
			c := requestTags(tags)
			c[keyEC2CreateAction] = []string{action}
			out = append(out, iampolicy.Request{Action: ec2Prefix + "CreateTags", Resource: sg, Context: c})
		}
		return out, nil
	case *ec2.CreateTagsInput:
		return a.onExisting(ctx, iamAction, in.Resources, requestTags(ec2TagMap(in.Tags)), keyEC2ResourceTag, a.ec2ResourceARN)
	case *ec2.DeleteTagsInput:
		return a.onExisting(ctx, iamAction, in.Resources, requestTags(ec2TagMap(in.Tags)), keyEC2ResourceTag, a.ec2ResourceARN)
	}
	ids := stringFields(in, "GroupId", "AllocationId", "InstanceId", "NetworkInterfaceId", "SubnetId", "VpcId")
	if len(ids) == 0 {
		return []iampolicy.Request{{Action: iamAction, Resource: "*"}}, nil
	}
	return a.onExisting(ctx, iamAction, ids[:1], nil, keyEC2ResourceTag, a.ec2ResourceARN)
}

// ec2ARN is an EC2 ARN of this region and account.
func (a *Authorizer) ec2ARN(resource string) string {
	return "arn:aws:ec2:" + a.cfg.Region + ":" + a.cfg.AccountID + ":" + resource
}

// ec2ResourceTypes maps EC2 ID prefixes to ARN resource types.
var ec2ResourceTypes = []struct{ prefix, typ string }{
	{"sg-", "security-group"},
	{"sgr-", "security-group-rule"},
	{"vpc-", "vpc"},
	{"subnet-", "subnet"},
	{"i-", "instance"},
	{"eni-", "network-interface"},
	{"eipalloc-", "elastic-ip"},
	{"rtb-", "route-table"},
}

// ec2ResourceARN is the ARN of an EC2 resource ID (an ARN given stays).
func (a *Authorizer) ec2ResourceARN(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	for _, t := range ec2ResourceTypes {
		if strings.HasPrefix(id, t.prefix) {
			return a.ec2ARN(t.typ + "/" + id)
		}
	}
	return a.ec2ARN("*/" + id)
}

// ec2Tags are the tags of the TagSpecifications for one resource type.
func ec2Tags(specs []ec2types.TagSpecification, typ ec2types.ResourceType) map[string]string {
	out := map[string]string{}
	for _, s := range specs {
		if s.ResourceType == typ {
			for k, v := range ec2TagMap(s.Tags) {
				out[k] = v
			}
		}
	}
	return out
}

func ec2TagMap(tags []ec2types.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		if k := aws.ToString(t.Key); k != "" {
			out[k] = aws.ToString(t.Value)
		}
	}
	return out
}
