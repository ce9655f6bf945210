package ingress

import (
	"context"
	"fmt"
	"sort"
	"strings"

	networking "k8s.io/api/networking/v1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/translate"
)

// Lookup resolves the names translation cannot answer from the facts.
// Each method returns "" (and no error) for a name that does not exist,
// so that translation reports it on the Ingress that names it.
type Lookup interface {
	TargetGroupARN(ctx context.Context, name string) (string, error)
	TrustStoreARN(ctx context.Context, name string) (string, error)
	WebACLARN(ctx context.Context, name string) (string, error)
}

// referencedNames lists the target group, trust store and web ACL names
// the Ingresses (and the classes' parameters) refer to by name.
func referencedNames(ings []networking.Ingress, params []elbv2api.IngressClassParams) (tgs, trustStores, webACLs []string) {
	tgSet, tsSet, aclSet := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, ing := range ings {
		for k, v := range ing.Annotations {
			switch {
			case strings.HasPrefix(k, annotations.IngressActions("")):
				a, err := annotations.ParseAction(k, v)
				if err != nil {
					continue
				}
				if a.TargetGroupName != nil {
					tgSet[*a.TargetGroupName] = true
				}
				if a.ForwardConfig != nil {
					for _, t := range a.ForwardConfig.TargetGroups {
						if t.TargetGroupName != nil && t.TargetGroupARN == nil {
							tgSet[*t.TargetGroupName] = true
						}
					}
				}
			case k == annotations.IngressMutualAuthentication:
				ma, err := annotations.ParseMutualAuthentication(v)
				if err != nil {
					continue
				}
				for _, e := range ma {
					if e.TrustStore != nil && *e.TrustStore != "" && !strings.HasPrefix(*e.TrustStore, "arn:") {
						tsSet[*e.TrustStore] = true
					}
				}
			case k == annotations.IngressWAFv2ACLName:
				if v != "" && v != "none" {
					aclSet[v] = true
				}
			}
		}
	}
	for _, p := range params {
		if n := p.Spec.WAFv2ACLName; n != "" && n != "none" {
			aclSet[n] = true
		}
	}
	return keys(tgSet), keys(tsSet), keys(aclSet)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resolveReferences fills the references of the input's names.
func resolveReferences(ctx context.Context, l Lookup, ings []networking.Ingress, params []elbv2api.IngressClassParams) (translate.References, error) {
	var refs translate.References
	tgs, tss, acls := referencedNames(ings, params)
	fill := func(kind string, names []string, get func(context.Context, string) (string, error)) (map[string]string, error) {
		if len(names) == 0 {
			return nil, nil
		}
		out := map[string]string{}
		for _, n := range names {
			arn, err := get(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", kind, n, err)
			}
			if arn != "" {
				out[n] = arn
			}
		}
		return out, nil
	}
	var err error
	if refs.TargetGroups, err = fill("target group", tgs, l.TargetGroupARN); err != nil {
		return refs, err
	}
	if refs.TrustStores, err = fill("trust store", tss, l.TrustStoreARN); err != nil {
		return refs, err
	}
	if refs.WebACLs, err = fill("WAFv2 web ACL", acls, l.WebACLARN); err != nil {
		return refs, err
	}
	return refs, nil
}
