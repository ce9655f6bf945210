// Package manifests reads Kubernetes manifests (multi-document YAML or JSON,
// and Lists) into the typed objects translation takes, applying the
// defaults the API server would (namespace, Service type, port protocol and
// targetPort, externalTrafficPolicy, IP families).
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/translate"
	"github.com/elbowlb/elbow/internal/translate/gateway"
)

// Objects are the objects of a set of manifests, by kind.
type Objects struct {
	Ingresses           []networking.Ingress
	IngressClasses      []networking.IngressClass
	IngressClassParams  []elbv2api.IngressClassParams
	TargetGroupBindings []elbv2api.TargetGroupBinding
	Services            []corev1.Service
	Secrets             []corev1.Secret
	Namespaces          []corev1.Namespace
	Workloads           []translate.Workload

	// Gateway API objects (any served version, read as v1) and the AWS
	// Load Balancer Controller's gateway.k8s.aws configuration objects
	// (v1 and v1beta1, read as v1).
	gateway.Objects

	// Diagnostics are notes about objects elbow reads but does not
	// translate (unknown kinds) and warnings about fields it
	// does not know or objects defined twice.
	Diagnostics []translate.Diagnostic

	seen map[translate.ObjectRef]string
}

// replace appends v to *list, or replaces the object of the same key (a
// later definition wins, as with kubectl apply), with a warning.
func replace[T any](o *Objects, list *[]T, v T, ref translate.ObjectRef, source string, key func(T) translate.ObjectRef) {
	if o.seen == nil {
		o.seen = map[translate.ObjectRef]string{}
	}
	if prev, ok := o.seen[ref]; ok {
		for i := range *list {
			if key((*list)[i]) == ref {
				(*list)[i] = v
			}
		}
		o.Diagnostics = append(o.Diagnostics, translate.Diagnostic{Severity: translate.Warning, Object: ref,
			Message: fmt.Sprintf("defined again in %s (first in %s): the later definition is used, as kubectl apply would", source, prev)})
		o.seen[ref] = source
		return
	}
	o.seen[ref] = source
	*list = append(*list, v)
}

