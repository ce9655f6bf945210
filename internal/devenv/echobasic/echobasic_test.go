package echobasic

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	grpcutil "sigs.k8s.io/gateway-api/conformance/utils/grpc"
	httputil "sigs.k8s.io/gateway-api/conformance/utils/http"
	"sigs.k8s.io/gateway-api/conformance/utils/kubernetes"
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"
	tcputil "sigs.k8s.io/gateway-api/conformance/utils/tcp"
	tlsutil "sigs.k8s.io/gateway-api/conformance/utils/tls"
	udputil "sigs.k8s.io/gateway-api/conformance/utils/udp"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

// timeouts are the suite's, shortened: the servers answer at once.
func timeouts() config.TimeoutConfig {
	c := config.DefaultTimeoutConfig()
	c.MaxTimeToConsistency = 10 * time.Second
	c.RequestTimeout = 5 * time.Second
	return c
}

// podEnv is what the suite's manifests give every echo-basic container.
func podEnv(extra ...string) map[string]string {
	env := map[string]string{"POD_NAME": "infra-backend-v1-7d9f-abcde", "NAMESPACE": "gateway-conformance-infra"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// run starts echo-basic with env and files on a random 127.x.y.z address
// until the test ends, and checks that the process stops then.
func run(t *testing.T, env map[string]string, files fstest.MapFS) netip.Addr {
	t.Helper()
	addr := netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(50)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, container.Container{Env: env, Files: files, Addr: addr})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("echo-basic did not stop within 10 s of its context's end")
		}
	})
	return addr
}

func hostPort(addr netip.Addr, port int) string {
	return netip.AddrPortFrom(addr, uint16(port)).String()
}

// serverCert is a certificate for abc.example.com made as the suite makes
// its Secrets, and the files a Secret volume holds for it.
func serverCert(t *testing.T) (certPEM []byte, files fstest.MapFS) {
	s := kubernetes.MustCreateSelfSignedCertSecret(t, "ns", "tls-checks-certificate", []string{"abc.example.com"})
	return s.Data["tls.crt"], fstest.MapFS{
		"etc/secret-volume/crt": {Data: s.Data["tls.crt"]},
		"etc/secret-volume/key": {Data: s.Data["tls.key"]},
	}
}

func TestIsImage(t *testing.T) {
	for image, want := range map[string]bool{
		"registry.k8s.io/gateway-api/echo-basic:v1.5.1":          true,
		"registry.k8s.io/gateway-api/echo-basic:v1.6.0-dev.3":    true,
		"registry.k8s.io/gateway-api/echo-basic@sha256:0123abcd": true,
		"localhost:5000/echo-basic":                              true,
		"echo-basic":                                             true,
		"registry.k8s.io/gateway-api/echo-advanced:v1.5.1":       false,
		"nginx:latest":                     false,
		"echo-basic.example.com/nginx:1":   false,
		"localhost:5000/echo-basic-fork:1": false,
	} {
		if got := IsImage(image); got != want {
			t.Errorf("IsImage(%q) = %v, want %v", image, got, want)
		}
	}
}

