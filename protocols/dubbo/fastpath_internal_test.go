package dubbo

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	hessian "github.com/apache/dubbo-go-hessian2"

	"github.com/rpcbridge/rpcbridge/generic"
)

// createUserReply is a dubbo-go provider's reply to createUser, as read
// off the wire: a generalised POJO (a map with "class"), then the
// attachments.
var createUserReply = []byte("\x94H\x02id\xfc\x06\x04name\x03ann\x03age\xae\x04tagsX\x92\x01x\x01y\aaddressH\x05class\x1aorg.rpcbridge.test.Address\x04city\x04Oslo\x03zip\x040150Z\x05class\x17org.rpcbridge.test.UserZ" +
	"H\x04path\x1forg.rpcbridge.test.TypesService\atimeout\x043000\ageneric\x04true\vremote-addr\x0f127.0.0.1:48092\tinterface\x1forg.rpcbridge.test.TypesService\aversion\x051.0.0\nlocal-addr\x0f127.0.0.1:465070+dubbo-go-graceful-shutdown-provider-countedT\x05dubbo\x052.0.2ZN")

// replySeeds are reply bodies of many shapes: what hessian2 writes for Go
// values (maps, lists, typed arrays, strings of every width, dates,
// binaries), Java-style objects with class definitions, enums, and
// exceptions.
func replySeeds(large bool) [][]byte {
	var out [][]byte
	add := func(kind int32, vals ...any) {
		enc := hessian.NewEncoder()
		_ = enc.Encode(kind)
		for _, v := range vals {
			_ = enc.Encode(v)
		}
		out = append(out, enc.Buffer())
	}
	att := map[any]any{"dubbo": "2.0.2", "x-trace": "abc", "X-Count": int32(7), "big": int64(1) << 60,
		"ok": true, "ratio": 1.5, "nan": nil, "list": []any{"a"}, "when": time.UnixMilli(1)}
	vals := []any{
		int64(42), int32(-7), int64(1) << 60, 2.5, 1e300, -0.001, true, nil, "héllo \"w\" <&> \u2028 😀 \x01", []byte{1, 2, 3},
		time.UnixMilli(1700000000123).UTC(), []any{int32(1), "two", nil, 2.5, []any{}},
		[]int32{1, 2, 3}, []string{"a", "b"}, []int64{1 << 40},
		map[any]any{"b": int32(1), "a": "x", "c": map[any]any{"z": nil, "y": []any{"q"}}},
		map[any]any{"class": "org.example.User", "name": "ann", "id": int64(1)},
		map[any]any{"class": int32(3), "k": "v"},
		map[any]any{"_class": "org.example.X", "name": "RED"},
		map[any]any{"class": "java.math.BigDecimal", "value": "1.5"},
		map[any]any{int32(1): "one"},
		map[any]any{"": "empty", "é": 1.0, "<": "lt"},
	}
	if large {
		// Strings and binaries of several chunks.
		vals = append(vals, strings.Repeat("x", 70000), strings.Repeat("ü", 40000), strings.Repeat("😀", 20000), bytes.Repeat([]byte{7}, 70000))
	}
	for _, v := range vals {
		add(responseValueWithAttachments, v, att)
		add(responseValue, v)
	}
	add(responseNullValueWithAttachments, att)
	add(responseNullValue)
	out = append(out, createUserReply)
	// Java's Hessian2Output: objects with class definitions, reused.
	o := newJavaOut()
	o.int(responseValueWithAttachments)
	o.b = append(o.b, 0x7a) // an untyped list of two
	o.object("org.example.User", "name", "age", "address", "class")
	o.str("ann")
	o.int(30)
	o.object("org.example.Address", "zip", "city")
	o.str("0150")
	o.str("Oslo")
	o.str("ignored")
	o.object("org.example.User", "name", "age", "address", "class")
	o.str("bob")
	o.int(2)
	o.null()
	o.null()
	o.b = append(o.b, 'H')
	o.str("x-trace")
	o.str("t1")
	o.b = append(o.b, 'Z')
	out = append(out, o.b)
	// An enum constant, and one whose name is not a string.
	for _, name := range []func(*javaOut){func(o *javaOut) { o.str("RED") }, func(o *javaOut) { o.int(1) }} {
		o := newJavaOut()
		o.int(responseValue)
		o.object("org.example.Color", "name")
		name(o)
		out = append(out, o.b)
	}
	// Objects that are not plain: repeated fields, "_class", no class
	// name, BigDecimal, a back reference.
	for _, fields := range [][]string{{"a", "a"}, {"_class", "a"}, {"class", "a"}} {
		o := newJavaOut()
		o.int(responseValue)
		o.object("org.example.Odd", fields...)
		o.str("1")
		o.str("2")
		out = append(out, o.b)
	}
	o = newJavaOut()
	o.int(responseValue)
	o.b = append(o.b, 0x7a)
	o.object("org.example.Node", "v")
	o.int(1)
	o.ref(1)
	out = append(out, o.b)
	out = append(out, JavaBizExceptionReply(true), JavaBizExceptionReply(false))
	return out
}

