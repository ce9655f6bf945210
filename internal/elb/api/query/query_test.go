package query_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/internal/sdkcapture"
	"github.com/elbowlb/elbow/internal/elb/api/query"
)

func p[T any](v T) *T { return &v }

func TestEncodeResponseShapes(t *testing.T) {
	t.Parallel()
	got, err := query.EncodeResponse(query.AWSQuery, "DescribeTags", "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", "req-1",
		&elbv2.DescribeTagsOutput{TagDescriptions: []elbtypes.TagDescription{{ResourceArn: p("arn"), Tags: []elbtypes.Tag{{Key: p("k"), Value: p("<v>")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeTagsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTagsResult>` +
		`<TagDescriptions><member><ResourceArn>arn</ResourceArn><Tags><member><Key>k</Key><Value>&lt;v&gt;</Value></member></Tags></member></TagDescriptions>` +
		`</DescribeTagsResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeTagsResponse>`
	if string(got) != want {
		t.Errorf("awsQuery response\n got %s\nwant %s", got, want)
	}

	got, err = query.EncodeResponse(query.EC2Query, "DescribeSecurityGroups", "http://ec2.amazonaws.com/doc/2016-11-15/", "req-2",
		&ec2.DescribeSecurityGroupsOutput{SecurityGroups: []ec2types.SecurityGroup{{GroupId: p("sg-1"), Description: p("d"),
			IpPermissions: []ec2types.IpPermission{{IpProtocol: p("tcp"), FromPort: p(int32(80)), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: p("sg-2")}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	want = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-2</requestId>` +
		`<securityGroupInfo><item><groupDescription>d</groupDescription><groupId>sg-1</groupId>` +
		`<ipPermissions><item><fromPort>80</fromPort><ipProtocol>tcp</ipProtocol><groups><item><groupId>sg-2</groupId></item></groups></item></ipPermissions>` +
		`</item></securityGroupInfo></DescribeSecurityGroupsResponse>`
	if string(got) != want {
		t.Errorf("ec2Query response\n got %s\nwant %s", got, want)
	}

	e := awserr.New("InvalidGroup.NotFound", "no <sg>")
	if got := string(query.EncodeError(query.EC2Query, "", e, "r")); !strings.HasSuffix(got, `<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>no &lt;sg&gt;</Message></Error></Errors><RequestID>r</RequestID></Response>`) {
		t.Errorf("ec2Query error %s", got)
	}
	if got := string(query.EncodeError(query.AWSQuery, "ns", &awserr.Error{Code: "X", Message: "m", Receiver: true}, "r")); !strings.HasSuffix(got, `<ErrorResponse xmlns="ns"><Error><Type>Receiver</Type><Code>X</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`) {
		t.Errorf("awsQuery error %s", got)
	}
}

// fuzzTargets are the inputs the fuzzer decodes into, per dialect.
var fuzzTargets = map[query.Dialect][]reflect.Type{
	query.AWSQuery: {
		reflect.TypeFor[elbv2.CreateLoadBalancerInput](), reflect.TypeFor[elbv2.CreateRuleInput](),
		reflect.TypeFor[elbv2.ModifyTargetGroupAttributesInput](), reflect.TypeFor[sts.GetCallerIdentityInput](),
	},
	query.EC2Query: {
		reflect.TypeFor[ec2.DescribeSubnetsInput](), reflect.TypeFor[ec2.AuthorizeSecurityGroupIngressInput](),
		reflect.TypeFor[ec2.RunInstancesInput](),
	},
}

// sdkBodies are form bodies written by the SDK clients.
func sdkBodies(f *testing.F) []string {
	rec := &sdkcapture.Recorder{}
	ctx := context.Background()
	elb := elbv2.NewFromConfig(rec.Config())
	ec := ec2.NewFromConfig(rec.Config())
	_, _ = elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: p("web"), Subnets: []string{"s1", "s2"}, SecurityGroups: []string{},
		SubnetMappings: []elbtypes.SubnetMapping{{SubnetId: p("s3"), AllocationId: p("e1")}}, Tags: []elbtypes.Tag{{Key: p("k"), Value: p("v w")}},
		Scheme: elbtypes.LoadBalancerSchemeEnumInternal})
	_, _ = elb.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: p("l"), Priority: p(int32(7)),
		Conditions: []elbtypes.RuleCondition{{Field: p("path-pattern"), PathPatternConfig: &elbtypes.PathPatternConditionConfig{Values: []string{"/a*"}}}},
		Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumAuthenticateOidc, AuthenticateOidcConfig: &elbtypes.AuthenticateOidcActionConfig{
			ClientId: p("c"), Issuer: p("i"), AuthorizationEndpoint: p("a"), TokenEndpoint: p("t"), UserInfoEndpoint: p("u"), AuthenticationRequestExtraParams: map[string]string{"a": "1", "b": "2"}, UseExistingClientSecret: p(true)}}}})
	_, _ = elb.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: p("t"),
		Attributes: []elbtypes.TargetGroupAttribute{{Key: p("deregistration_delay.timeout_seconds"), Value: p("30")}}})
	_, _ = ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: p("vpc-id"), Values: []string{"v1", "v2"}}}, SubnetIds: []string{"s"}, MaxResults: p(int32(5))})
	_, _ = ec.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: p("sg"), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: p("tcp"), FromPort: p(int32(1)), ToPort: p(int32(2)), IpRanges: []ec2types.IpRange{{CidrIp: p("0.0.0.0/0")}},
		UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: p("sg2")}}}}})
	_, _ = ec.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: p(int32(1)), MaxCount: p(int32(1)), ClientToken: p("t"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: p("a"), Value: p("b")}}}}})
	var out []string
	for _, r := range rec.Requests() {
		out = append(out, string(r.Body))
	}
	if len(out) != 6 {
		f.Fatalf("captured %d requests, want 6", len(out))
	}
	return out
}

func FuzzDecode(f *testing.F) {
	for _, b := range sdkBodies(f) {
		f.Add(b)
	}
	f.Add("Names.member.1=a&Names.member.3=b")
	f.Add("Filter.1.Value.99999999999999999999=x")
	f.Add("a..b=1&.=2&x.entry.1.key=k")
	f.Fuzz(func(t *testing.T, body string) {
		for d, types := range fuzzTargets {
			params, err := query.ParseForm(d, body)
			if err != nil {
				var ae *awserr.Error
				if !errors.As(err, &ae) {
					t.Fatalf("ParseForm: not an AWS error: %v", err)
				}
				continue
			}
			params.Del("Action")
			params.Del("Version")
			for _, typ := range types {
				in := reflect.New(typ).Interface()
				if err := query.Decode(d, cloneValues(params), in); err != nil {
					var ae *awserr.Error
					if !errors.As(err, &ae) {
						t.Fatalf("Decode into %s: not an AWS error: %v", typ, err)
					}
				}
			}
		}
	})
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}
