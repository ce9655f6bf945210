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

// setupGateways detects the Gateway API kinds the API server serves and,
// unless the ALBGatewayAPI feature gate turns it off or the kinds are
// missing (while the gate is left to its default), adds the ALB Gateway
// controller. It reports whether it did.
func setupGateways(ctx context.Context, mgr manager.Manager, o Options, d Deps, topts translate.Options, bsg BackendSG) (bool, error) {
	gates, err := translate.ParseFeatureGates(o.FeatureGates)
	if err != nil {
		return false, err
	}
	on, set := gates[gateway.GateALBGatewayAPI]
	if set && !on {
		d.Logger.Info("ALB Gateway controller off", "featureGate", gateway.GateALBGatewayAPI+"=false")
		return false, nil
	}
	kinds, err := gateway.Detect(ctx, mgr.GetRESTMapper(), mgr.GetAPIReader())
	if err != nil {
		return false, err
	}
	if !kinds.ALB {
		if set {
			return false, fmt.Errorf("--feature-gates %s=true: %s (install the Gateway API CRDs and elbow's gateway.k8s.aws CRDs)", gateway.GateALBGatewayAPI, kinds)
		}
		d.Logger.Info(kinds.String())
		return false, nil
	}
	if ls, set := gates[gateway.GateGatewayListenerSet]; set && !ls {
		kinds.ListenerSets = false
	}
	d.Logger.Info(kinds.String())
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
	if err := gateway.Setup(ctx, mgr, c, o.ALBGatewayMaxConcurrentReconciles); err != nil {
		return false, err
	}
	return true, nil
}
