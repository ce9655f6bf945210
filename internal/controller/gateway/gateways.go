package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/internal/controller/bindings"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// GatewayControllerName names the Gateway controller in logs and metrics.
const GatewayControllerName = "gateway"

// How soon a load balancer still provisioning is looked at again: a
// quarter of the time it has been provisioning, within these bounds (a
// local ELB takes seconds, AWS minutes).
const (
	provisioningPollMin = time.Second
	provisioningPollMax = 15 * time.Second
)

// GatewayReconciler reconciles the Gateways of elbow's controllers: one
// stack each.
type GatewayReconciler struct {
	*Config
	// provisioning holds when each Gateway's load balancer was first seen
	// provisioning, by namespace/name.
	provisioning sync.Map
}

// pollProvisioning returns how long to wait before looking again at a
// Gateway whose load balancer is provisioning; zero (and forgetting the
// Gateway) when it is not.
func (r *GatewayReconciler) pollProvisioning(key string, provisioning bool) time.Duration {
	if !provisioning {
		r.provisioning.Delete(key)
		return 0
	}
	first, _ := r.provisioning.LoadOrStore(key, time.Now())
	return min(max(time.Since(first.(time.Time))/4, provisioningPollMin), provisioningPollMax)
}

// Reconcile implements reconcile.Reconciler.
func (r *GatewayReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	gw := &gwv1.Gateway{}
	if err := r.Client.Get(ctx, req.NamespacedName, gw); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !r.ours(ctx, gw) {
		return reconcile.Result{}, nil
	}
	log := kube.Logger(ctx)
	_, res, err := r.build(ctx)
	if err != nil {
		r.Events.Warning(gw, ReasonFailedBuildModel, "Build", fmt.Sprintf("Failed build model due to %v", err))
		return reconcile.Result{}, err
	}
	g := findGateway(res, gw)
	if g == nil {
		return reconcile.Result{}, nil
	}
	st := findGatewayStatus(res, gw)
	if g.Stack == nil {
		err := g.Err
		if err == nil {
			err = errors.New("the load balancer could not be built")
		}
		r.Events.Warning(gw, ReasonFailedBuildModel, "Build", fmt.Sprintf("Failed build model due to %v", err))
		r.writeStatus(ctx, gw, res, st, trgw.Deployment{Err: fmt.Errorf("not built: %w", err)})
		log.Warn("gateway not built", "error", err)
		// Translation's errors are the objects': a change to them
		// reconciles again.
		return reconcile.Result{}, nil
	}
	if g.DryRun {
		return reconcile.Result{}, r.dryRun(ctx, gw, g, res, st)
	}
	if err := r.clearDryRunPlan(ctx, gw); err != nil {
		return reconcile.Result{}, err
	}
	deleting := len(g.Stack.LoadBalancers) == 0
	if !deleting {
		if _, err := kube.AddFinalizer(ctx, r.Client, gw, g.Finalizer); err != nil {
			r.Events.Warning(gw, ReasonFailedAddFinalizer, "AddFinalizer", fmt.Sprintf("Failed add finalizer due to %v", err))
			return reconcile.Result{}, err
		}
		// Add-ons switched on are remembered before they are deployed, so
		// that a later removal switches them off even if this deploy fails.
		if err := r.persistAddons(ctx, gw, g.Addons, true); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := r.Deployer.Deploy(ctx, g.Stack); err != nil {
		r.Events.Warning(gw, ReasonFailedDeployModel, "Deploy", fmt.Sprintf("Failed deploy model due to %v", err))
		if !deleting {
			r.writeStatus(ctx, gw, res, st, trgw.Deployment{Err: err})
		}
		return reconcile.Result{}, fmt.Errorf("deploy stack %s: %w", g.Stack.ID, err)
	}
	applied, err := bindings.Apply(ctx, r.Client, g.Stack)
	if err != nil {
		r.Events.Warning(gw, ReasonFailedDeployModel, "Deploy", fmt.Sprintf("Failed deploy model due to %v", err))
		return reconcile.Result{}, err
	}
	if applied.Changed() {
		log.Info("target group bindings applied", "created", applied.Created, "updated", applied.Updated, "deleted", applied.Deleted)
	}
	if deleting {
		left, err := bindings.Remaining(ctx, r.Client, g.Stack)
		if err != nil {
			return reconcile.Result{}, err
		}
		if len(left) > 0 {
			log.Info("waiting for target group bindings to be deleted", "bindings", left)
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		if _, err := kube.RemoveFinalizer(ctx, r.Client, gw, g.Finalizer); err != nil {
			r.Events.Warning(gw, ReasonFailedRemoveFinalizer, "RemoveFinalizer", fmt.Sprintf("Failed remove finalizer due to %v", err))
			return reconcile.Result{}, err
		}
		r.pollProvisioning(req.String(), false)
		log.Info("load balancer deleted")
		return reconcile.Result{}, nil
	}
	if err := r.persistAddons(ctx, gw, g.Addons, false); err != nil {
		return reconcile.Result{}, err
	}
	d := deployment(g.Stack)
	changed, err := r.writeStatus(ctx, gw, res, st, d)
	if err != nil {
		r.Events.Warning(gw, ReasonFailedUpdateStatus, "UpdateStatus", fmt.Sprintf("Failed update status due to %v", err))
		return reconcile.Result{}, err
	}
	if changed || applied.Changed() {
		r.Events.Normal(gw, ReasonSuccessfullyReconciled, "Reconcile", "Successfully reconciled")
	}
	return reconcile.Result{RequeueAfter: r.pollProvisioning(req.String(), d.State == "provisioning")}, nil
}

// deployment is what the deployed stack says of its load balancer.
func deployment(s *stack.Stack) trgw.Deployment {
	var d trgw.Deployment
	for _, id := range translate.SortedKeys(s.LoadBalancers) {
		lb := s.LoadBalancers[id]
		if lb.Status == nil {
			continue
		}
		d.LoadBalancerARN, d.DNSName, d.StaticAddresses = lb.Status.LoadBalancerARN, lb.Status.DNSName, lb.Status.StaticAddresses
		if lb.Status.ProvisioningState != nil {
			d.State = lb.Status.ProvisioningState.Code
		}
		break
	}
	return d
}

// dryRun writes the stack's JSON to the plan annotation, and the status
// that says the load balancer is planned, not deployed. Nothing is
// deployed and no finalizer is added.
func (r *GatewayReconciler) dryRun(ctx context.Context, gw *gwv1.Gateway, g *trgw.Gateway, res trgw.Result, st *trgw.GatewayStatus) error {
	plan, err := json.Marshal(g.Stack)
	if err != nil {
		return fmt.Errorf("stack JSON: %w", err)
	}
	if gw.Annotations[trgw.AnnotationDryRunPlan] != string(plan) {
		old := gw.DeepCopy()
		if gw.Annotations == nil {
			gw.Annotations = map[string]string{}
		}
		gw.Annotations[trgw.AnnotationDryRunPlan] = string(plan)
		if err := r.Client.Patch(ctx, gw, client.MergeFrom(old)); err != nil {
			return fmt.Errorf("dry-run plan annotation: %w", client.IgnoreNotFound(err))
		}
		kube.Logger(ctx).Info("dry-run plan written", "annotation", trgw.AnnotationDryRunPlan)
	}
	_, err = r.writeStatus(ctx, gw, res, st, trgw.Deployment{DryRun: true})
	return err
}

// clearDryRunPlan removes the plan annotation of a Gateway no longer in
// dry run.
func (r *GatewayReconciler) clearDryRunPlan(ctx context.Context, gw *gwv1.Gateway) error {
	if _, ok := gw.Annotations[trgw.AnnotationDryRunPlan]; !ok {
		return nil
	}
	old := gw.DeepCopy()
	delete(gw.Annotations, trgw.AnnotationDryRunPlan)
	if err := r.Client.Patch(ctx, gw, client.MergeFrom(old)); err != nil {
		return fmt.Errorf("remove dry-run plan annotation: %w", client.IgnoreNotFound(err))
	}
	return nil
}

// persistAddons records add-on state in the Gateway's annotations as the
// reference does: with on, the add-ons switched on ("true", before the
// deploy); without, those switched off ("false", after it).
func (r *GatewayReconciler) persistAddons(ctx context.Context, gw *gwv1.Gateway, addons map[string]bool, on bool) error {
	old := gw.DeepCopy()
	changed := false
	for _, name := range translate.SortedKeys(addons) {
		key := trgw.AnnotationAddonPrefix + name
		was := gw.Annotations[key] == "true"
		switch {
		case on && addons[name] && !was:
			if gw.Annotations == nil {
				gw.Annotations = map[string]string{}
			}
			gw.Annotations[key] = "true"
			changed = true
		case !on && !addons[name] && was:
			gw.Annotations[key] = "false"
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := r.Client.Patch(ctx, gw, client.MergeFrom(old)); err != nil {
		return fmt.Errorf("add-on annotations: %w", client.IgnoreNotFound(err))
	}
	return nil
}

// writeStatus writes the Gateway's status and that of its ListenerSets,
// as translation decided it and d completes it; it reports whether the
// Gateway's changed. Errors writing a ListenerSet's are logged.
func (r *GatewayReconciler) writeStatus(ctx context.Context, gw *gwv1.Gateway, res trgw.Result, st *trgw.GatewayStatus, d trgw.Deployment) (bool, error) {
	if st == nil {
		return false, nil
	}
	now := metav1.Now()
	want := timedGateway(gw.Status, st.Deployed(d), now)
	changed := false
	if !reflect.DeepEqual(gw.Status, want) {
		old := gw.DeepCopy()
		gw.Status = want
		if err := r.Client.Status().Patch(ctx, gw, client.MergeFrom(old)); err != nil {
			return false, fmt.Errorf("status: %w", client.IgnoreNotFound(err))
		}
		changed = true
	}
	for _, ls := range res.Status.ListenerSets {
		if ls.Gateway.Namespace != gw.Namespace || ls.Gateway.Name != gw.Name {
			continue
		}
		if err := r.writeListenerSetStatus(ctx, ls, d, now); err != nil {
			kube.Logger(ctx).Warn("listener set status", "listenerSet", ls.ListenerSet.Key(), "error", err)
		}
	}
	return changed, nil
}

func (r *GatewayReconciler) writeListenerSetStatus(ctx context.Context, ls trgw.ListenerSetStatus, d trgw.Deployment, now metav1.Time) error {
	obj := &gwv1.ListenerSet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ls.ListenerSet.Namespace, Name: ls.ListenerSet.Name}, obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	want := timedListenerSet(obj.Status, ls.DeployedListenerSet(d), now)
	if reflect.DeepEqual(obj.Status, want) {
		return nil
	}
	old := obj.DeepCopy()
	obj.Status = want
	return client.IgnoreNotFound(r.Client.Status().Patch(ctx, obj, client.MergeFrom(old)))
}

func findGateway(res trgw.Result, gw *gwv1.Gateway) *trgw.Gateway {
	for i := range res.Gateways {
		if g := &res.Gateways[i]; g.Gateway.Namespace == gw.Namespace && g.Gateway.Name == gw.Name {
			return g
		}
	}
	return nil
}

func findGatewayStatus(res trgw.Result, gw *gwv1.Gateway) *trgw.GatewayStatus {
	for i := range res.Status.Gateways {
		if s := &res.Status.Gateways[i]; s.Gateway.Namespace == gw.Namespace && s.Gateway.Name == gw.Name {
			return s
		}
	}
	return nil
}

// SetupWithManager registers the Gateway controller and its watches.
func (r *GatewayReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrent int) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named(GatewayControllerName).
		For(&gwv1.Gateway{}, builder.WithPredicates(specChanged())).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretGateways))
	b = watch(b, &gwv1.GatewayClass{}, r.classGateways)
	for _, k := range r.routeKinds() {
		b = watch(b, k.newObj(), r.routeGateways)
	}
	if r.Kinds.NLB {
		// An NLB Gateway in front of an ALB Gateway reads the ALB's ARN
		// from the ALB Gateway's status, its listeners from its spec.
		b = b.Watches(&gwv1.Gateway{}, handler.EnqueueRequestsFromMapFunc(r.chainedGateways), builder.WithPredicates(predicate.Or(specChanged(), programmedChanged())))
	}
	b = watch(b, &corev1.Service{}, r.serviceGateways)
	b = r.watchWorld(b, r.allGateways, r.listenerSetGateways)
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).Complete(r)
}
