package deploy

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The canonical forms below decide whether a current action, condition or
// transform equals a desired one: AWS fills defaults and writes some
// fields two ways (a forward's TargetGroupArn and its ForwardConfig, a
// condition's Values and its config), so both sides are normalised first.

type canonForward struct {
	TGs        []canonTG `json:"tgs"`
	Sticky     bool      `json:"sticky,omitempty"`
	StickySecs int32     `json:"stickySecs,omitempty"`
}

type canonTG struct {
	ARN    string `json:"arn"`
	Weight int32  `json:"weight"`
}

type canonAction struct {
	Type     string                                `json:"type"`
	Forward  *canonForward                         `json:"forward,omitempty"`
	Redirect map[string]string                     `json:"redirect,omitempty"`
	Fixed    map[string]string                     `json:"fixed,omitempty"`
	Auth     map[string]any                        `json:"auth,omitempty"`
	JWT      *elbv2types.JwtValidationActionConfig `json:"jwt,omitempty"`
}

func orDefault(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

// canonActions returns the canonical form of actions, in their order.
func canonActions(actions []elbv2types.Action) string {
	as := slices.Clone(actions)
	sort.SliceStable(as, func(i, j int) bool { return aws.ToInt32(as[i].Order) < aws.ToInt32(as[j].Order) })
	out := make([]canonAction, 0, len(as))
	for _, a := range as {
		c := canonAction{Type: string(a.Type)}
		switch a.Type {
		case elbv2types.ActionTypeEnumForward:
			f := &canonForward{}
			if fc := a.ForwardConfig; fc != nil && len(fc.TargetGroups) > 0 {
				for _, t := range fc.TargetGroups {
					w := int32(1)
					if t.Weight != nil {
						w = *t.Weight
					}
					f.TGs = append(f.TGs, canonTG{ARN: aws.ToString(t.TargetGroupArn), Weight: w})
				}
				if s := fc.TargetGroupStickinessConfig; s != nil && aws.ToBool(s.Enabled) {
					f.Sticky, f.StickySecs = true, aws.ToInt32(s.DurationSeconds)
				}
			} else {
				f.TGs = []canonTG{{ARN: aws.ToString(a.TargetGroupArn), Weight: 1}}
			}
			if len(f.TGs) == 1 {
				f.TGs[0].Weight = 1 // one target group: its weight means nothing
			}
			sort.Slice(f.TGs, func(i, j int) bool { return f.TGs[i].ARN < f.TGs[j].ARN })
			c.Forward = f
		case elbv2types.ActionTypeEnumRedirect:
			if rc := a.RedirectConfig; rc != nil {
				c.Redirect = map[string]string{
					"protocol": orDefault(rc.Protocol, "#{protocol}"), "host": orDefault(rc.Host, "#{host}"),
					"port": orDefault(rc.Port, "#{port}"), "path": orDefault(rc.Path, "/#{path}"),
					"query": orDefault(rc.Query, "#{query}"), "status": string(rc.StatusCode),
				}
			}
		case elbv2types.ActionTypeEnumFixedResponse:
			if fc := a.FixedResponseConfig; fc != nil {
				c.Fixed = map[string]string{"status": aws.ToString(fc.StatusCode), "type": aws.ToString(fc.ContentType), "body": aws.ToString(fc.MessageBody)}
			}
		case elbv2types.ActionTypeEnumAuthenticateOidc:
			if o := a.AuthenticateOidcConfig; o != nil {
				// The client secret is write-only: AWS does not return it.
				c.Auth = map[string]any{
					"issuer": aws.ToString(o.Issuer), "authz": aws.ToString(o.AuthorizationEndpoint), "token": aws.ToString(o.TokenEndpoint),
					"userinfo": aws.ToString(o.UserInfoEndpoint), "client": aws.ToString(o.ClientId),
					"params": o.AuthenticationRequestExtraParams, "on": orDefault((*string)(&o.OnUnauthenticatedRequest), "authenticate"),
					"scope": orDefault(o.Scope, "openid"), "cookie": orDefault(o.SessionCookieName, "AWSELBAuthSessionCookie"),
					"timeout": aws.ToInt64(o.SessionTimeout),
				}
				if c.Auth["timeout"] == int64(0) {
					c.Auth["timeout"] = int64(604800)
				}
			}
		case elbv2types.ActionTypeEnumAuthenticateCognito:
			if o := a.AuthenticateCognitoConfig; o != nil {
				c.Auth = map[string]any{
					"pool": aws.ToString(o.UserPoolArn), "client": aws.ToString(o.UserPoolClientId), "domain": aws.ToString(o.UserPoolDomain),
					"params": o.AuthenticationRequestExtraParams, "on": orDefault((*string)(&o.OnUnauthenticatedRequest), "authenticate"),
					"scope": orDefault(o.Scope, "openid"), "cookie": orDefault(o.SessionCookieName, "AWSELBAuthSessionCookie"),
					"timeout": aws.ToInt64(o.SessionTimeout),
				}
				if c.Auth["timeout"] == int64(0) {
					c.Auth["timeout"] = int64(604800)
				}
			}
		default:
			c.JWT = a.JwtValidationConfig
		}
		out = append(out, c)
	}
	return mustJSON(out)
}

type canonCondition struct {
	Field  string   `json:"field"`
	Header string   `json:"header,omitempty"`
	Values []string `json:"values,omitempty"`
	Regex  []string `json:"regex,omitempty"`
}

// canonConditions returns the canonical form of conditions: order does not
// matter, nor does the order of values within one.
func canonConditions(conds []elbv2types.RuleCondition) string {
	out := make([]canonCondition, 0, len(conds))
	for _, c := range conds {
		cc := canonCondition{Field: aws.ToString(c.Field)}
		switch {
		case c.HostHeaderConfig != nil:
			cc.Values, cc.Regex = c.HostHeaderConfig.Values, c.HostHeaderConfig.RegexValues
		case c.PathPatternConfig != nil:
			cc.Values, cc.Regex = c.PathPatternConfig.Values, c.PathPatternConfig.RegexValues
		case c.HttpHeaderConfig != nil:
			cc.Header, cc.Values, cc.Regex = aws.ToString(c.HttpHeaderConfig.HttpHeaderName), c.HttpHeaderConfig.Values, c.HttpHeaderConfig.RegexValues
		case c.HttpRequestMethodConfig != nil:
			cc.Values = c.HttpRequestMethodConfig.Values
		case c.SourceIpConfig != nil:
			cc.Values = c.SourceIpConfig.Values
		case c.QueryStringConfig != nil:
			for _, kv := range c.QueryStringConfig.Values {
				cc.Values = append(cc.Values, aws.ToString(kv.Key)+"="+aws.ToString(kv.Value))
			}
		default:
			cc.Values = c.Values
		}
		cc.Values, cc.Regex = sortedCopy(cc.Values), sortedCopy(cc.Regex)
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return mustJSON(out[i]) < mustJSON(out[j]) })
	return mustJSON(out)
}

// canonTransforms returns the canonical form of transforms.
func canonTransforms(ts []elbv2types.RuleTransform) string {
	type rw struct{ Regex, Replace string }
	type ct struct {
		Type     string
		Rewrites []rw
	}
	out := make([]ct, 0, len(ts))
	for _, t := range ts {
		c := ct{Type: string(t.Type)}
		var rs []elbv2types.RewriteConfig
		if t.HostHeaderRewriteConfig != nil {
			rs = t.HostHeaderRewriteConfig.Rewrites
		}
		if t.UrlRewriteConfig != nil {
			rs = t.UrlRewriteConfig.Rewrites
		}
		for _, r := range rs {
			c.Rewrites = append(c.Rewrites, rw{aws.ToString(r.Regex), aws.ToString(r.Replace)})
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return mustJSON(out)
}

func sortedCopy(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	v = slices.Clone(v)
	sort.Strings(v)
	return v
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data structures are marshalled here
	}
	return string(b)
}
