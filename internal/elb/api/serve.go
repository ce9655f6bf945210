package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/elbowlb/elbow/internal/elb/api/awserr"
	"github.com/elbowlb/elbow/internal/elb/api/awsjson"
	"github.com/elbowlb/elbow/internal/elb/api/query"
	"github.com/elbowlb/elbow/internal/elb/api/sigv4"
)

// call is the state of one request.
type call struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	id     string
	start  time.Time
	svc    *service
	action string     // as the client named it
	op     *operation // the operation, once resolved
	akid   string
	in     any
	out    any
	body   []byte // the request's body, once read
	code   string // "OK" or the error code sent
	status int
	detail string // logged cause of an internal failure
}

// newRequestID returns a random UUID (version 4).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// ServeHTTP serves one AWS API request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{h: h, w: w, r: r, id: newRequestID(), start: time.Now()}
	defer c.finish()
	defer func() {
		// operation panics are recovered in operation.call; this is the
		// net for the handler's own code
		if v := recover(); v != nil {
			c.detail = fmt.Sprintf("panic in the handler: %v\n%s", v, debug.Stack())
			if c.status == 0 {
				c.fail(internalError(c.protocol()))
			}
		}
	}()
	c.serve()
}

func (c *call) serve() {
	h, r := c.h, c.r
	urlQuery, urlErr := url.ParseQuery(r.URL.RawQuery)

	var sig *sigv4.Signature
	var sigErr error
	switch {
	case len(r.Header.Values(sigv4.HeaderAuthorization)) > 1:
		sigErr = &sigv4.Error{Kind: sigv4.Incomplete, Message: "The request has more than one Authorization header."}
	case r.Header.Get(sigv4.HeaderAuthorization) != "":
		sig, sigErr = sigv4.ParseAuthorization(r.Header.Get(sigv4.HeaderAuthorization))
	case urlErr == nil && sigv4.Presigned(urlQuery):
		sig, sigErr = sigv4.ParsePresigned(urlQuery)
	default:
		sigErr = &sigv4.Error{Kind: sigv4.Missing, Message: msgMissingToken}
	}
	if sig != nil {
		c.svc = h.bySign[sig.Credential.Service]
		c.akid = sig.Credential.AccessKeyID
	}

	body, ok := c.readBody(c.guessProtocol())
	if !ok {
		return
	}
	c.body = body

	if c.svc == nil {
		c.svc = h.guessService(r, urlQuery, body)
		if sig != nil && sigErr == nil {
			if c.svc == nil {
				c.fail(awserr.WithStatus(http.StatusForbidden, "SignatureDoesNotMatch",
					"Credential should be scoped to a service this endpoint serves (%s), not '%s'. ", h.signingNames(), sig.Credential.Service))
				return
			}
			c.fail(authError(c.svc.Protocol, &sigv4.Error{Kind: sigv4.WrongService, Message: fmt.Sprintf(msgCorrectServiceFmt, c.svc.SigningName)}))
			return
		}
	}
	if sigErr != nil {
		var se *sigv4.Error
		if !errors.As(sigErr, &se) {
			se = &sigv4.Error{Kind: sigv4.Incomplete, Message: sigErr.Error()}
		}
		c.fail(authError(c.protocol(), se))
		return
	}

	payloadHash := sigv4.PayloadHash(body)
	if v := r.Header.Get(sigv4.HeaderContentSHA256); v != "" {
		if v != sigv4.UnsignedPayload && !strings.EqualFold(v, payloadHash) {
			c.fail(authError(c.protocol(), &sigv4.Error{Kind: sigv4.Mismatch, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}))
			return
		}
		payloadHash = v
	}
	err := sigv4.Verify(sig, sigv4.Request{HTTP: r, PayloadHash: payloadHash}, sigv4.Check{
		Secret: func(akid string) (string, bool) {
			s, ok := h.creds[akid]
			return s, ok
		},
		Region: h.region,
		Now:    h.now(),
	})
	if err != nil {
		var se *sigv4.Error
		if !errors.As(err, &se) {
			se = &sigv4.Error{Kind: sigv4.Incomplete, Message: err.Error()}
		}
		c.fail(authError(c.protocol(), se))
		return
	}

	var op *operation
	var in any
	var aerr *awserr.Error
	switch c.svc.Protocol {
	case JSON11:
		op, in, aerr = c.decodeJSON(body)
	default:
		op, in, aerr = c.decodeQuery(urlQuery, body)
	}
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.op, c.in = op, in

	if h.throttled(c.svc, c.action) {
		c.fail(throttleError(c.svc.Protocol))
		return
	}

	// The operation runs to its end even if the client goes away, as on
	// AWS: a write is applied or not, never abandoned half way.
	info := RequestInfo{
		RequestID:   c.id,
		Service:     c.svc.Name,
		Action:      c.action,
		AccessKeyID: c.akid,
		Region:      sig.Credential.Region,
	}
	ctx := WithInfo(context.WithoutCancel(r.Context()), info)
	if h.authorize != nil {
		denial, err := h.authorize(ctx, info, in)
		if err != nil {
			c.detail = fmt.Sprintf("authorize %s: %v", c.action, err)
			c.fail(internalError(c.svc.Protocol))
			return
		}
		if denial != "" {
			c.fail(accessDenied(c.svc.Protocol, denial))
			return
		}
	}
	out, err := op.call(ctx, reflect.ValueOf(in))
	if err != nil {
		c.failFromMethod(err)
		return
	}
	c.out = out
	c.respond(out)
}

