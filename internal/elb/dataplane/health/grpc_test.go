package health

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// grpcTarget is a real grpc-go server with the standard health service,
// recording the peers of the calls it gets.
type grpcTarget struct {
	port  int
	mu    sync.Mutex
	peers []netip.Addr
	calls []string
}

func startGRPC(t *testing.T, addr string, withTLS bool) *grpcTarget {
	t.Helper()
	g := &grpcTarget{}
	l := listenOn(t, addr)
	g.port = portOf(l)
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			g.record(ctx, info.FullMethod)
			return next(ctx, req)
		}),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			method, _ := grpc.MethodFromServerStream(stream)
			g.record(stream.Context(), method)
			return status.Errorf(codes.Unimplemented, "unknown method %s", method)
		}),
	}
	if withTLS {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})))
	}
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, grpchealth.NewServer())
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return g
}

func (g *grpcTarget) record(ctx context.Context, method string) {
	p, _ := peer.FromContext(ctx)
	var a netip.Addr
	if p != nil {
		if tcp, ok := p.Addr.(*net.TCPAddr); ok {
			a, _ = netip.AddrFromSlice(tcp.IP)
			a = a.Unmap()
		}
	}
	g.mu.Lock()
	g.peers = append(g.peers, a)
	g.calls = append(g.calls, method)
	g.mu.Unlock()
}

func (g *grpcTarget) seen() ([]netip.Addr, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]netip.Addr(nil), g.peers...), append([]string(nil), g.calls...)
}

// gRPC target groups check with a gRPC call to the health check path and
// match the grpc-status against GrpcCode; the defaults
// (/AWS.ALB/healthcheck, 12) pass on any gRPC server, since an unknown
// method answers UNIMPLEMENTED (12).
func TestGRPCHealthChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	lb := e.lb("grpc", "application", true)
	plain := startGRPC(t, e.host(1, 100), false)
	secure := startGRPC(t, e.host(1, 101), true)
	cases := []struct {
		name     string
		protocol string
		path     string
		matcher  string
		srv      *grpcTarget
		host     string
		want     Status
		method   string
	}{
		{"health service, OK matches 0", "HTTP", "/grpc.health.v1.Health/Check", "0", plain, e.vpc(1, 100), Healthy, "/grpc.health.v1.Health/Check"},
		{"health service, OK does not match 12", "HTTP", "/grpc.health.v1.Health/Check", "12", plain, e.vpc(1, 100), ResponseCodeMismatch(0), ""},
		{"defaults", "HTTP", "", "", plain, e.vpc(1, 100), Healthy, "/AWS.ALB/healthcheck"},
		{"range 0-99", "HTTP", "/x.Y/Z", "0-99", plain, e.vpc(1, 100), Healthy, "/x.Y/Z"},
		{"unimplemented does not match 0", "HTTP", "/x.Y/Z", "0", plain, e.vpc(1, 100), ResponseCodeMismatch(12), ""},
		{"over TLS", "HTTPS", "/grpc.health.v1.Health/Check", "0", secure, e.vpc(1, 101), Healthy, "/grpc.health.v1.Health/Check"},
	}
	tgs := make([]string, len(cases))
	for i, c := range cases {
		spec := fastTG("grpc-"+itoa(i), 2, 2)
		spec.ProtocolVersion, spec.HealthCheckProtocol = "GRPC", c.protocol
		spec.HealthCheckPath, spec.MatcherHTTPCode, spec.MatcherGRPCCode = c.path, "", c.matcher
		tgs[i] = e.tg(spec)
		e.listen(lb, tgs[i])
		e.register(tgs[i], c.host, c.srv.port)
	}
	e.sync()
	e.run()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.waitStatus(tgs[i], c.host, c.srv.port, c.want)
			peers, calls := c.srv.seen()
			if c.method != "" && !slices.Contains(calls, c.method) {
				t.Errorf("calls %v, want one to %s", calls, c.method)
			}
			for _, p := range peers {
				if p != netip.MustParseAddr(e.host(0, 10)) {
					t.Errorf("gRPC check from %s, want the load balancer node %s", p, e.host(0, 10))
				}
			}
		})
	}
}
