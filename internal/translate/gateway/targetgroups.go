package gateway

import (
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/api/gateway/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// The reference's Gateway target group defaults.
const (
	defaultHealthCheckPathHTTP = "/"
	defaultHealthCheckPathGRPC = "/AWS.ALB/healthcheck"
	defaultMatcherHTTP         = "200-399"
	defaultMatcherGRPC         = "12"
	defaultHealthCheckInterval = 15
	defaultHealthCheckTimeout  = 5
	defaultHealthyThreshold    = 3
	defaultUnhealthyThreshold  = 3
	appProtocolH2C             = "kubernetes.io/h2c"
)

// defaultTargetGroupConfig resolves and merges the default
// TargetGroupConfigurations the GatewayClass's and the Gateway's
// LoadBalancerConfigurations name (in their own namespaces), by the
// class configuration's mergingMode.
func (b *gwBuilder) defaultTargetGroupConfig() (*v1beta1.TargetGroupProps, error) {
	get := func(lbc *gwaws.LoadBalancerConfiguration, byGateway bool) (*gwaws.TargetGroupConfiguration, error) {
		if lbc == nil || lbc.Spec.DefaultTargetGroupConfiguration == nil {
			return nil, nil
		}
		n := lbc.Spec.DefaultTargetGroupConfiguration.Name
		tgc, ok := b.x.tgcs[key(lbc.Namespace, n)]
		if !ok {
			return nil, fmt.Errorf("%s %s/%s defaultTargetGroupConfiguration: %s %s/%s not found", kindLBC, lbc.Namespace, lbc.Name, kindTGC, lbc.Namespace, n)
		}
		if tgc.Spec.TargetReference != nil {
			return nil, fmt.Errorf("%s %s/%s defaultTargetGroupConfiguration: %s %s/%s has a targetReference, and a default configuration must not", kindLBC, lbc.Namespace, lbc.Name, kindTGC, lbc.Namespace, n)
		}
		b.t.useTGC(tgc, byGateway)
		return tgc, nil
	}
	cls, err := get(b.cfg.class, false)
	if err != nil {
		return nil, err
	}
	gw, err := get(b.cfg.gateway, true)
	if err != nil {
		return nil, err
	}
	switch {
	case cls == nil && gw == nil:
		return nil, nil
	case cls == nil:
		return &gw.Spec.DefaultConfiguration, nil
	case gw == nil:
		return &cls.Spec.DefaultConfiguration, nil
	}
	if b.cfg.mode == v1beta1.MergeModePreferGateway {
		return mergeProps(&gw.Spec.DefaultConfiguration, &cls.Spec.DefaultConfiguration), nil
	}
	return mergeProps(&cls.Spec.DefaultConfiguration, &gw.Spec.DefaultConfiguration), nil
}

// routeProps picks a TargetGroupConfiguration's properties for a route:
// the route configuration naming its kind, namespace and name, else kind
// and namespace, else kind, merged over the default configuration.
func routeProps(tgc *gwaws.TargetGroupConfiguration, r *route) *v1beta1.TargetGroupProps {
	var best *v1beta1.TargetGroupProps
	rank := 0
	for i := range tgc.Spec.RouteConfigurations {
		rc := &tgc.Spec.RouteConfigurations[i]
		id := rc.RouteIdentifier
		if id.RouteKind != r.kind {
			continue
		}
		switch {
		case id.RouteName != "":
			if id.RouteNamespace == r.ref.Namespace && id.RouteName == r.ref.Name && rank < 3 {
				best, rank = &rc.TargetGroupProps, 3
			}
		case id.RouteNamespace != "":
			if id.RouteNamespace == r.ref.Namespace && rank < 2 {
				best, rank = &rc.TargetGroupProps, 2
			}
		default:
			if rank < 1 {
				best, rank = &rc.TargetGroupProps, 1
			}
		}
	}
	return mergeProps(best, &tgc.Spec.DefaultConfiguration)
}

// mergeProps merges target group properties field by field, hi winning;
// tags and attributes merge by key.
func mergeProps(hi, lo *v1beta1.TargetGroupProps) *v1beta1.TargetGroupProps {
	if hi == nil {
		return lo
	}
	if lo == nil {
		return hi
	}
	out := *hi.DeepCopy()
	l := lo.DeepCopy()
	if out.TargetGroupName == nil {
		out.TargetGroupName = l.TargetGroupName
	}
	if out.IPAddressType == nil {
		out.IPAddressType = l.IPAddressType
	}
	if out.HealthCheckConfig == nil {
		out.HealthCheckConfig = l.HealthCheckConfig
	}
	if out.NodeSelector == nil {
		out.NodeSelector = l.NodeSelector
	}
	if out.TargetType == nil {
		out.TargetType = l.TargetType
	}
	if out.Protocol == nil {
		out.Protocol = l.Protocol
	}
	if out.ProtocolVersion == nil {
		out.ProtocolVersion = l.ProtocolVersion
	}
	if out.TargetControlPort == nil {
		out.TargetControlPort = l.TargetControlPort
	}
	if out.EnableMultiCluster == nil {
		out.EnableMultiCluster = l.EnableMultiCluster
	}
	out.Tags = mergeTags(hi.Tags, lo.Tags)
	out.TargetGroupAttributes = mergeAttributes(hi.TargetGroupAttributes, lo.TargetGroupAttributes,
		func(a v1beta1.TargetGroupAttribute) (string, string) { return a.Key, a.Value },
		func(k, v string) v1beta1.TargetGroupAttribute { return v1beta1.TargetGroupAttribute{Key: k, Value: v} })
	return &out
}

// propsFor returns the target group properties of a backend of a route
// (a Service, or a Gateway: kind): the TargetGroupConfiguration whose
// targetReference names it over the Gateway's default one, and where
// they came from.
func (b *gwBuilder) propsFor(r *route, kind, ns, name string) (*v1beta1.TargetGroupProps, string) {
	var own *v1beta1.TargetGroupProps
	src := ""
	if tgc, ok := b.x.tgcByRef[tgcRefKey(kind, ns, name)]; ok {
		own = routeProps(tgc, r)
		b.t.useTGC(tgc, true)
		src = fmt.Sprintf("%s %s/%s", kindTGC, tgc.Namespace, tgc.Name)
	}
	if b.defaultProps != nil {
		if src != "" {
			src += " over "
		}
		src += "the Gateway's default " + kindTGC
	}
	return mergeProps(own, b.defaultProps), src
}

// namedTargetGroup is the ARN of a backend of kind TargetGroupName.
func (b *gwBuilder) namedTargetGroup(r *route, be *backend) (stack.Token, error) {
	arn, err := b.cloud.LookupARN("target group", b.opts.References.TargetGroups, be.tgName, func() string {
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", b.cloud.Region(), b.cloud.Account(), be.tgName, translate.Trunc(translate.Hash(be.tgName), 16))
	}, translate.Source{Object: r.ref, Field: "backendRef " + kindTargetGroupName + " " + be.tgName}, b.trace)
	if err != nil {
		return stack.Token{}, err
	}
	return stack.Literal(arn), nil
}

// tgResID is the resource ID of a route's target group for a backend
// (a Service, or an ALB Gateway) and port, as the reference makes it.
func (b *gwBuilder) tgResID(r *route, ns, name, port string, control *int32) string {
	id := fmt.Sprintf("%s/%s:%s-%s:%s-%s-%s:%s", b.gw.Namespace, b.gw.Name, r.ref.Namespace, r.ref.Name, r.kind, ns, name, port)
	if control != nil {
		id += fmt.Sprintf("-%d", *control)
	}
	return id
}

// tgName is a target group's name: the configuration's, else the
// reference's k8s-<route ns>-<route>-<hash> over the cluster, the
// Gateway, the route, the backend, the port (the node port for instance
// targets, the port as written for others), the target type, the protocol
// [and protocol version] [and control port]. A name may be used by one
// target group of the Gateway only.
func (b *gwBuilder) tgName(props *v1beta1.TargetGroupProps, resID string, r *route, ns, name, port string, tt stack.TargetType, proto stack.Protocol, version *stack.ProtocolVersion, control *int32) (string, error) {
	var n string
	if props != nil && props.TargetGroupName != nil {
		n = *props.TargetGroupName
	} else {
		parts := []string{b.opts.ClusterName, b.gw.Namespace, b.gw.Name, r.ref.Namespace, r.ref.Name, r.kind, ns, name, port, string(tt), string(proto)}
		if version != nil {
			parts = append(parts, string(*version))
		}
		if control != nil {
			parts = append(parts, strconv.Itoa(int(*control)))
		}
		hash := translate.Hash(parts...)
		n = fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(r.ref.Namespace), 8), translate.Trunc(translate.Sanitize(r.ref.Name), 8), hash[:10])
	}
	if other, ok := b.tgNames[n]; ok {
		return "", fmt.Errorf("target group name %s is already the name of target group %s of this Gateway; target group names are unique per region", n, other)
	}
	b.tgNames[n] = resID
	return n, nil
}

