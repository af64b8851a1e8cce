package dubbo

import (
	"math"
	"strings"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
)

// A Java provider's BizException, bare or wrapped by a generic call's
// GenericException, reads with its class, message and own fields.
func TestReadJavaExceptionFromJavaBytes(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		e, ok := readJavaException(JavaBizExceptionReply(wrapped))
		if !ok {
			t.Fatalf("wrapped %v: got no exception, want com.example.BizException", wrapped)
		}
		if e.class != "com.example.BizException" || e.message != "insufficient balance" {
			t.Fatalf("wrapped %v: got class %q message %q, want com.example.BizException \"insufficient balance\"",
				wrapped, e.class, e.message)
		}
		b, err := appendJSON(nil, e.fields, false, 0)
		if err != nil || string(b) != `{"code":4001}` {
			t.Fatalf("wrapped %v: got fields %s (%v), want {\"code\":4001}", wrapped, b, err)
		}
	}
}

// Any prefix of a reply reads without panicking; a reply of a value is
// not an exception.
func TestReadJavaExceptionRejectsOtherBodies(t *testing.T) {
	b := JavaBizExceptionReply(true)
	for i := range b {
		readJavaException(b[:i])
	}
	if _, ok := readJavaException([]byte{0x94, 0x05, 'h', 'e', 'l', 'l', 'o', 'H', 'Z'}); ok {
		t.Fatalf("a value reply read as an exception, want not ok")
	}
	if _, ok := readJavaException([]byte{0x90, 0x05, 'o', 'o', 'p', 's', '!'}); ok {
		t.Fatalf("an exception sent as a string read as an object, want not ok")
	}
}

// readerProbe is a POJO registered only by this test, under a name
// nothing else uses.
type readerProbe struct {
	Name  string
	Count int64
	Items []any
	Next  *readerProbe
	When  time.Time
}

func (readerProbe) JavaClassName() string { return "org.rpcbridge.test.ReaderProbe" }

// hessianReader reads what hessian2 writes as hessian2 decodes it: both
// are written out as JSON and compared.
func TestHessianReaderMatchesHessian2(t *testing.T) {
	hessian.RegisterPOJO(&readerProbe{})
	// Every When is set: hessian2 writes a zero time as null, which it
	// decodes into a Go field as the zero time again, and this reader as
	// null.
	shared := &readerProbe{Name: "shared", Count: -3, When: time.UnixMilli(2).UTC()}
	values := []any{
		nil, true, false,
		int32(-16), int32(47), int32(48), int32(-17), int32(-2048), int32(2047), int32(2048),
		int32(-262144), int32(262143), int32(262144), int32(math.MinInt32), int32(math.MaxInt32),
		int64(-8), int64(15), int64(16), int64(-2048), int64(2047), int64(-262144), int64(262143),
		int64(1) << 40, int64(math.MinInt64), int64(math.MaxInt64),
		0.0, 1.0, -128.0, 127.0, 32767.0, -32768.0, 1.5, 3.14159265358979, 1e300, -2.5e-300,
		"", "a", strings.Repeat("x", 31), strings.Repeat("x", 32), strings.Repeat("y", 1023), strings.Repeat("y", 1024),
		strings.Repeat("z", 70000), "héllo wörld", "日本語のテキスト", "😀 smile 𝄞",
		strings.Repeat("é😀", 40000),
		[]byte{}, []byte("0123456789abcde"), []byte("0123456789abcdef"), []byte(strings.Repeat("b", 1023)),
		[]byte(strings.Repeat("b", 1024)), []byte(strings.Repeat("c", 70000)),
		time.UnixMilli(1704164645123).UTC(), time.Unix(1704164640, 0).UTC(),
		[]any{int32(1), "a", nil, int64(9007199254740993)}, []int32{1, 2, 3}, []string{"a", "b"},
		[]any{[]any{[]any{"deep"}}},
		map[string]any{"a": int32(1), "b": []any{"x", "y"}, "c": map[string]any{"d": true}},
		map[any]any{int32(1): "one", int32(2): "two"},
		&readerProbe{Name: "p", Count: 1 << 60, Items: []any{shared, shared}, Next: &readerProbe{Name: "n", Next: shared, When: time.UnixMilli(3).UTC()},
			When: time.UnixMilli(1).UTC()},
	}
	for i, v := range values {
		enc := hessian.NewEncoder()
		if err := enc.Encode(v); err != nil {
			t.Fatalf("value %d (%T): encode: %v", i, v, err)
		}
		b := enc.Buffer()
		decoded, err := hessian.NewDecoder(b).Decode()
		if err != nil {
			t.Fatalf("value %d (%T): hessian2 decode: %v", i, v, err)
		}
		want, err := appendJSON(nil, decoded, false, 0)
		if err != nil {
			t.Fatalf("value %d (%T): JSON of hessian2's value: %v", i, v, err)
		}
		r := &hessianReader{b: b}
		read, err := r.read()
		if err != nil {
			t.Fatalf("value %d (%T): got error %v, want %.200s", i, v, err, want)
		}
		if r.pos != len(b) {
			t.Fatalf("value %d (%T): read %d of %d bytes", i, v, r.pos, len(b))
		}
		got, err := appendJSON(nil, plainValue(read, map[any]bool{}), false, 0)
		if err != nil || string(got) != string(want) {
			t.Fatalf("value %d (%T): got %s (%v), want %s", i, v, got, err, want)
		}
	}
}

// A value that contains itself is cut where it repeats.
func TestPlainValueCutsCycles(t *testing.T) {
	l := &hlist{}
	l.items = []any{"a", l}
	o := &hobject{class: "x.Node", fields: []string{"self", "list"}}
	o.values = []any{o, l}
	got, err := appendJSON(nil, plainValue(o, map[any]bool{}), false, 0)
	if err != nil || string(got) != `{"list":["a",null],"self":null}` {
		t.Fatalf("got %s (%v), want {\"list\":[\"a\",null],\"self\":null}", got, err)
	}
}
