// Package sts is the local ELB's AWS Security Token Service:
// GetCallerIdentity names the local account and its root user, whatever
// access key signed the request.
package sts

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/facts"
)

// Service implements the STS operations.
type Service struct {
	account string
}

// New returns the STS service of an account (facts.DefaultAccountID when
// empty).
func New(accountID string) *Service {
	if accountID == "" {
		accountID = facts.DefaultAccountID
	}
	return &Service{account: accountID}
}

// API returns the service's descriptor for api.Config.Services.
func (s *Service) API() api.Service { return api.STS(s) }

// GetCallerIdentity answers as AWS does for an account's root user: the
// account, arn:aws:iam::ACCOUNT:root and the account ID as the user ID.
func (s *Service) GetCallerIdentity(ctx context.Context, in *sdk.GetCallerIdentityInput) (*sdk.GetCallerIdentityOutput, error) {
	return &sdk.GetCallerIdentityOutput{
		Account: aws.String(s.account),
		Arn:     aws.String("arn:aws:iam::" + s.account + ":root"),
		UserId:  aws.String(s.account),
	}, nil
}
