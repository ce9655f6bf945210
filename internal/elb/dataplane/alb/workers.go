package alb

import "sync"

// workers run functions on goroutines kept between uses: a function
// handed to an idle worker runs on a stack its predecessors already grew,
// instead of a new goroutine growing its own. At most maxIdleWorkers wait
// for work; a worker finding that many idle ends.
type workers struct {
	mu      sync.Mutex
	idle    []chan func()
	stopped bool
}

// maxIdleWorkers bounds the workers kept idle.
const maxIdleWorkers = 512

// run runs f on an idle worker, or a new one.
func (w *workers) run(f func()) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		ch := w.idle[n-1]
		w.idle[n-1] = nil
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		ch <- f
		return
	}
	w.mu.Unlock()
	go w.loop(f)
}

func (w *workers) loop(f func()) {
	ch := make(chan func(), 1)
	for {
		f()
		w.mu.Lock()
		if w.stopped || len(w.idle) >= maxIdleWorkers {
			w.mu.Unlock()
			return
		}
		w.idle = append(w.idle, ch)
		w.mu.Unlock()
		f = <-ch
		if f == nil {
			return
		}
	}
}

// stop ends the idle workers.
func (w *workers) stop() {
	w.mu.Lock()
	idle := w.idle
	w.idle, w.stopped = nil, true
	w.mu.Unlock()
	for _, ch := range idle {
		ch <- nil
	}
}
