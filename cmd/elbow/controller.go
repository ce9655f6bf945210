package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/elbowlb/elbow/internal/cli"
	"github.com/elbowlb/elbow/internal/controller"
)

// newControllerCommand is `elbow controller`.
func newControllerCommand() *cobra.Command {
	opts := controller.DefaultOptions()
	var logOpts cli.LogOptions
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the controller: Ingresses, Services and TargetGroupBindings to AWS (or local) load balancers",
		Long: `Run the controller against a Kubernetes cluster. It reconciles Ingresses
(class alb), Services of type LoadBalancer (class service.k8s.aws/nlb) and
TargetGroupBindings with the ELBv2 and EC2 APIs of AWS, or of a local ELB
(--elb-endpoint). Flags follow the AWS Load Balancer Controller's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx, cancel := cli.SignalContext(cmd.Context())
			defer cancel()
			if opts.Kubeconfig != "" {
				if err := os.Setenv("KUBECONFIG", opts.Kubeconfig); err != nil {
					return err
				}
			}
			cfg, err := config.GetConfig()
			if err != nil {
				return fmt.Errorf("kubernetes config: %w", err)
			}
			// controller-runtime's own packages log through its global
			// logger; its /metrics serves its registry, where the AWS call
			// metrics go too.
			ctrl.SetLogger(controller.LogrFromSlog(log))
			deps, err := controller.NewDeps(ctx, opts, log, metrics.Registry)
			if err != nil {
				return err
			}
			return controller.Run(ctx, cfg, opts, deps)
		},
	}
	opts.AddFlags(cmd.Flags())
	logOpts.AddFlags(cmd.Flags())
	return cmd
}
