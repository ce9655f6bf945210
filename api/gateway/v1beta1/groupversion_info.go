// Package v1beta1 holds the Go types of the gateway.k8s.aws/v1beta1 API
// group: LoadBalancerConfiguration, TargetGroupConfiguration and
// ListenerRuleConfiguration, the AWS Load Balancer Controller's extensions
// of the Gateway API, field for field as that controller defines them, so
// that objects written for it are read unchanged.
//
// The controller serves the same schema as gateway.k8s.aws/v1 (the storage
// version, see package api/gateway/v1) and marks v1beta1 deprecated; both
// versions are generated into one CRD per kind.
//
// +kubebuilder:object:generate=true
// +groupName=gateway.k8s.aws
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "gateway.k8s.aws", Version: "v1beta1"}

// AddToScheme registers the types of this group version with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&LoadBalancerConfiguration{}, &LoadBalancerConfigurationList{},
		&TargetGroupConfiguration{}, &TargetGroupConfigurationList{},
		&ListenerRuleConfiguration{}, &ListenerRuleConfigurationList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
