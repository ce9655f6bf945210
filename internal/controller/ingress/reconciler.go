// Package ingress reconciles IngressGroups: it loads a group's Ingresses
// (with their classes, parameters, backend Services and OIDC Secrets),
// translates them into one ALB stack, deploys it, applies its
// TargetGroupBindings, and writes each member's status, status annotation,
// finalizer and Events. A member whose own configuration is wrong is left
// out with its error on itself; the rest of the group keeps being served
// and updated.
package ingress

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/controller/bindings"
	"github.com/elbowlb/elbow/internal/controller/kube"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
	tring "github.com/elbowlb/elbow/internal/translate/ingress"
)

// Event reasons, the reference controller's, plus LeftOutOfGroup for a
// member isolated from its group.
const (
	ReasonFailedAddFinalizer     = "FailedAddFinalizer"
	ReasonFailedRemoveFinalizer  = "FailedRemoveFinalizer"
	ReasonFailedUpdateStatus     = "FailedUpdateStatus"
	ReasonFailedBuildModel       = "FailedBuildModel"
	ReasonFailedDeployModel      = "FailedDeployModel"
	ReasonSuccessfullyReconciled = "SuccessfullyReconciled"
	ReasonLeftOutOfGroup         = "LeftOutOfGroup"
)

// StatusAnnotation is the short status elbow writes on each Ingress
// (Ingresses have no conditions): "Reconciled", or "Failed (<reason>):
// <what is wrong and where>".
const StatusAnnotation = "elbowlb.dev/status"

// Deployer deploys a stack and fills in its resources' status (ARNs, DNS
// name); a stack without resources deletes what the stack owns.
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

// Reconciler reconciles IngressGroups. Requests name a group: namespace
// and name for an implicit group (one Ingress), empty namespace and the
// group name for an explicit one.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets without caching them all.
	APIReader client.Reader
	Deployer  Deployer
	Facts     FactsSource
	Options   translate.Options
	Events    kube.Recorder
	// BackendSG gives the shared backend security group's ID, creating it
	// on first need; nil when --enable-backend-security-group is off or
	// --backend-security-group names it.
	BackendSG BackendSG
	// Lookup resolves target group, trust store and web ACL names; nil
	// leaves them unresolved (translation reports them).
	Lookup Lookup
}

