package alb_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
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
	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/pki"
)

// addCert stores a self-signed certificate for names and returns its ARN.
func (e *env) addCert(names ...string) string {
	e.t.Helper()
	c, err := pki.SelfSigned(pki.Request{Subject: pkix.Name{CommonName: names[0]}, Hosts: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	arn := fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s", region, account, strings.ReplaceAll(names[0], "*", "wild"))
	e.update(func(tx *state.Tx) error {
		return state.Put(tx, state.Certificates, &state.Certificate{
			ARN: arn, DomainName: names[0], SubjectAlternativeNames: names, Status: "ISSUED", Type: "IMPORTED",
			CertificatePEM: string(c.CertPEM()),
			PrivateKeyPEM:  string(c.KeyPEM()),
		})
	})
	return arn
}

func httpsListener(policy string, certs ...string) func(*state.Listener) {
	return func(l *state.Listener) {
		l.SSLPolicy = policy
		for i, c := range certs {
			l.Certificates = append(l.Certificates, state.ListenerCertificate{ARN: c, Default: i == 0})
		}
	}
}

// leafName dials with a server name and returns the certificate's first
// DNS name.
func leafName(t *testing.T, addr, sni string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) // self-signed test certificates
	if err != nil {
		t.Fatalf("TLS to %s (SNI %q): %v", addr, sni, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].DNSNames[0]
}

func TestHTTPSListener(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startBackend("A", nil)
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, a.vpc)
	lb := e.newLB("internet-facing", map[string]string{"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true"})
	def := e.addCert("default.test")
	api := e.addCert("api.test")
	wild := e.addCert("*.wild.test")
	_, base := lb.listener("HTTPS", forward(tg), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", def, api, wild))
	addr := base[len("https://"):]
	// SNI chooses among the certificates; no SNI or no match: the default.
	for sni, want := range map[string]string{"api.test": "api.test", "x.wild.test": "*.wild.test", "other.test": "default.test", "": "default.test"} {
		if got := leafName(t, addr, sni); got != want {
			t.Errorf("SNI %q: certificate for %q, want %q", sni, got, want)
		}
	}
	// The policy refuses TLS 1.0 and 1.1 clients.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v}); err == nil {
			c.Close()
			t.Errorf("%s handshake accepted under ELBSecurityPolicy-TLS13-1-2-2021-06", tls.VersionName(v))
		}
	}
	// HTTP/1.1 over TLS, with X-Forwarded-Proto https and the TLS headers.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "api.test"}}}
	ec := getEcho(t, h1, base+"/tls", nil)
	if ec.Headers["X-Forwarded-Proto"][0] != "https" || ec.Proto != "HTTP/1.1" {
		t.Errorf("over TLS: proto %q, X-Forwarded-Proto %q", ec.Proto, ec.Headers["X-Forwarded-Proto"])
	}
	if v := ec.Headers["X-Amzn-Tls-Version"]; len(v) != 1 || v[0] != "TLSv1.3" {
		t.Errorf("x-amzn-tls-version %q", v)
	}
	if v := ec.Headers["X-Amzn-Tls-Cipher-Suite"]; len(v) != 1 || !strings.HasPrefix(v[0], "TLS_") {
		t.Errorf("x-amzn-tls-cipher-suite %q", v)
	}
	// HTTP/2 is negotiated with ALPN; the request reaches an HTTP/1.1
	// target group as HTTP/1.1.
	h2only := new(http.Protocols)
	h2only.SetHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2only, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := h2c.Get(base + "/h2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !strings.Contains(string(body), `"proto":"HTTP/1.1"`) || !strings.Contains(string(body), `"uri":"/h2"`) {
		t.Errorf("h2 client: %s, body %s", resp.Proto, body)
	}
	// routing.http2.enabled=false: ALPN offers only http/1.1.
	lb.setAttrs(map[string]string{"routing.http2.enabled": "false"})
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Errorf("h2 negotiated with routing.http2.enabled=false")
	}
	c.Close()
}

