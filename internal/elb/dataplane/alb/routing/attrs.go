package routing

import (
	"strconv"
	"strings"
	"time"
)

// LBAttributes are the load balancer attributes the data plane reads, with
// ALB's defaults for missing or unreadable values.
type LBAttributes struct {
	IdleTimeout     time.Duration // idle_timeout.timeout_seconds (60)
	ClientKeepAlive time.Duration // client_keep_alive.seconds (3600)
	HTTP2           bool          // routing.http2.enabled (true)
	XFFMode         XFFMode       // routing.http.xff_header_processing.mode (append)
	XFFClientPort   bool          // routing.http.xff_client_port.enabled (false)
	PreserveHost    bool          // routing.http.preserve_host_header.enabled (false)
	DropInvalid     bool          // routing.http.drop_invalid_header_fields.enabled (false)
	TLSHeaders      bool          // routing.http.x_amzn_tls_version_and_cipher_suite.enabled (false)
	DesyncStrictest bool          // routing.http.desync_mitigation_mode = strictest
	AccessLogs      bool          // access_logs.s3.enabled (false)
	AccessLogBucket string        // access_logs.s3.bucket
	AccessLogPrefix string        // access_logs.s3.prefix
}

// XFFMode is routing.http.xff_header_processing.mode.
type XFFMode uint8

// The X-Forwarded-For processing modes.
const (
	XFFAppend XFFMode = iota
	XFFPreserve
	XFFRemove
)

// ParseLBAttributes reads a load balancer's attributes.
func ParseLBAttributes(m map[string]string) LBAttributes {
	a := LBAttributes{
		IdleTimeout:     seconds(m["idle_timeout.timeout_seconds"], 60, 1, 4000),
		ClientKeepAlive: seconds(m["client_keep_alive.seconds"], 3600, 60, 604800),
		HTTP2:           boolAttr(m["routing.http2.enabled"], true),
		XFFClientPort:   boolAttr(m["routing.http.xff_client_port.enabled"], false),
		PreserveHost:    boolAttr(m["routing.http.preserve_host_header.enabled"], false),
		DropInvalid:     boolAttr(m["routing.http.drop_invalid_header_fields.enabled"], false),
		TLSHeaders:      boolAttr(m["routing.http.x_amzn_tls_version_and_cipher_suite.enabled"], false),
		DesyncStrictest: m["routing.http.desync_mitigation_mode"] == "strictest",
		AccessLogs:      boolAttr(m["access_logs.s3.enabled"], false),
		AccessLogBucket: m["access_logs.s3.bucket"],
		AccessLogPrefix: strings.Trim(m["access_logs.s3.prefix"], "/"),
	}
	switch m["routing.http.xff_header_processing.mode"] {
	case "preserve":
		a.XFFMode = XFFPreserve
	case "remove":
		a.XFFMode = XFFRemove
	}
	return a
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

// GroupAttributes are the target group attributes the data plane reads.
type GroupAttributes struct {
	Algorithm Algorithm     // load_balancing.algorithm.type (round_robin)
	SlowStart time.Duration // slow_start.duration_seconds (0: off)
	Sticky    Stickiness    // stickiness.enabled + stickiness.type
	StickyFor time.Duration // lb_cookie / app_cookie duration (86400 s)
	AppCookie string        // stickiness.app_cookie.cookie_name
	CrossZone bool          // load_balancing.cross_zone.enabled (use_load_balancer_configuration: on)
}

// ParseGroupAttributes reads a target group's attributes.
func ParseGroupAttributes(m map[string]string) GroupAttributes {
	a := GroupAttributes{
		SlowStart: seconds(m["slow_start.duration_seconds"], 0, 0, 900),
		CrossZone: m["load_balancing.cross_zone.enabled"] != "false",
	}
	switch m["load_balancing.algorithm.type"] {
	case "least_outstanding_requests":
		a.Algorithm = LeastOutstanding
	case "weighted_random":
		a.Algorithm = WeightedRandom
	}
	if boolAttr(m["stickiness.enabled"], false) {
		switch m["stickiness.type"] {
		case "app_cookie":
			a.Sticky = StickyAppCookie
			a.AppCookie = m["stickiness.app_cookie.cookie_name"]
			a.StickyFor = seconds(m["stickiness.app_cookie.duration_seconds"], 86400, 1, 604800)
			if a.AppCookie == "" {
				a.Sticky = StickyNone
			}
		case "", "lb_cookie":
			a.Sticky = StickyLBCookie
			a.StickyFor = seconds(m["stickiness.lb_cookie.duration_seconds"], 86400, 1, 604800)
		}
	}
	return a
}

func seconds(v string, def, lo, hi int) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		n = def
	}
	return time.Duration(n) * time.Second
}

func boolAttr(v string, def bool) bool {
	switch strings.TrimSpace(strings.ToLower(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	return def
}
