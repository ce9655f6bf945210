package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ListenerRuleConditionField is the request property a listener rule
// condition tests. Only source-ip is offered here; the other conditions
// come from the routes' own matches.
// +kubebuilder:validation:Enum=source-ip
type ListenerRuleConditionField string

// The condition fields of a ListenerRuleConfiguration.
const (
	ListenerRuleConditionFieldSourceIP ListenerRuleConditionField = "source-ip"
)

// AuthenticateCognitoActionConditionalBehaviorEnum is what an
// authenticate-cognito action does with a request of a user not signed in.
// +kubebuilder:validation:Enum=deny;allow;authenticate
type AuthenticateCognitoActionConditionalBehaviorEnum string

// The behaviours of an authenticate-cognito action towards a user not
// signed in.
const (
	AuthenticateCognitoActionConditionalBehaviorEnumDeny         AuthenticateCognitoActionConditionalBehaviorEnum = "deny"
	AuthenticateCognitoActionConditionalBehaviorEnumAllow        AuthenticateCognitoActionConditionalBehaviorEnum = "allow"
	AuthenticateCognitoActionConditionalBehaviorEnumAuthenticate AuthenticateCognitoActionConditionalBehaviorEnum = "authenticate"
)

// AuthenticateOidcActionConditionalBehaviorEnum is what an
// authenticate-oidc action does with a request of a user not signed in.
// +kubebuilder:validation:Enum=deny;allow;authenticate
type AuthenticateOidcActionConditionalBehaviorEnum string

// The behaviours of an authenticate-oidc action towards a user not signed
// in.
const (
	AuthenticateOidcActionConditionalBehaviorEnumDeny         AuthenticateOidcActionConditionalBehaviorEnum = "deny"
	AuthenticateOidcActionConditionalBehaviorEnumAllow        AuthenticateOidcActionConditionalBehaviorEnum = "allow"
	AuthenticateOidcActionConditionalBehaviorEnumAuthenticate AuthenticateOidcActionConditionalBehaviorEnum = "authenticate"
)

// SourceIPConditionConfig is a source-ip condition: the client's address
// is in one of the CIDRs.
type SourceIPConditionConfig struct {
	// Values are the CIDRs.
	// +kubebuilder:validation:MinItems=1
	Values []string `json:"values"`
}

// ListenerRuleCondition is an extra condition of the listener rules made
// from a route rule. SourceIPConfig is set exactly when Field is
// source-ip.
// +kubebuilder:validation:XValidation:rule="has(self.field) && self.field == 'source-ip' ? has(self.sourceIPConfig) : !has(self.sourceIPConfig)",message="sourceIPConfig must be specified only when field is 'source-ip'"
type ListenerRuleCondition struct {
	// Field is the request property tested.
	Field ListenerRuleConditionField `json:"field"`

	// SourceIPConfig is the source-ip condition.
	// +optional
	SourceIPConfig *SourceIPConditionConfig `json:"sourceIPConfig,omitempty"`

	// MatchIndexes are the indexes of the route rule's matches the
	// condition is added to; all of them when left out.
	// +optional
	MatchIndexes *[]int `json:"matchIndexes,omitempty"`
}

// ActionType is the type of a listener rule action.
// +kubebuilder:validation:Enum=forward;fixed-response;redirect;authenticate-cognito;authenticate-oidc;jwt-validation
type ActionType string

// The action types of a ListenerRuleConfiguration.
const (
	ActionTypeForward             ActionType = "forward"
	ActionTypeFixedResponse       ActionType = "fixed-response"
	ActionTypeRedirect            ActionType = "redirect"
	ActionTypeAuthenticateCognito ActionType = "authenticate-cognito"
	ActionTypeAuthenticateOIDC    ActionType = "authenticate-oidc"
	ActionTypeJwtValidation       ActionType = "jwt-validation"
)

// TargetGroupStickinessConfig keeps a client on the target group it was
// first forwarded to, among a rule's weighted target groups.
type TargetGroupStickinessConfig struct {
	// DurationSeconds is how long a client stays on its target group, in
	// seconds (1 to 604800, seven days).
	// +kubebuilder:default=3600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	DurationSeconds *int32 `json:"durationSeconds,omitempty"`

	// Enabled turns target group stickiness on.
	// +kubebuilder:default=false
	Enabled *bool `json:"enabled,omitempty"`
}

