package instancetype

import (
	"strings"
	"testing"
)

// TestMaxPods checks the formula against the values Amazon EKS publishes
// (eni-max-pods.txt).
func TestMaxPods(t *testing.T) {
	for name, want := range map[string]int{"m5.large": 29, "m1.small": 8, "t3.medium": 17, "m5.xlarge": 58, "t3.micro": 4} {
		l, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.MaxPods(); got != want {
			t.Errorf("%s: max pods %d, want %d", name, got, want)
		}
	}
	if _, err := Lookup("x9.huge"); err == nil || !strings.Contains(err.Error(), "m5.large") {
		t.Errorf("unknown type: %v", err)
	}
}
