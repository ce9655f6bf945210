package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// nlbTargetProtocols are the target group protocols an NLB listener of a
// protocol forwards to ("Target groups for your Network Load Balancers").
var nlbTargetProtocols = map[stack.Protocol][]stack.Protocol{
	stack.ProtocolTCP:     {stack.ProtocolTCP, stack.ProtocolTCPUDP},
	stack.ProtocolTLS:     {stack.ProtocolTCP, stack.ProtocolTLS},
	stack.ProtocolUDP:     {stack.ProtocolUDP, stack.ProtocolTCPUDP},
	stack.ProtocolTCPUDP:  {stack.ProtocolTCPUDP},
	stack.ProtocolQUIC:    {stack.ProtocolQUIC, stack.ProtocolTCPQUIC},
	stack.ProtocolTCPQUIC: {stack.ProtocolTCPQUIC},
}

// buildNLBListeners adds an NLB listener for every port that serves a
// route with a usable backend. A port without one has no listener: an
// NLB listener forwards to target groups and has nothing else to answer
// with, so connections to the port are refused, as the Gateway API asks of
// a listener without a usable backend.
func (b *gwBuilder) buildNLBListeners() error {
	for _, np := range b.ports4 {
		if err := b.buildNLBPort(np); err != nil {
			return err
		}
	}
	if len(b.frontendTargets) > 0 {
		return b.stack.Add(&stack.FrontendNLBTargetGroups{TargetGroups: b.frontendTargets})
	}
	return nil
}

// nlbProtocol is the protocol of the NLB listener of a port: TCP, UDP or
// TCP_UDP for the protocols its routes are served on, TCP for TLS
// passthrough, TLS for TLS termination; QUIC and TCP_QUIC when the
// listener configuration enables QUIC on UDP.
func (np *nlbPort) nlbProtocol() stack.Protocol {
	l := np.listeners[0]
	switch {
	case l.protocol == gwv1.TLSProtocolType && l.passthrough():
		return stack.ProtocolTCP
	case l.protocol == gwv1.TLSProtocolType:
		return stack.ProtocolTLS
	case np.protocols[gwv1.TCPProtocolType] && np.protocols[gwv1.UDPProtocolType]:
		return stack.ProtocolTCPUDP
	case np.protocols[gwv1.UDPProtocolType]:
		return stack.ProtocolUDP
	}
	return stack.ProtocolTCP
}

// buildNLBPort adds the NLB listener of a port, forwarding to the target
// groups of the backends of the route it serves.
func (b *gwBuilder) buildNLBPort(np *nlbPort) error {
	if np.route == nil {
		b.decide(fmt.Sprintf("port %d", np.port), "no listener", "no route is attached to its listeners")
		return nil
	}
	proto := np.nlbProtocol()
	lcfg := listenerConfig(&b.cfg.spec, string(proto), np.port)
	if lcfg != nil && lcfg.QuicEnabled != nil && *lcfg.QuicEnabled {
		switch proto {
		case stack.ProtocolUDP:
			proto = stack.ProtocolQUIC
		case stack.ProtocolTCPUDP:
			proto = stack.ProtocolTCPQUIC
		default:
			return fmt.Errorf("%s listenerConfiguration %s: quicEnabled applies to UDP and TCP_UDP listeners, and port %d's listener is %s", kindLBC, lcfg.ProtocolPort, np.port, proto)
		}
	}
	spec := stack.ListenerSpec{LoadBalancerARN: b.lb.ARN(), Port: np.port, Protocol: proto, Tags: b.lbTags}
	if ok, err := b.nlbListenerConfig(&spec, np, lcfg); !ok || err != nil {
		return err
	}
	fwd, err := b.nlbForward(np, proto, lcfg)
	if err != nil {
		return err
	}
	if fwd == nil {
		b.decide(fmt.Sprintf("port %d", np.port), "no listener", "%s %s has no usable backend", np.route.r.kind, np.route.r.ref.Key())
		return nil
	}
	spec.DefaultActions = []stack.Action{{Type: stack.ActionTypeForward, ForwardConfig: fwd}}
	return b.stack.Add(&stack.Listener{ResID: strconv.Itoa(int(np.port)), Spec: spec})
}

