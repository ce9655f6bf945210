package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// dnsTTL is the TTL of load balancer records; AWS uses 60 seconds.
const dnsTTL = 60

// dnsServer answers A queries for load balancer DNS names (and their
// "dualstack." aliases) with the addresses of the zones each load balancer
// is in (for a network load balancer, those of the zones that serve, as
// AWS's DNS failover does). Names it does not know under a load
// balancer's domain are NXDOMAIN; other domains are REFUSED: it is not a
// recursive resolver.
type dnsServer struct {
	log    *slog.Logger
	udp    net.PacketConn
	tcp    net.Listener
	srvs   []*dns.Server
	domain string                             // the load balancers' domain (fqdn, lower case)
	names  atomic.Pointer[map[string]dnsName] // fqdn (lower case) -> what it names
	// serving, when set, returns the zones of a network load balancer
	// that serve (nlb.Plane.ServingZones); nil means every zone.
	serving func(lbARN string) map[string]bool
}

// dnsName is a load balancer's DNS name: its addresses, by zone.
type dnsName struct {
	lbARN   string
	network bool
	zones   []string
	addrs   []netip.Addr
}

// answer returns the addresses the name resolves to: for a network load
// balancer, those of the zones that serve, or all when none does.
func (d *dnsServer) answer(n dnsName) []netip.Addr {
	if !n.network || d.serving == nil {
		return n.addrs
	}
	serving := d.serving(n.lbARN)
	if len(serving) == 0 {
		return n.addrs
	}
	var out []netip.Addr
	for i, a := range n.addrs {
		if serving[n.zones[i]] {
			out = append(out, a)
		}
	}
	return out
}

// newDNSServer binds addr (UDP and TCP) for a server authoritative for
// domain, the domain of load balancer DNS names.
func newDNSServer(addr, domain string, log *slog.Logger) (*dnsServer, error) {
	d := &dnsServer{log: log, domain: dns.Fqdn(strings.ToLower(domain))}
	// TCP on the same port as UDP. When the system chooses the port
	// (port 0), another socket may hold that TCP port: choose again.
	_, port, _ := net.SplitHostPort(addr)
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 0; ; i++ {
		var err error
		if d.udp, err = net.ListenPacket("udp", addr); err != nil {
			return nil, fmt.Errorf("DNS listen %s/udp: %w", addr, err)
		}
		if d.tcp, err = net.Listen("tcp", d.udp.LocalAddr().String()); err == nil {
			break
		}
		d.udp.Close()
		if i+1 >= tries {
			return nil, fmt.Errorf("DNS listen %s/tcp: %w", addr, err)
		}
	}
	empty := map[string]dnsName{}
	d.names.Store(&empty)
	return d, nil
}

// Addr is the UDP address.
func (d *dnsServer) Addr() net.Addr { return d.udp.LocalAddr() }

func (d *dnsServer) start(errc chan<- error) {
	h := dns.HandlerFunc(d.serve)
	d.srvs = []*dns.Server{{PacketConn: d.udp, Handler: h}, {Listener: d.tcp, Handler: h}}
	for _, srv := range d.srvs {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				select {
				case errc <- fmt.Errorf("DNS server: %w", err):
				default:
				}
			}
		}()
	}
}

func (d *dnsServer) stop() {
	for _, srv := range d.srvs {
		_ = srv.Shutdown()
	}
	d.closeSockets()
}

func (d *dnsServer) closeSockets() {
	d.udp.Close()
	d.tcp.Close()
}

// apply takes the load balancers' names and addresses from a snapshot.
func (d *dnsServer) apply(snap *state.Snapshot) {
	names := map[string]dnsName{}
	for _, lb := range snap.LoadBalancers {
		if lb.DNSName == "" {
			continue
		}
		n := dnsName{lbARN: lb.ARN, network: lb.Type == "network"}
		for _, z := range lb.Zones {
			if a, err := netip.ParseAddr(z.Address); err == nil {
				n.addrs = append(n.addrs, a)
				n.zones = append(n.zones, z.ZoneName)
			}
		}
		fqdn := dns.Fqdn(strings.ToLower(lb.DNSName))
		names[fqdn] = n
		names["dualstack."+fqdn] = n
	}
	d.names.Store(&names)
}

func (d *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	n, known := (*d.names.Load())[name]
	switch {
	case known:
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			for _, a := range d.answer(n) {
				if a.Is4() {
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: dnsTTL},
						A:   net.IP(a.AsSlice()),
					})
				}
			}
		}
	case name == d.domain || strings.HasSuffix(name, "."+d.domain):
		m.SetRcode(req, dns.RcodeNameError)
	default:
		m.SetRcode(req, dns.RcodeRefused)
		m.Authoritative = false
	}
	if err := w.WriteMsg(m); err != nil {
		d.log.Debug("DNS reply", "name", q.Name, "error", err)
	}
}
