package alb_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The HTTP/2 and TLS abuse tests: each attack runs against an HTTPS
// listener (h2 and HTTP/1.1 by ALPN) while a well-behaved client keeps
// making requests there. For each: the well-behaved client is served
// throughout, the attacking connection is cut (or its abuse refused), and
// the Go heap and stacks stay within maxAbuseGrowth of where they started,
// at the attack's peak and after it. The tests do not run in parallel, so
// that the memory measured is the plane's.

// maxAbuseGrowth bounds how much the heap and stacks may grow during an
// attack. The attacks send (or ask the load balancer to hold) far more
// than this when they are not cut short.
const maxAbuseGrowth = 96 << 20

// abuseEnv is an HTTPS listener forwarding to an echo target.
type abuseEnv struct {
	e    *env
	addr string // host:port of the listener
	base string // https://host:port
	// bombs counts requests for /bomb the target received
	bombs atomic.Int64
}

func newAbuseEnv(t *testing.T) *abuseEnv {
	e := newEnv(t)
	ae := &abuseEnv{e: e}
	echo := echoHandler("A")
	a := e.startBackend("A", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bomb" {
			ae.bombs.Add(1)
		}
		echo(w, r)
	})
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTPS", forward(tg), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("abuse.test")))
	ae.addr, ae.base = base[len("https://"):], base
	return ae
}

// dialTLS opens a TLS connection to the listener offering protos.
func (a *abuseEnv) dialTLS(t *testing.T, protos ...string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", a.addr,
		&tls.Config{ServerName: "abuse.test", InsecureSkipVerify: true, NextProtos: protos}) // self-signed test certificate
	if err != nil {
		t.Fatalf("TLS to %s: %v", a.addr, err)
	}
	return c
}

// wellBehaved makes requests over HTTP/2 and HTTP/1.1 (new connections
// each time) until stop closes, and reports the first failure.
func (a *abuseEnv) wellBehaved(stop <-chan struct{}) <-chan error {
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		n := 0
		for {
			select {
			case <-stop:
				if n == 0 {
					errc <- errors.New("no request made")
				}
				return
			default:
			}
			for _, h2 := range []bool{true, false} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "abuse.test"}, ForceAttemptHTTP2: h2} // self-signed test certificate
				if !h2 {
					tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				}
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				resp, err := c.Get(a.base + "/well-behaved")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				tr.CloseIdleConnections()
				if err != nil {
					errc <- fmt.Errorf("well-behaved client (HTTP/2 %v), request %d: %w", h2, n, err)
					return
				}
				n++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return errc
}

// memorySampler records the peak of the Go heap and stacks in use.
type memorySampler struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func inUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

func sampleMemory() *memorySampler {
	runtime.GC()
	m := &memorySampler{base: inUse(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v := inUse(); v > m.peak.Load() {
				m.peak.Store(v)
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// check stops sampling and fails the test when the peak, or what is in
// use once the attack is over, grew past maxAbuseGrowth.
func (m *memorySampler) check(t *testing.T, attack string) {
	t.Helper()
	close(m.stop)
	<-m.done
	runtime.GC()
	after := inUse()
	peak := m.peak.Load()
	t.Logf("%s: Go heap and stacks %d MB before, %d MB at the peak, %d MB after", attack, m.base>>20, peak>>20, after>>20)
	if peak > m.base+maxAbuseGrowth {
		t.Errorf("%s: memory grew by %d MB at the peak (bound %d MB)", attack, (peak-m.base)>>20, maxAbuseGrowth>>20)
	}
	if after > m.base+maxAbuseGrowth/4 {
		t.Errorf("%s: memory stayed %d MB above the start after the attack", attack, (after-m.base)>>20)
	}
}

// underAttack runs attack while a well-behaved client makes requests, and
// checks service and memory.
func (a *abuseEnv) underAttack(t *testing.T, name string, attack func()) {
	t.Helper()
	mem := sampleMemory()
	stop := make(chan struct{})
	errc := a.wellBehaved(stop)
	attack()
	// service after the attack too
	time.Sleep(200 * time.Millisecond)
	close(stop)
	if err := <-errc; err != nil {
		t.Errorf("%s: %v", name, err)
	}
	mem.check(t, name)
}

// h2conn is a raw HTTP/2 client connection: the preface and SETTINGS sent.
type h2conn struct {
	c   *tls.Conn
	fr  *http2.Framer
	enc *hpack.Encoder
	buf bytes.Buffer
}

func (a *abuseEnv) h2(t *testing.T) *h2conn {
	t.Helper()
	c := a.dialTLS(t, "h2")
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q, want h2", p)
	}
	h := &h2conn{c: c, fr: http2.NewFramer(c, c)}
	h.enc = hpack.NewEncoder(&h.buf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return h
}

// block encodes a request head.
func (h *h2conn) block(path string, extra ...hpack.HeaderField) []byte {
	h.buf.Reset()
	for _, f := range append([]hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "abuse.test"}, {Name: ":path", Value: path}}, extra...) {
		h.enc.WriteField(f)
	}
	return bytes.Clone(h.buf.Bytes())
}

// drain reads frames until the connection ends (or limit passes) and
// reports whether the server sent GOAWAY, and what ended the reading.
func (h *h2conn) drain(limit time.Duration) (goaway bool, err error) {
	h.c.SetReadDeadline(time.Now().Add(limit))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return goaway, err
		}
		if _, ok := f.(*http2.GoAwayFrame); ok {
			goaway = true
		}
	}
}

