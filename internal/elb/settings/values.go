package settings

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// reader reads one resource's attributes with the defaults and accepted
// values of their table.
type reader struct {
	m     map[string]string
	attrs []Attribute
	errs  []error
}

func newReader(m map[string]string, attrs []Attribute) *reader { return &reader{m: m, attrs: attrs} }

// value returns the attribute's value when the table accepts it (spaces
// around it and the case of true and false do not matter), its default
// otherwise; a value not accepted is recorded as an error.
func (r *reader) value(key string) string {
	var a *Attribute
	for i := range r.attrs {
		if r.attrs[i].Key == key {
			a = &r.attrs[i]
			break
		}
	}
	if a == nil {
		// Not an attribute of this kind of resource: the caller asked
		// the wrong table (the tests ask every reader).
		r.errs = append(r.errs, fmt.Errorf("attribute %s is not one of this resource's", key))
		return ""
	}
	v, ok := r.m[key]
	if !ok || v == "" {
		return a.Default
	}
	if a.Check == nil {
		return v
	}
	err := a.Check(v)
	if err == nil {
		return v
	}
	if t := strings.ToLower(strings.TrimSpace(v)); a.Check(t) == nil {
		return t
	}
	r.errs = append(r.errs, fmt.Errorf("attribute %s = %q: %w", key, v, err))
	return a.Default
}

func (r *reader) bool(key string) bool { return r.value(key) == "true" }

func (r *reader) int(key string) int {
	n, _ := strconv.Atoi(r.value(key))
	return n
}

func (r *reader) seconds(key string) time.Duration { return time.Duration(r.int(key)) * time.Second }

// positiveSeconds reads a whole positive number of seconds, outside the
// table's range too: the data plane honours what the record holds, the
// API keeps clients within the range.
func (r *reader) positiveSeconds(key string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(r.m[key])); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return r.seconds(key)
}

// ALB are the attributes of an application load balancer the data plane
// reads.
type ALB struct {
	IdleTimeout     time.Duration // idle_timeout.timeout_seconds
	ClientKeepAlive time.Duration // client_keep_alive.seconds
	HTTP2           bool          // routing.http2.enabled
	XFFMode         XFFMode       // routing.http.xff_header_processing.mode
	XFFClientPort   bool          // routing.http.xff_client_port.enabled
	PreserveHost    bool          // routing.http.preserve_host_header.enabled
	DropInvalid     bool          // routing.http.drop_invalid_header_fields.enabled
	TLSHeaders      bool          // routing.http.x_amzn_tls_version_and_cipher_suite.enabled
	DesyncStrictest bool          // routing.http.desync_mitigation_mode = strictest
	AccessLogs      bool          // access_logs.s3.enabled
	AccessLogBucket string        // access_logs.s3.bucket
	AccessLogPrefix string        // access_logs.s3.prefix, without leading and trailing '/'
}

// XFFMode is routing.http.xff_header_processing.mode.
type XFFMode uint8

// The X-Forwarded-For processing modes.
const (
	XFFAppend XFFMode = iota
	XFFPreserve
	XFFRemove
)

// ApplicationLB reads an application load balancer's attributes.
func ApplicationLB(lb *state.LoadBalancer) (ALB, []error) {
	r := newReader(lb.Attributes, LoadBalancerAttributes(application, lb.Scheme))
	a := ALB{
		IdleTimeout:     r.seconds("idle_timeout.timeout_seconds"),
		ClientKeepAlive: r.seconds("client_keep_alive.seconds"),
		HTTP2:           r.bool("routing.http2.enabled"),
		XFFClientPort:   r.bool("routing.http.xff_client_port.enabled"),
		PreserveHost:    r.bool("routing.http.preserve_host_header.enabled"),
		DropInvalid:     r.bool("routing.http.drop_invalid_header_fields.enabled"),
		TLSHeaders:      r.bool("routing.http.x_amzn_tls_version_and_cipher_suite.enabled"),
		DesyncStrictest: r.value("routing.http.desync_mitigation_mode") == "strictest",
		AccessLogs:      r.bool("access_logs.s3.enabled"),
		AccessLogBucket: r.value("access_logs.s3.bucket"),
		AccessLogPrefix: strings.Trim(r.value("access_logs.s3.prefix"), "/"),
	}
	switch r.value("routing.http.xff_header_processing.mode") {
	case "preserve":
		a.XFFMode = XFFPreserve
	case "remove":
		a.XFFMode = XFFRemove
	}
	return a, r.errs
}

