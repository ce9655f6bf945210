package api

// The services of the local ELB with their AWS wire identities. Each returns
// the Service to put in Config.Services with impl as its operations.

// ELBv2 is Elastic Load Balancing v2: awsQuery, Version 2015-12-01.
func ELBv2(impl any) Service {
	return Service{
		Name: "elasticloadbalancing", SigningName: "elasticloadbalancing", Protocol: Query,
		Version: "2015-12-01", XMLNamespace: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
		Impl: impl,
	}
}

// EC2 is Amazon EC2: ec2Query, Version 2016-11-15.
func EC2(impl any) Service {
	return Service{
		Name: "ec2", SigningName: "ec2", Protocol: EC2Query,
		Version: "2016-11-15", XMLNamespace: "http://ec2.amazonaws.com/doc/2016-11-15/",
		Impl: impl,
	}
}

// STS is the AWS Security Token Service: awsQuery, Version 2011-06-15.
func STS(impl any) Service {
	return Service{
		Name: "sts", SigningName: "sts", Protocol: Query,
		Version: "2011-06-15", XMLNamespace: "https://sts.amazonaws.com/doc/2011-06-15/",
		Impl: impl,
	}
}

// ACM is AWS Certificate Manager: JSON 1.1, X-Amz-Target CertificateManager.*.
func ACM(impl any) Service {
	return Service{Name: "acm", SigningName: "acm", Protocol: JSON11, TargetPrefix: "CertificateManager", Impl: impl}
}

// WAFv2 is AWS WAF v2: JSON 1.1, X-Amz-Target AWSWAF_20190729.*.
func WAFv2(impl any) Service {
	return Service{Name: "wafv2", SigningName: "wafv2", Protocol: JSON11, TargetPrefix: "AWSWAF_20190729", Impl: impl}
}

// Shield is AWS Shield: JSON 1.1, X-Amz-Target AWSShield_20160616.*.
func Shield(impl any) Service {
	return Service{Name: "shield", SigningName: "shield", Protocol: JSON11, TargetPrefix: "AWSShield_20160616", Impl: impl}
}

// Tagging is the Resource Groups Tagging API: JSON 1.1, X-Amz-Target
// ResourceGroupsTaggingAPI_20170126.*.
func Tagging(impl any) Service {
	return Service{Name: "tagging", SigningName: "tagging", Protocol: JSON11, TargetPrefix: "ResourceGroupsTaggingAPI_20170126", Impl: impl}
}
