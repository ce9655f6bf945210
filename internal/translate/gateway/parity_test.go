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
// controller gives an ALB Gateway's resources, independently of the
// golden files (which -update could rewrite), so that load balancers it
// created are adopted in place: target group names from its own test
// expectations, the load balancer and security group names from its
// formulas.
func TestReferenceNames(t *testing.T) {
	const uid = "123e4567-e89b-12d3-a456-426614174000"
	for _, tc := range []struct{ file, tg string }{
		{"testdata/ref-names-instance.in.yaml", "k8s-myrouten-myroute-224f4b6ea6"},
		{"testdata/ref-names-ip.in.yaml", "k8s-myrouten-myroute-a44a20bcbf"},
	} {
		res := build(t, tc.file)
		if len(res.Gateways) != 1 || res.Gateways[0].Stack == nil {
			t.Fatalf("%s: %+v", tc.file, res)
		}
		g := res.Gateways[0]
		st := g.Stack
		if st.TagPrefix != "gateway.k8s.aws.alb" || st.ID.String() != "my-gw-ns/my-gw" || g.Finalizer != "gateway.k8s.aws/alb" {
			t.Errorf("%s: tag prefix %q, stack ID %q, finalizer %q", tc.file, st.TagPrefix, st.ID, g.Finalizer)
		}
		const tgID = "my-gw-ns/my-gw:my-route-ns-my-route:HTTPRoute-my-svc-ns-my-svc:80"
		tg, ok := st.TargetGroups[tgID]
		if !ok {
			t.Fatalf("%s: no target group %s in %v", tc.file, tgID, st.TargetGroups)
		}
		if tg.Spec.Name != tc.tg {
			t.Errorf("%s: target group name %q, the reference computes %q", tc.file, tg.Spec.Name, tc.tg)
		}
		if _, ok := st.TargetGroupBindings[tgID]; !ok {
			t.Errorf("%s: no binding for %s", tc.file, tgID)
		}
		lb := st.LoadBalancers[stack.IDLoadBalancer]
		if want := "k8s-mygwns-mygw-" + hash10("my-cluster", uid, "internal"); lb.Spec.Name != want {
			t.Errorf("%s: load balancer name %q, want %q", tc.file, lb.Spec.Name, want)
		}
		sg := st.SecurityGroups[stack.IDManagedSecurityGroup]
		if want := "k8s-mygwns-mygw-" + hash10("my-cluster", "my-gw", "my-gw-ns", uid); sg.Spec.GroupName != want {
			t.Errorf("%s: security group name %q, want %q", tc.file, sg.Spec.GroupName, want)
		}
		tags := st.ResourceTags("my-cluster", tg, tg.Spec.Tags)
		if tags["gateway.k8s.aws.alb/stack"] != "my-gw-ns/my-gw" || tags["gateway.k8s.aws.alb/resource"] != tgID || tags["elbv2.k8s.aws/cluster"] != "my-cluster" {
			t.Errorf("%s: target group tags %v", tc.file, tags)
		}
		if _, ok := st.Listeners["80"]; !ok {
			t.Errorf("%s: no listener 80", tc.file)
		}
		if _, ok := st.ListenerRules["80:1"]; !ok {
			t.Errorf("%s: no rule 80:1", tc.file)
		}
	}
}
