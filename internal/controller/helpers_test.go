package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/ctrltest"
	"github.com/elbowlb/elbow/internal/controller/ctrltest/ctrlopts"
)

// testOptions returns controller options for a test (ctrlopts.ForTest, for
// the cluster "test"), with target group bindings requeued every 2 s and
// controller names allowed to repeat across the tests of the process.
func testOptions(t testing.TB) controller.Options {
	o := ctrlopts.ForTest(t, "test")
	o.TargetGroupBindingRequeueDuration = 2 * time.Second
	o.SkipNameValidation = true
	return o
}

// localController starts an API server, a local ELB and the whole
// controller against them (edit changes the options first); it returns
// a client of the API server, the local ELB and the controller's
// collaborators.
func localController(t *testing.T, edit func(*controller.Options)) (client.Client, *ctrltest.LocalELB, controller.Deps) {
	t.Helper()
	return localControllerOn(t, ctrltest.APIServer(t), edit)
}

// localControllerOn is localController on the API server cfg.
func localControllerOn(t *testing.T, cfg *rest.Config, edit func(*controller.Options)) (client.Client, *ctrltest.LocalELB, controller.Deps) {
	t.Helper()
	c := ctrltest.Client(t, cfg)
	elb := ctrltest.StartLocalELB(t, "test", nil)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	o := testOptions(t)
	o.AWSRegion = "us-east-1"
	o.ELBEndpoint = elb.URL
	if edit != nil {
		edit(&o)
	}
	d, err := controller.NewDeps(context.Background(), o, ctrltest.Logger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	startController(t, cfg, o, d)
	return c, elb, d
}

// Controller is a controller running in the test process.
type Controller struct {
	cancel context.CancelFunc
	done   chan error
}

// startController runs the controller until Stop or the end of the test.
func startController(t testing.TB, cfg *rest.Config, o controller.Options, d controller.Deps) *Controller {
	t.Helper()
	if d.Logger == nil {
		d.Logger = ctrltest.Logger(t)
	}
	// client-go's informers log through controller-runtime's global
	// logger; it outlives any one test, so it discards.
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	c := &Controller{cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- controller.Run(ctx, cfg, o, d) }()
	t.Cleanup(func() { c.Stop(t) })
	// Ready once the webhook server serves: until then the API server
	// refuses what the webhooks (failure policy Fail) cover.
	ctrltest.WaitHTTPOK(t, "http://"+o.HealthProbeBindAddr+"/readyz", 30*time.Second)
	return c
}

// Stop stops the controller and waits for it to end.
func (c *Controller) Stop(t testing.TB) {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("controller: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("controller did not stop within 30s")
	}
}

// deps returns the collaborators of a controller without AWS.
func deps(t *testing.T) controller.Deps {
	return controller.Deps{Logger: ctrltest.Logger(t)}
}
