// Package conformance runs the Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, the version in go.mod, unmodified)
// against `elbow dev` for the ALB GatewayClass (profiles GATEWAY-HTTP and
// GATEWAY-GRPC) or, with -elbow-l4, for the NLB Gateways of elbow's own
// class (GATEWAY-TCP, GATEWAY-UDP and GATEWAY-TLS), and writes its report
// under conformance/reports/.
//
// The test is behind the build tag conformance (a run takes a few
// minutes; `make conformance` runs both):
//
//	flock /tmp/elbow-e2e.lock go test -tags conformance -timeout 90m ./conformance/ \
//	    -args -report-output reports/v1.6.3/alb-report.yaml -version v0.1.0
//	flock /tmp/elbow-e2e.lock go test -tags conformance -timeout 90m ./conformance/ \
//	    -args -elbow-l4 -report-output reports/v1.6.3/l4-report.yaml -version v0.1.0
//
// The suite's own flags (-run-test, -debug, -conformance-profiles,
// -report-output, -version, -skip-tests, …) apply; the profiles are
// GATEWAY-HTTP and GATEWAY-GRPC (with -elbow-l4: GATEWAY-TCP, GATEWAY-UDP
// and GATEWAY-TLS) unless -conformance-profiles says others.
//
// It starts a dev environment in the test process (a real etcd,
// kube-apiserver and kube-controller-manager from bin/, the local ELB, the
// node agent playing the suite's echo-basic and the controller), creates the
// GatewayClass the suite uses, and lets the suite read the supported
// features from that class's status. The suite's clients reach the
// Gateways' addresses (the load balancers' DNS names) through the local
// ELB's DNS server. Tests an ALB or an NLB cannot pass are skipped, each
// with the limit that rules it out (SkippedTests, SkippedTestsL4);
// docs/gateway.md lists them with the AWS documentation.
package conformance