// TestHTTP checks the HTTP mode with the suite's own round tripper and
// comparison: the HTTP port, h2c prior knowledge on 3001, HTTPS on 8443.
func TestHTTP(t *testing.T) {
	certPEM, files := serverCert(t)
	addr := run(t, podEnv("TLS_SERVER_CERT", "/etc/secret-volume/crt", "TLS_SERVER_PRIVKEY", "/etc/secret-volume/key"), files)
	rt := &roundtripper.DefaultRoundTripper{TimeoutConfig: timeouts()}

	for _, tc := range []struct {
		name     string
		expected httputil.ExpectedResponse
	}{
		{"echo", httputil.ExpectedResponse{
			Request:  httputil.Request{Host: "example.com", Path: "/a/b?x=1", Headers: map[string]string{"X-Test": "v"}},
			Response: httputil.Response{Headers: map[string]string{"X-Backend": "set", "Content-Type": "application/json"}},
			ExpectedRequest: &httputil.ExpectedRequest{
				Request:  httputil.Request{Host: "example.com", Path: "/a/b?x=1", Headers: map[string]string{"X-Test": "v"}},
				HTTPPort: "3000",
			},
			BackendSetResponseHeaders: map[string]string{"X-Backend": "set"},
			Backend:                   "infra-backend-v1", Namespace: "gateway-conformance-infra",
		}},
		// "//" becomes "/" for the routing only: /status/ matches the
		// request URI as sent, and the echo reports it.
		{"double slashes", httputil.ExpectedResponse{
			Request: httputil.Request{Path: "//a//b"}, Namespace: "gateway-conformance-infra",
		}},
		{"double slashes in status", httputil.ExpectedResponse{
			Request: httputil.Request{Path: "//status//201"}, Response: httputil.Response{StatusCodes: []int{400}},
		}},
		{"status", httputil.ExpectedResponse{
			Request: httputil.Request{Path: "/status/418"}, Response: httputil.Response{StatusCodes: []int{418}},
		}},
		{"status with a query is a bad request", httputil.ExpectedResponse{
			Request: httputil.Request{Path: "/status/418?x=y"}, Response: httputil.Response{StatusCodes: []int{400}},
		}},
		{"delay", httputil.ExpectedResponse{
			Request:   httputil.Request{Path: "/d?delay=50ms"},
			Namespace: "gateway-conformance-infra",
		}},
		{"bad delay", httputil.ExpectedResponse{
			Request: httputil.Request{Path: "/d?delay=soon"}, Response: httputil.Response{StatusCodes: []int{500}},
		}},
		{"POST", httputil.ExpectedResponse{
			Request:   httputil.Request{Method: "POST", Path: "/post", Body: "hello"},
			Namespace: "gateway-conformance-infra",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httputil.MakeRequestAndExpectEventuallyConsistentResponse(t, rt, timeouts(), hostPort(addr, 3000), tc.expected)
		})
	}

	t.Run("health", func(t *testing.T) {
		if code, body := plainGet(t, "http://"+hostPort(addr, 3000)+"/health"); code != 200 || body != "OK" {
			t.Errorf("GET /health: %d %q, want 200 OK", code, body)
		}
	})

	t.Run("h2c", func(t *testing.T) {
		exp := httputil.ExpectedResponse{
			Request:         httputil.Request{Path: "/h2c", Protocol: roundtripper.H2CPriorKnowledgeProtocol},
			Response:        httputil.Response{Protocol: "HTTP/2.0"},
			ExpectedRequest: &httputil.ExpectedRequest{Request: httputil.Request{Path: "/h2c"}, HTTPPort: "3000"},
			Backend:         "infra-backend-v1", Namespace: "gateway-conformance-infra",
		}
		httputil.MakeRequestAndExpectEventuallyConsistentResponse(t, rt, timeouts(), hostPort(addr, 3001), exp)
		// HTTP/1.1 without an upgrade is refused on the h2c port.
		if code, body := plainGet(t, "http://"+hostPort(addr, 3001)+"/h2c"); code != 400 || body != "Expected h2c request" {
			t.Errorf("HTTP/1.1 on the h2c port: %d %q, want 400", code, body)
		}
	})

	t.Run("https", func(t *testing.T) {
		exp := httputil.ExpectedResponse{
			Request:   httputil.Request{Host: "abc.example.com", Path: "/tls"},
			Backend:   "infra-backend-v1",
			Namespace: "gateway-conformance-infra",
		}
		tlsutil.MakeTLSRequestAndExpectEventuallyConsistentResponse(t, rt, timeouts(), hostPort(addr, 8443), certPEM, nil, nil, "abc.example.com", exp)
		// The answer describes the TLS and still names HTTP_PORT.
		c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool(t, certPEM), ServerName: "abc.example.com"}}}
		resp, err := c.Get("https://" + hostPort(addr, 8443) + "/tls")
		if err != nil {
			t.Fatal(err)
		}
		var a Answer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if a.TLS == nil || a.TLS.ServerName != "abc.example.com" || a.TLS.Version != "TLSv1.3" || a.TLS.NegotiatedProtocol != "h2" || a.HTTPPort != "3000" || a.Proto != "HTTP/2.0" {
			t.Errorf("answer over TLS %+v (tls %+v)", a, a.TLS)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		ws, err := websocket.Dial("ws://"+hostPort(addr, 3000)+"/ws", "", "http://example.com/")
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := websocket.Message.Send(ws, "hello"); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != "hello" {
			t.Errorf("websocket echo %q, %v; want hello", got, err)
		}
	})
}

