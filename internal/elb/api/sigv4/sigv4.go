// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests:
// the Authorization header form and the presigned query-string form.
//
// It parses the signature, rebuilds the canonical request and the string to
// sign from what arrived, and compares the signature in constant time. It
// knows nothing of services or of how AWS words its refusals: a failed check
// is an *Error whose Kind the caller maps to the protocol's error code.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/httpbinding"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// Header and query parameter names of SigV4.
const (
	HeaderAuthorization = "Authorization"
	HeaderDate          = "X-Amz-Date"
	HeaderContentSHA256 = "X-Amz-Content-Sha256"
	HeaderSecurityToken = "X-Amz-Security-Token"

	QueryAlgorithm     = "X-Amz-Algorithm"
	QueryCredential    = "X-Amz-Credential"
	QueryDate          = "X-Amz-Date"
	QueryExpires       = "X-Amz-Expires"
	QuerySignedHeaders = "X-Amz-SignedHeaders"
	QuerySignature     = "X-Amz-Signature"
	QuerySecurityToken = "X-Amz-Security-Token"
)

// UnsignedPayload is the X-Amz-Content-Sha256 value of a request whose body
// is not covered by the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// TimeFormat is the layout of X-Amz-Date.
const TimeFormat = "20060102T150405Z"

// MaxSkew is how far X-Amz-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

// maxPresignExpiry is the longest X-Amz-Expires accepted (7 days, as AWS).
const maxPresignExpiry = 7 * 24 * time.Hour

// Kind classifies a verification failure.
type Kind int

// Failure kinds. The caller turns each into the service's error code.
const (
	// Missing: the request carries no signature at all.
	Missing Kind = iota + 1
	// Incomplete: the Authorization header or presigned parameters are
	// malformed or lack a part.
	Incomplete
	// UnknownKey: the access key ID is not known.
	UnknownKey
	// Mismatch: the signature does not match the request.
	Mismatch
	// Expired: X-Amz-Date is too far in the past (or a presigned URL has
	// expired).
	Expired
	// NotYetCurrent: X-Amz-Date is too far in the future.
	NotYetCurrent
	// WrongRegion: the credential scope names another region.
	WrongRegion
	// WrongService: the credential scope names a service not served here.
	WrongService
	// DateMismatch: the scope date is not the date of X-Amz-Date.
	DateMismatch
)

// Error is a verification failure with AWS's wording in Message.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

func fail(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Credential is the parsed credential scope
// AKID/YYYYMMDD/REGION/SERVICE/aws4_request.
type Credential struct {
	AccessKeyID string
	Date        string
	Region      string
	Service     string
}

// Scope returns YYYYMMDD/REGION/SERVICE/aws4_request.
func (c Credential) Scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/aws4_request"
}

// Signature is a parsed SigV4 signature, from the Authorization header or
// from a presigned query string.
type Signature struct {
	Credential    Credential
	SignedHeaders []string // lower case, as listed by the client
	Signature     string   // lower-case hex
	// Presigned is true for a query-string signature.
	Presigned bool
	// Date is X-Amz-Date as sent (empty for header signatures: it is read
	// from the headers then).
	Date string
	// Expires is X-Amz-Expires of a presigned request.
	Expires time.Duration
}

// Presigned reports whether the request carries a query-string signature.
func Presigned(q url.Values) bool {
	return q.Get(QueryAlgorithm) != "" || q.Get(QuerySignature) != "" || q.Get(QueryCredential) != ""
}

// ParseAuthorization parses an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=5d67...
//
// The error wording follows AWS's IncompleteSignature messages.
func ParseAuthorization(h string) (*Signature, error) {
	if len(h) > 8192 {
		return nil, fail(Incomplete, "Authorization header is too long (%d bytes).", len(h))
	}
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		if strings.HasPrefix(alg, "AWS4-") || alg == "AWS" {
			return nil, fail(Incomplete, "Unsupported AWS 'algorithm': '%s'. Only %s is accepted.", alg, Algorithm)
		}
		return nil, fail(Incomplete, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", h)
	}
	params := map[string]string{}
	// AWS separates the parameters with commas and/or spaces: in
	// "Credential=AKID /2015...", '/2015...' is a pair without '='.
	for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fail(Incomplete, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, h)
		}
		if _, dup := params[k]; dup {
			return nil, fail(Incomplete, "Authorization header has the '%s' parameter more than once: '%s'.", k, h)
		}
		params[k] = v
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	if len(missing) > 0 {
		return nil, fail(Incomplete, "%s Authorization=%s", strings.Join(missing, " "), h)
	}
	cred, err := parseCredential(params["Credential"])
	if err != nil {
		return nil, err
	}
	sh, err := parseSignedHeaders(params["SignedHeaders"])
	if err != nil {
		return nil, err
	}
	sig, err := parseSignatureHex(params["Signature"])
	if err != nil {
		return nil, err
	}
	return &Signature{Credential: cred, SignedHeaders: sh, Signature: sig}, nil
}

