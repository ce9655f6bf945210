package alb

import (
	"strconv"
	"strings"
	"time"
)

// lbAttrs are the load balancer attributes the data plane reads, with
// ALB's defaults for missing or unreadable values.
type lbAttrs struct {
	idleTimeout      time.Duration // idle_timeout.timeout_seconds (60)
	clientKeepAlive  time.Duration // client_keep_alive.seconds (3600)
	http2            bool          // routing.http2.enabled (true)
	xffMode          xffMode       // routing.http.xff_header_processing.mode (append)
	xffClientPort    bool          // routing.http.xff_client_port.enabled (false)
	preserveHost     bool          // routing.http.preserve_host_header.enabled (false)
	dropInvalid      bool          // routing.http.drop_invalid_header_fields.enabled (false)
	tlsHeaders       bool          // routing.http.x_amzn_tls_version_and_cipher_suite.enabled (false)
	desyncStrictest  bool          // routing.http.desync_mitigation_mode = strictest
	accessLogs       bool          // access_logs.s3.enabled (false)
	accessLogBucket  string        // access_logs.s3.bucket
	accessLogPrefix  string        // access_logs.s3.prefix
	crossZoneAllowed bool          // always true for ALB
}

type xffMode uint8

const (
	xffAppend xffMode = iota
	xffPreserve
	xffRemove
)

func parseLBAttrs(m map[string]string) lbAttrs {
	a := lbAttrs{
		idleTimeout:      seconds(m["idle_timeout.timeout_seconds"], 60, 1, 4000),
		clientKeepAlive:  seconds(m["client_keep_alive.seconds"], 3600, 60, 604800),
		http2:            boolAttr(m["routing.http2.enabled"], true),
		xffClientPort:    boolAttr(m["routing.http.xff_client_port.enabled"], false),
		preserveHost:     boolAttr(m["routing.http.preserve_host_header.enabled"], false),
		dropInvalid:      boolAttr(m["routing.http.drop_invalid_header_fields.enabled"], false),
		tlsHeaders:       boolAttr(m["routing.http.x_amzn_tls_version_and_cipher_suite.enabled"], false),
		desyncStrictest:  m["routing.http.desync_mitigation_mode"] == "strictest",
		accessLogs:       boolAttr(m["access_logs.s3.enabled"], false),
		accessLogBucket:  m["access_logs.s3.bucket"],
		accessLogPrefix:  strings.Trim(m["access_logs.s3.prefix"], "/"),
		crossZoneAllowed: true,
	}
	switch m["routing.http.xff_header_processing.mode"] {
	case "preserve":
		a.xffMode = xffPreserve
	case "remove":
		a.xffMode = xffRemove
	}
	return a
}

// Load balancing algorithms (load_balancing.algorithm.type).
type algorithm uint8

const (
	roundRobin algorithm = iota
	leastOutstanding
	weightedRandom
)

// Stickiness types (stickiness.type).
type stickyType uint8

const (
	stickyNone stickyType = iota
	stickyLBCookie
	stickyAppCookie
)

// tgAttrs are the target group attributes the data plane reads.
type tgAttrs struct {
	algorithm algorithm     // load_balancing.algorithm.type (round_robin)
	slowStart time.Duration // slow_start.duration_seconds (0: off)
	sticky    stickyType    // stickiness.enabled + stickiness.type
	stickyFor time.Duration // lb_cookie / app_cookie duration (86400 s)
	appCookie string        // stickiness.app_cookie.cookie_name
	crossZone bool          // load_balancing.cross_zone.enabled (use_load_balancer_configuration: on)
}

func parseTGAttrs(m map[string]string) tgAttrs {
	a := tgAttrs{
		slowStart: seconds(m["slow_start.duration_seconds"], 0, 0, 900),
		crossZone: m["load_balancing.cross_zone.enabled"] != "false",
	}
	switch m["load_balancing.algorithm.type"] {
	case "least_outstanding_requests":
		a.algorithm = leastOutstanding
	case "weighted_random":
		a.algorithm = weightedRandom
	}
	if boolAttr(m["stickiness.enabled"], false) {
		switch m["stickiness.type"] {
		case "app_cookie":
			a.sticky = stickyAppCookie
			a.appCookie = m["stickiness.app_cookie.cookie_name"]
			a.stickyFor = seconds(m["stickiness.app_cookie.duration_seconds"], 86400, 1, 604800)
			if a.appCookie == "" {
				a.sticky = stickyNone
			}
		case "", "lb_cookie":
			a.sticky = stickyLBCookie
			a.stickyFor = seconds(m["stickiness.lb_cookie.duration_seconds"], 86400, 1, 604800)
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
