package tars

import (
	"bytes"
	"testing"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
)

const benchBody = `{"a":{
 "b":true,"by":-128,"sh":-32768,"i":-2147483648,"l":"9007199254740993","f":1.5,"d":-2.25,
 "s":"hello world","ub":255,"us":65535,"ui":4294967295,
 "bin":"AAEC/w==","ints":[1,-2,300000],"strs":["x","y"],
 "smap":{"k":1},"imap":{"1":"one","-2":"minus two"},
 "lmap":{"9007199254740993":{"x":"-9007199254740993","color":"BLUE"}},
 "color":6,
 "inner":{"name":"in","points":[{"x":1},{"x":2,"y":3,"label":"p","color":"RED","limit":4}]},
 "inners":[{"name":"a"},{"name":"b","points":[]}],
 "grid":[[1,2],[],[3]]}}`

func benchProtocol(b *testing.B, version int) *Protocol {
	p, err := New(Options{IDL: "../../testdata/tars/Test.tars", Servant: "Test.EchoServer.EchoObj", Interface: "Echo", Version: version})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkJSONToTars converts the echoAll request JSON into a complete
// request packet.
func BenchmarkJSONToTars(b *testing.B) {
	for _, v := range []int{1, 3} {
		b.Run(map[int]string{1: "tars", 3: "tup"}[v], func(b *testing.B) {
			p := benchProtocol(b, v)
			md := p.methods["echoAll"]
			var out bytes.Buffer
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				out.Reset()
				if err := p.encodeRequest(&out, md, "Test.EchoServer.EchoObj", []byte(benchBody), 1, 1000, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTarsToJSON converts the echoAll reply buffer to JSON.
func BenchmarkTarsToJSON(b *testing.B) {
	p := benchProtocol(b, 1)
	md := p.methods["echoAll"]
	var buf bytes.Buffer
	e := encoder{b: codec.NewBuffer(&buf)}
	// The reply holds the same struct at tag 0.
	if err := e.fields(md.reply, []byte(`{"return":`+benchBody[5:len(benchBody)-1]+`}`), true, 0); err != nil {
		b.Fatal(err)
	}
	reply := buf.Bytes()
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.decodeReply(dst[:0], md, reply); err != nil {
			b.Fatal(err)
		}
	}
}
