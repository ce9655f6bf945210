package api_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	tagtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/shield"
	shieldtypes "github.com/aws/aws-sdk-go-v2/service/shield/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
)

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const (
	lbARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/50dc6c495c0c9188"
	tgARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/73e2d6bc24d8a067"
	lsARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
)

func TestELBv2RoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := elbv2.NewFromConfig(e.awsCfg())

	t.Run("CreateLoadBalancer", func(t *testing.T) {
		in := &elbv2.CreateLoadBalancerInput{
			Name:           ptr("web"),
			Subnets:        []string{"subnet-1", "subnet-2"},
			SecurityGroups: []string{"sg-1"},
			SubnetMappings: []elbtypes.SubnetMapping{
				{SubnetId: ptr("subnet-3"), AllocationId: ptr("eipalloc-1"), PrivateIPv4Address: ptr("10.0.0.7")},
				{SubnetId: ptr("subnet-4"), IPv6Address: ptr("2600::1")},
			},
			Scheme:                       elbtypes.LoadBalancerSchemeEnumInternal,
			Type:                         elbtypes.LoadBalancerTypeEnumNetwork,
			IpAddressType:                elbtypes.IpAddressTypeDualstack,
			CustomerOwnedIpv4Pool:        ptr("ipv4pool-coip-1"),
			IpamPools:                    &elbtypes.IpamPools{Ipv4IpamPoolId: ptr("ipam-pool-1")},
			EnablePrefixForIpv6SourceNat: elbtypes.EnablePrefixForIpv6SourceNatEnumOn,
			Tags: []elbtypes.Tag{
				{Key: ptr("elbv2.k8s.aws/cluster"), Value: ptr("dev")},
				{Key: ptr("empty"), Value: ptr("")},
				{Key: ptr("unicode ✓ & <xml>"), Value: ptr("a=b&c d+e%20")},
			},
		}
		out := &elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbtypes.LoadBalancer{fullLoadBalancer()}}
		roundTrip(t, e, "CreateLoadBalancer", in, out, c.CreateLoadBalancer)
	})

	t.Run("DescribeLoadBalancers", func(t *testing.T) {
		in := &elbv2.DescribeLoadBalancersInput{
			LoadBalancerArns: []string{lbARN},
			Names:            []string{"web", "api"},
			Marker:           ptr("m1"),
			PageSize:         ptr(int32(400)),
		}
		lb2 := fullLoadBalancer()
		lb2.LoadBalancerName = ptr("api")
		lb2.AvailabilityZones = []elbtypes.AvailabilityZone{} // empty, not absent
		out := &elbv2.DescribeLoadBalancersOutput{
			LoadBalancers: []elbtypes.LoadBalancer{fullLoadBalancer(), lb2},
			NextMarker:    ptr("m2"),
		}
		roundTrip(t, e, "DescribeLoadBalancers", in, out, c.DescribeLoadBalancers)
	})

	t.Run("CreateRule", func(t *testing.T) {
		in := &elbv2.CreateRuleInput{
			ListenerArn: ptr(lsARN),
			Priority:    ptr(int32(50000)),
			Conditions: []elbtypes.RuleCondition{
				{Field: ptr("host-header"), HostHeaderConfig: &elbtypes.HostHeaderConditionConfig{Values: []string{"a.example.com", "*.example.org"}}},
				{Field: ptr("query-string"), QueryStringConfig: &elbtypes.QueryStringConditionConfig{Values: []elbtypes.QueryStringKeyValuePair{{Key: ptr("v"), Value: ptr("1")}, {Value: ptr("only-value")}}}},
				{Field: ptr("http-header"), HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: ptr("X-Env"), Values: []string{"dev"}}},
			},
			Actions: []elbtypes.Action{
				{
					Type:  elbtypes.ActionTypeEnumAuthenticateOidc,
					Order: ptr(int32(1)),
					AuthenticateOidcConfig: &elbtypes.AuthenticateOidcActionConfig{
						Issuer: ptr("https://idp"), AuthorizationEndpoint: ptr("https://idp/auth"), TokenEndpoint: ptr("https://idp/token"),
						UserInfoEndpoint: ptr("https://idp/userinfo"), ClientId: ptr("client"), ClientSecret: ptr("s3cr3t"),
						AuthenticationRequestExtraParams: map[string]string{"prompt": "login", "display": "page"},
						SessionTimeout:                   ptr(int64(604800)),
						UseExistingClientSecret:          ptr(false),
					},
				},
				{
					Type:  elbtypes.ActionTypeEnumForward,
					Order: ptr(int32(2)),
					ForwardConfig: &elbtypes.ForwardActionConfig{
						TargetGroups:                []elbtypes.TargetGroupTuple{{TargetGroupArn: ptr(tgARN), Weight: ptr(int32(80))}, {TargetGroupArn: ptr(tgARN + "2"), Weight: ptr(int32(0))}},
						TargetGroupStickinessConfig: &elbtypes.TargetGroupStickinessConfig{Enabled: ptr(true), DurationSeconds: ptr(int32(3600))},
					},
				},
			},
			Tags: []elbtypes.Tag{{Key: ptr("k"), Value: ptr("v")}},
		}
		out := &elbv2.CreateRuleOutput{Rules: []elbtypes.Rule{{
			RuleArn: ptr(lsARN + "/rule"), Priority: ptr("50000"), IsDefault: ptr(false),
			Conditions: in.Conditions, Actions: in.Actions,
		}}}
		roundTrip(t, e, "CreateRule", in, out, c.CreateRule)
	})

	t.Run("SetSecurityGroupsEmptyList", func(t *testing.T) {
		in := &elbv2.SetSecurityGroupsInput{
			LoadBalancerArn: ptr(lbARN),
			SecurityGroups:  []string{},
			EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: elbtypes.EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnumOff,
		}
		out := &elbv2.SetSecurityGroupsOutput{SecurityGroupIds: []string{}, EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: elbtypes.EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnumOn}
		roundTrip(t, e, "SetSecurityGroups", in, out, c.SetSecurityGroups)
		if got := e.rec.got("SetSecurityGroups").(*elbv2.SetSecurityGroupsInput); got.SecurityGroups == nil {
			t.Error("an empty SecurityGroups list arrived as absent (nil)")
		}
	})

	t.Run("ModifyLoadBalancerAttributes", func(t *testing.T) {
		attrs := []elbtypes.LoadBalancerAttribute{
			{Key: ptr("idle_timeout.timeout_seconds"), Value: ptr("60")},
			{Key: ptr("deletion_protection.enabled"), Value: ptr("true")},
		}
		in := &elbv2.ModifyLoadBalancerAttributesInput{LoadBalancerArn: ptr(lbARN), Attributes: attrs}
		out := &elbv2.ModifyLoadBalancerAttributesOutput{Attributes: attrs}
		roundTrip(t, e, "ModifyLoadBalancerAttributes", in, out, c.ModifyLoadBalancerAttributes)
	})

	t.Run("DescribeTargetGroups", func(t *testing.T) {
		in := &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{tgARN}, LoadBalancerArn: ptr(lbARN)}
		out := &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{{
			TargetGroupArn: ptr(tgARN), TargetGroupName: ptr("web"), Protocol: elbtypes.ProtocolEnumHttp, Port: ptr(int32(8080)),
			VpcId: ptr("vpc-1"), HealthCheckProtocol: elbtypes.ProtocolEnumHttps, HealthCheckPort: ptr("traffic-port"),
			HealthCheckEnabled: ptr(true), HealthCheckIntervalSeconds: ptr(int32(30)), HealthCheckTimeoutSeconds: ptr(int32(5)),
			HealthyThresholdCount: ptr(int32(5)), UnhealthyThresholdCount: ptr(int32(2)), HealthCheckPath: ptr("/healthz"),
			Matcher: &elbtypes.Matcher{HttpCode: ptr("200-299")}, LoadBalancerArns: []string{lbARN},
			TargetType: elbtypes.TargetTypeEnumIp, ProtocolVersion: ptr("HTTP2"), IpAddressType: elbtypes.TargetGroupIpAddressTypeEnumIpv4,
		}}}
		roundTrip(t, e, "DescribeTargetGroups", in, out, c.DescribeTargetGroups)
	})

	t.Run("DescribeListeners", func(t *testing.T) {
		in := &elbv2.DescribeListenersInput{LoadBalancerArn: ptr(lbARN), PageSize: ptr(int32(1))}
		out := &elbv2.DescribeListenersOutput{Listeners: []elbtypes.Listener{{
			ListenerArn: ptr(lsARN), LoadBalancerArn: ptr(lbARN), Port: ptr(int32(443)), Protocol: elbtypes.ProtocolEnumHttps,
			SslPolicy: ptr("ELBSecurityPolicy-TLS13-1-2-2021-06"), AlpnPolicy: []string{"HTTP2Preferred"},
			Certificates: []elbtypes.Certificate{{CertificateArn: ptr("arn:aws:acm:us-east-1:000000000000:certificate/1"), IsDefault: ptr(true)}},
			DefaultActions: []elbtypes.Action{{
				Type: elbtypes.ActionTypeEnumFixedResponse, Order: ptr(int32(1)),
				FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: ptr("404"), ContentType: ptr("text/plain"), MessageBody: ptr("not found")},
			}},
			MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: ptr("off")},
		}}}
		roundTrip(t, e, "DescribeListeners", in, out, c.DescribeListeners)
	})

	t.Run("RegisterTargets", func(t *testing.T) {
		in := &elbv2.RegisterTargetsInput{TargetGroupArn: ptr(tgARN), Targets: []elbtypes.TargetDescription{
			{Id: ptr("10.0.1.5"), Port: ptr(int32(80)), AvailabilityZone: ptr("all")},
			{Id: ptr("i-0123456789abcdef0")},
		}}
		roundTrip(t, e, "RegisterTargets", in, &elbv2.RegisterTargetsOutput{}, c.RegisterTargets)
	})

	t.Run("DescribeTargetHealth", func(t *testing.T) {
		in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: ptr(tgARN), Include: []elbtypes.DescribeTargetHealthInputIncludeEnum{elbtypes.DescribeTargetHealthInputIncludeEnumAll}}
		out := &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{{
			Target:           &elbtypes.TargetDescription{Id: ptr("10.0.1.5"), Port: ptr(int32(80))},
			HealthCheckPort:  ptr("80"),
			TargetHealth:     &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumUnhealthy, Reason: elbtypes.TargetHealthReasonEnumFailedHealthChecks, Description: ptr("Health checks failed")},
			AnomalyDetection: &elbtypes.AnomalyDetection{Result: elbtypes.AnomalyResultEnumNormal, MitigationInEffect: elbtypes.MitigationInEffectEnumNo},
		}}}
		roundTrip(t, e, "DescribeTargetHealth", in, out, c.DescribeTargetHealth)
	})

	t.Run("DescribeTags", func(t *testing.T) {
		in := &elbv2.DescribeTagsInput{ResourceArns: []string{lbARN, tgARN}}
		out := &elbv2.DescribeTagsOutput{TagDescriptions: []elbtypes.TagDescription{
			{ResourceArn: ptr(lbARN), Tags: []elbtypes.Tag{{Key: ptr("a"), Value: ptr("1")}, {Key: ptr("empty"), Value: ptr("")}, {Key: ptr("<&>\"'\n\t")}}},
			{ResourceArn: ptr(tgARN), Tags: []elbtypes.Tag{}},
		}}
		roundTrip(t, e, "DescribeTags", in, out, c.DescribeTags)
	})
}

