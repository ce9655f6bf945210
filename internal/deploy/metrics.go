package deploy

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the deployer's Prometheus metrics. The AWS calls themselves
// are counted by the SDK middleware of the clients (the controller's
// elbow_controller_aws_api_calls_total).
type Metrics struct {
	deploys  *prometheus.CounterVec
	duration prometheus.Histogram
	changes  *prometheus.CounterVec
}

// NewMetrics registers the deployer's metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		deploys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elbow_deploys_total", Help: "Stack deploys by result (ok, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "elbow_deploy_duration_seconds", Help: "Time to deploy one stack.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elbow_deploy_resources_total", Help: "AWS resources created, changed, moved or deleted by deploys.",
		}, []string{"resource", "change"}),
	}
	for _, c := range []prometheus.Collector{m.deploys, m.duration, m.changes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("deploy metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observeDeploy(start time.Time, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.deploys.WithLabelValues(result).Inc()
	m.duration.Observe(time.Since(start).Seconds())
}

func (m *Metrics) countChange(resource, change string) {
	if m == nil {
		return
	}
	m.changes.WithLabelValues(resource, change).Inc()
}
