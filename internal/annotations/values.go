package annotations

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// ListenPorts maps listener ports to protocols (HTTP or HTTPS).
type ListenPorts map[int32]string

// Ports returns the ports in ascending order.
func (l ListenPorts) Ports() []int32 {
	out := make([]int32, 0, len(l))
	for p := range l {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

const listenPortsWant = `a JSON list such as [{"HTTP": 80}, {"HTTPS": 443}], ports 1-65535, protocols HTTP or HTTPS`

// ParseListenPorts parses a listen-ports value. A port listed twice takes
// the protocol of its last entry, as with the reference.
func ParseListenPorts(raw string) (ListenPorts, error) {
	var entries []map[string]int32
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, &Error{Key: IngressListenPorts, Value: raw, Want: listenPortsWant, Err: jsonErr(err)}
	}
	if len(entries) == 0 {
		return nil, &Error{Key: IngressListenPorts, Value: raw, Want: listenPortsWant, Err: errors.New("no listen port")}
	}
	out := ListenPorts{}
	for _, e := range entries {
		protos := make([]string, 0, len(e))
		for p := range e {
			protos = append(protos, p)
		}
		sort.Strings(protos)
		for _, proto := range protos {
			port := e[proto]
			if port < 1 || port > 65535 {
				return nil, &Error{Key: IngressListenPorts, Value: raw, Want: listenPortsWant, Err: fmt.Errorf("port %d is outside 1-65535", port)}
			}
			if proto != "HTTP" && proto != "HTTPS" {
				return nil, &Error{Key: IngressListenPorts, Value: raw, Want: listenPortsWant, Err: fmt.Errorf("protocol %q is neither HTTP nor HTTPS", proto)}
			}
			out[port] = proto
		}
	}
	if len(out) == 0 {
		return nil, &Error{Key: IngressListenPorts, Value: raw, Want: listenPortsWant, Err: errors.New("no listen port")}
	}
	return out, nil
}

// Action is the value of an actions.<name> annotation.
type Action struct {
	Type                string                     `json:"type"`
	TargetGroupARN      *string                    `json:"targetGroupARN"`
	TargetGroupName     *string                    `json:"targetGroupName,omitempty"`
	FixedResponseConfig *FixedResponseActionConfig `json:"fixedResponseConfig,omitempty"`
	RedirectConfig      *RedirectActionConfig      `json:"redirectConfig,omitempty"`
	ForwardConfig       *ForwardActionConfig       `json:"forwardConfig,omitempty"`
}

// FixedResponseActionConfig is the fixed-response part of an Action.
type FixedResponseActionConfig struct {
	ContentType *string `json:"contentType,omitempty"`
	MessageBody *string `json:"messageBody,omitempty"`
	StatusCode  string  `json:"statusCode"`
}

// RedirectActionConfig is the redirect part of an Action.
type RedirectActionConfig struct {
	Host       *string `json:"host,omitempty"`
	Path       *string `json:"path,omitempty"`
	Port       *string `json:"port,omitempty"`
	Protocol   *string `json:"protocol,omitempty"`
	Query      *string `json:"query,omitempty"`
	StatusCode string  `json:"statusCode"`
}

// TargetGroupTuple is one target of a forward Action: a Service port or an
// existing target group.
type TargetGroupTuple struct {
	TargetGroupARN  *string             `json:"targetGroupARN"`
	TargetGroupName *string             `json:"targetGroupName,omitempty"`
	ServiceName     *string             `json:"serviceName"`
	ServicePort     *intstr.IntOrString `json:"servicePort"`
	Weight          *int32              `json:"weight,omitempty"`
}

// TargetGroupStickinessConfig is a forward Action's stickiness.
type TargetGroupStickinessConfig struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	DurationSeconds *int32 `json:"durationSeconds,omitempty"`
}

// ForwardActionConfig is the forward part of an Action.
type ForwardActionConfig struct {
	TargetGroups                []TargetGroupTuple           `json:"targetGroups"`
	TargetGroupStickinessConfig *TargetGroupStickinessConfig `json:"targetGroupStickinessConfig,omitempty"`
}

