package ec2

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
)

func associationID(rtb, target string) string {
	return facts.StableID("rtbassoc", rtb+"/"+target)
}

func (s *Service) renderRouteTable(tx *state.Tx, rt *state.RouteTable) (types.RouteTable, error) {
	tags, err := tagsOf(tx, rt.ID)
	if err != nil {
		return types.RouteTable{}, err
	}
	out := types.RouteTable{
		RouteTableId:    aws.String(rt.ID),
		VpcId:           aws.String(rt.VpcID),
		OwnerId:         aws.String(owner(rt.OwnerID, s.account)),
		PropagatingVgws: []types.PropagatingVgw{},
		Tags:            tags,
	}
	for _, r := range rt.Routes {
		route := types.Route{
			GatewayId: aws.String(r.GatewayID),
			State:     types.RouteStateActive,
			Origin:    types.RouteOriginCreateRoute,
		}
		if r.GatewayID == "local" {
			route.Origin = types.RouteOriginCreateRouteTable
		}
		if strings.Contains(r.DestinationCIDR, ":") {
			route.DestinationIpv6CidrBlock = aws.String(r.DestinationCIDR)
		} else {
			route.DestinationCidrBlock = aws.String(r.DestinationCIDR)
		}
		out.Routes = append(out.Routes, route)
	}
	if rt.Main {
		out.Associations = append(out.Associations, types.RouteTableAssociation{
			Main:                    aws.Bool(true),
			RouteTableAssociationId: aws.String(associationID(rt.ID, "main")),
			RouteTableId:            aws.String(rt.ID),
			AssociationState:        &types.RouteTableAssociationState{State: types.RouteTableAssociationStateCodeAssociated},
		})
	}
	for _, sn := range rt.Subnets {
		out.Associations = append(out.Associations, types.RouteTableAssociation{
			Main:                    aws.Bool(false),
			RouteTableAssociationId: aws.String(associationID(rt.ID, sn)),
			RouteTableId:            aws.String(rt.ID),
			SubnetId:                aws.String(sn),
			AssociationState:        &types.RouteTableAssociationState{State: types.RouteTableAssociationStateCodeAssociated},
		})
	}
	return out, nil
}

func assocs(f func(a *types.RouteTableAssociation) []string) attr[types.RouteTable] {
	return func(rt *types.RouteTable) []string {
		var out []string
		for i := range rt.Associations {
			out = append(out, f(&rt.Associations[i])...)
		}
		return out
	}
}

func routes(f func(r *types.Route) []string) attr[types.RouteTable] {
	return func(rt *types.RouteTable) []string {
		var out []string
		for i := range rt.Routes {
			out = append(out, f(&rt.Routes[i])...)
		}
		return out
	}
}

var routeTableFilters = filterSpec[types.RouteTable]{
	attrs: map[string]attr[types.RouteTable]{
		"route-table-id": func(rt *types.RouteTable) []string { return str(rt.RouteTableId) },
		"vpc-id":         func(rt *types.RouteTable) []string { return str(rt.VpcId) },
		"owner-id":       func(rt *types.RouteTable) []string { return str(rt.OwnerId) },
		"association.subnet-id": assocs(func(a *types.RouteTableAssociation) []string {
			return str(a.SubnetId)
		}),
		"association.main": assocs(func(a *types.RouteTableAssociation) []string { return boolean(a.Main) }),
		"association.route-table-association-id": assocs(func(a *types.RouteTableAssociation) []string {
			return str(a.RouteTableAssociationId)
		}),
		"association.route-table-id": assocs(func(a *types.RouteTableAssociation) []string {
			return str(a.RouteTableId)
		}),
		"association.gateway-id": assocs(func(a *types.RouteTableAssociation) []string { return str(a.GatewayId) }),
		"route.destination-cidr-block": routes(func(r *types.Route) []string {
			return str(r.DestinationCidrBlock)
		}),
		"route.destination-ipv6-cidr-block": routes(func(r *types.Route) []string {
			return str(r.DestinationIpv6CidrBlock)
		}),
		"route.gateway-id": routes(func(r *types.Route) []string { return str(r.GatewayId) }),
		"route.origin":     routes(func(r *types.Route) []string { return []string{string(r.Origin)} }),
		"route.state":      routes(func(r *types.Route) []string { return []string{string(r.State)} }),
	},
	tags: func(rt *types.RouteTable) []types.Tag { return rt.Tags },
}

