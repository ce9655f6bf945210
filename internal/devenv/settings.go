package devenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/shield"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elbowlb/elbow/internal/controller"
	"github.com/elbowlb/elbow/internal/controller/webhooks"
)

// Controllers Config.Controller accepts.
const (
	// ControllerElbow runs elbow's controller in the environment.
	ControllerElbow = "elbow"
	// ControllerNone runs everything but a controller, for another one
	// (the AWS Load Balancer Controller, or one being built) that the user
	// starts with Settings.
	ControllerNone = "none"
)

// localServices are the SDK service IDs (the keys of the reference
// controller's --aws-api-endpoints and the suffixes of AWS_ENDPOINT_URL_*)
// of the services the local ELB serves.
var localServices = []string{
	elbv2.ServiceID, ec2.ServiceID, acm.ServiceID, wafv2.ServiceID,
	shield.ServiceID, rgt.ServiceID, sts.ServiceID,
}

// Settings are what another controller, or any AWS SDK client, needs to
// use the environment's cloud and cluster.
type Settings struct {
	ClusterName string `json:"clusterName"`
	Region      string `json:"region"`
	AccountID   string `json:"accountID"`
	VpcID       string `json:"vpcID"`
	// Endpoints maps the SDK's service IDs to the local ELB's URL.
	Endpoints map[string]string `json:"endpoints"`
	// AccessKeyID and SecretAccessKey are the local ELB's credentials.
	AccessKeyID     string `json:"accessKeyID"`
	SecretAccessKey string `json:"secretAccessKey"`
	// Kubeconfig is the admin kubeconfig of the cluster.
	Kubeconfig string `json:"kubeconfig"`
	// WebhookCertDir holds a serving certificate for 127.0.0.1 (tls.crt,
	// tls.key) signed by ca.crt, which the webhook configurations that
	// elbow dev registers trust; WebhookPort is where they call.
	WebhookCertDir string `json:"webhookCertDir"`
	WebhookPort    int    `json:"webhookPort"`
	// Env sets the credentials, the region and the endpoint for AWS SDKs
	// and the AWS CLI.
	Env []string `json:"env"`
	// ControllerFlags are the AWS Load Balancer Controller's flags that
	// point it at the environment.
	ControllerFlags []string `json:"controllerFlags"`
}

// settings returns the environment's Settings.
func (e *Env) settings(vpcID, accountID string) *Settings {
	url := e.elb.URL()
	ak, sk := e.elb.Credentials()
	s := &Settings{
		ClusterName:     e.cfg.ClusterName,
		Region:          e.cfg.Region,
		AccountID:       accountID,
		VpcID:           vpcID,
		Endpoints:       map[string]string{},
		AccessKeyID:     ak,
		SecretAccessKey: sk,
		Kubeconfig:      filepath.Join(e.cfg.StateDir, "kubeconfig"),
		WebhookCertDir:  e.webhookCertDir(),
		WebhookPort:     e.ports.Webhook,
	}
	var eps []string
	for _, id := range localServices {
		s.Endpoints[id] = url
		eps = append(eps, id+"="+url)
	}
	sort.Strings(eps)
	s.Env = []string{
		"AWS_ACCESS_KEY_ID=" + ak,
		"AWS_SECRET_ACCESS_KEY=" + sk,
		"AWS_REGION=" + e.cfg.Region,
		"AWS_ENDPOINT_URL=" + url,
	}
	s.ControllerFlags = []string{
		"--cluster-name=" + e.cfg.ClusterName,
		"--aws-region=" + e.cfg.Region,
		"--aws-vpc-id=" + vpcID,
		"--aws-api-endpoints=" + strings.Join(eps, ","),
		// WAF Classic (WAF Regional) is not served.
		"--enable-waf=false",
		"--kubeconfig=" + s.Kubeconfig,
		"--webhook-cert-dir=" + s.WebhookCertDir,
		"--webhook-bind-port=" + strconv.Itoa(e.ports.Webhook),
	}
	return s
}

func (e *Env) webhookCertDir() string { return filepath.Join(e.cfg.StateDir, "webhook") }

func (e *Env) webhookURL() string { return fmt.Sprintf("https://127.0.0.1:%d", e.ports.Webhook) }

// printSettings prints the settings as a shell user takes them.
func (e *Env) printSettings(s *Settings) {
	w := e.out
	fmt.Fprintf(w, "\nNo controller runs (--controller=none). Another one uses this cluster and its cloud with:\n\n")
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(w, "  export %s=%s\n", k, shellQuote(v))
	}
	fmt.Fprintf(w, "\n  the AWS Load Balancer Controller's flags:\n")
	for _, f := range s.ControllerFlags {
		fmt.Fprintf(w, "    %s\n", shellQuote(f))
	}
	fmt.Fprintf(w, "\n  endpoints by SDK service ID: ")
	var ids []string
	for id := range s.Endpoints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(w, "%s: %s\n", strings.Join(ids, ", "), e.elb.URL())
	fmt.Fprintf(w, "  VPC %s, account %s, region %s, cluster %s\n", s.VpcID, s.AccountID, s.Region, s.ClusterName)
	fmt.Fprintf(w, "  webhooks: elbow dev registers them for %s once a server answers there (certificate in %s)\n\n", e.webhookURL(), s.WebhookCertDir)
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_=.,:/@+.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=.,:/@+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// prepareWebhooks writes the webhook serving certificate another
// controller takes (--webhook-cert-dir) and returns the CA bundle that
// trusts it.
func (e *Env) prepareWebhooks() ([]byte, error) {
	return webhooks.EnsureCert(e.webhookCertDir(), []string{"127.0.0.1"}, time.Now())
}

// awaitController waits until a webhook server answers at the webhook
// address, then registers the webhook configurations that call it (as
// the reference controller's chart does) and the IngressClass alb.
func (e *Env) awaitController(ctx context.Context, caBundle []byte) error {
	e.progress("waiting for a controller's webhook server at %s (start one with the settings above)", e.webhookURL())
	if err := waitTLS(ctx, fmt.Sprintf("127.0.0.1:%d", e.ports.Webhook), 0); err != nil {
		return err
	}
	if err := checkServingCert(ctx, fmt.Sprintf("127.0.0.1:%d", e.ports.Webhook), caBundle); err != nil {
		e.progress("warning: the webhook server at %s does not present the certificate of %s, so the API server will refuse to call it: %v", e.webhookURL(), e.webhookCertDir(), err)
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		return err
	}
	c, err := client.New(e.rest, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := webhooks.Register(ctx, c, e.webhookURL(), caBundle, true); err != nil {
		return fmt.Errorf("webhook configurations: %w", err)
	}
	if err := e.installIngressClass(ctx); err != nil {
		return fmt.Errorf("IngressClass alb: %w", err)
	}
	e.progress("a controller serves webhooks at %s: registered the webhook configurations %s and the IngressClass alb", e.webhookURL(), webhooks.ConfigurationName)
	return nil
}

// checkServingCert makes a TLS handshake with addr as the API server
// would: trusting caBundle only, for the name 127.0.0.1.
func checkServingCert(ctx context.Context, addr string, caBundle []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		return fmt.Errorf("no certificate in the CA bundle")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
