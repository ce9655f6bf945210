package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	gwaws "github.com/elbowlb/elbow/api/gateway/v1"
	"github.com/elbowlb/elbow/internal/translate"
	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// groupAWS is the API group of the reference controller's configurations.
const groupAWS = "gateway.k8s.aws"

// load reads the world translation needs: every Gateway API object and
// configuration (from the cache), the Services and namespaces, and the
// Secrets listeners and ListenerRuleConfigurations name (read directly,
// not cached).
func (c *Config) load(ctx context.Context) (trgw.Input, error) {
	var in trgw.Input
	var classes gwv1.GatewayClassList
	if err := c.Client.List(ctx, &classes); err != nil {
		return in, fmt.Errorf("list GatewayClasses: %w", err)
	}
	var gws gwv1.GatewayList
	if err := c.Client.List(ctx, &gws); err != nil {
		return in, fmt.Errorf("list Gateways: %w", err)
	}
	in.GatewayClasses, in.Gateways = classes.Items, gws.Items
	if c.Kinds.ALB {
		var hrs gwv1.HTTPRouteList
		if err := c.Client.List(ctx, &hrs); err != nil {
			return in, fmt.Errorf("list HTTPRoutes: %w", err)
		}
		var grs gwv1.GRPCRouteList
		if err := c.Client.List(ctx, &grs); err != nil {
			return in, fmt.Errorf("list GRPCRoutes: %w", err)
		}
		in.HTTPRoutes, in.GRPCRoutes = hrs.Items, grs.Items
	}
	if c.Kinds.NLB {
		var tcp gwv1.TCPRouteList
		if err := c.Client.List(ctx, &tcp); err != nil {
			return in, fmt.Errorf("list TCPRoutes: %w", err)
		}
		var udp gwv1.UDPRouteList
		if err := c.Client.List(ctx, &udp); err != nil {
			return in, fmt.Errorf("list UDPRoutes: %w", err)
		}
		var tls gwv1.TLSRouteList
		if err := c.Client.List(ctx, &tls); err != nil {
			return in, fmt.Errorf("list TLSRoutes: %w", err)
		}
		in.TCPRoutes, in.UDPRoutes, in.TLSRoutes = tcp.Items, udp.Items, tls.Items
	}
	if c.Kinds.ListenerSets {
		var lss gwv1.ListenerSetList
		if err := c.Client.List(ctx, &lss); err != nil {
			return in, fmt.Errorf("list ListenerSets: %w", err)
		}
		in.ListenerSets = lss.Items
	}
	switch c.Kinds.ReferenceGrantVersion {
	case "v1":
		var rgs gwv1.ReferenceGrantList
		if err := c.Client.List(ctx, &rgs); err != nil {
			return in, fmt.Errorf("list ReferenceGrants: %w", err)
		}
		in.ReferenceGrants = rgs.Items
	case "v1beta1":
		var rgs gwv1beta1.ReferenceGrantList
		if err := c.Client.List(ctx, &rgs); err != nil {
			return in, fmt.Errorf("list ReferenceGrants: %w", err)
		}
		for _, g := range rgs.Items {
			in.ReferenceGrants = append(in.ReferenceGrants, gwv1.ReferenceGrant(g))
		}
	}
	var lbcs gwaws.LoadBalancerConfigurationList
	if err := c.Client.List(ctx, &lbcs); err != nil {
		return in, fmt.Errorf("list LoadBalancerConfigurations: %w", err)
	}
	var tgcs gwaws.TargetGroupConfigurationList
	if err := c.Client.List(ctx, &tgcs); err != nil {
		return in, fmt.Errorf("list TargetGroupConfigurations: %w", err)
	}
	var lrcs gwaws.ListenerRuleConfigurationList
	if err := c.Client.List(ctx, &lrcs); err != nil {
		return in, fmt.Errorf("list ListenerRuleConfigurations: %w", err)
	}
	in.LoadBalancerConfigurations, in.TargetGroupConfigurations, in.ListenerRuleConfigurations = lbcs.Items, tgcs.Items, lrcs.Items
	var svcs corev1.ServiceList
	if err := c.Client.List(ctx, &svcs); err != nil {
		return in, fmt.Errorf("list Services: %w", err)
	}
	in.Services = svcs.Items
	var nss corev1.NamespaceList
	if err := c.Client.List(ctx, &nss); err != nil {
		return in, fmt.Errorf("list Namespaces: %w", err)
	}
	in.Namespaces = nss.Items
	refs := referencedSecrets(&in)
	for _, k := range refs {
		s, err := c.secret(ctx, k)
		if err != nil {
			return in, fmt.Errorf("secret %s: %w", k, err)
		}
		if s != nil {
			in.Secrets = append(in.Secrets, *s)
		}
	}
	c.secrets.keep(refs)
	f, err := c.Facts.Facts(ctx, false)
	if err != nil {
		return in, fmt.Errorf("cloud facts: %w", err)
	}
	in.Facts = f
	return in, nil
}

