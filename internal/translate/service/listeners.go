package service

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

type listenerConfig struct {
	certs      []string
	tlsPorts   map[string]bool
	quicPorts  map[string]bool
	tcpUDP     map[int32]bool
	sslPolicy  string
	backendSSL bool
}

func (b *builder) tcpUDPEnabled() (bool, string) {
	if v, ok, err := b.ann.Bool(annotations.ServiceEnableTCPUDPListener); ok && err == nil {
		return v, b.src(annotations.ServiceEnableTCPUDPListener)
	}
	return b.opts.FeatureGates.Enabled(translate.GateEnableTCPUDPListener), "gate EnableTCPUDPListener"
}

func (b *builder) buildListeners(scheme stack.Scheme) error {
	cfg, err := b.listenerConfig()
	if err != nil {
		return err
	}
	tcpUDP, src := b.tcpUDPEnabled()
	byPort := map[int32][]corev1.ServicePort{}
	var order []int32
	for _, p := range b.svc.Spec.Ports {
		if _, ok := byPort[p.Port]; !ok {
			order = append(order, p.Port)
		}
		byPort[p.Port] = append(byPort[p.Port], p)
	}
	for _, port := range order {
		ps := byPort[port]
		if len(ps) == 1 {
			if err := b.buildListener(ps[0], cfg, scheme); err != nil {
				return err
			}
			continue
		}
		if !tcpUDP {
			return fmt.Errorf("port %d is used by %d Service ports (%s): one listener per port; for TCP and UDP on one port set %s: \"true\" (a TCP_UDP listener)",
				port, len(ps), protocolsOf(ps), annotations.ServiceEnableTCPUDPListener)
		}
		if len(ps) != 2 || ps[0].Protocol == ps[1].Protocol || !tcpOrUDP(ps[0].Protocol) || !tcpOrUDP(ps[1].Protocol) {
			return fmt.Errorf("port %d: only one TCP and one UDP port can share a TCP_UDP listener, got %s", port, protocolsOf(ps))
		}
		cfg.tcpUDP[port] = true
		b.decide(fmt.Sprintf("listener %d", port), "TCP_UDP", "TCP and UDP Service ports share port %d (%s)", port, src)
		if err := b.buildListener(ps[0], cfg, scheme); err != nil {
			return err
		}
	}
	return nil
}

func tcpOrUDP(p corev1.Protocol) bool { return p == corev1.ProtocolTCP || p == corev1.ProtocolUDP }

func protocolsOf(ps []corev1.ServicePort) string {
	var out []string
	for _, p := range ps {
		out = append(out, string(p.Protocol))
	}
	return strings.Join(out, " and ")
}

func (b *builder) listenerConfig() (*listenerConfig, error) {
	cfg := &listenerConfig{tlsPorts: map[string]bool{}, quicPorts: map[string]bool{}, tcpUDP: map[int32]bool{}}
	cfg.certs, _ = b.ann.StringList(annotations.ServiceSSLCert)
	tls, _ := b.ann.StringList(annotations.ServiceSSLPorts)
	var unused []string
	for _, t := range tls {
		found := false
		for _, p := range b.svc.Spec.Ports {
			if p.Name == t || strconv.Itoa(int(p.Port)) == t {
				found = true
			}
		}
		if !found {
			unused = append(unused, t)
		}
		cfg.tlsPorts[t] = true
	}
	if len(unused) > 0 {
		return nil, &annotations.Error{Key: annotations.ServiceSSLPorts, Value: b.ann[annotations.ServiceSSLPorts], Want: "names or numbers of the Service's ports", Err: fmt.Errorf("no Service port %s", strings.Join(unused, ", "))}
	}
	quic, _ := b.ann.StringList(annotations.ServiceQUICEnabledPorts)
	for _, q := range quic {
		cfg.quicPorts[q] = true
	}
	bp, _ := b.ann.String(annotations.ServiceBackendProtocol)
	cfg.backendSSL = bp == "ssl"
	cfg.sslPolicy = b.opts.DefaultSSLPolicy
	if v, ok := b.ann.String(annotations.ServiceSSLNegotiationPolicy); ok {
		cfg.sslPolicy = v
	}
	return cfg, nil
}