// ALBListener are the attributes of an application load balancer's
// listener the data plane reads.
type ALBListener struct {
	ServerHeader bool // routing.http.response.server.enabled
	// ResponseHeaders are the headers routing.http.response.*.header_value
	// add, as name and value.
	ResponseHeaders  [][2]string
	TLSVersionHeader string // routing.http.request.x_amzn_tls_version.header_name
	TLSCipherHeader  string // routing.http.request.x_amzn_tls_cipher_suite.header_name
}

// ApplicationListener reads the attributes of an application load
// balancer's listener.
func ApplicationListener(l *state.Listener) (ALBListener, []error) {
	r := newReader(l.Attributes, ListenerAttributes(application, "HTTPS"))
	a := ALBListener{
		ServerHeader:     r.bool("routing.http.response.server.enabled"),
		TLSVersionHeader: r.value("routing.http.request.x_amzn_tls_version.header_name"),
		TLSCipherHeader:  r.value("routing.http.request.x_amzn_tls_cipher_suite.header_name"),
	}
	for _, h := range ResponseHeaderAttributes {
		if v := r.value(h.Key); v != "" {
			a.ResponseHeaders = append(a.ResponseHeaders, [2]string{h.Header, v})
		}
	}
	return a, r.errs
}

// Algorithm is a target group's load_balancing.algorithm.type.
type Algorithm uint8

// The load balancing algorithms.
const (
	RoundRobin Algorithm = iota
	LeastOutstanding
	WeightedRandom
)

// Stickiness is a target group's stickiness type (stickiness.enabled and
// stickiness.type).
type Stickiness uint8

// The stickiness types.
const (
	StickyNone Stickiness = iota
	StickyLBCookie
	StickyAppCookie
)

// ALBTargetGroup are the attributes of an application load balancer's
// target group the data plane reads.
type ALBTargetGroup struct {
	Algorithm Algorithm     // load_balancing.algorithm.type
	SlowStart time.Duration // slow_start.duration_seconds (0: off)
	Sticky    Stickiness    // stickiness.enabled + stickiness.type
	StickyFor time.Duration // the cookie's stickiness.*.duration_seconds
	AppCookie string        // stickiness.app_cookie.cookie_name
	// CrossZone is load_balancing.cross_zone.enabled, with
	// use_load_balancer_configuration resolved: always on for ALBs.
	CrossZone bool
}

// ApplicationTargetGroup reads the attributes of an application load
// balancer's target group.
func ApplicationTargetGroup(tg *state.TargetGroup) (ALBTargetGroup, []error) {
	r := newReader(tg.Attributes, TargetGroupAttributes(&state.TargetGroup{Protocol: "HTTP"}))
	a := ALBTargetGroup{
		SlowStart: r.seconds("slow_start.duration_seconds"),
		CrossZone: r.value("load_balancing.cross_zone.enabled") != "false",
	}
	switch r.value("load_balancing.algorithm.type") {
	case "least_outstanding_requests":
		a.Algorithm = LeastOutstanding
	case "weighted_random":
		a.Algorithm = WeightedRandom
	}
	if r.bool("stickiness.enabled") {
		switch r.value("stickiness.type") {
		case "app_cookie":
			a.Sticky = StickyAppCookie
			a.AppCookie = r.value("stickiness.app_cookie.cookie_name")
			a.StickyFor = r.seconds("stickiness.app_cookie.duration_seconds")
			if a.AppCookie == "" {
				a.Sticky = StickyNone
			}
		default:
			a.Sticky = StickyLBCookie
			a.StickyFor = r.seconds("stickiness.lb_cookie.duration_seconds")
		}
	}
	return a, r.errs
}

// NLB are the attributes of a network load balancer the data plane reads.
type NLB struct {
	CrossZone bool // load_balancing.cross_zone.enabled
}

// NetworkLB reads a network load balancer's attributes.
func NetworkLB(lb *state.LoadBalancer) (NLB, []error) {
	r := newReader(lb.Attributes, LoadBalancerAttributes(network, lb.Scheme))
	return NLB{CrossZone: r.bool("load_balancing.cross_zone.enabled")}, r.errs
}

