package echo

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// start serves a Server on a random 127.10.x.y address (VPC 10.0.x.y)
// until the test ends, and checks that ServeTCP returns after the end.
func start(t *testing.T) (*Server, string) {
	t.Helper()
	var ln net.Listener
	var err error
	var podIP netip.Addr
	for i := 0; i < 20; i++ {
		podIP = netip.AddrFrom4([4]byte{10, 0, byte(128 + rand.IntN(64)), byte(1 + rand.IntN(250))})
		if ln, err = net.Listen("tcp", vpcaddr.Default().ToHost(podIP).String()+":0"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Identity{Namespace: "ns", Pod: "pod-1", Node: "node-a", PodIP: podIP}, vpcaddr.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeTCP(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeTCP: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ServeTCP did not return after its context ended")
		}
	})
	return s, ln.Addr().String()
}

func decode(t *testing.T, resp *http.Response) Answer {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q: %s", resp.Header.Get("Content-Type"), b)
	}
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return a
}

func insecureTLS(protos ...string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "example.com", NextProtos: protos} //nolint:gosec // self-signed
}

func TestHTTPProtocols(t *testing.T) {
	_, addr := start(t)
	protos := func(set func(*http.Protocols)) *http.Protocols {
		p := new(http.Protocols)
		set(p)
		return p
	}
	h2c := &http.Transport{Protocols: protos(func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) })}
	h2 := &http.Transport{TLSClientConfig: insecureTLS(), Protocols: protos(func(p *http.Protocols) { p.SetHTTP2(true) })}
	for _, tc := range []struct {
		name, url, proto, tlsVersion, alpn string
		rt                                 http.RoundTripper
	}{
		{"http1", "http://" + addr + "/a/b?c=d", "HTTP/1.1", "", "", &http.Transport{}},
		{"https1", "https://" + addr + "/a/b?c=d", "HTTP/1.1", "TLSv1.3", "http/1.1", &http.Transport{TLSClientConfig: insecureTLS("http/1.1")}},
		{"https1 without ALPN", "https://" + addr + "/a/b?c=d", "HTTP/1.1", "TLSv1.3", "", &http.Transport{TLSClientConfig: insecureTLS()}},
		{"https1 TLS 1.2", "https://" + addr + "/a/b?c=d", "HTTP/1.1", "TLSv1.2", "http/1.1", &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "example.com", NextProtos: []string{"http/1.1"}, MaxVersion: tls.VersionTLS12}}}, //nolint:gosec // self-signed
		{"h2", "https://" + addr + "/a/b?c=d", "HTTP/2.0", "TLSv1.3", "h2", h2},
		{"h2c", "http://" + addr + "/a/b?c=d", "HTTP/2.0", "", "", h2c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, tc.url, strings.NewReader("body"))
			req.Host = "shop.example.com"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			resp, err := tc.rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			a := decode(t, resp)
			if a.Path != "/a/b?c=d" || a.Host != "shop.example.com" || a.Method != "PUT" || a.Proto != tc.proto {
				t.Errorf("answer %+v", a)
			}
			if a.Namespace != "ns" || a.Pod != "pod-1" || a.Node != "node-a" || a.HTTPPort != portOf(addr) || a.LocalAddress != addr {
				t.Errorf("identity %+v", a)
			}
			if got := a.Headers["X-Forwarded-For"]; len(got) != 1 || got[0] != "203.0.113.7" {
				t.Errorf("headers %v", a.Headers)
			}
			switch {
			case tc.tlsVersion == "" && a.TLS != nil:
				t.Errorf("tls %+v over plain text", a.TLS)
			case tc.tlsVersion != "" && (a.TLS == nil || a.TLS.Version != tc.tlsVersion || a.TLS.ServerName != "example.com" || a.TLS.NegotiatedProtocol != tc.alpn || a.TLS.CipherSuite == ""):
				t.Errorf("tls %+v, want %s with ALPN %q", a.TLS, tc.tlsVersion, tc.alpn)
			}
		})
	}
}

func TestSourceVPC(t *testing.T) {
	_, addr := start(t)
	client := netip.AddrFrom4([4]byte{127, 10, 200, byte(1 + rand.IntN(250))})
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: client.AsSlice()}}).DialContext}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	a := decode(t, resp)
	ap := netip.MustParseAddrPort(a.Source)
	want := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 200, client.As4()[3]}), ap.Port())
	if ap.Addr() != client || a.SourceVPC != want.String() {
		t.Errorf("source %s, VPC %s; want %s and %s", a.Source, a.SourceVPC, client, want)
	}
	if a.PodIP == "" || a.PodIP[:5] != "10.0." {
		t.Errorf("pod IP %q", a.PodIP)
	}
}

