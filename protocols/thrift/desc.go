package thrift

import (
	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
)

// kind is a resolved Thrift type: typedefs are gone by the time a value has
// a kind.
type kind uint8

const (
	kBool kind = iota + 1
	kByte
	kI16
	kI32
	kI64
	kDouble
	kString
	kBinary
	kEnum
	kStruct // struct, union and exception
	kList
	kSet
	kMap
	kUUID // Thrift 0.19's uuid: 16 bytes on the wire, its canonical text in JSON
)

// ttype is a compiled type. It is built once from the IDL and shared by
// every call; nothing on the hot path looks at the parser's AST.
type ttype struct {
	kind kind
	wire thrift.TType
	// name is the declared name of a struct or enum, or the base type name.
	name string
	st   *structDesc // kStruct
	enum *enumDesc   // kEnum
	key  *ttype      // kMap
	elem *ttype      // kList, kSet; the value of kMap
}

// describe is the type as the IDL writes it, for error messages.
func (t *ttype) describe() string {
	switch t.kind {
	case kList:
		return "list<" + t.elem.describe() + ">"
	case kSet:
		return "set<" + t.elem.describe() + ">"
	case kMap:
		return "map<" + t.key.describe() + "," + t.elem.describe() + ">"
	}
	return t.name
}

type requiredness uint8

const (
	reqDefault requiredness = iota
	reqRequired
	reqOptional
)

type fieldDesc struct {
	id   int16
	name string
	typ  *ttype
	req  requiredness
	// def is the IDL default as JSON (nil: none). It is written through the
	// same encoder as request JSON, so it is checked once at compile time.
	def []byte
	// defText is the default as the IDL writes it, for Describe.
	defText string
	// index is the field's position in structDesc.fields.
	index int
}

type structDesc struct {
	name     string
	category string // "struct", "union" or "exception"
	fields   []*fieldDesc
	byName   map[string]*fieldDesc
	// byID is indexed by field id when ids are small and non-negative;
	// idMap holds the others.
	byID  []*fieldDesc
	idMap map[int16]*fieldDesc
	// after lists fields to consider once the JSON object is read: the
	// required ones and those with defaults that must be written.
	after []*fieldDesc
}

func (s *structDesc) isUnion() bool { return s.category == "union" }

func (s *structDesc) field(id int16) *fieldDesc {
	if id >= 0 && int(id) < len(s.byID) {
		return s.byID[id]
	}
	return s.idMap[id]
}

// index builds the lookup tables once all fields are known.
func (s *structDesc) index() {
	s.byName = make(map[string]*fieldDesc, len(s.fields))
	maxID := int16(-1)
	for i, f := range s.fields {
		f.index = i
		s.byName[f.name] = f
		if f.id > maxID {
			maxID = f.id
		}
		if f.req == reqRequired || (f.req == reqDefault && f.def != nil) {
			s.after = append(s.after, f)
		}
	}
	if maxID < 256 {
		s.byID = make([]*fieldDesc, int(maxID)+1)
	}
	for _, f := range s.fields {
		if f.id >= 0 && int(f.id) < len(s.byID) {
			s.byID[f.id] = f
			continue
		}
		if s.idMap == nil {
			s.idMap = map[int16]*fieldDesc{}
		}
		s.idMap[f.id] = f
	}
}

type enumDesc struct {
	name    string
	byName  map[string]int32
	byValue map[int32]string
	values  []generic.EnumValue
}

// method is one compiled service function.
type method struct {
	name string
	// wireName is the message name on the wire: "Service:name" on a
	// multiplexed server, else the name.
	wireName string
	oneway   bool
	void     bool
	args     *structDesc
	// result has field 0 (success, absent when void) and the declared
	// exceptions at their ids.
	result *structDesc
	schema *generic.MethodSchema
}
