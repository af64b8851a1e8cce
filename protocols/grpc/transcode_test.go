package grpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
)

// kindsProto covers every field kind, map key kind, oneofs, proto3
// optional, wrappers, Empty, NullValue, aliases, json_name and sparse
// field numbers.
const kindsProto = `syntax = "proto3";
package tx.v1;
import "google/protobuf/wrappers.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";

enum Color { option allow_alias = true; RED = 0; CRIMSON = 0; GREEN = 1; BLUE = -2; BIG = 1000; }
message Inner {
  string s = 1; map<string, Inner> kids = 2; repeated Inner list = 3; sint32 z = 4; Color c = 5;
  google.protobuf.Timestamp ts = 6;
}
message Kinds {
  int32 i32 = 1; int64 i64 = 2; uint32 u32 = 3; uint64 u64 = 4; sint32 s32 = 5; sint64 s64 = 6;
  fixed32 f32 = 7; fixed64 f64 = 8; sfixed32 sf32 = 9; sfixed64 sf64 = 10; float fl = 11; double db = 12;
  bool b = 13; string s = 14; bytes by = 15; Color c = 16; Inner in = 17;
  repeated int32 ri32 = 21; repeated int64 ri64 = 22; repeated uint32 ru32 = 23; repeated uint64 ru64 = 24;
  repeated sint32 rs32 = 25; repeated sint64 rs64 = 26; repeated fixed32 rf32 = 27; repeated fixed64 rf64 = 28;
  repeated sfixed32 rsf32 = 29; repeated sfixed64 rsf64 = 30; repeated float rfl = 31; repeated double rdb = 32;
  repeated bool rb = 33; repeated string rs = 34; repeated bytes rby = 35; repeated Color rc = 36; repeated Inner rin = 37;
  map<bool, string> mb = 40; map<int64, Inner> mi64 = 41; map<sint32, Color> ms32 = 42; map<uint32, bytes> mu32 = 43;
  map<fixed64, double> mf64 = 44; map<string, float> msf = 45; map<sfixed32, Inner> msf32 = 46;
  map<string, google.protobuf.Timestamp> mts = 47; map<int32, sint64> mi32 = 48; map<sint64, bool> ms64 = 49;
  oneof pick { string o_s = 50; Inner o_in = 51; int32 o_i = 52; google.protobuf.Duration o_d = 53; }
  optional int32 opt_i = 54; optional Inner opt_in = 55; optional string opt_s = 56; optional Color opt_c = 57;
  google.protobuf.Int32Value w_i32 = 60; google.protobuf.Int64Value w_i64 = 61; google.protobuf.UInt32Value w_u32 = 62;
  google.protobuf.UInt64Value w_u64 = 63; google.protobuf.FloatValue w_fl = 64; google.protobuf.DoubleValue w_db = 65;
  google.protobuf.BoolValue w_b = 66; google.protobuf.StringValue w_s = 67; google.protobuf.BytesValue w_by = 68;
  google.protobuf.Empty empty = 70; google.protobuf.NullValue nul = 71; google.protobuf.Timestamp ts = 72;
  google.protobuf.Duration du = 73; repeated google.protobuf.Timestamp rts = 74; repeated google.protobuf.Duration rdu = 76;
  int32 json_named = 75 [json_name = "Custom_Name"];
  int32 big_number = 536870911;
  int32 mid_number = 300;
  oneof other { Inner x_in = 80; Color x_c = 81; bytes x_by = 82; }
}
`

// proto2Source covers presence, defaults, closed enums and packed options.
const proto2Source = `syntax = "proto2";
package tx.v2;
enum E { A = 1; B = 2; }
message P2 {
  optional int32 a = 1 [default = 7]; optional string s = 2 [default = "x"]; optional E e = 3;
  repeated int32 r = 4; repeated int32 p = 5 [packed = true]; optional P2 child = 6; map<string, int32> m = 7;
  optional double d = 8 [default = -1.5]; optional bytes by = 9;
}
`