// tgAttributes are a configuration's target group attributes, sorted.
func tgAttributes(props *v1beta1.TargetGroupProps) []stack.Attribute {
	var attrs []stack.Attribute
	if props != nil {
		for _, a := range props.TargetGroupAttributes {
			attrs = append(attrs, stack.Attribute{Key: a.Key, Value: a.Value})
		}
		sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	}
	return attrs
}

// tgIPType is a Service backend's target group IP address type: the
// configuration's, else IPv6 for an IPv6 Service; IPv6 needs a dual-stack
// load balancer.
func (b *gwBuilder) tgIPType(be *backend, props *v1beta1.TargetGroupProps) (string, error) {
	// IPv6 targets for a Service with IPv6 addresses, as the reference
	// decides; but a dual-stack Service behind an IPv4 load balancer gets
	// IPv4 targets (its IPv4 endpoints), where the reference refuses it.
	ipType := stack.TargetGroupIPv4
	hasV4 := false
	for _, f := range be.svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv6Protocol:
			ipType = stack.TargetGroupIPv6
		case corev1.IPv4Protocol:
			hasV4 = true
		}
	}
	if ipType == stack.TargetGroupIPv6 && hasV4 && b.lb.Spec.IPAddressType == stack.IPAddressTypeIPv4 {
		ipType = stack.TargetGroupIPv4
	}
	if props != nil && props.IPAddressType != nil {
		ipType = string(*props.IPAddressType)
	}
	if ipType == stack.TargetGroupIPv6 && b.lb.Spec.IPAddressType == stack.IPAddressTypeIPv4 {
		return "", fmt.Errorf("backend %s: IPv6 targets need a dual-stack load balancer (ipAddressType dualstack in a %s)", be, kindLBC)
	}
	return ipType, nil
}

