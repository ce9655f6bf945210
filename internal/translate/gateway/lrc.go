package gateway

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// fixedResponseContentTypes are the content types an ALB fixed response
// may have.
var fixedResponseContentTypes = map[string]bool{
	"text/plain": true, "text/css": true, "text/html": true, "application/javascript": true, "application/json": true,
}

var fixedResponseCodeRE = regexp.MustCompile(`^[245]\d\d$`)

// checkLRC validates a ListenerRuleConfiguration once and records its
// status.
func (t *translator) checkLRC(lrc *gwaws.ListenerRuleConfiguration) error {
	k := key(lrc.Namespace, lrc.Name)
	if t.lrcChecked == nil {
		t.lrcChecked = map[string]error{}
	}
	if err, ok := t.lrcChecked[k]; ok {
		return err
	}
	err := t.validateLRC(lrc)
	t.lrcChecked[k] = err
	st := &ListenerRuleConfigurationStatus{Object: objRef(kindLRC, lrc), ObservedGeneration: lrc.Generation, Accepted: err == nil, Message: "Accepted"}
	if err != nil {
		st.Message = err.Error()
		t.note(translate.Error, st.Object, "not accepted: %v", err)
	}
	t.status.lrcs[k] = st
	return err
}

func (t *translator) validateLRC(lrc *gwaws.ListenerRuleConfiguration) error {
	s := &lrc.Spec
	var auth, routing int
	for i, a := range s.Actions {
		at := fmt.Sprintf("actions[%d] (%s)", i, a.Type)
		set := 0
		for _, p := range []bool{a.ForwardConfig != nil, a.RedirectConfig != nil, a.FixedResponseConfig != nil,
			a.AuthenticateCognitoConfig != nil, a.AuthenticateOIDCConfig != nil, a.JwtValidationConfig != nil} {
			if p {
				set++
			}
		}
		if set > 1 {
			return fmt.Errorf("%s: set the configuration of its type only", at)
		}
		switch a.Type {
		case v1beta1.ActionTypeForward:
			routing++
			if a.RedirectConfig != nil || a.FixedResponseConfig != nil || a.AuthenticateCognitoConfig != nil || a.AuthenticateOIDCConfig != nil || a.JwtValidationConfig != nil {
				return fmt.Errorf("%s: set forwardConfig only", at)
			}
			if f := a.ForwardConfig; f != nil && f.TargetGroupStickinessConfig != nil {
				if d := f.TargetGroupStickinessConfig.DurationSeconds; d != nil && (*d < 1 || *d > 604800) {
					return fmt.Errorf("%s: targetGroupStickinessConfig.durationSeconds %d: want 1 to 604800", at, *d)
				}
			}
		case v1beta1.ActionTypeRedirect:
			routing++
			if a.RedirectConfig == nil && set > 0 {
				return fmt.Errorf("%s: set redirectConfig only", at)
			}
		case v1beta1.ActionTypeFixedResponse:
			routing++
			f := a.FixedResponseConfig
			if f == nil {
				return fmt.Errorf("%s: needs fixedResponseConfig", at)
			}
			if !fixedResponseCodeRE.MatchString(strconv.Itoa(int(f.StatusCode))) {
				return fmt.Errorf("%s: statusCode %d: ALB fixed responses are 2XX, 4XX or 5XX", at, f.StatusCode)
			}
			if f.ContentType != nil && !fixedResponseContentTypes[*f.ContentType] {
				return fmt.Errorf("%s: contentType %q: want text/plain, text/css, text/html, application/javascript or application/json", at, *f.ContentType)
			}
			if f.MessageBody != nil && len(*f.MessageBody) > 1024 {
				return fmt.Errorf("%s: messageBody has %d characters, ALB takes at most 1024", at, len(*f.MessageBody))
			}
		case v1beta1.ActionTypeAuthenticateCognito:
			auth++
			c := a.AuthenticateCognitoConfig
			if c == nil || c.UserPoolArn == "" || c.UserPoolClientID == "" || c.UserPoolDomain == "" {
				return fmt.Errorf("%s: needs authenticateCognitoConfig with userPoolArn, userPoolClientId and userPoolDomain", at)
			}
			if err := checkSessionTimeout(at, c.SessionTimeout); err != nil {
				return err
			}
		case v1beta1.ActionTypeAuthenticateOIDC:
			auth++
			c := a.AuthenticateOIDCConfig
			if c == nil || c.Secret == nil || c.Secret.Name == "" || c.Issuer == "" || c.AuthorizationEndpoint == "" || c.TokenEndpoint == "" || c.UserInfoEndpoint == "" {
				return fmt.Errorf("%s: needs authenticateOIDCConfig with issuer, authorizationEndpoint, tokenEndpoint, userInfoEndpoint and secret", at)
			}
			if err := checkSessionTimeout(at, c.SessionTimeout); err != nil {
				return err
			}
			if _, ok := t.x.secrets[key(lrc.Namespace, c.Secret.Name)]; !ok && !t.opts.AssumeMissingSecrets {
				return fmt.Errorf("%s: Secret %s/%s not found", at, lrc.Namespace, c.Secret.Name)
			}
		case v1beta1.ActionTypeJwtValidation:
			auth++
			c := a.JwtValidationConfig
			if c == nil || c.Issuer == "" || c.JwksEndpoint == "" {
				return fmt.Errorf("%s: needs jwtValidationConfig with issuer and jwksEndpoint", at)
			}
			for j, cl := range c.AdditionalClaims {
				switch cl.Format {
				case v1beta1.FormatSingleString, v1beta1.FormatStringArray, v1beta1.FormatSpaceSeparatedValues:
				default:
					return fmt.Errorf("%s: additionalClaims[%d].format %q: want single-string, string-array or space-separated-values", at, j, cl.Format)
				}
				if len(cl.Values) < 1 || len(cl.Values) > 10 {
					return fmt.Errorf("%s: additionalClaims[%d] has %d values; want 1 to 10", at, j, len(cl.Values))
				}
			}
		default:
			return fmt.Errorf("%s: unknown action type; want forward, redirect, fixed-response, authenticate-cognito, authenticate-oidc or jwt-validation", at)
		}
	}
	if auth > 1 {
		return fmt.Errorf("actions: at most one of authenticate-cognito, authenticate-oidc and jwt-validation")
	}
	if routing > 1 {
		return fmt.Errorf("actions: at most one of forward, redirect and fixed-response")
	}
	for i, c := range s.Conditions {
		if c.Field != v1beta1.ListenerRuleConditionFieldSourceIP {
			return fmt.Errorf("conditions[%d].field %q: want source-ip", i, c.Field)
		}
		if c.SourceIPConfig == nil || len(c.SourceIPConfig.Values) == 0 {
			return fmt.Errorf("conditions[%d]: source-ip needs sourceIPConfig.values", i)
		}
		for _, v := range c.SourceIPConfig.Values {
			if _, err := netip.ParsePrefix(v); err != nil {
				return fmt.Errorf("conditions[%d]: source IP %q is not a CIDR", i, v)
			}
		}
		if c.MatchIndexes != nil {
			for _, m := range *c.MatchIndexes {
				if m < 0 {
					return fmt.Errorf("conditions[%d]: matchIndexes %d is negative", i, m)
				}
			}
		}
	}
	if s.Tags != nil {
		for k := range *s.Tags {
			if t.opts.ExternalManaged(k) {
				return fmt.Errorf("tags: key %s is external-managed (--external-managed-tags) and cannot be set", k)
			}
		}
	}
	return nil
}

