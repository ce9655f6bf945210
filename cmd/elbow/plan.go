package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/translate"
	"github.com/elbowlb/elbow/internal/translate/manifests"
	"github.com/elbowlb/elbow/internal/translate/plan"
)

type planOptions struct {
	files        []string
	factsFile    string
	region       string
	output       string
	explain      bool
	autoProvide  bool
	defaultTags  string
	externalTags string
	gates        string
	opts         translate.Options
}

func newPlanCommand() *cobra.Command {
	o := &planOptions{opts: translate.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "plan -f FILE|DIR [-f …]",
		Short: "Show the load balancers elbow would build for a set of manifests",
		Long: `plan translates Ingresses, Services of type LoadBalancer and Gateways of
the ALB and NLB GatewayClasses (with their IngressClasses, IngressClassParams, routes,
gateway.k8s.aws configurations and backend Services) into the load balancers,
listeners, rules, target groups and security groups the AWS Load Balancer
Controller would create, without calling any API, and shows the status the
controller would write on the Gateway API objects.

Cloud facts (subnets, certificates, security groups, Elastic IPs) come from
--facts FILE, or default to the VPC of elbow's local ELB. References the facts
do not have (subnet-xxx, sg-xxx, eipalloc-xxx) are assumed with a warning when
no facts file is given or with --auto-provision-references, and are errors
otherwise. The exit status is non-zero when any object fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, o) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file or directory (repeatable; directories are read recursively)")
	f.StringVar(&o.factsFile, "facts", "", "cloud facts file (YAML); default: the local ELB's VPC")
	f.StringVar(&o.region, "aws-region", facts.DefaultRegion, "region of the default facts")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json or yaml")
	f.BoolVar(&o.explain, "explain", false, "say where each defaulted or discovered setting came from")
	f.BoolVar(&o.autoProvide, "auto-provision-references", false, "assume cloud resources the facts lack (subnets, security groups, Elastic IPs) instead of failing")
	f.StringVar(&o.opts.ClusterName, "cluster-name", "", "cluster name (default: the facts file's clusterName, else \"elbow\")")
	f.StringVar(&o.opts.VPCID, "aws-vpc-id", "", "the cluster's VPC (default: the facts' only VPC)")
	f.StringVar(&o.opts.IngressClass, "ingress-class", o.opts.IngressClass, "IngressClass name (and kubernetes.io/ingress.class value) elbow serves")
	f.StringVar(&o.opts.LoadBalancerClass, "load-balancer-class", o.opts.LoadBalancerClass, "Service loadBalancerClass elbow serves")
	f.StringVar(&o.opts.DefaultTargetType, "default-target-type", o.opts.DefaultTargetType, "target type when none is set: instance or ip")
	f.StringVar(&o.opts.DefaultScheme, "default-load-balancer-scheme", o.opts.DefaultScheme, "scheme when none is set: internal or internet-facing")
	f.StringVar(&o.opts.DefaultSSLPolicy, "default-ssl-policy", o.opts.DefaultSSLPolicy, "SSL policy of HTTPS and TLS listeners when none is set")
	f.StringVar(&o.defaultTags, "default-tags", "", "tags of every AWS resource (key=value,…)")
	f.StringVar(&o.externalTags, "external-managed-tags", "", "tag keys managed outside elbow, which manifests may not set (comma-separated)")
	f.StringVar(&o.gates, "feature-gates", "", "feature gates (Name=true|false,…), as the AWS Load Balancer Controller's")
	f.BoolVar(&o.opts.EnableBackendSG, "enable-backend-security-group", o.opts.EnableBackendSG, "use a shared backend security group to admit load balancers to targets")
	f.StringVar(&o.opts.BackendSecurityGroupID, "backend-security-group", "", "ID of the shared backend security group")
	f.BoolVar(&o.opts.EnableManageBackendSGRules, "enable-manage-backend-security-group-rules", o.opts.EnableManageBackendSGRules, "manage target security group rules even when security groups are named explicitly")
	f.BoolVar(&o.opts.AdoptServicesWithoutClass, "adopt-load-balancer-services", true, "handle Services of type LoadBalancer that name no loadBalancerClass, as the reference's Service webhook (on by default) makes it do")
	return cmd
}

func runPlan(cmd *cobra.Command, o *planOptions) error {
	if len(o.files) == 0 {
		return errors.New("plan: name manifests with -f FILE|DIR")
	}
	switch o.output {
	case "text", "json", "yaml":
	default:
		return fmt.Errorf("plan: --output %q: want text, json or yaml", o.output)
	}
	objs, err := manifests.LoadPaths(o.files)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	var f *facts.Facts
	if o.factsFile != "" {
		if f, err = facts.Load(o.factsFile); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		if o.opts.ClusterName == "" {
			o.opts.ClusterName = f.ClusterName
		}
	}
	if o.opts.ClusterName == "" {
		o.opts.ClusterName = "elbow"
	}
	if f == nil {
		f = facts.Default(o.region, o.opts.ClusterName)
	}
	o.opts.AssumeMissingReferences = o.factsFile == "" || o.autoProvide
	o.opts.AssumeMissingSecrets = true
	o.opts.AssumeNodePorts = true
	if o.opts.DefaultTags, err = annotations.ParseStringMap(o.defaultTags); err != nil {
		return fmt.Errorf("plan: --default-tags: %w", err)
	}
	if len(o.opts.DefaultTags) == 0 {
		o.opts.DefaultTags = nil
	}
	o.opts.ExternalManagedTags = annotations.ParseStringList(o.externalTags)
	if o.opts.FeatureGates, err = translate.ParseFeatureGates(o.gates); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if err := o.opts.Validate(); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	plan.AddDefaultIngressClass(objs, o.opts.IngressClass)
	p := plan.Build(plan.Input{Objects: objs, Facts: f, Options: o.opts})
	report := p.Report(o.explain)
	out := cmd.OutOrStdout()
	switch o.output {
	case "text":
		if err := p.WriteText(out, o.explain); err != nil {
			return err
		}
	case "json", "yaml":
		b, err := report.JSON()
		if err != nil {
			return err
		}
		if o.output == "yaml" {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return err
			}
		}
		if _, err := out.Write(b); err != nil {
			return err
		}
		for _, d := range report.Diagnostics {
			if d.Severity == translate.Error {
				fmt.Fprintln(cmd.ErrOrStderr(), "ERROR:", d.Object.String()+":", d.Message)
			}
		}
	}
	if report.Failed() {
		var failed []string
		seen := map[string]bool{}
		for _, d := range report.Diagnostics {
			if d.Severity == translate.Error && !seen[d.Object.String()] {
				seen[d.Object.String()] = true
				failed = append(failed, d.Object.String())
			}
		}
		sort.Strings(failed)
		return fmt.Errorf("plan: %d object(s) failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}
