package nodeproxy

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// frontendKey names one listener: a node's host address, a protocol and a
// port.
type frontendKey struct {
	node  string // node name
	proto corev1.Protocol
	port  uint16
}

func (k frontendKey) String() string {
	return fmt.Sprintf("%s %s/%d", k.node, k.proto, k.port)
}

// route is where one listener sends new connections and flows.
type route struct {
	service types.NamespacedName
	// port is the Service port's name ("" for a single unnamed port).
	port string
	// local is externalTrafficPolicy Local: the endpoint sees the client's
	// address, and only endpoints on this node are used.
	local bool
	// backends are the usable endpoints' host addresses and ports.
	backends []netip.AddrPort
}

// equal reports whether two routes send traffic the same way.
func (r *route) equal(o *route) bool {
	return r.service == o.service && r.port == o.port && r.local == o.local && slices.Equal(r.backends, o.backends)
}

// healthKey names one health check server: a node and a port.
type healthKey struct {
	node string
	port uint16
}

// health is what one health check server answers.
type health struct {
	service types.NamespacedName
	// localEndpoints is the number of distinct addresses of the Service's
	// ready endpoints on the node.
	localEndpoints int
}

// state is what the proxy should serve.
type state struct {
	frontends map[frontendKey]*route
	health    map[healthKey]health
	// problems are what cannot be served as asked, by a key naming each
	// (the proxy logs each once while it lasts).
	problems map[string]problem
}

// problem is a log record to write once.
type problem struct {
	level slog.Level
	msg   string
	args  []any
}

func (st *state) problem(key string, level slog.Level, msg string, args ...any) {
	if _, ok := st.problems[key]; !ok {
		st.problems[key] = problem{level: level, msg: msg, args: args}
	}
}

// endpoint is one EndpointSlice endpoint at one port, as kube-proxy keeps it.
type endpoint struct {
	addr        netip.AddrPort // VPC address and port
	node        string
	ready       bool
	serving     bool
	terminating bool
}

// computeState derives the listeners of every node from the Services and
// their EndpointSlices (slicesOf returns a Service's slices), as kube-proxy
// does for node ports.
func computeState(nodes []Node, addrs vpcaddr.Map, services []*corev1.Service, slicesOf func(*corev1.Service) []*discoveryv1.EndpointSlice) state {
	st := state{frontends: map[frontendKey]*route{}, health: map[healthKey]health{}, problems: map[string]problem{}}
	services = slices.Clone(services)
	// A stable order decides which of two Services claiming one port wins.
	slices.SortFunc(services, func(a, b *corev1.Service) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, svc := range services {
		if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
			continue // kube-proxy skips headless Services
		}
		nn := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		local := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
		slcs := slicesOf(svc)
		for _, sp := range svc.Spec.Ports {
			if sp.NodePort <= 0 || sp.NodePort > 65535 {
				continue
			}
			proto := cmp.Or(sp.Protocol, corev1.ProtocolTCP)
			if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP {
				st.problem(fmt.Sprintf("protocol %s/%s/%d", nn, sp.Name, sp.NodePort), slog.LevelWarn, "node port protocol not supported; skipped",
					"service", nn.String(), "port", sp.Name, "nodePort", sp.NodePort, "protocol", proto)
				continue
			}
			eps := portEndpoints(slcs, sp.Name, proto)
			for _, n := range nodes {
				r := &route{service: nn, port: sp.Name, local: local, backends: usable(eps, n, local, addrs)}
				k := frontendKey{node: n.Name, proto: proto, port: uint16(sp.NodePort)}
				if prev, ok := st.frontends[k]; ok {
					st.problem(fmt.Sprintf("claim %s/%s %s", nn, sp.Name, k), slog.LevelError, "node port claimed twice; the first Service keeps it",
						"service", nn.String(), "port", sp.Name, "nodePort", sp.NodePort, "protocol", proto, "node", n.Name, "owner", prev.service.String())
					continue
				}
				st.frontends[k] = r
			}
		}
		// kube-proxy serves a health check node port for Services of type
		// LoadBalancer with policy Local (apiservice.NeedsHealthCheck).
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && local && svc.Spec.HealthCheckNodePort > 0 && svc.Spec.HealthCheckNodePort <= 65535 {
			for _, n := range nodes {
				k := healthKey{node: n.Name, port: uint16(svc.Spec.HealthCheckNodePort)}
				if prev, ok := st.health[k]; ok {
					st.problem(fmt.Sprintf("health claim %s %s/%d", nn, n.Name, k.port), slog.LevelError, "health check node port claimed twice; the first Service keeps it",
						"service", nn.String(), "healthCheckNodePort", svc.Spec.HealthCheckNodePort, "node", n.Name, "owner", prev.service.String())
					continue
				}
				st.health[k] = health{service: nn, localEndpoints: localReady(slcs, n.Name)}
			}
		}
	}
	return st
}

