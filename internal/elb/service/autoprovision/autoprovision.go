// Package autoprovision records one local convenience of the local ELB:
// with --auto-provision-references (server.Config.AutoProvisionReferences),
// a request that names a cloud resource the local cloud lacks (a subnet,
// a security group, an Elastic IP, an ACM certificate, a WAFv2 web ACL)
// creates that resource on first use instead of failing as AWS would.
// Each creation is logged as a warning that names the resource, the
// operation and parameter that named it, and what was created
// (docs/architecture.md, "Faithful by default": local conveniences are
// explicit, named and logged).
//
// Services create the resources inside the request's own state
// transaction and note each one in a Request; Request.Log writes the
// warnings once the transaction has committed, so a request that fails
// (and so creates nothing) logs nothing either.
package autoprovision

import (
	"context"
	"log/slog"
)

// The kinds of resources that are auto-provisioned, as the log names them.
const (
	KindSubnet        = "subnet"
	KindSecurityGroup = "security-group"
	KindElasticIP     = "elastic-ip"
	KindCertificate   = "certificate"
	KindWebACL        = "web-acl"
)

// Message is the log message of every auto-provisioning warning.
const Message = "auto-provisioned a missing reference"

// Created is one resource created because a request named it.
type Created struct {
	// Kind is one of the Kind constants.
	Kind string
	// ID is the resource's ID or ARN, as the request named it.
	ID string
	// Operation and Parameter say where it was named, e.g.
	// CreateLoadBalancer and SubnetMappings[0].SubnetId.
	Operation string
	Parameter string
	// Detail says what was created, in words.
	Detail string
	// Attrs are the created resource's particulars (VPC, zone, CIDR,
	// address, domain, …).
	Attrs []slog.Attr
}

// Request collects what one request auto-provisioned. The zero value is
// ready to use; a nil *Request collects nothing.
type Request struct {
	// Operation is the API operation being served.
	Operation string
	created   []Created
}

// NewRequest returns a collector for an operation.
func NewRequest(operation string) *Request { return &Request{Operation: operation} }

// Add notes a resource created because parameter named it.
func (r *Request) Add(kind, id, parameter, detail string, attrs ...slog.Attr) {
	if r == nil {
		return
	}
	r.created = append(r.created, Created{Kind: kind, ID: id, Operation: r.Operation, Parameter: parameter, Detail: detail, Attrs: attrs})
}

// Created returns what was noted, in order.
func (r *Request) Created() []Created {
	if r == nil {
		return nil
	}
	return r.created
}

// Reset forgets what was noted (for a transaction that is run again).
func (r *Request) Reset() {
	if r != nil {
		r.created = r.created[:0]
	}
}

// Log writes one warning per created resource. Call it only after the
// transaction that created them has committed.
func (r *Request) Log(ctx context.Context, log *slog.Logger) {
	if r == nil || log == nil {
		return
	}
	for _, c := range r.created {
		attrs := append([]slog.Attr{
			slog.String("kind", c.Kind),
			slog.String("id", c.ID),
			slog.String("operation", c.Operation),
			slog.String("parameter", c.Parameter),
			slog.String("created", c.Detail),
		}, c.Attrs...)
		log.LogAttrs(ctx, slog.LevelWarn, Message, attrs...)
	}
}
