package tars

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/tars/idl"
)

// kind is a compiled Tars type kind.
type kind uint8

const (
	kBool kind = iota + 1
	kByte
	kShort
	kInt
	kLong
	kUByte
	kUShort
	kUInt
	kFloat
	kDouble
	kString
	kBytes // vector<byte>, base64 in JSON
	kVector
	kMap
	kStruct
	kEnum
)

// typ is the compiled form of an IDL type: everything the hot path needs,
// with no names left to resolve.
type typ struct {
	kind kind
	elem *typ // vector element, map value
	key  *typ // map key
	st   *structDesc
	en   *enumDesc
	name string // IDL spelling, for messages
}

type structDesc struct {
	name   string
	fields []*fieldDesc // ascending tag order
	byName map[string]*fieldDesc
	byTag  []*fieldDesc // indexed by tag; nil where unused
}

type fieldDesc struct {
	name    string
	tag     byte
	t       *typ
	require bool
	out     bool   // out parameter
	def     []byte // JSON of the IDL default value, nil when none
	idx     int    // position in structDesc.fields
	defText string // default as written, for the schema
}

type enumDesc struct {
	name   string
	byName map[string]int32
	byNum  map[int32]string
	values []generic.EnumValue
}

type methodDesc struct {
	name   string
	void   bool
	oneway bool        // called one-way: no reply (Options.Oneway)
	args   *structDesc // in parameters at tags 1..n by position
	reply  *structDesc // "return" at tag 0, out parameters at their positions
	// all parameters in declaration order, for binding and the schema
	params *structDesc
	schema *generic.MethodSchema
}

type compiler struct {
	structs map[*idl.Struct]*structDesc
	enums   map[*idl.Enum]*enumDesc
	types   map[*structDesc]*generic.Type
}

func compileInterface(it *idl.Interface) (map[string]*methodDesc, *generic.ServiceSchema, error) {
	c := &compiler{structs: map[*idl.Struct]*structDesc{}, enums: map[*idl.Enum]*enumDesc{}, types: map[*structDesc]*generic.Type{}}
	methods := make(map[string]*methodDesc, len(it.Methods))
	schema := &generic.ServiceSchema{Name: it.Module + "." + it.Name}
	for _, m := range it.Methods {
		md := &methodDesc{name: m.Name, void: m.Return == nil}
		md.args = &structDesc{name: m.Name + " arguments", byName: map[string]*fieldDesc{}}
		md.reply = &structDesc{name: m.Name + " reply", byName: map[string]*fieldDesc{}}
		md.params = &structDesc{name: m.Name + " parameters", byName: map[string]*fieldDesc{}}
		if m.Return != nil {
			md.reply.add(&fieldDesc{name: "return", tag: 0, t: c.typ(m.Return)})
		}
		for i, p := range m.Params {
			f := &fieldDesc{name: p.Name, tag: byte(i + 1), t: c.typ(p.Type), out: p.Out}
			md.params.add(f)
			if p.Out {
				if p.Name == "return" {
					return nil, nil, fmt.Errorf("%s: method %s: an out parameter cannot be named \"return\"", p.Pos, m.Name)
				}
				md.reply.add(f)
			} else {
				md.args.add(f)
			}
		}
		md.args.index()
		md.reply.index()
		md.params.index()
		md.schema = c.methodSchema(md)
		methods[m.Name] = md
		schema.Methods = append(schema.Methods, md.schema)
	}
	return methods, schema, nil
}

func (s *structDesc) add(f *fieldDesc) {
	f.idx = len(s.fields)
	s.fields = append(s.fields, f)
	s.byName[f.name] = f
}

// index sorts fields by tag and fills byTag.
func (s *structDesc) index() {
	sort.SliceStable(s.fields, func(i, j int) bool { return s.fields[i].tag < s.fields[j].tag })
	max := 0
	for i, f := range s.fields {
		f.idx = i
		if int(f.tag) > max {
			max = int(f.tag)
		}
	}
	s.byTag = make([]*fieldDesc, max+1)
	for _, f := range s.fields {
		s.byTag[f.tag] = f
	}
}

func (c *compiler) typ(t *idl.Type) *typ {
	out := &typ{name: t.String()}
	switch t.Kind {
	case idl.Bool:
		out.kind = kBool
	case idl.Byte:
		out.kind = kByte
		if t.Unsigned {
			out.kind = kUByte
		}
	case idl.Short:
		out.kind = kShort
		if t.Unsigned {
			out.kind = kUShort
		}
	case idl.Int:
		out.kind = kInt
		if t.Unsigned {
			out.kind = kUInt
		}
	case idl.Long:
		out.kind = kLong
	case idl.Float:
		out.kind = kFloat
	case idl.Double:
		out.kind = kDouble
	case idl.String:
		out.kind = kString
	case idl.Vector:
		if t.Elem.Kind == idl.Byte && !t.Elem.Unsigned {
			out.kind = kBytes
			break
		}
		out.kind = kVector
		out.elem = c.typ(t.Elem)
	case idl.Map:
		out.kind = kMap
		out.key = c.typ(t.Key)
		out.elem = c.typ(t.Elem)
	case idl.Named:
		if t.Enum != nil {
			out.kind = kEnum
			out.en = c.enum(t.Enum)
		} else {
			out.kind = kStruct
			out.st = c.strct(t.Struct)
		}
	}
	return out
}

