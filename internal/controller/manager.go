// Package controller is `elbow controller`: controller-runtime reconcilers
// that load Ingresses, Services and TargetGroupBindings from the
// Kubernetes API, translate them into stacks, deploy those through the
// ELBv2 and EC2 APIs (AWS or a local ELB), keep targets registered, and
// write status, conditions and Events where users look.
//
// The sub-packages each do one job: targets (TargetGroupBindings and
// readiness gates), webhooks (admission), cloudfacts (the cloud facts
// reader), kube (shared reconciler helpers).
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/internal/controller/cloudfacts"
	"github.com/elbowlb/elbow/internal/controller/ingress"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/controller/service"
	"github.com/elbowlb/elbow/internal/controller/targets"
	"github.com/elbowlb/elbow/internal/controller/webhooks"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// NewScheme returns the scheme of every type the controller reads.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := elbv2api.AddToScheme(s); err != nil {
		return nil, err
	}
	for _, add := range []func(*runtime.Scheme) error{gwv1.Install, gwv1beta1.Install, gwaws.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// inCluster reports whether the process runs in a pod.
func inCluster() bool {
	_, err := rest.InClusterConfig()
	return err == nil
}

// NewManager builds the controller-runtime manager the options describe:
// cache (optionally one namespace), leader election, /metrics, /healthz,
// /readyz and, unless disabled, the webhook server with its certificate.
func NewManager(cfg *rest.Config, o Options, log *slog.Logger) (manager.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	mo := ctrl.Options{
		Scheme: scheme,
		Logger: logr.FromSlogHandler(log.Handler()),
		Cache: cache.Options{
			SyncPeriod:       &o.SyncPeriod,
			DefaultTransform: cache.TransformStripManagedFields(),
		},
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddr},
		HealthProbeBindAddress:        o.HealthProbeBindAddr,
		LeaderElection:                o.EnableLeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	}
	if o.SkipNameValidation {
		skip := true
		mo.Controller.SkipNameValidation = &skip
	}
	if o.LeaderElection() && mo.LeaderElectionNamespace == "" && !inCluster() {
		mo.LeaderElectionNamespace = "kube-system"
	}
	if o.WatchNamespace != "" {
		mo.Cache.DefaultNamespaces = map[string]cache.Config{o.WatchNamespace: {}}
		// Nodes and cluster-scoped objects are read cluster-wide regardless.
	}
	if !o.DisableWebhooks {
		mo.WebhookServer = webhook.NewServer(webhook.Options{
			Host:     o.WebhookBindHost,
			Port:     o.WebhookBindPort,
			CertDir:  o.WebhookCertDir,
			CertName: o.WebhookCertFile,
			KeyName:  o.WebhookKeyFile,
		})
	}
	if cfg.QPS == 0 {
		// A config built from a kubeconfig would get client-go's default
		// client-side limit (5 requests/s); rely on the API server's
		// priority and fairness instead, as controller-runtime's GetConfig
		// (used by `elbow controller`) does.
		cfg = rest.CopyConfig(cfg)
		cfg.QPS = -1
	}
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	ready := healthz.Checker(healthz.Ping)
	if !o.DisableWebhooks {
		ready = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("ready", ready); err != nil {
		return nil, err
	}
	return mgr, nil
}

// LeaderElection reports whether leader election is on.
func (o *Options) LeaderElection() bool { return o.EnableLeaderElection }

// Deployer deploys stacks (internal/deploy).
type Deployer interface {
	Deploy(ctx context.Context, s *stack.Stack) error
}

// FactsSource gives cloud facts and looks up references they lack
// (cloudfacts.Reader).
type FactsSource interface {
	Facts(ctx context.Context, force bool) (*facts.Facts, error)
	Resolve(ctx context.Context, refs []translate.Reference) (*facts.Facts, map[translate.Reference]string, error)
}

// BackendSG finds or creates the shared backend security group
// (cloudfacts.BackendSG).
type BackendSG interface {
	ID(ctx context.Context) (string, error)
}

// Deps are the collaborators of the reconcilers.
type Deps struct {
	// ELBV2 is the ELBv2 client (the SDK's).
	ELBV2 targets.ELBV2
	// Deployer deploys Ingress, Service and Gateway stacks. Nil runs only
	// the TargetGroupBinding controller and the webhooks.
	Deployer Deployer
	// Secrets is where the deployer reads the certificate Secrets it
	// imports into ACM; Setup gives it the manager's API reader.
	Secrets *SecretSource
	// Facts gives the cloud facts translation reads.
	Facts FactsSource
	// BackendSG creates the shared backend security group on first need;
	// nil when --backend-security-group names it or it is disabled.
	BackendSG BackendSG
	// Lookup resolves names the facts do not hold (target groups, trust
	// stores, web ACLs); nil leaves them to translation's errors.
	Lookup ingress.Lookup
	// Logger is the process's logger.
	Logger *slog.Logger
}

// Setup adds every reconciler and webhook to the manager.
func Setup(ctx context.Context, mgr manager.Manager, o Options, d Deps) error {
	tgb := &targets.Reconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		ELBV2:      d.ELBV2,
		Events:     recorder(mgr, "targetGroupBinding"),
		PollMax:    o.TargetGroupBindingRequeueDuration,
		MaxTargets: o.MaxTargetsPerTargetGroup,
	}
	if err := tgb.SetupWithManager(ctx, mgr, o.TargetGroupBindingMaxConcurrentReconciles, o.TargetGroupBindingMaxBackoff); err != nil {
		return fmt.Errorf("targetGroupBinding controller: %w", err)
	}
	if d.Deployer != nil {
		topts, err := o.TranslateOptions()
		if err != nil {
			return err
		}
		var bsg BackendSG
		if o.EnableBackendSG && o.BackendSecurityGroup == "" {
			bsg = d.BackendSG
		}
		ing := &ingress.Reconciler{
			Client:    mgr.GetClient(),
			APIReader: mgr.GetAPIReader(),
			Deployer:  d.Deployer,
			Facts:     d.Facts,
			Options:   topts,
			Events:    recorder(mgr, "ingress"),
		}
		if bsg != nil {
			ing.BackendSG = bsg
		}
		if d.Lookup != nil {
			ing.Lookup = d.Lookup
		}
		if err := ing.SetupWithManager(ctx, mgr, o.IngressMaxConcurrentReconciles); err != nil {
			return fmt.Errorf("ingress controller: %w", err)
		}
		svc := &service.Reconciler{
			Client:   mgr.GetClient(),
			Deployer: d.Deployer,
			Facts:    d.Facts,
			Options:  topts,
			Events:   recorder(mgr, "service"),
		}
		if bsg != nil {
			svc.BackendSG = bsg
		}
		if err := svc.SetupWithManager(mgr, o.ServiceMaxConcurrentReconciles); err != nil {
			return fmt.Errorf("service controller: %w", err)
		}
		if d.Secrets != nil {
			d.Secrets.SetReader(mgr.GetAPIReader())
		}
		if _, err := setupGateways(ctx, mgr, o, d, topts, bsg); err != nil {
			return fmt.Errorf("gateway controllers: %w", err)
		}
	}
	if !o.DisableWebhooks {
		webhooks.Setup(mgr, webhooks.Config{
			Client:                        mgr.GetClient(),
			ELBV2:                         d.ELBV2,
			VpcID:                         o.AWSVpcID,
			IngressClass:                  o.IngressClass,
			DisableIngressClassAnnotation: o.DisableIngressClassAnnotation,
			DisableGroupNameAnnotation:    o.DisableIngressGroupNameAnnotation,
			LoadBalancerClass:             o.LoadBalancerClass,
			ServiceMutator:                o.EnableServiceMutatorWebhook,
		})
	}
	return nil
}

