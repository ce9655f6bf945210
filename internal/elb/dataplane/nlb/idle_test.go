package nlb

import (
	"testing"
	"time"
)

func TestIdleWindow(t *testing.T) {
	t0 := time.Now()
	f := &tcpFlow{idle: time.Second}
	f.dirs[0] = dirState{quietSince: t0, lastReturn: t0}
	f.dirs[1] = f.dirs[0]
	// Direction 1 moved bytes recently: not idle.
	f.dirs[1].quietSince = time.Now()
	f.dirs[1].lastReturn = time.Now()
	f.dirs[0].quietSince = t0.Add(-2 * time.Second)
	if f.note(0, false) {
		t.Error("idle although the other direction was active")
	}
	// Direction 1 has not reported for long (stuck writing): not idle.
	f.dirs[1] = dirState{quietSince: t0.Add(-5 * time.Second), lastReturn: t0.Add(-5 * time.Second)}
	if f.note(0, false) {
		t.Error("idle although the other direction has not been seen quiet for the timeout")
	}
	// Both quiet over a common window longer than the timeout: idle.
	f.dirs[1] = dirState{quietSince: t0.Add(-5 * time.Second), lastReturn: time.Now()}
	if !f.note(0, false) {
		t.Error("not idle although both directions were quiet for the timeout")
	}
	// The other direction ended: this one alone decides.
	f.dirs[1] = dirState{done: true}
	f.dirs[0].quietSince = time.Now().Add(-2 * time.Second)
	if !f.note(0, false) {
		t.Error("not idle although the only open direction was quiet for the timeout")
	}
	if f.note(0, true) {
		t.Error("idle right after moving bytes")
	}
}
