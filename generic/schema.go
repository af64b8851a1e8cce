package generic

// Kind is the protocol-neutral kind of a value.
type Kind string

// Kinds.
const (
	KindBool    Kind = "bool"
	KindInt8    Kind = "int8"
	KindInt16   Kind = "int16"
	KindInt32   Kind = "int32"
	KindInt64   Kind = "int64"
	KindUint8   Kind = "uint8"
	KindUint16  Kind = "uint16"
	KindUint32  Kind = "uint32"
	KindUint64  Kind = "uint64"
	KindFloat32 Kind = "float32"
	KindFloat64 Kind = "float64"
	KindString  Kind = "string"
	KindBytes   Kind = "bytes"
	KindEnum    Kind = "enum"
	// KindMessage is a message, struct, POJO or argument list with fields.
	KindMessage Kind = "message"
	KindList    Kind = "list"
	KindSet     Kind = "set"
	KindMap     Kind = "map"
	// KindAny is a value whose type the schema does not fix (a
	// java.lang.Object, a google.protobuf.Value).
	KindAny Kind = "any"
)

// ServiceSchema describes one backend service: what `rpcbridge describe`
// prints, what serviceName and scTag lookups search, and what binds path
// and query parameters to typed fields.
type ServiceSchema struct {
	// Name is the service name as the backend knows it.
	Name    string
	Methods []*MethodSchema
}

// Method returns the named method, or nil.
func (s *ServiceSchema) Method(name string) *MethodSchema {
	if s == nil {
		return nil
	}
	for _, m := range s.Methods {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// MethodSchema describes one method.
type MethodSchema struct {
	Name string
	// Input's fields are the top-level keys of the request JSON: the
	// request message's fields (gRPC) or the arguments (Thrift, Tars, Dubbo).
	Input *Type
	// Output describes the reply JSON (nil when unknown or void).
	Output          *Type
	ClientStreaming bool
	ServerStreaming bool
	// Oneway methods get no reply.
	Oneway bool
}

// Type is a protocol-neutral type. Message types may refer to themselves.
type Type struct {
	Kind Kind
	// Name is the declared name of a message or enum type.
	Name   string
	Fields []*Field    // KindMessage
	Elem   *Type       // KindList, KindSet; the value of KindMap
	Key    *Type       // KindMap
	Enum   []EnumValue // KindEnum
}

// Field returns the field whose Name or JSONName is name, or nil.
func (t *Type) Field(name string) *Field {
	if t == nil {
		return nil
	}
	for _, f := range t.Fields {
		if f.Name == name || (f.JSONName != "" && f.JSONName == name) {
			return f
		}
	}
	return nil
}

// Field is one field of a message, or one argument of a method.
type Field struct {
	Name string
	// JSONName is the field's JSON name when it differs from Name
	// (protobuf's lowerCamelCase).
	JSONName string
	// Tag is the field number, Thrift field id or Tars tag.
	Tag      int32
	Type     *Type
	Required bool
	// Out marks a Tars out parameter.
	Out bool
	// Default is the IDL default value as written, if any.
	Default string
}

// EnumValue is one named enum value.
type EnumValue struct {
	Name   string `json:"name"`
	Number int64  `json:"number"`
}