// testService is a gRPC test service: unary echo and bidirectional
// streaming echo, tagged with the backend's name.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	name string
}

func (s *testService) UnaryCall(ctx context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return &testgrpc.SimpleResponse{Username: s.name + " " + strings.Join(md.Get("x-forwarded-proto"), ","), Payload: in.GetPayload()}, nil
}

func (s *testService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: in.GetPayload()}); err != nil {
			return err
		}
	}
}

func (e *env) startGRPCBackend(name string) netip.AddrPort {
	e.t.Helper()
	vpc := e.targetIP()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(e.addrs.ToHost(vpc), 0).String())
	if err != nil {
		e.t.Fatal(err)
	}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, &testService{name: name})
	go srv.Serve(ln)
	e.t.Cleanup(srv.Stop)
	return netip.AddrPortFrom(vpc, uint16(ln.Addr().(*net.TCPAddr).Port))
}

func TestGRPC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.startGRPCBackend("grpc-backend")
	tgGRPC := e.targetGroup("HTTP", "GRPC", nil)
	e.register(tgGRPC, g)
	a := e.startBackend("A", nil)
	tgHTTP := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tgHTTP, a.vpc)
	lb := e.newLB("internet-facing", nil)
	l, base := lb.listener("HTTPS", forward(tgGRPC), httpsListener("ELBSecurityPolicy-TLS13-1-2-2021-06", e.addCert("grpc.test")))
	e.rule(l, 1, []elbv2types.RuleCondition{cond("path-pattern", "/grpc.testing.TestService/EmptyCall")}, forward(tgHTTP))
	conn, err := grpc.NewClient(base[len("https://"):], grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}))) // self-signed test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := testgrpc.NewTestServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := cl.UnaryCall(ctx, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("ping")}})
	if err != nil {
		t.Fatalf("unary call: %v", err)
	}
	if out.GetUsername() != "grpc-backend https" || string(out.GetPayload().GetBody()) != "ping" {
		t.Errorf("unary response %q %q", out.GetUsername(), out.GetPayload().GetBody())
	}
	stream, err := cl.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		msg := fmt.Sprintf("msg-%d", i)
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte(msg)}}); err != nil {
			t.Fatal(err)
		}
		in, err := stream.Recv()
		if err != nil {
			t.Fatalf("stream receive %d: %v", i, err)
		}
		if string(in.GetPayload().GetBody()) != msg {
			t.Errorf("stream message %d: %q", i, in.GetPayload().GetBody())
		}
	}
	stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("stream end: %v", err)
	}
	// gRPC to an HTTP/1 target group: HTTP 464 from the load balancer,
	// reported to the gRPC client as a gRPC status.
	_, err = cl.EmptyCall(ctx, &testgrpc.Empty{})
	if st, _ := status.FromError(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "464") {
		t.Errorf("gRPC to an HTTP1 target group: %v", err)
	}
	// HTTP/1.1 to a gRPC target group: 464.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if code, _, _ := get(t, h1, "GET", base+"/", nil); code != 464 {
		t.Errorf("HTTP/1.1 to a gRPC target group: %d, want 464", code)
	}
	// gRPC with no routable target: a gRPC status, not an HTML page.
	e.deregister(tgGRPC, 0, g)
	_, err = cl.UnaryCall(ctx, &testgrpc.SimpleRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "503") {
		t.Errorf("gRPC without targets: %v", err)
	}
}

func TestWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ws := e.startBackend("ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	})
	tg := e.targetGroup("HTTP", "HTTP1", nil)
	e.register(tg, ws.vpc)
	lb := e.newLB("internet-facing", nil)
	_, base := lb.listener("HTTP", forward(tg))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+base[len("http"):]+"/chat", &websocket.DialOptions{HTTPClient: client(e.clientAddr(0))})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("upgrade status %d", resp.StatusCode)
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("hello %d", i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo: "+msg {
			t.Errorf("got %q", got)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}
