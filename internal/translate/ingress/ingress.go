// Package ingress translates Ingresses (with their IngressClasses,
// IngressClassParams and backend Services) into one ALB stack per
// IngressGroup, deciding what the AWS Load Balancer Controller decides:
// the same listeners, rules and their order, target groups, health checks,
// names, tags and defaults.
//
// Unlike the reference, a group member whose own settings are wrong (a bad
// annotation value, a missing certificate, a setting that conflicts with an
// earlier member) is left out of the stack with its own error, and the rest
// of the group still builds.
package ingress

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/facts"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// ControllerName is the IngressClass controller elbow serves.
const ControllerName = "ingress.k8s.aws/alb"

// Finalizers the reference puts on Ingresses.
const (
	// ImplicitGroupFinalizer is the finalizer of an Ingress in its own group.
	ImplicitGroupFinalizer = "ingress.k8s.aws/resources"
	// ExplicitGroupFinalizerPrefix prefixes the group name in the finalizer
	// of an explicit group member.
	ExplicitGroupFinalizerPrefix = "group.ingress.k8s.aws/"
)

const defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// Input is everything the translation reads.
type Input struct {
	Ingresses          []networking.Ingress
	IngressClasses     []networking.IngressClass
	IngressClassParams []elbv2api.IngressClassParams
	// Services are the backend Services (target ports, node ports,
	// annotations that override the Ingress's).
	Services []corev1.Service
	// Secrets hold OIDC client credentials.
	Secrets []corev1.Secret
	// Namespaces are used for IngressClassParams namespace selectors; a
	// namespace not listed is taken to carry only the label
	// kubernetes.io/metadata.name, which the API server sets.
	Namespaces []corev1.Namespace
	// Workloads are pod templates, for the pitfall checks.
	Workloads []translate.Workload
	Facts     *facts.Facts
	Options   translate.Options
}

// Result is one stack per IngressGroup plus the diagnostics of every object.
type Result struct {
	// Groups are ordered by group ID.
	Groups []Group
	// Diagnostics are about objects not tied to a group (an Ingress of an
	// unknown class, an invalid group name, …), ordered by object.
	Diagnostics []translate.Diagnostic
	// Missing are the cloud references the facts lack (see
	// translate.Cloud.Missing).
	Missing []translate.Reference
}

// Group is the translation of one IngressGroup.
type Group struct {
	ID stack.ID
	// Stack is the desired stack. An empty stack (no resources but the
	// frontend NLB pseudo-resource) means the group has no active member:
	// delete what it owns. Nil means the group could not be built (Err):
	// change nothing.
	Stack *stack.Stack
	// Err is a group-wide error (every member failed for the same reason,
	// or an inactive member has deletion protection on).
	Err error
	// Members are the active members in the stack, in group order.
	Members []translate.ObjectRef
	// Failed are active members left out, each with its error.
	Failed []MemberError
	// Inactive are Ingresses that left the group (deleted or moved) but
	// still carry its finalizer.
	Inactive []translate.ObjectRef
	// ListenPorts are the listener ports, ascending.
	ListenPorts []int32
	// BackendSecurityGroup says the stack uses the shared backend security group.
	BackendSecurityGroup bool
	// Finalizer is the finalizer members of this group carry.
	Finalizer string
	// Decisions say where each defaulted or discovered setting came from.
	Decisions []translate.Decision
	// Diagnostics are the group's warnings and notes, and the errors of
	// the failed members.
	Diagnostics []translate.Diagnostic
}

// MemberError is an active member left out of its group's stack.
type MemberError struct {
	Member translate.ObjectRef
	Err    error
}

// ingRef returns the ObjectRef of an Ingress.
func ingRef(ing *networking.Ingress) translate.ObjectRef {
	return translate.ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}
}

// GroupFinalizer returns the finalizer of a group's members.
func GroupFinalizer(id stack.ID) string {
	if id.Namespace == "" {
		return ExplicitGroupFinalizerPrefix + id.Name
	}
	return ImplicitGroupFinalizer
}

// member is an Ingress with its class configuration.
type member struct {
	ing    *networking.Ingress
	ref    translate.ObjectRef
	class  *networking.IngressClass
	params *elbv2api.IngressClassParams
	ann    annotations.Set
	order  int32
	// notOurs says why an Ingress is not handled.
	notOurs string
}

var groupNameRE = regexp.MustCompile(`^([a-z0-9][-a-z0-9.]*)?[a-z0-9]$`)

