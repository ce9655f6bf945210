// Package waf is the local ELB's AWS WAF v2, as far as load balancers need
// it: AssociateWebACL, DisassociateWebACL, GetWebACLForResource and
// GetWebACL, with the association kept in state.WebACLAssociations. Web
// ACLs themselves are not modelled: any well-formed regional web ACL ARN
// of the local region and account can be associated, and
// GetWebACLForResource and GetWebACL describe it from its ARN (name, ID,
// default action allow, no rules). With AutoProvisionReferences a web ACL
// ARN of another region or account is recorded (state.WebACLs) on first
// association instead of being refused. The data planes do not filter
// traffic.
package waf

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/wafv2"
	"github.com/aws/aws-sdk-go-v2/service/wafv2/types"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

// Config configures the WAFv2 service.
type Config struct {
	Store     *state.Store
	Region    string
	AccountID string
	// Logger receives a line per write; nil discards.
	Logger *slog.Logger
	// AutoProvisionReferences makes AssociateWebACL record a well-formed
	// web ACL ARN the local WAF does not know (another region's or
	// account's) as a web ACL (state.WebACLs) and associate it, logging a
	// warning. Off by default: WAFNonexistentItemException, as on AWS.
	AutoProvisionReferences bool
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
}

// Service implements the WAFv2 operations.
type Service struct {
	store    *state.Store
	region   string
	account  string
	log      *slog.Logger
	autoProv bool
	now      func() time.Time
}

// New returns the WAFv2 service on cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, region: cfg.Region, account: cfg.AccountID, log: cfg.Logger, autoProv: cfg.AutoProvisionReferences, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.region == "" {
		s.region = facts.DefaultRegion
	}
	if s.account == "" {
		s.account = facts.DefaultAccountID
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// API returns the service's descriptor for api.Config.Services.
func (s *Service) API() api.Service { return api.WAFv2(s) }

func invalidARN(field, arn string) error {
	return awserr.New("WAFInvalidParameterException", "Error reason: The ARN isn't valid. A valid ARN begins with arn: and includes other information separated by colons or slashes., field: %s, parameter: %s", field, arn)
}

func nonexistent() error {
	return awserr.New("WAFNonexistentItemException", "AWS WAF couldn’t perform the operation because your resource doesn’t exist.")
}

// webACLARN matches a regional web ACL ARN:
// arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID.
var webACLARN = regexp.MustCompile(`^arn:aws:wafv2:([a-z0-9-]+):(\d{12}):regional/webacl/([\w-]{1,128})/([\w-]{1,128})$`)

// checkResource validates a resource ARN and returns the load balancer it
// names, answering WAFNonexistentItemException for an unknown one.
func checkResource(tx *state.Tx, arn string) (*state.LoadBalancer, error) {
	if !strings.HasPrefix(arn, "arn:") || len(strings.Split(arn, ":")) < 6 {
		return nil, invalidARN("RESOURCE_ARN", arn)
	}
	lb, ok, err := state.Get(tx, state.LoadBalancers, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nonexistent()
	}
	return lb, nil
}

func (s *Service) logWrite(ctx context.Context, action, arn string, err error) {
	attrs := []slog.Attr{slog.String("action", action), slog.String("arn", arn)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.String("result", "ok"))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "wafv2 write", attrs...)
}

// AssociateWebACL associates a regional web ACL with an application load
// balancer, replacing any web ACL associated before.
func (s *Service) AssociateWebACL(ctx context.Context, in *sdk.AssociateWebACLInput) (*sdk.AssociateWebACLOutput, error) {
	acl, res := aws.ToString(in.WebACLArn), aws.ToString(in.ResourceArn)
	m := webACLARN.FindStringSubmatch(acl)
	if m == nil {
		return nil, invalidARN("RESOURCE_ARN", acl)
	}
	local := m[1] == s.region && m[2] == s.account
	req := autoprovision.NewRequest("AssociateWebACL")
	err := s.store.Update(ctx, func(tx *state.Tx) error {
		req.Reset()
		if !local {
			_, ok, err := state.Get(tx, state.WebACLs, acl)
			if err != nil {
				return err
			}
			if !ok && !s.autoProv {
				return nonexistent()
			}
			if !ok {
				// Created before the resource is checked: a failure
				// below rolls it back with the rest.
				rec := &state.WebACL{ARN: acl, Name: m[3], ID: m[4], CreatedAt: s.now().UTC().Truncate(time.Second)}
				if err := state.Put(tx, state.WebACLs, rec); err != nil {
					return err
				}
				req.Add(autoprovision.KindWebACL, acl, "WebACLArn",
					"a web ACL record with default action allow and no rules (the local WAF does not filter traffic)",
					slog.String("name", rec.Name), slog.String("webACLID", rec.ID))
			}
		}
		lb, err := checkResource(tx, res)
		if err != nil {
			return err
		}
		if lb.Type != "application" {
			return awserr.New("WAFInvalidParameterException", "Error reason: The resource type isn't supported: only application load balancers can be associated with a web ACL., field: RESOURCE_ARN, parameter: %s", res)
		}
		return state.Put(tx, state.WebACLAssociations, &state.WebACLAssociation{ResourceARN: res, WebACLARN: acl})
	})
	s.logWrite(ctx, "AssociateWebACL", res, err)
	if err != nil {
		return nil, err
	}
	req.Log(ctx, s.log)
	return &sdk.AssociateWebACLOutput{}, nil
}

