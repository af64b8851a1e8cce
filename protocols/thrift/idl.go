package thrift

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/cloudwego/thriftgo/parser"
	"github.com/cloudwego/thriftgo/semantic"

	"github.com/rpcbridge/rpcbridge/generic"
)

// idlFile is one parsed IDL file with the text it came from, kept only
// while compiling (to place semantic errors on a line).
type idlFile struct {
	path string // as the user or the include statement named it, joined with its directory
	text string
	ast  *parser.Thrift
}

// loader parses an IDL file and its includes, naming the file and line of
// a syntax error.
type loader struct {
	includeDirs []string
	byPath      map[string]*idlFile
	order       []*idlFile
}

var pegPos = regexp.MustCompile(`line (\d+) symbol (\d+)`)
var pegNear = regexp.MustCompile(`(?s)parse error near (\w+) \([^)]*\):\s*(.*)$`)

func (l *loader) load(file, dir string) (*idlFile, error) {
	path, err := l.search(file, dir)
	if err != nil {
		return nil, err
	}
	key, _ := filepath.Abs(path)
	if f, ok := l.byPath[key]; ok {
		return f, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	text := string(b)
	ast, err := parseIDL(path, text)
	if err != nil {
		return nil, err
	}
	f := &idlFile{path: path, text: text, ast: ast}
	l.byPath[key] = f
	l.order = append(l.order, f)
	for _, inc := range ast.Includes {
		g, err := l.load(inc.Path, filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		inc.Reference = g.ast
	}
	return f, nil
}

// parseIDL parses one file. thriftgo's parser may panic on odd input; that
// becomes an error too.
func parseIDL(path, text string) (ast *parser.Thrift, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: cannot parse: %v", path, r)
		}
	}()
	ast, err = parser.ParseString(path, text)
	if err != nil {
		return nil, syntaxError(path, text, err)
	}
	return ast, nil
}

// syntaxError rewrites a thriftgo parse error as "file:line:col: reason".
func syntaxError(path, text string, err error) error {
	msg := strings.TrimSpace(err.Error())
	m := pegPos.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("%s: %s", path, msg)
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	near := ""
	if n := pegNear.FindStringSubmatch(msg); n != nil {
		near = strings.TrimSpace(n[2])
	}
	// The parser counts a line break as the first symbol of the next line;
	// the problem is on the line the break ends.
	if col == 0 && line > 1 && (near == `"\n"` || near == `"\r\n"`) {
		line--
		near = "end of line"
		if lines := strings.Split(text, "\n"); line <= len(lines) {
			col = len(strings.TrimRight(lines[line-1], "\r"))
		}
	}
	if near == "" {
		return fmt.Errorf("%s:%d:%d: syntax error", path, line, col+1)
	}
	return fmt.Errorf("%s:%d:%d: syntax error near %s", path, line, col+1, near)
}

func (l *loader) search(file, dir string) (string, error) {
	cands := []string{file}
	if !filepath.IsAbs(file) {
		cands = append(cands, filepath.Join(dir, file))
		for _, inc := range l.includeDirs {
			cands = append(cands, filepath.Join(inc, file))
		}
	}
	for _, p := range cands {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return filepath.Clean(p), nil
		}
	}
	return "", fmt.Errorf("%s: file not found (searched %s)", file, strings.Join(cands, ", "))
}

var quoted = regexp.MustCompile(`"([A-Za-z_][A-Za-z0-9_.]*)"`)

// semanticError places a thriftgo semantic error on the first line of the
// loaded files that mentions the name it complains about.
func (l *loader) semanticError(err error) error {
	msg := err.Error()
	ms := quoted.FindAllStringSubmatch(msg, -1)
	for i := len(ms) - 1; i >= 0; i-- {
		name := ms[i][1]
		word := regexp.MustCompile(`(^|[^A-Za-z0-9_.])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_.])`)
		for _, f := range l.order {
			for n, line := range strings.Split(f.text, "\n") {
				if code, _, _ := strings.Cut(line, "//"); word.MatchString(code) && !strings.HasPrefix(strings.TrimSpace(code), "include") {
					return fmt.Errorf("%s:%d: %s", f.path, n+1, msg)
				}
			}
		}
	}
	return fmt.Errorf("%s: %s", l.order[0].path, msg)
}

// compiled is everything New builds from the IDL.
type compiled struct {
	service string
	methods map[string]*method
	schema  *generic.ServiceSchema
}

