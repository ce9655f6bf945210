// Package targets keeps the targets of TargetGroupBindings registered: pods
// from EndpointSlices for ip target groups, eligible nodes on the Service's
// NodePort for instance target groups. It registers and deregisters in
// batches, reads target health only while some target is not healthy (with
// backoff), flips the pods' target-health readiness gates once their target
// is healthy, and deregisters a pod the moment its deletion starts.
package targets

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/controller/kube"
)

// Finalizer is the finalizer of TargetGroupBindings: its removal waits for
// the binding's targets to be deregistered.
const Finalizer = "elbv2.k8s.aws/resources"

// ReadinessGatePrefix prefixes the pod condition type of a binding's
// readiness gate: target-health.elbv2.k8s.aws/<binding name>.
const ReadinessGatePrefix = "target-health.elbv2.k8s.aws/"

// ReadinessGate returns the pod condition type of a binding's readiness gate.
func ReadinessGate(bindingName string) corev1.PodConditionType {
	return corev1.PodConditionType(ReadinessGatePrefix + bindingName)
}

// Event reasons, as the AWS Load Balancer Controller writes them.
const (
	ReasonFailedAddFinalizer     = "FailedAddFinalizer"
	ReasonFailedRemoveFinalizer  = "FailedRemoveFinalizer"
	ReasonFailedUpdateStatus     = "FailedUpdateStatus"
	ReasonFailedCleanup          = "FailedCleanup"
	ReasonBackendNotFound        = "BackendNotFound"
	ReasonFailedReconcile        = "FailedReconcile"
	ReasonSuccessfullyReconciled = "SuccessfullyReconciled"
)

// ConditionReady is the binding's status condition: True once every target
// is registered, False with the error otherwise.
const ConditionReady = "Ready"

// batchSize is the number of targets per RegisterTargets or
// DeregisterTargets call.
const batchSize = 200

// healthCacheTTL bounds how long a fully healthy target list is trusted
// without reading it again.
const healthCacheTTL = 5 * time.Minute

// ELBV2 is the part of the ELBv2 API a binding needs; the SDK's client
// satisfies it.
type ELBV2 interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2sdk.DescribeTargetGroupsInput, opts ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeTargetGroupsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2sdk.DescribeTargetHealthInput, opts ...func(*elbv2sdk.Options)) (*elbv2sdk.DescribeTargetHealthOutput, error)
	RegisterTargets(ctx context.Context, in *elbv2sdk.RegisterTargetsInput, opts ...func(*elbv2sdk.Options)) (*elbv2sdk.RegisterTargetsOutput, error)
	DeregisterTargets(ctx context.Context, in *elbv2sdk.DeregisterTargetsInput, opts ...func(*elbv2sdk.Options)) (*elbv2sdk.DeregisterTargetsOutput, error)
}

// Reconciler reconciles TargetGroupBindings.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads what is not cached (multi-cluster target records);
	// nil uses Client.
	APIReader client.Reader
	// ELBV2 is the ELBv2 API client.
	ELBV2 ELBV2
	// Events records Events on bindings.
	Events kube.Recorder
	// PollMin and PollMax bound the backoff of target health polls while
	// some target is not healthy (defaults 1 s and 15 s).
	PollMin, PollMax time.Duration
	// MaxTargets caps the targets of one target group (0: no cap).
	MaxTargets int

	mu    sync.Mutex
	state map[types.NamespacedName]*bindingState
}

// bindingState is what the reconciler remembers about one binding between
// reconciles.
type bindingState struct {
	arn        string
	targetType elbv2api.TargetType
	// targets are the registered (not draining) targets and their health,
	// as last read or as left by our own calls.
	targets map[Target]elbv2types.TargetHealth
	read    time.Time
	backoff time.Duration
	// tracked are the targets a multi-cluster binding registered (nil:
	// not loaded).
	tracked map[Target]bool
}

