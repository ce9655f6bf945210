package settings

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The attribute keys the tests set, as ELBv2 names them.
const (
	attrCrossZone          = "load_balancing.cross_zone.enabled"
	attrPreserveClientIP   = "preserve_client_ip.enabled"
	attrProxyProtocolV2    = "proxy_protocol_v2.enabled"
	attrUnhealthyTerminate = "target_health_state.unhealthy.connection_termination.enabled"
	attrUnhealthyDraining  = "target_health_state.unhealthy.draining_interval_seconds"
	attrTCPIdleTimeout     = "tcp.idle_timeout.seconds"
	useLBConfiguration     = "use_load_balancer_configuration"
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
		s, errs := NetworkTargetGroup(&state.TargetGroup{Protocol: tc.protocol, TargetType: tc.targetType, Attributes: tc.attrs})
		if s.PreserveClientIP != tc.preserve || len(errs) != tc.errs {
			t.Errorf("%s %s %v: preserve %t, %d errors %v; want %t, %d", tc.protocol, tc.targetType, tc.attrs, s.PreserveClientIP, len(errs), errs, tc.preserve, tc.errs)
		}
	}
	s, _ := NetworkTargetGroup(&state.TargetGroup{Protocol: "TCP", TargetType: "ip"})
	want := NLBTargetGroup{CrossZone: useLBConfiguration, UnhealthyTerminate: true, DNSFailoverCount: 1, RoutingFailoverCount: 1}
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
		if got := (NLBTargetGroup{CrossZone: tc.tg}).CrossZoneWith(NLB{CrossZone: tc.lb}); got != tc.want {
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
		l, errs := NetworkListener(&state.Listener{Attributes: attrs})
		got, err := l.IdleTimeout, errors.Join(errs...)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%q: %v, %v; want %v, error %t", tc.v, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), attrTCPIdleTimeout) {
			t.Errorf("%q: error %q does not name the attribute", tc.v, err)
		}
	}
}

// FuzzNetworkTargetGroup feeds attribute values from outside (the API
// stores what clients send) to the parser: it must not panic, must name
// the attribute in every error, and must keep AWS's invariants.
func FuzzNetworkTargetGroup(f *testing.F) {
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
		s, errs := NetworkTargetGroup(tg)
		for _, err := range errs {
			if !strings.Contains(err.Error(), "attribute ") {
				t.Errorf("error %q does not name an attribute", err)
			}
		}
		if p := strings.ToUpper(protocol); (p == "UDP" || p == "TCP_UDP") && !s.PreserveClientIP {
			t.Errorf("%s target group without client IP preservation", protocol)
		}
		switch s.CrossZone {
		case "true", "false", useLBConfiguration:
		default:
			t.Errorf("cross-zone setting %q", s.CrossZone)
		}
		if s.UnhealthyDraining < 0 {
			t.Errorf("negative draining interval %v", s.UnhealthyDraining)
		}
		if _, errs := NetworkListener(&state.Listener{Attributes: map[string]string{attrTCPIdleTimeout: draining}}); len(errs) > 0 && !strings.Contains(errs[0].Error(), attrTCPIdleTimeout) {
			t.Errorf("idle timeout error %q does not name the attribute", errs[0])
		}
	})
}