// nlbListenerConfig applies a LoadBalancerConfiguration listener
// configuration to an NLB listener: attributes; for TLS listeners the
// certificates (or the listeners' certificateRefs, or discovery), SSL
// policy and ALPN policy (None by default, as the reference). ok is false
// when the listener cannot be made (no certificate: its Gateway listeners
// say so).
func (b *gwBuilder) nlbListenerConfig(spec *stack.ListenerSpec, np *nlbPort, lcfg *v1beta1.ListenerConfiguration) (ok bool, err error) {
	if lcfg != nil {
		for _, a := range lcfg.ListenerAttributes {
			spec.ListenerAttributes = append(spec.ListenerAttributes, stack.ListenerAttribute{Key: a.Key, Value: a.Value})
		}
		if lcfg.MutualAuthentication != nil {
			b.trace.Add(translate.Warning, b.ref, "%s listenerConfiguration %s: mutualAuthentication applies to Application Load Balancer HTTPS listeners; ignored", kindLBC, lcfg.ProtocolPort)
		}
	}
	if spec.Protocol != stack.ProtocolTLS {
		if lcfg != nil && (lcfg.DefaultCertificate != nil || len(lcfg.Certificates) > 0 || lcfg.SslPolicy != nil || lcfg.ALPNPolicy != nil) {
			b.trace.Add(translate.Warning, b.ref, "%s listenerConfiguration %s: certificates, sslPolicy and alpnPolicy apply to TLS listeners; ignored on %s:%d", kindLBC, lcfg.ProtocolPort, spec.Protocol, spec.Port)
		}
		return true, nil
	}
	certs, err := b.certificates(stack.ProtocolTLS, np.port, np.listeners, lcfg, []*attachment{np.route})
	if err != nil {
		for _, l := range np.listeners {
			l.unprogrammable = err.Error()
		}
		return false, nil
	}
	spec.Certificates = certs
	policy := b.opts.DefaultSSLPolicy
	if lcfg != nil && lcfg.SslPolicy != nil {
		policy = *lcfg.SslPolicy
	}
	spec.SSLPolicy = &policy
	alpn := v1beta1.ALPNPolicyNone
	if lcfg != nil && lcfg.ALPNPolicy != nil {
		alpn = *lcfg.ALPNPolicy
	}
	switch alpn {
	case v1beta1.ALPNPolicyNone, v1beta1.ALPNPolicyHTTP1Only, v1beta1.ALPNPolicyHTTP2Only, v1beta1.ALPNPolicyHTTP2Optional, v1beta1.ALPNPolicyHTTP2Preferred:
	default:
		return false, fmt.Errorf("%s listenerConfiguration %s: alpnPolicy %q: want None, HTTP1Only, HTTP2Only, HTTP2Optional or HTTP2Preferred", kindLBC, lcfg.ProtocolPort, alpn)
	}
	spec.ALPNPolicy = []string{string(alpn)}
	return true, nil
}

// nlbForward is the forward action of a port's NLB listener, nil when no
// backend of its route is usable.
func (b *gwBuilder) nlbForward(np *nlbPort, proto stack.Protocol, lcfg *v1beta1.ListenerConfiguration) (*stack.ForwardConfig, error) {
	a := np.route
	var out *stack.ForwardConfig
	for _, ri := range b.t.analyze(a.r).rules {
		if ri.dropped != "" {
			continue
		}
		fwd, err := b.weightedForward(a, ri, func(be *backend) (stack.Token, error) {
			return b.nlbTargetGroup(a.r, be, proto, np)
		})
		if err != nil {
			return nil, err
		}
		if fwd == nil {
			continue
		}
		// The routes of NLB Gateways have one rule (the CRDs' maxItems).
		out = fwd
		break
	}
	if out == nil {
		return nil, nil
	}
	if len(out.TargetGroups) > maxTargetGroupsPerAction {
		return nil, fmt.Errorf("%s %s: %d backends: a forward action takes at most %d target groups", a.r.kind, a.r.ref.Key(), len(out.TargetGroups), maxTargetGroupsPerAction)
	}
	if proto == stack.ProtocolQUIC || proto == stack.ProtocolTCPQUIC {
		if len(out.TargetGroups) > 1 {
			return nil, fmt.Errorf("%s %s: a QUIC listener forwards to one target group, and the route has %d backends", a.r.kind, a.r.ref.Key(), len(out.TargetGroups))
		}
		// QUIC listeners take no target group weights (as the reference).
		out.TargetGroups[0].Weight = nil
	}
	if lcfg != nil && lcfg.TargetGroupStickiness != nil {
		if *lcfg.TargetGroupStickiness && proto == stack.ProtocolTLS {
			return nil, fmt.Errorf("%s listenerConfiguration %s: targetGroupStickiness is not supported on TLS listeners", kindLBC, lcfg.ProtocolPort)
		}
		out.TargetGroupStickinessConfig = &stack.TargetGroupStickinessConfig{Enabled: ptrTo(*lcfg.TargetGroupStickiness)}
	}
	return out, nil
}

