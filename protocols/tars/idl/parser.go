package idl

import (
	"math"
	"strconv"
	"strings"
)

// maxTypeDepth bounds nesting such as vector<vector<...>> so that hostile
// input cannot exhaust the stack.
const maxTypeDepth = 64

type parser struct {
	lx   lexer
	tok  token
	file *File
}

// Parse parses one file's source. name is used in positions. It reports
// syntax errors only; names are resolved by Load or Resolve.
func Parse(name string, src []byte) (f *File, err error) {
	p := &parser{lx: lexer{file: name, src: src, line: 1, col: 1}, file: &File{Name: name}}
	if e := p.advance(); e != nil {
		return nil, e
	}
	for p.tok.kind != tEOF {
		switch {
		case p.tok.kind == tInclude:
			pos := p.tok.pos
			if e := p.advance(); e != nil {
				return nil, e
			}
			if p.tok.kind != tString {
				return nil, errorf(p.tok.pos, "#include wants a quoted file name, got %s", p.tok.describe())
			}
			p.file.Includes = append(p.file.Includes, &Include{Path: p.tok.text, Pos: pos})
			if e := p.advance(); e != nil {
				return nil, e
			}
		case p.isPunct(";"):
			if e := p.advance(); e != nil {
				return nil, e
			}
		case p.isIdent("module"):
			m, e := p.module()
			if e != nil {
				return nil, e
			}
			p.file.Modules = append(p.file.Modules, m)
		default:
			return nil, errorf(p.tok.pos, "want module or #include, got %s", p.tok.describe())
		}
	}
	return p.file, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }
func (p *parser) isIdent(s string) bool { return p.tok.kind == tIdent && p.tok.text == s }

func (p *parser) expect(s string) *Error {
	if !p.isPunct(s) {
		return errorf(p.tok.pos, "want %q, got %s", s, p.tok.describe())
	}
	return p.advance()
}

var keywords = map[string]bool{
	"module": true, "struct": true, "enum": true, "const": true, "interface": true,
	"require": true, "optional": true, "out": true, "routekey": true, "void": true, "unsigned": true,
	"bool": true, "byte": true, "short": true, "int": true, "long": true, "float": true,
	"double": true, "string": true, "vector": true, "map": true, "true": true, "false": true,
}

func (p *parser) name(what string) (string, Pos, *Error) {
	if p.tok.kind != tIdent || keywords[p.tok.text] {
		return "", p.tok.pos, errorf(p.tok.pos, "want %s name, got %s", what, p.tok.describe())
	}
	n, pos := p.tok.text, p.tok.pos
	return n, pos, p.advance()
}

// endDecl consumes the optional ';' after a closing brace.
func (p *parser) endDecl() *Error {
	if p.isPunct(";") {
		return p.advance()
	}
	return nil
}