// PrepareWebhooks generates the serving certificate when the directory has
// none and, with --webhook-url, registers the webhook configurations
// pointing there. It runs before the manager starts.
func PrepareWebhooks(ctx context.Context, cfg *rest.Config, o Options, log *slog.Logger) error {
	if o.DisableWebhooks {
		return nil
	}
	hosts := o.WebhookHosts
	if o.WebhookURL != "" {
		if h, _, err := net.SplitHostPort(hostOf(o.WebhookURL)); err == nil {
			hosts = append([]string{h}, hosts...)
		} else {
			hosts = append([]string{hostOf(o.WebhookURL)}, hosts...)
		}
	}
	ca, err := webhooks.EnsureCert(o.WebhookCertDir, dedupe(hosts), time.Now())
	if err != nil {
		return err
	}
	if o.WebhookURL == "" {
		return nil
	}
	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if err := webhooks.Register(ctx, c, o.WebhookURL, ca, o.EnableServiceMutatorWebhook); err != nil {
		return err
	}
	log.Info("registered webhook configurations", "url", o.WebhookURL, "name", webhooks.ConfigurationName)
	return nil
}

func hostOf(u string) string {
	for _, p := range []string{"https://", "http://"} {
		if len(u) > len(p) && u[:len(p)] == p {
			u = u[len(p):]
		}
	}
	for i := 0; i < len(u); i++ {
		if u[i] == '/' {
			return u[:i]
		}
	}
	return u
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// recorder returns an Event recorder of the events.k8s.io API for a
// controller.
func recorder(mgr manager.Manager, name string) kube.Recorder {
	return kube.Recorder{Events: mgr.GetEventRecorder(name)}
}

// Run runs the controller against the cluster cfg points at until ctx
// ends: it prepares the webhooks, builds the manager, adds the
// reconcilers and starts them.
func Run(ctx context.Context, cfg *rest.Config, o Options, d Deps) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if err := PrepareWebhooks(ctx, cfg, o, d.Logger); err != nil {
		return err
	}
	mgr, err := NewManager(cfg, o, d.Logger)
	if err != nil {
		return err
	}
	if err := Setup(ctx, mgr, o, d); err != nil {
		return err
	}
	d.Logger.Info("starting controller", "cluster", o.ClusterName, "leaderElection", o.EnableLeaderElection, "webhooks", !o.DisableWebhooks)
	return mgr.Start(ctx)
}