// NLBTargetGroup are the attributes of a network load balancer's target
// group the data plane reads.
type NLBTargetGroup struct {
	// CrossZone is load_balancing.cross_zone.enabled: "true", "false" or
	// "use_load_balancer_configuration" (see CrossZoneWith).
	CrossZone string
	// PreserveClientIP is preserve_client_ip.enabled; always on for UDP
	// and QUIC protocols, which cannot turn it off.
	PreserveClientIP   bool
	ProxyProtocolV2    bool          // proxy_protocol_v2.enabled
	StickySourceIP     bool          // stickiness.enabled with stickiness.type source_ip
	DrainTerminate     bool          // deregistration_delay.connection_termination.enabled
	UnhealthyTerminate bool          // target_health_state.unhealthy.connection_termination.enabled
	UnhealthyDraining  time.Duration // target_health_state.unhealthy.draining_interval_seconds
	// DNSFailoverCount and DNSFailoverPercent are
	// target_group_health.dns_failover.minimum_healthy_targets.count and
	// .percentage, 0 when "off": a zone with fewer healthy targets of the
	// group than either leaves the load balancer's DNS name.
	DNSFailoverCount   int
	DNSFailoverPercent int
	// RoutingFailoverCount and RoutingFailoverPercent are
	// target_group_health.unhealthy_state_routing.minimum_healthy_targets.count
	// and .percentage (0 when "off"): with fewer healthy targets than
	// either, new flows go to the unhealthy targets too (fail open).
	RoutingFailoverCount   int
	RoutingFailoverPercent int
}

// NetworkTargetGroup reads the attributes of a network load balancer's
// target group.
func NetworkTargetGroup(tg *state.TargetGroup) (NLBTargetGroup, []error) {
	probe := &state.TargetGroup{Protocol: strings.ToUpper(tg.Protocol), TargetType: tg.TargetType}
	if Family(probe) != network {
		// Not a network protocol: read it as TCP.
		probe = &state.TargetGroup{Protocol: "TCP", TargetType: "ip"}
	}
	r := newReader(tg.Attributes, TargetGroupAttributes(probe))
	a := NLBTargetGroup{
		CrossZone:          r.value("load_balancing.cross_zone.enabled"),
		PreserveClientIP:   r.bool("preserve_client_ip.enabled") || datagram(tg.Protocol),
		ProxyProtocolV2:    r.bool("proxy_protocol_v2.enabled"),
		StickySourceIP:     r.bool("stickiness.enabled") && r.value("stickiness.type") == "source_ip",
		DrainTerminate:     r.bool("deregistration_delay.connection_termination.enabled"),
		UnhealthyTerminate: r.bool("target_health_state.unhealthy.connection_termination.enabled"),
		UnhealthyDraining:  r.seconds("target_health_state.unhealthy.draining_interval_seconds"),
		DNSFailoverCount:   r.int("target_group_health.dns_failover.minimum_healthy_targets.count"),
		DNSFailoverPercent: r.int("target_group_health.dns_failover.minimum_healthy_targets.percentage"),

		RoutingFailoverCount:   r.int("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"),
		RoutingFailoverPercent: r.int("target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"),
	}
	return a, r.errs
}

// CrossZoneWith resolves the target group's cross-zone setting with its
// load balancer's: the target group's wins unless it defers.
func (a NLBTargetGroup) CrossZoneWith(lb NLB) bool {
	switch a.CrossZone {
	case "true":
		return true
	case "false":
		return false
	}
	return lb.CrossZone
}

// NLBListener are the attributes of a network load balancer's listener
// the data plane reads.
type NLBListener struct {
	// IdleTimeout is tcp.idle_timeout.seconds: any positive number of
	// seconds the record holds.
	IdleTimeout time.Duration
}

// NetworkListener reads the attributes of a network load balancer's TCP
// or TLS listener.
func NetworkListener(l *state.Listener) (NLBListener, []error) {
	r := newReader(l.Attributes, ListenerAttributes(network, "TCP"))
	return NLBListener{IdleTimeout: r.positiveSeconds("tcp.idle_timeout.seconds")}, r.errs
}
