package ec2

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Tags of EC2 resources live in state.Tags keyed by resource ID, in the
// order the keys were first added, so that they round-trip exactly.

// tagsOf returns a resource's tags in SDK form (nil when it has none).
func tagsOf(tx *state.Tx, id string) ([]types.Tag, error) {
	ts, ok, err := state.Get(tx, state.Tags, id)
	if err != nil || !ok {
		return nil, err
	}
	return sdkTags(ts.Tags), nil
}

func sdkTags(tags []state.Tag) []types.Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]types.Tag, len(tags))
	for i, t := range tags {
		out[i] = types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

// validateTags checks tags as EC2 does: a key of 1 to 127 characters not
// starting with "aws:", a value of at most 255 characters.
func validateTags(tags []types.Tag) error {
	for _, t := range tags {
		k := deref(t.Key)
		switch {
		case k == "":
			return awserr.New("InvalidParameterValue", "Tag key must not be empty")
		case utf8.RuneCountInString(k) > 127:
			return awserr.New("InvalidParameterValue", "Tag key exceeds the maximum length of 127 characters")
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return awserr.New("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		case !utf8.ValidString(k) || !utf8.ValidString(deref(t.Value)):
			return awserr.New("InvalidParameterValue", "Tag keys and values must be valid UTF-8")
		case utf8.RuneCountInString(deref(t.Value)) > 255:
			return awserr.New("InvalidParameterValue", "Tag value exceeds the maximum length of 255 characters")
		}
	}
	return nil
}

// addTags sets tags on a resource (adding keys, replacing values).
func addTags(tx *state.Tx, id string, tags []types.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	ts, ok, err := state.Get(tx, state.Tags, id)
	if err != nil {
		return err
	}
	if !ok {
		ts = &state.TagSet{Resource: id}
	}
	for _, t := range tags {
		ts.Set(deref(t.Key), deref(t.Value))
	}
	if len(ts.Tags) > maxTagsPerResource {
		return awserr.New("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
	}
	return state.Put(tx, state.Tags, ts)
}

// putStateTags stores tags given as state tags (facts, bootstrap).
func putStateTags(tx *state.Tx, id string, tags []state.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	return state.Put(tx, state.Tags, &state.TagSet{Resource: id, Tags: tags})
}

// dropTags deletes a resource's tags (when the resource is deleted).
func dropTags(tx *state.Tx, id string) error {
	_, err := state.Delete(tx, state.Tags, id)
	return err
}

// specTags returns the tags of the TagSpecifications for resource type rt,
// refusing specifications for types the operation does not create.
func specTags(specs []types.TagSpecification, rt types.ResourceType, allowed ...types.ResourceType) ([]types.Tag, error) {
	var out []types.Tag
	for _, sp := range specs {
		ok := false
		for _, a := range allowed {
			if sp.ResourceType == a {
				ok = true
			}
		}
		if !ok {
			return nil, awserr.New("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", sp.ResourceType)
		}
		if err := validateTags(sp.Tags); err != nil {
			return nil, err
		}
		if sp.ResourceType == rt {
			out = append(out, sp.Tags...)
		}
	}
	if len(out) > maxTagsPerResource {
		return nil, awserr.New("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
	}
	return out, nil
}

// resourceType returns the DescribeTags resource type of a resource ID.
func resourceType(id string) (types.ResourceType, bool) {
	k, ok := kindOf(id)
	if !ok {
		return "", false
	}
	switch k {
	case vpcID:
		return types.ResourceTypeVpc, true
	case subnetID:
		return types.ResourceTypeSubnet, true
	case groupID:
		return types.ResourceTypeSecurityGroup, true
	case ruleID:
		return types.ResourceTypeSecurityGroupRule, true
	case instanceID:
		return types.ResourceTypeInstance, true
	case eniID:
		return types.ResourceTypeNetworkInterface, true
	case routeID:
		return types.ResourceTypeRouteTable, true
	case igwID:
		return types.ResourceTypeInternetGateway, true
	case allocID:
		return types.ResourceTypeElasticIp, true
	}
	return "", false
}

// resourceExists reports whether a taggable resource exists, answering
// the kind's NotFound error when it does not and InvalidID when the ID is
// of no taggable kind.
func (s *Service) resourceExists(tx *state.Tx, id string) error {
	k, ok := kindOf(id)
	if !ok {
		return awserr.New("InvalidID", "The ID '%s' is not valid", id)
	}
	var found bool
	var err error
	switch k {
	case vpcID:
		_, found, err = state.Get(tx, state.VPCs, id)
	case subnetID:
		_, found, err = state.Get(tx, state.Subnets, id)
	case groupID:
		_, found, err = state.Get(tx, state.SecurityGroups, id)
	case ruleID:
		_, found, err = findRule(tx, id)
	case instanceID:
		var in *state.Instance
		in, found, err = state.Get(tx, state.Instances, id)
		if found && in.State == "terminated" {
			found = false
		}
	case eniID:
		_, found, err = state.Get(tx, state.NetworkInterfaces, id)
	case routeID:
		_, found, err = state.Get(tx, state.RouteTables, id)
	case igwID:
		_, found, err = state.Get(tx, state.InternetGateways, id)
	case allocID:
		_, found, err = state.Get(tx, state.Addresses, id)
	}
	if err != nil {
		return err
	}
	if !found {
		return k.missing(id)
	}
	return nil
}

// CreateTags adds or overwrites tags on EC2 resources. Every resource must
// exist; nothing is tagged when one does not.
func (s *Service) CreateTags(ctx context.Context, in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
	if len(in.Resources) == 0 {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	if len(in.Tags) == 0 {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter tagSet")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	err := s.update(ctx, "CreateTags", func(tx *state.Tx) error {
		for _, id := range in.Resources {
			if err := s.resourceExists(tx, id); err != nil {
				return err
			}
			if err := addTags(tx, id, in.Tags); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.CreateTagsOutput{}, nil
}

// DeleteTags removes tags from EC2 resources: a tag given with a value is
// removed only when the value matches (an empty value matches only an
// empty value); a tag given without a value is removed whatever its value;
// no tags at all removes every tag.
func (s *Service) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error) {
	if len(in.Resources) == 0 {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	for _, t := range in.Tags {
		if strings.HasPrefix(strings.ToLower(deref(t.Key)), "aws:") {
			return nil, awserr.New("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	err := s.update(ctx, "DeleteTags", func(tx *state.Tx) error {
		for _, id := range in.Resources {
			if err := s.resourceExists(tx, id); err != nil {
				return err
			}
			ts, ok, err := state.Get(tx, state.Tags, id)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if len(in.Tags) == 0 {
				ts.Tags = nil
			}
			for _, t := range in.Tags {
				have, present := ts.Get(deref(t.Key))
				if present && (t.Value == nil || *t.Value == have) {
					ts.Remove(deref(t.Key))
				}
			}
			if len(ts.Tags) == 0 {
				if err := dropTags(tx, id); err != nil {
					return err
				}
				continue
			}
			if err := state.Put(tx, state.Tags, ts); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DeleteTagsOutput{}, nil
}

var tagsFilters = filterSpec[types.TagDescription]{
	attrs: map[string]attr[types.TagDescription]{
		"key":           func(t *types.TagDescription) []string { return str(t.Key) },
		"value":         func(t *types.TagDescription) []string { return str(t.Value) },
		"resource-id":   func(t *types.TagDescription) []string { return str(t.ResourceId) },
		"resource-type": func(t *types.TagDescription) []string { return []string{string(t.ResourceType)} },
	},
}

// DescribeTags lists the tags of EC2 resources, one entry per resource and
// key, ordered by resource ID then key. Filters: key, value, resource-id,
// resource-type.
func (s *Service) DescribeTags(ctx context.Context, in *ec2.DescribeTagsInput) (*ec2.DescribeTagsOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.TagDescription]{
		op: "DescribeTags", dryRun: in.DryRun, filters: tagsFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.TagDescription)) error {
			return state.ForEachPrefix(tx, state.Tags, "", func(ts *state.TagSet) error {
				rt, ok := resourceType(ts.Resource)
				if !ok {
					return nil // an ELBv2 or ACM ARN
				}
				for _, t := range ts.Tags {
					emit(types.TagDescription{
						Key:          aws.String(t.Key),
						Value:        aws.String(t.Value),
						ResourceId:   aws.String(ts.Resource),
						ResourceType: rt,
					})
				}
				return nil
			})
		},
		key:    func(d types.TagDescription) string { return *d.ResourceId + "\x00" + *d.Key },
		limits: pageLimits{min: 5, max: 1000}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeTagsOutput{Tags: page, NextToken: next}, nil
}
