// Package ctrlopts holds the options of the whole controller as tests and
// benchmarks run it. It is apart from ctrltest, which the controller's own
// packages use in their tests and which therefore cannot import the
// controller.
package ctrlopts

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
)

// ForTest returns the controller's defaults as a test runs it:
// the cluster's name, the VPC read from the cloud, no leader election,
// metrics and probes on free loopback ports, and webhooks on a free port
// with their certificate in a temporary directory.
func ForTest(t testing.TB, cluster string) controller.Options {
	t.Helper()
	o := controller.DefaultOptions()
	o.ClusterName = cluster
	o.AWSVpcID = ""
	o.EnableLeaderElection = false
	o.MetricsBindAddr = "127.0.0.1:" + strconv.Itoa(ctrltest.FreePort(t))
	o.HealthProbeBindAddr = "127.0.0.1:" + strconv.Itoa(ctrltest.FreePort(t))
	port := ctrltest.FreePort(t)
	o.WebhookBindHost = "127.0.0.1"
	o.WebhookBindPort = port
	o.WebhookCertDir = t.TempDir()
	o.WebhookURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	return o
}
