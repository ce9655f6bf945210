package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
)

// LoadBalancerConfiguration is the load balancer setting of a Gateway or a
// GatewayClass.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type LoadBalancerConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired setting.
	Spec v1beta1.LoadBalancerConfigurationSpec `json:"spec,omitempty"`
	// Status is what the controller last saw.
	Status v1beta1.LoadBalancerConfigurationStatus `json:"status,omitempty"`
}

// LoadBalancerConfigurationList is a list of LoadBalancerConfigurations.
// +kubebuilder:object:root=true
type LoadBalancerConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the LoadBalancerConfigurations.
	Items []LoadBalancerConfiguration `json:"items"`
}

// TargetGroupConfiguration is the target group setting of a Service a
// Gateway's routes send traffic to.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="SERVICE-NAME",type="string",JSONPath=".spec.targetReference.name",description="The Kubernetes Service's name"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type TargetGroupConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired setting.
	Spec v1beta1.TargetGroupConfigurationSpec `json:"spec,omitempty"`
	// Status is what the controller last saw.
	Status v1beta1.TargetGroupConfigurationStatus `json:"status,omitempty"`
}

// TargetGroupConfigurationList is a list of TargetGroupConfigurations.
// +kubebuilder:object:root=true
type TargetGroupConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the TargetGroupConfigurations.
	Items []TargetGroupConfiguration `json:"items"`
}

// ListenerRuleConfiguration is the listener rule setting a route rule
// refers to with an ExtensionRef filter.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type ListenerRuleConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired setting.
	Spec v1beta1.ListenerRuleConfigurationSpec `json:"spec,omitempty"`
	// Status is what the controller last saw.
	Status v1beta1.ListenerRuleConfigurationStatus `json:"status,omitempty"`
}

// ListenerRuleConfigurationList is a list of ListenerRuleConfigurations.
// +kubebuilder:object:root=true
type ListenerRuleConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ListenerRuleConfigurations.
	Items []ListenerRuleConfiguration `json:"items"`
}
