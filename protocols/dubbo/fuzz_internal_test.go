package dubbo

import (
	"encoding/json"
	"testing"

	hessian "github.com/apache/dubbo-go-hessian2"
)

// FuzzDecodeReply feeds arbitrary reply bodies to the direct engine's
// reply decoder: it must return an error, an exception, or valid JSON,
// never panic, and its work is bounded by maxReplyValues.
func FuzzDecodeReply(f *testing.F) {
	for _, v := range []any{
		int64(42), "héllo", []any{int32(1), "two", true, nil, 2.5},
		map[any]any{"class": "org.example.User", "id": int64(1), "tags": []string{"x"}},
		[]byte{1, 2, 3},
	} {
		enc := hessian.NewEncoder()
		_ = enc.Encode(int32(responseValueWithAttachments))
		_ = enc.Encode(v)
		_ = enc.Encode(map[any]any{"dubbo": "2.0.2"})
		f.Add(enc.Buffer())
	}
	enc := hessian.NewEncoder()
	_ = enc.Encode(int32(responseWithException))
	_ = enc.EncodeMapAsClass("com.example.BizException", map[string]any{"code": int32(4001), "detailMessage": "no"})
	f.Add(enc.Buffer())
	// A list whose items refer to the list before them, twice: 2^n
	// values from 3n bytes.
	nested := []byte{0x91, 0x72, 0x90, 0x90}
	for i := range 30 {
		nested = append(nested, 0x72, 0x51, byte(0x90+i), 0x51, byte(0x90+i))
	}
	f.Add(nested)
	f.Add([]byte{0x92})
	f.Add([]byte{0x94, 0x43, 0x01, 'E', 0x91, 0x04, 'n', 'a', 'm', 'e', 0x60, 0x51, 0x90})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, keep := range []bool{false, true} {
			out, ex, err := decodeReply(b, keep)
			if err == nil && ex == nil && !json.Valid(out) {
				t.Fatalf("invalid JSON %q from % x", out, b)
			}
		}
	})
}

// FuzzWriteArgument converts arbitrary JSON to each Java type and writes
// it as Hessian 2: what the writer writes reads back whole.
func FuzzWriteArgument(f *testing.F) {
	f.Add(`{"name": "ann", "age": 3, "tags": ["x"]}`, uint8(0))
	f.Add(`[1, 2, 3]`, uint8(3))
	f.Add(`"12345678901234567890.5"`, uint8(7))
	f.Add(`"héllo 😀"`, uint8(1))
	types := []string{"org.example.User", "java.lang.String", "long", "int[]", "java.util.List<java.lang.Long>",
		"java.util.Map<java.lang.String, java.lang.Object>", "java.lang.Object", "java.math.BigDecimal",
		"java.math.BigInteger", "java.util.Date", "byte[]", "double[]", "float", "java.lang.String[]", "org.example.Color"}
	f.Fuzz(func(t *testing.T, body string, ti uint8) {
		typ := types[int(ti)%len(types)]
		v, err := toHessian(json.RawMessage(body), typ)
		if err != nil {
			return
		}
		w := hessianWriter{}
		if err := w.value(v, 0); err != nil {
			return
		}
		r := hessianReader{b: w.b}
		if _, err := r.read(); err != nil {
			t.Fatalf("%s %s: written % x does not read back: %v", typ, body, w.b, err)
		}
		if r.pos != len(w.b) {
			t.Fatalf("%s %s: read %d of %d bytes", typ, body, r.pos, len(w.b))
		}
	})
}
