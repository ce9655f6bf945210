package deploy_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate/manifests"
)

// shop is an IngressGroup of Ingresses; each path is "host path service".
type shop struct {
	annotations map[string]string // on the first Ingress
	ingresses   []shopIngress
}

type shopIngress struct {
	name  string
	order int
	paths []string
}

const shopCert = "arn:aws:acm:ap-northeast-2:123456789012:certificate/web"
const shopCert2 = "arn:aws:acm:ap-northeast-2:123456789:certificate/xxx"

func baseShop() shop {
	return shop{
		annotations: map[string]string{
			"alb.ingress.kubernetes.io/certificate-arn": shopCert,
		},
		ingresses: []shopIngress{
			{name: "front", order: 10, paths: []string{"www.example.com /cart cart", "www.example.com / front"}},
			{name: "api", order: 20, paths: []string{"api.example.com /v1 v1", "api.example.com /v2 v2"}},
		},
	}
}

func (s shop) yaml() string {
	var b strings.Builder
	svcs := map[string]bool{}
	for i, ing := range s.ingresses {
		fmt.Fprintf(&b, "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\n  namespace: shop\n  annotations:\n", ing.name)
		fmt.Fprintf(&b, "    alb.ingress.kubernetes.io/group.name: shop\n    alb.ingress.kubernetes.io/group.order: %q\n", fmt.Sprint(ing.order))
		fmt.Fprintf(&b, "    alb.ingress.kubernetes.io/target-type: ip\n    alb.ingress.kubernetes.io/scheme: internet-facing\n")
		fmt.Fprintf(&b, "    alb.ingress.kubernetes.io/listen-ports: '[{\"HTTP\": 80}, {\"HTTPS\": 443}]'\n")
		// Every member names the certificates: a member without would
		// have its hosts' certificates discovered, adding to the listener's.
		fmt.Fprintf(&b, "    alb.ingress.kubernetes.io/certificate-arn: '%s'\n", s.annotations["alb.ingress.kubernetes.io/certificate-arn"])
		if i == 0 {
			for _, k := range sortedKeys(s.annotations) {
				if k == "alb.ingress.kubernetes.io/certificate-arn" {
					continue
				}
				fmt.Fprintf(&b, "    %s: '%s'\n", k, s.annotations[k])
			}
		}
		fmt.Fprintf(&b, "spec:\n  ingressClassName: alb\n  rules:\n")
		for _, p := range ing.paths {
			f := strings.Fields(p)
			svcs[f[2]] = true
			fmt.Fprintf(&b, "  - host: %s\n    http:\n      paths:\n      - path: %s\n        pathType: Prefix\n        backend:\n          service:\n            name: %s\n            port:\n              number: 80\n", f[0], f[1], f[2])
		}
	}
	for _, name := range sortedKeys(svcs) {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: shop\nspec:\n  selector:\n    app: %s\n  ports:\n  - port: 80\n    targetPort: 8080\n", name, name)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func (e *env) shopStack(t *testing.T, s shop) *stack.Stack {
	t.Helper()
	objs := &manifests.Objects{}
	if err := objs.Add("shop.yaml", []byte(s.yaml())); err != nil {
		t.Fatal(err)
	}
	stacks := e.stacksOf(t, objs)
	if len(stacks) != 1 {
		t.Fatalf("%d stacks, want 1", len(stacks))
	}
	return stacks[0]
}

// TestSingleChanges deploys the shop group, makes one change, and checks
// the exact write calls the deploy makes for it.
func TestSingleChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(*shop)
		want   []string
	}{
		{"nothing", func(*shop) {}, nil},
		{"health check path", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/healthcheck-path"] = "/healthz"
		}, []string{"ModifyTargetGroup", "ModifyTargetGroup"}}, // the first Ingress's two target groups
		{"target group attribute", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/target-group-attributes"] = "deregistration_delay.timeout_seconds=30"
		}, []string{"ModifyTargetGroupAttributes", "ModifyTargetGroupAttributes"}},
		{"load balancer attribute", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/load-balancer-attributes"] = "idle_timeout.timeout_seconds=120"
		}, []string{"ModifyLoadBalancerAttributes"}},
		{"second certificate", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/certificate-arn"] = shopCert + "," + shopCert2
		}, []string{"AddListenerCertificates"}},
		{"new default certificate", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/certificate-arn"] = shopCert2
		}, []string{"AddListenerCertificates", "ModifyListener", "RemoveListenerCertificates"}}, // the list follows the default, as the reference's
		{"new last path on an existing service", func(s *shop) {
			s.ingresses[1].paths = append(s.ingresses[1].paths, "api.example.com /v3 v2")
		}, []string{"CreateRule", "CreateRule"}}, // on the HTTP and the HTTPS listener
		{"path removed", func(s *shop) {
			s.ingresses[1].paths = s.ingresses[1].paths[:1]
		}, []string{"DeleteRule", "DeleteRule", "DeleteTargetGroup"}},
		{"two paths swapped", func(s *shop) {
			p := s.ingresses[1].paths
			p[0], p[1] = p[1], p[0]
		}, []string{"SetRulePriorities", "SetRulePriorities"}}, // one call per listener
		{"a path's backend changed", func(s *shop) {
			s.ingresses[0].paths[0] = "www.example.com /cart front"
		}, []string{"DeleteTargetGroup", "ModifyRule", "ModifyRule"}}, // the cart target group goes
		{"new Ingress ahead of the others", func(s *shop) {
			s.ingresses = append([]shopIngress{{name: "promo", order: 1, paths: []string{"promo.example.com / front"}}}, s.ingresses...)
		}, []string{"CreateRule", "CreateRule", "CreateTargetGroup", "SetRulePriorities", "SetRulePriorities"}}, // promo's own target group
		{"tags", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/tags"] = "team=shop"
		}, []string{"AddTags", "AddTags", "AddTags", "CreateTags"}}, // load balancer, the first Ingress's target groups, security group
		{"scheme (replaces the load balancer)", func(s *shop) {
			s.annotations["alb.ingress.kubernetes.io/scheme"] = "internal"
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			d := e.deployer(t)
			base := baseShop()
			deployAll(t, d, []*stack.Stack{e.shopStack(t, base)})
			e.calls.take()
			changed := baseShop()
			tt.change(&changed)
			st := e.shopStack(t, changed)
			deployAll(t, d, []*stack.Stack{st})
			_, writes := e.calls.take()
			if tt.name == "scheme (replaces the load balancer)" {
				// Every listener and rule is created again on the new load
				// balancer; the old one goes first.
				if len(writes) == 0 || writes[0] == "" || !slices.Contains(writes, "DeleteLoadBalancer") || !slices.Contains(writes, "CreateLoadBalancer") {
					t.Fatalf("writes %v: want the load balancer deleted and created", writes)
				}
			} else if !slices.Equal(writes, tt.want) {
				t.Fatalf("writes %v, want %v", writes, tt.want)
			}
			checkDeployed(t, e, st)
			// And it has converged: nothing more to write.
			deployAll(t, d, []*stack.Stack{e.shopStack(t, changed)})
			if _, writes := e.calls.take(); len(writes) != 0 {
				t.Fatalf("after the change, a second deploy wrote %v", writes)
			}
		})
	}
}

