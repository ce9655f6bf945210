package controller

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"

	"github.com/elbowlb/elbow/internal/awsthrottle"
	"github.com/elbowlb/elbow/internal/translate"
)

// Options are the flags of `elbow controller`. Where they overlap with the
// AWS Load Balancer Controller's, names and defaults are the same.
type Options struct {
	// Kubeconfig is --kubeconfig; empty: in-cluster config, then $KUBECONFIG, then ~/.kube/config.
	Kubeconfig string

	ClusterName     string
	AWSRegion       string
	AWSVpcID        string
	AWSAPIEndpoints string
	AWSMaxRetries   int
	AWSAPIThrottle  string
	// ELBEndpoint points every AWS client at one endpoint (a local ELB).
	ELBEndpoint  string
	EnableShield bool
	EnableWAF    bool
	EnableWAFv2  bool

	IngressClass              string
	LoadBalancerClass         string
	DefaultTargetType         string
	DefaultLoadBalancerScheme string
	DefaultSSLPolicy          string
	DefaultTags               string
	ExternalManagedTags       []string
	WatchNamespace            string
	FeatureGates              string
	SyncPeriod                time.Duration

	DisableIngressClassAnnotation     bool
	DisableIngressGroupNameAnnotation bool

	EnableBackendSG                   bool
	BackendSecurityGroup              string
	EnableManageBackendSGRules        bool
	DisableRestrictedSGRules          bool
	TolerateNonExistentBackendService bool
	TolerateNonExistentBackendAction  bool
	DefaultPCAArn                     string

	EnableLeaderElection    bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	MetricsBindAddr         string
	HealthProbeBindAddr     string

	WebhookBindPort int
	WebhookBindHost string
	WebhookCertDir  string
	WebhookCertFile string
	WebhookKeyFile  string
	// WebhookHosts are the names the generated certificate covers.
	WebhookHosts []string
	// WebhookURL, when set, makes the controller register the webhook
	// configurations pointing there (a controller outside the cluster).
	WebhookURL      string
	DisableWebhooks bool
	// EnableServiceMutatorWebhook serves (and, with WebhookURL, registers)
	// the Service mutator that sets loadBalancerClass on new LoadBalancer
	// Services.
	EnableServiceMutatorWebhook bool

	IngressMaxConcurrentReconciles            int
	ServiceMaxConcurrentReconciles            int
	TargetGroupBindingMaxConcurrentReconciles int
	// ALBGatewayMaxConcurrentReconciles bounds the concurrent reconciles of
	// ALB Gateways and of their routes.
	ALBGatewayMaxConcurrentReconciles int
	// NLBGatewayMaxConcurrentReconciles bounds those of NLB Gateways and
	// of their routes (one reconciler serves both: the larger bound holds).
	NLBGatewayMaxConcurrentReconciles int
	TargetGroupBindingRequeueDuration time.Duration
	TargetGroupBindingMaxBackoff      time.Duration
	MaxTargetsPerTargetGroup          int
	// SkipNameValidation lets several controllers run in one process (tests).
	SkipNameValidation bool
	// FactsRefresh is how often cloud facts (subnets, security groups,
	// certificates) are read again.
	FactsRefresh time.Duration
	// AutoProvisionReferences takes subnets, security groups and Elastic
	// IPs that manifests name and the cloud lacks as existing, for a local
	// ELB that creates them on first use (elbow elb
	// --auto-provision-references, as elbow dev runs it).
	AutoProvisionReferences bool
	// Credentials, when set, replace the SDK's default credential chain
	// (for a controller embedded next to a local ELB, as in elbow dev).
	Credentials aws.CredentialsProvider
}

// DefaultOptions returns the reference controller's defaults.
func DefaultOptions() Options {
	return Options{
		AWSMaxRetries:             10,
		EnableShield:              true,
		EnableWAF:                 true,
		EnableWAFv2:               true,
		IngressClass:              "alb",
		LoadBalancerClass:         "service.k8s.aws/nlb",
		DefaultTargetType:         "instance",
		DefaultLoadBalancerScheme: "internal",
		DefaultSSLPolicy:          "ELBSecurityPolicy-2016-08",
		SyncPeriod:                10 * time.Hour,
		EnableBackendSG:           true,

		TolerateNonExistentBackendService: true,
		TolerateNonExistentBackendAction:  true,
		EnableLeaderElection:              true,
		LeaderElectionID:                  "aws-load-balancer-controller-leader",
		MetricsBindAddr:                   ":8080",
		HealthProbeBindAddr:               ":61779",
		WebhookBindPort:                   9443,
		WebhookCertDir:                    "/tmp/k8s-webhook-server/serving-certs",
		WebhookCertFile:                   "tls.crt",
		WebhookKeyFile:                    "tls.key",
		WebhookHosts:                      []string{"localhost", "127.0.0.1"},
		EnableServiceMutatorWebhook:       true,

		IngressMaxConcurrentReconciles:            3,
		ServiceMaxConcurrentReconciles:            3,
		TargetGroupBindingMaxConcurrentReconciles: 3,
		ALBGatewayMaxConcurrentReconciles:         3,
		NLBGatewayMaxConcurrentReconciles:         3,
		TargetGroupBindingRequeueDuration:         15 * time.Second,
		TargetGroupBindingMaxBackoff:              1000 * time.Second,
		FactsRefresh:                              10 * time.Minute,
	}
}

