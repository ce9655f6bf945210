// Package agent is the node agent of `elbow dev`: it plays the kubelet of
// every node of the dev cluster and the scheduler.
//
// One agent serves all nodes. It registers a Node object per configured
// node (as EKS shows them: provider ID, zone and instance-type labels, VPC
// InternalIP), binds unscheduled pods to nodes (node selector, required node
// affinity, taints and tolerations, host ports, spreading), and runs every
// container of every pod bound to its nodes as the built-in echo server
// (internal/devenv/echo) on the host loopback address its pod IP maps to.
// Pod IPs come from the node's subnet, as the AWS VPC CNI gives them, and
// pod status is written the way a kubelet writes it, leaving alone the
// conditions others own (readiness gates).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/elbowlb/elbow/internal/devenv/podnet"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Node is one node of the dev cluster, as the local ELB knows its EC2
// instance.
type Node struct {
	// Name is the Node object's name, for example ip-10-0-128-10.ec2.internal.
	Name string
	// Zone is the availability zone, for example us-east-1a.
	Zone string
	// InstanceID is the EC2 instance the local ELB knows for this node.
	InstanceID string
	// IP is the node's VPC InternalIP, inside Subnet.
	IP netip.Addr
	// Subnet is the node's private subnet; pod IPs come from it, as the AWS
	// VPC CNI gives them. Nodes of one zone may share a subnet.
	Subnet netip.Prefix
}

// Config configures Run.
type Config struct {
	// Client talks to the dev cluster's API server.
	Client kubernetes.Interface
	// Nodes are the nodes the agent registers and serves.
	Nodes []Node
	// Region labels the nodes (topology.kubernetes.io/region); default us-east-1.
	Region string
	// Addrs maps VPC addresses to the host addresses pods listen on.
	Addrs vpcaddr.Map
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// ENIs, when set, puts every pod address on a network interface of its
	// node's EC2 instance as a secondary private address, as the AWS VPC
	// CNI does, and takes it off when the pod goes.
	ENIs *podnet.Pool
	// DataDir is where pods' volumes are written, as the kubelet's
	// /var/lib/kubelet (DataDir/pods/UID/volumes/NAME); by default a
	// temporary directory removed when Run returns.
	DataDir string
}

// ManagedLabel marks the Node objects the agent created, so that a later run
// can delete those no longer configured.
const ManagedLabel = "elbow.dev/managed"

// DefaultSchedulerName is the scheduler name whose pods the agent schedules
// (as does a pod that names none).
const DefaultSchedulerName = corev1.DefaultSchedulerName

// heartbeat is how often node status is refreshed.
const heartbeat = 30 * time.Second

// podWorkers is how many pods are synced at once.
const podWorkers = 4

