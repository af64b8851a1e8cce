package idl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadResolvesIncludesModulesAndDefaults(t *testing.T) {
	prog, err := Load("../../../testdata/tars/Test.tars", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog.Files) != 2 || len(prog.Modules) != 2 || prog.Modules[0].Name != "Common" {
		t.Fatalf("got %d files, modules %v, want 2 files and modules Common, Test", len(prog.Files), prog.Modules)
	}
	common := prog.Module("Common")
	var vals []string
	for _, v := range common.Enums[0].Values {
		vals = append(vals, v.Name+"="+formatInt(v.Value))
	}
	if got, want := strings.Join(vals, ","), "RED=0,GREEN=5,BLUE=6"; got != want {
		t.Fatalf("enum Color: got %s, want %s", got, want)
	}
	pt := common.Structs[0]
	if d := pt.Fields[1].Default; d == nil || d.Kind != IntValue || d.Int != 7 {
		t.Fatalf("Point.y default: got %+v, want 7", d)
	}
	if d := pt.Fields[3].Default; d == nil || d.Kind != IdentValue || d.Str != "GREEN" || d.Int != 5 {
		t.Fatalf("Point.color default: got %+v, want GREEN (5)", d)
	}
	if d := pt.Fields[4].Default; d == nil || d.Kind != IntValue || d.Int != 10 {
		t.Fatalf("Point.limit default (const DEFAULT_LIMIT): got %+v, want 10", d)
	}
	if !pt.Fields[0].Require || pt.Fields[1].Require {
		t.Fatalf("got x require %v, y require %v, want true, false", pt.Fields[0].Require, pt.Fields[1].Require)
	}
	if k := common.Keys; len(k) != 1 || k[0].Struct != "Point" || k[0].Fields[0] != "x" {
		t.Fatalf("key: got %+v, want key[Point, x]", k)
	}
	it, err := prog.Interface("Test.Echo")
	if err != nil {
		t.Fatal(err)
	}
	if it2, _ := prog.Interface("Test::Echo"); it2 != it {
		t.Fatalf("Test::Echo: got %v, want the same interface as Test.Echo", it2)
	}
	split := it.Method("split")
	var params []string
	for _, p := range split.Params {
		s := p.Type.String() + " " + p.Name
		if p.Out {
			s = "out " + s
		}
		params = append(params, s)
	}
	if got, want := strings.Join(params, ", "), "long v, out int hi, out int lo"; got != want || split.Return.String() != "int" {
		t.Fatalf("split: got %s %s, want int %s", split.Return, got, want)
	}
	if it.Method("ping").Return != nil {
		t.Fatalf("ping: got a return type, want void")
	}
	all := prog.Module("Test").Structs[1]
	want := map[string]string{
		"ub": "unsigned byte", "ui": "unsigned int", "bin": "vector<byte>",
		"lmap": "map<long, Common::Point>", "grid": "vector<vector<int>>", "color": "Common::Color",
		"inner": "Test::Inner",
	}
	for _, f := range all.Fields {
		if w, ok := want[f.Name]; ok && f.Type.String() != w {
			t.Errorf("All.%s: got type %s, want %s", f.Name, f.Type, w)
		}
	}
	if all.Fields[16].Type.Elem.Struct != pt {
		t.Fatalf("All.lmap value: got %+v, want resolved Common::Point", all.Fields[16].Type.Elem)
	}
}

