package elbv2

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/state"
)

var tgProtocols = []string{"HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC"}

// CreateTargetGroup creates a target group, or returns the existing one of
// that name when its settings are the same (API_CreateTargetGroup).
func (s *Service) CreateTargetGroup(ctx context.Context, in *sdk.CreateTargetGroupInput) (*sdk.CreateTargetGroupOutput, error) {
	if in.Name == nil {
		return nil, missing("name")
	}
	name := *in.Name
	if err := checkName("Target group", name, false); err != nil {
		return nil, err
	}
	if err := s.checkTags(in.Tags); err != nil {
		return nil, err
	}
	tg, err := newTargetGroup(in)
	if err != nil {
		return nil, err
	}
	var out *state.TargetGroup
	var lbs []string
	err = s.update(ctx, "CreateTargetGroup", in.Name, func(tx *state.Tx) error {
		if tg.VpcID != "" {
			_, ok, err := state.Get(tx, state.VPCs, tg.VpcID)
			if err != nil {
				return err
			}
			if !ok {
				return validation("The VPC ID '%s' is not found", tg.VpcID)
			}
		}
		all, err := state.List(tx, state.TargetGroups)
		if err != nil {
			return err
		}
		for _, old := range all {
			if strings.EqualFold(old.Name, name) {
				if !sameTargetGroup(old, tg) {
					return errf(codeDuplicateTargetGroupName, "A target group with the same name '%s' exists, but with different settings", name)
				}
				out = old
				use, err := targetGroupUsage(tx)
				lbs = use[old.ARN]
				return err
			}
		}
		if len(all) >= s.limits.TargetGroups {
			return errf(codeTooManyTargetGroups, "You've reached the limit on the number of target groups for your AWS account (%d)", s.limits.TargetGroups)
		}
		tg.ARN = s.tgARN(name, s.newID())
		tg.Name = name
		tg.CreatedTime = s.now().UTC().Truncate(time.Millisecond)
		if err := state.Put(tx, state.TargetGroups, tg); err != nil {
			return err
		}
		out = tg
		return s.putNewTags(tx, tg.ARN, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.CreateTargetGroupOutput{TargetGroups: []types.TargetGroup{renderTG(out, lbs)}}, nil
}

// newTargetGroup validates a create request and returns the target group
// it describes, defaults filled in.
func newTargetGroup(in *sdk.CreateTargetGroupInput) (*state.TargetGroup, error) {
	tg := &state.TargetGroup{TargetType: string(in.TargetType)}
	switch tg.TargetType {
	case "":
		tg.TargetType = targetInstance
	case targetInstance, targetIP, targetLambda, targetALB:
	default:
		return nil, badEnum("targetType", tg.TargetType, targetInstance, targetIP, targetLambda, targetALB)
	}
	if tg.TargetType == targetLambda {
		if in.Protocol != "" || in.Port != nil || in.VpcId != nil || in.ProtocolVersion != nil {
			return nil, validation("Protocol, port, protocol version and VPC ID cannot be specified for target groups with target type 'lambda'")
		}
	} else {
		switch {
		case in.Protocol == "":
			return nil, validation("A protocol must be specified for target groups with target type '%s'", tg.TargetType)
		case in.Port == nil:
			return nil, validation("A port must be specified for target groups with target type '%s'", tg.TargetType)
		case in.VpcId == nil || *in.VpcId == "":
			return nil, validation("A VPC ID must be specified for target groups with target type '%s'", tg.TargetType)
		}
		tg.Protocol = string(in.Protocol)
		if !slices.Contains(tgProtocols, tg.Protocol) {
			return nil, badEnum("protocol", tg.Protocol, tgProtocols...)
		}
		tg.Port = *in.Port
		if tg.Port < 1 || tg.Port > 65535 {
			return nil, outOfRange("port", int64(tg.Port), 1, 65535)
		}
		if tg.Protocol == "GENEVE" && tg.Port != 6081 {
			return nil, validation("The port of a GENEVE target group must be 6081")
		}
		tg.VpcID = *in.VpcId
	}
	if tg.TargetType == targetALB && tg.Protocol != "TCP" {
		return nil, validation("Target groups with target type 'alb' support only the TCP protocol")
	}
	if tg.TargetType == targetLambda && in.IpAddressType != "" {
		return nil, validation("An IP address type cannot be specified for target groups with target type 'lambda'")
	}
	if tg.TargetType != targetLambda {
		tg.IPAddressType = string(in.IpAddressType)
		switch tg.IPAddressType {
		case "":
			tg.IPAddressType = ipv4
		case ipv4, ipv6:
		default:
			return nil, badEnum("ipAddressType", tg.IPAddressType, ipv4, ipv6)
		}
	}
	if in.ProtocolVersion != nil {
		if tg.Protocol != "HTTP" && tg.Protocol != "HTTPS" {
			return nil, validation("A protocol version can only be specified for target groups with the HTTP or HTTPS protocol")
		}
		v := strings.ToUpper(*in.ProtocolVersion)
		if v != "HTTP1" && v != "HTTP2" && v != "GRPC" {
			return nil, validation("Protocol version '%s' is not valid; use HTTP1, HTTP2 or GRPC", *in.ProtocolVersion)
		}
		tg.ProtocolVersion = v
	} else if tg.Protocol == "HTTP" || tg.Protocol == "HTTPS" {
		tg.ProtocolVersion = "HTTP1"
	}
	if in.TargetControlPort != nil {
		if tgFamily(tg) != typeApplication {
			return nil, validation("A target control port can only be specified for target groups of Application Load Balancers")
		}
		if p := *in.TargetControlPort; p < 1 || p > 65535 {
			return nil, outOfRange("targetControlPort", int64(p), 1, 65535)
		}
		tg.TargetControlPort = *in.TargetControlPort
	}
	tg.HealthCheckEnabled = tg.TargetType != targetLambda
	setHealthDefaults(tg, "")
	err := applyHealthCheck(tg, healthCheckInput{
		enabled: in.HealthCheckEnabled, protocol: string(in.HealthCheckProtocol), port: in.HealthCheckPort,
		path: in.HealthCheckPath, interval: in.HealthCheckIntervalSeconds, timeout: in.HealthCheckTimeoutSeconds,
		healthy: in.HealthyThresholdCount, unhealthy: in.UnhealthyThresholdCount, matcher: in.Matcher,
	})
	if err != nil {
		return nil, err
	}
	tg.Attributes = defaultAttrs(tgAttrSpecs(tg))
	return tg, nil
}

// setHealthDefaults fills the health check settings AWS documents as
// defaults for the target group's protocol and type. With hcProtocol
// empty the default health check protocol is chosen.
func setHealthDefaults(tg *state.TargetGroup, hcProtocol string) {
	settings.DefaultHealthCheck(tg, hcProtocol).Record(tg)
}

// healthCheckInput is the health check part of a create or modify request.
type healthCheckInput struct {
	enabled                               *bool
	protocol                              string
	port, path                            *string
	interval, timeout, healthy, unhealthy *int32
	matcher                               *types.Matcher
}

// applyHealthCheck validates health check settings against the target
// group's type and applies them.
func applyHealthCheck(tg *state.TargetGroup, in healthCheckInput) error {
	family := tgFamily(tg)
	if in.enabled != nil {
		if !*in.enabled && family != "lambda" {
			return validation("Health checks cannot be disabled for target groups with target type '%s'", tg.TargetType)
		}
		tg.HealthCheckEnabled = *in.enabled
	}
	if in.protocol != "" {
		allowed := []string{"HTTP", "HTTPS", "TCP"}
		if family == typeApplication {
			allowed = []string{"HTTP", "HTTPS"}
		}
		if family == "lambda" {
			return validation("A health check protocol cannot be specified for target groups with target type 'lambda'")
		}
		if !slices.Contains(allowed, in.protocol) {
			return validation("Health check protocol '%s' is not supported for target groups with the %s protocol; use %s", in.protocol, tg.Protocol, strings.Join(allowed, ", "))
		}
		if in.protocol != tg.HealthCheckProtocol {
			keep := *tg
			setHealthDefaults(tg, in.protocol)
			tg.HealthCheckPort = keep.HealthCheckPort
			tg.HealthCheckIntervalSeconds, tg.HealthCheckTimeoutSeconds = keep.HealthCheckIntervalSeconds, keep.HealthCheckTimeoutSeconds
			tg.HealthyThresholdCount, tg.UnhealthyThresholdCount = keep.HealthyThresholdCount, keep.UnhealthyThresholdCount
		}
	}
	httpCheck := tg.HealthCheckProtocol == "HTTP" || tg.HealthCheckProtocol == "HTTPS" || family == "lambda"
	if in.port != nil {
		p := *in.port
		if family == "lambda" {
			return validation("A health check port cannot be specified for target groups with target type 'lambda'")
		}
		if p != "traffic-port" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return validation("Health check port '%s' is not valid; use traffic-port or a port from 1 to 65535", p)
			}
			p = strconv.Itoa(n)
		}
		tg.HealthCheckPort = p
	}
	if in.path != nil {
		if !httpCheck {
			return validation("A health check path can only be specified for HTTP and HTTPS health checks")
		}
		p := *in.path
		if p == "" || len(p) > 1024 || !strings.HasPrefix(p, "/") {
			return validation("Health check path '%s' is not valid; it must start with '/' and be at most 1024 characters", p)
		}
		tg.HealthCheckPath = p
	}
	if in.interval != nil {
		if v := *in.interval; v < 5 || v > 300 {
			return outOfRange("healthCheckIntervalSeconds", int64(v), 5, 300)
		}
		tg.HealthCheckIntervalSeconds = *in.interval
	}
	if in.timeout != nil {
		if v := *in.timeout; v < 2 || v > 120 {
			return outOfRange("healthCheckTimeoutSeconds", int64(v), 2, 120)
		}
		tg.HealthCheckTimeoutSeconds = *in.timeout
	}
	if in.healthy != nil {
		if v := *in.healthy; v < 2 || v > 10 {
			return outOfRange("healthyThresholdCount", int64(v), 2, 10)
		}
		tg.HealthyThresholdCount = *in.healthy
	}
	if in.unhealthy != nil {
		if v := *in.unhealthy; v < 2 || v > 10 {
			return outOfRange("unhealthyThresholdCount", int64(v), 2, 10)
		}
		tg.UnhealthyThresholdCount = *in.unhealthy
	}
	// ALB target groups need a timeout below the interval; NLB (and GWLB)
	// ones accept a timeout equal to it (the AWS Load Balancer
	// Controller's NLB default is 10 s for both).
	switch iv, to := tg.HealthCheckIntervalSeconds, tg.HealthCheckTimeoutSeconds; {
	case (family == typeApplication || family == "lambda") && to >= iv:
		return validation("Health check interval must be greater than the timeout.")
	case to > iv:
		return validation("Health check timeout must not be greater than the interval.")
	}
	if m := in.matcher; m != nil {
		if !httpCheck {
			return validation("A matcher can only be specified for HTTP and HTTPS health checks")
		}
		switch {
		case m.HttpCode != nil && m.GrpcCode != nil:
			return validation("A matcher can have an HTTP code or a gRPC code, not both")
		case m.GrpcCode != nil:
			if tg.ProtocolVersion != "GRPC" {
				return validation("A gRPC code matcher can only be specified for target groups with protocol version GRPC")
			}
			if err := checkCodes("gRPC", *m.GrpcCode, 0, 99); err != nil {
				return err
			}
			tg.MatcherGRPCCode, tg.MatcherHTTPCode = *m.GrpcCode, ""
		case m.HttpCode != nil:
			if tg.ProtocolVersion == "GRPC" {
				return validation("An HTTP code matcher cannot be specified for target groups with protocol version GRPC; use a gRPC code")
			}
			lo, hi := 200, 499
			switch family {
			case typeNetwork:
				hi = 599
			case typeGateway:
				hi = 399
			}
			if err := checkCodes("HTTP", *m.HttpCode, lo, hi); err != nil {
				return err
			}
			tg.MatcherHTTPCode, tg.MatcherGRPCCode = *m.HttpCode, ""
		default:
			return validation("A matcher must have an HTTP code or a gRPC code")
		}
	}
	return nil
}

// checkCodes validates a matcher: comma-separated codes or ranges
// "LOW-HIGH", every code from lo to hi.
func checkCodes(kind, s string, lo, hi int) error {
	if s == "" {
		return validation("The %s code matcher cannot be empty", kind)
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		x, err1 := strconv.Atoi(a)
		y := x
		var err2 error
		if isRange {
			y, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || x > y || strings.TrimSpace(part) != part {
			return validation("%s code matcher '%s' is not valid; use codes (200), lists (200,202) or ranges (200-299)", kind, s)
		}
		if x < lo || y > hi {
			return validation("%s code matcher '%s' is not valid; codes must be from %d to %d", kind, s, lo, hi)
		}
	}
	return nil
}

// sameTargetGroup reports whether two target groups have the same
// settings, so that a create is idempotent.
func sameTargetGroup(a, b *state.TargetGroup) bool {
	return a.TargetType == b.TargetType && a.Protocol == b.Protocol && a.ProtocolVersion == b.ProtocolVersion &&
		a.Port == b.Port && a.VpcID == b.VpcID && a.IPAddressType == b.IPAddressType &&
		a.HealthCheckEnabled == b.HealthCheckEnabled && a.HealthCheckProtocol == b.HealthCheckProtocol &&
		a.HealthCheckPort == b.HealthCheckPort && a.HealthCheckPath == b.HealthCheckPath &&
		a.HealthCheckIntervalSeconds == b.HealthCheckIntervalSeconds && a.HealthCheckTimeoutSeconds == b.HealthCheckTimeoutSeconds &&
		a.HealthyThresholdCount == b.HealthyThresholdCount && a.UnhealthyThresholdCount == b.UnhealthyThresholdCount &&
		a.MatcherHTTPCode == b.MatcherHTTPCode && a.MatcherGRPCCode == b.MatcherGRPCCode &&
		a.TargetControlPort == b.TargetControlPort
}

// renderTG returns a target group in the API's shape.
func renderTG(tg *state.TargetGroup, lbs []string) types.TargetGroup {
	out := types.TargetGroup{
		TargetGroupArn:             ptr(tg.ARN),
		TargetGroupName:            ptr(tg.Name),
		TargetType:                 types.TargetTypeEnum(tg.TargetType),
		HealthCheckEnabled:         ptr(tg.HealthCheckEnabled),
		HealthCheckIntervalSeconds: ptr(tg.HealthCheckIntervalSeconds),
		HealthCheckTimeoutSeconds:  ptr(tg.HealthCheckTimeoutSeconds),
		HealthyThresholdCount:      ptr(tg.HealthyThresholdCount),
		UnhealthyThresholdCount:    ptr(tg.UnhealthyThresholdCount),
		LoadBalancerArns:           slices.Clone(lbs),
	}
	if out.LoadBalancerArns == nil {
		out.LoadBalancerArns = []string{}
	}
	if tg.Protocol != "" {
		out.Protocol = types.ProtocolEnum(tg.Protocol)
		out.Port = ptr(tg.Port)
		out.VpcId = ptr(tg.VpcID)
	}
	if tg.ProtocolVersion != "" {
		out.ProtocolVersion = ptr(tg.ProtocolVersion)
	}
	if tg.IPAddressType != "" {
		out.IpAddressType = types.TargetGroupIpAddressTypeEnum(tg.IPAddressType)
	}
	if tg.HealthCheckProtocol != "" {
		out.HealthCheckProtocol = types.ProtocolEnum(tg.HealthCheckProtocol)
	}
	if tg.HealthCheckPort != "" {
		out.HealthCheckPort = ptr(tg.HealthCheckPort)
	}
	if tg.HealthCheckPath != "" {
		out.HealthCheckPath = ptr(tg.HealthCheckPath)
	}
	switch {
	case tg.MatcherGRPCCode != "":
		out.Matcher = &types.Matcher{GrpcCode: ptr(tg.MatcherGRPCCode)}
	case tg.MatcherHTTPCode != "":
		out.Matcher = &types.Matcher{HttpCode: ptr(tg.MatcherHTTPCode)}
	}
	if tg.TargetControlPort != 0 {
		out.TargetControlPort = ptr(tg.TargetControlPort)
	}
	return out
}

// targetGroupUsage maps each target group ARN to the sorted ARNs of the
// load balancers whose listeners or rules forward to it.
func targetGroupUsage(tx *state.Tx) (map[string][]string, error) {
	set := map[string]map[string]bool{}
	add := func(lbARN string, actions []types.Action) {
		for _, tg := range state.ActionTargetGroups(actions) {
			if set[tg] == nil {
				set[tg] = map[string]bool{}
			}
			set[tg][lbARN] = true
		}
	}
	err := state.ForEachPrefix(tx, state.Listeners, "", func(l *state.Listener) error {
		add(l.LoadBalancerARN, l.DefaultActions)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = state.ForEachPrefix(tx, state.Rules, "", func(r *state.Rule) error {
		add(lbARNOfListener(r.ListenerARN), r.Actions)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(set))
	for tg, lbs := range set {
		for lb := range lbs {
			out[tg] = append(out[tg], lb)
		}
		sort.Strings(out[tg])
	}
	return out, nil
}

// getTG reads a target group or returns TargetGroupNotFound.
func getTG(tx *state.Tx, arn string) (*state.TargetGroup, error) {
	if err := checkARN(arn, kindTargetGroup); err != nil {
		return nil, err
	}
	tg, ok, err := state.Get(tx, state.TargetGroups, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, tgNotFound(arn)
	}
	return tg, nil
}

// ModifyTargetGroup changes a target group's health check settings
// (API_ModifyTargetGroup).
func (s *Service) ModifyTargetGroup(ctx context.Context, in *sdk.ModifyTargetGroupInput) (*sdk.ModifyTargetGroupOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	var tg *state.TargetGroup
	var lbs []string
	err := s.update(ctx, "ModifyTargetGroup", in.TargetGroupArn, func(tx *state.Tx) error {
		var err error
		if tg, err = getTG(tx, *in.TargetGroupArn); err != nil {
			return err
		}
		err = applyHealthCheck(tg, healthCheckInput{
			enabled: in.HealthCheckEnabled, protocol: string(in.HealthCheckProtocol), port: in.HealthCheckPort,
			path: in.HealthCheckPath, interval: in.HealthCheckIntervalSeconds, timeout: in.HealthCheckTimeoutSeconds,
			healthy: in.HealthyThresholdCount, unhealthy: in.UnhealthyThresholdCount, matcher: in.Matcher,
		})
		if err != nil {
			return err
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		lbs = use[tg.ARN]
		return state.Put(tx, state.TargetGroups, tg)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.ModifyTargetGroupOutput{TargetGroups: []types.TargetGroup{renderTG(tg, lbs)}}, nil
}

// DeleteTargetGroup deletes a target group that no listener or rule
// forwards to, with its targets and tags; deleting one that does not exist
// succeeds (API_DeleteTargetGroup).
func (s *Service) DeleteTargetGroup(ctx context.Context, in *sdk.DeleteTargetGroupInput) (*sdk.DeleteTargetGroupOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	arn := *in.TargetGroupArn
	if err := checkARN(arn, kindTargetGroup); err != nil {
		return nil, err
	}
	err := s.update(ctx, "DeleteTargetGroup", in.TargetGroupArn, func(tx *state.Tx) error {
		_, ok, err := state.Get(tx, state.TargetGroups, arn)
		if err != nil || !ok {
			return err
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		if len(use[arn]) > 0 {
			return errf(codeResourceInUse, "Target group '%s' is currently in use by a listener or a rule", arn)
		}
		targets, err := state.ListPrefix(tx, state.Targets, state.TargetGroupPrefix(arn))
		if err != nil {
			return err
		}
		for _, t := range targets {
			if _, err := state.Delete(tx, state.Targets, state.Targets.Key(t)); err != nil {
				return err
			}
		}
		if _, err := state.Delete(tx, state.TargetGroups, arn); err != nil {
			return err
		}
		_, err = state.Delete(tx, state.Tags, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DeleteTargetGroupOutput{}, nil
}

// DescribeTargetGroups lists target groups: all, those of a load balancer,
// or those named by ARN or name, paginated (API_DescribeTargetGroups).
func (s *Service) DescribeTargetGroups(ctx context.Context, in *sdk.DescribeTargetGroupsInput) (*sdk.DescribeTargetGroupsOutput, error) {
	n := 0
	for _, given := range []bool{in.LoadBalancerArn != nil, len(in.TargetGroupArns) > 0, len(in.Names) > 0} {
		if given {
			n++
		}
	}
	if n > 1 {
		return nil, validation("You can specify only one of load balancer ARN, target group ARNs and names")
	}
	for _, arn := range in.TargetGroupArns {
		if err := checkARN(arn, kindTargetGroup); err != nil {
			return nil, err
		}
	}
	var tgs []*state.TargetGroup
	var use map[string][]string
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		if use, err = targetGroupUsage(tx); err != nil {
			return err
		}
		switch {
		case in.LoadBalancerArn != nil:
			if _, err := getLB(tx, *in.LoadBalancerArn); err != nil {
				return err
			}
			all, err := state.List(tx, state.TargetGroups)
			if err != nil {
				return err
			}
			for _, tg := range all {
				if slices.Contains(use[tg.ARN], *in.LoadBalancerArn) {
					tgs = append(tgs, tg)
				}
			}
		case len(in.TargetGroupArns) > 0:
			for _, arn := range dedupe(in.TargetGroupArns) {
				tg, ok, err := state.Get(tx, state.TargetGroups, arn)
				if err != nil {
					return err
				}
				if !ok {
					return errf(codeTargetGroupNotFound, "One or more target groups not found")
				}
				tgs = append(tgs, tg)
			}
		case len(in.Names) > 0:
			all, err := state.List(tx, state.TargetGroups)
			if err != nil {
				return err
			}
			for _, name := range dedupe(in.Names) {
				found := false
				for _, tg := range all {
					if strings.EqualFold(tg.Name, name) {
						tgs = append(tgs, tg)
						found = true
					}
				}
				if !found {
					return errf(codeTargetGroupNotFound, "One or more target groups not found")
				}
			}
		default:
			tgs, err = state.List(tx, state.TargetGroups)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(s.tokens.Scope("DescribeTargetGroups"), tgs, tgSortKey, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeTargetGroupsOutput{TargetGroups: make([]types.TargetGroup, 0, len(page)), NextMarker: next}
	for _, tg := range page {
		out.TargetGroups = append(out.TargetGroups, renderTG(tg, use[tg.ARN]))
	}
	return out, nil
}

func tgSortKey(tg *state.TargetGroup) string {
	return tg.CreatedTime.UTC().Format("20060102T150405.000000000") + " " + tg.ARN
}

// DescribeTargetGroupAttributes returns every attribute of a target
// group's type, defaults included (API_DescribeTargetGroupAttributes).
func (s *Service) DescribeTargetGroupAttributes(ctx context.Context, in *sdk.DescribeTargetGroupAttributesInput) (*sdk.DescribeTargetGroupAttributesOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	var tg *state.TargetGroup
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		tg, err = getTG(tx, *in.TargetGroupArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DescribeTargetGroupAttributesOutput{Attributes: tgAttrList(tg)}, nil
}

func tgAttrList(tg *state.TargetGroup) []types.TargetGroupAttribute {
	m := rebaseAttrs(tgAttrSpecs(tg), tg.Attributes)
	out := make([]types.TargetGroupAttribute, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.TargetGroupAttribute{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}

// ModifyTargetGroupAttributes changes attributes of a target group and
// returns all of them (API_ModifyTargetGroupAttributes).
func (s *Service) ModifyTargetGroupAttributes(ctx context.Context, in *sdk.ModifyTargetGroupAttributesInput) (*sdk.ModifyTargetGroupAttributesOutput, error) {
	if in.TargetGroupArn == nil {
		return nil, missing("targetGroupArn")
	}
	if in.Attributes == nil {
		return nil, missing("attributes")
	}
	keys, values := make([]string, len(in.Attributes)), make([]string, len(in.Attributes))
	for i, a := range in.Attributes {
		keys[i], values[i] = str(a.Key), str(a.Value)
	}
	var tg *state.TargetGroup
	err := s.update(ctx, "ModifyTargetGroupAttributes", in.TargetGroupArn, func(tx *state.Tx) error {
		var err error
		if tg, err = getTG(tx, *in.TargetGroupArn); err != nil {
			return err
		}
		m, err := applyAttrs("Target group", tgAttrSpecs(tg), tg.Attributes, keys, values)
		if err != nil {
			return err
		}
		if err := checkTGAttrs(tg, m); err != nil {
			return err
		}
		tg.Attributes = m
		return state.Put(tx, state.TargetGroups, tg)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.ModifyTargetGroupAttributesOutput{Attributes: tgAttrList(tg)}, nil
}

// checkTGAttrs checks the rules between target group attributes.
func checkTGAttrs(tg *state.TargetGroup, m map[string]string) error {
	bad := func(format string, args ...any) error { return errf(codeInvalidConfiguration, format, args...) }
	if m["stickiness.enabled"] == "true" && m["stickiness.type"] == "app_cookie" && m["stickiness.app_cookie.cookie_name"] == "" {
		return bad("Application-based stickiness requires the attribute 'stickiness.app_cookie.cookie_name'")
	}
	if m["load_balancing.algorithm.anomaly_mitigation"] == "on" && m["load_balancing.algorithm.type"] != "weighted_random" {
		return bad("Anomaly mitigation is only available with the weighted_random load balancing algorithm")
	}
	if m["slow_start.duration_seconds"] != "" && m["slow_start.duration_seconds"] != "0" && m["load_balancing.algorithm.type"] == "weighted_random" {
		return bad("Slow start is not supported with the weighted_random load balancing algorithm")
	}
	if udpLike(tg.Protocol) {
		if m["preserve_client_ip.enabled"] == "false" {
			return bad("Client IP preservation cannot be disabled for %s target groups", tg.Protocol)
		}
		if m["target_health_state.unhealthy.connection_termination.enabled"] == "true" {
			return bad("Connection termination for unhealthy targets cannot be enabled for %s target groups", tg.Protocol)
		}
	}
	if v := m["target_health_state.unhealthy.draining_interval_seconds"]; v != "" && v != "0" &&
		m["target_health_state.unhealthy.connection_termination.enabled"] != "false" {
		return bad("'target_health_state.unhealthy.draining_interval_seconds' can only be set when 'target_health_state.unhealthy.connection_termination.enabled' is false")
	}
	if a, b := m["target_failover.on_deregistration"], m["target_failover.on_unhealthy"]; a != b {
		return bad("'target_failover.on_deregistration' and 'target_failover.on_unhealthy' must have the same value")
	}
	return nil
}