// Run registers the nodes, then schedules pods and runs those bound to the
// nodes until ctx ends; then it stops every server it runs and returns nil.
// Node objects are left in place, so that a run on the same cluster reuses
// them, and so are pod statuses and addresses: a new run serves the same
// pods at the same addresses. Run returns an error only for a bad Config.
func Run(ctx context.Context, cfg Config) error {
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

// validate checks a Config and fills in defaults.
func (cfg *Config) validate() error {
	if cfg.Client == nil {
		return errors.New("node agent: Config.Client is required")
	}
	if len(cfg.Nodes) == 0 {
		return errors.New("node agent: Config.Nodes is empty; at least one node is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	names := map[string]bool{}
	ips := map[netip.Addr]string{}
	for i, n := range cfg.Nodes {
		switch {
		case n.Name == "":
			return fmt.Errorf("node agent: node %d: Name is required", i)
		case names[n.Name]:
			return fmt.Errorf("node agent: node %q is configured twice", n.Name)
		case n.Zone == "":
			return fmt.Errorf("node agent: node %q: Zone is required (for example us-east-1a)", n.Name)
		case n.InstanceID == "":
			return fmt.Errorf("node agent: node %q: InstanceID is required (i-...)", n.Name)
		case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet != n.Subnet.Masked() || n.Subnet.Bits() > 28:
			return fmt.Errorf("node agent: node %q: Subnet %s is not an IPv4 network prefix of /28 or larger (for example 10.0.128.0/19)", n.Name, n.Subnet)
		case !n.IP.IsValid() || !usable(n.Subnet, n.IP):
			return fmt.Errorf("node agent: node %q: IP %s is not a usable address of its subnet %s (AWS reserves the first four and the last)", n.Name, n.IP, n.Subnet)
		}
		if other, dup := ips[n.IP]; dup {
			return fmt.Errorf("node agent: nodes %q and %q have the same IP %s", other, n.Name, n.IP)
		}
		names[n.Name] = true
		ips[n.IP] = n.Name
	}
	return nil
}

// agent is one Run.
type agent struct {
	client kubernetes.Interface
	addrs  vpcaddr.Map
	region string
	log    *slog.Logger
	nodes  map[string]*Node // by name
	order  []*Node          // as configured

	podLister       corelisters.PodLister
	nodeLister      corelisters.NodeLister
	secretLister    corelisters.SecretLister
	configMapLister corelisters.ConfigMapLister

	// dataDir holds the pods' volumes.
	dataDir string

	schedQ workqueue.TypedRateLimitingInterface[string] // pod keys to schedule
	podQ   workqueue.TypedRateLimitingInterface[string] // pod keys on our nodes to sync
	nodeQ  workqueue.TypedRateLimitingInterface[string] // node names to register / heartbeat

	events         record.EventBroadcaster
	schedRecorder  record.EventRecorder
	kubeletRecords map[string]record.EventRecorder // by node name

	ips  *ipam
	enis *podnet.Pool // nil: pod addresses are not put on EC2 interfaces

	kubeletVersion string

	// ctx is Run's context, the parent of every pod's servers.
	ctx context.Context

	mu            sync.Mutex
	assumed       map[types.UID]assumedPod // bound by us, not yet seen bound
	unschedulable map[string]bool          // keys of pods that fit no node
	runtimes      map[string]*podRuntime   // by pod key
}

func newAgent(cfg Config) (*agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &agent{
		client:         cfg.Client,
		addrs:          cfg.Addrs,
		region:         cfg.Region,
		log:            cfg.Logger,
		nodes:          map[string]*Node{},
		kubeletRecords: map[string]record.EventRecorder{},
		assumed:        map[types.UID]assumedPod{},
		unschedulable:  map[string]bool{},
		runtimes:       map[string]*podRuntime{},
		enis:           cfg.ENIs,
		dataDir:        cfg.DataDir,
	}
	var reserved []netip.Addr
	for i := range cfg.Nodes {
		n := cfg.Nodes[i]
		a.nodes[n.Name] = &n
		a.order = append(a.order, &n)
		reserved = append(reserved, n.IP)
	}
	a.ips = newIPAM(reserved)
	return a, nil
}

func (a *agent) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.ctx = ctx
	if a.dataDir == "" {
		dir, err := os.MkdirTemp("", "elbow-agent-")
		if err != nil {
			return fmt.Errorf("node agent: data directory: %w", err)
		}
		a.dataDir = dir
		defer os.RemoveAll(dir)
	}

	a.events = record.NewBroadcaster(record.WithContext(ctx))
	a.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	defer a.events.Shutdown()
	a.schedRecorder = a.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: DefaultSchedulerName})
	for name := range a.nodes {
		a.kubeletRecords[name] = a.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: name})
	}

	a.kubeletVersion = a.discoverVersion()
	if err := a.registerNodes(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	rl := func() workqueue.TypedRateLimiter[string] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second)
	}
	a.schedQ = workqueue.NewTypedRateLimitingQueue(rl())
	a.podQ = workqueue.NewTypedRateLimitingQueue(rl())
	a.nodeQ = workqueue.NewTypedRateLimitingQueue(rl())

	factory := informers.NewSharedInformerFactory(a.client, 0)
	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	a.podLister = podInformer.Lister()
	a.nodeLister = nodeInformer.Lister()
	secretInformer := factory.Core().V1().Secrets()
	configMapInformer := factory.Core().V1().ConfigMaps()
	a.secretLister = secretInformer.Lister()
	a.configMapLister = configMapInformer.Lister()
	objectHandler := func(secret bool) cache.ResourceEventHandlerFuncs {
		changed := func(obj any) { a.objectChanged(secret, obj) }
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    changed,
			UpdateFunc: func(_, obj any) { changed(obj) },
			DeleteFunc: changed,
		}
	}
	secretReg, err := secretInformer.Informer().AddEventHandler(objectHandler(true))
	if err != nil {
		return fmt.Errorf("node agent: secret informer: %w", err)
	}
	configMapReg, err := configMapInformer.Informer().AddEventHandler(objectHandler(false))
	if err != nil {
		return fmt.Errorf("node agent: configmap informer: %w", err)
	}
	podReg, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podAdded(obj) },
		UpdateFunc: func(old, obj any) { a.podUpdated(old, obj) },
		DeleteFunc: func(obj any) { a.podDeleted(obj) },
	})
	if err != nil {
		return fmt.Errorf("node agent: pod informer: %w", err)
	}
	nodeReg, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.nodeChanged(nil, obj) },
		UpdateFunc: func(old, obj any) { a.nodeChanged(old, obj) },
		DeleteFunc: func(obj any) { a.nodeDeleted(obj) },
	})
	if err != nil {
		return fmt.Errorf("node agent: node informer: %w", err)
	}
	factory.Start(ctx.Done())

	var workers sync.WaitGroup
	defer func() {
		a.schedQ.ShutDown()
		a.podQ.ShutDown()
		a.nodeQ.ShutDown()
		workers.Wait()
		factory.Shutdown()
		a.stopAll()
	}()

	// Every pod's address is known (the handlers reserved them) before the
	// first address is handed out.
	if !cache.WaitForCacheSync(ctx.Done(), podReg.HasSynced, nodeReg.HasSynced, secretReg.HasSynced, configMapReg.HasSynced) {
		return nil
	}
	a.removeStalePodDirs()
	a.log.Info("node agent started", "nodes", len(a.nodes))
	a.releaseStrayAddresses(ctx)

	workers.Go(func() { a.work(ctx, a.schedQ, "schedule", a.schedule) })
	workers.Go(func() { a.work(ctx, a.nodeQ, "node", a.syncNode) })
	for range podWorkers {
		workers.Go(func() { a.work(ctx, a.podQ, "pod", a.syncPod) })
	}
	// A node deleted between its registration and the informer's first
	// list has no delete event: register it again now, not a heartbeat
	// later.
	for _, n := range a.order {
		if _, err := a.nodeLister.Get(n.Name); apierrors.IsNotFound(err) {
			a.log.Info("node gone since its registration; registering it again", "node", n.Name)
			a.nodeQ.Add(n.Name)
			continue
		}
		a.nodeQ.AddAfter(n.Name, heartbeat)
	}
	// Unschedulable pods are retried on every change that may free room,
	// and once a minute in case a change went unseen.
	workers.Go(func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.retryUnschedulable()
			}
		}
	})
	<-ctx.Done()
	a.log.Info("node agent stopping")
	return nil
}

