package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/elbowlb/elbow/internal/awsthrottle"
	"github.com/elbowlb/elbow/internal/cli"
	"github.com/elbowlb/elbow/internal/elb/api"
	"github.com/elbowlb/elbow/internal/elb/server"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/iampolicy"
)

// newELBCommand is `elbow elb`, the local ELB.
func newELBCommand() *cobra.Command {
	var (
		cfg       server.Config
		factsFile string
		throttle  string
		iamPolicy string
		logOpts   cli.LogOptions
	)
	cmd := &cobra.Command{
		Use:   "elb",
		Short: "Run the local ELB: the AWS ELBv2, EC2 and ACM APIs with real ALB and NLB data planes",
		Long: `Run the local ELB, an AWS endpoint for ELBv2 (and the parts of EC2, ACM,
WAFv2, Shield, Resource Groups Tagging and STS that load balancer clients
use) that really carries traffic: each load balancer listens on loopback
addresses of its own. Point the AWS CLI (--endpoint-url) or any AWS SDK at
--listen. State persists in --state-dir. See docs/local-elb.md.

Credentials come from --access-key-id/--secret-access-key or the
environment (ELBOW_ACCESS_KEY_ID, ELBOW_SECRET_ACCESS_KEY); the development
default test/test is refused when --listen is not a loopback address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logOpts.Logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if cfg.StateDir == "" {
				return errors.New("--state-dir is required")
			}
			if cfg.AccessKeyID == "" {
				cfg.AccessKeyID = os.Getenv("ELBOW_ACCESS_KEY_ID")
			}
			if cfg.SecretAccessKey == "" {
				cfg.SecretAccessKey = os.Getenv("ELBOW_SECRET_ACCESS_KEY")
			}
			if factsFile != "" {
				if cmd.Flags().Changed("cluster-name") {
					return errors.New("--cluster-name applies to the default facts; with --facts, set clusterName in the file")
				}
				if cfg.Facts, err = facts.Load(factsFile); err != nil {
					return err
				}
				if !cmd.Flags().Changed("region") {
					cfg.Region = ""
				}
			}
			rules, err := awsthrottle.Parse(throttle)
			if err != nil {
				return fmt.Errorf("--throttle: %w", err)
			}
			for _, r := range rules {
				cfg.Throttle = append(cfg.Throttle, api.ThrottleRule{Service: r.Service, Action: r.Operation, Rate: r.Rate, Burst: r.Burst})
			}
			if iamPolicy != "" {
				b, err := os.ReadFile(iamPolicy)
				if err != nil {
					return fmt.Errorf("--iam-policy: %w", err)
				}
				if cfg.IAMPolicy, err = iampolicy.Parse(b); err != nil {
					return fmt.Errorf("--iam-policy %s: %w", iamPolicy, err)
				}
			}
			cfg.Logger = log
			srv, err := server.New(cfg)
			if err != nil {
				return fmt.Errorf("elb: %w", err)
			}
			ctx, cancel := cli.SignalContext(cmd.Context())
			defer cancel()
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:4566", "address of the AWS API endpoint (all services)")
	f.StringVar(&cfg.StateDir, "state-dir", "", "directory of the persistent state (required)")
	f.StringVar(&cfg.Region, "region", facts.DefaultRegion, "region of the local cloud (with --facts: must match the file's)")
	f.StringVar(&cfg.ClusterName, "cluster-name", "", "tag the default subnets kubernetes.io/cluster/NAME=shared")
	f.StringVar(&factsFile, "facts", "", "YAML facts file describing VPCs, subnets, security groups, instances, certificates and Elastic IPs (default: one VPC, public and private subnets in three zones)")
	f.StringVar(&cfg.DNSListen, "dns-listen", "", "serve DNS (UDP and TCP) for load balancer names on this address, e.g. 127.0.0.1:5353")
	f.StringVar(&throttle, "throttle", "", `answer AWS's throttling errors once a rule's token bucket is empty, to test clients: "service:operationRegex=rate:burst,…" (service: elasticloadbalancing, ec2, acm, …; e.g. "elasticloadbalancing:^Describe=1:5")`)
	f.StringVar(&iamPolicy, "iam-policy", "", "decide every request by this IAM identity policy (e.g. docs/install/iam_policy.json), as IAM would for a caller it is attached to; refused requests get AWS's AccessDenied, UnauthorizedOperation or AccessDeniedException")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics and /healthz on this address")
	f.StringVar(&cfg.ConsoleListen, "console-listen", "", "serve the web console (load balancers, rules, targets, health, live rates, try a request) on this address, e.g. 127.0.0.1:9090; off loopback it needs your own credentials, which browsers give as user name and password (docs/console.md)")
	f.StringVar(&cfg.AccessKeyID, "access-key-id", "", "access key ID clients sign with (env ELBOW_ACCESS_KEY_ID; default test)")
	f.StringVar(&cfg.SecretAccessKey, "secret-access-key", "", "secret access key (env ELBOW_SECRET_ACCESS_KEY; default test)")
	f.DurationVar(&cfg.ProvisioningDelay, "provisioning-delay", 2*time.Second, "how long new load balancers stay provisioning before they are active (0: at once)")
	f.BoolVar(&cfg.AutoProvisionCertificates, "auto-provision-certificates", false, "issue from the local CA any ACM certificate a listener names that ACM does not hold (logged)")
	f.DurationVar(&cfg.StateCheckTimeout, "state-check-timeout", state.DefaultCheckTimeout, "bound of the state file's verification at start (a file not verified in time is refused)")
	f.BoolVar(&cfg.AutoProvisionReferences, "auto-provision-references", false, "create on first use the subnets, security groups, Elastic IPs, ACM certificates and WAFv2 web ACLs that requests name and the local cloud lacks, where AWS would refuse them (each logged as a warning)")
	logOpts.AddFlags(f)
	cmd.AddCommand(newELBBackupCommand(), newELBRestoreCommand())
	cmd.PreRun = func(*cobra.Command, []string) {
		if cfg.ProvisioningDelay == 0 {
			cfg.ProvisioningDelay = -1
		}
	}
	return cmd
}
