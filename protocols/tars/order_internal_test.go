package tars

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
)

// TestFieldOrderDoesNotChangeTheEncoding: the same arguments give the same
// Tars bytes whether the JSON keys come in tag order (written in one pass)
// or not (written from spans), and with or without the one-pass path.
func TestFieldOrderDoesNotChangeTheEncoding(t *testing.T) {
	p, err := New(Options{IDL: "../../testdata/tars/Test.tars", Servant: "S", Interface: "Echo"})
	if err != nil {
		t.Fatal(err)
	}
	md := p.methods["echoAll"]
	encode := func(body []byte, onePass bool) []byte {
		t.Helper()
		var buf bytes.Buffer
		e := encoder{b: codec.NewBuffer(&buf)}
		if onePass {
			e.w = &buf
		}
		if err := e.fields(md.args, body, true, 0); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return buf.Bytes()
	}
	// benchBody with its one two-key map in sorted key order: maps are
	// written in JSON order, structs in tag order.
	inOrder := []byte(strings.Replace(benchBody, `"imap":{"1":"one","-2":"minus two"}`, `"imap":{"-2":"minus two","1":"one"}`, 1))
	if string(inOrder) == benchBody {
		t.Fatal("benchBody changed: update this test")
	}
	// encoding/json writes object keys sorted, which is not tag order.
	var v any
	d := json.NewDecoder(bytes.NewReader(inOrder))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	sorted, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sorted, inOrder) {
		t.Fatal("the sorted body is the same as the original")
	}
	want := encode(inOrder, false)
	for _, tc := range []struct {
		name    string
		body    []byte
		onePass bool
	}{{"in order, one pass", inOrder, true}, {"sorted, one pass", sorted, true}, {"sorted, spans", sorted, false}} {
		if got := encode(tc.body, tc.onePass); !bytes.Equal(got, want) {
			t.Errorf("%s: got %x want %x", tc.name, got, want)
		}
	}
}