// AddFlags registers the flags on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "path to a kubeconfig; empty: in-cluster, then $KUBECONFIG, then ~/.kube/config")
	fs.StringVar(&o.ClusterName, "cluster-name", o.ClusterName, "name of the Kubernetes cluster (required): goes into tags, names and subnet discovery")
	fs.StringVar(&o.AWSRegion, "aws-region", o.AWSRegion, "AWS region; default from AWS_REGION / AWS_DEFAULT_REGION")
	fs.StringVar(&o.AWSVpcID, "aws-vpc-id", o.AWSVpcID, "the cluster's VPC ID; default: the only VPC the subnets tagged for the cluster are in")
	fs.StringVar(&o.AWSAPIEndpoints, "aws-api-endpoints", o.AWSAPIEndpoints, `custom AWS endpoints, "ServiceID=URL,…" (IDs: EC2, Elastic Load Balancing v2, ACM, WAFV2, WAF Regional, Shield, STS, Resource Groups Tagging API)`)
	fs.IntVar(&o.AWSMaxRetries, "aws-max-retries", o.AWSMaxRetries, "maximum retries of an AWS API call")
	fs.StringVar(&o.AWSAPIThrottle, "aws-api-throttle", o.AWSAPIThrottle, `client-side AWS API rate limits, "ServiceID:operationRegex=rate:burst,…"; a service named replaces its defaults (ELBv2 Describe* 50:200, Modify* 3:20, (De)RegisterTargets 4:20; WAF associations 0.5:1)`)
	fs.StringVar(&o.ELBEndpoint, "elb-endpoint", o.ELBEndpoint, "URL of a local ELB (elbow elb); every AWS client is pointed at it")
	fs.BoolVar(&o.EnableShield, "enable-shield", o.EnableShield, "manage Shield Advanced protections")
	fs.BoolVar(&o.EnableWAF, "enable-waf", o.EnableWAF, "manage WAF Regional web ACL associations")
	fs.BoolVar(&o.EnableWAFv2, "enable-wafv2", o.EnableWAFv2, "manage WAFv2 web ACL associations")
	fs.StringVar(&o.IngressClass, "ingress-class", o.IngressClass, "the kubernetes.io/ingress.class value this controller serves")
	fs.StringVar(&o.LoadBalancerClass, "load-balancer-class", o.LoadBalancerClass, "the Service spec.loadBalancerClass this controller serves")
	fs.StringVar(&o.DefaultTargetType, "default-target-type", o.DefaultTargetType, "default target type of Ingresses and Services: instance or ip")
	fs.StringVar(&o.DefaultLoadBalancerScheme, "default-load-balancer-scheme", o.DefaultLoadBalancerScheme, "default scheme: internal or internet-facing")
	fs.StringVar(&o.DefaultSSLPolicy, "default-ssl-policy", o.DefaultSSLPolicy, "default SSL policy of HTTPS and TLS listeners")
	fs.StringVar(&o.DefaultTags, "default-tags", o.DefaultTags, `tags on every AWS resource, "key=value,…"`)
	fs.StringSliceVar(&o.ExternalManagedTags, "external-managed-tags", o.ExternalManagedTags, "tag keys managed outside the controller (never changed, refused in annotations)")
	fs.StringVar(&o.WatchNamespace, "watch-namespace", o.WatchNamespace, "watch only this namespace (empty: all)")
	fs.StringVar(&o.FeatureGates, "feature-gates", o.FeatureGates, `feature gates, "Name=true|false,…"`)
	fs.DurationVar(&o.SyncPeriod, "sync-period", o.SyncPeriod, "period of full resyncs")
	fs.BoolVar(&o.DisableIngressClassAnnotation, "disable-ingress-class-annotation", o.DisableIngressClassAnnotation, "refuse new uses of the kubernetes.io/ingress.class annotation")
	fs.BoolVar(&o.DisableIngressGroupNameAnnotation, "disable-ingress-group-name-annotation", o.DisableIngressGroupNameAnnotation, "refuse new uses of the group.name annotation")
	fs.BoolVar(&o.EnableBackendSG, "enable-backend-security-group", o.EnableBackendSG, "use one shared backend security group for the load balancers (created on first need)")
	fs.StringVar(&o.BackendSecurityGroup, "backend-security-group", o.BackendSecurityGroup, "ID of the shared backend security group to use instead of creating one")
	fs.BoolVar(&o.EnableManageBackendSGRules, "enable-manage-backend-security-group-rules", o.EnableManageBackendSGRules, "manage the backend security group rules by default")
	fs.BoolVar(&o.DisableRestrictedSGRules, "disable-restricted-sg-rules", o.DisableRestrictedSGRules, "open all ports from the backend security group instead of the target ports")
	fs.BoolVar(&o.TolerateNonExistentBackendService, "tolerate-non-existent-backend-service", o.TolerateNonExistentBackendService, "a rule forwarding to a missing Service answers 503 instead of failing its Ingress")
	fs.BoolVar(&o.TolerateNonExistentBackendAction, "tolerate-non-existent-backend-action", o.TolerateNonExistentBackendAction, "a rule naming a missing actions.* annotation answers 503 instead of failing its Ingress")
	fs.StringVar(&o.DefaultPCAArn, "default-pca-arn", o.DefaultPCAArn, "ACM private CA for certificates the controller requests")
	fs.BoolVar(&o.EnableLeaderElection, "enable-leader-election", o.EnableLeaderElection, "elect a leader among controller replicas")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "namespace of the leader election Lease (default: the pod's namespace, or kube-system outside a cluster)")
	fs.StringVar(&o.MetricsBindAddr, "metrics-bind-addr", o.MetricsBindAddr, `address of /metrics ("0" disables)`)
	fs.StringVar(&o.HealthProbeBindAddr, "health-probe-bind-addr", o.HealthProbeBindAddr, `address of /healthz and /readyz ("0" disables)`)
	fs.IntVar(&o.WebhookBindPort, "webhook-bind-port", o.WebhookBindPort, "port of the webhook server")
	fs.StringVar(&o.WebhookBindHost, "webhook-bind-host", o.WebhookBindHost, "host address of the webhook server (empty: all)")
	fs.StringVar(&o.WebhookCertDir, "webhook-cert-dir", o.WebhookCertDir, "directory of the webhook serving certificate; a self-signed one is generated there when none exists")
	fs.StringVar(&o.WebhookCertFile, "webhook-cert-file", o.WebhookCertFile, "certificate file name in --webhook-cert-dir")
	fs.StringVar(&o.WebhookKeyFile, "webhook-key-file", o.WebhookKeyFile, "key file name in --webhook-cert-dir")
	fs.StringSliceVar(&o.WebhookHosts, "webhook-cert-hosts", o.WebhookHosts, "DNS names and IPs of a generated webhook certificate")
	fs.StringVar(&o.WebhookURL, "webhook-url", o.WebhookURL, "register the webhook configurations with this base URL (https://host:port), for a controller outside the cluster")
	fs.BoolVar(&o.EnableServiceMutatorWebhook, "enable-service-mutator-webhook", o.EnableServiceMutatorWebhook, "set spec.loadBalancerClass (--load-balancer-class) on new type LoadBalancer Services without one, as the reference chart's default")
	fs.BoolVar(&o.DisableWebhooks, "disable-webhooks", o.DisableWebhooks, "run without the webhook server (no readiness gate injection, no admission checks)")
	fs.IntVar(&o.IngressMaxConcurrentReconciles, "ingress-max-concurrent-reconciles", o.IngressMaxConcurrentReconciles, "concurrent Ingress group reconciles")
	fs.IntVar(&o.ServiceMaxConcurrentReconciles, "service-max-concurrent-reconciles", o.ServiceMaxConcurrentReconciles, "concurrent Service reconciles")
	fs.IntVar(&o.TargetGroupBindingMaxConcurrentReconciles, "targetgroupbinding-max-concurrent-reconciles", o.TargetGroupBindingMaxConcurrentReconciles, "concurrent TargetGroupBinding reconciles")
	fs.IntVar(&o.ALBGatewayMaxConcurrentReconciles, "alb-gateway-max-concurrent-reconciles", o.ALBGatewayMaxConcurrentReconciles, "concurrent reconciles of ALB Gateways (and of their HTTPRoutes and GRPCRoutes)")
	fs.IntVar(&o.NLBGatewayMaxConcurrentReconciles, "nlb-gateway-max-concurrent-reconciles", o.NLBGatewayMaxConcurrentReconciles, "concurrent reconciles of NLB Gateways (and of their TCPRoutes, UDPRoutes and TLSRoutes); one reconciler serves ALB and NLB Gateways, with the larger bound")
	fs.DurationVar(&o.TargetGroupBindingRequeueDuration, "targetgroupbinding-requeue-duration", o.TargetGroupBindingRequeueDuration, "longest pause between target health reads while some target is not healthy")
	fs.DurationVar(&o.TargetGroupBindingMaxBackoff, "targetgroupbinding-max-exponential-backoff-delay", o.TargetGroupBindingMaxBackoff, "longest retry delay after a failed TargetGroupBinding reconcile")
	fs.IntVar(&o.MaxTargetsPerTargetGroup, "max-targets-per-target-group", o.MaxTargetsPerTargetGroup, "cap on the targets of one target group (0: none)")
	fs.DurationVar(&o.FactsRefresh, "cloud-facts-refresh", o.FactsRefresh, "how often subnets, security groups and certificates are read again")
	fs.BoolVar(&o.AutoProvisionReferences, "auto-provision-references", o.AutoProvisionReferences, "take subnets, security groups and Elastic IPs that manifests name and the cloud lacks as existing (only for a local ELB started with --auto-provision-references, which creates them on first use)")
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.ClusterName == "" {
		return fmt.Errorf("--cluster-name is required")
	}
	switch o.DefaultTargetType {
	case "instance", "ip":
	default:
		return fmt.Errorf("--default-target-type %q: want instance or ip", o.DefaultTargetType)
	}
	switch o.DefaultLoadBalancerScheme {
	case "internal", "internet-facing":
	default:
		return fmt.Errorf("--default-load-balancer-scheme %q: want internal or internet-facing", o.DefaultLoadBalancerScheme)
	}
	if o.ELBEndpoint != "" {
		u, err := url.Parse(o.ELBEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--elb-endpoint %q: want an http:// or https:// URL such as http://127.0.0.1:4566", o.ELBEndpoint)
		}
	}
	if o.AutoProvisionReferences && o.ELBEndpoint == "" {
		return fmt.Errorf("--auto-provision-references needs --elb-endpoint: only a local ELB creates the resources it assumes")
	}
	if o.WebhookURL != "" {
		u, err := url.Parse(o.WebhookURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("--webhook-url %q: want an https:// URL such as https://127.0.0.1:9443", o.WebhookURL)
		}
	}
	if _, err := o.TranslateOptions(); err != nil {
		return err
	}
	if _, err := o.APIThrottle(); err != nil {
		return err
	}
	if o.WebhookBindPort <= 0 || o.WebhookBindPort > 65535 {
		return fmt.Errorf("--webhook-bind-port %d: want 1-65535", o.WebhookBindPort)
	}
	return nil
}

