package translate

// The health check of an NLB's instance targets for a Service with
// externalTrafficPolicy Local, as the reference makes it for Services and
// Gateways: kube-proxy's HTTP /healthz on the Service's
// healthCheckNodePort, which answers only on nodes with a ready endpoint.
const (
	LocalHealthCheckPath     = "/healthz"
	LocalHealthCheckInterval = 10
	LocalHealthCheckTimeout  = 6
	LocalHealthyThreshold    = 2
	LocalUnhealthyThreshold  = 2
)