func validateGroupName(name string) error {
	if !groupNameRE.MatchString(name) {
		return fmt.Errorf("group name %q must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", name)
	}
	if len(name) > 63 {
		return fmt.Errorf("group name %q must be no more than 63 characters", name)
	}
	return nil
}

type index struct {
	in       *Input
	classes  map[string]*networking.IngressClass
	params   map[string]*elbv2api.IngressClassParams
	services map[string]*corev1.Service
	secrets  map[string]*corev1.Secret
	nsLabels translate.NamespaceLabels
}

func newIndex(in *Input) *index {
	x := &index{in: in, classes: map[string]*networking.IngressClass{}, params: map[string]*elbv2api.IngressClassParams{},
		services: map[string]*corev1.Service{}, secrets: map[string]*corev1.Secret{}, nsLabels: translate.NewNamespaceLabels(in.Namespaces)}
	for i := range in.IngressClasses {
		x.classes[in.IngressClasses[i].Name] = &in.IngressClasses[i]
	}
	for i := range in.IngressClassParams {
		x.params[in.IngressClassParams[i].Name] = &in.IngressClassParams[i]
	}
	for i := range in.Services {
		s := &in.Services[i]
		x.services[s.Namespace+"/"+s.Name] = s
	}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		x.secrets[s.Namespace+"/"+s.Name] = s
	}
	return x
}

// errInvalidClass marks a class configuration that cannot be used.
var errInvalidClass = errors.New("invalid ingress class")

// classify decides whether an Ingress is ours, and with which class.
func (x *index) classify(ing *networking.Ingress) (m *member, ours bool, err error) {
	m = &member{ing: ing, ref: ingRef(ing), ann: annotations.Set(ing.Annotations)}
	if cls, ok := ing.Annotations[annotations.IngressClass]; ok {
		want := x.in.Options.IngressClass
		if want == "" {
			want = "alb"
		}
		if cls != want {
			m.notOurs = fmt.Sprintf("annotation %s is %q, not %q", annotations.IngressClass, cls, want)
		}
		return m, cls == want, nil
	}
	name := ""
	if ing.Spec.IngressClassName != nil {
		name = *ing.Spec.IngressClassName
	} else {
		var defaults []string
		for _, c := range x.in.IngressClasses {
			if c.Annotations[defaultClassAnnotation] == "true" {
				defaults = append(defaults, c.Name)
			}
		}
		sort.Strings(defaults)
		switch len(defaults) {
		case 0:
			m.notOurs = "no ingressClassName, no kubernetes.io/ingress.class annotation and no default IngressClass"
			return m, x.in.Options.IngressClass == "", nil
		case 1:
			name = defaults[0]
		default:
			return m, false, fmt.Errorf("%w: multiple default IngressClasses: %s", errInvalidClass, strings.Join(defaults, ", "))
		}
	}
	cls, ok := x.classes[name]
	if !ok {
		return m, false, fmt.Errorf("%w: IngressClass %q not found", errInvalidClass, name)
	}
	m.class = cls
	if cls.Spec.Controller != ControllerName {
		return m, false, nil
	}
	if p := cls.Spec.Parameters; p != nil {
		if p.APIGroup == nil || *p.APIGroup != elbv2api.GroupVersion.Group || p.Kind != "IngressClassParams" {
			return m, false, fmt.Errorf("%w: IngressClass %s references unknown parameters (want apiGroup elbv2.k8s.aws, kind IngressClassParams)", errInvalidClass, cls.Name)
		}
		params, ok := x.params[p.Name]
		if !ok {
			return m, false, fmt.Errorf("%w: IngressClassParams %q (of IngressClass %s) not found", errInvalidClass, p.Name, cls.Name)
		}
		if sel := params.Spec.NamespaceSelector; sel != nil {
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil {
				return m, false, fmt.Errorf("%w: IngressClassParams %s: namespaceSelector: %v", errInvalidClass, params.Name, err)
			}
			if !s.Matches(labels.Set(x.nsLabels.Of(ing.Namespace))) {
				return m, false, fmt.Errorf("%w: namespaceSelector of IngressClassParams %s does not select namespace %s", errInvalidClass, params.Name, ing.Namespace)
			}
		}
		m.params = params
	}
	return m, true, nil
}