// ForwardActionConfig is what a ListenerRuleConfiguration adds to a
// forward action: only target group stickiness; the target groups and
// their weights come from the route's backendRefs.
type ForwardActionConfig struct {
	// TargetGroupStickinessConfig is the rule's target group stickiness.
	// +kubebuilder:default={}
	TargetGroupStickinessConfig *TargetGroupStickinessConfig `json:"targetGroupStickinessConfig,omitempty"`
}

// RedirectActionConfig is what a ListenerRuleConfiguration adds to a
// redirect action: only the query; the rest comes from the route's
// RequestRedirect filter.
type RedirectActionConfig struct {
	// Query is the redirect's query string, without the leading "?";
	// URL-encoded where needed, and it may use the #{query} keyword (the
	// request's own query, the default).
	// +kubebuilder:default="#{query}"
	Query *string `json:"query,omitempty"`
}

// FixedResponseActionConfig is an action that answers the request itself.
type FixedResponseActionConfig struct {
	// StatusCode is the answer's HTTP status code, 2XX, 4XX or 5XX.
	// +kubebuilder:validation:XValidation:rule="(self >= 200 && self <= 299) || (self >= 400 && self <= 599)",message="StatusCode must be a valid HTTP status code in the 2XX, 4XX, or 5XX range"
	StatusCode int32 `json:"statusCode"`

	// ContentType is the answer's content type.
	// +optional
	// +kubebuilder:default="text/plain"
	// +kubebuilder:validation:Enum=text/plain;text/css;text/html;application/javascript;application/json
	ContentType *string `json:"contentType,omitempty"`

	// MessageBody is the answer's body.
	// +optional
	MessageBody *string `json:"messageBody,omitempty"`
}

// Secret names the Secret, in the ListenerRuleConfiguration's namespace,
// that holds an OAuth 2.0 client's clientID and clientSecret.
type Secret struct {
	// Name is the Secret's name.
	Name string `json:"name"`
}

// AuthenticateCognitoActionConfig is an action that signs users in
// through an Amazon Cognito user pool.
type AuthenticateCognitoActionConfig struct {
	// UserPoolArn is the user pool's ARN.
	UserPoolArn string `json:"userPoolArn"`

	// UserPoolClientID is the ID of the user pool's app client.
	UserPoolClientID string `json:"userPoolClientId"`

	// UserPoolDomain is the user pool's domain prefix or full domain
	// name.
	UserPoolDomain string `json:"userPoolDomain"`

	// Scope are the user claims asked of the identity provider, in the
	// form it accepts.
	// +optional
	// +kubebuilder:default="openid"
	Scope *string `json:"scope,omitempty"`

	// AuthenticationRequestExtraParams are query parameters (at most ten)
	// added to the redirect to the authorization endpoint.
	// +optional
	// +kubebuilder:validation:MaxProperties=10
	AuthenticationRequestExtraParams *map[string]string `json:"authenticationRequestExtraParams,omitempty"`

	// OnUnauthenticatedRequest is what is done with a request of a user
	// not signed in.
	// +kubebuilder:default="authenticate"
	OnUnauthenticatedRequest *AuthenticateCognitoActionConditionalBehaviorEnum `json:"onUnauthenticatedRequest,omitempty"`

	// SessionCookieName is the name of the session cookie.
	// +optional
	// +kubebuilder:default="AWSELBAuthSessionCookie"
	SessionCookieName *string `json:"sessionCookieName,omitempty"`

	// SessionTimeout is the longest a session lasts, in seconds (1 to
	// 604800, seven days).
	// +optional
	// +kubebuilder:default=604800
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	SessionTimeout *int64 `json:"sessionTimeout,omitempty"`
}

// JwtAdditionalClaimFormat is the form of a JWT claim's value.
// +kubebuilder:validation:Enum=single-string;string-array;space-separated-values
type JwtAdditionalClaimFormat string

// The forms of a JWT claim's value.
const (
	FormatSingleString         JwtAdditionalClaimFormat = "single-string"
	FormatStringArray          JwtAdditionalClaimFormat = "string-array"
	FormatSpaceSeparatedValues JwtAdditionalClaimFormat = "space-separated-values"
)

// JwtValidationActionAdditionalClaim is a claim a JWT must carry, with one
// of the values listed.
type JwtValidationActionAdditionalClaim struct {
	// Format is the form of the claim's value.
	// +kubebuilder:validation:Required
	Format JwtAdditionalClaimFormat `json:"format"`

	// Name is the claim's name; exp, iss, nbf and iat are always checked
	// and cannot be named.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Values are the accepted values (one to ten, of at most 256
	// characters each; without spaces for space-separated-values).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MaxLength=256
	Values []string `json:"values"`
}