// secret returns a Secret (nil when it does not exist). Its data is read
// from the API server only when its resourceVersion, which the metadata
// cache of the Secret watch holds, changed since the last read: Secrets
// are not cached whole, and every reconcile reads the world.
func (c *Config) secret(ctx context.Context, k types.NamespacedName) (*corev1.Secret, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	switch err := c.Client.Get(ctx, k, m); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if s := c.secrets.get(k, m.ResourceVersion); s != nil {
		return s, nil
	}
	s := &corev1.Secret{}
	switch err := c.APIReader.Get(ctx, k, s); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	c.secrets.put(k, s)
	return s, nil
}

// secretCache holds the Secrets last read, by namespace/name.
type secretCache struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*corev1.Secret
}

// get returns the Secret read before if it is at resourceVersion rv.
func (c *secretCache) get(k types.NamespacedName, rv string) *corev1.Secret {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[k]; s != nil && s.ResourceVersion == rv {
		return s
	}
	return nil
}

func (c *secretCache) put(k types.NamespacedName, s *corev1.Secret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[types.NamespacedName]*corev1.Secret{}
	}
	c.m[k] = s
}

// keep forgets the Secrets not among keys.
func (c *secretCache) keep(keys []types.NamespacedName) {
	want := make(map[types.NamespacedName]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if !want[k] {
			delete(c.m, k)
		}
	}
}

// build loads the world, resolves the names it refers to and translates
// it. It returns the input too, for the callers that look objects up.
// The result is the callers' own: the Gateway reconciler deploys its
// stack, which fills the stack's status.
func (c *Config) build(ctx context.Context) (trgw.Input, trgw.Result, error) {
	in, err := c.load(ctx)
	if err != nil {
		return in, trgw.Result{}, err
	}
	return c.translate(ctx, in)
}

// buildShared is build for callers that only read the result (status of
// routes, classes and configurations): a world unchanged since the last
// such build (same objects at the same resourceVersions, same facts) is
// not translated again, and the result is shared.
func (c *Config) buildShared(ctx context.Context) (trgw.Input, trgw.Result, error) {
	in, err := c.load(ctx)
	if err != nil {
		return in, trgw.Result{}, err
	}
	key := fingerprint(&in)
	if in, res, ok := c.memo.get(key); ok {
		return in, res, nil
	}
	in, res, err := c.translate(ctx, in)
	if err == nil {
		c.memo.put(key, in, res)
	}
	return in, res, err
}

// translate resolves the names the world refers to and translates it.
func (c *Config) translate(ctx context.Context, in trgw.Input) (trgw.Input, trgw.Result, error) {
	in.Options = c.Options
	in.Off = c.off()
	if c.Lookup != nil {
		if err := c.resolve(ctx, &in); err != nil {
			return in, trgw.Result{}, err
		}
	}
	if in.Options.BackendSecurityGroupID == "" {
		in.Options.BackendSecurityGroupID = c.backendSG.get()
	}
	res := trgw.Build(in)
	if err := fatal(res); err != nil {
		return in, res, err
	}
	if c.BackendSG != nil && in.Options.BackendSecurityGroupID == "" && needsBackendSG(res) {
		// Created on first need, then known to every later build.
		id, err := c.BackendSG.ID(ctx)
		if err != nil {
			return in, res, fmt.Errorf("backend security group: %w", err)
		}
		c.backendSG.set(id)
		in.Options.BackendSecurityGroupID = id
		res = trgw.Build(in)
	}
	return in, res, nil
}

