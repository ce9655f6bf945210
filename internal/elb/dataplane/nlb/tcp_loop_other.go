//go:build !linux

package nlb

// tcpLoop is the Linux event loop of TCP flows; elsewhere every flow has
// goroutines of its own.
type tcpLoop struct{}

func (p *Plane) tcpLoops() []*tcpLoop { return nil }

func (p *Plane) stopLoops() {}

func (p *Plane) listenTCPLoops(sockKey, *route, []*tcpLoop) (socket, error) {
	panic("no event loops on this platform")
}

func (s *tcpSocket) closeLoopListener() {}
