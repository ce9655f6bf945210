package health

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort lets the kernel choose the source port of a bound socket at
// connect time, per destination, rather than reserving one at bind time
// for every destination: many checks from one load balancer address then
// do not exhaust its ephemeral ports. It is an optimisation: a kernel that
// refuses the option still connects.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
}
