package generic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckJSONRules(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	var big strings.Builder
	big.WriteString("{")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&big, `"k%d":%d,`, i, i)
	}
	long := strings.Repeat("x", 70)
	for _, tc := range []struct {
		name  string
		in    string
		depth int
		want  string // "" for accepted
	}{
		{"empty", "", 0, ""},
		{"blank", " \t\r\n ", 0, ""},
		{"object", `{"id":1,"name":"Ada","tags":["a","b"],"n":null,"t":true,"f":false}`, 0, ""},
		{"scalar", `  -12.5e+3 `, 0, ""},
		{"string", `"x"`, 0, ""},
		{"pair", `{"s":"\ud83d\ude00 \u00e9 \u0000 \/"}`, 0, ""},
		{"same key in other objects", `{"a":{"a":1},"b":{"a":2},"c":[{"a":1},{"a":1}]}`, 0, ""},
		{"NUL after the value", "{\"id\":1}\x00garbage", 0, `invalid JSON at offset 8: NUL byte`},
		{"NUL first", "\x00{\"id\":1}", 0, `invalid JSON at offset 0: NUL byte`},
		{"NUL in a string", "{\"a\":\"x\x00\"}", 0, `invalid JSON at offset 7: NUL byte`},
		{"NUL in a literal", "{\"a\":tr\x00e}", 0, `invalid JSON at offset 7: NUL byte`},
		{"NUL escaped", "\"\\\x00\"", 0, `invalid JSON at offset 2: NUL byte`},
		{"NUL in a \\u escape", "\"\\u0\x0041\"", 0, `invalid JSON at offset 4: NUL byte`},
		{"NUL in a number", "[1.\x00]", 0, `invalid JSON at offset 3: NUL byte`},
		{"NUL after a key", "{\"a\"\x00:1}", 0, `invalid JSON at offset 4: NUL byte`},
		{"NUL between elements", "[1\x00,2]", 0, `invalid JSON at offset 2: NUL byte`},
		{"duplicate key", `{"a":1,"a":2}`, 0, `invalid JSON at offset 7: duplicate key "a"`},
		{"duplicate escaped key", `{"a":1,"\u0061":2}`, 0, `invalid JSON at offset 7: duplicate key "a"`},
		{"duplicate both escaped", `{"\u00e9":1,"b":2,"\u00E9":3}`, 0, `invalid JSON at offset 18: duplicate key "é"`},
		{"duplicate raw and escaped pair", `{"😀":1,"\ud83d\ude00":2}`, 0, `invalid JSON at offset 10: duplicate key "😀"`},
		{"duplicate nested", `{"x":{"b":1,"b":2}}`, 0, `invalid JSON at offset 12: duplicate key "b"`},
		{"duplicate long key", `{"` + long + `":1,"` + long + `":2}`, 0, `invalid JSON at offset 76: duplicate key "` + long[:64] + `"...`},
		{"big object", big.String() + `"z":1}`, 0, ""},
		{"big object duplicate", big.String() + `"k3":1}`, 0, fmt.Sprintf(`invalid JSON at offset %d: duplicate key "k3"`, big.Len())},
		{"big object escaped duplicate", big.String() + `"k\u0033":1}`, 0, fmt.Sprintf(`invalid JSON at offset %d: duplicate key "k3"`, big.Len())},
		{"invalid UTF-8 in a string", "{\"s\":\"\xff\"}", 0, `invalid JSON at offset 6: invalid UTF-8`},
		{"truncated UTF-8", "{\"s\":\"\xc3\"}", 0, `invalid JSON at offset 6: invalid UTF-8`},
		{"UTF-8 surrogate", "{\"s\":\"\xed\xa0\x80\"}", 0, `invalid JSON at offset 6: invalid UTF-8`},
		{"invalid UTF-8 outside", "{\"s\":1,\xff}", 0, `invalid JSON at offset 7: invalid UTF-8`},
		{"invalid UTF-8 after", "{}\xff", 0, `invalid JSON at offset 2: invalid UTF-8`},
		{"lone high surrogate", `{"s":"\ud800"}`, 0, `invalid JSON at offset 6: lone surrogate \ud800`},
		{"lone low surrogate", `{"s":"\udc00"}`, 0, `invalid JSON at offset 6: lone surrogate \udc00`},
		{"reversed pair", `{"s":"\ude00\ud83d"}`, 0, `invalid JSON at offset 6: lone surrogate \ude00`},
		{"high then non-low", `{"s":"\ud83d\u0041"}`, 0, `invalid JSON at offset 6: lone surrogate \ud83d`},
		{"depth 64 of 64", deep(64), 64, ""},
		{"depth 65 of 64", deep(65), 64, `invalid JSON at offset 64: nesting deeper than 64`},
		{"depth 65 of default", deep(65), 0, `invalid JSON at offset 64: nesting deeper than 64`},
		{"depth 3 of 2", `{"a":[{}]}`, 2, `invalid JSON at offset 6: nesting deeper than 2`},
		{"trailing data", `{"id":1} x`, 0, `invalid JSON at offset 9: unexpected data after the value`},
		{"two values", `1 2`, 0, `invalid JSON at offset 2: unexpected data after the value`},
		{"trailing comma in object", `{"a":1,}`, 0, `invalid JSON at offset 7: trailing comma`},
		{"trailing comma in array", `[1,]`, 0, `invalid JSON at offset 3: trailing comma`},
		{"leading zero", `{"a":01}`, 0, `invalid JSON at offset 5: leading zero in number`},
		{"bare minus", `-`, 0, `invalid JSON at offset 1: unexpected end of input, want a number`},
		{"no fraction digits", `1.`, 0, `invalid JSON at offset 2: unexpected end of input, want a digit`},
		{"no exponent digits", `1e+x`, 0, `invalid JSON at offset 3: unexpected character 'x', want a digit`},
		{"bad literal", `{"a":tru}`, 0, `invalid JSON at offset 8: unexpected character '}', want "true"`},
		{"raw tab in a string", "\"a\tb\"", 0, `invalid JSON at offset 2: control character '\t' in string`},
		{"bad escape", `"\x"`, 0, `invalid JSON at offset 1: invalid escape "\\x"`},
		{"short \\u", `"\u12"`, 0, `invalid JSON at offset 1: invalid \u escape`},
		{"unterminated string", `{"a":"b`, 0, `invalid JSON at offset 7: unterminated string`},
		{"unterminated object", `{"a":1`, 0, `invalid JSON at offset 6: unexpected end of input`},
		{"missing colon", `{"a" 1}`, 0, `invalid JSON at offset 5: unexpected character '1', want ':'`},
		{"key not a string", `{a:1}`, 0, `invalid JSON at offset 1: unexpected character 'a', want a string key`},
		{"missing comma", `[1 2]`, 0, `invalid JSON at offset 3: unexpected character '2', want ',' or ']'`},
		{"closer first", `]`, 0, `invalid JSON at offset 0: unexpected character ']', want a value`},
		{"byte order mark", "\xef\xbb\xbf{}", 0, `invalid JSON at offset 0: unexpected character '\ufeff', want a value`},
		{"single quotes", `{'a':1}`, 0, `invalid JSON at offset 1: unexpected character '\'', want a string key`},
	} {
		err := CheckJSON([]byte(tc.in), tc.depth)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: CheckJSON(%q): got %v want nil", tc.name, tc.in, err)
			}
			continue
		}
		var ge *Error
		if !errors.As(err, &ge) {
			t.Errorf("%s: CheckJSON(%q): got %v (%T) want *Error %q", tc.name, tc.in, err, err, tc.want)
			continue
		}
		if ge.Code != CodeInvalidArgument || ge.Message != tc.want {
			t.Errorf("%s: CheckJSON(%q): got %s %q want %s %q", tc.name, tc.in, ge.Code, ge.Message, CodeInvalidArgument, tc.want)
		}
		var je *JSONError
		if !errors.As(err, &je) || !strings.HasPrefix(tc.want, "invalid JSON at offset "+strconv.Itoa(je.Offset)+": ") {
			t.Errorf("%s: got cause %#v, want a *JSONError with the message's offset", tc.name, je)
		}
	}
}

