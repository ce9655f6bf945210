package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// legacyClusterTag is the cluster tag older releases of the reference
// controller wrote; it is read, never written.
const legacyClusterTag = "ingress.k8s.aws/cluster"

// describeTagsBatch is the most ARNs DescribeTags takes in one call.
const describeTagsBatch = 20

// ensureIndex scans when the index was never built or is older than
// RescanEvery. Scans are serialised; deploys wait for a running one.
func (d *Deployer) ensureIndex(ctx context.Context) error {
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	d.mu.Lock()
	fresh := !d.scanned.IsZero() && time.Since(d.scanned) < d.cfg.RescanEvery
	d.mu.Unlock()
	if fresh {
		return nil
	}
	d.mu.Lock()
	d.scanning, d.during = true, nil
	d.mu.Unlock()
	idx, err := d.scan(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scanning = false
	if err != nil {
		return fmt.Errorf("scan of owned resources: %w", err)
	}
	for _, e := range d.during {
		e.apply(idx)
	}
	d.during = nil
	d.index = idx
	d.scanned = time.Now()
	return nil
}

// ownerKey returns the stack key of a resource's tags when the resource
// belongs to this cluster.
func (d *Deployer) ownerKey(tags map[string]string) (string, bool) {
	if tags[stack.TagCluster] != d.cfg.ClusterName && tags[legacyClusterTag] != d.cfg.ClusterName {
		return "", false
	}
	for k, v := range tags {
		if prefix, ok := strings.CutSuffix(k, "/stack"); ok && v != "" {
			return stackKey(prefix, v), true
		}
	}
	return "", false
}

// scan finds what the cluster owns: its load balancers and target groups
// (with the Resource Groups Tagging API when configured, else by listing
// the region's and reading their tags in batches), its security groups
// by tag filter and, with an ACM client, its imported certificates.
func (d *Deployer) scan(ctx context.Context) (map[string]*owned, error) {
	idx := map[string]*owned{}
	add := func(key, kind, id string) { noteEvent{key: key, kind: kind, id: id, add: true}.apply(idx) }
	var err error
	if d.cfg.Tagging != nil {
		err = d.scanTagged(ctx, add)
	} else {
		err = d.scanListed(ctx, add)
	}
	if err != nil {
		return nil, err
	}
	for _, tagKey := range []string{stack.TagCluster, legacyClusterTag} {
		sgp := ec2.NewDescribeSecurityGroupsPaginator(d.ec2, &ec2.DescribeSecurityGroupsInput{
			Filters: []ec2types.Filter{{Name: aws.String("tag:" + tagKey), Values: []string{d.cfg.ClusterName}}},
		})
		for sgp.HasMorePages() {
			page, err := sgp.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("DescribeSecurityGroups: %w", err)
			}
			for _, g := range page.SecurityGroups {
				if key, ok := d.ownerKey(ec2Tags(g.Tags)); ok {
					add(key, "sg", aws.ToString(g.GroupId))
				}
			}
		}
	}
	if d.cfg.ACM != nil {
		if err := d.scanCertificates(ctx, add); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// scanTagged finds the cluster's load balancers and target groups with
// GetResources, one paged query per cluster tag key.
func (d *Deployer) scanTagged(ctx context.Context, add func(key, kind, id string)) error {
	for _, tagKey := range []string{stack.TagCluster, legacyClusterTag} {
		pg := rgt.NewGetResourcesPaginator(d.cfg.Tagging, &rgt.GetResourcesInput{
			ResourceTypeFilters: []string{"elasticloadbalancing:loadbalancer", "elasticloadbalancing:targetgroup"},
			TagFilters:          []rgttypes.TagFilter{{Key: aws.String(tagKey), Values: []string{d.cfg.ClusterName}}},
			ResourcesPerPage:    aws.Int32(100),
		})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("GetResources: %w", err)
			}
			for _, m := range page.ResourceTagMappingList {
				arn := aws.ToString(m.ResourceARN)
				tags := make(map[string]string, len(m.Tags))
				for _, t := range m.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				key, ok := d.ownerKey(tags)
				if !ok {
					continue
				}
				switch {
				case strings.Contains(arn, ":loadbalancer/"):
					add(key, "lb", arn)
				case strings.Contains(arn, ":targetgroup/"):
					add(key, "tg", arn)
				}
			}
		}
	}
	return nil
}

// scanListed lists the region's load balancers and target groups and
// reads their tags in batches.
func (d *Deployer) scanListed(ctx context.Context, add func(key, kind, id string)) error {
	var lbARNs []string
	lbp := elbv2.NewDescribeLoadBalancersPaginator(d.elb, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(400)})
	for lbp.HasMorePages() {
		page, err := lbp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("DescribeLoadBalancers: %w", err)
		}
		for _, lb := range page.LoadBalancers {
			lbARNs = append(lbARNs, aws.ToString(lb.LoadBalancerArn))
		}
	}
	var tgARNs []string
	tgp := elbv2.NewDescribeTargetGroupsPaginator(d.elb, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(400)})
	for tgp.HasMorePages() {
		page, err := tgp.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("DescribeTargetGroups: %w", err)
		}
		for _, tg := range page.TargetGroups {
			tgARNs = append(tgARNs, aws.ToString(tg.TargetGroupArn))
		}
	}
	for kind, arns := range map[string][]string{"lb": lbARNs, "tg": tgARNs} {
		tags, err := d.tagsOf(ctx, arns)
		if err != nil {
			return err
		}
		for arn, t := range tags {
			if key, ok := d.ownerKey(t); ok {
				add(key, kind, arn)
			}
		}
	}
	return nil
}

// tagsOf reads the tags of ELBv2 resources, 20 ARNs a call.
func (d *Deployer) tagsOf(ctx context.Context, arns []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for i := 0; i < len(arns); i += describeTagsBatch {
		batch := arns[i:min(i+describeTagsBatch, len(arns))]
		res, err := d.elb.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, fmt.Errorf("DescribeTags: %w", err)
		}
		for _, td := range res.TagDescriptions {
			out[aws.ToString(td.ResourceArn)] = elbv2Tags(td.Tags)
		}
	}
	return out, nil
}

func elbv2Tags(tags []elbv2types.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

func ec2Tags(tags []ec2types.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}
