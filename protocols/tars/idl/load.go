package idl

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Program is a set of parsed files with every name resolved.
type Program struct {
	Files []*File
	// Modules are merged by name, in order of first appearance.
	Modules []*Module
}

// Module returns the merged module of that name, or nil.
func (p *Program) Module(name string) *Module {
	for _, m := range p.Modules {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Interface finds an interface by "Name", "Module.Name" or "Module::Name".
// A bare name must be unique across modules.
func (p *Program) Interface(name string) (*Interface, error) {
	mod, n := "", name
	if i := strings.LastIndex(name, "::"); i >= 0 {
		mod, n = name[:i], name[i+2:]
	} else if i := strings.LastIndex(name, "."); i >= 0 {
		mod, n = name[:i], name[i+1:]
	}
	var found []*Interface
	for _, m := range p.Modules {
		if mod != "" && m.Name != mod {
			continue
		}
		for _, it := range m.Interfaces {
			if it.Name == n {
				found = append(found, it)
			}
		}
	}
	switch len(found) {
	case 0:
		var have []string
		for _, m := range p.Modules {
			for _, it := range m.Interfaces {
				have = append(have, m.Name+"."+it.Name)
			}
		}
		return nil, fmt.Errorf("interface %q not found in the IDL (have: %s)", name, strings.Join(have, ", "))
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("interface %q is ambiguous: qualify it as Module.%s", name, n)
}

// Load reads the file at path and every file it #includes (looked up
// beside the including file, then in includeDirs), and resolves names.
func Load(path string, includeDirs []string) (*Program, error) {
	l := &loader{dirs: includeDirs, seen: map[string]bool{}}
	if err := l.load(path, Pos{}); err != nil {
		return nil, err
	}
	return Resolve(l.files)
}

type loader struct {
	dirs  []string
	seen  map[string]bool
	files []*File
}

func (l *loader) load(path string, from Pos) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if l.seen[abs] {
		return nil
	}
	l.seen[abs] = true
	src, err := os.ReadFile(path)
	if err != nil {
		if from.File != "" {
			return errorf(from, "cannot read included file %q: %v", path, errors.Unwrap(err))
		}
		return fmt.Errorf("read IDL: %w", err)
	}
	f, perr := Parse(path, src)
	if perr != nil {
		return perr
	}
	// Included files come first so that their declarations precede ours.
	for _, inc := range f.Includes {
		p, ok := l.find(inc.Path, filepath.Dir(path))
		if !ok {
			return errorf(inc.Pos, "included file %q not found (looked beside %s and in include dirs %v)", inc.Path, path, l.dirs)
		}
		if err := l.load(p, inc.Pos); err != nil {
			return err
		}
	}
	l.files = append(l.files, f)
	return nil
}

func (l *loader) find(name, dir string) (string, bool) {
	if filepath.IsAbs(name) {
		_, err := os.Stat(name)
		return name, err == nil
	}
	for _, d := range append([]string{dir}, l.dirs...) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	return "", false
}

// Resolve merges the files' modules and resolves every type name, default
// value, const and key declaration.
func Resolve(files []*File) (*Program, error) {
	prog := &Program{Files: files}
	for _, f := range files {
		for _, m := range f.Modules {
			dst := prog.Module(m.Name)
			if dst == nil {
				dst = &Module{Name: m.Name, Pos: m.Pos}
				prog.Modules = append(prog.Modules, dst)
			}
			dst.Structs = append(dst.Structs, m.Structs...)
			dst.Enums = append(dst.Enums, m.Enums...)
			dst.Consts = append(dst.Consts, m.Consts...)
			dst.Interfaces = append(dst.Interfaces, m.Interfaces...)
			dst.Keys = append(dst.Keys, m.Keys...)
		}
	}
	r := &resolver{prog: prog}
	for _, m := range prog.Modules {
		if err := r.checkNames(m); err != nil {
			return nil, err
		}
	}
	for _, m := range prog.Modules {
		if err := r.module(m); err != nil {
			return nil, err
		}
	}
	return prog, nil
}

type resolver struct {
	prog *Program
}

func (r *resolver) checkNames(m *Module) error {
	seen := map[string]Pos{}
	add := func(name string, pos Pos) error {
		if prev, ok := seen[name]; ok {
			return errorf(pos, "%s::%s is already declared at %s", m.Name, name, prev)
		}
		seen[name] = pos
		return nil
	}
	for _, s := range m.Structs {
		if err := add(s.Name, s.Pos); err != nil {
			return err
		}
	}
	for _, e := range m.Enums {
		if err := add(e.Name, e.Pos); err != nil {
			return err
		}
	}
	for _, c := range m.Consts {
		if err := add(c.Name, c.Pos); err != nil {
			return err
		}
	}
	for _, i := range m.Interfaces {
		if err := add(i.Name, i.Pos); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolver) module(m *Module) error {
	for _, c := range m.Consts {
		if err := r.typ(m, c.Type); err != nil {
			return err
		}
		v, err := r.value(m, c.Type, c.Value, "const "+c.Name)
		if err != nil {
			return err
		}
		c.Value = v
	}
	for _, s := range m.Structs {
		for _, f := range s.Fields {
			if err := r.typ(m, f.Type); err != nil {
				return err
			}
			if f.Default != nil {
				v, err := r.value(m, f.Type, f.Default, "field "+s.Name+"."+f.Name)
				if err != nil {
					return err
				}
				f.Default = v
			}
		}
	}
	for _, k := range m.Keys {
		var st *Struct
		for _, s := range m.Structs {
			if s.Name == k.Struct {
				st = s
			}
		}
		if st == nil {
			return errorf(k.Pos, "key[%s]: no struct %s in module %s", k.Struct, k.Struct, m.Name)
		}
		for _, fn := range k.Fields {
			ok := false
			for _, f := range st.Fields {
				ok = ok || f.Name == fn
			}
			if !ok {
				return errorf(k.Pos, "key[%s]: struct %s has no field %s", k.Struct, k.Struct, fn)
			}
		}
	}
	for _, it := range m.Interfaces {
		for _, meth := range it.Methods {
			if meth.Return != nil {
				if err := r.typ(m, meth.Return); err != nil {
					return err
				}
			}
			for _, p := range meth.Params {
				if err := r.typ(m, p.Type); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (r *resolver) typ(m *Module, t *Type) error {
	switch t.Kind {
	case Vector:
		return r.typ(m, t.Elem)
	case Map:
		if err := r.typ(m, t.Key); err != nil {
			return err
		}
		return r.typ(m, t.Elem)
	case Named:
		mod, name := m, t.Name
		if i := strings.LastIndex(t.Name, "::"); i >= 0 {
			mod = r.prog.Module(t.Name[:i])
			name = t.Name[i+2:]
			if mod == nil {
				return errorf(t.Pos, "unknown module %s in type %s", t.Name[:i], t.Name)
			}
		}
		for _, s := range mod.Structs {
			if s.Name == name {
				t.Struct = s
				return nil
			}
		}
		for _, e := range mod.Enums {
			if e.Name == name {
				t.Enum = e
				return nil
			}
		}
		return errorf(t.Pos, "unknown type %s", t.Name)
	}
	return nil
}

// value checks a literal against its type and resolves enum and const
// names. An enum default becomes an IdentValue whose Str is the member
// name and Int its number.
func (r *resolver) value(m *Module, t *Type, v *Value, what string) (*Value, error) {
	if v.Kind == IdentValue && (t.Kind != Named || t.Enum == nil) {
		c := r.constant(m, v.Str)
		if c == nil {
			return nil, errorf(v.Pos, "%s: unknown const %s", what, v.Str)
		}
		cv := *c.Value
		cv.Pos = v.Pos
		v = &cv
	}
	bad := func() error {
		return errorf(v.Pos, "%s: default value does not fit type %s", what, t)
	}
	switch t.Kind {
	case Bool:
		if v.Kind == IntValue && (v.Int == 0 || v.Int == 1) {
			return &Value{Kind: BoolValue, Bool: v.Int == 1, Pos: v.Pos}, nil
		}
		if v.Kind != BoolValue {
			return nil, bad()
		}
	case Byte, Short, Int, Long:
		if v.Kind != IntValue {
			return nil, bad()
		}
		lo, hi := intRange(t)
		if v.Int < lo || v.Int > hi {
			return nil, errorf(v.Pos, "%s: default %d is out of range for %s", what, v.Int, t)
		}
	case Float, Double:
		switch v.Kind {
		case IntValue:
			return &Value{Kind: FloatValue, Float: float64(v.Int), Pos: v.Pos}, nil
		case FloatValue:
		default:
			return nil, bad()
		}
	case String:
		if v.Kind != StringValue {
			return nil, bad()
		}
	case Named:
		if t.Enum == nil {
			return nil, errorf(v.Pos, "%s: struct fields cannot have a default value", what)
		}
		switch v.Kind {
		case IntValue:
			for _, ev := range t.Enum.Values {
				if ev.Value == v.Int {
					return &Value{Kind: IdentValue, Str: ev.Name, Int: ev.Value, Pos: v.Pos}, nil
				}
			}
			return &Value{Kind: IntValue, Int: v.Int, Pos: v.Pos}, nil
		case IdentValue:
			ev := t.Enum.Lookup(v.Str[strings.LastIndex(v.Str, ":")+1:])
			if ev == nil {
				return nil, errorf(v.Pos, "%s: %s is not a value of enum %s", what, v.Str, t.Enum.FullName())
			}
			return &Value{Kind: IdentValue, Str: ev.Name, Int: ev.Value, Pos: v.Pos}, nil
		}
		return nil, bad()
	default:
		return nil, errorf(v.Pos, "%s: %s cannot have a default value", what, t)
	}
	return v, nil
}

func (r *resolver) constant(m *Module, name string) *Const {
	mod := m
	if i := strings.LastIndex(name, "::"); i >= 0 {
		mod = r.prog.Module(name[:i])
		name = name[i+2:]
	}
	if mod == nil {
		return nil
	}
	for _, c := range mod.Consts {
		if c.Name == name && c.Value != nil && c.Value.Kind != IdentValue {
			return c
		}
	}
	return nil
}

func intRange(t *Type) (int64, int64) {
	switch {
	case t.Kind == Byte && t.Unsigned:
		return 0, math.MaxUint8
	case t.Kind == Byte:
		return math.MinInt8, math.MaxInt8
	case t.Kind == Short && t.Unsigned:
		return 0, math.MaxUint16
	case t.Kind == Short:
		return math.MinInt16, math.MaxInt16
	case t.Kind == Int && t.Unsigned:
		return 0, math.MaxUint32
	case t.Kind == Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}
