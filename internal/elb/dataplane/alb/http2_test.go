package alb_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/summerwind/h2spec"
	"github.com/summerwind/h2spec/config"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/elbowlb/elbow/internal/elb/state"
)

// h2Client is an HTTP/2-only client over TLS (the listener's certificate
// is self-signed).
func h2Client() *http.Client {
	p := new(http.Protocols)
	p.SetHTTP2(true)
	return &http.Client{
		Transport:     &http.Transport{Protocols: p, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
}

// h2Do sends a request over HTTP/2 and returns the response with its body
// read.
func h2Do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", req.Method, req.URL, err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s %s: answered over %s", req.Method, req.URL, resp.Proto)
	}
	return resp, string(b)
}

func decodeEcho(t *testing.T, body string) echo {
	t.Helper()
	var ec echo
	if err := json.Unmarshal([]byte(body), &ec); err != nil {
		t.Fatalf("not an echo: %q", body)
	}
	return ec
}

// HTTP/2 requests reach HTTP1 target groups as HTTP/1.1: bodies of known
// and unknown length, cookies joined, the forwarded headers added, chunked
// responses relayed as data, stickiness and the listener's response
// headers on the way back.
func TestHTTP2ToHTTP1Target(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startBackend("A", nil)
	streamer := e.startBackend("S", func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: a chunked response.
		for i := range 3 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
	})
	tg := e.targetGroup("HTTP", "HTTP1", map[string]string{"stickiness.enabled": "true", "stickiness.type": "lb_cookie"})
	e.register(tg, a.vpc)
	tgS := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tgS, streamer.vpc)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTPS", forward(tg), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("h2.test")), func(l *state.Listener) {
		l.Attributes["routing.http.response.strict_transport_security.header_value"] = "max-age=60"
	})
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/stream")}, forward(tgS))
	e.rule(l, 2, []elbv2types.RuleCondition{cond("path-pattern", "/fixed")}, fixed("418", "short and stout"))
	c := h2Client()

	req, _ := http.NewRequest("POST", base+"/echo?q=1", strings.NewReader("known length"))
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	resp, body := h2Do(t, c, req)
	ec := decodeEcho(t, body)
	if ec.Proto != "HTTP/1.1" || ec.Method != "POST" || ec.URI != "/echo?q=1" || ec.Body != "known length" {
		t.Errorf("POST reached the target as %s %s %s body %q", ec.Proto, ec.Method, ec.URI, ec.Body)
	}
	if v := ec.Headers["Cookie"]; len(v) != 1 || v[0] != "a=1; b=2" {
		t.Errorf("cookies sent as %q, want one field \"a=1; b=2\"", v)
	}
	if v := ec.Headers["X-Forwarded-Proto"]; len(v) != 1 || v[0] != "https" {
		t.Errorf("X-Forwarded-Proto %q", v)
	}
	if v := ec.Headers["X-Forwarded-For"]; len(v) != 1 || !strings.HasPrefix(v[0], "192.0.2.7, 127.") {
		t.Errorf("X-Forwarded-For %q, want the client appended", v)
	}
	if v := ec.Headers["X-Amzn-Trace-Id"]; len(v) != 1 || !strings.HasPrefix(v[0], "Root=1-") {
		t.Errorf("X-Amzn-Trace-Id %q", v)
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), "AWSALB=") {
		t.Errorf("no AWSALB stickiness cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if v := resp.Header.Get("Strict-Transport-Security"); v != "max-age=60" {
		t.Errorf("Strict-Transport-Security %q", v)
	}

	// A body of unknown length goes to the target chunked.
	pr, pw := io.Pipe()
	go func() {
		for i := range 4 {
			fmt.Fprintf(pw, "piece %d;", i)
			time.Sleep(5 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ = http.NewRequest("PUT", base+"/chunks", pr)
	_, body = h2Do(t, c, req)
	if ec := decodeEcho(t, body); ec.Body != "piece 0;piece 1;piece 2;piece 3;" {
		t.Errorf("streamed body reached the target as %q", ec.Body)
	}

	// A chunked response arrives as its data.
	req, _ = http.NewRequest("GET", base+"/stream", nil)
	if _, body := h2Do(t, c, req); body != "part 0;part 1;part 2;" {
		t.Errorf("chunked response relayed as %q", body)
	}

	// The rule's fixed response.
	req, _ = http.NewRequest("GET", base+"/fixed", nil)
	if resp, body := h2Do(t, c, req); resp.StatusCode != 418 || body != "short and stout" || resp.Header.Get("Server") != "awselb/2.0" {
		t.Errorf("fixed response: %d %q server %q", resp.StatusCode, body, resp.Header.Get("Server"))
	}
}

// h2cBackend is an HTTP/2 target in clear text.
func (e *env) h2cBackend(h http.HandlerFunc) netip.AddrPort {
	e.t.Helper()
	vpc := e.targetIP()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(e.addrs.ToHost(vpc), 0).String())
	if err != nil {
		e.t.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: p}
	go srv.Serve(ln)
	e.t.Cleanup(func() { srv.Close() })
	return netip.AddrPortFrom(vpc, uint16(ln.Addr().(*net.TCPAddr).Port))
}

// HTTP/2 requests reach HTTP2 target groups over HTTP/2, trailers both
// ways.
func TestHTTP2ToHTTP2Target(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	target := e.h2cBackend(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Forwarded", r.Header.Get("X-Forwarded-Proto")+" "+r.Header.Get("X-Forwarded-For"))
		fmt.Fprintf(w, "%s %s %s trailer=%s", r.Method, r.Host, body, r.Trailer.Get("X-Sent"))
		w.Header().Set("X-Checksum", fmt.Sprint(len(body)))
	})
	tg := e.targetGroup("HTTP", "HTTP2", nil)
	e.register(tg, target)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTPS", forward(tg), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("h2.test")))
	c := h2Client()
	for i := range 3 {
		req, _ := http.NewRequest("POST", base+"/x", io.NopCloser(strings.NewReader("payload")))
		req.Trailer = http.Header{"X-Sent": {"yes"}}
		resp, body := h2Do(t, c, req)
		if want := fmt.Sprintf("POST %s payload trailer=yes", strings.TrimPrefix(base, "https://")); body != want {
			t.Errorf("request %d: body %q, want %q", i, body, want)
		}
		if resp.Header.Get("X-Proto") != "HTTP/2.0" || !strings.HasPrefix(resp.Header.Get("X-Forwarded"), "https 127.") {
			t.Errorf("request %d: target saw %q, forwarded headers %q", i, resp.Header.Get("X-Proto"), resp.Header.Get("X-Forwarded"))
		}
		if v := resp.Trailer.Get("X-Checksum"); v != "7" {
			t.Errorf("request %d: trailer X-Checksum %q", i, v)
		}
	}
}

// A target that does not answer within the idle timeout gets 504; a
// client that resets its stream makes the load balancer give up on the
// target.
func TestHTTP2TimeoutAndReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gone := make(chan struct{}, 4)
	slow := e.startBackend("slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
		case <-time.After(5 * time.Second):
		}
	})
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, slow.vpc)
	slowH2 := e.h2cBackend(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
		case <-time.After(5 * time.Second):
		}
	})
	tgH2 := e.targetGroup("HTTP", "HTTP2", nil)
	e.register(tgH2, slowH2)
	lb := e.newLB("internet-facing", map[string]string{"idle_timeout.timeout_seconds": "1"})
	l, base := lb.listener("HTTPS", forward(tg), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("h2.test")))
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/h2/*")}, forward(tgH2))
	c := h2Client()
	for _, path := range []string{"/slow", "/h2/slow"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		if resp, _ := h2Do(t, c, req); resp.StatusCode != 504 {
			t.Errorf("%s: status %d, want 504", path, resp.StatusCode)
		}
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the target's request was not ended after the timeout", path)
		}
	}
	lb.setAttrs(map[string]string{"idle_timeout.timeout_seconds": "60"})
	for _, path := range []string{"/slow", "/h2/slow"} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		go func() {
			time.Sleep(200 * time.Millisecond)
			cancel()
		}()
		if _, err := c.Do(req); err == nil {
			t.Fatalf("%s: answered", path)
		}
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the target's request outlived the client's reset", path)
		}
	}
}

// TestHTTP2IdleTimeout: an HTTP/2 connection with no stream in flight is
// closed after the idle timeout, once its last response went out whole.
func TestHTTP2IdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.newLB("internet-facing", map[string]string{"idle_timeout.timeout_seconds": "1"})
	_, base := lb.listener("HTTPS", fixed("200", "ok"), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("h2.test")))
	c, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) // self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "h2.test"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var body []byte
	ended := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if !ended || !errors.Is(err, io.EOF) {
				t.Errorf("after the response (ended %v, body %q): %v, want EOF", ended, body, err)
			}
			break
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			ended = ended || f.StreamID == 1 && f.StreamEnded()
		case *http2.DataFrame:
			body = append(body, f.Data()...)
			ended = ended || f.StreamID == 1 && f.StreamEnded()
		}
	}
	if string(body) != "ok" {
		t.Errorf("body %q, want ok", body)
	}
}

// TestHTTP2Conformance runs h2spec (RFC 7540 and 7541) against an HTTPS
// listener forwarding to an HTTP/1.1 target.
func TestHTTP2Conformance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startBackend("A", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTPS", forward(tg), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("h2spec.test")))
	ap := netip.MustParseAddrPort(strings.TrimPrefix(base, "https://"))
	ok, err := h2spec.Run(&config.Config{Host: ap.Addr().String(), Port: int(ap.Port()), Path: "/", Timeout: 2 * time.Second, MaxHeaderLen: 4000, TLS: true, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Error("h2spec: some cases failed (see the output above)")
	}
}
