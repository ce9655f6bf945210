package h2

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// listen returns a TCP listener on a loopback address of the package's
// own.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.61.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serve runs a server connection for every accepted connection.
func serve(t *testing.T, cfg Config, handler func(*Stream)) string {
	t.Helper()
	ln := listen(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := NewServerConn(nc, cfg)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Serve(handler)
			}()
		}
	}()
	return ln.Addr().String()
}

// h2cClient is net/http's HTTP/2 client over clear-text connections.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 20 * time.Second}
}

func field(fs []hpack.HeaderField, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// echoHandler answers a request with its method, path and body, and the
// request's trailers as response trailers.
func echoHandler(s *Stream) {
	go func() {
		body, err := io.ReadAll(s)
		if err != nil {
			return
		}
		h := s.Header()
		resp := fmt.Sprintf("%s %s %d:", field(h, ":method"), field(h, ":path"), len(body))
		s.WriteHeaders([]hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "x-echo", Value: field(h, "x-in")}}, false)
		s.WriteData([]byte(resp), false)
		s.WriteData(body, false)
		tr := []hpack.HeaderField{{Name: "x-done", Value: "yes"}}
		tr = append(tr, s.Trailer()...)
		s.WriteHeaders(tr, true)
	}()
}

func TestServerAgainstNetHTTPClient(t *testing.T) {
	t.Parallel()
	addr := serve(t, Config{StreamWindow: 65535, ConnWindow: 65535}, echoHandler)
	cl := h2cClient()
	req, _ := http.NewRequest("GET", "http://"+addr+"/a?b=c", nil)
	req.Header.Set("X-In", "hello")
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "GET /a?b=c 0:" || resp.Header.Get("X-Echo") != "hello" || resp.Trailer.Get("X-Done") != "yes" {
		t.Errorf("GET: %s %d %q %v trailer %v", resp.Proto, resp.StatusCode, body, resp.Header, resp.Trailer)
	}

	// A body larger than every window, both ways; request trailers.
	big := make([]byte, 3<<20)
	rand.Read(big)
	req, _ = http.NewRequest("POST", "http://"+addr+"/up", io.MultiReader(bytes.NewReader(big)))
	req.Trailer = http.Header{"X-Sum": {"42"}}
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	want := append([]byte(fmt.Sprintf("POST /up %d:", len(big))), big...)
	if err != nil || !bytes.Equal(body, want) || resp.Trailer.Get("X-Sum") != "42" {
		t.Errorf("POST: %v, %d bytes back (want %d), trailer %v", err, len(body), len(want), resp.Trailer)
	}

	// Many streams at once on one connection.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat("x", i*100)
			resp, err := cl.Post("http://"+addr+"/p"+strconv.Itoa(i), "text/plain", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("POST /p%d %d:%s", i, len(body), body); err != nil || string(got) != want {
				errs <- fmt.Errorf("stream %d: %v %.40q", i, err, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestServerStreamResetByClient(t *testing.T) {
	t.Parallel()
	reset := make(chan error, 1)
	addr := serve(t, Config{}, func(s *Stream) {
		s.OnReset(func(err error) { reset <- err })
		// No answer: the client gives up.
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	if _, err := h2cClient().Do(req); err == nil {
		t.Fatal("request answered")
	}
	select {
	case err := <-reset:
		var re *ResetError
		if !errors.As(err, &re) || !re.Remote || re.Code != http2.ErrCodeCancel {
			t.Errorf("reset hook got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reset not seen")
	}
}

// rawClient is a client speaking frames directly, for what net/http
// never sends.
type rawClient struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	rc := &rawClient{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rc.enc = hpack.NewEncoder(&rc.hbuf)
	io.WriteString(nc, http2.ClientPreface)
	rc.fr.WriteSettings()
	return rc
}

func (rc *rawClient) headers(id uint32, end bool, kv ...string) {
	rc.hbuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		rc.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.hbuf.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		rc.t.Fatal(err)
	}
}

// until reads frames until one satisfies f.
func (rc *rawClient) until(what string, f func(http2.Frame) bool) http2.Frame {
	rc.t.Helper()
	for {
		fr, err := rc.fr.ReadFrame()
		if err != nil {
			rc.t.Fatalf("waiting for %s: %v", what, err)
		}
		if f(fr) {
			return fr
		}
	}
}

func (rc *rawClient) rst(id uint32) http2.ErrCode {
	rc.t.Helper()
	f := rc.until(fmt.Sprintf("RST_STREAM on %d", id), func(f http2.Frame) bool {
		r, ok := f.(*http2.RSTStreamFrame)
		return ok && r.StreamID == id
	})
	return f.(*http2.RSTStreamFrame).ErrCode
}

func (rc *rawClient) goAway() http2.ErrCode {
	rc.t.Helper()
	f := rc.until("GOAWAY", func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	return f.(*http2.GoAwayFrame).ErrCode
}

var get = []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x"}

func okHandler(s *Stream) {
	go func() {
		io.Copy(io.Discard, s)
		s.WriteResponse([]hpack.HeaderField{{Name: ":status", Value: "200"}}, []byte("ok"))
	}()
}

func TestServerRefusesMalformedRequests(t *testing.T) {
	t.Parallel()
	addr := serve(t, Config{}, okHandler)
	for i, tc := range []struct {
		name string
		kv   []string
	}{
		{"no :path", []string{":method", "GET", ":scheme", "http"}},
		{"empty :path", []string{":method", "GET", ":scheme", "http", ":path", ""}},
		{"no :method", []string{":scheme", "http", ":path", "/"}},
		{"connection header", append(append([]string{}, get...), "connection", "keep-alive")},
		{"transfer-encoding", append(append([]string{}, get...), "transfer-encoding", "chunked")},
		{"te not trailers", append(append([]string{}, get...), "te", "gzip")},
		{":status in a request", append(append([]string{}, get...)[:6], ":status", "200")},
		{"bad content-length", append(append([]string{}, get...), "content-length", "1x")},
		{"content-length without data", append(append([]string{}, get...), "content-length", "5")},
	} {
		rc := dialRaw(t, addr)
		id := uint32(2*i + 1)
		rc.headers(id, true, tc.kv...)
		if code := rc.rst(id); code != http2.ErrCodeProtocol {
			t.Errorf("%s: RST_STREAM %v, want PROTOCOL_ERROR", tc.name, code)
		}
	}
	// Data beyond the declared content-length.
	rc := dialRaw(t, addr)
	rc.headers(1, false, append(append([]string{}, get...), "content-length", "2")...)
	rc.fr.WriteData(1, true, []byte("abc"))
	if code := rc.rst(1); code != http2.ErrCodeProtocol {
		t.Errorf("data beyond content-length: %v", code)
	}
}

func TestServerConnectionErrors(t *testing.T) {
	t.Parallel()
	addr := serve(t, Config{StreamWindow: 65535, ConnWindow: 65535}, func(s *Stream) {})
	// More data than the connection window.
	rc := dialRaw(t, addr)
	rc.headers(1, false, get...)
	rc.headers(3, false, get...)
	chunk := make([]byte, 16384)
	for range 3 {
		rc.fr.WriteData(1, false, chunk)
		rc.fr.WriteData(3, false, chunk)
	}
	if code := rc.goAway(); code != http2.ErrCodeFlowControl {
		t.Errorf("connection window exceeded: GOAWAY %v", code)
	}
	// Stream ids must increase.
	rc = dialRaw(t, addr)
	rc.headers(5, true, get...)
	rc.headers(3, true, get...)
	rc.headers(7, false, get...)
	// The server ignores 3 (already closed in its view), answers 7's data.
	rc.fr.WriteData(7, true, []byte("x"))
	// A frame on an idle stream is a connection error.
	rc.fr.WriteWindowUpdate(101, 1)
	if code := rc.goAway(); code != http2.ErrCodeProtocol {
		t.Errorf("WINDOW_UPDATE on an idle stream: GOAWAY %v", code)
	}
	// The first frame must be SETTINGS.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, http2.ClientPreface)
	fr := http2.NewFramer(nc, nc)
	fr.WritePing(false, [8]byte{})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY after a first frame other than SETTINGS: %v", err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			if g.ErrCode != http2.ErrCodeProtocol {
				t.Errorf("first frame PING: GOAWAY %v", g.ErrCode)
			}
			break
		}
	}
}

func TestServerStreamLimitAndPing(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	addr := serve(t, Config{MaxConcurrentStreams: 2}, func(s *Stream) {
		go func() {
			<-release
			s.WriteResponse([]hpack.HeaderField{{Name: ":status", Value: "204"}}, nil)
		}()
	})
	defer close(release)
	rc := dialRaw(t, addr)
	rc.headers(1, true, get...)
	rc.headers(3, true, get...)
	rc.headers(5, true, get...)
	if code := rc.rst(5); code != http2.ErrCodeRefusedStream {
		t.Errorf("third stream over a limit of 2: %v", code)
	}
	rc.fr.WritePing(false, [8]byte{1, 2, 3})
	f := rc.until("PING ack", func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && p.IsAck() })
	if f.(*http2.PingFrame).Data != [8]byte{1, 2, 3} {
		t.Errorf("ping ack data %v", f.(*http2.PingFrame).Data)
	}
}

func TestServerShutdownLetsStreamsFinish(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	started := make(chan *Stream, 1)
	served := make(chan error, 1)
	var sc *Conn
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		sc = NewServerConn(nc, Config{})
		served <- sc.Serve(func(s *Stream) { started <- s })
	}()
	rc := dialRaw(t, ln.Addr().String())
	rc.headers(1, true, get...)
	s := <-started
	sc.Shutdown()
	if code := rc.goAway(); code != http2.ErrCodeNo {
		t.Errorf("shutdown GOAWAY %v", code)
	}
	// A new stream is refused; the one in flight is answered.
	rc.headers(3, true, get...)
	if code := rc.rst(3); code != http2.ErrCodeRefusedStream {
		t.Errorf("stream after GOAWAY: %v", code)
	}
	s.WriteResponse([]hpack.HeaderField{{Name: ":status", Value: "200"}}, []byte("late"))
	f := rc.until("DATA", func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok })
	if d := f.(*http2.DataFrame); string(d.Data()) != "late" || !d.StreamEnded() {
		t.Errorf("data %q", d.Data())
	}
	// Then the server closes the connection.
	if _, err := io.Copy(io.Discard, rc.nc); err != nil {
		t.Errorf("connection not closed cleanly: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// netHTTPServer runs net/http's HTTP/2 server (clear text) with a
// handler.
func netHTTPServer(t *testing.T, maxStreams uint32, h http.HandlerFunc) (string, *http.Server) {
	t.Helper()
	ln := listen(t)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: p, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: int(maxStreams)}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), srv
}

func dialClient(t *testing.T, addr string) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := NewClientConn(nc, Config{StreamWindow: 65535, ConnWindow: 65535})
	t.Cleanup(func() { cc.Close() })
	return cc
}

func request(method, path string, kv ...string) []hpack.HeaderField {
	fs := []hpack.HeaderField{{Name: ":method", Value: method}, {Name: ":scheme", Value: "http"}, {Name: ":path", Value: path}, {Name: ":authority", Value: "test"}}
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestClientAgainstNetHTTPServer(t *testing.T) {
	t.Parallel()
	addr, _ := netHTTPServer(t, 0, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(201)
		fl := w.(http.Flusher)
		fl.Flush()
		// Echo the body as it comes (a bidirectional stream).
		buf := make([]byte, 64<<10)
		n := 0
		for {
			k, err := r.Body.Read(buf)
			if k > 0 {
				n += k
				w.Write(buf[:k])
				fl.Flush()
			}
			if err != nil {
				break
			}
		}
		w.Header().Set("X-Sum", strconv.Itoa(n))
	})
	cc := dialClient(t, addr)
	s, err := cc.OpenStream(request("POST", "/echo"), false)
	if err != nil {
		t.Fatal(err)
	}
	// Ping-pong: each message comes back before the next is sent.
	buf := make([]byte, 100)
	for i := range 5 {
		msg := fmt.Sprintf("message %d", i)
		if err := s.WriteData([]byte(msg), false); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			h, err := s.ReadHeader()
			if err != nil || field(h, ":status") != "201" || field(h, "x-path") != "/echo" {
				t.Fatalf("response head %v %v", h, err)
			}
		}
		n, err := io.ReadAtLeast(s, buf, len(msg))
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("echo %d: %q %v", i, buf[:n], err)
		}
	}
	// A large body, beyond the windows both ways.
	big := make([]byte, 2<<20)
	rand.Read(big)
	go s.WriteData(big, true)
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("large echo: %d bytes, %v", len(got), err)
	}
	if v := field(s.Trailer(), "x-sum"); v != strconv.Itoa(len(big)+5*9) {
		t.Errorf("trailer x-sum %q", v)
	}
	// Concurrent streams on the connection.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := strings.Repeat("y", i+1)
			s, err := cc.OpenStream(request("POST", "/"+strconv.Itoa(i)), false)
			if err != nil {
				t.Error(err)
				return
			}
			s.WriteData([]byte(msg), true)
			if _, err := s.ReadHeader(); err != nil {
				t.Error(err)
				return
			}
			got, err := io.ReadAll(s)
			if err != nil || string(got) != msg {
				t.Errorf("stream %d: %q %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	if n := cc.Active(); n != 0 {
		t.Errorf("%d streams still open", n)
	}
}

