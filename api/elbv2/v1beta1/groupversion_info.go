// Package v1beta1 holds the Go types of the elbv2.k8s.aws/v1beta1 API group:
// IngressClassParams and TargetGroupBinding, field for field the AWS Load
// Balancer Controller's, so that objects written for that controller are read
// unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=elbv2.k8s.aws
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of these types.
var GroupVersion = schema.GroupVersion{Group: "elbv2.k8s.aws", Version: "v1beta1"}

// AddToScheme registers the types of this group version with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&IngressClassParams{}, &IngressClassParamsList{},
		&TargetGroupBinding{}, &TargetGroupBindingList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
