package echo

import (
	"context"
	"errors"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

// The echo service's names: elbow.echo.v1.Echo with a unary Echo and a
// bidirectional EchoStream, both taking and answering
// google.protobuf.Struct.
const (
	EchoService      = "elbow.echo.v1.Echo"
	EchoMethod       = "/" + EchoService + "/Echo"
	EchoStreamMethod = "/" + EchoService + "/EchoStream"
)

// echoServer is the service's implementation (the type grpc checks the
// ServiceDesc's HandlerType against).
type echoServer interface {
	echo(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error)
}

func newGRPC(s *Server) *grpc.Server {
	g := grpc.NewServer()
	hs := health.NewServer() // SERVING for "" ...
	g.RegisterService(&healthpb.Health_ServiceDesc, anyServiceHealth{hs})
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: EchoService,
		HandlerType: (*echoServer)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Echo",
			Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := &structpb.Struct{}
				if err := dec(in); err != nil {
					return nil, err
				}
				return srv.(echoServer).echo(ctx, in)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName: "EchoStream", ServerStreams: true, ClientStreams: true,
			Handler: func(srv any, stream grpc.ServerStream) error {
				for {
					in := &structpb.Struct{}
					if err := stream.RecvMsg(in); err != nil {
						if errors.Is(err, io.EOF) {
							return nil
						}
						return err
					}
					out, err := srv.(echoServer).echo(stream.Context(), in)
					if err != nil {
						return err
					}
					if err := stream.SendMsg(out); err != nil {
						return err
					}
				}
			},
		}},
	}, grpcEcho{s})
	return g
}

// anyServiceHealth answers SERVING for every service name, as a pod
// whose every service is up.
type anyServiceHealth struct{ *health.Server }

func (h anyServiceHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return h.Server.Check(ctx, &healthpb.HealthCheckRequest{})
}

type grpcEcho struct{ s *Server }

// echo answers the request's fields under "request" and what the pod
// saw: the same fields as the HTTP answer, with the metadata as headers.
func (g grpcEcho) echo(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	r := &http.Request{Method: "POST", Proto: "HTTP/2.0", ProtoMajor: 2, Header: http.Header{}}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, vs := range md {
			r.Header[http.CanonicalHeaderKey(k)] = vs
		}
		if a := md.Get(":authority"); len(a) > 0 {
			r.Host = a[0]
		}
	}
	if m, ok := grpc.Method(ctx); ok {
		r.RequestURI = m
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
	}
	r = r.WithContext(ctx)
	a := g.s.answer(r)
	fields, err := toMap(a)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "echo: %v", err)
	}
	fields["request"] = in.AsMap()
	out, err := structpb.NewStruct(fields)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "echo: %v", err)
	}
	return out, nil
}
