package elbv2

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// Attributes of load balancers, target groups and listeners, as the API
// reference's LoadBalancerAttribute, TargetGroupAttribute and
// ListenerAttribute pages list them per load balancer type, target group
// type and listener protocol, with their defaults and accepted values.
// Describe*Attributes returns every key of the resource's kind; Modify*
// accepts only those keys.

// attrSpec is one attribute: its default and what it accepts.
type attrSpec struct {
	key   string
	def   string
	check func(v string) error // nil accepts anything
}

func boolAttr(key, def string) attrSpec { return attrSpec{key, def, checkBool} }

func intAttr(key, def string, lo, hi int) attrSpec {
	return attrSpec{key, def, func(v string) error { return checkInt(v, lo, hi) }}
}

func enumAttr(key, def string, values ...string) attrSpec {
	return attrSpec{key, def, func(v string) error {
		for _, a := range values {
			if v == a {
				return nil
			}
		}
		return attrValueError("must be one of: " + strings.Join(values, ", "))
	}}
}

func strAttr(key, def string) attrSpec { return attrSpec{key: key, def: def} }

// attrValueError is what a check returns; the caller adds key and value.
type attrValueError string

func (e attrValueError) Error() string { return string(e) }

func checkBool(v string) error {
	if v != "true" && v != "false" {
		return attrValueError("must be true or false")
	}
	return nil
}

