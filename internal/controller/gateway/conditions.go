package gateway

import (
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// timed returns the desired conditions with their LastTransitionTime:
// that of the existing condition of the same type when its status did not
// change, now otherwise. Translation leaves the times out; the spec wants
// them to say when the status last changed.
func timed(existing, desired []metav1.Condition, now metav1.Time) []metav1.Condition {
	if desired == nil {
		return nil
	}
	out := make([]metav1.Condition, len(desired))
	for i, d := range desired {
		d.LastTransitionTime = now
		for _, e := range existing {
			if e.Type == d.Type && e.Status == d.Status && !e.LastTransitionTime.IsZero() {
				d.LastTransitionTime = e.LastTransitionTime
				break
			}
		}
		out[i] = d
	}
	return out
}

// timedGateway applies timed to a Gateway's conditions and to each
// listener's (matched by name).
func timedGateway(existing gwv1.GatewayStatus, desired gwv1.GatewayStatus, now metav1.Time) gwv1.GatewayStatus {
	desired.Conditions = timed(existing.Conditions, desired.Conditions, now)
	for i := range desired.Listeners {
		l := &desired.Listeners[i]
		var old []metav1.Condition
		for _, e := range existing.Listeners {
			if e.Name == l.Name {
				old = e.Conditions
			}
		}
		l.Conditions = timed(old, l.Conditions, now)
	}
	return desired
}

// timedListenerSet is timedGateway for a ListenerSet.
func timedListenerSet(existing gwv1.ListenerSetStatus, desired gwv1.ListenerSetStatus, now metav1.Time) gwv1.ListenerSetStatus {
	desired.Conditions = timed(existing.Conditions, desired.Conditions, now)
	for i := range desired.Listeners {
		l := &desired.Listeners[i]
		var old []metav1.Condition
		for _, e := range existing.Listeners {
			if e.Name == l.Name {
				old = e.Conditions
			}
		}
		l.Conditions = timed(old, l.Conditions, now)
	}
	return desired
}

// timedParents applies timed to each route parent status, matched with
// the existing entry of the same parentRef and controller.
func timedParents(existing, desired []gwv1.RouteParentStatus, now metav1.Time) []gwv1.RouteParentStatus {
	out := make([]gwv1.RouteParentStatus, len(desired))
	for i, d := range desired {
		var old []metav1.Condition
		for _, e := range existing {
			if e.ControllerName == d.ControllerName && reflect.DeepEqual(e.ParentRef, d.ParentRef) {
				old = e.Conditions
			}
		}
		d.Conditions = timed(old, d.Conditions, now)
		out[i] = d
	}
	return out
}
