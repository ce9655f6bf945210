// Package service translates Services of type LoadBalancer (those the AWS
// Load Balancer Controller would take: loadBalancerClass
// service.k8s.aws/nlb, or aws-load-balancer-type external/nlb-ip) into one
// NLB stack each, deciding what that controller decides: listeners per
// port, target groups and their health checks, names, tags, security
// groups and subnets.
package service

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// Finalizer is the finalizer the reference puts on the Services it handles.
const Finalizer = "service.k8s.aws/resources"

// Input is everything the translation reads.
type Input struct {
	// Services are all Services; those that are not ours are skipped (with
	// a note), and those weighted forward actions name are looked up here.
	Services []corev1.Service
	// Workloads are pod templates, for the pitfall checks.
	Workloads []translate.Workload
	Facts     *facts.Facts
	Options   translate.Options
}

// Result is one stack per handled Service.
type Result struct {
	// Stacks are ordered by Service namespace and name.
	Stacks []Stack
	// Diagnostics are about Services not handled (notes, pitfalls).
	Diagnostics []translate.Diagnostic
	// Missing are the cloud references the facts lack (see
	// translate.Cloud.Missing).
	Missing []translate.Reference
}

// Stack is the translation of one Service.
type Stack struct {
	Service translate.ObjectRef
	// Stack is the desired stack. An empty stack means the Service is no
	// longer ours but still has the finalizer: delete what it owns. Nil
	// means it could not be built (Err): change nothing.
	Stack *stack.Stack
	Err   error
	// BackendSecurityGroup says the stack uses the shared backend security group.
	BackendSecurityGroup bool
	Decisions            []translate.Decision
	Diagnostics          []translate.Diagnostic
}

// Supported reports whether a Service is the reference controller's, and why.
func Supported(svc *corev1.Service, opts *translate.Options) (bool, string) {
	if svc.DeletionTimestamp != nil {
		return false, "being deleted"
	}
	if opts.FeatureGates.Enabled(translate.GateServiceTypeLoadBalancerOnly) && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false, "not type LoadBalancer (gate ServiceTypeLoadBalancerOnly)"
	}
	if c := svc.Spec.LoadBalancerClass; c != nil {
		if *c == opts.LoadBalancerClass {
			return true, "spec.loadBalancerClass " + *c
		}
		return false, fmt.Sprintf("spec.loadBalancerClass %s is not %s", *c, opts.LoadBalancerClass)
	}
	ann := annotations.Set(svc.Annotations)
	lbType, _ := ann.String(annotations.ServiceType)
	tt, _ := ann.String(annotations.ServiceNLBTargetType)
	switch {
	case lbType == "nlb-ip":
		return true, "annotation " + annotations.ServiceType + ": nlb-ip"
	case lbType == "external" && (tt == "ip" || tt == "instance"):
		return true, fmt.Sprintf("annotations %s: external and %s: %s", annotations.ServiceType, annotations.ServiceNLBTargetType, tt)
	case lbType == "external":
		return false, fmt.Sprintf("annotation %s: external needs %s: ip or instance", annotations.ServiceType, annotations.ServiceNLBTargetType)
	case lbType != "":
		return false, fmt.Sprintf("annotation %s: %s is not external or nlb-ip", annotations.ServiceType, lbType)
	}
	if opts.AdoptServicesWithoutClass && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		return true, "type LoadBalancer without loadBalancerClass: adopted as the reference's Service webhook does (it sets loadBalancerClass " + opts.LoadBalancerClass + " on create)"
	}
	return false, "no loadBalancerClass " + opts.LoadBalancerClass + " and no aws-load-balancer-type annotation"
}

