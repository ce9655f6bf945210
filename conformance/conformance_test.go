//go:build conformance

package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	gwconformance "sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/tests"
	conformanceconfig "sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/flags"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"
	"sigs.k8s.io/yaml"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/devenv"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// The suite's own flags (-run-test, -debug, -report-output,
// -conformance-profiles, -version, -skip-tests, …) override the options
// below; these are elbow's.
var (
	stateDir = flag.String("elbow-state-dir", "", "state directory of the dev environment (kept, with its logs); a temporary one when empty")
	slot     = flag.Int("elbow-slot", 14, fmt.Sprintf("address slot of the dev environment (1-%d)", devenv.MaxSlot))
	noSkip   = flag.Bool("elbow-no-skip", false, "run the tests SkippedTests (SkippedTestsL4) lists too")
	l4       = flag.Bool("elbow-l4", false, "run the GATEWAY-TCP, GATEWAY-UDP and GATEWAY-TLS profiles (class "+ClassNameL4+") instead of GATEWAY-HTTP and GATEWAY-GRPC (class "+ClassName+")")
)

// ClassName is the GatewayClass the suite's Gateways use.
const ClassName = "elbow-alb"

// ClassNameL4 is the GatewayClass of the L4 profiles' run, of elbow's own
// controller elbowlb.dev/gateway: the suite's base Gateways (HTTP
// listeners, which must be Accepted and Programmed before any test runs)
// become ALBs, the L4 tests' Gateways (TCP, UDP and TLS listeners) NLBs,
// exactly as a class of controller gateway.k8s.aws/nlb makes them. The
// features are the NLB class's (SupportedFeaturesNLB), given to the
// suite: those of the class's status would run the HTTP tests again.
const ClassNameL4 = "elbow-l4"

// SkippedTestsL4 are the tests of the GATEWAY-TCP, GATEWAY-UDP and
// GATEWAY-TLS profiles (core, or of a feature the NLB class claims) that an
// NLB cannot pass, with the limit that rules each out; docs/gateway.md
// gives the AWS documentation.
var SkippedTestsL4 = map[string]string{
	"TLSRouteHostnameIntersection": "an NLB does not route by SNI: a TLS Passthrough listener is a TCP listener with one default action, so neither several TLSRoutes of different hostnames on one listener nor refusing a connection whose SNI matches no route can be done (elbow refuses the later routes, UnsupportedValue)",
}

// SkippedTests are the tests of the GATEWAY-HTTP and GATEWAY-GRPC profiles
// (core, or of a feature the class claims) that an ALB cannot pass, with the
// limit that rules each out; docs/gateway.md gives the AWS documentation.
var SkippedTests = map[string]string{
	"HTTPRouteRequestHeaderModifier":    "ALB listener rules do not add, set or remove request headers",
	"HTTPRouteRedirectPortAndScheme":    "ALB redirects HTTPS to HTTPS only, never to HTTP; the test's HTTPS listener redirects to http",
	"GRPCExactMethodMatching":           "ALB serves gRPC on HTTPS listeners only; the test calls a plaintext HTTP listener",
	"GRPCRouteHeaderMatching":           "ALB serves gRPC on HTTPS listeners only; the test calls a plaintext HTTP listener",
	"GRPCRouteListenerHostnameMatching": "ALB serves gRPC on HTTPS listeners only; the test calls a plaintext HTTP listener",
	"GRPCRouteWeight":                   "ALB serves gRPC on HTTPS listeners only; the test calls a plaintext HTTP listener",
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}

