package nodeproxy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

var (
	unitNodes = []Node{
		{Name: "a", IP: netip.MustParseAddr("10.0.1.1")},
		{Name: "b", IP: netip.MustParseAddr("10.0.2.1")},
	}
	svcName = types.NamespacedName{Namespace: "ns", Name: "web"}
)

func unitService(edit func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeNodePort,
			ClusterIP: "172.20.0.10",
			Ports:     []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080}},
		},
	}
	if edit != nil {
		edit(s)
	}
	return s
}

type epOpt func(*discoveryv1.Endpoint)

func notReady(e *discoveryv1.Endpoint) { e.Conditions.Ready = ptr.To(false) }
func servingTerminating(e *discoveryv1.Endpoint) {
	e.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}
}
func terminatingNotServing(e *discoveryv1.Endpoint) {
	e.Conditions = discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false), Terminating: ptr.To(true)}
}

func unitEP(addr, node string, opts ...epOpt) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{addr}}
	if node != "" {
		e.NodeName = ptr.To(node)
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func unitSlice(name string, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
		Endpoints:   eps,
	}
}

func port(name string, n int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(n), Protocol: ptr.To(corev1.ProtocolTCP)}
}

func hp(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestComputeState checks which listeners, endpoints and health counts
// the Services and slices give, per kube-proxy's rules.
func TestComputeState(t *testing.T) {
	http := []discoveryv1.EndpointPort{port("http", 8080)}
	tcpA := frontendKey{node: "a", proto: corev1.ProtocolTCP, port: 30080}
	tcpB := frontendKey{node: "b", proto: corev1.ProtocolTCP, port: 30080}
	cluster := func(backends ...netip.AddrPort) *route {
		return &route{service: svcName, port: "http", backends: backends}
	}
	local := func(backends ...netip.AddrPort) *route {
		return &route{service: svcName, port: "http", local: true, backends: backends}
	}
	lbLocal := func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = 32000
	}
	tests := []struct {
		name   string
		svc    *corev1.Service
		slices []*discoveryv1.EndpointSlice
		want   state
		// problems is how many problems the state reports.
		problems int
	}{
		{
			name: "cluster policy: every ready endpoint, at its host address, on every node",
			svc:  unitService(nil),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", http, unitEP("10.0.1.5", "a"), unitEP("10.0.2.5", "b"), unitEP("10.0.2.6", "b", notReady)),
				unitSlice("s2", http, unitEP("10.0.1.6", "")),
			},
			want: state{frontends: map[frontendKey]*route{
				tcpA: cluster(hp("127.10.1.5:8080"), hp("127.10.1.6:8080"), hp("127.10.2.5:8080")),
				tcpB: cluster(hp("127.10.1.5:8080"), hp("127.10.1.6:8080"), hp("127.10.2.5:8080")),
			}},
		},
		{
			name: "ready unset counts as ready",
			svc:  unitService(nil),
			slices: []*discoveryv1.EndpointSlice{unitSlice("s1", http, unitEP("10.0.1.5", "a", func(e *discoveryv1.Endpoint) {
				e.Conditions = discoveryv1.EndpointConditions{}
			}))},
			want: state{frontends: map[frontendKey]*route{tcpA: cluster(hp("127.10.1.5:8080")), tcpB: cluster(hp("127.10.1.5:8080"))}},
		},
		{
			name: "no ready endpoint: serving and terminating ones are used",
			svc:  unitService(nil),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", http, unitEP("10.0.1.5", "a", servingTerminating), unitEP("10.0.1.6", "a", terminatingNotServing), unitEP("10.0.1.7", "a", notReady)),
			},
			want: state{frontends: map[frontendKey]*route{tcpA: cluster(hp("127.10.1.5:8080")), tcpB: cluster(hp("127.10.1.5:8080"))}},
		},
		{
			name: "a ready endpoint hides the terminating ones",
			svc:  unitService(nil),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", http, unitEP("10.0.1.5", "a", servingTerminating), unitEP("10.0.2.5", "b")),
			},
			want: state{frontends: map[frontendKey]*route{tcpA: cluster(hp("127.10.2.5:8080")), tcpB: cluster(hp("127.10.2.5:8080"))}},
		},
		{
			name: "local policy: node endpoints only, fallback per node, health counts ready addresses",
			svc:  unitService(lbLocal),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", http, unitEP("10.0.1.5", "a"), unitEP("10.0.1.6", "a"), unitEP("10.0.2.5", "b", servingTerminating)),
			},
			want: state{
				frontends: map[frontendKey]*route{tcpA: local(hp("127.10.1.5:8080"), hp("127.10.1.6:8080")), tcpB: local(hp("127.10.2.5:8080"))},
				health: map[healthKey]health{
					{node: "a", port: 32000}: {service: svcName, localEndpoints: 2},
					{node: "b", port: 32000}: {service: svcName, localEndpoints: 0},
				},
			},
		},
		{
			name: "local policy without endpoints on a node: nothing to send to",
			svc:  unitService(lbLocal),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", http, unitEP("10.0.1.5", "a")),
			},
			want: state{
				frontends: map[frontendKey]*route{tcpA: local(hp("127.10.1.5:8080")), tcpB: local()},
				health: map[healthKey]health{
					{node: "a", port: 32000}: {service: svcName, localEndpoints: 1},
					{node: "b", port: 32000}: {service: svcName, localEndpoints: 0},
				},
			},
		},
		{
			name: "health counts one pod serving two ports once, across slices",
			svc: unitService(func(s *corev1.Service) {
				lbLocal(s)
				s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, NodePort: 30443})
			}),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", []discoveryv1.EndpointPort{port("http", 8080), port("https", 8443)}, unitEP("10.0.1.5", "a")),
				unitSlice("s2", http, unitEP("10.0.1.5", "a")),
			},
			want: state{
				frontends: map[frontendKey]*route{
					tcpA: local(hp("127.10.1.5:8080")),
					tcpB: local(),
					{node: "a", proto: corev1.ProtocolTCP, port: 30443}: {service: svcName, port: "https", local: true, backends: []netip.AddrPort{hp("127.10.1.5:8443")}},
					{node: "b", proto: corev1.ProtocolTCP, port: 30443}: {service: svcName, port: "https", local: true},
				},
				health: map[healthKey]health{
					{node: "a", port: 32000}: {service: svcName, localEndpoints: 1},
					{node: "b", port: 32000}: {service: svcName, localEndpoints: 0},
				},
			},
		},
		{
			name: "NodePort with policy Local has no health check port",
			svc: unitService(func(s *corev1.Service) {
				s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
				s.Spec.HealthCheckNodePort = 32000
			}),
			slices: []*discoveryv1.EndpointSlice{unitSlice("s1", http, unitEP("10.0.1.5", "a"))},
			want:   state{frontends: map[frontendKey]*route{tcpA: local(hp("127.10.1.5:8080")), tcpB: local()}},
		},
		{
			name: "slice port matched by name and protocol; port number from the slice",
			svc: unitService(func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{
					{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, NodePort: 30053},
					{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, NodePort: 30053},
				}
			}),
			slices: []*discoveryv1.EndpointSlice{unitSlice("s1", []discoveryv1.EndpointPort{
				{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)},
				{Name: ptr.To("dns-tcp"), Port: ptr.To[int32](5354), Protocol: ptr.To(corev1.ProtocolTCP)},
				{Name: ptr.To("dns"), Port: ptr.To[int32](9999), Protocol: ptr.To(corev1.ProtocolTCP)}, // wrong protocol
				{Name: ptr.To("other"), Port: ptr.To[int32](7777), Protocol: ptr.To(corev1.ProtocolUDP)},
			}, unitEP("10.0.1.5", "a"))},
			want: state{frontends: map[frontendKey]*route{
				{node: "a", proto: corev1.ProtocolUDP, port: 30053}: {service: svcName, port: "dns", backends: []netip.AddrPort{hp("127.10.1.5:5353")}},
				{node: "b", proto: corev1.ProtocolUDP, port: 30053}: {service: svcName, port: "dns", backends: []netip.AddrPort{hp("127.10.1.5:5353")}},
				{node: "a", proto: corev1.ProtocolTCP, port: 30053}: {service: svcName, port: "dns-tcp", backends: []netip.AddrPort{hp("127.10.1.5:5354")}},
				{node: "b", proto: corev1.ProtocolTCP, port: 30053}: {service: svcName, port: "dns-tcp", backends: []netip.AddrPort{hp("127.10.1.5:5354")}},
			}},
		},
		{
			name: "unnamed port matches the slice's unnamed port",
			svc: unitService(func(s *corev1.Service) {
				s.Spec.Ports[0].Name = ""
			}),
			slices: []*discoveryv1.EndpointSlice{unitSlice("s1", []discoveryv1.EndpointPort{port("", 8080)}, unitEP("10.0.1.5", "a"))},
			want: state{frontends: map[frontendKey]*route{
				tcpA: {service: svcName, backends: []netip.AddrPort{hp("127.10.1.5:8080")}},
				tcpB: {service: svcName, backends: []netip.AddrPort{hp("127.10.1.5:8080")}},
			}},
		},
		{
			name: "duplicate endpoints across slices count once",
			svc:  unitService(nil),
			slices: []*discoveryv1.EndpointSlice{
				unitSlice("s1", http, unitEP("10.0.1.5", "a")),
				unitSlice("s2", http, unitEP("10.0.1.5", "a")),
			},
			want: state{frontends: map[frontendKey]*route{tcpA: cluster(hp("127.10.1.5:8080")), tcpB: cluster(hp("127.10.1.5:8080"))}},
		},
		{
			name: "SCTP and ports without a node port are skipped",
			svc: unitService(func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{
					{Name: "sctp", Protocol: corev1.ProtocolSCTP, Port: 9, NodePort: 30009},
					{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80},
				}
			}),
			slices:   []*discoveryv1.EndpointSlice{unitSlice("s1", http, unitEP("10.0.1.5", "a"))},
			want:     state{frontends: map[frontendKey]*route{}},
			problems: 1, // SCTP, logged once
		},
		{
			name:   "ClusterIP Services have no node ports",
			svc:    unitService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }),
			slices: []*discoveryv1.EndpointSlice{unitSlice("s1", http, unitEP("10.0.1.5", "a"))},
			want:   state{frontends: map[frontendKey]*route{}},
		},
		{
			name: "FQDN slices and unparsable addresses are ignored",
			svc:  unitService(nil),
			slices: []*discoveryv1.EndpointSlice{
				func() *discoveryv1.EndpointSlice {
					s := unitSlice("s1", http, unitEP("example.com", "a"))
					s.AddressType = discoveryv1.AddressTypeFQDN
					return s
				}(),
				unitSlice("s2", http, unitEP("not-an-ip", "a"), unitEP("10.0.1.5", "a")),
			},
			want: state{frontends: map[frontendKey]*route{tcpA: cluster(hp("127.10.1.5:8080")), tcpB: cluster(hp("127.10.1.5:8080"))}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := computeState(unitNodes, vpcaddr.Default(), []*corev1.Service{tc.svc}, func(*corev1.Service) []*discoveryv1.EndpointSlice { return tc.slices })
			if tc.want.health == nil {
				tc.want.health = map[healthKey]health{}
			}
			if len(got.problems) != tc.problems {
				t.Errorf("problems %v, want %d", got.problems, tc.problems)
			}
			got.problems = nil
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(state{}, route{}, health{}, frontendKey{}, healthKey{}), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

// TestComputeStateConflict: two Services claiming one node port, the
// older keeps it.
func TestComputeStateConflict(t *testing.T) {
	older := unitService(func(s *corev1.Service) { s.Name = "older"; s.CreationTimestamp = metav1.Unix(100, 0) })
	newer := unitService(func(s *corev1.Service) { s.Name = "newer"; s.CreationTimestamp = metav1.Unix(200, 0) })
	got := computeState(unitNodes, vpcaddr.Default(), []*corev1.Service{newer, older}, func(*corev1.Service) []*discoveryv1.EndpointSlice { return nil })
	k := frontendKey{node: "a", proto: corev1.ProtocolTCP, port: 30080}
	if r := got.frontends[k]; r == nil || r.service.Name != "older" {
		t.Fatalf("node port 30080 goes to %+v, want Service older", r)
	}
	if len(got.problems) != 2 { // one per node
		t.Fatalf("problems %v, want the double claim on each node", got.problems)
	}
}

// TestConfigValidation: what Run refuses.
func TestConfigValidation(t *testing.T) {
	good := func() Config {
		return Config{Client: nil, Nodes: []Node{{Name: "a", IP: netip.MustParseAddr("10.0.1.1")}}, Addrs: vpcaddr.Default()}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no client", func(*Config) {}, "no Kubernetes client"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "no nodes"},
		{"no name", func(c *Config) { c.Nodes[0].Name = "" }, "no name"},
		{"no IP", func(c *Config) { c.Nodes[0].IP = netip.Addr{} }, "no IP address"},
		{"twice", func(c *Config) { c.Nodes = append(c.Nodes, c.Nodes[0]) }, "listed twice"},
		{"same host", func(c *Config) {
			c.Nodes = append(c.Nodes, Node{Name: "b", IP: netip.MustParseAddr("127.10.1.1")})
		}, "same host address"},
		{"negative timeout", func(c *Config) { c.UDPTimeout = -1 }, "UDPTimeout"},
		{"negative flows", func(c *Config) { c.UDPMaxFlows = -1 }, "UDPMaxFlows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			if tc.name != "no client" {
				c.Client = &kubernetes.Clientset{}
			}
			err := c.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	c := good()
	c.Client = &kubernetes.Clientset{}
	if err := c.validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if c.UDPTimeout != DefaultUDPTimeout || c.UDPStreamTimeout != DefaultUDPStreamTimeout || c.UDPMaxFlows != DefaultUDPMaxFlows || c.Resync != DefaultResync || c.Logger == nil {
		t.Fatalf("defaults not filled in: %+v", c)
	}
}
