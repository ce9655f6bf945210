package service_test

import (
	"testing"

	"github.com/elbowlb/elbow/internal/translate/plan/golden"
	"github.com/elbowlb/elbow/internal/translate/service"
)

// TestReferenceNames checks the names the reference controller's own model
// builder tests expect, independently of the golden files.
func TestReferenceNames(t *testing.T) {
	for _, tc := range []struct {
		file, lb, tg, tgID string
	}{
		{"testdata/ref-simple.in.yaml", "k8s-default-nlbipsvc-6b0ba8ff70", "k8s-default-nlbipsvc-d4818dcd51", "default/nlb-ip-svc-tls:80"},
		{"testdata/ref-tls-access-logs.in.yaml", "k8s-default-nlbipsvc-33e41aa671", "k8s-default-nlbipsvc-62f81639fc", "default/nlb-ip-svc-tls:80"},
	} {
		c, err := golden.Load(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		res := service.Build(service.Input{Services: c.Objects.Services, Facts: c.Facts, Options: c.Options})
		if len(res.Stacks) != 1 || res.Stacks[0].Stack == nil {
			t.Fatalf("%s: result %+v", tc.file, res)
		}
		st := res.Stacks[0].Stack
		if got := st.LoadBalancers["LoadBalancer"].Spec.Name; got != tc.lb {
			t.Errorf("%s: load balancer %q, the reference computes %q", tc.file, got, tc.lb)
		}
		if got := st.TargetGroups[tc.tgID].Spec.Name; got != tc.tg {
			t.Errorf("%s: target group %q, the reference computes %q", tc.file, got, tc.tg)
		}
	}
}