var fuzzNames = []string{"x-trace", "X-Count", "big", "ok", "ratio", "nan", "list", "when", "dubbo", "path", "Remote-Addr"}

// decodeReplyWith writes exactly what decodeReplyTree writes, and exposes
// the same attachments: for every seed, both ways of keeping classes.
func TestReplyWriterMatchesTree(t *testing.T) {
	fast := 0
	for i, b := range replySeeds(true) {
		for _, keep := range []bool{false, true} {
			if compareReplyDecoders(t, b, keep, fuzzNames) {
				fast++
			}
		}
		if t.Failed() {
			t.Fatalf("seed %d: % x", i, b)
		}
	}
	if fast < 40 {
		t.Errorf("the fast writer wrote %d of the seeds, want most", fast)
	}
}

// compareReplyDecoders fails t when decodeReplyWith and decodeReplyTree
// disagree on b; it reports whether the fast writer wrote the value.
func compareReplyDecoders(t *testing.T, b []byte, keep bool, names []string) bool {
	t.Helper()
	var w replyWriter
	out, meta, ex, err := decodeReplyWith(&w, b, keep, names)
	tout, tmeta, tex, terr := decodeReplyTree(b, keep, names)
	if !bytes.Equal(out, tout) || !reflect.DeepEqual(meta, tmeta) || (err == nil) != (terr == nil) || (ex == nil) != (tex == nil) ||
		err != nil && err.Error() != terr.Error() || ex != nil && ex.Error() != tex.Error() {
		t.Errorf("keepClass %v: got %s %v %v %v, want %s %v %v %v as hessianReader gives", keep, out, meta, ex, err, tout, tmeta, tex, terr)
	}
	if err == nil && ex == nil && !json.Valid(out) {
		t.Errorf("keepClass %v: invalid JSON %q", keep, out)
	}
	w.reset(b, keep)
	k, ok := w.replyKind()
	if !ok || k != responseValue && k != responseValueWithAttachments {
		return ok && (k == responseNullValue || k == responseNullValueWithAttachments)
	}
	_, ok = w.value(1)
	return ok
}

// The createUser reply is written by the fast writer, attachments
// included, without allocating.
func TestCreateUserReplyTakesTheFastPath(t *testing.T) {
	var w replyWriter
	names := []string{"local-addr", "Dubbo", "absent"}
	out, meta, ex, err := decodeReplyWith(&w, createUserReply, false, names)
	want := `{"address":{"city":"Oslo","zip":"0150"},"age":30,"id":1030,"name":"ann","tags":["x","y"]}`
	if err != nil || ex != nil || string(out) != want {
		t.Fatalf("got %s %v %v, want %s", out, ex, err, want)
	}
	if !reflect.DeepEqual(meta, map[string]string{"local-addr": "127.0.0.1:46507", "Dubbo": "2.0.2"}) {
		t.Fatalf("got attachments %v", meta)
	}
	if !compareReplyDecoders(t, createUserReply, false, names) || !compareReplyDecoders(t, createUserReply, true, names) {
		t.Fatalf("the fast writer gave up on the createUser reply")
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = decodeReplyWith(&w, createUserReply, false, nil) }); n > 1 {
		t.Errorf("decoding the createUser reply allocates %v times, want 1 (the JSON)", n)
	}
}

// FuzzReplyWriterMatchesTree: on any reply body, the direct engine's
// fast reply writer (with its fallback) gives exactly what hessianReader,
// plainValue and appendJSON give: the same JSON, the same exception or
// error, the same exposed attachments.
func FuzzReplyWriterMatchesTree(f *testing.F) {
	for _, b := range replySeeds(false) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, keep := range []bool{false, true} {
			compareReplyDecoders(t, b, keep, fuzzNames)
		}
	})
}

