package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// consumer is a component that realises the state: the health checker,
// a data plane, the DNS server. Apply must not keep the snapshot's
// records mutable (snapshots are read-only).
type consumer struct {
	name  string
	apply func(*state.Snapshot)
}

// resyncEvery is how often the state is re-read without a change, so that
// a consumer that missed nothing still sees time-based state settle.
const resyncEvery = 30 * time.Second

// distribute reads a snapshot of the state at start and after every
// commit, and hands the latest to each consumer. Each consumer has its
// own goroutine and mailbox, so a slow one never delays the others, and a
// consumer busy with an old snapshot gets only the newest one next.
// Snapshots are read once per change for all consumers; a change is
// applied within one second unless a consumer itself takes longer.
func distribute(ctx context.Context, store *state.Store, log *slog.Logger, consumers []consumer) {
	changes, cancel := store.Subscribe()
	defer cancel()
	boxes := make([]chan *state.Snapshot, len(consumers))
	var wg sync.WaitGroup
	for i, c := range consumers {
		box := make(chan *state.Snapshot, 1)
		boxes[i] = box
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case snap := <-box:
					c.apply(snap)
				}
			}
		}()
	}
	defer wg.Wait()
	var last uint64
	publish := func(force bool) {
		snap, err := store.Snapshot()
		if err != nil {
			log.Error("read state snapshot", "error", err)
			return
		}
		if !force && snap.Revision == last && last != 0 {
			return
		}
		last = snap.Revision
		for _, box := range boxes {
			// Replace an unread older snapshot with this one.
			select {
			case <-box:
			default:
			}
			box <- snap
		}
	}
	publish(true)
	tick := time.NewTicker(resyncEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
			publish(false)
		case <-tick.C:
			publish(true)
		}
	}
}
