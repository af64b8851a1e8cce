package grpc

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
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
