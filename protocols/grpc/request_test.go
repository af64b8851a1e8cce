package grpc

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/generic"
)

// compareRequest checks the direct request encoding of body against
// protojson's: when the direct path answers, protojson must accept the
// body and decode to an equal message. It reports whether the direct
// path answered.
func compareRequest(t testing.TB, md protoreflect.MessageDescriptor, p *msgPlan, body []byte) bool {
	t.Helper()
	want := dynamicpb.NewMessage(md)
	werr := decode(protojson.UnmarshalOptions{AllowPartial: true}, body, want)
	w, gerr := encodeRequest(p, body, nil)
	if gerr != nil {
		if gerr == errFallback {
			return false
		}
		ge, ok := gerr.(*generic.Error)
		if !ok || ge.Code != generic.CodeInvalidArgument || !strings.HasPrefix(ge.Message, "invalid JSON at offset ") {
			t.Fatalf("body %q: got error %v, want errFallback or an INVALID_ARGUMENT JSON error", body, gerr)
		}
		if werr == nil && len(bytes.TrimSpace(body)) > 0 {
			// (decode takes a body of Unicode spaces, "\f" say, for no
			// body; JSON's whitespace is space, tab, CR and LF only.)
			t.Fatalf("body %q: direct path refused it (%v), protojson accepts it", body, gerr)
		}
		return false
	}
	if werr != nil {
		t.Fatalf("body %s: direct path accepted it, protojson says %v", body, werr)
	}
	got := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(w, got); err != nil {
		t.Fatalf("body %s: direct path wrote bad wire %x: %v", body, w, err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("body %s:\ngot  %v\nwant %v", body, prototext.Format(got), prototext.Format(want))
	}
	return true
}

func TestRequestEncodingMatchesProtojsonOnRandomMessages(t *testing.T) {
	mds := compileMessages(t, kindsProto, "Kinds", "Inner")
	mds = append(mds, compileMessages(t, proto2Source, "P2")...)
	mds = append(mds, (&demov1.Everything{}).ProtoReflect().Descriptor(), (&demov1.Person{}).ProtoReflect().Descriptor())
	opts := []protojson.MarshalOptions{{}, {UseProtoNames: true}, {UseEnumNumbers: true}, {EmitUnpopulated: true}, {Multiline: true}}
	for _, md := range mds {
		p, _ := newReplyPlan(md)
		r := rand.New(rand.NewSource(int64(len(md.FullName())) + 7))
		n, direct := 0, 0
		for i := 0; i < 1500; i++ {
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(randWire(r, md, 0), m); err != nil {
				continue
			}
			body, err := opts[i%len(opts)].Marshal(m)
			if err != nil {
				continue
			}
			n++
			if compareRequest(t, md, p, body) {
				direct++
			}
		}
		t.Logf("%s: %d of %d bodies encoded directly", md.FullName(), direct, n)
		if md.FullName() == "tx.v2.P2" && direct < n/2 {
			t.Fatalf("%s: got %d of %d bodies encoded directly, want at least half", md.FullName(), direct, n)
		}
	}
}

func TestRequestEncodingEdgeCases(t *testing.T) {
	md := compileMessages(t, kindsProto, "Kinds")[0]
	p, _ := newReplyPlan(md)
	direct := []string{
		``, `  `, `{}`, ` { } `,
		`{"i32":-2147483648,"i64":"-9223372036854775808","u32":4294967295,"u64":"18446744073709551615"}`,
		`{"i32":"7","i64":9007199254740993,"s32":-1,"s64":"-5","f32":1,"f64":"2","sf32":-3,"sf64":"-4"}`,
		`{"fl":1.5,"db":-0.0,"b":true,"s":"h\u00e9llo \"q\" \\ \/ \n\t\b\f\r","by":"AAEC/w=="}`,
		`{"fl":"NaN","db":"-Infinity"}`, `{"fl":3.4e38,"db":1e-320}`, `{"fl":0,"db":0,"b":false,"s":"","by":""}`,
		`{"by":"AAEC_w"}`, `{"by":"-_8"}`, `{"c":"GREEN"}`, `{"c":"CRIMSON"}`, `{"c":1000}`, `{"c":-7}`, `{"c":0}`,
		`{"in":{"s":"x","kids":{"a":{"z":-1}},"list":[{},{"c":"BLUE"}]}}`,
		`{"ri32":[1,-1,"2"],"rs64":[],"rf32":[0,4294967295],"rdb":[1.5,"Infinity"],"rb":[true,false],"rs":["a",""],"rc":["RED",2]}`,
		`{"rin":[{"s":"a"},{}],"rby":["AA==",""]}`,
		`{"mb":{"true":"t","false":""},"mi64":{"-9223372036854775808":{}},"ms32":{"-1":"GREEN"},"mu32":{"0":""}}`,
		`{"mf64":{"18446744073709551615":1.25},"msf":{"":0,"k\u00e9":-1},"msf32":{"5":{"s":"v"}},"mi32":{"1":"-3"},"ms64":{"-2":true}}`,
		`{"oS":""}`, `{"oI":0}`, `{"o_in":{}}`, `{"xC":"RED"}`,
		`{"optI":0,"opt_s":"","optC":"RED","optIn":{}}`,
		`{"Custom_Name":5}`, `{"json_named":6}`,
		`{"empty":{}}`, `{"s":"\ud83d\ude00"}`,
		"{\n\t\"i32\" : 1 ,\r\n \"s\":\"x\" }",
	}
	for _, b := range direct {
		if !compareRequest(t, md, p, []byte(b)) {
			t.Fatalf("body %s: got the protojson path, want direct encoding", b)
		}
	}
	fallback := []string{
		`null`, `[]`, `{"i32":null}`, `{"nope":1}`, `{"i32":1,"i32":2}`, `{"i32":1e2}`, `{"i32":1.0}`, `{"i32":"01"}`,
		`{"i32":-0}`, `{"i32":2147483648}`, `{"u32":-1}`, `{"u64":"18446744073709551616"}`, `{"i64":" 1"}`,
		`{"fl":3.5e38}`, `{"fl":"1.5"}`, `{"db":1e400}`, `{"b":"true"}`, `{"b":1}`, `{"s":1}`,
		`{"s":"a` + "\x01" + `"}`, `{"s":"\x"}`, `{"by":"A"}`, `{"by":"!!!!"}`, `{"c":"PURPLE"}`, `{"c":1.5}`,
		`{"nul":null}`, `{"oS":"a","oI":1}`, `{"oS":"a","o_s":"b"}`, `{"ts":"2024-01-01T00:00:00Z"}`, `{"wI32":1}`,
		`{"mb":{"True":"x"}}`, `{"mi64":{"1":{},"1":{}}}`, `{"mi64":{"01":{}}}`, `{"ri32":[null]}`, `{"ri32":[1,]}`,
		`{"in":{"s":"x"}`, `{"i32":1} x`, `{"i32":1,}`, `{,}`, `{"bigNumber":1,"big_number":1}`, `{"i32":truex}`, `{"b":truex}`, `{"i32":1`,
	}
	for _, b := range fallback {
		if compareRequest(t, md, p, []byte(b)) {
			t.Fatalf("body %s: got direct encoding, want the protojson path", b)
		}
	}
}

// FuzzRequestEncoding feeds arbitrary bodies for tx.v1.Kinds: the direct
// encoder must not panic, and whenever it answers, protojson must accept
// the body and decode to an equal message.
func FuzzRequestEncoding(f *testing.F) {
	for _, b := range []string{`{"i32":1,"s":"x","in":{"kids":{"a":{}}}}`, `{"mb":{"true":"t"},"rdb":[1.5,"NaN"]}`,
		`{"c":"GREEN","rc":[1,"RED"],"by":"AAEC_w","oS":"\u00e9"}`, `{"mi64":{"-1":{"z":2}},"u64":"18446744073709551615"}`} {
		f.Add([]byte(b))
	}
	md := compileMessages(f, kindsProto, "Kinds")[0]
	p, _ := newReplyPlan(md)
	f.Fuzz(func(t *testing.T, body []byte) {
		compareRequest(t, md, p, body)
	})
}