func TestSpecialPaths(t *testing.T) {
	_, addr := start(t)
	get := func(path, ua string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, body := get("/health", "curl"); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("/health: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get("/status/418", "curl"); resp.StatusCode != 418 {
		t.Errorf("/status/418: %d", resp.StatusCode)
	}
	if resp, _ := get("/x?status=503", "curl"); resp.StatusCode != 503 {
		t.Errorf("?status=503: %d", resp.StatusCode)
	}
	if resp, _ := get("/x?status=nope", "curl"); resp.StatusCode != 400 {
		t.Errorf("?status=nope: %d", resp.StatusCode)
	}
	if resp, _ := get("/x?delay=10ms", "curl"); resp.StatusCode != 200 {
		t.Errorf("?delay=10ms: %d", resp.StatusCode)
	}
	for i := 0; i < 3; i++ {
		if resp, _ := get("/healthz", "ELB-HealthChecker/2.0"); resp.StatusCode != 200 {
			t.Errorf("/healthz: %d", resp.StatusCode)
		}
	}
	get("/grpc.health.v1.Health/Check", "ELB-HealthChecker/2.0")
	resp, body := get("/", "curl")
	var a Answer
	if err := json.Unmarshal([]byte(body), &a); err != nil || resp.StatusCode != 200 {
		t.Fatal(err, body)
	}
	if a.HealthChecks["/healthz"] != 3 || a.HealthChecks["/grpc.health.v1.Health/Check"] != 1 || len(a.HealthChecks) != 2 {
		t.Errorf("health checks %v, want /healthz 3 and the gRPC path 1 (curl's not counted)", a.HealthChecks)
	}
}

func TestGRPC(t *testing.T) {
	_, addr := start(t)
	for _, tc := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"h2c", insecure.NewCredentials()},
		{"tls", credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, ServerName: "grpc.example.com"})}, //nolint:gosec // self-signed
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(tc.creds), grpc.WithAuthority("grpc.example.com"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, svc := range []string{"", "my.Service"} {
				resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
				if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("health %q: %v %v", svc, resp, err)
				}
			}
			in, _ := structpb.NewStruct(map[string]any{"hello": "world"})
			out := &structpb.Struct{}
			if err := conn.Invoke(ctx, EchoMethod, in, out); err != nil {
				t.Fatal(err)
			}
			m := out.AsMap()
			if m["pod"] != "pod-1" || m["host"] != "grpc.example.com" || m["path"] != EchoMethod {
				t.Errorf("echo %v", m)
			}
			if req, _ := m["request"].(map[string]any); req["hello"] != "world" {
				t.Errorf("request %v", m["request"])
			}
			if (tc.name == "tls") != (m["tls"] != nil) {
				t.Errorf("tls %v over %s", m["tls"], tc.name)
			}
			st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, EchoStreamMethod)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				msg, _ := structpb.NewStruct(map[string]any{"n": float64(i)})
				if err := st.SendMsg(msg); err != nil {
					t.Fatal(err)
				}
				got := &structpb.Struct{}
				if err := st.RecvMsg(got); err != nil {
					t.Fatal(err)
				}
				if req, _ := got.AsMap()["request"].(map[string]any); req["n"] != float64(i) {
					t.Errorf("stream message %d: %v", i, got.AsMap()["request"])
				}
			}
			if err := st.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := st.RecvMsg(&structpb.Struct{}); err != io.EOF {
				t.Errorf("end of stream: %v", err)
			}
		})
	}
}