// oldHessianString is hessianWriter.string as it was before it took byte
// slices: the reference for appendHessianString.
func oldHessianString(s string) []byte {
	var b []byte
	if len(s) < 32 && isASCII(s) {
		b = append(b, byte(len(s)))
		return append(b, s...)
	}
	for {
		units, end := 0, 0
		for end < len(s) && units < 0x7fff {
			r, size := utf8.DecodeRuneInString(s[end:])
			if r >= 0x10000 {
				units += 2
			} else {
				units++
			}
			end += size
		}
		final := end == len(s)
		switch {
		case !final:
			b = append(b, 'R', byte(units>>8), byte(units))
		case units < 32:
			b = append(b, byte(units))
		case units < 1024:
			b = append(b, byte(0x30+units>>8), byte(units))
		default:
			b = append(b, 'S', byte(units>>8), byte(units))
		}
		for _, r := range s[:end] {
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				b = appendSurrogate(appendSurrogate(b, r1), r2)
				continue
			}
			b = utf8.AppendRune(b, r)
		}
		if final {
			return b
		}
		s = s[end:]
	}
}

// The Hessian string writer writes strings and byte slices alike, as it
// always wrote strings; the fast reply writer's string reader reads any
// string back as hessianReader does.
func FuzzHessianStrings(f *testing.F) {
	for _, s := range []string{"", "abc", "héllo", "😀x", "\xff", "\xed\xa0\x80\xed\xb0\x80", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(checkHessianString)
}

// Strings of several chunks, split inside a surrogate pair or not.
func TestHessianStringsOfSeveralChunks(t *testing.T) {
	for _, s := range []string{strings.Repeat("😀", 20000), strings.Repeat("a", 0x7ffe) + "😀" + "b", strings.Repeat("a", 40000) + "é", strings.Repeat("\xff", 0x8001)} {
		checkHessianString(t, s)
	}
}

func checkHessianString(t *testing.T, s string) {
	want := oldHessianString(s)
	if got := appendHessianString(nil, s); !bytes.Equal(got, want) {
		t.Fatalf("%q: got % x, want % x", s, got, want)
	}
	if got := appendHessianString(nil, []byte(s)); !bytes.Equal(got, want) {
		t.Fatalf("%q as bytes: got % x, want % x", s, got, want)
	}
	// Read back, and read the raw input as a string body too.
	for _, in := range [][]byte{want, append([]byte{byte(min(len(s), 31))}, s...)} {
		r := hessianReader{b: in}
		rs, rerr := r.string()
		w := replyWriter{b: in}
		tag, _ := w.byte()
		var ws []byte
		ok := tag == 'N' || isStringTag(tag)
		if ok && tag != 'N' {
			ws, ok = w.appendString(nil, tag)
		}
		if (rerr == nil) != ok || rerr == nil && (rs != string(ws) || r.pos != w.pos) {
			t.Fatalf("% x: replyWriter read %q (%v) to %d, hessianReader %q (%v) to %d", in, ws, ok, w.pos, rs, rerr, r.pos)
		}
	}
}

// Every type toHessian's switch names is classified by argKindOf as
// something other than a POJO, so that writeFast streams exactly the
// types toHessian hands to toPOJO.
func TestArgKindOfCoversToHessian(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "convert.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(file, func(n ast.Node) bool {
		fd, ok := n.(*ast.FuncDecl)
		if !ok || fd.Name.Name != "toHessian" {
			return true
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok {
				return true
			}
			if id, ok := sw.Tag.(*ast.Ident); !ok || id.Name != "base" {
				return true
			}
			for _, st := range sw.Body.List {
				for _, e := range st.(*ast.CaseClause).List {
					if lit, ok := e.(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						names = append(names, s)
					}
				}
			}
			return false
		})
		return false
	})
	if len(names) < 30 {
		t.Fatalf("found %d type names in toHessian's switch, want them all", len(names))
	}
	for _, n := range names {
		if k, _ := argKindOf(n); k == argPOJO {
			t.Errorf("argKindOf(%q) is argPOJO; toHessian does not convert it as a POJO", n)
		}
	}
	for _, n := range []string{"org.example.User", "org.example.Box<java.lang.Long>", "com.Foo"} {
		if k, base := argKindOf(n); k != argPOJO || base != strings.Split(n, "<")[0] {
			t.Errorf("argKindOf(%q) = %d %q, want a POJO", n, k, base)
		}
	}
}

