package nlb

import (
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
)

// maxProxyHeader is the size of the largest header proxyHeader makes (v2
// signature and fixed part, two IPv6 addresses and ports, no TLVs).
const maxProxyHeader = 16 + 36

// proxyHeader builds the PROXY protocol v2 header a network load balancer
// sends a target before a flow's first byte: the PROXY command with the
// client's address and port as source and the address and port the client
// connected to as destination. AWS adds one TLV, PP2_TYPE_AWS (0xEA) with
// the VPC endpoint ID, and only for traffic that came through a VPC
// endpoint service (PrivateLink); the local ELB has none, so no TLV is
// sent. Host addresses that stand for VPC addresses are written as the VPC
// addresses, which is what the target's application knows its clients by.
func (p *Plane) proxyHeader(network string, client, dst netip.AddrPort) ([]byte, error) {
	src := client
	if vpc, ok := p.cfg.Addresses.FromHost(client.Addr()); ok {
		src = netip.AddrPortFrom(vpc, client.Port())
	}
	var h *proxyproto.Header
	if network == "udp" {
		h = proxyproto.HeaderProxyFromAddrs(2, net.UDPAddrFromAddrPort(src), net.UDPAddrFromAddrPort(dst))
	} else {
		h = proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(src), net.TCPAddrFromAddrPort(dst))
	}
	return h.Format()
}