func (r *Reconciler) stateOf(key types.NamespacedName) *bindingState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		r.state = map[types.NamespacedName]*bindingState{}
	}
	s := r.state[key]
	if s == nil {
		s = &bindingState{}
		r.state[key] = s
	}
	return s
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.state, key)
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	tgb := &elbv2api.TargetGroupBinding{}
	if err := r.Client.Get(ctx, req.NamespacedName, tgb); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if tgb.DeletionTimestamp != nil {
		return reconcile.Result{}, r.cleanup(ctx, tgb)
	}
	if _, err := kube.AddFinalizer(ctx, r.Client, tgb, Finalizer); err != nil {
		r.Events.Warning(tgb, ReasonFailedAddFinalizer, "AddFinalizer", fmt.Sprintf("Failed add finalizer due to %v", err))
		return reconcile.Result{}, err
	}
	res, changed, err := r.reconcile(ctx, tgb)
	if err != nil {
		reason := ReasonFailedReconcile
		if errors.Is(err, ErrBackendNotFound) {
			reason = ReasonBackendNotFound
		}
		r.Events.Warning(tgb, reason, "Reconcile", fmt.Sprintf("Failed reconcile due to %v", err))
		if serr := r.setStatus(ctx, tgb, metav1.ConditionFalse, reason, err.Error()); serr != nil {
			kube.Logger(ctx).Error("update status", "error", serr)
		}
		return reconcile.Result{}, err
	}
	if err := r.setStatus(ctx, tgb, metav1.ConditionTrue, ReasonSuccessfullyReconciled, "targets registered"); err != nil {
		r.Events.Warning(tgb, ReasonFailedUpdateStatus, "UpdateStatus", fmt.Sprintf("Failed update status due to %v", err))
		return reconcile.Result{}, err
	}
	if changed {
		r.Events.Normal(tgb, ReasonSuccessfullyReconciled, "Reconcile", "Successfully reconciled")
	}
	return res, nil
}

// reconcile brings the target group's targets to the desired set and the
// pods' readiness gates to their targets' health. It reports whether it
// changed any registration.
func (r *Reconciler) reconcile(ctx context.Context, tgb *elbv2api.TargetGroupBinding) (reconcile.Result, bool, error) {
	log := kube.Logger(ctx)
	key := client.ObjectKeyFromObject(tgb)
	st := r.stateOf(key)
	if err := r.resolveTargetGroup(ctx, tgb, st); err != nil {
		return reconcile.Result{}, false, err
	}
	res := &resolver{client: r.Client}
	svc, port, err := res.serviceAndPort(ctx, tgb)
	if err != nil {
		return reconcile.Result{}, false, err
	}
	var desired []Endpoint
	switch st.targetType {
	case elbv2api.TargetTypeIP:
		family := discoveryv1.AddressTypeIPv4
		if tgb.Spec.IPAddressType != nil && *tgb.Spec.IPAddressType == elbv2api.TargetGroupIPAddressTypeIPv6 {
			family = discoveryv1.AddressTypeIPv6
		}
		desired, err = res.podEndpoints(ctx, svc, port, family)
	case elbv2api.TargetTypeInstance:
		desired, err = res.nodePortEndpoints(ctx, tgb, svc, port)
	default:
		err = fmt.Errorf("target type %q: want instance or ip", st.targetType)
	}
	if err != nil {
		return reconcile.Result{}, false, err
	}
	if r.MaxTargets > 0 && len(desired) > r.MaxTargets {
		log.Warn("more targets than --max-targets-per-target-group; registering the first ones", "targets", len(desired), "max", r.MaxTargets)
		desired = desired[:r.MaxTargets]
	}

	want := map[Target]bool{}
	for _, ep := range desired {
		want[ep.Target] = true
	}
	if err := r.refresh(ctx, st, want, false); err != nil {
		return reconcile.Result{}, false, err
	}
	var add, remove []Target
	multi := tgb.Spec.MultiClusterTargetGroup
	var owned map[Target]bool
	hasRecord := true
	if multi {
		if owned, hasRecord, err = r.tracked(ctx, tgb, st); err != nil {
			return reconcile.Result{}, false, err
		}
	}
	for t := range st.targets {
		// A shared target group's other targets belong to other clusters.
		if !want[t] && (!multi || (hasRecord && owned[t])) {
			remove = append(remove, t)
		}
	}
	for _, ep := range desired {
		if _, ok := st.targets[ep.Target]; !ok {
			add = append(add, ep.Target)
		}
	}
	sortTargets(remove)
	sortTargets(add)
	changed := len(add)+len(remove) > 0
	if multi {
		// Record before registering, so that a crash never leaves a
		// registered target unrecorded.
		if err := r.saveTracked(ctx, tgb, st, union(owned, want)); err != nil {
			return reconcile.Result{}, false, err
		}
	}
	if len(remove) > 0 {
		if err := r.deregister(ctx, st, remove); err != nil {
			return reconcile.Result{}, false, err
		}
		log.Info("deregistered targets", "targetGroupARN", st.arn, "targets", targetList(remove))
	}
	if len(add) > 0 {
		if err := r.register(ctx, st, add); err != nil {
			return reconcile.Result{}, true, err
		}
		log.Info("registered targets", "targetGroupARN", st.arn, "targets", targetList(add))
	}
	if multi {
		if err := r.saveTracked(ctx, tgb, st, want); err != nil {
			return reconcile.Result{}, changed, err
		}
	}

	allHealthy := true
	for _, ep := range desired {
		if h := st.targets[ep.Target]; h.State != elbv2types.TargetHealthStateEnumHealthy {
			allHealthy = false
		}
	}
	if st.targetType == elbv2api.TargetTypeIP {
		if err := r.updateReadinessGates(ctx, tgb, desired, st); err != nil {
			return reconcile.Result{}, changed, err
		}
	}
	if allHealthy {
		st.backoff = 0
		return reconcile.Result{}, changed, nil
	}
	st.backoff = r.nextBackoff(st.backoff)
	return reconcile.Result{RequeueAfter: st.backoff}, changed, nil
}

