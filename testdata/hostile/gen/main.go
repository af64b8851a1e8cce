// Command gen writes the hostile-request corpus testdata/hostile/<protocol>.jsonl
// that cmd/rpcbridge's TestHostileCorpus replays against the gateway.
//
//	go run ./testdata/hostile/gen            # from the repository root
//	go run ./testdata/hostile/gen -out DIR
//
// Each corpus starts from a few good seed requests of one sample backend
// (gRPC examples/people, Dubbo protocols/dubbo/testprovider, Thrift
// examples/orders, Tars examples/stock, and the test's HTTP echo server)
// and mutates them systematically: truncation, NUL bytes, invalid UTF-8,
// duplicate keys, trailing data, deep nesting, a wrong type for every
// argument, integer overflow, floats for integers, huge strings, unknown
// fields and methods, wrong Content-Types and HTTP methods, bodies that
// are not objects, BOMs, JSON syntax errors, and bad path and query
// parameters. Every request it writes is one the gateway must refuse with
// a 4xx JSON error. Output is deterministic (random names come from a
// fixed seed), so running it again gives the same files.
//
// A file's first lines start with '#' and say how it was produced; every
// other line is one JSON object:
//
//	{"name": "...", "method": "POST", "path": "/...", "headers": {...}, "body_b64": "..."}
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
)

// entry is one corpus request.
type entry struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	BodyB64 string            `json:"body_b64"`
}

// field is one top-level argument (or message field) of a seed request.
type field struct {
	name string
	kind string // see wrongValues
	good string // its value in the seed, as JSON
}

// seed is a good request to one method, called route-less.
type seed struct {
	method string
	fields []field
	// emptyFails: the method refuses a request without arguments (the
	// backend answers a 4xx for the zero values), so an empty body, {}
	// and null are hostile for it.
	emptyFails bool
	// wholeBody: the method's one argument may be the whole body (Dubbo),
	// so a bare value of its own type is a good request.
	wholeBody bool
}

func (s seed) body() string { return object(s.fields, -1, "") }

// object writes fields as a JSON object, with field i's value replaced
// by repl when i >= 0.
func object(fs []field, i int, repl string) string {
	var b strings.Builder
	b.WriteByte('{')
	for j, f := range fs {
		if j > 0 {
			b.WriteByte(',')
		}
		v := f.good
		if j == i {
			v = repl
		}
		b.WriteString(`"` + f.name + `":` + v)
	}
	b.WriteByte('}')
	return b.String()
}

// protocol describes one backend behind the gateway.
type protocol struct {
	name  string // file name
	svc   string // the gateway's service name
	seeds []seed
	// extra writes the protocol's own entries.
	extra func(g *gen)
}

// gen collects the entries of one protocol.
type gen struct {
	p       protocol
	entries []entry
	names   map[string]int
	rng     *rand.Rand
}

const (
	ctJSON = "application/json"
	// maxBody is the test config's server.max_body_bytes.
	maxBody = 204800
)

func (g *gen) add(name, method, path string, headers map[string]string, body string) {
	if n := g.names[name]; n > 0 {
		g.names[name] = n + 1
		name = fmt.Sprintf("%s #%d", name, n+1)
	} else {
		g.names[name] = 1
	}
	g.entries = append(g.entries, entry{Name: name, Method: method, Path: path, Headers: headers,
		BodyB64: base64.StdEncoding.EncodeToString([]byte(body))})
}

// post adds a POST of body to seed s, as JSON.
func (g *gen) post(s seed, name, body string) {
	g.add(s.method+": "+name, "POST", "/"+g.p.svc+"/"+s.method, map[string]string{"Content-Type": ctJSON}, body)
}

func main() {
	out := flag.String("out", "testdata/hostile", "folder to write <protocol>.jsonl into")
	flag.Parse()
	for _, p := range protocols() {
		g := &gen{p: p, names: map[string]int{}, rng: rand.New(rand.NewPCG(1, uint64(len(p.name))))}
		g.generic()
		if p.extra != nil {
			p.extra(g)
		}
		if err := write(filepath.Join(*out, p.name+".jsonl"), p, g.entries); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d requests\n", p.name, len(g.entries))
	}
}

