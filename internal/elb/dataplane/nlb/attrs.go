package nlb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The attribute keys the data plane reads, as ELBv2 names them.
const (
	attrCrossZone          = "load_balancing.cross_zone.enabled"
	attrPreserveClientIP   = "preserve_client_ip.enabled"
	attrProxyProtocolV2    = "proxy_protocol_v2.enabled"
	attrDrainTermination   = "deregistration_delay.connection_termination.enabled"
	attrUnhealthyTerminate = "target_health_state.unhealthy.connection_termination.enabled"
	attrUnhealthyDraining  = "target_health_state.unhealthy.draining_interval_seconds"
	attrStickinessEnabled  = "stickiness.enabled"
	attrStickinessType     = "stickiness.type"
	attrTCPIdleTimeout     = "tcp.idle_timeout.seconds"

	useLBConfiguration = "use_load_balancer_configuration"
)

// Defaults AWS documents for network load balancers.
const (
	defaultTCPIdleTimeout = 350 * time.Second
	udpIdleTimeout        = 120 * time.Second
)

// tgSettings are a target group's data-plane attributes, with AWS's
// defaults filled in.
type tgSettings struct {
	protocol string // TCP, TLS, UDP, TCP_UDP
	// crossZone is "true", "false" or use_load_balancer_configuration.
	crossZone          string
	preserveClientIP   bool
	proxyV2            bool
	stickySourceIP     bool
	drainTerminate     bool
	unhealthyTerminate bool
	unhealthyDraining  time.Duration
}

// parseBool reads an attribute holding "true" or "false"; an absent key
// gives def.
func parseBool(attrs map[string]string, key string, def bool) (bool, error) {
	v, ok := attrs[key]
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return def, fmt.Errorf("attribute %s = %q: want true or false", key, v)
}

// parseSeconds reads a non-negative whole number of seconds; an absent key
// gives def.
func parseSeconds(attrs map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := attrs[key]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return def, fmt.Errorf("attribute %s = %q: want a whole number of seconds", key, v)
	}
	return time.Duration(n) * time.Second, nil
}

// targetGroupSettings reads a target group's attributes. Client IP
// preservation defaults to on for instance targets and for UDP and TCP_UDP
// target groups, and to off for IP targets with TCP or TLS, as AWS
// documents; for UDP and TCP_UDP it cannot be turned off. Errors name the
// attribute; the setting then keeps its default.
func targetGroupSettings(tg *state.TargetGroup) (tgSettings, []error) {
	var errs []error
	s := tgSettings{protocol: strings.ToUpper(tg.Protocol)}
	a := tg.Attributes
	s.crossZone = useLBConfiguration
	if v, ok := a[attrCrossZone]; ok && v != "" {
		switch strings.ToLower(v) {
		case "true", "false", useLBConfiguration:
			s.crossZone = strings.ToLower(v)
		default:
			errs = append(errs, fmt.Errorf("attribute %s = %q: want true, false or %s", attrCrossZone, v, useLBConfiguration))
		}
	}
	udp := s.protocol == "UDP" || s.protocol == "TCP_UDP"
	defPreserve := tg.TargetType == "instance" || udp
	var err error
	if s.preserveClientIP, err = parseBool(a, attrPreserveClientIP, defPreserve); err != nil {
		errs = append(errs, err)
	}
	if udp {
		s.preserveClientIP = true
	}
	if s.proxyV2, err = parseBool(a, attrProxyProtocolV2, false); err != nil {
		errs = append(errs, err)
	}
	sticky, err := parseBool(a, attrStickinessEnabled, false)
	if err != nil {
		errs = append(errs, err)
	}
	if sticky {
		typ := a[attrStickinessType]
		if typ == "" || typ == "source_ip" {
			s.stickySourceIP = true
		}
	}
	if s.drainTerminate, err = parseBool(a, attrDrainTermination, false); err != nil {
		errs = append(errs, err)
	}
	if s.unhealthyTerminate, err = parseBool(a, attrUnhealthyTerminate, true); err != nil {
		errs = append(errs, err)
	}
	if s.unhealthyDraining, err = parseSeconds(a, attrUnhealthyDraining, 0); err != nil {
		errs = append(errs, err)
	}
	return s, errs
}

// lbCrossZone reads a network load balancer's cross-zone attribute (off
// by default for NLBs).
func lbCrossZone(lb *state.LoadBalancer) (bool, error) {
	return parseBool(lb.Attributes, attrCrossZone, false)
}

// effectiveCrossZone combines the target group's setting with the load
// balancer's: the target group's wins unless it defers.
func effectiveCrossZone(tg tgSettings, lb bool) bool {
	switch tg.crossZone {
	case "true":
		return true
	case "false":
		return false
	}
	return lb
}

// listenerIdleTimeout reads tcp.idle_timeout.seconds (default 350). Any
// positive value is honoured: the API enforces AWS's 60–6000 range.
func listenerIdleTimeout(l *state.Listener) (time.Duration, error) {
	d, err := parseSeconds(l.Attributes, attrTCPIdleTimeout, defaultTCPIdleTimeout)
	if err == nil && d == 0 {
		return defaultTCPIdleTimeout, fmt.Errorf("attribute %s = 0: want a positive number of seconds", attrTCPIdleTimeout)
	}
	return d, err
}