// cut checks that the server ended an attacking connection: a GOAWAY or a
// close, not a read that waited until the limit.
func cut(t *testing.T, attack string, goaway bool, err error) {
	t.Helper()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !goaway {
		t.Errorf("%s: the attacking connection was neither sent GOAWAY nor closed", attack)
	}
}

// TestHTTP2RapidReset: 20,000 streams each opened and reset at once. The
// server may serve them (bounded: at most MaxConcurrentStreams handlers at
// a time) or cut the connection; either way others are served and memory
// stays bounded.
func TestHTTP2RapidReset(t *testing.T) {
	a := newAbuseEnv(t)
	a.underAttack(t, "rapid reset (CVE-2023-44487)", func() {
		h := a.h2(t)
		defer h.c.Close()
		go h.drain(time.Minute) // read what the server sends, so that its writes never block
		sent := 0
		for id := uint32(1); id < 2*20000; id += 2 {
			if h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block("/reset"), EndHeaders: true}) != nil ||
				h.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				break
			}
			sent++
		}
		t.Logf("rapid reset: %d streams opened and reset", sent)
	})
}

func TestHTTP2ContinuationFlood(t *testing.T) {
	a := newAbuseEnv(t)
	a.underAttack(t, "CONTINUATION flood (CVE-2023-45288)", func() {
		h := a.h2(t)
		defer h.c.Close()
		go func() {
			if h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block("/cont")}) != nil {
				return
			}
			// 64 MB of header fields that never end
			field := h.block("/x", hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("c", 8000)})
			for range 8000 {
				if h.fr.WriteContinuation(1, false, field) != nil {
					return
				}
			}
		}()
		goaway, err := h.drain(30 * time.Second)
		cut(t, "CONTINUATION flood", goaway, err)
	})
}

func TestHTTP2HPACKBomb(t *testing.T) {
	a := newAbuseEnv(t)
	a.underAttack(t, "HPACK bomb", func() {
		h := a.h2(t)
		defer h.c.Close()
		// one 4 KB field into the dynamic table, then thousands of
		// one-byte references to it: a small block that decodes to
		// tens of megabytes, on each of 100 streams
		const streams = 100
		big := hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)}
		first := h.block("/bomb", big)
		ref := byte(0x80 | 62) // indexed field: the newest dynamic entry
		go func() {
			block := append(first, bytes.Repeat([]byte{ref}, 16000)...)
			for id := uint32(1); id < 2*streams; id += 2 {
				if h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true, EndStream: true}) != nil {
					return
				}
				block = append(h.block("/bomb"), bytes.Repeat([]byte{ref}, 16000)...)
			}
		}()
		// every stream refused (431, or reset), or the connection cut
		refused := map[uint32]bool{}
		dec := hpack.NewDecoder(4096, nil)
		h.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for len(refused) < streams {
			f, err := h.fr.ReadFrame()
			if err != nil {
				break
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				refused[0] = true
			case *http2.RSTStreamFrame:
				refused[f.StreamID] = true
			case *http2.HeadersFrame:
				fields, _ := dec.DecodeFull(f.HeaderBlockFragment())
				for _, hf := range fields {
					if hf.Name == ":status" {
						if hf.Value != "431" {
							t.Errorf("HPACK bomb: stream %d answered %s, want 431", f.StreamID, hf.Value)
						}
						refused[f.StreamID] = true
					}
				}
			}
			if refused[0] {
				break
			}
		}
		if !refused[0] && len(refused) < streams {
			t.Errorf("HPACK bomb: %d of %d streams refused, and the connection not cut", len(refused), streams)
		}
	})
	if n := a.bombs.Load(); n != 0 {
		t.Errorf("HPACK bomb: %d requests reached the target", n)
	}
}

