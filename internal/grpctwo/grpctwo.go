// Package grpctwo is a real gRPC server for tests that serves two services
// from one .proto file: authz.v1.PublicService (Echo, Ping) and
// authz.v1.OtherService (Secret, Echo). The file is compiled at run time
// (no generated code), the handlers work on dynamicpb messages, and server
// reflection (v1 and v1alpha) describes exactly the compiled file.
//
// Every handler records the full method it ran ("/authz.v1.OtherService/Secret")
// and answers with the request, its text prefixed by that full method and
// a colon ("/authz.v1.PublicService/Echo:hi").
package grpctwo

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"sync"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Proto is the source of the served file.
//
//go:embed authz.proto
var Proto []byte

// ProtoPath is the path the file is compiled (and reflected) under.
const ProtoPath = "authz/v1/authz.proto"

// Service names, fully qualified.
const (
	PublicService = "authz.v1.PublicService"
	OtherService  = "authz.v1.OtherService"
)

// Server is a running server.
type Server struct {
	lis   net.Listener
	gs    *grpc.Server
	files *protoregistry.Files
	done  chan struct{}

	mu    sync.Mutex
	calls []string
}

// Compile compiles Proto and returns it as a file registry holding that
// one file.
func Compile(ctx context.Context) (*protoregistry.Files, protoreflect.FileDescriptor, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{ProtoPath: string(Proto)}),
		}),
	}
	res, err := c.Compile(ctx, ProtoPath)
	if err != nil {
		return nil, nil, fmt.Errorf("grpctwo: compiling %s: %w", ProtoPath, err)
	}
	fd := res[0]
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		return nil, nil, fmt.Errorf("grpctwo: registering %s: %w", ProtoPath, err)
	}
	return files, fd, nil
}

// Start listens on addr ("127.0.0.1:0" picks a port) and serves both
// services and server reflection until Stop.
func Start(addr string) (*Server, error) {
	files, fd, err := Compile(context.Background())
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{lis: lis, gs: grpc.NewServer(), files: files, done: make(chan struct{})}
	svcs := fd.Services()
	for i := 0; i < svcs.Len(); i++ {
		s.gs.RegisterService(s.serviceDesc(svcs.Get(i)), s)
	}
	ro := reflection.ServerOptions{Services: s.gs, DescriptorResolver: files, ExtensionResolver: new(protoregistry.Types)}
	reflectionv1.RegisterServerReflectionServer(s.gs, reflection.NewServerV1(ro))
	reflectionv1alpha.RegisterServerReflectionServer(s.gs, reflection.NewServer(ro))
	go func() {
		defer close(s.done)
		_ = s.gs.Serve(lis)
	}()
	return s, nil
}

// serviceDesc builds the grpc-go description of one compiled service: one
// unary handler per method.
func (s *Server) serviceDesc(sd protoreflect.ServiceDescriptor) *grpc.ServiceDesc {
	desc := &grpc.ServiceDesc{
		ServiceName: string(sd.FullName()),
		// Any value implements the empty interface: the handlers below
		// close over what they need instead of asserting srv's type.
		HandlerType: (*any)(nil),
		Metadata:    sd.ParentFile().Path(),
	}
	mds := sd.Methods()
	for i := 0; i < mds.Len(); i++ {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{
			MethodName: string(mds.Get(i).Name()),
			Handler:    s.handler(sd, mds.Get(i)),
		})
	}
	return desc
}

// handler records the call and echoes the request with its text prefixed
// by the full method name.
func (s *Server) handler(sd protoreflect.ServiceDescriptor, md protoreflect.MethodDescriptor) grpc.MethodHandler {
	full := "/" + string(sd.FullName()) + "/" + string(md.Name())
	in, out := md.Input(), md.Output()
	text := out.Fields().ByName("text")
	return func(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		req := dynamicpb.NewMessage(in)
		if err := dec(req); err != nil {
			return nil, err
		}
		run := func(ctx context.Context, r any) (any, error) {
			s.record(full)
			m := r.(*dynamicpb.Message)
			reply := dynamicpb.NewMessage(out)
			m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				if f := out.Fields().ByNumber(fd.Number()); f != nil && f.Kind() == fd.Kind() {
					reply.Set(f, v)
				}
				return true
			})
			reply.Set(text, protoreflect.ValueOfString(full+":"+m.Get(in.Fields().ByName("text")).String()))
			return reply, nil
		}
		if interceptor == nil {
			return run(ctx, req)
		}
		return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: s, FullMethod: full}, run)
	}
}

func (s *Server) record(full string) {
	s.mu.Lock()
	s.calls = append(s.calls, full)
	s.mu.Unlock()
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Calls returns the full methods run so far, in order (a copy).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Reset forgets the calls recorded so far.
func (s *Server) Reset() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

// Files is the registry of the compiled file, the one reflection serves.
func (s *Server) Files() *protoregistry.Files { return s.files }

// Stop stops the server at once and waits for Serve to return.
func (s *Server) Stop() {
	s.gs.Stop()
	<-s.done
}
