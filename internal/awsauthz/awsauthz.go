// Package awsauthz decides the AWS API calls the local ELB serves against
// an IAM policy, as IAM would for the caller: each call becomes the IAM
// requests AWS authorizes for it (the action on each resource it touches,
// with the condition keys of the request: the tags it sets, the tags the
// resource carries, the operation that tags a new resource) and every one
// must be allowed by internal/iampolicy.
//
// What it models, per service (AWS's Service Authorization Reference):
//
//   - ELBv2: Create* on the new resource's ARN (its ID a *), with
//     aws:RequestTag/… and aws:TagKeys; when a create call carries tags,
//     also elasticloadbalancing:AddTags on the new resource with
//     elasticloadbalancing:CreateAction. Calls on existing load
//     balancers, target groups, listeners, rules and trust stores on their
//     ARNs, with aws:ResourceTag/… (and elasticloadbalancing:ResourceTag/…).
//     AddTags and RemoveTags on each ARN. Describe* on "*".
//   - EC2: CreateSecurityGroup on security-group/* (with the tags of its
//     TagSpecifications) and on the VPC; tags on create also authorize
//     ec2:CreateTags with ec2:CreateAction. Calls on a security group on
//     its ARN with its tags; CreateTags and DeleteTags on each resource.
//     Describe* on "*".
//   - ACM: a new import on certificate/* with the tags it sets (and
//     AddTagsToCertificate when it sets some); calls naming a certificate
//     on its ARN with its tags; tag changes with their tags too.
//   - sts:GetCallerIdentity needs no permission, as on AWS.
//   - Anything else on "*".
package awsauthz

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/elbowlb/elbow/internal/iampolicy"
)

// Tags returns the tags of a resource the local cloud holds: an ELBv2 or
// ACM ARN, or an EC2 resource ID. A resource without tags, or unknown,
// has none.
type Tags func(ctx context.Context, resource string) (map[string]string, error)

// Config configures an Authorizer.
type Config struct {
	// Policy is the caller's identity-based policy.
	Policy *iampolicy.Policy
	// Region and AccountID make the ARNs of resources.
	Region, AccountID string
	// Principal is the caller's ARN in denial messages (default
	// arn:aws:iam::ACCOUNT:user/elbow).
	Principal string
	// Tags reads resource tags for aws:ResourceTag/….
	Tags Tags
}

// Authorizer decides requests.
type Authorizer struct {
	cfg Config
}

