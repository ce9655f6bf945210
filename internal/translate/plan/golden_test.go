package plan_test

import (
	"testing"

	"github.com/elbowlb/elbow/internal/translate/plan/golden"
)

// TestExamples plans every file of the acceptance corpus (examples/) as
// `elbow plan -f FILE` does: each must plan without an error, and its report
// must match testdata/examples/NAME.out.json.
func TestExamples(t *testing.T) {
	golden.RunExamples(t, "../../../examples", "testdata/examples")
}