// Validate checks the action as the reference does.
func (a *Action) Validate() error {
	switch a.Type {
	case "fixed-response":
		if a.FixedResponseConfig == nil {
			return errors.New("missing fixedResponseConfig")
		}
		if a.FixedResponseConfig.StatusCode == "" {
			return errors.New("fixedResponseConfig: statusCode is required")
		}
	case "redirect":
		if a.RedirectConfig == nil {
			return errors.New("missing redirectConfig")
		}
		if a.RedirectConfig.StatusCode == "" {
			return errors.New("redirectConfig: statusCode is required")
		}
	case "forward":
		hasTG := a.TargetGroupARN != nil || a.TargetGroupName != nil
		if !hasTG && a.ForwardConfig == nil {
			return errors.New("missing forwardConfig or targetGroupARN/targetGroupName")
		}
		if hasTG && a.ForwardConfig != nil {
			return errors.New("either forwardConfig or targetGroupARN/targetGroupName can be specified")
		}
		if a.ForwardConfig != nil {
			for i, t := range a.ForwardConfig.TargetGroups {
				if err := t.validate(); err != nil {
					return fmt.Errorf("forwardConfig.targetGroups[%d]: %w", i, err)
				}
			}
			if len(a.ForwardConfig.TargetGroups) > 1 {
				for i, t := range a.ForwardConfig.TargetGroups {
					if t.Weight == nil {
						return fmt.Errorf("forwardConfig.targetGroups[%d]: weight must be set when routing to several target groups", i)
					}
				}
			}
		}
	default:
		return fmt.Errorf("unknown action type %q", a.Type)
	}
	return nil
}

func (t *TargetGroupTuple) validate() error {
	hasTG := t.TargetGroupARN != nil || t.TargetGroupName != nil
	if !hasTG && t.ServiceName == nil {
		return errors.New("missing serviceName or targetGroupARN/targetGroupName")
	}
	if hasTG && t.ServiceName != nil {
		return errors.New("either serviceName or targetGroupARN/targetGroupName can be specified")
	}
	if t.ServiceName != nil && t.ServicePort == nil {
		return errors.New("missing servicePort")
	}
	return nil
}

const actionWant = `a JSON action: {"type":"fixed-response","fixedResponseConfig":{…}}, {"type":"redirect","redirectConfig":{…}} or {"type":"forward","forwardConfig":{"targetGroups":[…]}}`

// ParseAction parses and validates an actions.<name> value. A simplified
// forward ({"type":"forward","targetGroupARN":…}) is normalised to a
// forwardConfig, and numeric servicePort strings ("80") become numbers.
func ParseAction(key, raw string) (Action, error) {
	var a Action
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return Action{}, &Error{Key: key, Value: raw, Want: actionWant, Err: jsonErr(err)}
	}
	if err := a.Validate(); err != nil {
		return Action{}, &Error{Key: key, Value: raw, Want: actionWant, Err: err}
	}
	if a.Type == "forward" && (a.TargetGroupARN != nil || a.TargetGroupName != nil) {
		a = Action{Type: "forward", ForwardConfig: &ForwardActionConfig{TargetGroups: []TargetGroupTuple{{
			TargetGroupARN: a.TargetGroupARN, TargetGroupName: a.TargetGroupName,
		}}}}
	}
	if a.Type == "forward" && a.ForwardConfig != nil {
		for i := range a.ForwardConfig.TargetGroups {
			if p := a.ForwardConfig.TargetGroups[i].ServicePort; p != nil {
				n := intstr.Parse(p.String())
				a.ForwardConfig.TargetGroups[i].ServicePort = &n
			}
		}
	}
	return a, nil
}

// ValuesCondition is a host-header or path-pattern condition.
type ValuesCondition struct {
	RegexValues []string `json:"regexValues,omitempty"`
	Values      []string `json:"values,omitempty"`
}

func (c *ValuesCondition) validate() error {
	if len(c.Values) == 0 && len(c.RegexValues) == 0 {
		return errors.New("values or regexValues must be specified")
	}
	if len(c.Values) != 0 && len(c.RegexValues) != 0 {
		return errors.New("precisely one of values and regexValues can be specified")
	}
	return nil
}

