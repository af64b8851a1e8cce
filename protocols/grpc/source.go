package grpc

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// loadProtosets reads descriptor set files (protoc -o --include_imports).
// Errors name the file.
func loadProtosets(paths []string) ([]*descriptorpb.FileDescriptorProto, error) {
	var out []*descriptorpb.FileDescriptorProto
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("protoset %s: %w", p, err)
		}
		var set descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(b, &set); err != nil {
			return nil, fmt.Errorf("protoset %s: not a FileDescriptorSet: %w", p, err)
		}
		if len(set.File) == 0 {
			return nil, fmt.Errorf("protoset %s: holds no files", p)
		}
		out = append(out, set.File...)
	}
	return out, nil
}

// compileProtoFiles compiles .proto sources found under importPaths (the
// well-known google/protobuf imports are built in). Errors name the file
// and position.
func compileProtoFiles(ctx context.Context, files, importPaths []string) ([]*descriptorpb.FileDescriptorProto, error) {
	if len(importPaths) == 0 {
		importPaths = []string{"."}
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: importPaths}),
	}
	res, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, fmt.Errorf("proto files: %w", err)
	}
	var out []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		out = append(out, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range res {
		add(linker.File(f))
	}
	return out, nil
}

// buildFiles turns file descriptor protos from any source into a registry.
// When the files do not link as they are, a copy is repaired (see
// repairFiles) and linked again.
func buildFiles(fdps []*descriptorpb.FileDescriptorProto) (*protoregistry.Files, error) {
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	var list []*descriptorpb.FileDescriptorProto
	for _, f := range fdps {
		if f == nil || byName[f.GetName()] != nil {
			continue
		}
		byName[f.GetName()] = f
		list = append(list, f)
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: list})
	if err == nil {
		return files, nil
	}
	// Repair a copy and try again.
	fixed := make([]*descriptorpb.FileDescriptorProto, 0, len(list))
	for _, f := range list {
		fixed = append(fixed, proto.Clone(f).(*descriptorpb.FileDescriptorProto))
	}
	fixed = repairFiles(fixed)
	files, err2 := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: fixed})
	if err2 == nil {
		return files, nil
	}
	files, err3 := protodesc.FileOptions{AllowUnresolvable: true}.NewFiles(&descriptorpb.FileDescriptorSet{File: fixed})
	if err3 == nil {
		return files, nil
	}
	return nil, err
}

var errNoFiles = errors.New("no descriptors")
