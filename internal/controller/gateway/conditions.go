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
	timedListeners(existing.Listeners, desired.Listeners, func(l *gwv1.ListenerStatus) (gwv1.SectionName, *[]metav1.Condition) {
		return l.Name, &l.Conditions
	}, now)
	return desired
}

// timedListenerSet is timedGateway for a ListenerSet.
func timedListenerSet(existing gwv1.ListenerSetStatus, desired gwv1.ListenerSetStatus, now metav1.Time) gwv1.ListenerSetStatus {
	desired.Conditions = timed(existing.Conditions, desired.Conditions, now)
	timedListeners(existing.Listeners, desired.Listeners, func(l *gwv1.ListenerEntryStatus) (gwv1.SectionName, *[]metav1.Condition) {
		return l.Name, &l.Conditions
	}, now)
	return desired
}

// timedListeners applies timed to the conditions of each desired listener
// status, matched with the existing one of the same name.
func timedListeners[L any](existing, desired []L, fields func(*L) (gwv1.SectionName, *[]metav1.Condition), now metav1.Time) {
	for i := range desired {
		name, conds := fields(&desired[i])
		var old []metav1.Condition
		for j := range existing {
			if n, c := fields(&existing[j]); n == name {
				old = *c
			}
		}
		*conds = timed(old, *conds, now)
	}
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