func write(path string, p protocol, es []entry) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "# Hostile requests for the %s service %q; every one must get a 4xx JSON error.\n", p.name, p.svc)
	fmt.Fprintf(w, "# Produced by `go run ./testdata/hostile/gen` (testdata/hostile/gen/main.go) from the seeds\n")
	for _, s := range p.seeds {
		fmt.Fprintf(w, "#   POST /%s/%s %s\n", p.svc, s.method, clip(s.body(), 200))
	}
	fmt.Fprintf(w, "# by systematic mutation. Do not edit: change the generator and run it again.\n")
	fmt.Fprintf(w, "# Lines starting with # are comments; every other line is one request: name, method, path, headers, body_b64.\n")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range es {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// generic writes the mutations every protocol gets.
func (g *gen) generic() {
	for _, s := range g.p.seeds {
		g.truncations(s)
		g.nulBytes(s)
		g.invalidUTF8(s)
		g.duplicateKeys(s)
		g.trailing(s)
		g.wrongTypes(s)
		g.unknownFields(s)
		g.notObjects(s)
		g.syntax(s)
	}
	s := g.p.seeds[0]
	g.deepNesting(s)
	g.huge(s)
	g.unknownMethods(s)
	g.contentTypes(s)
	g.httpMethods(s)
	g.selectors(s)
}

// truncations: every proper prefix of the body (at most 40, evenly
// spread, always the first and last byte).
func (g *gen) truncations(s seed) {
	b := s.body()
	n := len(b) - 1
	step := 1
	if n > 40 {
		step = (n + 39) / 40
	}
	seen := map[int]bool{}
	for off := 1; off <= n; off += step {
		seen[off] = true
		g.post(s, fmt.Sprintf("truncated to %d of %d bytes", off, len(b)), b[:off])
	}
	if !seen[n] {
		g.post(s, fmt.Sprintf("truncated to %d of %d bytes", n, len(b)), b[:n])
	}
}

func (g *gen) nulBytes(s seed) {
	b := s.body()
	g.post(s, "NUL byte before the body", "\x00"+b)
	g.post(s, "NUL byte after the body", b+"\x00")
	g.post(s, "NUL byte between tokens", b[:1]+"\x00"+b[1:])
	g.post(s, "NUL byte inside a key", renameFirst(s, s.fields[0].name[:1]+"\x00"+s.fields[0].name[1:]))
	if i := stringField(s); i >= 0 {
		g.post(s, "NUL byte inside a string value", object(s.fields, i, "\"a\x00b\""))
	}
	g.post(s, "NUL bytes only", "\x00\x00\x00\x00")
}

// renameFirst is the seed's body with its first key written as key.
func renameFirst(s seed, key string) string {
	return strings.Replace(s.body(), `"`+s.fields[0].name+`":`, `"`+key+`":`, 1)
}

// nonStringField is the index of the seed's first argument that is not a
// string, or -1.
func nonStringField(s seed) int {
	for i, f := range s.fields {
		if f.kind != "string" {
			return i
		}
	}
	return -1
}

// stringField is the index of the seed's first string argument, or -1.
func stringField(s seed) int {
	for i, f := range s.fields {
		if f.kind == "string" {
			return i
		}
	}
	return -1
}

var badUTF8 = []struct{ name, b string }{
	{"0xFF", "\xff"},
	{"lone continuation byte", "\x80"},
	{"bad continuation", "\xc3\x28"},
	{"overlong slash", "\xc0\xaf"},
	{"UTF-16 surrogate", "\xed\xa0\x80"},
	{"above U+10FFFF", "\xf4\x90\x80\x80"},
	{"truncated 3-byte sequence", "\xe2\x82"},
}

func (g *gen) invalidUTF8(s seed) {
	f0 := s.fields[0]
	for _, u := range badUTF8 {
		g.post(s, "invalid UTF-8 in a key ("+u.name+")", renameFirst(s, f0.name+u.b))
		if i := stringField(s); i >= 0 {
			g.post(s, "invalid UTF-8 in a string value ("+u.name+")", object(s.fields, i, `"ok`+u.b+`"`))
		} else {
			g.post(s, "invalid UTF-8 in a string in place of "+f0.name+" ("+u.name+")", object(s.fields, 0, `"`+u.b+`"`))
		}
	}
}

// escapeAll writes every byte of an ASCII name as \u00XX.
func escapeAll(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		fmt.Fprintf(&b, `\u%04x`, name[i])
	}
	return b.String()
}