// TestHTTPRetry checks /retry/: the first succeedAfter requests of a uuid
// fail (a reset connection, or responseCode), then the echo answers.
func TestHTTPRetry(t *testing.T) {
	addr := run(t, podEnv(), nil)
	get := func(query string) (*http.Response, error) {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		return c.Get("http://" + hostPort(addr, 3000) + "/retry/?" + query)
	}
	for range 2 {
		resp, err := get("uuid=a&succeedAfter=2")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a failing attempt answered %d, want the connection reset", resp.StatusCode)
		}
	}
	resp, err := get("uuid=a&succeedAfter=2")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("third attempt: %v, %v; want 200", resp, err)
	}
	resp.Body.Close()
	resp, err = get("uuid=b&succeedAfter=1&responseCode=503")
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("responseCode attempt: %v, %v; want 503", resp, err)
	}
	resp.Body.Close()
	resp, err = get("succeedAfter=1")
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("without uuid: %v, %v; want 400", resp, err)
	}
	resp.Body.Close()
}

// TestHTTPClientCertificate checks TLS_CLIENT_CACERTS: a client
// certificate of the CA is verified and reported; none is fine too.
func TestHTTPClientCertificate(t *testing.T) {
	certPEM, files := serverCert(t)
	cm, ca, caKey := kubernetes.MustCreateCACertConfigMap(t, "ns", "tls-checks-ca-certificate")
	client := kubernetes.MustCreateCASignedClientCertSecret(t, "ns", "client", ca, caKey)
	files["etc/configmap-volume/ca"] = &fstest.MapFile{Data: []byte(cm.Data["ca.crt"])}
	addr := run(t, podEnv("TLS_SERVER_CERT", "/etc/secret-volume/crt", "TLS_SERVER_PRIVKEY", "/etc/secret-volume/key", "TLS_CLIENT_CACERTS", "/etc/configmap-volume/ca"), files)
	rt := &roundtripper.DefaultRoundTripper{TimeoutConfig: timeouts()}
	exp := httputil.ExpectedResponse{Request: httputil.Request{Host: "abc.example.com", Path: "/"}, Namespace: "gateway-conformance-infra"}
	tlsutil.MakeTLSRequestAndExpectEventuallyConsistentResponse(t, rt, timeouts(), hostPort(addr, 8443), certPEM, client.Data["tls.crt"], client.Data["tls.key"], "abc.example.com", exp)

	answer := func(certs []tls.Certificate) (Answer, error) {
		// GetClientCertificate sends the certificate whatever CAs the
		// server names (Certificates would send none that does not fit).
		send := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if len(certs) == 0 {
				return &tls.Certificate{}, nil
			}
			return &certs[0], nil
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool(t, certPEM), ServerName: "abc.example.com", GetClientCertificate: send}}}
		resp, err := c.Get("https://" + hostPort(addr, 8443) + "/")
		if err != nil {
			return Answer{}, err
		}
		defer resp.Body.Close()
		var a Answer
		return a, json.NewDecoder(resp.Body).Decode(&a)
	}
	kp, err := tls.X509KeyPair(client.Data["tls.crt"], client.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	a, err := answer([]tls.Certificate{kp})
	if err != nil || a.TLS == nil || len(a.TLS.PeerCertificates) != 1 || !strings.Contains(a.TLS.PeerCertificates[0], "BEGIN CERTIFICATE") {
		t.Errorf("with a client certificate: %+v, %v", a.TLS, err)
	}
	if a, err := answer(nil); err != nil || a.TLS == nil || len(a.TLS.PeerCertificates) != 0 {
		t.Errorf("without a client certificate: %+v, %v", a.TLS, err)
	}
	// A certificate of another CA is refused.
	self := kubernetes.MustCreateSelfSignedCertSecret(t, "ns", "stranger", []string{"client.example.com"})
	kp2, err := tls.X509KeyPair(self.Data["tls.crt"], self.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := answer([]tls.Certificate{kp2}); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
}

// plainGet returns the status and body of GET url.
func plainGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func pool(t *testing.T, pemBytes []byte) *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate")
	}
	return p
}