func TestHTTP2SettingsAndPingFloods(t *testing.T) {
	a := newAbuseEnv(t)
	for _, tc := range []struct {
		name  string
		frame func(fr *http2.Framer, i int) error
	}{
		{"SETTINGS flood", func(fr *http2.Framer, _ int) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535})
		}},
		{"PING flood", func(fr *http2.Framer, i int) error {
			var data [8]byte
			binary.BigEndian.PutUint64(data[:], uint64(i))
			return fr.WritePing(false, data)
		}},
	} {
		a.underAttack(t, tc.name, func() {
			h := a.h2(t)
			defer h.c.Close()
			// frames sent without reading a single ACK: the answers
			// queue on the server until it refuses to queue more
			var sent int
			for i := range 200000 {
				if tc.frame(h.fr, i) != nil {
					break
				}
				sent++
			}
			// the connection may be cut (too many queued answers) or
			// not; the answers owed must not grow the process
			goaway, err := h.drain(5 * time.Second)
			t.Logf("%s: %d frames sent; GOAWAY %v, then %v", tc.name, sent, goaway, err)
		})
	}
}

func TestHTTP2StreamFlood(t *testing.T) {
	a := newAbuseEnv(t)
	a.underAttack(t, "stream-count flood", func() {
		h := a.h2(t)
		defer h.c.Close()
		// 10,000 streams opened and never ended (their bodies never
		// come); at most MaxConcurrentStreams are taken, the rest refused
		var refused atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				f, err := h.fr.ReadFrame()
				if err != nil {
					return
				}
				if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.ErrCode == http2.ErrCodeRefusedStream {
					refused.Add(1)
				}
				if _, ok := f.(*http2.GoAwayFrame); ok {
					return
				}
			}
		}()
		for id := uint32(1); id < 2*10000; id += 2 {
			if h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block("/open"), EndHeaders: true}) != nil {
				break
			}
		}
		time.Sleep(time.Second)
		h.c.Close()
		<-done
		t.Logf("stream-count flood: %d streams refused", refused.Load())
	})
}