// argTypes are the parameter types FuzzWriteFastMatchesGeneral calls
// with: every kind writeFast writes itself, and some it leaves to
// toHessian.
var argTypes = []string{"org.example.User", "java.lang.Object", "long", "java.lang.Integer", "short", "byte", "double",
	"float", "boolean", "java.lang.String", "java.util.List<java.lang.Long>", "java.util.Map<java.lang.String, java.lang.Object>",
	"java.math.BigDecimal", "int[]", "org.example.Color", "java.util.Date", "java.lang.Long"}

// requestValues reads a request body's values (after the frame header)
// as plain values: maps compare whatever their order on the wire.
func requestValues(t *testing.T, frame []byte) []any {
	t.Helper()
	r := hessianReader{b: frame[frameHeaderLen:]}
	var out []any
	for r.pos < len(r.b) {
		v, err := r.read()
		if err != nil {
			t.Fatalf("request % x does not read back: %v", frame, err)
		}
		out = append(out, plainValue(v, map[any]bool{}))
	}
	return out
}

// checkWriteFast fails t when writeFast writes a request that differs
// from the general path's, or one the general path refuses.
func checkWriteFast(t *testing.T, p *Protocol, call *generic.Call) bool {
	t.Helper()
	s := &callScratch{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	fw := hessianWriter{}
	_, ok := p.writeFast(ctx, &fw, s, p.o.Interface, call)
	types, args, _, err := p.prepare(ctx, call)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s %s: writeFast wrote a request the general path refuses: %v", call.Method, call.Body, err)
	}
	gw := hessianWriter{}
	if err := p.writeRequest(&gw, 0, p.o.Interface, call, types, args, time.Hour); err != nil {
		t.Fatalf("%s %s: writeFast wrote a request the general path cannot write: %v", call.Method, call.Body, err)
	}
	// The timeouts differ by the time between the two: compare the rest.
	got, want := requestValues(t, fw.b), requestValues(t, gw.b)
	for _, vs := range [][]any{got, want} {
		if m, ok := vs[len(vs)-1].(map[any]any); ok {
			delete(m, "timeout")
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %s: writeFast wrote %#v, the general path %#v", call.Method, call.Body, got, want)
	}
	return true
}

func fastProtocol(t testing.TB, types ...string) *Protocol {
	m := Method{}
	for i, ty := range types {
		m.Params = append(m.Params, Param{Name: "p" + strconv.Itoa(i), Type: ty})
	}
	p, err := New(Options{Interface: "org.example.S", Version: "1.0.0", Methods: map[string]Method{"m": m}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeFast writes what the general path writes, for the calls it takes.
func TestWriteFastMatchesGeneral(t *testing.T) {
	cases := []struct {
		types []string
		body  string
		fast  bool
	}{
		{[]string{"org.example.User"}, `{"p0": {"name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "_class": 1}}}`, true},
		{[]string{"org.example.User"}, `{"name": "ann", "class": "x.Y", "big": 4294967296, "f": 1.5, "n": null, "t": true, "e": "\u00e9\ud83d\ude00"}`, true},
		{[]string{"org.example.User"}, `{"p0": {"deep": [[[{"a": [1e3, -0.0, 12345678901234567890]}]]]}}`, true},
		{[]string{"org.example.Color"}, `{"p0": "RED"}`, true},
		{[]string{"org.example.User"}, `{"p0": null}`, true},
		{[]string{"org.example.User"}, `{"p0": 5}`, false},
		{[]string{"long", "java.lang.String"}, `{"p0": 42, "p1": "x"}`, true},
		{[]string{"long", "java.lang.String"}, `{"arg0": -9223372036854775808, "arg1": "y\n"}`, true},
		{[]string{"long"}, `42`, true},
		{[]string{"long"}, `"42"`, true},
		{[]string{"long"}, `{"p0": 1.0}`, true},
		{[]string{"long"}, `{"p0": 9223372036854775808}`, false},
		{[]string{"int", "short", "byte"}, `{"p0": 2147483647, "p1": -32768, "p2": 127}`, true},
		{[]string{"byte"}, `{"p0": 128}`, false},
		{[]string{"double", "float", "boolean"}, `{"p0": 1e300, "p1": 1.1, "p2": false}`, true},
		{[]string{"float"}, `{"p0": 1e39}`, false},
		{[]string{"java.lang.Object"}, `{"p0": [1, "two", 2.5, false, null, {"a": [1]}, 4294967296, 1e400]}`, false},
		{[]string{"java.lang.Object"}, `{"p0": [1, "two", 2.5, false, null, {"a": [1]}, 4294967296]}`, true},
		{[]string{"java.util.List<java.lang.Long>", "int[]"}, `{"p0": [1, "2"], "p1": [3]}`, true},
		{[]string{"java.math.BigDecimal", "java.util.Date"}, `{"p0": "1.5", "p1": 0}`, true},
		{[]string{}, ``, true},
		{[]string{}, `{}`, true},
		{[]string{}, `{"x": 1}`, false},
		{[]string{"long"}, `{"p0": 1, "x": 2}`, false},
		{[]string{"long"}, `{"p0": 1, "p0": 2}`, false},
		{[]string{"long"}, `{"p\u0030": 1}`, false},
		{[]string{"long"}, `[1`, false},
	}
	for _, tc := range cases {
		p := fastProtocol(t, tc.types...)
		if got := checkWriteFast(t, p, &generic.Call{Method: "m", Body: []byte(tc.body)}); got != tc.fast {
			t.Errorf("%v %s: writeFast took it: %v, want %v", tc.types, tc.body, got, tc.fast)
		}
	}
}

// FuzzWriteFastMatchesGeneral: for any body and parameter types,
// writeFast writes nothing the general path refuses, and what it writes
// reads back as the general path's request.
func FuzzWriteFastMatchesGeneral(f *testing.F) {
	f.Add(`{"p0": {"name": "ann", "age": 3, "tags": ["x"], "address": {"city": "Oslo"}}}`, uint8(0), uint8(2))
	f.Add(`{"p0": 42, "p1": "x"}`, uint8(2), uint8(9))
	f.Add(`{"arg0": [1, 2.5, "x", null, true, {"_class": "q"}]}`, uint8(1), uint8(0))
	f.Add(`"RED"`, uint8(14), uint8(14))
	f.Add(`{"p0": 1.5, "p1": 1e39}`, uint8(6), uint8(7))
	f.Fuzz(func(t *testing.T, body string, t0, t1 uint8) {
		for _, types := range [][]string{{argTypes[int(t0)%len(argTypes)]}, {argTypes[int(t0)%len(argTypes)], argTypes[int(t1)%len(argTypes)]}} {
			checkWriteFast(t, fastProtocol(t, types...), &generic.Call{Method: "m", Body: []byte(body)})
		}
	})
}

// BenchmarkReplyDecode decodes the createUser reply (no network, no
// provider): the fast writer the direct engine uses, and hessianReader
// with plainValue and appendJSON, which it falls back to.
func BenchmarkReplyDecode(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		var w replyWriter
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := decodeReplyWith(&w, createUserReply, false, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tree", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := decodeReplyTree(createUserReply, false, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRequestWrite writes the createUser request (no network):
// writeFast, and the general path (prepare, writeRequest).
func BenchmarkRequestWrite(b *testing.B) {
	p := fastProtocol(b, "org.example.User")
	call := &generic.Call{Method: "m", Body: []byte(`{"p0": {"name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "zip": "0150"}}}`)}
	ctx := context.Background()
	s := &callScratch{}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := hessianWriter{b: s.b[:0], classes: s.classes[:0]}
			if _, ok := p.writeFast(ctx, &w, s, p.o.Interface, call); !ok {
				b.Fatal("writeFast did not write it")
			}
			s.b, s.classes = w.b, w.classes
		}
	})
	b.Run("general", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			types, args, timeout, err := p.prepare(ctx, call)
			if err != nil {
				b.Fatal(err)
			}
			w := hessianWriter{b: s.b[:0], classes: s.classes[:0]}
			if err := p.writeRequest(&w, 0, p.o.Interface, call, types, args, timeout); err != nil {
				b.Fatal(err)
			}
			s.b, s.classes = w.b, w.classes
		}
	})
}
