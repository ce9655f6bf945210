package gateway

import (
	"testing"
	"time"
)

// TestPollProvisioning: a load balancer provisioning is looked at again
// after a quarter of the time it has been provisioning, between 1 s and
// 15 s; once it is not, the Gateway is forgotten.
func TestPollProvisioning(t *testing.T) {
	r := &GatewayReconciler{}
	if got := r.pollProvisioning("ns/gw", true); got != provisioningPollMin {
		t.Errorf("first poll after %s, want %s", got, provisioningPollMin)
	}
	for _, tc := range []struct {
		since    time.Duration
		min, max time.Duration
	}{
		{2 * time.Second, provisioningPollMin, provisioningPollMin},
		{40 * time.Second, 10 * time.Second, 11 * time.Second},
		{10 * time.Minute, provisioningPollMax, provisioningPollMax},
	} {
		r.provisioning.Store("ns/gw", time.Now().Add(-tc.since))
		if got := r.pollProvisioning("ns/gw", true); got < tc.min || got > tc.max {
			t.Errorf("provisioning for %s: poll after %s, want %s to %s", tc.since, got, tc.min, tc.max)
		}
	}
	if got := r.pollProvisioning("ns/gw", false); got != 0 {
		t.Errorf("active: poll after %s, want none", got)
	}
	if _, ok := r.provisioning.Load("ns/gw"); ok {
		t.Error("an active load balancer's Gateway is still remembered")
	}
}