// TestGRPC calls the gRPC echo service with the suite's own client and
// generated stubs.
func TestGRPC(t *testing.T) {
	certPEM, files := serverCert(t)
	addr := run(t, podEnv("GRPC_ECHO_SERVER", "1", "SERVICE_NAME", "grpc-infra-backend-v1", "TLS_SERVER_CERT", "/etc/secret-volume/crt", "TLS_SERVER_PRIV_KEY", "/etc/secret-volume/key"), files)

	for _, tc := range []struct {
		name     string
		expected grpcutil.ExpectedResponse
		method   string
	}{
		{"Echo", grpcutil.ExpectedResponse{EchoRequest: &pb.EchoRequest{}, RequestMetadata: &grpcutil.RequestMetadata{Authority: "grpc.example.com", Metadata: map[string]string{"x-test": "v"}}}, "Echo"},
		{"EchoTwo", grpcutil.ExpectedResponse{EchoTwoRequest: &pb.EchoRequest{}}, "EchoTwo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &grpcutil.DefaultClient{}
			defer c.Close()
			resp, err := c.SendRPC(t, hostPort(addr, 3000), tc.expected, 5*time.Second)
			if err != nil || resp.Code != codes.OK {
				t.Fatalf("SendRPC: %v, code %v", err, resp.Code)
			}
			as := resp.Response.GetAssertions()
			if as.GetFullyQualifiedMethod() != "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/"+tc.method {
				t.Errorf("method %q", as.GetFullyQualifiedMethod())
			}
			ctx := as.GetContext()
			if ctx.GetPod() != "infra-backend-v1-7d9f-abcde" || ctx.GetNamespace() != "gateway-conformance-infra" || ctx.GetServiceName() != "grpc-infra-backend-v1" {
				t.Errorf("context %v", ctx)
			}
			if as.GetTlsAssertions() != nil {
				t.Errorf("TLS assertions on the plaintext port: %v", as.GetTlsAssertions())
			}
			headers := map[string]string{}
			for _, h := range as.GetHeaders() {
				headers[h.GetKey()] = h.GetValue()
			}
			if md := tc.expected.RequestMetadata; md != nil {
				if as.GetAuthority() != md.Authority || headers[":authority"] != md.Authority || headers["x-test"] != "v" {
					t.Errorf("authority %q, headers %v", as.GetAuthority(), headers)
				}
			}
			if !strings.HasPrefix(headers["user-agent"], "grpc-go/") || headers["content-type"] != "application/grpc" {
				t.Errorf("headers %v", headers)
			}
		})
	}

	t.Run("suite convergence", func(t *testing.T) {
		grpcutil.MakeRequestAndExpectEventuallyConsistentResponse(t, nil, timeouts(), hostPort(addr, 3000), grpcutil.ExpectedResponse{
			EchoRequest: &pb.EchoRequest{}, Backend: "infra-backend-v1", Namespace: "gateway-conformance-infra",
		})
	})

	t.Run("EchoThree is unimplemented", func(t *testing.T) {
		c := &grpcutil.DefaultClient{}
		defer c.Close()
		resp, err := c.SendRPC(t, hostPort(addr, 3000), grpcutil.ExpectedResponse{EchoThreeRequest: &pb.EchoRequest{}}, 5*time.Second)
		if err != nil || resp.Code != codes.Unimplemented {
			t.Errorf("EchoThree: %v, code %v; want Unimplemented", err, resp.Code)
		}
	})

	t.Run("TLS", func(t *testing.T) {
		conn, err := grpc.NewClient(hostPort(addr, 8443), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool(t, certPEM), ServerName: "abc.example.com"})))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := pb.NewGrpcEchoClient(conn).Echo(ctx, &pb.EchoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		ta := resp.GetAssertions().GetTlsAssertions()
		if ta.GetServerName() != "abc.example.com" || ta.GetVersion() != "TLSv1.3" || ta.GetNegotiatedProtocol() != "h2" || ta.GetCipherSuite() == "" {
			t.Errorf("TLS assertions %v", ta)
		}
	})

	t.Run("reflection", func(t *testing.T) {
		conn, err := grpc.NewClient(hostPort(addr, 3000), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: GRPCService}}); err != nil {
			t.Fatal(err)
		}
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("reflection answered %v, want the service's file", r)
		}
	})

	t.Run("unknown method", func(t *testing.T) {
		conn, err := grpc.NewClient(hostPort(addr, 3000), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ctx = metadata.AppendToOutgoingContext(ctx, "x", "y")
		err = conn.Invoke(ctx, "/"+GRPCService+"/EchoFour", &pb.EchoRequest{}, &pb.EchoResponse{})
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("EchoFour: %v, want Unimplemented", err)
		}
	})
}

