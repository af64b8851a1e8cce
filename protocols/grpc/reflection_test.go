package grpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

// serve starts gs on 127.0.0.1:0 and returns its address.
func serve(t *testing.T, gs *gogrpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String()
}

// quirkyReflection is a reflection v1 service written the way other
// languages' servers behave: one file per answer (Python grpcio), or
// descriptors with defects (Node @grpc/reflection).
type quirkyReflection struct {
	rpb.UnimplementedServerReflectionServer
	files   func() *protoregistry.Files
	oneFile bool
	mangle  func(*descriptorpb.FileDescriptorProto)
	asked   atomic.Int32 // FileByFilename requests seen
}

func (q *quirkyReflection) ServerReflectionInfo(stream rpb.ServerReflection_ServerReflectionInfoServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		resp := &rpb.ServerReflectionResponse{OriginalRequest: req}
		var fd protoreflect.FileDescriptor
		switch r := req.MessageRequest.(type) {
		case *rpb.ServerReflectionRequest_FileContainingSymbol:
			d, err := q.files().FindDescriptorByName(protoreflect.FullName(r.FileContainingSymbol))
			if err == nil {
				fd = d.ParentFile()
			}
		case *rpb.ServerReflectionRequest_FileByFilename:
			q.asked.Add(1)
			fd, _ = q.files().FindFileByPath(r.FileByFilename)
		}
		if fd == nil {
			resp.MessageResponse = &rpb.ServerReflectionResponse_ErrorResponse{ErrorResponse: &rpb.ErrorResponse{
				ErrorCode: int32(codes.NotFound), ErrorMessage: "not found"}}
		} else {
			var raws [][]byte
			add := func(f protoreflect.FileDescriptor) {
				p := protodesc.ToFileDescriptorProto(f)
				if q.mangle != nil {
					q.mangle(p)
				}
				b, _ := proto.Marshal(p)
				raws = append(raws, b)
			}
			add(fd)
			if !q.oneFile {
				imps := fd.Imports()
				for i := 0; i < imps.Len(); i++ {
					add(imps.Get(i).FileDescriptor)
				}
			}
			resp.MessageResponse = &rpb.ServerReflectionResponse_FileDescriptorResponse{
				FileDescriptorResponse: &rpb.FileDescriptorResponse{FileDescriptorProto: raws}}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func globalFiles() *protoregistry.Files { return protoregistry.GlobalFiles }

// peopleWith serves PeopleService with the given reflection service.
func peopleWith(t *testing.T, q *quirkyReflection) string {
	gs := gogrpc.NewServer()
	demov1.RegisterPeopleServiceServer(gs, people.NewService())
	rpb.RegisterServerReflectionServer(gs, q)
	return serve(t, gs)
}

func reflectionClient(t *testing.T, addr string) generic.Client {
	return dial(t, grpc.Options{Service: service, Reflection: true}, addr)
}

func invokeEcho(t *testing.T, c generic.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: "Echo", Body: golden(t, "echo_everything.request.json")})
	if err != nil {
		t.Fatalf("Echo: %v", err)
	}
	sameJSON(t, res.Body, golden(t, "echo_everything.json"))
}

func TestReflectionOneFileAtATimeFetchesDependenciesByName(t *testing.T) {
	q := &quirkyReflection{files: globalFiles, oneFile: true}
	c := reflectionClient(t, peopleWith(t, q))
	invokeEcho(t, c)
	// people.proto imports any, duration, struct and timestamp.
	if got := q.asked.Load(); got < 4 {
		t.Fatalf("got %d file-by-name requests, want at least 4", got)
	}
}

func TestReflectionNodeStyleDescriptorsAreRepaired(t *testing.T) {
	mangle := func(p *descriptorpb.FileDescriptorProto) {
		if p.GetName() != "people.proto" {
			return
		}
		p.Name = proto.String("demo_v1_people.proto") // not the name it is imported by
		p.Dependency = nil                            // dependencies left out
		for _, m := range p.MessageType {
			if m.GetName() != "Everything" {
				continue
			}
			for _, n := range m.NestedType {
				if n.GetOptions().GetMapEntry() {
					n.Name = proto.String(strings.TrimSuffix(n.GetName(), "Entry")) // "Counts"
				}
			}
			for _, f := range m.Field {
				if strings.HasSuffix(f.GetTypeName(), "Entry") {
					f.TypeName = proto.String(strings.TrimSuffix(f.GetTypeName(), "Entry"))
				}
			}
		}
	}
	q := &quirkyReflection{files: globalFiles, mangle: mangle}
	c := reflectionClient(t, peopleWith(t, q))
	invokeEcho(t, c)
}

