// Package awsthrottle parses AWS API rate limits written as the AWS Load
// Balancer Controller's --aws-api-throttle flag ("ServiceID:operationRegex=
// rate:burst,…") and enforces them on the client side as an aws-sdk-go-v2
// middleware: a call waits for a token of every rule that matches its
// service and operation.
package awsthrottle

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// Format is the syntax Parse accepts, for error messages and flag help.
const Format = `"ServiceID:operationRegex=rate:burst", comma-separated (e.g. "Elastic Load Balancing v2:^Describe.*=10:40")`

// Rule limits the calls of one service whose operation name matches a
// regular expression to Rate per second with bursts of Burst.
type Rule struct {
	// Service is the SDK service ID ("Elastic Load Balancing v2", "EC2",
	// "ACM", "WAFV2", "WAF Regional", "Shield") or, for a server, its
	// name.
	Service string
	// Operation matches operation names (unanchored, as a Go regexp).
	Operation *regexp.Regexp
	// Rate is in calls per second, Burst in calls.
	Rate  float64
	Burst int
}

// String returns the rule as Parse reads it.
func (r Rule) String() string {
	return fmt.Sprintf("%s:%s=%s:%d", r.Service, r.Operation, strconv.FormatFloat(r.Rate, 'g', -1, 64), r.Burst)
}

// Parse reads comma-separated rules "ServiceID:operationRegex=rate:burst".
// Empty entries are skipped. The error names the entry and what is
// accepted.
func Parse(spec string) ([]Rule, error) {
	var out []Rule
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		r, err := parseRule(entry)
		if err != nil {
			return nil, fmt.Errorf("throttle rule %q: %w; want %s", entry, err, Format)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(entry string) (Rule, error) {
	eq := strings.LastIndex(entry, "=")
	if eq < 0 {
		return Rule{}, fmt.Errorf("no '=' before rate:burst")
	}
	head, limits := entry[:eq], entry[eq+1:]
	service, op, ok := strings.Cut(head, ":")
	service = strings.TrimSpace(service)
	if !ok || service == "" {
		return Rule{}, fmt.Errorf("no service ID before ':'")
	}
	if op == "" {
		return Rule{}, fmt.Errorf("empty operation regex")
	}
	re, err := regexp.Compile(op)
	if err != nil {
		return Rule{}, fmt.Errorf("operation regex: %w", err)
	}
	rs, bs, ok := strings.Cut(limits, ":")
	if !ok {
		return Rule{}, fmt.Errorf("limits %q are not rate:burst", limits)
	}
	rateV, err := strconv.ParseFloat(strings.TrimSpace(rs), 64)
	if err != nil || rateV < 0 || rateV != rateV || rateV > 1e9 {
		return Rule{}, fmt.Errorf("rate %q is not a number of calls per second from 0 to 1e9", rs)
	}
	burst, err := strconv.Atoi(strings.TrimSpace(bs))
	if err != nil || burst < 1 || burst > 1e9 {
		return Rule{}, fmt.Errorf("burst %q is not a whole number of calls from 1 to 1e9", bs)
	}
	return Rule{Service: service, Operation: re, Rate: rateV, Burst: burst}, nil
}

// Defaults are the AWS Load Balancer Controller's default client-side
// limits: WAF Regional and WAFV2 associations 0.5/s (burst 1) and their
// GetWebACLForResource 1/s; ELBv2 RegisterTargets and DeregisterTargets
// 4/s (20), Describe* 50/s (200), Modify* 3/s (20).
func Defaults() []Rule {
	rule := func(service, op string, r float64, b int) Rule {
		return Rule{Service: service, Operation: regexp.MustCompile(op), Rate: r, Burst: b}
	}
	return []Rule{
		rule("WAF Regional", "^AssociateWebACL|^DisassociateWebACL", 0.5, 1),
		rule("WAF Regional", "^GetWebACLForResource", 1, 1),
		rule("WAFV2", "^AssociateWebACL|^DisassociateWebACL", 0.5, 1),
		rule("WAFV2", "^GetWebACLForResource", 1, 1),
		rule("Elastic Load Balancing v2", "^RegisterTargets|^DeregisterTargets", 4, 20),
		rule("Elastic Load Balancing v2", "^Describe.*", 50, 200),
		rule("Elastic Load Balancing v2", "^Modify.*", 3, 20),
	}
}

// Merge returns base with the rules of every service that overrides names
// replaced by that service's rules in overrides (as the reference's flag
// does: entries for a service replace its defaults, other services keep
// theirs).
func Merge(base, overrides []Rule) []Rule {
	replaced := map[string]bool{}
	for _, r := range overrides {
		replaced[r.Service] = true
	}
	var out []Rule
	for _, r := range base {
		if !replaced[r.Service] {
			out = append(out, r)
		}
	}
	return append(out, overrides...)
}

// Limiter enforces rules on SDK calls. Each rule has one token bucket
// shared by every client the middleware is added to.
type Limiter struct {
	rules    []Rule
	limiters []*rate.Limiter
}

// NewLimiter returns a limiter for rules.
func NewLimiter(rules []Rule) *Limiter {
	l := &Limiter{rules: rules}
	for _, r := range rules {
		l.limiters = append(l.limiters, rate.NewLimiter(rate.Limit(r.Rate), r.Burst))
	}
	return l
}

// Wait blocks until every rule matching the service and operation has a
// token for the call, or fails when ctx ends first (or would end before
// the token comes).
func (l *Limiter) Wait(ctx context.Context, service, operation string) error {
	for i, r := range l.rules {
		if r.Service != service || !r.Operation.MatchString(operation) {
			continue
		}
		if err := l.limiters[i].Wait(ctx); err != nil {
			return fmt.Errorf("%s %s: client-side rate limit %s: %w", service, operation, r, err)
		}
	}
	return nil
}

// Middleware adds the limiter to an SDK client's stack (aws.Config
// APIOptions or a client's Options.APIOptions). It runs once per call,
// before the call's retries.
func (l *Limiter) Middleware(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("elbowAPIThrottle", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if err := l.Wait(ctx, awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)); err != nil {
			return middleware.InitializeOutput{}, middleware.Metadata{}, err
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.Before)
}
