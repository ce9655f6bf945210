package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	waftypes "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
	"github.com/aws/smithy-go"
)

// nameLookup resolves target group, trust store and WAFv2 web ACL names
// to ARNs through the APIs, remembering answers for a while.
type nameLookup struct {
	elbv2 *elbv2sdk.Client
	wafv2 *wafv2.Client // nil: --enable-wafv2=false

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	arn string
	at  time.Time
}

// lookupTTL is how long a resolved name is reused.
const lookupTTL = 5 * time.Minute

func (l *nameLookup) get(ctx context.Context, key string, fetch func(context.Context) (string, error)) (string, error) {
	l.mu.Lock()
	if c, ok := l.cache[key]; ok && time.Since(c.at) < lookupTTL {
		l.mu.Unlock()
		return c.arn, nil
	}
	l.mu.Unlock()
	arn, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	if l.cache == nil {
		l.cache = map[string]cached{}
	}
	l.cache[key] = cached{arn: arn, at: time.Now()}
	l.mu.Unlock()
	return arn, nil
}

func notFound(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// TargetGroupARN implements ingress.Lookup.
func (l *nameLookup) TargetGroupARN(ctx context.Context, name string) (string, error) {
	return l.get(ctx, "tg/"+name, func(ctx context.Context) (string, error) {
		out, err := l.elbv2.DescribeTargetGroups(ctx, &elbv2sdk.DescribeTargetGroupsInput{Names: []string{name}})
		if notFound(err, "TargetGroupNotFound") {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if len(out.TargetGroups) == 0 {
			return "", nil
		}
		return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
	})
}

// TrustStoreARN implements ingress.Lookup.
func (l *nameLookup) TrustStoreARN(ctx context.Context, name string) (string, error) {
	return l.get(ctx, "ts/"+name, func(ctx context.Context) (string, error) {
		out, err := l.elbv2.DescribeTrustStores(ctx, &elbv2sdk.DescribeTrustStoresInput{Names: []string{name}})
		if notFound(err, "TrustStoreNotFound") {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if len(out.TrustStores) == 0 {
			return "", nil
		}
		return aws.ToString(out.TrustStores[0].TrustStoreArn), nil
	})
}

// WebACLARN implements ingress.Lookup.
func (l *nameLookup) WebACLARN(ctx context.Context, name string) (string, error) {
	if l.wafv2 == nil {
		return "", fmt.Errorf("WAFv2 is disabled (--enable-wafv2=false)")
	}
	return l.get(ctx, "acl/"+name, func(ctx context.Context) (string, error) {
		in := &wafv2.ListWebACLsInput{Scope: waftypes.ScopeRegional, Limit: aws.Int32(100)}
		for {
			out, err := l.wafv2.ListWebACLs(ctx, in)
			if err != nil {
				return "", err
			}
			for _, acl := range out.WebACLs {
				if aws.ToString(acl.Name) == name {
					return aws.ToString(acl.ARN), nil
				}
			}
			if out.NextMarker == nil || *out.NextMarker == "" {
				return "", nil
			}
			in.NextMarker = out.NextMarker
		}
	})
}
