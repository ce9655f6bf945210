package health

import (
	"slices"
	"testing"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// The checker remembers each check's outcome and code and every status
// change, in order.
func TestHistoryRecordsResultsAndTransitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("hist", "application", true)
	tg := e.tg(fastTG("hist", 2, 2))
	e.listen(lb, tg)
	target := startHTTP(t, e.host(1, 7), plainHTTP1,
		action{code: 200},                    // initial -> healthy (ALB: first success)
		action{code: 503}, action{code: 503}, // healthy -> unhealthy
		action{code: 200}, action{code: 200}, // unhealthy -> healthy
	)
	id := e.vpc(1, 7)
	if h := e.checker.History(tg, id, int32(target.port)); len(h.Results) != 0 || len(h.Transitions) != 0 {
		t.Fatalf("history of a target not yet synced: %+v, want none", h)
	}
	e.register(tg, id, target.port)
	e.sync()
	e.run()
	e.waitHistory(tg, id, target.port, 5)

	h := e.checker.History(tg, id, int32(target.port))
	if len(h.Results) < 5 {
		t.Fatalf("%d results after 5 checks: %+v", len(h.Results), h.Results)
	}
	var outcomes []string
	var codes []int
	for _, r := range h.Results[:5] {
		outcomes = append(outcomes, r.Result)
		codes = append(codes, r.Code)
		if r.Time.IsZero() {
			t.Errorf("result without a time: %+v", r)
		}
	}
	if want := []string{"success", "response_code_mismatch", "response_code_mismatch", "success", "success"}; !slices.Equal(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	if want := []int{200, 503, 503, 200, 200}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	mismatch := ResponseCodeMismatch(503)
	want := []Transition{{From: InitialHealthChecking, To: Healthy}, {From: Healthy, To: mismatch}, {From: mismatch, To: Healthy}}
	if len(h.Transitions) < len(want) {
		t.Fatalf("transitions %+v, want %+v", h.Transitions, want)
	}
	for i, w := range want {
		if got := h.Transitions[i]; got.From != w.From || got.To != w.To {
			t.Errorf("transition %d: %+v -> %+v, want %+v -> %+v", i, got.From, got.To, w.From, w.To)
		}
		if i > 0 && h.Transitions[i].Time.Before(h.Transitions[i-1].Time) {
			t.Errorf("transitions out of order: %+v", h.Transitions)
		}
	}

	// A refused check says why.
	target.srv.Close()
	e.waitStatus(tg, id, target.port, FailedHealthChecks)
	h = e.checker.History(tg, id, int32(target.port))
	last := h.Results[len(h.Results)-1]
	if last.Result != "failed" || last.Error == "" || last.Code != 0 {
		t.Errorf("refused check recorded as %+v, want failed with an error and no code", last)
	}
	if got := h.Transitions[len(h.Transitions)-1]; got.To != FailedHealthChecks {
		t.Errorf("last transition %+v, want to %+v", got, FailedHealthChecks)
	}

	// Deregistered: the checker forgets it.
	e.update(func(tx *state.Tx) error {
		_, err := state.Delete(tx, state.Targets, state.TargetKey(tg, id, int32(target.port)))
		return err
	})
	e.sync()
	if h := e.checker.History(tg, id, int32(target.port)); len(h.Results) != 0 {
		t.Errorf("history of a removed target: %+v", h)
	}
}

// The ring keeps the latest values, oldest first, and never more than
// its size.
func TestHistoryRingIsBounded(t *testing.T) {
	for _, tc := range []struct {
		adds int
		want []int
	}{
		{0, []int{}},
		{2, []int{0, 1}},
		{3, []int{0, 1, 2}},
		{4, []int{1, 2, 3}},
		{8, []int{5, 6, 7}},
	} {
		r := ring[int]{buf: make([]int, 3)}
		for i := range tc.adds {
			r.add(i)
		}
		if got := r.list(); !slices.Equal(got, tc.want) {
			t.Errorf("after %d adds: %v, want %v", tc.adds, got, tc.want)
		}
	}
}