func TestReflectionV1AlphaOnlyBackend(t *testing.T) {
	gs := gogrpc.NewServer()
	demov1.RegisterPeopleServiceServer(gs, people.NewService())
	rpbalpha.RegisterServerReflectionServer(gs, reflection.NewServer(reflection.ServerOptions{Services: gs}))
	c := reflectionClient(t, serve(t, gs))
	invokeEcho(t, c)
}

func TestReflectionNotServedIsClearErrorWithoutHanging(t *testing.T) {
	srv := startPeople(t, false)
	c := reflectionClient(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)})
	ge := generic.AsError(err)
	if ge == nil || ge.Code != generic.CodeBackendError || ge.HTTPStatus() != 502 {
		t.Fatalf("got %v, want BACKEND_ERROR 502", err)
	}
	for _, s := range []string{"does not serve grpc server reflection", service} {
		if !strings.Contains(ge.Message, s) {
			t.Fatalf("got message %q, want it to contain %q", ge.Message, s)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v, want an answer well before the deadline", d)
	}
	if _, err := c.Describe(ctx); generic.CodeOf(err) != generic.CodeBackendError {
		t.Fatalf("Describe: got %v, want BACKEND_ERROR", err)
	}
}

func TestBackendDownIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			c := dial(t, src.opts, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)})
			ge := generic.AsError(err)
			if ge == nil || ge.Code != generic.CodeUnavailable || ge.HTTPStatus() != 503 {
				t.Fatalf("got %v, want UNAVAILABLE 503", err)
			}
			if !strings.Contains(ge.Message, service) || strings.Contains(ge.Message, "127.0.0.1") {
				t.Fatalf("got message %q, want it to name %s and no address", ge.Message, service)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v, want a fast failure", d)
			}
		})
	}
}

func TestUnknownServiceIsNotFoundNamingIt(t *testing.T) {
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			srv := startPeople(t, src.reflection)
			c := dial(t, src.opts, srv.Addr())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.Invoke(ctx, &generic.Call{Service: "demo.v1.Nope", Method: "Get", Body: []byte(`{}`)})
			ge := generic.AsError(err)
			if ge.Code != generic.CodeNotFound || !strings.Contains(ge.Message, "demo.v1.Nope") {
				t.Fatalf("got %v, want NOT_FOUND naming demo.v1.Nope", err)
			}
			// The configured service still works afterwards.
			if _, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)}); err != nil {
				t.Fatalf("Get after unknown service: %v", err)
			}
		})
	}
}