func (g *gen) duplicateKeys(s seed) {
	b := s.body()
	inner := b[1 : len(b)-1]
	for _, f := range s.fields {
		g.post(s, "duplicate key "+f.name+" (same value)", "{"+inner+`,"`+f.name+`":`+f.good+"}")
		g.post(s, "duplicate key "+f.name+" (first letter escaped)", "{"+inner+`,"`+escapeAll(f.name[:1])+f.name[1:]+`":`+f.good+"}")
		g.post(s, "duplicate key "+f.name+" (all escaped, first)", `{"`+escapeAll(f.name)+`":`+f.good+","+inner+"}")
	}
}

func (g *gen) trailing(s seed) {
	b := s.body()
	for _, t := range []struct{ name, tail string }{
		{"a letter", "x"},
		{"a second object", "{}"},
		{"the body again", b},
		{"a closing bracket", "]"},
		{"a closing brace", "}"},
		{"a comma", ","},
		{"a number after a space", " 1"},
		{"null", "null"},
		{"a newline and garbage", "\n@@@"},
	} {
		g.post(s, "trailing data: "+t.name, b+t.tail)
	}
}

// wrongValues are values no argument of that kind accepts.
var wrongValues = map[string][]string{
	"int64": {`"abc"`, `""`, `true`, `{}`, `[]`, `[1]`, `1.5`, `-0.5`, `"1.5"`, `1e400`,
		`9223372036854775808`, `"9223372036854775808"`, `-9223372036854775809`, `18446744073709551616`, `99999999999999999999999999`},
	"int32":       {`"abc"`, `true`, `{}`, `[]`, `1.5`, `"2.5"`, `2147483648`, `-2147483649`, `9223372036854775808`, `1e400`},
	"uint32":      {`"abc"`, `true`, `{}`, `[]`, `1.5`, `-1`, `4294967296`},
	"string":      {`{}`, `[]`, `["a"]`, `{"a":"b"}`},
	"bool":        {`"yes"`, `"maybe"`, `1`, `{}`, `[]`, `[true]`},
	"bytes":       {`"!!!not base64!!!"`, `1`, `{}`, `[]`},
	"enum":        {`"NO_SUCH_VALUE"`, `""`, `{}`, `[]`, `true`, `1.5`},
	"timestamp":   {`"yesterday"`, `"2026-13-45T99:00:00Z"`, `1`, `{}`, `[]`},
	"list-int64":  {`{}`, `"1"`, `1`, `true`, `{"0":1}`, `[{}]`, `[[1]]`, `["abc"]`, `[1.5]`, `[9223372036854775808]`},
	"list-int32":  {`{}`, `"1"`, `1`, `true`, `[{}]`, `["abc"]`, `[1.5]`, `[2147483648]`},
	"list-string": {`{}`, `"a"`, `1`, `true`, `{"0":"a"}`, `[{}]`, `[["a"]]`},
	"list-enum":   {`{}`, `"ROLE_ADMIN"`, `1`, `["NO_SUCH_VALUE"]`, `[{}]`, `[1.5]`},
	"list-struct": {`{}`, `"x"`, `1`, `true`, `[1]`, `["x"]`, `[[]]`, `[{"nope":1}]`},
	"map-int64":   {`[]`, `"x"`, `1`, `true`, `{"a":"abc"}`, `{"a":1.5}`, `{"a":{}}`, `{"a":9223372036854775808}`},
}

