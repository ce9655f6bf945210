package ingress

import (
	"errors"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// targetGroup builds (once) the target group of an Ingress's Service port,
// and its TargetGroupBinding.
func (b *builder) targetGroup(m *member, svc *corev1.Service, port intstr.IntOrString) (*stack.TargetGroup, error) {
	id := fmt.Sprintf("%s/%s-%s:%s", m.ing.Namespace, m.ing.Name, svc.Name, port.String())
	if tg, ok := b.tgs[id]; ok {
		return tg, nil
	}
	sp, err := translate.LookupServicePort(svc, port)
	if err != nil {
		return nil, err
	}
	// Service annotations win over the Ingress's.
	ann := annotations.Merge(annotations.Set(svc.Annotations), m.ann)
	svcRef := translate.ServiceRef(svc)
	src := func(key string) string {
		if _, ok := svc.Annotations[key]; ok {
			return "annotation " + key + " on " + svcRef.String()
		}
		return "annotation " + key + " on " + m.ref.String()
	}

	targetType := stack.TargetType(b.opts.DefaultTargetType)
	ttSource := "default --default-target-type"
	if v, ok := ann.String(annotations.IngressTargetType); ok {
		targetType, ttSource = stack.TargetType(v), src(annotations.IngressTargetType)
	}
	if m.params != nil && m.params.Spec.TargetType != "" {
		targetType, ttSource = stack.TargetType(m.params.Spec.TargetType), "IngressClassParams "+m.params.Name+" spec.targetType"
	}
	switch targetType {
	case stack.TargetTypeInstance:
	case stack.TargetTypeIP:
		if !b.opts.FeatureGates.Enabled(translate.GateEnableIPTargetType) {
			return nil, fmt.Errorf("target type ip needs the feature gate EnableIPTargetType")
		}
	default:
		return nil, &annotations.Error{Key: annotations.IngressTargetType, Value: string(targetType), Want: "instance or ip"}
	}
	proto := stack.ProtocolHTTP
	if v, ok := ann.String(annotations.IngressBackendProtocol); ok {
		if v != "HTTP" && v != "HTTPS" {
			return nil, &annotations.Error{Key: annotations.IngressBackendProtocol, Value: v, Want: "HTTP or HTTPS"}
		}
		proto = stack.Protocol(v)
	}
	version := stack.ProtocolVersionHTTP1
	if v, ok := ann.String(annotations.IngressBackendProtocolVersion); ok {
		switch stack.ProtocolVersion(v) {
		case stack.ProtocolVersionHTTP1, stack.ProtocolVersionHTTP2, stack.ProtocolVersionGRPC:
			version = stack.ProtocolVersion(v)
		default:
			return nil, &annotations.Error{Key: annotations.IngressBackendProtocolVersion, Value: v, Want: "HTTP1, HTTP2 or GRPC"}
		}
	}
	hc, hcSource, err := b.healthCheck(svc, ann, targetType, proto, version, src)
	if err != nil {
		return nil, err
	}
	attrs, _, err := ann.StringMap(annotations.IngressTargetGroupAttributes)
	if err != nil {
		return nil, err
	}
	tags, err := b.backendTags(m, svc)
	if err != nil {
		return nil, err
	}
	ipType := stack.TargetGroupIPv4
	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			if b.lb.Spec.IPAddressType != stack.IPAddressTypeDualStack && b.lb.Spec.IPAddressType != stack.IPAddressTypeDualStackWithoutPublicIPv4 {
				return nil, fmt.Errorf("backend Service %s is IPv6 but the load balancer is not dual-stack (set %s)", svcRef.Key(), annotations.IngressIPAddressType)
			}
			ipType = stack.TargetGroupIPv6
		}
	}
	var tgPort int32
	switch {
	case targetType == stack.TargetTypeInstance:
		tgPort = sp.NodePort
	case sp.TargetPort.Type == intstr.Int:
		tgPort = sp.TargetPort.IntVal
		if tgPort == 0 {
			tgPort = sp.Port
		}
	default:
		tgPort = 1
	}
	var controlPort *int32
	ctlKey := annotations.IngressTargetControlPort(svc.Name, port.String())
	if v, ok, err := ann.Int32(ctlKey); err != nil {
		return nil, err
	} else if ok {
		controlPort = &v
	}
	if targetType == stack.TargetTypeInstance && controlPort != nil {
		return nil, fmt.Errorf("%s: target control port is not supported for instance targets", ctlKey)
	}
	if tgPort == 0 {
		if err := b.unallocatedNodePort(m, svc, sp); err != nil {
			return nil, err
		}
	}
	hashParts := []string{b.opts.ClusterName, b.id.String(), m.ing.Namespace, m.ing.Name, string(svc.UID), port.String(), strconv.Itoa(int(tgPort)), string(targetType), string(proto), string(version)}
	if controlPort != nil {
		hashParts = append(hashParts, strconv.Itoa(int(*controlPort)))
	}
	hash := translate.Hash(hashParts...)
	name := fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(svc.Namespace), 8), translate.Trunc(translate.Sanitize(svc.Name), 8), hash[:10])
	tg := &stack.TargetGroup{ResID: id, Spec: stack.TargetGroupSpec{
		Name: name, TargetType: targetType, Port: &tgPort, Protocol: proto, ProtocolVersion: &version,
		IPAddressType: ipType, HealthCheckConfig: hc, TargetGroupAttributes: sortedAttrs(attrs), Tags: tags, TargetControlPort: controlPort,
	}}
	b.tgs[id] = tg
	if err := b.stack.Add(tg); err != nil {
		return nil, err
	}
	b.decide("target type of "+id, string(targetType), "%s", ttSource)
	b.decide("health check of "+id, describeHealthCheck(hc), "%s", hcSource)
	if svc.UID == "" {
		b.decide("name of "+id, name, "generated from the Service's UID, which the API server assigns on create (shown with an empty UID here: the real name differs)")
	}
	translate.ServicePitfalls(svc, string(targetType), b.x.in.Workloads, b.trace)
	return tg, b.binding(m, tg, svc, port, sp, ann)
}

