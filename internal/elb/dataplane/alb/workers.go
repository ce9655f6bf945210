package alb

import "time"

// workers run functions on goroutines kept between uses: a function
// handed to an idle worker runs on a stack its predecessors already grew,
// instead of a new goroutine growing its own. A worker idle for
// workerIdle ends.
type workers struct {
	tasks chan func()
}

// workerIdle is how long a worker waits for a function before it ends.
const workerIdle = 10 * time.Second

// run runs f on an idle worker, or a new one.
func (w *workers) run(f func()) {
	select {
	case w.tasks <- f:
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	f()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case f := <-w.tasks:
			f()
			last = time.Now()
		case <-t.C:
			if time.Since(last) >= workerIdle {
				return
			}
			t.Reset(workerIdle - time.Since(last))
		}
	}
}