func (b *builder) buildListener(p corev1.ServicePort, cfg *listenerConfig, scheme stack.Scheme) error {
	tgProto := stack.Protocol(p.Protocol)
	lsProto := tgProto
	if cfg.tcpUDP[p.Port] {
		tgProto, lsProto = stack.ProtocolTCPUDP, stack.ProtocolTCPUDP
	}
	portNum := strconv.Itoa(int(p.Port))
	if tgProto != stack.ProtocolUDP && tgProto != stack.ProtocolTCPUDP && len(cfg.certs) > 0 &&
		(len(cfg.tlsPorts) == 0 || cfg.tlsPorts[p.Name] || cfg.tlsPorts[portNum]) {
		if cfg.backendSSL {
			tgProto = stack.ProtocolTLS
		}
		lsProto = stack.ProtocolTLS
	}
	if cfg.quicPorts[p.Name] || cfg.quicPorts[portNum] {
		switch lsProto {
		case stack.ProtocolUDP:
			tgProto, lsProto = stack.ProtocolQUIC, stack.ProtocolQUIC
		case stack.ProtocolTCPUDP:
			tgProto, lsProto = stack.ProtocolTCPQUIC, stack.ProtocolTCPQUIC
		default:
			return &annotations.Error{Key: annotations.ServiceQUICEnabledPorts, Value: b.ann[annotations.ServiceQUICEnabledPorts], Err: fmt.Errorf("port %d is %s: only UDP and TCP_UDP listeners can be upgraded to QUIC", p.Port, lsProto)}
		}
	}
	tags, err := b.tags()
	if err != nil {
		return err
	}
	spec := stack.ListenerSpec{LoadBalancerARN: b.lb.ARN(), Port: p.Port, Protocol: lsProto, Tags: tags}
	actKey := annotations.ServiceActions(string(lsProto), p.Port)
	if raw, ok := b.ann.String(actKey); ok {
		act, err := annotations.ParseServiceAction(actKey, raw)
		if err != nil {
			return err
		}
		tuples, err := b.weightedTargetGroups(lsProto, p, tgProto, act, scheme)
		if err != nil {
			return err
		}
		fc := &stack.ForwardConfig{TargetGroups: tuples}
		if s := act.ForwardConfig.TargetGroupStickinessConfig; s != nil {
			fc.TargetGroupStickinessConfig = &stack.TargetGroupStickinessConfig{Enabled: s.Enabled}
		}
		spec.DefaultActions = []stack.Action{{Type: stack.ActionTypeForward, ForwardConfig: fc}}
	} else {
		tg, err := b.targetGroup(nil, b.svc, p, tgProto, scheme)
		if err != nil {
			return err
		}
		spec.DefaultActions = []stack.Action{{Type: stack.ActionTypeForward, ForwardConfig: &stack.ForwardConfig{TargetGroups: []stack.TargetGroupTuple{{TargetGroupARN: tg.ARN()}}}}}
	}
	if lsProto == stack.ProtocolTLS {
		if v, ok := b.ann.String(annotations.ServiceALPNPolicy); ok {
			switch v {
			case "None", "HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred":
				spec.ALPNPolicy = []string{v}
			default:
				return &annotations.Error{Key: annotations.ServiceALPNPolicy, Value: v, Want: "None, HTTP1Only, HTTP2Only, HTTP2Optional or HTTP2Preferred"}
			}
		}
		policy := cfg.sslPolicy
		spec.SSLPolicy = &policy
		for _, c := range cfg.certs {
			spec.Certificates = append(spec.Certificates, stack.Certificate{CertificateARN: stack.Literal(c)})
		}
		b.decide(fmt.Sprintf("listener %d", p.Port), "TLS", "%s names certificates and the port is in %s (all ports when unset)", annotations.ServiceSSLCert, annotations.ServiceSSLPorts)
		b.decide(fmt.Sprintf("certificate of port %d", p.Port), strings.Join(cfg.certs, ", "), "%s (the first is the default certificate)", b.src(annotations.ServiceSSLCert))
		src := "default --default-ssl-policy"
		if b.ann.Has(annotations.ServiceSSLNegotiationPolicy) {
			src = b.src(annotations.ServiceSSLNegotiationPolicy)
		}
		b.decide(fmt.Sprintf("ssl policy of port %d", p.Port), policy, "%s", src)
	}
	attrs, _, err := b.ann.StringMap(annotations.ServiceListenerAttributes(string(lsProto), p.Port))
	if err != nil {
		return err
	}
	for _, k := range translate.SortedKeys(attrs) {
		spec.ListenerAttributes = append(spec.ListenerAttributes, stack.ListenerAttribute{Key: k, Value: attrs[k]})
	}
	return b.stack.Add(&stack.Listener{ResID: strconv.Itoa(int(p.Port)), Spec: spec})
}

// weightedTargetGroups builds the target groups of a weighted forward: the
// Service's own port first, then the other Services named.
func (b *builder) weightedTargetGroups(lsProto stack.Protocol, base corev1.ServicePort, baseProto stack.Protocol, act annotations.ServiceAction, scheme stack.Scheme) ([]stack.TargetGroupTuple, error) {
	tg, err := b.targetGroup(nil, b.svc, base, baseProto, scheme)
	if err != nil {
		return nil, err
	}
	out := []stack.TargetGroupTuple{{TargetGroupARN: tg.ARN(), Weight: act.ForwardConfig.BaseServiceWeight}}
	for _, t := range act.ForwardConfig.TargetGroups {
		if t.TargetGroupARN != nil {
			out = append(out, stack.TargetGroupTuple{TargetGroupARN: stack.Literal(*t.TargetGroupARN), Weight: t.Weight})
			continue
		}
		svc, ok := b.services[b.svc.Namespace+"/"+*t.ServiceName]
		if !ok {
			return nil, fmt.Errorf("%s: Service %s/%s does not exist", annotations.ServiceActions(string(lsProto), base.Port), b.svc.Namespace, *t.ServiceName)
		}
		proto := lsProto
		if lsProto == stack.ProtocolTLS && t.Decrypt != nil && *t.Decrypt {
			proto = stack.ProtocolTCP
		}
		sp, err := translate.LookupServicePort(svc, *t.ServicePort)
		if err != nil {
			return nil, err
		}
		tg, err := b.targetGroup(b.svc, svc, sp, proto, scheme)
		if err != nil {
			return nil, err
		}
		out = append(out, stack.TargetGroupTuple{TargetGroupARN: tg.ARN(), Weight: t.Weight})
	}
	return out, nil
}

var _ = sort.Strings
var _ = intstr.FromInt32