// tgTags are a configuration's target group tags with --default-tags.
func (b *gwBuilder) tgTags(props *v1beta1.TargetGroupProps) (map[string]string, error) {
	var in *map[string]string
	if props != nil {
		in = props.Tags
	}
	return b.tags(in, kindTGC)
}

// targetType is a Service backend's target type: the configuration's,
// else --default-target-type; src says where it came from.
func (b *gwBuilder) targetType(props *v1beta1.TargetGroupProps, propsSrc string) (stack.TargetType, string) {
	if props != nil && props.TargetType != nil {
		return stack.TargetType(*props.TargetType), propsSrc
	}
	return stack.TargetType(b.opts.DefaultTargetType), "default --default-target-type"
}

// targetPort is the port a target group of a Service port registers its
// targets on: the node port for instance targets, the target port for ip
// targets (1 when it is named: the binding registers each pod's port).
func (b *gwBuilder) targetPort(r *route, be *backend, tt stack.TargetType, ttSrc string) (int32, error) {
	svc, sp := be.svc, be.port
	switch tt {
	case stack.TargetTypeInstance:
		port := sp.NodePort
		if port == 0 {
			if !b.opts.AssumeNodePorts || (svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer) {
				return 0, fmt.Errorf("instance targets need a node port: Service %s/%s is %s; make it type NodePort, or use ip targets (targetType: ip in a %s, or --default-target-type=ip)", svc.Namespace, svc.Name, svc.Spec.Type, kindTGC)
			}
			b.trace.Add(translate.Warning, r.ref, "Service %s/%s port %d has no node port yet: the target group port shows as 0 until the API server allocates one", svc.Namespace, svc.Name, sp.Port)
		}
		return port, nil
	case stack.TargetTypeIP:
		if sp.TargetPort.Type == intstr.Int {
			return sp.TargetPort.IntVal, nil
		}
		return 1, nil
	}
	return 0, fmt.Errorf("%s: target type %q: want instance or ip", ttSrc, tt)
}

