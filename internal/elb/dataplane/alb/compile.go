package alb

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/http2/hpack"

	"github.com/elbowlb/elbow/internal/elb/dataplane/access"
	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/sslpolicy"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// lbRuntime is a load balancer's part of the plane that outlives state
// changes: its metrics and its access log writer.
type lbRuntime struct {
	arn  string
	name string
	dim  string // app/NAME/ID
	m    *lbMetrics

	logMu   sync.Mutex
	alog    *accessLog
	alogKey string
}

func (lb *lbRuntime) closeLog() {
	lb.logMu.Lock()
	defer lb.logMu.Unlock()
	if lb.alog != nil {
		lb.alog.close()
		lb.alog = nil
		lb.alogKey = ""
	}
}

// lbCfg is one state's configuration of a load balancer; immutable.
type lbCfg struct {
	rt       *lbRuntime
	arn      string
	name     string
	attrs    settings.ALB
	internal bool
	alog     *accessLog
}

// listenerCfg is one state's compiled listener: the routing core's
// listener with what the transports add (the load balancer's runtime, TLS
// and security groups); immutable.
type listenerCfg struct {
	*routing.Listener
	lb     *lbCfg
	tls    *tls.Config
	certs  []certInfo
	access *access.Policy
	// The listener's response headers and TLS header names in their
	// HTTP/2 (lower-case) form.
	h2ResponseHeaders                     []hpack.HeaderField
	h2TLSVersionHeader, h2TLSCipherHeader string
}

// sockCfg is what one socket serves: a listener, from one zone's node.
type sockCfg struct {
	*listenerCfg
	zone string
	// src is the host address of the zone's load balancer node; targets
	// are connected to from it.
	src netip.Addr
}

// certInfo is a listener certificate with what SNI selection needs.
type certInfo struct {
	arn   string
	cert  *tls.Certificate
	names []string // lower-case DNS names and common name
	ecdsa bool
	bits  int
}

// tlsEntry caches a listener's TLS configuration while its inputs stay.
type tlsEntry struct {
	fp    string
	cfg   *tls.Config
	certs []certInfo
}

// compile builds the wanted sockets of every application load balancer in
// the state: the routing core compiles the listeners, the plane adds
// certificates, security groups and the load balancers' runtimes. It
// returns the targets and target groups that are gone. applyMu is held.
func (p *Plane) compile(snap *state.Snapshot) (map[netip.AddrPort]*sockCfg, *routing.Compiled) {
	want := map[netip.AddrPort]*sockCfg{}
	compiled := p.router.Compile(snap)
	usedLB := map[string]bool{}
	usedTLS := map[string]bool{}
	lbARNs := make([]string, 0, len(snap.LoadBalancers))
	for arn, lb := range snap.LoadBalancers {
		if lb.Type == "application" && lb.State != "failed" {
			lbARNs = append(lbARNs, arn)
		}
	}
	sort.Strings(lbARNs)
	for _, arn := range lbARNs {
		lb := snap.LoadBalancers[arn]
		usedLB[arn] = true
		lc := p.lbConfig(lb)
		for _, l := range snap.ListenersOf(arn) {
			rl := compiled.Listeners[l.ARN]
			if rl == nil {
				continue
			}
			usedTLS[l.ARN] = true
			cl := &listenerCfg{Listener: rl, lb: lc, access: access.Compile(snap, lb, p.addrs),
				h2ResponseHeaders: h2Fields(rl.ResponseHeaders), h2TLSVersionHeader: strings.ToLower(rl.TLSVersionHeader), h2TLSCipherHeader: strings.ToLower(rl.TLSCipherHeader)}
			if l.Protocol == "HTTPS" {
				e, err := p.listenerTLS(snap, lc, l)
				if err != nil {
					p.log.Warn("ALB listener not served", "lb", lb.Name, "listener", l.ARN, "err", err)
					continue
				}
				cl.tls, cl.certs = e.cfg, e.certs
			}
			p.addSockets(want, lb, cl)
		}
	}
	for arn, rt := range p.lbs {
		if !usedLB[arn] {
			delete(p.lbs, arn)
			rt.closeLog()
			p.m.forget(rt.dim)
		}
	}
	for arn := range p.tlsCache {
		if !usedTLS[arn] {
			delete(p.tlsCache, arn)
		}
	}
	return want, compiled
}