func needsBackendSG(res trgw.Result) bool {
	for _, g := range res.Gateways {
		if g.BackendSecurityGroup {
			return true
		}
	}
	return false
}

// knownID is an ID learned once and read by concurrent reconciles.
type knownID struct {
	mu sync.Mutex
	id string
}

func (k *knownID) get() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.id
}

func (k *knownID) set(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.id = id
}

// fatal returns the error of a translation that could not start (bad
// options, unreadable facts): it concerns every object.
func fatal(res trgw.Result) error {
	for _, d := range res.Diagnostics {
		if d.Severity == translate.Error && (d.Object.Kind == "Options" || d.Object.Kind == "Facts") {
			return errors.New(d.Message)
		}
	}
	return nil
}

// resolve fills the options' references with the ARNs of the target
// groups and trust stores the objects name.
func (c *Config) resolve(ctx context.Context, in *trgw.Input) error {
	tgs, stores := referencedNames(in)
	refs := in.Options.References
	if len(tgs) > 0 {
		refs.TargetGroups = map[string]string{}
		for _, n := range tgs {
			arn, err := c.Lookup.TargetGroupARN(ctx, n)
			if err != nil {
				return fmt.Errorf("target group %q: %w", n, err)
			}
			if arn != "" {
				refs.TargetGroups[n] = arn
			}
		}
	}
	if len(stores) > 0 {
		refs.TrustStores = map[string]string{}
		for _, n := range stores {
			arn, err := c.Lookup.TrustStoreARN(ctx, n)
			if err != nil {
				return fmt.Errorf("trust store %q: %w", n, err)
			}
			if arn != "" {
				refs.TrustStores[n] = arn
			}
		}
	}
	in.Options.References = refs
	return nil
}

// referencedNames lists the target group names of backendRefs of kind
// TargetGroupName and the trust store names (not ARNs) of
// LoadBalancerConfigurations' mutual authentication.
func referencedNames(in *trgw.Input) (targetGroups, trustStores []string) {
	tgs, stores := map[string]bool{}, map[string]bool{}
	addRefs := func(refs []gwv1.BackendRef) {
		for _, r := range refs {
			if r.Kind != nil && string(*r.Kind) == "TargetGroupName" {
				tgs[string(r.Name)] = true
			}
		}
	}
	for _, r := range in.HTTPRoutes {
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				addRefs([]gwv1.BackendRef{b.BackendRef})
			}
		}
	}
	for _, r := range in.GRPCRoutes {
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				addRefs([]gwv1.BackendRef{b.BackendRef})
			}
		}
	}
	for i := range in.TCPRoutes {
		_, _, refs, _ := l4Route(&in.TCPRoutes[i])
		addRefs(refs)
	}
	for i := range in.UDPRoutes {
		_, _, refs, _ := l4Route(&in.UDPRoutes[i])
		addRefs(refs)
	}
	for i := range in.TLSRoutes {
		_, _, refs, _ := l4Route(&in.TLSRoutes[i])
		addRefs(refs)
	}
	for _, lbc := range in.LoadBalancerConfigurations {
		if lbc.Spec.ListenerConfigurations == nil {
			continue
		}
		for _, l := range *lbc.Spec.ListenerConfigurations {
			if m := l.MutualAuthentication; m != nil && m.TrustStore != nil && *m.TrustStore != "" && !strings.HasPrefix(*m.TrustStore, "arn:") {
				stores[*m.TrustStore] = true
			}
		}
	}
	return translate.SortedKeys(tgs), translate.SortedKeys(stores)
}

