package alb_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bodyBackend answers by path: /echo returns the request body's length
// and hash, /big?n=N streams N bytes, /chunked writes in pieces, /eof
// answers without a length (closing the connection), /head and /empty
// have no body.
func bodyBackend(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for n > 0 {
			k := min(n, len(chunk))
			w.Write(chunk[:k])
			n -= k
		}
	case "/chunked":
		fl := w.(http.Flusher)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "part %d;", i)
			fl.Flush()
		}
	case "/eof":
		hj, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		io.WriteString(hj, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
		hj.Close()
	case "/empty":
		w.WriteHeader(204)
	case "/notmodified":
		w.WriteHeader(304)
	default:
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	}
}

func TestBodies(t *testing.T) { bothLoops(t, testBodies) }

func testBodies(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	b := e.startBackend("body", bodyBackend)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, b.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	c := client(e.clientAddr(0))

	// A request body of several megabytes is streamed to the target.
	payload := bytes.Repeat([]byte("elbow-"), 1<<20)
	sum := sha256.Sum256(payload)
	resp, err := c.Post(base+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("%d %x", len(payload), sum); string(got) != want {
		t.Errorf("request body: target saw %q, want %q", got, want)
	}
	// Chunked request bodies too.
	resp, err = c.Post(base+"/echo", "application/octet-stream", io.MultiReader(bytes.NewReader(payload[:1000]), strings.NewReader("tail")))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(got), "1004 ") {
		t.Errorf("chunked request body: target saw %q", got)
	}
	// A large response body.
	resp, err = c.Get(base + "/big?n=20000000")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 20000000 || resp.ContentLength != 20000000 {
		t.Errorf("large response: %d bytes (Content-Length %d), %v", n, resp.ContentLength, err)
	}
	// Chunked and close-delimited responses reach an HTTP/1.1 client
	// whole; no-body responses have none.
	for path, want := range map[string]string{"/chunked": "part 0;part 1;part 2;part 3;part 4;", "/eof": "until the end", "/": "hello"} {
		if code, _, body := get(t, c, "GET", base+path, nil); code != 200 || body != want {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	for path, code := range map[string]int{"/empty": 204, "/notmodified": 304} {
		if got, _, body := get(t, c, "GET", base+path, nil); got != code || body != "" {
			t.Errorf("%s: %d %q", path, got, body)
		}
	}
	if code, h, body := get(t, c, "HEAD", base+"/big?n=1000", nil); code != 200 || body != "" || h.Get("Content-Length") != "1000" {
		t.Errorf("HEAD: %d %q Content-Length %q", code, body, h.Get("Content-Length"))
	}
	// A slow reader gets a large body whole (back-pressure, no loss).
	conn := dialFrom(t, e.clientAddr(1), base[len("http://"):])
	defer conn.Close()
	io.WriteString(conn, "GET /big?n=8000000 HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the buffers fill up
	if n, err := io.Copy(io.Discard, r.Body); n != 8000000 || err != nil {
		t.Errorf("slow reader: %d bytes, %v", n, err)
	}

	// Pipelined requests are answered in order.
	conn2 := dialFrom(t, e.clientAddr(2), base[len("http://"):])
	defer conn2.Close()
	conn2.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn2, "GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /chunked HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	all, _ := io.ReadAll(conn2)
	if strings.Count(string(all), "HTTP/1.1 200 OK") != 3 || !strings.Contains(string(all), "part 4;") || !strings.HasSuffix(string(all), "hello") {
		t.Errorf("pipelined: %q", all)
	}

	// An HTTP/1.0 client gets a close-delimited body without chunks.
	raw := rawRequest(t, e.clientAddr(3).String(), base[len("http://"):], "GET /eof HTTP/1.0\r\n\r\n")
	if !strings.HasSuffix(raw, "\r\n\r\nuntil the end") || strings.Contains(raw, "chunked") {
		t.Errorf("HTTP/1.0 close-delimited: %q", raw)
	}
}

// TestStaleTargetConnections: a target that closes kept-alive connections
// between requests costs the client nothing (the request is sent again on
// a new connection).
func TestStaleTargetConnections(t *testing.T) { bothLoops(t, testStaleTargetConnections) }

func testStaleTargetConnections(t *testing.T, opts ...envOption) {
	e := newEnv(t, opts...)
	target := e.rawTarget(func(c net.Conn) {
		br := bufio.NewReader(c)
		// Answer one request, keep the connection open a moment, then
		// close it without saying so.
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(20 * time.Millisecond)
	})
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, target)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	c := client(e.clientAddr(0))
	for i := 0; i < 20; i++ {
		if code, _, body := get(t, c, "GET", base+"/", nil); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		time.Sleep(40 * time.Millisecond)
	}
}
