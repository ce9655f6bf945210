// Package query is the codec of AWS's two query protocols: awsQuery (ELBv2,
// STS) and ec2Query (EC2). Requests are form-encoded parameters
// (Subnets.member.1=..., Filter.1.Value.1=...), responses are XML. Both
// directions are generic: they walk the aws-sdk-go-v2 input and output
// structs by reflection, with the parameter and element names of package
// wire (generated from the SDK's own serializers), so every operation has
// the shape the SDK sends and expects.
package query

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/wire"
)

// Dialect is one of the two query protocols.
type Dialect int

const (
	// AWSQuery is the awsQuery protocol (ELBv2, STS): lists as
	// X.member.N, maps as X.entry.N.key, responses wrapped in XResult,
	// errors in ErrorResponse.
	AWSQuery Dialect = iota
	// EC2Query is EC2's protocol: flat lists X.N, lowerCamel response
	// elements, <item> sets, errors in Response/Errors.
	EC2Query
)

// Limits on what a request may contain.
const (
	// MaxParams bounds the number of parameters in one request.
	MaxParams = 10000
	// MaxDepth bounds the number of dot-separated segments of a key.
	MaxDepth = 24
	// MaxListLen bounds a list index.
	MaxListLen = 10000
	// MaxKeyLen bounds the length of a parameter name.
	MaxKeyLen = 512
)

// validationCode is the dialect's code for a malformed parameter value.
func (d Dialect) validationCode() string {
	if d == EC2Query {
		return "InvalidParameterValue"
	}
	return "ValidationError"
}

func (d Dialect) invalid(format string, args ...any) *awserr.Error {
	return awserr.New(d.validationCode(), format, args...)
}

// ParseForm parses a form-encoded body or query string. Every name and value
// must be valid UTF-8; a name may appear once.
func ParseForm(d Dialect, s string) (url.Values, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, d.invalid("The request parameters are malformed: %v", err)
	}
	if len(v) > MaxParams {
		return nil, d.invalid("The request has %d parameters; at most %d are accepted", len(v), MaxParams)
	}
	for k, vs := range v {
		if !utf8.ValidString(k) {
			return nil, d.invalid("A parameter name is not valid UTF-8: %q", k)
		}
		for _, x := range vs {
			if !utf8.ValidString(x) {
				return nil, d.invalid("The value of parameter %s is not valid UTF-8", k)
			}
		}
	}
	return v, nil
}

// node is one segment of the parameter tree: Filter.1.Value.2 becomes
// Filter -> 1 -> Value -> 2.
type node struct {
	key   string // full key up to here, for messages
	value *string
	kids  map[string]*node
}

func (n *node) kid(seg string) *node {
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	k, ok := n.kids[seg]
	if !ok {
		key := seg
		if n.key != "" {
			key = n.key + "." + seg
		}
		k = &node{key: key}
		n.kids[seg] = k
	}
	return k
}

func buildTree(d Dialect, params url.Values) (*node, error) {
	if len(params) > MaxParams {
		return nil, d.invalid("The request has %d parameters; at most %d are accepted", len(params), MaxParams)
	}
	root := &node{}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := params[k]
		if len(vs) != 1 {
			return nil, d.invalid("The parameter %s is given %d times; give it once", k, len(vs))
		}
		if len(k) > MaxKeyLen {
			return nil, d.invalid("The parameter name %.64s... is %d bytes long; at most %d are accepted", k, len(k), MaxKeyLen)
		}
		segs := strings.Split(k, ".")
		if len(segs) > MaxDepth {
			return nil, d.invalid("The parameter %s nests %d levels deep; at most %d are accepted", k, len(segs), MaxDepth)
		}
		n := root
		for _, s := range segs {
			if s == "" {
				return nil, d.invalid("The parameter name %q has an empty segment", k)
			}
			n = n.kid(s)
		}
		v := vs[0]
		n.value = &v
	}
	return root, nil
}

// Decode fills in, a pointer to an SDK input struct, from the request
// parameters (without Action, Version and the X-Amz-* signature parameters).
// A malformed value is a ValidationError (awsQuery) or
// InvalidParameterValue (EC2); a parameter the operation does not have is
// ignored by awsQuery services and refused with UnknownParameter by EC2, as
// AWS does.
func Decode(d Dialect, params url.Values, in any) error {
	rv := reflect.ValueOf(in)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("query.Decode: want a pointer to a struct, got %T", in)
	}
	root, err := buildTree(d, params)
	if err != nil {
		return err
	}
	dec := decoder{d: d}
	return dec.structFields(root, rv.Elem())
}