// protocol is the protocol of the error shape: the service's, or awsQuery
// when no service could be told.
func (c *call) protocol() Protocol {
	if c.svc == nil {
		return Query
	}
	return c.svc.Protocol
}

// guessProtocol is the protocol used to bound the body before the service
// is known.
func (c *call) guessProtocol() Protocol {
	if c.svc != nil {
		return c.svc.Protocol
	}
	if c.r.Header.Get("X-Amz-Target") != "" {
		return JSON11
	}
	return Query
}

func (h *Handler) bodyLimit(p Protocol) int64 {
	if h.maxBody > 0 {
		return h.maxBody
	}
	if p == JSON11 {
		return DefaultJSONBodyBytes
	}
	return DefaultQueryBodyBytes
}

// readBody reads the whole body within the protocol's bound.
func (c *call) readBody(p Protocol) ([]byte, bool) {
	limit := c.h.bodyLimit(p)
	if c.r.ContentLength > limit {
		c.failFor(p, tooLargeError(p, limit))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.failFor(p, tooLargeError(p, limit))
			return nil, false
		}
		c.failFor(p, awserr.New(badRequestCode(p), "The request body could not be read: %v", err))
		return nil, false
	}
	return body, true
}

func badRequestCode(p Protocol) string {
	switch p {
	case JSON11:
		return "SerializationException"
	case EC2Query:
		return "InvalidParameterValue"
	}
	return "ValidationError"
}

// guessService tells the service of a request that is not signed for a
// served one, so that the refusal has the right shape: by X-Amz-Target,
// then by the Version parameter, then by the Action parameter.
func (h *Handler) guessService(r *http.Request, urlQuery url.Values, body []byte) *service {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix, _, _ := strings.Cut(t, ".")
		return h.byTarget[prefix]
	}
	params := url.Values{}
	for k, v := range urlQuery {
		params[k] = v
	}
	if isForm(r) {
		if bv, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range bv {
				params[k] = append(params[k], v...)
			}
		}
	}
	if v := params.Get("Version"); v != "" {
		for _, s := range h.services {
			if s.Protocol != JSON11 && s.Version == v {
				return s
			}
		}
	}
	if a := params.Get("Action"); a != "" {
		for _, s := range h.services {
			if _, ok := s.ops[a]; ok && s.Protocol != JSON11 {
				return s
			}
		}
	}
	return nil
}