// JwtValidationActionConfig is an action that lets a request through only
// with a valid JSON Web Token.
type JwtValidationActionConfig struct {
	// Issuer is the issuer the token must name (at most 256 characters).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=256
	Issuer string `json:"issuer"`

	// JwksEndpoint is the full HTTPS URL of the JSON Web Key Set the
	// token's signature is checked with (at most 256 characters).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MaxLength=256
	JwksEndpoint string `json:"jwksEndpoint"`

	// AdditionalClaims are further claims the token must carry.
	// +optional
	AdditionalClaims []JwtValidationActionAdditionalClaim `json:"additionalClaims,omitempty"`
}

// AuthenticateOidcActionConfig is an action that signs users in through
// an OpenID Connect identity provider. The endpoints and the issuer are
// full HTTPS URLs.
type AuthenticateOidcActionConfig struct {
	// AuthorizationEndpoint is the provider's authorization endpoint.
	AuthorizationEndpoint string `json:"authorizationEndpoint"`

	// Secret names the Secret holding the client's clientID and
	// clientSecret.
	Secret *Secret `json:"secret"`

	// Issuer is the provider's issuer identifier.
	Issuer string `json:"issuer"`

	// TokenEndpoint is the provider's token endpoint.
	TokenEndpoint string `json:"tokenEndpoint"`

	// UserInfoEndpoint is the provider's user info endpoint.
	UserInfoEndpoint string `json:"userInfoEndpoint"`

	// Scope are the user claims asked of the identity provider, in the
	// form it accepts.
	// +optional
	// +kubebuilder:default="openid"
	Scope *string `json:"scope,omitempty"`

	// AuthenticationRequestExtraParams are query parameters (at most ten)
	// added to the redirect to the authorization endpoint.
	// +optional
	// +kubebuilder:validation:MaxProperties=10
	AuthenticationRequestExtraParams *map[string]string `json:"authenticationRequestExtraParams,omitempty"`

	// OnUnauthenticatedRequest is what is done with a request of a user
	// not signed in.
	// +kubebuilder:default="authenticate"
	OnUnauthenticatedRequest *AuthenticateOidcActionConditionalBehaviorEnum `json:"onUnauthenticatedRequest,omitempty"`

	// SessionCookieName is the name of the session cookie.
	// +optional
	// +kubebuilder:default="AWSELBAuthSessionCookie"
	SessionCookieName *string `json:"sessionCookieName,omitempty"`

	// SessionTimeout is the longest a session lasts, in seconds (1 to
	// 604800, seven days).
	// +optional
	// +kubebuilder:default=604800
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	SessionTimeout *int64 `json:"sessionTimeout,omitempty"`

	// UseExistingClientSecret keeps the client secret the rule already has
	// when the rule is modified.
	// +optional
	UseExistingClientSecret *bool `json:"useExistingClientSecret,omitempty"`
}

// Action is one action of the listener rules made from a route rule. The
// configuration matching Type is set, and no other.
// +kubebuilder:validation:XValidation:rule="has(self.type) && self.type == 'forward' ? has(self.forwardConfig) : !has(self.forwardConfig)",message="forwardConfig must be specified only when type is 'forward'"
// +kubebuilder:validation:XValidation:rule="has(self.type) && self.type == 'redirect' ? has(self.redirectConfig) : !has(self.redirectConfig)",message="redirectConfig must be specified only when type is 'redirect'"
// +kubebuilder:validation:XValidation:rule="has(self.type) && self.type == 'fixed-response' ? has(self.fixedResponseConfig) : !has(self.fixedResponseConfig)",message="fixedResponseConfig must be specified only when type is 'fixed-response'"
// +kubebuilder:validation:XValidation:rule="has(self.type) && self.type == 'authenticate-cognito' ? has(self.authenticateCognitoConfig) : !has(self.authenticateCognitoConfig)",message="authenticateCognitoConfig must be specified only when type is 'authenticate-cognito'"
// +kubebuilder:validation:XValidation:rule="has(self.type) && self.type == 'authenticate-oidc' ? has(self.authenticateOIDCConfig) : !has(self.authenticateOIDCConfig)",message="authenticateOIDCConfig must be specified only when type is 'authenticate-oidc'"
// +kubebuilder:validation:XValidation:rule="has(self.type) && self.type == 'jwt-validation' ? has(self.jwtValidationConfig) : !has(self.jwtValidationConfig)",message="jwtValidationConfig must be specified only when type is 'jwt-validation'"
type Action struct {
	// Type is the action's type.
	Type ActionType `json:"type"`

	// ForwardConfig is the setting of a forward action.
	// +optional
	ForwardConfig *ForwardActionConfig `json:"forwardConfig,omitempty"`

	// RedirectConfig is the setting of a redirect action.
	// +optional
	RedirectConfig *RedirectActionConfig `json:"redirectConfig,omitempty"`

	// FixedResponseConfig is the setting of a fixed-response action.
	// +optional
	FixedResponseConfig *FixedResponseActionConfig `json:"fixedResponseConfig,omitempty"`

	// AuthenticateCognitoConfig is the setting of an authenticate-cognito
	// action.
	// +optional
	AuthenticateCognitoConfig *AuthenticateCognitoActionConfig `json:"authenticateCognitoConfig,omitempty"`

	// AuthenticateOIDCConfig is the setting of an authenticate-oidc
	// action.
	// +optional
	AuthenticateOIDCConfig *AuthenticateOidcActionConfig `json:"authenticateOIDCConfig,omitempty"`

	// JwtValidationConfig is the setting of a jwt-validation action.
	// +optional
	JwtValidationConfig *JwtValidationActionConfig `json:"jwtValidationConfig,omitempty"`
}