func (c *compiler) enum(e *idl.Enum) *enumDesc {
	if d, ok := c.enums[e]; ok {
		return d
	}
	d := &enumDesc{name: e.FullName(), byName: map[string]int32{}, byNum: map[int32]string{}}
	for _, v := range e.Values {
		d.byName[v.Name] = int32(v.Value)
		if _, dup := d.byNum[int32(v.Value)]; !dup {
			d.byNum[int32(v.Value)] = v.Name
		}
		d.values = append(d.values, generic.EnumValue{Name: v.Name, Number: v.Value})
	}
	c.enums[e] = d
	return d
}

func (c *compiler) strct(s *idl.Struct) *structDesc {
	if d, ok := c.structs[s]; ok {
		return d
	}
	d := &structDesc{name: s.FullName(), byName: map[string]*fieldDesc{}}
	c.structs[s] = d // before the fields, so that self references resolve
	for _, f := range s.Fields {
		fd := &fieldDesc{name: f.Name, tag: byte(f.Tag), require: f.Require, t: c.typ(f.Type)}
		if f.Default != nil {
			fd.def, fd.defText = defaultJSON(f.Default)
		}
		d.add(fd)
	}
	d.index()
	return d
}

// defaultJSON renders a resolved IDL default as JSON and as text.
func defaultJSON(v *idl.Value) ([]byte, string) {
	switch v.Kind {
	case idl.IntValue:
		return generic.AppendInt(nil, v.Int), strconv.FormatInt(v.Int, 10)
	case idl.FloatValue:
		s := strconv.FormatFloat(v.Float, 'g', -1, 64)
		return []byte(s), s
	case idl.StringValue:
		return generic.AppendString(nil, v.Str), v.Str
	case idl.BoolValue:
		s := strconv.FormatBool(v.Bool)
		return []byte(s), s
	case idl.IdentValue: // enum member, resolved
		return generic.AppendString(nil, v.Str), v.Str
	}
	return nil, ""
}

func (c *compiler) methodSchema(md *methodDesc) *generic.MethodSchema {
	in := &generic.Type{Kind: generic.KindMessage, Name: md.name}
	// Parameters in declaration order (tags are positions).
	for _, f := range md.params.fields {
		in.Fields = append(in.Fields, &generic.Field{Name: f.name, Tag: int32(f.tag), Type: c.schemaType(f.t), Out: f.out})
	}
	out := &generic.Type{Kind: generic.KindMessage, Name: md.name + "Reply"}
	for _, f := range md.reply.fields {
		out.Fields = append(out.Fields, &generic.Field{Name: f.name, Tag: int32(f.tag), Type: c.schemaType(f.t), Out: f.out})
	}
	return &generic.MethodSchema{Name: md.name, Input: in, Output: out}
}

func (c *compiler) schemaType(t *typ) *generic.Type {
	switch t.kind {
	case kBool:
		return &generic.Type{Kind: generic.KindBool}
	case kByte:
		return &generic.Type{Kind: generic.KindInt8}
	case kShort:
		return &generic.Type{Kind: generic.KindInt16}
	case kInt:
		return &generic.Type{Kind: generic.KindInt32}
	case kLong:
		return &generic.Type{Kind: generic.KindInt64}
	case kUByte:
		return &generic.Type{Kind: generic.KindUint8}
	case kUShort:
		return &generic.Type{Kind: generic.KindUint16}
	case kUInt:
		return &generic.Type{Kind: generic.KindUint32}
	case kFloat:
		return &generic.Type{Kind: generic.KindFloat32}
	case kDouble:
		return &generic.Type{Kind: generic.KindFloat64}
	case kString:
		return &generic.Type{Kind: generic.KindString}
	case kBytes:
		return &generic.Type{Kind: generic.KindBytes}
	case kVector:
		return &generic.Type{Kind: generic.KindList, Elem: c.schemaType(t.elem)}
	case kMap:
		return &generic.Type{Kind: generic.KindMap, Key: c.schemaType(t.key), Elem: c.schemaType(t.elem)}
	case kEnum:
		return &generic.Type{Kind: generic.KindEnum, Name: t.en.name, Enum: t.en.values}
	case kStruct:
		if st, ok := c.types[t.st]; ok {
			return st
		}
		st := &generic.Type{Kind: generic.KindMessage, Name: t.st.name}
		c.types[t.st] = st
		for _, f := range t.st.fields {
			st.Fields = append(st.Fields, &generic.Field{Name: f.name, Tag: int32(f.tag), Type: c.schemaType(f.t), Required: f.require, Default: f.defText})
		}
		return st
	}
	return &generic.Type{Kind: generic.KindAny}
}
