// Package api is the wire layer of the local ELB: one http.Handler that is
// the endpoint of every AWS service the local ELB serves. It verifies the
// SigV4 signature of each request, picks the service from the credential
// scope, decodes the request with the service's protocol (awsQuery,
// ec2Query or JSON 1.1) into the aws-sdk-go-v2 input struct, calls the
// service's method for the operation, and encodes the output or the error
// the way AWS does.
//
// A service registers by listing itself in Config.Services: its Impl's
// exported methods of the form
//
//	func (s *T) CreateLoadBalancer(ctx context.Context, in *elasticloadbalancingv2.CreateLoadBalancerInput) (*elasticloadbalancingv2.CreateLoadBalancerOutput, error)
//
// are its operations, found by reflection once, in NewHandler. Errors of
// type *awserr.Error reach the client with their code, message and status;
// any other error is an InternalFailure whose detail is only logged.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/elb/api/query"
)

// Protocol is the wire protocol of a service.
type Protocol int

const (
	// Query is awsQuery: ELBv2 (Version 2015-12-01), STS (2011-06-15).
	Query Protocol = iota
	// EC2Query is ec2Query: EC2 (2016-11-15).
	EC2Query
	// JSON11 is awsJson1_1: ACM (CertificateManager), WAFv2
	// (AWSWAF_20190729), Shield (AWSShield_20160616), Resource Groups
	// Tagging (ResourceGroupsTaggingAPI_20170126).
	JSON11
)