func (h *Handler) signingNames() string {
	names := make([]string, 0, len(h.services))
	for _, s := range h.services {
		names = append(names, s.SigningName)
	}
	return strings.Join(names, ", ")
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// decodeQuery resolves the operation of an awsQuery / ec2Query request and
// decodes its input.
func (c *call) decodeQuery(urlQuery url.Values, body []byte) (*operation, any, *awserr.Error) {
	s := c.svc
	d := s.dialect
	params := url.Values{}
	if c.r.URL.RawQuery != "" {
		qv, err := query.ParseForm(d, c.r.URL.RawQuery)
		if err != nil {
			return nil, nil, awserr.As(err)
		}
		for k, v := range qv {
			if strings.HasPrefix(k, "X-Amz-") {
				continue // presigned-URL signature parameters
			}
			params[k] = v
		}
	}
	if len(body) > 0 {
		if !isForm(c.r) {
			return nil, nil, awserr.New(badRequestCode(s.Protocol), "The request body must be application/x-www-form-urlencoded, not %q", c.r.Header.Get("Content-Type"))
		}
		bv, err := query.ParseForm(d, string(body))
		if err != nil {
			return nil, nil, awserr.As(err)
		}
		for k, v := range bv {
			params[k] = append(params[k], v...)
		}
	}
	action := params.Get("Action")
	if len(params["Action"]) > 1 {
		return nil, nil, awserr.New(badRequestCode(s.Protocol), "The parameter Action is given %d times; give it once", len(params["Action"]))
	}
	if action == "" {
		return nil, nil, awserr.New("MissingAction", "The request must contain the parameter Action")
	}
	c.action = action
	version := params.Get("Version")
	switch {
	case version == "":
		return nil, nil, awserr.New("MissingParameter", "The request must contain the parameter Version")
	case version != s.Version || len(params["Version"]) > 1:
		if d == query.EC2Query {
			return nil, nil, awserr.New("InvalidParameterValue", "Value (%s) for parameter Version is invalid. This endpoint serves version %s", version, s.Version)
		}
		return nil, nil, awserr.New("InvalidAction", "Could not find operation %s for version %s", action, version)
	}
	op, ok := s.ops[action]
	if !ok {
		if d == query.EC2Query {
			return nil, nil, awserr.New("InvalidAction", "The action %s is not valid for this web service.", action)
		}
		return nil, nil, awserr.New("InvalidAction", "Could not find operation %s for version %s", action, version)
	}
	delete(params, "Action")
	delete(params, "Version")
	in := reflect.New(op.in).Interface()
	if err := query.Decode(d, params, in); err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) {
			return nil, nil, ae
		}
		c.detail = err.Error()
		return nil, nil, internalError(s.Protocol)
	}
	return op, in, nil
}

// decodeJSON resolves the operation of a JSON 1.1 request from X-Amz-Target
// and decodes its input.
func (c *call) decodeJSON(body []byte) (*operation, any, *awserr.Error) {
	s := c.svc
	target := c.r.Header.Get("X-Amz-Target")
	prefix, name, found := strings.Cut(target, ".")
	if target == "" || !found || prefix != s.TargetPrefix {
		return nil, nil, awserr.New("UnknownOperationException", "The X-Amz-Target %q is not an operation of %s: expected %s.<Operation>", target, s.Name, s.TargetPrefix)
	}
	c.action = name
	op, ok := s.ops[name]
	if !ok {
		return nil, nil, awserr.New("UnknownOperationException", "%s is not an operation of %s", name, s.Name)
	}
	if c.r.Method != http.MethodPost {
		return nil, nil, awserr.New("SerializationException", "JSON 1.1 requests are POSTs, not %s", c.r.Method)
	}
	in := reflect.New(op.in).Interface()
	if err := awsjson.Decode(body, in); err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) {
			return nil, nil, ae
		}
		c.detail = err.Error()
		return nil, nil, internalError(s.Protocol)
	}
	return op, in, nil
}