// LogrFromSlog adapts a slog.Logger for controller-runtime.
func LogrFromSlog(l *slog.Logger) logr.Logger { return logr.FromSlogHandler(l.Handler()) }

// NewDeps builds the AWS clients and the collaborators of the reconcilers
// from the options.
func NewDeps(ctx context.Context, o Options, log *slog.Logger, reg prometheus.Registerer) (Deps, error) {
	if err := o.Validate(); err != nil {
		return Deps{}, err
	}
	metrics, err := NewAWSMetrics(reg)
	if err != nil {
		return Deps{}, err
	}
	c, err := NewClients(ctx, o, metrics)
	if err != nil {
		return Deps{}, err
	}
	topts, err := o.TranslateOptions()
	if err != nil {
		return Deps{}, err
	}
	reader := &cloudfacts.Reader{
		EC2: c.EC2, ACM: c.ACM,
		Region: c.Config.Region, ClusterName: o.ClusterName, VpcID: o.AWSVpcID,
		Refresh: o.FactsRefresh, Logger: log.With("component", "cloudfacts"),
	}
	lookup := &nameLookup{elbv2: c.ELBV2}
	if o.EnableWAFv2 {
		lookup.wafv2 = c.WAFv2
	}
	d := Deps{ELBV2: c.ELBV2, Facts: reader, Lookup: lookup, Logger: log}
	if o.EnableBackendSG && o.BackendSecurityGroup == "" {
		f, err := reader.Facts(ctx, false)
		if err != nil {
			return Deps{}, err
		}
		cloud, err := translate.NewCloud(f, &topts)
		if err != nil {
			return Deps{}, err
		}
		d.BackendSG = &cloudfacts.BackendSG{EC2: c.EC2, VpcID: cloud.VPCID(), ClusterName: o.ClusterName, Name: cloud.BackendSecurityGroupName()}
	}
	d.Secrets = &SecretSource{}
	dep, err := newDeployer(c, o, log, reg, d.Secrets)
	if err != nil {
		return Deps{}, err
	}
	d.Deployer = dep
	return d, nil
}
