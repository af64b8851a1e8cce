package grpc_test

import (
	"context"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

// personProto is the .proto the Node service is written from; the
// backends below decode with it, as the Node server does with the same
// file loaded by @grpc/proto-loader.
const personProto = `syntax = "proto3";
package demo.v1;
import "google/protobuf/timestamp.proto";

message Address { string city = 1; }

message Person {
  string name = 1;
  google.protobuf.Timestamp when = 2;
  map<string, string> labels = 3;
  map<string, google.protobuf.Timestamp> seen_at = 4;
  Address home = 5;
}

message SaveReply {
  Person person = 1;
  google.protobuf.Timestamp saved_at = 2;
}

service PersonService {
  rpc Save(Person) returns (SaveReply);
}
`

// compilePerson compiles personProto the way protoc would, into a registry
// holding it and the files it imports.
func compilePerson(t *testing.T) *protoregistry.Files {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"demo/v1/person.proto": personProto})})}
	res, err := c.Compile(context.Background(), "demo/v1/person.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	files := &protoregistry.Files{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if _, err := files.FindFileByPath(fd.Path()); err == nil {
			return
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatalf("register %s: %v", fd.Path(), err)
		}
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
	}
	add(linker.File(res[0]))
	return files
}

// nodeShapedFiles are the file descriptors @grpc/reflection sends for
// personProto. They are built by hand because no Node runtime is used;
// each detail follows the code that makes them:
//
//   - @grpc/proto-loader turns its protobuf.js Root into descriptors with
//     root.toDescriptor("proto3"): one file per package namespace, named
//     after the package ("demo_v1.proto", "google_protobuf.proto"), every
//     file marked proto3, and no dependency list at all (protobuf.js does
//     not fill it; @grpc/reflection keeps its own dependency graph and only
//     uses it to choose which files to send, without writing it into them).
//   - Field types are written with protobuf.js's shortname(): relative to
//     the field's message, so "Address" and "google.protobuf.Timestamp"
//     with no leading dot. Method input and output types are full names
//     with a leading dot.
//   - A map field's type is the field name with its first letter
//     upper-cased, and its entry message is a nested type of that name:
//     "Labels" for labels and "Seen_at" for seen_at (proto-loader's
//     keepCase: true, as grpc-node's examples load protos), where protoc
//     writes ".demo.v1.Person.LabelsEntry" and "SeenAtEntry". The entry's
//     value type is relative to the package.
//   - google.protobuf.Timestamp is protobuf.js's own copy: the two fields,
//     no options, in the proto3 "google_protobuf.proto".
func nodeShapedFiles() (demo, wkt *descriptorpb.FileDescriptorProto) {
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	mapField := func(name string, num int32) *descriptorpb.FieldDescriptorProto {
		f := field(name, num, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, string(name[0]-'a'+'A')+name[1:])
		f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
		return f
	}
	entry := func(name string, value *descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name),
			Field:   []*descriptorpb.FieldDescriptorProto{field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""), value},
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}}
	}
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	demo = &descriptorpb.FileDescriptorProto{
		Name: proto.String("demo_v1.proto"), Package: proto.String("demo.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Address"), Field: []*descriptorpb.FieldDescriptorProto{
				field("city", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")}},
			{Name: proto.String("Person"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
					field("when", 2, msg, "google.protobuf.Timestamp"),
					mapField("labels", 3),
					mapField("seen_at", 4),
					field("home", 5, msg, "Address"),
				},
				NestedType: []*descriptorpb.DescriptorProto{
					entry("Labels", field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")),
					entry("Seen_at", field("value", 2, msg, "google.protobuf.Timestamp")),
				}},
			{Name: proto.String("SaveReply"), Field: []*descriptorpb.FieldDescriptorProto{
				field("person", 1, msg, "Person"),
				field("saved_at", 2, msg, "google.protobuf.Timestamp")}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("PersonService"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Save"),
				InputType: proto.String(".demo.v1.Person"), OutputType: proto.String(".demo.v1.SaveReply"),
				ClientStreaming: proto.Bool(false), ServerStreaming: proto.Bool(false)}}}},
	}
	wkt = &descriptorpb.FileDescriptorProto{
		Name: proto.String("google_protobuf.proto"), Package: proto.String("google.protobuf"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Timestamp"), Field: []*descriptorpb.FieldDescriptorProto{
			field("seconds", 1, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
			field("nanos", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
		}}},
	}
	return demo, wkt
}

// nodeReflection answers reflection v1 as @grpc/reflection does, from a
// fixed set of files: a symbol or file name gets that file followed by the
// files its (unwritten) dependency graph reaches, here deps.
type nodeReflection struct {
	rpb.UnimplementedServerReflectionServer
	files   map[string][]byte   // file name -> FileDescriptorProto bytes
	symbols map[string]string   // fully-qualified symbol -> file name
	deps    map[string][]string // file name -> files sent along with it
}