// BackendSG finds or creates the shared backend security group.
type BackendSG interface {
	ID(ctx context.Context) (string, error)
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	id := stack.ID{Namespace: req.Namespace, Name: req.Name}
	log := kube.Logger(ctx).With("group", id.String())
	in, candidates, err := r.load(ctx, id)
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(candidates) == 0 {
		return reconcile.Result{}, nil
	}
	f, err := r.Facts.Facts(ctx, false)
	if err != nil {
		r.failAll(ctx, candidates, ReasonFailedBuildModel, fmt.Errorf("cloud facts: %w", err))
		return reconcile.Result{}, err
	}
	in.Facts = f
	in.Options = r.Options
	if r.Lookup != nil {
		refs, err := resolveReferences(ctx, r.Lookup, in.Ingresses, in.IngressClassParams)
		if err != nil {
			r.failAll(ctx, candidates, ReasonFailedBuildModel, err)
			return reconcile.Result{}, err
		}
		in.Options.References.TargetGroups = refs.TargetGroups
		in.Options.References.TrustStores = refs.TrustStores
		in.Options.References.WebACLs = refs.WebACLs
	}
	res := tring.BuildGroups(in)
	if len(res.Missing) > 0 {
		// References the cached facts lack are looked up before they are
		// refused: they may have been created since the facts were read.
		if in.Facts, in.Options.References.Absent, err = r.Facts.Resolve(ctx, res.Missing); err != nil {
			r.failAll(ctx, candidates, ReasonFailedBuildModel, err)
			return reconcile.Result{}, err
		}
		res = tring.BuildGroups(in)
	}
	if r.BackendSG != nil && in.Options.BackendSecurityGroupID == "" && needsBackendSG(res, id) {
		sg, err := r.BackendSG.ID(ctx)
		if err != nil {
			r.failAll(ctx, candidates, ReasonFailedDeployModel, err)
			return reconcile.Result{}, err
		}
		in.Options.BackendSecurityGroupID = sg
		res = tring.BuildGroups(in)
	}

	// Errors about Ingresses that belong to no group (an invalid group name,
	// a broken IngressClass) are shown on them.
	for _, d := range res.Diagnostics {
		if d.Severity != translate.Error || d.Object.Kind != "Ingress" {
			continue
		}
		if ing := candidates[types.NamespacedName{Namespace: d.Object.Namespace, Name: d.Object.Name}]; ing != nil {
			r.fail(ctx, ing, ReasonFailedBuildModel, errors.New(d.Message))
		}
	}
	var g *tring.Group
	for i := range res.Groups {
		if res.Groups[i].ID == id {
			g = &res.Groups[i]
		}
	}
	if g == nil {
		return reconcile.Result{}, nil
	}
	failed := map[types.NamespacedName]error{}
	for _, m := range g.Failed {
		failed[key(m.Member)] = m.Err
	}
	if g.Stack == nil {
		err := g.Err
		if err == nil {
			err = fmt.Errorf("group %s could not be built", id)
		}
		for _, m := range g.Failed {
			if ing := candidates[key(m.Member)]; ing != nil {
				r.fail(ctx, ing, ReasonFailedBuildModel, m.Err)
			}
		}
		log.Warn("build failed", "error", err)
		return reconcile.Result{}, err
	}
	members := make([]*networking.Ingress, 0, len(g.Members))
	for _, ref := range g.Members {
		if ing := candidates[key(ref)]; ing != nil {
			members = append(members, ing)
		}
	}
	for _, ing := range members {
		if _, err := kube.AddFinalizer(ctx, r.Client, ing, g.Finalizer); err != nil {
			r.Events.Warning(ing, ReasonFailedAddFinalizer, "AddFinalizer", fmt.Sprintf("Failed add finalizer due to %v", err))
			return reconcile.Result{}, err
		}
	}
	if err := r.Deployer.Deploy(ctx, g.Stack); err != nil {
		for _, ing := range members {
			r.fail(ctx, ing, ReasonFailedDeployModel, err)
		}
		return reconcile.Result{}, fmt.Errorf("deploy stack %s: %w", id, err)
	}
	applied, err := bindings.Apply(ctx, r.Client, g.Stack)
	if err != nil {
		for _, ing := range members {
			r.fail(ctx, ing, ReasonFailedDeployModel, err)
		}
		return reconcile.Result{}, err
	}
	if applied.Changed() {
		log.Info("target group bindings applied", "created", applied.Created, "updated", applied.Updated, "deleted", applied.Deleted)
	}
	dns, frontendDNS := lbDNS(g.Stack)
	for _, ing := range members {
		changed, err := r.setStatus(ctx, ing, dns, frontendDNS, g.ListenPorts)
		if err != nil {
			r.Events.Warning(ing, ReasonFailedUpdateStatus, "UpdateStatus", fmt.Sprintf("Failed update status due to %v", err))
			return reconcile.Result{}, err
		}
		if changed || applied.Changed() {
			r.Events.Normal(ing, ReasonSuccessfullyReconciled, "Reconcile", "Successfully reconciled")
		}
	}
	for _, m := range g.Failed {
		if ing := candidates[key(m.Member)]; ing != nil {
			r.fail(ctx, ing, ReasonLeftOutOfGroup, fmt.Errorf("left out of IngressGroup %s (the other members are still served): %w", id, m.Err))
		}
	}
	// Members that left the group: once the stack no longer serves them,
	// their finalizer goes (and, if the group is gone, its bindings first).
	if len(g.Inactive) > 0 {
		if len(members) == 0 && len(g.Failed) == 0 {
			left, err := bindings.Remaining(ctx, r.Client, g.Stack)
			if err != nil {
				return reconcile.Result{}, err
			}
			if len(left) > 0 {
				log.Info("waiting for target group bindings to be deleted", "bindings", left)
				return reconcile.Result{RequeueAfter: time.Second}, nil
			}
		}
		for _, ref := range g.Inactive {
			ing := candidates[key(ref)]
			if ing == nil {
				continue
			}
			if ing.DeletionTimestamp == nil {
				if err := r.clearStatus(ctx, ing); err != nil {
					return reconcile.Result{}, err
				}
			}
			if _, err := kube.RemoveFinalizer(ctx, r.Client, ing, g.Finalizer); err != nil {
				r.Events.Warning(ing, ReasonFailedRemoveFinalizer, "RemoveFinalizer", fmt.Sprintf("Failed remove finalizer due to %v", err))
				return reconcile.Result{}, err
			}
			log.Info("released ingress", "ingress", ref.Key())
		}
	}
	return reconcile.Result{}, nil
}

func key(ref translate.ObjectRef) types.NamespacedName {
	return types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
}

