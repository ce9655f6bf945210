package elbv2

import (
	"context"
	"strconv"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Limits are the ELBv2 quotas the service enforces and
// DescribeAccountLimits reports. The defaults are AWS's default quotas
// ("Quotas for your Application Load Balancers" and "… Network Load
// Balancers", Elastic Load Balancing User Guides).
type Limits struct {
	ApplicationLoadBalancers      int // application-load-balancers (50)
	NetworkLoadBalancers          int // network-load-balancers (50)
	GatewayLoadBalancers          int // gateway-load-balancers (100)
	TargetGroups                  int // target-groups (3000)
	ListenersPerALB               int // listeners-per-application-load-balancer (50)
	ListenersPerNLB               int // listeners-per-network-load-balancer (50)
	RulesPerALB                   int // rules-per-application-load-balancer (100, default rules excluded)
	ConditionValuesPerRule        int // condition-values-per-alb-rule (5)
	ConditionWildcardsPerRule     int // condition-wildcards-per-alb-rule (5)
	TargetGroupsPerActionALB      int // target-groups-per-action-on-application-load-balancer (5)
	TargetGroupsPerActionNLB      int // target-groups-per-action-on-network-load-balancer (5: weighted target groups, November 2025; taken as ALB's, the quota page states no number)
	TargetGroupsPerALB            int // target-groups-per-application-load-balancer (100)
	TargetsPerALB                 int // targets-per-application-load-balancer (1000)
	TargetsPerNLB                 int // targets-per-network-load-balancer (3000)
	TargetsPerAZPerNLB            int // targets-per-availability-zone-per-network-load-balancer (500)
	TargetsPerAZPerGWLB           int // targets-per-availability-zone-per-gateway-load-balancer (300)
	TargetsPerTargetGroup         int // targets per target group, instances or IP addresses (1000)
	CertificatesPerLoadBalancer   int // certificates per load balancer, default certificates excluded (25)
	TagsPerResource               int // tags per resource (50)
	SecurityGroupsPerLoadBalancer int // security groups per load balancer (5)
	TrustStores                   int // trust stores per account (20)
	ReservedLCUsPerALB            int // reserved capacity units per load balancer (15000)
}

// DefaultLimits returns AWS's default quotas.
func DefaultLimits() Limits {
	return Limits{
		ApplicationLoadBalancers:      50,
		NetworkLoadBalancers:          50,
		GatewayLoadBalancers:          100,
		TargetGroups:                  3000,
		ListenersPerALB:               50,
		ListenersPerNLB:               50,
		RulesPerALB:                   100,
		ConditionValuesPerRule:        5,
		ConditionWildcardsPerRule:     5,
		TargetGroupsPerActionALB:      5,
		TargetGroupsPerActionNLB:      5,
		TargetGroupsPerALB:            100,
		TargetsPerALB:                 1000,
		TargetsPerNLB:                 3000,
		TargetsPerAZPerNLB:            500,
		TargetsPerAZPerGWLB:           300,
		TargetsPerTargetGroup:         1000,
		CertificatesPerLoadBalancer:   25,
		TagsPerResource:               50,
		SecurityGroupsPerLoadBalancer: 5,
		TrustStores:                   20,
		ReservedLCUsPerALB:            15000,
	}
}

// withDefaults fills zero fields with the defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&l.ApplicationLoadBalancers, d.ApplicationLoadBalancers)
	fill(&l.NetworkLoadBalancers, d.NetworkLoadBalancers)
	fill(&l.GatewayLoadBalancers, d.GatewayLoadBalancers)
	fill(&l.TargetGroups, d.TargetGroups)
	fill(&l.ListenersPerALB, d.ListenersPerALB)
	fill(&l.ListenersPerNLB, d.ListenersPerNLB)
	fill(&l.RulesPerALB, d.RulesPerALB)
	fill(&l.ConditionValuesPerRule, d.ConditionValuesPerRule)
	fill(&l.ConditionWildcardsPerRule, d.ConditionWildcardsPerRule)
	fill(&l.TargetGroupsPerActionALB, d.TargetGroupsPerActionALB)
	fill(&l.TargetGroupsPerActionNLB, d.TargetGroupsPerActionNLB)
	fill(&l.TargetGroupsPerALB, d.TargetGroupsPerALB)
	fill(&l.TargetsPerALB, d.TargetsPerALB)
	fill(&l.TargetsPerNLB, d.TargetsPerNLB)
	fill(&l.TargetsPerAZPerNLB, d.TargetsPerAZPerNLB)
	fill(&l.TargetsPerAZPerGWLB, d.TargetsPerAZPerGWLB)
	fill(&l.TargetsPerTargetGroup, d.TargetsPerTargetGroup)
	fill(&l.CertificatesPerLoadBalancer, d.CertificatesPerLoadBalancer)
	fill(&l.TagsPerResource, d.TagsPerResource)
	fill(&l.SecurityGroupsPerLoadBalancer, d.SecurityGroupsPerLoadBalancer)
	fill(&l.TrustStores, d.TrustStores)
	fill(&l.ReservedLCUsPerALB, d.ReservedLCUsPerALB)
	return l
}

// accountLimits lists the quotas under the names of API_Limit.
func (l Limits) accountLimits() []types.Limit {
	pairs := []struct {
		name string
		max  int
	}{
		{"application-load-balancers", l.ApplicationLoadBalancers},
		{"condition-values-per-alb-rule", l.ConditionValuesPerRule},
		{"condition-wildcards-per-alb-rule", l.ConditionWildcardsPerRule},
		{"gateway-load-balancers", l.GatewayLoadBalancers},
		{"gateway-load-balancers-per-vpc", l.GatewayLoadBalancers},
		{"geneve-target-groups", l.GatewayLoadBalancers},
		{"listeners-per-application-load-balancer", l.ListenersPerALB},
		{"listeners-per-network-load-balancer", l.ListenersPerNLB},
		{"network-load-balancers", l.NetworkLoadBalancers},
		{"rules-per-application-load-balancer", l.RulesPerALB},
		{"target-groups", l.TargetGroups},
		{"target-groups-per-action-on-application-load-balancer", l.TargetGroupsPerActionALB},
		{"target-groups-per-action-on-network-load-balancer", l.TargetGroupsPerActionNLB},
		{"target-groups-per-application-load-balancer", l.TargetGroupsPerALB},
		{"targets-per-application-load-balancer", l.TargetsPerALB},
		{"targets-per-availability-zone-per-gateway-load-balancer", l.TargetsPerAZPerGWLB},
		{"targets-per-availability-zone-per-network-load-balancer", l.TargetsPerAZPerNLB},
		{"targets-per-network-load-balancer", l.TargetsPerNLB},
	}
	out := make([]types.Limit, len(pairs))
	for i, p := range pairs {
		out[i] = types.Limit{Name: ptr(p.name), Max: ptr(strconv.Itoa(p.max))}
	}
	return out
}

// DescribeAccountLimits reports the quotas (API_DescribeAccountLimits).
func (s *Service) DescribeAccountLimits(ctx context.Context, in *sdk.DescribeAccountLimitsInput) (*sdk.DescribeAccountLimitsOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := s.limits.accountLimits()
	page, next, err := paginate(s.tokens.Scope("DescribeAccountLimits"), all, func(l types.Limit) string { return *l.Name }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &sdk.DescribeAccountLimitsOutput{Limits: page, NextMarker: next}, nil
}
