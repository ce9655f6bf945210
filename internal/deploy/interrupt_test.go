package deploy_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/elbowlb/elbow/internal/stack"
)

// TestInterruption cancels a deploy of the shop group from nothing after
// its N-th call, for every N, then deploys again: the result is the same
// as an uninterrupted deploy's (no duplicate, nothing missing), a further
// deploy writes nothing, and removing the stack leaves nothing behind.
// The N-th call either completes (the deploy stops after it, as when a
// reconcile times out) or its answer is lost (the server did the work but
// the caller saw an error); the deploy after it runs on the same deployer
// or on a new one (a restarted controller, whose index comes from a scan).
func TestInterruption(t *testing.T) {
	ref := newEnv(t)
	refStack := ref.shopStack(t, baseShop())
	deployAll(t, ref.deployer(t), []*stack.Stack{refStack})
	calls, _ := ref.calls.take()
	want := ref.owned(t)
	if len(calls) < 10 {
		t.Fatalf("a deploy from nothing made %d calls: %v", len(calls), calls)
	}
	for _, mode := range []struct {
		name    string
		lose    bool
		restart bool
	}{
		{"stop after the call", false, false},
		{"stop after the call, restarted", false, true},
		{"answer lost", true, false},
		{"answer lost, restarted", true, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			for n := 1; n <= len(calls); n++ {
				t.Run(fmt.Sprintf("after call %d %s", n, calls[n-1]), func(t *testing.T) {
					e := newEnv(t)
					d := e.deployer(t)
					ctx, cancel := context.WithCancel(context.Background())
					e.calls.mu.Lock()
					e.calls.cancelAfter, e.calls.cancel, e.calls.lose = n, cancel, mode.lose
					e.calls.mu.Unlock()
					err := d.Deploy(ctx, e.shopStack(t, baseShop()))
					cancel()
					e.calls.mu.Lock()
					e.calls.cancelAfter, e.calls.cancel = 0, nil
					e.calls.mu.Unlock()
					if err == nil && (n < len(calls) || mode.lose) {
						t.Fatalf("the deploy interrupted after call %d of %d succeeded", n, len(calls))
					}
					e.calls.take()

					if mode.restart {
						d = e.deployer(t)
					}
					st := e.shopStack(t, baseShop())
					deployAll(t, d, []*stack.Stack{st})
					checkDeployed(t, e, st)
					if got := e.owned(t); !slices.Equal(got, want) {
						t.Errorf("after the interrupted deploy and another: %v, want %v", got, want)
					}
					e.calls.take()
					deployAll(t, d, []*stack.Stack{e.shopStack(t, baseShop())})
					if _, writes := e.calls.take(); len(writes) != 0 {
						t.Errorf("not converged: a further deploy wrote %v", writes)
					}
					deployAll(t, d, []*stack.Stack{empty(st)})
					if left := e.owned(t); len(left) != 0 {
						t.Errorf("removal left %v", left)
					}
				})
			}
		})
	}
}
