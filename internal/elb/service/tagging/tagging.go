// Package tagging is the local ELB's Resource Groups Tagging API, for the
// resources the local ELB holds: GetResources lists tagged Elastic Load
// Balancing resources (load balancers, target groups, listeners, listener
// rules) by resource type and tag filters, paginated with a
// PaginationToken. As on AWS, only resources that carry at least one tag
// are listed.
package tagging

import (
	"context"
	"encoding/base64"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Service implements the Resource Groups Tagging API operations.
type Service struct {
	store *state.Store
}

// New returns the tagging service on a store.
func New(store *state.Store) *Service { return &Service{store: store} }

// API returns the service's descriptor for api.Config.Services.
func (s *Service) API() api.Service { return api.Tagging(s) }

// Limits AWS documents for GetResources.
const (
	maxTagFilters       = 50
	maxTagFilterValues  = 20
	maxTypeFilters      = 100
	maxARNList          = 100
	defaultPerPage      = 100
	maxResourcesPerPage = 100
)

func invalid(format string, args ...any) error {
	return awserr.New("InvalidParameterException", format, args...)
}

// typeFilter is "service" or "service:resourceType".
var typeFilter = regexp.MustCompile(`^[a-z0-9-]+(:[A-Za-z0-9-]+)?$`)

// resourceType returns "elasticloadbalancing" and the resource type of an
// ELB ARN (loadbalancer, targetgroup, listener, listener-rule).
func resourceType(arn string) (service, typ string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", "", false
	}
	typ, _, _ = strings.Cut(parts[5], "/")
	return parts[2], typ, true
}

// exists reports whether the ELB resource of an ARN is in the state, so
// that tags a deleted resource left behind are not listed.
func exists(tx *state.Tx, typ, arn string) (bool, error) {
	var ok bool
	var err error
	switch typ {
	case "loadbalancer":
		_, ok, err = state.Get(tx, state.LoadBalancers, arn)
	case "targetgroup":
		_, ok, err = state.Get(tx, state.TargetGroups, arn)
	case "listener":
		_, ok, err = state.Get(tx, state.Listeners, arn)
	case "listener-rule":
		_, ok, err = state.Get(tx, state.Rules, arn)
	case "truststore":
		_, ok, err = state.Get(tx, state.TrustStores, arn)
	}
	return ok, err
}

func decodeToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(raw), "elbow1:") {
		return "", awserr.New("PaginationTokenExpiredException", "The pagination token is not valid or has expired.")
	}
	return strings.TrimPrefix(string(raw), "elbow1:"), nil
}

// GetResources lists tagged ELB resources matching ResourceTypeFilters
// ("elasticloadbalancing" or "elasticloadbalancing:loadbalancer",
// ":targetgroup", ":listener", ":listener-rule"; any of them) and
// TagFilters (each filter's key must be present with one of its values,
// any value when none are given; all filters must match), or the
// resources of ResourceARNList, by ARN, ResourcesPerPage (1–100) at a
// time.
func (s *Service) GetResources(ctx context.Context, in *sdk.GetResourcesInput) (*sdk.GetResourcesOutput, error) {
	if len(in.ResourceARNList) > 0 && (len(in.TagFilters) > 0 || len(in.ResourceTypeFilters) > 0) {
		return nil, invalid("ResourceARNList can't be used with TagFilters or ResourceTypeFilters.")
	}
	if len(in.ResourceARNList) > maxARNList {
		return nil, invalid("ResourceARNList can contain at most %d ARNs.", maxARNList)
	}
	if len(in.TagFilters) > maxTagFilters {
		return nil, invalid("TagFilters can contain at most %d filters.", maxTagFilters)
	}
	if len(in.ResourceTypeFilters) > maxTypeFilters {
		return nil, invalid("ResourceTypeFilters can contain at most %d filters.", maxTypeFilters)
	}
	for _, f := range in.TagFilters {
		if aws.ToString(f.Key) == "" {
			return nil, invalid("A tag filter must have a Key.")
		}
		if len(f.Values) > maxTagFilterValues {
			return nil, invalid("A tag filter can have at most %d values.", maxTagFilterValues)
		}
	}
	for _, t := range in.ResourceTypeFilters {
		if !typeFilter.MatchString(t) {
			return nil, invalid("Unsupported resource type filter %q: use service[:resourceType], for example elasticloadbalancing:loadbalancer.", t)
		}
	}
	perPage := defaultPerPage
	if in.ResourcesPerPage != nil {
		if *in.ResourcesPerPage < 1 || *in.ResourcesPerPage > maxResourcesPerPage {
			return nil, invalid("ResourcesPerPage must be between 1 and %d.", maxResourcesPerPage)
		}
		perPage = int(*in.ResourcesPerPage)
	}
	if in.TagsPerPage != nil && (*in.TagsPerPage < 100 || *in.TagsPerPage > 500) {
		return nil, invalid("TagsPerPage must be between 100 and 500.")
	}
	after := ""
	if tok := aws.ToString(in.PaginationToken); tok != "" {
		var err error
		if after, err = decodeToken(tok); err != nil {
			return nil, err
		}
	}
	wantARN := map[string]bool{}
	for _, a := range in.ResourceARNList {
		wantARN[a] = true
	}
	var all []types.ResourceTagMapping
	err := s.store.View(func(tx *state.Tx) error {
		return state.ForEachPrefix(tx, state.Tags, "arn:", func(ts *state.TagSet) error {
			if len(ts.Tags) == 0 || (len(wantARN) > 0 && !wantARN[ts.Resource]) {
				return nil
			}
			svc, typ, ok := resourceType(ts.Resource)
			if !ok || svc != "elasticloadbalancing" || !typeMatches(in.ResourceTypeFilters, svc, typ) || !tagsMatch(in.TagFilters, ts) {
				return nil
			}
			if present, err := exists(tx, typ, ts.Resource); err != nil || !present {
				return err
			}
			m := types.ResourceTagMapping{ResourceARN: aws.String(ts.Resource)}
			for _, t := range ts.Tags {
				m.Tags = append(m.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
			}
			all = append(all, m)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return *all[i].ResourceARN < *all[j].ResourceARN })
	start := sort.Search(len(all), func(i int) bool { return *all[i].ResourceARN > after })
	all = all[start:]
	out := &sdk.GetResourcesOutput{PaginationToken: aws.String(""), ResourceTagMappingList: []types.ResourceTagMapping{}}
	if len(all) > perPage {
		all = all[:perPage]
		tok := base64.RawURLEncoding.EncodeToString([]byte("elbow1:" + *all[len(all)-1].ResourceARN))
		out.PaginationToken = aws.String(tok)
	}
	out.ResourceTagMappingList = append(out.ResourceTagMappingList, all...)
	return out, nil
}

func typeMatches(filters []string, svc, typ string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if f == svc || f == svc+":"+typ {
			return true
		}
	}
	return false
}

func tagsMatch(filters []types.TagFilter, ts *state.TagSet) bool {
	for _, f := range filters {
		v, ok := ts.Get(aws.ToString(f.Key))
		if !ok {
			return false
		}
		if len(f.Values) == 0 {
			continue
		}
		hit := false
		for _, want := range f.Values {
			hit = hit || want == v
		}
		if !hit {
			return false
		}
	}
	return true
}