// addSockets adds a listener's sockets: one per zone address, plus the
// public addresses of an internet-facing load balancer.
func (p *Plane) addSockets(want map[netip.AddrPort]*sockCfg, lb *state.LoadBalancer, cl *listenerCfg) {
	var first *sockCfg
	for _, z := range lb.Zones {
		a, err := netip.ParseAddr(z.Address)
		if err != nil {
			continue
		}
		if cl.lb.internal && !a.IsLoopback() {
			p.log.Warn("internal ALB zone address is not a loopback address; not listening there", "lb", lb.Name, "addr", z.Address)
			continue
		}
		sc := &sockCfg{listenerCfg: cl, zone: z.ZoneName, src: p.nodeAddr(z)}
		addr := netip.AddrPortFrom(a, uint16(cl.Port))
		if prev, ok := want[addr]; ok && prev.lb.arn != cl.lb.arn {
			p.log.Warn("ALB listen address used twice", "addr", addr.String(), "lb", lb.Name, "other", prev.lb.name)
			continue
		}
		want[addr] = sc
		if first == nil {
			first = sc
		}
	}
	if cl.lb.internal || first == nil {
		return
	}
	for _, a := range p.cfg.PublicAddrs {
		addr := netip.AddrPortFrom(a, uint16(cl.Port))
		if _, ok := want[addr]; ok {
			continue
		}
		want[addr] = first
	}
}

// nodeAddr is the host address of a zone's load balancer node.
func (p *Plane) nodeAddr(z state.LBZone) netip.Addr {
	a, err := netip.ParseAddr(z.PrivateIPv4Address)
	if err != nil {
		return netip.Addr{}
	}
	return p.addrs.ToHost(a)
}

// lbConfig returns the configuration of a load balancer, creating its
// runtime on first sight.
func (p *Plane) lbConfig(lb *state.LoadBalancer) *lbCfg {
	rt := p.lbs[lb.ARN]
	if rt == nil {
		rt = &lbRuntime{arn: lb.ARN, name: lb.Name, dim: state.Dimension(lb.ARN)}
		rt.m = p.m.lb(rt.dim)
		p.lbs[lb.ARN] = rt
	}
	// The routing core logs the attributes it does not accept.
	attrs, _ := settings.ApplicationLB(lb)
	c := &lbCfg{
		rt:       rt,
		arn:      lb.ARN,
		name:     lb.Name,
		attrs:    attrs,
		internal: lb.Scheme == "internal",
	}
	c.alog = p.accessLogFor(rt, c)
	return c
}

