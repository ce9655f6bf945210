// Package service reconciles Services of type LoadBalancer that elbow
// handles (loadBalancerClass service.k8s.aws/nlb, or the
// aws-load-balancer-type annotations): one NLB stack each, deployed, its
// TargetGroupBindings applied, and the Service's status.loadBalancer,
// status.conditions, finalizer and Events written.
package service

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/elbowlb/elbow/internal/controller/bindings"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	trsvc "github.com/elbowlb/elbow/internal/translate/service"
)

// Event reasons, as the reference controller writes them.
const (
	ReasonFailedAddFinalizer     = "FailedAddFinalizer"
	ReasonFailedRemoveFinalizer  = "FailedRemoveFinalizer"
	ReasonFailedUpdateStatus     = "FailedUpdateStatus"
	ReasonFailedCleanupStatus    = "FailedCleanupStatus"
	ReasonFailedBuildModel       = "FailedBuildModel"
	ReasonFailedDeployModel      = "FailedDeployModel"
	ReasonSuccessfullyReconciled = "SuccessfullyReconciled"
)

// ConditionReady is the Service condition elbow writes: True once the
// load balancer is deployed, False with the reason and the error otherwise.
const ConditionReady = "elbowlb.dev/LoadBalancerReady"

// ControllerName names the Service controller in logs and metrics.
const ControllerName = "service"

// Deployer deploys a stack and fills in its resources' status.
type Deployer interface {
	Deploy(ctx context.Context, s *stack.Stack) error
}

// FactsSource gives the cloud facts translation needs.
type FactsSource interface {
	Facts(ctx context.Context, force bool) (*facts.Facts, error)
	// Resolve looks up references the facts lack in the cloud: it returns
	// the facts with those found and, for the others, what the cloud
	// answered (translate.Options.References.Absent).
	Resolve(ctx context.Context, refs []translate.Reference) (*facts.Facts, map[translate.Reference]string, error)
}

// Reconciler reconciles Services.
type Reconciler struct {
	Client   client.Client
	Deployer Deployer
	Facts    FactsSource
	Options  translate.Options
	Events   kube.Recorder
	// BackendSG gives the shared backend security group's ID, creating it
	// on first need; nil when not managed.
	BackendSG BackendSG
}