func compileMessages(t testing.TB, src string, names ...string) []protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"x.proto": src})})}
	res, err := c.Compile(context.Background(), "x.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	f := linker.File(res[0])
	var out []protoreflect.MessageDescriptor
	for _, n := range names {
		md := f.Messages().ByName(protoreflect.Name(n))
		if md == nil {
			t.Fatalf("no message %s", n)
		}
		out = append(out, md)
	}
	return out
}

// protojsonOf is the adapter's protojson path: wire -> dynamicpb -> JSON.
// A panic inside protobuf-go (it has one for some malformed map entries)
// is errSlowPanic: there is no protojson answer to compare with.
func protojsonOf(md protoreflect.MessageDescriptor, wire []byte, emit bool) ([]byte, error) {
	m := dynamicpb.NewMessage(md)
	if err := unmarshalSafely(wire, m); err != nil {
		if strings.Contains(err.Error(), "panic") {
			return nil, errSlowPanic
		}
		return nil, err
	}
	return protojson.MarshalOptions{EmitUnpopulated: emit, AllowPartial: true}.Marshal(m)
}

var errSlowPanic = errors.New("protobuf panicked while decoding")

func transcodeOf(p *msgPlan, wire []byte, emit bool) ([]byte, error) {
	t := &transcoder{}
	t.reset(emit)
	err := t.transcode(p, wire)
	return t.out, err
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// outcome compares the transcoder with protojson on one wire message.
// unsupportedOK allows errUnsupported (a type the plan leaves to
// protojson) instead of a result.
// It reports whether JSON was compared (false when both failed).
func compareOne(t testing.TB, md protoreflect.MessageDescriptor, p *msgPlan, wire []byte, emit, unsupportedOK bool) bool {
	t.Helper()
	want, werr := protojsonOf(md, wire, emit)
	got, gerr := transcodeOf(p, wire, emit)
	switch {
	case werr == errSlowPanic:
		return false
	case werr != nil && gerr == nil:
		t.Fatalf("emit=%v wire %x: got JSON %s, want an error like protojson's: %v", emit, wire, got, werr)
	case werr != nil:
		return false // the reply goes down the protojson path, which reports werr
	case gerr != nil && unsupportedOK && errors.Is(gerr, errUnsupported):
		return false
	case gerr != nil:
		t.Fatalf("emit=%v wire %x: got error %v, want %s", emit, wire, gerr, want)
	}
	g, err := decodeNumbers(got)
	if err != nil {
		t.Fatalf("emit=%v wire %x: got invalid JSON %s: %v", emit, wire, got, err)
	}
	w, err := decodeNumbers(want)
	if err != nil {
		t.Fatalf("protojson wrote invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("emit=%v wire %x:\ngot  %s\nwant %s", emit, wire, got, want)
	}
	return true
}

func everythingCases() []proto.Message {
	ts := &timestamppb.Timestamp{Seconds: 1704164645, Nanos: 123000000}
	return []proto.Message{
		&demov1.Everything{},
		&demov1.Person{},
		&demov1.Person{Id: 1, Name: "Ada Lovelace", Email: "ada@example.com", Role: demov1.Role_ROLE_ADMIN,
			Address: &demov1.Address{Street: "12 St James's Square", City: "London", Geo: &demov1.Address_Geo{Lat: 51.5074, Lng: -0.1345}},
			Tags:    []string{"math", "engines"}, CreatedAt: ts, RequestId: "r-1"},
		&demov1.Everything{I32: math.MinInt32, I64: math.MinInt64, U32: math.MaxUint32, U64: math.MaxUint64,
			S64: math.MinInt64, F64: math.MaxUint64, Sf64: math.MinInt64, F32: math.MaxFloat32, F64D: -math.MaxFloat64,
			Flag: true, Text: "héllo \"wörld\" \\ \n\t\x00\x1f\x7f 日本語 😀 \u2028", Blob: []byte{0, 1, 2, 0xff}, Role: demov1.Role(99)},
		&demov1.Everything{I32: -1, I64: -1, S64: -1, Sf64: -1, F32: float32(math.NaN()), F64D: math.Inf(1)},
		&demov1.Everything{F32: float32(math.Inf(-1)), F64D: math.NaN()},
		&demov1.Everything{F32: float32(math.Copysign(0, -1)), F64D: math.Copysign(0, -1)},
		&demov1.Everything{F32: 0.1, F64D: 0.1},
		&demov1.Everything{F32: 1e-7, F64D: 1e-7},
		&demov1.Everything{F32: 1e21, F64D: 1e21},
		&demov1.Everything{F32: 123456.789, F64D: 1e20},
		&demov1.Everything{F32: math.SmallestNonzeroFloat32, F64D: math.SmallestNonzeroFloat64},
		&demov1.Everything{I64: 9007199254740993, U64: 1 << 63, F64: 1, Text: "", Blob: []byte{}},
		&demov1.Everything{Choice: &demov1.Everything_Name{Name: ""}},
		&demov1.Everything{Choice: &demov1.Everything_Number{Number: 0}},
		&demov1.Everything{Choice: &demov1.Everything_Place{Place: &demov1.Address{}}},
		&demov1.Everything{Choice: &demov1.Everything_Place{Place: &demov1.Address{City: "Oslo"}}},
		&demov1.Everything{Nickname: proto.String("")},
		&demov1.Everything{Nickname: proto.String("ada")},
		&demov1.Everything{Counts: map[string]int64{"": 0, "a": 1, "b": -2, "é": math.MaxInt64},
			Addresses: map[int32]*demov1.Address{0: {}, -1: {City: "x"}, math.MaxInt32: {Geo: &demov1.Address_Geo{}}}},
		&demov1.Everything{Ids: bigInts(1000), Roles: []demov1.Role{0, 1, 2, 3, 42, -5},
			People: []*demov1.Person{{}, {Name: "a"}, {Id: 2, CreatedAt: &timestamppb.Timestamp{}}}},
		&demov1.Everything{When: &timestamppb.Timestamp{}, Took: &durationpb.Duration{}},
		&demov1.Everything{When: &timestamppb.Timestamp{Seconds: -62135596800}, Took: &durationpb.Duration{Seconds: -1, Nanos: -500000000}},
		&demov1.Everything{When: &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}, Took: &durationpb.Duration{Seconds: 315576000000}},
		&demov1.Everything{When: &timestamppb.Timestamp{Seconds: 1, Nanos: 1000}, Took: &durationpb.Duration{Nanos: 1}},
		&demov1.Everything{When: &timestamppb.Timestamp{Seconds: 1, Nanos: 1}, Took: &durationpb.Duration{Nanos: -1000}},
		&demov1.Everything{Took: &durationpb.Duration{Seconds: -315576000000, Nanos: -999999999}},
		// out of range: protojson fails, so must the transcoder
		&demov1.Everything{When: &timestamppb.Timestamp{Seconds: 253402300800}},
		&demov1.Everything{When: &timestamppb.Timestamp{Nanos: -1}},
		&demov1.Everything{Took: &durationpb.Duration{Seconds: 1, Nanos: -1}},
		&demov1.Everything{Took: &durationpb.Duration{Seconds: 315576000001}},
		// Any, Struct and Value are left to protojson
		&demov1.Everything{Extra: &anypb.Any{}},
		&demov1.Everything{Attrs: &structpb.Struct{}},
		&demov1.Everything{Value: structpb.NewStringValue("x")},
	}
}

func bigInts(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i*i*i) - 1<<40
	}
	return out
}

