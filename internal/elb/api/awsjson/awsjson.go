// Package awsjson is the codec of AWS's JSON 1.1 protocol (ACM, WAFv2,
// Shield, Resource Groups Tagging): a request is a JSON object posted with
// X-Amz-Target: Prefix.Operation, a response a JSON object, an error
// {"__type": "...", "message": "..."}.
//
// Both directions walk the aws-sdk-go-v2 input and output structs by
// reflection. Members are named as the Go fields, except where package wire
// (generated from the SDK) says the SDK uses another name; timestamps are
// epoch seconds, blobs base64, as the SDK's JSON serializers do.
package awsjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/smithy-go/middleware"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/wire"
)

// ContentType is the media type of JSON 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// MaxDepth bounds the nesting of a request document.
const MaxDepth = 64

var (
	timeType     = reflect.TypeFor[time.Time]()
	metadataType = reflect.TypeFor[middleware.Metadata]()
)

func serialization(format string, args ...any) *awserr.Error {
	return awserr.New("SerializationException", format, args...)
}

// Decode fills in, a pointer to an SDK input struct, from a JSON request
// body. An empty body is an empty input. Malformed JSON or a member of the
// wrong type is a SerializationException; members the input does not have
// are ignored.
func Decode(body []byte, in any) error {
	rv := reflect.ValueOf(in)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("awsjson.Decode: want a pointer to a struct, got %T", in)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return serialization("The request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return serialization("The request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return serialization("The request body has data after the JSON document")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return serialization("The request body must be a JSON object, not %s", kindOf(doc))
	}
	return decodeStruct("", obj, rv.Elem(), 0)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func path(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// jsonFields returns the JSON name of each serialized exported field of t.
func jsonFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type == metadataType {
			continue
		}
		m[wire.JSONName(t, f.Name)] = i
	}
	return m
}

func decodeStruct(at string, obj map[string]any, v reflect.Value, depth int) error {
	if depth > MaxDepth {
		return serialization("The request nests deeper than %d levels at %s", MaxDepth, at)
	}
	fields := jsonFields(v.Type())
	for name, raw := range obj {
		i, ok := fields[name]
		if !ok || raw == nil {
			continue
		}
		if err := decodeValue(path(at, name), raw, v.Field(i), depth+1); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(at string, raw any, v reflect.Value, depth int) error {
	if depth > MaxDepth {
		return serialization("The request nests deeper than %d levels at %s", MaxDepth, at)
	}
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		if raw == nil {
			return nil
		}
		p := reflect.New(t.Elem())
		if err := decodeValue(at, raw, p.Elem(), depth); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if raw == nil {
		return nil
	}
	wrong := func(want string) error {
		return serialization("Expected %s for %s, got %s", want, at, kindOf(raw))
	}
	switch {
	case t == timeType:
		n, ok := raw.(json.Number)
		if !ok {
			return wrong("a timestamp in epoch seconds")
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
			return serialization("Invalid timestamp %s for %s", n, at)
		}
		sec, frac := math.Modf(f)
		v.Set(reflect.ValueOf(time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()))
		return nil
	case t.Kind() == reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return wrong("an object")
		}
		return decodeStruct(at, obj, v, depth)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		s, ok := raw.(string)
		if !ok {
			return wrong("a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return serialization("Invalid base64 data for %s: %v", at, err)
		}
		v.SetBytes(b)
		return nil
	case t.Kind() == reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			return wrong("an array")
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, e := range arr {
			if err := decodeValue(at+"["+strconv.Itoa(i)+"]", e, s.Index(i), depth+1); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case t.Kind() == reflect.Map:
		obj, ok := raw.(map[string]any)
		if !ok {
			return wrong("an object")
		}
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("awsjson: map with %s keys at %s", t.Key(), at)
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		for k, e := range obj {
			ev := reflect.New(t.Elem()).Elem()
			if err := decodeValue(at+"."+k, e, ev, depth+1); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		v.Set(m)
		return nil
	case t.Kind() == reflect.Interface:
		return serialization("The member %s is not supported by this endpoint", at)
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return wrong("a string")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return wrong("a boolean")
		}
		v.SetBool(b)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		n, ok := raw.(json.Number)
		if !ok {
			return wrong("an integer")
		}
		i, err := strconv.ParseInt(string(n), 10, t.Bits())
		if err != nil {
			return serialization("Invalid value %s for %s: expected an integer between %d and %d", n, at, int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1)
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		switch x := raw.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(x), t.Bits())
			if err != nil {
				return serialization("Invalid value %s for %s: expected a number", x, at)
			}
			v.SetFloat(f)
		case string:
			switch x {
			case "NaN":
				v.SetFloat(math.NaN())
			case "Infinity":
				v.SetFloat(math.Inf(1))
			case "-Infinity":
				v.SetFloat(math.Inf(-1))
			default:
				return wrong("a number")
			}
		default:
			return wrong("a number")
		}
	default:
		return fmt.Errorf("awsjson: unsupported Go type %s at %s", t, at)
	}
	return nil
}

// Encode returns the JSON body of an output struct (or pointer to one); nil
// is {}.
func Encode(out any) ([]byte, error) {
	var b bytes.Buffer
	v := reflect.ValueOf(out)
	for v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.Value{}
			break
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return []byte("{}"), nil
	}
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("awsjson: output is %s, not a struct", v.Type())
	}
	if err := encodeStruct(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// EncodeError returns {"__type":code,"message":message}.
func EncodeError(e *awserr.Error) []byte {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	return b
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).IsZero()
		}
		return false
	}
	return v.IsZero()
}

