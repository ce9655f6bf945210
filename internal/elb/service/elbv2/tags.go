package elbv2

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// Tags of ELBv2 resources live in state.Tags under the resource's ARN, in
// the order their keys were first added, and round-trip exactly. Keys are
// 1–128 characters, values up to 256, of letters, digits, spaces and
// _.:/=+-@; keys starting with "aws:" are reserved; a resource holds at
// most 50 tags (TooManyTags).

var tagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// maxTagARNs is the most resources one AddTags, RemoveTags or DescribeTags
// call names.
const maxTagARNs = 20

// checkTags validates tags given to a create or AddTags call.
func (s *Service) checkTags(tags []types.Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == nil {
			return missing("tags.member.key")
		}
		k, v := *t.Key, str(t.Value)
		if err := checkTagKey(k); err != nil {
			return err
		}
		if utf8.RuneCountInString(v) > 256 || !tagRE.MatchString(v) {
			return validation("Tag value '%s' is not valid: up to 256 letters, digits, spaces and _.:/=+-@", v)
		}
		if seen[k] {
			return errf(codeDuplicateTagKeys, "Tag key '%s' was specified more than once", k)
		}
		seen[k] = true
	}
	if len(tags) > s.limits.TagsPerResource {
		return errf(codeTooManyTags, "You've reached the limit on the number of tags for this resource (%d)", s.limits.TagsPerResource)
	}
	return nil
}

func checkTagKey(k string) error {
	n := utf8.RuneCountInString(k)
	switch {
	case n < 1 || n > 128 || !tagRE.MatchString(k):
		return validation("Tag key '%s' is not valid: 1 to 128 letters, digits, spaces and _.:/=+-@", k)
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return validation("Tag keys starting with 'aws:' are reserved for internal use")
	}
	return nil
}

// putNewTags stores the tags of a resource being created.
func (s *Service) putNewTags(tx *state.Tx, arn string, tags []types.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	set := &state.TagSet{Resource: arn}
	for _, t := range tags {
		set.Set(*t.Key, str(t.Value))
	}
	return state.Put(tx, state.Tags, set)
}

// resourceExists checks that an ARN names an existing ELBv2 resource,
// returning the resource kind's NotFound error otherwise.
func resourceExists(tx *state.Tx, arn string) error {
	switch kindOf(arn) {
	case kindLoadBalancer:
		_, err := getLB(tx, arn)
		return err
	case kindTargetGroup:
		_, err := getTG(tx, arn)
		return err
	case kindListener:
		_, err := getListener(tx, arn)
		return err
	case kindRule:
		_, _, err := getRule(tx, arn)
		return err
	case kindTrustStore:
		_, ok, err := state.Get(tx, state.TrustStores, arn)
		if err == nil && !ok {
			err = errf(codeTrustStoreNotFound, "Trust store '%s' not found", arn)
		}
		return err
	}
	return validation("'%s' is not a valid Elastic Load Balancing resource ARN", arn)
}

func checkTagARNs(arns []string) error {
	if len(arns) == 0 {
		return missing("resourceArns")
	}
	if len(arns) > maxTagARNs {
		return tooLong("resourceArns", len(arns), maxTagARNs)
	}
	return nil
}

// AddTags adds tags to resources, replacing the values of keys they
// already have (API_AddTags).
func (s *Service) AddTags(ctx context.Context, in *sdk.AddTagsInput) (*sdk.AddTagsOutput, error) {
	if err := checkTagARNs(in.ResourceArns); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, missing("tags")
	}
	if err := s.checkTags(in.Tags); err != nil {
		return nil, err
	}
	var first *string
	if len(in.ResourceArns) > 0 {
		first = &in.ResourceArns[0]
	}
	err := s.update(ctx, "AddTags", first, func(tx *state.Tx) error {
		for _, arn := range dedupe(in.ResourceArns) {
			if err := resourceExists(tx, arn); err != nil {
				return err
			}
			set, ok, err := state.Get(tx, state.Tags, arn)
			if err != nil {
				return err
			}
			if !ok {
				set = &state.TagSet{Resource: arn}
			}
			for _, t := range in.Tags {
				set.Set(*t.Key, str(t.Value))
			}
			if len(set.Tags) > s.limits.TagsPerResource {
				return errf(codeTooManyTags, "You've reached the limit on the number of tags for resource '%s' (%d)", arn, s.limits.TagsPerResource)
			}
			if err := state.Put(tx, state.Tags, set); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sdk.AddTagsOutput{}, nil
}

// RemoveTags removes tag keys from resources; keys a resource does not
// have are ignored (API_RemoveTags).
func (s *Service) RemoveTags(ctx context.Context, in *sdk.RemoveTagsInput) (*sdk.RemoveTagsOutput, error) {
	if err := checkTagARNs(in.ResourceArns); err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, missing("tagKeys")
	}
	for _, k := range in.TagKeys {
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
	}
	err := s.update(ctx, "RemoveTags", &in.ResourceArns[0], func(tx *state.Tx) error {
		for _, arn := range dedupe(in.ResourceArns) {
			if err := resourceExists(tx, arn); err != nil {
				return err
			}
			set, ok, err := state.Get(tx, state.Tags, arn)
			if err != nil || !ok {
				return err
			}
			for _, k := range in.TagKeys {
				set.Remove(k)
			}
			if len(set.Tags) == 0 {
				_, err = state.Delete(tx, state.Tags, arn)
			} else {
				err = state.Put(tx, state.Tags, set)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sdk.RemoveTagsOutput{}, nil
}

// DescribeTags returns the tags of up to 20 resources, in the order the
// ARNs were given (API_DescribeTags).
func (s *Service) DescribeTags(ctx context.Context, in *sdk.DescribeTagsInput) (*sdk.DescribeTagsOutput, error) {
	if err := checkTagARNs(in.ResourceArns); err != nil {
		return nil, err
	}
	out := &sdk.DescribeTagsOutput{TagDescriptions: []types.TagDescription{}}
	err := s.view(ctx, func(tx *state.Tx) error {
		for _, arn := range dedupe(in.ResourceArns) {
			if err := resourceExists(tx, arn); err != nil {
				return err
			}
			tags, err := tagsOf(tx, arn)
			if err != nil {
				return err
			}
			out.TagDescriptions = append(out.TagDescriptions, types.TagDescription{ResourceArn: ptr(arn), Tags: tags})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tagsOf returns a resource's tags in the API's shape.
func tagsOf(tx *state.Tx, arn string) ([]types.Tag, error) {
	set, ok, err := state.Get(tx, state.Tags, arn)
	if err != nil {
		return nil, err
	}
	out := []types.Tag{}
	if ok {
		for _, t := range set.Tags {
			out = append(out, types.Tag{Key: ptr(t.Key), Value: ptr(t.Value)})
		}
	}
	return out, nil
}