// ListenerRuleConfigurationSpec is what a route rule's ExtensionRef filter
// naming a ListenerRuleConfiguration adds to the listener rules made from
// it. At most one of the actions authenticates (authenticate-oidc,
// authenticate-cognito or jwt-validation) and at most one routes
// (forward, redirect or fixed-response).
// +kubebuilder:validation:XValidation:rule="!has(self.actions) || size(self.actions) > 0",message="At least one action must be specified if actions field is present"
// +kubebuilder:validation:XValidation:rule="!has(self.actions) || self.actions.all(a, a.type == 'authenticate-oidc' || a.type == 'authenticate-cognito' || a.type == 'jwt-validation' || a.type == 'fixed-response' || a.type == 'forward' || a.type == 'redirect')",message="Only forward, redirect, authenticate-oidc, authenticate-cognito, jwt-validation, and fixed-response action types are supported"
// +kubebuilder:validation:XValidation:rule="!has(self.actions) || size(self.actions.filter(a, a.type == 'authenticate-oidc' || a.type == 'authenticate-cognito' || a.type == 'jwt-validation')) <= 1",message="At most one pre-routing action (authenticate-oidc, authenticate-cognito, or jwt-validation) can be specified"
// +kubebuilder:validation:XValidation:rule="!has(self.actions) || size(self.actions.filter(a, a.type == 'fixed-response' || a.type == 'forward' || a.type == 'redirect')) <= 1",message="At most one routing action (fixed-response or forward or redirect) can be specified"
type ListenerRuleConfigurationSpec struct {
	// Actions are the rule's actions (one or two). Forward and redirect
	// actions take only what their configs offer here; everything else
	// about them comes from the route.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	Actions []Action `json:"actions,omitempty"`

	// Conditions are extra conditions of the rule (source-ip only; the
	// others come from the route's matches).
	// +optional
	// +kubebuilder:validation:MinItems=1
	Conditions []ListenerRuleCondition `json:"conditions,omitempty"`

	// Tags are AWS tags put on every resource created for the rule.
	// +optional
	Tags *map[string]string `json:"tags,omitempty"`
}

// ListenerRuleConfigurationStatus is what the controller last saw of a
// ListenerRuleConfiguration.
type ListenerRuleConfigurationStatus struct {
	// ObservedGeneration is the generation last looked at.
	// +optional
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`

	// Accepted says whether the configuration is valid.
	// +optional
	Accepted *bool `json:"accepted,omitempty"`

	// Message explains the state, e.g. why the configuration was refused.
	// +optional
	Message *string `json:"message,omitempty"`
}

// ListenerRuleConfiguration is the listener rule setting a route rule
// refers to with an ExtensionRef filter.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:deprecatedversion:warning="gateway.k8s.aws/v1beta1 ListenerRuleConfiguration is deprecated; use gateway.k8s.aws/v1 instead"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type ListenerRuleConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired setting.
	Spec ListenerRuleConfigurationSpec `json:"spec,omitempty"`
	// Status is what the controller last saw.
	Status ListenerRuleConfigurationStatus `json:"status,omitempty"`
}

// ListenerRuleConfigurationList is a list of ListenerRuleConfigurations.
// +kubebuilder:object:root=true
type ListenerRuleConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ListenerRuleConfigurations.
	Items []ListenerRuleConfiguration `json:"items"`
}
