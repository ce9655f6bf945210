package sts_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/service/sts"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/state"
)

func TestGetCallerIdentity(t *testing.T) {
	e := svctest.Serve(t, func(*state.Store) []api.Service { return []api.Service{sts.New("123456789012").API()} })
	out, err := sdk.NewFromConfig(e.Config).GetCallerIdentity(context.Background(), &sdk.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" || aws.ToString(out.Arn) != "arn:aws:iam::123456789012:root" || aws.ToString(out.UserId) != "123456789012" {
		t.Fatalf("GetCallerIdentity = %+v", out)
	}
}