func TestClientStreamLimitAndGoAway(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 2)
	addr, srv := netHTTPServer(t, 2, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})
	cc := dialClient(t, addr)
	// The server's limit is known once its SETTINGS arrived.
	first, err := cc.OpenStream(request("GET", "/1"), true)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cc.mu.Lock()
		limit := cc.peerMaxStreams
		cc.mu.Unlock()
		if limit == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server's stream limit not learnt (%d)", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	second, err := cc.OpenStream(request("GET", "/2"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.OpenStream(request("GET", "/3"), true); !errors.Is(err, ErrStreamLimit) {
		t.Errorf("third stream: %v, want ErrStreamLimit", err)
	}
	// A graceful server shutdown: GOAWAY, streams in flight finish.
	<-arrived
	<-arrived
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	deadline = time.Now().Add(10 * time.Second)
	for cc.CanOpen() || cc.Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("GOAWAY not seen")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	for _, s := range []*Stream{first, second} {
		if _, err := s.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(s); err != nil || string(got) != "done" {
			t.Errorf("stream %d after GOAWAY: %q %v", s.ID(), got, err)
		}
	}
	if err := <-shut; err != nil {
		t.Error(err)
	}
	select {
	case <-cc.Done():
	case <-time.After(10 * time.Second):
		t.Error("client connection not closed after GOAWAY and its last stream")
	}
}

func TestClientCancel(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	addr, _ := netHTTPServer(t, 0, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(gone)
	})
	cc := dialClient(t, addr)
	s, err := cc.OpenStream(request("GET", "/"), true)
	if err != nil {
		t.Fatal(err)
	}
	timeout := errors.New("timed out")
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Cancel(timeout)
	}()
	if _, err := s.ReadHeader(); err != timeout {
		t.Errorf("ReadHeader after Cancel: %v", err)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Error("the server did not see the reset")
	}
}
