package settings

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// Load balancer types, target types and families, as ELBv2 names them.
const (
	application = "application"
	network     = "network"
	gateway     = "gateway"
	lambda      = "lambda"
)

// Attribute is one attribute of a kind of resource: its key, its default
// and what values it accepts.
type Attribute struct {
	Key     string
	Default string
	// Check says why a value is not accepted (without the key or the
	// value: the caller names them); nil accepts anything.
	Check func(v string) error
}

func boolAttr(key, def string) Attribute { return Attribute{key, def, checkBool} }

func intAttr(key, def string, lo, hi int) Attribute {
	return Attribute{key, def, func(v string) error { return checkInt(v, lo, hi) }}
}

func enumAttr(key, def string, values ...string) Attribute {
	return Attribute{key, def, func(v string) error {
		for _, a := range values {
			if v == a {
				return nil
			}
		}
		return errors.New("must be one of: " + strings.Join(values, ", "))
	}}
}

func strAttr(key, def string) Attribute { return Attribute{Key: key, Default: def} }

func checkBool(v string) error {
	if v != "true" && v != "false" {
		return errors.New("must be true or false")
	}
	return nil
}

func checkInt(v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return errors.New("must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
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
			return errors.New("must be off or an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
		}
		return nil
	}
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func checkBucket(v string) error {
	if v != "" && !bucketRE.MatchString(v) {
		return errors.New("must be an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)")
	}
	return nil
}

func checkPrefix(v string) error {
	if strings.Contains(strings.ToLower(v), "awslogs") {
		return errors.New("cannot contain 'AWSLogs'")
	}
	return nil
}

func s3Attrs(prefix string) []Attribute {
	return []Attribute{
		boolAttr(prefix+".s3.enabled", "false"),
		{prefix + ".s3.bucket", "", checkBucket},
		{prefix + ".s3.prefix", "", checkPrefix},
	}
}

// LoadBalancerAttributes returns the attributes of a load balancer type
// (application, network or gateway) and scheme.
func LoadBalancerAttributes(lbType, scheme string) []Attribute {
	denyIGW := "false"
	if scheme == "internal" {
		denyIGW = "true"
	}
	switch lbType {
	case application:
		specs := []Attribute{
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
	case network:
		specs := []Attribute{
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
		return []Attribute{
			boolAttr("deletion_protection.enabled", "false"),
			boolAttr("load_balancing.cross_zone.enabled", "false"),
		}
	}
}

// Family is the kind of load balancer a target group serves: "lambda"
// for Lambda targets, else application (HTTP, HTTPS), gateway (GENEVE)
// or network.
func Family(tg *state.TargetGroup) string {
	switch {
	case tg.TargetType == lambda:
		return lambda
	case tg.Protocol == "HTTP" || tg.Protocol == "HTTPS":
		return application
	case tg.Protocol == "GENEVE":
		return gateway
	}
	return network
}

// datagram reports whether a target group protocol carries UDP (or QUIC).
func datagram(protocol string) bool {
	switch strings.ToUpper(protocol) {
	case "UDP", "TCP_UDP", "QUIC", "TCP_QUIC":
		return true
	}
	return false
}

// TargetGroupAttributes returns the attributes of a target group, by its
// family, protocol and target type.
func TargetGroupAttributes(tg *state.TargetGroup) []Attribute {
	health := []Attribute{
		{"target_group_health.dns_failover.minimum_healthy_targets.count", "1", checkOffOrInt(1, 1000000)},
		{"target_group_health.dns_failover.minimum_healthy_targets.percentage", "off", checkOffOrInt(1, 100)},
		{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1", func(v string) error { return checkInt(v, 1, 1000000) }},
		{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off", checkOffOrInt(1, 100)},
	}
	crossZone := enumAttr("load_balancing.cross_zone.enabled", "use_load_balancer_configuration", "true", "false", "use_load_balancer_configuration")
	switch Family(tg) {
	case lambda:
		return []Attribute{
			boolAttr("lambda.multi_value_headers.enabled", "false"),
			boolAttr("stickiness.enabled", "false"),
			enumAttr("stickiness.type", "lb_cookie", "lb_cookie", "app_cookie"),
			intAttr("stickiness.lb_cookie.duration_seconds", "86400", 1, 604800),
		}
	case application:
		specs := []Attribute{
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
	case gateway:
		return []Attribute{
			intAttr("deregistration_delay.timeout_seconds", "300", 0, 3600),
			boolAttr("stickiness.enabled", "false"),
			enumAttr("stickiness.type", "source_ip_dest_ip_proto", "source_ip_dest_ip", "source_ip_dest_ip_proto"),
			enumAttr("target_failover.on_deregistration", "no_rebalance", "rebalance", "no_rebalance"),
			enumAttr("target_failover.on_unhealthy", "no_rebalance", "rebalance", "no_rebalance"),
			boolAttr("send_tcp_reset.on_unhealthy.enabled", "false"),
			boolAttr("send_tcp_reset.on_deregistration.enabled", "false"),
		}
	default:
		udp := datagram(tg.Protocol)
		// Client IP preservation is on for instance targets and for
		// UDP and QUIC protocols, off for IP targets with TCP or TLS.
		preserve := "true"
		if tg.TargetType == "ip" && !udp {
			preserve = "false"
		}
		connTerm, unhealthyTerm := "false", "true"
		if udp {
			connTerm, unhealthyTerm = "true", "false"
		}
		specs := []Attribute{
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
			return errors.New("cannot start with AWSALB, AWSALBAPP or AWSALBTG (reserved for the load balancer)")
		}
	}
	return nil
}

func checkSlowStart(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || (n != 0 && (n < 30 || n > 900)) {
		return errors.New("must be 0 (disabled) or an integer from 30 to 900")
	}
	return nil
}

// headerNameRE is a header name ELB accepts in listener attributes and
// rule conditions: a token of 1 to 40 characters.
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}$")

// ValidHeaderName reports whether ELB accepts a header name in listener
// attributes and rule conditions (a token of 1 to 40 characters).
func ValidHeaderName(v string) bool { return headerNameRE.MatchString(v) }

func checkHeaderName(v string) error {
	if !ValidHeaderName(v) {
		return errors.New("must be an HTTP header name of 1 to 40 characters")
	}
	return nil
}

// ResponseHeaderAttributes are the ALB listener attributes that add a
// response header, with the header each adds.
var ResponseHeaderAttributes = []struct{ Key, Header string }{
	{"routing.http.response.strict_transport_security.header_value", "Strict-Transport-Security"},
	{"routing.http.response.access_control_allow_origin.header_value", "Access-Control-Allow-Origin"},
	{"routing.http.response.access_control_allow_methods.header_value", "Access-Control-Allow-Methods"},
	{"routing.http.response.access_control_allow_headers.header_value", "Access-Control-Allow-Headers"},
	{"routing.http.response.access_control_allow_credentials.header_value", "Access-Control-Allow-Credentials"},
	{"routing.http.response.access_control_expose_headers.header_value", "Access-Control-Expose-Headers"},
	{"routing.http.response.access_control_max_age.header_value", "Access-Control-Max-Age"},
	{"routing.http.response.content_security_policy.header_value", "Content-Security-Policy"},
	{"routing.http.response.x_content_type_options.header_value", "X-Content-Type-Options"},
	{"routing.http.response.x_frame_options.header_value", "X-Frame-Options"},
}

// ListenerAttributes returns the attributes of a listener of a load
// balancer type and protocol.
func ListenerAttributes(lbType, protocol string) []Attribute {
	switch lbType {
	case application:
		specs := []Attribute{
			boolAttr("routing.http.response.server.enabled", "true"),
		}
		for _, h := range ResponseHeaderAttributes {
			specs = append(specs, strAttr(h.Key, ""))
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
				specs = append(specs, Attribute{"routing.http.request." + h.key + ".header_name", h.name, checkHeaderName})
			}
		}
		return specs
	case gateway:
		return []Attribute{
			intAttr("tcp.idle_timeout.seconds", "350", 60, 6000),
			boolAttr("send_tcp_reset.on_idle_timeout.enabled", "false"),
		}
	default:
		if protocol == "UDP" || protocol == "QUIC" {
			return nil
		}
		return []Attribute{intAttr("tcp.idle_timeout.seconds", "350", 60, 6000)}
	}
}

// Defaults returns the default attribute map of attrs.
func Defaults(attrs []Attribute) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Default
	}
	return m
}
