package echobasic

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/elbowlb/elbow/internal/devenv/container"
)

//go:generate protoc --descriptor_set_out=proto/grpcecho.pb --proto_path=proto proto/grpcecho.proto

// grpcechoSet is proto/grpcecho.proto compiled by protoc into a
// FileDescriptorSet.
//
//go:embed proto/grpcecho.pb
var grpcechoSet []byte

// GRPCService is the gRPC echo service's full name.
const GRPCService = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"

// grpcDescriptors are the echo service's descriptors, in a registry of
// the package's own (never the global one: the conformance suite's Go
// package registers the same names there).
type grpcDescriptors struct {
	files    *protoregistry.Files
	service  protoreflect.ServiceDescriptor
	request  protoreflect.MessageDescriptor
	response protoreflect.MessageDescriptor
}

var loadDescriptors = sync.OnceValues(func() (*grpcDescriptors, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(grpcechoSet, &set); err != nil {
		return nil, fmt.Errorf("grpcecho descriptor set: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("grpcecho descriptor set: %w", err)
	}
	d, err := files.FindDescriptorByName(GRPCService)
	if err != nil {
		return nil, fmt.Errorf("grpcecho descriptor set: %w", err)
	}
	svc, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("grpcecho descriptor set: %s is not a service", GRPCService)
	}
	echo := svc.Methods().ByName("Echo")
	if echo == nil {
		return nil, fmt.Errorf("grpcecho descriptor set: %s has no Echo method", GRPCService)
	}
	return &grpcDescriptors{files: files, service: svc, request: echo.Input(), response: echo.Output()}, nil
})

func startGRPC(p *container.Process, c container.Container) error {
	desc, err := loadDescriptors()
	if err != nil {
		return err
	}
	pp, err := ports(c, "HTTP_PORT", "HTTPS_PORT")
	if err != nil {
		return err
	}
	pc := contextOf(c)
	serve := func(port int, tlsOn bool) error {
		var opts []grpc.ServerOption
		if tlsOn {
			opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pp.cert}}))) //nolint:gosec // echo-basic's defaults
		}
		ln, err := c.Listen(p.Context(), port)
		if err != nil {
			return err
		}
		s := grpc.NewServer(opts...)
		s.RegisterService(desc.serviceDesc(), &grpcEcho{desc: desc, ctx: pc, tls: tlsOn})
		registerReflection(s, desc)
		p.OnStop(s.Stop)
		p.Go(func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				c.Logger().Warn("echo-basic gRPC server stopped", "port", port, "error", err)
			}
		})
		return nil
	}
	if err := serve(pp.plain, false); err != nil {
		return err
	}
	if pp.tlsOn {
		return serve(pp.tls, true)
	}
	return nil
}

// registerReflection serves gRPC reflection (v1 and v1alpha, as
// reflection.Register does) from the package's registry, then the global
// one (which has the reflection service's own descriptors).
func registerReflection(s *grpc.Server, desc *grpcDescriptors) {
	opts := reflection.ServerOptions{Services: s, DescriptorResolver: resolvers{desc.files, protoregistry.GlobalFiles}}
	reflectionv1.RegisterServerReflectionServer(s, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(opts))
}

// resolvers looks descriptors up in each registry in turn.
type resolvers []*protoregistry.Files

func (rs resolvers) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	for _, r := range rs {
		if fd, err := r.FindFileByPath(path); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (rs resolvers) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, r := range rs {
		if d, err := r.FindDescriptorByName(name); err == nil {
			return d, nil
		}
	}
	return nil, protoregistry.NotFound
}

// grpcEcho answers the echo service's calls.
type grpcEcho struct {
	desc *grpcDescriptors
	ctx  podContext
	tls  bool
}

// grpcEchoServer is the type grpc checks the ServiceDesc's HandlerType
// against.
type grpcEchoServer interface {
	echo(ctx context.Context, method string) (proto.Message, error)
}

// serviceDesc is GrpcEcho with Echo and EchoTwo answering, EchoThree
// unimplemented (the method exists so that its calls reach the server, which
// answers UNIMPLEMENTED as echo-basic's does).
func (d *grpcDescriptors) serviceDesc() *grpc.ServiceDesc {
	sd := &grpc.ServiceDesc{ServiceName: GRPCService, HandlerType: (*grpcEchoServer)(nil)}
	methods := d.service.Methods()
	for i := range methods.Len() {
		name := string(methods.Get(i).Name())
		sd.Methods = append(sd.Methods, grpc.MethodDesc{
			MethodName: name,
			Handler: func(srv any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
				in := dynamicpb.NewMessage(d.request)
				if err := dec(in); err != nil {
					return nil, err
				}
				full := "/" + GRPCService + "/" + name
				h := func(ctx context.Context, _ any) (any, error) { return srv.(grpcEchoServer).echo(ctx, name) }
				if intercept == nil {
					return h(ctx, in)
				}
				return intercept(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
			},
		})
	}
	sd.Metadata = "grpcecho.proto"
	return sd
}

// echo answers a call of method: what the server saw (method, metadata,
// authority, the pod, the TLS).
func (g *grpcEcho) echo(ctx context.Context, method string) (proto.Message, error) {
	if method != "Echo" && method != "EchoTwo" {
		return nil, status.Errorf(codes.Unimplemented, "method %s not implemented", method)
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, errors.New("failed to retrieve metadata from incoming request")
	}
	resp := dynamicpb.NewMessage(g.desc.response)
	rf := resp.Descriptor().Fields()
	assertions := resp.Mutable(rf.ByName("assertions")).Message()
	af := assertions.Descriptor().Fields()
	assertions.Set(af.ByName("fully_qualified_method"), protoreflect.ValueOfString("/"+GRPCService+"/"+method))
	headers := assertions.Mutable(af.ByName("headers")).List()
	for k, vs := range md {
		for _, v := range vs {
			if k == ":authority" {
				assertions.Set(af.ByName("authority"), protoreflect.ValueOfString(v))
			}
			h := headers.NewElement().Message()
			hf := h.Descriptor().Fields()
			h.Set(hf.ByName("key"), protoreflect.ValueOfString(k))
			h.Set(hf.ByName("value"), protoreflect.ValueOfString(v))
			headers.Append(protoreflect.ValueOfMessage(h))
		}
	}
	pc := assertions.Mutable(af.ByName("context")).Message()
	setStrings(pc, map[string]string{"namespace": g.ctx.Namespace, "ingress": g.ctx.Ingress, "service_name": g.ctx.Service, "pod": g.ctx.Pod})
	if g.tls {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return nil, errors.New("failed to retrieve auth info from request")
		}
		info, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok {
			return nil, errors.New("failed to retrieve TLS info from request")
		}
		ta := TLSAnswerOf(&info.State)
		t := assertions.Mutable(af.ByName("tls_assertions")).Message()
		setStrings(t, map[string]string{"version": ta.Version, "negotiated_protocol": ta.NegotiatedProtocol, "server_name": ta.ServerName, "cipher_suite": ta.CipherSuite})
		certs := t.Mutable(t.Descriptor().Fields().ByName("peer_certificates")).List()
		for _, c := range ta.PeerCertificates {
			certs.Append(protoreflect.ValueOfString(c))
		}
	}
	return resp, nil
}

// setStrings sets string fields of m by name; empty values stay unset.
func setStrings(m protoreflect.Message, values map[string]string) {
	fields := m.Descriptor().Fields()
	for name, v := range values {
		if v != "" {
			m.Set(fields.ByName(protoreflect.Name(name)), protoreflect.ValueOfString(v))
		}
	}
}
