package grpc

import (
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/sourcecontextpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/typepb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// wellKnownFiles are the google/protobuf files the gateway carries itself.
// They are referenced here, not looked up in protoregistry.GlobalFiles, so
// that they are linked in whatever else the binary contains.
func wellKnownFiles() []protoreflect.FileDescriptor {
	return []protoreflect.FileDescriptor{
		anypb.File_google_protobuf_any_proto,
		apipb.File_google_protobuf_api_proto,
		descriptorpb.File_google_protobuf_descriptor_proto,
		durationpb.File_google_protobuf_duration_proto,
		emptypb.File_google_protobuf_empty_proto,
		fieldmaskpb.File_google_protobuf_field_mask_proto,
		sourcecontextpb.File_google_protobuf_source_context_proto,
		structpb.File_google_protobuf_struct_proto,
		timestamppb.File_google_protobuf_timestamp_proto,
		typepb.File_google_protobuf_type_proto,
		wrapperspb.File_google_protobuf_wrappers_proto,
	}
}

// ownTypes finds the types the gateway has its own copies of: the
// well-known types first, then anything else linked into the binary
// (google.rpc error details, for example).
type ownTypes struct {
	wkt *protoregistry.Files
}

func newOwnTypes() *ownTypes {
	o := &ownTypes{wkt: &protoregistry.Files{}}
	for _, fd := range wellKnownFiles() {
		_ = o.wkt.RegisterFile(fd) // distinct paths and names: cannot fail
	}
	return o
}

// wellKnown returns the gateway's copy of a well-known type, or nil.
func (o *ownTypes) wellKnown(name string) protoreflect.Descriptor {
	d, err := o.wkt.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil || !isType(d) {
		return nil
	}
	return d
}

// find returns the gateway's copy of a message or enum type, or nil.
func (o *ownTypes) find(name string) protoreflect.Descriptor {
	if d := o.wellKnown(name); d != nil {
		return d
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil || !isType(d) {
		return nil
	}
	return d
}

func isType(d protoreflect.Descriptor) bool {
	switch d.(type) {
	case protoreflect.MessageDescriptor, protoreflect.EnumDescriptor:
		return true
	}
	return false
}

// repairFiles fixes the descriptor defects of reflection servers written
// in other languages, so that the result links and behaves as the files a
// well-behaved server (protoc's output) would:
//
//   - Node's @grpc/reflection (descriptors made by protobuf.js) names files
//     after their package ("demo_v1.proto", "google_protobuf.proto"),
//     lists no dependencies, refers to types by relative names
//     ("google.protobuf.Timestamp", "Address") and names map entries after
//     the field with its first letter upper-cased ("Labels", "Label_map")
//     instead of protoc's <CamelField>Entry.
//   - Well-known types sent under a made-up file name are replaced by the
//     gateway's own copies, and types the server did not send at all are
//     taken from them too.
//   - Dependency lists are recomputed from the types each file uses.
func repairFiles(fdps []*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	own := newOwnTypes()
	fdps = dropWellKnownCopies(fdps, own)

	// Resolve every type reference to a fully-qualified one.
	defs := indexFiles(fdps)
	known := func(full string) bool { return defs[full] != "" || own.find(full) != nil }
	for _, f := range fdps {
		pkg := f.GetPackage()
		for _, m := range f.MessageType {
			resolveMessage(m, joinName(pkg, m.GetName()), known)
		}
		for _, x := range f.Extension {
			resolveField(x, pkg, nil, known)
		}
		for _, s := range f.Service {
			scope := joinName(pkg, s.GetName())
			for _, md := range s.Method {
				md.InputType = resolveRef(md.InputType, scope, known)
				md.OutputType = resolveRef(md.OutputType, scope, known)
			}
		}
	}
	for _, f := range fdps {
		for _, m := range f.MessageType {
			repairMapEntries(m, "."+joinName(f.GetPackage(), m.GetName()))
		}
	}

	// Files for the types the server did not send, with their imports.
	defs = indexFiles(fdps)
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range fdps {
		byName[f.GetName()] = f
	}
	var addFile func(fd protoreflect.FileDescriptor)
	addFile = func(fd protoreflect.FileDescriptor) {
		if byName[fd.Path()] != nil {
			return
		}
		p := protodesc.ToFileDescriptorProto(fd)
		byName[p.GetName()] = p
		fdps = append(fdps, p)
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			addFile(imps.Get(i).FileDescriptor)
		}
	}
	for _, f := range append([]*descriptorpb.FileDescriptorProto(nil), fdps...) {
		for _, r := range typeRefs(f) {
			full := strings.TrimPrefix(r, ".")
			if defs[full] != "" {
				continue
			}
			if d := own.find(full); d != nil {
				addFile(d.ParentFile())
			}
		}
	}
	defs = indexFiles(fdps)

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
			if d := defs[strings.TrimPrefix(r, ".")]; d != "" && d != f.GetName() && !have[d] {
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

// dropWellKnownCopies removes the well-known types a server sent in a file
// that is not the well-known file itself (Node sends them all in a
// "google_protobuf.proto", as proto3 whatever they were), and the files
// left empty. References to them then resolve to the gateway's copies.
func dropWellKnownCopies(fdps []*descriptorpb.FileDescriptorProto, own *ownTypes) []*descriptorpb.FileDescriptorProto {
	out := fdps[:0]
	for _, f := range fdps {
		pkg := f.GetPackage()
		copied := func(name string) bool {
			d := own.wellKnown(joinName(pkg, name))
			return d != nil && d.ParentFile().Path() != f.GetName()
		}
		msgs := f.MessageType[:0]
		for _, m := range f.MessageType {
			if !copied(m.GetName()) {
				msgs = append(msgs, m)
			}
		}
		f.MessageType = msgs
		enums := f.EnumType[:0]
		for _, e := range f.EnumType {
			if !copied(e.GetName()) {
				enums = append(enums, e)
			}
		}
		f.EnumType = enums
		if len(f.MessageType)+len(f.EnumType)+len(f.Service)+len(f.Extension) == 0 {
			continue
		}
		out = append(out, f)
	}
	return out
}

// indexFiles maps each fully-qualified message and enum name (without the
// leading dot) to the file that defines it.
func indexFiles(fdps []*descriptorpb.FileDescriptorProto) map[string]string {
	defs := map[string]string{}
	for _, f := range fdps {
		pkg := f.GetPackage()
		for _, m := range f.MessageType {
			indexMessage(defs, f.GetName(), joinName(pkg, m.GetName()), m)
		}
		for _, e := range f.EnumType {
			defs[joinName(pkg, e.GetName())] = f.GetName()
		}
	}
	return defs
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

func joinName(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

// resolveMessage makes the type references of m (full name full) and of
// its nested messages fully qualified.
func resolveMessage(m *descriptorpb.DescriptorProto, full string, known func(string) bool) {
	for _, fl := range m.Field {
		resolveField(fl, full, m, known)
	}
	for _, x := range m.Extension {
		resolveField(x, full, m, known)
	}
	for _, n := range m.NestedType {
		resolveMessage(n, full+"."+n.GetName(), known)
	}
}

// resolveField resolves a field's type and extendee within scope; m is the
// message declaring it (nil for a file-level extension).
func resolveField(fl *descriptorpb.FieldDescriptorProto, scope string, m *descriptorpb.DescriptorProto, known func(string) bool) {
	if fl.Extendee != nil {
		fl.Extendee = resolveRef(fl.Extendee, scope, known)
	}
	if fl.TypeName == nil {
		return
	}
	fl.TypeName = resolveRef(fl.TypeName, scope, known)
	if m == nil || fl.GetLabel() != descriptorpb.FieldDescriptorProto_LABEL_REPEATED ||
		known(strings.TrimPrefix(fl.GetTypeName(), ".")) {
		return
	}
	// A map field whose reference does not match its entry's name exactly
	// (a different case, with or without "Entry"): the message's own map
	// entry of that name.
	ref := fl.GetTypeName()
	if i := strings.LastIndexByte(ref, '.'); i >= 0 {
		ref = ref[i+1:]
	}
	base := strings.TrimSuffix(strings.ToLower(ref), "entry")
	for _, n := range m.NestedType {
		if n.GetOptions().GetMapEntry() && strings.TrimSuffix(strings.ToLower(n.GetName()), "entry") == base {
			fl.TypeName = proto.String("." + scope + "." + n.GetName())
			return
		}
	}
}

// resolveRef returns the fully-qualified form of a type reference made in
// scope, searched from the innermost scope outwards as protoc does; refs
// that resolve to nothing known are returned unchanged.
func resolveRef(ref *string, scope string, known func(string) bool) *string {
	r := ref
	if r == nil || *r == "" || strings.HasPrefix(*r, ".") {
		return r
	}
	for s := scope; ; s = parentScope(s) {
		if full := joinName(s, *r); known(full) {
			return proto.String("." + full)
		}
		if s == "" {
			return r
		}
	}
}

func parentScope(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[:i]
	}
	return ""
}

// typeRefs lists the fully-qualified type names a file refers to.
func typeRefs(f *descriptorpb.FileDescriptorProto) []string {
	var out []string
	field := func(fl *descriptorpb.FieldDescriptorProto) {
		for _, n := range []string{fl.GetTypeName(), fl.GetExtendee()} {
			if strings.HasPrefix(n, ".") {
				out = append(out, n)
			}
		}
	}
	var walk func(m *descriptorpb.DescriptorProto)
	walk = func(m *descriptorpb.DescriptorProto) {
		for _, fl := range m.Field {
			field(fl)
		}
		for _, fl := range m.Extension {
			field(fl)
		}
		for _, n := range m.NestedType {
			walk(n)
		}
	}
	for _, m := range f.MessageType {
		walk(m)
	}
	for _, fl := range f.Extension {
		field(fl)
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
