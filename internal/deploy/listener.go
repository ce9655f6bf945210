package deploy

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/stack"
)

// listeners makes the load balancer's listeners (matched by port) and their
// rules the stack's; listeners the stack no longer has are deleted last.
func (r *run) listeners(ctx context.Context, lb *stack.LoadBalancer, created bool) error {
	lbARN := lb.Status.LoadBalancerARN
	cur := map[int32]elbv2types.Listener{}
	if !created {
		p := elbv2.NewDescribeListenersPaginator(r.d.elb, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN), PageSize: aws.Int32(400)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return r.fail(fmt.Errorf("DescribeListeners: %w", err))
			}
			for _, l := range page.Listeners {
				cur[aws.ToInt32(l.Port)] = l
			}
		}
	}
	want := map[int32]bool{}
	for _, l := range r.s.SortedListeners() {
		if tok := l.Spec.LoadBalancerARN; tok.IsRef() && tok.Ref.ID != lb.ResID {
			continue
		}
		want[l.Spec.Port] = true
		c, ok := cur[l.Spec.Port]
		var cp *elbv2types.Listener
		if ok {
			cp = &c
		}
		if err := r.listener(ctx, lbARN, l, cp); err != nil {
			return fmt.Errorf("listener %s:%d: %w", l.Spec.Protocol, l.Spec.Port, err)
		}
	}
	for _, port := range sortedInt32Keys(cur) {
		if want[port] {
			continue
		}
		arn := aws.ToString(cur[port].ListenerArn)
		if _, err := r.d.elb.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: aws.String(arn)}); err != nil && !isCode(err, "ListenerNotFound") {
			return r.fail(fmt.Errorf("listener %d: DeleteListener: %w", port, err))
		}
		r.changed("Listener", "deleted", "arn", arn)
	}
	return nil
}

func (r *run) listener(ctx context.Context, lbARN string, l *stack.Listener, cur *elbv2types.Listener) error {
	spec := l.Spec
	actions, err := stack.SDKActions(spec.DefaultActions, r.s.Resolve)
	if err != nil {
		return fmt.Errorf("default actions: %w", err)
	}
	certs, err := r.resolveCerts(spec.Certificates)
	if err != nil {
		return err
	}
	var defaultCert []elbv2types.Certificate
	if len(certs) > 0 {
		defaultCert = []elbv2types.Certificate{{CertificateArn: aws.String(certs[0])}}
	}
	var arn string
	existed := cur != nil
	if !existed {
		out, err := r.d.elb.CreateListener(ctx, &elbv2.CreateListenerInput{
			LoadBalancerArn: aws.String(lbARN), Port: aws.Int32(spec.Port), Protocol: elbv2types.ProtocolEnum(spec.Protocol),
			DefaultActions: actions, Certificates: defaultCert, SslPolicy: spec.SSLPolicy, AlpnPolicy: spec.ALPNPolicy,
			MutualAuthentication: sdkMutualAuth(spec.MutualAuthentication),
			Tags:                 elbv2TagList(r.desiredTags(l, spec.Tags)),
		})
		if err != nil {
			return r.fail(fmt.Errorf("CreateListener: %w", err))
		}
		arn = aws.ToString(out.Listeners[0].ListenerArn)
		r.changed("Listener", "created", "arn", arn)
	} else {
		arn = aws.ToString(cur.ListenerArn)
		if listenerDiffers(*cur, spec, actions, certs) {
			in := &elbv2.ModifyListenerInput{
				ListenerArn: aws.String(arn), Port: aws.Int32(spec.Port), Protocol: elbv2types.ProtocolEnum(spec.Protocol),
				DefaultActions: actions, Certificates: defaultCert, SslPolicy: spec.SSLPolicy, AlpnPolicy: spec.ALPNPolicy,
				MutualAuthentication: sdkMutualAuth(spec.MutualAuthentication),
			}
			if _, err := r.d.elb.ModifyListener(ctx, in); err != nil {
				return r.fail(fmt.Errorf("ModifyListener: %w", err))
			}
			r.changed("Listener", "changed", "arn", arn)
		}
	}
	l.Status = &stack.ListenerStatus{ListenerARN: arn}
	if err := r.extraCertificates(ctx, arn, certs, existed); err != nil {
		return err
	}
	if err := r.listenerAttributes(ctx, arn, spec.ListenerAttributes, existed); err != nil {
		return err
	}
	return r.rules(ctx, l, existed)
}

// listenerDiffers reports whether the listener's protocol, default
// certificate, policies or default actions differ from the desired ones.
func listenerDiffers(cur elbv2types.Listener, spec stack.ListenerSpec, actions []elbv2types.Action, certs []string) bool {
	if string(cur.Protocol) != string(spec.Protocol) {
		return true
	}
	if spec.SSLPolicy != nil && aws.ToString(cur.SslPolicy) != *spec.SSLPolicy {
		return true
	}
	if len(spec.ALPNPolicy) > 0 && !slices.Equal(cur.AlpnPolicy, spec.ALPNPolicy) {
		return true
	}
	if len(certs) > 0 && (len(cur.Certificates) == 0 || aws.ToString(cur.Certificates[0].CertificateArn) != certs[0]) {
		return true
	}
	if m := spec.MutualAuthentication; m != nil {
		c := cur.MutualAuthentication
		if c == nil || aws.ToString(c.Mode) != m.Mode || aws.ToString(c.TrustStoreArn) != aws.ToString(m.TrustStoreArn) {
			return true
		}
	}
	return canonActions(cur.DefaultActions) != canonActions(actions)
}

