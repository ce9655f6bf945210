package translate

import (
	"fmt"
	"sort"
	"strings"
)

// ObjectRef names a Kubernetes object.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String returns "Kind namespace/name".
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Key returns "namespace/name" (or the name of a cluster-scoped object).
func (r ObjectRef) Key() string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// Severity ranks a diagnostic.
type Severity string

// Severities.
const (
	// Error: the object (or group member) was left out of its stack.
	Error Severity = "error"
	// Warning: the stack was built, but something is likely wrong or was assumed.
	Warning Severity = "warning"
	// Note: information, such as an object elbow does not handle.
	Note Severity = "note"
)

// Diagnostic is an error, warning or note about one object.
type Diagnostic struct {
	Severity Severity  `json:"severity"`
	Object   ObjectRef `json:"object"`
	// Stack is the ID of the stack the diagnostic concerns, if any.
	Stack   string `json:"stack,omitempty"`
	Message string `json:"message"`
}

// String returns "severity: Kind ns/name: message".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Severity, d.Object, d.Message)
}

// Decision records where a defaulted or discovered setting came from, for
// `elbow plan --explain`.
type Decision struct {
	// Subject names the setting, e.g. "scheme", "subnets", "certificate".
	Subject string `json:"subject"`
	// Value is the setting's value, e.g. "internet-facing".
	Value string `json:"value"`
	// Source says where the value came from.
	Source string `json:"source"`
}

// Trace collects the diagnostics and decisions of one build.
type Trace struct {
	Diagnostics []Diagnostic
	Decisions   []Decision
	decided     map[string]bool
}

// DecideOnce records a decision unless the same subject and value were
// decided already.
func (t *Trace) DecideOnce(subject, value, format string, args ...any) {
	k := subject + "\x00" + value
	if t.decided[k] {
		return
	}
	if t.decided == nil {
		t.decided = map[string]bool{}
	}
	t.decided[k] = true
	t.Decide(subject, value, format, args...)
}

// Add records a diagnostic.
func (t *Trace) Add(sev Severity, obj ObjectRef, format string, args ...any) {
	t.Diagnostics = append(t.Diagnostics, Diagnostic{Severity: sev, Object: obj, Message: fmt.Sprintf(format, args...)})
}

// Decide records a decision.
func (t *Trace) Decide(subject, value, format string, args ...any) {
	t.Decisions = append(t.Decisions, Decision{Subject: subject, Value: value, Source: fmt.Sprintf(format, args...)})
}

// SortDiagnostics orders diagnostics by object, severity and message, and
// drops exact duplicates.
func SortDiagnostics(ds []Diagnostic) []Diagnostic {
	rank := map[Severity]int{Error: 0, Warning: 1, Note: 2}
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Object != b.Object {
			if a.Object.Kind != b.Object.Kind {
				return a.Object.Kind < b.Object.Kind
			}
			return a.Object.Key() < b.Object.Key()
		}
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		return a.Message < b.Message
	})
	out := ds[:0]
	for i, d := range ds {
		if i > 0 && d == ds[i-1] {
			continue
		}
		out = append(out, d)
	}
	return out
}

// ObjectError is an error attributed to one object.
type ObjectError struct {
	Object ObjectRef
	Err    error
}

// Error implements error.
func (e *ObjectError) Error() string { return e.Object.String() + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ObjectError) Unwrap() error { return e.Err }

// Errorf returns an ObjectError.
func Errorf(obj ObjectRef, format string, args ...any) *ObjectError {
	return &ObjectError{Object: obj, Err: fmt.Errorf(format, args...)}
}

// JoinKeys renders object keys for messages: "a, b and c".
func JoinKeys(keys []string) string {
	switch len(keys) {
	case 0:
		return ""
	case 1:
		return keys[0]
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " and " + keys[len(keys)-1]
}
