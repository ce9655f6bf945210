// Package alb is the data plane of the local ELB's Application Load
// Balancers.
//
// Every load balancer of type application in the state is realised on its
// zone addresses (LoadBalancer.Zones[].Address), one listening socket per
// zone address and listener port; internet-facing load balancers may also
// listen on the host's public addresses (Config.PublicAddrs), internal ones
// only on loopback. A request is routed by the listener's rules (priority
// order, then the default rule), and forwarded to a target chosen among
// the target group's healthy targets (all of them when none is healthy),
// redirected, answered with a fixed response, or refused the way ALB
// refuses it.
//
// The package is the plane's assembly and its transports; what becomes of
// a request is decided by the routing core, package routing, which reads
// no socket:
//
//   - plane.go, compile.go: Apply compiles a state snapshot (the routing
//     core's listeners, with certificates and security groups added here)
//     into an immutable configuration per socket and swaps it in
//     atomically: a request runs on the configuration it started with,
//     kept-alive client connections survive every change but the removal
//     of their listener. metrics.go and accesslog.go are CloudWatch's
//     metrics and ALB's access logs.
//   - http1_evloop_linux.go: the fast path. Plain HTTP/1.1 connections are
//     served by a few event loops (epoll, no goroutine per connection, no
//     allocation per request on the common path).
//   - http1_blocking.go: the blocking path, a goroutine per connection:
//     HTTPS, chunked request bodies, Expect: 100-continue, WebSocket, HTTPS
//     targets, and every connection where the event loops do not run (the
//     event loop hands such a connection over with the bytes it has read).
//   - http1_exchange.go, http1_parse.go, http1_relay.go, http1_headers.go:
//     what both HTTP/1.1 paths share: the request and response heads, the
//     one body relay, the headers the load balancer adds.
//   - http2.go: HTTP/2 and gRPC clients (golang.org/x/net/http2 through
//     net/http), forwarded over HTTP/1.1, HTTP/2 or gRPC.
//   - targetconns.go: the pools of kept-alive connections to targets, per
//     target and load balancer node address.
package alb
