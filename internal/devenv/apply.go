package devenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/elbowlb/elbow/internal/translate/manifests"
)

// fieldManager owns the fields elbow dev applies.
const fieldManager = "elbow-dev"

// Object is one manifest document to apply.
type Object struct {
	*unstructured.Unstructured
	// Source is "FILE#N", for messages.
	Source string
}

// Ref is "Kind namespace/name" (or "Kind name" when cluster-scoped).
func (o Object) Ref() string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// LoadObjects reads the manifests that paths name (files, and directories
// recursively), expanding Lists. Every document must have apiVersion,
// kind and metadata.name.
func LoadObjects(paths []string) ([]Object, error) {
	files, err := manifests.Files(paths)
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		objs, err := parseObjects(f, b)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// parseObjects decodes the documents of one file, expanding Lists.
func parseObjects(name string, data []byte) ([]Object, error) {
	var out []Object
	err := manifests.Documents(name, data, func(n int, doc []byte) error {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(js, &u.Object); err != nil {
			return fmt.Errorf("not a Kubernetes object: %w", err)
		}
		if u.Object == nil {
			return nil
		}
		items := []*unstructured.Unstructured{u}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return err
			}
			items = items[:0]
			for i := range l.Items {
				items = append(items, &l.Items[i])
			}
		}
		for i, it := range items {
			src := fmt.Sprintf("%s#%d", name, n)
			if u.IsList() {
				src = fmt.Sprintf("%s#%d.items[%d]", name, n, i)
			}
			if it.GetAPIVersion() == "" || it.GetKind() == "" || it.GetName() == "" {
				return fmt.Errorf("%s: apiVersion, kind and metadata.name are required", src)
			}
			out = append(out, Object{Unstructured: it, Source: src})
		}
		return nil
	})
	return out, err
}

// applier applies objects with server-side apply through the dynamic
// client, finding resources through discovery.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// newApplier returns an applier; warnings the API server sends (a
// deprecated version, say) go to warn.
func newApplier(cfg *rest.Config, warn func(string)) (*applier, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warningFunc(warn)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// warningFunc hands API server warnings to a function.
type warningFunc func(string)

// HandleWarningHeader implements rest.WarningHandler.
func (f warningFunc) HandleWarningHeader(code int, _, text string) {
	if code == 299 && text != "" && f != nil {
		f(text)
	}
}

// order returns the rank of an object in the apply order: namespaces and
// CRDs first, then everything else in file order.
func order(o Object) int {
	switch o.GroupVersionKind().GroupKind() {
	case schema.GroupKind{Kind: "Namespace"}:
		return 0
	case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
		return 1
	}
	return 2
}

// Apply applies objects: namespaces and CRDs first (waiting until the CRDs
// are established), then the rest. Namespaced objects without a namespace
// go to "default"; a namespace that objects use and no file creates is
// created. It returns the objects as applied, with their namespaces set.
// Every object is tried; the error lists each that failed.
func (a *applier) Apply(ctx context.Context, objs []Object) ([]Object, error) {
	sorted := append([]Object(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return order(sorted[i]) < order(sorted[j]) })
	var errs []string
	var applied []Object
	namespaces := map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}
	crdsDone := false
	for _, o := range sorted {
		if order(o) == 2 && !crdsDone {
			crdsDone = true
			if err := a.waitCRDs(ctx, applied); err != nil {
				return applied, err
			}
			a.mapper.Reset()
		}
		if o.GetKind() == "Namespace" {
			namespaces[o.GetName()] = true
		}
		m, err := a.mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s (%s): the cluster does not serve %s: %v", o.Ref(), o.Source, o.GroupVersionKind(), err))
			continue
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace("default")
			}
			if !namespaces[o.GetNamespace()] {
				if err := a.ensureNamespace(ctx, o.GetNamespace()); err != nil {
					errs = append(errs, fmt.Sprintf("%s (%s): namespace %s: %v", o.Ref(), o.Source, o.GetNamespace(), err))
					continue
				}
				namespaces[o.GetNamespace()] = true
			}
		} else {
			o.SetNamespace("")
		}
		if err := a.apply(ctx, m.Resource, o); err != nil {
			errs = append(errs, fmt.Sprintf("%s (%s): %v", o.Ref(), o.Source, err))
			continue
		}
		applied = append(applied, o)
	}
	if !crdsDone {
		if err := a.waitCRDs(ctx, applied); err != nil {
			return applied, err
		}
	}
	if len(errs) > 0 {
		return applied, fmt.Errorf("%d of %d objects were not applied:\n  %s", len(errs), len(objs), strings.Join(errs, "\n  "))
	}
	return applied, nil
}

func (a *applier) apply(ctx context.Context, gvr schema.GroupVersionResource, o Object) error {
	var ri dynamic.ResourceInterface = a.dyn.Resource(gvr)
	if ns := o.GetNamespace(); ns != "" {
		ri = a.dyn.Resource(gvr).Namespace(ns)
	}
	// The service-account admission plugin refuses pods until the
	// namespace's default ServiceAccount exists; retry such refusals for
	// a while, as the controllers that create pods do.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := ri.Apply(ctx, o.GetName(), o.Unstructured, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err == nil || !retriable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func retriable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		(apierrors.IsForbidden(err) && strings.Contains(err.Error(), "serviceaccount"))
}

func (a *applier) ensureNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	return a.apply(ctx, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Object{Unstructured: ns})
}

// waitCRDs waits until every applied CRD is Established.
func (a *applier) waitCRDs(ctx context.Context, applied []Object) error {
	var names []string
	for _, o := range applied {
		if order(o) == 1 {
			names = append(names, o.GetName())
		}
	}
	return waitEstablished(ctx, a.dyn, names)
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// waitEstablished waits (up to a minute) until the named CRDs are
// Established.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, n := range names {
		for {
			u, err := dyn.Resource(crdResource).Get(ctx, n, metav1.GetOptions{})
			if err == nil {
				var crd apiextensionsv1.CustomResourceDefinition
				if err := runtimeFromUnstructured(u, &crd); err != nil {
					return err
				}
				if established(&crd) {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s is not established: %w", n, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