func encodeStruct(b *bytes.Buffer, v reflect.Value) error {
	t := v.Type()
	b.WriteByte('{')
	first := true
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type == metadataType {
			continue
		}
		fv := v.Field(i)
		if isEmpty(fv) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeString(b, wire.JSONName(t, f.Name))
		b.WriteByte(':')
		if err := encodeValue(b, fv); err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
	}
	b.WriteByte('}')
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

func encodeValue(b *bytes.Buffer, v reflect.Value) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t == timeType:
		tm := v.Interface().(time.Time)
		b.WriteString(strconv.FormatFloat(float64(tm.UnixMilli())/1e3, 'f', -1, 64))
		return nil
	case t.Kind() == reflect.Struct:
		return encodeStruct(b, v)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		writeString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
		return nil
	case t.Kind() == reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeValue(b, v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case t.Kind() == reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k.String())
			b.WriteByte(':')
			if err := encodeValue(b, v.MapIndex(k)); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case t.Kind() == reflect.Interface:
		return encodeUnion(b, v)
	}
	switch t.Kind() {
	case reflect.String:
		writeString(b, v.String())
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			b.WriteString(`"NaN"`)
		case math.IsInf(f, 1):
			b.WriteString(`"Infinity"`)
		case math.IsInf(f, -1):
			b.WriteString(`"-Infinity"`)
		default:
			b.WriteString(strconv.FormatFloat(f, 'g', -1, t.Bits()))
		}
	default:
		return fmt.Errorf("unsupported Go type %s", t)
	}
	return nil
}

// encodeUnion writes a smithy union value: the SDK represents union U's
// member M as a type UMemberM with a single Value field, written
// {"M": value}.
func encodeUnion(b *bytes.Buffer, v reflect.Value) error {
	if v.IsNil() {
		b.WriteString("null")
		return nil
	}
	c := v.Elem()
	for c.Kind() == reflect.Pointer {
		c = c.Elem()
	}
	name := c.Type().Name()
	i := strings.LastIndex(name, "Member")
	vf := c.FieldByName("Value")
	if c.Kind() != reflect.Struct || i < 0 || !vf.IsValid() {
		return fmt.Errorf("unsupported interface value %s", c.Type())
	}
	b.WriteByte('{')
	writeString(b, name[i+len("Member"):])
	b.WriteByte(':')
	if err := encodeValue(b, vf); err != nil {
		return err
	}
	b.WriteByte('}')
	return nil
}