func TestJSONReaderTokens(t *testing.T) {
	in := []byte(` {"s":"plain","e":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","n":-1.5e+3,"z":0,` +
		`"t":true,"f":false,"x":null,"l":[1,[2],{}],"k\u0031":"v"} `)
	var r JSONReader
	r.Reset(in, 0)
	if k := r.Peek(); k != JSONObject || r.Offset() != 1 {
		t.Fatalf("Peek: got %q at %d want '{' at 1", k, r.Offset())
	}
	var c JSONContainer
	if err := r.BeginObject(&c); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		ok, err := r.More(&c)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		k, err := r.Key(&c)
		if err != nil {
			t.Fatal(err)
		}
		key := string(k)
		switch kind := r.Peek(); kind {
		case JSONString:
			s, err := r.String()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, key+"="+strconv.Quote(string(s)))
		case JSONNumber:
			n, err := r.Number()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, key+"#"+string(n))
		case JSONTrue, JSONFalse:
			b, err := r.Bool()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, key+"?"+strconv.FormatBool(b))
		case JSONNull:
			if err := r.Null(); err != nil {
				t.Fatal(err)
			}
			got = append(got, key+"~null")
		case JSONArray:
			n, err := r.Count()
			if err != nil {
				t.Fatal(err)
			}
			start := r.Offset()
			if err := r.Skip(); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s[%d]%s", key, n, in[start:r.Offset()]))
		default:
			t.Fatalf("key %s: unexpected kind %q", key, kind)
		}
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	want := []string{`s="plain"`, `e="a\"b\\c/d\b\f\n\r\té😀"`, `n#-1.5e+3`, `z#0`, `t?true`, `f?false`,
		`x~null`, `l[3][1,[2],{}]`, `k1="v"`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if r.Depth() != 0 {
		t.Fatalf("depth after the object: got %d want 0", r.Depth())
	}
}