// compile parses the IDL with its includes and builds the descriptor tree
// for one service (with the services it extends).
func compile(o *Options) (*compiled, error) {
	l := &loader{includeDirs: o.IncludeDirs, byPath: map[string]*idlFile{}}
	main, err := l.load(o.IDL, ".")
	if err != nil {
		return nil, err
	}
	uuids := markUUIDs(main.ast, map[*parser.Thrift]bool{}, map[*parser.Type]bool{})
	if err := resolveSymbols(main.ast); err != nil {
		return nil, l.semanticError(err)
	}
	svcAST, svc := findService(main.ast, o.Service)
	if svc == nil {
		var names []string
		for _, s := range main.ast.Services {
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("%s: service %q not found (services: %s)", main.path, o.Service, strings.Join(names, ", "))
	}
	c := &compiler{structs: map[*parser.StructLike]*structDesc{}, enums: map[*parser.Enum]*enumDesc{}, gtypes: map[*structDesc]*generic.Type{},
		uuids: uuids}
	out := &compiled{service: svc.Name, methods: map[string]*method{}}
	out.schema = &generic.ServiceSchema{Name: svc.Name}
	// Walk the extends chain; a function of a derived service hides one of
	// the same name in its base.
	seen := map[*parser.Service]bool{}
	for ast, s := svcAST, svc; s != nil; {
		if seen[s] {
			return nil, fmt.Errorf("%s: service %q extends itself", main.path, s.Name)
		}
		seen[s] = true
		for _, fn := range s.Functions {
			if _, dup := out.methods[fn.Name]; dup {
				continue
			}
			m, err := c.method(ast, s, fn, o.Multiplexed)
			if err != nil {
				return nil, fmt.Errorf("%s: service %s, function %s: %w", ast.Filename, s.Name, fn.Name, err)
			}
			out.methods[fn.Name] = m
			out.schema.Methods = append(out.schema.Methods, m.schema)
		}
		if s.Extends == "" {
			break
		}
		ast, s = baseService(ast, s)
		if s == nil {
			return nil, fmt.Errorf("%s: base service of %q not found", main.path, svc.Name)
		}
	}
	slices.SortFunc(out.schema.Methods, func(a, b *generic.MethodSchema) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func resolveSymbols(ast *parser.Thrift) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return semantic.ResolveSymbols(ast)
}

// findService finds a service by name in ast, or "inc.Name" in an include.
func findService(ast *parser.Thrift, name string) (*parser.Thrift, *parser.Service) {
	if s, ok := ast.GetService(name); ok {
		return ast, s
	}
	if pre, rest, ok := strings.Cut(name, "."); ok {
		for _, inc := range ast.Includes {
			if semantic.IDLPrefix(inc.Path) == pre {
				return findService(inc.Reference, rest)
			}
		}
	}
	return nil, nil
}

func baseService(ast *parser.Thrift, s *parser.Service) (*parser.Thrift, *parser.Service) {
	if r := s.Reference; r != nil {
		if int(r.Index) >= len(ast.Includes) {
			return nil, nil
		}
		inc := ast.Includes[r.Index].Reference
		b, _ := inc.GetService(r.Name)
		return inc, b
	}
	b, _ := ast.GetService(s.Extends)
	return ast, b
}

type compiler struct {
	structs map[*parser.StructLike]*structDesc
	enums   map[*parser.Enum]*enumDesc
	gtypes  map[*structDesc]*generic.Type
	// uuids are the uses of Thrift's uuid type (see markUUIDs).
	uuids map[*parser.Type]bool
}

// markUUIDs finds the uses of the uuid base type (Thrift 0.19+), which
// thriftgo's parser does not know: each is noted and renamed to binary so
// that symbol resolution accepts it; typeOf turns the noted ones into
// uuids. A file that declares its own type named uuid (older IDLs did, as
// a typedef) keeps it.
func markUUIDs(ast *parser.Thrift, done map[*parser.Thrift]bool, out map[*parser.Type]bool) map[*parser.Type]bool {
	if ast == nil || done[ast] {
		return out
	}
	done[ast] = true
	for _, inc := range ast.Includes {
		markUUIDs(inc.Reference, done, out)
	}
	if _, own := ast.Name2Category["uuid"]; own {
		return out
	}
	var mark func(t *parser.Type)
	mark = func(t *parser.Type) {
		if t == nil {
			return
		}
		if t.Name == "uuid" {
			t.Name = "binary"
			out[t] = true
		}
		mark(t.KeyType)
		mark(t.ValueType)
	}
	fields := func(fs []*parser.Field) {
		for _, f := range fs {
			mark(f.Type)
		}
	}
	for _, td := range ast.Typedefs {
		mark(td.Type)
	}
	for _, c := range ast.Constants {
		mark(c.Type)
	}
	for _, group := range [][]*parser.StructLike{ast.Structs, ast.Unions, ast.Exceptions} {
		for _, st := range group {
			fields(st.Fields)
		}
	}
	for _, svc := range ast.Services {
		for _, fn := range svc.Functions {
			mark(fn.FunctionType)
			fields(fn.Arguments)
			fields(fn.Throws)
		}
	}
	return out
}

func (c *compiler) method(ast *parser.Thrift, s *parser.Service, fn *parser.Function, mux string) (*method, error) {
	m := &method{name: fn.Name, wireName: fn.Name, oneway: fn.Oneway, void: fn.Void}
	if mux != "" {
		m.wireName = mux + thrift.MULTIPLEXED_SEPARATOR + fn.Name
	}
	args := &structDesc{name: fn.Name + "_args", category: "struct"}
	for _, a := range fn.Arguments {
		f, err := c.field(ast, a)
		if err != nil {
			return nil, fmt.Errorf("argument %s: %w", a.Name, err)
		}
		args.fields = append(args.fields, f)
	}
	args.index()
	m.args = args
	res := &structDesc{name: fn.Name + "_result", category: "struct"}
	var out *generic.Type
	if !fn.Void {
		t, err := c.typeOf(ast, fn.FunctionType)
		if err != nil {
			return nil, fmt.Errorf("return type: %w", err)
		}
		res.fields = append(res.fields, &fieldDesc{id: 0, name: "success", typ: t, req: reqOptional})
		out = c.generic(t)
	}
	for _, x := range fn.Throws {
		f, err := c.field(ast, x)
		if err != nil {
			return nil, fmt.Errorf("exception %s: %w", x.Name, err)
		}
		if f.typ.kind != kStruct {
			return nil, fmt.Errorf("exception %s: want an exception type, got %s", x.Name, f.typ.describe())
		}
		f.req = reqOptional
		res.fields = append(res.fields, f)
	}
	res.index()
	m.result = res
	m.schema = &generic.MethodSchema{Name: fn.Name, Input: c.genericStruct(args), Output: out, Oneway: fn.Oneway}
	if fn.Oneway && !fn.Void {
		return nil, errors.New("a oneway function must return void")
	}
	return m, nil
}

func (c *compiler) field(ast *parser.Thrift, pf *parser.Field) (*fieldDesc, error) {
	t, err := c.typeOf(ast, pf.Type)
	if err != nil {
		return nil, err
	}
	if pf.ID < -32768 || pf.ID > 32767 {
		return nil, fmt.Errorf("field id %d is out of range", pf.ID)
	}
	f := &fieldDesc{id: int16(pf.ID), name: pf.Name, typ: t}
	switch pf.Requiredness {
	case parser.FieldType_Required:
		f.req = reqRequired
	case parser.FieldType_Optional:
		f.req = reqOptional
	}
	if pf.Default != nil {
		j, err := c.constJSON(ast, pf.Default, t, 0)
		if err != nil {
			return nil, fmt.Errorf("default of %s: %w", pf.Name, err)
		}
		if err := checkDefault(t, j); err != nil {
			return nil, fmt.Errorf("default of %s: %w", pf.Name, err)
		}
		f.def = j
		f.defText = string(j)
		if s, err := strconv.Unquote(f.defText); err == nil {
			f.defText = s
		}
	}
	return f, nil
}

// typeOf compiles a parser type, following typedefs across files.
func (c *compiler) typeOf(ast *parser.Thrift, pt *parser.Type) (*ttype, error) {
	ast, pt, err := semantic.Deref(ast, pt)
	if err != nil {
		return nil, err
	}
	if c.uuids[pt] {
		return &ttype{kind: kUUID, wire: thrift.UUID, name: "uuid"}, nil
	}
	switch pt.Category {
	case parser.Category_Bool:
		return &ttype{kind: kBool, wire: thrift.BOOL, name: "bool"}, nil
	case parser.Category_Byte:
		return &ttype{kind: kByte, wire: thrift.BYTE, name: "i8"}, nil
	case parser.Category_I16:
		return &ttype{kind: kI16, wire: thrift.I16, name: "i16"}, nil
	case parser.Category_I32:
		return &ttype{kind: kI32, wire: thrift.I32, name: "i32"}, nil
	case parser.Category_I64:
		return &ttype{kind: kI64, wire: thrift.I64, name: "i64"}, nil
	case parser.Category_Double:
		return &ttype{kind: kDouble, wire: thrift.DOUBLE, name: "double"}, nil
	case parser.Category_String:
		return &ttype{kind: kString, wire: thrift.STRING, name: "string"}, nil
	case parser.Category_Binary:
		return &ttype{kind: kBinary, wire: thrift.STRING, name: "binary"}, nil
	case parser.Category_List, parser.Category_Set:
		e, err := c.typeOf(ast, pt.ValueType)
		if err != nil {
			return nil, err
		}
		if pt.Category == parser.Category_List {
			return &ttype{kind: kList, wire: thrift.LIST, elem: e}, nil
		}
		return &ttype{kind: kSet, wire: thrift.SET, elem: e}, nil
	case parser.Category_Map:
		k, err := c.typeOf(ast, pt.KeyType)
		if err != nil {
			return nil, err
		}
		v, err := c.typeOf(ast, pt.ValueType)
		if err != nil {
			return nil, err
		}
		return &ttype{kind: kMap, wire: thrift.MAP, key: k, elem: v}, nil
	case parser.Category_Enum:
		e, ok := ast.GetEnum(pt.Name)
		if !ok {
			return nil, fmt.Errorf("enum %q not found in %s", pt.Name, ast.Filename)
		}
		return &ttype{kind: kEnum, wire: thrift.I32, name: e.Name, enum: c.enum(e)}, nil
	case parser.Category_Struct, parser.Category_Union, parser.Category_Exception:
		sl := structLike(ast, pt.Name)
		if sl == nil {
			return nil, fmt.Errorf("type %q not found in %s", pt.Name, ast.Filename)
		}
		sd, err := c.structOf(ast, sl)
		if err != nil {
			return nil, err
		}
		return &ttype{kind: kStruct, wire: thrift.STRUCT, name: sd.name, st: sd}, nil
	}
	return nil, fmt.Errorf("type %q (%v) is not supported", pt.Name, pt.Category)
}

func structLike(ast *parser.Thrift, name string) *parser.StructLike {
	if s, ok := ast.GetStruct(name); ok {
		return s
	}
	if s, ok := ast.GetUnion(name); ok {
		return s
	}
	if s, ok := ast.GetException(name); ok {
		return s
	}
	return nil
}

func (c *compiler) structOf(ast *parser.Thrift, sl *parser.StructLike) (*structDesc, error) {
	if sd, ok := c.structs[sl]; ok {
		return sd, nil // also ends recursion for self-referencing types
	}
	sd := &structDesc{name: sl.Name, category: sl.Category}
	c.structs[sl] = sd
	for _, pf := range sl.Fields {
		f, err := c.field(ast, pf)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", sl.Name, pf.Name, err)
		}
		if sd.isUnion() {
			f.req = reqOptional
		}
		sd.fields = append(sd.fields, f)
	}
	sd.index()
	return sd, nil
}

func (c *compiler) enum(e *parser.Enum) *enumDesc {
	if d, ok := c.enums[e]; ok {
		return d
	}
	d := &enumDesc{name: e.Name, byName: map[string]int32{}, byValue: map[int32]string{}}
	for _, v := range e.Values {
		d.byName[v.Name] = int32(v.Value)
		if _, dup := d.byValue[int32(v.Value)]; !dup {
			d.byValue[int32(v.Value)] = v.Name
		}
		d.values = append(d.values, generic.EnumValue{Name: v.Name, Number: v.Value})
	}
	c.enums[e] = d
	return d
}

// constJSON renders an IDL constant as JSON for type t.
func (c *compiler) constJSON(ast *parser.Thrift, v *parser.ConstValue, t *ttype, depth int) ([]byte, error) {
	if depth > 32 {
		return nil, errors.New("constant nests too deep")
	}
	tv := v.TypedValue
	switch v.Type {
	case parser.ConstType_ConstInt:
		switch t.kind {
		case kBool:
			return strconv.AppendBool(nil, *tv.Int != 0), nil
		case kEnum:
			if name, ok := t.enum.byValue[int32(*tv.Int)]; ok {
				return json.Marshal(name)
			}
		}
		return strconv.AppendInt(nil, *tv.Int, 10), nil
	case parser.ConstType_ConstDouble:
		return json.Marshal(*tv.Double)
	case parser.ConstType_ConstLiteral:
		if t.kind == kBinary {
			return json.Marshal(base64.StdEncoding.EncodeToString([]byte(*tv.Literal)))
		}
		return json.Marshal(*tv.Literal)
	case parser.ConstType_ConstIdentifier:
		id := *tv.Identifier
		if id == "true" || id == "false" {
			return []byte(id), nil
		}
		x := v.Extra
		if x == nil {
			return nil, fmt.Errorf("unresolved identifier %q", id)
		}
		where := ast
		if x.Index >= 0 && int(x.Index) < len(ast.Includes) {
			where = ast.Includes[x.Index].Reference
		}
		if x.IsEnum {
			return json.Marshal(x.Name)
		}
		k, ok := where.GetConstant(x.Name)
		if !ok {
			return nil, fmt.Errorf("constant %q not found", id)
		}
		return c.constJSON(where, k.Value, t, depth+1)
	case parser.ConstType_ConstList:
		if t.kind != kList && t.kind != kSet {
			return nil, fmt.Errorf("a list cannot initialise %s", t.describe())
		}
		b := []byte{'['}
		for i, e := range tv.List {
			if i > 0 {
				b = append(b, ',')
			}
			j, err := c.constJSON(ast, e, t.elem, depth+1)
			if err != nil {
				return nil, err
			}
			b = append(b, j...)
		}
		return append(b, ']'), nil
	case parser.ConstType_ConstMap:
		b := []byte{'{'}
		for i, e := range tv.Map {
			if i > 0 {
				b = append(b, ',')
			}
			var kt, vt *ttype
			switch t.kind {
			case kMap:
				kt, vt = t.key, t.elem
			case kStruct:
				if e.Key.Type != parser.ConstType_ConstLiteral {
					return nil, errors.New("struct constant keys must be field names")
				}
				f := t.st.byName[*e.Key.TypedValue.Literal]
				if f == nil {
					return nil, fmt.Errorf("%s has no field %q", t.st.name, *e.Key.TypedValue.Literal)
				}
				kt, vt = &ttype{kind: kString, name: "string"}, f.typ
			default:
				return nil, fmt.Errorf("a map cannot initialise %s", t.describe())
			}
			kj, err := c.constJSON(ast, e.Key, kt, depth+1)
			if err != nil {
				return nil, err
			}
			if len(kj) == 0 || kj[0] != '"' {
				kj, _ = json.Marshal(string(kj))
			}
			vj, err := c.constJSON(ast, e.Value, vt, depth+1)
			if err != nil {
				return nil, err
			}
			b = append(append(append(b, kj...), ':'), vj...)
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("unsupported constant %s", v.String())
}

// generic converts a compiled type to the protocol-neutral schema type.
func (c *compiler) generic(t *ttype) *generic.Type {
	switch t.kind {
	case kBool:
		return &generic.Type{Kind: generic.KindBool}
	case kByte:
		return &generic.Type{Kind: generic.KindInt8}
	case kI16:
		return &generic.Type{Kind: generic.KindInt16}
	case kI32:
		return &generic.Type{Kind: generic.KindInt32}
	case kI64:
		return &generic.Type{Kind: generic.KindInt64}
	case kDouble:
		return &generic.Type{Kind: generic.KindFloat64}
	case kString:
		return &generic.Type{Kind: generic.KindString}
	case kBinary:
		return &generic.Type{Kind: generic.KindBytes}
	case kUUID:
		return &generic.Type{Kind: generic.KindString}
	case kEnum:
		return &generic.Type{Kind: generic.KindEnum, Name: t.enum.name, Enum: t.enum.values}
	case kList:
		return &generic.Type{Kind: generic.KindList, Elem: c.generic(t.elem)}
	case kSet:
		return &generic.Type{Kind: generic.KindSet, Elem: c.generic(t.elem)}
	case kMap:
		return &generic.Type{Kind: generic.KindMap, Key: c.generic(t.key), Elem: c.generic(t.elem)}
	case kStruct:
		return c.genericStruct(t.st)
	}
	return &generic.Type{Kind: generic.KindAny}
}

func (c *compiler) genericStruct(sd *structDesc) *generic.Type {
	if g, ok := c.gtypes[sd]; ok {
		return g
	}
	g := &generic.Type{Kind: generic.KindMessage, Name: sd.name}
	c.gtypes[sd] = g
	for _, f := range sd.fields {
		g.Fields = append(g.Fields, &generic.Field{
			Name: f.name, Tag: int32(f.id), Type: c.generic(f.typ),
			Required: f.req == reqRequired, Default: f.defText,
		})
	}
	return g
}
