package api

import (
	"reflect"
	"strings"
)

// resourceOf names the resource a write call acted on, for its log line:
// the first field named like *Arn, *Id, *Name or Resource (or their
// plurals) with a
// value, at the top level and then one level down. Calls that make a
// resource (Create*, Allocate*, Run*, Import*, Request*) look in the output
// first, where the new ARN or ID is; the others in the input first.
func resourceOf(action string, in, out any) string {
	order := []any{in, out}
	for _, p := range []string{"Create", "Allocate", "Run", "Import", "Request"} {
		if strings.HasPrefix(action, p) {
			order = []any{out, in}
			break
		}
	}
	for _, v := range order {
		if r := findResource(reflect.ValueOf(v), 2); r != "" {
			return r
		}
	}
	return ""
}

func resourceField(name string) bool {
	name = strings.TrimSuffix(name, "s")
	return strings.HasSuffix(name, "Arn") || strings.HasSuffix(name, "Id") || strings.HasSuffix(name, "Name") || name == "Resource"
}

func findResource(v reflect.Value, depth int) string {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return ""
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || !resourceField(f.Name) {
			continue
		}
		if s := resourceText(v.Field(i)); s != "" {
			return s
		}
	}
	if depth <= 1 {
		return ""
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		for fv.Kind() == reflect.Pointer && !fv.IsNil() {
			fv = fv.Elem()
		}
		switch fv.Kind() {
		case reflect.Struct:
			if s := findResource(fv, depth-1); s != "" {
				return s
			}
		case reflect.Slice:
			if fv.Len() > 0 {
				if s := findResource(fv.Index(0), depth-1); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// resourceText is a string or the strings of a string list (at most three,
// then an ellipsis).
func resourceText(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return ""
		}
		var parts []string
		for i := range min(v.Len(), 3) {
			parts = append(parts, v.Index(i).String())
		}
		if v.Len() > 3 {
			parts = append(parts, "...")
		}
		return strings.Join(parts, ",")
	}
	return ""
}
