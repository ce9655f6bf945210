// Package v1 holds the Go types of the gateway.k8s.aws/v1 API group, the
// storage version of LoadBalancerConfiguration, TargetGroupConfiguration
// and ListenerRuleConfiguration.
//
// The AWS Load Balancer Controller serves v1 and v1beta1 with the same
// schema (v1beta1 deprecated), so the two convert without a webhook. The
// specs and statuses here are v1beta1's types, so that the schema is
// written once; only the top-level kinds are declared again, under this
// version.
//
// +kubebuilder:object:generate=true
// +groupName=gateway.k8s.aws
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "gateway.k8s.aws", Version: "v1"}

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