func checkSessionTimeout(at string, v *int64) error {
	if v != nil && (*v < 1 || *v > 604800) {
		return fmt.Errorf("%s: sessionTimeout %d: want 1 to 604800 seconds", at, *v)
	}
	return nil
}

// lrcRouting returns a configuration's forward, redirect or
// fixed-response action.
func lrcRouting(lrc *gwaws.ListenerRuleConfiguration) *v1beta1.Action {
	for i := range lrc.Spec.Actions {
		switch lrc.Spec.Actions[i].Type {
		case v1beta1.ActionTypeForward, v1beta1.ActionTypeRedirect, v1beta1.ActionTypeFixedResponse:
			return &lrc.Spec.Actions[i]
		}
	}
	return nil
}

// lrcAuth builds a configuration's authenticate or JWT validation action.
func (t *translator) lrcAuth(lrc *gwaws.ListenerRuleConfiguration) (*stack.Action, error) {
	for _, a := range lrc.Spec.Actions {
		switch a.Type {
		case v1beta1.ActionTypeAuthenticateCognito:
			c := a.AuthenticateCognitoConfig
			out := &stack.AuthenticateCognitoConfig{UserPoolARN: c.UserPoolArn, UserPoolClientID: c.UserPoolClientID, UserPoolDomain: c.UserPoolDomain,
				Scope: c.Scope, SessionCookieName: c.SessionCookieName, SessionTimeout: c.SessionTimeout}
			if c.OnUnauthenticatedRequest != nil {
				out.OnUnauthenticatedRequest = string(*c.OnUnauthenticatedRequest)
			}
			if c.AuthenticationRequestExtraParams != nil {
				out.AuthenticationRequestExtraParams = *c.AuthenticationRequestExtraParams
			}
			return &stack.Action{Type: stack.ActionTypeAuthenticateCognito, AuthenticateCognitoConfig: out}, nil
		case v1beta1.ActionTypeAuthenticateOIDC:
			c := a.AuthenticateOIDCConfig
			out := &stack.AuthenticateOIDCConfig{Issuer: c.Issuer, AuthorizationEndpoint: c.AuthorizationEndpoint, TokenEndpoint: c.TokenEndpoint,
				UserInfoEndpoint: c.UserInfoEndpoint, Scope: c.Scope, SessionCookieName: c.SessionCookieName, SessionTimeout: c.SessionTimeout}
			if c.OnUnauthenticatedRequest != nil {
				out.OnUnauthenticatedRequest = string(*c.OnUnauthenticatedRequest)
			}
			if c.AuthenticationRequestExtraParams != nil {
				out.AuthenticationRequestExtraParams = *c.AuthenticationRequestExtraParams
			}
			sk := key(lrc.Namespace, c.Secret.Name)
			if sec, ok := t.x.secrets[sk]; ok {
				id, secret, err := translate.OIDCClientCredentials(sec)
				if err != nil {
					return nil, err
				}
				out.ClientID, out.ClientSecret = id, secret
			} else {
				out.ClientID, out.ClientSecret = "<from Secret "+sk+">", "<from Secret "+sk+">"
			}
			return &stack.Action{Type: stack.ActionTypeAuthenticateOIDC, AuthenticateOIDCConfig: out}, nil
		case v1beta1.ActionTypeJwtValidation:
			c := a.JwtValidationConfig
			out := &stack.JwtValidationConfig{JwksEndpoint: c.JwksEndpoint, Issuer: c.Issuer}
			for _, cl := range c.AdditionalClaims {
				out.AdditionalClaims = append(out.AdditionalClaims, stack.JwtAdditionalClaim{Format: string(cl.Format), Name: cl.Name, Values: append([]string(nil), cl.Values...)})
			}
			return &stack.Action{Type: stack.ActionTypeJwtValidation, JwtValidationConfig: out}, nil
		}
	}
	return nil, nil
}