func TestJSONReaderSeekAndCount(t *testing.T) {
	var r JSONReader
	r.Reset([]byte(`[{"a":1,"b":[2,3]}, "x"]`), 0)
	if n, err := r.Count(); err != nil || n != 2 {
		t.Fatalf("Count: got %d, %v want 2, nil", n, err)
	}
	if r.Offset() != 0 || r.Depth() != 0 {
		t.Fatalf("after Count: got offset %d depth %d want 0 0", r.Offset(), r.Depth())
	}
	var c JSONContainer
	_ = r.BeginArray(&c)
	if ok, _ := r.More(&c); !ok {
		t.Fatal("More: got false want true")
	}
	r.Peek()
	at := r.Offset()
	if n, err := r.Count(); err != nil || n != 2 {
		t.Fatalf("Count of the object: got %d, %v want 2, nil", n, err)
	}
	if err := r.Skip(); err != nil {
		t.Fatal(err)
	}
	r.Seek(at)
	var o JSONContainer
	if err := r.BeginObject(&o); err != nil {
		t.Fatal(err)
	}
	r.More(&o)
	if k, _ := r.Key(&o); string(k) != "a" {
		t.Fatalf("key after Seek: got %q want a", k)
	}
	// Count only finds boundaries: reading the elements checks them.
	r.Reset([]byte(`{"a":1,"a":2}`), 0)
	if n, err := r.Count(); err != nil || n != 2 {
		t.Fatalf("Count: got %d, %v want 2, nil", n, err)
	}
	if _, err := readValue(&r); err == nil || err.Error() != `invalid JSON at offset 7: duplicate key "a"` {
		t.Fatalf("reading after Count: got %v want the duplicate key", err)
	}
	for _, tc := range []struct {
		in   string
		want int
	}{{`[]`, 0}, {` [ ] `, 0}, {`{}`, 0}, {`["a,]\"", {"b":[1,2]}, 3]`, 3}, {`[[],[[]],{}]`, 3}, {`{"a":"}","b":{"c":[]}}`, 2}} {
		r.Reset([]byte(tc.in), 0)
		if n, err := r.Count(); err != nil || n != tc.want {
			t.Errorf("Count(%s): got %d, %v want %d", tc.in, n, err, tc.want)
		}
	}
	for _, in := range []string{`["a`, `[1,`, `["\`, `{"a":[}`} {
		r.Reset([]byte(in), 0)
		if _, err := r.Count(); err == nil || err.Error() != CheckJSON([]byte(in), 0).(*Error).Message {
			t.Errorf("Count(%s): got %v want CheckJSON's error", in, err)
		}
	}
	r.Reset([]byte(`1`), 0)
	if _, err := r.Count(); err == nil || err.Error() != `invalid JSON at offset 0: unexpected character '1', want an array or object` {
		t.Errorf("Count(1): got %v want a refusal", err)
	}
}

func TestJSONReaderKindsAndErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind JSONKind
	}{
		{"", JSONEnd}, {"  ", JSONEnd}, {"{", JSONObject}, {"[", JSONArray}, {`"`, JSONString},
		{"-1", JSONNumber}, {"7", JSONNumber}, {"t", JSONTrue}, {"f", JSONFalse}, {"n", JSONNull},
		{"\x00", JSONInvalid}, {"}", JSONInvalid}, {",", JSONInvalid}, {"x", JSONInvalid},
	} {
		var r JSONReader
		r.Reset([]byte(tc.in), 0)
		if k := r.Peek(); k != tc.kind {
			t.Errorf("Peek(%q): got %q want %q", tc.in, k, tc.kind)
		}
	}
	for c := 0; c < 256; c++ {
		want := JSONInvalid
		switch {
		case c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n':
			want = JSONKind(c)
		case c == '-' || c >= '0' && c <= '9':
			want = JSONNumber
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			want = JSONEnd // whitespace alone
		}
		var r JSONReader
		r.Reset([]byte{byte(c)}, 0)
		if k := r.Peek(); k != want {
			t.Errorf("Peek(%q): got %q want %q", byte(c), k, want)
		}
	}
	if len(kinds) != 256 || len(structural) != 256 {
		t.Fatalf("tables: got %d and %d bytes want 256", len(kinds), len(structural))
	}
	for c := 0; c < 256; c++ {
		want := byte(' ')
		if strings.IndexByte(`",[]{}`, byte(c)) >= 0 {
			want = byte(c)
		}
		if structural[c] != want {
			t.Errorf("structural[%q]: got %q want %q", byte(c), structural[c], want)
		}
	}
	var r JSONReader
	r.Reset([]byte(` "x"`), 0)
	if _, err := r.Number(); err == nil || err.Error() != `invalid JSON at offset 1: unexpected character '"', want a number` {
		t.Fatalf("Number on a string: got %v", err)
	}
	if err := r.BeginObject(&JSONContainer{}); err == nil || err.Error() != `invalid JSON at offset 1: unexpected character '"', want '{'` {
		t.Fatalf("BeginObject on a string: got %v", err)
	}
	if err := r.Expect(':'); err == nil || err.Error() != `invalid JSON at offset 1: unexpected character '"', want ':'` {
		t.Fatalf("Expect: got %v", err)
	}
	r.Reset([]byte(`1`), 0)
	if _, err := r.String(); err == nil || err.Error() != `invalid JSON at offset 0: unexpected character '1', want a string` {
		t.Fatalf("String on a number: got %v", err)
	}
	if _, err := r.Bool(); err == nil || err.Error() != `invalid JSON at offset 0: unexpected character '1', want true or false` {
		t.Fatalf("Bool on a number: got %v", err)
	}
	// String's scratch space is reused: an escaped string is valid until the
	// next read.
	r.Reset([]byte(`["\u0041","\u0042"]`), 0)
	var c JSONContainer
	_ = r.BeginArray(&c)
	r.More(&c)
	a, _ := r.String()
	if string(a) != "A" {
		t.Fatalf("got %q want A", a)
	}
	r.More(&c)
	b, _ := r.String()
	if string(b) != "B" {
		t.Fatalf("got %q want B", b)
	}
}

func TestZeroJSONReader(t *testing.T) {
	var r JSONReader
	if k := r.Peek(); k != JSONEnd {
		t.Fatalf("zero reader: got %q want the end", k)
	}
	r.in = []byte(strings.Repeat("[", 64) + strings.Repeat("]", 64))
	if err := r.Skip(); err != nil {
		t.Fatalf("zero reader, depth 64: got %v want nil", err)
	}
}

func TestInvalidJSON(t *testing.T) {
	e := InvalidJSON(&JSONError{Offset: 3, What: "NUL byte"})
	if e.Code != CodeInvalidArgument || e.Message != "invalid JSON at offset 3: NUL byte" {
		t.Fatalf("got %s %q want INVALID_ARGUMENT %q", e.Code, e.Message, "invalid JSON at offset 3: NUL byte")
	}
	if e := InvalidJSON(errors.New("x")); e.Code != CodeInternal {
		t.Fatalf("got %s want INTERNAL for a foreign error", e.Code)
	}
}

func TestCheckJSONDoesNotAllocate(t *testing.T) {
	for name, body := range map[string][]byte{"200B": benchBody200(), "4KB": benchBody4K(), "escaped keys": []byte(`{"\u0061":1,"b\n":2,"c":{"\u0061":3}}`)} {
		if err := CheckJSON(body, 64); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = CheckJSON(body, 64) }); n != 0 {
			t.Errorf("%s: got %v allocations per CheckJSON want 0", name, n)
		}
	}
	deep := []byte(strings.Repeat(`{"a":`, 64) + "1" + strings.Repeat("}", 64))
	if n := testing.AllocsPerRun(100, func() { _ = CheckJSON(deep, 64) }); n != 0 {
		t.Errorf("depth 64: got %v allocations want 0", n)
	}
}

