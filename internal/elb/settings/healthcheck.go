package settings

import (
	"strings"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// HealthCheck is a target group's health check, as its record holds it.
type HealthCheck struct {
	// Protocol is HTTP, HTTPS or TCP; empty for Lambda target groups.
	Protocol string
	// Port is "traffic-port" or a port number; empty for Lambda target
	// groups.
	Port string
	// Path, MatcherHTTP and MatcherGRPC are set for HTTP and HTTPS
	// checks (MatcherGRPC for protocol version GRPC, MatcherHTTP
	// otherwise).
	Path        string
	MatcherHTTP string
	MatcherGRPC string
	// IntervalSeconds, TimeoutSeconds and the thresholds are whole
	// numbers (seconds, checks).
	IntervalSeconds    int32
	TimeoutSeconds     int32
	HealthyThreshold   int32
	UnhealthyThreshold int32
}

// DefaultHealthCheck returns the health check ELB documents as the default
// of a target group's family, protocol and protocol version, with the
// health check protocol protocol (empty: the family's default, HTTP for
// Application Load Balancers and Lambda, TCP for the others).
func DefaultHealthCheck(tg *state.TargetGroup, protocol string) HealthCheck {
	family := Family(tg)
	if protocol == "" {
		switch family {
		case application, lambda:
			protocol = "HTTP"
		default:
			protocol = "TCP"
		}
	}
	h := HealthCheck{
		Protocol:           protocol,
		Port:               "traffic-port",
		IntervalSeconds:    30,
		TimeoutSeconds:     10,
		HealthyThreshold:   5,
		UnhealthyThreshold: 2,
	}
	switch {
	case family == lambda:
		h.Protocol, h.Port = "", ""
		h.IntervalSeconds, h.TimeoutSeconds = 35, 30
		h.UnhealthyThreshold = 5
	case tg.Protocol == "GENEVE":
		h.Port = "80"
		h.IntervalSeconds, h.TimeoutSeconds = 10, 5
	case tg.Protocol == "HTTP":
		h.TimeoutSeconds = 6
	}
	if protocol == "HTTP" || protocol == "HTTPS" || family == lambda {
		if strings.EqualFold(tg.ProtocolVersion, "GRPC") {
			h.Path, h.MatcherGRPC = "/AWS.ALB/healthcheck", "12"
		} else {
			h.Path, h.MatcherHTTP = "/", "200"
			if family == network || family == gateway {
				h.MatcherHTTP = "200-399"
			}
		}
	}
	return h
}

// Record writes h into a target group's record.
func (h HealthCheck) Record(tg *state.TargetGroup) {
	tg.HealthCheckProtocol, tg.HealthCheckPort = h.Protocol, h.Port
	tg.HealthCheckPath, tg.MatcherHTTPCode, tg.MatcherGRPCCode = h.Path, h.MatcherHTTP, h.MatcherGRPC
	tg.HealthCheckIntervalSeconds, tg.HealthCheckTimeoutSeconds = h.IntervalSeconds, h.TimeoutSeconds
	tg.HealthyThresholdCount, tg.UnhealthyThresholdCount = h.HealthyThreshold, h.UnhealthyThreshold
}
