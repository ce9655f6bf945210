package gateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// gwBuilder builds the stack and status of one Gateway.
type gwBuilder struct {
	t     *translator
	x     *index
	cloud *translate.Cloud
	opts  *translate.Options
	gw    *gwv1.Gateway
	ref   translate.ObjectRef
	class *classInfo
	// flavor says whether the Gateway becomes an ALB or an NLB.
	flavor *flavor
	cfg    *mergedConfig
	// defaultProps are the merged default target group properties.
	defaultProps *v1beta1.TargetGroupProps

	stack *stack.Stack
	trace *translate.Trace

	listeners []*listener
	// ports4 are the ports of an NLB Gateway and the routes they serve.
	ports4 []*nlbPort
	// frontendTargets are the ALBs registered in alb target groups
	// (Gateway backends), by target group name.
	frontendTargets map[string]*stack.FrontendNLBTarget
	// rejectedLS maps the ListenerSets that name the Gateway but are not
	// allowed to attach to why.
	rejectedLS map[string]string
	attachedLS []*gwv1.ListenerSet

	lb *stack.LoadBalancer
	// subnetsUsed are the load balancer's subnets.
	subnetsUsed        []translate.Subnet
	lbTags             map[string]string
	backendSG          *stack.Token
	backendSGAllocated bool
	tgNames            map[string]string
	secretsUsed        map[string]bool
	addonState         map[string]bool
}

// decide records a decision once per subject and value.
func (b *gwBuilder) decide(subject, value, format string, args ...any) {
	b.trace.DecideOnce(subject, value, format, args...)
}

