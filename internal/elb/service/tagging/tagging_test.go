package tagging_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/service/tagging"
	"github.com/elbowlb/elbow/internal/elb/state"
)

const prefix = "arn:aws:elasticloadbalancing:us-east-1:000000000000:"

func TestGetResources(t *testing.T) {
	ctx := context.Background()
	e := svctest.Serve(t, func(st *state.Store) []api.Service { return []api.Service{tagging.New(st).API()} })
	var lbs, tgs []string
	err := e.Store.Update(ctx, func(tx *state.Tx) error {
		for i := range 3 {
			lb := fmt.Sprintf("%sloadbalancer/app/lb%d/%016d", prefix, i, i)
			tg := fmt.Sprintf("%stargetgroup/tg%d/%016d", prefix, i, i)
			lbs, tgs = append(lbs, lb), append(tgs, tg)
			if err := state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: lb}); err != nil {
				return err
			}
			if err := state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tg}); err != nil {
				return err
			}
			stack := fmt.Sprintf("ns/app%d", i%2)
			for _, arn := range []string{lb, tg} {
				if err := state.Put(tx, state.Tags, &state.TagSet{Resource: arn, Tags: []state.Tag{{Key: "elbv2.k8s.aws/cluster", Value: "demo"}, {Key: "ingress.k8s.aws/stack", Value: stack}}}); err != nil {
					return err
				}
			}
		}
		// An untagged load balancer, the tags of a deleted one, and a
		// tagged EC2 resource are not listed.
		if err := state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: prefix + "loadbalancer/app/bare/1"}); err != nil {
			return err
		}
		if err := state.Put(tx, state.Tags, &state.TagSet{Resource: prefix + "loadbalancer/app/deleted/1", Tags: []state.Tag{{Key: "elbv2.k8s.aws/cluster", Value: "demo"}}}); err != nil {
			return err
		}
		return state.Put(tx, state.Tags, &state.TagSet{Resource: "sg-0123", Tags: []state.Tag{{Key: "elbv2.k8s.aws/cluster", Value: "demo"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	c := sdk.NewFromConfig(e.Config)
	list := func(in *sdk.GetResourcesInput) []string {
		t.Helper()
		var out []string
		p := sdk.NewGetResourcesPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.ResourceTagMappingList {
				out = append(out, aws.ToString(m.ResourceARN))
				if len(m.Tags) != 2 {
					t.Errorf("tags of %s: %v", *m.ResourceARN, m.Tags)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	all := append(append([]string{}, lbs...), tgs...)
	slices.Sort(all)
	for _, tc := range []struct {
		name string
		in   *sdk.GetResourcesInput
		want []string
	}{
		{"all, two per page", &sdk.GetResourcesInput{ResourcesPerPage: aws.Int32(2)}, all},
		{"load balancers", &sdk.GetResourcesInput{ResourceTypeFilters: []string{"elasticloadbalancing:loadbalancer"}}, lbs},
		{"target groups of a stack", &sdk.GetResourcesInput{ResourceTypeFilters: []string{"elasticloadbalancing:targetgroup"},
			TagFilters: []types.TagFilter{{Key: aws.String("elbv2.k8s.aws/cluster"), Values: []string{"demo"}}, {Key: aws.String("ingress.k8s.aws/stack"), Values: []string{"ns/app1"}}}}, tgs[1:2]},
		{"key present", &sdk.GetResourcesInput{ResourceTypeFilters: []string{"elasticloadbalancing"}, TagFilters: []types.TagFilter{{Key: aws.String("ingress.k8s.aws/stack")}}}, all},
		{"other cluster", &sdk.GetResourcesInput{TagFilters: []types.TagFilter{{Key: aws.String("elbv2.k8s.aws/cluster"), Values: []string{"other"}}}}, nil},
		{"ARN list", &sdk.GetResourcesInput{ResourceARNList: []string{lbs[0], prefix + "loadbalancer/app/bare/1"}}, lbs[:1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		in   *sdk.GetResourcesInput
		code string
	}{
		{"ARN list with filters", &sdk.GetResourcesInput{ResourceARNList: lbs[:1], ResourceTypeFilters: []string{"elasticloadbalancing"}}, "InvalidParameterException"},
		{"bad page size", &sdk.GetResourcesInput{ResourcesPerPage: aws.Int32(101)}, "InvalidParameterException"},
		{"bad type filter", &sdk.GetResourcesInput{ResourceTypeFilters: []string{"elastic load balancing"}}, "InvalidParameterException"},
		{"bad token", &sdk.GetResourcesInput{PaginationToken: aws.String("x")}, "PaginationTokenExpiredException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetResources(ctx, tc.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}