func fullLoadBalancer() elbtypes.LoadBalancer {
	return elbtypes.LoadBalancer{
		LoadBalancerArn:       ptr(lbARN),
		LoadBalancerName:      ptr("web"),
		DNSName:               ptr("web-50dc6c495c0c9188.us-east-1.elb.localhost"),
		CanonicalHostedZoneId: ptr("Z35SXDOTRQ7X7K"),
		CreatedTime:           ptr(ts(9)),
		Scheme:                elbtypes.LoadBalancerSchemeEnumInternetFacing,
		Type:                  elbtypes.LoadBalancerTypeEnumApplication,
		IpAddressType:         elbtypes.IpAddressTypeIpv4,
		VpcId:                 ptr("vpc-0abc"),
		State:                 &elbtypes.LoadBalancerState{Code: elbtypes.LoadBalancerStateEnumProvisioning, Reason: ptr("being created")},
		SecurityGroups:        []string{"sg-1", "sg-2"},
		AvailabilityZones: []elbtypes.AvailabilityZone{
			{ZoneName: ptr("us-east-1a"), SubnetId: ptr("subnet-1"), LoadBalancerAddresses: []elbtypes.LoadBalancerAddress{
				{IpAddress: ptr("127.77.0.1"), AllocationId: ptr("eipalloc-1"), PrivateIPv4Address: ptr("10.0.0.7")},
			}},
			{ZoneName: ptr("us-east-1b"), SubnetId: ptr("subnet-2"), OutpostId: ptr("op-1")},
		},
		EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: ptr("on"),
		IpamPools: &elbtypes.IpamPools{Ipv4IpamPoolId: ptr("ipam-pool-1")},
	}
}