// TestTLSSlowHandshakes: 200 connections that send a few bytes of a
// ClientHello and stall do not keep others from being served, and are
// closed by the handshake bound.
func TestTLSSlowHandshakes(t *testing.T) {
	a := newAbuseEnv(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	a.underAttack(t, "slow TLS handshakes", func() {
		for range 200 {
			c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte{0x16, 0x03, 0x01, 0x02}) // a record header, and no more
			conns = append(conns, c)
		}
		time.Sleep(2 * time.Second)
	})
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeoutErr(err) {
			closed++
		}
	}
	if closed != len(conns) {
		t.Errorf("slow TLS handshakes: %d of %d stalled connections closed by the load balancer within 30 s", closed, len(conns))
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fragmenter writes TLS records split into records of one byte of
// payload each: the plaintext handshake records, before the client's
// ChangeCipherSpec (encrypted ones pass whole, as their MAC covers the
// record).
type fragmenter struct {
	net.Conn
	pending   []byte
	encrypted bool
}

func (f *fragmenter) Write(p []byte) (int, error) {
	f.pending = append(f.pending, p...)
	var out []byte
	for len(f.pending) >= 5 {
		n := int(binary.BigEndian.Uint16(f.pending[3:5]))
		if len(f.pending) < 5+n {
			break
		}
		typ, ver, payload := f.pending[0], f.pending[1:3], f.pending[5:5+n]
		if typ == 0x14 {
			f.encrypted = true
		}
		if typ != 0x16 || f.encrypted {
			out = append(out, f.pending[:5+n]...)
		} else {
			for _, b := range payload {
				out = append(out, typ, ver[0], ver[1], 0, 1, b)
			}
		}
		f.pending = f.pending[5+n:]
	}
	if _, err := f.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// TestTLSRecordFragmentation: a ClientHello in one-byte records completes
// its handshake (fragmenting handshake messages is legal); a handshake
// message that claims 16 MB and arrives a byte a record is cut, not
// buffered.
func TestTLSRecordFragmentation(t *testing.T) {
	a := newAbuseEnv(t)
	a.underAttack(t, "TLS record fragmentation", func() {
		raw, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(&fragmenter{Conn: raw}, &tls.Config{ServerName: "abuse.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}) // self-signed test certificate
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Errorf("a ClientHello in one-byte records: %v", err)
		} else {
			io.WriteString(c, "GET /fragmented HTTP/1.1\r\nHost: abuse.test\r\nConnection: close\r\n\r\n")
			b, _ := io.ReadAll(c)
			if !strings.HasPrefix(string(b), "HTTP/1.1 200 OK") {
				t.Errorf("request after a fragmented handshake: %q", firstLine(string(b)))
			}
		}
		c.Close()

		huge, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer huge.Close()
		// handshake message type ClientHello, length 16 MB, then bytes
		msg := []byte{0x01, 0xff, 0xff, 0xff}
		var werr error
		for i := 0; i < 4<<20 && werr == nil; i++ {
			b := byte('z')
			if i < len(msg) {
				b = msg[i]
			}
			huge.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, werr = huge.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x01, b})
			if i%4096 == 0 {
				huge.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, rerr := huge.Read(make([]byte, 64)); rerr != nil && !isTimeoutErr(rerr) {
					werr = rerr
				}
			}
		}
		if werr == nil {
			t.Error("a 16 MB handshake message sent a byte a record: the load balancer read 4 MB of it")
		}
	})
}

// TestTLSRenegotiationRefused: clients that ask to renegotiate a TLS 1.2
// session (openssl s_client's R command) are refused and cut off, again
// and again, while others are served.
func TestTLSRenegotiationRefused(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed to attempt a renegotiation: %v", err)
	}
	a := newAbuseEnv(t)
	a.underAttack(t, "renegotiation attempts", func() {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// interactive s_client (no -quiet, no -ign_eof): "R"
				// asks for a renegotiation
				cmd := exec.Command(openssl, "s_client", "-connect", a.addr, "-servername", "abuse.test", "-tls1_2")
				// stdout and stderr (where RENEGOTIATING goes), one stream
				out, w, err := os.Pipe()
				if err != nil {
					t.Error(err)
					return
				}
				defer out.Close()
				cmd.Stdout, cmd.Stderr = w, w
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Error(err)
					return
				}
				err = cmd.Start()
				w.Close()
				if err != nil {
					t.Error(err)
					return
				}
				// what s_client prints; once the handshake is done, "R"
				// asks for a renegotiation
				var printed strings.Builder
				sc := bufio.NewScanner(out)
				asked := false
				for sc.Scan() {
					printed.WriteString(sc.Text() + "\n")
					if !asked && strings.Contains(sc.Text(), "Verify return code") {
						io.WriteString(in, "R\n")
						asked = true
					}
				}
				// the output ends when the load balancer ends the session
				in.Close()
				cmd.Wait()
				s := printed.String()
				if !strings.Contains(s, "RENEGOTIATING") {
					t.Errorf("attempt %d: openssl did not ask to renegotiate: %s", i, tail(s))
				}
				if !strings.Contains(s, "alert") && !strings.Contains(s, "error") {
					t.Errorf("attempt %d: the renegotiation was not refused: %s", i, tail(s))
				}
			}()
		}
		wg.Wait()
	})
}

func tail(s string) string {
	if len(s) > 600 {
		return s[len(s)-600:]
	}
	return s
}
