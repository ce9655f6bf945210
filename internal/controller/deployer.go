package controller

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elbowlb/elbow/internal/deploy"
)

// newDeployer returns the stack deployer (internal/deploy) over the
// clients.
func newDeployer(c Clients, o Options, log *slog.Logger, reg prometheus.Registerer) (Deployer, error) {
	var m *deploy.Metrics
	if reg != nil {
		var err error
		if m, err = deploy.NewMetrics(reg); err != nil {
			return nil, err
		}
	}
	d, err := deploy.New(c.ELBV2, c.EC2, deploy.Config{
		ClusterName:         o.ClusterName,
		VPCID:               o.AWSVpcID,
		ExternalManagedTags: o.ExternalManagedTags,
		Logger:              log.With("component", "deploy"),
		Metrics:             m,
	})
	if err != nil {
		return nil, fmt.Errorf("deployer: %w", err)
	}
	return d, nil
}