// errNotTCP refuses an ALB backend on a listener that is not TCP.
var errNotTCP = errors.New("an NLB forwards to an ALB (target type alb) from TCP listeners only")

// nlbTargetGroup returns the target group of a backend of a route on an
// NLB listener of protocol lproto, creating it (with its binding) once.
func (b *gwBuilder) nlbTargetGroup(r *route, be *backend, lproto stack.Protocol, np *nlbPort) (stack.Token, error) {
	switch {
	case be.tgName != "":
		return b.namedTargetGroup(r, be)
	case be.gateway != nil:
		if lproto != stack.ProtocolTCP {
			return stack.Token{}, errNotTCP
		}
		return b.albTargetGroup(r, be, np)
	}
	svc, sp := be.svc, be.port
	props, propsSrc := b.propsFor(r, kindService, svc.Namespace, svc.Name)
	tt, ttSrc := b.targetType(props, propsSrc)
	proto := lproto
	if lproto == stack.ProtocolTLS {
		// The Gateway API's Terminate sends plain TCP on to the backends;
		// a configuration asking for TLS re-encrypts.
		proto = stack.ProtocolTCP
	}
	if props != nil && props.Protocol != nil {
		proto = stack.Protocol(*props.Protocol)
		ok := false
		for _, p := range nlbTargetProtocols[lproto] {
			ok = ok || p == proto
		}
		if !ok {
			return stack.Token{}, fmt.Errorf("%s: target group protocol %s cannot take the traffic of a %s listener; want %s", propsSrc, proto, lproto, protocolList(nlbTargetProtocols[lproto]))
		}
	}
	if props != nil && props.TargetControlPort != nil {
		return stack.Token{}, fmt.Errorf("%s: targetControlPort is for ALB target groups (HTTP and HTTPS)", propsSrc)
	}
	if props != nil && props.ProtocolVersion != nil {
		b.trace.Add(translate.Warning, r.ref, "%s: protocolVersion applies to ALB target groups; ignored", propsSrc)
	}
	if (proto == stack.ProtocolQUIC || proto == stack.ProtocolTCPQUIC) && tt != stack.TargetTypeIP {
		return stack.Token{}, fmt.Errorf("%s target groups take ip targets only", proto)
	}
	resID := b.tgResID(r, svc.Namespace, svc.Name, sp.TargetPort.String(), nil)
	if tg, ok := b.stack.TargetGroups[resID]; ok {
		if tg.Spec.Protocol != proto {
			return stack.Token{}, fmt.Errorf("its target group %s is already %s, and this listener needs %s", tg.Spec.Name, tg.Spec.Protocol, proto)
		}
		return tg.ARN(), nil
	}
	return b.addServiceTargetGroup(r, be, serviceTG{props: props, propsSrc: propsSrc, ttSrc: ttSrc, resID: resID,
		spec:        stack.TargetGroupSpec{TargetType: tt, Protocol: proto},
		healthCheck: func() (*stack.HealthCheck, error) { return nlbHealthCheck(props, svc, tt, b.opts.AssumeNodePorts) }})
}

func protocolList(ps []stack.Protocol) string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p))
	}
	return strings.Join(out, " or ")
}

// The reference's health check defaults for NLB Gateway target groups.
const (
	nlbHealthCheckInterval = 15
	nlbHealthCheckTimeout  = 5
	nlbHealthyThreshold    = 3
	nlbUnhealthyThreshold  = 3
)

