// Package stack is the desired state of one load balancer and everything
// that hangs off it: the LoadBalancer, its Listeners and ListenerRules, its
// TargetGroups and the TargetGroupBindings that fill them, its managed
// SecurityGroup, and its WAF and Shield add-ons.
//
// Translation (internal/translate) builds a Stack from Kubernetes objects and
// cloud facts; the deployer compares it with what the ELBv2 and EC2 APIs
// report and makes the calls that close the gap. Resources refer to each
// other with Tokens that resolve to status fields the deployer fills in.
//
// The JSON form of a Stack is the AWS Load Balancer Controller's stack JSON:
// the same resource type keys, resource IDs and field names
// ({"id":…,"resources":{"AWS::ElasticLoadBalancingV2::LoadBalancer":{"LoadBalancer":{"spec":{…}}}}}).
package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Tag keys the deployer uses to find what it created.
const (
	// TagCluster carries the cluster name on every resource.
	TagCluster = "elbv2.k8s.aws/cluster"
	// TagPrefixIngress prefixes the stack and resource tags of Ingress stacks.
	TagPrefixIngress = "ingress.k8s.aws"
	// TagPrefixService prefixes the stack and resource tags of Service stacks.
	TagPrefixService = "service.k8s.aws"
	// TagPrefixGatewayALB prefixes the stack and resource tags of the stacks
	// of Gateways of the ALB GatewayClass controller.
	TagPrefixGatewayALB = "gateway.k8s.aws.alb"
	// TagPrefixGatewayNLB prefixes the stack and resource tags of the stacks
	// of Gateways of the NLB GatewayClass controller.
	TagPrefixGatewayNLB = "gateway.k8s.aws.nlb"
)

// ID identifies a stack: "namespace/name" for a Service or an implicit
// IngressGroup, the group name (empty namespace) for an explicit one.
type ID struct {
	Namespace string
	Name      string
}

// String returns "namespace/name", or the name alone when the namespace is empty.
func (id ID) String() string {
	if id.Namespace == "" {
		return id.Name
	}
	return id.Namespace + "/" + id.Name
}

// Resource is a member of a stack.
type Resource interface {
	// Type is the resource type, one of the Type constants.
	Type() string
	// ID is the resource ID, unique within its type.
	ID() string
}

// Stack is the desired state of one load balancer. The maps are keyed by
// resource ID; use New to make one and Add to fill it.
type Stack struct {
	ID ID
	// TagPrefix is the prefix of the stack and resource tags
	// (TagPrefixIngress, TagPrefixService, TagPrefixGatewayALB or
	// TagPrefixGatewayNLB).
	TagPrefix string

	LoadBalancers           map[string]*LoadBalancer
	Listeners               map[string]*Listener
	ListenerRules           map[string]*ListenerRule
	TargetGroups            map[string]*TargetGroup
	TargetGroupBindings     map[string]*TargetGroupBinding
	SecurityGroups          map[string]*SecurityGroup
	WAFv2Associations       map[string]*WAFv2Association
	WAFRegionalAssociations map[string]*WAFRegionalAssociation
	ShieldProtections       map[string]*ShieldProtection
	// ImportedCertificates are certificates imported into ACM from Secrets
	// (Gateway listener certificateRefs).
	ImportedCertificates map[string]*ImportedCertificate
	// FrontendNLB is present in every Ingress stack and nil in Service stacks.
	FrontendNLB *FrontendNLBTargetGroups
}

// New returns an empty stack.
func New(id ID, tagPrefix string) *Stack {
	return &Stack{
		ID:                      id,
		TagPrefix:               tagPrefix,
		LoadBalancers:           map[string]*LoadBalancer{},
		Listeners:               map[string]*Listener{},
		ListenerRules:           map[string]*ListenerRule{},
		TargetGroups:            map[string]*TargetGroup{},
		TargetGroupBindings:     map[string]*TargetGroupBinding{},
		SecurityGroups:          map[string]*SecurityGroup{},
		WAFv2Associations:       map[string]*WAFv2Association{},
		WAFRegionalAssociations: map[string]*WAFRegionalAssociation{},
		ShieldProtections:       map[string]*ShieldProtection{},
		ImportedCertificates:    map[string]*ImportedCertificate{},
	}
}

