//go:build linux

package evloop

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket calls of a loop's handlers, made without telling the
// scheduler (raw): on non-blocking sockets none of them blocks, and a
// loop that kept its P through them saves the hand-off of the P to
// another thread and back that a call of the usual kind costs when it
// takes longer than the system monitor's 20 µs (as a close or a connect
// on loopback does, the peer's side of the segment being processed in
// the same call).

func rawErr(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// rawSockaddr is an address in the kernel's form.
type rawSockaddr struct {
	v4 unix.RawSockaddrInet4
	v6 unix.RawSockaddrInet6
}

func (r *rawSockaddr) set(a netip.AddrPort) (unsafe.Pointer, uintptr) {
	ip := a.Addr().Unmap()
	port := a.Port()
	if ip.Is4() {
		r.v4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: port<<8 | port>>8, Addr: ip.As4()}
		return unsafe.Pointer(&r.v4), unix.SizeofSockaddrInet4
	}
	r.v6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: port<<8 | port>>8, Addr: ip.As16()}
	return unsafe.Pointer(&r.v6), unix.SizeofSockaddrInet6
}

// Accept accepts a connection of a listening socket, non-blocking and
// close-on-exec, and returns it with the peer's address.
func Accept(fd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, netip.AddrPort{}, errno
	}
	var peer netip.AddrPort
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		peer = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), sa.Port<<8|sa.Port>>8)
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		peer = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), sa.Port<<8|sa.Port>>8)
	}
	return int(nfd), peer, nil
}

// Socket opens a non-blocking, close-on-exec TCP socket for addresses
// like a.
func Socket(a netip.Addr) (int, error) {
	family := unix.AF_INET
	if !a.Unmap().Is4() {
		family = unix.AF_INET6
	}
	fd, _, errno := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// SetsockoptInt sets an integer socket option.
func SetsockoptInt(fd, level, opt, value int) error {
	v := int32(value)
	_, _, errno := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	return rawErr(errno)
}

// Bind binds a socket to an address.
func Bind(fd int, a netip.AddrPort) error {
	var r rawSockaddr
	p, n := r.set(a)
	_, _, errno := syscall.RawSyscall(syscall.SYS_BIND, uintptr(fd), uintptr(p), n)
	return rawErr(errno)
}

// Connect starts a connection; a non-blocking socket returns EINPROGRESS
// and says when it is done with EPOLLOUT (or EPOLLERR: SockError tells).
func Connect(fd int, a netip.AddrPort) error {
	var r rawSockaddr
	p, n := r.set(a)
	_, _, errno := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(p), n)
	return rawErr(errno)
}

// SockError returns a socket's pending error (SO_ERROR): why a connection
// failed.
func SockError(fd int) error {
	var v int32
	n := uint32(4)
	_, _, errno := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_ERROR, uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return errno
	}
	return rawErr(syscall.Errno(v))
}

// TCPInfo returns a TCP socket's TCP_INFO.
func TCPInfo(fd int) (*unix.TCPInfo, error) {
	var ti unix.TCPInfo
	n := uint32(unix.SizeofTCPInfo)
	_, _, errno := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO, uintptr(unsafe.Pointer(&ti)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return nil, errno
	}
	return &ti, nil
}

// Shutdown shuts a socket down (SHUT_WR: a FIN after what was written).
func Shutdown(fd, how int) error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return rawErr(errno)
}

// Close closes a socket.
func Close(fd int) error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
	return rawErr(errno)
}

// Reset closes a TCP socket with a reset (SO_LINGER 0).
func Reset(fd int) {
	l := unix.Linger{Onoff: 1, Linger: 0}
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
	Close(fd)
}
