package elbv2

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// actionContext is what validating a listener's or rule's actions needs.
type actionContext struct {
	tx       *state.Tx
	lb       *state.LoadBalancer
	protocol string              // the listener's protocol
	use      map[string][]string // target group ARN -> load balancers using it
	limits   Limits
}

// nlbTargetProtocols lists the target group protocols a network load
// balancer listener protocol may forward to.
var nlbTargetProtocols = map[string][]string{
	"TCP":      {"TCP", "TCP_UDP"},
	"TLS":      {"TCP", "TLS"},
	"UDP":      {"UDP", "TCP_UDP"},
	"TCP_UDP":  {"TCP_UDP"},
	"QUIC":     {"QUIC", "TCP_QUIC"},
	"TCP_QUIC": {"TCP_QUIC"},
}

var (
	fixedStatusRE   = regexp.MustCompile(`^[245]\d\d$`)
	fixedTypes      = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
	terminalActions = []types.ActionTypeEnum{types.ActionTypeEnumForward, types.ActionTypeEnumRedirect, types.ActionTypeEnumFixedResponse}
)

// check validates actions (listener default actions, or a rule's) and
// returns them normalised as AWS describes them: ordered, Order set,
// forward actions with both TargetGroupArn (one target group) and
// ForwardConfig, redirect components defaulted to their keywords.
func (ac *actionContext) check(actions []types.Action, isDefault bool) ([]types.Action, error) {
	if len(actions) == 0 {
		return nil, validation("At least one action must be specified")
	}
	out := cloneActions(actions)
	orders := map[int32]bool{}
	for i := range out {
		a := &out[i]
		if a.Order == nil {
			if len(out) > 1 {
				return nil, validation("The 'Order' field is required for every action when there is more than one action")
			}
			a.Order = ptr(int32(1))
		}
		if o := *a.Order; o < 1 || o > 50000 {
			return nil, outOfRange("actions.member.order", int64(o), 1, 50000)
		}
		if orders[*a.Order] {
			return nil, errf(codeInvalidLoadBalancerAction, "Action order '%d' is used more than once", *a.Order)
		}
		orders[*a.Order] = true
	}
	sort.SliceStable(out, func(i, j int) bool { return *out[i].Order < *out[j].Order })
	for i := range out {
		a := &out[i]
		terminal := slices.Contains(terminalActions, a.Type)
		if terminal != (i == len(out)-1) {
			return nil, errf(codeInvalidLoadBalancerAction, "Each rule must have exactly one forward, redirect or fixed-response action, and it must be the last action performed")
		}
		if err := ac.checkAction(a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkAction validates and normalises one action.
func (ac *actionContext) checkAction(a *types.Action) error {
	kinds := []types.ActionTypeEnum{types.ActionTypeEnumForward, types.ActionTypeEnumRedirect, types.ActionTypeEnumFixedResponse,
		types.ActionTypeEnumAuthenticateOidc, types.ActionTypeEnumAuthenticateCognito, types.ActionTypeEnumJwtValidation}
	if !slices.Contains(kinds, a.Type) {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		return badEnum("actions.member.type", string(a.Type), names...)
	}
	if ac.lb.Type != typeApplication && a.Type != types.ActionTypeEnumForward {
		return errf(codeInvalidLoadBalancerAction, "The action type '%s' is not supported by %s load balancers; use forward", a.Type, ac.lb.Type)
	}
	// Only the configuration of the action's type may be given.
	given := map[types.ActionTypeEnum]bool{
		types.ActionTypeEnumRedirect:            a.RedirectConfig != nil,
		types.ActionTypeEnumFixedResponse:       a.FixedResponseConfig != nil,
		types.ActionTypeEnumAuthenticateOidc:    a.AuthenticateOidcConfig != nil,
		types.ActionTypeEnumAuthenticateCognito: a.AuthenticateCognitoConfig != nil,
		types.ActionTypeEnumJwtValidation:       a.JwtValidationConfig != nil,
		types.ActionTypeEnumForward:             a.ForwardConfig != nil || a.TargetGroupArn != nil,
	}
	for t, ok := range given {
		if ok && t != a.Type {
			return errf(codeInvalidLoadBalancerAction, "An action of type '%s' cannot have the configuration of a '%s' action", a.Type, t)
		}
	}
	switch a.Type {
	case types.ActionTypeEnumForward:
		return ac.checkForward(a)
	case types.ActionTypeEnumRedirect:
		return ac.checkRedirect(a)
	case types.ActionTypeEnumFixedResponse:
		return checkFixedResponse(a.FixedResponseConfig)
	}
	if ac.protocol != "HTTPS" {
		return errf(codeInvalidLoadBalancerAction, "The action type '%s' is supported only on HTTPS listeners", a.Type)
	}
	switch a.Type {
	case types.ActionTypeEnumAuthenticateOidc:
		c := a.AuthenticateOidcConfig
		if c == nil {
			return missing("actions.member.authenticateOidcConfig")
		}
		for name, v := range map[string]*string{"issuer": c.Issuer, "authorizationEndpoint": c.AuthorizationEndpoint,
			"tokenEndpoint": c.TokenEndpoint, "userInfoEndpoint": c.UserInfoEndpoint, "clientId": c.ClientId} {
			if str(v) == "" {
				return missing("actions.member.authenticateOidcConfig." + name)
			}
		}
		if str(c.ClientSecret) == "" && (c.UseExistingClientSecret == nil || !*c.UseExistingClientSecret) {
			return missing("actions.member.authenticateOidcConfig.clientSecret")
		}
		return checkSessionTimeout(c.SessionTimeout)
	case types.ActionTypeEnumAuthenticateCognito:
		c := a.AuthenticateCognitoConfig
		if c == nil {
			return missing("actions.member.authenticateCognitoConfig")
		}
		for name, v := range map[string]*string{"userPoolArn": c.UserPoolArn, "userPoolClientId": c.UserPoolClientId, "userPoolDomain": c.UserPoolDomain} {
			if str(v) == "" {
				return missing("actions.member.authenticateCognitoConfig." + name)
			}
		}
		return checkSessionTimeout(c.SessionTimeout)
	case types.ActionTypeEnumJwtValidation:
		c := a.JwtValidationConfig
		if c == nil {
			return missing("actions.member.jwtValidationConfig")
		}
		if str(c.Issuer) == "" {
			return missing("actions.member.jwtValidationConfig.issuer")
		}
		if !strings.HasPrefix(str(c.JwksEndpoint), "https://") {
			return validation("The JWKS endpoint '%s' must be an HTTPS URL", str(c.JwksEndpoint))
		}
	}
	return nil
}

func checkSessionTimeout(v *int64) error {
	if v != nil && (*v < 1 || *v > 604800) {
		return outOfRange("sessionTimeout", *v, 1, 604800)
	}
	return nil
}

// checkForward validates a forward action: its target groups exist, are
// in the load balancer's VPC, of a protocol the listener can forward to,
// not used by another load balancer; weights and stickiness in range.
func (ac *actionContext) checkForward(a *types.Action) error {
	var tuples []types.TargetGroupTuple
	if a.ForwardConfig != nil {
		tuples = a.ForwardConfig.TargetGroups
		if a.TargetGroupArn != nil {
			if len(tuples) != 1 || str(tuples[0].TargetGroupArn) != *a.TargetGroupArn {
				return errf(codeInvalidLoadBalancerAction, "When TargetGroupArn and ForwardConfig are both given, ForwardConfig must name that one target group only")
			}
		}
	} else if a.TargetGroupArn != nil {
		tuples = []types.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}}
	}
	if len(tuples) == 0 {
		return errf(codeInvalidLoadBalancerAction, "A forward action must name a target group (TargetGroupArn or ForwardConfig.TargetGroups)")
	}
	max := ac.limits.TargetGroupsPerActionALB
	if ac.lb.Type != typeApplication {
		max = ac.limits.TargetGroupsPerActionNLB
	}
	if len(tuples) > max {
		return errf(codeTooManyTargetGroups, "You've reached the limit on the number of target groups per action (%d)", max)
	}
	seen := map[string]bool{}
	protocols, ipTypes := map[string]bool{}, map[string]bool{}
	for i := range tuples {
		t := &tuples[i]
		arn := str(t.TargetGroupArn)
		if arn == "" {
			return missing("actions.member.forwardConfig.targetGroups.member.targetGroupArn")
		}
		if seen[arn] {
			return errf(codeInvalidLoadBalancerAction, "Target group '%s' is named more than once in one forward action", arn)
		}
		seen[arn] = true
		if t.Weight == nil {
			t.Weight = ptr(int32(1))
		}
		if w := *t.Weight; w < 0 || w > 999 {
			return outOfRange("actions.member.forwardConfig.targetGroups.member.weight", int64(w), 0, 999)
		}
		if err := ac.checkTargetGroup(arn); err != nil {
			return err
		}
		if tg, err := getTG(ac.tx, arn); err == nil {
			protocols[tg.Protocol], ipTypes[tg.IPAddressType] = true, true
		}
	}
	if ac.lb.Type == typeNetwork && len(tuples) > 1 {
		// Weighted target groups of Network Load Balancers.
		if ac.protocol == "TLS" && len(protocols) > 1 {
			return errf(codeInvalidLoadBalancerAction, "The target groups of a TLS listener's forward action must all use the same protocol (TCP or TLS)")
		}
		if len(ipTypes) > 1 {
			return errf(codeInvalidLoadBalancerAction, "The target groups of a forward action must all have the same IP address type")
		}
	}
	st := &types.TargetGroupStickinessConfig{Enabled: ptr(false)}
	if a.ForwardConfig != nil && a.ForwardConfig.TargetGroupStickinessConfig != nil {
		st = a.ForwardConfig.TargetGroupStickinessConfig
		if st.Enabled == nil {
			st.Enabled = ptr(false)
		}
		switch {
		case ac.lb.Type == typeNetwork:
			// Network Load Balancers keep a client (source address) on
			// its target group; the duration is for ALBs.
			if st.DurationSeconds != nil {
				return validation("A target group stickiness duration applies to Application Load Balancers only")
			}
			if *st.Enabled && ac.protocol == "TLS" {
				return errf(codeInvalidLoadBalancerAction, "Target group stickiness is not supported on TLS listeners")
			}
		case *st.Enabled && ac.lb.Type != typeApplication:
			return errf(codeInvalidLoadBalancerAction, "Target group stickiness is supported only by Application and Network Load Balancers")
		case *st.Enabled:
			if st.DurationSeconds == nil {
				return validation("A duration must be specified when target group stickiness is enabled")
			}
			if d := *st.DurationSeconds; d < 1 || d > 604800 {
				return outOfRange("actions.member.forwardConfig.targetGroupStickinessConfig.durationSeconds", int64(d), 1, 604800)
			}
		}
	}
	a.ForwardConfig = &types.ForwardActionConfig{TargetGroups: tuples, TargetGroupStickinessConfig: st}
	if len(tuples) == 1 {
		a.TargetGroupArn = ptr(str(tuples[0].TargetGroupArn))
	} else {
		a.TargetGroupArn = nil
	}
	return nil
}

// checkTargetGroup checks that a listener of the action's load balancer
// may forward to a target group.
func (ac *actionContext) checkTargetGroup(arn string) error {
	tg, err := getTG(ac.tx, arn)
	if err != nil {
		return err
	}
	family := tgFamily(tg)
	switch ac.lb.Type {
	case typeApplication:
		if family != typeApplication && family != "lambda" {
			return errf(codeIncompatibleProtocols, "Target group '%s' has the protocol '%s', which Application Load Balancers cannot forward to; use an HTTP or HTTPS target group", arn, tg.Protocol)
		}
		if (tg.ProtocolVersion == "GRPC" || tg.ProtocolVersion == "HTTP2") && ac.protocol != "HTTPS" {
			return errf(codeIncompatibleProtocols, "Target group '%s' uses protocol version %s, which requires an HTTPS listener", arn, tg.ProtocolVersion)
		}
	case typeNetwork:
		if family != typeNetwork {
			return errf(codeIncompatibleProtocols, "Target group '%s' has the protocol '%s', which Network Load Balancers cannot forward to", arn, tg.Protocol)
		}
		if !slices.Contains(nlbTargetProtocols[ac.protocol], tg.Protocol) {
			return errf(codeIncompatibleProtocols, "Listener protocol '%s' is not compatible with the protocol '%s' of target group '%s'; use %s", ac.protocol, tg.Protocol, arn, strings.Join(nlbTargetProtocols[ac.protocol], " or "))
		}
		if tg.TargetType == targetALB && ac.protocol != "TCP" {
			return errf(codeIncompatibleProtocols, "Target groups of type alb can only be used by TCP listeners")
		}
	case typeGateway:
		if family != typeGateway {
			return errf(codeIncompatibleProtocols, "Target group '%s' has the protocol '%s'; Gateway Load Balancers forward to GENEVE target groups", arn, tg.Protocol)
		}
	}
	if tg.VpcID != "" && tg.VpcID != ac.lb.VpcID {
		return validation("Target group '%s' is in VPC '%s', not in the load balancer's VPC '%s'", arn, tg.VpcID, ac.lb.VpcID)
	}
	for _, other := range ac.use[arn] {
		if other != ac.lb.ARN {
			return errf(codeTargetGroupAssociation, "The following target groups cannot be associated with more than one load balancer: %s", arn)
		}
	}
	return nil
}

// checkRedirect validates a redirect action and fills the components left
// out with their keywords, as AWS does.
func (ac *actionContext) checkRedirect(a *types.Action) error {
	c := a.RedirectConfig
	if c == nil {
		return missing("actions.member.redirectConfig")
	}
	if c.StatusCode != types.RedirectActionStatusCodeEnumHttp301 && c.StatusCode != types.RedirectActionStatusCodeEnumHttp302 {
		return badEnum("actions.member.redirectConfig.statusCode", string(c.StatusCode), "HTTP_301", "HTTP_302")
	}
	def := func(p **string, v string) bool {
		if *p == nil {
			*p = ptr(v)
			return true
		}
		return false
	}
	changed := 0
	if !def(&c.Protocol, "#{protocol}") && *c.Protocol != "#{protocol}" {
		changed++
		switch *c.Protocol {
		case "HTTP", "HTTPS":
		default:
			return errf(codeInvalidLoadBalancerAction, "Redirect protocol '%s' is not valid; use HTTP, HTTPS or #{protocol}", *c.Protocol)
		}
		if *c.Protocol == "HTTP" && ac.protocol == "HTTPS" {
			return errf(codeInvalidLoadBalancerAction, "You cannot redirect HTTPS to HTTP")
		}
	}
	if !def(&c.Port, "#{port}") && *c.Port != "#{port}" {
		changed++
		if n, err := strconv.Atoi(*c.Port); err != nil || n < 1 || n > 65535 {
			return errf(codeInvalidLoadBalancerAction, "Redirect port '%s' is not valid; use a port from 1 to 65535 or #{port}", *c.Port)
		}
	}
	if !def(&c.Host, "#{host}") && *c.Host != "#{host}" {
		changed++
		if *c.Host == "" || len(*c.Host) > 128 {
			return errf(codeInvalidLoadBalancerAction, "Redirect host '%s' is not valid; it must have 1 to 128 characters", *c.Host)
		}
	}
	if !def(&c.Path, "/#{path}") && *c.Path != "/#{path}" {
		changed++
		if !strings.HasPrefix(*c.Path, "/") || len(*c.Path) > 128 {
			return errf(codeInvalidLoadBalancerAction, "Redirect path '%s' is not valid; it must start with '/' and have at most 128 characters", *c.Path)
		}
	}
	if !def(&c.Query, "#{query}") && *c.Query != "#{query}" {
		changed++
		if len(*c.Query) > 128 {
			return errf(codeInvalidLoadBalancerAction, "Redirect query '%s' is not valid; it can have at most 128 characters", *c.Query)
		}
	}
	if changed == 0 || (changed == 1 && *c.Query != "#{query}") {
		return errf(codeInvalidLoadBalancerAction, "The redirect configuration is not valid because it creates a loop; change the protocol, port, host or path")
	}
	return nil
}

// checkFixedResponse validates a fixed-response action.
func checkFixedResponse(c *types.FixedResponseActionConfig) error {
	if c == nil {
		return missing("actions.member.fixedResponseConfig")
	}
	if c.StatusCode == nil {
		return missing("actions.member.fixedResponseConfig.statusCode")
	}
	if !fixedStatusRE.MatchString(*c.StatusCode) {
		return errf(codeInvalidLoadBalancerAction, "Fixed response status code '%s' is not valid; use a 2XX, 4XX or 5XX code", *c.StatusCode)
	}
	if c.ContentType != nil && !slices.Contains(fixedTypes, *c.ContentType) {
		return errf(codeInvalidLoadBalancerAction, "Fixed response content type '%s' is not valid; use %s", *c.ContentType, strings.Join(fixedTypes, ", "))
	}
	if c.MessageBody != nil && len(*c.MessageBody) > 1024 {
		return errf(codeInvalidLoadBalancerAction, "The fixed response message body can have at most 1024 characters")
	}
	return nil
}

// checkUniqueTargetGroups enforces the quota of unique target groups per
// application load balancer across its listeners and rules, with the
// actions of one rule (or listener default rule, by its ARN) replaced.
func checkUniqueTargetGroups(tx *state.Tx, lb *state.LoadBalancer, replacing string, actions []types.Action, limits Limits) error {
	if lb.Type != typeApplication {
		return nil
	}
	set := map[string]bool{}
	for _, tg := range state.ActionTargetGroups(actions) {
		set[tg] = true
	}
	ls, err := listenersOf(tx, lb.ARN)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.DefaultRuleARN != replacing {
			for _, tg := range state.ActionTargetGroups(l.DefaultActions) {
				set[tg] = true
			}
		}
		rules, err := rulesOf(tx, l.ARN)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.ARN != replacing {
				for _, tg := range state.ActionTargetGroups(r.Actions) {
					set[tg] = true
				}
			}
		}
	}
	if len(set) > limits.TargetGroupsPerALB {
		return errf(codeTooManyUniqueTargetGroups, "You've reached the limit on the number of unique target groups per load balancer across all listeners (%d)", limits.TargetGroupsPerALB)
	}
	return nil
}
