package ingress

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// Defaults of the reference's Ingress model builder.
const (
	defaultHealthCheckPathHTTP   = "/"
	defaultHealthCheckPathGRPC   = "/AWS.ALB/healthcheck"
	defaultHealthCheckInterval   = 15
	defaultHealthCheckTimeout    = 5
	defaultHealthyThreshold      = 2
	defaultUnhealthyThreshold    = 2
	defaultMatcherHTTP           = "200"
	defaultMatcherGRPC           = "12"
	managedSGDescription         = "[k8s] Managed SecurityGroup for LoadBalancer"
	nonExistentServiceMessage    = "Backend service does not exist"
	nonExistentActionMessage     = "Backend action does not exist"
	useAnnotationServicePortName = "use-annotation"
)

// memberError is an error that is one member's own: the member is left out
// and the rest of the group rebuilt.
type memberError struct {
	m   *member
	err error
}

func (e *memberError) Error() string { return e.m.ref.Key() + ": " + e.err.Error() }
func (e *memberError) Unwrap() error { return e.err }

func blame(m *member, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*memberError); ok {
		return err
	}
	return &memberError{m: m, err: err}
}

// builder builds one IngressGroup's stack from its ordered members.
type builder struct {
	x       *index
	cloud   *translate.Cloud
	opts    *translate.Options
	id      stack.ID
	members []*member
	stack   *stack.Stack
	trace   *translate.Trace

	groupSource        string
	lb                 *stack.LoadBalancer
	portConfigs        map[int32]*listenPortConfig
	portMembers        map[int32][]*member
	memberPorts        map[*member]map[int32]*listenPortConfig
	sslRedirectPort    *int32
	backendSG          *stack.Token
	backendSGAllocated bool
	tgs                map[string]*stack.TargetGroup
	frontendTargets    map[string]*stack.FrontendNLBTarget
}

func newBuilder(x *index, cloud *translate.Cloud, opts *translate.Options, id stack.ID, members []*member) *builder {
	return &builder{
		x: x, cloud: cloud, opts: opts, id: id, members: members,
		stack:           stack.New(id, stack.TagPrefixIngress),
		trace:           &translate.Trace{},
		tgs:             map[string]*stack.TargetGroup{},
		frontendTargets: map[string]*stack.FrontendNLBTarget{},
	}
}

func (b *builder) listenPorts() []int32 {
	out := make([]int32, 0, len(b.portConfigs))
	for p := range b.portConfigs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// decide records a decision once per subject.
func (b *builder) decide(subject, value, format string, args ...any) {
	b.trace.DecideOnce(subject, value, format, args...)
}

func (b *builder) service(ns, name string) *corev1.Service {
	return b.x.services[ns+"/"+name]
}

// run builds the stack. An error returned as *memberError names the member
// to leave out; any other error fails the whole group.
func (b *builder) run() error {
	if len(b.members) > 0 {
		b.decide("group", b.id.String(), "%s; members in order: %s", b.groupSource, b.memberList())
		if err := b.buildListenPortConfigs(); err != nil {
			return err
		}
		if err := b.buildLoadBalancer(); err != nil {
			return err
		}
		if err := b.buildSSLRedirect(); err != nil {
			return err
		}
		for _, port := range b.listenPorts() {
			ls, err := b.buildListener(port)
			if err != nil {
				return err
			}
			if err := b.buildRules(ls, port); err != nil {
				return err
			}
		}
		if err := b.buildAddOns(); err != nil {
			return err
		}
		if err := b.buildFrontendNLB(); err != nil {
			return err
		}
		b.pitfalls()
	}
	return b.stack.Add(&stack.FrontendNLBTargetGroups{TargetGroups: b.frontendTargets})
}

func (b *builder) memberList() string {
	var keys []string
	for _, m := range b.members {
		k := m.ref.Key()
		if m.order != 0 {
			k += fmt.Sprintf(" (order %d)", m.order)
		}
		keys = append(keys, k)
	}
	return translate.JoinKeys(keys)
}

// pitfalls warns about group-wide settings users trip on.
func (b *builder) pitfalls() {
	if b.sslRedirectPort != nil && len(b.members) > 1 {
		var setters []string
		for _, m := range b.members {
			if m.ann.Has("alb.ingress.kubernetes.io/ssl-redirect") || (m.params != nil && m.params.Spec.SSLRedirectPort != "") {
				setters = append(setters, m.ref.Key())
			}
		}
		b.trace.Add(translate.Warning, b.members[0].ref,
			"ssl-redirect (set by %s) applies to the whole IngressGroup %s: every HTTP listener redirects to HTTPS port %d and carries no rules, for all %d members",
			translate.JoinKeys(setters), b.id, *b.sslRedirectPort, len(b.members))
	}
}
