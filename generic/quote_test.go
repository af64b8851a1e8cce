package generic

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAppendStringRoundTripsThroughEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\n\r\t", "ünï©ødé 日本", "\u2028\u2029", "<a&b>", "bad\xffutf8"} {
		for _, got := range [][]byte{AppendString(nil, s), AppendStringBytes(nil, []byte(s))} {
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("%q: %s is not JSON: %v", s, got, err)
			}
			want := s
			if s == "bad\xffutf8" {
				want = "bad\ufffdutf8"
			}
			if back != want {
				t.Fatalf("%q: got %q back from %s", s, back, got)
			}
		}
	}
}

func TestAppendStringDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	b := []byte("ünï©ødé \n value")
	if n := testing.AllocsPerRun(100, func() { buf = AppendStringBytes(buf[:0], b) }); n != 0 {
		t.Fatalf("got %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], "ünï©ødé \n value") }); n != 0 {
		t.Fatalf("got %v allocs, want 0", n)
	}
}

// AppendMarshalString writes what json.Marshal writes for a string.
func FuzzAppendMarshalString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/\b\f\n\r\t\x00\x1f\x7f", "<a href='x'>&amp;</a>", "\u2028\u2029", "héllo 😀", "\xff\xfe bad", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendMarshalString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		if got := AppendMarshalString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("%q as bytes: got %s, want %s", s, got, want)
		}
	})
}
