package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the endpoint's request metrics.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elbow_elb_api_requests_total",
			Help: "AWS API requests served by the local ELB, by service, action and error code (OK for success).",
		}, []string{"service", "action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "elbow_elb_api_request_duration_seconds",
			Help:    "Time to serve an AWS API request, by service and action.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"service", "action"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.latency, err = register(reg, m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or reuses the collector already registered under
// the same name (two handlers on one registry share their metrics).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("api: register metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) observe(service, action, code string, d time.Duration) {
	if service == "" {
		service = "unknown"
	}
	if action == "" {
		action = "unknown"
	}
	m.requests.WithLabelValues(service, action, code).Inc()
	m.latency.WithLabelValues(service, action).Observe(d.Seconds())
}
