package ingress

import (
	"fmt"
	"reflect"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// frontendListener is one frontend NLB listener a member asks for.
type frontendListener struct {
	port, targetPort int32
	hc               stack.HealthCheck
	explicit         map[string]bool
}

// buildFrontendNLB adds the NLB in front of the ALB (enable-frontend-nlb).
func (b *builder) buildFrontendNLB() error {
	enabled, err := b.exclusive("enable-frontend-nlb", func(m *member) (string, string, bool, error) {
		v, ok, err := m.ann.Bool(annotations.IngressEnableFrontendNLB)
		return strconv.FormatBool(v), "", ok, err
	})
	if err != nil || enabled == nil || enabled.value != "true" {
		return err
	}
	scheme := stack.Scheme(b.opts.DefaultScheme)
	s, err := b.exclusive("frontend-nlb-scheme", func(m *member) (string, string, bool, error) {
		v, ok := m.ann.String(annotations.IngressFrontendNLBScheme)
		if ok && v != "internal" && v != "internet-facing" {
			return "", "", false, &annotations.Error{Key: annotations.IngressFrontendNLBScheme, Value: v, Want: "internal or internet-facing"}
		}
		return v, "", ok, nil
	})
	if err != nil {
		return err
	}
	if s != nil {
		scheme = stack.Scheme(s.value)
	}
	spec := stack.LoadBalancerSpec{Type: stack.LoadBalancerTypeNetwork, Scheme: scheme, IPAddressType: b.lb.Spec.IPAddressType}
	// Security groups: explicit, else the ALB's.
	var sgBy *member
	var sgList []string
	for _, m := range b.members {
		l, ok := m.ann.StringList(annotations.IngressFrontendNLBSecurityGroups)
		if !ok {
			continue
		}
		if sgBy == nil {
			sgBy, sgList = m, l
		} else if !reflect.DeepEqual(sgList, l) {
			return blame(m, fmt.Errorf("conflicting frontend-nlb-security-groups: %s wants %v, %s wants %v", sgBy.ref.Key(), sgList, m.ref.Key(), l))
		}
	}
	if sgBy != nil {
		ids, err := b.cloud.SecurityGroupsByNameOrID(sgList, translate.Source{Object: sgBy.ref, Field: "annotation " + annotations.IngressFrontendNLBSecurityGroups}, b.trace)
		if err != nil {
			return blame(sgBy, err)
		}
		for _, id := range ids {
			spec.SecurityGroups = append(spec.SecurityGroups, stack.Literal(id))
		}
	} else {
		spec.SecurityGroups = b.lb.Spec.SecurityGroups
	}
	if spec.SubnetMappings, err = b.frontendSubnets(scheme); err != nil {
		return err
	}
	spec.Name = translate.Trunc(b.lb.Spec.Name, 28) + "-nlb"
	tags, err := b.frontendTags()
	if err != nil {
		return err
	}
	spec.Tags = tags
	attrs, err := b.exclusiveMap(annotations.IngressFrontendNLBAttributes)
	if err != nil {
		return err
	}
	if p, ok := attrs["dns_record.client_routing_policy"]; ok {
		switch p {
		case "availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone":
		default:
			return fmt.Errorf("%s: dns_record.client_routing_policy %q: want any_availability_zone, partial_availability_zone_affinity or availability_zone_affinity", annotations.IngressFrontendNLBAttributes, p)
		}
	}
	spec.LoadBalancerAttributes = sortedAttrs(attrs)
	nlb := &stack.LoadBalancer{ResID: stack.IDFrontendNLB, Spec: spec}
	if err := b.stack.Add(nlb); err != nil {
		return err
	}
	b.decide("frontend NLB", spec.Name, "annotation %s on %s: an NLB (%s) forwarding TCP to the ALB", annotations.IngressEnableFrontendNLB, enabled.m.ref, scheme)
	// Listeners, merged per NLB port across members.
	byPort := map[int32]*frontendListener{}
	byPortMember := map[int32]*member{}
	for _, m := range b.members {
		ls, err := b.memberFrontendListeners(m)
		if err != nil {
			return blame(m, err)
		}
		for _, port := range translate.SortedKeys(ls) {
			l := ls[port]
			cur, ok := byPort[l.port]
			if !ok {
				byPort[l.port], byPortMember[l.port] = l, m
				continue
			}
			if cur.targetPort != l.targetPort {
				return blame(m, fmt.Errorf("conflicting frontend NLB target port for NLB port %d: %s maps it to %d, %s to %d", l.port, byPortMember[l.port].ref.Key(), cur.targetPort, m.ref.Key(), l.targetPort))
			}
			if err := mergeHealthCheck(cur, l); err != nil {
				return blame(m, fmt.Errorf("frontend NLB port %d: %w (first set by %s)", l.port, err, byPortMember[l.port].ref.Key()))
			}
		}
	}
	ports := make([]int, 0, len(byPort))
	for p := range byPort {
		ports = append(ports, int(p))
	}
	sortInts(ports)
	for _, p := range ports {
		l := byPort[int32(p)]
		hc := l.hc
		hash := translate.Hash(b.opts.ClusterName, b.id.String(), strconv.Itoa(p), string(stack.TargetTypeALB), string(stack.ProtocolTCP), hc.Port.String(), string(hc.Protocol))
		var name string
		if b.id.Namespace == "" {
			name = fmt.Sprintf("k8s-%s-%s", translate.Trunc(translate.Sanitize(b.id.Name), 17), hash[:10])
		} else {
			name = fmt.Sprintf("k8s-%s-%s-%s", translate.Trunc(translate.Sanitize(b.id.Namespace), 8), translate.Trunc(translate.Sanitize(b.id.Name), 8), hash[:10])
		}
		port := int32(p)
		tg := &stack.TargetGroup{ResID: fmt.Sprintf("FrontendNlb-tg-TCP-%d", p), Spec: stack.TargetGroupSpec{
			Name: name, TargetType: stack.TargetTypeALB, Port: &port, Protocol: stack.ProtocolTCP, IPAddressType: stack.TargetGroupIPv4,
			HealthCheckConfig: &hc, Tags: tags,
		}}
		if err := b.stack.Add(tg); err != nil {
			return err
		}
		ls := &stack.Listener{ResID: fmt.Sprintf("FrontendNlb-ls-TCP-%d", p), Spec: stack.ListenerSpec{
			LoadBalancerARN: nlb.ARN(), Port: port, Protocol: stack.ProtocolTCP, Tags: tags,
			DefaultActions: []stack.Action{{Type: stack.ActionTypeForward, ForwardConfig: &stack.ForwardConfig{TargetGroups: []stack.TargetGroupTuple{{TargetGroupARN: tg.ARN()}}}}},
		}}
		if err := b.stack.Add(ls); err != nil {
			return err
		}
		b.frontendTargets[name] = &stack.FrontendNLBTarget{Name: name, ARN: tg.ARN(), Port: port, TargetARN: b.lb.ARN(), TargetPort: l.targetPort}
	}
	return nil
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func (b *builder) frontendSubnets(scheme stack.Scheme) ([]stack.SubnetMapping, error) {
	q := translate.SubnetQuery{LBType: stack.LoadBalancerTypeNetwork, Scheme: scheme, IPAddressType: b.lb.Spec.IPAddressType}
	var by, eipBy *member
	var list, eips []string
	for _, m := range b.members {
		if l, ok := m.ann.StringList(annotations.IngressFrontendNLBSubnets); ok {
			if by == nil {
				by, list = m, l
			} else if !sameSet(list, l) {
				return nil, blame(m, fmt.Errorf("conflicting frontend-nlb-subnets: %s wants %v, %s wants %v", by.ref.Key(), list, m.ref.Key(), l))
			}
		}
		if l, ok := m.ann.StringList(annotations.IngressFrontendNLBEIPAllocations); ok {
			if eipBy == nil {
				eipBy, eips = m, l
			} else if !sameSet(eips, l) {
				return nil, blame(m, fmt.Errorf("conflicting frontend-nlb-eip-allocations: %s wants %v, %s wants %v", eipBy.ref.Key(), eips, m.ref.Key(), l))
			}
		}
	}
	var chosen []translate.Subnet
	var err error
	if by != nil {
		if chosen, err = b.cloud.SubnetsByNameOrID(list, q, translate.Source{Object: by.ref, Field: "annotation " + annotations.IngressFrontendNLBSubnets}, b.trace); err != nil {
			return nil, blame(by, err)
		}
	} else if chosen, _, err = b.cloud.DiscoverSubnets(q, nil); err != nil {
		return nil, fmt.Errorf("frontend NLB: couldn't auto-discover subnets: %w", err)
	}
	if eipBy != nil {
		if scheme != stack.SchemeInternetFacing {
			return nil, blame(eipBy, fmt.Errorf("%s: Elastic IPs can only be set for an internet-facing frontend NLB", annotations.IngressFrontendNLBEIPAllocations))
		}
		if len(eips) != len(chosen) {
			return nil, blame(eipBy, fmt.Errorf("%s: count of EIP allocations (%d) and subnets (%d) must match", annotations.IngressFrontendNLBEIPAllocations, len(eips), len(chosen)))
		}
		if err := b.cloud.CheckElasticIPs(eips, translate.Source{Object: eipBy.ref, Field: "annotation " + annotations.IngressFrontendNLBEIPAllocations}, b.trace); err != nil {
			return nil, blame(eipBy, err)
		}
	}
	out := make([]stack.SubnetMapping, 0, len(chosen))
	for i, s := range chosen {
		sm := stack.SubnetMapping{SubnetID: s.ID}
		if eipBy != nil {
			sm.AllocationID = ptr(eips[i])
		}
		out = append(out, sm)
	}
	return out, nil
}

// exclusiveMap returns a map annotation members set alike.
func (b *builder) exclusiveMap(key string) (map[string]string, error) {
	var by *member
	var chosen map[string]string
	for _, m := range b.members {
		v, ok, err := m.ann.StringMap(key)
		if err != nil {
			return nil, blame(m, err)
		}
		if !ok {
			continue
		}
		if by == nil {
			by, chosen = m, v
		} else if !reflect.DeepEqual(chosen, v) {
			return nil, blame(m, fmt.Errorf("conflicting %s: %s sets %v, %s sets %v", key, by.ref.Key(), chosen, m.ref.Key(), v))
		}
	}
	return chosen, nil
}

func (b *builder) frontendTags() (map[string]string, error) {
	var by *member
	var chosen map[string]string
	for _, m := range b.members {
		v, ok, err := m.ann.StringMap(annotations.IngressFrontendNLBTags)
		if err != nil {
			return nil, blame(m, err)
		}
		if !ok {
			continue
		}
		if by == nil {
			by, chosen = m, v
		} else if !reflect.DeepEqual(chosen, v) {
			return nil, blame(m, fmt.Errorf("conflicting frontend-nlb-tags: %s sets %v, %s sets %v", by.ref.Key(), chosen, m.ref.Key(), v))
		}
	}
	if by != nil {
		if len(chosen) == 0 {
			return nil, nil
		}
		return chosen, nil
	}
	return b.lb.Spec.Tags, nil
}

func (b *builder) memberFrontendListeners(m *member) (map[string]*frontendListener, error) {
	hc, explicit, err := frontendHealthCheck(m.ann)
	if err != nil {
		return nil, err
	}
	mapping, _, err := m.ann.StringMap(annotations.IngressFrontendNLBListenerPortMapping)
	if err != nil {
		return nil, err
	}
	out := map[string]*frontendListener{}
	add := func(nlbPort, albPort int32) {
		ex := map[string]bool{}
		for k, v := range explicit {
			ex[k] = v
		}
		out[fmt.Sprintf("%05d", nlbPort)] = &frontendListener{port: nlbPort, targetPort: albPort, hc: hc, explicit: ex}
	}
	if len(mapping) > 0 {
		for _, k := range translate.SortedKeys(mapping) {
			nlbPort, err := strconv.ParseInt(k, 10, 32)
			if err != nil {
				return nil, &annotations.Error{Key: annotations.IngressFrontendNLBListenerPortMapping, Value: m.ann[annotations.IngressFrontendNLBListenerPortMapping], Want: "nlbPort=albPort pairs", Err: fmt.Errorf("NLB port %q is not a number", k)}
			}
			albPort, err := strconv.ParseInt(mapping[k], 10, 32)
			if err != nil {
				return nil, &annotations.Error{Key: annotations.IngressFrontendNLBListenerPortMapping, Value: m.ann[annotations.IngressFrontendNLBListenerPortMapping], Want: "nlbPort=albPort pairs", Err: fmt.Errorf("ALB port %q is not a number", mapping[k])}
			}
			if _, ok := b.memberPorts[m][int32(albPort)]; !ok {
				b.trace.Add(translate.Warning, m.ref, "%s maps NLB port %d to ALB port %d, which %s does not listen on: skipped", annotations.IngressFrontendNLBListenerPortMapping, nlbPort, albPort, m.ref.Key())
				continue
			}
			add(int32(nlbPort), int32(albPort))
		}
		return out, nil
	}
	for port := range b.memberPorts[m] {
		add(port, port)
	}
	return out, nil
}

func frontendHealthCheck(ann annotations.Set) (stack.HealthCheck, map[string]bool, error) {
	ex := map[string]bool{}
	port := intstr.FromString(stack.HealthCheckPortTrafficPort)
	if raw, ok := ann.String(annotations.IngressFrontendNLBHealthCheckPort); ok {
		ex["port"] = true
		if raw != stack.HealthCheckPortTrafficPort {
			p := intstr.Parse(raw)
			if p.Type != intstr.Int {
				return stack.HealthCheck{}, nil, &annotations.Error{Key: annotations.IngressFrontendNLBHealthCheckPort, Value: raw, Want: "a port number or traffic-port"}
			}
			port = p
		}
	}
	proto := stack.ProtocolHTTP
	if v, ok := ann.String(annotations.IngressFrontendNLBHealthCheckProtocol); ok {
		ex["protocol"] = true
		if v != "HTTP" && v != "HTTPS" {
			return stack.HealthCheck{}, nil, &annotations.Error{Key: annotations.IngressFrontendNLBHealthCheckProtocol, Value: v, Want: "HTTP or HTTPS"}
		}
		proto = stack.Protocol(v)
	}
	path := defaultHealthCheckPathHTTP
	if v, ok := ann.String(annotations.IngressFrontendNLBHealthCheckPath); ok {
		ex["path"], path = true, v
	}
	code := defaultMatcherHTTP
	if v, ok := ann.String(annotations.IngressFrontendNLBHealthCheckSuccess); ok {
		ex["matcher"], code = true, v
	}
	num := func(key, name string, def int32) (*int32, error) {
		v, ok, err := ann.Int32(key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return &def, nil
		}
		ex[name] = true
		return &v, nil
	}
	hc := stack.HealthCheck{Port: &port, Protocol: proto, Path: &path, Matcher: &stack.Matcher{HTTPCode: &code}}
	var err error
	if hc.IntervalSeconds, err = num(annotations.IngressFrontendNLBHealthCheckInterval, "interval", defaultHealthCheckInterval); err != nil {
		return hc, nil, err
	}
	if hc.TimeoutSeconds, err = num(annotations.IngressFrontendNLBHealthCheckTimeout, "timeout", defaultHealthCheckTimeout); err != nil {
		return hc, nil, err
	}
	if hc.HealthyThresholdCount, err = num(annotations.IngressFrontendNLBHealthyThreshold, "healthy", defaultHealthyThreshold); err != nil {
		return hc, nil, err
	}
	if hc.UnhealthyThresholdCount, err = num(annotations.IngressFrontendNLBUnhealthyThreshold, "unhealthy", defaultUnhealthyThreshold); err != nil {
		return hc, nil, err
	}
	return hc, ex, nil
}

// mergeHealthCheck folds l's health check into cur: explicit values must
// agree, and an explicit value beats a default.
func mergeHealthCheck(cur, l *frontendListener) error {
	type field struct {
		name string
		get  func(h *stack.HealthCheck) string
		set  func(dst, src *stack.HealthCheck)
	}
	fields := []field{
		{"port", func(h *stack.HealthCheck) string { return h.Port.String() }, func(d, s *stack.HealthCheck) { d.Port = s.Port }},
		{"protocol", func(h *stack.HealthCheck) string { return string(h.Protocol) }, func(d, s *stack.HealthCheck) { d.Protocol = s.Protocol }},
		{"path", func(h *stack.HealthCheck) string { return *h.Path }, func(d, s *stack.HealthCheck) { d.Path = s.Path }},
		{"matcher", func(h *stack.HealthCheck) string { return *h.Matcher.HTTPCode }, func(d, s *stack.HealthCheck) { d.Matcher = s.Matcher }},
		{"interval", func(h *stack.HealthCheck) string { return fmt.Sprint(*h.IntervalSeconds) }, func(d, s *stack.HealthCheck) { d.IntervalSeconds = s.IntervalSeconds }},
		{"timeout", func(h *stack.HealthCheck) string { return fmt.Sprint(*h.TimeoutSeconds) }, func(d, s *stack.HealthCheck) { d.TimeoutSeconds = s.TimeoutSeconds }},
		{"healthy", func(h *stack.HealthCheck) string { return fmt.Sprint(*h.HealthyThresholdCount) }, func(d, s *stack.HealthCheck) { d.HealthyThresholdCount = s.HealthyThresholdCount }},
		{"unhealthy", func(h *stack.HealthCheck) string { return fmt.Sprint(*h.UnhealthyThresholdCount) }, func(d, s *stack.HealthCheck) { d.UnhealthyThresholdCount = s.UnhealthyThresholdCount }},
	}
	for _, f := range fields {
		if !l.explicit[f.name] {
			continue
		}
		if cur.explicit[f.name] {
			if f.get(&cur.hc) != f.get(&l.hc) {
				return fmt.Errorf("conflicting health check %s: %s vs %s", f.name, f.get(&cur.hc), f.get(&l.hc))
			}
			continue
		}
		f.set(&cur.hc, &l.hc)
		if cur.explicit == nil {
			cur.explicit = map[string]bool{}
		}
		cur.explicit[f.name] = true
	}
	return nil
}
