package alb

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/elbowlb/elbow/internal/elb/dataplane/alb/routing"
)

// Limits of a request head, as ALB documents them ("Quotas for your
// Application Load Balancers", HTTP headers: request line 16K, single
// header 16K, whole request header 64K). A request line of up to 16 KiB
// (its CRLF not counted) is served whatever part of it the URI is; a
// longer one, however long, is 414 (ALB's "URI too long": "the request URL
// or query string parameters are too large"); a longer header field, or a
// head over 64 KiB, is 400.
const (
	maxLineBytes = 16 << 10
	maxHeadBytes = 64 << 10
	// maxXFFAddresses is the most addresses an X-Forwarded-For header may
	// carry (HTTP 463).
	maxXFFAddresses = 30
)

// header is one header field; its slices point into the head buffer.
type header = routing.Header

// head is a parsed message head: a first line and header fields. Its
// slices point into buf, which is reused from message to message.
type head struct {
	buf     []byte
	headers []header
	spans   []span
}

// span locates one header line's name and value in head.buf.
type span struct{ ns, ne, vs, ve int }

// request is a parsed HTTP/1.x request head.
type request struct {
	head
	method []byte
	target []byte
	minor  int // HTTP/1.minor

	host          []byte // first Host header, as sent
	contentLength int64  // -1: none
	chunked       bool
	close         bool // the client asked to close after this request
	upgrade       []byte
	expect100     bool
	ambiguous     bool // Content-Length and Transfer-Encoding both present
	invalidNames  bool // a field name outside [-A-Za-z0-9]
	hopByHop      [][]byte
	xffCount      int
}

// errClientGone is a connection that closed (or went idle past its
// deadline) before a request began: nothing is to be answered.
var errClientGone = errors.New("client closed the connection")

// httpError is a request the load balancer refuses with a status.
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string { return e.reason }

func badRequest(reason string) error { return &httpError{400, reason} }

// The refusals of the head parser, allocated once.
var (
	errLineTooLong  = &httpError{414, "request line larger than 16K"}
	errFieldTooLong = &httpError{400, "header field larger than 16K"}
	errHeadTooLarge = &httpError{400, "request header larger than 64K"}
)

func (r *request) reset() {
	r.buf = r.buf[:0]
	r.method, r.target = nil, nil
	r.minor = 1
	r.headers = r.headers[:0]
	r.host = nil
	r.contentLength = -1
	r.chunked, r.close, r.expect100, r.ambiguous, r.invalidNames = false, false, false, false, false
	r.upgrade = nil
	r.hopByHop = r.hopByHop[:0]
	r.xffCount = 0
}

// lineReader is where heads are read from: a bufio.Reader, or a
// sliceReader over bytes an event loop has received.
type lineReader interface {
	ReadSlice(delim byte) ([]byte, error)
}

// sliceReader reads lines from a byte slice; the end of the slice reads
// as io.EOF.
type sliceReader struct {
	b   []byte
	pos int
}

func (r *sliceReader) ReadSlice(delim byte) ([]byte, error) {
	i := bytes.IndexByte(r.b[r.pos:], delim)
	if i < 0 {
		rest := r.b[r.pos:]
		r.pos = len(r.b)
		return rest, io.EOF
	}
	line := r.b[r.pos : r.pos+i+1]
	r.pos += i + 1
	return line, nil
}

// readLine appends one line (CRLF or LF terminated; the terminator is not
// kept) to h.buf and returns its start offset. limit bounds the line.
func (h *head) readLine(br lineReader, limit int, tooLong error) (int, error) {
	start := len(h.buf)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(h.buf)-start+len(chunk) > limit+2 {
			return 0, tooLong
		}
		if len(h.buf)+len(chunk) > maxHeadBytes+2 {
			return 0, errHeadTooLarge
		}
		h.buf = append(h.buf, chunk...)
		switch err {
		case nil:
			end := len(h.buf) - 1 // the '\n'
			if end > start && h.buf[end-1] == '\r' {
				end--
			}
			if end-start > limit {
				return 0, tooLong
			}
			h.buf = h.buf[:end]
			return start, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return 0, err
		}
	}
}

// firstLineTooLong reports whether the start of a head (empty lines
// before it skipped) holds a first line longer than a request line may
// be, ended or not yet: the parser's limit, applied before the whole head
// has arrived. A trailing CR of an unended line is not counted, as the
// line may end with it.
func firstLineTooLong(b []byte) bool {
	n := bytes.IndexByte(b, '\n')
	switch {
	case n < 0:
		n = len(b)
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	case n > 0 && b[n-1] == '\r':
		n--
	}
	return n > maxLineBytes
}

