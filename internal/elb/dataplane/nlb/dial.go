package nlb

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dialTimeout bounds a connection attempt to a target.
const dialTimeout = 10 * time.Second

// transparentTimeout bounds a connection attempt from a client address that
// is not local (IP_TRANSPARENT): without policy routing that brings the
// target's answers back, such an attempt never completes.
const transparentTimeout = 3 * time.Second

// transparentRetry is how long a failed IP_TRANSPARENT attempt keeps the
// plane from trying again.
const transparentRetry = time.Minute

// transparentState remembers whether binding to non-local client addresses
// works, so that a failure is paid (and logged) once, not per connection.
type transparentState struct {
	mu          sync.Mutex
	failedUntil time.Time
	reason      string
}

func (t *transparentState) usable(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.After(t.failedUntil)
}

// failed records a failure and reports whether it is news worth logging.
func (t *transparentState) failed(now time.Time, reason string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	news := t.reason != reason || now.After(t.failedUntil)
	t.failedUntil = now.Add(transparentRetry)
	t.reason = reason
	return news
}

// sockopts returns a dialer Control function that sets
// IP_BIND_ADDRESS_NO_PORT (TCP: choose the source port at connect time, so
// one source address serves many targets) and, when transparent is set,
// IP_TRANSPARENT so that a non-local address can be bound.
func sockopts(noPort, transparent bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			v6 := network == "tcp6" || network == "udp6"
			if noPort {
				_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			}
			if transparent {
				if v6 {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, 1)
				} else {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TRANSPARENT, 1)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// Control functions, made once.
var (
	ctlNoPort            = sockopts(true, false)
	ctlNoPortTransparent = sockopts(true, true)
)

// dialFrom connects to dst from src (port chosen by the kernel).
func dialFrom(ctx context.Context, network string, src netip.Addr, dst netip.AddrPort, transparent bool, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	switch network {
	case "tcp":
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice(), Zone: src.Zone()}
		d.Control = ctlNoPort
		if transparent {
			d.Control = ctlNoPortTransparent
		}
	case "udp":
		d.LocalAddr = &net.UDPAddr{IP: src.AsSlice(), Zone: src.Zone()}
	}
	return d.DialContext(ctx, network, dst.String())
}

// dialTarget connects to a target. When preserve is set the connection
// comes from the client's own address: a local address (any loopback
// client) is bound directly; a non-local one needs IP_TRANSPARENT, tried
// for TCP when the process may, with a fallback to the load balancer's
// address (lbSource) that is logged. UDP flows from non-local clients use
// the load balancer's address: a target's answers to a spoofed source would
// not come back without policy routing, and UDP cannot tell.
func (p *Plane) dialTarget(ctx context.Context, network string, dst netip.AddrPort, client netip.Addr, preserve bool, lbSource netip.Addr) (net.Conn, bool, error) {
	if !preserve {
		c, err := dialFrom(ctx, network, lbSource, dst, false, dialTimeout)
		return c, false, err
	}
	c, err := dialFrom(ctx, network, client, dst, false, dialTimeout)
	if err == nil || !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return c, err == nil, err
	}
	if network == "tcp" && p.transparent.usable(time.Now()) {
		c, terr := dialFrom(ctx, network, client, dst, true, transparentTimeout)
		if terr == nil {
			return c, true, nil
		}
		reason := "IP_TRANSPARENT connection failed: " + terr.Error()
		if errors.Is(terr, syscall.EPERM) || errors.Is(terr, syscall.EACCES) {
			reason = "IP_TRANSPARENT not permitted (needs CAP_NET_ADMIN)"
		}
		if p.transparent.failed(time.Now(), reason) {
			p.log.Warn("cannot preserve the address of a non-local client; connecting from the load balancer's address", "client", client, "reason", reason, "retryAfter", transparentRetry)
		}
	}
	c, err = dialFrom(ctx, network, lbSource, dst, false, dialTimeout)
	return c, false, err
}
