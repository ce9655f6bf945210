// Package deploy makes the cloud match a stack (internal/stack): it creates,
// changes and removes security groups, target groups, load balancers,
// listeners and listener rules through the ELBv2 and EC2 APIs, with the
// fewest calls, owning resources by the AWS Load Balancer Controller's tags
// so that what that controller created is adopted in place.
//
// A Deployer keeps an index from stack to the ARNs and IDs it owns, built by
// one paged scan at the first deploy (and again after RescanEvery), and kept
// up to date by every create and delete, so that a steady-state deploy reads
// only its own resources. Deploy fills the status of every resource of the
// stack (ARNs, DNS name, group IDs), which later steps (TargetGroupBindings,
// object status) read.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/elbowlb/elbow/internal/stack"
)

// ELBV2 is the part of the ELBv2 client the deployer calls
// (*elasticloadbalancingv2.Client).
type ELBV2 interface {
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(context.Context, *elbv2.DescribeTagsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	DescribeLoadBalancerAttributes(context.Context, *elbv2.DescribeLoadBalancerAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancerAttributesOutput, error)
	DescribeTargetGroupAttributes(context.Context, *elbv2.DescribeTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error)
	DescribeListeners(context.Context, *elbv2.DescribeListenersInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	DescribeListenerCertificates(context.Context, *elbv2.DescribeListenerCertificatesInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenerCertificatesOutput, error)
	DescribeListenerAttributes(context.Context, *elbv2.DescribeListenerAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenerAttributesOutput, error)
	DescribeRules(context.Context, *elbv2.DescribeRulesInput, ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error)

	CreateLoadBalancer(context.Context, *elbv2.CreateLoadBalancerInput, ...func(*elbv2.Options)) (*elbv2.CreateLoadBalancerOutput, error)
	DeleteLoadBalancer(context.Context, *elbv2.DeleteLoadBalancerInput, ...func(*elbv2.Options)) (*elbv2.DeleteLoadBalancerOutput, error)
	SetSubnets(context.Context, *elbv2.SetSubnetsInput, ...func(*elbv2.Options)) (*elbv2.SetSubnetsOutput, error)
	SetSecurityGroups(context.Context, *elbv2.SetSecurityGroupsInput, ...func(*elbv2.Options)) (*elbv2.SetSecurityGroupsOutput, error)
	SetIpAddressType(context.Context, *elbv2.SetIpAddressTypeInput, ...func(*elbv2.Options)) (*elbv2.SetIpAddressTypeOutput, error)
	ModifyLoadBalancerAttributes(context.Context, *elbv2.ModifyLoadBalancerAttributesInput, ...func(*elbv2.Options)) (*elbv2.ModifyLoadBalancerAttributesOutput, error)
	CreateTargetGroup(context.Context, *elbv2.CreateTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.CreateTargetGroupOutput, error)
	ModifyTargetGroup(context.Context, *elbv2.ModifyTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupOutput, error)
	ModifyTargetGroupAttributes(context.Context, *elbv2.ModifyTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupAttributesOutput, error)
	DeleteTargetGroup(context.Context, *elbv2.DeleteTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.DeleteTargetGroupOutput, error)
	CreateListener(context.Context, *elbv2.CreateListenerInput, ...func(*elbv2.Options)) (*elbv2.CreateListenerOutput, error)
	ModifyListener(context.Context, *elbv2.ModifyListenerInput, ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error)
	ModifyListenerAttributes(context.Context, *elbv2.ModifyListenerAttributesInput, ...func(*elbv2.Options)) (*elbv2.ModifyListenerAttributesOutput, error)
	DeleteListener(context.Context, *elbv2.DeleteListenerInput, ...func(*elbv2.Options)) (*elbv2.DeleteListenerOutput, error)
	AddListenerCertificates(context.Context, *elbv2.AddListenerCertificatesInput, ...func(*elbv2.Options)) (*elbv2.AddListenerCertificatesOutput, error)
	RemoveListenerCertificates(context.Context, *elbv2.RemoveListenerCertificatesInput, ...func(*elbv2.Options)) (*elbv2.RemoveListenerCertificatesOutput, error)
	CreateRule(context.Context, *elbv2.CreateRuleInput, ...func(*elbv2.Options)) (*elbv2.CreateRuleOutput, error)
	ModifyRule(context.Context, *elbv2.ModifyRuleInput, ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error)
	SetRulePriorities(context.Context, *elbv2.SetRulePrioritiesInput, ...func(*elbv2.Options)) (*elbv2.SetRulePrioritiesOutput, error)
	DeleteRule(context.Context, *elbv2.DeleteRuleInput, ...func(*elbv2.Options)) (*elbv2.DeleteRuleOutput, error)
	// The targets of alb target groups (FrontendNLBTargetGroups); the
	// other targets are the TargetGroupBindings'.
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
	AddTags(context.Context, *elbv2.AddTagsInput, ...func(*elbv2.Options)) (*elbv2.AddTagsOutput, error)
	RemoveTags(context.Context, *elbv2.RemoveTagsInput, ...func(*elbv2.Options)) (*elbv2.RemoveTagsOutput, error)
}

// EC2 is the part of the EC2 client the deployer calls (*ec2.Client).
type EC2 interface {
	DescribeSecurityGroups(context.Context, *ec2.DescribeSecurityGroupsInput, ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	CreateSecurityGroup(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	DeleteSecurityGroup(context.Context, *ec2.DeleteSecurityGroupInput, ...func(*ec2.Options)) (*ec2.DeleteSecurityGroupOutput, error)
	AuthorizeSecurityGroupIngress(context.Context, *ec2.AuthorizeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.AuthorizeSecurityGroupIngressOutput, error)
	RevokeSecurityGroupIngress(context.Context, *ec2.RevokeSecurityGroupIngressInput, ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupIngressOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DeleteTags(context.Context, *ec2.DeleteTagsInput, ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error)
}

// Tagging is the part of the Resource Groups Tagging API client the
// deployer calls (*resourcegroupstaggingapi.Client).
type Tagging interface {
	GetResources(context.Context, *rgt.GetResourcesInput, ...func(*rgt.Options)) (*rgt.GetResourcesOutput, error)
}

// Config configures a Deployer.
type Config struct {
	// ClusterName goes into the elbv2.k8s.aws/cluster tag of everything
	// created, and selects what the deployer owns.
	ClusterName string
	// VPCID is the VPC of target groups and security groups; empty: the VPC
	// of the load balancer's first subnet.
	VPCID string
	// ExternalManagedTags are tag keys the deployer never adds, changes or
	// removes.
	ExternalManagedTags []string
	// RescanEvery is how often the index is rebuilt from a full scan
	// (default 6h; the index is kept up to date by every call between).
	RescanEvery time.Duration
	// DeleteTimeout bounds the retries of deletions refused because another
	// resource still uses the one deleted (ResourceInUse,
	// DependencyViolation); default 3 minutes.
	DeleteTimeout time.Duration
	// Logger receives one line per change; nil discards.
	Logger *slog.Logger
	// Metrics counts deploys and changes; nil counts nothing.
	Metrics *Metrics
	// Tagging, when set, finds the cluster's load balancers and target
	// groups for the index with the Resource Groups Tagging API (the
	// reference's EnableRGTAPI gate): one paged GetResources per cluster
	// tag key instead of listing the region and reading every tag.
	Tagging Tagging
	// ACM imports, re-imports and deletes the certificates of stacks that
	// have ImportedCertificates; nil refuses such stacks. With it the scan
	// also lists the account's imported certificates and reads their tags.
	ACM ACM
	// Secrets gives the certificate material of ImportedCertificates.
	Secrets Secrets
}

// Deployer deploys stacks. It is safe for concurrent use; deploys of one
// stack must not run concurrently (controller-runtime serialises them).
type Deployer struct {
	elb ELBV2
	ec2 EC2
	cfg Config
	log *slog.Logger

	scanMu sync.Mutex // serialises scans

	mu       sync.Mutex
	index    map[string]*owned // stack key -> what it owns
	scanned  time.Time
	scanning bool
	during   []noteEvent       // changes noted while a scan runs, replayed on its result
	vpcCache map[string]string // subnet ID -> VPC ID
}

// noteEvent is one change to the index.
type noteEvent struct {
	key, kind, id string
	add           bool
}

func (e noteEvent) apply(idx map[string]*owned) {
	o := idx[e.key]
	if o == nil {
		o = newOwned()
		idx[e.key] = o
	}
	m := map[string]map[string]bool{"lb": o.lbs, "tg": o.tgs, "sg": o.sgs, "cert": o.certs}[e.kind]
	if e.add {
		m[e.id] = true
	} else {
		delete(m, e.id)
	}
}

// owned is what one stack owns, by ARN or ID.
type owned struct {
	lbs   map[string]bool
	tgs   map[string]bool
	sgs   map[string]bool
	certs map[string]bool
}

func newOwned() *owned {
	return &owned{lbs: map[string]bool{}, tgs: map[string]bool{}, sgs: map[string]bool{}, certs: map[string]bool{}}
}

// New returns a Deployer over the clients.
func New(elb ELBV2, ec2c EC2, cfg Config) (*Deployer, error) {
	if cfg.ClusterName == "" {
		return nil, errors.New("deploy: a cluster name is required (it selects what the deployer owns)")
	}
	if cfg.RescanEvery <= 0 {
		cfg.RescanEvery = 6 * time.Hour
	}
	if cfg.DeleteTimeout <= 0 {
		cfg.DeleteTimeout = 3 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deployer{elb: elb, ec2: ec2c, cfg: cfg, log: log, index: map[string]*owned{}, vpcCache: map[string]string{}}, nil
}

// stackKey identifies a stack in the index.
func stackKey(prefix, id string) string { return prefix + "/stack=" + id }

// Deploy makes the cloud match s and fills the status of its resources. A
// stack without load balancers removes everything the stack owned.
func (d *Deployer) Deploy(ctx context.Context, s *stack.Stack) (err error) {
	start := time.Now()
	defer func() { d.cfg.Metrics.observeDeploy(start, err) }()
	if err := d.ensureIndex(ctx); err != nil {
		return fmt.Errorf("stack %s: %w", s.ID, err)
	}
	r := &run{d: d, s: s, log: d.log.With("stack", s.ID.String())}
	if err := r.deploy(ctx); err != nil {
		return fmt.Errorf("stack %s: %w", s.ID, err)
	}
	return nil
}

// owns returns a copy of what the stack owns in the index.
func (d *Deployer) owns(s *stack.Stack) *owned {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := newOwned()
	if cur := d.index[stackKey(s.TagPrefix, s.ID.String())]; cur != nil {
		for k := range cur.lbs {
			o.lbs[k] = true
		}
		for k := range cur.tgs {
			o.tgs[k] = true
		}
		for k := range cur.sgs {
			o.sgs[k] = true
		}
		for k := range cur.certs {
			o.certs[k] = true
		}
	}
	return o
}

// note records a created (add) or deleted (!add) resource in the index.
func (d *Deployer) note(s *stack.Stack, kind, id string, add bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := noteEvent{key: stackKey(s.TagPrefix, s.ID.String()), kind: kind, id: id, add: add}
	e.apply(d.index)
	if d.scanning {
		d.during = append(d.during, e)
	}
}

// Forget drops the index, so that the next deploy scans again (after a
// change made outside the deployer).
func (d *Deployer) Forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.index = map[string]*owned{}
	d.scanned = time.Time{}
}
