package elbv2

import (
	"sort"

	"github.com/elbowlb/elbow/internal/elb/settings"
	"github.com/elbowlb/elbow/internal/elb/state"
)

// Attributes of load balancers, target groups and listeners, as the API
// reference's LoadBalancerAttribute, TargetGroupAttribute and
// ListenerAttribute pages list them per load balancer type, target group
// type and listener protocol, with their defaults and accepted values.
// Describe*Attributes returns every key of the resource's kind; Modify*
// accepts only those keys.

// attrSpec is one attribute: its default and what it accepts.
type attrSpec = settings.Attribute

// lbAttrSpecs returns the attributes of a load balancer type.
func lbAttrSpecs(lbType, scheme string) []attrSpec {
	return settings.LoadBalancerAttributes(lbType, scheme)
}

// tgAttrSpecs returns the attributes of a target group.
func tgAttrSpecs(tg *state.TargetGroup) []attrSpec { return settings.TargetGroupAttributes(tg) }

// listenerAttrSpecs returns the attributes of a listener protocol.
func listenerAttrSpecs(lbType, protocol string) []attrSpec {
	return settings.ListenerAttributes(lbType, protocol)
}

// tgFamily is the kind of load balancer a target group's protocol serves.
func tgFamily(tg *state.TargetGroup) string { return settings.Family(tg) }

// defaultAttrs returns the default attribute map of specs.
func defaultAttrs(specs []attrSpec) map[string]string { return settings.Defaults(specs) }

// rebaseAttrs returns the attributes of specs with the values of old
// kept where the key still applies.
func rebaseAttrs(specs []attrSpec, old map[string]string) map[string]string {
	m := defaultAttrs(specs)
	for k := range m {
		if v, ok := old[k]; ok {
			m[k] = v
		}
	}
	return m
}

// applyAttrs validates key/value pairs against specs and applies them to a
// copy of cur. noun names the resource in errors ("Load balancer").
func applyAttrs(noun string, specs []attrSpec, cur map[string]string, keys, values []string) (map[string]string, error) {
	byKey := make(map[string]attrSpec, len(specs))
	for _, a := range specs {
		byKey[a.Key] = a
	}
	out := rebaseAttrs(specs, cur)
	seen := map[string]bool{}
	for i, k := range keys {
		a, ok := byKey[k]
		if !ok {
			return nil, validation("%s attribute key '%s' is not recognized", noun, k)
		}
		if seen[k] {
			return nil, validation("%s attribute key '%s' is specified more than once", noun, k)
		}
		seen[k] = true
		v := values[i]
		if a.Check != nil {
			if err := a.Check(v); err != nil {
				return nil, validation("%s attribute '%s' value '%s' is not valid: %s", noun, k, v, err)
			}
		}
		out[k] = v
	}
	return out, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
