// Package bindings applies a deployed stack's TargetGroupBindings to the
// cluster: it creates the bindings the stack wants, updates those whose
// spec, labels or annotations differ, and deletes the stack's bindings it
// no longer wants, matching by target group ARN and finding the stack's
// bindings by the reference controller's stack labels.
package bindings

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	elbv2api "github.com/elbowlb/elbow/api/elbv2/v1beta1"
	"github.com/elbowlb/elbow/internal/stack"
)

// desired renders a stack binding as the object to write.
func desired(s *stack.Stack, b *stack.TargetGroupBinding) (*elbv2api.TargetGroupBinding, error) {
	t := b.Spec.Template
	arn, err := s.Resolve(t.Spec.TargetGroupARN)
	if err != nil {
		return nil, fmt.Errorf("binding %s/%s: %w", t.Namespace, t.Name, err)
	}
	labels := map[string]string{}
	for k, v := range t.Labels {
		labels[k] = v
	}
	for k, v := range s.StackLabels() {
		labels[k] = v
	}
	out := &elbv2api.TargetGroupBinding{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   t.Namespace,
			Name:        t.Name,
			Labels:      labels,
			Annotations: t.Annotations,
		},
		Spec: elbv2api.TargetGroupBindingSpec{
			TargetGroupARN:          arn,
			TargetType:              t.Spec.TargetType,
			ServiceRef:              t.Spec.ServiceRef,
			NodeSelector:            t.Spec.NodeSelector,
			VpcID:                   t.Spec.VpcID,
			MultiClusterTargetGroup: t.Spec.MultiClusterTargetGroup,
		},
	}
	if t.Spec.IPAddressType != "" {
		ipt := t.Spec.IPAddressType
		out.Spec.IPAddressType = &ipt
	}
	if t.Spec.TargetGroupProtocol != nil {
		p := elbv2api.TargetGroupProtocol(*t.Spec.TargetGroupProtocol)
		out.Spec.TargetGroupProtocol = &p
	}
	if n := t.Spec.Networking; n != nil {
		net := &elbv2api.TargetGroupBindingNetworking{}
		for _, rule := range n.Ingress {
			r := elbv2api.NetworkingIngressRule{Ports: rule.Ports}
			for _, peer := range rule.From {
				p := elbv2api.NetworkingPeer{IPBlock: peer.IPBlock}
				if peer.SecurityGroup != nil {
					id, err := s.Resolve(peer.SecurityGroup.GroupID)
					if err != nil {
						return nil, fmt.Errorf("binding %s/%s: networking: %w", t.Namespace, t.Name, err)
					}
					p.SecurityGroup = &elbv2api.SecurityGroup{GroupID: id}
				}
				r.From = append(r.From, p)
			}
			net.Ingress = append(net.Ingress, r)
		}
		out.Spec.Networking = net
	}
	return out, nil
}

// Result says what Apply changed.
type Result struct {
	Created, Updated, Deleted []string
}

// Changed reports whether Apply wrote anything.
func (r Result) Changed() bool { return len(r.Created)+len(r.Updated)+len(r.Deleted) > 0 }

// Apply makes the cluster's bindings of stack s match the stack's. A stack
// without bindings deletes them all. Bindings being deleted are left to
// their finalizer; Apply reports them as still present through Pending.
func Apply(ctx context.Context, c client.Client, s *stack.Stack) (Result, error) {
	var res Result
	var list elbv2api.TargetGroupBindingList
	if err := c.List(ctx, &list, client.MatchingLabels(s.StackLabels())); err != nil {
		return res, fmt.Errorf("target group bindings of stack %s: %w", s.ID, err)
	}
	existing := map[string]*elbv2api.TargetGroupBinding{}
	for i := range list.Items {
		existing[list.Items[i].Spec.TargetGroupARN] = &list.Items[i]
	}
	ids := make([]string, 0, len(s.TargetGroupBindings))
	for id := range s.TargetGroupBindings {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	wanted := map[string]bool{}
	for _, id := range ids {
		want, err := desired(s, s.TargetGroupBindings[id])
		if err != nil {
			return res, err
		}
		wanted[want.Spec.TargetGroupARN] = true
		cur := existing[want.Spec.TargetGroupARN]
		key := want.Namespace + "/" + want.Name
		if cur == nil {
			if err := c.Create(ctx, want); err != nil {
				return res, fmt.Errorf("create target group binding %s: %w", key, err)
			}
			res.Created = append(res.Created, key)
			continue
		}
		if cur.DeletionTimestamp != nil {
			return res, fmt.Errorf("target group binding %s is being deleted; waiting before it is created again", key)
		}
		if sameSpec(cur.Spec, want.Spec) && reflect.DeepEqual(nonEmpty(cur.Labels), nonEmpty(want.Labels)) && reflect.DeepEqual(nonEmpty(cur.Annotations), nonEmpty(want.Annotations)) {
			continue
		}
		upd := cur.DeepCopy()
		upd.Labels = want.Labels
		upd.Annotations = want.Annotations
		upd.Spec = mergeSpec(cur.Spec, want.Spec)
		if err := c.Update(ctx, upd); err != nil {
			return res, fmt.Errorf("update target group binding %s: %w", key, err)
		}
		res.Updated = append(res.Updated, key)
	}
	for arn, cur := range existing {
		if wanted[arn] || cur.DeletionTimestamp != nil {
			continue
		}
		if err := c.Delete(ctx, cur); err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("delete target group binding %s/%s: %w", cur.Namespace, cur.Name, err)
		}
		res.Deleted = append(res.Deleted, cur.Namespace+"/"+cur.Name)
	}
	sort.Strings(res.Deleted)
	return res, nil
}

// Remaining returns the stack's bindings still in the cluster (being
// deleted or not).
func Remaining(ctx context.Context, c client.Reader, s *stack.Stack) ([]string, error) {
	var list elbv2api.TargetGroupBindingList
	if err := c.List(ctx, &list, client.MatchingLabels(s.StackLabels())); err != nil {
		return nil, fmt.Errorf("target group bindings of stack %s: %w", s.ID, err)
	}
	var out []string
	for _, b := range list.Items {
		out = append(out, b.Namespace+"/"+b.Name)
	}
	sort.Strings(out)
	return out, nil
}

// sameSpec compares the fields the stack sets; fields the stack leaves
// empty and the mutating webhook filled (target type, IP address type, VPC,
// protocol) count as equal.
func sameSpec(cur, want elbv2api.TargetGroupBindingSpec) bool {
	return reflect.DeepEqual(cur, mergeSpec(cur, want))
}

// mergeSpec is want with the webhook-defaulted fields the stack leaves
// empty kept from cur.
func mergeSpec(cur, want elbv2api.TargetGroupBindingSpec) elbv2api.TargetGroupBindingSpec {
	out := *want.DeepCopy()
	if out.TargetType == nil {
		out.TargetType = cur.TargetType
	}
	if out.IPAddressType == nil {
		out.IPAddressType = cur.IPAddressType
	}
	if out.VpcID == "" {
		out.VpcID = cur.VpcID
	}
	if out.TargetGroupProtocol == nil {
		out.TargetGroupProtocol = cur.TargetGroupProtocol
	}
	if out.TargetGroupName == "" {
		out.TargetGroupName = cur.TargetGroupName
	}
	return out
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
