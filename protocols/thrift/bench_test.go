package thrift

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
)

const smallBody = `{"a":9007199254740993,"b":2,"c":3,"d":4}`

// nestedBody is about 1 KB of nested structs, containers and maps.
const nestedBody = `{"a":{
  "b": true, "by": -128, "i8v": 127, "i16v": -32768, "i32v": 2147483647,
  "i64v": "9223372036854775807", "d": 3.25, "s": "hello world, a plain string",
  "bin": "AAEC/w==", "color": "BLUE", "point": {"x": 1, "y": -2},
  "choice": {"n": "9007199254740993"},
  "li": [1, -1, 2147483647, 4, 5, 6, 7, 8], "ss": ["a", "b", "c", "d"],
  "msl": {"k": "-9007199254740993", "j": 5, "l": 6},
  "mis": {"1": "one", "-2": "minus two"}, "mlp": {"9007199254740993": {"x": 3, "y": 4}},
  "nested": {"RED": [[1, 2], [3]], "GREEN": []},
  "lmi": [{"i": {"a": 1, "b": "x"}, "j": {"a": 2}}, {"k": {"a": 3, "b": "yy"}}],
  "id": 42, "tags": ["t1", "t2", "t3"], "mbd": {"true": 1.5, "false": -2},
  "mds": {"1.5": "x", "-0.25": "y"}, "opt": 0, "withDefault": 7, "colour": "RED",
  "points": [{"x": 5, "y": 6}, {"x": 7, "y": 8}, {"x": 9, "y": 10}, {"x": 11, "y": 12}],
  "name": "a name that is a little longer than the others"
}}`

func benchConvert(b *testing.B, methodName, body string) {
	p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
	if err != nil {
		b.Fatal(err)
	}
	m := p.methods[methodName]
	buf := thrift.NewTMemoryBuffer()
	proto := thrift.NewTBinaryProtocolConf(buf, nil)
	ctx := context.Background()
	enc := &encoder{p: proto, ctx: ctx}
	dec := &decoder{p: proto, ctx: ctx}
	in := []byte(body)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := enc.writeArgs(m.args, in); err != nil {
			b.Fatal(err)
		}
		dec.out = dec.out[:0]
		if err := dec.structVal(m.args, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertSmall is JSON -> Thrift binary -> JSON for four scalar
// arguments, with no network.
func BenchmarkConvertSmall(b *testing.B) { benchConvert(b, "add", smallBody) }

// BenchmarkConvertNested1KB is the same for about 1 KB of nested values.
func BenchmarkConvertNested1KB(b *testing.B) { benchConvert(b, "echo", nestedBody) }

func benchInvoke(b *testing.B, methodName, body string) {
	cfg := serverConfig{protocol: "binary", transport: "framed"}
	s := startServer(b, cfg)
	c := newClient(b, s, cfg, nil)
	call := &generic.Call{Method: methodName, Body: []byte(body)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInvokeSmall is one end-to-end call against the in-process
// Apache Thrift server (binary, framed), client side and server side.
func BenchmarkInvokeSmall(b *testing.B) { benchInvoke(b, "add", smallBody) }

// BenchmarkInvokeNested1KB echoes about 1 KB of nested values end to end.
func BenchmarkInvokeNested1KB(b *testing.B) { benchInvoke(b, "echo", nestedBody) }

// BenchmarkBaselineMapJSON is the map-based approach for comparison: only
// JSON -> map[string]any -> JSON for the same 1 KB body, no Thrift at all.
func BenchmarkBaselineMapJSON(b *testing.B) {
	in := []byte(nestedBody)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
