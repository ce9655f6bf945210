package server

import (
	"strings"
	"testing"
)

// The development credentials serve loopback only: off loopback, the API
// endpoint and the console need credentials of one's own.
func TestCheckCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // error substring; empty: accepted
	}{
		{"loopback, defaults", Config{Listen: "127.0.0.1:4566", ConsoleListen: "127.0.0.1:9090"}, ""},
		{"localhost console", Config{Listen: "127.0.0.1:4566", ConsoleListen: "localhost:9090"}, ""},
		{"API off loopback, defaults", Config{Listen: "0.0.0.0:4566"}, "test/test are refused on 0.0.0.0:4566"},
		{"console off loopback, defaults", Config{Listen: "127.0.0.1:4566", ConsoleListen: ":9090"}, "the console on :9090"},
		{"console off loopback, own credentials", Config{Listen: "127.0.0.1:4566", ConsoleListen: "192.0.2.1:9090", AccessKeyID: "AKID", SecretAccessKey: "secret"}, ""},
		{"half the credentials", Config{Listen: "127.0.0.1:4566", AccessKeyID: "AKID"}, "go together"},
	} {
		cfg := tc.cfg
		err := checkCredentials(&cfg)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
