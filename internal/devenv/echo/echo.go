// Package echo is the universal echo server that `elbow dev` runs for every
// container of every pod, whatever image the pod names.
//
// On a TCP connection it detects, in this order: a PROXY protocol v1/v2
// header (parsed and reported), TLS (terminated with a self-signed
// certificate, then detection continues inside), HTTP/1.1, h2c, gRPC (an
// echo service and grpc.health.v1), else it echoes raw bytes. UDP
// datagrams are echoed. HTTP answers 200 with a JSON body in the format of
// the Gateway API conformance echo server, plus elbow's own fields (node,
// the source address seen and the VPC address it stands for, the PROXY
// header).
package echo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// Identity says which pod a Server stands for; it is reported in every
// HTTP answer.
type Identity struct {
	Namespace string
	Pod       string
	Node      string
	// PodIP is the pod's VPC address (what Kubernetes shows).
	PodIP netip.Addr
}

// Server serves one pod's ports.
type Server struct {
	id    Identity
	addrs vpcaddr.Map
	log   *slog.Logger
}

// New returns a Server for the pod. addrs translates the host addresses
// the server sees back to VPC addresses for its reports.
func New(id Identity, addrs vpcaddr.Map, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{id: id, addrs: addrs, log: log}, nil
}

// ServeTCP accepts connections on ln and serves each until ctx ends or ln
// is closed; it returns nil then. It closes ln when ctx ends.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// ServePacket echoes every datagram on pc back to its sender until ctx
// ends or pc is closed; it returns nil then. It closes pc when ctx ends.
func (s *Server) ServePacket(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if _, err := pc.WriteTo(buf[:n], from); err != nil {
			s.log.Debug("udp echo", "to", from, "error", err)
		}
	}
}