// wireEdits are wire-level variations appended to or built around a
// message: unknown fields, repeated singular fields, unpacked lists, wrong
// wire types, duplicate and partial map entries, oneof switches.
func wireEdits() [][]byte {
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	tag := protowire.AppendTag
	str := func(b []byte, n protowire.Number, s string) []byte {
		return protowire.AppendString(tag(b, n, protowire.BytesType), s)
	}
	vint := func(b []byte, n protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(tag(b, n, protowire.VarintType), v)
	}
	msg := func(b []byte, n protowire.Number, m []byte) []byte {
		return protowire.AppendBytes(tag(b, n, protowire.BytesType), m)
	}
	// unknown fields of every wire type, including a group
	u := vint(nil, 100, 5)
	u = str(u, 101, "unknown")
	u = protowire.AppendFixed32(tag(u, 102, protowire.Fixed32Type), 7)
	u = protowire.AppendFixed64(tag(u, 103, protowire.Fixed64Type), 7)
	u = tag(u, 104, protowire.StartGroupType)
	u = vint(u, 1, 1)
	u = tag(u, 104, protowire.EndGroupType)
	add(append(str(nil, 11, "before"), u...))
	// last one wins for scalars; singular messages merge
	add(str(str(nil, 11, "first"), 11, "second"))
	add(vint(vint(nil, 1, 5), 1, 0))
	add(vint(vint(nil, 1, 0), 1, 5))
	p1 := str(nil, 2, "Ada")
	p2 := vint(str(nil, 3, "ada@x"), 1, 9)
	add(msg(msg(nil, 14, p1), 14, p2))
	add(msg(msg(nil, 14, str(nil, 6, "t1")), 14, str(nil, 6, "t2")))
	// int32 written as a 64-bit negative varint and as 2^32 (truncates to 0)
	add(vint(nil, 1, 1<<32))
	add(vint(nil, 1, uint64(1)<<63|1<<31))
	// bool varint 2
	add(vint(nil, 10, 2))
	// wrong wire type: kept unknown by protobuf, ignored in JSON
	add(protowire.AppendFixed64(tag(nil, 1, protowire.Fixed64Type), 1))
	add(vint(nil, 11, 1))
	add(vint(nil, 14, 1))
	// unpacked and mixed packed/unpacked repeated int64
	unp := vint(vint(nil, 20, 1), 20, uint64(math.MaxUint64))
	add(unp)
	packed := msg(nil, 20, protowire.AppendVarint(protowire.AppendVarint(nil, 3), 4))
	add(append(append(unp, packed...), vint(nil, 20, 5)...))
	add(msg(nil, 20, nil)) // empty packed list
	add(msg(nil, 22, protowire.AppendVarint(protowire.AppendVarint(nil, 1), 77)))
	// map entries: duplicates (last wins), missing key, missing value, reversed order
	e1 := vint(str(nil, 1, "k"), 2, 1)
	e2 := vint(str(nil, 1, "k"), 2, 2)
	add(msg(msg(nil, 15, e1), 15, e2))
	add(msg(nil, 15, vint(nil, 2, 3)))
	add(msg(nil, 15, str(nil, 1, "only-key")))
	add(msg(nil, 15, str(vint(nil, 2, 4), 1, "rev")))
	add(msg(nil, 15, nil))
	add(msg(nil, 16, vint(nil, 1, 7)))
	add(msg(nil, 16, msg(msg(vint(nil, 1, 7), 2, str(nil, 2, "A")), 2, str(nil, 1, "B"))))
	add(msg(msg(nil, 16, msg(vint(nil, 1, 7), 2, str(nil, 2, "A"))), 16, msg(vint(nil, 1, 7), 2, str(nil, 1, "B"))))
	// map entry with unknown field inside and a wrong-typed key
	add(msg(nil, 15, vint(str(vint(nil, 3, 1), 1, "x"), 2, 1)))
	add(msg(nil, 15, vint(vint(nil, 1, 1), 2, 1)))
	// oneof switches: name -> number -> place; place merges; place -> name
	add(vint(str(nil, 17, "n"), 18, 5))
	add(msg(vint(str(nil, 17, "n"), 18, 5), 19, str(nil, 2, "City")))
	add(msg(msg(nil, 19, str(nil, 2, "City")), 19, str(nil, 1, "Street")))
	add(msg(str(msg(nil, 19, str(nil, 2, "City")), 17, "n"), 19, nil))
	add(msg(str(msg(nil, 19, str(nil, 2, "City")), 17, "n"), 19, str(nil, 1, "S")))
	// timestamps given twice and with unknown fields
	add(msg(msg(nil, 23, vint(nil, 1, 100)), 23, vint(vint(nil, 2, 5000), 9, 1)))
	// fields out of declaration order
	add(str(vint(str(nil, 29, "req"), 1, 3), 11, "t"))
	// invalid UTF-8 in a proto3 string: an error on both paths
	add(str(nil, 11, "\xff"))
	add(msg(nil, 15, str(nil, 1, "\xc3")))
	// malformed: truncated varint, truncated bytes, field number 0, bad end group
	add([]byte{0x08, 0x80})
	add([]byte{0x5a, 0x05, 'a'})
	add([]byte{0x00, 0x01})
	add(tag(nil, 5, protowire.EndGroupType))
	return out
}