// unallocatedNodePort explains a target group port of 0.
func (b *builder) unallocatedNodePort(m *member, svc *corev1.Service, sp corev1.ServicePort) error {
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		if b.opts.AssumeNodePorts {
			b.trace.Add(translate.Note, translate.ServiceRef(svc), "port %d has no nodePort yet: the API server allocates one on create (shown as 0)", sp.Port)
			return nil
		}
		return fmt.Errorf("backend Service %s/%s port %d has no nodePort allocated", svc.Namespace, svc.Name, sp.Port)
	}
	return fmt.Errorf("instance targets need a NodePort: Service %s/%s is %s, so it has no node port; make it type NodePort, or use %s: ip (pods are reached directly)",
		svc.Namespace, svc.Name, svc.Spec.Type, annotations.IngressTargetType)
}

// healthCheckPortError is the error of a health-check-port annotation
// naming a Service port that cannot be used.
func healthCheckPortError(key, raw string, err error) error {
	e := &annotations.Error{Key: key, Value: raw, Err: err}
	if !errors.Is(err, translate.ErrNamedTargetPort) {
		e.Want = "a port number, traffic-port, or a port name of the Service"
	}
	return e
}

func describeHealthCheck(hc *stack.HealthCheck) string {
	s := fmt.Sprintf("%s %s port %s", hc.Protocol, deref(hc.Path), hc.Port.String())
	if hc.Matcher != nil {
		if hc.Matcher.HTTPCode != nil {
			s += " codes " + *hc.Matcher.HTTPCode
		}
		if hc.Matcher.GRPCCode != nil {
			s += " grpc codes " + *hc.Matcher.GRPCCode
		}
	}
	return s + fmt.Sprintf(", every %ds, timeout %ds, healthy %d, unhealthy %d", *hc.IntervalSeconds, *hc.TimeoutSeconds, *hc.HealthyThresholdCount, *hc.UnhealthyThresholdCount)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (b *builder) healthCheck(svc *corev1.Service, ann annotations.Set, targetType stack.TargetType, proto stack.Protocol, version stack.ProtocolVersion, src func(string) string) (*stack.HealthCheck, string, error) {
	var set []string
	note := func(key string) {
		if ann.Has(key) {
			set = append(set, src(key))
		}
	}
	port := intstr.FromString(stack.HealthCheckPortTrafficPort)
	if raw, ok := ann.String(annotations.IngressHealthCheckPort); ok && raw != stack.HealthCheckPortTrafficPort {
		p := intstr.Parse(raw)
		if p.Type == intstr.Int {
			port = p
		} else {
			hp, err := translate.NamedHealthCheckPort(svc, p, targetType == stack.TargetTypeInstance)
			if err != nil {
				return nil, "", healthCheckPortError(annotations.IngressHealthCheckPort, raw, err)
			}
			port = hp
		}
	}
	note(annotations.IngressHealthCheckPort)
	hcProto := proto
	if v, ok := ann.String(annotations.IngressHealthCheckProtocol); ok {
		if v != "HTTP" && v != "HTTPS" {
			return nil, "", &annotations.Error{Key: annotations.IngressHealthCheckProtocol, Value: v, Want: "HTTP or HTTPS"}
		}
		hcProto = stack.Protocol(v)
	}
	note(annotations.IngressHealthCheckProtocol)
	path := defaultHealthCheckPathHTTP
	if version == stack.ProtocolVersionGRPC {
		path = defaultHealthCheckPathGRPC
	}
	if v, ok := ann.String(annotations.IngressHealthCheckPath); ok {
		path = v
	}
	note(annotations.IngressHealthCheckPath)
	code := defaultMatcherHTTP
	if version == stack.ProtocolVersionGRPC {
		code = defaultMatcherGRPC
	}
	if v, ok := ann.String(annotations.IngressSuccessCodes); ok {
		code = v
	}
	note(annotations.IngressSuccessCodes)
	matcher := &stack.Matcher{HTTPCode: &code}
	if version == stack.ProtocolVersionGRPC {
		matcher = &stack.Matcher{GRPCCode: &code}
	}
	num := func(key string, def int32) (int32, error) {
		v, ok, err := ann.Int32(key)
		if err != nil {
			return 0, err
		}
		note(key)
		if !ok {
			return def, nil
		}
		return v, nil
	}
	interval, err := num(annotations.IngressHealthCheckIntervalSeconds, defaultHealthCheckInterval)
	if err != nil {
		return nil, "", err
	}
	timeout, err := num(annotations.IngressHealthCheckTimeoutSeconds, defaultHealthCheckTimeout)
	if err != nil {
		return nil, "", err
	}
	healthy, err := num(annotations.IngressHealthyThresholdCount, defaultHealthyThreshold)
	if err != nil {
		return nil, "", err
	}
	unhealthy, err := num(annotations.IngressUnhealthyThresholdCount, defaultUnhealthyThreshold)
	if err != nil {
		return nil, "", err
	}
	source := "ALB defaults (HTTP \"/\" on traffic-port, 15s, timeout 5s, 2/2, code 200; GRPC \"/AWS.ALB/healthcheck\", code 12)"
	if len(set) > 0 {
		source = "defaults overridden by " + joinSources(set)
	}
	return &stack.HealthCheck{Port: &port, Protocol: hcProto, Path: &path, Matcher: matcher,
		IntervalSeconds: &interval, TimeoutSeconds: &timeout, HealthyThresholdCount: &healthy, UnhealthyThresholdCount: &unhealthy}, source, nil
}

func joinSources(s []string) string { return translate.JoinKeys(s) }

// backendTags are a target group's tags: the Service's tags annotation
// over the Ingress's, under the IngressClassParams tags, with --default-tags.
func (b *builder) backendTags(m *member, svc *corev1.Service) (map[string]string, error) {
	svcTags, _, err := annotations.Set(svc.Annotations).StringMap(annotations.IngressTags)
	if err != nil {
		return nil, fmt.Errorf("backend Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	ingTags, _, err := m.ann.StringMap(annotations.IngressTags)
	if err != nil {
		return nil, err
	}
	merged := translate.MergeTags(svcTags, ingTags)
	for k := range merged {
		if b.opts.ExternalManaged(k) {
			return nil, fmt.Errorf("tag key %s is external-managed and cannot be set (Ingress %s, Service %s/%s)", k, m.ref.Key(), svc.Namespace, svc.Name)
		}
	}
	cls, err := b.classTags(m)
	if err != nil {
		return nil, err
	}
	return b.opts.WithDefaultTags(translate.MergeTags(cls, merged)), nil
}

func (b *builder) binding(m *member, tg *stack.TargetGroup, svc *corev1.Service, port intstr.IntOrString, sp corev1.ServicePort, ann annotations.Set) error {
	tt := elbv2api.TargetType(tg.Spec.TargetType)
	targetPort := sp.TargetPort
	if tt == elbv2api.TargetTypeInstance {
		targetPort = intstr.FromInt32(sp.NodePort)
	}
	var nodeSel *metav1.LabelSelector
	if tt == elbv2api.TargetTypeInstance {
		labels, _, err := ann.StringMap(annotations.IngressTargetNodeLabels)
		if err != nil {
			return err
		}
		if len(labels) > 0 {
			nodeSel = &metav1.LabelSelector{MatchLabels: labels}
		}
	}
	multi, _, err := m.ann.Bool(annotations.IngressMultiClusterTargetGroup)
	if err != nil {
		return err
	}
	if !multi {
		if multi, _, err = annotations.Set(svc.Annotations).Bool(annotations.IngressMultiClusterTargetGroup); err != nil {
			return fmt.Errorf("backend Service %s/%s: %w", svc.Namespace, svc.Name, err)
		}
	}
	return b.stack.Add(translate.Binding(tg, svc, port,
		b.bindingNetworking(targetPort, *tg.Spec.HealthCheckConfig.Port, tg.Spec.TargetControlPort),
		nodeSel, b.cloud.VPCID(), multi))
}

func (b *builder) bindingNetworking(targetPort, hcPort intstr.IntOrString, controlPort *int32) *stack.TGBNetworking {
	if b.backendSG == nil {
		return nil
	}
	if b.opts.DisableRestrictedSGRules {
		return translate.BackendNetworking(*b.backendSG, true)
	}
	ports := []intstr.IntOrString{targetPort}
	if hcPort.String() != stack.HealthCheckPortTrafficPort {
		ports = append(ports, hcPort)
	}
	if controlPort != nil {
		ports = append(ports, intstr.FromInt32(*controlPort))
	}
	return translate.BackendNetworking(*b.backendSG, true, ports...)
}
