// Package gateway reconciles the Gateway API objects of elbow's
// GatewayClass controllers (controllerNames gateway.k8s.aws/alb,
// gateway.k8s.aws/nlb and elbowlb.dev/gateway) and the reference
// controller's gateway.k8s.aws configuration objects.
//
// Every reconciler reads the same world (world.go) from the cache and
// translates it with internal/translate/gateway, which decides the stack of
// each Gateway and the status of every object; the reconcilers only write
// what translation decided:
//
//   - Gateways (gateway.go): finalizer, the dry-run plan annotation, add-on
//     annotations, the stack deployed and its TargetGroupBindings applied,
//     status (conditions, listeners, addresses) and that of the Gateway's
//     ListenerSets, Events.
//   - HTTPRoutes, GRPCRoutes, TCPRoutes, UDPRoutes and TLSRoutes
//     (routes.go): status.parents, keeping other controllers' entries.
//   - GatewayClasses (classes.go): finalizer, Accepted, SupportedVersion and
//     supportedFeatures.
//   - LoadBalancerConfigurations, TargetGroupConfigurations and
//     ListenerRuleConfigurations (configs.go): finalizer (held while in
//     use) and status.
//
// The Gateway API CRDs are optional: Detect reports which kinds the API
// server serves; the ALB controller runs when the HTTP route kinds are
// served, the NLB one when the L4 route kinds are, and neither when the
// Gateway kinds are missing, as the reference does.
package gateway

import (
	"context"
	"fmt"
	"log/slog"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// Event reasons, the reference controller's.
const (
	ReasonFailedAddFinalizer     = "FailedAddFinalizer"
	ReasonFailedRemoveFinalizer  = "FailedRemoveFinalizer"
	ReasonFailedUpdateStatus     = "FailedUpdateStatus"
	ReasonFailedBuildModel       = "FailedBuildModel"
	ReasonFailedDeployModel      = "FailedDeployModel"
	ReasonSuccessfullyReconciled = "SuccessfullyReconciled"
)

// Deployer deploys a stack and fills in its resources' status; a stack
// without resources deletes what the stack owns (internal/deploy).
type Deployer interface {
	Deploy(ctx context.Context, s *stack.Stack) error
}

// FactsSource gives the cloud facts translation needs.
type FactsSource interface {
	Facts(ctx context.Context, force bool) (*facts.Facts, error)
}

// BackendSG finds or creates the shared backend security group.
type BackendSG interface {
	ID(ctx context.Context) (string, error)
}

// Lookup resolves the names translation cannot answer from the facts:
// target groups named by backendRefs of kind TargetGroupName and trust
// stores named by LoadBalancerConfigurations. Each returns "" (and no
// error) for a name that does not exist.
type Lookup interface {
	TargetGroupARN(ctx context.Context, name string) (string, error)
	TrustStoreARN(ctx context.Context, name string) (string, error)
}

// Config holds what the reconcilers share.
type Config struct {
	Client client.Client
	// APIReader reads Secrets (not cached) and the Gateway API CRDs.
	APIReader client.Reader
	Deployer  Deployer
	Facts     FactsSource
	Options   translate.Options
	// Events records Events; the zero Recorder drops them.
	Events kube.Recorder
	// BackendSG creates the shared backend security group on first need;
	// nil when it is named by flag or disabled.
	BackendSG BackendSG
	// Lookup resolves names; nil leaves them to translation's errors.
	Lookup Lookup
	// Kinds are the Gateway API kinds the API server serves (Detect).
	Kinds Kinds
	// Logger receives what happens outside reconciles.
	Logger *slog.Logger

	// backendSG is the shared backend security group's ID once known.
	backendSG knownID
	// secrets are the certificate and OIDC Secrets last read.
	secrets secretCache
	// memo is the last translation the status reconcilers shared.
	memo buildMemo
}

// controllers are the controllerNames whose GatewayClasses this
// controller serves: the ALB and NLB ones as their kinds say, and
// elbow's own when either runs.
func (c *Config) controllers() map[gwv1.GatewayController]bool {
	out := map[gwv1.GatewayController]bool{}
	if c.Kinds.ALB {
		out[trgw.ControllerALB] = true
	}
	if c.Kinds.NLB {
		out[trgw.ControllerNLB] = true
	}
	if c.Kinds.ALB || c.Kinds.NLB {
		out[trgw.ControllerAuto] = true
	}
	return out
}

// off names the controllers that do not run, for translation.
func (c *Config) off() []gwv1.GatewayController {
	var out []gwv1.GatewayController
	if !c.Kinds.ALB {
		out = append(out, trgw.ControllerALB)
	}
	if !c.Kinds.NLB {
		out = append(out, trgw.ControllerNLB)
	}
	return out
}

// routeKinds are the route kinds of the controllers that run.
func (c *Config) routeKinds() []routeKind {
	var out []routeKind
	if c.Kinds.ALB {
		out = append(out, httpRoutes, grpcRoutes)
	}
	if c.Kinds.NLB {
		out = append(out, tcpRoutes, udpRoutes, tlsRoutes)
	}
	return out
}

// Setup registers the cache indexes and every reconciler of the Gateway
// controllers c.Kinds says can run (ALB, NLB or both).
func Setup(ctx context.Context, mgr ctrl.Manager, c *Config, maxConcurrent int) error {
	if !c.Kinds.ALB && !c.Kinds.NLB {
		return fmt.Errorf("the Gateway controllers need kinds the API server does not serve: %v, %v", c.Kinds.Missing, c.Kinds.MissingNLB)
	}
	if err := c.indexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("gateway indexes: %w", err)
	}
	if err := (&ClassReconciler{Config: c}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("gatewayclass controller: %w", err)
	}
	if err := (&GatewayReconciler{Config: c}).SetupWithManager(mgr, maxConcurrent); err != nil {
		return fmt.Errorf("gateway controller: %w", err)
	}
	for _, k := range c.routeKinds() {
		if err := (&RouteReconciler{Config: c, kind: k}).SetupWithManager(mgr, maxConcurrent); err != nil {
			return fmt.Errorf("%s controller: %w", k.kind, err)
		}
	}
	for _, r := range NewConfigReconcilers(c) {
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("%s controller: %w", r.kind.kind, err)
		}
	}
	return nil
}
