// Package wire holds the wire names of the aws-sdk-go-v2 types the local ELB
// serves: for every structure reachable from the served operations, which
// query parameter and which XML element each Go field travels as, and how its
// lists and maps are laid out. The tables are generated (go generate) from the
// SDK's own serializers and deserializers, so a codec driven by them speaks
// exactly what the SDK sends and expects.
//
// The query protocols (awsQuery: ELBv2, STS; ec2Query: EC2) need the full
// tables (EC2's names differ from the Go names almost everywhere). The JSON 1.1
// services use the Go field names except for a few members, listed in
// JSONNames.
package wire

//go:generate go run ./gen -out .

import "reflect"

// Coll is the layout of a list or a map.
type Coll struct {
	// Map is true for maps (entries with Key and Value), false for lists.
	Map bool `json:",omitempty"`
	// Member is a list member's name: the query segment before the index
	// ("member" in X.member.1) and the XML element of each item ("member",
	// "item"). Empty for maps.
	Member string `json:",omitempty"`
	// Flat lists and maps have no member/entry segment in queries
	// (EC2's Filter.1.Name) and no wrapping element in XML.
	Flat bool `json:",omitempty"`
	// Key and Value are a map entry's key and value names.
	Key   string `json:",omitempty"`
	Value string `json:",omitempty"`
	// Elem is the layout of each element when it is itself a list or map.
	Elem *Coll `json:",omitempty"`
}

// Field is one Go field of a structure and its names on the wire.
type Field struct {
	// Go is the Go field name.
	Go string
	// Query is the request parameter name; empty when the SDK never sends
	// this field.
	Query string `json:",omitempty"`
	// QueryColl is the request layout when the field is a list or map.
	QueryColl *Coll `json:",omitempty"`
	// XML is the response element name; empty when the SDK never reads this
	// field from a response.
	XML string `json:",omitempty"`
	// XMLColl is the response layout when the field is a list or map.
	XMLColl *Coll `json:",omitempty"`
}

// Struct is the wire description of one Go structure type.
type Struct struct {
	// Fields in Go declaration order of the SDK's serializers.
	Fields []Field
}

// TypeKey is the key of a Go type in the tables: its package path, a dot
// and its name, e.g.
// "github.com/aws/aws-sdk-go-v2/service/ec2/types.Subnet".
func TypeKey(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() + "." + t.Name()
}

// LookupQuery returns the query-protocol description of t (awsQuery or
// ec2Query), or nil when no served operation uses t.
func LookupQuery(t reflect.Type) *Struct {
	return queryStructs[TypeKey(t)]
}

// JSONName returns the JSON member name of field goName of struct type t:
// goName itself unless the SDK serializes that member under another name.
func JSONName(t reflect.Type, goName string) string {
	if m, ok := jsonNames[TypeKey(t)]; ok {
		if n, ok := m[goName]; ok {
			return n
		}
	}
	return goName
}

// QueryKeys returns the keys of every structure in the query tables, for
// tests that check the tables against the SDK's types.
func QueryKeys() []string {
	keys := make([]string, 0, len(queryStructs))
	for k := range queryStructs {
		keys = append(keys, k)
	}
	return keys
}

// JSONExceptions returns a copy of the JSON name exceptions (type key ->
// Go field -> JSON name), for tests.
func JSONExceptions() map[string]map[string]string {
	out := make(map[string]map[string]string, len(jsonNames))
	for k, m := range jsonNames {
		c := make(map[string]string, len(m))
		for f, n := range m {
			c[f] = n
		}
		out[k] = c
	}
	return out
}
