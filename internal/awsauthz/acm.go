package awsauthz

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/elbowlb/elbow/internal/iampolicy"
)

// acm returns the IAM requests of an ACM write, as the Service
// Authorization Reference maps them: a new import is ImportCertificate on
// certificate/* with the tags it sets as aws:RequestTag/…, and, when it
// sets tags, AddTagsToCertificate too; a re-import, a deletion and tag
// changes are on the certificate's ARN with its tags as
// aws:ResourceTag/… (tag changes with their keys and values as
// aws:RequestTag/… and aws:TagKeys).
func (a *Authorizer) acm(ctx context.Context, action string, in any) ([]iampolicy.Request, error) {
	const prefix = "acm:"
	switch in := in.(type) {
	case *acm.ImportCertificateInput:
		if in.CertificateArn == nil {
			arn := "arn:aws:acm:" + a.cfg.Region + ":" + a.cfg.AccountID + ":certificate/*"
			tags := acmTags(in.Tags)
			out := []iampolicy.Request{{Action: prefix + action, Resource: arn, Context: requestTags(tags)}}
			if len(tags) > 0 {
				out = append(out, iampolicy.Request{Action: prefix + "AddTagsToCertificate", Resource: arn, Context: requestTags(tags)})
			}
			return out, nil
		}
	case *acm.AddTagsToCertificateInput:
		return a.onExisting(ctx, prefix+action, []string{aws.ToString(in.CertificateArn)}, requestTags(acmTags(in.Tags)), keyResourceTag)
	case *acm.RemoveTagsFromCertificateInput:
		keys := make([]string, 0, len(in.Tags))
		for _, t := range in.Tags {
			keys = append(keys, aws.ToString(t.Key))
		}
		sort.Strings(keys)
		return a.onExisting(ctx, prefix+action, []string{aws.ToString(in.CertificateArn)}, map[string][]string{keyTagKeys: keys}, keyResourceTag)
	}
	arns := stringFields(in, "CertificateArn")
	if len(arns) == 0 {
		return []iampolicy.Request{{Action: prefix + action, Resource: "*"}}, nil
	}
	return a.onExisting(ctx, prefix+action, arns, nil, keyResourceTag)
}

// acmTags are ACM tags as a map.
func acmTags(tags []acmtypes.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}
