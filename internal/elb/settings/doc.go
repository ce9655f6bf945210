// Package settings holds what Elastic Load Balancing documents about the
// settings of its resources, stated once for the whole local ELB: the
// attributes of load balancers, listeners and target groups (keys,
// defaults and accepted values, as the API reference lists them per load
// balancer type, listener protocol and target group type) and the default
// health check of a target group.
//
// The ELBv2 service validates and describes attributes with the tables
// (LoadBalancerAttributes, ListenerAttributes, TargetGroupAttributes) and
// fills new target groups' health checks with DefaultHealthCheck. The data
// planes read a resource's effective attributes as typed values
// (ApplicationLB, ApplicationListener, ApplicationTargetGroup, NetworkLB,
// NetworkTargetGroup, NetworkListener): what the record holds where the
// table accepts it, the default otherwise, with an error naming each
// attribute whose value was not accepted. The health checker takes
// DefaultHealthCheck's values for the settings a record lacks.
package settings