// APIThrottle returns the client-side AWS API rate limits: the reference
// controller's defaults, with the services --aws-api-throttle names
// replaced by its rules.
func (o *Options) APIThrottle() ([]awsthrottle.Rule, error) {
	rules, err := awsthrottle.Parse(o.AWSAPIThrottle)
	if err != nil {
		return nil, fmt.Errorf("--aws-api-throttle: %w", err)
	}
	for _, r := range rules {
		if r.Rate == 0 {
			// A client-side bucket that never refills would hold every
			// call after the burst forever.
			return nil, fmt.Errorf("--aws-api-throttle: rule %q: rate 0 would block every call after the first %d; want a rate above 0 calls per second", r.String(), r.Burst)
		}
	}
	return awsthrottle.Merge(awsthrottle.Defaults(), rules), nil
}

// TranslateOptions returns the translation settings the flags make.
func (o *Options) TranslateOptions() (translate.Options, error) {
	t := translate.DefaultOptions()
	t.ClusterName = o.ClusterName
	t.VPCID = o.AWSVpcID
	t.IngressClass = o.IngressClass
	t.LoadBalancerClass = o.LoadBalancerClass
	t.DefaultTargetType = o.DefaultTargetType
	t.DefaultScheme = o.DefaultLoadBalancerScheme
	t.DefaultSSLPolicy = o.DefaultSSLPolicy
	tags, err := ParseStringMap(o.DefaultTags)
	if err != nil {
		return t, fmt.Errorf("--default-tags: %w", err)
	}
	t.DefaultTags = tags
	t.ExternalManagedTags = o.ExternalManagedTags
	gates, err := translate.ParseFeatureGates(o.FeatureGates)
	if err != nil {
		return t, err
	}
	t.FeatureGates = gates
	t.EnableBackendSG = o.EnableBackendSG
	t.BackendSecurityGroupID = o.BackendSecurityGroup
	t.EnableManageBackendSGRules = o.EnableManageBackendSGRules
	t.DisableRestrictedSGRules = o.DisableRestrictedSGRules
	t.TolerateNonExistentBackendService = o.TolerateNonExistentBackendService
	t.TolerateNonExistentBackendAction = o.TolerateNonExistentBackendAction
	t.DefaultPCAArn = o.DefaultPCAArn
	t.AssumeMissingReferences = o.AutoProvisionReferences
	if err := t.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

// ParseStringMap parses "k=v,k2=v2" (spaces around items trimmed).
func ParseStringMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", part)
		}
		out[k] = strings.TrimSpace(v)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