// HTTPHeaderCondition is an http-header condition.
type HTTPHeaderCondition struct {
	HTTPHeaderName string   `json:"httpHeaderName"`
	RegexValues    []string `json:"regexValues,omitempty"`
	Values         []string `json:"values,omitempty"`
}

// ListCondition is an http-request-method or source-ip condition.
type ListCondition struct {
	Values []string `json:"values"`
}

// QueryStringKeyValue is one pair of a query-string condition.
type QueryStringKeyValue struct {
	Key   *string `json:"key,omitempty"`
	Value string  `json:"value"`
}

// QueryStringCondition is a query-string condition.
type QueryStringCondition struct {
	Values []QueryStringKeyValue `json:"values"`
}

// Condition is one element of a conditions.<name> value.
type Condition struct {
	Field                   string                `json:"field"`
	HostHeaderConfig        *ValuesCondition      `json:"hostHeaderConfig"`
	HTTPHeaderConfig        *HTTPHeaderCondition  `json:"httpHeaderConfig"`
	HTTPRequestMethodConfig *ListCondition        `json:"httpRequestMethodConfig"`
	PathPatternConfig       *ValuesCondition      `json:"pathPatternConfig"`
	QueryStringConfig       *QueryStringCondition `json:"queryStringConfig"`
	SourceIPConfig          *ListCondition        `json:"sourceIPConfig"`
}

// Validate checks the condition as the reference does. Fields it does not
// know are accepted and ignored, as with the reference.
func (c *Condition) Validate() error {
	switch c.Field {
	case "host-header":
		if c.HostHeaderConfig == nil {
			return errors.New("missing hostHeaderConfig")
		}
		if err := c.HostHeaderConfig.validate(); err != nil {
			return fmt.Errorf("hostHeaderConfig: %w", err)
		}
	case "path-pattern":
		if c.PathPatternConfig == nil {
			return errors.New("missing pathPatternConfig")
		}
		if err := c.PathPatternConfig.validate(); err != nil {
			return fmt.Errorf("pathPatternConfig: %w", err)
		}
	case "http-header":
		if c.HTTPHeaderConfig == nil {
			return errors.New("missing httpHeaderConfig")
		}
		v := ValuesCondition{Values: c.HTTPHeaderConfig.Values, RegexValues: c.HTTPHeaderConfig.RegexValues}
		if err := v.validate(); err != nil {
			return fmt.Errorf("httpHeaderConfig: %w", err)
		}
	case "http-request-method":
		if c.HTTPRequestMethodConfig == nil {
			return errors.New("missing httpRequestMethodConfig")
		}
		if len(c.HTTPRequestMethodConfig.Values) == 0 {
			return errors.New("httpRequestMethodConfig: values cannot be empty")
		}
	case "query-string":
		if c.QueryStringConfig == nil {
			return errors.New("missing queryStringConfig")
		}
		if len(c.QueryStringConfig.Values) == 0 {
			return errors.New("queryStringConfig: values cannot be empty")
		}
		for i, kv := range c.QueryStringConfig.Values {
			if kv.Value == "" {
				return fmt.Errorf("queryStringConfig.values[%d]: value cannot be empty", i)
			}
		}
	case "source-ip":
		if c.SourceIPConfig == nil {
			return errors.New("missing sourceIPConfig")
		}
		if len(c.SourceIPConfig.Values) == 0 {
			return errors.New("sourceIPConfig: values cannot be empty")
		}
	}
	return nil
}

const conditionsWant = `a JSON list of conditions such as [{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X","values":["a"]}}]; fields host-header, path-pattern, http-header, http-request-method, query-string, source-ip`

// ParseConditions parses and validates a conditions.<name> value.
func ParseConditions(key, raw string) ([]Condition, error) {
	var cs []Condition
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		return nil, &Error{Key: key, Value: raw, Want: conditionsWant, Err: jsonErr(err)}
	}
	for i := range cs {
		if err := cs[i].Validate(); err != nil {
			return nil, &Error{Key: key, Value: raw, Want: conditionsWant, Err: fmt.Errorf("condition %d: %w", i, err)}
		}
	}
	return cs, nil
}

