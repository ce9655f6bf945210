//go:build linux

package alb

import "syscall"

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT: a socket bound
// to a source address before connect gets its port at connect time, so
// that many connections from one node address to different targets do not
// exhaust the ephemeral ports.
const ipBindAddressNoPort = 24

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT on connections to targets;
// failures are ignored (the bind then reserves a port, as elsewhere).
func bindNoPort(network, address string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}