func TestDescribeOverEverySchemaSource(t *testing.T) {
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			srv := startPeople(t, src.reflection)
			c := dial(t, src.opts, srv.Addr())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := c.Describe(ctx)
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if s.Name != service {
				t.Fatalf("got name %q, want %s", s.Name, service)
			}
			var names []string
			for _, m := range s.Methods {
				names = append(names, m.Name)
			}
			if got := strings.Join(names, ","); got != "Get,Echo,List,Chat,Count" {
				t.Fatalf("got methods %s, want Get,Echo,List,Chat,Count", got)
			}
			if m := s.Method("List"); !m.ServerStreaming || m.ClientStreaming {
				t.Fatalf("List: got server %v client %v, want server streaming", m.ServerStreaming, m.ClientStreaming)
			}
			if m := s.Method("Chat"); !m.ServerStreaming || !m.ClientStreaming {
				t.Fatalf("Chat: got server %v client %v, want both", m.ServerStreaming, m.ClientStreaming)
			}
			if m := s.Method("Count"); m.ServerStreaming || !m.ClientStreaming {
				t.Fatalf("Count: got server %v client %v, want client streaming", m.ServerStreaming, m.ClientStreaming)
			}
			if f := s.Method("Get").Input.Field("id"); f == nil || f.Type.Kind != generic.KindInt64 || f.Tag != 1 {
				t.Fatalf("Get input id: got %+v, want int64 tag 1", f)
			}
			if o := s.Method("Get").Output; o.Name != "demo.v1.Person" || o.Field("createdAt") == nil {
				t.Fatalf("Get output: got %+v, want demo.v1.Person with createdAt", o)
			}
			in := s.Method("Echo").Input
			checks := []struct {
				field string
				got   func(*generic.Field) string
				want  string
			}{
				{"counts", func(f *generic.Field) string { return kinds(f.Type) }, "map<string,int64>"},
				{"addresses", func(f *generic.Field) string { return kinds(f.Type) }, "map<int32,demo.v1.Address>"},
				{"ids", func(f *generic.Field) string { return kinds(f.Type) }, "list<int64>"},
				{"roles", func(f *generic.Field) string { return kinds(f.Type) }, "list<enum demo.v1.Role>"},
				{"u64", func(f *generic.Field) string { return kinds(f.Type) }, "uint64"},
				{"f64", func(f *generic.Field) string { return kinds(f.Type) }, "uint64"},
				{"blob", func(f *generic.Field) string { return kinds(f.Type) }, "bytes"},
				{"when", func(f *generic.Field) string { return kinds(f.Type) }, "string google.protobuf.Timestamp"},
				{"value", func(f *generic.Field) string { return kinds(f.Type) }, "any google.protobuf.Value"},
				{"attrs", func(f *generic.Field) string { return kinds(f.Type) }, "map<string,any>"},
				{"request_id", func(f *generic.Field) string { return f.JSONName }, "requestId"},
				{"role", func(f *generic.Field) string {
					var vs []string
					for _, v := range f.Type.Enum {
						vs = append(vs, v.Name)
					}
					return strings.Join(vs, ",")
				}, "ROLE_UNSPECIFIED,ROLE_ADMIN,ROLE_USER,ROLE_GUEST"},
			}
			for _, ck := range checks {
				f := in.Field(ck.field)
				if f == nil {
					t.Fatalf("Echo input has no field %s", ck.field)
				}
				if got := ck.got(f); got != ck.want {
					t.Fatalf("field %s: got %s, want %s", ck.field, got, ck.want)
				}
			}
		})
	}
}

func kinds(t *generic.Type) string {
	switch t.Kind {
	case generic.KindMap:
		return "map<" + kinds(t.Key) + "," + kinds(t.Elem) + ">"
	case generic.KindList:
		return "list<" + kinds(t.Elem) + ">"
	case generic.KindMessage:
		return t.Name
	case generic.KindEnum:
		return "enum " + t.Name
	}
	if t.Name != "" {
		return string(t.Kind) + " " + t.Name
	}
	return string(t.Kind)
}

const greeterV1 = `syntax = "proto3";
package demo.v2;
message HelloRequest { string name = 1; }
message HelloReply { string text = 1; }
service Greeter { rpc Hello(HelloRequest) returns (HelloReply); }
`

const greeterV2 = `syntax = "proto3";
package demo.v2;
message HelloRequest { string name = 1; }
message HelloReply { string text = 1; }
service Greeter {
  rpc Hello(HelloRequest) returns (HelloReply);
  rpc Bye(HelloRequest) returns (HelloReply);
}
`

func compileSource(t *testing.T, src string) *protoregistry.Files {
	t.Helper()
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(
		map[string]string{"greeter.proto": src})}}
	res, err := c.Compile(context.Background(), "greeter.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	files := &protoregistry.Files{}
	if err := files.RegisterFile(linker.File(res[0])); err != nil {
		t.Fatalf("register: %v", err)
	}
	return files
}

// dynamicBackend answers every method its current schema declares, with
// reflection over that schema; the schema can be swapped while it runs.
func dynamicBackend(t *testing.T, cur *atomic.Pointer[protoregistry.Files]) string {
	handler := func(_ any, stream gogrpc.ServerStream) error {
		full, _ := gogrpc.MethodFromServerStream(stream)
		full = strings.TrimPrefix(full, "/")
		i := strings.LastIndexByte(full, '/')
		d, err := cur.Load().FindDescriptorByName(protoreflect.FullName(full[:i]))
		if err != nil {
			return status.Errorf(codes.Unimplemented, "unknown service %s", full[:i])
		}
		md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(full[i+1:]))
		if md == nil {
			return status.Errorf(codes.Unimplemented, "unknown method %s", full)
		}
		in := dynamicpb.NewMessage(md.Input())
		if err := stream.RecvMsg(in); err != nil {
			return err
		}
		out := dynamicpb.NewMessage(md.Output())
		name := in.Get(md.Input().Fields().ByName("name")).String()
		out.Set(md.Output().Fields().ByName("text"), protoreflect.ValueOfString(string(md.Name())+", "+name))
		return stream.SendMsg(out)
	}
	gs := gogrpc.NewServer(gogrpc.UnknownServiceHandler(handler))
	rpb.RegisterServerReflectionServer(gs, &quirkyReflection{files: cur.Load})
	return serve(t, gs)
}

