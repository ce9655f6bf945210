package main

import (
	"context"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/elbowlb/elbow/hack/internal/cpustat"
	"github.com/elbowlb/elbow/internal/elb/dataplane/alb"
	"github.com/elbowlb/elbow/internal/elb/state"
	"github.com/elbowlb/elbow/internal/pki"
	"github.com/elbowlb/elbow/internal/vpcaddr"
)

// The benchmark's addresses: the backends at VPC address 10.0.130.20
// (host 127.10.130.20), the ALB node in zone a at 10.0.0.251 listening on
// 127.77.251.1, nginx on 127.0.0.1.
var (
	backendVPC = netip.MustParseAddr("10.0.130.20")
	nodeVPC    = netip.MustParseAddr("10.0.0.251")
	lbAddr     = netip.MustParseAddr("127.77.251.1")
	addrs      = vpcaddr.Default()
)

// The ports, offsets from the -port flag.
const (
	backendPort = iota
	nginxHTTP
	nginxHTTPS
	nginxH2
	grpcPort
	nginxGRPC
	albHTTP = iota + 4
	albRules
	albHTTPS
	albGRPC
	relayHTTP
	relayHTTPS
)

const (
	lbARN     = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/bench/0000000000000001"
	tgARN     = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench/0000000000000001"
	grpcTGARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench-grpc/0000000000000002"
	certARN   = "arn:aws:acm:us-east-1:000000000000:certificate/bench"
)

// servers are the benchmark's running servers.
type servers struct {
	urls  map[string]string // HTTP runs
	grpc  map[string]string // gRPC runs: host:port
	stops []func()
}

