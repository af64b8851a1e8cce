// Package idl parses Tars interface definition files (.tars): modules,
// structs with tags, require/optional fields and defaults, enums, consts,
// key[...] declarations, and interfaces with out parameters.
//
// Parse reads one file's syntax; Load reads a file and its #includes and
// resolves every type name, giving a Program. Errors read
// "file:line:col: message"; malformed input never panics.
package idl

// TypeKind is the kind of a Tars type.
type TypeKind int

// Type kinds.
const (
	Bool TypeKind = iota + 1
	Byte
	Short
	Int
	Long
	Float
	Double
	String
	Vector
	Map
	// Named is a struct or enum, resolved by Load into Type.Struct or
	// Type.Enum.
	Named
)

var kindNames = map[TypeKind]string{
	Bool: "bool", Byte: "byte", Short: "short", Int: "int", Long: "long",
	Float: "float", Double: "double", String: "string", Vector: "vector", Map: "map",
}

// Type is a type as written in the IDL.
type Type struct {
	Kind TypeKind
	// Unsigned marks "unsigned byte", "unsigned short" and "unsigned int".
	Unsigned bool
	Elem     *Type // Vector element; Map value
	Key      *Type // Map key
	// Name is a Named type's name as written ("Quote" or "Common::Quote").
	Name string
	Pos  Pos
	// Struct or Enum is set on a Named type after resolution.
	Struct *Struct
	Enum   *Enum
}

// String renders the type in IDL syntax.
func (t *Type) String() string {
	if t == nil {
		return "void"
	}
	switch t.Kind {
	case Vector:
		return "vector<" + t.Elem.String() + ">"
	case Map:
		return "map<" + t.Key.String() + ", " + t.Elem.String() + ">"
	case Named:
		switch {
		case t.Struct != nil:
			return t.Struct.FullName()
		case t.Enum != nil:
			return t.Enum.FullName()
		}
		return t.Name
	}
	s := kindNames[t.Kind]
	if t.Unsigned {
		s = "unsigned " + s
	}
	return s
}

// File is one parsed source file.
type File struct {
	Name     string
	Includes []*Include
	Modules  []*Module
}

// Include is one #include directive.
type Include struct {
	Path string
	Pos  Pos
}

// Module holds the declarations of one module block. Load merges blocks
// of the same name (from several files) into one Module.
type Module struct {
	Name       string
	Pos        Pos
	Structs    []*Struct
	Enums      []*Enum
	Consts     []*Const
	Interfaces []*Interface
	Keys       []*Key
}

// Struct is a struct declaration.
type Struct struct {
	Module string
	Name   string
	Pos    Pos
	// Fields in declaration order.
	Fields []*Field
}

// FullName is "Module::Name".
func (s *Struct) FullName() string { return s.Module + "::" + s.Name }

// Field is one struct field.
type Field struct {
	Tag     int
	Require bool
	Type    *Type
	Name    string
	Default *Value // nil when none
	Pos     Pos
}

// ValueKind is the kind of a literal.
type ValueKind int

// Literal kinds.
const (
	IntValue ValueKind = iota + 1
	FloatValue
	StringValue
	BoolValue
	// IdentValue names an enum value or a const; Load resolves it.
	IdentValue
)

// Value is a literal (a default value or a const's value).
type Value struct {
	Kind  ValueKind
	Int   int64
	Float float64
	Str   string // StringValue's text, or IdentValue's name
	Bool  bool
	Pos   Pos
}

// Enum is an enum declaration.
type Enum struct {
	Module string
	Name   string
	Pos    Pos
	Values []*EnumValue
}

// FullName is "Module::Name".
func (e *Enum) FullName() string { return e.Module + "::" + e.Name }

// Lookup returns the value named name, or nil.
func (e *Enum) Lookup(name string) *EnumValue {
	for _, v := range e.Values {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// EnumValue is one enum member; implicit values count up from the previous
// member (the first is 0).
type EnumValue struct {
	Name  string
	Value int64
	Pos   Pos
}

// Const is a const declaration.
type Const struct {
	Module string
	Name   string
	Type   *Type
	Value  *Value
	Pos    Pos
}

// Key is a key[Struct, field, ...] declaration.
type Key struct {
	Struct string
	Fields []string
	Pos    Pos
}

// Interface is an interface declaration.
type Interface struct {
	Module  string
	Name    string
	Pos     Pos
	Methods []*Method
}

// FullName is "Module::Name".
func (i *Interface) FullName() string { return i.Module + "::" + i.Name }

// Method returns the named method, or nil.
func (i *Interface) Method(name string) *Method {
	for _, m := range i.Methods {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Method is one interface method.
type Method struct {
	Name string
	// Return is nil for void.
	Return *Type
	Params []*Param
	Pos    Pos
}

// Param is one method parameter.
type Param struct {
	Name string
	Type *Type
	Out  bool
	Pos  Pos
}