// portEndpoints returns the endpoints of the slices' port named name with
// protocol proto, deduplicated by address and port (a local copy wins).
func portEndpoints(slcs []*discoveryv1.EndpointSlice, name string, proto corev1.Protocol) []endpoint {
	seen := map[netip.AddrPort]int{}
	var out []endpoint
	for _, s := range slcs {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, p := range s.Ports {
			if !validPort(p) || *p.Name != name || cmp.Or(ptrOr(p.Protocol), corev1.ProtocolTCP) != proto {
				continue
			}
			for _, e := range s.Endpoints {
				if len(e.Addresses) == 0 {
					continue
				}
				a, err := netip.ParseAddr(e.Addresses[0])
				if err != nil {
					continue
				}
				ep := endpoint{
					addr:        netip.AddrPortFrom(a.Unmap(), uint16(*p.Port)),
					node:        ptrOr(e.NodeName),
					ready:       e.Conditions.Ready == nil || *e.Conditions.Ready,
					serving:     e.Conditions.Serving == nil || *e.Conditions.Serving,
					terminating: e.Conditions.Terminating != nil && *e.Conditions.Terminating,
				}
				if i, ok := seen[ep.addr]; ok {
					if out[i].node == "" && ep.node != "" {
						out[i] = ep
					}
					continue
				}
				seen[ep.addr] = len(out)
				out = append(out, ep)
			}
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return a.addr.Compare(b.addr) })
	return out
}

// validPort reports whether kube-proxy uses an EndpointSlice port: named
// (possibly "") and numbered.
func validPort(p discoveryv1.EndpointPort) bool {
	return p.Name != nil && p.Port != nil && *p.Port > 0 && *p.Port <= 65535
}

// usable returns the host addresses of the endpoints node n uses, as
// kube-proxy's CategorizeEndpoints picks them: the ready endpoints (on n
// only, under policy Local), else the serving and terminating ones.
func usable(eps []endpoint, n Node, local bool, addrs vpcaddr.Map) []netip.AddrPort {
	family := func(e endpoint) bool { return e.addr.Addr().Is4() == n.IP.Is4() }
	pickWith := func(ok func(endpoint) bool) []netip.AddrPort {
		var out []netip.AddrPort
		for _, e := range eps {
			if family(e) && (!local || e.node == n.Name) && ok(e) {
				out = append(out, addrs.ToHostPort(e.addr))
			}
		}
		return out
	}
	if out := pickWith(func(e endpoint) bool { return e.ready }); len(out) > 0 {
		return out
	}
	return pickWith(func(e endpoint) bool { return e.serving && e.terminating })
}

// localReady counts the distinct addresses of the ready endpoints on node
// in the slices' usable ports, as kube-proxy's LocalReadyEndpoints does
// (one pod serving two ports counts once; terminating endpoints do not
// count, so a node whose pods are all terminating fails the check).
func localReady(slcs []*discoveryv1.EndpointSlice, node string) int {
	ips := map[netip.Addr]bool{}
	for _, s := range slcs {
		if !slices.ContainsFunc(s.Ports, validPort) {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || ptrOr(e.NodeName) != node {
				continue
			}
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			if a, err := netip.ParseAddr(e.Addresses[0]); err == nil {
				ips[a.Unmap()] = true
			}
		}
	}
	return len(ips)
}

// ptrOr returns *p, or the zero value for nil.
func ptrOr[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}
