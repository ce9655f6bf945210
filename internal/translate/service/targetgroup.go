package service

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// targetGroup builds (once) the target group of a Service port. The base
// Service's annotations apply; base is set for the other Services of a
// weighted forward (their names then hash the base Service's UID too).
func (b *builder) targetGroup(base, svc *corev1.Service, p corev1.ServicePort, proto stack.Protocol, scheme stack.Scheme) (*stack.TargetGroup, error) {
	id := fmt.Sprintf("%s/%s:%d", svc.Namespace, svc.Name, p.Port)
	if tg, ok := b.tgs[id]; ok {
		return tg, nil
	}
	targetType, ttSource, err := b.targetType(svc, p)
	if err != nil {
		return nil, err
	}
	hc, hcSource, err := b.healthCheck(svc, targetType)
	if err != nil {
		return nil, err
	}
	attrs, err := b.targetGroupAttributes(p)
	if err != nil {
		return nil, err
	}
	b.preserveClientIP = targetType == stack.TargetTypeInstance
	for _, a := range attrs {
		if a.Key == "preserve_client_ip.enabled" {
			v, err := strconv.ParseBool(a.Value)
			if err != nil {
				return nil, &annotations.Error{Key: annotations.ServiceTargetGroupAttributes, Value: b.ann[annotations.ServiceTargetGroupAttributes], Err: fmt.Errorf("preserve_client_ip.enabled=%s is not true or false", a.Value)}
			}
			b.preserveClientIP = v
		}
	}
	tags, err := b.tags()
	if err != nil {
		return nil, err
	}
	var port int32
	switch {
	case targetType == stack.TargetTypeInstance:
		port = p.NodePort
	case p.TargetPort.Type == intstr.Int:
		port = p.TargetPort.IntVal
		if port == 0 {
			port = p.Port
		}
	default:
		port = 1
	}
	ipType := stack.TargetGroupIPv4
	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			if b.lb.Spec.IPAddressType != stack.IPAddressTypeDualStack {
				return nil, fmt.Errorf("the Service %s/%s is IPv6 but the load balancer is not dualstack (set %s: dualstack)", svc.Namespace, svc.Name, annotations.ServiceIPAddressType)
			}
			ipType = stack.TargetGroupIPv6
		}
	}
	if port == 0 {
		if b.opts.AssumeNodePorts && (svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort) {
			b.trace.Add(translate.Note, translate.ServiceRef(svc), "port %d has no nodePort yet: the API server allocates one on create (shown as 0)", p.Port)
		} else {
			return nil, fmt.Errorf("port %d: the target group port is empty: instance targets need the Service's nodePort", p.Port)
		}
	}
	hcProto, hcInterval := string(hc.Protocol), strconv.Itoa(int(*hc.IntervalSeconds))
	parts := []string{b.opts.ClusterName}
	if base != nil {
		parts = append(parts, string(base.UID))
	}
	parts = append(parts, string(svc.UID), strconv.Itoa(int(port)), strconv.Itoa(int(p.Port)), string(targetType), string(proto), hcProto, hcInterval)
	hash := translate.Hash(parts...)
	name := fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(svc.Namespace), 8), translate.Trunc(translate.Sanitize(svc.Name), 8), hash[:10])
	tg := &stack.TargetGroup{ResID: id, Spec: stack.TargetGroupSpec{
		Name: name, TargetType: targetType, Port: &port, Protocol: proto, IPAddressType: ipType,
		HealthCheckConfig: hc, TargetGroupAttributes: attrs, Tags: tags,
	}}
	if err := b.stack.Add(tg); err != nil {
		return nil, err
	}
	b.tgs[id] = tg
	b.decide("target type of "+id, string(targetType), "%s", ttSource)
	b.decide("health check of "+id, describe(hc), "%s", hcSource)
	translate.ServicePitfalls(svc, string(targetType), b.workloads, b.trace)
	if (proto == stack.ProtocolUDP || proto == stack.ProtocolQUIC) && hc.Protocol == stack.ProtocolTCP && hc.Port.String() == stack.HealthCheckPortTrafficPort {
		b.trace.Add(translate.Warning, b.ref, "UDP port %d is health-checked over TCP on the same port (NLBs cannot health-check UDP): the targets must also accept TCP there, or set %s to a TCP port", p.Port, annotations.ServiceHealthCheckPort)
	}
	return tg, b.binding(svc, tg, p, hc, scheme)
}