// decideTargetGroup records where a target group's settings came from.
func (b *gwBuilder) decideTargetGroup(tg *stack.TargetGroup, be *backend, propsSrc, ttSrc string) {
	v := fmt.Sprintf("%s targets, %s", tg.Spec.TargetType, tg.Spec.Protocol)
	if propsSrc != "" {
		b.decide("target group "+tg.Spec.Name, v, "%s", propsSrc)
	} else {
		b.decide("target group "+tg.Spec.Name, v, "defaults (no %s for Service %s/%s): %s", kindTGC, be.svc.Namespace, be.svc.Name, ttSrc)
	}
}

// targetGroup returns the target group of a backend of a route on an ALB
// listener of the given protocol, creating it (with its binding) once.
func (b *gwBuilder) targetGroup(r *route, be *backend, lproto stack.Protocol) (stack.Token, error) {
	if be.tgName != "" {
		return b.namedTargetGroup(r, be)
	}
	svc, sp := be.svc, be.port
	props, propsSrc := b.propsFor(r, kindService, svc.Namespace, svc.Name)
	tt, ttSrc := b.targetType(props, propsSrc)
	proto := stack.ProtocolHTTP
	if props != nil && props.Protocol != nil {
		switch *props.Protocol {
		case v1beta1.ProtocolHTTP, v1beta1.ProtocolHTTPS:
			proto = stack.Protocol(*props.Protocol)
		default:
			return stack.Token{}, fmt.Errorf("%s: target group protocol %s: an ALB target group is HTTP or HTTPS", propsSrc, *props.Protocol)
		}
	}
	version := b.protocolVersion(r, sp, props, lproto)
	var control *int32
	if props != nil && props.TargetControlPort != nil {
		if tt != stack.TargetTypeIP {
			return stack.Token{}, fmt.Errorf("%s: targetControlPort needs ip targets", propsSrc)
		}
		control = props.TargetControlPort
	}
	resID := b.tgResID(r, svc.Namespace, svc.Name, sp.TargetPort.String(), control)
	if tg, ok := b.stack.TargetGroups[resID]; ok {
		return tg.ARN(), nil
	}
	return b.addServiceTargetGroup(r, be, serviceTG{props: props, propsSrc: propsSrc, ttSrc: ttSrc, resID: resID,
		spec:        stack.TargetGroupSpec{TargetType: tt, Protocol: proto, ProtocolVersion: version, TargetControlPort: control},
		healthCheck: func() (*stack.HealthCheck, error) { return healthCheck(props, svc, tt, proto, version) }})
}

// serviceTG is what a flavor decided of a Service backend's target group.
type serviceTG struct {
	props           *v1beta1.TargetGroupProps
	propsSrc, ttSrc string
	resID           string
	// spec holds the target type, protocol, protocol version and control
	// port; the rest is filled in.
	spec        stack.TargetGroupSpec
	healthCheck func() (*stack.HealthCheck, error)
}

// addServiceTargetGroup adds the target group of a Service backend, and
// its binding: the port its targets are registered on, health check, IP
// address type, tags, name and attributes as the configuration says.
func (b *gwBuilder) addServiceTargetGroup(r *route, be *backend, c serviceTG) (stack.Token, error) {
	svc, sp := be.svc, be.port
	tt := c.spec.TargetType
	port, err := b.targetPort(r, be, tt, c.ttSrc)
	if err != nil {
		return stack.Token{}, err
	}
	hc, err := c.healthCheck()
	if err != nil {
		return stack.Token{}, fmt.Errorf("backend %s: %w", be, err)
	}
	ipType, err := b.tgIPType(be, c.props)
	if err != nil {
		return stack.Token{}, err
	}
	tags, err := b.tgTags(c.props)
	if err != nil {
		return stack.Token{}, err
	}
	portIn := strconv.Itoa(int(port))
	if tt != stack.TargetTypeInstance {
		portIn = sp.TargetPort.String()
	}
	name, err := b.tgName(c.props, c.resID, r, svc.Namespace, svc.Name, portIn, tt, c.spec.Protocol, c.spec.ProtocolVersion, c.spec.TargetControlPort)
	if err != nil {
		return stack.Token{}, err
	}
	spec := c.spec
	spec.Name, spec.Port, spec.IPAddressType, spec.HealthCheckConfig, spec.TargetGroupAttributes, spec.Tags = name, &port, ipType, hc, tgAttributes(c.props), tags
	tg := &stack.TargetGroup{ResID: c.resID, Spec: spec}
	if err := b.stack.Add(tg); err != nil {
		return stack.Token{}, err
	}
	b.decideTargetGroup(tg, be, c.propsSrc, c.ttSrc)
	return tg.ARN(), b.binding(tg, svc, sp, c.props)
}