func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{0, 64, "0"}, {math.Copysign(0, -1), 64, "-0"}, {1.5, 64, "1.5"}, {-2.25, 32, "-2.25"},
		{0.1, 32, "0.1"}, {float64(float32(0.1)), 32, "0.1"}, {float64(float32(0.1)), 64, "0.10000000149011612"},
		{1e20, 64, "100000000000000000000"}, {1e21, 64, "1e+21"}, {1234567, 64, "1234567"},
		{1e-6, 64, "0.000001"}, {1e-7, 64, "1e-7"}, {1.5e-300, 64, "1.5e-300"}, {3.4028234663852886e+38, 32, "3.4028235e+38"},
		{math.NaN(), 64, `"NaN"`}, {math.Inf(1), 64, `"Infinity"`}, {math.Inf(-1), 32, `"-Infinity"`},
	} {
		if got := string(AppendFloat([]byte("x"), tc.f, tc.bits)); got != "x"+tc.want {
			t.Errorf("AppendFloat(%v, %d): got %s want x%s", tc.f, tc.bits, got, tc.want)
		}
	}
	// The same text as encoding/json for finite float64s.
	for _, f := range []float64{123.456, 1e-5, 5e-324, 1.7976931348623157e308, 9007199254740993, 0.000001234} {
		want, _ := json.Marshal(f)
		if got := AppendFloat(nil, f, 64); !bytes.Equal(got, want) {
			t.Errorf("AppendFloat(%v): got %s want %s (encoding/json)", f, got, want)
		}
	}
}

