package shield_test

import (
	"context"
	"testing"

	sdk "github.com/aws/aws-sdk-go-v2/service/shield"
	"github.com/aws/aws-sdk-go-v2/service/shield/types"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/service/shield"
	"github.com/elbowlb/elbow/internal/elb/service/svctest"
	"github.com/elbowlb/elbow/internal/elb/state"
)

func TestGetSubscriptionStateIsInactive(t *testing.T) {
	e := svctest.Serve(t, func(*state.Store) []api.Service { return []api.Service{shield.New().API()} })
	out, err := sdk.NewFromConfig(e.Config).GetSubscriptionState(context.Background(), &sdk.GetSubscriptionStateInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.SubscriptionState != types.SubscriptionStateInactive {
		t.Fatalf("SubscriptionState = %q, want INACTIVE", out.SubscriptionState)
	}
}
