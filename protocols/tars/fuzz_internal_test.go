package tars

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
)

// FuzzDecodeReply feeds arbitrary reply bytes to the reply decoders (both
// protocol versions) and the packet parser: they must return an error or
// valid JSON, never panic. The decoders have no recover of their own in
// this test.
func FuzzDecodeReply(f *testing.F) {
	p1, err := New(Options{IDL: "../../testdata/tars/Test.tars", Servant: "S", Interface: "Echo"})
	if err != nil {
		f.Fatal(err)
	}
	md := p1.methods["echoAll"]
	var buf bytes.Buffer
	e := encoder{b: codec.NewBuffer(&buf)}
	if err := e.fields(md.reply, []byte(`{"return":`+benchBody[5:len(benchBody)-1]+`}`), true, 0); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0x08, 0x01, 0x00, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, name := range []string{"echoAll", "split", "makePoint"} {
			md := p1.methods[name]
			d := decoder{r: reader{b: b}}
			out, err := d.fields(nil, md.reply, true, 0)
			if err == nil && !json.Valid(out) {
				t.Fatalf("%s: invalid JSON %s", name, out)
			}
		}
		_, _ = parseResponse(b, 1)
		_, _ = parseResponse(b, 3)
		_, _ = frameID(b, 1)
	})
}

// FuzzEncodeArgs feeds arbitrary request bodies to the JSON -> Tars
// conversion of every method: an error or a packet, never a panic.
func FuzzEncodeArgs(f *testing.F) {
	p, err := New(Options{IDL: "../../testdata/tars/Test.tars", Servant: "S", Interface: "Echo", Version: 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(benchBody))
	f.Add([]byte(`{"v":"9223372036854775807","c":"RED","data":"AQID","p":{"x":1}}`))
	f.Add([]byte(`{"a":{"lmap":{"1":{"x":1}},"imap":{"-1":"x"},"grid":[[1],[2,3]]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, md := range p.methods {
			var out bytes.Buffer
			_ = p.encodeRequest(&out, md, "S", body, 1, 0, map[string]string{"k": "v"})
		}
	})
}
