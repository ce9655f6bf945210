package alb_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// requestLine returns a GET request whose request line (CRLF not
// counted) is n bytes long.
func requestLine(n int) string {
	const fixed = len("GET ") + len(" HTTP/1.1")
	return "GET /" + strings.Repeat("a", n-fixed-1) + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
}

// echoListener starts an echo target and an HTTP listener forwarding to
// it; the load balancer's attributes are attrs.
func echoListener(e *env, attrs map[string]string) (lb *lbFixture, tg, base string) {
	a := e.startBackend("A", nil)
	tg = e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb = e.newLB("internet-facing", attrs)
	_, base = lb.listener("HTTP", forward(tg))
	return lb, tg, base
}

// TestRequestLineLimits is the eighth edge: a request line of up
// to 16 KiB is served whatever its length under that; any longer one is
// 414, be it 16 KiB and a byte, 70 KB or 200 KB.
func TestRequestLineLimits(t *testing.T) { bothLoops(t, testRequestLineLimits) }

func testRequestLineLimits(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	_, _, base := echoListener(e, nil)
	addr := base[len("http://"):]
	src := e.clientAddr(0).String()
	for _, tc := range []struct {
		line   int
		status string
	}{
		{16_370, "HTTP/1.1 200 OK"},
		{16 << 10, "HTTP/1.1 200 OK"},
		{16<<10 + 1, "HTTP/1.1 414 Request-URI Too Large"},
		{70_000, "HTTP/1.1 414 Request-URI Too Large"},
		{200_000, "HTTP/1.1 414 Request-URI Too Large"},
	} {
		if resp := rawRequest(t, src, addr, requestLine(tc.line)); !strings.HasPrefix(resp, tc.status) {
			t.Errorf("request line of %d bytes: %q, want %q", tc.line, firstLine(resp), tc.status)
		}
	}
	// a header field over 16 KiB, or a head over 64 KiB, is 400
	long := "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + strings.Repeat("b", 17<<10) + "\r\n\r\n"
	if resp := rawRequest(t, src, addr, long); !strings.HasPrefix(resp, "HTTP/1.1 400 Bad Request") {
		t.Errorf("a 17 KiB header field: %q, want 400", firstLine(resp))
	}
	var many strings.Builder
	many.WriteString("GET / HTTP/1.1\r\nHost: h\r\n")
	for i := range 9 {
		many.WriteString("X-Part-" + string(rune('a'+i)) + ": " + strings.Repeat("c", 8<<10) + "\r\n")
	}
	many.WriteString("\r\n")
	if resp := rawRequest(t, src, addr, many.String()); !strings.HasPrefix(resp, "HTTP/1.1 400 Bad Request") {
		t.Errorf("a 72 KiB head: %q, want 400", firstLine(resp))
	}
}

// TestMalformedChunkedBody is the fourth edge: a chunked request
// body with a chunk shorter than its size says, or a chunk size that is
// not hexadecimal, is answered 400, forwarded or answered by the load
// balancer itself; the connection is not just closed.
func TestMalformedChunkedBody(t *testing.T) { bothLoops(t, testMalformedChunkedBody) }

func testMalformedChunkedBody(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	lb, _, fwd := echoListener(e, nil)
	_, fixedBase := lb.listener("HTTP", fixed("200", "fixed"))
	src := e.clientAddr(0).String()
	head := "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	for name, body := range map[string]string{
		"a chunk shorter than its size":  "5\r\nabc\r\n0\r\n\r\n",
		"a chunk longer than its size":   "2\r\nabcdef\r\n0\r\n\r\n",
		"a size that is not hexadecimal": "zz\r\nabc\r\n0\r\n\r\n",
		"a size with a sign":             "-3\r\nabc\r\n0\r\n\r\n",
	} {
		for listener, base := range map[string]string{"forwarded": fwd, "fixed response": fixedBase} {
			resp := rawRequest(t, src, base[len("http://"):], head+body)
			if !strings.HasPrefix(resp, "HTTP/1.1 400 Bad Request") {
				t.Errorf("%s, %s: %q, want 400", name, listener, firstLine(resp))
			}
		}
	}
	// a well-formed chunked body still goes through
	resp := rawRequest(t, src, fwd[len("http://"):], head+"3\r\nabc\r\n0\r\n\r\n")
	if !strings.HasPrefix(resp, "HTTP/1.1 200 OK") {
		t.Errorf("a well-formed chunked body: %q", firstLine(resp))
	}
}

// TestIdleTimeoutBetweenBytes is the seventh edge: with an idle
// timeout of 2 s, a head sent one line a second for 5 s is served (the
// connection never stays 2 s without a byte), while a head that stops for
// 3 s is refused 408.
func TestIdleTimeoutBetweenBytes(t *testing.T) { bothLoops(t, testIdleTimeoutBetweenBytes) }

func testIdleTimeoutBetweenBytes(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	_, _, base := echoListener(e, map[string]string{"idle_timeout.timeout_seconds": "2"})
	dial := func() net.Conn {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: e.clientAddr(1).AsSlice()}}
		c, err := d.Dial("tcp", base[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		return c
	}
	slow := dial()
	defer slow.Close()
	lines := []string{"GET /slow HTTP/1.1\r\n", "Host: h\r\n", "X-One: 1\r\n", "X-Two: 2\r\n", "X-Three: 3\r\n", "Connection: close\r\n", "\r\n"}
	for i, l := range lines {
		if i > 0 {
			time.Sleep(time.Second)
		}
		if _, err := io.WriteString(slow, l); err != nil {
			t.Fatalf("line %d of the slow head: %v (the load balancer closed the connection)", i, err)
		}
	}
	b, _ := io.ReadAll(slow)
	if !strings.HasPrefix(string(b), "HTTP/1.1 200 OK") {
		t.Errorf("a head sent a line a second (idle timeout 2 s): %q, want 200", firstLine(string(b)))
	}

	stalled := dial()
	defer stalled.Close()
	io.WriteString(stalled, "GET /stalled HTTP/1.1\r\nHost: h\r\n")
	time.Sleep(3 * time.Second)
	io.WriteString(stalled, "\r\n")
	b, _ = io.ReadAll(stalled)
	if !strings.HasPrefix(string(b), "HTTP/1.1 408") {
		t.Errorf("a head stalled 3 s (idle timeout 2 s): %q, want 408", firstLine(string(b)))
	}
}