// nlbHealthCheck is an NLB target group's health check: the
// configuration's fields over the reference's defaults (TCP on the
// traffic port; for instance targets of a Service with
// externalTrafficPolicy Local, kube-proxy's /healthz on its
// healthCheckNodePort).
func nlbHealthCheck(props *v1beta1.TargetGroupProps, svc *corev1.Service, tt stack.TargetType, assumeNodePorts bool) (*stack.HealthCheck, error) {
	c := hcConfig(props)
	local := tt == stack.TargetTypeInstance && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	proto := stack.ProtocolTCP
	port := intstr.FromString(stack.HealthCheckPortTrafficPort)
	path := defaultHealthCheckPathHTTP
	interval, timeout, healthy, unhealthy := int32(nlbHealthCheckInterval), int32(nlbHealthCheckTimeout), int32(nlbHealthyThreshold), int32(nlbUnhealthyThreshold)
	if local {
		if svc.Spec.HealthCheckNodePort == 0 && !assumeNodePorts {
			return nil, fmt.Errorf("externalTrafficPolicy is Local but spec.healthCheckNodePort is not allocated")
		}
		proto, port, path = stack.ProtocolHTTP, intstr.FromInt32(svc.Spec.HealthCheckNodePort), translate.LocalHealthCheckPath
		interval, timeout, healthy, unhealthy = translate.LocalHealthCheckInterval, translate.LocalHealthCheckTimeout, translate.LocalHealthyThreshold, translate.LocalUnhealthyThreshold
	}
	if c.HealthCheckProtocol != nil {
		proto = stack.Protocol(*c.HealthCheckProtocol)
		switch proto {
		case stack.ProtocolTCP, stack.ProtocolHTTP, stack.ProtocolHTTPS:
		default:
			return nil, fmt.Errorf("healthCheckProtocol %s: want TCP, HTTP or HTTPS", proto)
		}
	}
	port, err := hcPort(c, svc, tt, port)
	if err != nil {
		return nil, err
	}
	hc := &stack.HealthCheck{Port: &port, Protocol: proto,
		IntervalSeconds:         orDefault(c.HealthCheckInterval, interval),
		TimeoutSeconds:          orDefault(c.HealthCheckTimeout, timeout),
		HealthyThresholdCount:   orDefault(c.HealthyThresholdCount, healthy),
		UnhealthyThresholdCount: orDefault(c.UnhealthyThresholdCount, unhealthy)}
	if proto != stack.ProtocolTCP {
		if c.HealthCheckPath != nil {
			path = *c.HealthCheckPath
		}
		code := defaultMatcherHTTP
		if c.Matcher != nil && c.Matcher.HTTPCode != nil {
			code = *c.Matcher.HTTPCode
		}
		hc.Path, hc.Matcher = &path, &stack.Matcher{HTTPCode: &code}
	}
	return hc, nil
}

// nlbNetworking lets the load balancer reach a target group's targets: its
// backend security group when it has security groups, else its subnets'
// addresses (or the clients', when their addresses are preserved).
func (b *gwBuilder) nlbNetworking(tg *stack.TargetGroup, targetPort intstr.IntOrString) *stack.TGBNetworking {
	hcPort := *tg.Spec.HealthCheckConfig.Port
	if len(b.lb.Spec.SecurityGroups) > 0 {
		if b.backendSG == nil {
			return nil
		}
		return translate.NLBNetworking(*b.backendSG, tg.Spec.Protocol, targetPort, hcPort, b.opts.DisableRestrictedSGRules)
	}
	v6 := tg.Spec.IPAddressType == stack.TargetGroupIPv6
	src := translate.NLBSources{Internal: b.lb.Spec.Scheme == stack.SchemeInternal, IPv6: v6, PreserveClientIP: preservesClientIP(tg)}
	for _, sn := range b.subnetsUsed {
		c := sn.CIDR
		if v6 {
			c = sn.IPv6CIDR
		}
		if c != "" {
			src.SubnetCIDRs = append(src.SubnetCIDRs, c)
		}
	}
	if r := b.cfg.spec.SourceRanges; r != nil {
		src.ClientRanges = *r
	}
	v4cidrs, v6cidrs := b.cloud.VPCCIDRs()
	src.VPCCIDRs = v4cidrs
	if v6 {
		src.VPCCIDRs = v6cidrs
	}
	return translate.NLBAddressNetworking(src, tg.Spec.Protocol, targetPort, hcPort)
}

// preservesClientIP reports whether a target group's targets see the
// clients' addresses: always for UDP protocols, else the
// preserve_client_ip.enabled attribute, whose default is on for instance
// targets and off for ip targets.
func preservesClientIP(tg *stack.TargetGroup) bool {
	switch tg.Spec.Protocol {
	case stack.ProtocolUDP, stack.ProtocolTCPUDP, stack.ProtocolQUIC, stack.ProtocolTCPQUIC:
		return true
	}
	for _, a := range tg.Spec.TargetGroupAttributes {
		if a.Key == "preserve_client_ip.enabled" {
			return strings.EqualFold(a.Value, "true")
		}
	}
	return tg.Spec.TargetType == stack.TargetTypeInstance
}

