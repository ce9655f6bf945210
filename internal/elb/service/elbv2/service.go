// Package elbv2 is the local ELB's Elastic Load Balancing v2 service: load
// balancers (application, network, gateway), listeners and their rules,
// target groups and their targets, tags, attributes, SSL policies, quotas,
// trust stores and capacity reservations, answered from the shared state
// (internal/elb/state) with AWS's semantics: ARNs, IDs and DNS names of
// AWS's shapes, idempotent creates, the documented validation rules, error
// codes, default attribute sets, quotas and pagination.
//
// Each exported method of Service with the shape
//
//	func (s *Service) Op(ctx context.Context, in *elasticloadbalancingv2.OpInput) (*elasticloadbalancingv2.OpOutput, error)
//
// is one ELBv2 API operation; the wire layer (internal/elb/api) serves them
// over the AWS Query protocol (API returns the descriptor). Errors a client
// caused are *awserr.Error with AWS's code and message.
//
// Every write is one state transaction: validation and all writes happen in
// it, so a failed call changes nothing. Reads run in one read transaction.
//
// Run is the service's background work: it removes targets whose
// deregistration delay has passed and marks load balancers active when
// their provisioning time has passed.
package elbv2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/dataplane/health"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/service/ec2"
	"github.com/elbowlb/elbow/internal/elb/service/pagetoken"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// DefaultProvisioningDelay is how long a new load balancer stays
// provisioning before it is active.
const DefaultProvisioningDelay = 2 * time.Second

// DefaultDNSSuffix is the domain under which load balancer DNS names are
// made: NAME-ID.REGION.elb.localhost.
const DefaultDNSSuffix = "elb.localhost"

// Config configures the ELBv2 service.
type Config struct {
	// Store is the local ELB's state.
	Store *state.Store
	// Region and AccountID identify the local cloud (facts.DefaultRegion
	// and facts.DefaultAccountID when empty).
	Region    string
	AccountID string
	// Health answers DescribeTargetHealth for targets in use; nil reports
	// such targets as initial (Elb.RegistrationInProgress).
	Health health.Source
	// Logger receives a debug line per write (the wire layer logs every
	// call) and the background work's notes;
	// nil discards.
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// NewID returns a fresh resource ID of 16 lowercase hex digits, used
	// in ARNs and DNS names (random when nil).
	NewID func() string
	// ProvisioningDelay is how long a new load balancer is provisioning:
	// zero means DefaultProvisioningDelay, a negative value makes it
	// active at once.
	ProvisioningDelay time.Duration
	// DNSSuffix is the domain of load balancer DNS names
	// (DefaultDNSSuffix when empty).
	DNSSuffix string
	// Limits are the quotas; zero fields take AWS's defaults
	// (DefaultLimits).
	Limits Limits
	// AutoProvision creates, on first use, an ACM certificate that a
	// listener names and ACM does not hold (issued by the local CA, with
	// the given ARN), logging a warning. Off by default: a missing
	// certificate is CertificateNotFound, as on AWS.
	AutoProvision bool
	// AutoProvisionReferences creates, on first use, every reference a
	// request names and the local cloud lacks: certificates as
	// AutoProvision does, subnets (CreateLoadBalancer, SetSubnets),
	// security groups (CreateLoadBalancer, SetSecurityGroups) and
	// Elastic IPs (CreateLoadBalancer's subnet mappings), inside the
	// request's transaction (ec2.Provisioner), logging a warning for
	// each. Off by default: AWS's NotFound errors.
	AutoProvisionReferences bool
	// ClusterName tags auto-provisioned subnets
	// kubernetes.io/cluster/NAME=shared, as the default subnets are.
	ClusterName string
	// Objects stands in for S3 where trust store CA bundles are read
	// from: the object s3://BUCKET/KEY is the file BUCKET/KEY. Nil means
	// no objects (CreateTrustStore answers CaCertificatesBundleNotFound).
	Objects fs.FS
	// ReapInterval is how often Run looks for expired draining targets
	// and provisioned load balancers (one second when zero).
	ReapInterval time.Duration
}

