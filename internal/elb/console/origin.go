package console

import (
	"strings"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// Origin is the Kubernetes object a resource was made for, as its tags
// tell (the AWS Load Balancer Controller's tags, which elbow writes too).
type Origin struct {
	// Kind is Ingress, IngressGroup, Service or Gateway.
	Kind string `json:"kind,omitempty"`
	// Name is namespace/name, or the group's name for an IngressGroup.
	Name string `json:"name,omitempty"`
	// Resource is the controller's resource ID within the object's stack
	// (a target group's "ns/svc:port", a rule's "port:priority").
	Resource string `json:"resource,omitempty"`
	// Cluster is the cluster the controller runs for.
	Cluster string `json:"cluster,omitempty"`
}

// stackTags are the controller's tag prefixes and the kind of object each
// stack stands for.
var stackTags = []struct{ prefix, kind string }{
	{"ingress.k8s.aws", "Ingress"},
	{"service.k8s.aws", "Service"},
	{"gateway.k8s.aws.alb", "Gateway"},
	{"gateway.k8s.aws.nlb", "Gateway"},
}

// originOf reads a resource's origin from its tags; nil when the tags
// name no Kubernetes object.
func originOf(tags *state.TagSet) *Origin {
	if tags == nil {
		return nil
	}
	o := &Origin{}
	o.Cluster, _ = tags.Get("elbv2.k8s.aws/cluster")
	for _, st := range stackTags {
		stack, ok := tags.Get(st.prefix + "/stack")
		if !ok {
			continue
		}
		o.Kind, o.Name = st.kind, stack
		if st.kind == "Ingress" && !strings.Contains(stack, "/") {
			// An explicit IngressGroup's stack is the group's name.
			o.Kind = "IngressGroup"
		}
		o.Resource, _ = tags.Get(st.prefix + "/resource")
		return o
	}
	// The legacy tags of the controller's first versions.
	ns, _ := tags.Get("kubernetes.io/namespace")
	if name, ok := tags.Get("kubernetes.io/ingress-name"); ok {
		o.Kind, o.Name = "Ingress", qualify(ns, name)
	} else if name, ok := tags.Get("kubernetes.io/service-name"); ok {
		o.Kind, o.Name = "Service", qualify(ns, name)
		if port, ok := tags.Get("kubernetes.io/service-port"); ok {
			o.Resource = "port " + port
		}
	}
	if o.Cluster == "" {
		o.Cluster, _ = tags.Get("ingress.k8s.aws/cluster")
	}
	if o.Kind == "" && o.Cluster == "" {
		return nil
	}
	return o
}

func qualify(ns, name string) string {
	if ns == "" || strings.Contains(name, "/") {
		return name
	}
	return ns + "/" + name
}
