// Package elb is the local ELB (`elbow elb`): a server that speaks the AWS
// APIs of Elastic Load Balancing and the services around it, and carries
// traffic as ALBs and NLBs do. It holds no code; its parts are:
//
//   - server: the composition root, which wires the parts below into one
//     process; elbtest starts it inside a test; console is its web
//     console.
//   - api: the wire layer. One http.Handler for every service: SigV4
//     (api/sigv4), the awsQuery, ec2Query and JSON 1.1 codecs (api/query,
//     api/awsjson) with generated wire names (api/wire), and the error
//     every service returns (api/awserr).
//   - service: the AWS services, each answering from the store with AWS's
//     semantics: elbv2, ec2, acm, waf, tagging, sts, shield;
//     autoprovision records the local convenience of creating referenced
//     resources; svctest serves services for their tests.
//   - state: the durable store (bbolt). Services write records in
//     transactions; every commit gives an immutable Snapshot.
//   - settings and sslpolicy: what ELB documents, stated once (attributes
//     and health check defaults; security policies).
//   - dataplane: what applies snapshots and carries traffic: health (the
//     checker), access (security-group admission), alb (with its routing
//     core, alb/routing) and nlb.
//
// The flow is one-way: api → service → state → snapshot → dataplane.
// docs/architecture.md draws the whole pipeline from manifest to packet.
package elb