func (s *servers) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// startServers starts the backends, nginx and the load balancer, and
// waits until each answers.
func startServers(o *options) (env *servers, err error) {
	env = &servers{}
	defer func() {
		if err != nil {
			env.stop()
		}
	}()
	dir, err := os.MkdirTemp("", "albbench")
	if err != nil {
		return nil, err
	}
	env.stops = append(env.stops, func() { os.RemoveAll(dir) })
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	o.cert = certFile

	backendHost := addrs.ToHost(backendVPC)
	stopBackend, _, err := startNginx(dir, "backend", fmt.Sprintf(`
worker_processes 1;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen %s:%d reuseport; location / { return 200 "hello, world\n"; } }
}`, backendHost, o.port+backendPort))
	if err != nil {
		return nil, err
	}
	env.stops = append(env.stops, stopBackend)
	stopGRPC, err := startGRPCBackend(netip.AddrPortFrom(backendHost, uint16(o.port+grpcPort)))
	if err != nil {
		return nil, err
	}
	env.stops = append(env.stops, stopGRPC)
	stopProxy, nginxPID, err := startNginx(dir, "proxy", fmt.Sprintf(`
worker_processes auto;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 128;
  upstream backend { server %[1]s:%[2]d; keepalive 128; }
  upstream grpcbackend { server %[1]s:%[3]d; keepalive 128; }
  ssl_certificate %[4]s; ssl_certificate_key %[5]s;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen 127.0.0.1:%[6]d;
    listen 127.0.0.1:%[7]d ssl;
    listen 127.0.0.1:%[8]d ssl http2;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
  server {
    listen 127.0.0.1:%[9]d ssl http2;
    location / {
      grpc_pass grpc://grpcbackend;
      grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      grpc_set_header X-Forwarded-Proto $scheme;
    }
  }
}`, backendHost, o.port+backendPort, o.port+grpcPort, certFile, keyFile, o.port+nginxHTTP, o.port+nginxHTTPS, o.port+nginxH2, o.port+nginxGRPC))
	if err != nil {
		return nil, err
	}
	env.stops = append(env.stops, stopProxy)
	o.nginxPID = func() []int { return cpustat.WithChildren(nginxPID) }
	stopRelay, relayPID, err := startRelay(dir, backendHost, o.port, certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	env.stops = append(env.stops, stopRelay)
	o.relayPID = func() []int { return []int{relayPID} }
	stopALB, albPID, err := startALB(dir, o.port, string(certPEM), string(keyPEM))
	if err != nil {
		return nil, err
	}
	env.stops = append(env.stops, stopALB)
	o.elbowPID = func() []int { return []int{albPID} }

	env.urls = map[string]string{
		"direct":          fmt.Sprintf("http://%s:%d/", backendHost, o.port+backendPort),
		"nginx":           fmt.Sprintf("http://127.0.0.1:%d/", o.port+nginxHTTP),
		"elbow":           fmt.Sprintf("http://%s:%d/", lbAddr, o.port+albHTTP),
		"elbow 100 rules": fmt.Sprintf("http://%s:%d/", lbAddr, o.port+albRules),
		"nginx https":     fmt.Sprintf("https://127.0.0.1:%d/", o.port+nginxHTTPS),
		"elbow https":     fmt.Sprintf("https://%s:%d/", lbAddr, o.port+albHTTPS),
		"nginx h2":        fmt.Sprintf("https://127.0.0.1:%d/", o.port+nginxH2),
		"elbow h2":        fmt.Sprintf("https://%s:%d/", lbAddr, o.port+albHTTPS),
		"relay":           fmt.Sprintf("http://127.0.0.1:%d/", o.port+relayHTTP),
		"relay https":     fmt.Sprintf("https://127.0.0.1:%d/", o.port+relayHTTPS),
	}
	env.grpc = map[string]string{
		"nginx": fmt.Sprintf("127.0.0.1:%d", o.port+nginxGRPC),
		"elbow": fmt.Sprintf("%s:%d", lbAddr, o.port+albGRPC),
	}
	for name, u := range env.urls {
		if err := waitHTTP(u); err != nil {
			return nil, fmt.Errorf("%s not answering at %s: %w", name, u, err)
		}
	}
	if err := setupGHZ(o, dir); err != nil {
		return nil, err
	}
	return env, nil
}

// setupGHZ finds ghz and writes the protoset and call data of the gRPC
// runs.
func setupGHZ(o *options, dir string) error {
	if _, err := exec.LookPath(o.ghz); err != nil {
		o.ghzMissing = true
		return nil
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := range imps.Len() {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(testgrpc.File_grpc_testing_test_proto)
	b, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	o.protoset = filepath.Join(dir, "test.protoset")
	if err := os.WriteFile(o.protoset, b, 0o644); err != nil {
		return err
	}
	body := base64.StdEncoding.EncodeToString([]byte("hello, world\n"))
	msg := `{"payload":{"body":"` + body + `"}}`
	o.grpcUnaryData = msg
	msgs := make([]string, 10)
	for i := range msgs {
		msgs[i] = msg
	}
	o.grpcStreamData = "[" + strings.Join(msgs, ",") + "]"
	return nil
}

// grpcService is the gRPC backend: unary echo and bidirectional streaming
// echo.
type grpcService struct {
	testgrpc.UnimplementedTestServiceServer
}

func (grpcService) UnaryCall(_ context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return &testgrpc.SimpleResponse{Payload: in.GetPayload()}, nil
}

func (grpcService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
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

// startGRPCBackend serves the gRPC backend in clear text (h2c).
func startGRPCBackend(addr netip.AddrPort) (func(), error) {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, grpcService{})
	go srv.Serve(ln)
	return srv.Stop, nil
}

func waitHTTP(u string) error {
	var last error
	for i := 0; i < 100; i++ {
		out, err := exec.Command("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", u).Output()
		if err == nil && string(out) == "200" {
			return nil
		}
		last = fmt.Errorf("%v %s", err, out)
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// startNginx runs nginx in the foreground with a configuration.
func startNginx(dir, name, conf string) (func(), int, error) {
	d := filepath.Join(dir, name)
	os.MkdirAll(filepath.Join(d, "logs"), 0o755)
	full := "pid " + filepath.Join(d, "nginx.pid") + ";\nerror_log " + filepath.Join(d, "logs", "error.log") + ";\ndaemon off;\n" + conf
	full = strings.Replace(full, "http {", "http {\n  client_body_temp_path "+d+"/body; proxy_temp_path "+d+"/proxy; fastcgi_temp_path "+d+"/fcgi; uwsgi_temp_path "+d+"/uwsgi; scgi_temp_path "+d+"/scgi;", 1)
	path := filepath.Join(d, "nginx.conf")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("nginx", "-p", d, "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("nginx %s: %w", name, err)
	}
	return func() { stopProcess(cmd, syscall.SIGQUIT, 5*time.Second) }, cmd.Process.Pid, nil
}

// startRelay runs HAProxy in TCP mode with one thread (on two cores it
// relays more than with two) in front of the HTTP backend: in clear and
// terminating TLS, with the same certificate as nginx and elbow.
func startRelay(dir string, backend netip.Addr, base int, certPEM, keyPEM []byte) (func(), int, error) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		return nil, 0, errors.New("haproxy not found: install Debian's package (hack/bench-alb.sh does)")
	}
	pem := filepath.Join(dir, "relay.pem")
	if err := os.WriteFile(pem, append(append([]byte{}, certPEM...), keyPEM...), 0o600); err != nil {
		return nil, 0, err
	}
	cfg := fmt.Sprintf(`global
  maxconn 4000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen relay
  bind 127.0.0.1:%[1]d
  bind 127.0.0.1:%[2]d ssl crt %[3]s ssl-min-ver TLSv1.2
  server backend %[4]s:%[5]d
`, base+relayHTTP, base+relayHTTPS, pem, backend, base+backendPort)
	path := filepath.Join(dir, "relay.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("haproxy", "-db", "-f", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("haproxy: %w", err)
	}
	return func() { stopProcess(cmd, syscall.SIGTERM, 5*time.Second) }, cmd.Process.Pid, nil
}

// stopProcess signals a process and waits for it to end, killing it after
// timeout.
func stopProcess(cmd *exec.Cmd, sig os.Signal, timeout time.Duration) {
	cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
	}
}

// startALB writes the benchmark's state and runs the load balancer as a
// separate process.
func startALB(dir string, base int, certPEM, keyPEM string) (func(), int, error) {
	sdir := filepath.Join(dir, "state")
	st, err := state.Open(sdir)
	if err != nil {
		return nil, 0, err
	}
	port := func(off int) int32 { return int32(base + off) }
	listenerARN := func(port int) string {
		return strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/" + strconv.Itoa(port)
	}
	fwd := []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
	err = st.Update(context.Background(), func(tx *state.Tx) error {
		puts := []error{
			state.Put(tx, state.LoadBalancers, &state.LoadBalancer{
				ARN: lbARN, Name: "bench", Type: "application", Scheme: "internal", State: "active", IPAddressType: "ipv4",
				Zones:      []state.LBZone{{ZoneName: "us-east-1a", Address: lbAddr.String(), PrivateIPv4Address: nodeVPC.String()}},
				Attributes: map[string]string{"idle_timeout.timeout_seconds": "60", "routing.http2.enabled": "true"},
			}),
			state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: tgARN, Name: "bench", TargetType: "ip", Protocol: "HTTP", ProtocolVersion: "HTTP1", Port: port(backendPort), Attributes: map[string]string{}}),
			state.Put(tx, state.Targets, &state.Target{TargetGroupARN: tgARN, ID: backendVPC.String(), Port: port(backendPort)}),
			state.Put(tx, state.Certificates, &state.Certificate{ARN: certARN, DomainName: "bench.test", Status: "ISSUED", CertificatePEM: certPEM, PrivateKeyPEM: keyPEM}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(base + albHTTP), LoadBalancerARN: lbARN, Port: port(albHTTP), Protocol: "HTTP", DefaultActions: fwd}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(base + albHTTPS), LoadBalancerARN: lbARN, Port: port(albHTTPS), Protocol: "HTTPS",
				SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", Certificates: []state.ListenerCertificate{{ARN: certARN, Default: true}}, DefaultActions: fwd}),
			state.Put(tx, state.TargetGroups, &state.TargetGroup{ARN: grpcTGARN, Name: "bench-grpc", TargetType: "ip", Protocol: "HTTP", ProtocolVersion: "GRPC", Port: port(grpcPort), Attributes: map[string]string{}}),
			state.Put(tx, state.Targets, &state.Target{TargetGroupARN: grpcTGARN, ID: backendVPC.String(), Port: port(grpcPort)}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(base + albGRPC), LoadBalancerARN: lbARN, Port: port(albGRPC), Protocol: "HTTPS",
				SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06", Certificates: []state.ListenerCertificate{{ARN: certARN, Default: true}},
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(grpcTGARN)}}}),
			state.Put(tx, state.Listeners, &state.Listener{ARN: listenerARN(base + albRules), LoadBalancerARN: lbARN, Port: port(albRules), Protocol: "HTTP",
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}}),
		}
		for i := 1; i <= 100; i++ {
			puts = append(puts, state.Put(tx, state.Rules, &state.Rule{
				ARN: listenerARN(base+albRules) + "/rule/" + strconv.Itoa(i), ListenerARN: listenerARN(base + albRules), Priority: int32(i),
				Conditions: []elbv2types.RuleCondition{
					{Field: aws.String("host-header"), HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{fmt.Sprintf("svc%d.example.com", i)}}},
					{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{fmt.Sprintf("/api/v%d/*", i)}}},
				},
				Actions: fwd,
			}))
		}
		puts = append(puts, state.Put(tx, state.Rules, &state.Rule{
			ARN: listenerARN(base+albRules) + "/rule/101", ListenerARN: listenerARN(base + albRules), Priority: 101,
			Conditions: []elbv2types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/*"}}}},
			Actions:    fwd,
		}))
		for _, err := range puts {
			if err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		return nil, 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(self, "alb", "-state", sdir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	return func() { stopProcess(cmd, syscall.SIGTERM, 10*time.Second) }, cmd.Process.Pid, nil
}

// runALB serves the state of a directory until SIGTERM.
func runALB(args []string) {
	fs := flag.NewFlagSet("alb", flag.ExitOnError)
	sdir := fs.String("state", "", "state directory")
	fs.Parse(args)
	st, err := state.Open(*sdir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	snap, err := st.Snapshot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if prof := os.Getenv("ALBBENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	p := alb.New(alb.Config{Addresses: addrs, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	p.Apply(snap)
	if errs := p.BindErrors(); len(errs) > 0 {
		fmt.Fprintln(os.Stderr, "bind errors:", errs)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Close(ctx)
	st.Close()
}

func selfSigned() (certPEM, keyPEM []byte, err error) {
	c, err := pki.SelfSigned(pki.Request{
		Subject:   pkix.Name{CommonName: "bench.test"},
		Hosts:     []string{"bench.test", "127.0.0.1", lbAddr.String()},
		NotBefore: time.Now().Add(-time.Hour),
		NotAfter:  time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		return nil, nil, err
	}
	return c.CertPEM(), c.KeyPEM(), nil
}
