// Package shield is the local ELB's AWS Shield: GetSubscriptionState
// answers INACTIVE, as for an account without Shield Advanced, so that
// clients (the AWS Load Balancer Controller checks it on every deploy)
// skip Shield protection.
package shield

import (
	"context"

	sdk "github.com/aws/aws-sdk-go-v2/service/shield"
	"github.com/aws/aws-sdk-go-v2/service/shield/types"

	"github.com/elbowlb/elbow/internal/elb/api"
)

// Service implements the Shield operations.
type Service struct{}

// New returns the Shield service.
func New() *Service { return &Service{} }

// API returns the service's descriptor for api.Config.Services.
func (s *Service) API() api.Service { return api.Shield(s) }

// GetSubscriptionState reports the Shield Advanced subscription: INACTIVE.
func (s *Service) GetSubscriptionState(ctx context.Context, in *sdk.GetSubscriptionStateInput) (*sdk.GetSubscriptionStateOutput, error) {
	return &sdk.GetSubscriptionStateOutput{SubscriptionState: types.SubscriptionStateInactive}, nil
}