func newNodeReflection(t *testing.T, sendWKT bool) *nodeReflection {
	demo, wkt := nodeShapedFiles()
	n := &nodeReflection{files: map[string][]byte{}, symbols: map[string]string{}, deps: map[string][]string{}}
	for _, f := range []*descriptorpb.FileDescriptorProto{demo, wkt} {
		b, err := proto.Marshal(f)
		if err != nil {
			t.Fatalf("marshal %s: %v", f.GetName(), err)
		}
		n.files[f.GetName()] = b
		for _, m := range f.MessageType {
			n.symbols[f.GetPackage()+"."+m.GetName()] = f.GetName()
		}
		for _, s := range f.Service {
			n.symbols[f.GetPackage()+"."+s.GetName()] = f.GetName()
			for _, md := range s.Method {
				n.symbols[f.GetPackage()+"."+s.GetName()+"."+md.GetName()] = f.GetName()
			}
		}
	}
	if sendWKT {
		n.deps[demo.GetName()] = []string{wkt.GetName()}
	}
	return n
}

func (n *nodeReflection) ServerReflectionInfo(stream rpb.ServerReflection_ServerReflectionInfoServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		resp := &rpb.ServerReflectionResponse{ValidHost: req.Host, OriginalRequest: req}
		var file string
		switch r := req.MessageRequest.(type) {
		case *rpb.ServerReflectionRequest_FileContainingSymbol:
			file = n.symbols[r.FileContainingSymbol]
		case *rpb.ServerReflectionRequest_FileByFilename:
			if n.files[r.FileByFilename] != nil {
				file = r.FileByFilename
			}
		case *rpb.ServerReflectionRequest_ListServices:
			resp.MessageResponse = &rpb.ServerReflectionResponse_ListServicesResponse{ListServicesResponse: &rpb.ListServiceResponse{
				Service: []*rpb.ServiceResponse{{Name: "demo.v1.PersonService"}}}}
		}
		switch {
		case resp.MessageResponse != nil:
		case file == "":
			resp.MessageResponse = &rpb.ServerReflectionResponse_ErrorResponse{ErrorResponse: &rpb.ErrorResponse{
				ErrorCode: int32(codes.NotFound), ErrorMessage: "Symbol not found"}}
		default:
			raws := [][]byte{n.files[file]}
			for _, d := range n.deps[file] {
				raws = append(raws, n.files[d])
			}
			resp.MessageResponse = &rpb.ServerReflectionResponse_FileDescriptorResponse{
				FileDescriptorResponse: &rpb.FileDescriptorResponse{FileDescriptorProto: raws}}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// personBackend implements PersonService.Save from the compiled schema:
// it keeps what it received and answers with it and a fixed saved_at.
type personBackend struct {
	files *protoregistry.Files
	mu    sync.Mutex
	got   []*dynamicpb.Message
}

func (b *personBackend) handle(_ any, ss gogrpc.ServerStream) error {
	m, _ := gogrpc.MethodFromServerStream(ss)
	if m != "/demo.v1.PersonService/Save" {
		return status.Errorf(codes.Unimplemented, "unknown method %s", m)
	}
	in := dynamicpb.NewMessage(b.message("demo.v1.Person"))
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	b.mu.Lock()
	b.got = append(b.got, in)
	b.mu.Unlock()
	reply := dynamicpb.NewMessage(b.message("demo.v1.SaveReply"))
	reply.Set(reply.Descriptor().Fields().ByName("person"), protoreflect.ValueOfMessage(in))
	ts := dynamicpb.NewMessage(b.message("google.protobuf.Timestamp"))
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1704164645))
	ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(500000000))
	reply.Set(reply.Descriptor().Fields().ByName("saved_at"), protoreflect.ValueOfMessage(ts))
	return ss.SendMsg(reply)
}