func sdkMutualAuth(m *stack.MutualAuthentication) *elbv2types.MutualAuthenticationAttributes {
	if m == nil {
		return nil
	}
	out := &elbv2types.MutualAuthenticationAttributes{Mode: aws.String(m.Mode), TrustStoreArn: m.TrustStoreArn}
	if m.IgnoreClientCertificateExpiry != nil {
		out.IgnoreClientCertificateExpiry = m.IgnoreClientCertificateExpiry
	}
	if m.AdvertiseTrustStoreCaNames != nil {
		out.AdvertiseTrustStoreCaNames = elbv2types.AdvertiseTrustStoreCaNamesEnum(*m.AdvertiseTrustStoreCaNames)
	}
	return out
}

func (r *run) resolveCerts(cs []stack.Certificate) ([]string, error) {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		v, err := r.s.Resolve(c.CertificateARN)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// extraCertificates makes the listener's certificate list hold every
// certificate of the listener, the default one included, as the reference
// controller does (so that the load balancer's certificate selection by
// SNI and key type sees the default certificate too, and listeners either
// controller made match without a write). The list is read back without
// the entry marked IsDefault.
func (r *run) extraCertificates(ctx context.Context, arn string, certs []string, existed bool) error {
	want := map[string]bool{}
	for _, c := range certs {
		want[c] = true
	}
	have := map[string]bool{}
	if existed && len(certs) > 0 {
		p := elbv2.NewDescribeListenerCertificatesPaginator(r.d.elb, &elbv2.DescribeListenerCertificatesInput{ListenerArn: aws.String(arn), PageSize: aws.Int32(400)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return r.fail(fmt.Errorf("DescribeListenerCertificates: %w", err))
			}
			for _, c := range page.Certificates {
				if !aws.ToBool(c.IsDefault) {
					have[aws.ToString(c.CertificateArn)] = true
				}
			}
		}
	}
	var add, remove []elbv2types.Certificate
	for _, c := range sortedKeys(want) {
		if !have[c] {
			add = append(add, elbv2types.Certificate{CertificateArn: aws.String(c)})
		}
	}
	for _, c := range sortedKeys(have) {
		if !want[c] {
			remove = append(remove, elbv2types.Certificate{CertificateArn: aws.String(c)})
		}
	}
	if len(add) > 0 {
		if _, err := r.d.elb.AddListenerCertificates(ctx, &elbv2.AddListenerCertificatesInput{ListenerArn: aws.String(arn), Certificates: add}); err != nil {
			return r.fail(fmt.Errorf("AddListenerCertificates: %w", err))
		}
	}
	if len(remove) > 0 {
		if _, err := r.d.elb.RemoveListenerCertificates(ctx, &elbv2.RemoveListenerCertificatesInput{ListenerArn: aws.String(arn), Certificates: remove}); err != nil {
			return r.fail(fmt.Errorf("RemoveListenerCertificates: %w", err))
		}
	}
	if existed && len(add)+len(remove) > 0 {
		r.changed("Listener", "changed", "arn", arn, "what", "certificates", "added", len(add), "removed", len(remove))
	}
	return nil
}

// listenerAttributes sets the desired listener attributes whose values
// differ.
func (r *run) listenerAttributes(ctx context.Context, arn string, want []stack.ListenerAttribute, existed bool) error {
	if len(want) == 0 {
		return nil
	}
	have := map[string]string{}
	if existed {
		out, err := r.d.elb.DescribeListenerAttributes(ctx, &elbv2.DescribeListenerAttributesInput{ListenerArn: aws.String(arn)})
		if err != nil {
			return r.fail(fmt.Errorf("DescribeListenerAttributes: %w", err))
		}
		for _, a := range out.Attributes {
			have[aws.ToString(a.Key)] = aws.ToString(a.Value)
		}
	}
	var attrs []elbv2types.ListenerAttribute
	for _, a := range want {
		if v, ok := have[a.Key]; !ok || v != a.Value {
			attrs = append(attrs, elbv2types.ListenerAttribute{Key: aws.String(a.Key), Value: aws.String(a.Value)})
		}
	}
	if len(attrs) == 0 {
		return nil
	}
	if _, err := r.d.elb.ModifyListenerAttributes(ctx, &elbv2.ModifyListenerAttributesInput{ListenerArn: aws.String(arn), Attributes: attrs}); err != nil {
		return r.fail(fmt.Errorf("ModifyListenerAttributes: %w", err))
	}
	if existed {
		r.changed("Listener", "changed", "arn", arn, "what", "attributes")
	}
	return nil
}

func sortedInt32Keys[V any](m map[int32]V) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
