package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
)

// Error messages repeat what the client sent (AWS's "Value '…' at '…'
// failed to satisfy constraint" shape, "Tag value '…' is not valid"), but
// never a long value whole: a request value longer than maxEchoBytes is
// repeated as its first excerptBytes and its length, and a message is
// never longer than maxMessageBytes.
const (
	maxEchoBytes    = 256
	excerptBytes    = 64
	maxMessageBytes = 4096
)

// withoutLongEchoes returns e with every long request value its message
// repeats cut to an excerpt.
func (c *call) withoutLongEchoes(e *awserr.Error) *awserr.Error {
	if len(e.Message) <= maxEchoBytes {
		return e
	}
	msg := e.Message
	for _, v := range longValues(c.r.URL.RawQuery, c.body) {
		msg = strings.ReplaceAll(msg, v, excerpt(v))
	}
	msg = cutMiddle(msg, maxMessageBytes)
	if msg == e.Message {
		return e
	}
	short := *e
	short.Message = msg
	return &short
}

// longValues returns the values (and names) longer than maxEchoBytes of a
// request's URL query and body (a form or a JSON document), longest
// first.
func longValues(rawQuery string, body []byte) []string {
	var out []string
	add := func(s string) {
		if len(s) > maxEchoBytes {
			out = append(out, s)
		}
	}
	addForm := func(raw string) {
		if len(raw) <= maxEchoBytes {
			return
		}
		if vs, err := url.ParseQuery(raw); err == nil {
			for k, v := range vs {
				add(k)
				for _, s := range v {
					add(s)
				}
			}
		}
	}
	addForm(rawQuery)
	if len(body) > maxEchoBytes {
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			walkStrings(doc, add)
		} else {
			addForm(string(body))
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// walkStrings calls fn with every string (keys included) of a decoded
// JSON document.
func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	case map[string]any:
		for k, x := range v {
			fn(k)
			walkStrings(x, fn)
		}
	}
}

// excerpt is how a long value is repeated: its first excerptBytes (whole
// characters) and its length.
func excerpt(v string) string {
	return fmt.Sprintf("%s…(%d bytes)", prefix(v, excerptBytes), len(v))
}

// prefix returns v's longest prefix of at most n bytes that ends on a
// character boundary.
func prefix(v string, n int) string {
	if len(v) <= n {
		return v
	}
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}

// cutMiddle shortens msg to about max bytes, keeping its start and its
// end (where messages say what is accepted).
func cutMiddle(msg string, max int) string {
	if len(msg) <= max {
		return msg
	}
	head := prefix(msg, max/2)
	tailStart := len(msg) - max/4
	for tailStart < len(msg) && !utf8.RuneStart(msg[tailStart]) {
		tailStart++
	}
	return fmt.Sprintf("%s…(%d bytes omitted)…%s", head, tailStart-len(head), msg[tailStart:])
}
