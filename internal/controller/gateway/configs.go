package gateway

import (
	"context"
	"fmt"
	"reflect"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/translate"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// configKind is what the configuration reconciler needs of one of the
// three gateway.k8s.aws kinds.
type configKind struct {
	kind      string
	finalizer string
	newObj    func() client.Object
	list      func() client.ObjectList
	// inUse reports whether the world refers to the object, holding its
	// finalizer while it is being deleted.
	inUse func(in *trgw.Input, res *trgw.Result, o client.Object) bool
	// status returns the object's status as res decides it, applied to a
	// copy of o; nil leaves the status alone.
	status func(res *trgw.Result, o client.Object) client.Object
}

// ConfigReconciler reconciles one kind of gateway.k8s.aws configuration:
// the reference's finalizer (added to every object, removed on deletion
// once nothing uses the object) and the status translation decides.
type ConfigReconciler struct {
	*Config
	kind configKind
}

// NewConfigReconcilers returns the reconcilers of LoadBalancerConfigurations,
// TargetGroupConfigurations and ListenerRuleConfigurations.
func NewConfigReconcilers(c *Config) []*ConfigReconciler {
	return []*ConfigReconciler{{Config: c, kind: lbcKind}, {Config: c, kind: tgcKind}, {Config: c, kind: lrcKind}}
}

// Reconcile implements reconcile.Reconciler.
func (r *ConfigReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := r.kind.newObj()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	log := kube.Logger(ctx)
	if obj.GetDeletionTimestamp() == nil {
		if _, err := kube.AddFinalizer(ctx, r.Client, obj, r.kind.finalizer); err != nil {
			r.Events.Warning(obj, ReasonFailedAddFinalizer, "AddFinalizer", fmt.Sprintf("Failed add finalizer due to %v", err))
			return reconcile.Result{}, err
		}
	} else if !hasFinalizer(obj, r.kind.finalizer) {
		return reconcile.Result{}, nil
	}
	in, res, err := r.buildShared(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	if obj.GetDeletionTimestamp() != nil {
		if r.kind.inUse(&in, &res, obj) {
			// A change to what uses it reconciles it again.
			log.Info(r.kind.kind + " kept while in use")
			return reconcile.Result{}, nil
		}
		if _, err := kube.RemoveFinalizer(ctx, r.Client, obj, r.kind.finalizer); err != nil {
			r.Events.Warning(obj, ReasonFailedRemoveFinalizer, "RemoveFinalizer", fmt.Sprintf("Failed remove finalizer due to %v", err))
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, nil
	}
	want := r.kind.status(&res, obj)
	if want == nil || reflect.DeepEqual(obj, want) {
		return reconcile.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, want, client.MergeFrom(obj)); err != nil {
		return reconcile.Result{}, fmt.Errorf("%s status: %w", r.kind.kind, client.IgnoreNotFound(err))
	}
	return reconcile.Result{}, nil
}

// SetupWithManager registers the configuration controller: the object,
// and everything that can start or stop using it.
func (r *ConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		l := r.kind.list()
		if err := r.Client.List(ctx, l); err != nil {
			return nil
		}
		return requests(l)
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named(map[string]string{kindLBC: "loadbalancerconfiguration", kindTGC: "targetgroupconfiguration", kindLRC: "listenerruleconfiguration"}[r.kind.kind]).
		For(r.kind.newObj(), builder.WithPredicates(specChanged())).
		Watches(&gwv1.GatewayClass{}, all, builder.WithPredicates(specChanged())).
		Watches(&gwv1.Gateway{}, all, builder.WithPredicates(specChanged())).
		Watches(&gwv1.HTTPRoute{}, all, builder.WithPredicates(specChanged())).
		Watches(&gwv1.GRPCRoute{}, all, builder.WithPredicates(specChanged()))
	if r.kind.kind == kindTGC {
		b = b.Watches(&gwaws.LoadBalancerConfiguration{}, all, builder.WithPredicates(specChanged()))
	}
	return b.Complete(r)
}

func hasFinalizer(o client.Object, f string) bool {
	for _, x := range o.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

// sameObject reports whether ref names o.
func sameObject(ref translate.ObjectRef, o client.Object) bool {
	return ref.Namespace == o.GetNamespace() && ref.Name == o.GetName()
}

var lbcKind = configKind{
	kind:      kindLBC,
	finalizer: trgw.FinalizerLoadBalancerConfiguration,
	newObj:    func() client.Object { return &gwaws.LoadBalancerConfiguration{} },
	list:      func() client.ObjectList { return &gwaws.LoadBalancerConfigurationList{} },
	// In use while a GatewayClass or a Gateway names it (of any
	// controller: the NLB controller's too).
	inUse: func(in *trgw.Input, _ *trgw.Result, o client.Object) bool {
		return lbcReferenced(in, o.GetNamespace(), o.GetName())
	},
	status: func(res *trgw.Result, o client.Object) client.Object {
		s := findConfig(res.Status.LoadBalancerConfigurations, o)
		if s == nil {
			return nil
		}
		out := o.(*gwaws.LoadBalancerConfiguration).DeepCopy()
		st := &out.Status
		st.ObservedGatewayConfigurationGeneration, st.ObservedGatewayClassConfigurationGeneration = observed(s, st.ObservedGatewayConfigurationGeneration, st.ObservedGatewayClassConfigurationGeneration)
		return out
	},
}

var tgcKind = configKind{
	kind:      kindTGC,
	finalizer: trgw.FinalizerTargetGroupConfiguration,
	newObj:    func() client.Object { return &gwaws.TargetGroupConfiguration{} },
	list:      func() client.ObjectList { return &gwaws.TargetGroupConfigurationList{} },
	// In use while a Gateway's target groups take settings from it, or a
	// LoadBalancerConfiguration in use names it as its default.
	inUse: func(in *trgw.Input, res *trgw.Result, o client.Object) bool {
		if findConfig(res.Status.TargetGroupConfigurations, o) != nil {
			return true
		}
		for _, lbc := range in.LoadBalancerConfigurations {
			if d := lbc.Spec.DefaultTargetGroupConfiguration; d != nil && lbc.Namespace == o.GetNamespace() && d.Name == o.GetName() && lbcReferenced(in, lbc.Namespace, lbc.Name) {
				return true
			}
		}
		return false
	},
	status: func(res *trgw.Result, o client.Object) client.Object {
		s := findConfig(res.Status.TargetGroupConfigurations, o)
		if s == nil {
			return nil
		}
		out := o.(*gwaws.TargetGroupConfiguration).DeepCopy()
		st := &out.Status
		st.ObservedGatewayConfigurationGeneration, st.ObservedGatewayClassConfigurationGeneration = observed(s, st.ObservedGatewayConfigurationGeneration, st.ObservedGatewayClassConfigurationGeneration)
		return out
	},
}

var lrcKind = configKind{
	kind:      kindLRC,
	finalizer: trgw.FinalizerListenerRuleConfiguration,
	newObj:    func() client.Object { return &gwaws.ListenerRuleConfiguration{} },
	list:      func() client.ObjectList { return &gwaws.ListenerRuleConfigurationList{} },
	// In use while a route's ExtensionRef filter names it.
	inUse: func(in *trgw.Input, _ *trgw.Result, o client.Object) bool {
		return lrcReferenced(in, o.GetNamespace(), o.GetName())
	},
	status: func(res *trgw.Result, o client.Object) client.Object {
		for _, s := range res.Status.ListenerRuleConfigurations {
			if sameObject(s.Object, o) {
				out := o.(*gwaws.ListenerRuleConfiguration).DeepCopy()
				gen, accepted, msg := s.ObservedGeneration, s.Accepted, s.Message
				out.Status = v1beta1.ListenerRuleConfigurationStatus{ObservedGeneration: &gen, Accepted: &accepted, Message: &msg}
				return out
			}
		}
		return nil
	},
}

// observed returns the generations to write for a configuration: those
// translation observed, else those the status holds (a configuration no
// longer used through a Gateway or a class keeps the generation last
// applied that way).
func observed(s *trgw.ConfigurationStatus, gateway, class *int64) (*int64, *int64) {
	if s.ObservedGatewayConfigurationGeneration != nil {
		gateway = s.ObservedGatewayConfigurationGeneration
	}
	if s.ObservedGatewayClassConfigurationGeneration != nil {
		class = s.ObservedGatewayClassConfigurationGeneration
	}
	return gateway, class
}

// findConfig returns the status translation decided for o, if it did.
func findConfig(list []trgw.ConfigurationStatus, o client.Object) *trgw.ConfigurationStatus {
	for i := range list {
		if sameObject(list[i].Object, o) {
			return &list[i]
		}
	}
	return nil
}

// lbcReferenced reports whether a GatewayClass or a Gateway names the
// LoadBalancerConfiguration ns/name.
func lbcReferenced(in *trgw.Input, ns, name string) bool {
	for _, c := range in.GatewayClasses {
		p := c.Spec.ParametersRef
		if p != nil && string(p.Group) == groupAWS && string(p.Kind) == kindLBC && p.Name == name && p.Namespace != nil && string(*p.Namespace) == ns {
			return true
		}
	}
	for _, gw := range in.Gateways {
		if gw.Namespace != ns || gw.Spec.Infrastructure == nil || gw.Spec.Infrastructure.ParametersRef == nil {
			continue
		}
		p := gw.Spec.Infrastructure.ParametersRef
		if string(p.Group) == groupAWS && string(p.Kind) == kindLBC && p.Name == name {
			return true
		}
	}
	return false
}

// lrcReferenced reports whether a route rule's ExtensionRef filter names
// the ListenerRuleConfiguration ns/name.
func lrcReferenced(in *trgw.Input, ns, name string) bool {
	named := func(f *gwv1.LocalObjectReference) bool {
		return f != nil && string(f.Group) == groupAWS && string(f.Kind) == kindLRC && string(f.Name) == name
	}
	for _, r := range in.HTTPRoutes {
		if r.Namespace != ns {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, f := range rule.Filters {
				if named(f.ExtensionRef) {
					return true
				}
			}
			for _, b := range rule.BackendRefs {
				for _, f := range b.Filters {
					if named(f.ExtensionRef) {
						return true
					}
				}
			}
		}
	}
	for _, r := range in.GRPCRoutes {
		if r.Namespace != ns {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, f := range rule.Filters {
				if named(f.ExtensionRef) {
					return true
				}
			}
		}
	}
	return false
}