// read reads a message head: empty lines before the first line are
// skipped. It returns the first line, errClientGone when the connection
// ended before anything was read, an *httpError for a head to refuse, or
// the connection's error.
func (h *head) read(br lineReader, firstTooLong error) ([]byte, error) {
	h.buf = h.buf[:0]
	h.headers = h.headers[:0]
	var lineStart int
	for i := 0; ; i++ {
		s, err := h.readLine(br, maxLineBytes, firstTooLong)
		if err != nil {
			if _, ok := err.(*httpError); ok {
				return nil, err
			}
			if len(h.buf) == 0 && err == io.EOF {
				return nil, errClientGone
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(h.buf) > s {
			lineStart = s
			break
		}
		if i > 4 {
			return nil, badRequest("empty request line")
		}
	}
	hs := h.spans[:0]
	for {
		s, err := h.readLine(br, maxLineBytes, errFieldTooLong)
		if err != nil {
			if _, ok := err.(*httpError); ok {
				return nil, err
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line := h.buf[s:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, badRequest("obsolete line folding in header")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, badRequest("header field without a name and colon")
		}
		for _, c := range line[:colon] {
			if !isTokenChar(c) {
				return nil, badRequest("header field name with a character outside the token set")
			}
		}
		vs, ve := colon+1, len(line)
		for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
			vs++
		}
		for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
			ve--
		}
		for _, c := range line[vs:ve] {
			if c == 0 || c == '\r' || c == '\n' {
				return nil, badRequest("header field value with a control character")
			}
		}
		hs = append(hs, span{s, s + colon, s + vs, s + ve})
	}
	h.spans = hs
	// The buffer no longer grows: slice it. The lines were appended
	// without terminators, so the first line ends where the first header
	// line begins.
	lineEnd := len(h.buf)
	if len(hs) > 0 {
		lineEnd = hs[0].ns
	}
	for _, sp := range hs {
		h.headers = append(h.headers, header{Name: h.buf[sp.ns:sp.ne], Value: h.buf[sp.vs:sp.ve]})
	}
	return h.buf[lineStart:lineEnd], nil
}

// readRequest reads and parses a request head. It returns errClientGone
// when the connection ended before a request began, an *httpError for a
// request to refuse, or another error for a broken connection.
func readRequest(br lineReader, r *request) error {
	r.reset()
	line, err := r.head.read(br, errLineTooLong)
	if err != nil {
		return err
	}
	if err := r.parseRequestLine(line); err != nil {
		return err
	}
	return r.interpretHeaders()
}

func (r *request) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line")
	}
	rest := line[sp1+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	r.method, r.target = line[:sp1], rest[:sp2]
	proto := rest[sp2+1:]
	for _, c := range r.method {
		if !isTokenChar(c) {
			return badRequest("malformed method")
		}
	}
	for _, c := range r.target {
		if c <= ' ' || c == 0x7f {
			return badRequest("malformed request target")
		}
	}
	switch string(proto) {
	case "HTTP/1.1":
		r.minor = 1
	case "HTTP/1.0":
		r.minor = 0
		r.close = true
	default:
		return badRequest("unsupported protocol version")
	}
	return nil
}

// interpretHeaders derives the fields the proxy needs from the headers.
func (r *request) interpretHeaders() error {
	clSeen := false
	teSeen := false
	for i := range r.headers {
		h := &r.headers[i]
		if !r.invalidNames && !validName(h.Name) {
			r.invalidNames = true
		}
		switch {
		case asciiEqualFold(h.Name, "host"):
			if r.host == nil {
				r.host = h.Value
			}
		case asciiEqualFold(h.Name, "content-length"):
			n, ok := parseDecimal(h.Value)
			if !ok {
				return badRequest("malformed Content-Length")
			}
			if clSeen && n != r.contentLength {
				return badRequest("conflicting Content-Length headers")
			}
			clSeen = true
			r.contentLength = n
		case asciiEqualFold(h.Name, "transfer-encoding"):
			teSeen = true
			var err error
			forEachToken(h.Value, func(tok []byte) {
				switch {
				case asciiEqualFold(tok, "chunked"):
					r.chunked = true
				case asciiEqualFold(tok, "identity"):
				default:
					err = &httpError{501, "unsupported Transfer-Encoding"}
				}
			})
			if err != nil {
				return err
			}
		case asciiEqualFold(h.Name, "connection"):
			forEachToken(h.Value, func(tok []byte) {
				switch {
				case asciiEqualFold(tok, "close"):
					r.close = true
				case asciiEqualFold(tok, "keep-alive"):
					if r.minor == 0 {
						r.close = false
					}
				case asciiEqualFold(tok, "upgrade"):
				default:
					r.hopByHop = append(r.hopByHop, tok)
				}
			})
		case asciiEqualFold(h.Name, "upgrade"):
			r.upgrade = h.Value
		case asciiEqualFold(h.Name, "expect"):
			if asciiEqualFold(h.Value, "100-continue") {
				r.expect100 = true
			}
		case asciiEqualFold(h.Name, "x-forwarded-for"):
			forEachToken(h.Value, func([]byte) { r.xffCount++ })
		}
	}
	if r.upgrade != nil && !connectionHas(r.headers, "upgrade") {
		r.upgrade = nil
	}
	if teSeen && clSeen {
		r.ambiguous = true
		r.contentLength = -1
		r.close = true
	}
	if teSeen && !r.chunked {
		// identity only: no body framing.
		r.chunked = false
	}
	if r.minor == 1 && r.host == nil {
		return badRequest("HTTP/1.1 request without Host")
	}
	if r.xffCount > maxXFFAddresses {
		return &httpError{463, "X-Forwarded-For with more than 30 addresses"}
	}
	return nil
}

// hasBody reports whether a request body follows the head.
func (r *request) hasBody() bool { return r.chunked || r.contentLength > 0 }

// connectionHas reports whether a Connection header lists a token.
func connectionHas(hs []header, token string) bool {
	found := false
	for _, h := range hs {
		if asciiEqualFold(h.Name, "connection") {
			forEachToken(h.Value, func(tok []byte) {
				if asciiEqualFold(tok, token) {
					found = true
				}
			})
		}
	}
	return found
}

// forEachToken calls f with each comma-separated element of a header
// value, trimmed; empty elements are skipped.
func forEachToken(v []byte, f func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) > 0 {
			f(tok)
		}
	}
}