// referencedSecrets lists the Secrets listeners name in certificateRefs
// (of Gateways and ListenerSets) and ListenerRuleConfigurations name for
// OIDC client credentials.
func referencedSecrets(in *trgw.Input) []types.NamespacedName {
	set := map[types.NamespacedName]bool{}
	for _, gw := range in.Gateways {
		for _, l := range gw.Spec.Listeners {
			addCertRefs(set, gw.Namespace, l.TLS)
		}
	}
	for _, ls := range in.ListenerSets {
		for _, l := range ls.Spec.Listeners {
			addCertRefs(set, ls.Namespace, l.TLS)
		}
	}
	for _, lrc := range in.ListenerRuleConfigurations {
		for _, n := range lrcSecrets(&lrc) {
			set[types.NamespacedName{Namespace: lrc.Namespace, Name: n}] = true
		}
	}
	out := make([]types.NamespacedName, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// addCertRefs adds the Secrets of a listener's certificateRefs.
func addCertRefs(set map[types.NamespacedName]bool, ns string, tls *gwv1.ListenerTLSConfig) {
	for _, k := range certSecrets(ns, tls) {
		set[k] = true
	}
}

// certSecrets returns the Secrets of a listener's certificateRefs.
func certSecrets(ns string, tls *gwv1.ListenerTLSConfig) []types.NamespacedName {
	if tls == nil {
		return nil
	}
	var out []types.NamespacedName
	for _, ref := range tls.CertificateRefs {
		if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
			continue
		}
		n := ns
		if ref.Namespace != nil && *ref.Namespace != "" {
			n = string(*ref.Namespace)
		}
		out = append(out, types.NamespacedName{Namespace: n, Name: string(ref.Name)})
	}
	return out
}

// lrcSecrets returns the names of the Secrets (in its namespace) a
// ListenerRuleConfiguration's authenticate-oidc actions name.
func lrcSecrets(lrc *gwaws.ListenerRuleConfiguration) []string {
	var out []string
	for _, a := range lrc.Spec.Actions {
		if c := a.AuthenticateOIDCConfig; c != nil && c.Secret != nil && c.Secret.Name != "" {
			out = append(out, c.Secret.Name)
		}
	}
	return out
}

// fingerprint identifies a loaded world: every object of every list of
// the input (GatewayClasses through Namespaces, whichever kinds are
// loaded) by kind, namespace, name and resourceVersion, and the facts (a
// refresh makes new ones). The lists are found by reflection, so that a
// kind added to the input cannot be left out of the key and serve a stale
// translation.
func fingerprint(in *trgw.Input) string {
	h := sha256.New()
	fmt.Fprintf(h, "facts %p\n", in.Facts)
	hashObjects(h, reflect.ValueOf(in).Elem())
	return hex.EncodeToString(h.Sum(nil))
}

var metaObject = reflect.TypeFor[metav1.Object]()

// hashObjects writes to h every object of the slices of API objects in the
// struct v and in the structs it embeds.
func hashObjects(h io.Writer, v reflect.Value) {
	for i := range v.NumField() {
		f, ft := v.Field(i), v.Type().Field(i)
		switch {
		case ft.Anonymous && f.Kind() == reflect.Struct:
			hashObjects(h, f)
		case f.Kind() == reflect.Slice && reflect.PointerTo(ft.Type.Elem()).Implements(metaObject):
			for j := range f.Len() {
				o := f.Index(j).Addr().Interface().(metav1.Object)
				fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", ft.Name, o.GetNamespace(), o.GetName(), o.GetResourceVersion())
			}
		}
	}
}

// buildMemo holds the last shared build: the world's fingerprint and the
// translation.
type buildMemo struct {
	mu  sync.Mutex
	key string
	in  trgw.Input
	res trgw.Result
}

func (m *buildMemo) get(key string) (trgw.Input, trgw.Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.in, m.res, key != "" && key == m.key
}

func (m *buildMemo) put(key string, in trgw.Input, res trgw.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.key, m.in, m.res = key, in, res
}