// Add adds a resource; a second resource of the same type and ID is an error.
func (s *Stack) Add(r Resource) error {
	dup := func(exists bool) error {
		if exists {
			return fmt.Errorf("stack %s: %s %q already exists", s.ID, r.Type(), r.ID())
		}
		return nil
	}
	switch r := r.(type) {
	case *LoadBalancer:
		_, ok := s.LoadBalancers[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.LoadBalancers[r.ResID] = r
	case *Listener:
		_, ok := s.Listeners[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.Listeners[r.ResID] = r
	case *ListenerRule:
		_, ok := s.ListenerRules[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.ListenerRules[r.ResID] = r
	case *TargetGroup:
		_, ok := s.TargetGroups[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.TargetGroups[r.ResID] = r
	case *TargetGroupBinding:
		_, ok := s.TargetGroupBindings[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.TargetGroupBindings[r.ResID] = r
	case *SecurityGroup:
		_, ok := s.SecurityGroups[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.SecurityGroups[r.ResID] = r
	case *WAFv2Association:
		_, ok := s.WAFv2Associations[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.WAFv2Associations[r.ResID] = r
	case *WAFRegionalAssociation:
		_, ok := s.WAFRegionalAssociations[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.WAFRegionalAssociations[r.ResID] = r
	case *ShieldProtection:
		_, ok := s.ShieldProtections[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.ShieldProtections[r.ResID] = r
	case *ImportedCertificate:
		_, ok := s.ImportedCertificates[r.ResID]
		if err := dup(ok); err != nil {
			return err
		}
		s.ImportedCertificates[r.ResID] = r
	case *FrontendNLBTargetGroups:
		if err := dup(s.FrontendNLB != nil); err != nil {
			return err
		}
		s.FrontendNLB = r
	default:
		return fmt.Errorf("stack %s: unknown resource type %T", s.ID, r)
	}
	return nil
}

// typeOrder is the order Resources lists types in: dependencies first.
var typeOrder = []string{
	TypeImportedCertificate, TypeSecurityGroup, TypeTargetGroup, TypeLoadBalancer, TypeListener, TypeListenerRule,
	TypeTargetGroupBinding, TypeWAFv2WebACLAssociation, TypeWAFRegionalWebACLAssociation,
	TypeShieldProtection, TypeFrontendNLBTargetGroup,
}

// byType returns the resources of each non-empty type, keyed by type and ID.
func (s *Stack) byType() map[string]map[string]Resource {
	out := map[string]map[string]Resource{}
	put := func(r Resource) {
		m := out[r.Type()]
		if m == nil {
			m = map[string]Resource{}
			out[r.Type()] = m
		}
		m[r.ID()] = r
	}
	for _, r := range s.LoadBalancers {
		put(r)
	}
	for _, r := range s.Listeners {
		put(r)
	}
	for _, r := range s.ListenerRules {
		put(r)
	}
	for _, r := range s.TargetGroups {
		put(r)
	}
	for _, r := range s.TargetGroupBindings {
		put(r)
	}
	for _, r := range s.SecurityGroups {
		put(r)
	}
	for _, r := range s.WAFv2Associations {
		put(r)
	}
	for _, r := range s.WAFRegionalAssociations {
		put(r)
	}
	for _, r := range s.ShieldProtections {
		put(r)
	}
	for _, r := range s.ImportedCertificates {
		put(r)
	}
	if s.FrontendNLB != nil {
		put(s.FrontendNLB)
	}
	return out
}

// Resources lists every resource, dependencies first (imported
// certificates, security groups and target groups, then load balancers, listeners, rules, bindings, add-ons),
// and within a type by ID (listeners by port, rules by port and priority).
func (s *Stack) Resources() []Resource {
	all := s.byType()
	var out []Resource
	for _, typ := range typeOrder {
		m := all[typ]
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
		for _, id := range ids {
			out = append(out, m[id])
		}
	}
	return out
}

// lessID orders IDs numerically where they are numbers ("80" < "443") or
// "port:priority" pairs, and as strings otherwise.
func lessID(a, b string) bool {
	pa, ra, oka := splitRuleID(a)
	pb, rb, okb := splitRuleID(b)
	if oka && okb {
		if pa != pb {
			return pa < pb
		}
		return ra < rb
	}
	return a < b
}

func splitRuleID(id string) (port, prio int, ok bool) {
	p, r, hasColon := strings.Cut(id, ":")
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, 0, false
	}
	if !hasColon {
		return port, 0, true
	}
	prio, err = strconv.Atoi(r)
	if err != nil {
		return 0, 0, false
	}
	return port, prio, true
}

// SortedListeners returns the listeners ordered by port.
func (s *Stack) SortedListeners() []*Listener {
	out := make([]*Listener, 0, len(s.Listeners))
	for _, l := range s.Listeners {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Spec.Port != out[j].Spec.Port {
			return out[i].Spec.Port < out[j].Spec.Port
		}
		return out[i].ResID < out[j].ResID
	})
	return out
}

// RulesOf returns the rules of a listener ordered by priority.
func (s *Stack) RulesOf(l *Listener) []*ListenerRule {
	var out []*ListenerRule
	for _, r := range s.ListenerRules {
		if r.Spec.ListenerARN.Ref == l.ARN().Ref {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Priority < out[j].Spec.Priority })
	return out
}

// SortedTargetGroups returns the target groups ordered by ID.
func (s *Stack) SortedTargetGroups() []*TargetGroup {
	out := make([]*TargetGroup, 0, len(s.TargetGroups))
	for _, t := range s.TargetGroups {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResID < out[j].ResID })
	return out
}

// Lookup returns the resource of a type and ID.
func (s *Stack) Lookup(typ, id string) (Resource, bool) {
	r, ok := s.byType()[typ][id]
	return r, ok
}

// Resolve returns a token's value: the literal, or the referenced status
// field once the deployer has set the status.
func (s *Stack) Resolve(t Token) (string, error) {
	if !t.IsRef() {
		return t.Value, nil
	}
	r, ok := s.Lookup(t.Ref.Type, t.Ref.ID)
	if !ok {
		return "", fmt.Errorf("stack %s: %s refers to a resource the stack does not have", s.ID, t.Ref.Pointer())
	}
	var v string
	var known bool
	switch r := r.(type) {
	case *LoadBalancer:
		if r.Status != nil {
			switch t.Ref.Field {
			case "loadBalancerARN":
				v, known = r.Status.LoadBalancerARN, true
			case "dnsName":
				v, known = r.Status.DNSName, true
			}
		}
	case *Listener:
		if r.Status != nil && t.Ref.Field == "listenerARN" {
			v, known = r.Status.ListenerARN, true
		}
	case *ListenerRule:
		if r.Status != nil && t.Ref.Field == "ruleARN" {
			v, known = r.Status.RuleARN, true
		}
	case *TargetGroup:
		if r.Status != nil && t.Ref.Field == "targetGroupARN" {
			v, known = r.Status.TargetGroupARN, true
		}
	case *SecurityGroup:
		if r.Status != nil && t.Ref.Field == "groupID" {
			v, known = r.Status.GroupID, true
		}
	case *ImportedCertificate:
		if r.Status != nil && t.Ref.Field == "certificateARN" {
			v, known = r.Status.CertificateARN, true
		}
	}
	if !known || v == "" {
		return "", fmt.Errorf("stack %s: %s is not known yet", s.ID, t.Ref.Pointer())
	}
	return v, nil
}

// StackTags are the tags every AWS resource of the stack carries: the
// cluster and the stack ID.
func (s *Stack) StackTags(clusterName string) map[string]string {
	return map[string]string{
		TagCluster:             clusterName,
		s.TagPrefix + "/stack": s.ID.String(),
	}
}

// ResourceIDTagKey is the tag key that carries a resource's ID.
func (s *Stack) ResourceIDTagKey() string { return s.TagPrefix + "/resource" }

// ResourceTags are the tags an AWS resource of the stack gets: the stack
// tags, the resource ID tag, then the resource's own tags (which cannot
// override the first two).
func (s *Stack) ResourceTags(clusterName string, r Resource, own map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range own {
		out[k] = v
	}
	for k, v := range s.StackTags(clusterName) {
		out[k] = v
	}
	out[s.ResourceIDTagKey()] = r.ID()
	return out
}

// StackLabels are the labels of the Kubernetes objects (TargetGroupBindings)
// the stack creates.
func (s *Stack) StackLabels() map[string]string {
	if s.ID.Namespace == "" {
		return map[string]string{s.TagPrefix + "/stack": s.ID.Name}
	}
	return map[string]string{
		s.TagPrefix + "/stack-namespace": s.ID.Namespace,
		s.TagPrefix + "/stack-name":      s.ID.Name,
	}
}

type schema struct {
	ID        string                            `json:"id"`
	Resources map[string]map[string]interface{} `json:"resources"`
}

// MarshalJSON writes the reference controller's stack JSON.
func (s *Stack) MarshalJSON() ([]byte, error) {
	out := schema{ID: s.ID.String(), Resources: map[string]map[string]interface{}{}}
	for typ, m := range s.byType() {
		mm := make(map[string]interface{}, len(m))
		for id, r := range m {
			mm[id] = r
		}
		out.Resources[typ] = mm
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the stack JSON MarshalJSON writes. The tag prefix is
// not part of it: it is inferred from the resources (a FrontendNLBTargetGroup
// means an Ingress stack).
func (s *Stack) UnmarshalJSON(b []byte) error {
	var in struct {
		ID        string                                `json:"id"`
		Resources map[string]map[string]json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	id := ID{Name: in.ID}
	if ns, name, ok := strings.Cut(in.ID, "/"); ok {
		id = ID{Namespace: ns, Name: name}
	}
	*s = *New(id, TagPrefixService)
	for typ, m := range in.Resources {
		for rid, raw := range m {
			var r Resource
			switch typ {
			case TypeLoadBalancer:
				r = &LoadBalancer{ResID: rid}
			case TypeListener:
				r = &Listener{ResID: rid}
			case TypeListenerRule:
				r = &ListenerRule{ResID: rid}
			case TypeTargetGroup:
				r = &TargetGroup{ResID: rid}
			case TypeTargetGroupBinding:
				r = &TargetGroupBinding{ResID: rid}
			case TypeSecurityGroup:
				r = &SecurityGroup{ResID: rid}
			case TypeWAFv2WebACLAssociation:
				r = &WAFv2Association{ResID: rid}
			case TypeWAFRegionalWebACLAssociation:
				r = &WAFRegionalAssociation{ResID: rid}
			case TypeShieldProtection:
				r = &ShieldProtection{ResID: rid}
			case TypeImportedCertificate:
				r = &ImportedCertificate{ResID: rid}
			case TypeFrontendNLBTargetGroup:
				r = &FrontendNLBTargetGroups{}
				s.TagPrefix = TagPrefixIngress
			default:
				return fmt.Errorf("stack %s: unknown resource type %q", in.ID, typ)
			}
			if err := json.Unmarshal(raw, r); err != nil {
				return fmt.Errorf("stack %s: %s %q: %w", in.ID, typ, rid, err)
			}
			if err := s.Add(r); err != nil {
				return err
			}
		}
	}
	return nil
}