func describe(hc *stack.HealthCheck) string {
	s := fmt.Sprintf("%s port %s", hc.Protocol, hc.Port.String())
	if hc.Path != nil {
		s += " path " + *hc.Path
	}
	if hc.Matcher != nil && hc.Matcher.HTTPCode != nil {
		s += " codes " + *hc.Matcher.HTTPCode
	}
	return s + fmt.Sprintf(", every %ds, timeout %ds, healthy %d, unhealthy %d", *hc.IntervalSeconds, *hc.TimeoutSeconds, *hc.HealthyThresholdCount, *hc.UnhealthyThresholdCount)
}

func (b *builder) targetType(svc *corev1.Service, p corev1.ServicePort) (stack.TargetType, string, error) {
	lbType, _ := b.ann.String(annotations.ServiceType)
	tt := b.opts.DefaultTargetType
	src := "default --default-target-type"
	if v, ok := b.ann.String(annotations.ServiceNLBTargetType); ok {
		tt, src = v, b.src(annotations.ServiceNLBTargetType)
	}
	if tt == "ip" && !b.opts.FeatureGates.Enabled(translate.GateEnableIPTargetType) {
		return "", "", fmt.Errorf("target type ip needs the feature gate EnableIPTargetType")
	}
	if lbType == "nlb-ip" {
		return stack.TargetTypeIP, b.src(annotations.ServiceType) + ": nlb-ip (deprecated)", nil
	}
	if tt == "ip" {
		return stack.TargetTypeIP, src, nil
	}
	if tt != "instance" {
		return "", "", &annotations.Error{Key: annotations.ServiceNLBTargetType, Value: tt, Want: "instance or ip"}
	}
	if svc.Spec.Type == corev1.ServiceTypeClusterIP {
		return "", "", fmt.Errorf("instance targets need a NodePort but Service %s/%s is ClusterIP: make it type LoadBalancer or NodePort, or set %s: ip (pods are reached directly)", svc.Namespace, svc.Name, annotations.ServiceNLBTargetType)
	}
	if p.NodePort == 0 && svc.Spec.AllocateLoadBalancerNodePorts != nil && !*svc.Spec.AllocateLoadBalancerNodePorts {
		return "", "", fmt.Errorf("instance targets need a NodePort but allocateLoadBalancerNodePorts is false and port %d has none", p.Port)
	}
	return stack.TargetTypeInstance, src, nil
}

