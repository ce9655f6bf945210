package stack

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Resolver resolves tokens; (*Stack).Resolve is one.
type Resolver func(Token) (string, error)

// SDKActions converts actions to the ELBv2 SDK's shape, numbering them with
// Order 1, 2, … as the API requires when a rule has several. OIDC client
// credentials are passed through (they are redacted only in JSON).
func SDKActions(actions []Action, resolve Resolver) ([]elbv2types.Action, error) {
	out := make([]elbv2types.Action, 0, len(actions))
	for i, a := range actions {
		sa, err := a.SDK(resolve)
		if err != nil {
			return nil, fmt.Errorf("action %d (%s): %w", i+1, a.Type, err)
		}
		sa.Order = aws.Int32(int32(i + 1))
		out = append(out, sa)
	}
	return out, nil
}

// SDK converts an action to the ELBv2 SDK's shape.
func (a Action) SDK(resolve Resolver) (elbv2types.Action, error) {
	out := elbv2types.Action{Type: elbv2types.ActionTypeEnum(a.Type)}
	if c := a.AuthenticateCognitoConfig; c != nil {
		out.AuthenticateCognitoConfig = &elbv2types.AuthenticateCognitoActionConfig{
			UserPoolArn:                      aws.String(c.UserPoolARN),
			UserPoolClientId:                 aws.String(c.UserPoolClientID),
			UserPoolDomain:                   aws.String(c.UserPoolDomain),
			AuthenticationRequestExtraParams: c.AuthenticationRequestExtraParams,
			OnUnauthenticatedRequest:         elbv2types.AuthenticateCognitoActionConditionalBehaviorEnum(c.OnUnauthenticatedRequest),
			Scope:                            c.Scope,
			SessionCookieName:                c.SessionCookieName,
			SessionTimeout:                   c.SessionTimeout,
		}
	}
	if c := a.AuthenticateOIDCConfig; c != nil {
		out.AuthenticateOidcConfig = &elbv2types.AuthenticateOidcActionConfig{
			Issuer:                           aws.String(c.Issuer),
			AuthorizationEndpoint:            aws.String(c.AuthorizationEndpoint),
			TokenEndpoint:                    aws.String(c.TokenEndpoint),
			UserInfoEndpoint:                 aws.String(c.UserInfoEndpoint),
			ClientId:                         aws.String(c.ClientID),
			ClientSecret:                     aws.String(c.ClientSecret),
			AuthenticationRequestExtraParams: c.AuthenticationRequestExtraParams,
			OnUnauthenticatedRequest:         elbv2types.AuthenticateOidcActionConditionalBehaviorEnum(c.OnUnauthenticatedRequest),
			Scope:                            c.Scope,
			SessionCookieName:                c.SessionCookieName,
			SessionTimeout:                   c.SessionTimeout,
		}
	}
	if c := a.JwtValidationConfig; c != nil {
		j := &elbv2types.JwtValidationActionConfig{Issuer: aws.String(c.Issuer), JwksEndpoint: aws.String(c.JwksEndpoint)}
		for _, cl := range c.AdditionalClaims {
			j.AdditionalClaims = append(j.AdditionalClaims, elbv2types.JwtValidationActionAdditionalClaim{
				Format: elbv2types.JwtValidationActionAdditionalClaimFormatEnum(cl.Format),
				Name:   aws.String(cl.Name),
				Values: append([]string(nil), cl.Values...),
			})
		}
		out.JwtValidationConfig = j
	}
	if c := a.FixedResponseConfig; c != nil {
		out.FixedResponseConfig = &elbv2types.FixedResponseActionConfig{
			StatusCode: aws.String(c.StatusCode), ContentType: c.ContentType, MessageBody: c.MessageBody,
		}
	}
	if c := a.RedirectConfig; c != nil {
		out.RedirectConfig = &elbv2types.RedirectActionConfig{
			StatusCode: elbv2types.RedirectActionStatusCodeEnum(c.StatusCode),
			Host:       c.Host, Path: c.Path, Port: c.Port, Protocol: c.Protocol, Query: c.Query,
		}
	}
	if c := a.ForwardConfig; c != nil {
		f := &elbv2types.ForwardActionConfig{}
		for _, tg := range c.TargetGroups {
			arn, err := resolve(tg.TargetGroupARN)
			if err != nil {
				return elbv2types.Action{}, err
			}
			f.TargetGroups = append(f.TargetGroups, elbv2types.TargetGroupTuple{TargetGroupArn: aws.String(arn), Weight: tg.Weight})
		}
		if s := c.TargetGroupStickinessConfig; s != nil {
			f.TargetGroupStickinessConfig = &elbv2types.TargetGroupStickinessConfig{Enabled: s.Enabled, DurationSeconds: s.DurationSeconds}
		}
		out.ForwardConfig = f
	}
	return out, nil
}

// SDK converts a condition to the ELBv2 SDK's shape.
func (c Condition) SDK() elbv2types.RuleCondition {
	out := elbv2types.RuleCondition{Field: aws.String(c.Field)}
	if v := c.HostHeaderConfig; v != nil {
		out.HostHeaderConfig = &elbv2types.HostHeaderConditionConfig{Values: v.Values, RegexValues: v.RegexValues}
	}
	if v := c.PathPatternConfig; v != nil {
		out.PathPatternConfig = &elbv2types.PathPatternConditionConfig{Values: v.Values, RegexValues: v.RegexValues}
	}
	if v := c.HTTPHeaderConfig; v != nil {
		out.HttpHeaderConfig = &elbv2types.HttpHeaderConditionConfig{HttpHeaderName: aws.String(v.HTTPHeaderName), Values: v.Values, RegexValues: v.RegexValues}
	}
	if v := c.HTTPRequestMethodConfig; v != nil {
		out.HttpRequestMethodConfig = &elbv2types.HttpRequestMethodConditionConfig{Values: v.Values}
	}
	if v := c.QueryStringConfig; v != nil {
		q := &elbv2types.QueryStringConditionConfig{}
		for _, kv := range v.Values {
			q.Values = append(q.Values, elbv2types.QueryStringKeyValuePair{Key: kv.Key, Value: aws.String(kv.Value)})
		}
		out.QueryStringConfig = q
	}
	if v := c.SourceIPConfig; v != nil {
		out.SourceIpConfig = &elbv2types.SourceIpConditionConfig{Values: v.Values}
	}
	return out
}

// SDK converts a transform to the ELBv2 SDK's shape.
func (t Transform) SDK() elbv2types.RuleTransform {
	out := elbv2types.RuleTransform{Type: elbv2types.TransformTypeEnum(t.Type)}
	conv := func(rc *RewriteConfig) []elbv2types.RewriteConfig {
		var rs []elbv2types.RewriteConfig
		for _, r := range rc.Rewrites {
			rs = append(rs, elbv2types.RewriteConfig{Regex: aws.String(r.Regex), Replace: aws.String(r.Replace)})
		}
		return rs
	}
	if t.HostHeaderRewriteConfig != nil {
		out.HostHeaderRewriteConfig = &elbv2types.HostHeaderRewriteConfig{Rewrites: conv(t.HostHeaderRewriteConfig)}
	}
	if t.URLRewriteConfig != nil {
		out.UrlRewriteConfig = &elbv2types.UrlRewriteConfig{Rewrites: conv(t.URLRewriteConfig)}
	}
	return out
}
