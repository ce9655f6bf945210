package query

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"time"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/wire"
)

// EncodeResponse writes the XML response of a successful call of action:
//
//	awsQuery: <ActionResponse xmlns="NS"><ActionResult>…</ActionResult><ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata></ActionResponse>
//	ec2Query: <ActionResponse xmlns="NS"><requestId>ID</requestId>…</ActionResponse>
//
// out is the SDK output struct (or a pointer to it); nil writes an empty
// result.
func EncodeResponse(d Dialect, action, xmlns, requestID string, out any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString("<" + action + "Response xmlns=\"")
	escape(&b, xmlns)
	b.WriteString("\">")
	enc := encoder{b: &b}
	body := func() error {
		if out == nil {
			return nil
		}
		v := reflect.ValueOf(out)
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("query: output of %s is %s, not a struct", action, v.Type())
		}
		return enc.fields(v)
	}
	switch d {
	case EC2Query:
		b.WriteString("<requestId>")
		escape(&b, requestID)
		b.WriteString("</requestId>")
		if err := body(); err != nil {
			return nil, err
		}
	default:
		b.WriteString("<" + action + "Result>")
		if err := body(); err != nil {
			return nil, err
		}
		b.WriteString("</" + action + "Result><ResponseMetadata><RequestId>")
		escape(&b, requestID)
		b.WriteString("</RequestId></ResponseMetadata>")
	}
	b.WriteString("</" + action + "Response>")
	return b.Bytes(), nil
}

// EncodeError writes the XML error body of e:
//
//	awsQuery: <ErrorResponse xmlns="NS"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>
//	ec2Query: <Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors><RequestID>…</RequestID></Response>
func EncodeError(d Dialect, xmlns string, e *awserr.Error, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	switch d {
	case EC2Query:
		b.WriteString("<Response><Errors><Error><Code>")
		escape(&b, e.Code)
		b.WriteString("</Code><Message>")
		escape(&b, e.Message)
		b.WriteString("</Message></Error></Errors><RequestID>")
		escape(&b, requestID)
		b.WriteString("</RequestID></Response>")
	default:
		b.WriteString("<ErrorResponse")
		if xmlns != "" {
			b.WriteString(` xmlns="`)
			escape(&b, xmlns)
			b.WriteString(`"`)
		}
		b.WriteString("><Error><Type>")
		if e.Receiver {
			b.WriteString("Receiver")
		} else {
			b.WriteString("Sender")
		}
		b.WriteString("</Type><Code>")
		escape(&b, e.Code)
		b.WriteString("</Code><Message>")
		escape(&b, e.Message)
		b.WriteString("</Message></Error><RequestId>")
		escape(&b, requestID)
		b.WriteString("</RequestId></ErrorResponse>")
	}
	return b.Bytes()
}

func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // writes to a bytes.Buffer cannot fail
}

type encoder struct {
	b *bytes.Buffer
}

func (e *encoder) open(name string)  { e.b.WriteString("<" + name + ">") }
func (e *encoder) close(name string) { e.b.WriteString("</" + name + ">") }

// fields writes the fields of struct v that have an XML name.
func (e *encoder) fields(v reflect.Value) error {
	s := wire.LookupQuery(v.Type())
	if s == nil {
		return nil
	}
	for _, f := range s.Fields {
		if f.XML == "" {
			continue
		}
		fv := v.FieldByName(f.Go)
		if !fv.IsValid() {
			return fmt.Errorf("wire table names field %s of %s, which does not exist", f.Go, v.Type())
		}
		if isEmpty(fv) {
			continue
		}
		if err := e.member(f.XML, fv, f.XMLColl); err != nil {
			return err
		}
	}
	return nil
}

// isEmpty reports whether v is absent on the wire: a nil pointer, slice or
// map, or a zero scalar (the SDK reads a missing element as the zero value).
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

// member writes <name>v</name>, or for flat collections the repeated
// elements.
func (e *encoder) member(name string, v reflect.Value, c *wire.Coll) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		if c == nil || c.Map {
			return fmt.Errorf("no list layout for element %s (%s)", name, t)
		}
		if c.Flat {
			for i := range v.Len() {
				if err := e.member(name, v.Index(i), c.Elem); err != nil {
					return err
				}
			}
			return nil
		}
		e.open(name)
		for i := range v.Len() {
			if err := e.member(c.Member, v.Index(i), c.Elem); err != nil {
				return err
			}
		}
		e.close(name)
		return nil
	case t.Kind() == reflect.Map:
		if c == nil || !c.Map {
			return fmt.Errorf("no map layout for element %s (%s)", name, t)
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		if !c.Flat {
			e.open(name)
		}
		for _, k := range keys {
			if c.Flat {
				e.open(name)
			} else {
				e.open("entry")
			}
			if err := e.member(c.Key, k, nil); err != nil {
				return err
			}
			if err := e.member(c.Value, v.MapIndex(k), c.Elem); err != nil {
				return err
			}
			if c.Flat {
				e.close(name)
			} else {
				e.close("entry")
			}
		}
		if !c.Flat {
			e.close(name)
		}
		return nil
	case t.Kind() == reflect.Struct && t != timeType:
		e.open(name)
		if err := e.fields(v); err != nil {
			return err
		}
		e.close(name)
		return nil
	}
	s, err := scalarText(v)
	if err != nil {
		return fmt.Errorf("element %s: %w", name, err)
	}
	e.open(name)
	escape(e.b, s)
	e.close(name)
	return nil
}

func scalarText(v reflect.Value) (string, error) {
	t := v.Type()
	if t == timeType {
		return smithytime.FormatDateTime(v.Interface().(time.Time)), nil
	}
	switch t.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return "NaN", nil
		case math.IsInf(f, 1):
			return "Infinity", nil
		case math.IsInf(f, -1):
			return "-Infinity", nil
		}
		return strconv.FormatFloat(f, 'g', -1, t.Bits()), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(v.Bytes()), nil
		}
	}
	return "", fmt.Errorf("unsupported Go type %s", t)
}