// groupID returns a member's group: IngressClassParams group, else the
// group.name annotation, else the Ingress itself.
func groupID(m *member) (stack.ID, string, error) {
	if m.params != nil && m.params.Spec.Group != nil {
		if err := validateGroupName(m.params.Spec.Group.Name); err != nil {
			return stack.ID{}, "", fmt.Errorf("IngressClassParams %s group: %w", m.params.Name, err)
		}
		return stack.ID{Name: m.params.Spec.Group.Name}, "IngressClassParams " + m.params.Name + " spec.group.name", nil
	}
	if name, ok := m.ann.String(annotations.IngressGroupName); ok {
		if err := validateGroupName(name); err != nil {
			return stack.ID{}, "", &annotations.Error{Key: annotations.IngressGroupName, Value: name, Want: "lower case alphanumerics, '-' or '.', at most 63 characters", Err: err}
		}
		return stack.ID{Name: name}, "annotation " + annotations.IngressGroupName, nil
	}
	return stack.ID{Namespace: m.ing.Namespace, Name: m.ing.Name}, "implicit (the Ingress alone)", nil
}

// groupFinalizers returns the groups an Ingress holds finalizers for.
func groupFinalizers(ing *networking.Ingress) []stack.ID {
	var out []stack.ID
	for _, f := range ing.Finalizers {
		if f == ImplicitGroupFinalizer {
			out = append(out, stack.ID{Namespace: ing.Namespace, Name: ing.Name})
		} else if strings.HasPrefix(f, ExplicitGroupFinalizerPrefix) {
			out = append(out, stack.ID{Name: strings.TrimPrefix(f, ExplicitGroupFinalizerPrefix)})
		}
	}
	return out
}

type groupAcc struct {
	id       stack.ID
	members  []*member
	failed   []MemberError
	inactive []translate.ObjectRef
	source   string
}