// Rewrite is one rewrite of a transform.
type Rewrite struct {
	Regex   string `json:"regex"`
	Replace string `json:"replace"`
}

// RewriteConfig lists a transform's rewrites.
type RewriteConfig struct {
	Rewrites []Rewrite `json:"rewrites"`
}

// Transform is one element of a transforms.<name> value.
type Transform struct {
	Type                    string         `json:"type"`
	HostHeaderRewriteConfig *RewriteConfig `json:"hostHeaderRewriteConfig,omitempty"`
	URLRewriteConfig        *RewriteConfig `json:"urlRewriteConfig,omitempty"`
}

// Validate checks the transform as the reference does.
func (t *Transform) Validate() error {
	switch t.Type {
	case "host-header-rewrite":
		if t.HostHeaderRewriteConfig == nil {
			return errors.New("missing hostHeaderRewriteConfig")
		}
		if len(t.HostHeaderRewriteConfig.Rewrites) == 0 {
			return errors.New("hostHeaderRewriteConfig.rewrites cannot be empty")
		}
	case "url-rewrite":
		if t.URLRewriteConfig == nil {
			return errors.New("missing urlRewriteConfig")
		}
		if len(t.URLRewriteConfig.Rewrites) == 0 {
			return errors.New("urlRewriteConfig.rewrites cannot be empty")
		}
	default:
		return fmt.Errorf("unknown transform type %q", t.Type)
	}
	return nil
}

const transformsWant = `a JSON list of transforms such as [{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"regex":"^/a/(.*)","replace":"/$1"}]}}]; types url-rewrite, host-header-rewrite`

// ParseTransforms parses and validates a transforms.<name> value.
func ParseTransforms(key, raw string) ([]Transform, error) {
	var ts []Transform
	if err := json.Unmarshal([]byte(raw), &ts); err != nil {
		return nil, &Error{Key: key, Value: raw, Want: transformsWant, Err: jsonErr(err)}
	}
	for i := range ts {
		if err := ts[i].Validate(); err != nil {
			return nil, &Error{Key: key, Value: raw, Want: transformsWant, Err: fmt.Errorf("transform %d: %w", i, err)}
		}
	}
	return ts, nil
}

// CognitoIDP is the value of auth-idp-cognito.
type CognitoIDP struct {
	UserPoolARN                      string            `json:"userPoolARN"`
	UserPoolClientID                 string            `json:"userPoolClientID"`
	UserPoolDomain                   string            `json:"userPoolDomain"`
	AuthenticationRequestExtraParams map[string]string `json:"authenticationRequestExtraParams,omitempty"`
}

// OIDCIDP is the value of auth-idp-oidc; the client ID and secret come from
// the Secret it names (keys clientID or clientId, and clientSecret).
type OIDCIDP struct {
	Issuer                           string            `json:"issuer"`
	AuthorizationEndpoint            string            `json:"authorizationEndpoint"`
	TokenEndpoint                    string            `json:"tokenEndpoint"`
	UserInfoEndpoint                 string            `json:"userInfoEndpoint"`
	SecretName                       string            `json:"secretName"`
	AuthenticationRequestExtraParams map[string]string `json:"authenticationRequestExtraParams,omitempty"`
}

// ParseCognitoIDP parses an auth-idp-cognito value.
func ParseCognitoIDP(raw string) (CognitoIDP, error) {
	var c CognitoIDP
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return CognitoIDP{}, &Error{Key: IngressAuthIDPCognito, Value: raw, Want: `{"userPoolARN":…,"userPoolClientID":…,"userPoolDomain":…}`, Err: jsonErr(err)}
	}
	return c, nil
}

// ParseOIDCIDP parses an auth-idp-oidc value.
func ParseOIDCIDP(raw string) (OIDCIDP, error) {
	var c OIDCIDP
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return OIDCIDP{}, &Error{Key: IngressAuthIDPOIDC, Value: raw, Want: `{"issuer":…,"authorizationEndpoint":…,"tokenEndpoint":…,"userInfoEndpoint":…,"secretName":…}`, Err: jsonErr(err)}
	}
	return c, nil
}