// DisassociateWebACL removes a resource's web ACL association (nothing to
// do when it has none).
func (s *Service) DisassociateWebACL(ctx context.Context, in *sdk.DisassociateWebACLInput) (*sdk.DisassociateWebACLOutput, error) {
	res := aws.ToString(in.ResourceArn)
	err := s.store.Update(ctx, func(tx *state.Tx) error {
		if _, err := checkResource(tx, res); err != nil {
			return err
		}
		_, err := state.Delete(tx, state.WebACLAssociations, res)
		return err
	})
	s.logWrite(ctx, "DisassociateWebACL", res, err)
	if err != nil {
		return nil, err
	}
	return &sdk.DisassociateWebACLOutput{}, nil
}

// GetWebACLForResource returns the web ACL associated with a resource, or
// no web ACL when it has none.
func (s *Service) GetWebACLForResource(ctx context.Context, in *sdk.GetWebACLForResourceInput) (*sdk.GetWebACLForResourceOutput, error) {
	res := aws.ToString(in.ResourceArn)
	out := &sdk.GetWebACLForResourceOutput{}
	err := s.store.View(func(tx *state.Tx) error {
		if _, err := checkResource(tx, res); err != nil {
			return err
		}
		a, ok, err := state.Get(tx, state.WebACLAssociations, res)
		if err != nil || !ok {
			return err
		}
		out.WebACL = describe(a.WebACLARN)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetWebACL describes a web ACL the local WAF knows, named by ARN or by
// name, ID and scope: one recorded (auto-provisioned) or one associated
// with a load balancer. Others are WAFNonexistentItemException.
func (s *Service) GetWebACL(ctx context.Context, in *sdk.GetWebACLInput) (*sdk.GetWebACLOutput, error) {
	arn := aws.ToString(in.ARN)
	if arn != "" {
		if !webACLARN.MatchString(arn) {
			return nil, invalidARN("RESOURCE_ARN", arn)
		}
	} else {
		switch {
		case in.Name == nil:
			return nil, awserr.New("WAFInvalidParameterException", "Error reason: You must specify either the ARN or the name, ID and scope of the web ACL., field: NAME, parameter: null")
		case in.Id == nil:
			return nil, awserr.New("WAFInvalidParameterException", "Error reason: You must specify either the ARN or the name, ID and scope of the web ACL., field: ID, parameter: null")
		case in.Scope != types.ScopeRegional && in.Scope != types.ScopeCloudfront:
			return nil, awserr.New("WAFInvalidParameterException", "Error reason: The scope must be REGIONAL or CLOUDFRONT., field: SCOPE, parameter: %s", in.Scope)
		case in.Scope == types.ScopeCloudfront:
			return nil, nonexistent()
		}
	}
	found := ""
	err := s.store.View(func(tx *state.Tx) error {
		match := func(a string) bool {
			if arn != "" {
				return a == arn
			}
			m := webACLARN.FindStringSubmatch(a)
			return m != nil && m[3] == aws.ToString(in.Name) && m[4] == aws.ToString(in.Id)
		}
		err := state.ForEachPrefix(tx, state.WebACLs, "", func(w *state.WebACL) error {
			if found == "" && match(w.ARN) {
				found = w.ARN
			}
			return nil
		})
		if err != nil || found != "" {
			return err
		}
		return state.ForEachPrefix(tx, state.WebACLAssociations, "", func(a *state.WebACLAssociation) error {
			if found == "" && match(a.WebACLARN) {
				found = a.WebACLARN
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if found == "" {
		return nil, nonexistent()
	}
	return &sdk.GetWebACLOutput{WebACL: describe(found), LockToken: aws.String(lockToken(found))}, nil
}

// lockToken is a web ACL's lock token: stable, since the local web ACLs
// never change.
func lockToken(arn string) string {
	h := facts.StableID("x", "wafv2/"+arn)[2:]
	h += facts.StableID("x", "wafv2/lock/"+arn)[2:]
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// describe renders a web ACL from its ARN.
func describe(arn string) *types.WebACL {
	acl := &types.WebACL{
		ARN:              aws.String(arn),
		DefaultAction:    &types.DefaultAction{Allow: &types.AllowAction{}},
		Rules:            []types.Rule{},
		VisibilityConfig: &types.VisibilityConfig{SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true},
	}
	if m := webACLARN.FindStringSubmatch(arn); m != nil {
		acl.Name, acl.Id = aws.String(m[3]), aws.String(m[4])
		acl.VisibilityConfig.MetricName = aws.String(m[3])
		acl.LabelNamespace = aws.String(fmt.Sprintf("awswaf:%s:webacl:%s:", m[2], m[3]))
	}
	return acl
}
