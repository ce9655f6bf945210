package controller

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/smithy-go/middleware"

	"github.com/elbowlb/elbow/internal/awsthrottle"
)

// Clients are the AWS API clients the controller calls.
type Clients struct {
	Config aws.Config
	ELBV2  *elbv2sdk.Client
	EC2    *ec2.Client
	ACM    *acm.Client
	WAFv2  *wafv2.Client
	// Tagging is the Resource Groups Tagging API client.
	Tagging *rgt.Client
}

// ParseEndpoints parses --aws-api-endpoints ("ServiceID=URL,…").
func ParseEndpoints(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--aws-api-endpoints %q: want ServiceID=URL", part)
		}
		out[k] = v
	}
	return out, nil
}

// NewClients builds the SDK clients from the default credential chain,
// --aws-region, --aws-max-retries, the rate limits of --aws-api-throttle,
// and the endpoints of --elb-endpoint (every service) or
// --aws-api-endpoints (per service ID).
func NewClients(ctx context.Context, o Options, metrics *AWSMetrics) (Clients, error) {
	throttle, err := o.APIThrottle()
	if err != nil {
		return Clients{}, err
	}
	apiOptions := []func(*middleware.Stack) error{awsthrottle.NewLimiter(throttle).Middleware}
	if metrics != nil {
		apiOptions = append(apiOptions, metrics.Middleware())
	}
	// Throttling and 5xx answers are retried with jittered exponential
	// backoff; adaptive mode also slows the client down while it is
	// throttled.
	opts := []func(*config.LoadOptions) error{config.WithAPIOptions(apiOptions), config.WithRetryMode(aws.RetryModeAdaptive)}
	if o.AWSRegion != "" {
		opts = append(opts, config.WithRegion(o.AWSRegion))
	}
	if o.AWSMaxRetries > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.AWSMaxRetries+1))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	opts = append(opts, config.WithAppID("elbow"))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Clients{}, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return Clients{}, fmt.Errorf("no AWS region: set --aws-region or AWS_REGION")
	}
	eps, err := ParseEndpoints(o.AWSAPIEndpoints)
	if err != nil {
		return Clients{}, err
	}
	endpoint := func(id string) *string {
		if o.ELBEndpoint != "" {
			return aws.String(o.ELBEndpoint)
		}
		if u, ok := eps[id]; ok {
			return aws.String(u)
		}
		return nil
	}
	return Clients{
		Config: cfg,
		ELBV2: elbv2sdk.NewFromConfig(cfg, func(op *elbv2sdk.Options) {
			op.BaseEndpoint = endpoint(elbv2sdk.ServiceID)
		}),
		EC2: ec2.NewFromConfig(cfg, func(op *ec2.Options) {
			op.BaseEndpoint = endpoint(ec2.ServiceID)
		}),
		ACM: acm.NewFromConfig(cfg, func(op *acm.Options) {
			op.BaseEndpoint = endpoint(acm.ServiceID)
		}),
		WAFv2: wafv2.NewFromConfig(cfg, func(op *wafv2.Options) {
			op.BaseEndpoint = endpoint(wafv2.ServiceID)
		}),
		Tagging: rgt.NewFromConfig(cfg, func(op *rgt.Options) {
			op.BaseEndpoint = endpoint(rgt.ServiceID)
		}),
	}, nil
}
