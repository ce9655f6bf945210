package webhooks

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
)

// Config wires the webhooks.
type Config struct {
	// Client reads from the manager's cache.
	Client client.Reader
	// ELBV2 looks target groups up.
	ELBV2 TargetGroups
	// VpcID is --aws-vpc-id.
	VpcID string
	// IngressClass, DisableIngressClassAnnotation and
	// DisableGroupNameAnnotation are the flags of the same names.
	IngressClass                  string
	DisableIngressClassAnnotation bool
	DisableGroupNameAnnotation    bool
	// LoadBalancerClass is --load-balancer-class, set by the Service mutator.
	LoadBalancerClass string
	// ServiceMutator serves the Service mutator (--enable-service-mutator-webhook).
	ServiceMutator bool
}

// Setup registers every webhook on the manager's webhook server.
func Setup(mgr ctrl.Manager, cfg Config) {
	s := mgr.GetWebhookServer()
	scheme := mgr.GetScheme()
	s.Register(PathMutatePod, admission.WithDefaulter[*corev1.Pod](scheme, &PodReadinessGate{Client: cfg.Client}))
	s.Register(PathMutateTargetGroupBinding, admission.WithDefaulter[*elbv2api.TargetGroupBinding](scheme, &BindingDefaulter{ELBV2: cfg.ELBV2}))
	s.Register(PathValidateTargetGroupBinding, admission.WithValidator[*elbv2api.TargetGroupBinding](scheme, &BindingValidator{Client: cfg.Client, ELBV2: cfg.ELBV2, VpcID: cfg.VpcID}))
	if cfg.ServiceMutator {
		s.Register(PathMutateService, admission.WithDefaulter[*corev1.Service](scheme, &ServiceClass{LoadBalancerClass: cfg.LoadBalancerClass}))
	}
	s.Register(PathValidateIngressClassParams, admission.WithValidator[*elbv2api.IngressClassParams](scheme, ParamsValidator{}))
	s.Register(PathValidateIngress, admission.WithValidator[*networking.Ingress](scheme, &IngressValidator{
		Client:                        cfg.Client,
		IngressClass:                  cfg.IngressClass,
		DisableIngressClassAnnotation: cfg.DisableIngressClassAnnotation,
		DisableGroupNameAnnotation:    cfg.DisableGroupNameAnnotation,
	}))
}

// ConfigurationName names the webhook configurations Register writes.
const ConfigurationName = "elbow-webhook"

// Configurations returns the MutatingWebhookConfiguration and the
// ValidatingWebhookConfiguration of elbow's webhooks, reached at baseURL
// (https://host:port) and trusted through caBundle.
func Configurations(baseURL string, caBundle []byte, serviceMutator bool) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	baseURL = strings.TrimRight(baseURL, "/")
	cc := func(path string) admissionregistrationv1.WebhookClientConfig {
		u := baseURL + path
		return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: caBundle}
	}
	none := admissionregistrationv1.SideEffectClassNone
	fail := admissionregistrationv1.Fail
	ignore := admissionregistrationv1.Ignore
	equivalent := admissionregistrationv1.Equivalent
	v1 := []string{"v1"}
	rule := func(group, version, resource string, ops ...admissionregistrationv1.OperationType) []admissionregistrationv1.RuleWithOperations {
		return []admissionregistrationv1.RuleWithOperations{{
			Operations: ops,
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: []string{resource}},
		}}
	}
	create, update := admissionregistrationv1.Create, admissionregistrationv1.Update
	m := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigurationName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{
			{
				Name:                    "mpod.elbv2.k8s.aws",
				ClientConfig:            cc(PathMutatePod),
				Rules:                   rule("", "v1", "pods", create),
				FailurePolicy:           &ignore,
				SideEffects:             &none,
				AdmissionReviewVersions: v1,
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: ReadinessGateInjectLabel, Operator: metav1.LabelSelectorOpIn, Values: []string{ReadinessGateInjectLabelEnabled},
				}}},
			},
			{
				Name:                    "mtargetgroupbinding.elbv2.k8s.aws",
				ClientConfig:            cc(PathMutateTargetGroupBinding),
				Rules:                   rule(elbv2api.GroupVersion.Group, "v1beta1", "targetgroupbindings", create, update),
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: v1,
			},
		},
	}
	if serviceMutator {
		m.Webhooks = append(m.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name:                    "mservice.elbv2.k8s.aws",
			ClientConfig:            cc(PathMutateService),
			Rules:                   rule("", "v1", "services", create, update),
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: v1,
		})
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigurationName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			{
				Name:                    "vtargetgroupbinding.elbv2.k8s.aws",
				ClientConfig:            cc(PathValidateTargetGroupBinding),
				Rules:                   rule(elbv2api.GroupVersion.Group, "v1beta1", "targetgroupbindings", create, update),
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: v1,
			},
			{
				Name:                    "vingressclassparams.elbv2.k8s.aws",
				ClientConfig:            cc(PathValidateIngressClassParams),
				Rules:                   rule(elbv2api.GroupVersion.Group, "v1beta1", "ingressclassparams", create, update),
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: v1,
			},
			{
				Name:                    "vingress.elbv2.k8s.aws",
				ClientConfig:            cc(PathValidateIngress),
				Rules:                   rule("networking.k8s.io", "v1", "ingresses", create, update),
				FailurePolicy:           &fail,
				MatchPolicy:             &equivalent,
				SideEffects:             &none,
				AdmissionReviewVersions: v1,
			},
		},
	}
	return m, v
}

// Register creates or updates the webhook configurations so that the API
// server calls a controller running outside the cluster at baseURL.
func Register(ctx context.Context, c client.Client, baseURL string, caBundle []byte, serviceMutator bool) error {
	m, v := Configurations(baseURL, caBundle, serviceMutator)
	curM := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: m.Name}}
	if _, err := controllerutil.CreateOrUpdate(ctx, c, curM, func() error {
		curM.Webhooks = m.Webhooks
		return nil
	}); err != nil {
		return fmt.Errorf("mutating webhook configuration %s: %w", m.Name, err)
	}
	curV := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: v.Name}}
	if _, err := controllerutil.CreateOrUpdate(ctx, c, curV, func() error {
		curV.Webhooks = v.Webhooks
		return nil
	}); err != nil {
		return fmt.Errorf("validating webhook configuration %s: %w", v.Name, err)
	}
	return nil
}
