package gateway_test

import (
	"testing"

	"github.com/elbowlb/elbow/internal/translate/plan/golden"
)

// TestGolden plans every testdata/NAME.in.yaml and compares the report
// (stacks, diagnostics and the status of every Gateway API object) with
// NAME.out.json (go test -update rewrites them; review every change).
func TestGolden(t *testing.T) { golden.Run(t, "testdata") }