// work runs sync for the keys of q until q shuts down. A failed key is
// retried with backoff.
func (a *agent) work(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], what string, sync func(context.Context, string) error) {
	for {
		key, shutdown := q.Get()
		if shutdown {
			return
		}
		err := sync(ctx, key)
		switch {
		case err == nil:
			q.Forget(key)
		case ctx.Err() != nil:
			q.Forget(key)
		default:
			if !errors.Is(err, errRetry) {
				a.log.Warn("sync failed; retrying", "queue", what, "key", key, "error", err)
			}
			q.AddRateLimited(key)
		}
		q.Done(key)
	}
}

// errRetry asks for a retry with backoff without logging a failure (the
// cause is already reported).
var errRetry = errors.New("retry")

// ourNode returns the configured node of that name, or nil.
func (a *agent) ourNode(name string) *Node {
	if name == "" {
		return nil
	}
	return a.nodes[name]
}

// podKey is the queue key of a pod: namespace/name.
func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// podFrom returns the pod of an informer event, unwrapping tombstones.
func podFrom(obj any) *corev1.Pod {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o
	case cache.DeletedFinalStateUnknown:
		p, _ := o.Obj.(*corev1.Pod)
		return p
	}
	return nil
}

// nodeFrom returns the node of an informer event, unwrapping tombstones.
func nodeFrom(obj any) *corev1.Node {
	switch o := obj.(type) {
	case *corev1.Node:
		return o
	case cache.DeletedFinalStateUnknown:
		n, _ := o.Obj.(*corev1.Node)
		return n
	}
	return nil
}
