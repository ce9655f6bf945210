package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// AWSMetrics counts the controller's AWS API calls (each operation call,
// retries included once) by service, operation and outcome.
type AWSMetrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu     sync.Mutex
	counts map[[2]string]int
}

// NewAWSMetrics registers the metrics elbow_controller_aws_api_calls_total
// and elbow_controller_aws_api_call_duration_seconds on reg.
func NewAWSMetrics(reg prometheus.Registerer) (*AWSMetrics, error) {
	m := &AWSMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elbow_controller_aws_api_calls_total",
			Help: "AWS API calls by service, operation and error code (OK on success).",
		}, []string{"service", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "elbow_controller_aws_api_call_duration_seconds",
			Help:    "Duration of AWS API calls, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"service", "operation"}),
		counts: map[[2]string]int{},
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// Middleware returns the SDK middleware that records each call.
func (m *AWSMetrics) Middleware() func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("elbowMetrics",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				code := "OK"
				if err != nil {
					code = "Error"
					var ae smithy.APIError
					if errors.As(err, &ae) {
						code = ae.ErrorCode()
					}
				}
				m.calls.WithLabelValues(svc, op, code).Inc()
				m.duration.WithLabelValues(svc, op).Observe(time.Since(start).Seconds())
				m.mu.Lock()
				m.counts[[2]string{svc, op}]++
				m.mu.Unlock()
				return out, md, err
			}), middleware.Before)
	}
}

// Counts returns the calls made so far by "service/operation".
func (m *AWSMetrics) Counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.counts))
	for k, v := range m.counts {
		out[k[0]+"/"+k[1]] = v
	}
	return out
}
