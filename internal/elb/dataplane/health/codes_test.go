package health

import (
	"strings"
	"testing"
)

func TestParseCodes(t *testing.T) {
	tests := []struct {
		in      string
		match   []int
		miss    []int
		str     string
		wantErr string
	}{
		{in: "200", match: []int{200}, miss: []int{199, 201, 404}, str: "200"},
		{in: "200,202", match: []int{200, 202}, miss: []int{201, 203}, str: "200,202"},
		{in: "200-299", match: []int{200, 250, 299}, miss: []int{199, 300}, str: "200-299"},
		{in: "200-299,404", match: []int{204, 404}, miss: []int{403}, str: "200-299,404"},
		{in: "12", match: []int{12}, miss: []int{0, 13}, str: "12"},
		{in: "0-99", match: []int{0, 14, 99}, miss: []int{100}, str: "0-99"},
		{in: " 200 , 202 ", match: []int{200, 202}, str: "200,202"},
		{in: "", wantErr: "empty"},
		{in: "abc", wantErr: `code "abc"`},
		{in: "200-", wantErr: `code ""`},
		{in: "-5", wantErr: `code ""`},
		{in: "299-200", wantErr: "runs backwards"},
		{in: "200,,202", wantErr: `code ""`},
		{in: "1000", wantErr: "from 0 to 999"},
		{in: "2OO", wantErr: `code "2OO"`},
		{in: "200-300-400", wantErr: `code "300-400"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := ParseCodes(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCodes(%q) error = %v, want one mentioning %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.match {
				if !c.Contains(m) {
					t.Errorf("%q does not match %d", tt.in, m)
				}
			}
			for _, m := range tt.miss {
				if c.Contains(m) {
					t.Errorf("%q matches %d", tt.in, m)
				}
			}
			if c.String() != tt.str {
				t.Errorf("String() = %q, want %q", c.String(), tt.str)
			}
		})
	}
}

func FuzzParseCodes(f *testing.F) {
	for _, s := range []string{"200", "200,202", "200-299", "0-99", "12", "", "299-200", "200-", ",", "9999", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCodes(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		// What parses renders to a form that parses to the same matcher.
		again, err := ParseCodes(c.String())
		if err != nil {
			t.Fatalf("ParseCodes(%q).String() = %q does not parse: %v", s, c.String(), err)
		}
		for code := 0; code <= maxCode; code++ {
			if c.Contains(code) != again.Contains(code) {
				t.Fatalf("%q and %q differ on %d", s, c.String(), code)
			}
		}
	})
}

func TestGRPCCodeForHTTP(t *testing.T) {
	for status, want := range map[int]int{400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14, 500: 2, 200: 2} {
		if got := grpcCodeForHTTP(status); got != want {
			t.Errorf("HTTP %d -> gRPC %d, want %d", status, got, want)
		}
	}
}
