package alb

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func parse(s string) (*request, error) {
	r := &request{}
	err := readRequest(bufio.NewReaderSize(strings.NewReader(s), 4096), r)
	return r, err
}

func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return 0
}

func TestReadRequest(t *testing.T) {
	r, err := parse("\r\nGET /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 5\r\n\r\nhello")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.method) != "GET" || string(r.target) != "/a/b?x=1" || r.minor != 1 || string(r.host) != "example.com:8080" {
		t.Errorf("request line/host: %q %q %d %q", r.method, r.target, r.minor, r.host)
	}
	if r.contentLength != 5 || r.chunked || r.close || r.xffCount != 2 {
		t.Errorf("framing: cl %d chunked %v close %v xff %d", r.contentLength, r.chunked, r.close, r.xffCount)
	}
	if len(r.hopByHop) != 1 || string(r.hopByHop[0]) != "X-Hop" {
		t.Errorf("hop-by-hop %q", r.hopByHop)
	}
	if len(r.headers) != 5 || string(r.headers[4].Value) != "5" {
		t.Errorf("headers %d", len(r.headers))
	}

	r, err = parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if !r.chunked || !r.ambiguous || !r.close || r.contentLength != -1 {
		t.Errorf("TE+CL: chunked %v ambiguous %v close %v cl %d", r.chunked, r.ambiguous, r.close, r.contentLength)
	}
	r, err = parse("GET / HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.upgrade) != "websocket" {
		t.Errorf("upgrade %q", r.upgrade)
	}
	if r, _ := parse("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"); r.upgrade != nil {
		t.Errorf("Upgrade without Connection: upgrade kept")
	}
	_, err = parse("")
	if err != errClientGone {
		t.Errorf("empty connection: %v", err)
	}
}