// TestReorderKeepsRules checks that reordering moves the rules (same ARNs)
// rather than deleting and creating them.
func TestReorderKeepsRules(t *testing.T) {
	e := newEnv(t)
	d := e.deployer(t)
	s := baseShop()
	st := e.shopStack(t, s)
	deployAll(t, d, []*stack.Stack{st})
	e.calls.take()
	before := ruleARNs(t, e, st)
	s.ingresses[0].order, s.ingresses[1].order = 30, 20 // api first now
	st2 := e.shopStack(t, s)
	deployAll(t, d, []*stack.Stack{st2})
	_, writes := e.calls.take()
	if !slices.Equal(writes, []string{"SetRulePriorities", "SetRulePriorities"}) {
		t.Errorf("writes %v, want one SetRulePriorities per listener", writes)
	}
	after := ruleARNs(t, e, st2)
	if !slices.Equal(sortedKeys(before), sortedKeys(after)) {
		t.Errorf("rule ARNs changed: before %v, after %v", before, after)
	}
	for arn, prio := range after {
		if before[arn] == prio {
			t.Errorf("rule %s kept priority %s; every rule should have moved", arn, prio)
		}
	}
}

// ruleARNs maps every non-default rule of the stack's listeners to its
// priority, as the API reports it.
func ruleARNs(t *testing.T, e *env, st *stack.Stack) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range st.Listeners {
		rules, err := e.elb.ELBv2.DescribeRules(context.Background(), &elbv2.DescribeRulesInput{ListenerArn: aws.String(l.Status.ListenerARN)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules.Rules {
			if !aws.ToBool(r.IsDefault) {
				out[aws.ToString(r.RuleArn)] = aws.ToString(r.Priority)
			}
		}
	}
	return out
}
