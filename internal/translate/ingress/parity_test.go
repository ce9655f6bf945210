package ingress_test

import (
	"testing"

	"github.com/elbowlb/elbow/internal/translate/ingress"
	"github.com/elbowlb/elbow/internal/translate/plan/golden"
)

// TestReferenceNames checks the names the reference controller's own model
// builder test expects for its "vanilla internal" case, independently of the
// golden file (which -update could rewrite).
func TestReferenceNames(t *testing.T) {
	c, err := golden.Load("testdata/ref-vanilla-internal.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := ingress.BuildGroups(ingress.Input{Ingresses: c.Objects.Ingresses, IngressClasses: c.Objects.IngressClasses,
		Services: c.Objects.Services, Facts: c.Facts, Options: c.Options})
	if len(res.Groups) != 1 || res.Groups[0].Stack == nil {
		t.Fatalf("result %+v", res)
	}
	st := res.Groups[0].Stack
	want := map[string]string{
		"lb":                     "k8s-ns1-ing1-b7e914000d",
		"sg":                     "k8s-ns1-ing1-bd83176788",
		"ns-1/ing-1-svc-1:http":  "k8s-ns1-svc1-9889425938",
		"ns-1/ing-1-svc-2:http":  "k8s-ns1-svc2-9889425938",
		"ns-1/ing-1-svc-3:https": "k8s-ns1-svc3-bf42870fba",
	}
	got := map[string]string{"lb": st.LoadBalancers["LoadBalancer"].Spec.Name, "sg": st.SecurityGroups["ManagedLBSecurityGroup"].Spec.GroupName}
	for id, tg := range st.TargetGroups {
		got[id] = tg.Spec.Name
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: name %q, the reference computes %q", k, got[k], v)
		}
	}
	if n := len(st.ListenerRules); n != 3 {
		t.Errorf("%d rules, want 3", n)
	}
}
