package annotations

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Error is a bad annotation value: which annotation, what it held, and what
// is accepted.
type Error struct {
	// Key is the full annotation key.
	Key string
	// Value is the annotation's value as written.
	Value string
	// Want says what is accepted.
	Want string
	// Err is the underlying cause, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	msg := fmt.Sprintf("annotation %s: %s", e.Key, quote(e.Value))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Want != "" {
		msg += " (want " + e.Want + ")"
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// quote shortens long values so that messages stay readable.
func quote(v string) string {
	const max = 200
	if len(v) > max {
		v = v[:max] + "…"
	}
	return strconv.Quote(v)
}

// Errorf returns an Error for key and value with a formatted cause.
func Errorf(key, value, want, format string, args ...any) *Error {
	return &Error{Key: key, Value: value, Want: want, Err: fmt.Errorf(format, args...)}
}

// Set is the annotations of one object (or of a Service merged over an
// Ingress), read through typed accessors.
type Set map[string]string

// Merge returns the union of sets; for a key several sets hold, the value
// of the first wins (as the reference's Service-over-Ingress rule needs).
func Merge(sets ...Set) Set {
	out := Set{}
	for _, s := range sets {
		for k, v := range s {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}

// String returns the value of key and whether it is present.
func (s Set) String(key string) (string, bool) {
	v, ok := s[key]
	return v, ok
}

// Has reports whether key is present.
func (s Set) Has(key string) bool {
	_, ok := s[key]
	return ok
}

// Bool parses key as a boolean (true/false, also 1/0, t/f, TRUE/FALSE).
func (s Set) Bool(key string) (value, ok bool, err error) {
	raw, ok := s[key]
	if !ok {
		return false, false, nil
	}
	v, perr := ParseBool(raw)
	if perr != nil {
		return false, true, &Error{Key: key, Value: raw, Want: "true or false"}
	}
	return v, true, nil
}

// ParseBool parses a boolean as the reference does (Go's strconv.ParseBool).
func ParseBool(raw string) (bool, error) { return strconv.ParseBool(raw) }

// Int32 parses key as a 32-bit decimal integer.
func (s Set) Int32(key string) (value int32, ok bool, err error) {
	raw, ok := s[key]
	if !ok {
		return 0, false, nil
	}
	v, perr := strconv.ParseInt(raw, 10, 32)
	if perr != nil {
		return 0, true, &Error{Key: key, Value: raw, Want: "a decimal integer"}
	}
	return int32(v), true, nil
}

// Int64 parses key as a 64-bit decimal integer.
func (s Set) Int64(key string) (value int64, ok bool, err error) {
	raw, ok := s[key]
	if !ok {
		return 0, false, nil
	}
	v, perr := strconv.ParseInt(raw, 10, 64)
	if perr != nil {
		return 0, true, &Error{Key: key, Value: raw, Want: "a decimal integer"}
	}
	return v, true, nil
}

// StringList parses key as a comma-separated list; items are trimmed and
// empty items dropped.
func (s Set) StringList(key string) ([]string, bool) {
	raw, ok := s[key]
	if !ok {
		return nil, false
	}
	return ParseStringList(raw), true
}

// ParseStringList splits a comma-separated list, trimming items and dropping
// empty ones.
func ParseStringList(raw string) []string {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// StringMap parses key as comma-separated key=value pairs.
func (s Set) StringMap(key string) (map[string]string, bool, error) {
	raw, ok := s[key]
	if !ok {
		return nil, false, nil
	}
	m, err := ParseStringMap(raw)
	if err != nil {
		return nil, true, &Error{Key: key, Value: raw, Want: "comma-separated key=value pairs, with \\, for a comma inside a value", Err: err}
	}
	return m, true, nil
}

// ParseStringMap parses comma-separated key=value pairs as the reference
// does: keys and values are trimmed; a backslash makes the next character
// literal (so "\," is a comma inside a value); a comma ends a pair only when
// an "=" follows somewhere later, so a trailing comma stays in the last
// value; a piece without "=" or with an empty key is an error.
func ParseStringMap(raw string) (map[string]string, error) {
	var pieces []string
	var cur strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			cur.WriteByte(raw[i+1])
			i++
		case c == ',':
			rest := strings.TrimSpace(raw[i+1:])
			if strings.Contains(rest, "=") {
				pieces = append(pieces, strings.TrimSpace(cur.String()))
				cur.Reset()
			} else if rest != "" {
				pieces = append(pieces, strings.TrimSpace(cur.String()), rest)
				i = len(raw)
				cur.Reset()
			} else {
				cur.WriteByte(c)
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		pieces = append(pieces, strings.TrimSpace(cur.String()))
	}
	out := make(map[string]string, len(pieces))
	for _, p := range pieces {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("%s has no '='", quote(p))
		}
		if k == "" {
			return nil, fmt.Errorf("%s has an empty key", quote(p))
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// JSON decodes key's value into v (field names match case-insensitively,
// unknown fields are ignored, as with the reference).
func (s Set) JSON(key string, v any, want string) (bool, error) {
	raw, ok := s[key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return true, &Error{Key: key, Value: raw, Want: want, Err: jsonErr(err)}
	}
	return true, nil
}

// jsonErr drops Go type names from JSON errors, which mean little to users.
func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	if ok := asType(err, &te); ok {
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("%s: a JSON %s where %s is expected", field, te.Value, goTypeName(te.Type.String()))
	}
	var se *json.SyntaxError
	if ok := asType(err, &se); ok {
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	return err
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "an object"
	case strings.HasSuffix(t, ".IntOrString"):
		return "a number or a string"
	case strings.Contains(t, "int"):
		return "a number"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	default:
		return "an object"
	}
}
