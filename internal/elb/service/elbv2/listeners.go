package elbv2

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/service/acm"
	"github.com/elbowlb/elbow/internal/elb/service/autoprovision"
	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// alpnPolicies are the ALPN policy names of TLS listeners.
var alpnPolicies = []string{"HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred", "None"}

// listenerProtocols are the listener protocols of each load balancer type.
var listenerProtocols = map[string][]string{
	typeApplication: {"HTTP", "HTTPS"},
	typeNetwork:     {"TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC"},
}

func secureProtocol(p string) bool { return p == "HTTPS" || p == "TLS" }

// listenerSpec is a listener's settings after validation.
type listenerSpec struct {
	port       int32
	protocol   string
	certs      []state.ListenerCertificate
	sslPolicy  string
	alpn       []string
	mutualAuth *types.MutualAuthenticationAttributes
	actions    []types.Action
}

// CreateListener creates a listener, or returns the existing one on the
// port when its settings are the same (API_CreateListener).
func (s *Service) CreateListener(ctx context.Context, in *sdk.CreateListenerInput) (*sdk.CreateListenerOutput, error) {
	if in.LoadBalancerArn == nil {
		return nil, missing("loadBalancerArn")
	}
	if in.DefaultActions == nil {
		return nil, missing("defaultActions")
	}
	if err := s.checkTags(in.Tags); err != nil {
		return nil, err
	}
	var out *state.Listener
	err := s.updateProvisioning(ctx, "CreateListener", in.LoadBalancerArn, func(tx *state.Tx, req *autoprovision.Request) error {
		lb, err := getLB(tx, *in.LoadBalancerArn)
		if err != nil {
			return err
		}
		spec := listenerSpec{protocol: string(in.Protocol), port: i32(in.Port), sslPolicy: str(in.SslPolicy), alpn: in.AlpnPolicy}
		if err := checkListenerPortProtocol(lb, in.Port, spec.protocol); err != nil {
			return err
		}
		if err := s.checkListenerTLS(tx, req, lb, &spec, in.Certificates, in.SslPolicy != nil, in.AlpnPolicy != nil, in.MutualAuthentication); err != nil {
			return err
		}
		existing, err := listenersOf(tx, lb.ARN)
		if err != nil {
			return err
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		ac := &actionContext{tx: tx, lb: lb, protocol: spec.protocol, use: use, limits: s.limits}
		if spec.actions, err = ac.check(in.DefaultActions, true); err != nil {
			return err
		}
		for _, l := range existing {
			if l.Port == spec.port {
				if sameListener(l, &spec) {
					out = l
					return nil
				}
				return errf(codeDuplicateListener, "A listener already exists on this port for this load balancer '%s'", lb.ARN)
			}
		}
		max := s.limits.ListenersPerALB
		if lb.Type == typeNetwork {
			max = s.limits.ListenersPerNLB
		} else if lb.Type == typeGateway {
			max = 1
		}
		if len(existing) >= max {
			return errf(codeTooManyListeners, "You've reached the limit on the number of listeners per load balancer (%d)", max)
		}
		if err := checkUniqueTargetGroups(tx, lb, "", spec.actions, s.limits); err != nil {
			return err
		}
		if lb.Type == typeNetwork && lb.IPAddressType == dualstack && udpLike(spec.protocol) && lb.EnablePrefixForIPv6SourceNat != "on" {
			return errf(codeInvalidConfiguration, "A %s listener on a dualstack Network Load Balancer needs IPv6 source NAT prefixes (EnablePrefixForIpv6SourceNat on)", spec.protocol)
		}
		l := &state.Listener{
			ARN:                  listenerARN(lb.ARN, s.newID()),
			LoadBalancerARN:      lb.ARN,
			Port:                 spec.port,
			Protocol:             spec.protocol,
			SSLPolicy:            spec.sslPolicy,
			Certificates:         spec.certs,
			AlpnPolicy:           spec.alpn,
			DefaultActions:       spec.actions,
			MutualAuthentication: spec.mutualAuth,
			Attributes:           defaultAttrs(listenerAttrSpecs(lb.Type, spec.protocol)),
		}
		l.DefaultRuleARN = ruleARN(l.ARN, s.newID())
		if err := state.Put(tx, state.Listeners, l); err != nil {
			return err
		}
		out = l
		return s.putNewTags(tx, l.ARN, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.CreateListenerOutput{Listeners: []types.Listener{renderListener(out)}}, nil
}

// checkListenerPortProtocol checks a listener's port and protocol against
// its load balancer's type.
func checkListenerPortProtocol(lb *state.LoadBalancer, port *int32, protocol string) error {
	if lb.Type == typeGateway {
		if port != nil || protocol != "" {
			return validation("A port and a protocol cannot be specified for Gateway Load Balancer listeners")
		}
		return nil
	}
	if protocol == "" {
		return missing("protocol")
	}
	if !slices.Contains(listenerProtocols[lb.Type], protocol) {
		return errf(codeUnsupportedProtocol, "The protocol '%s' is not supported by load balancers of type '%s'; use %s", protocol, lb.Type, strings.Join(listenerProtocols[lb.Type], ", "))
	}
	if port == nil {
		return missing("port")
	}
	if *port < 1 || *port > 65535 {
		return outOfRange("port", int64(*port), 1, 65535)
	}
	return nil
}

// checkListenerTLS validates the certificate, SSL policy, ALPN policy and
// mutual authentication of a listener spec, filling defaults.
func (s *Service) checkListenerTLS(tx *state.Tx, req *autoprovision.Request, lb *state.LoadBalancer, spec *listenerSpec, certs []types.Certificate, policyGiven, alpnGiven bool, mutual *types.MutualAuthenticationAttributes) error {
	if !secureProtocol(spec.protocol) {
		switch {
		case len(certs) > 0:
			return validation("Certificates can only be specified for HTTPS and TLS listeners")
		case policyGiven:
			return validation("An SSL policy can only be specified for HTTPS and TLS listeners")
		case alpnGiven:
			return validation("An ALPN policy can only be specified for TLS listeners")
		case mutual != nil:
			return validation("Mutual authentication can only be configured for HTTPS listeners")
		}
		spec.certs, spec.sslPolicy, spec.alpn, spec.mutualAuth = nil, "", nil, nil
		return nil
	}
	switch {
	case len(certs) == 1:
		if certs[0].IsDefault != nil {
			return validation("Do not set IsDefault when specifying a listener's certificate")
		}
		arn := str(certs[0].CertificateArn)
		if err := s.resolveCert(tx, req, arn, "Certificates[0].CertificateArn"); err != nil {
			return err
		}
		// The certificate list stays as it is, whatever it holds.
		rest := slices.DeleteFunc(slices.Clone(spec.certs), func(c state.ListenerCertificate) bool { return c.Default })
		spec.certs = append([]state.ListenerCertificate{{ARN: arn, Default: true}}, rest...)
	case len(certs) == 0 && spec.certs != nil:
		// ModifyListener without certificates keeps the listener's.
	default:
		return validation("You must provide exactly one certificate for %s listeners", spec.protocol)
	}
	if spec.sslPolicy == "" {
		spec.sslPolicy = sslpolicy.Default
	}
	p, ok := sslpolicy.Lookup(spec.sslPolicy)
	if !ok || !slices.Contains(p.SupportedLoadBalancerTypes, lb.Type) {
		return errf(codeSSLPolicyNotFound, "SSL policy '%s' not found", spec.sslPolicy)
	}
	if alpnGiven {
		if spec.protocol != "TLS" {
			return validation("An ALPN policy can only be specified for TLS listeners")
		}
		if len(spec.alpn) != 1 {
			return validation("You can specify one ALPN policy")
		}
		if !slices.Contains(alpnPolicies, spec.alpn[0]) {
			return errf(codeALPNPolicyNotFound, "ALPN policy '%s' not found", spec.alpn[0])
		}
	}
	if mutual != nil {
		if spec.protocol != "HTTPS" {
			return validation("Mutual authentication can only be configured for HTTPS listeners")
		}
		m := *mutual
		mode := str(m.Mode)
		switch mode {
		case "":
			mode = "off"
		case "off", "passthrough", "verify":
		default:
			return validation("Mutual authentication mode '%s' is not valid; use off, passthrough or verify", mode)
		}
		m.Mode = ptr(mode)
		if mode == "verify" {
			arn := str(m.TrustStoreArn)
			if arn == "" {
				return validation("A trust store is required for mutual authentication in verify mode")
			}
			if err := checkARN(arn, kindTrustStore); err != nil {
				return err
			}
			ts, ok, err := state.Get(tx, state.TrustStores, arn)
			if err != nil {
				return err
			}
			if !ok {
				return errf(codeTrustStoreNotFound, "Trust store '%s' not found", arn)
			}
			if ts.Status != string(types.TrustStoreStatusActive) {
				return errf(codeTrustStoreNotReady, "Trust store '%s' is not ready (%s)", arn, ts.Status)
			}
			if m.IgnoreClientCertificateExpiry == nil {
				m.IgnoreClientCertificateExpiry = ptr(false)
			}
			if m.AdvertiseTrustStoreCaNames == "" {
				m.AdvertiseTrustStoreCaNames = types.AdvertiseTrustStoreCaNamesEnumOff
			}
			m.TrustStoreAssociationStatus = ""
		} else if m.TrustStoreArn != nil || m.IgnoreClientCertificateExpiry != nil {
			return validation("A trust store and certificate expiry handling can only be specified in verify mode")
		}
		spec.mutualAuth = &m
	} else if spec.protocol == "HTTPS" && spec.mutualAuth == nil {
		spec.mutualAuth = &types.MutualAuthenticationAttributes{Mode: ptr("off")}
	}
	if spec.protocol != "HTTPS" {
		spec.mutualAuth = nil
	}
	if spec.protocol != "TLS" {
		spec.alpn = nil
	}
	return nil
}

// resolveCert checks that ACM holds an issued certificate with the ARN;
// with AutoProvision a missing ACM certificate is issued by the local CA.
func (s *Service) resolveCert(tx *state.Tx, req *autoprovision.Request, arn, parameter string) error {
	if arn == "" {
		return missing("certificates.member.certificateArn")
	}
	c, ok, err := state.Get(tx, state.Certificates, arn)
	if err != nil {
		return err
	}
	if !ok && s.autoProv {
		if c, _, err = acm.ProvisionReference(tx, req, arn, parameter, acm.AutoProvisionDomain(s.DNSDomain()), s.now()); err != nil {
			return awserr.Internal(fmt.Errorf("auto-provision certificate %s: %v", arn, err))
		}
		ok = c != nil
	}
	if !ok {
		return certNotFound(arn)
	}
	if c.Status != "ISSUED" {
		return errf(codeInvalidConfiguration, "Certificate '%s' is not issued (status %s)", arn, c.Status)
	}
	return nil
}

// sameListener reports whether an existing listener has a spec's settings.
func sameListener(l *state.Listener, spec *listenerSpec) bool {
	if l.Protocol != spec.protocol || l.SSLPolicy != spec.sslPolicy || !slices.Equal(l.AlpnPolicy, spec.alpn) {
		return false
	}
	def := func(cs []state.ListenerCertificate) string {
		for _, c := range cs {
			if c.Default {
				return c.ARN
			}
		}
		return ""
	}
	return def(l.Certificates) == def(spec.certs) && jsonEqual(l.DefaultActions, spec.actions) && jsonEqual(l.MutualAuthentication, spec.mutualAuth)
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// renderListener returns a listener in the API's shape: the default
// certificate only, without IsDefault.
func renderListener(l *state.Listener) types.Listener {
	out := types.Listener{
		ListenerArn:     ptr(l.ARN),
		LoadBalancerArn: ptr(l.LoadBalancerARN),
		DefaultActions:  cloneActions(l.DefaultActions),
	}
	if l.Protocol != "" {
		out.Protocol = types.ProtocolEnum(l.Protocol)
		out.Port = ptr(l.Port)
	}
	if l.SSLPolicy != "" {
		out.SslPolicy = ptr(l.SSLPolicy)
	}
	for _, c := range l.Certificates {
		if c.Default {
			out.Certificates = []types.Certificate{{CertificateArn: ptr(c.ARN)}}
		}
	}
	if len(l.AlpnPolicy) > 0 {
		out.AlpnPolicy = slices.Clone(l.AlpnPolicy)
	}
	if l.MutualAuthentication != nil {
		m := *l.MutualAuthentication
		out.MutualAuthentication = &m
	}
	return out
}

// cloneActions deep-copies actions, so that callers never share the
// stored values.
func cloneActions(as []types.Action) []types.Action { return deepCopy(as) }

// deepCopy copies a value of SDK types through JSON (the state's own
// encoding of them).
func deepCopy[T any](v T) T {
	var out T
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// listenersOf returns a load balancer's listeners by port.
func listenersOf(tx *state.Tx, lbARN string) ([]*state.Listener, error) {
	var out []*state.Listener
	prefix := strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/"
	err := state.ForEachPrefix(tx, state.Listeners, prefix, func(l *state.Listener) error {
		if l.LoadBalancerARN == lbARN {
			out = append(out, l)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *state.Listener) int { return int(a.Port) - int(b.Port) })
	return out, err
}

// rulesOf returns a listener's rules by priority.
func rulesOf(tx *state.Tx, listenerARN string) ([]*state.Rule, error) {
	var out []*state.Rule
	prefix := strings.Replace(listenerARN, ":listener/", ":listener-rule/", 1) + "/"
	err := state.ForEachPrefix(tx, state.Rules, prefix, func(r *state.Rule) error {
		if r.ListenerARN == listenerARN {
			out = append(out, r)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *state.Rule) int { return int(a.Priority) - int(b.Priority) })
	return out, err
}

// getListener reads a listener or returns ListenerNotFound.
func getListener(tx *state.Tx, arn string) (*state.Listener, error) {
	if err := checkARN(arn, kindListener); err != nil {
		return nil, err
	}
	l, ok, err := state.Get(tx, state.Listeners, arn)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, listenerNotFound(arn)
	}
	return l, nil
}

// deleteListener removes a listener with its rules and all their tags.
func deleteListener(tx *state.Tx, l *state.Listener) error {
	rules, err := rulesOf(tx, l.ARN)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if _, err := state.Delete(tx, state.Rules, r.ARN); err != nil {
			return err
		}
		if _, err := state.Delete(tx, state.Tags, r.ARN); err != nil {
			return err
		}
	}
	for _, arn := range []string{l.ARN, l.DefaultRuleARN} {
		if _, err := state.Delete(tx, state.Tags, arn); err != nil {
			return err
		}
	}
	_, err = state.Delete(tx, state.Listeners, l.ARN)
	return err
}

// DeleteListener deletes a listener and its rules (API_DeleteListener).
func (s *Service) DeleteListener(ctx context.Context, in *sdk.DeleteListenerInput) (*sdk.DeleteListenerOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	err := s.update(ctx, "DeleteListener", in.ListenerArn, func(tx *state.Tx) error {
		l, err := getListener(tx, *in.ListenerArn)
		if err != nil {
			return err
		}
		return deleteListener(tx, l)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DeleteListenerOutput{}, nil
}

// ModifyListener replaces the given properties of a listener
// (API_ModifyListener).
func (s *Service) ModifyListener(ctx context.Context, in *sdk.ModifyListenerInput) (*sdk.ModifyListenerOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	var out *state.Listener
	err := s.updateProvisioning(ctx, "ModifyListener", in.ListenerArn, func(tx *state.Tx, req *autoprovision.Request) error {
		l, err := getListener(tx, *in.ListenerArn)
		if err != nil {
			return err
		}
		lb, err := getLB(tx, l.LoadBalancerARN)
		if err != nil {
			return err
		}
		spec := listenerSpec{port: l.Port, protocol: l.Protocol, certs: l.Certificates, sslPolicy: l.SSLPolicy, alpn: l.AlpnPolicy, mutualAuth: l.MutualAuthentication}
		if in.Protocol != "" {
			spec.protocol = string(in.Protocol)
		}
		if in.Port != nil {
			spec.port = *in.Port
		}
		if in.Port != nil || in.Protocol != "" {
			var port *int32
			if lb.Type != typeGateway {
				port = &spec.port
			}
			if err := checkListenerPortProtocol(lb, port, spec.protocol); err != nil {
				return err
			}
		}
		if secureProtocol(spec.protocol) && !secureProtocol(l.Protocol) {
			spec.certs, spec.sslPolicy, spec.alpn, spec.mutualAuth = nil, "", nil, nil
		}
		if in.SslPolicy != nil {
			spec.sslPolicy = *in.SslPolicy
		}
		if in.AlpnPolicy != nil {
			spec.alpn = in.AlpnPolicy
		}
		if err := s.checkListenerTLS(tx, req, lb, &spec, in.Certificates, in.SslPolicy != nil, in.AlpnPolicy != nil, in.MutualAuthentication); err != nil {
			return err
		}
		if !secureProtocol(spec.protocol) {
			spec.certs = nil
		}
		others, err := listenersOf(tx, lb.ARN)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ARN != l.ARN && o.Port == spec.port && lb.Type != typeGateway {
				return errf(codeDuplicateListener, "A listener already exists on this port for this load balancer '%s'", lb.ARN)
			}
		}
		use, err := targetGroupUsage(tx)
		if err != nil {
			return err
		}
		actions := l.DefaultActions
		if in.DefaultActions != nil {
			actions = in.DefaultActions
		}
		ac := &actionContext{tx: tx, lb: lb, protocol: spec.protocol, use: use, limits: s.limits}
		if spec.actions, err = ac.check(actions, true); err != nil {
			return err
		}
		if err := checkUniqueTargetGroups(tx, lb, l.DefaultRuleARN, spec.actions, s.limits); err != nil {
			return err
		}
		if spec.protocol != l.Protocol {
			rules, err := rulesOf(tx, l.ARN)
			if err != nil {
				return err
			}
			for _, r := range rules {
				if _, err := ac.check(r.Actions, false); err != nil {
					return fmt.Errorf("rule %s: %w", r.ARN, err)
				}
			}
			l.Attributes = rebaseAttrs(listenerAttrSpecs(lb.Type, spec.protocol), l.Attributes)
		}
		l.Port, l.Protocol, l.Certificates, l.SSLPolicy = spec.port, spec.protocol, spec.certs, spec.sslPolicy
		l.AlpnPolicy, l.MutualAuthentication, l.DefaultActions = spec.alpn, spec.mutualAuth, spec.actions
		out = l
		return state.Put(tx, state.Listeners, l)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.ModifyListenerOutput{Listeners: []types.Listener{renderListener(out)}}, nil
}

// DescribeListeners lists the listeners of a load balancer, or those named
// by ARN, paginated (API_DescribeListeners).
func (s *Service) DescribeListeners(ctx context.Context, in *sdk.DescribeListenersInput) (*sdk.DescribeListenersOutput, error) {
	if (in.LoadBalancerArn == nil) == (len(in.ListenerArns) == 0) {
		return nil, validation("You must specify either a load balancer ARN or listener ARNs")
	}
	var ls []*state.Listener
	err := s.view(ctx, func(tx *state.Tx) error {
		if in.LoadBalancerArn != nil {
			if _, err := getLB(tx, *in.LoadBalancerArn); err != nil {
				return err
			}
			var err error
			ls, err = listenersOf(tx, *in.LoadBalancerArn)
			return err
		}
		for _, arn := range dedupe(in.ListenerArns) {
			if err := checkARN(arn, kindListener); err != nil {
				return err
			}
			l, ok, err := state.Get(tx, state.Listeners, arn)
			if err != nil {
				return err
			}
			if !ok {
				return errf(codeListenerNotFound, "One or more listeners not found")
			}
			ls = append(ls, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(s.tokens.Scope("DescribeListeners"), ls, func(l *state.Listener) string { return fmt.Sprintf("%05d %s", l.Port, l.ARN) }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeListenersOutput{Listeners: make([]types.Listener, 0, len(page)), NextMarker: next}
	for _, l := range page {
		out.Listeners = append(out.Listeners, renderListener(l))
	}
	return out, nil
}

// DescribeListenerCertificates lists a listener's default certificate
// (IsDefault) and its certificate list; a default certificate also in the
// list shows twice (API_DescribeListenerCertificates).
func (s *Service) DescribeListenerCertificates(ctx context.Context, in *sdk.DescribeListenerCertificatesInput) (*sdk.DescribeListenerCertificatesOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	var l *state.Listener
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		l, err = getListener(tx, *in.ListenerArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The default certificate first, then the others in order added.
	type keyed struct {
		key  string
		cert state.ListenerCertificate
	}
	items := make([]keyed, len(l.Certificates))
	n := 0
	for _, c := range l.Certificates {
		if c.Default {
			items[n] = keyed{fmt.Sprintf("%05d", n), c}
			n++
		}
	}
	for _, c := range l.Certificates {
		if !c.Default {
			items[n] = keyed{fmt.Sprintf("%05d", n), c}
			n++
		}
	}
	page, next, err := paginate(s.tokens.Scope("DescribeListenerCertificates"), items[:n], func(k keyed) string { return k.key }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &sdk.DescribeListenerCertificatesOutput{Certificates: []types.Certificate{}, NextMarker: next}
	for _, k := range page {
		out.Certificates = append(out.Certificates, types.Certificate{CertificateArn: ptr(k.cert.ARN), IsDefault: ptr(k.cert.Default)})
	}
	return out, nil
}

// AddListenerCertificates adds certificates to an HTTPS or TLS listener's
// certificate list, the default certificate's too; certificates the list
// has already are not added again (API_AddListenerCertificates).
func (s *Service) AddListenerCertificates(ctx context.Context, in *sdk.AddListenerCertificatesInput) (*sdk.AddListenerCertificatesOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	if len(in.Certificates) == 0 {
		return nil, missing("certificates")
	}
	var added []types.Certificate
	err := s.updateProvisioning(ctx, "AddListenerCertificates", in.ListenerArn, func(tx *state.Tx, req *autoprovision.Request) error {
		l, err := getListener(tx, *in.ListenerArn)
		if err != nil {
			return err
		}
		if !secureProtocol(l.Protocol) {
			return validation("Certificates can only be added to HTTPS and TLS listeners")
		}
		for i, c := range in.Certificates {
			if c.IsDefault != nil && *c.IsDefault {
				return validation("A default certificate cannot be added with AddListenerCertificates; use ModifyListener")
			}
			arn := str(c.CertificateArn)
			if err := s.resolveCert(tx, req, arn, fmt.Sprintf("Certificates[%d].CertificateArn", i)); err != nil {
				return err
			}
			added = append(added, types.Certificate{CertificateArn: ptr(arn), IsDefault: ptr(false)})
			// The default certificate is apart from the list: adding its
			// ARN puts it in the list too (DescribeListenerCertificates
			// then shows it twice, as AWS does).
			if slices.ContainsFunc(l.Certificates, func(lc state.ListenerCertificate) bool { return lc.ARN == arn && !lc.Default }) {
				continue
			}
			l.Certificates = append(l.Certificates, state.ListenerCertificate{ARN: arn})
		}
		if err := s.checkCertificateQuota(tx, l); err != nil {
			return err
		}
		return state.Put(tx, state.Listeners, l)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.AddListenerCertificatesOutput{Certificates: added}, nil
}

// checkCertificateQuota counts the non-default certificates of all the
// listeners of a listener's load balancer, the listener as modified.
func (s *Service) checkCertificateQuota(tx *state.Tx, l *state.Listener) error {
	ls, err := listenersOf(tx, l.LoadBalancerARN)
	if err != nil {
		return err
	}
	n := 0
	for _, o := range ls {
		if o.ARN == l.ARN {
			o = l
		}
		for _, c := range o.Certificates {
			if !c.Default {
				n++
			}
		}
	}
	if n > s.limits.CertificatesPerLoadBalancer {
		return errf(codeTooManyCertificates, "You've reached the limit on the number of certificates per load balancer (%d)", s.limits.CertificatesPerLoadBalancer)
	}
	return nil
}

// RemoveListenerCertificates removes certificates from a listener's
// certificate list; the default certificate, apart from the list, cannot
// be removed (API_RemoveListenerCertificates).
func (s *Service) RemoveListenerCertificates(ctx context.Context, in *sdk.RemoveListenerCertificatesInput) (*sdk.RemoveListenerCertificatesOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	if len(in.Certificates) == 0 {
		return nil, missing("certificates")
	}
	err := s.update(ctx, "RemoveListenerCertificates", in.ListenerArn, func(tx *state.Tx) error {
		l, err := getListener(tx, *in.ListenerArn)
		if err != nil {
			return err
		}
		for _, c := range in.Certificates {
			arn := str(c.CertificateArn)
			if arn == "" {
				return missing("certificates.member.certificateArn")
			}
			// The list entry goes; the default certificate, apart from the
			// list, cannot be removed.
			inList := slices.ContainsFunc(l.Certificates, func(lc state.ListenerCertificate) bool { return lc.ARN == arn && !lc.Default })
			isDefault := slices.ContainsFunc(l.Certificates, func(lc state.ListenerCertificate) bool { return lc.ARN == arn && lc.Default })
			if isDefault && !inList {
				return errf(codeOperationNotPermitted, "The default certificate '%s' cannot be removed from a listener", arn)
			}
			l.Certificates = slices.DeleteFunc(l.Certificates, func(lc state.ListenerCertificate) bool { return lc.ARN == arn && !lc.Default })
		}
		return state.Put(tx, state.Listeners, l)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.RemoveListenerCertificatesOutput{}, nil
}

// DescribeListenerAttributes returns every attribute of a listener's
// protocol, defaults included (API_DescribeListenerAttributes).
func (s *Service) DescribeListenerAttributes(ctx context.Context, in *sdk.DescribeListenerAttributesInput) (*sdk.DescribeListenerAttributesOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	var l *state.Listener
	var lbType string
	err := s.view(ctx, func(tx *state.Tx) error {
		var err error
		if l, err = getListener(tx, *in.ListenerArn); err != nil {
			return err
		}
		lb, err := getLB(tx, l.LoadBalancerARN)
		lbType = typeOf(lb)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sdk.DescribeListenerAttributesOutput{Attributes: listenerAttrList(lbType, l)}, nil
}

func typeOf(lb *state.LoadBalancer) string {
	if lb == nil {
		return ""
	}
	return lb.Type
}

func listenerAttrList(lbType string, l *state.Listener) []types.ListenerAttribute {
	m := rebaseAttrs(listenerAttrSpecs(lbType, l.Protocol), l.Attributes)
	out := make([]types.ListenerAttribute, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, types.ListenerAttribute{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}

// ModifyListenerAttributes changes attributes of a listener and returns
// all of them (API_ModifyListenerAttributes).
func (s *Service) ModifyListenerAttributes(ctx context.Context, in *sdk.ModifyListenerAttributesInput) (*sdk.ModifyListenerAttributesOutput, error) {
	if in.ListenerArn == nil {
		return nil, missing("listenerArn")
	}
	if in.Attributes == nil {
		return nil, missing("attributes")
	}
	keys, values := make([]string, len(in.Attributes)), make([]string, len(in.Attributes))
	for i, a := range in.Attributes {
		keys[i], values[i] = str(a.Key), str(a.Value)
	}
	var l *state.Listener
	var lbType string
	err := s.update(ctx, "ModifyListenerAttributes", in.ListenerArn, func(tx *state.Tx) error {
		var err error
		if l, err = getListener(tx, *in.ListenerArn); err != nil {
			return err
		}
		lb, err := getLB(tx, l.LoadBalancerARN)
		if err != nil {
			return err
		}
		lbType = lb.Type
		m, err := applyAttrs("Listener", listenerAttrSpecs(lb.Type, l.Protocol), l.Attributes, keys, values)
		if err != nil {
			return err
		}
		l.Attributes = m
		return state.Put(tx, state.Listeners, l)
	})
	if err != nil {
		return nil, err
	}
	return &sdk.ModifyListenerAttributesOutput{Attributes: listenerAttrList(lbType, l)}, nil
}