// BuildGroups translates every IngressGroup of the input.
func BuildGroups(in Input) Result {
	var res Result
	opts := in.Options
	cloud, diags := translate.Start(in.Facts, &opts)
	if cloud == nil {
		res.Diagnostics = diags
		return res
	}
	x := newIndex(&in)
	ings := make([]*networking.Ingress, 0, len(in.Ingresses))
	for i := range in.Ingresses {
		ings = append(ings, &in.Ingresses[i])
	}
	sort.Slice(ings, func(i, j int) bool {
		if ings[i].Namespace != ings[j].Namespace {
			return ings[i].Namespace < ings[j].Namespace
		}
		return ings[i].Name < ings[j].Name
	})
	groups := map[stack.ID]*groupAcc{}
	acc := func(id stack.ID) *groupAcc {
		g := groups[id]
		if g == nil {
			g = &groupAcc{id: id}
			groups[id] = g
		}
		return g
	}
	diag := func(sev translate.Severity, ref translate.ObjectRef, format string, args ...any) {
		res.Diagnostics = append(res.Diagnostics, translate.Diagnostic{Severity: sev, Object: ref, Message: fmt.Sprintf(format, args...)})
	}
	for _, ing := range ings {
		ref := ingRef(ing)
		var gid *stack.ID
		var m *member
		if ing.DeletionTimestamp == nil {
			mm, ours, err := x.classify(ing)
			switch {
			case err != nil:
				held := groupFinalizers(ing)
				if len(held) > 0 {
					// It was a member: keep its group from deleting it by mistake.
					for _, id := range held {
						g := acc(id)
						g.failed = append(g.failed, MemberError{Member: ref, Err: fmt.Errorf("has an invalid IngressClass configuration: %w", err)})
					}
					continue
				}
				diag(translate.Note, ref, "not handled: %v", err)
			case !ours:
				switch {
				case mm.notOurs != "":
					diag(translate.Note, ref, "not handled: %s", mm.notOurs)
				case mm.class != nil:
					diag(translate.Note, ref, "not handled: IngressClass %s belongs to controller %q", mm.class.Name, mm.class.Spec.Controller)
				default:
					diag(translate.Note, ref, "not handled: no IngressClass of controller %s selects it", ControllerName)
				}
			default:
				id, src, err := groupID(mm)
				if err != nil {
					diag(translate.Error, ref, "%v", err)
				} else {
					gid = &id
					m = mm
					acc(id).source = src
				}
			}
		}
		if gid != nil {
			acc(*gid).members = append(acc(*gid).members, m)
		}
		for _, held := range groupFinalizers(ing) {
			if gid != nil && held == *gid {
				continue
			}
			if held.Namespace != "" && (held.Namespace != ing.Namespace || held.Name != ing.Name) {
				continue
			}
			acc(held).inactive = append(acc(held).inactive, ref)
		}
	}
	ids := make([]stack.ID, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	for _, id := range ids {
		res.Groups = append(res.Groups, buildGroup(x, cloud, &opts, groups[id]))
	}
	res.Diagnostics = translate.SortDiagnostics(res.Diagnostics)
	res.Missing = cloud.Missing()
	return res
}

// buildGroup orders a group's members and builds its stack, leaving out the
// members whose errors are theirs.
func buildGroup(x *index, cloud *translate.Cloud, opts *translate.Options, g *groupAcc) Group {
	out := Group{ID: g.id, Inactive: g.inactive, Finalizer: GroupFinalizer(g.id)}
	failed := append([]MemberError(nil), g.failed...)
	var members []*member
	for _, m := range g.members {
		order, ok, err := m.ann.Int32(annotations.IngressGroupOrder)
		switch {
		case err != nil:
			failed = append(failed, MemberError{Member: m.ref, Err: err})
			continue
		case ok && (order < -1000 || order > 1000):
			failed = append(failed, MemberError{Member: m.ref, Err: &annotations.Error{Key: annotations.IngressGroupOrder, Value: m.ann[annotations.IngressGroupOrder], Want: "an integer in [-1000, 1000]"}})
			continue
		}
		m.order = order
		members = append(members, m)
	}
	sort.SliceStable(members, func(i, j int) bool {
		if members[i].order != members[j].order {
			return members[i].order < members[j].order
		}
		return members[i].ref.Key() < members[j].ref.Key()
	})
	// Deletion protection on a deleted member blocks the group, as with the reference.
	for _, ref := range g.inactive {
		for i := range x.in.Ingresses {
			ing := &x.in.Ingresses[i]
			if ing.Namespace != ref.Namespace || ing.Name != ref.Name || ing.DeletionTimestamp == nil {
				continue
			}
			attrs, _, err := annotations.Set(ing.Annotations).StringMap(annotations.IngressLoadBalancerAttributes)
			if err == nil && attrs["deletion_protection.enabled"] != "" {
				if on, perr := annotations.ParseBool(attrs["deletion_protection.enabled"]); perr == nil && on {
					out.Err = fmt.Errorf("deletion_protection is enabled, cannot delete the ingress: %s", ref.Key())
				}
			}
		}
	}
	if out.Err != nil {
		out.Failed = failed
		out.Diagnostics = memberDiagnostics(g.id, failed, out.Err, nil)
		return out
	}
	var tr *translate.Trace
	var b *builder
	for {
		b = newBuilder(x, cloud, opts, g.id, members)
		b.groupSource = g.source
		err := b.run()
		tr = b.trace
		if err == nil {
			break
		}
		var me *memberError
		if !errors.As(err, &me) || len(members) == 0 {
			out.Err = err
			for _, m := range members {
				failed = append(failed, MemberError{Member: m.ref, Err: err})
			}
			members = nil
			b = nil
			break
		}
		failed = append(failed, MemberError{Member: me.m.ref, Err: me.err})
		kept := members[:0:0]
		for _, m := range members {
			if m != me.m {
				kept = append(kept, m)
			}
		}
		members = kept
	}
	sort.SliceStable(failed, func(i, j int) bool { return failed[i].Member.Key() < failed[j].Member.Key() })
	out.Failed = failed
	if b != nil {
		out.Stack = b.stack
		out.ListenPorts = b.listenPorts()
		out.BackendSecurityGroup = b.backendSGAllocated
		out.Decisions = tr.Decisions
		for _, m := range members {
			out.Members = append(out.Members, m.ref)
		}
	}
	out.Diagnostics = memberDiagnostics(g.id, failed, nil, tr)
	if len(failed) > 0 && out.Stack != nil && len(out.Members) == 0 {
		// Nothing left to build although members exist: do not delete.
		out.Stack = nil
		out.Err = fmt.Errorf("every member of group %s failed", g.id)
	}
	return out
}

func memberDiagnostics(id stack.ID, failed []MemberError, groupErr error, tr *translate.Trace) []translate.Diagnostic {
	var ds []translate.Diagnostic
	for _, f := range failed {
		msg := f.Err.Error()
		if groupErr == nil && id.Namespace == "" {
			msg = fmt.Sprintf("left out of IngressGroup %s: %s", id, msg)
		}
		ds = append(ds, translate.Diagnostic{Severity: translate.Error, Object: f.Member, Stack: id.String(), Message: msg})
	}
	if tr != nil {
		for _, d := range tr.Diagnostics {
			d.Stack = id.String()
			ds = append(ds, d)
		}
	}
	return translate.SortDiagnostics(ds)
}