func (g *gen) wrongTypes(s seed) {
	for i, f := range s.fields {
		vals, ok := wrongValues[f.kind]
		if !ok {
			panic("no wrong values for kind " + f.kind)
		}
		for _, v := range vals {
			g.post(s, fmt.Sprintf("%s (%s) = %s", f.name, f.kind, v), object(s.fields, i, v))
		}
	}
}

func (g *gen) unknownFields(s seed) {
	b := s.body()
	inner := b[1 : len(b)-1]
	long := strings.Repeat("k", 1024)
	for _, k := range []struct{ name, kv string }{
		{"nope", `"nope":1`},
		{"empty key", `"":1`},
		{"__proto__", `"__proto__":{"polluted":true}`},
		{"constructor.prototype", `"constructor":{"prototype":{"x":1}}`},
		{"1 KB key", `"` + long + `":1`},
		{"escaped NUL in key", `"a\u0000b":1`},
		{"upper-cased " + s.fields[0].name, `"` + strings.ToUpper(s.fields[0].name) + `":` + s.fields[0].good},
	} {
		g.post(s, "unknown field: "+k.name, "{"+inner+","+k.kv+"}")
	}
}

func (g *gen) notObjects(s seed) {
	b := s.body()
	for _, v := range []struct{ name, body string }{
		{"null body", "null"},
		{"empty array", "[]"},
		{"the body in an array", "[" + b + "]"},
		{"a number", "1"},
		{"a string", `"x"`},
		{"true", "true"},
		{"whitespace only", " \n\t "},
		{"UTF-8 BOM before the body", "\xef\xbb\xbf" + b},
		{"UTF-16LE with BOM", utf16le(b)},
	} {
		if v.name == "null body" && !s.emptyFails {
			continue
		}
		if s.wholeBody && wholeValueOK(s.fields[0].kind, v.body) {
			continue
		}
		g.post(s, "body: "+v.name, v.body)
	}
	if s.emptyFails {
		g.post(s, "body: empty object", "{}")
		g.add(s.method+": body: empty", "POST", "/"+g.p.svc+"/"+s.method, map[string]string{"Content-Type": ctJSON}, "")
	}
}

// wholeValueOK reports whether body is a good value of kind, and so a
// good whole-body argument.
func wholeValueOK(kind, body string) bool {
	switch body {
	case "1":
		return strings.HasPrefix(kind, "int")
	case "true":
		return kind == "bool"
	case `"x"`:
		return kind == "string"
	case "[]":
		return strings.HasPrefix(kind, "list-")
	}
	return false
}

func utf16le(s string) string {
	u := utf16.Encode([]rune(s))
	b := []byte{0xff, 0xfe}
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return string(b)
}

func (g *gen) syntax(s seed) {
	f0 := s.fields[0]
	b := s.body()
	inner := b[1 : len(b)-1]
	for _, v := range []struct{ name, body string }{
		{"single quotes", strings.ReplaceAll(b, `"`, `'`)},
		{"unquoted key", `{` + f0.name + `:` + f0.good + `}`},
		{"trailing comma", "{" + inner + ",}"},
		{"leading comma", "{," + inner + "}"},
		{"missing colon", `{"` + f0.name + `" ` + f0.good + `}`},
		{"missing value", `{"` + f0.name + `":}`},
		{"block comment", "/* c */" + b},
		{"line comment", "{" + inner + "// c\n}"},
		{"NaN", `{"` + f0.name + `":NaN}`},
		{"Infinity", `{"` + f0.name + `":-Infinity}`},
		{"leading zero", `{"` + f0.name + `":01}`},
		{"plus sign", `{"` + f0.name + `":+1}`},
		{"bare fraction", `{"` + f0.name + `":.5}`},
		{"dangling point", `{"` + f0.name + `":1.}`},
		{"hex number", `{"` + f0.name + `":0x10}`},
		{"invalid escape", `{"` + f0.name + `":"\q"}`},
		{"short unicode escape", `{"` + f0.name + `":"\u12"}`},
		{"raw tab in a string", "{\"" + f0.name + "\":\"a\tb\"}"},
		{"raw newline in a key", "{\"" + f0.name + "\n\":" + f0.good + "}"},
		{"unterminated string", `{"` + f0.name + `":"abc}`},
		{"unterminated key", `{"` + f0.name + `}`},
		{"True capitalised", `{"` + f0.name + `":True}`},
		{"undefined", `{"` + f0.name + `":undefined}`},
		{"unbalanced brackets", `{"` + f0.name + `":[}`},
		{"lone comma", `{,}`},
	} {
		g.post(s, "syntax: "+v.name, v.body)
	}
}

