package nlb

import (
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

func TestTargetGroupSettingsDefaults(t *testing.T) {
	for _, tc := range []struct {
		protocol, targetType string
		attrs                map[string]string
		preserve             bool
		errs                 int
	}{
		{"TCP", "ip", nil, false, 0},
		{"TLS", "ip", nil, false, 0},
		{"TCP", "instance", nil, true, 0},
		{"TLS", "instance", nil, true, 0},
		{"UDP", "ip", nil, true, 0},
		{"TCP_UDP", "ip", nil, true, 0},
		{"TCP", "ip", map[string]string{attrPreserveClientIP: "true"}, true, 0},
		{"TCP", "instance", map[string]string{attrPreserveClientIP: "false"}, false, 0},
		// UDP cannot turn preservation off.
		{"UDP", "ip", map[string]string{attrPreserveClientIP: "false"}, true, 0},
		{"TCP", "ip", map[string]string{attrPreserveClientIP: "yes"}, false, 1},
	} {
		s, errs := targetGroupSettings(&state.TargetGroup{Protocol: tc.protocol, TargetType: tc.targetType, Attributes: tc.attrs})
		if s.preserveClientIP != tc.preserve || len(errs) != tc.errs {
			t.Errorf("%s %s %v: preserve %t, %d errors %v; want %t, %d", tc.protocol, tc.targetType, tc.attrs, s.preserveClientIP, len(errs), errs, tc.preserve, tc.errs)
		}
	}
	s, _ := targetGroupSettings(&state.TargetGroup{Protocol: "TCP", TargetType: "ip"})
	want := tgSettings{protocol: "TCP", crossZone: useLBConfiguration, unhealthyTerminate: true}
	if s != want {
		t.Errorf("defaults %+v, want %+v", s, want)
	}
}

func TestCrossZoneResolution(t *testing.T) {
	for _, tc := range []struct {
		tg   string
		lb   bool
		want bool
	}{
		{useLBConfiguration, false, false},
		{useLBConfiguration, true, true},
		{"true", false, true},
		{"false", true, false},
	} {
		if got := effectiveCrossZone(tgSettings{crossZone: tc.tg}, tc.lb); got != tc.want {
			t.Errorf("target group %s, load balancer %t: %t, want %t", tc.tg, tc.lb, got, tc.want)
		}
	}
}

func TestListenerIdleTimeout(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
		err  bool
	}{
		{"", 350 * time.Second, false},
		{"60", 60 * time.Second, false},
		{"6000", 6000 * time.Second, false},
		{"0", 350 * time.Second, true},
		{"-5", 350 * time.Second, true},
		{"ten", 350 * time.Second, true},
	} {
		attrs := map[string]string{}
		if tc.v != "" {
			attrs[attrTCPIdleTimeout] = tc.v
		}
		got, err := listenerIdleTimeout(&state.Listener{Attributes: attrs})
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%q: %v, %v; want %v, error %t", tc.v, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), attrTCPIdleTimeout) {
			t.Errorf("%q: error %q does not name the attribute", tc.v, err)
		}
	}
}

// FuzzTargetGroupSettings feeds attribute values from outside (the API
// stores what clients send) to the parser: it must not panic, must name
// the attribute in every error, and must keep AWS's invariants.
func FuzzTargetGroupSettings(f *testing.F) {
	f.Add("TCP", "ip", "true", "false", "use_load_balancer_configuration", "300", "true")
	f.Add("UDP", "instance", "false", "true", "true", "0", "false")
	f.Add("TCP_UDP", "ip", "TRUE", "x", "sometimes", "-1", "1")
	f.Add("tls", "alb", "", "", "", "99999999999", "")
	f.Fuzz(func(t *testing.T, protocol, targetType, preserve, proxy, cross, draining, terminate string) {
		tg := &state.TargetGroup{Protocol: protocol, TargetType: targetType, Attributes: map[string]string{
			attrPreserveClientIP:   preserve,
			attrProxyProtocolV2:    proxy,
			attrCrossZone:          cross,
			attrUnhealthyDraining:  draining,
			attrUnhealthyTerminate: terminate,
		}}
		s, errs := targetGroupSettings(tg)
		for _, err := range errs {
			if !strings.Contains(err.Error(), "attribute ") {
				t.Errorf("error %q does not name an attribute", err)
			}
		}
		if (s.protocol == "UDP" || s.protocol == "TCP_UDP") && !s.preserveClientIP {
			t.Errorf("%s target group without client IP preservation", s.protocol)
		}
		switch s.crossZone {
		case "true", "false", useLBConfiguration:
		default:
			t.Errorf("cross-zone setting %q", s.crossZone)
		}
		if s.unhealthyDraining < 0 {
			t.Errorf("negative draining interval %v", s.unhealthyDraining)
		}
		if _, err := listenerIdleTimeout(&state.Listener{Attributes: map[string]string{attrTCPIdleTimeout: draining}}); err != nil && !strings.Contains(err.Error(), attrTCPIdleTimeout) {
			t.Errorf("idle timeout error %q does not name the attribute", err)
		}
	})
}

func TestIdleWindow(t *testing.T) {
	t0 := time.Now()
	f := &tcpFlow{idle: time.Second}
	f.dirs[0] = dirState{quietSince: t0, lastReturn: t0}
	f.dirs[1] = f.dirs[0]
	// Direction 1 moved bytes recently: not idle.
	f.dirs[1].quietSince = time.Now()
	f.dirs[1].lastReturn = time.Now()
	f.dirs[0].quietSince = t0.Add(-2 * time.Second)
	if f.note(0, false) {
		t.Error("idle although the other direction was active")
	}
	// Direction 1 has not reported for long (stuck writing): not idle.
	f.dirs[1] = dirState{quietSince: t0.Add(-5 * time.Second), lastReturn: t0.Add(-5 * time.Second)}
	if f.note(0, false) {
		t.Error("idle although the other direction has not been seen quiet for the timeout")
	}
	// Both quiet over a common window longer than the timeout: idle.
	f.dirs[1] = dirState{quietSince: t0.Add(-5 * time.Second), lastReturn: time.Now()}
	if !f.note(0, false) {
		t.Error("not idle although both directions were quiet for the timeout")
	}
	// The other direction ended: this one alone decides.
	f.dirs[1] = dirState{done: true}
	f.dirs[0].quietSince = time.Now().Add(-2 * time.Second)
	if !f.note(0, false) {
		t.Error("not idle although the only open direction was quiet for the timeout")
	}
	if f.note(0, true) {
		t.Error("idle right after moving bytes")
	}
}
