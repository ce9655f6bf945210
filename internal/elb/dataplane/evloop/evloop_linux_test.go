//go:build linux

package evloop

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// echo answers what it reads on a socket, on the loop.
type echo struct {
	fd   int
	seen chan []byte
}

func (e *echo) OnEvent(ev uint32) {
	buf := make([]byte, 64)
	for {
		n, err := Read(e.fd, buf)
		if err != nil || n == 0 {
			return
		}
		e.seen <- append([]byte(nil), buf[:n]...)
		Write(e.fd, buf[:n])
	}
}

// TestLoopServesSockets runs a loop that accepts connections on a
// listening socket with the package's raw calls and echoes their bytes;
// posted functions run on the loop, in order; ticks come.
func TestLoopServesSockets(t *testing.T) {
	ticks := make(chan struct{}, 100)
	l, err := New(10*time.Millisecond, func() {
		select {
		case ticks <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	defer l.Stop()

	ln, err := net.Listen("tcp", "127.0.62.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dst := netip.MustParseAddrPort(ln.Addr().String())
	fd, err := Socket(dst.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := Bind(fd, netip.MustParseAddrPort("127.0.62.2:0")); err != nil {
		t.Fatal(err)
	}
	if err := Connect(fd, dst); err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if got := peer.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != netip.MustParseAddr("127.0.62.2") {
		t.Errorf("connection from %v, want the bound 127.0.62.2", got)
	}
	if err := SockError(fd); err != nil {
		t.Errorf("SO_ERROR of a connected socket: %v", err)
	}
	e := &echo{fd: fd, seen: make(chan []byte, 10)}
	var order []int
	done := make(chan struct{})
	for i := range 3 {
		l.Post(func() {
			order = append(order, i)
			if i == 0 {
				if err := l.Add(fd, EdgeTriggered, e); err != nil {
					t.Error(err)
				}
			}
			if i == 2 {
				close(done)
			}
		})
	}
	<-done
	if len(order) != 3 || order[0] != 0 || order[2] != 2 {
		t.Errorf("posted functions ran in order %v", order)
	}
	peer.SetDeadline(time.Now().Add(10 * time.Second))
	peer.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := peer.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	if got := <-e.seen; string(got) != "ping" {
		t.Errorf("handler read %q", got)
	}
	if ti, err := TCPInfo(fd); err != nil || ti.Segs_in == 0 {
		t.Errorf("TCP_INFO: %v %v", ti, err)
	}
	// A FIN after the data: the peer reads EOF once the socket shuts down.
	closed := make(chan struct{})
	l.Post(func() {
		Shutdown(fd, unix.SHUT_WR)
		close(closed)
	})
	<-closed
	if n, err := peer.Read(buf); n != 0 || err == nil {
		t.Errorf("after SHUT_WR the peer read %d bytes, %v", n, err)
	}
	select {
	case <-ticks:
	case <-time.After(10 * time.Second):
		t.Error("no tick")
	}
	reset := make(chan struct{})
	l.Post(func() {
		l.Forget(fd)
		Reset(fd)
		close(reset)
	})
	<-reset
	if _, err := peer.Write([]byte("x")); err == nil {
		_, err = peer.Read(buf)
		if err == nil {
			t.Error("peer of a reset socket read on")
		}
	}
	l.Stop()
	if l.Post(func() {}) {
		t.Error("Post accepted after Stop")
	}
	if _, err := Socket(netip.MustParseAddr("::1")); err != nil && err != syscall.EAFNOSUPPORT {
		t.Errorf("IPv6 socket: %v", err)
	}
}