func TestSchemaChangeIsPickedUpAfterRefresh(t *testing.T) {
	var cur atomic.Pointer[protoregistry.Files]
	cur.Store(compileSource(t, greeterV1))
	addr := dynamicBackend(t, &cur)
	c := dial(t, grpc.Options{Service: "demo.v2.Greeter"}, addr) // reflection by default
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	res, err := c.Invoke(ctx, &generic.Call{Method: "Hello", Body: []byte(`{"name":"ann"}`)})
	if err != nil {
		t.Fatalf("Hello: %v", err)
	}
	sameJSON(t, res.Body, []byte(`{"text":"Hello, ann"}`))
	if _, err := c.Invoke(ctx, &generic.Call{Method: "Bye", Body: []byte(`{}`)}); generic.CodeOf(err) != generic.CodeNotFound {
		t.Fatalf("Bye before the change: got %v, want NOT_FOUND", err)
	}

	cur.Store(compileSource(t, greeterV2)) // the backend is redeployed
	// An unknown method triggers a refresh (at most one per second).
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = c.Invoke(ctx, &generic.Call{Method: "Bye", Body: []byte(`{"name":"bob"}`)})
		if err == nil {
			break
		}
		if generic.CodeOf(err) != generic.CodeNotFound || time.Now().After(deadline) {
			t.Fatalf("Bye after the change: got %v, want a reply within 10s", err)
		}
		time.Sleep(50 * time.Millisecond) // poll
	}
	sameJSON(t, res.Body, []byte(`{"text":"Bye, bob"}`))
	s, err := c.Describe(ctx)
	if err != nil || s.Method("Bye") == nil {
		t.Fatalf("Describe after refresh: got %+v, %v, want Bye listed", s, err)
	}
}

func TestRefreshTTLPicksUpChangeInBackground(t *testing.T) {
	var cur atomic.Pointer[protoregistry.Files]
	cur.Store(compileSource(t, greeterV1))
	addr := dynamicBackend(t, &cur)
	c := dial(t, grpc.Options{Service: "demo.v2.Greeter", Reflection: true, Refresh: 10 * time.Millisecond}, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if s, err := c.Describe(ctx); err != nil || s.Method("Bye") != nil {
		t.Fatalf("Describe before: got %v, want no Bye", err)
	}
	cur.Store(compileSource(t, greeterV2))
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := c.Describe(ctx)
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		if s.Method("Bye") != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Bye not described 10s after the change, want it after the TTL")
		}
		time.Sleep(50 * time.Millisecond) // poll
	}
}

func TestConcurrentInvokesShareOneClient(t *testing.T) {
	srv := startPeople(t, true)
	c := reflectionClient(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				res, err := c.Invoke(ctx, &generic.Call{Method: "Get", Params: []generic.Param{{Name: "id", Value: "2", Path: true}}})
				if err != nil {
					errs <- err
					return
				}
				if !strings.Contains(string(res.Body), "Alan Turing") {
					errs <- errors.New("got " + string(res.Body) + ", want Alan Turing")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	bad := []struct {
		name string
		o    grpc.Options
		want string
	}{
		{"two sources", grpc.Options{Reflection: true, Protosets: []string{"x.protoset"}}, "one schema source"},
		{"missing protoset", grpc.Options{Protosets: []string{"testdata/missing.protoset"}}, "testdata/missing.protoset"},
		{"not a protoset", grpc.Options{Protosets: []string{testdata + "/people.proto"}}, "people.proto"},
		{"missing proto file", grpc.Options{ProtoFiles: []string{"nope.proto"}, ImportPaths: []string{testdata}}, "nope.proto"},
		{"service not defined", grpc.Options{Service: "demo.v1.Nope", Protosets: []string{testdata + "/people.protoset"}}, "demo.v1.Nope"},
		{"import paths alone", grpc.Options{ImportPaths: []string{testdata}}, "import paths"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := grpc.New(b.o)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("got %v, want an error containing %q", err, b.want)
			}
		})
	}
}