// TestGRPCDescriptorMatchesTheSuite checks that our .proto has the suite's
// wire shape: every message field of the suite's descriptor, by name,
// number, kind and cardinality, and every method.
func TestGRPCDescriptorMatchesTheSuite(t *testing.T) {
	ours, err := loadDescriptors()
	if err != nil {
		t.Fatal(err)
	}
	theirs := pb.File_grpcecho_proto
	if got, want := ours.service.ParentFile().Package(), theirs.Package(); got != want {
		t.Fatalf("package %s, want %s", got, want)
	}
	msgs := theirs.Messages()
	for i := range msgs.Len() {
		m := msgs.Get(i)
		d, err := ours.files.FindDescriptorByName(m.FullName())
		if err != nil {
			t.Errorf("message %s missing: %v", m.FullName(), err)
			continue
		}
		fields := m.Fields()
		for j := range fields.Len() {
			f := fields.Get(j)
			of := d.(protoreflect.MessageDescriptor).Fields().ByNumber(f.Number())
			if of == nil || of.Name() != f.Name() || of.Kind() != f.Kind() || of.Cardinality() != f.Cardinality() {
				t.Errorf("%s field %d (%s): ours %v", m.FullName(), f.Number(), f.Name(), of)
			}
		}
	}
	svc := theirs.Services().Get(0)
	for i := range svc.Methods().Len() {
		m := svc.Methods().Get(i)
		om := ours.service.Methods().ByName(m.Name())
		if om == nil || om.Input().FullName() != m.Input().FullName() || om.Output().FullName() != m.Output().FullName() {
			t.Errorf("method %s: ours %v", m.Name(), om)
		}
	}
}

