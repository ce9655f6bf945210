package api

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"sort"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/elbowlb/elbow/internal/elb/api/wire"
)

// operation is one method of a service's Impl.
type operation struct {
	name   string
	method reflect.Value // bound to Impl
	in     reflect.Type  // the input struct type
	out    reflect.Type  // the output struct type
}

var (
	contextType  = reflect.TypeFor[context.Context]()
	metadataType = reflect.TypeFor[middleware.Metadata]()
	timeType     = reflect.TypeFor[time.Time]()
)

// opShape reports whether a method type (receiver first) is
// func(context.Context, *In) (*Out, error) with In and Out structs.
func opShape(mt reflect.Type) bool {
	if mt.NumIn() != 3 || mt.NumOut() != 2 || mt.IsVariadic() {
		return false
	}
	if mt.In(1) != contextType || mt.Out(1) != errorType {
		return false
	}
	in, out := mt.In(2), mt.Out(0)
	return in.Kind() == reflect.Pointer && in.Elem().Kind() == reflect.Struct &&
		out.Kind() == reflect.Pointer && out.Elem().Kind() == reflect.Struct
}

// findOperations returns the operations of s.Impl, checking that each uses
// the SDK's OpInput/OpOutput types and that the wire tables cover them.
func findOperations(s Service) (map[string]*operation, error) {
	v := reflect.ValueOf(s.Impl)
	t := v.Type()
	ops := map[string]*operation{}
	for i := range t.NumMethod() {
		m := t.Method(i)
		if !opShape(m.Type) {
			continue
		}
		in, out := m.Type.In(2).Elem(), m.Type.Out(0).Elem()
		if in.Name() != m.Name+"Input" || out.Name() != m.Name+"Output" {
			return nil, fmt.Errorf("method %s takes %s and returns %s; an operation takes *%sInput and returns *%sOutput of the service's SDK package", m.Name, in, out, m.Name, m.Name)
		}
		if in.PkgPath() != out.PkgPath() {
			return nil, fmt.Errorf("method %s: input %s and output %s are from different packages", m.Name, in, out)
		}
		if err := checkWire(s.Protocol, in, true); err != nil {
			return nil, fmt.Errorf("operation %s: %w", m.Name, err)
		}
		if err := checkWire(s.Protocol, out, false); err != nil {
			return nil, fmt.Errorf("operation %s: %w", m.Name, err)
		}
		ops[m.Name] = &operation{name: m.Name, method: v.Method(i), in: in, out: out}
	}
	return ops, nil
}

func sortedOps(ops map[string]*operation) []string {
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkWire verifies that the codec can carry every field of t: for the
// query protocols every field must be in the generated wire tables (in the
// request direction for inputs, the response direction for outputs); no
// protocol can decode interface-typed (union or document) input members.
func checkWire(p Protocol, t reflect.Type, input bool) error {
	return checkType(p, t, input, map[reflect.Type]bool{})
}

func checkType(p Protocol, t reflect.Type, input bool, seen map[reflect.Type]bool) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() == reflect.Interface {
		if input || p != JSON11 {
			return fmt.Errorf("%s is an interface (union or document); the %s codec cannot carry it", t, p)
		}
		return nil
	}
	if t.Kind() != reflect.Struct || t == timeType || seen[t] {
		return nil
	}
	seen[t] = true
	var fields []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Type != metadataType {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	if p == Query || p == EC2Query {
		s := wire.LookupQuery(t)
		if s == nil {
			return fmt.Errorf("type %s is not in the wire tables: list the operation in internal/elb/api/wire/gen and run go generate", wire.TypeKey(t))
		}
		named := map[string]bool{}
		for _, f := range s.Fields {
			if input && f.Query != "" || !input && f.XML != "" {
				named[f.Go] = true
			}
		}
		for _, f := range fields {
			if !named[f.Name] {
				dir := "response element"
				if input {
					dir = "request parameter"
				}
				return fmt.Errorf("field %s of %s has no %s name in the wire tables", f.Name, wire.TypeKey(t), dir)
			}
		}
	}
	for _, f := range fields {
		if err := checkType(p, f.Type, input, seen); err != nil {
			return err
		}
	}
	return nil
}

// panicError is a panic recovered from an operation method.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// call invokes the operation, turning a panic into an error.
func (op *operation) call(ctx context.Context, in reflect.Value) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &panicError{value: r, stack: debug.Stack()}
		}
	}()
	res := op.method.Call([]reflect.Value{reflect.ValueOf(ctx), in})
	if e, _ := res[1].Interface().(error); e != nil {
		return nil, e
	}
	return res[0].Interface(), nil
}
