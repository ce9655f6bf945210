package webhooks

import (
	"context"
	"encoding/json"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// PathMutateService is the Service mutator's path.
const PathMutateService = "/mutate-v1-service"

// ServiceClass sets spec.loadBalancerClass on new Services of type
// LoadBalancer that have none (elbow becomes the cluster's default load
// balancer implementation, as with the reference's Helm chart default),
// and keeps a class on updates that drop it.
type ServiceClass struct {
	// LoadBalancerClass is --load-balancer-class.
	LoadBalancerClass string
}

// Default implements admission.Defaulter.
func (m *ServiceClass) Default(ctx context.Context, svc *corev1.Service) error {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	switch req.Operation {
	case admissionv1.Create:
		if svc.Spec.LoadBalancerClass == nil || *svc.Spec.LoadBalancerClass == "" {
			c := m.LoadBalancerClass
			svc.Spec.LoadBalancerClass = &c
		}
	case admissionv1.Update:
		old := &corev1.Service{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return nil
		}
		if old.Spec.LoadBalancerClass != nil && *old.Spec.LoadBalancerClass != "" &&
			(svc.Spec.LoadBalancerClass == nil || *svc.Spec.LoadBalancerClass == "") {
			c := *old.Spec.LoadBalancerClass
			svc.Spec.LoadBalancerClass = &c
		}
	}
	return nil
}