// refRules applies the rules CheckJSON adds to RFC 8259 syntax, on input
// encoding/json says is valid, with encoding/json's tokenizer: no NUL
// byte, valid UTF-8, no lone surrogate escape, no duplicate keys (after
// unescaping), nesting at most maxDepth.
func refRules(b []byte, maxDepth int) error {
	if bytes.IndexByte(b, 0) >= 0 {
		return errors.New("NUL")
	}
	if !utf8.Valid(b) {
		return errors.New("UTF-8")
	}
	if loneSurrogate(b) {
		return errors.New("surrogate")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj     bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF: json.Valid has vouched for the syntax
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if top.keys[k] {
				return errors.New("duplicate " + k)
			}
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		if top != nil && top.obj {
			top.wantKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, &frame{obj: d == '{', wantKey: true, keys: map[string]bool{}})
				if len(stack) > maxDepth {
					return errors.New("depth")
				}
			case ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].wantKey = true
				}
			}
		}
	}
}

// loneSurrogate reports a \u escape of a surrogate that is not a high one
// followed by a low one, in valid JSON.
func loneSurrogate(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case !in:
			in = b[i] == '"'
		case b[i] == '"':
			in = false
		case b[i] == '\\' && b[i+1] != 'u':
			i++
		case b[i] == '\\':
			v, _ := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
			i += 5
			if v < 0xd800 || v > 0xdfff {
				continue
			}
			if v >= 0xdc00 || i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return true
			}
			v2, _ := strconv.ParseUint(string(b[i+3:i+7]), 16, 32)
			if v2 < 0xdc00 || v2 > 0xdfff {
				return true
			}
			i += 6
		}
	}
	return false
}

