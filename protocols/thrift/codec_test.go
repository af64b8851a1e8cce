package thrift

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
)

// roundTrip encodes body as m's arguments and decodes them back, through
// the given protocol over memory.
func convert(t *testing.T, p *Protocol, method, body, proto string) (string, error) {
	t.Helper()
	m := p.methods[method]
	if m == nil {
		t.Fatalf("no method %s", method)
	}
	buf := thrift.NewTMemoryBuffer()
	var tp thrift.TProtocol = thrift.NewTBinaryProtocolConf(buf, nil)
	if proto == "compact" {
		tp = thrift.NewTCompactProtocolConf(buf, nil)
	}
	enc := &encoder{p: tp, ctx: context.Background()}
	if err := enc.writeArgs(m.args, []byte(body)); err != nil {
		return "", err
	}
	dec := &decoder{p: tp, ctx: context.Background()}
	if err := dec.structVal(m.args, 0); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return string(dec.out), nil
}

func compileText(t *testing.T, text, service string) *Protocol {
	t.Helper()
	path := writeIDL(t, t.TempDir(), "x.thrift", text)
	p, err := New(Options{IDL: path, Service: service})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestRecursiveStructRoundTrips(t *testing.T) {
	p := compileText(t, `
struct Node {
  1: i32 v,
  2: list<Node> kids,
  3: optional Node next,
}
service S { Node walk(1: Node n) }
`, "S")
	body := `{"n":{"v":1,"kids":[{"v":2,"kids":[]},{"v":3,"kids":[{"v":4,"kids":[]}]}],"next":{"v":5,"kids":[]}}}`
	for _, proto := range []string{"binary", "compact"} {
		got, err := convert(t, p, "walk", body, proto)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, []byte(got), body)
	}
	// The schema refers to itself rather than recursing forever.
	n := p.Schema().Method("walk").Input.Field("n").Type
	if n.Field("next").Type != n {
		t.Fatalf("recursive schema type: got a copy, want the same *Type")
	}
}

func TestStructWithMoreThan64Fields(t *testing.T) {
	var b strings.Builder
	b.WriteString("struct Wide {\n")
	for i := 1; i <= 70; i++ {
		fmt.Fprintf(&b, "  %d: i32 f%d,\n", i, i)
	}
	b.WriteString("  71: required string last,\n}\nservice S { void put(1: Wide w) }\n")
	p := compileText(t, b.String(), "S")
	got, err := convert(t, p, "put", `{"w":{"f1":1,"f66":66,"f70":70,"last":"x"}}`, "compact")
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, []byte(got), `{"w":{"f1":1,"f66":66,"f70":70,"last":"x"}}`)
	_, err = convert(t, p, "put", `{"w":{"f1":1,"f66":66}}`, "compact")
	if err == nil || !strings.Contains(err.Error(), `field "w.last": missing required field`) {
		t.Fatalf("got %v want missing required w.last", err)
	}
	_, err = convert(t, p, "put", `{"w":{"f66":1,"f66":2,"last":"x"}}`, "binary")
	if want := `invalid JSON at offset 14: duplicate key "f66"`; err == nil || err.Error() != want {
		t.Fatalf("got %v want %s", err, want)
	}
}

func TestDefaultsFollowRequiredness(t *testing.T) {
	p := compileText(t, `
const i32 TEN = 10
enum E { A = 1, B = 2 }
struct D {
  1: i32 plain = TEN,
  2: optional i32 opt = 5,
  3: required string req = "r",
  4: list<E> es = [E.B, 1],
  5: map<string, i64> m = {"k": 9007199254740993},
  6: binary bin = "hi",
  7: bool flag = 1,
  8: double d = 2.5,
}
service S { void f(1: D d) }
`, "S")
	got, err := convert(t, p, "f", `{"d":{}}`, "binary")
	if err != nil {
		t.Fatal(err)
	}
	// opt is optional: its default is the reader's business, not written.
	jsonEqual(t, []byte(got), `{"d":{"plain":10,"req":"r","es":["B","A"],"m":{"k":"9007199254740993"},"bin":"aGk=","flag":true,"d":2.5}}`)
	got, err = convert(t, p, "f", `{"d":{"plain":1,"opt":2}}`, "binary")
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, []byte(got), `{"d":{"plain":1,"opt":2,"req":"r","es":["B","A"],"m":{"k":"9007199254740993"},"bin":"aGk=","flag":true,"d":2.5}}`)
	if def := p.Schema().Method("f").Input.Field("d").Type.Field("plain").Default; def != "10" {
		t.Fatalf("schema default: got %q want 10", def)
	}
}

