package api

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLongValuesAndExcerpts(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	form := "Action=AddTags&Tags.member.1.Value=" + long + "&Short=x"
	if got := longValues("", []byte(form)); len(got) != 1 || got[0] != long {
		t.Errorf("longValues(form) = %q", got)
	}
	json := `{"Tags":[{"Key":"k","Value":"` + long + `"}]}`
	if got := longValues("", []byte(json)); len(got) != 1 || got[0] != long {
		t.Errorf("longValues(JSON) = %q", got)
	}
	if got := longValues("Marker="+long, nil); len(got) != 1 || got[0] != long {
		t.Errorf("longValues(URL query) = %q", got)
	}
	ex := excerpt(long)
	if !utf8.ValidString(ex) || !strings.HasPrefix(ex, strings.Repeat("é", 32)+"…") || !strings.HasSuffix(ex, "(400 bytes)") {
		t.Errorf("excerpt = %q", ex)
	}
	msg := strings.Repeat("x", 10000) + " is not valid: up to 256 letters"
	cut := cutMiddle(msg, maxMessageBytes)
	if len(cut) > maxMessageBytes+64 || !strings.HasSuffix(cut, "is not valid: up to 256 letters") || !strings.Contains(cut, "bytes omitted") {
		t.Errorf("cutMiddle kept %d bytes: %q…", len(cut), cut[:80])
	}
	if got := cutMiddle("short", maxMessageBytes); got != "short" {
		t.Errorf("cutMiddle of a short message = %q", got)
	}
}

// FuzzCutMiddle: the result is bounded and valid UTF-8 when the input is.
func FuzzCutMiddle(f *testing.F) {
	f.Add(strings.Repeat("é", 5000), 100)
	f.Add("abc", 2)
	f.Fuzz(func(t *testing.T, msg string, max int) {
		if max < 16 || max > 1<<16 {
			return
		}
		got := cutMiddle(msg, max)
		if len(got) > max+64 {
			t.Fatalf("cutMiddle(%d bytes, %d) = %d bytes", len(msg), max, len(got))
		}
		if utf8.ValidString(msg) && !utf8.ValidString(got) {
			t.Fatalf("cutMiddle broke a character: %q", got)
		}
	})
}
