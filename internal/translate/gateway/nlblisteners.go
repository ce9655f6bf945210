package gateway

import (
	"fmt"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// checkNLBListener checks what an NLB listener of a protocol needs: TCP and
// UDP listeners take neither tls nor a hostname; a TLS listener passes TLS
// through (a TCP listener of the NLB) or terminates it with certificates
// (a TLS listener of the NLB), and cannot validate client certificates.
func (b *gwBuilder) checkNLBListener(l *listener) {
	refuse := func(msg string) {
		l.accepted, l.acceptedReason, l.accMsg = false, string(gwv1.ListenerReasonUnsupportedValue), msg
	}
	switch l.protocol {
	case gwv1.TCPProtocolType, gwv1.UDPProtocolType:
		switch {
		case l.tls != nil:
			refuse(fmt.Sprintf("tls is not allowed on a %s listener.", l.protocol))
		case l.hostname != "":
			refuse(fmt.Sprintf("hostname is not allowed on a %s listener: TCP and UDP carry no hostname to match.", l.protocol))
		}
	case gwv1.TLSProtocolType:
		switch {
		case l.tls == nil:
			refuse("A TLS listener needs tls.mode (Passthrough or Terminate).")
		case *l.tls.Mode == gwv1.TLSModePassthrough:
			if len(l.tls.CertificateRefs) > 0 {
				refuse("tls.certificateRefs are not allowed with mode Passthrough: the backends terminate TLS.")
			}
		case *l.tls.Mode == gwv1.TLSModeTerminate:
			if b.gw.Spec.TLS != nil && b.gw.Spec.TLS.Frontend != nil {
				refuse("spec.tls.frontend (client certificate validation) is not supported: a Network Load Balancer's TLS listeners do not verify client certificates.")
				return
			}
			b.listenerCertificates(l)
		default:
			refuse(fmt.Sprintf("tls.mode %q: want Passthrough or Terminate.", *l.tls.Mode))
		}
	}
}

// passthrough reports whether a listener is a TLS listener that passes TLS
// through to the backends.
func (l *listener) passthrough() bool {
	return l.protocol == gwv1.TLSProtocolType && l.tls != nil && l.tls.Mode != nil && *l.tls.Mode == gwv1.TLSModePassthrough
}

// nlbConflicts decides the conflicts of an NLB Gateway's listeners. An NLB
// has one listener per port: TCP and UDP listeners of a port share it (a
// TCP_UDP listener); a TLS listener has the port to itself; the TLS
// listeners of a port must share their mode (an NLB listener terminates
// TLS or passes it through, TLSRouteModeMixed), and an NLB cannot tell
// them apart by SNI, so a second hostname on a port is refused.
func nlbConflicts(ls []*listener) {
	modes := map[int32]map[gwv1.TLSModeType]bool{}
	for _, l := range ls {
		if l.accepted && l.protocol == gwv1.TLSProtocolType {
			if modes[l.port] == nil {
				modes[l.port] = map[gwv1.TLSModeType]bool{}
			}
			modes[l.port][*l.tls.Mode] = true
		}
	}
	for _, l := range ls {
		if l.accepted && l.protocol == gwv1.TLSProtocolType && len(modes[l.port]) > 1 {
			l.accepted, l.acceptedReason = false, string(gwv1.ListenerReasonProtocolConflict)
			l.accMsg = fmt.Sprintf("The TLS listeners of port %d mix Passthrough and Terminate: a Network Load Balancer listener either terminates TLS or passes it through (TLSRouteModeMixed is not supported).", l.port)
		}
	}
	family := func(p gwv1.ProtocolType) string {
		if p == gwv1.TLSProtocolType {
			return "TLS"
		}
		return "TCP and UDP"
	}
	first := map[int32]*listener{}
	for _, l := range ls {
		if !l.accepted {
			continue
		}
		prev, ok := first[l.port]
		if !ok {
			first[l.port] = l
			continue
		}
		switch {
		case family(prev.protocol) != family(l.protocol):
			l.conflicted, l.conflictReason = true, string(gwv1.ListenerReasonProtocolConflict)
			l.confMsg = fmt.Sprintf("Port %d is already used with protocol %s by %s; a Network Load Balancer port serves TCP and UDP (one TCP_UDP listener), or TLS.", l.port, prev.protocol, prev)
		case l.protocol == gwv1.TLSProtocolType && !strings.EqualFold(l.hostname, prev.hostname):
			l.accepted, l.acceptedReason = false, string(gwv1.ListenerReasonPortUnavailable)
			l.accMsg = fmt.Sprintf("Port %d is already used by %s (hostname %s): a Network Load Balancer cannot route TLS connections by SNI, so a port serves one hostname.", l.port, prev, anyHost(prev.hostname))
		}
	}
	hostnameConflicts(ls, func(l *listener) string {
		return fmt.Sprintf("%d/%s/%s", l.port, l.protocol, strings.ToLower(l.hostname))
	})
}

func anyHost(h string) string {
	if h == "" {
		return "(any)"
	}
	return h
}
