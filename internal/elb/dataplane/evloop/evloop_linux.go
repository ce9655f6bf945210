//go:build linux

// Package evloop is the data planes' epoll event loops: a thread waits on
// an epoll set of non-blocking sockets and calls each socket's handler as
// it becomes ready, so that many connections are served without a
// goroutine each, the way nginx's and HAProxy's workers serve them.
//
// A loop's handlers, and the functions posted to it, all run on the
// loop's goroutine, one at a time: what they share needs no lock. Other
// goroutines reach a loop only through Post. A socket is added with Add
// (edge- or level-triggered, as its handler expects) and removed with Del
// before it is closed.
//
// Polling holds on to the thread's P while events come quickly: a loop
// first polls without waiting, then waits a little without giving up its
// P (epoll_pwait2), and only an idle loop blocks in the scheduler's view.
package evloop

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Handler is told of a socket's events (EPOLLIN, EPOLLOUT, EPOLLRDHUP,
// EPOLLHUP, EPOLLERR).
type Handler interface {
	OnEvent(events uint32)
}

// Events a socket can be registered for.
const (
	// EdgeTriggered is EPOLLIN|EPOLLOUT|EPOLLRDHUP, edge-triggered: a
	// handler reads until a read returns less than asked (or EAGAIN), and
	// writes until the socket is full.
	EdgeTriggered = uint32(syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP) | 1<<31
	// Listening is EPOLLIN, level-triggered and exclusive: of the loops
	// sharing a listening socket, one wakes per connection.
	Listening = uint32(syscall.EPOLLIN) | 1<<28
)

const (
	maxEvents = 256
	// briefWait is how long an idle loop waits before giving up its P.
	briefWait = 200 * time.Microsecond
	// sysEpollPwait2 is epoll_pwait2's number (the same on amd64 and
	// arm64).
	sysEpollPwait2 = 441
)

// Loop is one event loop.
type Loop struct {
	epfd int
	efd  int // eventfd: wakes the loop for posted functions and Stop

	mu     sync.Mutex
	posted []func()
	woken  bool
	quit   atomic.Bool
	done   chan struct{}

	handlers []Handler // by file descriptor
	now      time.Time
	tick     time.Duration
	lastTick time.Time
	onTick   func()
	waiter   Waiter
}

// New returns a loop; Run runs it. onTick, if not nil, is called on the
// loop about every tick (deadlines, periodic accounting).
func New(tick time.Duration, onTick func()) (*Loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	l := &Loop{epfd: epfd, efd: int(efd), done: make(chan struct{}), tick: tick, onTick: onTick}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(efd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(efd), &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(int(efd))
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// Now is the time the loop last woke: handlers read it instead of the
// clock.
func (l *Loop) Now() time.Time { return l.now }

// Add registers a socket with its handler (on the loop).
func (l *Loop) Add(fd int, events uint32, h Handler) error {
	for fd >= len(l.handlers) {
		l.handlers = append(l.handlers, make([]Handler, len(l.handlers)+64)...)
	}
	l.handlers[fd] = h
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.handlers[fd] = nil
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Forget drops a socket's handler (on the loop), for a socket about to be
// closed: closing it takes it out of the epoll set.
func (l *Loop) Forget(fd int) {
	if fd >= 0 && fd < len(l.handlers) {
		l.handlers[fd] = nil
	}
}

// Del takes a socket out of the epoll set and drops its handler (on the
// loop), for a socket that stays open (shared with other loops).
func (l *Loop) Del(fd int) {
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	l.Forget(fd)
}

// Post runs f on the loop, soon; from any goroutine. It reports false
// when the loop has stopped (f does not run).
func (l *Loop) Post(f func()) bool {
	l.mu.Lock()
	if l.quit.Load() {
		l.mu.Unlock()
		return false
	}
	l.posted = append(l.posted, f)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		one := uint64(1)
		syscall.Write(l.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
	}
	return true
}

// Stop ends the loop after the functions already posted ran, and waits
// for it (Run must have been called). The sockets still registered are
// left to their owners.
func (l *Loop) Stop() {
	l.mu.Lock()
	stopping := l.quit.Swap(true)
	l.mu.Unlock()
	if !stopping {
		one := uint64(1)
		syscall.Write(l.efd, (*[8]byte)(unsafe.Pointer(&one))[:])
	}
	<-l.done
}

// Run runs the loop until Stop.
func (l *Loop) Run() {
	defer close(l.done)
	defer syscall.Close(l.epfd)
	defer syscall.Close(l.efd)
	events := make([]syscall.EpollEvent, maxEvents)
	l.now = time.Now()
	l.lastTick = l.now
	block := l.tick
	if block < time.Millisecond {
		block = 100 * time.Millisecond
	}
	for {
		n, err := l.waiter.Wait(l.epfd, events, block)
		l.now = time.Now()
		if err != nil && err != syscall.EINTR {
			return
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == l.efd {
				var buf [8]byte
				syscall.Read(l.efd, buf[:])
				l.runPosted()
				continue
			}
			if fd < len(l.handlers) {
				if h := l.handlers[fd]; h != nil {
					h.OnEvent(events[i].Events)
				}
			}
		}
		if l.quit.Load() {
			l.runPosted()
			return
		}
		if l.onTick != nil && l.now.Sub(l.lastTick) >= l.tick {
			l.lastTick = l.now
			l.onTick()
		}
	}
}

func (l *Loop) runPosted() {
	l.mu.Lock()
	fs := l.posted
	l.posted = nil
	l.woken = false
	l.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// Waiter waits for the events of an epoll set as an event loop should:
// a poll that does not wait, then a brief wait that keeps the thread's P
// (epoll_pwait2, Linux 5.11; skipped without it), and only then a wait
// that blocks, giving the P to the rest of the process. Under load the
// next events come within microseconds, and a loop that keeps its P
// spares the scheduler's hand-offs. A signal (the scheduler's preemption
// requests included) ends the brief wait with EINTR, so stop-the-world
// pauses are not held up. The zero Waiter is ready; it is not safe for
// concurrent use (one per loop).
type Waiter struct {
	noPwait2 bool // the kernel has no epoll_pwait2
}

// Wait returns the number of ready events of epfd written to events,
// blocking up to block (rounded down to milliseconds) once nothing came
// in the brief wait. Its errors are epoll_wait's (EINTR included).
func (w *Waiter) Wait(epfd int, events []syscall.EpollEvent, block time.Duration) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if n > 0 {
		return int(n), nil
	}
	if !w.noPwait2 {
		ts := syscall.Timespec{Nsec: int64(briefWait)}
		n, _, errno = syscall.RawSyscall6(sysEpollPwait2, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		switch errno {
		case 0:
			if n > 0 {
				return int(n), nil
			}
		case syscall.ENOSYS:
			w.noPwait2 = true
		case syscall.EINTR:
		default:
			return 0, errno
		}
	}
	return syscall.EpollWait(epfd, events, int(block/time.Millisecond))
}

// Read reads from a non-blocking socket without telling the scheduler (it
// never blocks).
func Read(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Write writes to a non-blocking socket without telling the scheduler.
func Write(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