// ParsePresigned parses the X-Amz-* parameters of a presigned query string.
func ParsePresigned(q url.Values) (*Signature, error) {
	for _, k := range []string{QueryAlgorithm, QueryCredential, QueryDate, QueryExpires, QuerySignedHeaders, QuerySignature} {
		if len(q[k]) > 1 {
			return nil, fail(Incomplete, "Query-string authentication has the '%s' parameter more than once.", k)
		}
	}
	var missing []string
	for _, k := range []string{QueryAlgorithm, QueryCredential, QueryDate, QuerySignedHeaders, QuerySignature} {
		if q.Get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fail(Incomplete, "AWS query-string parameters missing: %s.", strings.Join(missing, ", "))
	}
	if alg := q.Get(QueryAlgorithm); alg != Algorithm {
		return nil, fail(Incomplete, "X-Amz-Algorithm only supports \"%s\", not %q.", Algorithm, alg)
	}
	cred, err := parseCredential(q.Get(QueryCredential))
	if err != nil {
		return nil, err
	}
	sh, err := parseSignedHeaders(q.Get(QuerySignedHeaders))
	if err != nil {
		return nil, err
	}
	sig, err := parseSignatureHex(q.Get(QuerySignature))
	if err != nil {
		return nil, err
	}
	s := &Signature{Credential: cred, SignedHeaders: sh, Signature: sig, Presigned: true, Date: q.Get(QueryDate)}
	if e := q.Get(QueryExpires); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n <= 0 || time.Duration(n)*time.Second > maxPresignExpiry {
			return nil, fail(Incomplete, "X-Amz-Expires must be a number of seconds between 1 and %d, not %q.", int64(maxPresignExpiry/time.Second), e)
		}
		s.Expires = time.Duration(n) * time.Second
	} else {
		s.Expires = MaxSkew
	}
	return s, nil
}

func parseCredential(v string) (Credential, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return Credential{}, fail(Incomplete, "Credential should have the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request, not '%s'.", v)
	}
	for i, p := range parts[:4] {
		if p == "" {
			name := [...]string{"access key ID", "date", "region", "service"}[i]
			return Credential{}, fail(Incomplete, "Credential has an empty %s: '%s'.", name, v)
		}
	}
	if _, err := time.Parse("20060102", parts[1]); err != nil {
		return Credential{}, fail(Incomplete, "Credential date '%s' is not of the form YYYYMMDD.", parts[1])
	}
	return Credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

func parseSignedHeaders(v string) ([]string, error) {
	hs := strings.Split(v, ";")
	if len(hs) > 128 {
		return nil, fail(Incomplete, "SignedHeaders lists %d headers; at most 128 are accepted.", len(hs))
	}
	for _, h := range hs {
		if h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " \t:") {
			return nil, fail(Incomplete, "SignedHeaders must be lower-case header names separated by ';', not '%s'.", v)
		}
	}
	return hs, nil
}

func parseSignatureHex(v string) (string, error) {
	if len(v) != 64 {
		return "", fail(Incomplete, "Signature must be 64 hexadecimal digits, not '%s'.", v)
	}
	if _, err := hex.DecodeString(v); err != nil {
		return "", fail(Incomplete, "Signature must be 64 hexadecimal digits, not '%s'.", v)
	}
	return strings.ToLower(v), nil
}

// Request is what Verify needs from a request.
type Request struct {
	HTTP *http.Request
	// PayloadHash is the hex SHA-256 of the body, or the value of
	// X-Amz-Content-Sha256 (UNSIGNED-PAYLOAD) when the client sent one.
	PayloadHash string
}

// Check holds what a verification needs besides the request.
type Check struct {
	// Secret returns the secret access key of an access key ID.
	Secret func(accessKeyID string) (string, bool)
	// Region is the only region accepted in the credential scope.
	Region string
	// Now is the server's clock.
	Now time.Time
}