func (g *gen) deepNesting(s seed) {
	f0 := s.fields[0]
	for _, d := range []int{65, 1000, 100000} {
		g.post(s, fmt.Sprintf("nested arrays, depth %d", d), strings.Repeat("[", d)+strings.Repeat("]", d))
	}
	for _, d := range []int{65, 1000} {
		g.post(s, fmt.Sprintf("nested objects in %s, depth %d", f0.name, d),
			`{"`+f0.name+`":`+strings.Repeat(`{"a":`, d-1)+"1"+strings.Repeat("}", d))
		g.post(s, fmt.Sprintf("nested arrays in %s, depth %d", f0.name, d),
			`{"`+f0.name+`":`+strings.Repeat("[", d-1)+strings.Repeat("]", d-1)+"}")
	}
	g.post(s, "nested objects, depth 5000, unclosed", strings.Repeat(`{"a":`, 5000))
}

func (g *gen) huge(s seed) {
	over := strings.Repeat("x", maxBody+1000)
	if i := stringField(s); i >= 0 {
		g.post(s, "body over max_body_bytes (huge string value)", object(s.fields, i, `"`+over+`"`))
	} else {
		g.post(s, "body over max_body_bytes (huge string for "+s.fields[0].name+")", object(s.fields, 0, `"`+over+`"`))
	}
	big := strings.Repeat("9", 8192)
	// An 8 KB value where a string is not allowed.
	for _, ts := range g.p.seeds {
		if i := nonStringField(ts); i >= 0 {
			g.post(ts, "8 KB string for "+ts.fields[i].name, object(ts.fields, i, `"`+big+`"`))
			g.post(ts, "8 KB number for "+ts.fields[i].name, object(ts.fields, i, big))
			break
		}
	}
	g.post(s, "8 KB unknown key", `{"`+strings.Repeat("k", 8192)+`":1}`)
}

func (g *gen) unknownMethods(s seed) {
	b := s.body()
	base := "/" + g.p.svc + "/"
	h := map[string]string{"Content-Type": ctJSON}
	letters := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := 0; i < 4; i++ {
		var m strings.Builder
		for j := 0; j < 12; j++ {
			m.WriteByte(letters[g.rng.IntN(len(letters))])
		}
		g.add("unknown method: random "+m.String(), "POST", base+m.String(), h, b)
	}
	long := make([]byte, 1024)
	for i := range long {
		long[i] = letters[g.rng.IntN(len(letters))]
	}
	for _, m := range []struct{ name, path string }{
		{"1 KB long", base + string(long)},
		{"8 KB long", base + strings.Repeat(s.method, 8192/len(s.method))},
		{"with a dot", base + s.method + "." + s.method},
		{"qualified by another service", base + "other.v1.OtherService." + s.method},
		{"qualified by another service with a slash", base + "other.v1.OtherService/" + s.method},
		{"with an encoded slash", base + "other.v1.OtherService%2F" + s.method},
		{"with a trailing slash", base + s.method + "/"},
		{"dot-dot", base + ".."},
		{"encoded dot-dot", base + "%2e%2e"},
		{"path traversal", base + "..%2F..%2Fadmin%2Fconfig"},
		{"a single dot", base + "."},
		{"encoded NUL", base + s.method + "%00"},
		{"encoded NUL only", base + "%00"},
		{"encoded space", base + s.method + "%20"},
		{"encoded CR LF", base + s.method + "%0d%0aX-Injected:%201"},
		{"semicolon", base + s.method + ";x=1"},
		{"non-ASCII", base + "G%C3%A9t" + s.method},
		{"invalid UTF-8 encoded", base + s.method + "%FF"},
		{"invalid percent-encoding", base + s.method + "%zz"},
		{"raw non-ASCII byte", base + s.method + "\xe9"},
		{"raw NUL byte", base + s.method + "\x00"},
		{"wrong case", base + strings.ToUpper(s.method)},
		{"empty", base},
		{"no service", "/" + s.method},
		{"unknown service", "/no-such-service/" + s.method},
		{"1 KB service name", "/" + string(long) + "/" + s.method},
		{"fully-qualified unknown service", "/no.such.v1.Service/" + s.method},
	} {
		g.add("unknown method: "+m.name, "POST", m.path, h, b)
	}
}

