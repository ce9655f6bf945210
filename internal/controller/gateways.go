package controller

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/elbowlb/elbow/internal/controller/gateway"
	"github.com/elbowlb/elbow/internal/translate"
)

// SecretSource reads the certificate Secrets the deployer imports into
// ACM (deploy.Secrets) through the manager's API reader, which Setup
// gives it: the deployer is built before the manager.
type SecretSource struct {
	mu     sync.RWMutex
	reader client.Reader
}

// SetReader sets the reader Secrets are read with.
func (s *SecretSource) SetReader(r client.Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reader = r
}

// TLSSecret returns a Secret's tls.crt and tls.key.
func (s *SecretSource) TLSSecret(ctx context.Context, namespace, name string) ([]byte, []byte, error) {
	s.mu.RLock()
	r := s.reader
	s.mu.RUnlock()
	if r == nil {
		return nil, nil, fmt.Errorf("secret %s/%s: no Kubernetes reader yet", namespace, name)
	}
	sec := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, sec); err != nil {
		return nil, nil, fmt.Errorf("secret %s/%s: %w", namespace, name, err)
	}
	return sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey], nil
}

// setupGateways detects the Gateway API kinds the API server serves and
// adds the Gateway controllers they allow: the ALB one unless the
// ALBGatewayAPI feature gate turns it off, the NLB one unless
// NLBGatewayAPI does (a gate set true while its kinds are missing is an
// error; left to its default, the controller is just off). It reports
// whether any runs.
func setupGateways(ctx context.Context, mgr manager.Manager, o Options, d Deps, topts translate.Options, bsg BackendSG) (bool, error) {
	gates, err := translate.ParseFeatureGates(o.FeatureGates)
	if err != nil {
		return false, err
	}
	albOn, albSet := gates[gateway.GateALBGatewayAPI]
	nlbOn, nlbSet := gates[gateway.GateNLBGatewayAPI]
	if albSet && !albOn && nlbSet && !nlbOn {
		d.Logger.Info("Gateway controllers off", "featureGates", gateway.GateALBGatewayAPI+"=false,"+gateway.GateNLBGatewayAPI+"=false")
		return false, nil
	}
	kinds, err := gateway.Detect(ctx, mgr.GetRESTMapper(), mgr.GetAPIReader())
	if err != nil {
		return false, err
	}
	const install = "install the Gateway API CRDs and elbow's gateway.k8s.aws CRDs"
	if albSet && albOn && !kinds.ALB {
		return false, fmt.Errorf("--feature-gates %s=true: %s (%s)", gateway.GateALBGatewayAPI, kinds, install)
	}
	if nlbSet && nlbOn && !kinds.NLB {
		return false, fmt.Errorf("--feature-gates %s=true: %s (%s)", gateway.GateNLBGatewayAPI, kinds, install)
	}
	if albSet && !albOn {
		kinds.ALB = false
	}
	if nlbSet && !nlbOn {
		kinds.NLB = false
	}
	if ls, set := gates[gateway.GateGatewayListenerSet]; set && !ls {
		kinds.ListenerSets = false
	}
	d.Logger.Info(kinds.String())
	if !kinds.ALB && !kinds.NLB {
		return false, nil
	}
	c := &gateway.Config{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Deployer:  d.Deployer,
		Facts:     d.Facts,
		Options:   topts,
		Events:    recorder(mgr, "gateway"),
		Kinds:     kinds,
		Logger:    d.Logger,
	}
	if bsg != nil {
		c.BackendSG = bsg
	}
	if d.Lookup != nil {
		c.Lookup = d.Lookup
	}
	// One Gateway reconciler serves ALB and NLB Gateways (the reference
	// runs one of each): it takes the larger of the two bounds.
	if err := gateway.Setup(ctx, mgr, c, max(o.ALBGatewayMaxConcurrentReconciles, o.NLBGatewayMaxConcurrentReconciles)); err != nil {
		return false, err
	}
	return true, nil
}
