package grpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

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
// It repairs what some reflection servers get wrong: map entry messages not
// named <Field>Entry, missing or wrong dependency lists, and well-known
// files the server did not send (taken from the linked-in registry).
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

// repairFiles fixes the descriptor defects listed in PROTOCOL-NOTES.
func repairFiles(fdps []*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	for _, f := range fdps {
		for _, m := range f.MessageType {
			repairMapEntries(m, "."+joinName(f.GetPackage(), m.GetName()))
		}
	}
	// Index where each fully-qualified type is defined.
	defs := map[string]string{}
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range fdps {
		byName[f.GetName()] = f
		pkg := f.GetPackage()
		for _, m := range f.MessageType {
			indexMessage(defs, f.GetName(), "."+joinName(pkg, m.GetName()), m)
		}
		for _, e := range f.EnumType {
			defs["."+joinName(pkg, e.GetName())] = f.GetName()
		}
	}
	// Well-known files the server did not send.
	for _, f := range append([]*descriptorpb.FileDescriptorProto(nil), fdps...) {
		refs := typeRefs(f)
		for _, r := range refs {
			if _, ok := defs[r]; ok {
				continue
			}
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.TrimPrefix(r, ".")))
			if err != nil {
				continue
			}
			gf := d.ParentFile()
			if byName[gf.Path()] != nil {
				continue
			}
			g := protodesc.ToFileDescriptorProto(gf)
			byName[g.GetName()] = g
			fdps = append(fdps, g)
			pkg := g.GetPackage()
			for _, m := range g.MessageType {
				indexMessage(defs, g.GetName(), "."+joinName(pkg, m.GetName()), m)
			}
			for _, e := range g.EnumType {
				defs["."+joinName(pkg, e.GetName())] = g.GetName()
			}
		}
	}
	// Recompute each file's dependencies from the types it uses, keeping
	// declared ones that exist (public/weak indexes are dropped).
	for _, f := range fdps {
		var deps []string
		have := map[string]bool{}
		for _, d := range f.Dependency {
			if byName[d] != nil && !have[d] && d != f.GetName() {
				have[d] = true
				deps = append(deps, d)
			}
		}
		for _, r := range typeRefs(f) {
			if d, ok := defs[r]; ok && d != f.GetName() && !have[d] {
				have[d] = true
				deps = append(deps, d)
			}
		}
		f.Dependency = deps
		f.PublicDependency = nil
		f.WeakDependency = nil
	}
	return fdps
}

func joinName(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

func indexMessage(defs map[string]string, file, full string, m *descriptorpb.DescriptorProto) {
	defs[full] = file
	for _, n := range m.NestedType {
		indexMessage(defs, file, full+"."+n.GetName(), n)
	}
	for _, e := range m.EnumType {
		defs[full+"."+e.GetName()] = file
	}
}

// typeRefs lists the fully-qualified type names a file refers to.
func typeRefs(f *descriptorpb.FileDescriptorProto) []string {
	var out []string
	var walk func(m *descriptorpb.DescriptorProto)
	walk = func(m *descriptorpb.DescriptorProto) {
		for _, fl := range m.Field {
			if n := fl.GetTypeName(); strings.HasPrefix(n, ".") {
				out = append(out, n)
			}
		}
		for _, n := range m.NestedType {
			walk(n)
		}
	}
	for _, m := range f.MessageType {
		walk(m)
	}
	for _, s := range f.Service {
		for _, m := range s.Method {
			out = append(out, m.GetInputType(), m.GetOutputType())
		}
	}
	return out
}

// repairMapEntries renames map entry messages to <CamelField>Entry, the
// name protodesc requires, and fixes the fields that use them.
func repairMapEntries(m *descriptorpb.DescriptorProto, full string) {
	for _, n := range m.NestedType {
		repairMapEntries(n, full+"."+n.GetName())
	}
	for _, n := range m.NestedType {
		if !n.GetOptions().GetMapEntry() {
			continue
		}
		old := full + "." + n.GetName()
		for _, fl := range m.Field {
			if fl.GetTypeName() != old && fl.GetTypeName() != n.GetName() {
				continue
			}
			want := mapEntryName(fl.GetName())
			if want != n.GetName() {
				n.Name = proto.String(want)
			}
			fl.TypeName = proto.String(full + "." + want)
			break
		}
	}
}

// mapEntryName is protoc's name for the entry message of a map field.
func mapEntryName(field string) string {
	var b strings.Builder
	up := true
	for _, r := range field {
		if r == '_' {
			up = true
			continue
		}
		if up {
			b.WriteRune(unicode.ToUpper(r))
			up = false
		} else {
			b.WriteRune(r)
		}
	}
	b.WriteString("Entry")
	return b.String()
}

var errNoFiles = errors.New("no descriptors")