// JwtClaim is an additional claim of a jwt-validation value.
type JwtClaim struct {
	Format string   `json:"format"`
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// JwtValidation is the value of jwt-validation.
type JwtValidation struct {
	JwksEndpoint     string     `json:"jwksEndpoint"`
	Issuer           string     `json:"issuer"`
	AdditionalClaims []JwtClaim `json:"additionalClaims,omitempty"`
}

const jwtWant = `{"jwksEndpoint":…,"issuer":…,"additionalClaims":[{"name":…,"format":"single-string|string-array|space-separated-values","values":[…]}]}`

// ParseJwtValidation parses and checks a jwt-validation value.
func ParseJwtValidation(raw string) (JwtValidation, error) {
	var j JwtValidation
	fail := func(err error) (JwtValidation, error) {
		return JwtValidation{}, &Error{Key: IngressJwtValidation, Value: raw, Want: jwtWant, Err: err}
	}
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		return fail(jsonErr(err))
	}
	if j.JwksEndpoint == "" {
		return fail(errors.New("jwksEndpoint is required"))
	}
	if j.Issuer == "" {
		return fail(errors.New("issuer is required"))
	}
	for i, c := range j.AdditionalClaims {
		switch {
		case c.Format == "":
			return fail(fmt.Errorf("additionalClaims[%d]: format is required", i))
		case c.Name == "":
			return fail(fmt.Errorf("additionalClaims[%d]: name is required", i))
		case len(c.Values) == 0:
			return fail(fmt.Errorf("additionalClaims[%d]: values must not be empty", i))
		}
	}
	return j, nil
}

// MutualAuthentication is the mutual TLS setting of one listener port.
type MutualAuthentication struct {
	Port                          int32   `json:"port"`
	Mode                          string  `json:"mode"`
	TrustStore                    *string `json:"trustStore,omitempty"`
	IgnoreClientCertificateExpiry *bool   `json:"ignoreClientCertificateExpiry,omitempty"`
	AdvertiseTrustStoreCaNames    *string `json:"advertiseTrustStoreCaNames,omitempty"`
}

const mtlsWant = `[{"port":443,"mode":"off|passthrough|verify","trustStore":"ARN or name (verify only)","ignoreClientCertificateExpiry":bool,"advertiseTrustStoreCaNames":"on|off"}]`

// ParseMutualAuthentication parses and checks a mutual-authentication value,
// keyed by port. In verify mode ignoreClientCertificateExpiry defaults to
// false.
func ParseMutualAuthentication(raw string) (map[int32]MutualAuthentication, error) {
	fail := func(err error) (map[int32]MutualAuthentication, error) {
		return nil, &Error{Key: IngressMutualAuthentication, Value: raw, Want: mtlsWant, Err: err}
	}
	var entries []MutualAuthentication
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return fail(jsonErr(err))
	}
	if len(entries) == 0 {
		return fail(errors.New("no entry"))
	}
	out := map[int32]MutualAuthentication{}
	for _, e := range entries {
		ts := ""
		if e.TrustStore != nil {
			ts = *e.TrustStore
		}
		switch {
		case e.Port < 1 || e.Port > 65535:
			return fail(fmt.Errorf("port %d is outside 1-65535", e.Port))
		case e.Mode == "":
			return fail(fmt.Errorf("port %d: mode is required", e.Port))
		case e.Mode != "off" && e.Mode != "passthrough" && e.Mode != "verify":
			return fail(fmt.Errorf("port %d: mode %q is not off, passthrough or verify", e.Port, e.Mode))
		case e.Mode == "verify" && ts == "":
			return fail(fmt.Errorf("port %d: trustStore is required in verify mode", e.Port))
		case e.Mode != "verify" && ts != "":
			return fail(fmt.Errorf("port %d: mode %s takes no trustStore", e.Port, e.Mode))
		case e.Mode != "verify" && e.IgnoreClientCertificateExpiry != nil:
			return fail(fmt.Errorf("port %d: mode %s takes no ignoreClientCertificateExpiry", e.Port, e.Mode))
		case e.AdvertiseTrustStoreCaNames != nil && e.Mode != "verify":
			return fail(fmt.Errorf("port %d: mode %s takes no advertiseTrustStoreCaNames", e.Port, e.Mode))
		case e.AdvertiseTrustStoreCaNames != nil && *e.AdvertiseTrustStoreCaNames != "on" && *e.AdvertiseTrustStoreCaNames != "off":
			return fail(fmt.Errorf("port %d: advertiseTrustStoreCaNames %q is not on or off", e.Port, *e.AdvertiseTrustStoreCaNames))
		}
		if e.Mode == "verify" && e.IgnoreClientCertificateExpiry == nil {
			f := false
			e.IgnoreClientCertificateExpiry = &f
		}
		t := ts
		e.TrustStore = &t
		out[e.Port] = e
	}
	return out, nil
}