// Build translates every Service of the input.
func Build(in Input) Result {
	var res Result
	opts := in.Options
	cloud, diags := translate.Start(in.Facts, &opts)
	if cloud == nil {
		res.Diagnostics = diags
		return res
	}
	svcs := make([]*corev1.Service, 0, len(in.Services))
	byKey := map[string]*corev1.Service{}
	for i := range in.Services {
		s := &in.Services[i]
		svcs = append(svcs, s)
		byKey[s.Namespace+"/"+s.Name] = s
	}
	sort.Slice(svcs, func(i, j int) bool {
		if svcs[i].Namespace != svcs[j].Namespace {
			return svcs[i].Namespace < svcs[j].Namespace
		}
		return svcs[i].Name < svcs[j].Name
	})
	for _, svc := range svcs {
		ref := translate.ServiceRef(svc)
		ok, why := Supported(svc, &opts)
		hasLBAnnotations := false
		for k := range svc.Annotations {
			if strings.HasPrefix(k, annotations.ServicePrefix+"aws-load-balancer-") {
				hasLBAnnotations = true
			}
		}
		if !ok {
			if translate.HasFinalizer(svc, Finalizer) {
				res.Stacks = append(res.Stacks, deletion(svc, &opts))
				continue
			}
			if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				res.Diagnostics = append(res.Diagnostics, translate.Diagnostic{Severity: translate.Note, Object: ref, Message: "type LoadBalancer but not handled: " + why})
			} else if hasLBAnnotations {
				res.Diagnostics = append(res.Diagnostics, translate.Diagnostic{Severity: translate.Warning, Object: ref,
					Message: fmt.Sprintf("has aws-load-balancer annotations but is type %s and not selected (%s): they have no effect; use type: LoadBalancer", svc.Spec.Type, why)})
			}
			continue
		}
		b := newBuilder(cloud, &opts, svc, byKey, in.Workloads)
		b.decide("handled", "yes", "%s", why)
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			b.trace.Add(translate.Warning, ref, "is type %s but its annotations select it (%s): it gets a load balancer all the same; type: LoadBalancer states the intent", svc.Spec.Type, why)
		}
		err := b.run()
		st := Stack{Service: ref, Decisions: b.trace.Decisions}
		for _, d := range b.trace.Diagnostics {
			d.Stack = ref.Key()
			st.Diagnostics = append(st.Diagnostics, d)
		}
		if err != nil {
			st.Err = err
			st.Diagnostics = append(st.Diagnostics, translate.Diagnostic{Severity: translate.Error, Object: ref, Stack: ref.Key(), Message: err.Error()})
		} else {
			st.Stack = b.stack
			st.BackendSecurityGroup = b.backendSGAllocated
		}
		st.Diagnostics = translate.SortDiagnostics(st.Diagnostics)
		res.Stacks = append(res.Stacks, st)
	}
	res.Diagnostics = translate.SortDiagnostics(res.Diagnostics)
	res.Missing = cloud.Missing()
	return res
}

// deletion is the empty stack of a Service that is no longer ours.
func deletion(svc *corev1.Service, opts *translate.Options) Stack {
	ref := translate.ServiceRef(svc)
	st := Stack{Service: ref, Stack: stack.New(stack.ID{Namespace: svc.Namespace, Name: svc.Name}, stack.TagPrefixService)}
	attrs, _, err := annotations.Set(svc.Annotations).StringMap(annotations.ServiceAttributes)
	if err == nil && attrs["deletion_protection.enabled"] != "" {
		if on, perr := strconv.ParseBool(attrs["deletion_protection.enabled"]); perr == nil && on {
			st.Stack = nil
			st.Err = fmt.Errorf("deletion_protection is enabled, cannot delete the service: %s", svc.Name)
			st.Diagnostics = []translate.Diagnostic{{Severity: translate.Error, Object: ref, Stack: ref.Key(), Message: st.Err.Error()}}
		}
	}
	if st.Err == nil {
		st.Diagnostics = []translate.Diagnostic{{Severity: translate.Note, Object: ref, Stack: ref.Key(), Message: "no longer handled but still has the finalizer " + Finalizer + ": its load balancer is deleted"}}
	}
	return st
}
