package controller

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/deploy"
	"github.com/elbowlb/elbow/internal/translate"
)

// newDeployer returns the stack deployer (internal/deploy) over the
// clients; it reads the certificates it imports into ACM from secrets.
func newDeployer(c Clients, o Options, log *slog.Logger, reg prometheus.Registerer, secrets deploy.Secrets) (Deployer, error) {
	var m *deploy.Metrics
	if reg != nil {
		var err error
		if m, err = deploy.NewMetrics(reg); err != nil {
			return nil, err
		}
	}
	gates, err := translate.ParseFeatureGates(o.FeatureGates)
	if err != nil {
		return nil, err
	}
	cfg := deploy.Config{
		ClusterName:         o.ClusterName,
		VPCID:               o.AWSVpcID,
		ExternalManagedTags: o.ExternalManagedTags,
		Logger:              log.With("component", "deploy"),
		Metrics:             m,
		Secrets:             secrets,
	}
	if c.ACM != nil {
		cfg.ACM = c.ACM
	}
	if gates.Enabled(translate.GateEnableRGTAPI) && c.Tagging != nil {
		cfg.Tagging = c.Tagging
	}
	d, err := deploy.New(c.ELBV2, c.EC2, cfg)
	if err != nil {
		return nil, fmt.Errorf("deployer: %w", err)
	}
	return d, nil
}