// ServiceTargetGroupTuple is one target of a Service's weighted forward action.
type ServiceTargetGroupTuple struct {
	TargetGroupARN *string             `json:"targetGroupARN"`
	ServiceName    *string             `json:"serviceName"`
	ServicePort    *intstr.IntOrString `json:"servicePort"`
	Decrypt        *bool               `json:"decrypt,omitempty"`
	Weight         *int32              `json:"weight,omitempty"`
}

// ServiceForwardConfig is the forward part of a Service action.
type ServiceForwardConfig struct {
	BaseServiceWeight           *int32                    `json:"baseServiceWeight"`
	TargetGroups                []ServiceTargetGroupTuple `json:"targetGroups"`
	TargetGroupStickinessConfig *struct {
		Enabled *bool `json:"enabled,omitempty"`
	} `json:"targetGroupStickinessConfig,omitempty"`
}

// ServiceAction is the value of a Service's actions.<PROTOCOL>-<port>
// annotation: weighted forwarding to several target groups.
type ServiceAction struct {
	Type          string                `json:"type"`
	ForwardConfig *ServiceForwardConfig `json:"forwardConfig,omitempty"`
}

const serviceActionWant = `{"type":"forward","forwardConfig":{"baseServiceWeight":N,"targetGroups":[{"serviceName":…,"servicePort":…,"weight":N}]}}`

// ParseServiceAction parses and checks a Service actions annotation.
func ParseServiceAction(key, raw string) (ServiceAction, error) {
	fail := func(err error) (ServiceAction, error) {
		return ServiceAction{}, &Error{Key: key, Value: raw, Want: serviceActionWant, Err: err}
	}
	var a ServiceAction
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return fail(jsonErr(err))
	}
	if a.Type != "forward" {
		return fail(fmt.Errorf("unknown action type %q", a.Type))
	}
	if a.ForwardConfig == nil {
		return fail(errors.New("missing forwardConfig"))
	}
	if w := a.ForwardConfig.BaseServiceWeight; w != nil && (*w < 0 || *w > 999) {
		return fail(fmt.Errorf("baseServiceWeight %d is outside 0-999", *w))
	}
	for i, t := range a.ForwardConfig.TargetGroups {
		switch {
		case (t.TargetGroupARN != nil) == (t.ServiceName != nil):
			return fail(fmt.Errorf("targetGroups[%d]: precisely one of targetGroupARN and serviceName can be specified", i))
		case t.ServiceName != nil && t.ServicePort == nil:
			return fail(fmt.Errorf("targetGroups[%d]: missing servicePort", i))
		case t.Weight != nil && (*t.Weight < 0 || *t.Weight > 999):
			return fail(fmt.Errorf("targetGroups[%d]: weight %d is outside 0-999", i, *t.Weight))
		case len(a.ForwardConfig.TargetGroups) > 1 && t.Weight == nil:
			return fail(fmt.Errorf("targetGroups[%d]: weight must be set when routing to several target groups", i))
		}
	}
	return a, nil
}

// HasPrefixKey reports whether some annotation key starts with prefix.
func (s Set) HasPrefixKey(prefix string) bool {
	for k := range s {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
