package plan

import (
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/elbowlb/elbow/internal/translate"
	"github.com/elbowlb/elbow/internal/translate/ingress"
	"github.com/elbowlb/elbow/internal/translate/manifests"
)

// AddDefaultIngressClass adds the IngressClass the reference's Helm chart
// installs (named after --ingress-class, controller ingress.k8s.aws/alb, no
// parameters) when Ingresses name it and the manifests do not define it, as
// in a cluster where the controller is installed; a note says so.
func AddDefaultIngressClass(objs *manifests.Objects, name string) {
	if name == "" {
		return
	}
	for _, c := range objs.IngressClasses {
		if c.Name == name {
			return
		}
	}
	used := false
	for _, ing := range objs.Ingresses {
		if ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == name {
			used = true
		}
	}
	if !used {
		return
	}
	objs.IngressClasses = append(objs.IngressClasses, networking.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       networking.IngressClassSpec{Controller: ingress.ControllerName},
	})
	objs.Diagnostics = append(objs.Diagnostics, translate.Diagnostic{Severity: translate.Note,
		Object:  translate.ObjectRef{Kind: "IngressClass", Name: name},
		Message: "not in the manifests: assumed as installed with the controller (controller " + ingress.ControllerName + ", no parameters)"})
}
