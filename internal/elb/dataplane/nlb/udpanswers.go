package nlb

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// udpAnswers reads what targets answer UDP flows and sends it on to the
// clients (udpFlow.answered).
type udpAnswers interface {
	// add starts reading f's answers.
	add(f *udpFlow) error
	// remove stops reading f's answers; f's socket closes after.
	remove(f *udpFlow)
	// close stops every reader, once every flow is removed.
	close()
}

// udpAnswers returns the plane's answer readers, started on first use.
func (p *Plane) udpAnswers() (udpAnswers, error) {
	p.answersMu.Lock()
	defer p.answersMu.Unlock()
	if p.answers != nil {
		return p.answers, nil
	}
	if p.answersClosed {
		return nil, errors.New("the data plane is closed")
	}
	start := p.newAnswers
	if start == nil {
		start = newUDPReaders
	}
	a, err := start(p)
	if err != nil {
		return nil, err
	}
	p.answers = a
	return a, nil
}

// closeAnswers stops the answer readers, if started, and any from being
// started.
func (p *Plane) closeAnswers() {
	p.answersMu.Lock()
	a := p.answers
	p.answersClosed = true
	p.answersMu.Unlock()
	if a != nil {
		a.close()
	}
}

// udpReaders is a fixed set of goroutines (udpReaderCount) that read the
// answers of every UDP flow of a plane. Each holds an epoll set of flow
// sockets; when one is readable it reads up to udpBatch datagrams in one
// recvmmsg and sends them to the client in one sendmmsg. A flow is
// registered with one reader, under a slot number that the epoll event
// carries (the kernel holds no Go pointer); a stale event finds its slot
// empty.
type udpReaders struct {
	readers []*udpReader
	next    atomic.Uint32
}

// udpReaderCount is how many readers a plane has: one per CPU, at most 4.
func udpReaderCount() int { return min(runtime.GOMAXPROCS(0), 4) }

// udpReader is one reader: its epoll set, the eventfd that stops it, and
// its flows by slot.
type udpReader struct {
	p    *Plane
	epfd int
	stop int // eventfd, registered under slot 0

	mu       sync.Mutex
	closed   bool
	flows    map[uint64]*udpFlow
	lastSlot uint64
}

func newUDPReaders(p *Plane) (udpAnswers, error) {
	rs := &udpReaders{}
	for range udpReaderCount() {
		r, err := newUDPReader(p)
		if err != nil {
			rs.close()
			return nil, err
		}
		rs.readers = append(rs.readers, r)
		p.wg.Add(1)
		go r.run()
	}
	return rs, nil
}

func newUDPReader(p *Plane) (*udpReader, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setSlot(&ev, 0)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stop, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(stop)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return &udpReader{p: p, epfd: epfd, stop: stop, flows: map[uint64]*udpFlow{}}, nil
}

// setSlot and slotOf keep a slot number in an event's 64-bit user data.
func setSlot(ev *unix.EpollEvent, slot uint64) {
	ev.Fd, ev.Pad = int32(uint32(slot)), int32(uint32(slot>>32))
}

func slotOf(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// add registers f with the next reader, round robin.
func (rs *udpReaders) add(f *udpFlow) error {
	r := rs.readers[int(rs.next.Add(1))%len(rs.readers)]
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("the data plane is closed")
	}
	r.lastSlot++
	slot := r.lastSlot
	r.flows[slot] = f
	r.mu.Unlock()
	f.slot = slot
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setSlot(&ev, slot)
	if err := control(f.up, func(fd int) error { return unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev) }); err != nil {
		r.mu.Lock()
		delete(r.flows, slot)
		r.mu.Unlock()
		return fmt.Errorf("epoll: %w", err)
	}
	return nil
}

// remove unregisters f (before its socket closes, so that the descriptor
// number, once reused, is in no epoll set of ours).
func (rs *udpReaders) remove(f *udpFlow) {
	for _, r := range rs.readers {
		r.mu.Lock()
		owned := r.flows[f.slot] == f
		if owned {
			delete(r.flows, f.slot)
		}
		r.mu.Unlock()
		if owned {
			_ = control(f.up, func(fd int) error { return unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, fd, nil) })
			return
		}
	}
}

// close stops the readers: each wakes on its eventfd and ends.
func (rs *udpReaders) close() {
	for _, r := range rs.readers {
		r.mu.Lock()
		if !r.closed {
			r.closed = true
			var one [8]byte
			one[0] = 1 // eventfd counters are host-endian; any non-zero value wakes
			_, _ = unix.Write(r.stop, one[:])
		}
		r.mu.Unlock()
	}
}

// control runs fn with c's descriptor, while c cannot close.
func control(c *net.UDPConn, fn func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// run waits for readable flow sockets and forwards their answers, until
// stopped.
func (r *udpReader) run() {
	defer r.p.wg.Done()
	defer unix.Close(r.stop)
	defer unix.Close(r.epfd)
	events := make([]unix.EpollEvent, 128)
	in := make([]ipv4.Message, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	for {
		n, err := unix.EpollWait(r.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			r.p.log.Error("UDP answer reader stopped", "err", err)
			return
		}
		for i := range n {
			slot := slotOf(&events[i])
			if slot == 0 {
				return
			}
			r.mu.Lock()
			f := r.flows[slot]
			r.mu.Unlock()
			if f != nil {
				r.read(f, in, out)
			}
		}
	}
}

// read forwards what f's socket holds, one batch (the socket stays
// readable, and its event comes again, when more is queued).
func (r *udpReader) read(f *udpFlow, in, out []ipv4.Message) {
	n, err := f.out.ReadBatch(in, unix.MSG_DONTWAIT)
	switch {
	case err == nil:
		f.answered(in, n, out)
	case errors.Is(err, syscall.EAGAIN), f.closed.Load(), errors.Is(err, net.ErrClosed):
	case errors.Is(err, syscall.ECONNREFUSED):
		// the target's port is closed (ICMP): the error is consumed, the
		// flow kept, as the network would
	default:
		f.terminate("target socket failed: " + err.Error())
	}
}

// udpFlowTable bounds the number of UDP flows of a plane: each holds a
// socket (a file descriptor) towards its target, so flows may take three
// quarters of the process's descriptor limit and no more, leaving the rest
// to listeners, TCP flows and the API.
type udpFlowTable struct {
	limit int64
	n     atomic.Int64
	// warned is when a full table was last logged (UnixNano).
	warned atomic.Int64
}

func newUDPFlowTable() *udpFlowTable {
	t := &udpFlowTable{limit: 1 << 20}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(t.limit)*4/3 {
		t.limit = int64(rl.Cur) * 3 / 4
	}
	return t
}

// reserve takes a place for a new flow; false when the table is full.
func (t *udpFlowTable) reserve() bool {
	if t.n.Add(1) > t.limit {
		t.n.Add(-1)
		return false
	}
	return true
}

// release gives a flow's place back.
func (t *udpFlowTable) release() { t.n.Add(-1) }

// warnFull reports whether a full table is worth logging now (once a
// minute).
func (t *udpFlowTable) warnFull(now time.Time) bool {
	last := t.warned.Load()
	return now.UnixNano()-last > int64(time.Minute) && t.warned.CompareAndSwap(last, now.UnixNano())
}
