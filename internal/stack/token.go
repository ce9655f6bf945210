package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Token is a string value that is either known now (a literal, such as a
// security group ID named in an annotation) or known only once another
// resource of the stack exists (a reference to one of its status fields,
// such as a load balancer's ARN).
//
// A literal marshals as a JSON string; a reference as
// {"$ref":"#/resources/<Type>/<ID>/status/<field>"}, as in the AWS Load
// Balancer Controller's stack JSON.
type Token struct {
	// Value is the literal value when Ref is the zero Ref.
	Value string
	// Ref, when set, names the status field the value comes from.
	Ref Ref
}

// Ref names a status field of a resource of the same stack.
type Ref struct {
	// Type is the resource type, for example TypeLoadBalancer.
	Type string
	// ID is the resource ID within its type, for example "LoadBalancer".
	ID string
	// Field is the status field, for example "loadBalancerARN".
	Field string
}

// Literal returns a token with a known value.
func Literal(v string) Token { return Token{Value: v} }

// RefTo returns a token referring to a status field of a resource.
func RefTo(typ, id, field string) Token { return Token{Ref: Ref{Type: typ, ID: id, Field: field}} }

// IsRef reports whether the token refers to another resource.
func (t Token) IsRef() bool { return t.Ref != Ref{} }

// String returns the literal value, or the reference in its JSON pointer
// form ("#/resources/…/status/…").
func (t Token) String() string {
	if t.IsRef() {
		return t.Ref.Pointer()
	}
	return t.Value
}

// Pointer returns the JSON pointer of the referenced field.
func (r Ref) Pointer() string {
	return fmt.Sprintf("#/resources/%s/%s/status/%s", r.Type, r.ID, r.Field)
}

// MarshalJSON implements json.Marshaler.
func (t Token) MarshalJSON() ([]byte, error) {
	if !t.IsRef() {
		return json.Marshal(t.Value)
	}
	return json.Marshal(map[string]string{"$ref": t.Ref.Pointer()})
}

// UnmarshalJSON implements json.Unmarshaler; it accepts both forms
// MarshalJSON writes.
func (t *Token) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Literal(s)
		return nil
	}
	var obj map[string]string
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("token: want a string or {\"$ref\": \"#/resources/TYPE/ID/status/FIELD\"}: %w", err)
	}
	ref, ok := obj["$ref"]
	if !ok || len(obj) != 1 {
		return fmt.Errorf("token: want a string or {\"$ref\": \"#/resources/TYPE/ID/status/FIELD\"}, got %s", b)
	}
	r, err := ParsePointer(ref)
	if err != nil {
		return err
	}
	*t = Token{Ref: r}
	return nil
}

// ParsePointer parses "#/resources/<Type>/<ID>/status/<field>". IDs may
// contain slashes (target group IDs do); the type never does, and the field
// is the last segment.
func ParsePointer(p string) (Ref, error) {
	const prefix = "#/resources/"
	bad := fmt.Errorf("reference %q: want #/resources/TYPE/ID/status/FIELD", p)
	if !strings.HasPrefix(p, prefix) {
		return Ref{}, bad
	}
	rest := p[len(prefix):]
	typ, rest, ok := strings.Cut(rest, "/")
	if !ok || typ == "" {
		return Ref{}, bad
	}
	i := strings.LastIndex(rest, "/status/")
	if i <= 0 {
		return Ref{}, bad
	}
	id, field := rest[:i], rest[i+len("/status/"):]
	if field == "" || strings.Contains(field, "/") {
		return Ref{}, bad
	}
	return Ref{Type: typ, ID: id, Field: field}, nil
}
