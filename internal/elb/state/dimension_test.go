package state

import "testing"

func TestDimension(t *testing.T) {
	for _, tc := range []struct{ arn, want string }{
		{"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/50dc6c495c0c9188", "app/web/50dc6c495c0c9188"},
		{"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/net/tcp/1a2b3c4d5e6f7a8b", "net/tcp/1a2b3c4d5e6f7a8b"},
		{"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/73e2d6bc24d8a067", "targetgroup/web/73e2d6bc24d8a067"},
		{"sg-0123", "sg-0123"},
		{"", ""},
	} {
		if got := Dimension(tc.arn); got != tc.want {
			t.Errorf("Dimension(%q) = %q, want %q", tc.arn, got, tc.want)
		}
	}
}