// New checks that every condition key of the policy is one the requests
// carry (or, for keys of other services, one IAM would evaluate on
// requests this endpoint never receives) and returns the authorizer.
func New(cfg Config) (*Authorizer, error) {
	if cfg.Policy == nil {
		return nil, errors.New("awsauthz: no policy")
	}
	if cfg.Region == "" || cfg.AccountID == "" || cfg.Tags == nil {
		return nil, errors.New("awsauthz: Region, AccountID and Tags are required")
	}
	if cfg.Principal == "" {
		cfg.Principal = "arn:aws:iam::" + cfg.AccountID + ":user/elbow"
	}
	var bad []string
	for _, k := range cfg.Policy.Keys() {
		if !SupportedKey(k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("the policy uses condition keys the local ELB does not evaluate: %s (supported: %s)", strings.Join(bad, ", "), strings.Join(supportedKeys, ", "))
	}
	return &Authorizer{cfg: cfg}, nil
}

// Condition keys the requests carry.
const (
	keyRequestTag        = "aws:RequestTag/"
	keyResourceTag       = "aws:ResourceTag/"
	keyTagKeys           = "aws:TagKeys"
	keyELBResourceTag    = "elasticloadbalancing:ResourceTag/"
	keyELBCreateAction   = "elasticloadbalancing:CreateAction"
	keyEC2ResourceTag    = "ec2:ResourceTag/"
	keyEC2CreateAction   = "ec2:CreateAction"
	keyIAMAWSServiceName = "iam:AWSServiceName"
)

var supportedKeys = []string{
	keyRequestTag + "KEY", keyResourceTag + "KEY", keyTagKeys,
	keyELBResourceTag + "KEY", keyELBCreateAction,
	keyEC2ResourceTag + "KEY", keyEC2CreateAction,
	keyIAMAWSServiceName + " (IAM's; the local ELB serves no IAM call)",
}

// SupportedKey reports whether the authorizer evaluates a condition key
// (names are case-insensitive, as in IAM).
func SupportedKey(key string) bool {
	k := strings.ToLower(key)
	for _, p := range []string{keyRequestTag, keyResourceTag, keyELBResourceTag, keyEC2ResourceTag} {
		if strings.HasPrefix(k, strings.ToLower(p)) && len(k) > len(p) {
			return true
		}
	}
	switch k {
	case strings.ToLower(keyTagKeys), strings.ToLower(keyELBCreateAction), strings.ToLower(keyEC2CreateAction), strings.ToLower(keyIAMAWSServiceName):
		return true
	}
	return false
}

// DeniedMessage is the log message of a refused call (for whoever checks
// logs for denials, as the end-to-end tests do).
const DeniedMessage = "the IAM policy denied a request"

// Denial is a refused request, with AWS's wording.
type Denial struct {
	// Principal, Action and Resource are the refused IAM request.
	Principal, Action, Resource string
	// Explicit is true when a Deny statement refused it.
	Explicit bool
	// Statement names the Deny statement (explicit denials only).
	Statement string
}

// Message is IAM's denial text, e.g. "User: arn:… is not authorized to
// perform: ec2:CreateSecurityGroup on resource: arn:… because no
// identity-based policy allows the ec2:CreateSecurityGroup action".
func (d *Denial) Message() string {
	why := "because no identity-based policy allows the " + d.Action + " action"
	if d.Explicit {
		why = "with an explicit deny in an identity-based policy"
	}
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", d.Principal, d.Action, d.Resource, why)
}

// Authorize decides one call: service is the SigV4 signing name
// (elasticloadbalancing, ec2, acm, wafv2, shield, tagging, sts), action
// the operation and in its decoded SDK input. It returns the first
// refused IAM request, nil when all are allowed.
func (a *Authorizer) Authorize(ctx context.Context, service, action string, in any) (*Denial, error) {
	reqs, err := a.Requests(ctx, service, action, in)
	if err != nil {
		return nil, err
	}
	for _, r := range reqs {
		res := a.cfg.Policy.Evaluate(r)
		if res.Decision == iampolicy.Allowed {
			continue
		}
		d := &Denial{Principal: a.cfg.Principal, Action: r.Action, Resource: r.Resource}
		if res.Decision == iampolicy.ExplicitDeny {
			d.Explicit, d.Statement = true, res.Statement.Name()
		}
		return d, nil
	}
	return nil, nil
}

// iamPrefix maps signing names to IAM service prefixes where they differ.
var iamPrefix = map[string]string{"tagging": "tag"}

// Requests returns the IAM requests AWS authorizes for a call.
func (a *Authorizer) Requests(ctx context.Context, service, action string, in any) ([]iampolicy.Request, error) {
	prefix := service
	if p, ok := iamPrefix[service]; ok {
		prefix = p
	}
	iamAction := prefix + ":" + action
	if prefix == "sts" && action == "GetCallerIdentity" {
		return nil, nil
	}
	if isRead(action) {
		return []iampolicy.Request{{Action: iamAction, Resource: "*"}}, nil
	}
	switch prefix {
	case "elasticloadbalancing":
		return a.elbv2(ctx, action, in)
	case "ec2":
		return a.ec2(ctx, action, in)
	case "acm":
		return a.acm(ctx, action, in)
	}
	return []iampolicy.Request{{Action: iamAction, Resource: "*"}}, nil
}

// isRead reports whether an operation only reads: AWS grants those on
// "*" (no resource-level permissions for ELBv2's and EC2's Describe*).
func isRead(action string) bool {
	for _, p := range []string{"Describe", "List", "Get"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// onExisting makes one request per existing resource, with its tags under
// aws:ResourceTag/… and the service's own ResourceTag key, plus extra.
func (a *Authorizer) onExisting(ctx context.Context, action string, resources []string, extra map[string][]string, serviceTagKey string, arnOf ...func(string) string) ([]iampolicy.Request, error) {
	var out []iampolicy.Request
	for _, r := range resources {
		tags, err := a.cfg.Tags(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", r, err)
		}
		c := map[string][]string{}
		for k, v := range extra {
			c[k] = v
		}
		for k, v := range tags {
			c[keyResourceTag+k] = []string{v}
			if serviceTagKey != keyResourceTag {
				c[serviceTagKey+k] = []string{v}
			}
		}
		arn := r
		if len(arnOf) > 0 {
			arn = arnOf[0](r)
		}
		out = append(out, iampolicy.Request{Action: action, Resource: arn, Context: c})
	}
	return out, nil
}

// requestTags is the context of tags a call sets: aws:RequestTag/KEY and
// aws:TagKeys.
func requestTags(tags map[string]string) map[string][]string {
	if len(tags) == 0 {
		return map[string][]string{}
	}
	c := map[string][]string{}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		c[keyRequestTag+k] = []string{v}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c[keyTagKeys] = keys
	return c
}

// str reads a string or *string field; "" when absent.
func str(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		return v.String()
	}
	return ""
}

// stringFields returns the values of the named top-level fields of an SDK
// input, in order: strings, *strings and string slices.
func stringFields(in any, names ...string) []string {
	v := reflect.ValueOf(in)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for _, n := range names {
		f := v.FieldByName(n)
		if !f.IsValid() {
			continue
		}
		if s := str(f); s != "" {
			out = append(out, s)
			continue
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String {
			for i := range f.Len() {
				if s := f.Index(i).String(); s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