func (r *Reconciler) nextBackoff(cur time.Duration) time.Duration {
	lo, hi := r.PollMin, r.PollMax
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 15 * time.Second
	}
	if cur < lo {
		return lo
	}
	if cur*2 > hi {
		return hi
	}
	return cur * 2
}

// resolveTargetGroup finds the binding's target group (by ARN, or by name
// for bindings to target groups made outside Kubernetes) and its target
// type, once per binding.
func (r *Reconciler) resolveTargetGroup(ctx context.Context, tgb *elbv2api.TargetGroupBinding, st *bindingState) error {
	arn := tgb.Spec.TargetGroupARN
	if st.arn != "" && (arn == "" || arn == st.arn) && (tgb.Spec.TargetType == nil || *tgb.Spec.TargetType == st.targetType) {
		return nil
	}
	in := &elbv2sdk.DescribeTargetGroupsInput{}
	switch {
	case arn != "":
		in.TargetGroupArns = []string{arn}
	case tgb.Spec.TargetGroupName != "":
		in.Names = []string{tgb.Spec.TargetGroupName}
	default:
		return errors.New("spec: one of targetGroupARN and targetGroupName is required")
	}
	out, err := r.ELBV2.DescribeTargetGroups(ctx, in)
	if err != nil {
		what := arn
		if what == "" {
			what = "named " + tgb.Spec.TargetGroupName
		}
		return fmt.Errorf("target group %s: %w", what, err)
	}
	if len(out.TargetGroups) != 1 {
		return fmt.Errorf("target group %s%s: found %d", arn, tgb.Spec.TargetGroupName, len(out.TargetGroups))
	}
	tg := out.TargetGroups[0]
	tt := elbv2api.TargetType(tg.TargetType)
	if tgb.Spec.TargetType != nil {
		if *tgb.Spec.TargetType != tt {
			return fmt.Errorf("spec.targetType %q differs from target group %s's target type %q", *tgb.Spec.TargetType, aws.ToString(tg.TargetGroupArn), tt)
		}
	}
	if tt != elbv2api.TargetTypeIP && tt != elbv2api.TargetTypeInstance {
		return fmt.Errorf("target group %s has target type %q; bindings support instance and ip", aws.ToString(tg.TargetGroupArn), tt)
	}
	if st.arn != aws.ToString(tg.TargetGroupArn) {
		st.targets = nil
		st.read = time.Time{}
	}
	st.arn = aws.ToString(tg.TargetGroupArn)
	st.targetType = tt
	return nil
}