// TestTCP runs the suite's TCP checks (greeting, PING, IS_TLS, TEST) on
// the plain and the TLS port.
func TestTCP(t *testing.T) {
	certPEM, files := serverCert(t)
	addr := run(t, podEnv("TCP_ECHO_SERVER", "1", "POD_NAME", "tcp-backend-5c6-xyz", "TLS_SERVER_CERT", "/etc/secret-volume/crt", "TLS_SERVER_PRIV_KEY", "/etc/secret-volume/key"), files)
	tcputil.MakeTCPRequestAndExpectEventuallyValidResponse(t, timeouts(), hostPort(addr, 3000), nil, "", false,
		tcputil.ExpectedResponse{Backend: "tcp-backend", Namespace: "gateway-conformance-infra"})
	tcputil.MakeTCPRequestAndExpectEventuallyValidResponse(t, timeouts(), hostPort(addr, 8443), certPEM, "abc.example.com", true,
		tcputil.ExpectedResponse{BackendIsTLS: true, Backend: "tcp-backend", Namespace: "gateway-conformance-infra", Hostname: "abc.example.com"})
	pod, err := tcputil.EchoSendOnce(context.Background(), hostPort(addr, 3000), 5*time.Second)
	if err != nil || pod != "tcp-backend-5c6-xyz" {
		t.Errorf("EchoSendOnce: %q, %v", pod, err)
	}

	// The TEST answer over TLS, field by field.
	conn, err := tls.Dial("tcp", hostPort(addr, 8443), &tls.Config{RootCAs: pool(t, certPEM), ServerName: "abc.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if g, err := r.ReadString('\n'); err != nil || g != TCPGreeting {
		t.Fatalf("greeting %q, %v", g, err)
	}
	fmt.Fprint(conn, "NOISE\nTEST\n")
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var a TCPAnswer
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatal(err)
	}
	if !a.IsTLS || a.TCPPort != "3000" || a.TLSPort != "8443" || a.TLS == nil || a.TLS.Version != "TLS 1.3" || a.TLS.ServerName != "abc.example.com" || a.TLS.Curves == "" {
		t.Errorf("TEST over TLS: %s", line)
	}
	// The plain port does not speak TLS.
	if c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", hostPort(addr, 3000), &tls.Config{InsecureSkipVerify: true}); err == nil { //nolint:gosec // expected to fail
		c.Close()
		t.Error("TLS handshake on the plain TCP port succeeded")
	}
}

// TestTCPWithoutCertificate: no TLS port without a certificate; ports from
// the environment.
func TestTCPWithoutCertificate(t *testing.T) {
	addr := run(t, podEnv("TCP_ECHO_SERVER", "1", "TCP_PORT", "9300"), nil)
	if _, err := tcputil.EchoSendOnce(context.Background(), hostPort(addr, 9300), 5*time.Second); err != nil {
		t.Error(err)
	}
	if c, err := net.DialTimeout("tcp", hostPort(addr, 8443), time.Second); err == nil {
		c.Close()
		t.Error("the TLS port listens without a certificate")
	}
}

// TestUDP runs the suite's UDP probe and checks the JSON answer.
func TestUDP(t *testing.T) {
	addr := run(t, podEnv("UDP_ECHO_SERVER", "1", "SERVICE_NAME", "udp-backend-v1"), nil)
	udputil.ExpectEchoResponseFromBackend(t, 10*time.Second, hostPort(addr, 8080), udputil.ExpectedResponse{Service: "udp-backend-v1", Namespace: "gateway-conformance-infra"})
	c, err := net.Dial("udp", hostPort(addr, 8080))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	long := strings.Repeat("x", 1500)
	for _, tc := range []struct{ send, want string }{{"hello", "hello"}, {long, long[:1024]}} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(tc.send)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var a UDPAnswer
		if err := json.Unmarshal(buf[:n], &a); err != nil {
			t.Fatal(err)
		}
		if a.Request != tc.want || a.Pod != "infra-backend-v1-7d9f-abcde" || a.Service != "udp-backend-v1" {
			t.Errorf("answer to %d bytes: request of %d bytes, %+v", len(tc.send), len(a.Request), a.Pod)
		}
	}
	// Nothing listens on TCP in UDP mode.
	if c, err := net.DialTimeout("tcp", hostPort(addr, 3000), time.Second); err == nil {
		c.Close()
		t.Error("TCP 3000 listens in UDP mode")
	}
}