// BackendSG finds or creates the shared backend security group.
type BackendSG interface {
	ID(ctx context.Context) (string, error)
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	svc := &corev1.Service{}
	if err := r.Client.Get(ctx, req.NamespacedName, svc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	ours, _ := trsvc.Supported(svc, &r.Options)
	if !ours && !controllerutilContains(svc.Finalizers, trsvc.Finalizer) {
		return reconcile.Result{}, nil
	}
	f, err := r.Facts.Facts(ctx, false)
	if err != nil {
		r.fail(ctx, svc, ReasonFailedBuildModel, fmt.Errorf("cloud facts: %w", err))
		return reconcile.Result{}, err
	}
	// The Service, and the Services of its namespace its weighted forward
	// actions may name.
	var list corev1.ServiceList
	if err := r.Client.List(ctx, &list, client.InNamespace(svc.Namespace)); err != nil {
		return reconcile.Result{}, fmt.Errorf("list services: %w", err)
	}
	opts := r.Options
	res := trsvc.Build(trsvc.Input{Services: list.Items, Facts: f, Options: opts})
	if len(res.Missing) > 0 {
		// References the cached facts lack are looked up before they are
		// refused: they may have been created since the facts were read.
		if f, opts.References.Absent, err = r.Facts.Resolve(ctx, res.Missing); err != nil {
			r.fail(ctx, svc, ReasonFailedBuildModel, err)
			return reconcile.Result{}, err
		}
		res = trsvc.Build(trsvc.Input{Services: list.Items, Facts: f, Options: opts})
	}
	st := find(res, svc)
	if st != nil && st.BackendSecurityGroup && r.BackendSG != nil && opts.BackendSecurityGroupID == "" {
		sg, err := r.BackendSG.ID(ctx)
		if err != nil {
			r.fail(ctx, svc, ReasonFailedDeployModel, err)
			return reconcile.Result{}, err
		}
		opts.BackendSecurityGroupID = sg
		res = trsvc.Build(trsvc.Input{Services: list.Items, Facts: f, Options: opts})
		st = find(res, svc)
	}
	if st == nil {
		for _, d := range res.Diagnostics {
			if d.Severity == translate.Error && (d.Object.Kind == "Options" || d.Object.Kind == "Facts") {
				err := errors.New(d.Message)
				r.fail(ctx, svc, ReasonFailedBuildModel, err)
				return reconcile.Result{}, err
			}
		}
		return reconcile.Result{}, nil
	}
	if st.Stack == nil {
		err := st.Err
		if err == nil {
			err = errors.New("the load balancer could not be built")
		}
		r.fail(ctx, svc, ReasonFailedBuildModel, err)
		return reconcile.Result{}, err
	}
	deleting := len(st.Stack.LoadBalancers) == 0
	if !deleting {
		if _, err := kube.AddFinalizer(ctx, r.Client, svc, trsvc.Finalizer); err != nil {
			r.Events.Warning(svc, ReasonFailedAddFinalizer, "AddFinalizer", fmt.Sprintf("Failed add finalizer due to %v", err))
			return reconcile.Result{}, err
		}
	}
	if err := r.Deployer.Deploy(ctx, st.Stack); err != nil {
		r.fail(ctx, svc, ReasonFailedDeployModel, err)
		return reconcile.Result{}, fmt.Errorf("deploy stack %s: %w", st.Stack.ID, err)
	}
	applied, err := bindings.Apply(ctx, r.Client, st.Stack)
	if err != nil {
		r.fail(ctx, svc, ReasonFailedDeployModel, err)
		return reconcile.Result{}, err
	}
	log := kube.Logger(ctx)
	if applied.Changed() {
		log.Info("target group bindings applied", "created", applied.Created, "updated", applied.Updated, "deleted", applied.Deleted)
	}
	if deleting {
		left, err := bindings.Remaining(ctx, r.Client, st.Stack)
		if err != nil {
			return reconcile.Result{}, err
		}
		if len(left) > 0 {
			log.Info("waiting for target group bindings to be deleted", "bindings", left)
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		if svc.DeletionTimestamp == nil {
			if err := r.clearStatus(ctx, svc); err != nil {
				r.Events.Warning(svc, ReasonFailedCleanupStatus, "CleanupStatus", fmt.Sprintf("Failed cleanup status due to %v", err))
				return reconcile.Result{}, err
			}
		}
		if _, err := kube.RemoveFinalizer(ctx, r.Client, svc, trsvc.Finalizer); err != nil {
			r.Events.Warning(svc, ReasonFailedRemoveFinalizer, "RemoveFinalizer", fmt.Sprintf("Failed remove finalizer due to %v", err))
			return reconcile.Result{}, err
		}
		log.Info("load balancer deleted")
		return reconcile.Result{}, nil
	}
	changed, err := r.setStatus(ctx, svc, dnsName(st.Stack), metav1.ConditionTrue, ReasonSuccessfullyReconciled, "load balancer deployed")
	if err != nil {
		r.Events.Warning(svc, ReasonFailedUpdateStatus, "UpdateStatus", fmt.Sprintf("Failed update status due to %v", err))
		return reconcile.Result{}, err
	}
	if changed || applied.Changed() {
		r.Events.Normal(svc, ReasonSuccessfullyReconciled, "Reconcile", "Successfully reconciled")
	}
	return reconcile.Result{}, nil
}

func controllerutilContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func dnsName(s *stack.Stack) string {
	for _, lb := range s.LoadBalancers {
		if lb.Status != nil {
			return strings.ToLower(lb.Status.DNSName)
		}
	}
	return ""
}

// setStatus writes status.loadBalancer.ingress (the lower-cased DNS name,
// when known) and the Ready condition, when they differ. It reports
// whether it wrote.
func (r *Reconciler) setStatus(ctx context.Context, svc *corev1.Service, dns string, status metav1.ConditionStatus, reason, message string) (bool, error) {
	old := svc.DeepCopy()
	if dns != "" {
		want := []corev1.LoadBalancerIngress{{Hostname: dns}}
		if !reflect.DeepEqual(svc.Status.LoadBalancer.Ingress, want) {
			svc.Status.LoadBalancer.Ingress = want
		}
	}
	meta.SetStatusCondition(&svc.Status.Conditions, metav1.Condition{
		Type:               ConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            kube.Truncate(message, 32768),
		ObservedGeneration: svc.Generation,
	})
	if reflect.DeepEqual(old.Status.LoadBalancer, svc.Status.LoadBalancer) && sameCondition(old.Status.Conditions, svc.Status.Conditions) {
		return false, nil
	}
	if err := r.Client.Status().Patch(ctx, svc, client.MergeFrom(old)); err != nil {
		return false, fmt.Errorf("status: %w", client.IgnoreNotFound(err))
	}
	return true, nil
}

func sameCondition(a, b []metav1.Condition) bool {
	x, y := meta.FindStatusCondition(a, ConditionReady), meta.FindStatusCondition(b, ConditionReady)
	if x == nil || y == nil {
		return x == y
	}
	return x.Status == y.Status && x.Reason == y.Reason && x.Message == y.Message && x.ObservedGeneration == y.ObservedGeneration
}

// clearStatus empties the load balancer status and drops the condition of
// a Service elbow no longer handles.
func (r *Reconciler) clearStatus(ctx context.Context, svc *corev1.Service) error {
	old := svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = nil
	meta.RemoveStatusCondition(&svc.Status.Conditions, ConditionReady)
	if reflect.DeepEqual(old.Status, svc.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, svc, client.MergeFrom(old)); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// fail records an error: the Ready condition False with the reason, and a
// Warning Event when the condition changes.
func (r *Reconciler) fail(ctx context.Context, svc *corev1.Service, reason string, err error) {
	changed, serr := r.setStatus(ctx, svc, "", metav1.ConditionFalse, reason, err.Error())
	if serr != nil {
		kube.Logger(ctx).Error("write status", "error", serr)
	}
	if changed || serr != nil {
		r.Events.Warning(svc, reason, "Reconcile", err.Error())
	}
	kube.Logger(ctx).Warn("service not served as written", "reason", reason, "error", err)
}

// SetupWithManager registers the reconciler; status-only updates (its own
// writes) do not trigger it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrent int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&corev1.Service{}, builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				o, ok1 := e.ObjectOld.(*corev1.Service)
				n, ok2 := e.ObjectNew.(*corev1.Service)
				if !ok1 || !ok2 {
					return true
				}
				return !reflect.DeepEqual(o.Spec, n.Spec) ||
					!reflect.DeepEqual(o.Annotations, n.Annotations) ||
					!reflect.DeepEqual(o.Finalizers, n.Finalizers) ||
					(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
			},
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).
		Complete(r)
}

func find(res trsvc.Result, svc *corev1.Service) *trsvc.Stack {
	for i := range res.Stacks {
		if res.Stacks[i].Service.Namespace == svc.Namespace && res.Stacks[i].Service.Name == svc.Name {
			return &res.Stacks[i]
		}
	}
	return nil
}
