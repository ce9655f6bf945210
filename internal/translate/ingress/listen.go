package ingress

import (
	"fmt"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/elbowlb/elbow/internal/annotations"
	"github.com/elbowlb/elbow/internal/stack"
	"github.com/elbowlb/elbow/internal/translate"
)

// listenPortConfig is one listener's settings, from one member or merged.
type listenPortConfig struct {
	protocol    stack.Protocol
	inboundV4   []string
	inboundV6   []string
	prefixLists []string
	sslPolicy   *string
	certs       []string
	mtls        *stack.MutualAuthentication

	certSource, sslSource, cidrSource string
}

// memberListenPorts computes one member's listeners.
func (b *builder) memberListenPorts(m *member) (map[int32]*listenPortConfig, error) {
	var certs []string
	certSource := ""
	if m.params != nil && len(m.params.Spec.CertificateArn) > 0 {
		certs = m.params.Spec.CertificateArn
		certSource = "IngressClassParams " + m.params.Name + " spec.certificateArn"
	} else if l, ok := m.ann.StringList(annotations.IngressCertificateARN); ok && len(l) > 0 {
		certs = l
		certSource = "annotation " + annotations.IngressCertificateARN + " on " + m.ref.String()
	}
	if on, _, err := m.ann.Bool(annotations.IngressCreateACMCert); err != nil {
		return nil, err
	} else if on && len(certs) == 0 {
		if b.opts.FeatureGates.Enabled(translate.GateEnableCertificateManagement) {
			return nil, fmt.Errorf("%s: certificates created by the controller (gate EnableCertificateManagement) are not supported by elbow yet; name a certificate with %s", annotations.IngressCreateACMCert, annotations.IngressCertificateARN)
		}
		b.trace.Add(translate.Note, m.ref, "%s is ignored: it needs the feature gate EnableCertificateManagement", annotations.IngressCreateACMCert)
	}
	var sslPolicy *string
	sslSource := ""
	if m.params != nil && m.params.Spec.SSLPolicy != "" {
		p := m.params.Spec.SSLPolicy
		sslPolicy, sslSource = &p, "IngressClassParams "+m.params.Name+" spec.sslPolicy"
	} else if p, ok := m.ann.String(annotations.IngressSSLPolicy); ok {
		sslPolicy, sslSource = &p, "annotation "+annotations.IngressSSLPolicy+" on "+m.ref.String()
	}
	var prefixLists []string
	if m.params != nil && len(m.params.Spec.PrefixListsIDs) > 0 {
		prefixLists = m.params.Spec.PrefixListsIDs
	} else if m.params != nil && len(m.params.Spec.PrefixListsIDsLegacy) > 0 {
		prefixLists = m.params.Spec.PrefixListsIDsLegacy
	} else if l, ok := m.ann.StringList(annotations.IngressSecurityGroupPrefixLists); ok {
		prefixLists = l
	}
	var rawCIDRs []string
	cidrSource := ""
	fromParams := false
	if m.params != nil && len(m.params.Spec.InboundCIDRs) > 0 {
		rawCIDRs, fromParams = m.params.Spec.InboundCIDRs, true
		cidrSource = "IngressClassParams " + m.params.Name + " spec.inboundCIDRs"
	} else if l, ok := m.ann.StringList(annotations.IngressInboundCIDRs); ok {
		rawCIDRs = l
		cidrSource = "annotation " + annotations.IngressInboundCIDRs + " on " + m.ref.String()
	}
	var v4, v6 []string
	for _, c := range rawCIDRs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			if fromParams {
				return nil, fmt.Errorf("IngressClassParams %s spec.inboundCIDRs: %q is not a CIDR", m.params.Name, c)
			}
			return nil, &annotations.Error{Key: annotations.IngressInboundCIDRs, Value: m.ann[annotations.IngressInboundCIDRs], Want: "comma-separated CIDRs such as 10.0.0.0/8,2001:db8::/32", Err: fmt.Errorf("%q is not a CIDR", c)}
		}
		if strings.Contains(c, ":") {
			v6 = append(v6, c)
		} else {
			v4 = append(v4, c)
		}
	}
	var mtls map[int32]annotations.MutualAuthentication
	if raw, ok := m.ann.String(annotations.IngressMutualAuthentication); ok {
		var err error
		if mtls, err = annotations.ParseMutualAuthentication(raw); err != nil {
			return nil, err
		}
	}
	ports := annotations.ListenPorts{80: "HTTP"}
	if raw, ok := m.ann.String(annotations.IngressListenPorts); ok {
		var err error
		if ports, err = annotations.ParseListenPorts(raw); err != nil {
			return nil, err
		}
	} else if len(certs) > 0 {
		ports = annotations.ListenPorts{443: "HTTPS"}
	}
	hasHTTPS := false
	for _, p := range ports {
		if p == "HTTPS" {
			hasHTTPS = true
		}
	}
	if hasHTTPS && len(certs) == 0 {
		hosts := map[string]bool{}
		for _, r := range m.ing.Spec.Rules {
			if r.Host != "" {
				hosts[r.Host] = true
			}
		}
		for _, t := range m.ing.Spec.TLS {
			for _, h := range t.Hosts {
				hosts[h] = true
			}
		}
		hl := translate.SortedKeys(hosts)
		found, err := b.cloud.DiscoverCertificates(hl)
		if err != nil {
			return nil, fmt.Errorf("certificate discovery: %w (name one with %s, or add it to the facts)", err, annotations.IngressCertificateARN)
		}
		certs = found
		if len(hl) > 0 {
			certSource = fmt.Sprintf("discovered in ACM for the hosts %s of %s", strings.Join(hl, ", "), m.ref)
		}
	}
	out := map[int32]*listenPortConfig{}
	for _, port := range ports.Ports() {
		cfg := &listenPortConfig{protocol: stack.Protocol(ports[port]), inboundV4: v4, inboundV6: v6, prefixLists: prefixLists, cidrSource: cidrSource}
		if cfg.protocol == stack.ProtocolHTTPS {
			cfg.certs, cfg.certSource = certs, certSource
			cfg.sslPolicy, cfg.sslSource = sslPolicy, sslSource
			if e, ok := mtls[port]; ok {
				ma, err := b.mutualAuthentication(m, e)
				if err != nil {
					return nil, err
				}
				cfg.mtls = ma
			}
		}
		out[port] = cfg
	}
	return out, nil
}

