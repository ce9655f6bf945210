package settings

import (
	"strings"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// TestReadersDefaults: every typed reader reads an empty record as AWS's
// defaults, without an error (each key it reads is in its table), and
// reads the defaults the tables give a new record the same way.
func TestReadersDefaults(t *testing.T) {
	lb := &state.LoadBalancer{Type: "application", Scheme: "internet-facing"}
	wantALB := ALB{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour, HTTP2: true}
	for _, attrs := range []map[string]string{nil, Defaults(LoadBalancerAttributes("application", "internet-facing"))} {
		lb.Attributes = attrs
		if got, errs := ApplicationLB(lb); got != wantALB || len(errs) > 0 {
			t.Errorf("ALB %v: %+v %v, want %+v", attrs != nil, got, errs, wantALB)
		}
	}
	for _, proto := range []string{"HTTP", "HTTPS"} {
		l := &state.Listener{Protocol: proto, Attributes: Defaults(ListenerAttributes("application", proto))}
		got, errs := ApplicationListener(l)
		if !got.ServerHeader || len(got.ResponseHeaders) != 0 || !strings.EqualFold(got.TLSVersionHeader, "x-amzn-tls-version") ||
			!strings.EqualFold(got.TLSCipherHeader, "x-amzn-tls-cipher-suite") || len(errs) > 0 {
			t.Errorf("%s listener: %+v %v", proto, got, errs)
		}
	}
	tg := &state.TargetGroup{Protocol: "HTTP", TargetType: "ip"}
	wantTG := ALBTargetGroup{CrossZone: true}
	for _, attrs := range []map[string]string{nil, Defaults(TargetGroupAttributes(tg))} {
		tg.Attributes = attrs
		if got, errs := ApplicationTargetGroup(tg); got != wantTG || len(errs) > 0 {
			t.Errorf("ALB target group %v: %+v %v, want %+v", attrs != nil, got, errs, wantTG)
		}
	}
	nlb := &state.LoadBalancer{Type: "network", Scheme: "internal"}
	if got, errs := NetworkLB(nlb); got.CrossZone || len(errs) > 0 {
		t.Errorf("NLB: %+v %v", got, errs)
	}
	if got, errs := NetworkListener(&state.Listener{Protocol: "TCP"}); got.IdleTimeout != 350*time.Second || len(errs) > 0 {
		t.Errorf("NLB listener: %+v %v", got, errs)
	}
	for _, tc := range []struct {
		protocol, targetType string
		want                 NLBTargetGroup
	}{
		{"TCP", "ip", NLBTargetGroup{CrossZone: useLBConfiguration, UnhealthyTerminate: true, DNSFailoverCount: 1, RoutingFailoverCount: 1}},
		{"TCP", "instance", NLBTargetGroup{CrossZone: useLBConfiguration, PreserveClientIP: true, UnhealthyTerminate: true, DNSFailoverCount: 1, RoutingFailoverCount: 1}},
		{"UDP", "ip", NLBTargetGroup{CrossZone: useLBConfiguration, PreserveClientIP: true, DrainTerminate: true, DNSFailoverCount: 1, RoutingFailoverCount: 1}},
	} {
		tg := &state.TargetGroup{Protocol: tc.protocol, TargetType: tc.targetType}
		for _, attrs := range []map[string]string{nil, Defaults(TargetGroupAttributes(tg))} {
			tg.Attributes = attrs
			if got, errs := NetworkTargetGroup(tg); got != tc.want || len(errs) > 0 {
				t.Errorf("%s %s target group %v: %+v %v, want %+v", tc.protocol, tc.targetType, attrs != nil, got, errs, tc.want)
			}
		}
	}
}

// TestALBReaders: values the tables accept are read; values they do not
// give the default and an error naming the attribute.
func TestALBReaders(t *testing.T) {
	lb := &state.LoadBalancer{Type: "application", Attributes: map[string]string{
		"idle_timeout.timeout_seconds":              "4000",
		"routing.http.xff_header_processing.mode":   "remove",
		"routing.http.desync_mitigation_mode":       "strictest",
		"routing.http.preserve_host_header.enabled": "TRUE",
		"client_keep_alive.seconds":                 "10", // below 60
		"access_logs.s3.prefix":                     "/logs/",
	}}
	a, errs := ApplicationLB(lb)
	if a.IdleTimeout != 4000*time.Second || a.XFFMode != XFFRemove || !a.DesyncStrictest || !a.PreserveHost || a.AccessLogPrefix != "logs" {
		t.Errorf("accepted values: %+v", a)
	}
	if a.ClientKeepAlive != time.Hour || len(errs) != 1 || !strings.Contains(errs[0].Error(), "client_keep_alive.seconds") {
		t.Errorf("refused value: keep-alive %v, errors %v", a.ClientKeepAlive, errs)
	}
	tg := &state.TargetGroup{Protocol: "HTTP", Attributes: map[string]string{
		"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "SESSION",
		"stickiness.app_cookie.duration_seconds": "60", "load_balancing.algorithm.type": "least_outstanding_requests",
		"slow_start.duration_seconds": "30", "load_balancing.cross_zone.enabled": "false",
	}}
	g, errs := ApplicationTargetGroup(tg)
	want := ALBTargetGroup{Algorithm: LeastOutstanding, SlowStart: 30 * time.Second, Sticky: StickyAppCookie, StickyFor: time.Minute, AppCookie: "SESSION"}
	if g != want || len(errs) > 0 {
		t.Errorf("target group: %+v %v, want %+v", g, errs, want)
	}
	tg.Attributes = map[string]string{"stickiness.enabled": "true", "stickiness.type": "lb_cookie", "slow_start.duration_seconds": "10"}
	g, errs = ApplicationTargetGroup(tg)
	if g.Sticky != StickyLBCookie || g.StickyFor != 24*time.Hour || g.SlowStart != 0 || len(errs) != 1 {
		t.Errorf("lb_cookie and a refused slow start: %+v %v", g, errs)
	}
}

// TestDefaultHealthCheck: the defaults the CreateTargetGroup reference
// documents per protocol, protocol version and target type.
func TestDefaultHealthCheck(t *testing.T) {
	for _, tc := range []struct {
		tg   state.TargetGroup
		want HealthCheck
	}{
		{state.TargetGroup{Protocol: "HTTP", TargetType: "ip", ProtocolVersion: "HTTP1"}, HealthCheck{"HTTP", "traffic-port", "/", "200", "", 30, 6, 5, 2}},
		{state.TargetGroup{Protocol: "HTTPS", TargetType: "instance", ProtocolVersion: "GRPC"}, HealthCheck{"HTTP", "traffic-port", "/AWS.ALB/healthcheck", "", "12", 30, 10, 5, 2}},
		{state.TargetGroup{Protocol: "TCP", TargetType: "ip"}, HealthCheck{"TCP", "traffic-port", "", "", "", 30, 10, 5, 2}},
		{state.TargetGroup{Protocol: "GENEVE", TargetType: "ip"}, HealthCheck{"TCP", "80", "", "", "", 10, 5, 5, 2}},
		{state.TargetGroup{TargetType: "lambda"}, HealthCheck{"", "", "/", "200", "", 35, 30, 5, 5}},
	} {
		if got := DefaultHealthCheck(&tc.tg, ""); got != tc.want {
			t.Errorf("%s %s %s: %+v, want %+v", tc.tg.Protocol, tc.tg.TargetType, tc.tg.ProtocolVersion, got, tc.want)
		}
	}
	// An HTTP check of a network target group accepts 200-399.
	if got := DefaultHealthCheck(&state.TargetGroup{Protocol: "TCP", TargetType: "ip"}, "HTTP"); got.Path != "/" || got.MatcherHTTP != "200-399" {
		t.Errorf("HTTP check of a TCP target group: %+v", got)
	}
}
