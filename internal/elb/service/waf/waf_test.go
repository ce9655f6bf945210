package waf_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/smithy-go"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/service/waf"
	"github.com/elbowlb/elbow/internal/elb/state"
)

const (
	alb = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/0123456789abcdef"
	nlb = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/edge/0123456789abcdef"
	acl = "arn:aws:wafv2:us-east-1:000000000000:regional/webacl/my-acl/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
)

func apiErr(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestWebACLAssociation(t *testing.T) {
	ctx := context.Background()
	e := svctest.Serve(t, func(st *state.Store) []api.Service { return []api.Service{waf.New(waf.Config{Store: st}).API()} })
	if err := e.Store.Update(ctx, func(tx *state.Tx) error {
		if err := state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: alb, Type: "application"}); err != nil {
			return err
		}
		return state.Put(tx, state.LoadBalancers, &state.LoadBalancer{ARN: nlb, Type: "network"})
	}); err != nil {
		t.Fatal(err)
	}
	c := sdk.NewFromConfig(e.Config)

	got, err := c.GetWebACLForResource(ctx, &sdk.GetWebACLForResourceInput{ResourceArn: aws.String(alb)})
	if err != nil || got.WebACL != nil {
		t.Fatalf("before association: %+v, %v", got, err)
	}
	if _, err := c.AssociateWebACL(ctx, &sdk.AssociateWebACLInput{ResourceArn: aws.String(alb), WebACLArn: aws.String(acl)}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetWebACLForResource(ctx, &sdk.GetWebACLForResourceInput{ResourceArn: aws.String(alb)})
	if err != nil || got.WebACL == nil || aws.ToString(got.WebACL.ARN) != acl || aws.ToString(got.WebACL.Name) != "my-acl" {
		t.Fatalf("after association: %+v, %v", got, err)
	}
	var stored *state.WebACLAssociation
	if err := e.Store.View(func(tx *state.Tx) error {
		stored, _, err = state.Get(tx, state.WebACLAssociations, alb)
		return err
	}); err != nil || stored == nil || stored.WebACLARN != acl {
		t.Fatalf("stored association %+v, %v", stored, err)
	}

	for _, tc := range []struct {
		name, resource, acl, code string
	}{
		{"unknown load balancer", "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/gone/1", acl, "WAFNonexistentItemException"},
		{"network load balancer", nlb, acl, "WAFInvalidParameterException"},
		{"malformed web ACL", alb, "my-acl", "WAFInvalidParameterException"},
		{"web ACL of another region", alb, "arn:aws:wafv2:eu-west-1:000000000000:regional/webacl/x/1", "WAFNonexistentItemException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.AssociateWebACL(ctx, &sdk.AssociateWebACLInput{ResourceArn: aws.String(tc.resource), WebACLArn: aws.String(tc.acl)})
			apiErr(t, err, tc.code)
		})
	}
	_, err = c.GetWebACLForResource(ctx, &sdk.GetWebACLForResourceInput{ResourceArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/gone/1")})
	apiErr(t, err, "WAFNonexistentItemException")

	if _, err := c.DisassociateWebACL(ctx, &sdk.DisassociateWebACLInput{ResourceArn: aws.String(alb)}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetWebACLForResource(ctx, &sdk.GetWebACLForResourceInput{ResourceArn: aws.String(alb)})
	if err != nil || got.WebACL != nil {
		t.Fatalf("after disassociation: %+v, %v", got, err)
	}
	// Disassociating again is not an error.
	if _, err := c.DisassociateWebACL(ctx, &sdk.DisassociateWebACLInput{ResourceArn: aws.String(alb)}); err != nil {
		t.Fatal(err)
	}
}