func (p *parser) module() (*Module, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	name, pos, err := p.name("module")
	if err != nil {
		return nil, err
	}
	m := &Module{Name: name, Pos: pos}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	for !p.isPunct("}") {
		switch {
		case p.tok.kind == tEOF:
			return nil, errorf(p.tok.pos, "module %s: want \"}\", got end of file", name)
		case p.isPunct(";"):
			err = p.advance()
		case p.isIdent("struct"):
			var s *Struct
			if s, err = p.structDecl(name); err == nil {
				m.Structs = append(m.Structs, s)
			}
		case p.isIdent("enum"):
			var e *Enum
			if e, err = p.enumDecl(name); err == nil {
				m.Enums = append(m.Enums, e)
			}
		case p.isIdent("const"):
			var c *Const
			if c, err = p.constDecl(name); err == nil {
				m.Consts = append(m.Consts, c)
			}
		case p.isIdent("interface"):
			var i *Interface
			if i, err = p.interfaceDecl(name); err == nil {
				m.Interfaces = append(m.Interfaces, i)
			}
		case p.isIdent("key"):
			var k *Key
			if k, err = p.keyDecl(); err == nil {
				m.Keys = append(m.Keys, k)
			}
		default:
			err = errorf(p.tok.pos, "want struct, enum, const, interface or key, got %s", p.tok.describe())
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return m, p.endDecl()
}

func (p *parser) structDecl(module string) (*Struct, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	name, pos, err := p.name("struct")
	if err != nil {
		return nil, err
	}
	s := &Struct{Module: module, Name: name, Pos: pos}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	tags := map[int]string{}
	names := map[string]bool{}
	for !p.isPunct("}") {
		if p.isPunct(";") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		if p.tok.kind != tInt {
			return nil, errorf(p.tok.pos, "struct %s: want a field tag number or \"}\", got %s", name, p.tok.describe())
		}
		f := &Field{Pos: p.tok.pos}
		tag, perr := strconv.ParseInt(p.tok.text, 0, 64)
		if perr != nil || tag < 0 || tag > 255 {
			return nil, errorf(p.tok.pos, "struct %s: field tag %s is out of range 0..255", name, p.tok.text)
		}
		f.Tag = int(tag)
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch {
		case p.isIdent("require"):
			f.Require = true
		case p.isIdent("optional"):
		default:
			return nil, errorf(p.tok.pos, "struct %s: want require or optional, got %s", name, p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if f.Type, err = p.typ(0); err != nil {
			return nil, err
		}
		var npos Pos
		if f.Name, npos, err = p.name("field"); err != nil {
			return nil, err
		}
		if prev, dup := tags[f.Tag]; dup {
			return nil, errorf(f.Pos, "struct %s: tag %d of field %s is already used by field %s", name, f.Tag, f.Name, prev)
		}
		if names[f.Name] {
			return nil, errorf(npos, "struct %s: duplicate field name %s", name, f.Name)
		}
		tags[f.Tag], names[f.Name] = f.Name, true
		if p.isPunct("=") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if f.Default, err = p.value(); err != nil {
				return nil, err
			}
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, f)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return s, p.endDecl()
}

func (p *parser) enumDecl(module string) (*Enum, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	name, pos, err := p.name("enum")
	if err != nil {
		return nil, err
	}
	e := &Enum{Module: module, Name: name, Pos: pos}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	next := int64(0)
	for !p.isPunct("}") {
		vname, vpos, err := p.name("enum value")
		if err != nil {
			return nil, err
		}
		if e.Lookup(vname) != nil {
			return nil, errorf(vpos, "enum %s: duplicate value name %s", name, vname)
		}
		v := &EnumValue{Name: vname, Value: next, Pos: vpos}
		if p.isPunct("=") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			lit, err := p.value()
			if err != nil {
				return nil, err
			}
			switch lit.Kind {
			case IntValue:
				v.Value = lit.Int
			case IdentValue:
				ref := e.Lookup(lit.Str[strings.LastIndex(lit.Str, ":")+1:])
				if ref == nil {
					return nil, errorf(lit.Pos, "enum %s: %s is not an earlier value of this enum", name, lit.Str)
				}
				v.Value = ref.Value
			default:
				return nil, errorf(lit.Pos, "enum %s: value of %s must be an integer", name, vname)
			}
		}
		if v.Value < math.MinInt32 || v.Value > math.MaxInt32 {
			return nil, errorf(vpos, "enum %s: value %d of %s is out of int range", name, v.Value, vname)
		}
		next = v.Value + 1
		e.Values = append(e.Values, v)
		if p.isPunct(",") {
			if err := p.advance(); err != nil {
				return nil, err
			}
		} else if !p.isPunct("}") {
			return nil, errorf(p.tok.pos, "enum %s: want \",\" or \"}\", got %s", name, p.tok.describe())
		}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return e, p.endDecl()
}

func (p *parser) constDecl(module string) (*Const, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	t, err := p.typ(0)
	if err != nil {
		return nil, err
	}
	name, npos, err := p.name("const")
	if err != nil {
		return nil, err
	}
	c := &Const{Module: module, Name: name, Type: t, Pos: npos}
	if err := p.expect("="); err != nil {
		return nil, err
	}
	if c.Value, err = p.value(); err != nil {
		return nil, err
	}
	return c, p.expect(";")
}

func (p *parser) keyDecl() (*Key, *Error) {
	k := &Key{Pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect("["); err != nil {
		return nil, err
	}
	var err *Error
	if k.Struct, _, err = p.name("struct"); err != nil {
		return nil, err
	}
	for p.isPunct(",") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		f, _, err := p.name("field")
		if err != nil {
			return nil, err
		}
		k.Fields = append(k.Fields, f)
	}
	if err := p.expect("]"); err != nil {
		return nil, err
	}
	return k, p.expect(";")
}

func (p *parser) interfaceDecl(module string) (*Interface, *Error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	name, pos, err := p.name("interface")
	if err != nil {
		return nil, err
	}
	it := &Interface{Module: module, Name: name, Pos: pos}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	for !p.isPunct("}") {
		if p.isPunct(";") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		}
		m := &Method{Pos: p.tok.pos}
		if p.isIdent("void") {
			if err := p.advance(); err != nil {
				return nil, err
			}
		} else if m.Return, err = p.typ(0); err != nil {
			return nil, err
		}
		if m.Name, m.Pos, err = p.name("method"); err != nil {
			return nil, err
		}
		if it.Method(m.Name) != nil {
			return nil, errorf(m.Pos, "interface %s: duplicate method %s", name, m.Name)
		}
		if err := p.expect("("); err != nil {
			return nil, err
		}
		for !p.isPunct(")") {
			prm := &Param{Pos: p.tok.pos}
			for p.isIdent("out") || p.isIdent("routekey") {
				if p.tok.text == "out" {
					prm.Out = true
				}
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			if prm.Type, err = p.typ(0); err != nil {
				return nil, err
			}
			var ppos Pos
			if prm.Name, ppos, err = p.name("parameter"); err != nil {
				return nil, err
			}
			for _, o := range m.Params {
				if o.Name == prm.Name {
					return nil, errorf(ppos, "method %s: duplicate parameter %s", m.Name, prm.Name)
				}
			}
			m.Params = append(m.Params, prm)
			if p.isPunct(",") {
				if err := p.advance(); err != nil {
					return nil, err
				}
			} else if !p.isPunct(")") {
				return nil, errorf(p.tok.pos, "method %s: want \",\" or \")\", got %s", m.Name, p.tok.describe())
			}
		}
		if len(m.Params) > 254 {
			return nil, errorf(m.Pos, "method %s: too many parameters", m.Name)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(";"); err != nil {
			return nil, err
		}
		it.Methods = append(it.Methods, m)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return it, p.endDecl()
}

func (p *parser) typ(depth int) (*Type, *Error) {
	if depth > maxTypeDepth {
		return nil, errorf(p.tok.pos, "type is nested too deeply")
	}
	t := &Type{Pos: p.tok.pos}
	if p.tok.kind != tIdent {
		return nil, errorf(p.tok.pos, "want a type, got %s", p.tok.describe())
	}
	word := p.tok.text
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch word {
	case "bool":
		t.Kind = Bool
	case "byte":
		t.Kind = Byte
	case "short":
		t.Kind = Short
	case "int":
		t.Kind = Int
	case "long":
		t.Kind = Long
	case "float":
		t.Kind = Float
	case "double":
		t.Kind = Double
	case "string":
		t.Kind = String
	case "unsigned":
		switch {
		case p.isIdent("byte"):
			t.Kind = Byte
		case p.isIdent("short"):
			t.Kind = Short
		case p.isIdent("int"):
			t.Kind = Int
		default:
			return nil, errorf(p.tok.pos, "want byte, short or int after unsigned, got %s", p.tok.describe())
		}
		t.Unsigned = true
		return t, p.advance()
	case "vector":
		t.Kind = Vector
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		var err *Error
		if t.Elem, err = p.typ(depth + 1); err != nil {
			return nil, err
		}
		return t, p.expect(">")
	case "map":
		t.Kind = Map
		if err := p.expect("<"); err != nil {
			return nil, err
		}
		var err *Error
		if t.Key, err = p.typ(depth + 1); err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if t.Elem, err = p.typ(depth + 1); err != nil {
			return nil, err
		}
		return t, p.expect(">")
	default:
		if keywords[word] {
			return nil, errorf(t.Pos, "want a type, got %q", word)
		}
		t.Kind = Named
		t.Name = word
		if p.isPunct(":") {
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			n, _, err := p.name("type")
			if err != nil {
				return nil, err
			}
			t.Name = word + "::" + n
		}
	}
	return t, nil
}

func (p *parser) value() (*Value, *Error) {
	v := &Value{Pos: p.tok.pos}
	neg := false
	if p.isPunct("-") || p.isPunct("+") {
		neg = p.tok.text == "-"
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tInt && p.tok.kind != tFloat {
			return nil, errorf(p.tok.pos, "want a number after sign, got %s", p.tok.describe())
		}
	}
	switch p.tok.kind {
	case tInt:
		v.Kind = IntValue
		text := p.tok.text
		if neg {
			text = "-" + text
		}
		n, err := strconv.ParseInt(text, 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(p.tok.text, 0, 64)
			if uerr != nil || neg {
				return nil, errorf(v.Pos, "integer %s is out of range", text)
			}
			n = int64(u)
		}
		v.Int = n
	case tFloat:
		v.Kind = FloatValue
		f, err := strconv.ParseFloat(p.tok.text, 64)
		if err != nil {
			return nil, errorf(v.Pos, "malformed number %s", p.tok.text)
		}
		if neg {
			f = -f
		}
		v.Float = f
	case tString:
		v.Kind, v.Str = StringValue, p.tok.text
	case tIdent:
		switch p.tok.text {
		case "true", "false":
			v.Kind, v.Bool = BoolValue, p.tok.text == "true"
		default:
			v.Kind, v.Str = IdentValue, p.tok.text
			if err := p.advance(); err != nil {
				return nil, err
			}
			for p.isPunct(":") {
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				if p.tok.kind != tIdent {
					return nil, errorf(p.tok.pos, "want a name after ::, got %s", p.tok.describe())
				}
				v.Str += "::" + p.tok.text
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			return v, nil
		}
	default:
		return nil, errorf(p.tok.pos, "want a value, got %s", p.tok.describe())
	}
	return v, p.advance()
}