// failFromMethod answers an operation method's error.
func (c *call) failFromMethod(err error) {
	var pe *panicError
	if errors.As(err, &pe) {
		c.detail = fmt.Sprintf("%v\n%s", pe.value, pe.stack)
		c.fail(internalError(c.svc.Protocol))
		return
	}
	var ae *awserr.Error
	if !errors.As(err, &ae) {
		c.detail = err.Error()
		c.fail(internalError(c.svc.Protocol))
		return
	}
	if ae.Code == "InternalFailure" || ae.Code == "InternalError" {
		c.detail = ae.Message
		c.fail(internalError(c.svc.Protocol))
		return
	}
	if ae.Code == codeServiceUnavailable {
		c.fail(unavailableError(c.svc.Protocol, ae))
		return
	}
	c.fail(ae)
}

func (c *call) fail(e *awserr.Error) { c.failFor(c.protocol(), e) }

// failFor writes e in protocol p's error shape.
func (c *call) failFor(p Protocol, e *awserr.Error) {
	e = c.withoutLongEchoes(e)
	c.code = e.Code
	c.status = e.HTTPStatus()
	hdr := c.w.Header()
	hdr.Set("x-amzn-RequestId", c.id)
	var body []byte
	switch p {
	case JSON11:
		hdr.Set("Content-Type", awsjson.ContentType)
		hdr.Set("X-Amzn-ErrorType", e.Code)
		body = awsjson.EncodeError(e)
	case EC2Query:
		hdr.Set("Content-Type", "text/xml;charset=UTF-8")
		body = query.EncodeError(query.EC2Query, "", e, c.id)
	default:
		ns := ""
		if c.svc != nil {
			ns = c.svc.XMLNamespace
		}
		hdr.Set("Content-Type", "text/xml")
		body = query.EncodeError(query.AWSQuery, ns, e, c.id)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(c.status)
	_, _ = c.w.Write(body) // the client may have gone; nothing to do
}

// respond encodes a successful output.
func (c *call) respond(out any) {
	s := c.svc
	var body []byte
	var err error
	ct := "text/xml"
	switch s.Protocol {
	case JSON11:
		body, err = awsjson.Encode(out)
		ct = awsjson.ContentType
	default:
		body, err = query.EncodeResponse(s.dialect, c.action, s.XMLNamespace, c.id, out)
		if s.Protocol == EC2Query {
			ct = "text/xml;charset=UTF-8"
		}
	}
	if err != nil {
		c.detail = "encode response: " + err.Error()
		c.fail(internalError(s.Protocol))
		return
	}
	c.code, c.status = "OK", http.StatusOK
	hdr := c.w.Header()
	hdr.Set("x-amzn-RequestId", c.id)
	hdr.Set("Content-Type", ct)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body) // the client may have gone; nothing to do
}

// finish records metrics and logs the call.
func (c *call) finish() {
	d := time.Since(c.start)
	name := ""
	if c.svc != nil {
		name = c.svc.Name
	}
	// label only known operations: client-chosen names would make the
	// series unbounded (and may not be valid label values)
	opName := ""
	if c.op != nil {
		opName = c.op.name
	} else if c.svc != nil {
		if op, ok := c.svc.ops[c.action]; ok {
			opName = op.name
		}
	}
	c.h.metrics.observe(name, opName, c.code, d)
	attrs := []any{
		slog.String("request_id", c.id),
		slog.String("service", name),
		slog.String("action", c.action),
		slog.String("code", c.code),
		slog.Int("status", c.status),
		slog.Duration("duration", d),
	}
	if c.akid != "" {
		attrs = append(attrs, slog.String("access_key_id", c.akid))
	}
	if c.detail != "" {
		c.h.log.Error("aws api internal failure", append(attrs, slog.String("detail", c.detail))...)
		return
	}
	if c.action == "" {
		// refused before the operation was known: signature, body, Action
		c.h.log.Debug("aws api request refused", append(attrs, slog.String("remote", c.r.RemoteAddr))...)
		return
	}
	if isReadAction(c.action) {
		return
	}
	if res := resourceOf(c.action, c.in, c.out); res != "" {
		attrs = append(attrs, slog.String("resource", res))
	}
	c.h.log.Info("aws api write", attrs...)
}