func TestEC2RoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := ec2.NewFromConfig(e.awsCfg())
	filters := []ec2types.Filter{
		{Name: ptr("vpc-id"), Values: []string{"vpc-1"}},
		{Name: ptr("tag:kubernetes.io/role/elb"), Values: []string{"1", ""}},
		{Name: ptr("tag-key"), Values: []string{"kubernetes.io/cluster/dev"}},
	}
	tags := []ec2types.Tag{{Key: ptr("Name"), Value: ptr("public-a")}, {Key: ptr("kubernetes.io/role/elb"), Value: ptr("1")}}

	t.Run("DescribeSubnets", func(t *testing.T) {
		in := &ec2.DescribeSubnetsInput{Filters: filters, SubnetIds: []string{"subnet-1", "subnet-2"}, MaxResults: ptr(int32(5)), NextToken: ptr("t1"), DryRun: ptr(false)}
		out := &ec2.DescribeSubnetsOutput{NextToken: ptr("t2"), Subnets: []ec2types.Subnet{{
			SubnetId: ptr("subnet-1"), VpcId: ptr("vpc-1"), AvailabilityZone: ptr("us-east-1a"), AvailabilityZoneId: ptr("use1-az1"),
			CidrBlock: ptr("10.0.0.0/19"), AvailableIpAddressCount: ptr(int32(8187)), MapPublicIpOnLaunch: ptr(true),
			DefaultForAz: ptr(false), State: ec2types.SubnetStateAvailable, Tags: tags, OwnerId: ptr("000000000000"),
			SubnetArn: ptr("arn:aws:ec2:us-east-1:000000000000:subnet/subnet-1"),
			Ipv6CidrBlockAssociationSet: []ec2types.SubnetIpv6CidrBlockAssociation{{
				AssociationId: ptr("subnet-cidr-assoc-1"), Ipv6CidrBlock: ptr("2600:1f18::/64"),
				Ipv6CidrBlockState: &ec2types.SubnetCidrBlockState{State: ec2types.SubnetCidrBlockStateCodeAssociated},
			}},
		}}}
		roundTrip(t, e, "DescribeSubnets", in, out, c.DescribeSubnets)
	})

	t.Run("DescribeSecurityGroups", func(t *testing.T) {
		in := &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-1"}, GroupNames: []string{"web"}, Filters: filters[:1]}
		out := &ec2.DescribeSecurityGroupsOutput{SecurityGroups: []ec2types.SecurityGroup{{
			GroupId: ptr("sg-1"), GroupName: ptr("web"), Description: ptr("web tier"), VpcId: ptr("vpc-1"), OwnerId: ptr("000000000000"),
			Tags: tags,
			IpPermissions: []ec2types.IpPermission{{
				IpProtocol: ptr("tcp"), FromPort: ptr(int32(80)), ToPort: ptr(int32(80)),
				IpRanges:         []ec2types.IpRange{{CidrIp: ptr("0.0.0.0/0"), Description: ptr("world")}},
				Ipv6Ranges:       []ec2types.Ipv6Range{{CidrIpv6: ptr("::/0")}},
				UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: ptr("sg-2"), UserId: ptr("000000000000")}},
				PrefixListIds:    []ec2types.PrefixListId{{PrefixListId: ptr("pl-1")}},
			}},
			IpPermissionsEgress: []ec2types.IpPermission{{IpProtocol: ptr("-1"), IpRanges: []ec2types.IpRange{{CidrIp: ptr("0.0.0.0/0")}}}},
		}}}
		roundTrip(t, e, "DescribeSecurityGroups", in, out, c.DescribeSecurityGroups)
	})

	t.Run("AuthorizeSecurityGroupIngress", func(t *testing.T) {
		in := &ec2.AuthorizeSecurityGroupIngressInput{GroupId: ptr("sg-1"), IpPermissions: []ec2types.IpPermission{
			{IpProtocol: ptr("tcp"), FromPort: ptr(int32(443)), ToPort: ptr(int32(443)),
				IpRanges:         []ec2types.IpRange{{CidrIp: ptr("10.0.0.0/16"), Description: ptr("vpc")}, {CidrIp: ptr("192.168.0.0/24")}},
				UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: ptr("sg-elb"), Description: ptr("from the load balancer")}}},
			{IpProtocol: ptr("udp"), FromPort: ptr(int32(53)), ToPort: ptr(int32(53)), Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: ptr("::/0")}}},
		}, TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroupRule, Tags: tags}}}
		out := &ec2.AuthorizeSecurityGroupIngressOutput{Return: ptr(true), SecurityGroupRules: []ec2types.SecurityGroupRule{{
			SecurityGroupRuleId: ptr("sgr-1"), GroupId: ptr("sg-1"), IsEgress: ptr(false), IpProtocol: ptr("tcp"),
			FromPort: ptr(int32(443)), ToPort: ptr(int32(443)), CidrIpv4: ptr("10.0.0.0/16"),
			ReferencedGroupInfo: &ec2types.ReferencedSecurityGroup{GroupId: ptr("sg-elb")},
		}}}
		roundTrip(t, e, "AuthorizeSecurityGroupIngress", in, out, c.AuthorizeSecurityGroupIngress)
	})

	t.Run("DescribeInstances", func(t *testing.T) {
		in := &ec2.DescribeInstancesInput{InstanceIds: []string{"i-1", "i-2"}, Filters: filters[:1], MaxResults: ptr(int32(1000))}
		out := &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{
			ReservationId: ptr("r-1"), OwnerId: ptr("000000000000"),
			Instances: []ec2types.Instance{{
				InstanceId: ptr("i-1"), ImageId: ptr("ami-1"), InstanceType: ec2types.InstanceTypeM5Large,
				PrivateIpAddress: ptr("10.0.1.5"), SubnetId: ptr("subnet-1"), VpcId: ptr("vpc-1"), LaunchTime: ptr(ts(30)),
				State:          &ec2types.InstanceState{Code: ptr(int32(16)), Name: ec2types.InstanceStateNameRunning},
				Placement:      &ec2types.Placement{AvailabilityZone: ptr("us-east-1a")},
				Tags:           tags,
				SecurityGroups: []ec2types.GroupIdentifier{{GroupId: ptr("sg-1"), GroupName: ptr("web")}},
				NetworkInterfaces: []ec2types.InstanceNetworkInterface{{
					NetworkInterfaceId: ptr("eni-1"), PrivateIpAddress: ptr("10.0.1.5"),
					Groups:             []ec2types.GroupIdentifier{{GroupId: ptr("sg-1")}},
					PrivateIpAddresses: []ec2types.InstancePrivateIpAddress{{PrivateIpAddress: ptr("10.0.1.5"), Primary: ptr(true)}},
				}},
			}},
		}}}
		roundTrip(t, e, "DescribeInstances", in, out, c.DescribeInstances)
	})

	t.Run("RunInstances", func(t *testing.T) {
		in := &ec2.RunInstancesInput{
			MinCount: ptr(int32(1)), MaxCount: ptr(int32(2)), ImageId: ptr("ami-1"), InstanceType: ec2types.InstanceTypeT3Micro,
			SubnetId: ptr("subnet-1"), SecurityGroupIds: []string{"sg-1", "sg-2"}, ClientToken: ptr("token-1"),
			PrivateIpAddress:  ptr("10.0.1.9"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: tags}},
		}
		out := &ec2.RunInstancesOutput{ReservationId: ptr("r-2"), OwnerId: ptr("000000000000"), Instances: []ec2types.Instance{{InstanceId: ptr("i-9")}}}
		roundTrip(t, e, "RunInstances", in, out, c.RunInstances)
	})

	t.Run("DescribeAccountAttributes", func(t *testing.T) {
		in := &ec2.DescribeAccountAttributesInput{AttributeNames: []ec2types.AccountAttributeName{ec2types.AccountAttributeNameSupportedPlatforms}}
		out := &ec2.DescribeAccountAttributesOutput{AccountAttributes: []ec2types.AccountAttribute{{
			AttributeName: ptr("supported-platforms"), AttributeValues: []ec2types.AccountAttributeValue{{AttributeValue: ptr("VPC")}},
		}}}
		roundTrip(t, e, "DescribeAccountAttributes", in, out, c.DescribeAccountAttributes)
	})
}

func TestACMRoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := acm.NewFromConfig(e.awsCfg())
	certARN := "arn:aws:acm:us-east-1:000000000000:certificate/0f3c1e62-7d1b-4a9c-9e0a-6c5f2a1b3c4d"

	t.Run("ImportCertificate", func(t *testing.T) {
		in := &acm.ImportCertificateInput{
			Certificate:      []byte("-----BEGIN CERTIFICATE-----\nMIIB\x00\xff\n-----END CERTIFICATE-----\n"),
			PrivateKey:       []byte{0, 1, 2, 0xfe, 0xff},
			CertificateChain: []byte("chain"),
			Tags:             []acmtypes.Tag{{Key: ptr("env"), Value: ptr("dev")}, {Key: ptr("solo")}},
		}
		roundTrip(t, e, "ImportCertificate", in, &acm.ImportCertificateOutput{CertificateArn: ptr(certARN)}, c.ImportCertificate)
	})

	t.Run("DescribeCertificate", func(t *testing.T) {
		in := &acm.DescribeCertificateInput{CertificateArn: ptr(certARN)}
		out := &acm.DescribeCertificateOutput{Certificate: &acmtypes.CertificateDetail{
			CertificateArn: ptr(certARN), DomainName: ptr("example.com"), SubjectAlternativeNames: []string{"example.com", "*.example.com"},
			Status: acmtypes.CertificateStatusIssued, Type: acmtypes.CertificateTypeImported, KeyAlgorithm: acmtypes.KeyAlgorithmEcPrime256v1,
			CreatedAt: ptr(ts(1)), ImportedAt: ptr(ts(2)), NotBefore: ptr(ts(3)), NotAfter: ptr(time2099()),
			InUseBy: []string{lbARN}, Serial: ptr("0a:0b"), Issuer: ptr("elbow local CA"),
			DomainValidationOptions: []acmtypes.DomainValidation{{
				DomainName: ptr("example.com"), ValidationMethod: acmtypes.ValidationMethodDns, ValidationStatus: acmtypes.DomainStatusSuccess,
				ResourceRecord: &acmtypes.ResourceRecord{Name: ptr("_x.example.com."), Type: acmtypes.RecordTypeCname, Value: ptr("_y.acm-validations.aws.")},
			}},
			Options:            &acmtypes.CertificateOptions{Export: acmtypes.CertificateExportEnabled},
			RenewalEligibility: acmtypes.RenewalEligibilityIneligible,
			KeyUsages:          []acmtypes.KeyUsage{{Name: acmtypes.KeyUsageNameDigitalSignature}},
			ExtendedKeyUsages:  []acmtypes.ExtendedKeyUsage{{Name: acmtypes.ExtendedKeyUsageNameTlsWebServerAuthentication, OID: ptr("1.3.6.1.5.5.7.3.1")}},
		}}
		roundTrip(t, e, "DescribeCertificate", in, out, c.DescribeCertificate)
	})

	t.Run("ListCertificatesIncludesKeyTypes", func(t *testing.T) {
		in := &acm.ListCertificatesInput{
			CertificateStatuses: []acmtypes.CertificateStatus{acmtypes.CertificateStatusIssued, acmtypes.CertificateStatusPendingValidation},
			Includes:            &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmEcPrime256v1}, ManagedBy: acmtypes.CertificateManagedByCloudfront},
			MaxItems:            ptr(int32(100)), NextToken: ptr("n1"), SortBy: acmtypes.SortByCreatedAt, SortOrder: acmtypes.SortOrderDescending,
		}
		out := &acm.ListCertificatesOutput{NextToken: ptr("n2"), CertificateSummaryList: []acmtypes.CertificateSummary{{
			CertificateArn: ptr(certARN), DomainName: ptr("example.com"), KeyAlgorithm: acmtypes.KeyAlgorithmRsa2048,
			InUse: ptr(true), CreatedAt: ptr(ts(4)), Status: acmtypes.CertificateStatusIssued,
			SubjectAlternativeNameSummaries: []string{"example.com"}, HasAdditionalSubjectAlternativeNames: ptr(false),
		}}}
		roundTrip(t, e, "ListCertificates", in, out, c.ListCertificates)
	})

	t.Run("GetCertificate", func(t *testing.T) {
		in := &acm.GetCertificateInput{CertificateArn: ptr(certARN)}
		out := &acm.GetCertificateOutput{Certificate: ptr("-----BEGIN CERTIFICATE-----\n..."), CertificateChain: ptr("chain")}
		roundTrip(t, e, "GetCertificate", in, out, c.GetCertificate)
	})
}