func TestTranscoderMatchesProtojsonOnEverything(t *testing.T) {
	md := (&demov1.Everything{}).ProtoReflect().Descriptor()
	p, ok := newReplyPlan(md)
	if ok {
		t.Fatalf("got plan usable for Everything, want it left to protojson (Any, Struct, Value)")
	}
	pmd := (&demov1.Person{}).ProtoReflect().Descriptor()
	pp, ok := newReplyPlan(pmd)
	if !ok {
		t.Fatalf("got Person plan unusable, want usable")
	}
	for _, emit := range []bool{false, true} {
		for i, m := range everythingCases() {
			wire, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if m.ProtoReflect().Descriptor() == pmd {
				compareOne(t, pmd, pp, wire, emit, false)
				continue
			}
			compareOne(t, md, p, wire, emit, true)
			// the same with every wire edit appended
			for _, e := range wireEdits() {
				compareOne(t, md, p, append(append([]byte(nil), wire...), e...), emit, true)
			}
		}
		for _, e := range wireEdits() {
			compareOne(t, md, p, e, emit, true)
		}
	}
}

func TestTranscoderMatchesProtojsonOnRandomMessages(t *testing.T) {
	mds := compileMessages(t, kindsProto, "Kinds", "Inner")
	mds = append(mds, compileMessages(t, proto2Source, "P2")...)
	for _, md := range mds {
		p, ok := newReplyPlan(md)
		if !ok {
			t.Fatalf("got plan for %s unusable, want usable", md.FullName())
		}
		r := rand.New(rand.NewSource(int64(len(md.FullName()))))
		n := 3000
		if testing.Short() {
			n = 300
		}
		compared := 0
		for i := 0; i < n; i++ {
			wire := randWire(r, md, 0)
			if compareOne(t, md, p, wire, i%2 == 0, false) {
				compared++
			}
		}
		// most random messages are valid; the rest must fail on both paths
		if compared < n/2 {
			t.Fatalf("%s: got %d of %d messages compared, want at least half", md.FullName(), compared, n)
		}
		t.Logf("%s: %d of %d messages compared", md.FullName(), compared, n)
	}
}

