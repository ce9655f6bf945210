package alb

import (
	"sync"
	"sync/atomic"
	"time"
)

// watchDelay is how long a request waits for its target before the
// load balancer starts watching the client connection for a close.
const watchDelay = 100 * time.Millisecond

// aLongTimeAgo is a deadline that has passed: setting it interrupts a
// blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// watcher notices a client that closes its connection while its request
// waits for the target (ALB: HTTP 460, "the client closed the connection
// with the load balancer before the idle timeout period elapsed"). It
// starts only when the target is slow, so a fast request pays for a timer
// reset and nothing else.
type watcher struct {
	c     *blockingConn
	timer *time.Timer

	mu       sync.Mutex
	uc       *targetConn
	armed    bool
	running  bool
	stopping bool
	done     chan struct{}
	gone     atomic.Bool
}

// watchClient arms the watcher for a request waiting on uc.
func (c *blockingConn) watchClient(uc *targetConn) *watcher {
	w := c.watch
	if w == nil {
		w = &watcher{c: c}
		w.timer = time.AfterFunc(time.Hour, w.start)
		w.timer.Stop()
		c.watch = w
	}
	w.mu.Lock()
	w.uc, w.armed, w.stopping = uc, true, false
	w.gone.Store(false)
	w.mu.Unlock()
	w.timer.Reset(watchDelay)
	return w
}

// start runs in the timer's goroutine: it watches the client until the
// request's response arrives or the client closes.
func (w *watcher) start() {
	w.mu.Lock()
	if !w.armed || w.running {
		w.mu.Unlock()
		return
	}
	w.running = true
	w.done = make(chan struct{})
	uc := w.uc
	w.mu.Unlock()
	go func() {
		defer close(w.done)
		// While the request waits, the target side's idle timeout
		// applies (HTTP 504), not the client's: no deadline here.
		w.c.conn.SetReadDeadline(time.Time{})
		for {
			_, err := w.c.br.Peek(1)
			w.mu.Lock()
			stopping := w.stopping
			w.mu.Unlock()
			if err == nil || stopping {
				return
			}
			if isTimeout(err) {
				continue
			}
			w.gone.Store(true)
			uc.nc.Close()
			return
		}
	}()
}

// stop disarms the watcher and waits for a running watch to end.
func (w *watcher) stop() {
	w.timer.Stop()
	w.mu.Lock()
	w.armed = false
	running := w.running
	w.stopping = true
	done := w.done
	w.mu.Unlock()
	if running {
		w.c.conn.SetReadDeadline(aLongTimeAgo)
		<-done
		w.c.deadline = time.Time{}
		w.c.conn.SetReadDeadline(time.Time{})
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}
}

// clientGone reports whether the client closed while watched.
func (w *watcher) clientGone() bool { return w.gone.Load() }
