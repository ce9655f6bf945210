package alb_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// InFlight counts the requests a target is answering and forgets them
// once answered.
func TestInFlight(t *testing.T) { bothLoops(t, testInFlight) }

func testInFlight(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	b := e.startBackend("slow", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, b.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	key := state.TargetKey(tg, b.vpc.Addr().String(), int32(b.vpc.Port()))

	if got := e.plane.InFlight(); len(got) != 0 {
		t.Fatalf("before any request: %v, want none", got)
	}
	c := client(e.clientAddr(0))
	var wg sync.WaitGroup
	defer wg.Wait()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	for range 2 {
		wg.Go(func() {
			resp, err := c.Get(base + "/slow")
			if err != nil {
				t.Errorf("GET: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("status %d, want 204", resp.StatusCode)
			}
		})
	}
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the requests did not reach the target within 10 s")
		}
	}
	if got := e.plane.InFlight(); got[key] != 2 || len(got) != 1 {
		t.Errorf("with two requests at the target: %v, want %s: 2", got, key)
	}
	unblock()
	wg.Wait()
	eventually(t, "nothing in flight", func() bool { return len(e.plane.InFlight()) == 0 })
}