func (g *gen) contentTypes(s seed) {
	b := s.body()
	path := "/" + g.p.svc + "/" + s.method
	for _, ct := range []string{
		"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=xyz", "application/xml", "text/json", "application/jsonx",
		"application/json-seq", "json", "application/+json", "*/*", "application/octet-stream",
		"", // none
	} {
		h := map[string]string{}
		name := "Content-Type: none"
		if ct != "" {
			h["Content-Type"] = ct
			name = "Content-Type: " + ct
		}
		g.add(s.method+": "+name, "POST", path, h, b)
	}
	form := "--xyz\r\nContent-Disposition: form-data; name=\"" + s.fields[0].name + "\"\r\n\r\n1\r\n--xyz--\r\n"
	g.add(s.method+": multipart body", "POST", path, map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"}, form)
	g.add(s.method+": form body", "POST", path, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, s.fields[0].name+"=1")
}

func (g *gen) httpMethods(s seed) {
	b := s.body()
	path := "/" + g.p.svc + "/" + s.method
	h := map[string]string{"Content-Type": ctJSON}
	for _, m := range []string{"GET", "HEAD", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS", "CONNECT",
		"post", "FOO", "PROPFIND", strings.Repeat("X", 300), "G(E)T", "GET\x01", "PO\"ST"} {
		name := m
		if len(m) > 20 {
			name = fmt.Sprintf("a %d-character method", len(m))
		}
		g.add(fmt.Sprintf("HTTP method %q", name), m, path, h, b)
	}
	g.add("HTTP method GET without a body", "GET", path, nil, "")
}

// selectors: the serviceName and scTag headers.
func (g *gen) selectors(s seed) {
	b := s.body()
	h := func(k, v string) map[string]string { return map[string]string{"Content-Type": ctJSON, k: v} }
	g.add("serviceName: unknown service", "POST", "/"+s.method, h("serviceName", "no-such-service"), b)
	g.add("serviceName: 1 KB name", "POST", "/"+s.method, h("serviceName", strings.Repeat("s", 1024)), b)
	g.add("serviceName: unknown method", "POST", "/NoSuchMethod", h("serviceName", g.p.svc), b)
	g.add("serviceName: no method in the path", "POST", "/", h("serviceName", g.p.svc), b)
	g.add("serviceName: qualified method of another service", "POST", "/other.v1.OtherService."+s.method, h("serviceName", g.p.svc), b)
	g.add("scTag: unknown set", "POST", "/"+s.method, h("scTag", "no-such-set"), b)
	g.add("scTag: unknown method", "POST", "/NoSuchMethod", h("scTag", "all"), b)
	g.add("serviceName query: unknown service", "POST", "/"+s.method+"?serviceName=no-such-service", map[string]string{"Content-Type": ctJSON}, b)
}

// Extra entries per protocol.

// queryAndPath adds bad query parameters to a route-less call of s, and
// bad values of the integer path parameter of a GET template route.
func (g *gen) queryAndPath(s seed, param, route string) {
	path := "/" + g.p.svc + "/" + s.method
	h := map[string]string{"Content-Type": ctJSON}
	for _, v := range []string{"abc", "9223372036854775808", "1.5", "-9223372036854775809", "%00", "1e400", "0x10", strings.Repeat("9", 1000)} {
		g.add(fmt.Sprintf("query %s=%s", param, clip(v, 20)), "POST", path+"?"+param+"="+v, h, "")
		if route != "" {
			g.add(fmt.Sprintf("path parameter %s", clip(v, 20)), "GET", route+v, nil, "")
		}
	}
}

func protocols() []protocol {
	return []protocol{
		{
			name: "grpc", svc: "people",
			seeds: []seed{
				{method: "Get", fields: []field{{"id", "int64", `1`}}, emptyFails: true},
				{method: "Echo", fields: []field{
					{"i32", "int32", `5`}, {"i64", "int64", `"9007199254740993"`}, {"u32", "uint32", `7`},
					{"text", "string", `"hi"`}, {"flag", "bool", `true`}, {"blob", "bytes", `"aGk="`},
					{"ids", "list-int64", `[1,2]`}, {"counts", "map-int64", `{"a":1}`},
					{"roles", "list-enum", `["ROLE_ADMIN"]`}, {"when", "timestamp", `"2026-01-01T00:00:00Z"`},
				}},
			},
			extra: func(g *gen) {
				g.queryAndPath(g.p.seeds[0], "id", "/v1/people/")
				s := g.p.seeds[1]
				g.post(s, "oneof: two members set", `{"name":"a","number":1}`)
				g.post(s, "map with a non-integer key for map<int32, Address>", `{"addresses":{"x":{}}}`)
				g.post(s, "Any without @type", `{"extra":{"value":"x"}}`)
				g.post(s, "Any with an unknown @type", `{"extra":{"@type":"type.googleapis.com/no.Such"}}`)
				g.post(s, "Duration without the s suffix", `{"took":"5"}`)
				g.post(s, "fully-qualified path, method of another service", `{}`)
				g.entries[len(g.entries)-1].Path = "/demo.v1.PeopleService/demo.v1.Other.Get"
				g.add("fully-qualified path, unknown method", "POST", "/demo.v1.PeopleService/Nope", map[string]string{"Content-Type": ctJSON}, `{}`)
				g.add("route: POST on a GET route", "POST", "/v1/people/1", map[string]string{"Content-Type": ctJSON}, `{}`)
				g.add("route: GET on a POST route", "GET", "/v1/people:echo", nil, "")
				g.add("route: bad JSON on a POST route", "POST", "/v1/people:echo", map[string]string{"Content-Type": ctJSON}, `{"i64":`)
			},
		},
		{
			name: "dubbo", svc: "users",
			seeds: []seed{
				// echoLong takes a java.lang.Long, which may be null; echoInt
				// a primitive int, which may not.
				{method: "echoLong", fields: []field{{"id", "int64", `42`}}, wholeBody: true},
				{method: "echoInt", fields: []field{{"v", "int32", `5`}}, wholeBody: true, emptyFails: true},
				{method: "join", fields: []field{{"parts", "list-string", `["a","b"]`}, {"sep", "string", `"-"`}}},
				{method: "echoBool", fields: []field{{"v", "bool", `true`}}, wholeBody: true},
				{method: "sumInts", fields: []field{{"v", "list-int32", `[1,2,3]`}}, wholeBody: true},
			},
			extra: func(g *gen) {
				g.queryAndPath(g.p.seeds[0], "id", "/v1/users/")
				h := map[string]string{"Content-Type": ctJSON}
				g.add("types and args for a method the provider lacks", "POST", "/users/noSuchMethod", h, `{"types":["long"],"args":[1]}`)
				g.add("types and args: more args than types", "POST", "/users/noSuchMethod", h, `{"types":["long"],"args":[1,2]}`)
				g.add("types and args: unknown Java type", "POST", "/users/noSuchMethod", h, `{"types":["com.nope.Type"],"args":[{}]}`)
				g.add("types and args: types not a list", "POST", "/users/noSuchMethod", h, `{"types":"long","args":[1]}`)
				g.add("types and args given for a declared method", "POST", "/users/echoLong", h, `{"types":["java.lang.String"],"args":["x"]}`)
				g.add("generic invoke name as a method", "POST", "/users/$invoke", h, `{"id":1}`)
				g.add("echo filter name as a method", "POST", "/users/$echo", h, `{"id":1}`)
			},
		},
		{
			name: "thrift", svc: "orders",
			seeds: []seed{
				{method: "getOrder", fields: []field{{"id", "int64", `1`}}, emptyFails: true},
				{method: "createOrder", fields: []field{
					{"customer", "string", `"ada"`},
					{"items", "list-struct", `[{"sku":"A-1","qty":2,"priceCents":100}]`},
					{"note", "string", `"gift"`},
				}, emptyFails: true},
				{method: "listOrders", fields: []field{{"status", "enum", `"PAID"`}, {"limit", "int32", `2`}}},
			},
			extra: func(g *gen) {
				g.queryAndPath(g.p.seeds[0], "id", "/v1/orders/")
				s := g.p.seeds[1]
				for _, it := range []struct{ name, v string }{
					{"item qty a string", `[{"sku":"A-1","qty":"two"}]`},
					{"item qty over i32", `[{"sku":"A-1","qty":2147483648}]`},
					{"item qty a float", `[{"sku":"A-1","qty":1.5}]`},
					{"item priceCents over i64", `[{"sku":"A-1","qty":1,"priceCents":9223372036854775808}]`},
					{"item sku an object", `[{"sku":{},"qty":1}]`},
					{"item unknown field", `[{"sku":"A-1","qty":1,"nope":1}]`},
					{"item duplicate key", `[{"sku":"A-1","sku":"B-2","qty":1}]`},
					{"item null", `[null]`},
					{"item quantity zero (InvalidOrder)", `[{"sku":"A-1","qty":0}]`},
				} {
					g.post(s, it.name, object(s.fields, 1, it.v))
				}
				g.post(s, "no items (InvalidOrder)", object(s.fields, 1, `[]`))
				g.add("unknown order (OrderNotFound)", "POST", "/orders/getOrder", map[string]string{"Content-Type": ctJSON}, `{"id":424242}`)
				g.add("oneway method with a bad argument", "POST", "/orders/audit", map[string]string{"Content-Type": ctJSON}, `{"event":{}}`)
			},
		},
		{
			name: "tars", svc: "stock",
			seeds: []seed{
				{method: "getQuote", fields: []field{{"code", "string", `"600000"`}}},
				{method: "listQuotes", fields: []field{{"codes", "list-string", `["600000","00700"]`}}},
			},
			extra: func(g *gen) {
				h := map[string]string{"Content-Type": ctJSON}
				g.add("out parameter sent as input", "POST", "/stock/listQuotes", h, `{"codes":["600000"],"quotes":{}}`)
				g.add("route: POST on a GET route", "POST", "/v1/quotes/600000", h, `{}`)
			},
		},
		{
			name: "http", svc: "web",
			seeds: []seed{
				{method: "echo", fields: []field{
					{"text", "string", `"hi"`}, {"n", "int64", `1`}, {"tags", "list-string", `["a"]`}, {"flag", "bool", `true`},
				}, emptyFails: true},
			},
			extra: func(g *gen) {
				h := map[string]string{"Content-Type": ctJSON}
				g.add("route: GET on a POST route", "GET", "/v1/web/echo", nil, "")
				g.add("route: bad JSON on a POST route", "POST", "/v1/web/echo", h, `{"text":`)
				g.add("route: text/plain on a POST route", "POST", "/v1/web/echo", map[string]string{"Content-Type": "text/plain"}, `{"text":"hi"}`)
				g.add("backend path outside the prefix", "POST", "/web/..%2F..%2Fsecret", h, `{"text":"hi"}`)
			},
		},
	}
}