func (p Protocol) String() string {
	switch p {
	case Query:
		return "awsQuery"
	case EC2Query:
		return "ec2Query"
	case JSON11:
		return "awsJson1_1"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// Service is one AWS service served by the handler.
type Service struct {
	// Name is the service's name in logs and metrics, e.g.
	// "elasticloadbalancing".
	Name string
	// SigningName is the SigV4 credential-scope service: elasticloadbalancing,
	// ec2, acm, wafv2, shield, tagging, sts. Requests signed for it go to
	// this service.
	SigningName string
	// Protocol is the service's wire protocol.
	Protocol Protocol
	// Version is the Query/EC2Query Version parameter requests must send.
	Version string
	// XMLNamespace is the xmlns of Query/EC2Query responses, e.g.
	// http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/.
	XMLNamespace string
	// TargetPrefix is the JSON11 X-Amz-Target prefix, e.g.
	// "CertificateManager".
	TargetPrefix string
	// Impl's exported methods with the operation shape are the operations.
	Impl any
}

// ThrottleRule makes the endpoint answer AWS's throttling error for the
// calls it matches once its token bucket is empty (for clients' retry
// tests).
type ThrottleRule struct {
	// Service matches Service.Name or Service.SigningName; empty matches
	// every service.
	Service string
	// Action matches the operation name; nil matches every operation.
	Action *regexp.Regexp
	// Rate is the bucket's refill rate in requests per second.
	Rate float64
	// Burst is the bucket's size.
	Burst int
}

// Config configures a Handler.
type Config struct {
	// Region is the only region accepted in credential scopes.
	Region string
	// Credentials maps access key IDs to secret access keys.
	Credentials map[string]string
	// Services are the services served.
	Services []Service
	// Logger receives one line per write call and the detail of internal
	// failures. Nil discards.
	Logger *slog.Logger
	// Registerer receives the request metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds request bodies; 0 means DefaultQueryBodyBytes for
	// the query protocols and DefaultJSONBodyBytes for JSON 1.1 (ACM's
	// ImportCertificate carries a certificate chain of up to 2 MB).
	MaxBodyBytes int64
	// Now is the clock used for signature expiry; nil means time.Now.
	Now func() time.Time
	// Throttle are the initial throttle rules.
	Throttle []ThrottleRule
	// Authorize, when set, decides every signed and decoded request before
	// its operation runs (the IAM policy of the key that signed it): a
	// non-empty denial is IAM's message for the refused request, answered
	// with the protocol's access-denied error; an error is an internal
	// failure.
	Authorize func(ctx context.Context, info RequestInfo, in any) (denial string, err error)
}

// Default request body bounds.
const (
	DefaultQueryBodyBytes int64 = 1 << 20
	DefaultJSONBodyBytes  int64 = 4 << 20
)

// Handler is the AWS API endpoint. It implements http.Handler.
type Handler struct {
	region   string
	creds    map[string]string
	services []*service
	bySign   map[string]*service
	byTarget map[string]*service
	log      *slog.Logger
	metrics  *metrics
	maxBody  int64
	now      func() time.Time
	throttle atomic.Pointer[[]*throttle]
	// authorize is Config.Authorize.
	authorize func(ctx context.Context, info RequestInfo, in any) (string, error)
}

// service is a registered Service with its operations.
type service struct {
	Service
	ops     map[string]*operation
	dialect query.Dialect
}

// NewHandler validates cfg, finds every service's operations and returns the
// handler.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Region == "" {
		return nil, errors.New("api: Config.Region is empty")
	}
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("api: Config.Credentials is empty: every request must be signed with a known key")
	}
	for k, s := range cfg.Credentials {
		if k == "" || s == "" {
			return nil, fmt.Errorf("api: credential %q has an empty access key ID or secret", k)
		}
	}
	if len(cfg.Services) == 0 {
		return nil, errors.New("api: Config.Services is empty")
	}
	h := &Handler{
		region:   cfg.Region,
		creds:    make(map[string]string, len(cfg.Credentials)),
		bySign:   map[string]*service{},
		byTarget: map[string]*service{},
		log:      cfg.Logger,
		maxBody:  cfg.MaxBodyBytes,
		now:      cfg.Now,

		authorize: cfg.Authorize,
	}
	for k, v := range cfg.Credentials {
		h.creds[k] = v
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody < 0 {
		return nil, fmt.Errorf("api: Config.MaxBodyBytes is negative (%d)", h.maxBody)
	}
	for i := range cfg.Services {
		s, err := newService(cfg.Services[i])
		if err != nil {
			return nil, err
		}
		if _, dup := h.bySign[s.SigningName]; dup {
			return nil, fmt.Errorf("api: two services have the signing name %q", s.SigningName)
		}
		h.bySign[s.SigningName] = s
		if s.Protocol == JSON11 {
			if _, dup := h.byTarget[s.TargetPrefix]; dup {
				return nil, fmt.Errorf("api: two services have the target prefix %q", s.TargetPrefix)
			}
			h.byTarget[s.TargetPrefix] = s
		}
		h.services = append(h.services, s)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	h.SetThrottle(cfg.Throttle)
	return h, nil
}

func newService(s Service) (*service, error) {
	if s.Name == "" || s.SigningName == "" {
		return nil, fmt.Errorf("api: service %q: Name and SigningName are required", s.Name)
	}
	switch s.Protocol {
	case Query, EC2Query:
		if s.Version == "" || s.XMLNamespace == "" {
			return nil, fmt.Errorf("api: service %s: Version and XMLNamespace are required for %s", s.Name, s.Protocol)
		}
	case JSON11:
		if s.TargetPrefix == "" {
			return nil, fmt.Errorf("api: service %s: TargetPrefix is required for %s", s.Name, s.Protocol)
		}
	default:
		return nil, fmt.Errorf("api: service %s: unknown protocol %d", s.Name, int(s.Protocol))
	}
	if s.Impl == nil {
		return nil, fmt.Errorf("api: service %s: Impl is nil", s.Name)
	}
	ops, err := findOperations(s)
	if err != nil {
		return nil, fmt.Errorf("api: service %s: %w", s.Name, err)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("api: service %s: %T has no method of the form func(context.Context, *XInput) (*XOutput, error)", s.Name, s.Impl)
	}
	d := query.AWSQuery
	if s.Protocol == EC2Query {
		d = query.EC2Query
	}
	return &service{Service: s, ops: ops, dialect: d}, nil
}

// Operations returns the names of the operations of the service with the
// given Name, sorted; nil if there is no such service.
func (h *Handler) Operations(serviceName string) []string {
	for _, s := range h.services {
		if s.Name == serviceName {
			return sortedOps(s.ops)
		}
	}
	return nil
}

// RequestInfo is the metadata of the request being served, available to
// operation methods through InfoFrom.
type RequestInfo struct {
	// RequestID is the request's ID (UUID shape), also sent to the client.
	RequestID string
	// Service is the Service.Name.
	Service string
	// Action is the operation name.
	Action string
	// AccessKeyID is the key that signed the request.
	AccessKeyID string
	// Region is the region of the credential scope.
	Region string
}

type infoKey struct{}

// WithInfo returns ctx carrying info (for tests of service methods).
func WithInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the request metadata in ctx.
func InfoFrom(ctx context.Context) (RequestInfo, bool) {
	i, ok := ctx.Value(infoKey{}).(RequestInfo)
	return i, ok
}

func isReadAction(action string) bool {
	for _, p := range []string{"Describe", "List", "Get"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

var errorType = reflect.TypeFor[error]()