// TestConformance runs the suite's profiles against a dev environment.
func TestConformance(t *testing.T) {
	rep := startDev(t)
	useDNS(rep.DNSServer)
	cfg, err := clientcmd.BuildConfigFromFlags("", rep.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, v1alpha2.Install, v1alpha3.Install,
		xv1alpha1.Install, apiextensionsv1.AddToScheme, gwaws.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	class, controller, skipped := ClassName, trgw.ControllerALB, SkippedTests
	profiles := []suite.ConformanceProfileName{suite.GatewayHTTPConformanceProfileName, suite.GatewayGRPCConformanceProfileName}
	var supported []features.FeatureName
	if *l4 {
		class, controller, skipped = ClassNameL4, trgw.ControllerAuto, SkippedTestsL4
		profiles = []suite.ConformanceProfileName{suite.GatewayTCPConformanceProfileName, suite.GatewayUDPConformanceProfileName, suite.GatewayTLSConformanceProfileName}
		supported = trgw.SupportedFeaturesNLB
	}
	createClass(t, c, class, controller)

	var skip []string
	if !*noSkip {
		for name := range skipped {
			skip = append(skip, name)
		}
		sort.Strings(skip)
	}
	co := suite.ConfigurableOptions{
		GatewayClassName:     class,
		CleanupBaseResources: true,
		CleanupTestResources: true,
		SkipTests:            skip,
		SupportedFeatures:    supported,
		Mode:                 "default",
		ConformanceProfiles:  profiles,
		Implementation: confv1.Implementation{
			Organization: "elbowlb",
			Project:      "elbow",
			URL:          "https://github.com/elbowlb/elbow",
			Version:      "dev",
			Contact:      []string{"https://github.com/elbowlb/elbow/issues"},
		},
		TimeoutConfig: conformanceconfig.DefaultTimeoutConfig(),
	}
	flags.ApplyAll(&co)
	opts := suite.ConformanceOptions{
		ConfigurableOptions: co,
		Client:              c,
		ClientOptions:       client.Options{Scheme: scheme},
		Clientset:           cs,
		RestConfig:          cfg,
		ManifestFS:          []fs.FS{&gwconformance.Manifests},
	}
	cSuite, err := suite.NewConformanceTestSuite(opts)
	if err != nil {
		t.Fatalf("conformance suite: %v", err)
	}
	if supported == nil {
		t.Logf("supported features (from GatewayClass %s): %v", class, trgw.SupportedFeatures)
	} else {
		t.Logf("supported features (the NLB class's; GatewayClass %s claims the ALB's too): %v", class, supported)
	}
	// The suite's tests run in parallel subtests, which end after Run
	// returns: the report is made once they have.
	t.Cleanup(func() {
		r, err := cSuite.Report()
		if err != nil {
			t.Errorf("report: %v", err)
			return
		}
		out, err := yaml.Marshal(r)
		if err != nil {
			t.Error(err)
			return
		}
		t.Logf("conformance report:\n%s", out)
		if path := opts.ReportOutputPath; path != "" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Error(err)
				return
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	cSuite.Setup(t, tests.ConformanceTests)
	if err := cSuite.Run(t, tests.ConformanceTests); err != nil {
		t.Error(err)
	}
}

// startDev runs a dev environment in the test process until the test ends
// and returns its endpoints.
func startDev(t *testing.T) devenv.Report {
	t.Helper()
	dir := *stateDir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(dir, "endpoints.json"))
	logFile, err := os.OpenFile(filepath.Join(dir, "logs", "elbow.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctrl.SetLogger(logr.FromSlogHandler(log.With("component", "controller-runtime").Handler()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- devenv.Run(ctx, devenv.Config{
			StateDir: dir, BinDir: filepath.Join(repoRoot(), "bin"), Slot: *slot, Wait: time.Minute,
			Nodes: devenv.DefaultNodes, ClusterName: devenv.DefaultClusterName, Out: io.Discard, Logger: log,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("elbow dev: %v", err)
		}
		logFile.Close()
	})
	t.Logf("elbow dev: state %s (logs in logs/elbow.log)", dir)
	deadline := time.Now().Add(7 * time.Minute)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "endpoints.json"))
		if err == nil {
			var rep devenv.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("endpoints.json: %v", err)
			}
			return rep
		}
		select {
		case err := <-done:
			t.Fatalf("elbow dev stopped before it served: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("elbow dev: no endpoints.json after 7 minutes")
		}
	}
}

// useDNS makes the process resolve names with the local ELB's DNS server,
// which answers for the load balancers' DNS names: the Gateways' addresses
// the suite's HTTP, gRPC and WebSocket clients dial.
func useDNS(server string) {
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// createClass creates the GatewayClass the suite uses, of the controller
// given. Its LoadBalancerConfiguration gives every Gateway's target groups
// ip targets (the suite's backends are ClusterIP Services) and health
// checks quick enough for its timeouts; an ALB class's also has the ALBs
// pass the Host header on as the client sent it
// (routing.http.preserve_host_header: by default an ALB rewrites its
// port), which the suite checks. NLBs have no such attribute; the L4
// class's target groups balance across zones instead: with cross-zone
// load balancing off (NLB's default) a zone's node forwards only to its
// own zone's targets, so a weighted target group without a target in the
// zone of the address a client picked takes none of its flows, and the
// weighted tests' backends are not in every zone.
func createClass(t *testing.T, c client.Client, className string, controller gwv1.GatewayController) {
	t.Helper()
	ctx := context.Background()
	const ns = "elbow-system"
	ip := v1beta1.TargetTypeIP
	interval, timeout, healthy, unhealthy := int32(5), int32(2), int32(2), int32(2)
	ns2 := gwv1.Namespace(ns)
	var lbAttrs []v1beta1.LoadBalancerAttribute
	var tgAttrs []v1beta1.TargetGroupAttribute
	if controller == trgw.ControllerALB {
		lbAttrs = []v1beta1.LoadBalancerAttribute{{Key: "routing.http.preserve_host_header.enabled", Value: "true"}}
	} else {
		tgAttrs = []v1beta1.TargetGroupAttribute{{Key: "load_balancing.cross_zone.enabled", Value: "true"}}
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&gwaws.TargetGroupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ip-targets"}, Spec: v1beta1.TargetGroupConfigurationSpec{
			DefaultConfiguration: v1beta1.TargetGroupProps{TargetType: &ip, HealthCheckConfig: &v1beta1.HealthCheckConfiguration{
				HealthCheckInterval: &interval, HealthCheckTimeout: &timeout, HealthyThresholdCount: &healthy, UnhealthyThresholdCount: &unhealthy},
				TargetGroupAttributes: tgAttrs},
		}},
		&gwaws.LoadBalancerConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "conformance"}, Spec: v1beta1.LoadBalancerConfigurationSpec{
			DefaultTargetGroupConfiguration: &v1beta1.DefaultTargetGroupConfigurationReference{Name: "ip-targets"},
			LoadBalancerAttributes:          lbAttrs,
		}},
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: className}, Spec: gwv1.GatewayClassSpec{
			ControllerName: controller,
			ParametersRef:  &gwv1.ParametersReference{Group: "gateway.k8s.aws", Kind: "LoadBalancerConfiguration", Name: "conformance", Namespace: &ns2},
		}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		class := &gwv1.GatewayClass{}
		err := c.Get(ctx, client.ObjectKey{Name: className}, class)
		if err == nil && meta.IsStatusConditionTrue(class.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted)) && len(class.Status.SupportedFeatures) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GatewayClass %s not accepted within 2 minutes: %v %+v", className, err, class.Status)
		}
		time.Sleep(time.Second)
	}
}