func (b *personBackend) message(name protoreflect.FullName) protoreflect.MessageDescriptor {
	d, err := b.files.FindDescriptorByName(name)
	if err != nil {
		panic(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

func (b *personBackend) received() []*dynamicpb.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*dynamicpb.Message(nil), b.got...)
}

// startPersonBackend serves PersonService with the given reflection
// service (nil: grpc-go's own, over the protoc-compiled files).
func startPersonBackend(t *testing.T, files *protoregistry.Files, refl rpb.ServerReflectionServer) (*personBackend, string) {
	b := &personBackend{files: files}
	gs := gogrpc.NewServer(gogrpc.UnknownServiceHandler(b.handle))
	if refl == nil {
		refl = reflection.NewServerV1(reflection.ServerOptions{Services: gs, DescriptorResolver: files})
	}
	rpb.RegisterServerReflectionServer(gs, refl)
	return b, serve(t, gs)
}

const (
	personRequest = `{"name":"Ada","when":"2024-01-02T03:04:05Z","labels":{"team":"core","role":"lead"},` +
		`"seen_at":{"login":"2024-01-02T03:04:05.123456789Z"},"home":{"city":"Paris"}}`
	personReply = `{"person":{"name":"Ada","when":"2024-01-02T03:04:05Z","labels":{"team":"core","role":"lead"},` +
		`"seenAt":{"login":"2024-01-02T03:04:05.123456789Z"},"home":{"city":"Paris"}},"savedAt":"2024-01-02T03:04:05.500Z"}`
)

// TestNodeReflectionDescriptorsBehaveAsProtocOnes calls a backend whose
// reflection is shaped as @grpc/grpc-js with @grpc/reflection sends it,
// and checks that the call, the values the backend receives, the reply
// and the described schema are those of the same service behind grpc-go's
// reflection of protoc's descriptors.
func TestNodeReflectionDescriptorsBehaveAsProtocOnes(t *testing.T) {
	files := compilePerson(t)
	opts := grpc.Options{Service: "demo.v1.PersonService", Reflection: true}

	// The reference: the same service described by protoc's files.
	_, refAddr := startPersonBackend(t, files, nil)
	ref := dial(t, opts, refAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want, err := ref.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe (protoc descriptors): %v", err)
	}

	for _, tc := range []struct {
		name    string
		sendWKT bool
	}{
		// @grpc/reflection 1.0: the service's file and the google_protobuf.proto its graph reaches.
		{"service file and google_protobuf.proto", true},
		// The timestamp type never sent: it must come from the gateway's copy.
		{"service file only", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, addr := startPersonBackend(t, files, newNodeReflection(t, tc.sendWKT))
			c := dial(t, opts, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Invoke(ctx, &generic.Call{Method: "Save", Body: []byte(personRequest)})
			if err != nil {
				t.Fatalf("Save: got %v, want a reply", err)
			}
			sameJSON(t, res.Body, []byte(personReply))

			got := b.received()
			if len(got) != 1 {
				t.Fatalf("backend got %d calls, want 1", len(got))
			}
			checkPerson(t, got[0])

			s, err := c.Describe(ctx)
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if !reflect.DeepEqual(s, want) {
				t.Fatalf("got schema\n%s\nwant the protoc one\n%s", schemaText(s), schemaText(want))
			}
		})
	}
}

// checkPerson checks the exact values a Save request carried.
func checkPerson(t *testing.T, p *dynamicpb.Message) {
	t.Helper()
	fields := p.Descriptor().Fields()
	get := func(m protoreflect.Message, name protoreflect.Name) protoreflect.Value {
		return m.Get(m.Descriptor().Fields().ByName(name))
	}
	stamp := func(m protoreflect.Message) (int64, int32) {
		return get(m, "seconds").Int(), int32(get(m, "nanos").Int())
	}
	if got := get(p, "name").String(); got != "Ada" {
		t.Fatalf("name: got %q, want Ada", got)
	}
	if !p.Has(fields.ByName("when")) {
		t.Fatalf("when: got no timestamp, want 2024-01-02T03:04:05Z")
	}
	if s, n := stamp(get(p, "when").Message()); s != 1704164645 || n != 0 {
		t.Fatalf("when: got seconds %d nanos %d, want seconds 1704164645 nanos 0", s, n)
	}
	labels := map[string]string{}
	get(p, "labels").Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		labels[k.String()] = v.String()
		return true
	})
	if want := map[string]string{"team": "core", "role": "lead"}; !reflect.DeepEqual(labels, want) {
		t.Fatalf("labels: got %v, want %v", labels, want)
	}
	seen := get(p, "seen_at").Map()
	if seen.Len() != 1 || !seen.Has(protoreflect.ValueOfString("login").MapKey()) {
		t.Fatalf("seen_at: got %d entries, want only login", seen.Len())
	}
	if s, n := stamp(seen.Get(protoreflect.ValueOfString("login").MapKey()).Message()); s != 1704164645 || n != 123456789 {
		t.Fatalf("seen_at[login]: got seconds %d nanos %d, want seconds 1704164645 nanos 123456789", s, n)
	}
	if got := get(get(p, "home").Message(), "city").String(); got != "Paris" {
		t.Fatalf("home.city: got %q, want Paris", got)
	}
}

func schemaText(s *generic.ServiceSchema) string {
	out := s.Name
	for _, m := range s.Methods {
		out += "\n" + m.Name + "(" + typeText(m.Input, map[*generic.Type]bool{}) + ") " + typeText(m.Output, map[*generic.Type]bool{})
	}
	return out
}

func typeText(t *generic.Type, seen map[*generic.Type]bool) string {
	if t.Kind != generic.KindMessage {
		return kinds(t)
	}
	if seen[t] {
		return t.Name
	}
	seen[t] = true
	out := t.Name + "{"
	for i, f := range t.Fields {
		if i > 0 {
			out += " "
		}
		out += f.Name + "/" + f.JSONName + ":"
		switch f.Type.Kind {
		case generic.KindMessage:
			out += typeText(f.Type, seen)
		case generic.KindMap:
			out += "map<" + kinds(f.Type.Key) + "," + typeText(f.Type.Elem, seen) + ">"
		default:
			out += kinds(f.Type)
		}
	}
	return out + "}"
}
