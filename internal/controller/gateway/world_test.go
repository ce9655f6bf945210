package gateway

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	trgw "github.com/elbowlb/elbow/internal/translate/gateway"
)

// TestFingerprintCoversEveryKind: a new resourceVersion of an object of
// any kind the input lists gives the world another fingerprint, so that
// a shared build is never reused across a change to any object (a missing
// kind left routes without their status when they changed alone).
func TestFingerprintCoversEveryKind(t *testing.T) {
	in := &trgw.Input{}
	kinds := 0
	var each func(v reflect.Value)
	each = func(v reflect.Value) {
		for i := range v.NumField() {
			f, ft := v.Field(i), v.Type().Field(i)
			if ft.Anonymous && f.Kind() == reflect.Struct {
				each(f)
				continue
			}
			if f.Kind() != reflect.Slice {
				continue
			}
			if !reflect.PointerTo(ft.Type.Elem()).Implements(metaObject) {
				// Only lists load does not fill (Workloads are elbow
				// plan's, Off is the controller's own) may hold something
				// else than API objects.
				if ft.Name != "Workloads" && ft.Name != "Off" {
					t.Errorf("Input.%s holds %s, not API objects: the fingerprint cannot see its changes", ft.Name, ft.Type.Elem())
				}
				continue
			}
			kinds++
			f.Set(reflect.MakeSlice(ft.Type, 1, 1))
			o := f.Index(0).Addr().Interface().(metav1.Object)
			o.SetNamespace("ns")
			o.SetName("a")
			o.SetResourceVersion("1")
			before := fingerprint(in)
			o.SetResourceVersion("2")
			if after := fingerprint(in); after == before {
				t.Errorf("Input.%s: a new resourceVersion keeps the fingerprint", ft.Name)
			}
			o.SetName("b")
			if after := fingerprint(in); after == before {
				t.Errorf("Input.%s: another object keeps the fingerprint", ft.Name)
			}
			f.Set(reflect.Zero(ft.Type))
		}
	}
	each(reflect.ValueOf(in).Elem())
	// GatewayClasses through ListenerRuleConfigurations, Services, Secrets,
	// Namespaces.
	if kinds < 15 {
		t.Errorf("%d kinds of objects in the input, want at least 15", kinds)
	}
}