// DescribeRouteTables lists route tables by ID and filters (vpc-id,
// route-table-id, association.subnet-id, association.main,
// route.gateway-id, route.destination-cidr-block, tag:KEY, …), paginated
// with MaxResults 5–100. A subnet without an explicit association uses
// its VPC's main route table, as on AWS.
func (s *Service) DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput) (*ec2.DescribeRouteTablesOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.RouteTable]{
		op: "DescribeRouteTables", dryRun: in.DryRun, kind: &routeID, ids: in.RouteTableIds, filters: routeTableFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.RouteTable)) error {
			return renderByID(tx, state.RouteTables, routeID, in.RouteTableIds, func(rt *state.RouteTable) (types.RouteTable, error) { return s.renderRouteTable(tx, rt) }, emit)
		},
		key: func(v types.RouteTable) string { return *v.RouteTableId }, limits: pageLimits{min: 5, max: 100}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeRouteTablesOutput{RouteTables: page, NextToken: next}, nil
}

func (s *Service) renderIGW(tx *state.Tx, g *state.InternetGateway) (types.InternetGateway, error) {
	tags, err := tagsOf(tx, g.ID)
	if err != nil {
		return types.InternetGateway{}, err
	}
	out := types.InternetGateway{
		InternetGatewayId: aws.String(g.ID),
		OwnerId:           aws.String(owner(g.OwnerID, s.account)),
		Attachments:       []types.InternetGatewayAttachment{},
		Tags:              tags,
	}
	if g.VpcID != "" {
		// DescribeInternetGateways reports an attached gateway's
		// attachment state as "available".
		out.Attachments = append(out.Attachments, types.InternetGatewayAttachment{VpcId: aws.String(g.VpcID), State: "available"})
	}
	return out, nil
}

var igwFilters = filterSpec[types.InternetGateway]{
	attrs: map[string]attr[types.InternetGateway]{
		"internet-gateway-id": func(g *types.InternetGateway) []string { return str(g.InternetGatewayId) },
		"owner-id":            func(g *types.InternetGateway) []string { return str(g.OwnerId) },
		"attachment.vpc-id": func(g *types.InternetGateway) []string {
			var out []string
			for _, a := range g.Attachments {
				out = append(out, str(a.VpcId)...)
			}
			return out
		},
		"attachment.state": func(g *types.InternetGateway) []string {
			var out []string
			for _, a := range g.Attachments {
				out = append(out, string(a.State))
			}
			return out
		},
	},
	tags: func(g *types.InternetGateway) []types.Tag { return g.Tags },
}

// DescribeInternetGateways lists internet gateways by ID and filters
// (internet-gateway-id, attachment.vpc-id, attachment.state, owner-id,
// tag:KEY, …), paginated with MaxResults 5–1000.
func (s *Service) DescribeInternetGateways(ctx context.Context, in *ec2.DescribeInternetGatewaysInput) (*ec2.DescribeInternetGatewaysOutput, error) {
	page, next, err := describe(ctx, s, describeReq[types.InternetGateway]{
		op: "DescribeInternetGateways", dryRun: in.DryRun, kind: &igwID, ids: in.InternetGatewayIds, filters: igwFilters, in: in.Filters,
		read: func(tx *state.Tx, emit func(types.InternetGateway)) error {
			return renderByID(tx, state.InternetGateways, igwID, in.InternetGatewayIds, func(g *state.InternetGateway) (types.InternetGateway, error) { return s.renderIGW(tx, g) }, emit)
		},
		key: func(v types.InternetGateway) string { return *v.InternetGatewayId }, limits: pageLimits{min: 5, max: 1000}, maxResults: in.MaxResults, nextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return &ec2.DescribeInternetGatewaysOutput{InternetGateways: page, NextToken: next}, nil
}