// TestStartErrors: what would make the image exit fails Start with a
// message naming the variable, and leaves nothing listening.
func TestStartErrors(t *testing.T) {
	_, files := serverCert(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad HTTP_PORT", podEnv("HTTP_PORT", "http"), `HTTP_PORT="http"`},
		{"HTTP_PORT out of range", podEnv("HTTP_PORT", "70000"), `HTTP_PORT="70000"`},
		{"bad TCP_PORT", podEnv("TCP_ECHO_SERVER", "1", "TCP_PORT", "x"), `TCP_PORT="x"`},
		{"bad UDP_PORT", podEnv("UDP_ECHO_SERVER", "1", "UDP_PORT", "-1"), `UDP_PORT="-1"`},
		{"missing certificate", podEnv("TLS_SERVER_CERT", "/etc/nothing/crt", "TLS_SERVER_PRIVKEY", "/etc/secret-volume/key"), "TLS_SERVER_CERT: open /etc/nothing/crt"},
		{"relative path", podEnv("GRPC_ECHO_SERVER", "1", "TLS_SERVER_CERT", "crt", "TLS_SERVER_PRIV_KEY", "/etc/secret-volume/key"), `TLS_SERVER_CERT: path "crt" is not absolute`},
		{"key does not match", podEnv("TLS_SERVER_CERT", "/etc/secret-volume/crt", "TLS_SERVER_PRIVKEY", "/etc/secret-volume/crt"), "TLS_SERVER_CERT and TLS_SERVER_PRIVKEY"},
		{"bad client CAs", podEnv("TLS_SERVER_CERT", "/etc/secret-volume/crt", "TLS_SERVER_PRIVKEY", "/etc/secret-volume/key", "TLS_CLIENT_CACERTS", "/etc/secret-volume/key"), "TLS_CLIENT_CACERTS: no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(50)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
			_, err := Start(context.Background(), container.Container{Env: tc.env, Files: files, Addr: addr})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "echo-basic: ") {
				t.Fatalf("Start: %v, want an error with %q", err, tc.want)
			}
			for _, port := range []int{3000, 3001, 8443} {
				if c, err := net.DialTimeout("tcp", hostPort(addr, port), time.Second); err == nil {
					c.Close()
					t.Errorf("port %d listens after a failed start", port)
				}
			}
		})
	}
}

// TestPortTaken: a port already bound fails the start, and what was bound
// before it is released.
func TestPortTaken(t *testing.T) {
	addr := netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(50)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
	squat, err := net.Listen("tcp", hostPort(addr, 3001))
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	if _, err := Start(context.Background(), container.Container{Env: podEnv(), Addr: addr}); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start with 3001 taken: %v", err)
	}
	ln, err := net.Listen("tcp", hostPort(addr, 3000))
	if err != nil {
		t.Fatalf("3000 still held after the failed start: %v", err)
	}
	ln.Close()
}

// FuzzTCPLines feeds the TCP line protocol any bytes: it answers the
// greeting, then exactly one line per PING, IS_TLS or TEST line, and
// nothing else.
func FuzzTCPLines(f *testing.F) {
	for _, s := range []string{"PING\n", "TEST\nIS_TLS\n", "PING", "\n\n", "PING\r\nTEST\n", "x\x00y\nPING\n"} {
		f.Add(s)
	}
	e := &tcpEcho{answer: TCPAnswer{Pod: "p", TCPPort: "3000"}}
	f.Fuzz(func(t *testing.T, in string) {
		server, client := net.Pipe()
		done := make(chan struct{})
		go func() {
			e.serve(context.Background(), server)
			close(done)
		}()
		go func() { _, _ = client.Write([]byte(in)) }()
		r := bufio.NewReader(client)
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		greeting, err := r.ReadString('\n')
		if err != nil || greeting != TCPGreeting {
			t.Fatalf("greeting %q, %v", greeting, err)
		}
		// net.Pipe has no half-close: only lines ended by \n are read
		// before the client closes.
		want := 0
		sc := bufio.NewScanner(strings.NewReader(in[:strings.LastIndex(in, "\n")+1]))
		for sc.Scan() {
			switch sc.Text() {
			case "PING", "IS_TLS", "TEST":
				want++
			}
		}
		if sc.Err() != nil {
			want = -1 // a line too long: the server stops where the scanner does
		}
		got := 0
		for want < 0 || got < want {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			if line != "PONG\n" && line != "false\n" && !strings.HasPrefix(line, "{") {
				t.Fatalf("answer %q to %q", line, in)
			}
			got++
		}
		if want >= 0 && got != want {
			t.Fatalf("%d answers to %q, want %d", got, in, want)
		}
		client.Close()
		<-done
	})
}