func TestJSONStringsAndNumbers(t *testing.T) {
	p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"msg":"a\"b\\c\/d\b\f\n\r\t"}`, `{"msg":"a\"b\\c/d\b\f\n\r\t"}`},
		{`{"msg":"\u00e9\ud83d\ude00"}`, `{"msg":"é😀"}`},
		{`{"msg":"\u0001"}`, `{"msg":"\u0001"}`},
		{` { "msg" : "x" } `, `{"msg":"x"}`},
	} {
		got, err := convert(t, p, "ping", tc.in, "binary")
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		jsonEqual(t, []byte(got), tc.want)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"a":1e3,"b":"2","c":-0,"d":"-128"}`, `{"a":1000,"b":2,"c":0,"d":-128}`},
		{`{"a":"-9223372036854775808"}`, `{"a":"-9223372036854775808"}`},
		{`{"a":9223372036854775807}`, `{"a":"9223372036854775807"}`},
		{`{"a":9007199254740991}`, `{"a":9007199254740991}`},
	} {
		got, err := convert(t, p, "add", tc.in, "compact")
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		jsonEqual(t, []byte(got), tc.want)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"a":9223372036854775808}`, `field "a": 9223372036854775808 is out of range for i64`},
		{`{"d":128}`, `field "d": 128 is out of range for i8`},
		{`{"a":01}`, `invalid JSON at offset 5: leading zero in number`},
		{`{"a":1}x`, `invalid JSON at offset 7: unexpected data after the value`},
		{`{"a":"1}`, `invalid JSON at offset 8: unterminated string`},
		{`{"a":tru}`, `invalid JSON at offset 8: unexpected character '}', want "true"`},
		{`{"a":"\ud83d"}`, `invalid JSON at offset 6: lone surrogate \ud83d`},
		{`{"a":[1]}`, `field "a": want i64, got an array`},
		{`{"a":{}}`, `field "a": want i64, got an object`},
		{`"x"`, `request body must be a JSON object keyed by argument name, got "x"`},
	} {
		_, err := convert(t, p, "add", tc.in, "binary")
		if err == nil || !strings.Contains(inputErr(err).Error(), tc.want) {
			t.Errorf("%s: got %v want %q", tc.in, err, tc.want)
		}
	}
}

func TestDeepNestingIsRejected(t *testing.T) {
	p := compileText(t, `service S { void f(1: list<list<i32>> l) }`, "S")
	body := `{"l":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`
	if _, err := convert(t, p, "f", body, "binary"); err == nil {
		t.Fatal("got nil want an error for 200 nested arrays")
	}
}

// FuzzArgs feeds arbitrary bodies to the encoder: it must never panic, and
// whatever it accepts must decode.
func FuzzArgs(f *testing.F) {
	f.Add([]byte(`{"a":` + fullAll + `}`))
	f.Add([]byte(`{"a":{"nested":{"RED":[[1]]},"mlp":{"1":{"x":1,"y":2}}}}`))
	f.Add([]byte(`{"a":{"choice":{"s":"x","n":1}}}`))
	f.Add([]byte(`{"a":{"s":"\ud800\u"}}`))
	p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
	if err != nil {
		f.Fatal(err)
	}
	m := p.methods["echo"]
	f.Fuzz(func(t *testing.T, body []byte) {
		buf := thrift.NewTMemoryBuffer()
		tp := thrift.NewTCompactProtocolConf(buf, nil)
		enc := &encoder{p: tp, ctx: context.Background()}
		if err := enc.writeArgs(m.args, body); err != nil {
			return
		}
		dec := &decoder{p: tp, ctx: context.Background()}
		if err := dec.structVal(m.args, 0); err != nil {
			t.Fatalf("accepted %q but its encoding does not decode: %v", body, err)
		}
	})
}

// rawServer answers every request on its first connection with reply,
// written as a frame.
func rawServer(t *testing.T, reply []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var h [4]byte
		for {
			if _, err := io.ReadFull(r, h[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(h[:])
			if _, err := r.Discard(int(n)); err != nil {
				return
			}
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(reply)))
			if _, err := c.Write(append(frame, reply...)); err != nil {
				return
			}
		}
	}()
	return l.Addr().String()
}

func TestMalformedRepliesAreBackendErrors(t *testing.T) {
	replyHead := func(seq int32) []byte {
		buf := thrift.NewTMemoryBuffer()
		p := thrift.NewTBinaryProtocolConf(buf, nil)
		_ = p.WriteMessageBegin(context.Background(), "echoMap", thrift.REPLY, seq)
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name  string
		reply []byte
	}{
		{"garbage", []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}},
		{"wrong sequence id", append(replyHead(99), 0)},
		{"truncated map", append(replyHead(1), 13, 0, 0, 10, 11, 0x7f, 0xff, 0xff, 0xff)},
		{"map of the wrong types", append(replyHead(1), 13, 0, 0, 8, 8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.reply)
			p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := p.Dial(context.Background(), targetOf(addr))
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = c.Invoke(ctx, &generic.Call{Method: "echoMap", Body: []byte(`{"m":{"1":"a"}}`)})
			if e := generic.AsError(err); e.Code != generic.CodeBackendError || e.HTTPStatus() != 502 {
				t.Fatalf("got %v want BACKEND_ERROR (502)", err)
			}
			if n := len(c.(*Client).pool.idle); n != 0 {
				t.Fatalf("idle connections after a bad reply: got %d want 0", n)
			}
		})
	}
}

// FuzzReply feeds arbitrary bytes to the reply decoder: errors are fine,
// panics are not.
func FuzzReply(f *testing.F) {
	p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
	if err != nil {
		f.Fatal(err)
	}
	m := p.methods["echo"]
	buf := thrift.NewTMemoryBuffer()
	enc := &encoder{p: thrift.NewTCompactProtocolConf(buf, nil), ctx: context.Background()}
	if err := enc.writeArgs(m.args, []byte(`{"a":`+fullAll+`}`)); err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte{1}, buf.Bytes()...))
	f.Add([]byte{0, 0x0c, 0, 1, 0x0d, 0, 0x11, 0x08, 0x0c, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		mb := thrift.NewTMemoryBuffer()
		mb.Write(b[1:])
		conf := &thrift.TConfiguration{MaxMessageSize: 1 << 20}
		var tp thrift.TProtocol = thrift.NewTBinaryProtocolConf(mb, conf)
		if b[0]&1 == 1 {
			tp = thrift.NewTCompactProtocolConf(mb, conf)
		}
		d := &decoder{p: tp, ctx: context.Background()}
		_ = d.structVal(m.args, 0)
	})
}