// protocolVersion is a target group's protocol version: HTTP1 behind HTTP
// listeners (ALB speaks HTTP/2 and gRPC to targets only behind HTTPS
// listeners); behind HTTPS ones the configuration's, GRPC for GRPCRoutes,
// HTTP2 for a Service port of appProtocol kubernetes.io/h2c, else HTTP1.
func (b *gwBuilder) protocolVersion(r *route, sp *corev1.ServicePort, props *v1beta1.TargetGroupProps, lproto stack.Protocol) *stack.ProtocolVersion {
	v := stack.ProtocolVersionHTTP1
	switch {
	case lproto != stack.ProtocolHTTPS:
	case props != nil && props.ProtocolVersion != nil:
		v = stack.ProtocolVersion(*props.ProtocolVersion)
	case r.kind == kindGRPCRoute:
		v = stack.ProtocolVersionGRPC
	case sp.AppProtocol != nil && *sp.AppProtocol == appProtocolH2C:
		v = stack.ProtocolVersionHTTP2
	}
	return &v
}

// hcConfig is a configuration's health check settings (empty ones when
// it has none).
func hcConfig(props *v1beta1.TargetGroupProps) *v1beta1.HealthCheckConfiguration {
	if props != nil && props.HealthCheckConfig != nil {
		return props.HealthCheckConfig
	}
	return &v1beta1.HealthCheckConfiguration{}
}

// hcPort is the health check port a configuration asks for (a number,
// traffic-port, or the name of a port of the Service), else def.
func hcPort(c *v1beta1.HealthCheckConfiguration, svc *corev1.Service, tt stack.TargetType, def intstr.IntOrString) (intstr.IntOrString, error) {
	switch {
	case c.HealthCheckPort == nil:
		return def, nil
	case *c.HealthCheckPort == stack.HealthCheckPortTrafficPort:
		return intstr.FromString(stack.HealthCheckPortTrafficPort), nil
	}
	p := intstr.Parse(*c.HealthCheckPort)
	if p.Type == intstr.Int {
		return p, nil
	}
	hp, err := translate.NamedHealthCheckPort(svc, p, tt == stack.TargetTypeInstance)
	if err != nil {
		return intstr.IntOrString{}, fmt.Errorf("healthCheckPort %q: %w", *c.HealthCheckPort, err)
	}
	return hp, nil
}

// orDefault returns a new pointer to *p, or to def when p is nil.
func orDefault(p *int32, def int32) *int32 {
	if p != nil {
		return ptrTo(*p)
	}
	return ptrTo(def)
}