// listenerTLS returns an HTTPS listener's TLS configuration: its
// certificates (the default one for clients without SNI or without a
// matching certificate), its security policy and ALPN (h2 when
// routing.http2.enabled).
func (p *Plane) listenerTLS(snap *state.Snapshot, lc *lbCfg, l *state.Listener) (*tlsEntry, error) {
	h := sha256.New()
	io.WriteString(h, l.SSLPolicy+"\x00"+strconv.FormatBool(lc.attrs.HTTP2)+"\x00")
	for _, c := range l.Certificates {
		fmt.Fprintf(h, "%s\x00%t\x00", c.ARN, c.Default)
		if rec, ok := snap.Certificates[c.ARN]; ok {
			io.WriteString(h, rec.CertificatePEM+"\x00"+rec.ChainPEM+"\x00"+rec.PrivateKeyPEM+"\x00")
		}
	}
	fp := hex.EncodeToString(h.Sum(nil))
	if e := p.tlsCache[l.ARN]; e != nil && e.fp == fp {
		return e, nil
	}
	name := l.SSLPolicy
	if name == "" {
		name = sslpolicy.Default
	}
	pol, ok := sslpolicy.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("security policy %q is not an ELB security policy", name)
	}
	var certs []certInfo
	var def *certInfo
	for _, lcert := range l.Certificates {
		rec, ok := snap.Certificates[lcert.ARN]
		if !ok {
			p.log.Warn("ALB listener certificate not found", "listener", l.ARN, "certificate", lcert.ARN)
			continue
		}
		ci, err := loadCert(rec)
		if err != nil {
			p.log.Warn("ALB listener certificate unusable", "listener", l.ARN, "certificate", lcert.ARN, "err", err)
			continue
		}
		certs = append(certs, ci)
		if lcert.Default && def == nil {
			def = &certs[len(certs)-1]
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("HTTPS listener has no usable certificate")
	}
	if def == nil {
		def = &certs[0]
	}
	defCert := def.cert
	protos := []string{"http/1.1"}
	if lc.attrs.HTTP2 {
		protos = []string{"h2", "http/1.1"}
	}
	base := &tls.Config{
		NextProtos: protos,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := chooseCert(certs, hello); c != nil {
				return c.cert, nil
			}
			return defCert, nil
		},
	}
	e := &tlsEntry{fp: fp, cfg: pol.TLSConfig(base), certs: certs}
	// Put the default certificate first: access logs name it when no
	// SNI certificate matched.
	sort.SliceStable(e.certs, func(i, j int) bool { return e.certs[i].cert == defCert && e.certs[j].cert != defCert })
	p.tlsCache[l.ARN] = e
	return e, nil
}

func loadCert(rec *state.Certificate) (certInfo, error) {
	pemChain := rec.CertificatePEM
	if rec.ChainPEM != "" {
		pemChain += "\n" + rec.ChainPEM
	}
	c, err := tls.X509KeyPair([]byte(pemChain), []byte(rec.PrivateKeyPEM))
	if err != nil {
		return certInfo{}, err
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return certInfo{}, err
	}
	c.Leaf = leaf
	ci := certInfo{arn: rec.ARN, cert: &c}
	for _, n := range leaf.DNSNames {
		ci.names = append(ci.names, strings.ToLower(n))
	}
	if leaf.Subject.CommonName != "" {
		ci.names = append(ci.names, strings.ToLower(leaf.Subject.CommonName))
	}
	switch k := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ci.ecdsa = true
		ci.bits = k.Curve.Params().BitSize
	case *rsa.PublicKey:
		ci.bits = k.N.BitLen()
	}
	return ci, nil
}

// chooseCert picks the certificate for a client's SNI name as ALB's
// "smart certificate selection" does: among the certificates whose names
// match, one the client supports, preferring ECDSA over RSA and longer
// keys; nil when none matches.
func chooseCert(certs []certInfo, hello *tls.ClientHelloInfo) *certInfo {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" {
		return nil
	}
	var best *certInfo
	for i := range certs {
		c := &certs[i]
		if !nameMatches(c.names, name) {
			continue
		}
		if hello.SupportsCertificate(c.cert) != nil {
			continue
		}
		if best == nil || c.ecdsa && !best.ecdsa || c.ecdsa == best.ecdsa && c.bits > best.bits {
			best = c
		}
	}
	return best
}

// certForName returns the ARN of the certificate served for an SNI name
// (the default certificate's when none matches), for access logs.
func (cl *listenerCfg) certForName(name string) string {
	name = strings.ToLower(name)
	if name != "" {
		for _, c := range cl.certs {
			if nameMatches(c.names, name) {
				return c.arn
			}
		}
	}
	if len(cl.certs) > 0 {
		return cl.certs[0].arn
	}
	return ""
}

func nameMatches(names []string, host string) bool {
	for _, n := range names {
		if n == host {
			return true
		}
		if strings.HasPrefix(n, "*.") {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == n[2:] {
				return true
			}
		}
	}
	return false
}