// parseDecimal parses a non-negative decimal of up to 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// asciiEqualFold compares b with a lower-case ASCII string, ignoring case.
func asciiEqualFold(b []byte, lower string) bool { return routing.EqualFold(b, lower) }

// equalFoldBytes compares two byte strings ignoring ASCII case.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	return tokenTable[c]
}

var tokenTable = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validName reports whether a field name matches ALB's notion of a valid
// header field name, [-A-Za-z0-9]+ (routing.http.drop_invalid_header_fields).
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// response is a parsed HTTP/1.x response head from a target.
type response struct {
	head
	minor         int
	status        int
	reason        []byte
	contentLength int64 // -1: none
	chunked       bool
	close         bool
	hopByHop      [][]byte
}

// errBadResponse is a response head the load balancer cannot use (HTTP
// 502: "The target response is malformed or contains HTTP headers that are
// not valid").
var errBadResponse = errors.New("malformed response from target")

// readResponse reads and parses a response head.
func readResponse(br lineReader, r *response) error {
	r.contentLength = -1
	r.chunked, r.close = false, false
	r.hopByHop = r.hopByHop[:0]
	line, err := r.head.read(br, errBadResponse)
	if err != nil {
		if _, ok := err.(*httpError); ok {
			return errBadResponse
		}
		if err == errClientGone {
			return io.EOF
		}
		return err
	}
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errBadResponse
	}
	switch line[7] {
	case '0':
		r.minor = 0
		r.close = true
	case '1':
		r.minor = 1
	default:
		return errBadResponse
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errBadResponse
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return errBadResponse
	}
	r.status = code
	r.reason = nil
	if len(line) > 13 {
		r.reason = line[13:]
	}
	clSeen := false
	for i := range r.headers {
		h := &r.headers[i]
		switch {
		case asciiEqualFold(h.Name, "content-length"):
			n, ok := parseDecimal(h.Value)
			if !ok || clSeen && n != r.contentLength {
				return errBadResponse
			}
			clSeen = true
			r.contentLength = n
		case asciiEqualFold(h.Name, "transfer-encoding"):
			var bad bool
			forEachToken(h.Value, func(tok []byte) {
				switch {
				case asciiEqualFold(tok, "chunked"):
					r.chunked = true
				case asciiEqualFold(tok, "identity"):
				default:
					bad = true
				}
			})
			if bad {
				return errBadResponse
			}
		case asciiEqualFold(h.Name, "connection"):
			forEachToken(h.Value, func(tok []byte) {
				switch {
				case asciiEqualFold(tok, "close"):
					r.close = true
				case asciiEqualFold(tok, "keep-alive"):
					if r.minor == 0 {
						r.close = false
					}
				case asciiEqualFold(tok, "upgrade"):
				default:
					r.hopByHop = append(r.hopByHop, tok)
				}
			})
		}
	}
	if r.chunked {
		r.contentLength = -1
	}
	return nil
}

// bodyless reports whether a response to method carries no body.
func (r *response) bodyless(method []byte) bool {
	return r.status < 200 || r.status == 204 || r.status == 304 || string(method) == "HEAD"
}

// headEnd returns the length of the message head at the start of b (up
// to and including its empty line), or -1 when b does not hold a whole
// head yet.
func headEnd(b []byte, from int) int {
	for i := max(from, 1); i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if b[i-1] == '\n' {
			return i + 1
		}
		if i >= 2 && b[i-1] == '\r' && b[i-2] == '\n' {
			return i + 1
		}
	}
	return -1
}