func time2099() time.Time { return time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC) }

func TestSmallServicesRoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t)
	cfg := e.awsCfg()

	t.Run("STS GetCallerIdentity sees the request metadata", func(t *testing.T) {
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if *out.UserId != testKey || *out.Account != "000000000000" {
			t.Errorf("GetCallerIdentity = %s %s, want the signing key and the local account", *out.UserId, *out.Account)
		}
		info := e.rec.lastInfo()
		if info.Service != "sts" || info.Action != "GetCallerIdentity" || info.AccessKeyID != testKey || info.Region != testRegion || !uuidShape.MatchString(info.RequestID) {
			t.Errorf("RequestInfo = %+v", info)
		}
	})

	t.Run("WAFv2 GetWebACLForResource", func(t *testing.T) {
		in := &wafv2.GetWebACLForResourceInput{ResourceArn: ptr(lbARN)}
		out := &wafv2.GetWebACLForResourceOutput{WebACL: &waftypes.WebACL{
			ARN: ptr("arn:aws:wafv2:us-east-1:000000000000:regional/webacl/a/1"), Id: ptr("1"), Name: ptr("a"),
			DefaultAction:    &waftypes.DefaultAction{Allow: &waftypes.AllowAction{}},
			VisibilityConfig: &waftypes.VisibilityConfig{CloudWatchMetricsEnabled: true, MetricName: ptr("a"), SampledRequestsEnabled: false},
			Capacity:         12, Rules: []waftypes.Rule{},
		}}
		roundTrip(t, e, "GetWebACLForResource", in, out, wafv2.NewFromConfig(cfg).GetWebACLForResource)
	})

	t.Run("Shield GetSubscriptionState", func(t *testing.T) {
		roundTrip(t, e, "GetSubscriptionState", &shield.GetSubscriptionStateInput{},
			&shield.GetSubscriptionStateOutput{SubscriptionState: shieldtypes.SubscriptionStateInactive},
			shield.NewFromConfig(cfg).GetSubscriptionState)
	})

	t.Run("Tagging GetResources", func(t *testing.T) {
		in := &resourcegroupstaggingapi.GetResourcesInput{
			ResourceTypeFilters: []string{"elasticloadbalancing:loadbalancer"},
			TagFilters:          []tagtypes.TagFilter{{Key: ptr("elbv2.k8s.aws/cluster"), Values: []string{"dev"}}},
			ResourcesPerPage:    ptr(int32(50)),
		}
		out := &resourcegroupstaggingapi.GetResourcesOutput{PaginationToken: ptr(""), ResourceTagMappingList: []tagtypes.ResourceTagMapping{{
			ResourceARN: ptr(lbARN), Tags: []tagtypes.Tag{{Key: ptr("elbv2.k8s.aws/cluster"), Value: ptr("dev")}},
		}}}
		roundTrip(t, e, "GetResources", in, out, resourcegroupstaggingapi.NewFromConfig(cfg).GetResources)
	})
}