// healthCheck is a target group's health check: the configuration's
// fields over the reference's defaults.
func healthCheck(props *v1beta1.TargetGroupProps, svc *corev1.Service, tt stack.TargetType, proto stack.Protocol, version *stack.ProtocolVersion) (*stack.HealthCheck, error) {
	c := hcConfig(props)
	grpc := version != nil && *version == stack.ProtocolVersionGRPC
	port, err := hcPort(c, svc, tt, intstr.FromString(stack.HealthCheckPortTrafficPort))
	if err != nil {
		return nil, err
	}
	hcProto := proto
	if c.HealthCheckProtocol != nil {
		switch *c.HealthCheckProtocol {
		case v1beta1.TargetGroupHealthCheckProtocolHTTP, v1beta1.TargetGroupHealthCheckProtocolHTTPS:
			hcProto = stack.Protocol(*c.HealthCheckProtocol)
		default:
			return nil, fmt.Errorf("healthCheckProtocol %s: an ALB target group checks with HTTP or HTTPS", *c.HealthCheckProtocol)
		}
	}
	path := defaultHealthCheckPathHTTP
	if grpc {
		path = defaultHealthCheckPathGRPC
	}
	if c.HealthCheckPath != nil {
		path = *c.HealthCheckPath
	}
	var matcher *stack.Matcher
	if grpc {
		code := defaultMatcherGRPC
		if c.Matcher != nil && c.Matcher.GRPCCode != nil {
			code = *c.Matcher.GRPCCode
		}
		matcher = &stack.Matcher{GRPCCode: &code}
	} else {
		code := defaultMatcherHTTP
		if c.Matcher != nil && c.Matcher.HTTPCode != nil {
			code = *c.Matcher.HTTPCode
		}
		matcher = &stack.Matcher{HTTPCode: &code}
	}
	return &stack.HealthCheck{Port: &port, Protocol: hcProto, Path: &path, Matcher: matcher,
		IntervalSeconds:         orDefault(c.HealthCheckInterval, defaultHealthCheckInterval),
		TimeoutSeconds:          orDefault(c.HealthCheckTimeout, defaultHealthCheckTimeout),
		HealthyThresholdCount:   orDefault(c.HealthyThresholdCount, defaultHealthyThreshold),
		UnhealthyThresholdCount: orDefault(c.UnhealthyThresholdCount, defaultUnhealthyThreshold)}, nil
}

// binding adds the TargetGroupBinding that keeps a target group's targets
// registered: in the Service's namespace, named as the target group, with
// the Gateway's infrastructure labels and annotations.
func (b *gwBuilder) binding(tg *stack.TargetGroup, svc *corev1.Service, sp *corev1.ServicePort, props *v1beta1.TargetGroupProps) error {
	tt := elbv2api.TargetType(tg.Spec.TargetType)
	targetPort := sp.TargetPort
	if tt == elbv2api.TargetTypeInstance {
		targetPort = intstr.FromInt32(sp.NodePort)
	}
	var nodeSel *metav1.LabelSelector
	multi := false
	if props != nil {
		if tt == elbv2api.TargetTypeInstance {
			nodeSel = props.NodeSelector
		}
		multi = props.EnableMultiCluster != nil && *props.EnableMultiCluster
	}
	var netw *stack.TGBNetworking
	if b.flavor.nlb() {
		netw = b.nlbNetworking(tg, targetPort)
	} else {
		netw = b.bindingNetworking(targetPort, *tg.Spec.HealthCheckConfig.Port, tg.Spec.TargetControlPort)
	}
	tgb := translate.Binding(tg, svc, intstr.FromInt32(sp.Port), netw, nodeSel, b.cloud.VPCID(), multi)
	if inf := b.gw.Spec.Infrastructure; inf != nil {
		for k, v := range inf.Labels {
			if tgb.Spec.Template.Labels == nil {
				tgb.Spec.Template.Labels = map[string]string{}
			}
			tgb.Spec.Template.Labels[string(k)] = string(v)
		}
		for k, v := range inf.Annotations {
			if tgb.Spec.Template.Annotations == nil {
				tgb.Spec.Template.Annotations = map[string]string{}
			}
			tgb.Spec.Template.Annotations[string(k)] = string(v)
		}
	}
	return b.stack.Add(tgb)
}

// bindingNetworking lets the backend security group reach the targets on
// the target port, and on the health check and control ports when they
// differ.
func (b *gwBuilder) bindingNetworking(targetPort, hcPort intstr.IntOrString, control *int32) *stack.TGBNetworking {
	if b.backendSG == nil {
		return nil
	}
	if b.opts.DisableRestrictedSGRules {
		return translate.BackendNetworking(*b.backendSG, false)
	}
	ports := []intstr.IntOrString{targetPort}
	if hcPort.Type == intstr.Int && hcPort.IntValue() != targetPort.IntValue() {
		ports = append(ports, hcPort)
	}
	if control != nil {
		ports = append(ports, intstr.FromInt32(*control))
	}
	return translate.BackendNetworking(*b.backendSG, false, ports...)
}
