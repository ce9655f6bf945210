package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/elbowlb/elbow/internal/cli"
	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/devenv"
)

// newDevCommand is `elbow dev`.
func newDevCommand() *cobra.Command {
	cfg := devenv.Config{Nodes: devenv.DefaultNodes, ClusterName: devenv.DefaultClusterName, Wait: devenv.DefaultWait}
	var (
		verbose bool
		logOpts cli.LogOptions
	)
	cmd := &cobra.Command{
		Use:   "dev [-f FILE|DIR ...]",
		Short: "Run a whole local cluster (control plane, nodes, local ELB, controller) with your manifests",
		Long: `Run a local Kubernetes cluster in which EKS load-balancer manifests work
unedited: a real etcd, kube-apiserver and kube-controller-manager (built by
make tools into bin/), elbow's and the Gateway API's CRDs, the local ELB,
--nodes nodes registered as EC2 instances, a node agent that runs every
container as a built-in echo server on its pod's address, a node proxy
(NodePorts, health check node ports) and the controller.

It applies the files (namespaces and CRDs first, server-side apply), waits
until every load balancer they produce serves, prints how to reach each one
and writes STATE_DIR/endpoints.json, then runs until Ctrl-C. STATE_DIR keeps
the cluster and the load balancers (same addresses) across restarts;
STATE_DIR/kubeconfig is for kubectl, STATE_DIR/logs has every component's
logs.

With --controller=none it runs everything but the controller and prints
(and writes to endpoints.json) what another controller needs: the endpoint
of each AWS service, the region, VPC ID, credentials, kubeconfig and a
webhook certificate directory, as environment variables and as the AWS
Load Balancer Controller's flags. Once that controller's webhook server
answers, elbow dev registers the webhook configurations and the IngressClass
alb, then applies the files.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.StateDir == "" {
				dir, err := os.UserCacheDir()
				if err != nil {
					return fmt.Errorf("no --state-dir and no user cache directory: %w", err)
				}
				cfg.StateDir = filepath.Join(dir, "elbow", "dev")
			}
			if cfg.BinDir == "" {
				cfg.BinDir = findBinDir()
			}
			if err := os.MkdirAll(filepath.Join(cfg.StateDir, "logs"), 0o700); err != nil {
				return err
			}
			logFile, err := os.OpenFile(filepath.Join(cfg.StateDir, "logs", "elbow.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer logFile.Close()
			var logOut io.Writer = logFile
			if verbose {
				logOut = io.MultiWriter(logFile, cmd.ErrOrStderr())
			}
			log, err := logOpts.Logger(logOut)
			if err != nil {
				return err
			}
			ctrl.SetLogger(controller.LogrFromSlog(log.With("component", "controller-runtime")))
			cfg.Logger = log
			cfg.Out = cmd.OutOrStdout()
			ctx, cancel := cli.SignalContext(cmd.Context())
			defer cancel()
			start := time.Now()
			err = devenv.Run(ctx, cfg)
			log.Info("elbow dev stopped", "after", time.Since(start).Round(time.Second), "error", err)
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&cfg.Files, "filename", "f", nil, "manifest file or directory to apply (repeatable)")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, fmt.Sprintf("number of nodes, spread over zones a, b, c (1-%d)", devenv.MaxNodes))
	f.StringVar(&cfg.StateDir, "state-dir", "", "directory that keeps the cluster and the load balancers (default: USER_CACHE_DIR/elbow/dev)")
	f.StringVar(&cfg.BinDir, "bin-dir", "", "directory with etcd, kube-apiserver and kube-controller-manager (default: $ELBOW_BIN_DIR, else bin/ next to the elbow binary, else ./bin)")
	f.StringVar(&cfg.ClusterName, "cluster-name", cfg.ClusterName, "cluster name (tags, names, subnet discovery)")
	f.IntVar(&cfg.Slot, "slot", 0, fmt.Sprintf("address slot 0-%d, to run several dev clusters side by side (each with its own --state-dir); fixed at the first start", devenv.MaxSlot))
	f.DurationVar(&cfg.Wait, "wait", cfg.Wait, "how long to wait for the load balancers to serve before printing them")
	f.StringVar(&cfg.Controller, "controller", devenv.ControllerElbow, fmt.Sprintf("controller to run: %s, or %s to run another one yourself with the settings elbow dev prints", devenv.ControllerElbow, devenv.ControllerNone))
	f.BoolVar(&cfg.Processes, "processes", false, "run the local ELB and the controller (unless --controller=none) as child processes (elbow elb, elbow controller), started again whenever they exit; STATE_DIR/processes.json names them (for tests that kill them)")
	f.StringVar(&cfg.ControllerRBAC, "controller-rbac", "", "run the controller as the ServiceAccount of this file, with only the permissions of its RBAC objects (e.g. helm template charts/elbow --show-only templates/serviceaccount.yaml --show-only templates/rbac.yaml); requests the API server forbids are logged")
	f.StringVar(&cfg.IAMPolicy, "iam-policy", "", "make the local ELB enforce this IAM policy (e.g. docs/install/iam_policy.json) on every request; denials are logged")
	f.BoolVar(&verbose, "verbose", false, "also write every component's logs to stderr (they always go to STATE_DIR/logs/elbow.log)")
	logOpts.AddFlags(f)
	return cmd
}

// findBinDir returns the first directory holding kube-apiserver among
// $ELBOW_BIN_DIR, the elbow binary's directory and ./bin (else ./bin, for
// kubeproc's error message).
func findBinDir() string {
	var dirs []string
	if d := os.Getenv("ELBOW_BIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	dirs = append(dirs, "bin")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err == nil {
			if abs, err := filepath.Abs(d); err == nil {
				return abs
			}
			return d
		}
	}
	abs, err := filepath.Abs("bin")
	if err != nil {
		return "bin"
	}
	return abs
}
