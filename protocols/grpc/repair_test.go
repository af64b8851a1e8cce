package grpc

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
)

func TestRepairFilesFixesMapEntryNamesAndDependencies(t *testing.T) {
	p := protodesc.ToFileDescriptorProto(demov1.File_people_proto)
	p.Dependency = nil
	for _, m := range p.MessageType {
		if m.GetName() != "Everything" {
			continue
		}
		for _, n := range m.NestedType {
			n.Name = proto.String(strings.TrimSuffix(n.GetName(), "Entry"))
		}
		for _, f := range m.Field {
			f.TypeName = proto.String(strings.TrimSuffix(f.GetTypeName(), "Entry"))
		}
	}
	if _, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{p}}); err == nil {
		t.Fatalf("mangled descriptor was accepted as is, want the test to start from a broken one")
	}
	files, err := buildFiles([]*descriptorpb.FileDescriptorProto{p})
	if err != nil {
		t.Fatalf("buildFiles: got %v, want repaired files", err)
	}
	d, err := files.FindDescriptorByName("demo.v1.Everything.CountsEntry")
	if err != nil || d == nil {
		t.Fatalf("got %v, want demo.v1.Everything.CountsEntry after repair", err)
	}
	if _, err := files.FindFileByPath("google/protobuf/timestamp.proto"); err != nil {
		t.Fatalf("got %v, want the well-known timestamp file added", err)
	}
}

func TestMapEntryName(t *testing.T) {
	for in, want := range map[string]string{"counts": "CountsEntry", "by_id_map": "ByIdMapEntry", "x": "XEntry"} {
		if got := mapEntryName(in); got != want {
			t.Fatalf("mapEntryName(%q) = %q, want %q", in, got, want)
		}
	}
}

// nodeFile is a file as Node's @grpc/reflection sends it: named after its
// package, proto3, no dependencies (see nodeShapedFiles in
// nodereflection_test.go for where each detail comes from).
func nodeFile(name, pkg string, msgs ...*descriptorpb.DescriptorProto) *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{Name: proto.String(name), Package: proto.String(pkg),
		Syntax: proto.String("proto3"), MessageType: msgs}
}

func msgField(name string, num int32, typeName string, label descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num),
		Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), Label: label.Enum(), TypeName: proto.String(typeName)}
}

func scalarField(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num),
		Type: typ.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
}

// Well-known types sent under a made-up file name, as proto3 (which
// descriptor.proto's extension ranges cannot be), are replaced by the
// gateway's own copies; relative references resolve to them.
func TestRepairReplacesWellKnownCopiesSentUnderMadeUpNames(t *testing.T) {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	demo := nodeFile("demo_v1.proto", "demo.v1", &descriptorpb.DescriptorProto{Name: proto.String("Person"),
		Field: []*descriptorpb.FieldDescriptorProto{msgField("when", 1, "google.protobuf.Timestamp", opt)}})
	wkt := nodeFile("google_protobuf.proto", "google.protobuf",
		&descriptorpb.DescriptorProto{Name: proto.String("Timestamp"), Field: []*descriptorpb.FieldDescriptorProto{
			scalarField("seconds", 1, descriptorpb.FieldDescriptorProto_TYPE_INT64),
			scalarField("nanos", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32)}},
		&descriptorpb.DescriptorProto{Name: proto.String("MethodOptions"), Field: []*descriptorpb.FieldDescriptorProto{
			scalarField("deprecated", 33, descriptorpb.FieldDescriptorProto_TYPE_BOOL)},
			ExtensionRange: []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(1000), End: proto.Int32(536870912)}}})
	files, err := buildFiles([]*descriptorpb.FileDescriptorProto{demo, wkt})
	if err != nil {
		t.Fatalf("buildFiles: got %v, want repaired files", err)
	}
	if _, err := files.FindFileByPath("google_protobuf.proto"); err == nil {
		t.Fatalf("got google_protobuf.proto kept, want it replaced by the gateway's copies")
	}
	d, err := files.FindDescriptorByName("demo.v1.Person")
	if err != nil {
		t.Fatalf("got %v, want demo.v1.Person", err)
	}
	when := d.(protoreflect.MessageDescriptor).Fields().ByName("when").Message()
	if when.IsPlaceholder() || when.FullName() != "google.protobuf.Timestamp" || when.ParentFile().Path() != "google/protobuf/timestamp.proto" {
		t.Fatalf("when: got %s from %s (placeholder %v), want google.protobuf.Timestamp from google/protobuf/timestamp.proto",
			when.FullName(), when.ParentFile().Path(), when.IsPlaceholder())
	}
	if deps := demo.GetDependency(); len(deps) != 0 {
		t.Fatalf("the caller's descriptor was changed: got dependencies %v, want none", deps)
	}
}

// A map field whose type names its entry with another case is the map of
// that entry, renamed as protoc names it.
func TestRepairMapEntryReferencedWithAnotherCase(t *testing.T) {
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	demo := nodeFile("demo_v1.proto", "demo.v1", &descriptorpb.DescriptorProto{Name: proto.String("Person"),
		Field: []*descriptorpb.FieldDescriptorProto{
			msgField("labels", 1, ".demo.v1.Person.labelsEntry", rep),
			msgField("seen_at", 2, "Seen_atentry", rep)},
		NestedType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("LabelsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				Field: []*descriptorpb.FieldDescriptorProto{
					scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
					scalarField("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING)}},
			{Name: proto.String("Seen_At"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				Field: []*descriptorpb.FieldDescriptorProto{
					scalarField("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
					msgField("value", 2, "google.protobuf.Timestamp", descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL)}},
		}})
	files, err := buildFiles([]*descriptorpb.FileDescriptorProto{demo})
	if err != nil {
		t.Fatalf("buildFiles: got %v, want repaired files", err)
	}
	d, err := files.FindDescriptorByName("demo.v1.Person")
	if err != nil {
		t.Fatalf("got %v, want demo.v1.Person", err)
	}
	fields := d.(protoreflect.MessageDescriptor).Fields()
	for name, want := range map[protoreflect.Name]string{"labels": "demo.v1.Person.LabelsEntry string",
		"seen_at": "demo.v1.Person.SeenAtEntry google.protobuf.Timestamp"} {
		f := fields.ByName(name)
		if !f.IsMap() {
			t.Fatalf("%s: got a %s field, want a map", name, f.Kind())
		}
		got := string(f.Message().FullName()) + " "
		if v := f.MapValue(); v.Message() != nil {
			got += string(v.Message().FullName())
		} else {
			got += v.Kind().String()
		}
		if got != want {
			t.Fatalf("%s: got entry and value %q, want %q", name, got, want)
		}
	}
}
