package health

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the checker's Prometheus series. The host counts are named
// after ELB's CloudWatch metrics HealthyHostCount and UnHealthyHostCount,
// with the LoadBalancer and TargetGroup dimensions as labels.
type metrics struct {
	healthy   *prometheus.GaugeVec
	unhealthy *prometheus.GaugeVec
	checks    *prometheus.CounterVec
	byOutcome [outcomeFailed + 1]prometheus.Counter // checks, resolved per outcome
}

func newMetrics(reg prometheus.Registerer) *metrics {
	labels := []string{"load_balancer", "target_group"}
	m := &metrics{
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "elbow_healthy_host_count",
			Help: "Targets considered healthy, per load balancer and target group (CloudWatch HealthyHostCount).",
		}, labels),
		unhealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "elbow_unhealthy_host_count",
			Help: "Targets considered unhealthy, per load balancer and target group (CloudWatch UnHealthyHostCount).",
		}, labels),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elbow_health_checks_total",
			Help: "Health checks performed, by result (success, response_code_mismatch, timeout, failed).",
		}, []string{"result"}),
	}
	if reg != nil {
		m.healthy = register(reg, m.healthy)
		m.unhealthy = register(reg, m.unhealthy)
		m.checks = register(reg, m.checks)
	}
	for o := range m.byOutcome {
		m.byOutcome[o] = m.checks.WithLabelValues(outcome(o).String())
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name (a second checker on one registry shares the series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