// LoadPaths reads files and directories (recursively, *.yaml, *.yml and
// *.json, in name order).
func LoadPaths(paths []string) (*Objects, error) {
	files, err := Files(paths)
	if err != nil {
		return nil, err
	}
	out := &Objects{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := out.Add(f, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Files lists the manifest files that paths name: files as given, and the
// *.yaml, *.yml and *.json files under directories (recursively), sorted.
func Files(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				if !d.IsDir() {
					files = append(files, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// Add decodes the documents of one file.
func (o *Objects) Add(name string, data []byte) error {
	return Documents(name, data, func(_ int, doc []byte) error { return o.addDoc(doc, name) })
}

// Documents calls fn with each non-empty document of a multi-document
// YAML (or JSON) file and its number (from 1, counting empty ones), in
// order; errors name the file and the document.
func Documents(name string, data []byte, fn func(n int, doc []byte) error) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		if err := fn(i, doc); err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i, err)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []yamlRaw `json:"items"`
}

type yamlRaw struct{ raw []byte }

func (y *yamlRaw) UnmarshalJSON(b []byte) error {
	y.raw = append([]byte(nil), b...)
	return nil
}

func (o *Objects) addDoc(doc []byte, source string) error {
	var h header
	if err := yaml.Unmarshal(doc, &h); err != nil {
		return err
	}
	if h.Kind == "" {
		return fmt.Errorf("no kind")
	}
	if strings.HasSuffix(h.Kind, "List") && h.Kind != "List" && len(h.Items) == 0 {
		return nil
	}
	if h.Kind == "List" || strings.HasSuffix(h.Kind, "List") {
		for i, it := range h.Items {
			if err := o.addDoc(it.raw, source); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		return nil
	}
	ref := translate.ObjectRef{Kind: h.Kind, Namespace: h.Metadata.Namespace, Name: h.Metadata.Name}
	group, _, _ := strings.Cut(h.APIVersion, "/")
	if !strings.Contains(h.APIVersion, "/") {
		group = ""
	}
	decode := func(v any) error {
		if err := yaml.UnmarshalStrict(doc, v); err != nil {
			if err2 := yaml.Unmarshal(doc, v); err2 != nil {
				return fmt.Errorf("%s: %w", ref, err2)
			}
			o.Diagnostics = append(o.Diagnostics, translate.Diagnostic{Severity: translate.Warning, Object: ref, Message: "unknown or malformed fields: " + err.Error()})
		}
		return nil
	}
	ns := func(n *string) {
		if *n == "" {
			*n = "default"
		}
	}
	switch {
	case group == "networking.k8s.io" && h.Kind == "Ingress":
		var x networking.Ingress
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		replace(o, &o.Ingresses, x, translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, source, func(v networking.Ingress) translate.ObjectRef {
			return translate.ObjectRef{Kind: h.Kind, Namespace: v.Namespace, Name: v.Name}
		})
	case group == "networking.k8s.io" && h.Kind == "IngressClass":
		var x networking.IngressClass
		if err := decode(&x); err != nil {
			return err
		}
		replace(o, &o.IngressClasses, x, translate.ObjectRef{Kind: h.Kind, Name: x.Name}, source, func(v networking.IngressClass) translate.ObjectRef {
			return translate.ObjectRef{Kind: h.Kind, Name: v.Name}
		})
	case group == "elbv2.k8s.aws" && h.Kind == "IngressClassParams":
		var x elbv2api.IngressClassParams
		if err := decode(&x); err != nil {
			return err
		}
		replace(o, &o.IngressClassParams, x, translate.ObjectRef{Kind: h.Kind, Name: x.Name}, source, func(v elbv2api.IngressClassParams) translate.ObjectRef {
			return translate.ObjectRef{Kind: h.Kind, Name: v.Name}
		})
	case group == "elbv2.k8s.aws" && h.Kind == "TargetGroupBinding":
		var x elbv2api.TargetGroupBinding
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.TargetGroupBindings = append(o.TargetGroupBindings, x)
		o.note(ref, "TargetGroupBinding: read, not planned (the controller binds it to its existing target group)")
	case group == "" && h.Kind == "Service":
		var x corev1.Service
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		DefaultService(&x)
		replace(o, &o.Services, x, translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, source, func(v corev1.Service) translate.ObjectRef {
			return translate.ObjectRef{Kind: h.Kind, Namespace: v.Namespace, Name: v.Name}
		})
	case group == "" && h.Kind == "Secret":
		var x corev1.Secret
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		replace(o, &o.Secrets, x, translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, source, func(v corev1.Secret) translate.ObjectRef {
			return translate.ObjectRef{Kind: h.Kind, Namespace: v.Namespace, Name: v.Name}
		})
	case group == "" && h.Kind == "Namespace":
		var x corev1.Namespace
		if err := decode(&x); err != nil {
			return err
		}
		if x.Labels == nil {
			x.Labels = map[string]string{}
		}
		x.Labels["kubernetes.io/metadata.name"] = x.Name
		replace(o, &o.Namespaces, x, translate.ObjectRef{Kind: h.Kind, Name: x.Name}, source, func(v corev1.Namespace) translate.ObjectRef { return translate.ObjectRef{Kind: h.Kind, Name: v.Name} })
	case group == "" && h.Kind == "Pod":
		var x corev1.Pod
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.workload(translate.ObjectRef{Kind: "Pod", Namespace: x.Namespace, Name: x.Name}, x.Labels, x.Spec, source)
	case group == "apps" && h.Kind == "Deployment":
		var x appsv1.Deployment
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.workload(translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, x.Spec.Template.Labels, x.Spec.Template.Spec, source)
	case group == "apps" && h.Kind == "DaemonSet":
		var x appsv1.DaemonSet
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.workload(translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, x.Spec.Template.Labels, x.Spec.Template.Spec, source)
	case group == "apps" && h.Kind == "StatefulSet":
		var x appsv1.StatefulSet
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.workload(translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, x.Spec.Template.Labels, x.Spec.Template.Spec, source)
	case group == "apps" && h.Kind == "ReplicaSet":
		var x appsv1.ReplicaSet
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.workload(translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, x.Spec.Template.Labels, x.Spec.Template.Spec, source)
	case group == "batch" && h.Kind == "Job":
		var x batchv1.Job
		if err := decode(&x); err != nil {
			return err
		}
		ns(&x.Namespace)
		o.workload(translate.ObjectRef{Kind: h.Kind, Namespace: x.Namespace, Name: x.Name}, x.Spec.Template.Labels, x.Spec.Template.Spec, source)
	case group == "gateway.networking.k8s.io" || group == "gateway.k8s.aws":
		return o.addGatewayDoc(h.Kind, group, ref, source, decode)
	default:
		o.note(ref, fmt.Sprintf("%s %s: not used by translation", h.APIVersion, h.Kind))
	}
	return nil
}

// addGatewayDoc decodes a Gateway API or gateway.k8s.aws object.
func (o *Objects) addGatewayDoc(kind, group string, ref translate.ObjectRef, source string, decode func(any) error) error {
	if ref.Namespace == "" && kind != "GatewayClass" {
		ref.Namespace = "default"
	}
	key := func(kind string) func(metav1.Object) translate.ObjectRef {
		return func(m metav1.Object) translate.ObjectRef {
			return translate.ObjectRef{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}
		}
	}
	switch {
	case group == "gateway.networking.k8s.io" && kind == "GatewayClass":
		return addObject(o, &o.GatewayClasses, ref, source, decode, false, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "Gateway":
		return addObject(o, &o.Gateways, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "ListenerSet":
		return addObject(o, &o.ListenerSets, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "HTTPRoute":
		return addObject(o, &o.HTTPRoutes, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "GRPCRoute":
		return addObject(o, &o.GRPCRoutes, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "ReferenceGrant":
		return addObject(o, &o.ReferenceGrants, ref, source, decode, true, key(kind))
	case group == "gateway.k8s.aws" && kind == "LoadBalancerConfiguration":
		return addObject(o, &o.LoadBalancerConfigurations, ref, source, decode, true, key(kind))
	case group == "gateway.k8s.aws" && kind == "TargetGroupConfiguration":
		return addObject(o, &o.TargetGroupConfigurations, ref, source, decode, true, key(kind))
	case group == "gateway.k8s.aws" && kind == "ListenerRuleConfiguration":
		return addObject(o, &o.ListenerRuleConfigurations, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "TCPRoute":
		return addObject(o, &o.TCPRoutes, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "UDPRoute":
		return addObject(o, &o.UDPRoutes, ref, source, decode, true, key(kind))
	case group == "gateway.networking.k8s.io" && kind == "TLSRoute":
		return addObject(o, &o.TLSRoutes, ref, source, decode, true, key(kind))
	default:
		o.note(ref, fmt.Sprintf("%s %s: not used by translation", group, kind))
	}
	return nil
}

// addObject decodes an object of type T into *list (namespace defaulted
// when namespaced), replacing an earlier definition.
func addObject[T any, PT interface {
	*T
	metav1.Object
}](o *Objects, list *[]T, ref translate.ObjectRef, source string, decode func(any) error, namespaced bool, key func(metav1.Object) translate.ObjectRef) error {
	var x T
	if err := decode(&x); err != nil {
		return err
	}
	p := PT(&x)
	if namespaced && p.GetNamespace() == "" {
		p.SetNamespace("default")
	}
	replace(o, list, x, key(p), source, func(v T) translate.ObjectRef { return key(PT(&v)) })
	return nil
}

func (o *Objects) note(ref translate.ObjectRef, msg string) {
	o.Diagnostics = append(o.Diagnostics, translate.Diagnostic{Severity: translate.Note, Object: ref, Message: msg})
}

func (o *Objects) workload(ref translate.ObjectRef, labels map[string]string, spec corev1.PodSpec, source string) {
	replace(o, &o.Workloads, translate.Workload{Object: ref, Labels: labels, HostNetwork: spec.HostNetwork}, ref, source, func(w translate.Workload) translate.ObjectRef { return w.Object })
}

// DefaultService applies the API server's defaults to a Service: type
// ClusterIP, port protocol TCP, targetPort = port, externalTrafficPolicy
// Cluster for NodePort and LoadBalancer Services, IP families [IPv4],
// sessionAffinity None.
func DefaultService(s *corev1.Service) {
	if s.Spec.Type == "" {
		s.Spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if (s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer) && s.Spec.ExternalTrafficPolicy == "" {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if s.Spec.Type != corev1.ServiceTypeExternalName && len(s.Spec.IPFamilies) == 0 {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if s.Spec.SessionAffinity == "" {
		s.Spec.SessionAffinity = corev1.ServiceAffinityNone
	}
}
