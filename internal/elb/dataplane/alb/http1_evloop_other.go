//go:build !linux

package alb

import (
	"errors"
	"net"
	"net/netip"
)

// evLoop does not exist without epoll.
type evLoop struct{}

func (l *evLoop) stop() {}

func startLoops(p *Plane) ([]*evLoop, error) { return nil, errNoLoops }

var errNoLoops = errors.New("event loops need Linux")

// toEventLoop serves every connection with a goroutine.
func (p *Plane) toEventLoop(s *listenSock, sc *sockCfg, nc net.Conn, remote netip.AddrPort) bool {
	return false
}
