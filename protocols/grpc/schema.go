package grpc

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	gogrpc "google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/rpcbridge/rpcbridge/generic"
)

// schema is an immutable snapshot of a backend's descriptors with every
// method resolved ahead of time, so that calls only do map lookups.
type schema struct {
	files    *protoregistry.Files
	types    *resolver
	services map[string]*service
	fetched  time.Time
	unmarsh  protojson.UnmarshalOptions
	marsh    protojson.MarshalOptions
}

type service struct {
	desc protoreflect.ServiceDescriptor
	// methods is keyed by the method's name, and also by its name with a
	// lower-case first letter when that is unambiguous.
	methods map[string]*method
	once    sync.Once
	schema  *generic.ServiceSchema
}

// method is one resolved method.
type method struct {
	desc    protoreflect.MethodDescriptor
	path    string // "/pkg.Service/Method"
	in, out protoreflect.MessageType
	stream  *gogrpc.StreamDesc // non-nil for any streaming method
	kind    string             // "" unary/server streaming, else a description

	// unmarsh reads requests; it skips the required-field walk when the
	// input has no required fields anywhere (all of proto3).
	unmarsh protojson.UnmarshalOptions

	typeOnce sync.Once
	inType   *generic.Type

	// reply transcodes the output's wire bytes to JSON; nil when the
	// output needs the protojson path (see newReplyPlan).
	reply *msgPlan
	// request writes plain request JSON straight to wire bytes; nil when
	// the input has required fields (protojson checks them).
	request *msgPlan
}

// hasRequired reports whether md or any message it contains declares a
// required field.
func hasRequired(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if fd.Cardinality() == protoreflect.Required {
			return true
		}
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Message() != nil && hasRequired(fd.Message(), seen) {
			return true
		}
	}
	return false
}

// inputType is the method's input as a generic.Type, built once.
func (m *method) inputType() *generic.Type {
	m.typeOnce.Do(func() { m.inType = newTypeBuilder().message(m.desc.Input()) })
	return m.inType
}

func newSchema(fdps []*descriptorpb.FileDescriptorProto, now time.Time, emitDefaults bool) (*schema, error) {
	if len(fdps) == 0 {
		return nil, errNoFiles
	}
	files, err := buildFiles(fdps)
	if err != nil {
		return nil, err
	}
	s := &schema{files: files, services: map[string]*service{}, fetched: now}
	s.types = &resolver{local: dynamicpb.NewTypes(files)}
	s.unmarsh = protojson.UnmarshalOptions{Resolver: s.types}
	s.marsh = protojson.MarshalOptions{Resolver: s.types, EmitUnpopulated: emitDefaults, AllowPartial: true}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			sd := svcs.Get(i)
			s.services[string(sd.FullName())] = newService(sd, s.unmarsh)
		}
		return true
	})
	return s, nil
}

func newService(sd protoreflect.ServiceDescriptor, unmarsh protojson.UnmarshalOptions) *service {
	svc := &service{desc: sd, methods: map[string]*method{}}
	mds := sd.Methods()
	lower := map[string]int{}
	for i := 0; i < mds.Len(); i++ {
		lower[strings.ToLower(string(mds.Get(i).Name()))]++
	}
	for i := 0; i < mds.Len(); i++ {
		md := mds.Get(i)
		m := &method{
			desc: md,
			path: "/" + string(sd.FullName()) + "/" + string(md.Name()),
			in:   dynamicpb.NewMessageType(md.Input()),
			out:  dynamicpb.NewMessageType(md.Output()),
		}
		m.unmarsh = unmarsh
		if plan, ok := newReplyPlan(md.Output()); ok {
			m.reply = plan
		}
		m.unmarsh.AllowPartial = !hasRequired(md.Input(), map[protoreflect.FullName]bool{})
		if m.unmarsh.AllowPartial {
			m.request, _ = newReplyPlan(md.Input())
		}
		switch {
		case md.IsStreamingClient() && md.IsStreamingServer():
			m.kind = "bidirectional streaming"
			m.stream = &gogrpc.StreamDesc{StreamName: string(md.Name()), ClientStreams: true, ServerStreams: true}
		case md.IsStreamingClient():
			m.kind = "client streaming"
			m.stream = &gogrpc.StreamDesc{StreamName: string(md.Name()), ClientStreams: true}
		case md.IsStreamingServer():
			m.stream = &gogrpc.StreamDesc{StreamName: string(md.Name()), ServerStreams: true}
		}
		svc.methods[string(md.Name())] = m
	}
	// Aliases with a lower-case first letter ("get" for "Get"), when
	// unambiguous and not an exact name of another method.
	for i := 0; i < mds.Len(); i++ {
		name := string(mds.Get(i).Name())
		if lc := lowerFirst(name); lc != name && lower[strings.ToLower(name)] == 1 {
			if _, taken := svc.methods[lc]; !taken {
				svc.methods[lc] = svc.methods[name]
			}
		}
	}
	return svc
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}

// find resolves service and method names. Method may also be given fully
// qualified ("pkg.Service/Method", "/pkg.Service/Method" or
// "pkg.Service.Method"), but only with svcName's own name: a call made for
// one service never runs a method of another, whatever the method name
// says.
func (s *schema) find(svcName, name string) (*service, *method) {
	svc := s.services[svcName]
	if svc == nil {
		return nil, nil
	}
	if m := svc.methods[name]; m != nil {
		return svc, m
	}
	if strings.ContainsAny(name, "/.") {
		q := strings.TrimPrefix(name, "/")
		if i := strings.LastIndexAny(q, "/."); i > 0 && q[:i] == svcName {
			if m := svc.methods[q[i+1:]]; m != nil {
				return svc, m
			}
		}
	}
	return svc, nil
}