func checkInt(v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return attrValueError("must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	}
	return nil
}

// checkOffOrInt accepts "off" or an integer in range.
func checkOffOrInt(lo, hi int) func(string) error {
	return func(v string) error {
		if v == "off" {
			return nil
		}
		if checkInt(v, lo, hi) != nil {
			return attrValueError("must be off or an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
		}
		return nil
	}
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func checkBucket(v string) error {
	if v != "" && !bucketRE.MatchString(v) {
		return attrValueError("must be an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)")
	}
	return nil
}

func checkPrefix(v string) error {
	if strings.Contains(strings.ToLower(v), "awslogs") {
		return attrValueError("cannot contain 'AWSLogs'")
	}
	return nil
}

func s3Attrs(prefix string) []attrSpec {
	return []attrSpec{
		boolAttr(prefix+".s3.enabled", "false"),
		{prefix + ".s3.bucket", "", checkBucket},
		{prefix + ".s3.prefix", "", checkPrefix},
	}
}

// lbAttrSpecs returns the attributes of a load balancer type.
func lbAttrSpecs(lbType, scheme string) []attrSpec {
	denyIGW := "false"
	if scheme == schemeInternal {
		denyIGW = "true"
	}
	switch lbType {
	case typeApplication:
		specs := []attrSpec{
			boolAttr("deletion_protection.enabled", "false"),
			enumAttr("load_balancing.cross_zone.enabled", "true", "true"),
			boolAttr("ipv6.deny_all_igw_traffic", denyIGW),
			boolAttr("zonal_shift.config.enabled", "false"),
			intAttr("idle_timeout.timeout_seconds", "60", 1, 4000),
			intAttr("client_keep_alive.seconds", "3600", 60, 604800),
			enumAttr("routing.http.desync_mitigation_mode", "defensive", "monitor", "defensive", "strictest"),
			boolAttr("routing.http.drop_invalid_header_fields.enabled", "false"),
			boolAttr("routing.http.preserve_host_header.enabled", "false"),
			boolAttr("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false"),
			boolAttr("routing.http.xff_client_port.enabled", "false"),
			enumAttr("routing.http.xff_header_processing.mode", "append", "append", "preserve", "remove"),
			boolAttr("routing.http2.enabled", "true"),
			boolAttr("waf.fail_open.enabled", "false"),
		}
		specs = append(specs, s3Attrs("access_logs")...)
		specs = append(specs, s3Attrs("connection_logs")...)
		specs = append(specs, s3Attrs("health_check_logs")...)
		return specs
	case typeNetwork:
		specs := []attrSpec{
			boolAttr("deletion_protection.enabled", "false"),
			boolAttr("load_balancing.cross_zone.enabled", "false"),
			boolAttr("ipv6.deny_all_igw_traffic", denyIGW),
			boolAttr("zonal_shift.config.enabled", "false"),
			enumAttr("dns_record.client_routing_policy", "any_availability_zone",
				"availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone"),
			intAttr("secondary_ips.auto_assigned.per_subnet", "0", 0, 7),
		}
		return append(specs, s3Attrs("access_logs")...)
	default:
		return []attrSpec{
			boolAttr("deletion_protection.enabled", "false"),
			boolAttr("load_balancing.cross_zone.enabled", "false"),
		}
	}
}

// tgFamily is the kind of load balancer a target group's protocol serves.
func tgFamily(tg *state.TargetGroup) string {
	switch {
	case tg.TargetType == targetLambda:
		return "lambda"
	case tg.Protocol == "HTTP" || tg.Protocol == "HTTPS":
		return typeApplication
	case tg.Protocol == "GENEVE":
		return typeGateway
	}
	return typeNetwork
}

// tgAttrSpecs returns the attributes of a target group.
func tgAttrSpecs(tg *state.TargetGroup) []attrSpec {
	health := []attrSpec{
		{"target_group_health.dns_failover.minimum_healthy_targets.count", "1", checkOffOrInt(1, 1000000)},
		{"target_group_health.dns_failover.minimum_healthy_targets.percentage", "off", checkOffOrInt(1, 100)},
		{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1", func(v string) error { return checkInt(v, 1, 1000000) }},
		{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off", checkOffOrInt(1, 100)},
	}
	crossZone := enumAttr("load_balancing.cross_zone.enabled", "use_load_balancer_configuration", "true", "false", "use_load_balancer_configuration")
	switch tgFamily(tg) {
	case "lambda":
		return []attrSpec{
			boolAttr("lambda.multi_value_headers.enabled", "false"),
			boolAttr("stickiness.enabled", "false"),
			enumAttr("stickiness.type", "lb_cookie", "lb_cookie", "app_cookie"),
			intAttr("stickiness.lb_cookie.duration_seconds", "86400", 1, 604800),
		}
	case typeApplication:
		specs := []attrSpec{
			intAttr("deregistration_delay.timeout_seconds", "300", 0, 3600),
			boolAttr("stickiness.enabled", "false"),
			enumAttr("stickiness.type", "lb_cookie", "lb_cookie", "app_cookie"),
			intAttr("stickiness.lb_cookie.duration_seconds", "86400", 1, 604800),
			{"stickiness.app_cookie.cookie_name", "", checkCookieName},
			intAttr("stickiness.app_cookie.duration_seconds", "86400", 1, 604800),
			{"slow_start.duration_seconds", "0", checkSlowStart},
			enumAttr("load_balancing.algorithm.type", "round_robin", "round_robin", "least_outstanding_requests", "weighted_random"),
			enumAttr("load_balancing.algorithm.anomaly_mitigation", "off", "on", "off"),
			crossZone,
		}
		return append(specs, health...)
	case typeGateway:
		return []attrSpec{
			intAttr("deregistration_delay.timeout_seconds", "300", 0, 3600),
			boolAttr("stickiness.enabled", "false"),
			enumAttr("stickiness.type", "source_ip_dest_ip_proto", "source_ip_dest_ip", "source_ip_dest_ip_proto"),
			enumAttr("target_failover.on_deregistration", "no_rebalance", "rebalance", "no_rebalance"),
			enumAttr("target_failover.on_unhealthy", "no_rebalance", "rebalance", "no_rebalance"),
			boolAttr("send_tcp_reset.on_unhealthy.enabled", "false"),
			boolAttr("send_tcp_reset.on_deregistration.enabled", "false"),
		}
	default:
		udp := tg.Protocol == "UDP" || tg.Protocol == "TCP_UDP" || tg.Protocol == "QUIC" || tg.Protocol == "TCP_QUIC"
		preserve := "true"
		if tg.TargetType == targetIP && (tg.Protocol == "TCP" || tg.Protocol == "TLS") {
			preserve = "false"
		}
		connTerm, unhealthyTerm := "false", "true"
		if udp {
			connTerm, unhealthyTerm = "true", "false"
		}
		specs := []attrSpec{
			intAttr("deregistration_delay.timeout_seconds", "300", 0, 3600),
			boolAttr("deregistration_delay.connection_termination.enabled", connTerm),
			boolAttr("stickiness.enabled", "false"),
			enumAttr("stickiness.type", "source_ip", "source_ip"),
			boolAttr("proxy_protocol_v2.enabled", "false"),
			boolAttr("preserve_client_ip.enabled", preserve),
			boolAttr("target_health_state.unhealthy.connection_termination.enabled", unhealthyTerm),
			intAttr("target_health_state.unhealthy.draining_interval_seconds", "0", 0, 360000),
			crossZone,
		}
		return append(specs, health...)
	}
}

func checkCookieName(v string) error {
	for _, p := range []string{"AWSALB", "AWSALBAPP", "AWSALBTG"} {
		if strings.HasPrefix(v, p) {
			return attrValueError("cannot start with AWSALB, AWSALBAPP or AWSALBTG (reserved for the load balancer)")
		}
	}
	return nil
}

func checkSlowStart(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || (n != 0 && (n < 30 || n > 900)) {
		return attrValueError("must be 0 (disabled) or an integer from 30 to 900")
	}
	return nil
}

var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}$")

func checkHeaderName(v string) error {
	if !headerNameRE.MatchString(v) {
		return attrValueError("must be an HTTP header name of 1 to 40 characters")
	}
	return nil
}

// listenerAttrSpecs returns the attributes of a listener protocol.
func listenerAttrSpecs(lbType, protocol string) []attrSpec {
	switch lbType {
	case typeApplication:
		specs := []attrSpec{
			boolAttr("routing.http.response.server.enabled", "true"),
		}
		for _, h := range []string{"strict_transport_security", "access_control_allow_origin", "access_control_allow_methods",
			"access_control_allow_headers", "access_control_allow_credentials", "access_control_expose_headers",
			"access_control_max_age", "content_security_policy", "x_content_type_options", "x_frame_options"} {
			specs = append(specs, strAttr("routing.http.response."+h+".header_value", ""))
		}
		if protocol == "HTTPS" {
			for _, h := range []struct{ key, name string }{
				{"x_amzn_mtls_clientcert_serial_number", "X-Amzn-Mtls-Clientcert-Serial-Number"},
				{"x_amzn_mtls_clientcert_issuer", "X-Amzn-Mtls-Clientcert-Issuer"},
				{"x_amzn_mtls_clientcert_subject", "X-Amzn-Mtls-Clientcert-Subject"},
				{"x_amzn_mtls_clientcert_validity", "X-Amzn-Mtls-Clientcert-Validity"},
				{"x_amzn_mtls_clientcert_leaf", "X-Amzn-Mtls-Clientcert-Leaf"},
				{"x_amzn_mtls_clientcert", "X-Amzn-Mtls-Clientcert"},
				{"x_amzn_tls_version", "X-Amzn-Tls-Version"},
				{"x_amzn_tls_cipher_suite", "X-Amzn-Tls-Cipher-Suite"},
			} {
				specs = append(specs, attrSpec{"routing.http.request." + h.key + ".header_name", h.name, checkHeaderName})
			}
		}
		return specs
	case typeGateway:
		return []attrSpec{
			intAttr("tcp.idle_timeout.seconds", "350", 60, 6000),
			boolAttr("send_tcp_reset.on_idle_timeout.enabled", "false"),
		}
	default:
		if protocol == "UDP" || protocol == "QUIC" {
			return nil
		}
		return []attrSpec{intAttr("tcp.idle_timeout.seconds", "350", 60, 6000)}
	}
}

// defaultAttrs returns the default attribute map of specs.
func defaultAttrs(specs []attrSpec) map[string]string {
	m := make(map[string]string, len(specs))
	for _, a := range specs {
		m[a.key] = a.def
	}
	return m
}

// rebaseAttrs returns the attributes of specs with the values of old
// kept where the key still applies.
func rebaseAttrs(specs []attrSpec, old map[string]string) map[string]string {
	m := defaultAttrs(specs)
	for k := range m {
		if v, ok := old[k]; ok {
			m[k] = v
		}
	}
	return m
}

// applyAttrs validates key/value pairs against specs and applies them to a
// copy of cur. noun names the resource in errors ("Load balancer").
func applyAttrs(noun string, specs []attrSpec, cur map[string]string, keys, values []string) (map[string]string, error) {
	byKey := make(map[string]attrSpec, len(specs))
	for _, a := range specs {
		byKey[a.key] = a
	}
	out := rebaseAttrs(specs, cur)
	seen := map[string]bool{}
	for i, k := range keys {
		a, ok := byKey[k]
		if !ok {
			return nil, validation("%s attribute key '%s' is not recognized", noun, k)
		}
		if seen[k] {
			return nil, validation("%s attribute key '%s' is specified more than once", noun, k)
		}
		seen[k] = true
		v := values[i]
		if a.check != nil {
			if err := a.check(v); err != nil {
				return nil, validation("%s attribute '%s' value '%s' is not valid: %s", noun, k, v, err)
			}
		}
		out[k] = v
	}
	return out, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