func isBlank(b []byte) bool { return len(bytes.TrimLeft(b, " \t\r\n")) == 0 }

var fuzzSeeds = []string{
	``, ` `, `{}`, `[]`, `1`, `-0.5e-7`, `"x"`, `null`, `true`, `false`,
	`{"id":1}`, "{\"id\":1}\x00garbage", "\x00{\"id\":1}", `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`,
	"{\"s\":\"\xff\"}", `{"s":"\ud800"}`, `{"s":"\ud83d\ude00"}`, `{"a":[1,{"b":null}],"c":"\n"}`,
	`{"a":1,}`, `[1,]`, `{"a":01}`, `{"a" 1}`, `[1 2]`, `{"a":tru}`, `"\u00e9\/"`,
	strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("[", 65) + strings.Repeat("]", 65),
}

// FuzzCheckJSON: CheckJSON accepts exactly what encoding/json.Valid accepts
// and the extra rules allow (blank input aside), and never panics.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add(benchBody200())
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b, 0)
		if isBlank(b) {
			if err != nil {
				t.Fatalf("%q: got %v want nil for blank input", b, err)
			}
			return
		}
		valid := json.Valid(b)
		ref := error(nil)
		if valid {
			ref = refRules(b, DefaultJSONDepth)
		}
		if err == nil && (!valid || ref != nil) {
			t.Fatalf("%q: CheckJSON accepted, json.Valid %v, rules %v", b, valid, ref)
		}
		if err != nil && valid && ref == nil {
			t.Fatalf("%q: CheckJSON refused (%v), but json.Valid accepts and the rules hold", b, err)
		}
		if err != nil {
			var je *JSONError
			if !errors.As(err, &je) || je.Offset < 0 || je.Offset > len(b) || CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("%q: got %v, want INVALID_ARGUMENT with an offset in the input", b, err)
			}
			if je.Offset < len(b) && b[je.Offset] == 0 && je.What != "NUL byte" {
				t.Fatalf("%q: got %v at a NUL byte, want it named", b, err)
			}
		}
	})
}

// FuzzJSONReader: skipping any input never panics and gives CheckJSON's
// verdict at the same offset; reading it token by token does too, and what
// it reads equals what encoding/json decodes.
func FuzzJSONReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add(benchBody4K())
	f.Fuzz(func(t *testing.T, b []byte) {
		check := CheckJSON(b, 0)
		var r JSONReader
		r.Reset(b, 0)
		var skipErr error
		if r.Peek() != JSONEnd {
			skipErr = r.Skip()
			if skipErr == nil {
				skipErr = r.End()
			}
		}
		if !sameVerdict(skipErr, check) {
			t.Fatalf("%q: Skip: %v, CheckJSON: %v", b, skipErr, check)
		}
		r.Reset(b, 0)
		var v any
		var readErr error
		if r.Peek() != JSONEnd {
			v, readErr = readValue(&r)
			if readErr == nil {
				readErr = r.End()
			}
		}
		if !sameVerdict(readErr, check) {
			t.Fatalf("%q: token reads: %v, CheckJSON: %v", b, readErr, check)
		}
		// Objects read the way a wire format with its own field order
		// reads them: spans first, then the values from the last to the
		// first. Any error will do where CheckJSON has one.
		r.Reset(b, 0)
		var sv any
		var spanErr error
		if r.Peek() != JSONEnd {
			sv, spanErr = readValueSpans(&r)
			if spanErr == nil {
				spanErr = r.End()
			}
		}
		if (spanErr == nil) != (check == nil) {
			t.Fatalf("%q: reads through spans: %v, CheckJSON: %v", b, spanErr, check)
		}
		if check == nil && !isBlank(b) {
			if !reflect.DeepEqual(sv, v) {
				t.Fatalf("%q: read through spans %#v, token by token %#v", b, sv, v)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("%q: encoding/json: %v", b, err)
			}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("%q: read %#v, encoding/json %#v", b, v, want)
			}
		}
	})
}

