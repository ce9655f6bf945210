// Package routing is the routing core of the local ELB's Application Load
// Balancers: everything that decides what becomes of a request, and
// nothing that reads or writes a socket.
//
// It compiles a state snapshot's listeners (rules and their conditions,
// actions, transforms, the load balancer's and listener's attributes)
// and keeps the target groups they forward to (targets, health, slow
// start, stickiness, round-robin positions) from one snapshot to the
// next. For one request it answers which rule matched, which action runs,
// and either the load balancer's own answer (fixed response, redirect,
// or an error with ALB's status and error reason) or the target group and
// target the request goes to, with the Host, request target and
// X-Amzn-Trace-Id to send. The transports of package alb (HTTP/1.1 and
// HTTP/2) call it for every request; anything else may call it too:
//
//	r := routing.NewRouter(routing.Config{Addresses: addrs, Health: checker})
//	l := r.Compile(snapshot).Listeners[listenerARN]
//	var d routing.Decision
//	l.Route("us-east-1a", &routing.Request{
//		Method: []byte("GET"), Target: []byte("/api?x=1"), Host: []byte("example.com"),
//		Headers: []routing.Header{{Name: []byte("Cookie"), Value: []byte("a=b")}},
//		Source: clientAddr, ContentLength: -1, Start: time.Now(),
//	}, &d)
//	// d.Rule.ARN, d.Rule.Action.Kind, d.Kind (Respond or Forward),
//	// d.Status and d.Location, or d.Group.ARN and d.Target.VPC.
//
// A Router of its own answers without disturbing a running plane: target
// choice moves the round-robin position of the router's own groups only.
// The package also holds ALB's header semantics that both transports
// share: X-Amzn-Trace-Id, X-Forwarded-For, and the pages of the load
// balancer's own responses.
package routing
