package echobasic

import (
	"encoding/json"
	"errors"
	"net"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// udpReadSize is the most of a datagram the UDP server reads (the rest of
// a longer one is dropped, as the image's 1024-byte buffer does).
const udpReadSize = 1024

// UDPAnswer is the JSON datagram the UDP server answers each datagram
// with: the datagram's bytes as text, and the pod.
type UDPAnswer struct {
	Request   string `json:"request"`
	Namespace string `json:"namespace"`
	Ingress   string `json:"ingress"`
	Service   string `json:"service"`
	Pod       string `json:"pod"`
}

func startUDP(p *container.Process, c container.Container) error {
	port, err := container.Port(c, "UDP_PORT", DefaultUDPPort)
	if err != nil {
		return err
	}
	pc, err := c.ListenPacket(p.Context(), port)
	if err != nil {
		return err
	}
	ctx := contextOf(c)
	p.OnStop(func() { pc.Close() })
	p.Go(func() {
		buf := make([]byte, udpReadSize)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				c.Logger().Debug("echo-basic UDP read", "error", err)
				continue
			}
			out, err := json.Marshal(UDPAnswer{Request: string(buf[:n]), Namespace: ctx.Namespace, Ingress: ctx.Ingress, Service: ctx.Service, Pod: ctx.Pod})
			if err != nil {
				continue
			}
			if _, err := pc.WriteTo(out, from); err != nil {
				c.Logger().Debug("echo-basic UDP write", "to", from, "error", err)
			}
		}
	})
	return nil
}