func sameVerdict(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	var x, y *JSONError
	return errors.As(a, &x) && errors.As(b, &y) && *x == *y
}

// readValue reads one value through the token methods into the shapes
// encoding/json decodes to (numbers as json.Number).
func readValue(r *JSONReader) (any, error) {
	switch r.Peek() {
	case JSONString:
		s, err := r.String()
		return string(s), err
	case JSONNumber:
		n, err := r.Number()
		return json.Number(n), err
	case JSONTrue, JSONFalse:
		return r.Bool()
	case JSONNull:
		return nil, r.Null()
	case JSONArray:
		n, err := r.Count()
		if err != nil {
			return nil, err
		}
		var c JSONContainer
		if err := r.BeginArray(&c); err != nil {
			return nil, err
		}
		out := []any{}
		for {
			ok, err := r.More(&c)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			v, err := readValue(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if len(out) != n {
			return nil, fmt.Errorf("Count said %d, read %d", n, len(out))
		}
		return out, nil
	case JSONObject:
		var c JSONContainer
		if err := r.BeginObject(&c); err != nil {
			return nil, err
		}
		out := map[string]any{}
		for {
			ok, err := r.More(&c)
			if err != nil {
				return nil, err
			}
			if !ok {
				return out, nil
			}
			k, err := r.Key(&c)
			if err != nil {
				return nil, err
			}
			key := string(k)
			v, err := readValue(r)
			if err != nil {
				return nil, err
			}
			out[key] = v
		}
	}
	return nil, r.Skip()
}

// readValueSpans is readValue, except that an object's values are found
// with Span first and read afterwards, last to first.
func readValueSpans(r *JSONReader) (any, error) {
	switch r.Peek() {
	case JSONObject:
		var c JSONContainer
		if err := r.BeginObject(&c); err != nil {
			return nil, err
		}
		type entry struct {
			key   string
			start int
		}
		var entries []entry
		for {
			ok, err := r.More(&c)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			k, err := r.Key(&c)
			if err != nil {
				return nil, err
			}
			key := string(k)
			start, _, err := r.Span()
			if err != nil {
				return nil, err
			}
			entries = append(entries, entry{key, start})
		}
		after := r.Mark()
		out := map[string]any{}
		for i := len(entries) - 1; i >= 0; i-- {
			r.Seek(entries[i].start)
			v, err := readValueSpans(r)
			if err != nil {
				return nil, err
			}
			out[entries[i].key] = v
		}
		r.Rewind(after)
		return out, nil
	case JSONArray:
		var c JSONContainer
		if err := r.BeginArray(&c); err != nil {
			return nil, err
		}
		out := []any{}
		for {
			ok, err := r.More(&c)
			if err != nil {
				return nil, err
			}
			if !ok {
				return out, nil
			}
			v, err := readValueSpans(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return readValue(r)
}

func benchBody200() []byte {
	return []byte(`{"id":"9007199254740993","name":"Ada Lovelace","email":"ada@example.com",` +
		`"role":"ROLE_ADMIN","tags":["math","engines"],"address":{"city":"London","geo":{"lat":51.5074,"lng":-0.1345}},"active":true}`)
}

func benchBody4K() []byte {
	var b bytes.Buffer
	b.WriteString(`{"people":[`)
	for i := 0; b.Len() < 4000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"Person number %d","email":"p%d@example.com","score":%d.25,`+
			`"tags":["a","b\u00e9"],"address":{"street":"%d Main Street","city":"Oslo"},"ok":true,"note":null}`, i, i, i, i, i)
	}
	b.WriteString(`],"total":42}`)
	return b.Bytes()
}

func BenchmarkCheckJSON(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{{"200B", benchBody200()}, {"4KB", benchBody4K()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := CheckJSON(bc.body, 64); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
