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
// controllers (both on by default; --feature-gates ALBGatewayAPI=false
// turns the ALB Gateway controller off).
const (
	GateALBGatewayAPI      = "ALBGatewayAPI"
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
	required := []schema.GroupVersionKind{
		gwGV.WithKind("GatewayClass"), gwGV.WithKind("Gateway"),
		gwGV.WithKind("HTTPRoute"), gwGV.WithKind("GRPCRoute"),
		gwaws.GroupVersion.WithKind("LoadBalancerConfiguration"), gwaws.GroupVersion.WithKind("TargetGroupConfiguration"),
		gwaws.GroupVersion.WithKind("ListenerRuleConfiguration"),
	}
	for _, gvk := range required {
		ok, err := served(gvk)
		if err != nil {
			return k, err
		}
		if !ok {
			k.Missing = append(k.Missing, gvk.Kind+"."+gvk.Group+"/"+gvk.Version)
		}
	}
	k.ALB = len(k.Missing) == 0
	var err error
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
	if k.ALB && reader != nil {
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
	if !k.ALB {
		return "ALB Gateway controller off: not served " + strings.Join(k.Missing, ", ")
	}
	return fmt.Sprintf("ALB Gateway controller on (Gateway API %s, ListenerSets %t, ReferenceGrant %s)", orUnknown(k.BundleVersion), k.ListenerSets, orUnknown(k.ReferenceGrantVersion))
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
