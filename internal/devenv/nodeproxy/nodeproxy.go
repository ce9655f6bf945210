// Package nodeproxy is the node proxy of `elbow dev`: kube-proxy's job for
// NodePort and LoadBalancer Services, done in user space on host loopback.
//
// For every node it listens on the node's host address (its VPC InternalIP
// through the address map) at every nodePort of every Service of type
// NodePort or LoadBalancer, TCP or UDP as the port says, and forwards each
// connection (TCP) or flow (UDP) to one of the Service's endpoints, taken
// from its EndpointSlices and dialled at the endpoint's host address. It
// follows kube-proxy's rules:
//
//   - Usable endpoints are the ready ones (conditions.ready true or unset);
//     when there are none, the serving and terminating ones.
//   - externalTrafficPolicy Cluster: any usable endpoint of the cluster; the
//     endpoint sees the node's address as the source (kube-proxy
//     masquerades).
//   - externalTrafficPolicy Local: only the usable endpoints on this node;
//     the endpoint sees the client's address. A node without one refuses
//     the connection (kube-proxy drops it).
//   - spec.healthCheckNodePort (type LoadBalancer with policy Local): an
//     HTTP server on every node answering any path with the Service's name
//     and the number of ready endpoints on the node, 200 when there is at
//     least one and 503 when there is none, in kube-proxy's JSON.
//
// Listeners follow the Services as they change; a change leaves alone the
// connections of the ports it does not touch. A port that cannot be bound
// is logged and tried again on the next change or resync.
package nodeproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Node is one node the proxy serves.
type Node struct {
	// Name is the Node object's name; EndpointSlice endpoints whose
	// nodeName is this name are local to the node.
	Name string
	// IP is the node's VPC InternalIP. The proxy listens on the host
	// address it maps to.
	IP netip.Addr
}

// Defaults of Config's optional fields.
const (
	// DefaultUDPTimeout is Linux conntrack's nf_conntrack_udp_timeout: how
	// long an idle UDP flow that has not become a stream is kept.
	DefaultUDPTimeout = 30 * time.Second
	// DefaultUDPStreamTimeout is Linux conntrack's
	// nf_conntrack_udp_timeout_stream: how long an idle UDP flow is kept
	// once the endpoint has replied and the flow has lasted more than
	// udpStreamAfter.
	DefaultUDPStreamTimeout = 120 * time.Second
	// DefaultUDPMaxFlows bounds the UDP flow table of one listener (each
	// flow holds a socket).
	DefaultUDPMaxFlows = 1024
	// DefaultResync is how often the proxy reconciles its listeners with
	// the Services even when nothing changed (kube-proxy's iptables
	// syncPeriod), which retries the ports that could not be bound.
	DefaultResync = 30 * time.Second
	// DefaultDialTimeout bounds the dial of an endpoint.
	DefaultDialTimeout = 10 * time.Second
)

// udpStreamAfter is how long a replied UDP flow must have lasted before it
// gets the stream timeout (as Linux conntrack waits 2 s since kernel 5.0).
const udpStreamAfter = 2 * time.Second

// Config configures Run.
type Config struct {
	// Client talks to the cluster's API server. Required.
	Client kubernetes.Interface
	// Nodes are the nodes the proxy serves; at least one, with distinct
	// names and addresses.
	Nodes []Node
	// Addrs maps VPC addresses (nodes', endpoints') to the host addresses
	// the proxy listens on and dials. The zero Map uses them as they are.
	Addrs vpcaddr.Map
	// Logger receives the proxy's logs; nil discards them.
	Logger *slog.Logger

	// UDPTimeout is how long an idle UDP flow is kept before the endpoint
	// has answered (or within udpStreamAfter of its start); 0 means
	// DefaultUDPTimeout.
	UDPTimeout time.Duration
	// UDPStreamTimeout is how long an idle UDP flow is kept once it is a
	// stream; 0 means DefaultUDPStreamTimeout.
	UDPStreamTimeout time.Duration
	// UDPMaxFlows bounds the flows of one UDP listener; 0 means
	// DefaultUDPMaxFlows. When the table is full, the idle flow the
	// endpoint never answered is evicted, else the new flow's datagram is
	// dropped (as conntrack's early drop).
	UDPMaxFlows int
	// Resync is the period of a full reconcile; 0 means DefaultResync.
	Resync time.Duration
	// DialTimeout bounds the dial of an endpoint; 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
}

