package translate

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
)

// Workload is a pod template (of a Deployment, DaemonSet, StatefulSet, Job
// or bare Pod), known for the pitfall checks: pods a load balancer targets.
type Workload struct {
	Object      ObjectRef
	Labels      map[string]string
	HostNetwork bool
}

// LookupServicePort finds a Service port by number or name.
func LookupServicePort(svc *corev1.Service, port intstr.IntOrString) (corev1.ServicePort, error) {
	for _, p := range svc.Spec.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.Port == port.IntVal) {
			return p, nil
		}
	}
	var have []string
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			have = append(have, fmt.Sprintf("%d (%s)", p.Port, p.Name))
		} else {
			have = append(have, fmt.Sprint(p.Port))
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("the Service %s/%s has no port %s (it has %v)", svc.Namespace, svc.Name, port.String(), have)
}

// HostNetworkPods returns the workloads in a namespace whose pods a Service
// selector picks and that run with hostNetwork: true.
func HostNetworkPods(workloads []Workload, namespace string, selector map[string]string) []ObjectRef {
	if len(selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(selector)
	var out []ObjectRef
	for _, w := range workloads {
		if w.HostNetwork && w.Object.Namespace == namespace && sel.Matches(labels.Set(w.Labels)) {
			out = append(out, w.Object)
		}
	}
	return out
}

// ServiceRef returns the ObjectRef of a Service.
func ServiceRef(svc *corev1.Service) ObjectRef {
	return ObjectRef{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
}

// ServicePitfalls warns about the Service settings that do nothing for a
// target group of the given target type: externalTrafficPolicy and
// healthCheckNodePort in IP mode, hostNetwork pods behind IP targets.
func ServicePitfalls(svc *corev1.Service, targetType string, workloads []Workload, tr *Trace) {
	ref := ServiceRef(svc)
	if targetType != "ip" {
		return
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		tr.Add(Warning, ref, "externalTrafficPolicy: Local has no effect with IP targets: the load balancer sends traffic to pod IPs directly, and the pods see the client address only as the target type allows (preserve_client_ip, PROXY protocol, X-Forwarded-For)")
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		tr.Add(Warning, ref, "healthCheckNodePort %d is ignored with IP targets: the load balancer health-checks the pods themselves", svc.Spec.HealthCheckNodePort)
	}
	for _, w := range HostNetworkPods(workloads, svc.Namespace, svc.Spec.Selector) {
		tr.Add(Warning, ref, "selects pods of %s, which use hostNetwork: true; IP targets do not need it (the load balancer reaches pod IPs directly), and it costs isolation and one pod per node per port", w)
	}
}

// OIDCClientCredentials reads an OAuth 2.0 client's ID and secret from a
// Secret as the reference controller does: keys clientID (or the legacy
// clientId) and clientSecret, in data or stringData; trailing white space
// is trimmed from the ID and trailing control characters from the secret.
func OIDCClientCredentials(sec *corev1.Secret) (id, secret string, err error) {
	get := func(k string) ([]byte, bool) {
		if v, ok := sec.Data[k]; ok {
			return v, true
		}
		if v, ok := sec.StringData[k]; ok {
			return []byte(v), true
		}
		return nil, false
	}
	rawID, ok := get("clientID")
	if !ok {
		rawID, ok = get("clientId")
	}
	if !ok {
		return "", "", fmt.Errorf("OIDC Secret %s/%s has no clientID key", sec.Namespace, sec.Name)
	}
	rawSecret, ok := get("clientSecret")
	if !ok {
		return "", "", fmt.Errorf("OIDC Secret %s/%s has no clientSecret key", sec.Namespace, sec.Name)
	}
	return strings.TrimRightFunc(string(rawID), unicode.IsSpace), strings.TrimRightFunc(string(rawSecret), unicode.IsControl), nil
}

// HasFinalizer reports whether an object carries a finalizer.
func HasFinalizer(m metav1.Object, finalizer string) bool {
	for _, f := range m.GetFinalizers() {
		if f == finalizer {
			return true
		}
	}
	return false
}

// NamespaceLabels holds the labels of the namespaces in the input.
type NamespaceLabels map[string]map[string]string

// NewNamespaceLabels indexes namespaces by name.
func NewNamespaceLabels(nss []corev1.Namespace) NamespaceLabels {
	out := NamespaceLabels{}
	for i := range nss {
		out[nss[i].Name] = nss[i].Labels
	}
	return out
}

// Of returns a namespace's labels; a namespace not in the input carries
// only the label the API server sets, kubernetes.io/metadata.name.
func (n NamespaceLabels) Of(ns string) map[string]string {
	if l, ok := n[ns]; ok {
		return l
	}
	return map[string]string{"kubernetes.io/metadata.name": ns}
}

// ErrNamedTargetPort is NamedHealthCheckPort's error for a port name
// with ip targets behind a named targetPort.
var ErrNamedTargetPort = errors.New("a named health check port cannot be used with ip targets when the Service's targetPort is a name")

// NamedHealthCheckPort resolves a health check port given as a Service
// port name: the port's node port for instance targets, its (numeric)
// target port for ip targets.
func NamedHealthCheckPort(svc *corev1.Service, name intstr.IntOrString, instance bool) (intstr.IntOrString, error) {
	sp, err := LookupServicePort(svc, name)
	if err != nil {
		return intstr.IntOrString{}, err
	}
	switch {
	case instance:
		return intstr.FromInt32(sp.NodePort), nil
	case sp.TargetPort.Type == intstr.Int:
		return sp.TargetPort, nil
	}
	return intstr.IntOrString{}, ErrNamedTargetPort
}

// Binding returns the TargetGroupBinding that keeps a target group's
// targets registered: in the Service's namespace, named as the target
// group, for the Service port port.
func Binding(tg *stack.TargetGroup, svc *corev1.Service, port intstr.IntOrString, netw *stack.TGBNetworking, nodeSel *metav1.LabelSelector, vpcID string, multi bool) *stack.TargetGroupBinding {
	tt := elbv2api.TargetType(tg.Spec.TargetType)
	proto := tg.Spec.Protocol
	tgb := &stack.TargetGroupBinding{ResID: tg.ResID}
	tgb.Spec.Template.Name = tg.Spec.Name
	tgb.Spec.Template.Namespace = svc.Namespace
	tgb.Spec.Template.Spec = stack.TGBSpec{
		TargetGroupARN: tg.ARN(), TargetType: &tt,
		ServiceRef:    elbv2api.ServiceReference{Name: svc.Name, Port: port},
		Networking:    netw,
		NodeSelector:  nodeSel,
		IPAddressType: elbv2api.TargetGroupIPAddressType(tg.Spec.IPAddressType),
		VpcID:         vpcID, MultiClusterTargetGroup: multi, TargetGroupProtocol: &proto,
	}
	return tgb
}