func TestReadRequestRefusals(t *testing.T) {
	long := strings.Repeat("a", 17<<10)
	cases := []struct {
		name, in string
		status   int
	}{
		{"no version", "GET /\r\n\r\n", 400},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
		{"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
		{"line folding", "GET / HTTP/1.1\r\nHost: h\r\n x\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},
		{"control in value", "GET / HTTP/1.1\r\nHost: h\x00\r\n\r\n", 400},
		{"bad content length", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
		{"conflicting content lengths", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		{"unsupported transfer encoding", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"uri too long", "GET /" + long + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"header too long", "GET / HTTP/1.1\r\nHost: h\r\nX: " + long + "\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-A: "+strings.Repeat("b", 8000)+"\r\n", 9) + "\r\n", 400},
		{"too many XFF addresses", "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " + strings.Repeat("1.1.1.1, ", 30) + "2.2.2.2\r\n\r\n", 463},
		{"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	}
	for _, c := range cases {
		_, err := parse(c.in)
		if got := statusOf(err); got != c.status {
			t.Errorf("%s: status %d (err %v), want %d", c.name, got, err, c.status)
		}
	}
	// A head cut short is not answered: the connection just ends.
	if _, err := parse("GET / HTTP/1.1\r\nHost: h\r\n"); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated head: %v", err)
	}
}

func TestReadResponse(t *testing.T) {
	resp := &response{}
	if err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")), resp); err != nil {
		t.Fatal(err)
	}
	if resp.status != 200 || string(resp.reason) != "OK" || resp.contentLength != 2 || !resp.close {
		t.Errorf("got %d %q cl %d close %v", resp.status, resp.reason, resp.contentLength, resp.close)
	}
	if err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 204\r\n\r\n")), resp); err != nil || resp.status != 204 {
		t.Errorf("status without reason: %v %d", err, resp.status)
	}
	for _, bad := range []string{"HTTP/1.1 2000 OK\r\n\r\n", "HTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "garbage\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"} {
		if err := readResponse(bufio.NewReader(strings.NewReader(bad)), resp); err != errBadResponse {
			t.Errorf("%q: %v, want errBadResponse", bad, err)
		}
	}
}

func TestChunkedRelay(t *testing.T) {
	in := "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT"
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	src := bufio.NewReader(strings.NewReader(in))
	r := relay{dst: w, src: src}
	if err := r.copyChunked(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if got, want := out.String(), "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"; got != want {
		t.Errorf("relayed %q, want %q", got, want)
	}
	if rest, _ := io.ReadAll(src); string(rest) != "NEXT" {
		t.Errorf("left %q after the body", rest)
	}
	for _, bad := range []string{"zz\r\n", "5\r\nhel", "5\r\nhelloXX\r\n"} {
		r := relay{dst: bufio.NewWriter(io.Discard), src: bufio.NewReader(strings.NewReader(bad))}
		if err := r.copyChunked(); err == nil {
			t.Errorf("%q relayed without error", bad)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /x?y=1 HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
		"GET http://h/p HTTP/1.1\r\nHost: h\r\nConnection: close, foo\r\nfoo: 1\r\nUpgrade: websocket\r\n\r\n",
		"\n\nGET / HTTP/1.1\nHost: h\nX-Forwarded-For: 1.1.1.1,2.2.2.2\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &request{}
		err := readRequest(bufio.NewReaderSize(bytes.NewReader(data), 4096), r)
		if err != nil {
			return
		}
		// A parsed request is internally consistent.
		if len(r.method) == 0 || len(r.target) == 0 {
			t.Fatalf("parsed request without method or target: %q", data)
		}
		if r.minor == 1 && r.host == nil {
			t.Fatalf("HTTP/1.1 request without Host accepted: %q", data)
		}
		if r.chunked && r.contentLength >= 0 {
			t.Fatalf("chunked request with a Content-Length: %q", data)
		}
		for _, h := range r.headers {
			if bytes.ContainsAny(h.Value, "\r\n\x00") || len(h.Name) == 0 {
				t.Fatalf("header %q: %q survived parsing", h.Name, h.Value)
			}
		}
	})
}

// FuzzFirstLineTooLong: what the event loops refuse early as a request
// line too long (414), before the head has ended, the parser refuses
// too, however the head ends.
func FuzzFirstLineTooLong(f *testing.F) {
	for _, s := range []string{
		"GET /" + strings.Repeat("a", maxLineBytes-14) + " HTTP/1.1",
		"GET /" + strings.Repeat("a", maxLineBytes-14) + " HTTP/1.1\r",
		"GET /" + strings.Repeat("a", maxLineBytes-13) + " HTTP/1.1",
		"GET /" + strings.Repeat("a", maxLineBytes) + " HTTP/1.1\r\nHost: h\r\n",
		"GET / HTTP/1.1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimLeft(data, "\r\n")
		if !firstLineTooLong(data) {
			return
		}
		for _, end := range []string{"\r\nHost: h\r\n\r\n", "\nHost: h\n\n", "\n\n"} {
			full := append(bytes.Clone(data), end...)
			if err := readRequest(bufio.NewReaderSize(bytes.NewReader(full), 4096), &request{}); err != errLineTooLong {
				t.Fatalf("refused early as too long, but the parser answers %v for the head ended with %q", err, end)
			}
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.0 101 Switching\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &response{}
		if err := readResponse(bufio.NewReader(bytes.NewReader(data)), r); err != nil {
			return
		}
		if r.status < 100 || r.status > 999 {
			t.Fatalf("status %d accepted", r.status)
		}
	})
}

func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		r := relay{dst: w, src: bufio.NewReader(bytes.NewReader(data))}
		if err := r.copyChunked(); err != nil {
			return
		}
		w.Flush()
		// What was relayed is itself a valid chunked body.
		var again bytes.Buffer
		w2 := bufio.NewWriter(&again)
		r2 := relay{dst: w2, src: bufio.NewReader(bytes.NewReader(out.Bytes()))}
		if err := r2.copyChunked(); err != nil {
			t.Fatalf("relayed body %q is not valid chunked encoding: %v", out.Bytes(), err)
		}
		w2.Flush()
		if !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("re-relaying changed the body: %q -> %q", out.Bytes(), again.Bytes())
		}
	})
}