// ports are the ports of the listeners that can be programmed, ascending.
func (b *gwBuilder) ports() []int32 {
	seen := map[int32]bool{}
	var out []int32
	for _, l := range b.listeners {
		if l.usable() && !seen[l.port] {
			seen[l.port] = true
			out = append(out, l.port)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// gateway translates one Gateway; ok is false when the Gateway is not of
// elbow's controllers at all.
func (t *translator) gateway(gw *gwv1.Gateway) (Gateway, bool) {
	ref := objRef(kindGateway, gw)
	ci := t.classInfo[string(gw.Spec.GatewayClassName)]
	if ci == nil {
		return t.foreignGateway(gw, ref)
	}
	f := ci.flavor
	if f == nil {
		f = autoFlavor(gw, t.off)
	}
	out := Gateway{Gateway: ref, Class: string(gw.Spec.GatewayClassName), Finalizer: f.finalizer}
	if t.off[f] {
		// A ControllerAuto Gateway whose load balancer is of a flavor whose
		// controller is off: left as it is.
		out.Err = fmt.Errorf("its load balancer is an %s, and elbow's %s Gateway controller is off (%s): the Gateway is left as it is", f.short, f.short, f.offWhy())
		out.Diagnostics = []translate.Diagnostic{{Severity: translate.Error, Object: ref, Stack: ref.Key(), Message: out.Err.Error()}}
		return out, true
	}
	b := &gwBuilder{t: t, x: t.x, cloud: t.cloud, opts: t.opts, gw: gw, ref: ref, class: ci, flavor: f,
		stack: stack.New(stack.ID{Namespace: gw.Namespace, Name: gw.Name}, f.tagPrefix),
		trace: &translate.Trace{}, rejectedLS: map[string]string{},
		tgNames: map[string]string{}, secretsUsed: map[string]bool{}}
	out.DryRun = gw.Annotations[AnnotationDryRun] == "true" && !translate.HasFinalizer(gw, f.finalizer)
	err := b.run()
	if gw.DeletionTimestamp != nil {
		return b.deletion(out), true
	}
	out.Decisions = b.trace.Decisions
	if err != nil {
		out.Err = err
		b.trace.Add(translate.Error, ref, "%v", err)
	} else {
		out.Stack = b.stack
		out.BackendSecurityGroup = b.backendSGAllocated
		out.Addons = b.addonState
		out.ListenPorts = b.stackPorts()
	}
	for _, k := range translate.SortedKeys(b.secretsUsed) {
		ns, name, _ := strings.Cut(k, "/")
		out.Secrets = append(out.Secrets, translate.ObjectRef{Kind: "Secret", Namespace: ns, Name: name})
	}
	for _, d := range b.trace.Diagnostics {
		d.Stack = ref.Key()
		out.Diagnostics = append(out.Diagnostics, d)
	}
	out.Diagnostics = translate.SortDiagnostics(out.Diagnostics)
	return out, true
}

// foreignGateway is the translation of a Gateway that is not of a class of
// elbow's controllers: nothing, unless it still carries one of their
// finalizers, when what it owns is deleted.
func (t *translator) foreignGateway(gw *gwv1.Gateway, ref translate.ObjectRef) (Gateway, bool) {
	for _, f := range []*flavor{albFlavor, nlbFlavor} {
		if translate.HasFinalizer(gw, f.finalizer) && !t.off[f] {
			out := Gateway{Gateway: ref, Class: string(gw.Spec.GatewayClassName), Finalizer: f.finalizer}
			out.Stack = stack.New(stack.ID{Namespace: gw.Namespace, Name: gw.Name}, f.tagPrefix)
			out.Diagnostics = []translate.Diagnostic{{Severity: translate.Note, Object: ref, Stack: ref.Key(),
				Message: "no longer of a GatewayClass of controller " + string(f.controller) + " but still has the finalizer " + f.finalizer + ": its load balancer is deleted"}}
			return out, true
		}
	}
	if _, exists := t.x.classes[string(gw.Spec.GatewayClassName)]; !exists {
		t.note(translate.Note, ref, "not handled: GatewayClass %s not found", gw.Spec.GatewayClassName)
	} else {
		t.note(translate.Note, ref, "not handled: GatewayClass %s is not of controller %s, %s or %s", gw.Spec.GatewayClassName, ControllerALB, ControllerNLB, ControllerAuto)
	}
	return Gateway{Gateway: ref, Class: string(gw.Spec.GatewayClassName)}, false
}

// deletion is the translation of a Gateway being deleted: an empty stack,
// unless deletion protection is on.
func (b *gwBuilder) deletion(out Gateway) Gateway {
	if b.cfg != nil && deletionProtected(&b.cfg.spec) {
		out.Err = fmt.Errorf("deletion protection is enabled (load balancer attribute deletion_protection.enabled): cannot delete Gateway %s", b.ref.Key())
		out.Diagnostics = []translate.Diagnostic{{Severity: translate.Error, Object: b.ref, Stack: b.ref.Key(), Message: out.Err.Error()}}
		return out
	}
	out.Stack = stack.New(b.stack.ID, b.flavor.tagPrefix)
	out.Diagnostics = []translate.Diagnostic{{Severity: translate.Note, Object: b.ref, Stack: b.ref.Key(), Message: "being deleted: its load balancer is deleted"}}
	return out
}

// run decides the Gateway's status and builds its stack. An error means
// the stack could not be built; the status says why.
func (b *gwBuilder) run() error {
	gen := b.gw.Generation
	st := &GatewayStatus{Gateway: b.ref}
	b.t.status.gateways[b.ref.Key()] = st
	accepted := func(ok bool, reason, msg string) {
		setCondition(&st.Status.Conditions, cond(string(gwv1.GatewayConditionAccepted), condBool(ok), reason, msg, gen))
	}
	programmedFalse := func(msg string) {
		setCondition(&st.Status.Conditions, cond(string(gwv1.GatewayConditionProgrammed), metav1.ConditionFalse, string(gwv1.GatewayReasonInvalid), msg, gen))
	}
	// Listeners and routes are decided even when the Gateway cannot be
	// built, so that their status says where they stand.
	b.collectListeners()
	b.validateListeners(b.listeners)
	var gwErr error
	var reason string
	if b.class.err != nil {
		gwErr, reason = fmt.Errorf("GatewayClass %s is not accepted: %v", b.class.class.Name, b.class.err), string(gwv1.GatewayReasonInvalidParameters)
	} else if lbc, err := b.t.gatewayConfig(b.gw); err != nil {
		gwErr, reason = err, string(gwv1.GatewayReasonInvalidParameters)
	} else {
		b.cfg = mergeConfigs(b.class.lbc, lbc)
		if err := b.checkAddresses(); err != nil {
			gwErr, reason = err, string(gwv1.GatewayReasonUnsupportedAddress)
		} else if b.defaultProps, err = b.defaultTargetGroupConfig(); err != nil {
			gwErr, reason = err, string(gwv1.GatewayReasonInvalidParameters)
		}
	}
	atts := b.attachRoutes()
	if b.flavor.nlb() {
		atts = b.selectL4Routes(atts)
	}
	validListeners := 0
	for _, l := range b.listeners {
		if l.ls == nil && l.accepted && !l.conflicted {
			validListeners++
		}
	}
	var buildErr error
	switch {
	case gwErr != nil:
		accepted(false, reason, gwErr.Error())
		programmedFalse("The Gateway is not accepted.")
		for _, l := range b.listeners {
			if l.unprogrammable == "" {
				l.unprogrammable = "The Gateway is not accepted."
			}
		}
		buildErr = gwErr
	default:
		ownListeners := 0
		for _, l := range b.listeners {
			if l.ls == nil {
				ownListeners++
			}
		}
		switch {
		case validListeners == 0 && ownListeners > 0:
			accepted(false, string(gwv1.GatewayReasonListenersNotValid), "No listener is valid.")
			programmedFalse("The Gateway is not accepted.")
			b.finishStatus(st)
			return fmt.Errorf("not accepted: no listener is valid")
		case validListeners < ownListeners:
			accepted(true, string(gwv1.GatewayReasonListenersNotValid), "Some listeners are not valid; the others are served.")
		default:
			accepted(true, string(gwv1.GatewayReasonAccepted), "Gateway is accepted.")
		}
		if buildErr = b.build(atts); buildErr != nil {
			programmedFalse("The load balancer cannot be built: " + buildErr.Error())
			for _, l := range b.listeners {
				if l.unprogrammable == "" {
					l.unprogrammable = "The load balancer cannot be built."
				}
			}
		} else {
			setCondition(&st.Status.Conditions, cond(string(gwv1.GatewayConditionProgrammed), metav1.ConditionUnknown, string(gwv1.GatewayReasonPending), "Waiting for the load balancer to be active.", gen))
		}
	}
	b.finishStatus(st)
	return buildErr
}

// checkAddresses refuses spec.addresses with values: an ALB's addresses
// come from AWS, an NLB's from its subnet mappings; an entry without a
// value (GatewayAddressEmpty) is accepted.
func (b *gwBuilder) checkAddresses() error {
	for i, a := range b.gw.Spec.Addresses {
		if a.Value != "" && b.flavor.nlb() {
			return fmt.Errorf("spec.addresses[%d] %q: a Network Load Balancer's addresses are chosen per subnet: set eipAllocation (internet-facing) or privateIPv4Allocation (internal) in the loadBalancerSubnets of a %s", i, a.Value, kindLBC)
		}
		if a.Value != "" {
			return fmt.Errorf("spec.addresses[%d] %q: an Application Load Balancer's addresses are assigned by AWS and cannot be chosen", i, a.Value)
		}
		if a.Type != nil && *a.Type != gwv1.IPAddressType && *a.Type != gwv1.HostnameAddressType {
			return fmt.Errorf("spec.addresses[%d]: address type %s is not supported; want IPAddress or Hostname (without a value)", i, *a.Type)
		}
	}
	return nil
}

// collectListeners gathers the Gateway's listeners and those of the
// ListenerSets allowed to attach, in precedence order.
func (b *gwBuilder) collectListeners() {
	b.listeners = gatewayListeners(b.gw)
	al := b.gw.Spec.AllowedListeners.Namespaces
	for _, ls := range b.x.listenerSets {
		p := ls.Spec.ParentRef
		ns := ls.Namespace
		if p.Namespace != nil && *p.Namespace != "" {
			ns = string(*p.Namespace)
		}
		if deref(p.Group) != groupGateway || deref(p.Kind) != kindGateway || ns != b.gw.Namespace || string(p.Name) != b.gw.Name {
			continue
		}
		ok, err := b.x.namespaceAllowed(*al.From, al.Selector, ls.Namespace, b.gw.Namespace)
		k := key(ls.Namespace, ls.Name)
		switch {
		case err != nil:
			b.rejectedLS[k] = fmt.Sprintf("the Gateway's allowedListeners selector is not valid: %v", err)
		case !ok:
			b.rejectedLS[k] = fmt.Sprintf("the Gateway's spec.allowedListeners.namespaces.from is %s", *al.From)
		default:
			b.attachedLS = append(b.attachedLS, ls)
			b.listeners = append(b.listeners, listenerSetListeners(ls)...)
		}
	}
}

// build builds the stack: the load balancer, a listener per port, the
// rules of the routes in precedence order, target groups.
func (b *gwBuilder) build(atts []*attachment) error {
	if err := b.buildLoadBalancer(); err != nil {
		return err
	}
	if b.flavor.nlb() {
		if err := b.buildNLBListeners(); err != nil {
			return err
		}
	} else {
		for _, port := range b.ports() {
			if err := b.buildPort(port, atts); err != nil {
				return err
			}
		}
	}
	if b.opts.DefaultTargetType == "instance" {
		for _, tg := range b.stack.TargetGroups {
			if tg.Spec.TargetType == stack.TargetTypeInstance {
				b.decide("target type", "instance", "--default-target-type (ClusterIP Services need ip targets: set targetType ip in a %s, or --default-target-type=ip)", kindTGC)
				break
			}
		}
	}
	return nil
}

// stackPorts are the ports of the stack's listeners.
func (b *gwBuilder) stackPorts() []int32 {
	var out []int32
	for _, l := range b.stack.SortedListeners() {
		out = append(out, l.Spec.Port)
	}
	return out
}

// finishStatus renders the listener and ListenerSet statuses and the
// Gateway's ResolvedRefs and attachedListenerSets.
func (b *gwBuilder) finishStatus(st *GatewayStatus) {
	gen := b.gw.Generation
	refsOK := true
	for _, l := range b.listeners {
		l.diagnose(b.trace)
		if l.ls != nil {
			continue
		}
		if !l.refsOK {
			refsOK = false
		}
		st.Status.Listeners = append(st.Status.Listeners, gwv1.ListenerStatus{
			Name: l.name, SupportedKinds: l.kinds, AttachedRoutes: int32(len(l.attached)), Conditions: l.conditions(),
		})
	}
	if refsOK {
		setCondition(&st.Status.Conditions, cond(string(gwv1.GatewayConditionResolvedRefs), metav1.ConditionTrue, string(gwv1.GatewayReasonResolvedRefs), "All references are resolved.", gen))
	} else {
		setCondition(&st.Status.Conditions, cond(string(gwv1.GatewayConditionResolvedRefs), metav1.ConditionFalse, string(gwv1.GatewayReasonListenersNotResolved), "Some listeners have unresolved references.", gen))
	}
	attachedLS := int32(0)
	for _, ls := range b.attachedLS {
		lsst := &ListenerSetStatus{ListenerSet: objRef(kindLS, ls), Gateway: b.ref}
		anyValid := false
		allValid := true
		for _, l := range b.listeners {
			if l.ls != ls {
				continue
			}
			// A listener is valid when it can be served: accepted, not
			// conflicted, with a usable certificate if it needs one.
			if l.usable() {
				anyValid = true
			} else {
				allValid = false
			}
			lsst.Status.Listeners = append(lsst.Status.Listeners, gwv1.ListenerEntryStatus{
				Name: l.name, SupportedKinds: l.kinds, AttachedRoutes: int32(len(l.attached)), Conditions: l.conditions(),
			})
		}
		g := ls.Generation
		switch {
		case !anyValid:
			lsst.Status.Conditions = []metav1.Condition{
				cond(string(gwv1.ListenerSetConditionAccepted), metav1.ConditionFalse, string(gwv1.ListenerSetReasonListenersNotValid), "No listener is valid.", g),
				cond(string(gwv1.ListenerSetConditionProgrammed), metav1.ConditionFalse, string(gwv1.ListenerSetReasonListenersNotValid), "No listener is valid.", g),
			}
		default:
			attachedLS++
			reason, msg := string(gwv1.ListenerSetReasonAccepted), "ListenerSet is accepted."
			if !allValid {
				reason, msg = string(gwv1.ListenerSetReasonListenersNotValid), "Some listeners are not valid; the others are served."
			}
			prog := cond(string(gwv1.ListenerSetConditionProgrammed), metav1.ConditionUnknown, string(gwv1.ListenerSetReasonPending), "Waiting for the load balancer.", g)
			if c := findCondition(st.Status.Conditions, string(gwv1.GatewayConditionProgrammed)); c != nil && c.Status == metav1.ConditionFalse {
				prog = cond(string(gwv1.ListenerSetConditionProgrammed), metav1.ConditionFalse, string(gwv1.ListenerSetReasonParentNotAccepted), "The Gateway is not programmed: "+c.Message, g)
			}
			lsst.Status.Conditions = []metav1.Condition{
				cond(string(gwv1.ListenerSetConditionAccepted), metav1.ConditionTrue, reason, msg, g), prog,
			}
		}
		b.t.status.listenerSets[key(ls.Namespace, ls.Name)] = lsst
	}
	for _, k := range translate.SortedKeys(b.rejectedLS) {
		var ls *gwv1.ListenerSet
		for _, x := range b.x.listenerSets {
			if key(x.Namespace, x.Name) == k {
				ls = x
			}
		}
		g := ls.Generation
		b.t.status.listenerSets[k] = &ListenerSetStatus{ListenerSet: objRef(kindLS, ls), Gateway: b.ref, Status: gwv1.ListenerSetStatus{Conditions: []metav1.Condition{
			cond(string(gwv1.ListenerSetConditionAccepted), metav1.ConditionFalse, string(gwv1.ListenerSetReasonNotAllowed), "Not allowed by Gateway "+b.ref.Key()+": "+b.rejectedLS[k]+".", g),
			cond(string(gwv1.ListenerSetConditionProgrammed), metav1.ConditionFalse, string(gwv1.ListenerSetReasonNotAllowed), "Not allowed by the Gateway.", g),
		}}}
		b.trace.Add(translate.Error, objRef(kindLS, ls), "not attached to Gateway %s: %s", b.ref.Key(), b.rejectedLS[k])
	}
	st.Status.AttachedListenerSets = &attachedLS
}