// Service implements the ELBv2 API operations. It is safe for concurrent
// use.
type Service struct {
	store     *state.Store
	region    string
	account   string
	partition string
	health    health.Source
	log       *slog.Logger
	now       func() time.Time
	newID     func() string
	delay     time.Duration
	dnsSuffix string
	limits    Limits
	// autoProv auto-provisions certificates; refs, when not nil, the
	// EC2 references of load balancers.
	autoProv  bool
	refs      *ec2.Provisioner
	reapEvery time.Duration
	objects   fs.FS
	// tokens seal the Markers of Describe operations.
	tokens pagetoken.Sealer
	// nextDue is when background work may next fall due (Unix
	// nanoseconds; 0: unknown, read the state).
	nextDue atomic.Int64
}

// New returns the ELBv2 service on cfg.Store.
func New(cfg Config) *Service {
	s := &Service{
		store:     cfg.Store,
		region:    cfg.Region,
		account:   cfg.AccountID,
		health:    cfg.Health,
		log:       cfg.Logger,
		now:       cfg.Now,
		newID:     cfg.NewID,
		delay:     cfg.ProvisioningDelay,
		dnsSuffix: cfg.DNSSuffix,
		limits:    cfg.Limits.withDefaults(),
		autoProv:  cfg.AutoProvision || cfg.AutoProvisionReferences,
		reapEvery: cfg.ReapInterval,
		objects:   cfg.Objects,
		tokens:    pagetoken.New(cfg.Store.TokenKey()),
	}
	if s.region == "" {
		s.region = facts.DefaultRegion
	}
	if s.account == "" {
		s.account = facts.DefaultAccountID
	}
	s.partition = partitionOf(s.region)
	if cfg.AutoProvisionReferences {
		s.refs = &ec2.Provisioner{AccountID: s.account, Region: s.region, ClusterName: cfg.ClusterName}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = randomID
	}
	switch {
	case s.delay == 0:
		s.delay = DefaultProvisioningDelay
	case s.delay < 0:
		s.delay = 0
	}
	if s.dnsSuffix == "" {
		s.dnsSuffix = DefaultDNSSuffix
	}
	if s.reapEvery <= 0 {
		s.reapEvery = time.Second
	}
	return s
}

// API returns the service's descriptor for api.Config.Services (awsQuery,
// Version 2015-12-01).
func (s *Service) API() api.Service { return api.ELBv2(s) }

// Region returns the service's region.
func (s *Service) Region() string { return s.region }

// DNSDomain returns the domain load balancer DNS names are made under:
// REGION.SUFFIX, e.g. us-east-1.elb.localhost.
func (s *Service) DNSDomain() string { return s.region + "." + s.dnsSuffix }

// randomID returns 16 random lowercase hex digits.
func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// view runs fn in a read transaction.
func (s *Service) view(ctx context.Context, fn func(*state.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.store.View(fn)
}

// update runs fn in a write transaction and logs the write with the
// resource it concerns.
func (s *Service) update(ctx context.Context, action string, resource *string, fn func(*state.Tx) error) error {
	return s.updateProvisioning(ctx, action, resource, func(tx *state.Tx, _ *autoprovision.Request) error { return fn(tx) })
}

// updateProvisioning is update for a write that may auto-provision the
// references it names: fn notes what it creates in req, and the warnings
// are logged once the transaction has committed.
func (s *Service) updateProvisioning(ctx context.Context, action string, resource *string, fn func(*state.Tx, *autoprovision.Request) error) error {
	req := autoprovision.NewRequest(action)
	err := s.store.Update(ctx, func(tx *state.Tx) error {
		req.Reset()
		return fn(tx, req)
	})
	if err == nil {
		req.Log(ctx, s.log)
	}
	attrs := []slog.Attr{slog.String("action", action)}
	if resource != nil && *resource != "" {
		attrs = append(attrs, slog.String("resource", *resource))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.String("result", "ok"))
	}
	if info, ok := api.InfoFrom(ctx); ok {
		attrs = append(attrs, slog.String("requestID", info.RequestID))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "elbv2 write", attrs...)
	return err
}

// partitionOf returns the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case len(region) > 3 && region[:3] == "cn-":
		return "aws-cn"
	case len(region) > 7 && region[:7] == "us-gov-":
		return "aws-us-gov"
	}
	return "aws"
}