func (b *builder) healthCheck(svc *corev1.Service, tt stack.TargetType) (*stack.HealthCheck, string, error) {
	local := tt == stack.TargetTypeInstance && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	defProto, defPort, defPath := stack.ProtocolTCP, stack.HealthCheckPortTrafficPort, defaultHealthCheckPath
	defInterval, defTimeout, defHealthy, defUnhealthy := int32(defaultHealthCheckInterval), int32(defaultHealthCheckTimeout), int32(defaultHealthyThreshold), int32(defaultUnhealthyThreshold)
	source := "NLB defaults (TCP on traffic-port, 10s, timeout 10s, 3/3)"
	if local {
		defProto, defPort, defPath = stack.ProtocolHTTP, strconv.Itoa(int(svc.Spec.HealthCheckNodePort)), translate.LocalHealthCheckPath
		defInterval, defTimeout, defHealthy, defUnhealthy = translate.LocalHealthCheckInterval, translate.LocalHealthCheckTimeout, translate.LocalHealthyThreshold, translate.LocalUnhealthyThreshold
		source = fmt.Sprintf("instance targets with externalTrafficPolicy: Local: kube-proxy's HTTP /healthz on healthCheckNodePort %d, 10s, timeout 6s, 2/2", svc.Spec.HealthCheckNodePort)
		if svc.Spec.HealthCheckNodePort == 0 {
			if !b.opts.AssumeNodePorts {
				return nil, "", fmt.Errorf("externalTrafficPolicy is Local but spec.healthCheckNodePort is not allocated")
			}
			b.trace.Add(translate.Note, b.ref, "spec.healthCheckNodePort is not allocated yet: the API server allocates it on create (the health check port shows as 0)")
		}
	}
	var set []string
	note := func(key string) {
		if b.ann.Has(key) {
			set = append(set, b.src(key))
		}
	}
	proto := string(defProto)
	if v, ok := b.ann.String(annotations.ServiceHealthCheckProtocol); ok {
		proto = v
	}
	note(annotations.ServiceHealthCheckProtocol)
	var hcProto stack.Protocol
	switch strings.ToUpper(proto) {
	case "TCP", "HTTP", "HTTPS":
		hcProto = stack.Protocol(strings.ToUpper(proto))
	default:
		return nil, "", &annotations.Error{Key: annotations.ServiceHealthCheckProtocol, Value: proto, Want: "tcp, http or https"}
	}
	hc := &stack.HealthCheck{Protocol: hcProto}
	if hcProto != stack.ProtocolTCP {
		path := defPath
		if v, ok := b.ann.String(annotations.ServiceHealthCheckPath); ok {
			path = v
		}
		note(annotations.ServiceHealthCheckPath)
		hc.Path = &path
		if b.opts.FeatureGates.Enabled(translate.GateNLBHealthCheckAdvancedConfig) {
			code := defaultMatcher
			if v, ok := b.ann.String(annotations.ServiceHealthCheckSuccessCodes); ok {
				code = v
			}
			note(annotations.ServiceHealthCheckSuccessCodes)
			hc.Matcher = &stack.Matcher{HTTPCode: &code}
		}
	}
	rawPort := defPort
	if v, ok := b.ann.String(annotations.ServiceHealthCheckPort); ok {
		rawPort = v
	}
	note(annotations.ServiceHealthCheckPort)
	port := intstr.FromString(stack.HealthCheckPortTrafficPort)
	if rawPort != stack.HealthCheckPortTrafficPort {
		pp := intstr.Parse(rawPort)
		if pp.Type == intstr.Int {
			port = pp
		} else {
			hp, err := translate.NamedHealthCheckPort(svc, pp, tt == stack.TargetTypeInstance)
			if err != nil {
				e := &annotations.Error{Key: annotations.ServiceHealthCheckPort, Value: rawPort, Err: err}
				if !errors.Is(err, translate.ErrNamedTargetPort) {
					e.Want = "a port number, traffic-port, or a port name of the Service"
				}
				return nil, "", e
			}
			port = hp
		}
	}
	hc.Port = &port
	num := func(key string, def int32, allowed bool) (*int32, error) {
		v := def
		if allowed {
			got, ok, err := b.ann.Int32(key)
			if err != nil {
				return nil, err
			}
			if ok {
				v = got
			}
			note(key)
		}
		return &v, nil
	}
	var err error
	if hc.IntervalSeconds, err = num(annotations.ServiceHealthCheckInterval, defInterval, true); err != nil {
		return nil, "", err
	}
	if hc.TimeoutSeconds, err = num(annotations.ServiceHealthCheckTimeout, defTimeout, b.opts.FeatureGates.Enabled(translate.GateNLBHealthCheckAdvancedConfig)); err != nil {
		return nil, "", err
	}
	if hc.HealthyThresholdCount, err = num(annotations.ServiceHealthyThreshold, defHealthy, true); err != nil {
		return nil, "", err
	}
	if hc.UnhealthyThresholdCount, err = num(annotations.ServiceUnhealthyThreshold, defUnhealthy, true); err != nil {
		return nil, "", err
	}
	if len(set) > 0 {
		source += "; overridden by " + translate.JoinKeys(set)
	}
	return hc, source, nil
}

