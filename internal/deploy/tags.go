package deploy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// desiredTags are the tags a resource of the stack carries: its own, the
// stack's and its resource ID, without external-managed keys.
func (r *run) desiredTags(res stack.Resource, own map[string]string) map[string]string {
	t := r.s.ResourceTags(r.d.cfg.ClusterName, res, own)
	for _, k := range r.d.cfg.ExternalManagedTags {
		delete(t, k)
	}
	return t
}

// tagDiff returns the tags to set and the keys to remove so that cur
// becomes want; AWS-reserved and external-managed keys are left alone.
func (r *run) tagDiff(cur, want map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range want {
		if cv, ok := cur[k]; !ok || cv != v {
			set[k] = v
		}
	}
	for k := range cur {
		if _, ok := want[k]; ok || strings.HasPrefix(k, "aws:") || slices.Contains(r.d.cfg.ExternalManagedTags, k) {
			continue
		}
		remove = append(remove, k)
	}
	sort.Strings(remove)
	return set, remove
}

func elbv2TagList(m map[string]string) []elbv2types.Tag {
	out := make([]elbv2types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, elbv2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func ec2TagList(m map[string]string) []ec2types.Tag {
	out := make([]ec2types.Tag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// syncELBTags makes an ELBv2 resource's tags want.
func (r *run) syncELBTags(ctx context.Context, arn string, want map[string]string) error {
	set, remove := r.tagDiff(r.tags[arn], want)
	if len(set) > 0 {
		if _, err := r.d.elb.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{arn}, Tags: elbv2TagList(set)}); err != nil {
			return r.fail(fmt.Errorf("AddTags: %w", err))
		}
	}
	if len(remove) > 0 {
		if _, err := r.d.elb.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{arn}, TagKeys: remove}); err != nil {
			return r.fail(fmt.Errorf("RemoveTags: %w", err))
		}
	}
	return nil
}

// syncEC2Tags makes a security group's tags want.
func (r *run) syncEC2Tags(ctx context.Context, id string, want map[string]string) error {
	set, remove := r.tagDiff(r.tags[id], want)
	if len(set) > 0 {
		if _, err := r.d.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: ec2TagList(set)}); err != nil {
			return r.fail(fmt.Errorf("CreateTags: %w", err))
		}
	}
	if len(remove) > 0 {
		var tl []ec2types.Tag
		for _, k := range remove {
			tl = append(tl, ec2types.Tag{Key: aws.String(k)})
		}
		if _, err := r.d.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: tl}); err != nil {
			return r.fail(fmt.Errorf("DeleteTags: %w", err))
		}
	}
	return nil
}

// attrDiff returns the desired attributes whose current value differs;
// keys not desired are left as they are (as the reference controller
// does: removing an annotation does not reset an attribute).
func attrDiff(cur map[string]string, want []stack.Attribute) map[string]string {
	out := map[string]string{}
	for _, a := range want {
		if v, ok := cur[a.Key]; !ok || v != a.Value {
			out[a.Key] = a.Value
		}
	}
	return out
}