// Verify checks sig against the request. The order of checks is AWS's as far
// as it is observable: scope region, access key, clock, date, signature.
// The service in the scope is the caller's concern (it picks the service
// from it).
func Verify(sig *Signature, req Request, c Check) error {
	r := req.HTTP
	cred := sig.Credential
	if cred.Region != c.Region {
		return fail(WrongRegion, "Credential should be scoped to a valid region, not '%s'. ", cred.Region)
	}
	secret, ok := c.Secret(cred.AccessKeyID)
	if !ok {
		return fail(UnknownKey, "The security token included in the request is invalid.")
	}
	amzDate := sig.Date
	dateSource := "X-Amz-Date"
	if !sig.Presigned {
		amzDate = r.Header.Get(HeaderDate)
		if amzDate == "" {
			if d := r.Header.Get("Date"); d != "" {
				t, err := http.ParseTime(d)
				if err != nil {
					return fail(Incomplete, "Date header '%s' is not an HTTP date.", d)
				}
				amzDate = t.UTC().Format(TimeFormat)
				dateSource = "Date"
			}
		}
		if amzDate == "" {
			return fail(Incomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", r.Header.Get(HeaderAuthorization))
		}
	}
	t, err := time.Parse(TimeFormat, amzDate)
	if err != nil {
		return fail(Incomplete, "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', not '%s'.", amzDate)
	}
	now := c.Now.UTC()
	if sig.Presigned {
		if now.After(t.Add(sig.Expires)) {
			return fail(Expired, "Request has expired.")
		}
		if t.After(now.Add(MaxSkew)) {
			return fail(NotYetCurrent, "Signature not yet current: %s is still later than %s (%s + 15 min.)", amzDate, now.Add(MaxSkew).Format(TimeFormat), now.Format(TimeFormat))
		}
	} else {
		if t.Before(now.Add(-MaxSkew)) {
			return fail(Expired, "Signature expired: %s is now earlier than %s (%s - 15 min.)", amzDate, now.Add(-MaxSkew).Format(TimeFormat), now.Format(TimeFormat))
		}
		if t.After(now.Add(MaxSkew)) {
			return fail(NotYetCurrent, "Signature not yet current: %s is still later than %s (%s + 15 min.)", amzDate, now.Add(MaxSkew).Format(TimeFormat), now.Format(TimeFormat))
		}
	}
	if amzDate[:8] != cred.Date {
		return fail(DateMismatch, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", cred.Date, amzDate[:8], dateSource)
	}
	canonical, err := CanonicalRequest(r, sig, req.PayloadHash)
	if err != nil {
		return err
	}
	sts := StringToSign(amzDate, cred.Scope(), canonical)
	want := hex.EncodeToString(Sign(secret, cred, sts))
	if !hmac.Equal([]byte(want), []byte(sig.Signature)) {
		return fail(Mismatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n", canonical, sts)
	}
	return nil
}

// CanonicalRequest builds the canonical request of r as SigV4 defines it,
// over the headers sig lists.
func CanonicalRequest(r *http.Request, sig *Signature, payloadHash string) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(httpbinding.EscapePath(path, false))
	b.WriteByte('\n')
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", fail(Incomplete, "The query string is malformed: %v.", err)
	}
	if sig.Presigned {
		delete(q, QuerySignature)
	}
	b.WriteString(canonicalQuery(q))
	b.WriteByte('\n')
	for _, h := range sig.SignedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		switch h {
		case "host":
			b.WriteString(stripExcessSpaces(r.Host))
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 && h == "content-length" && r.ContentLength >= 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
			if len(vals) == 0 && h == "transfer-encoding" && len(r.TransferEncoding) > 0 {
				vals = []string{strings.Join(r.TransferEncoding, ",")}
			}
			if len(vals) == 0 {
				return "", fail(Incomplete, "The header '%s' is listed in SignedHeaders but is not in the request.", h)
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.TrimSpace(stripExcessSpaces(v)))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(sig.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), nil
}

func canonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var ps []kv
	for k, vs := range q {
		ek := encodeQueryComponent(k)
		for _, v := range vs {
			ps = append(ps, kv{ek, encodeQueryComponent(v)})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func encodeQueryComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// stripExcessSpaces trims s and collapses runs of spaces into one.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// StringToSign returns the SigV4 string to sign.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
}

// Sign returns the signature of stringToSign with the key derived from
// secret and the credential scope.
func Sign(secret string, cred Credential, stringToSign string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), cred.Date)
	k = hmacSHA256(k, cred.Region)
	k = hmacSHA256(k, cred.Service)
	k = hmacSHA256(k, "aws4_request")
	return hmacSHA256(k, stringToSign)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// PayloadHash returns the hex SHA-256 of body.
func PayloadHash(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}
