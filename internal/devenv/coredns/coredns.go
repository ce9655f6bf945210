// Package coredns plays the CoreDNS image (registry.k8s.io/coredns/coredns)
// for `elbow dev` as far as the Gateway API conformance suite's UDPRoute
// backend needs it: it reads the Corefile the container's arguments name
// (-conf, from a ConfigMap volume), listens on every server block's port
// over UDP and TCP, and answers queries in zones whose block has the
// whoami plugin as whoami does (the client's address as an A or AAAA
// record and its port as an SRV record, in the additional section).
// Zones that forward get SERVFAIL: elbow dev sends no packet off the
// host's loopback. A query no block serves gets REFUSED.
package coredns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"

	"github.com/miekg/dns"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// defaultConf is where the image looks for its Corefile without -conf.
const defaultConf = "/Corefile"

// defaultCorefile is what CoreDNS serves without a Corefile.
const defaultCorefile = ".:53 {\n whoami\n}\n"

// IsImage reports whether an image reference names CoreDNS: its
// repository's last path element is coredns.
func IsImage(image string) bool { return container.ImageName(image) == "coredns" }

// Start reads the Corefile and serves its blocks on the container's
// address until ctx ends. It returns once every socket listens, or the
// first error (nothing then stays open).
func Start(ctx context.Context, c container.Container) (*container.Process, error) {
	servers, err := corefile(c)
	if err != nil {
		return nil, fmt.Errorf("coredns: %w", err)
	}
	p := container.NewProcess(ctx)
	if err := serve(p, c, servers); err != nil {
		p.Abort()
		return nil, fmt.Errorf("coredns: %w", err)
	}
	return p, nil
}

// corefile reads the Corefile that -conf names (the image's default
// when absent).
func corefile(c container.Container) ([]Server, error) {
	path, named := "", false
	for i := 0; i < len(c.Args); i++ {
		a := c.Args[i]
		switch {
		case a == "-conf" || a == "--conf":
			if i+1 == len(c.Args) {
				return nil, errors.New("-conf needs a file")
			}
			path, named = c.Args[i+1], true
			i++
		case strings.HasPrefix(a, "-conf=") || strings.HasPrefix(a, "--conf="):
			_, path, _ = strings.Cut(a, "=")
			named = true
		}
	}
	if !named {
		path = defaultConf
	}
	b, err := c.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !named {
		b = []byte(defaultCorefile)
	} else if err != nil {
		return nil, fmt.Errorf("-conf %s: %w", path, err)
	}
	servers, err := ParseCorefile(string(b))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return servers, nil
}

// serve listens on every block's port, UDP and TCP.
func serve(p *container.Process, c container.Container, servers []Server) error {
	byPort := map[int][]Server{}
	var ports []int
	for _, s := range servers {
		if _, ok := byPort[s.Port]; !ok {
			ports = append(ports, s.Port)
		}
		byPort[s.Port] = append(byPort[s.Port], s)
	}
	for _, port := range ports {
		h := &handler{servers: byPort[port], c: c}
		pc, err := c.ListenPacket(p.Context(), port)
		if err != nil {
			return err
		}
		udp := &dns.Server{PacketConn: pc, Handler: h}
		// Closing the socket too ends a server that has not started
		// yet (Shutdown refuses those).
		p.OnStop(func() { _ = udp.Shutdown(); pc.Close() })
		ln, err := c.Listen(p.Context(), port)
		if err != nil {
			return err
		}
		tcp := &dns.Server{Listener: ln, Handler: h}
		p.OnStop(func() { _ = tcp.Shutdown(); ln.Close() })
		for _, s := range []*dns.Server{udp, tcp} {
			p.Go(func() {
				if err := s.ActivateAndServe(); err != nil && p.Context().Err() == nil {
					c.Logger().Warn("coredns server stopped", "port", port, "error", err)
				}
			})
		}
	}
	return nil
}

// handler answers the queries of one port.
type handler struct {
	servers []Server
	c       container.Container
}

func (h *handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	block := h.match(dns.CanonicalName(q.Name))
	switch {
	case block == nil:
		m.SetRcode(r, dns.RcodeRefused)
	case block.Has("whoami"):
		m.SetReply(r)
		m.Authoritative = true
		m.Extra = whoami(q.Name, w.RemoteAddr())
	default:
		if block.Has("forward") {
			h.c.Logger().Debug("coredns: not forwarding off the host", "name", q.Name)
		}
		m.SetRcode(r, dns.RcodeServerFailure)
	}
	_ = w.WriteMsg(m)
}

// match returns the block whose zone is the longest suffix of name.
func (h *handler) match(name string) *Server {
	var best *Server
	bestLen := -1
	for i := range h.servers {
		for _, z := range h.servers[i].Zones {
			if dns.IsSubDomain(z, name) && len(z) > bestLen {
				best, bestLen = &h.servers[i], len(z)
			}
		}
	}
	return best
}

// whoami returns the records whoami answers with: the client's address
// and, under _udp. or _tcp., its port.
func whoami(qname string, remote net.Addr) []dns.RR {
	var ip net.IP
	var port int
	proto := "udp"
	switch a := remote.(type) {
	case *net.UDPAddr:
		ip, port = a.IP, a.Port
	case *net.TCPAddr:
		ip, port, proto = a.IP, a.Port, "tcp"
	default:
		return nil
	}
	var rr dns.RR
	if v4 := ip.To4(); v4 != nil {
		rr = &dns.A{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: v4}
	} else {
		rr = &dns.AAAA{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeAAAA, Class: dns.ClassINET}, AAAA: ip}
	}
	srv := &dns.SRV{Hdr: dns.RR_Header{Name: "_" + proto + "." + qname, Rrtype: dns.TypeSRV, Class: dns.ClassINET}, Port: uint16(port), Target: "."}
	return []dns.RR{rr, srv}
}