// refresh reads the target group's targets unless the remembered list can
// be trusted: it was read less than healthCacheTTL ago, every target in it
// is healthy, and the wanted set changed nothing it knows to be unhealthy.
func (r *Reconciler) refresh(ctx context.Context, st *bindingState, want map[Target]bool, force bool) error {
	fresh := !force && st.targets != nil && time.Since(st.read) < healthCacheTTL
	if fresh {
		for t, h := range st.targets {
			if want[t] && h.State != elbv2types.TargetHealthStateEnumHealthy {
				fresh = false
				break
			}
		}
		for t := range want {
			if h, ok := st.targets[t]; ok && h.State != elbv2types.TargetHealthStateEnumHealthy {
				fresh = false
				break
			}
		}
	}
	if fresh {
		return nil
	}
	out, err := r.ELBV2.DescribeTargetHealth(ctx, &elbv2sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(st.arn)})
	if err != nil {
		if isCode(err, "TargetGroupNotFound") {
			st.arn = ""
		}
		return fmt.Errorf("describe target health of %s: %w", st.arn, err)
	}
	targets := map[Target]elbv2types.TargetHealth{}
	for _, d := range out.TargetHealthDescriptions {
		if d.Target == nil {
			continue
		}
		var h elbv2types.TargetHealth
		if d.TargetHealth != nil {
			h = *d.TargetHealth
		}
		if h.State == elbv2types.TargetHealthStateEnumDraining {
			continue
		}
		t := Target{ID: aws.ToString(d.Target.Id), Port: aws.ToInt32(d.Target.Port)}
		targets[t] = h
	}
	st.targets = targets
	st.read = time.Now()
	return nil
}

func (r *Reconciler) register(ctx context.Context, st *bindingState, add []Target) error {
	for start := 0; start < len(add); start += batchSize {
		chunk := add[start:min(start+batchSize, len(add))]
		if _, err := r.ELBV2.RegisterTargets(ctx, &elbv2sdk.RegisterTargetsInput{
			TargetGroupArn: aws.String(st.arn),
			Targets:        descriptions(chunk),
		}); err != nil {
			return fmt.Errorf("register %d targets with %s: %w", len(chunk), st.arn, err)
		}
		for _, t := range chunk {
			st.targets[t] = elbv2types.TargetHealth{
				State:       elbv2types.TargetHealthStateEnumInitial,
				Reason:      elbv2types.TargetHealthReasonEnumRegistrationInProgress,
				Description: aws.String("Target registration is in progress"),
			}
		}
	}
	return nil
}

func (r *Reconciler) deregister(ctx context.Context, st *bindingState, remove []Target) error {
	for start := 0; start < len(remove); start += batchSize {
		chunk := remove[start:min(start+batchSize, len(remove))]
		if _, err := r.ELBV2.DeregisterTargets(ctx, &elbv2sdk.DeregisterTargetsInput{
			TargetGroupArn: aws.String(st.arn),
			Targets:        descriptions(chunk),
		}); err != nil {
			return fmt.Errorf("deregister %d targets from %s: %w", len(chunk), st.arn, err)
		}
		for _, t := range chunk {
			delete(st.targets, t)
		}
	}
	return nil
}