// qualifiedService extracts the service part of a fully-qualified method
// name, or "".
func qualifiedService(name string) string {
	q := strings.TrimPrefix(name, "/")
	if i := strings.LastIndexAny(q, "/."); i > 0 && strings.Contains(q[:i], ".") {
		return q[:i]
	}
	return ""
}

const errdetailsPackage = "google.rpc"

// resolver finds message types in the backend's descriptors first, then in
// google.rpc error details, then in the linked-in registry.
type resolver struct {
	local *dynamicpb.Types
}

func (r *resolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if t, err := r.local.FindMessageByName(n); err == nil {
		return t, nil
	}
	if n.Parent() == errdetailsPackage {
		// google.rpc error details are linked in through errdetails.
		if d := errdetails.File_google_rpc_error_details_proto.Messages().ByName(n.Name()); d != nil {
			return protoregistry.GlobalTypes.FindMessageByName(n)
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r *resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	n := url
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		n = url[i+1:]
	}
	return r.FindMessageByName(protoreflect.FullName(n))
}

func (r *resolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t, err := r.local.FindExtensionByName(n); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r *resolver) FindExtensionByNumber(m protoreflect.FullName, f protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t, err := r.local.FindExtensionByNumber(m, f); err == nil {
		return t, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, f)
}

// describe renders the service as a generic.ServiceSchema, once.
func (s *service) describe() *generic.ServiceSchema {
	s.once.Do(func() {
		b := newTypeBuilder()
		out := &generic.ServiceSchema{Name: string(s.desc.FullName())}
		mds := s.desc.Methods()
		for i := 0; i < mds.Len(); i++ {
			md := mds.Get(i)
			out.Methods = append(out.Methods, &generic.MethodSchema{
				Name:            string(md.Name()),
				Input:           b.message(md.Input()),
				Output:          b.message(md.Output()),
				ClientStreaming: md.IsStreamingClient(),
				ServerStreaming: md.IsStreamingServer(),
			})
		}
		s.schema = out
	})
	return s.schema
}

// typeBuilder converts descriptors to generic.Types, sharing one Type per
// message so that recursive messages terminate.
type typeBuilder struct {
	msgs  map[protoreflect.FullName]*generic.Type
	enums map[protoreflect.FullName]*generic.Type
}

func newTypeBuilder() *typeBuilder {
	return &typeBuilder{msgs: map[protoreflect.FullName]*generic.Type{}, enums: map[protoreflect.FullName]*generic.Type{}}
}

func (b *typeBuilder) message(md protoreflect.MessageDescriptor) *generic.Type {
	if t := b.msgs[md.FullName()]; t != nil {
		return t
	}
	name := string(md.FullName())
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask":
		return &generic.Type{Kind: generic.KindString, Name: name}
	case "google.protobuf.Value":
		return &generic.Type{Kind: generic.KindAny, Name: name}
	case "google.protobuf.Struct":
		return &generic.Type{Kind: generic.KindMap, Name: name,
			Key: &generic.Type{Kind: generic.KindString}, Elem: &generic.Type{Kind: generic.KindAny}}
	case "google.protobuf.ListValue":
		return &generic.Type{Kind: generic.KindList, Name: name, Elem: &generic.Type{Kind: generic.KindAny}}
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return b.scalar(md.Fields().ByNumber(1))
	}
	t := &generic.Type{Kind: generic.KindMessage, Name: name}
	b.msgs[md.FullName()] = t
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		f := &generic.Field{Name: string(fd.Name()), Tag: int32(fd.Number()), Type: b.field(fd),
			Required: fd.Cardinality() == protoreflect.Required}
		if jn := fd.JSONName(); jn != f.Name {
			f.JSONName = jn
		}
		if fd.HasDefault() && fd.Message() == nil {
			f.Default = fmt.Sprint(fd.Default().Interface())
		}
		t.Fields = append(t.Fields, f)
	}
	return t
}

func (b *typeBuilder) field(fd protoreflect.FieldDescriptor) *generic.Type {
	if fd.IsMap() {
		return &generic.Type{Kind: generic.KindMap, Key: b.scalar(fd.MapKey()), Elem: b.single(fd.MapValue())}
	}
	if fd.IsList() {
		return &generic.Type{Kind: generic.KindList, Elem: b.single(fd)}
	}
	return b.single(fd)
}

func (b *typeBuilder) single(fd protoreflect.FieldDescriptor) *generic.Type {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return b.message(fd.Message())
	}
	return b.scalar(fd)
}

func (b *typeBuilder) scalar(fd protoreflect.FieldDescriptor) *generic.Type {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return &generic.Type{Kind: generic.KindBool}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return &generic.Type{Kind: generic.KindInt32}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return &generic.Type{Kind: generic.KindInt64}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return &generic.Type{Kind: generic.KindUint32}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &generic.Type{Kind: generic.KindUint64}
	case protoreflect.FloatKind:
		return &generic.Type{Kind: generic.KindFloat32}
	case protoreflect.DoubleKind:
		return &generic.Type{Kind: generic.KindFloat64}
	case protoreflect.StringKind:
		return &generic.Type{Kind: generic.KindString}
	case protoreflect.BytesKind:
		return &generic.Type{Kind: generic.KindBytes}
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if t := b.enums[ed.FullName()]; t != nil {
			return t
		}
		t := &generic.Type{Kind: generic.KindEnum, Name: string(ed.FullName())}
		vs := ed.Values()
		for i := 0; i < vs.Len(); i++ {
			t.Enum = append(t.Enum, generic.EnumValue{Name: string(vs.Get(i).Name()), Number: int64(vs.Get(i).Number())})
		}
		b.enums[ed.FullName()] = t
		return t
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return b.message(fd.Message())
	}
	return &generic.Type{Kind: generic.KindAny}
}