func TestTranscoderKeepsFieldNamesAndWellKnownForms(t *testing.T) {
	md := compileMessages(t, kindsProto, "Kinds")[0]
	p, _ := newReplyPlan(md)
	tag := protowire.AppendTag
	w := protowire.AppendVarint(tag(nil, 75, protowire.VarintType), 3)
	w = protowire.AppendBytes(tag(w, 60, protowire.BytesType), nil)
	w = protowire.AppendBytes(tag(w, 70, protowire.BytesType), nil)
	w = protowire.AppendVarint(tag(w, 71, protowire.VarintType), 0)
	w = protowire.AppendVarint(tag(w, 536870911, protowire.VarintType), 1)
	w = protowire.AppendBytes(tag(w, 73, protowire.BytesType),
		protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 90))
	compareOne(t, md, p, w, false, false)
	compareOne(t, md, p, w, true, false)
	got, err := transcodeOf(p, w, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"du":"90s","wI32":0,"empty":{},"Custom_Name":3,"bigNumber":1}`
	g, _ := decodeNumbers(got)
	wv, _ := decodeNumbers([]byte(want))
	if !reflect.DeepEqual(g, wv) {
		t.Fatalf("got %s want %s", got, want)
	}
}

var (
	edgeVarints = []uint64{0, 1, 2, 3, 127, 128, 1 << 31, 1 << 32, math.MaxInt32, math.MaxUint32,
		math.MaxInt64, 1 << 63, math.MaxUint64, math.MaxUint64 - 1, uint64(1<<64 - 1000)}
	edgeFixed32 = []uint32{0, 1, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x3dcccccd, 0xffffffff,
		0x5f000000, 0x7f7fffff, 0x00800000, math.Float32bits(1e-7), math.Float32bits(1e21), math.Float32bits(123.456)}
	edgeFixed64 = []uint64{0, 1, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000001,
		math.Float64bits(1e21), math.Float64bits(1e-7), math.Float64bits(0.1), math.Float64bits(123456789.125),
		math.Float64bits(-1e-300), math.MaxUint64, math.Float64bits(1e20), math.Float64bits(999999999999999999999)}
	edgeStrings = []string{"", "a", "héllo", "日本語", "\x00\x1f\"\\/\u2028<>&", "emoji 😀", "\x7f", "k", "k",
		strings.Repeat("long ", 40)}
)

func randVarint(r *rand.Rand) uint64 {
	switch r.Intn(4) {
	case 0:
		return uint64(r.Intn(5))
	case 1:
		return r.Uint64() >> uint(r.Intn(64))
	default:
		return edgeVarints[r.Intn(len(edgeVarints))]
	}
}

func randString(r *rand.Rand) string {
	if r.Intn(200) == 0 {
		return "bad \xff utf8"
	}
	return edgeStrings[r.Intn(len(edgeStrings))]
}

// randWire writes a random encoding of md: known fields with edge values
// (repeated, packed or not, sometimes with the wrong wire type), map
// entries with duplicate or missing parts, and unknown fields.
func randWire(r *rand.Rand, md protoreflect.MessageDescriptor, depth int) []byte {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		return randSecondsNanos(r, md.FullName() == "google.protobuf.Duration")
	}
	var b []byte
	fds := md.Fields()
	if fds.Len() == 0 {
		return b
	}
	n := r.Intn(min(fds.Len(), 12) + 2)
	if depth > 0 {
		n = r.Intn(5 - min(depth, 3))
	}
	for k := 0; k < n; k++ {
		if r.Intn(15) == 0 {
			num := protowire.Number(1000 + r.Intn(50))
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendString(b, "unknown")
			continue
		}
		b = appendField(r, b, fds.Get(r.Intn(fds.Len())), depth)
	}
	return b
}

func randSecondsNanos(r *rand.Rand, duration bool) []byte {
	var secs int64
	var nanos int32
	switch r.Intn(6) {
	case 0:
	case 1:
		secs = r.Int63n(253402300799)
	case 2:
		secs = -r.Int63n(62135596800)
		if duration {
			nanos = -int32(r.Intn(1e9))
		}
	default:
		secs = r.Int63n(1e10)
	}
	switch r.Intn(5) {
	case 0:
		nanos = int32(r.Intn(1e9))
	case 1:
		nanos = int32(r.Intn(1000)) * 1e6
	case 2:
		nanos = int32(r.Intn(1000)) * 1e3
	}
	if duration && secs < 0 && nanos > 0 {
		nanos = -nanos
	}
	if r.Intn(25) == 0 {
		secs = math.MaxInt64 - int64(r.Intn(3)) // out of range
	}
	var b []byte
	if secs != 0 || r.Intn(3) == 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), uint64(secs))
	}
	if nanos != 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), uint64(int64(nanos)))
	}
	return b
}

func wireTypeOf(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	}
	return protowire.VarintType
}

// appendValue appends one value of fd's kind, without a tag.
func appendValue(r *rand.Rand, b []byte, fd protoreflect.FieldDescriptor, depth int) []byte {
	switch wireTypeOf(fd.Kind()) {
	case protowire.Fixed32Type:
		if r.Intn(3) == 0 {
			return protowire.AppendFixed32(b, r.Uint32())
		}
		return protowire.AppendFixed32(b, edgeFixed32[r.Intn(len(edgeFixed32))])
	case protowire.Fixed64Type:
		if r.Intn(3) == 0 {
			return protowire.AppendFixed64(b, r.Uint64())
		}
		return protowire.AppendFixed64(b, edgeFixed64[r.Intn(len(edgeFixed64))])
	case protowire.BytesType:
		switch fd.Kind() {
		case protoreflect.StringKind:
			return protowire.AppendString(b, randString(r))
		case protoreflect.BytesKind:
			v := make([]byte, r.Intn(6))
			r.Read(v)
			return protowire.AppendBytes(b, v)
		}
		return protowire.AppendBytes(b, randWire(r, fd.Message(), depth+1))
	}
	if fd.Kind() == protoreflect.EnumKind && r.Intn(2) == 0 {
		return protowire.AppendVarint(b, uint64(int64([]int{0, 1, 2, -2, 1000, 99, -1}[r.Intn(7)])))
	}
	return protowire.AppendVarint(b, randVarint(r))
}

func appendField(r *rand.Rand, b []byte, fd protoreflect.FieldDescriptor, depth int) []byte {
	num := fd.Number()
	if r.Intn(25) == 0 {
		// the wrong wire type
		wt := []protowire.Type{protowire.VarintType, protowire.Fixed32Type, protowire.Fixed64Type}[r.Intn(3)]
		b = protowire.AppendTag(b, num, wt)
		switch wt {
		case protowire.VarintType:
			return protowire.AppendVarint(b, 1)
		case protowire.Fixed32Type:
			return protowire.AppendFixed32(b, 1)
		}
		return protowire.AppendFixed64(b, 1)
	}
	if fd.IsMap() {
		for k := r.Intn(4); k >= 0; k-- {
			var e []byte
			if r.Intn(8) != 0 {
				e = protowire.AppendTag(e, 1, wireTypeOf(fd.MapKey().Kind()))
				if fd.MapKey().Kind() == protoreflect.StringKind {
					e = protowire.AppendString(e, edgeStrings[r.Intn(4)])
				} else {
					e = appendValue(r, e, fd.MapKey(), depth)
				}
			}
			for v := r.Intn(3); v > 0; v-- {
				e = protowire.AppendTag(e, 2, wireTypeOf(fd.MapValue().Kind()))
				e = appendValue(r, e, fd.MapValue(), depth)
			}
			b = protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), e)
		}
		return b
	}
	wt := wireTypeOf(fd.Kind())
	if fd.IsList() && wt != protowire.BytesType && r.Intn(2) == 0 {
		var pk []byte
		for k := r.Intn(5); k > 0; k-- {
			pk = appendValue(r, pk, fd, depth)
		}
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), pk)
	}
	count := 1
	if fd.IsList() || r.Intn(6) == 0 {
		count += r.Intn(3)
	}
	for ; count > 0; count-- {
		b = protowire.AppendTag(b, num, wt)
		b = appendValue(r, b, fd, depth)
	}
	return b
}

// FuzzTranscodeEverything feeds arbitrary wire bytes as a
// demov1.Everything: the transcoder must not panic, and when protojson
// succeeds and the transcoder does too, their JSON must agree.
func FuzzTranscodeEverything(f *testing.F) {
	for _, m := range everythingCases() {
		w, _ := proto.Marshal(m)
		f.Add(w, false)
	}
	for _, e := range wireEdits() {
		f.Add(e, true)
	}
	md := (&demov1.Everything{}).ProtoReflect().Descriptor()
	p, _ := newReplyPlan(md)
	f.Fuzz(func(t *testing.T, wire []byte, emit bool) {
		got, gerr := transcodeOf(p, wire, emit)
		want, werr := protojsonOf(md, wire, emit)
		if werr != nil || gerr != nil {
			if werr != nil || errors.Is(gerr, errUnsupported) {
				return
			}
			t.Fatalf("wire %x: got error %v, want %s", wire, gerr, want)
		}
		g, err := decodeNumbers(got)
		if err != nil {
			t.Fatalf("wire %x: got invalid JSON %s: %v", wire, got, err)
		}
		w, _ := decodeNumbers(want)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("wire %x:\ngot  %s\nwant %s", wire, got, want)
		}
	})
}
