package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate/gateway"
	"github.com/elbowlb/elbow/internal/translate/plan/golden"
)

func build(t *testing.T, path string) gateway.Result {
	t.Helper()
	c, err := golden.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Objects
	return gateway.Build(gateway.Input{Objects: o.Objects, Services: o.Services, Secrets: o.Secrets,
		Namespaces: o.Namespaces, Facts: c.Facts, Options: c.Options})
}

func hash10(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// TestReferenceNames checks the names, tags and resource IDs the reference
// controller gives a Gateway's resources, independently of the golden
// files (which -update could rewrite), so that load balancers it created
// are adopted in place: target group names from its own test
// expectations (ALB HTTPRoute and NLB TCPRoute cases), the load balancer
// and security group names from its formulas, the tag prefix, finalizer
// and default protocols of each load balancer type.
func TestReferenceNames(t *testing.T) {
	const uid = "123e4567-e89b-12d3-a456-426614174000"
	for _, tc := range []struct {
		file, tg, kind, prefix string
		lbType                 stack.LoadBalancerType
		proto                  stack.Protocol
	}{
		{"testdata/ref-names-instance.in.yaml", "k8s-myrouten-myroute-224f4b6ea6", "HTTPRoute", "alb", stack.LoadBalancerTypeApplication, stack.ProtocolHTTP},
		{"testdata/ref-names-ip.in.yaml", "k8s-myrouten-myroute-a44a20bcbf", "HTTPRoute", "alb", stack.LoadBalancerTypeApplication, stack.ProtocolHTTP},
		{"testdata/ref-names-nlb-instance.in.yaml", "k8s-myrouten-myroute-8d8111f6ac", "TCPRoute", "nlb", stack.LoadBalancerTypeNetwork, stack.ProtocolTCP},
		{"testdata/ref-names-nlb-ip.in.yaml", "k8s-myrouten-myroute-3bce8b0f70", "TCPRoute", "nlb", stack.LoadBalancerTypeNetwork, stack.ProtocolTCP},
	} {
		res := build(t, tc.file)
		if len(res.Gateways) != 1 || res.Gateways[0].Stack == nil {
			t.Fatalf("%s: %+v", tc.file, res)
		}
		g := res.Gateways[0]
		st := g.Stack
		if st.TagPrefix != "gateway.k8s.aws."+tc.prefix || st.ID.String() != "my-gw-ns/my-gw" || g.Finalizer != "gateway.k8s.aws/"+tc.prefix {
			t.Errorf("%s: tag prefix %q, stack ID %q, finalizer %q", tc.file, st.TagPrefix, st.ID, g.Finalizer)
		}
		tgID := "my-gw-ns/my-gw:my-route-ns-my-route:" + tc.kind + "-my-svc-ns-my-svc:80"
		tg, ok := st.TargetGroups[tgID]
		if !ok {
			t.Fatalf("%s: no target group %s in %v", tc.file, tgID, st.TargetGroups)
		}
		if tg.Spec.Name != tc.tg || tg.Spec.Protocol != tc.proto {
			t.Errorf("%s: target group %q %s, the reference computes %q %s", tc.file, tg.Spec.Name, tg.Spec.Protocol, tc.tg, tc.proto)
		}
		if _, ok := st.TargetGroupBindings[tgID]; !ok {
			t.Errorf("%s: no binding for %s", tc.file, tgID)
		}
		lb := st.LoadBalancers[stack.IDLoadBalancer]
		if want := "k8s-mygwns-mygw-" + hash10("my-cluster", uid, "internal"); lb.Spec.Name != want || lb.Spec.Type != tc.lbType {
			t.Errorf("%s: load balancer %q %s, want %q %s", tc.file, lb.Spec.Name, lb.Spec.Type, want, tc.lbType)
		}
		sg := st.SecurityGroups[stack.IDManagedSecurityGroup]
		if want := "k8s-mygwns-mygw-" + hash10("my-cluster", "my-gw", "my-gw-ns", uid); sg.Spec.GroupName != want {
			t.Errorf("%s: security group name %q, want %q", tc.file, sg.Spec.GroupName, want)
		}
		tags := st.ResourceTags("my-cluster", tg, tg.Spec.Tags)
		if tags["gateway.k8s.aws."+tc.prefix+"/stack"] != "my-gw-ns/my-gw" || tags["gateway.k8s.aws."+tc.prefix+"/resource"] != tgID || tags["elbv2.k8s.aws/cluster"] != "my-cluster" {
			t.Errorf("%s: target group tags %v", tc.file, tags)
		}
		l, ok := st.Listeners["80"]
		switch {
		case !ok:
			t.Errorf("%s: no listener 80", tc.file)
		case tc.lbType == stack.LoadBalancerTypeNetwork:
			if hc := tg.Spec.HealthCheckConfig; l.Spec.Protocol != stack.ProtocolTCP || hc.Protocol != stack.ProtocolTCP || *hc.IntervalSeconds != 15 || *hc.TimeoutSeconds != 5 || hc.Path != nil {
				t.Errorf("%s: listener %s, health check %+v; the reference's NLB default is TCP every 15s, timeout 5s", tc.file, l.Spec.Protocol, hc)
			}
		default:
			if _, ok := st.ListenerRules["80:1"]; !ok {
				t.Errorf("%s: no rule 80:1", tc.file)
			}
		}
	}
}
