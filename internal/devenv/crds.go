package devenv

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/elbowlb/elbow/config/crd"
)

// ingressClassObjects are what the reference controller's Helm chart
// installs by default next to its CRDs: the IngressClass alb and the
// IngressClassParams alb it points to (empty: every setting is the
// Ingresses' own).
const ingressClassObjects = `
apiVersion: elbv2.k8s.aws/v1beta1
kind: IngressClassParams
metadata:
  name: alb
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: alb
spec:
  controller: ingress.k8s.aws/alb
  parameters:
    apiGroup: elbv2.k8s.aws
    kind: IngressClassParams
    name: alb
`

// installCRDs applies elbow's and the Gateway API's CRDs and waits until
// they are established. It returns their number.
func (e *Env) installCRDs(ctx context.Context) (int, error) {
	sets, err := crd.Sets()
	if err != nil {
		return 0, err
	}
	var objs []Object
	for _, s := range sets {
		for i, m := range s.Manifests {
			o, err := parseObjects(fmt.Sprintf("%s CRD %d", s.Name, i+1), m)
			if err != nil {
				return 0, err
			}
			objs = append(objs, o...)
		}
	}
	if err := e.applyAll(ctx, objs); err != nil {
		return 0, err
	}
	return len(objs), nil
}

// installIngressClass applies the IngressClass alb and its
// IngressClassParams. It runs once the controller serves its webhooks:
// the API server calls them for IngressClassParams (and, on a restart,
// their configurations are already registered).
func (e *Env) installIngressClass(ctx context.Context) error {
	objs, err := parseObjects("the IngressClass alb", []byte(ingressClassObjects))
	if err != nil {
		return err
	}
	return e.applyAll(ctx, objs)
}

func (e *Env) applyAll(ctx context.Context, objs []Object) error {
	a, err := newApplier(e.rest, e.warn)
	if err != nil {
		return err
	}
	_, err = a.Apply(ctx, objs)
	return err
}

func runtimeFromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}