func (b *builder) mutualAuthentication(m *member, e annotations.MutualAuthentication) (*stack.MutualAuthentication, error) {
	ts := *e.TrustStore
	if e.Mode == "verify" && !strings.HasPrefix(ts, "arn:") {
		arn, err := b.cloud.LookupARN("trust store", b.opts.References.TrustStores, ts, func() string {
			return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:truststore/%s/%s", b.cloud.Region(), b.cloud.Account(), ts, translate.Trunc(translate.Hash(ts), 16))
		}, translate.Source{Object: m.ref, Field: annotations.IngressMutualAuthentication}, b.trace)
		if err != nil {
			return nil, err
		}
		ts = arn
	}
	return &stack.MutualAuthentication{Mode: e.Mode, TrustStoreArn: &ts, IgnoreClientCertificateExpiry: e.IgnoreClientCertificateExpiry, AdvertiseTrustStoreCaNames: e.AdvertiseTrustStoreCaNames}, nil
}

func sameSet(a, b []string) bool {
	return reflect.DeepEqual(sortedCopy(a), sortedCopy(b))
}

func sortedCopy(a []string) []string {
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	return translate.SortedKeys(m)
}

// buildListenPortConfigs computes every member's listeners and merges them
// per port, in member order.
func (b *builder) buildListenPortConfigs() error {
	b.portMembers = map[int32][]*member{}
	b.memberPorts = map[*member]map[int32]*listenPortConfig{}
	for _, m := range b.members {
		cfgs, err := b.memberListenPorts(m)
		if err != nil {
			return blame(m, err)
		}
		b.memberPorts[m] = cfgs
		for port := range cfgs {
			b.portMembers[port] = append(b.portMembers[port], m)
		}
	}
	b.portConfigs = map[int32]*listenPortConfig{}
	ports := make([]int32, 0, len(b.portMembers))
	for port := range b.portMembers {
		ports = append(ports, port)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	for _, port := range ports {
		ms := b.portMembers[port]
		merged := &listenPortConfig{}
		var protoBy, cidrBy, plBy, sslBy, mtlsBy *member
		var v4, v6, pls []string
		defaultCertBy := -1
		for i, m := range ms {
			if c := b.memberPorts[m][port]; len(c.certs) > 0 {
				merged.certs = append(merged.certs, c.certs[0])
				merged.certSource = c.certSource
				defaultCertBy = i
				break
			}
		}
		seenCert := map[string]bool{}
		for i, m := range ms {
			c := b.memberPorts[m][port]
			if protoBy == nil {
				protoBy, merged.protocol = m, c.protocol
			} else if merged.protocol != c.protocol {
				return blame(m, fmt.Errorf("conflicting protocol on listen port %d: %s wants %s, %s wants %s", port, protoBy.ref.Key(), merged.protocol, m.ref.Key(), c.protocol))
			}
			if len(c.inboundV4)+len(c.inboundV6) > 0 {
				if cidrBy == nil {
					cidrBy, v4, v6, merged.cidrSource = m, c.inboundV4, c.inboundV6, c.cidrSource
				} else if !sameSet(v4, c.inboundV4) || !sameSet(v6, c.inboundV6) {
					return blame(m, fmt.Errorf("conflicting inbound-cidrs on listen port %d: %s wants %v, %s wants %v", port, cidrBy.ref.Key(), append(sortedCopy(v4), sortedCopy(v6)...), m.ref.Key(), append(sortedCopy(c.inboundV4), sortedCopy(c.inboundV6)...)))
				}
			}
			if len(c.prefixLists) > 0 {
				if plBy == nil {
					plBy, pls = m, c.prefixLists
				} else if !sameSet(pls, c.prefixLists) {
					return blame(m, fmt.Errorf("conflicting security-group-prefix-lists on listen port %d: %s wants %v, %s wants %v", port, plBy.ref.Key(), sortedCopy(pls), m.ref.Key(), sortedCopy(c.prefixLists)))
				}
			}
			if c.sslPolicy != nil {
				if sslBy == nil {
					sslBy, merged.sslPolicy, merged.sslSource = m, c.sslPolicy, c.sslSource
				} else if *merged.sslPolicy != *c.sslPolicy {
					return blame(m, fmt.Errorf("conflicting ssl-policy on listen port %d: %s wants %s, %s wants %s", port, sslBy.ref.Key(), *merged.sslPolicy, m.ref.Key(), *c.sslPolicy))
				}
			}
			for j, cert := range c.certs {
				if i == defaultCertBy && j == 0 {
					continue
				}
				if seenCert[cert] {
					continue
				}
				seenCert[cert] = true
				merged.certs = append(merged.certs, cert)
			}
			if c.mtls != nil {
				if mtlsBy == nil {
					mtlsBy, merged.mtls = m, c.mtls
				} else if !reflect.DeepEqual(merged.mtls, c.mtls) {
					return blame(m, fmt.Errorf("conflicting mutual-authentication on listen port %d between %s and %s", port, mtlsBy.ref.Key(), m.ref.Key()))
				}
			}
		}
		if len(v4)+len(v6)+len(pls) == 0 {
			v4, v6 = []string{"0.0.0.0/0"}, []string{"::/0"}
			merged.cidrSource = "default: open to the world (no inbound-cidrs)"
		}
		merged.inboundV4, merged.inboundV6, merged.prefixLists = sortedCopy(v4), sortedCopy(v6), sortedCopy(pls)
		if merged.protocol == stack.ProtocolHTTPS && merged.sslPolicy == nil {
			p := b.opts.DefaultSSLPolicy
			merged.sslPolicy, merged.sslSource = &p, "default --default-ssl-policy"
		}
		b.portConfigs[port] = merged
	}
	return nil
}

// buildSSLRedirect decides the group's ssl-redirect port, if any.
func (b *builder) buildSSLRedirect() error {
	var port *int32
	var by *member
	for _, m := range b.members {
		var p int32
		switch {
		case m.params != nil && m.params.Spec.SSLRedirectPort != "":
			v, err := strconv.ParseInt(m.params.Spec.SSLRedirectPort, 10, 32)
			if err != nil {
				return blame(m, fmt.Errorf("IngressClassParams %s spec.sslRedirectPort %q is not a port number", m.params.Name, m.params.Spec.SSLRedirectPort))
			}
			p = int32(v)
		default:
			v, ok, err := m.ann.Int32(annotations.IngressSSLRedirect)
			if err != nil {
				return blame(m, err)
			}
			if !ok {
				continue
			}
			p = v
		}
		if port == nil {
			port, by = &p, m
		} else if *port != p {
			return blame(m, fmt.Errorf("conflicting ssl-redirect port: %s wants %d, %s wants %d", by.ref.Key(), *port, m.ref.Key(), p))
		}
	}
	if port == nil {
		return nil
	}
	cfg, ok := b.portConfigs[*port]
	if !ok {
		return blame(by, fmt.Errorf("ssl-redirect port %d: the group has no listener on it (listen ports %v)", *port, b.listenPorts()))
	}
	if cfg.protocol != stack.ProtocolHTTPS {
		return blame(by, fmt.Errorf("ssl-redirect port %d: its listener is %s, not HTTPS", *port, cfg.protocol))
	}
	b.sslRedirectPort = port
	b.decide("ssl-redirect", strconv.Itoa(int(*port)), "set by %s: HTTP listeners redirect to HTTPS and carry no rules", by.ref)
	return nil
}

// groupTags merges the tags of members (IngressClassParams tags win over
// annotation tags); two members giving a key different values conflict.
func (b *builder) groupTags(ms []*member) (map[string]string, error) {
	out := map[string]string{}
	by := map[string]*member{}
	for _, m := range ms {
		tags, err := b.memberTags(m)
		if err != nil {
			return nil, blame(m, err)
		}
		for _, k := range translate.SortedKeys(tags) {
			if prev, ok := out[k]; ok && prev != tags[k] {
				return nil, blame(m, fmt.Errorf("conflicting tag %s: %s sets %q, %s sets %q", k, by[k].ref.Key(), prev, m.ref.Key(), tags[k]))
			}
			out[k], by[k] = tags[k], m
		}
	}
	return out, nil
}

// memberTags returns one member's tags.
func (b *builder) memberTags(m *member) (map[string]string, error) {
	ann, _, err := m.ann.StringMap(annotations.IngressTags)
	if err != nil {
		return nil, err
	}
	for k := range ann {
		if b.opts.ExternalManaged(k) {
			return nil, &annotations.Error{Key: annotations.IngressTags, Value: m.ann[annotations.IngressTags], Err: fmt.Errorf("tag key %s is external-managed and cannot be set", k)}
		}
	}
	cls, err := b.classTags(m)
	if err != nil {
		return nil, err
	}
	return translate.MergeTags(cls, ann), nil
}

func (b *builder) classTags(m *member) (map[string]string, error) {
	if m.params == nil || len(m.params.Spec.Tags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range m.params.Spec.Tags {
		if b.opts.ExternalManaged(t.Key) {
			return nil, fmt.Errorf("IngressClassParams %s: tag key %s is external-managed and cannot be set", m.params.Name, t.Key)
		}
		out[t.Key] = t.Value
	}
	return out, nil
}

// sortedAttrs turns an attribute map into a slice sorted by key.
func sortedAttrs(m map[string]string) []stack.Attribute {
	var out []stack.Attribute
	for _, k := range translate.SortedKeys(m) {
		out = append(out, stack.Attribute{Key: k, Value: m[k]})
	}
	return out
}

func sortedListenerAttrs(m map[string]string) []stack.ListenerAttribute {
	var out []stack.ListenerAttribute
	for _, k := range translate.SortedKeys(m) {
		out = append(out, stack.ListenerAttribute{Key: k, Value: m[k]})
	}
	return out
}