func TestProxyProtocol(t *testing.T) {
	_, addr := start(t)
	for _, version := range []byte{1, 2} {
		t.Run(fmt.Sprint("v", version), func(t *testing.T) {
			h := &proxyproto.Header{Version: version, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
				SourceAddr:      &net.TCPAddr{IP: net.IPv4(198, 51, 100, 9), Port: 40123},
				DestinationAddr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 80}}
			if version == 2 {
				if err := h.SetTLVs([]proxyproto.TLV{{Type: 0xEA, Value: append([]byte{0x01}, "vpce-0123456789abcdef0"...)}}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := h.WriteTo(c); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, resp)
			p := a.ProxyProtocol
			if p == nil || p.Version != int(version) || p.Source != "198.51.100.9:40123" || p.Destination != "10.0.0.5:80" || p.Command != "PROXY" {
				t.Fatalf("PROXY header %+v", p)
			}
			if version == 2 && (len(p.TLVs) != 1 || p.TLVs[0].Type != "0xEA" || p.TLVs[0].Subtype != "0x01" || p.TLVs[0].Value != "vpce-0123456789abcdef0") {
				t.Errorf("TLVs %+v", p.TLVs)
			}
			if !strings.HasPrefix(a.Source, "127.") {
				t.Errorf("source %s: the socket's peer, not the header's", a.Source)
			}
		})
	}
}

func TestRawEcho(t *testing.T) {
	_, addr := start(t)
	for _, msg := range []string{"hello\n", "PING\r\n", "*1\r\n$4\r\nPING\r\n", "G", "\x16"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != msg {
			t.Errorf("%q came back as %q (%v)", msg, got, err)
		}
	}
}

func TestRawEchoInsideTLS(t *testing.T) {
	_, addr := start(t)
	c, err := tls.Dial("tcp", addr, insecureTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("secret\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "secret\n" {
		t.Errorf("raw bytes inside TLS came back as %q (%v)", buf, err)
	}
}

func TestSilentClientAndShutdown(t *testing.T) {
	// A client that connects and sends nothing (a TCP health check, a
	// server-speaks-first client): ServeTCP still returns at the end of
	// its context (checked by start's cleanup).
	_, addr := start(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
}

func TestWebSocket(t *testing.T) {
	_, addr := start(t)
	ws, err := websocket.Dial("ws://"+addr+"/ws", "", "http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, m := range []string{"one", "two"} {
		if err := websocket.Message.Send(ws, m); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != m {
			t.Fatalf("%q came back as %q (%v)", m, got, err)
		}
	}
}

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.10.250.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Identity{Pod: "p"}, vpcaddr.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServePacket(ctx, pc) }()
	for _, client := range []string{"a", "b"} {
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("%s-%d", client, i)
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != msg {
				t.Errorf("%q came back as %q (%v)", msg, buf[:n], err)
			}
		}
		c.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServePacket: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind kind
		more bool
	}{
		{"", kindRaw, true},
		{"G", kindRaw, true},
		{"GET /", kindHTTP1, false},
		{"GE", kindRaw, true},
		{"GEX", kindRaw, false},
		{"PROXY TCP4", kindProxyV1, false},
		{"\r\n\r\n\x00\r\nQUIT\n!", kindProxyV2, false},
		{"\r\n\r\n", kindRaw, true},
		{"\x16\x03\x01", kindTLS, false},
		{"\x16", kindRaw, true},
		{"\x16x", kindRaw, false},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", kindH2, false},
		{"PRI * HTTP/2.0", kindRaw, true},
		{"P", kindRaw, true},
		{"PING\r\n", kindRaw, false},
		{"hello", kindRaw, false},
	} {
		k, more := classify([]byte(tc.in))
		if k != tc.kind || more != tc.more {
			t.Errorf("classify(%q) = %v, %v; want %v, %v", tc.in, k, more, tc.kind, tc.more)
		}
	}
}

// FuzzClassify checks that classification never panics and that a
// complete answer does not change with more bytes.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "\r\n\r\n\x00\r\nQUIT\n\x21\x11", "\x16\x03\x01\x02", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "\xff\xfe garbage"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, more := classify(b)
		if more {
			return
		}
		if k2, more2 := classify(append(append([]byte(nil), b...), 'x')); more2 || k2 != k {
			t.Errorf("classify(%q) = %v but with one more byte %v, %v", b, k, k2, more2)
		}
	})
}

// FuzzServe sends arbitrary bytes and checks the server answers or
// closes without hanging.
func FuzzServe(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.0\r\n\r\n", "PROXY garbage\r\n", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c", "\x16\x03\x01\x00\x05hello", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nxx", "raw bytes"} {
		f.Add([]byte(s))
	}
	s, err := New(Identity{Pod: "p"}, vpcaddr.Default(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() { s.serveConn(context.Background(), server); close(done) }()
		_ = client.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = client.Write(b); _ = client.Close() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("serveConn hangs on %q", b)
		}
	})
}