func (b *builder) targetGroupAttributes(p corev1.ServicePort) ([]stack.Attribute, error) {
	raw := map[string]string{"proxy_protocol_v2.enabled": "false"}
	parse := func(key string) (map[string]string, error) {
		m, _, err := b.ann.StringMap(key)
		if err != nil {
			return nil, err
		}
		if v, ok := m["preserve_client_ip.enabled"]; ok {
			if _, err := strconv.ParseBool(v); err != nil {
				return nil, &annotations.Error{Key: key, Value: b.ann[key], Err: fmt.Errorf("preserve_client_ip.enabled=%s is not true or false", v)}
			}
		}
		return m, nil
	}
	base, err := parse(annotations.ServiceTargetGroupAttributes)
	if err != nil {
		return nil, err
	}
	for k, v := range base {
		raw[k] = v
	}
	perPort, err := parse(annotations.ServiceTargetGroupAttributesForPort(p.Port))
	if err != nil {
		return nil, err
	}
	for k, v := range perPort {
		if v != "" {
			raw[k] = v
		}
	}
	if v, ok := b.ann.String(annotations.ServiceProxyProtocolPerTargetGroup); ok {
		on := false
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if _, err := strconv.Atoi(s); err != nil {
				return nil, &annotations.Error{Key: annotations.ServiceProxyProtocolPerTargetGroup, Value: v, Want: "comma-separated port numbers", Err: fmt.Errorf("%q is not a port number", s)}
			}
			if s == strconv.Itoa(int(p.Port)) {
				on = true
			}
		}
		raw["proxy_protocol_v2.enabled"] = strconv.FormatBool(on)
	}
	if v, ok := b.ann.String(annotations.ServiceProxyProtocol); ok {
		if v != "*" {
			return nil, &annotations.Error{Key: annotations.ServiceProxyProtocol, Value: v, Want: `"*" (the only value supported)`}
		}
		raw["proxy_protocol_v2.enabled"] = "true"
	}
	var out []stack.Attribute
	for _, k := range translate.SortedKeys(raw) {
		if k == "proxy_protocol_v2.enabled" && raw[k] == "" {
			continue
		}
		out = append(out, stack.Attribute{Key: k, Value: raw[k]})
	}
	return out, nil
}

func (b *builder) binding(svc *corev1.Service, tg *stack.TargetGroup, p corev1.ServicePort, hc *stack.HealthCheck, scheme stack.Scheme) error {
	tt := elbv2api.TargetType(tg.Spec.TargetType)
	var nodeSel *metav1.LabelSelector
	if tt == elbv2api.TargetTypeInstance {
		labels, _, err := b.ann.StringMap(annotations.ServiceTargetNodeLabels)
		if err != nil {
			return err
		}
		if len(labels) > 0 {
			nodeSel = &metav1.LabelSelector{MatchLabels: labels}
		}
	}
	targetPort := p.TargetPort
	if tt == elbv2api.TargetTypeInstance {
		targetPort = intstr.FromInt32(p.NodePort)
	}
	var netw *stack.TGBNetworking
	var err error
	if len(b.lb.Spec.SecurityGroups) == 0 {
		netw, err = b.legacyNetworking(targetPort, tg.Spec.Protocol, *hc.Port, scheme, tg.Spec.IPAddressType)
	} else {
		netw = b.networking(targetPort, *hc.Port, tg.Spec.Protocol)
	}
	if err != nil {
		return err
	}
	multi, _, err := b.ann.Bool(annotations.ServiceMultiClusterTargetGroup)
	if err != nil {
		return err
	}
	return b.stack.Add(translate.Binding(tg, svc, intstr.FromInt32(p.Port), netw, nodeSel, b.cloud.VPCID(), multi))
}

// networking admits the backend security group to the targets' ports.
func (b *builder) networking(tgPort, hcPort intstr.IntOrString, proto stack.Protocol) *stack.TGBNetworking {
	if b.backendSG == nil {
		return nil
	}
	return translate.NLBNetworking(*b.backendSG, proto, tgPort, hcPort, b.opts.DisableRestrictedSGRules)
}

// legacyNetworking admits the load balancer by address when it has no
// security groups: its subnets' CIDRs, or the client ranges when client
// IPs are preserved.
func (b *builder) legacyNetworking(tgPort intstr.IntOrString, proto stack.Protocol, hcPort intstr.IntOrString, scheme stack.Scheme, ipType string) (*stack.TGBNetworking, error) {
	manage := true
	if v, ok, err := b.ann.Bool(annotations.ServiceManageBackendSGRules); err != nil {
		return nil, err
	} else if ok {
		manage = v
	}
	if !manage {
		return nil, nil
	}
	src := translate.NLBSources{PreserveClientIP: b.preserveClientIP, Internal: scheme == stack.SchemeInternal, IPv6: ipType == stack.TargetGroupIPv6}
	for _, s := range b.subnets {
		c := s.CIDR
		if src.IPv6 {
			c = s.IPv6CIDR
		}
		if c != "" {
			src.SubnetCIDRs = append(src.SubnetCIDRs, c)
		}
	}
	src.ClientRanges, _ = b.sourceRanges()
	v4, v6 := b.cloud.VPCCIDRs()
	src.VPCCIDRs = v4
	if src.IPv6 {
		src.VPCCIDRs = v6
	}
	return translate.NLBAddressNetworking(src, proto, tgPort, hcPort), nil
}
