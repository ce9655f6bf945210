// Package ec2 is the local ELB's EC2 service: the VPC resources load
// balancers live in (VPCs, subnets, route tables, internet gateways,
// availability zones), security groups and their rules, instances and their
// network interfaces, Elastic IPs, and tags on all of them, answered from
// the shared state with AWS's semantics (filters, pagination, error codes).
//
// Each exported method of Service is one EC2 API operation taking and
// returning the aws-sdk-go-v2 ec2 types; the wire layer (internal/elb/api)
// serves them over the EC2 Query protocol. Errors a client caused are
// *awserr.Error with AWS's code and message.
//
// Bootstrap creates the resources a facts file (or facts.Default) describes
// when the local ELB starts.
package ec2

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Config configures the EC2 service.
type Config struct {
	// Store is the local ELB's state.
	Store *state.Store
	// Region and AccountID identify the local cloud (facts.DefaultRegion
	// and facts.DefaultAccountID when empty).
	Region    string
	AccountID string
	// Zones are the availability zones DescribeAvailabilityZones reports
	// besides those of existing subnets; when both are empty the region's
	// zones a, b and c are reported.
	Zones []string
	// MaxElasticIPs is the Elastic IP quota (AWS's default, 5, when 0).
	MaxElasticIPs int
	// AutoProvisionReferences makes DescribeSubnets, DescribeSecurityGroups
	// and DescribeAddresses create the resources their explicit IDs name
	// and the state lacks (Provisioner), logging a warning for each. Off
	// by default: an unknown ID is InvalidSubnetID.NotFound,
	// InvalidGroup.NotFound or InvalidAllocationID.NotFound, as on AWS.
	AutoProvisionReferences bool
	// ClusterName tags auto-provisioned subnets
	// kubernetes.io/cluster/NAME=shared, as the default subnets are.
	ClusterName string
	// Logger receives a line per write; nil discards.
	Logger *slog.Logger
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

// Service implements the EC2 API operations. It is safe for concurrent use.
type Service struct {
	store         *state.Store
	region        string
	account       string
	zones         []string
	maxElasticIPs int
	log           *slog.Logger
	now           func() time.Time
	// prov creates what Describe calls name; nil without
	// AutoProvisionReferences.
	prov *Provisioner
	// tokens seal the NextTokens of Describe operations.
	tokens pagetoken.Sealer
}

// AWS's default quotas.
const (
	defaultMaxElasticIPs = 5
	// maxRulesPerGroup is the default "Inbound or outbound rules per
	// security group" quota, counted separately for IPv4 and IPv6.
	maxRulesPerGroup = 60
	// maxTagsPerResource is EC2's tag limit per resource.
	maxTagsPerResource = 50
)

// New returns the EC2 service on cfg.Store.
func New(cfg Config) *Service {
	s := &Service{
		store:         cfg.Store,
		region:        cfg.Region,
		account:       cfg.AccountID,
		zones:         append([]string(nil), cfg.Zones...),
		maxElasticIPs: cfg.MaxElasticIPs,
		log:           cfg.Logger,
		now:           cfg.Now,
		tokens:        pagetoken.New(cfg.Store.TokenKey()),
	}
	if s.region == "" {
		s.region = facts.DefaultRegion
	}
	if s.account == "" {
		s.account = facts.DefaultAccountID
	}
	if s.maxElasticIPs <= 0 {
		s.maxElasticIPs = defaultMaxElasticIPs
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.AutoProvisionReferences {
		s.prov = &Provisioner{AccountID: s.account, Region: s.region, ClusterName: cfg.ClusterName}
	}
	return s
}

// provision runs fn, which auto-provisions what a Describe call names
// and reads the answer, in a write transaction; the warnings are logged
// once it has committed.
func (s *Service) provision(ctx context.Context, action string, fn func(*state.Tx, *autoprovision.Request) error) error {
	req := autoprovision.NewRequest(action)
	err := s.update(ctx, action, func(tx *state.Tx) error {
		req.Reset()
		return fn(tx, req)
	})
	if err == nil {
		req.Log(ctx, s.log)
	}
	return err
}

// provisionErr turns a reference that could not be auto-provisioned into
// the kind's NotFound error, with the reason.
func provisionErr(err error, k idKind) error {
	var pe *ProvisionError
	if errors.As(err, &pe) {
		return awserr.New(k.notFound, "The %s ID '%s' does not exist and could not be auto-provisioned: %s", k.noun, pe.ID, pe.Reason)
	}
	return err
}

// filterValue returns the one value of a filter, "" when the filter is
// absent or has several values.
func filterValue(filters []types.Filter, name string) string {
	v := ""
	for _, f := range filters {
		if aws.ToString(f.Name) == name {
			if len(f.Values) != 1 || v != "" {
				return ""
			}
			v = f.Values[0]
		}
	}
	return v
}

// view runs fn in a read transaction.
func (s *Service) view(ctx context.Context, fn func(*state.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.store.View(fn)
}

// update runs fn in a write transaction and logs the write.
func (s *Service) update(ctx context.Context, action string, fn func(*state.Tx) error) error {
	err := s.store.Update(ctx, fn)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "ec2 write", slog.String("action", action), slog.String("error", err.Error()))
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "ec2 write", slog.String("action", action), slog.String("result", "ok"))
	return nil
}

// API returns the service's descriptor for api.Config.Services (EC2 Query,
// Version 2016-11-15).
func (s *Service) API() api.Service { return api.EC2(s) }