// cleanup deregisters every target of a binding being deleted and removes
// its finalizer. Pods keep no gate waiting on a binding that is gone: their
// condition is set True.
func (r *Reconciler) cleanup(ctx context.Context, tgb *elbv2api.TargetGroupBinding) error {
	key := client.ObjectKeyFromObject(tgb)
	if !hasFinalizer(tgb) {
		r.forget(key)
		return nil
	}
	st := r.stateOf(key)
	err := r.resolveTargetGroup(ctx, tgb, st)
	if err == nil {
		err = r.refresh(ctx, st, nil, true)
	}
	var owned map[Target]bool
	if err == nil && tgb.Spec.MultiClusterTargetGroup {
		owned, _, err = r.tracked(ctx, tgb, st)
	}
	if err == nil {
		var all []Target
		for t := range st.targets {
			if !tgb.Spec.MultiClusterTargetGroup || owned[t] {
				all = append(all, t)
			}
		}
		sortTargets(all)
		if len(all) > 0 {
			err = r.deregister(ctx, st, all)
			if err == nil {
				kube.Logger(ctx).Info("deregistered targets of deleted binding", "targetGroupARN", st.arn, "targets", targetList(all))
			}
		}
	}
	if err != nil && !isCode(err, "TargetGroupNotFound") {
		r.Events.Warning(tgb, ReasonFailedCleanup, "Cleanup", fmt.Sprintf("Failed cleanup due to %v", err))
		if serr := r.setStatus(ctx, tgb, metav1.ConditionFalse, ReasonFailedCleanup, err.Error()); serr != nil {
			kube.Logger(ctx).Error("update status", "error", serr)
		}
		return err
	}
	if err := r.releaseReadinessGates(ctx, tgb); err != nil {
		return err
	}
	if tgb.Spec.MultiClusterTargetGroup {
		if err := r.deleteTracked(ctx, tgb); err != nil {
			return err
		}
	}
	if _, err := kube.RemoveFinalizer(ctx, r.Client, tgb, Finalizer); err != nil {
		r.Events.Warning(tgb, ReasonFailedRemoveFinalizer, "RemoveFinalizer", fmt.Sprintf("Failed remove finalizer due to %v", err))
		return err
	}
	r.forget(key)
	return nil
}

func hasFinalizer(obj client.Object) bool {
	for _, f := range obj.GetFinalizers() {
		if f == Finalizer {
			return true
		}
	}
	return false
}

// setStatus writes observedGeneration and the Ready condition when they change.
func (r *Reconciler) setStatus(ctx context.Context, tgb *elbv2api.TargetGroupBinding, status metav1.ConditionStatus, reason, message string) error {
	old := tgb.DeepCopy()
	gen := tgb.Generation
	tgb.Status.ObservedGeneration = &gen
	meta.SetStatusCondition(&tgb.Status.Conditions, metav1.Condition{
		Type:               ConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            kube.Truncate(message, 32768),
		ObservedGeneration: gen,
	})
	if old.Status.ObservedGeneration != nil && *old.Status.ObservedGeneration == gen {
		oc := meta.FindStatusCondition(old.Status.Conditions, ConditionReady)
		nc := meta.FindStatusCondition(tgb.Status.Conditions, ConditionReady)
		if oc != nil && oc.Status == nc.Status && oc.Reason == nc.Reason && oc.Message == nc.Message && oc.ObservedGeneration == nc.ObservedGeneration {
			return nil
		}
	}
	if err := r.Client.Status().Patch(ctx, tgb, client.MergeFrom(old)); err != nil {
		return fmt.Errorf("status: %w", client.IgnoreNotFound(err))
	}
	return nil
}

func union(a, b map[Target]bool) map[Target]bool {
	out := make(map[Target]bool, len(a)+len(b))
	for t := range a {
		out[t] = true
	}
	for t := range b {
		out[t] = true
	}
	return out
}

func descriptions(ts []Target) []elbv2types.TargetDescription {
	out := make([]elbv2types.TargetDescription, len(ts))
	for i, t := range ts {
		out[i] = elbv2types.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(t.Port)}
	}
	return out
}

func sortTargets(ts []Target) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].ID != ts[j].ID {
			return ts[i].ID < ts[j].ID
		}
		return ts[i].Port < ts[j].Port
	})
}

// targetList renders at most 20 targets for a log line.
func targetList(ts []Target) string {
	var b strings.Builder
	for i, t := range ts {
		if i == 20 {
			fmt.Fprintf(&b, " …(%d more)", len(ts)-20)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.String())
	}
	return b.String()
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}