// validate checks the configuration and fills in the defaults.
func (c *Config) validate() error {
	if c.Client == nil {
		return errors.New("node proxy: no Kubernetes client")
	}
	if len(c.Nodes) == 0 {
		return errors.New("node proxy: no nodes")
	}
	names := map[string]bool{}
	hosts := map[netip.Addr]string{}
	for i, n := range c.Nodes {
		if n.Name == "" {
			return fmt.Errorf("node proxy: node %d: no name", i)
		}
		if names[n.Name] {
			return fmt.Errorf("node proxy: node %q listed twice", n.Name)
		}
		names[n.Name] = true
		if !n.IP.IsValid() {
			return fmt.Errorf("node proxy: node %q: no IP address", n.Name)
		}
		h := c.Addrs.ToHost(n.IP)
		if other, ok := hosts[h]; ok {
			return fmt.Errorf("node proxy: nodes %q and %q have the same host address %s", other, n.Name, h)
		}
		hosts[h] = n.Name
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"UDPTimeout", &c.UDPTimeout, DefaultUDPTimeout},
		{"UDPStreamTimeout", &c.UDPStreamTimeout, DefaultUDPStreamTimeout},
		{"Resync", &c.Resync, DefaultResync},
		{"DialTimeout", &c.DialTimeout, DefaultDialTimeout},
	} {
		if *d.v < 0 {
			return fmt.Errorf("node proxy: %s %s is negative; give a positive duration or 0 for the default %s", d.name, *d.v, d.def)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.UDPMaxFlows < 0 {
		return fmt.Errorf("node proxy: UDPMaxFlows %d is negative; give a positive number or 0 for the default %d", c.UDPMaxFlows, DefaultUDPMaxFlows)
	}
	if c.UDPMaxFlows == 0 {
		c.UDPMaxFlows = DefaultUDPMaxFlows
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// byServiceIndex indexes EndpointSlices by "namespace/service".
const byServiceIndex = "service"

// Run serves the nodes until ctx ends, then closes every listener and
// connection and returns nil. It returns an error only for an invalid
// Config.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	factory := informers.NewSharedInformerFactory(cfg.Client, 0)
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	if err := slices.Informer().AddIndexers(cache.Indexers{byServiceIndex: sliceServiceKey}); err != nil {
		return fmt.Errorf("node proxy: EndpointSlice index: %w", err)
	}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	if _, err := services.Informer().AddEventHandler(handler); err != nil {
		return fmt.Errorf("node proxy: Service handler: %w", err)
	}
	if _, err := slices.Informer().AddEventHandler(handler); err != nil {
		return fmt.Errorf("node proxy: EndpointSlice handler: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	p := newProxy(ctx, cfg)
	defer p.closeAll()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			cfg.Logger.Error("node proxy: informer cache did not sync", "type", typ.String())
		}
	}
	cfg.Logger.Info("node proxy running", "nodes", len(cfg.Nodes))

	ticker := time.NewTicker(cfg.Resync)
	defer ticker.Stop()
	for {
		svcs, err := services.Lister().List(labels.Everything())
		if err != nil {
			cfg.Logger.Error("node proxy: list Services", "error", err)
		} else {
			p.reconcile(computeState(cfg.Nodes, cfg.Addrs, svcs, slicesOf(slices.Informer().GetIndexer())))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-ticker.C:
		}
	}
}

// sliceServiceKey is the byServiceIndex function.
func sliceServiceKey(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + name}, nil
}

// slicesOf returns a lookup of a Service's EndpointSlices in the indexer.
func slicesOf(idx cache.Indexer) func(svc *corev1.Service) []*discoveryv1.EndpointSlice {
	return func(svc *corev1.Service) []*discoveryv1.EndpointSlice {
		objs, err := idx.ByIndex(byServiceIndex, svc.Namespace+"/"+svc.Name)
		if err != nil {
			return nil
		}
		out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
		for _, o := range objs {
			if s, ok := o.(*discoveryv1.EndpointSlice); ok {
				out = append(out, s)
			}
		}
		return out
	}
}