// lbDNS returns the lower-cased DNS names of the ALB and of the frontend
// NLB, if the stack has them.
func lbDNS(s *stack.Stack) (alb, frontend string) {
	ids := make([]string, 0, len(s.LoadBalancers))
	for id := range s.LoadBalancers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		lb := s.LoadBalancers[id]
		if lb.Status == nil {
			continue
		}
		name := strings.ToLower(lb.Status.DNSName)
		if lb.Spec.Type == stack.LoadBalancerTypeNetwork {
			frontend = name
		} else {
			alb = name
		}
	}
	return alb, frontend
}

// load reads what translation needs for one group: every Ingress that is,
// was (by its finalizer) or may be a member, the classes and parameters,
// the backend Services, OIDC Secrets and namespaces.
func (r *Reconciler) load(ctx context.Context, id stack.ID) (tring.Input, map[types.NamespacedName]*networking.Ingress, error) {
	var in tring.Input
	var ings networking.IngressList
	if err := r.Client.List(ctx, &ings); err != nil {
		return in, nil, fmt.Errorf("list ingresses: %w", err)
	}
	var classes networking.IngressClassList
	if err := r.Client.List(ctx, &classes); err != nil {
		return in, nil, fmt.Errorf("list ingress classes: %w", err)
	}
	var params elbv2api.IngressClassParamsList
	if err := r.Client.List(ctx, &params); err != nil {
		return in, nil, fmt.Errorf("list ingress class params: %w", err)
	}
	in.IngressClasses = classes.Items
	in.IngressClassParams = params.Items
	cands := map[types.NamespacedName]*networking.Ingress{}
	namespaces := map[string]bool{}
	for i := range ings.Items {
		ing := &ings.Items[i]
		for _, g := range GroupsOf(ing, classes.Items, params.Items, r.Options.IngressClass) {
			if g == id {
				in.Ingresses = append(in.Ingresses, *ing)
				namespaces[ing.Namespace] = true
				break
			}
		}
	}
	for i := range in.Ingresses {
		ing := &in.Ingresses[i]
		cands[types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}] = ing
	}
	secretNames := map[types.NamespacedName]bool{}
	services := map[types.NamespacedName]bool{}
	for _, ing := range in.Ingresses {
		for _, name := range BackendServices(&ing) {
			services[types.NamespacedName{Namespace: ing.Namespace, Name: name}] = true
		}
		if n := oidcSecret(ing.Annotations); n != "" {
			secretNames[types.NamespacedName{Namespace: ing.Namespace, Name: n}] = true
		}
	}
	for k := range services {
		svc := &corev1.Service{}
		if err := r.Client.Get(ctx, k, svc); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return in, nil, fmt.Errorf("service %s: %w", k, err)
		}
		in.Services = append(in.Services, *svc)
		if n := oidcSecret(svc.Annotations); n != "" {
			secretNames[types.NamespacedName{Namespace: svc.Namespace, Name: n}] = true
		}
	}
	for k := range secretNames {
		sec := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, k, sec); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return in, nil, fmt.Errorf("secret %s: %w", k, err)
		}
		in.Secrets = append(in.Secrets, *sec)
	}
	for ns := range namespaces {
		n := &corev1.Namespace{}
		if err := r.Client.Get(ctx, types.NamespacedName{Name: ns}, n); err == nil {
			in.Namespaces = append(in.Namespaces, *n)
		}
	}
	return in, cands, nil
}

func oidcSecret(ann map[string]string) string {
	raw, ok := ann[annotations.IngressAuthIDPOIDC]
	if !ok {
		return ""
	}
	cfg, err := annotations.ParseOIDCIDP(raw)
	if err != nil {
		return ""
	}
	return cfg.SecretName
}

// BackendServices returns the names of the Services an Ingress routes to
// (default backend, rules, and the forward actions of actions.* annotations).
func BackendServices(ing *networking.Ingress) []string {
	set := map[string]bool{}
	add := func(b *networking.IngressBackend) {
		if b != nil && b.Service != nil {
			set[b.Service.Name] = true
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			add(&rule.HTTP.Paths[i].Backend)
		}
	}
	for k, v := range ing.Annotations {
		if !strings.HasPrefix(k, annotations.IngressActions("")) {
			continue
		}
		a, err := annotations.ParseAction(k, v)
		if err != nil || a.ForwardConfig == nil {
			continue
		}
		for _, tg := range a.ForwardConfig.TargetGroups {
			if tg.ServiceName != nil && *tg.ServiceName != "" {
				set[*tg.ServiceName] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func needsBackendSG(res tring.Result, id stack.ID) bool {
	for _, g := range res.Groups {
		if g.ID == id && g.BackendSecurityGroup {
			return true
		}
	}
	return false
}