type decoder struct {
	d Dialect
}

func (dec *decoder) unknown(n *node) error {
	if dec.d == EC2Query {
		return awserr.New("UnknownParameter", "The parameter %s is not recognized", n.key)
	}
	return nil // awsQuery services ignore parameters they do not know
}

// unknownBelow reports the first parameter under n (n itself when it has a
// value).
func (dec *decoder) unknownBelow(n *node) error {
	if dec.d != EC2Query {
		return nil
	}
	for n.value == nil && len(n.kids) > 0 {
		n = n.kids[sortedKeys(n.kids)[0]]
	}
	return dec.unknown(n)
}

func sortedKeys(m map[string]*node) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (dec *decoder) structFields(n *node, v reflect.Value) error {
	t := v.Type()
	s := wire.LookupQuery(t)
	byName := map[string]wire.Field{}
	if s != nil {
		for _, f := range s.Fields {
			if f.Query != "" {
				byName[f.Query] = f
			}
		}
	}
	if n.value != nil && len(n.kids) == 0 && n.key != "" {
		// X=value where X is a structure: not a parameter of this shape.
		return dec.unknown(n)
	}
	for _, seg := range sortedKeys(n.kids) {
		kid := n.kids[seg]
		f, ok := byName[seg]
		if !ok {
			if err := dec.unknownBelow(kid); err != nil {
				return err
			}
			continue
		}
		fv := v.FieldByName(f.Go)
		if !fv.IsValid() {
			return fmt.Errorf("wire table names field %s of %s, which does not exist", f.Go, t)
		}
		if err := dec.value(kid, fv, f.QueryColl); err != nil {
			return err
		}
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// value decodes n into v (a settable field or element).
func (dec *decoder) value(n *node, v reflect.Value, c *wire.Coll) error {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if t.Elem().Kind() == reflect.Struct && t.Elem() != timeType {
			p := reflect.New(t.Elem())
			if err := dec.structFields(n, p.Elem()); err != nil {
				return err
			}
			v.Set(p)
			return nil
		}
		p := reflect.New(t.Elem())
		if err := dec.value(n, p.Elem(), c); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	switch {
	case t == timeType:
		s, err := dec.scalar(n)
		if err != nil {
			return err
		}
		tm, err := smithytime.ParseDateTime(s)
		if err != nil {
			return dec.d.invalid("Invalid value '%s' for parameter %s: expected an ISO 8601 timestamp such as 2006-01-02T15:04:05Z", s, n.key)
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	case t.Kind() == reflect.Struct:
		return dec.structFields(n, v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s, err := dec.scalar(n)
		if err != nil {
			return err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return dec.d.invalid("Invalid value for parameter %s: expected base64-encoded data", n.key)
		}
		v.SetBytes(b)
		return nil
	case t.Kind() == reflect.Slice:
		if c == nil || c.Map {
			return fmt.Errorf("no list layout for parameter %s (%s)", n.key, t)
		}
		return dec.list(n, v, c)
	case t.Kind() == reflect.Map:
		if c == nil || !c.Map {
			return fmt.Errorf("no map layout for parameter %s (%s)", n.key, t)
		}
		return dec.mapValue(n, v, c)
	}
	s, err := dec.scalar(n)
	if err != nil {
		return err
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch {
		case strings.EqualFold(s, "true"):
			v.SetBool(true)
		case strings.EqualFold(s, "false"):
			v.SetBool(false)
		default:
			return dec.d.invalid("Invalid value '%s' for parameter %s: expected true or false", s, n.key)
		}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		bits := t.Bits()
		i, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return dec.d.invalid("Invalid value '%s' for parameter %s: expected an integer between %d and %d", s, n.key, int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		f, err := parseFloat(s, t.Bits())
		if err != nil {
			return dec.d.invalid("Invalid value '%s' for parameter %s: expected a number", s, n.key)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("parameter %s: unsupported Go type %s", n.key, t)
	}
	return nil
}

func parseFloat(s string, bits int) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, bits)
}

// scalar returns n's value; n must be a leaf.
func (dec *decoder) scalar(n *node) (string, error) {
	if len(n.kids) > 0 {
		return "", dec.unknownBelow(n.kids[sortedKeys(n.kids)[0]])
	}
	if n.value == nil {
		return "", dec.d.invalid("The parameter %s has no value", n.key)
	}
	return *n.value, nil
}

// indexed returns the elements of a list or map node: children named 1..N,
// contiguous.
func (dec *decoder) indexed(n *node, what string) ([]*node, error) {
	idx := make([]*node, 0, len(n.kids))
	seen := make(map[int]*node, len(n.kids))
	maxIdx := 0
	for seg, kid := range n.kids {
		i, err := strconv.Atoi(seg)
		if err != nil || i < 1 || strconv.Itoa(i) != seg {
			if dec.d == EC2Query {
				return nil, dec.unknownBelow(kid)
			}
			return nil, dec.d.invalid("The parameter %s is not a %s index: indexes are decimal numbers from 1", kid.key, what)
		}
		if i > MaxListLen {
			return nil, dec.d.invalid("The parameter %s has index %d; %s indexes go up to %d", kid.key, i, what, MaxListLen)
		}
		seen[i] = kid
		maxIdx = max(maxIdx, i)
	}
	if maxIdx != len(seen) {
		for i := 1; i <= maxIdx; i++ {
			if seen[i] == nil {
				return nil, dec.d.invalid("The %s %s skips index %d: indexes must run 1, 2, 3, ... without gaps", what, n.key, i)
			}
		}
	}
	for i := 1; i <= maxIdx; i++ {
		idx = append(idx, seen[i])
	}
	return idx, nil
}

func (dec *decoder) list(n *node, v reflect.Value, c *wire.Coll) error {
	items := n
	if !c.Flat {
		if len(n.kids) == 0 {
			if n.value != nil && *n.value == "" {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // X= is an empty list
				return nil
			}
			return dec.d.invalid("The parameter %s is a list: give its members as %s.%s.1, %s.%s.2, ...", n.key, n.key, c.Member, n.key, c.Member)
		}
		for seg, kid := range n.kids {
			if seg != c.Member {
				if dec.d == EC2Query {
					return dec.unknownBelow(kid)
				}
				return dec.d.invalid("The parameter %s is not a member of list %s: give members as %s.%s.1, %s.%s.2, ...", kid.key, n.key, n.key, c.Member, n.key, c.Member)
			}
		}
		items = n.kids[c.Member]
	} else if len(n.kids) == 0 {
		if n.value != nil && *n.value == "" {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return nil
		}
		return dec.d.invalid("The parameter %s is a list: give its members as %s.1, %s.2, ...", n.key, n.key, n.key)
	}
	elems, err := dec.indexed(items, "list")
	if err != nil {
		return err
	}
	s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
	for i, e := range elems {
		if err := dec.value(e, s.Index(i), c.Elem); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func (dec *decoder) mapValue(n *node, v reflect.Value, c *wire.Coll) error {
	entries := n
	if !c.Flat {
		if len(n.kids) == 0 && n.value != nil && *n.value == "" {
			v.Set(reflect.MakeMap(v.Type()))
			return nil
		}
		for seg, kid := range n.kids {
			if seg != "entry" {
				if dec.d == EC2Query {
					return dec.unknownBelow(kid)
				}
				return dec.d.invalid("The parameter %s is not an entry of map %s: give entries as %s.entry.1.%s and %s.entry.1.%s", kid.key, n.key, n.key, c.Key, n.key, c.Value)
			}
		}
		entries = n.kids["entry"]
		if entries == nil {
			return dec.d.invalid("The parameter %s is a map: give entries as %s.entry.1.%s and %s.entry.1.%s", n.key, n.key, c.Key, n.key, c.Value)
		}
	}
	elems, err := dec.indexed(entries, "map entry")
	if err != nil {
		return err
	}
	m := reflect.MakeMapWithSize(v.Type(), len(elems))
	kt, vt := v.Type().Key(), v.Type().Elem()
	for _, e := range elems {
		for seg, kid := range e.kids {
			if seg != c.Key && seg != c.Value {
				if dec.d == EC2Query {
					return dec.unknownBelow(kid)
				}
				return dec.d.invalid("The parameter %s is not part of a map entry: entries have %s and %s", kid.key, c.Key, c.Value)
			}
		}
		kn := e.kids[c.Key]
		if kn == nil {
			return dec.d.invalid("The map entry %s has no %s", e.key, c.Key)
		}
		kv := reflect.New(kt).Elem()
		if err := dec.value(kn, kv, nil); err != nil {
			return err
		}
		if m.MapIndex(kv).IsValid() {
			return dec.d.invalid("The map %s has the key '%v' more than once", n.key, kv.Interface())
		}
		vv := reflect.New(vt).Elem()
		if vn := e.kids[c.Value]; vn != nil {
			if err := dec.value(vn, vv, c.Elem); err != nil {
				return err
			}
		}
		m.SetMapIndex(kv, vv)
	}
	v.Set(m)
	return nil
}
