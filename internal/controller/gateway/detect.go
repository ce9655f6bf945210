package gateway

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
)

// Feature gates of the reference controller that switch the Gateway
// controllers (on by default; --feature-gates ALBGatewayAPI=false turns
// the ALB Gateway controller off, NLBGatewayAPI=false the NLB one).
const (
	GateALBGatewayAPI      = "ALBGatewayAPI"
	GateNLBGatewayAPI      = "NLBGatewayAPI"
	GateGatewayListenerSet = "GatewayListenerSet"
)

// gwGV is the Gateway API's v1 group version.
var gwGV = schema.GroupVersion{Group: gwv1.GroupName, Version: "v1"}

// AnnotationBundleVersion is the annotation of the Gateway API CRDs that
// names their release.
const AnnotationBundleVersion = "gateway.networking.k8s.io/bundle-version"

// Kinds says which Gateway API kinds the API server serves, and so which
// reconcilers run.
type Kinds struct {
	// ALB is true when every kind the ALB Gateway controller needs is
	// served: GatewayClass, Gateway, HTTPRoute, GRPCRoute (v1) and the
	// three gateway.k8s.aws (v1) configurations.
	ALB bool
	// Missing names the kinds that are not served, when ALB is false.
	Missing []string
	// NLB is true when the kinds of the ALB Gateway controller but the
	// HTTP routes are served, and TCPRoute, UDPRoute and TLSRoute (v1):
	// the NLB Gateway controller can run.
	NLB bool
	// MissingNLB names the kinds that are not served, when NLB is false.
	MissingNLB []string
	// ListenerSets is true when ListenerSet (v1) is served.
	ListenerSets bool
	// ReferenceGrantVersion is the served version read for
	// ReferenceGrants ("v1", else "v1beta1"); empty when neither is.
	ReferenceGrantVersion string
	// BundleVersion is the Gateway API CRDs' release (the
	// AnnotationBundleVersion of the Gateway CRD); empty when unknown.
	BundleVersion string
}

// Detect finds which kinds the API server serves through mapper, and
// reads the Gateway API release from the Gateway CRD through reader (a
// reader that cannot read CRDs leaves BundleVersion empty).
func Detect(ctx context.Context, mapper meta.RESTMapper, reader client.Reader) (Kinds, error) {
	var k Kinds
	served := func(gvk schema.GroupVersionKind) (bool, error) {
		_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case err == nil:
			return true, nil
		case meta.IsNoMatchError(err):
			return false, nil
		}
		return false, fmt.Errorf("discover %s: %w", gvk, err)
	}
	common := []schema.GroupVersionKind{
		gwGV.WithKind("GatewayClass"), gwGV.WithKind("Gateway"),
		gwaws.GroupVersion.WithKind("LoadBalancerConfiguration"), gwaws.GroupVersion.WithKind("TargetGroupConfiguration"),
		gwaws.GroupVersion.WithKind("ListenerRuleConfiguration"),
	}
	missing := func(gvks []schema.GroupVersionKind) ([]string, error) {
		var out []string
		for _, gvk := range gvks {
			ok, err := served(gvk)
			if err != nil {
				return nil, err
			}
			if !ok {
				out = append(out, gvk.Kind+"."+gvk.Group+"/"+gvk.Version)
			}
		}
		return out, nil
	}
	var err error
	if k.Missing, err = missing(append(append([]schema.GroupVersionKind(nil), common...), gwGV.WithKind("HTTPRoute"), gwGV.WithKind("GRPCRoute"))); err != nil {
		return k, err
	}
	k.ALB = len(k.Missing) == 0
	if k.MissingNLB, err = missing(append(append([]schema.GroupVersionKind(nil), common...), gwGV.WithKind("TCPRoute"), gwGV.WithKind("UDPRoute"), gwGV.WithKind("TLSRoute"))); err != nil {
		return k, err
	}
	k.NLB = len(k.MissingNLB) == 0
	if k.ListenerSets, err = served(gwGV.WithKind("ListenerSet")); err != nil {
		return k, err
	}
	for _, v := range []string{"v1", "v1beta1"} {
		ok, err := served(schema.GroupVersionKind{Group: gwv1.GroupName, Version: v, Kind: "ReferenceGrant"})
		if err != nil {
			return k, err
		}
		if ok {
			k.ReferenceGrantVersion = v
			break
		}
	}
	if (k.ALB || k.NLB) && reader != nil {
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		if err := reader.Get(ctx, types.NamespacedName{Name: "gateways." + gwv1.GroupName}, crd); err == nil {
			k.BundleVersion = crd.Annotations[AnnotationBundleVersion]
		}
	}
	return k, nil
}

// String describes the kinds for a log line.
func (k Kinds) String() string {
	onOff := func(name string, on bool, missing []string) string {
		if on {
			return name + " Gateway controller on"
		}
		return name + " Gateway controller off (not served: " + strings.Join(missing, ", ") + ")"
	}
	return fmt.Sprintf("%s, %s (Gateway API %s, ListenerSets %t, ReferenceGrant %s)", onOff("ALB", k.ALB, k.Missing), onOff("NLB", k.NLB, k.MissingNLB),
		orUnknown(k.BundleVersion), k.ListenerSets, orUnknown(k.ReferenceGrantVersion))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// referenceGrant returns an object of the served ReferenceGrant version,
// for watches; nil when none is served.
func (k Kinds) referenceGrant() client.Object {
	switch k.ReferenceGrantVersion {
	case "v1":
		return &gwv1.ReferenceGrant{}
	case "v1beta1":
		return &gwv1beta1.ReferenceGrant{}
	}
	return nil
}