// albTargetGroup returns the target group of type alb of a Gateway
// backend: the NLB forwards TCP to the ALB Gateway's listener on the
// backendRef's port; the ALB itself is the target, registered by the
// deployer (the stack's FrontendNLBTargetGroups).
func (b *gwBuilder) albTargetGroup(r *route, be *backend, np *nlbPort) (stack.Token, error) {
	gw := be.gateway
	port := int32(*be.ref.Port)
	resID := b.tgResID(r, gw.Namespace, gw.Name, strconv.Itoa(int(port)), nil)
	if tg, ok := b.stack.TargetGroups[resID]; ok {
		return tg.ARN(), nil
	}
	props, propsSrc := b.propsFor(r, kindGateway, gw.Namespace, gw.Name)
	hc, err := albTargetHealthCheck(props)
	if err != nil {
		return stack.Token{}, fmt.Errorf("backend %s: %w", be, err)
	}
	tags, err := b.tgTags(props)
	if err != nil {
		return stack.Token{}, err
	}
	name, err := b.tgName(props, resID, r, gw.Namespace, gw.Name, strconv.Itoa(int(port)), stack.TargetTypeALB, stack.ProtocolTCP, nil, nil)
	if err != nil {
		return stack.Token{}, err
	}
	tg := &stack.TargetGroup{ResID: resID, Spec: stack.TargetGroupSpec{
		Name: name, TargetType: stack.TargetTypeALB, Port: &port, Protocol: stack.ProtocolTCP, IPAddressType: stack.TargetGroupIPv4,
		HealthCheckConfig: hc, TargetGroupAttributes: tgAttributes(props), Tags: tags,
	}}
	if err := b.stack.Add(tg); err != nil {
		return stack.Token{}, err
	}
	if b.frontendTargets == nil {
		b.frontendTargets = map[string]*stack.FrontendNLBTarget{}
	}
	b.frontendTargets[name] = &stack.FrontendNLBTarget{Name: name, ARN: tg.ARN(), Port: np.port, TargetARN: stack.Literal(be.albARN), TargetPort: port}
	src := "defaults (HTTP health checks: an ALB target answers HTTP)"
	if propsSrc != "" {
		src = propsSrc
	}
	b.decide("target group "+name, fmt.Sprintf("alb target %s/%s:%d", gw.Namespace, gw.Name, port), "%s", src)
	return tg.ARN(), nil
}

// albTargetHealthCheck is the health check of an alb target group: HTTP
// (or HTTPS) on the traffic port, path / and codes 200-399 by default,
// the reference's defaults for intervals and thresholds.
func albTargetHealthCheck(props *v1beta1.TargetGroupProps) (*stack.HealthCheck, error) {
	c := hcConfig(props)
	proto := stack.ProtocolHTTP
	if c.HealthCheckProtocol != nil {
		proto = stack.Protocol(*c.HealthCheckProtocol)
		if proto != stack.ProtocolHTTP && proto != stack.ProtocolHTTPS {
			return nil, fmt.Errorf("healthCheckProtocol %s: an alb target group checks its ALB with HTTP or HTTPS", proto)
		}
	}
	port := intstr.FromString(stack.HealthCheckPortTrafficPort)
	if c.HealthCheckPort != nil && *c.HealthCheckPort != stack.HealthCheckPortTrafficPort {
		p := intstr.Parse(*c.HealthCheckPort)
		if p.Type != intstr.Int {
			return nil, fmt.Errorf("healthCheckPort %q: an alb target group's health check port is a number or traffic-port", *c.HealthCheckPort)
		}
		port = p
	}
	path := defaultHealthCheckPathHTTP
	if c.HealthCheckPath != nil {
		path = *c.HealthCheckPath
	}
	code := defaultMatcherHTTP
	if c.Matcher != nil && c.Matcher.HTTPCode != nil {
		code = *c.Matcher.HTTPCode
	}
	return &stack.HealthCheck{Port: &port, Protocol: proto, Path: &path, Matcher: &stack.Matcher{HTTPCode: &code},
		IntervalSeconds:         orDefault(c.HealthCheckInterval, defaultHealthCheckInterval),
		TimeoutSeconds:          orDefault(c.HealthCheckTimeout, defaultHealthCheckTimeout),
		HealthyThresholdCount:   orDefault(c.HealthyThresholdCount, defaultHealthyThreshold),
		UnhealthyThresholdCount: orDefault(c.UnhealthyThresholdCount, defaultUnhealthyThreshold)}, nil
}