func formatInt(v int64) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func TestParseAcceptsCommentsAndSyntaxVariants(t *testing.T) {
	src := `// line comment
/* block
   comment */
module M {
    enum E { A = -2, B, C = 0x10, D = A };
    const string S = "a\"b\n";
    const double PI = 3.14;
    const bool T = true;
    struct X {
        0 require map<string, vector<map<int, string>>> m;
        1 optional float f = 1.5f;
        2 optional E e = E::B;
        3 optional bool flag = T;
        4 optional string s = S;
    };
    interface I { void f(routekey string k, out X x); X g(); };
};`
	f, err := Parse("v.tars", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Resolve([]*File{f})
	if err != nil {
		t.Fatal(err)
	}
	e := prog.Module("M").Enums[0]
	var got []string
	for _, v := range e.Values {
		got = append(got, v.Name+"="+formatInt(v.Value))
	}
	if g, w := strings.Join(got, ","), "A=-2,B=-1,C=16,D=-2"; g != w {
		t.Fatalf("enum E: got %s, want %s", g, w)
	}
	x := prog.Module("M").Structs[0]
	if d := x.Fields[2].Default; d.Str != "B" || d.Int != -1 {
		t.Fatalf("X.e default: got %+v, want B (-1)", d)
	}
	if d := x.Fields[4].Default; d.Kind != StringValue || d.Str != "a\"b\n" {
		t.Fatalf("X.s default: got %+v, want the const's string", d)
	}
	if d := x.Fields[3].Default; d.Kind != BoolValue || !d.Bool {
		t.Fatalf("X.flag default: got %+v, want true", d)
	}
}

func TestErrorsCarryFileLineColumn(t *testing.T) {
	cases := []struct{ src, want string }{
		{"module M {\n  struct S {\n    0 require int x\n  };\n};", "e.tars:4:3: want \";\", got \"}\""},
		{"module M { struct S { 0 require Foo x; }; };", "e.tars:1:33: unknown type Foo"},
		{"module M { struct S { 0 require int x; 0 optional int y; }; };", "e.tars:1:40: struct S: tag 0 of field y is already used by field x"},
		{"module M { struct S { 300 require int x; }; };", "e.tars:1:23: struct S: field tag 300 is out of range 0..255"},
		{"module M { struct S { 0 maybe int x; }; };", "e.tars:1:25: struct S: want require or optional"},
		{"module M { struct S { 0 optional byte x = 300; }; };", "e.tars:1:43: field S.x: default 300 is out of range for byte"},
		{"module M { struct S { 0 optional string x = 1; }; };", "e.tars:1:45: field S.x: default value does not fit type string"},
		{"module M { enum E { A, A }; };", "e.tars:1:24: enum E: duplicate value name A"},
		{"module M { /* never closed ", "e.tars:1:12: unterminated block comment"},
		{"module M { const string s = \"abc\n\"; };", "e.tars:1:29: unterminated string"},
		{"module M { interface I { int f(int a, int a); }; };", "e.tars:1:43: method f: duplicate parameter a"},
		{"module M { interface I { int f(int a int b); }; };", "e.tars:1:38: method f: want \",\" or \")\""},
		{"module M { struct S { 0 optional unsigned long x; }; };", "e.tars:1:43: want byte, short or int after unsigned"},
		{"module M { struct S { 0 optional X::Y x; }; };", "e.tars:1:34: unknown module X in type X::Y"},
		{"module M { key[S, a]; };", "e.tars:1:12: key[S]: no struct S in module M"},
		{"module M { struct S {}; struct S {}; };", "e.tars:1:32: M::S is already declared at e.tars:1:19"},
		{"struct S {};", "e.tars:1:1: want module or #include, got \"struct\""},
		{"module M { $ };", "e.tars:1:12: unexpected character '$'"},
		{"#import \"x\"", "e.tars:1:1: unknown directive \"#import\""},
		{"module M {", "e.tars:1:11: module M: want \"}\", got end of file"},
		{"module M { struct S { 0 optional vector<int x; }; };", "e.tars:1:45: want \">\", got \"x\""},
	}
	for _, tc := range cases {
		f, err := Parse("e.tars", []byte(tc.src))
		if err == nil {
			_, err = Resolve([]*File{f})
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.tars", "#include \"b.tars\"\nmodule A { struct S { 0 require B::T t; }; };")
	write("b.tars", "#include \"a.tars\"\nmodule B { struct T { 0 require int x; }; };")
	prog, err := Load(a, nil)
	if err != nil {
		t.Fatalf("mutual includes: got %v, want success", err)
	}
	if prog.Module("A").Structs[0].Fields[0].Type.Struct.Name != "T" {
		t.Fatalf("A::S.t: got unresolved type, want B::T")
	}
	c := write("c.tars", "module C {};\n  #include \"nowhere.tars\"")
	_, err = Load(c, nil)
	if err == nil || !strings.Contains(err.Error(), "c.tars:2:3: included file \"nowhere.tars\" not found") {
		t.Fatalf("got %v, want c.tars:2:3: included file \"nowhere.tars\" not found", err)
	}
	inc := filepath.Join(dir, "inc")
	_ = os.Mkdir(inc, 0o755)
	_ = os.WriteFile(filepath.Join(inc, "d.tars"), []byte("module D { enum E { X }; };"), 0o644)
	e := write("e.tars", "#include \"d.tars\"\nmodule M { struct S { 0 optional D::E e = X; }; };")
	if _, err := Load(e, []string{inc}); err != nil {
		t.Fatalf("include dir: got %v, want success", err)
	}
}
