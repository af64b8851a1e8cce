package grpc

import (
	"regexp"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// replyBench measures turning one reply's wire bytes into JSON, the old
// way (proto.Unmarshal into dynamicpb, protojson) or with the transcoder
// (as replyCodec does, including the copy of the JSON out of the pool).
func replyBench(b *testing.B, method, body string, transcode bool) {
	ps, err := loadProtosets([]string{peopleProtoset})
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSchema(ps, time.Now(), false)
	if err != nil {
		b.Fatal(err)
	}
	_, m := s.find("demo.v1.PeopleService", method)
	rep := m.out.New().Interface()
	if err := decode(m.unmarsh, []byte(body), rep); err != nil {
		b.Fatal(err)
	}
	wire, err := proto.Marshal(rep)
	if err != nil {
		b.Fatal(err)
	}
	plan, _ := newReplyPlan(m.out.Descriptor())
	r := &rawReply{plan: plan, typ: m.out, pool: &sync.Pool{}}
	if !transcode {
		r.plan = nil
	}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.set(wire); err != nil {
			b.Fatal(err)
		}
		if _, ge := s.replyJSON(r, "reply"); ge != nil {
			b.Fatal(ge)
		}
		if transcode && r.json == nil {
			b.Fatal("reply was not transcoded")
		}
	}
}

const smallReply = `{"i64":"42","text":"Ada","role":"ROLE_ADMIN"}`

// nestedReply is nestedJSON without the Struct and Value fields, which
// the transcoder leaves to protojson.
var nestedReply = regexp.MustCompile(`,\s*"attrs":\{"k":\[1,"x",null,true\],"n":\{"deep":2.5\}\},"value":"just a string"`).
	ReplaceAllString(nestedJSON, "")

// BenchmarkReplySmallProtojson: 3-field reply, wire -> dynamicpb -> protojson.
func BenchmarkReplySmallProtojson(b *testing.B) { replyBench(b, "Echo", smallReply, false) }

// BenchmarkReplySmallTranscode: 3-field reply, wire -> JSON by the transcoder.
func BenchmarkReplySmallTranscode(b *testing.B) { replyBench(b, "Echo", smallReply, true) }

// BenchmarkReplyNestedProtojson: ~0.9 KB nested reply, the old way.
func BenchmarkReplyNestedProtojson(b *testing.B) { replyBench(b, "Echo", nestedReply, false) }

// BenchmarkReplyNestedTranscode: ~0.9 KB nested reply by the transcoder.
func BenchmarkReplyNestedTranscode(b *testing.B) { replyBench(b, "Echo", nestedReply, true) }

// BenchmarkReplyPersonProtojson: a Person (Get's reply), the old way.
func BenchmarkReplyPersonProtojson(b *testing.B) { replyBench(b, "Get", personReply, false) }

// BenchmarkReplyPersonTranscode: a Person by the transcoder.
func BenchmarkReplyPersonTranscode(b *testing.B) { replyBench(b, "Get", personReply, true) }

const personReply = `{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_ADMIN",
"address":{"street":"12 St James's Square","city":"London","geo":{"lat":51.5074,"lng":-0.1345}},"tags":["math","engines"],
"createdAt":"2024-01-02T03:04:05Z"}`

// requestBench measures turning a request body into wire bytes, through
// protojson and dynamicpb (the old way) or directly.
func requestBench(b *testing.B, method, body string, direct bool) {
	ps, err := loadProtosets([]string{peopleProtoset})
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSchema(ps, time.Now(), false)
	if err != nil {
		b.Fatal(err)
	}
	_, m := s.find("demo.v1.PeopleService", method)
	in := []byte(body)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if direct {
			if _, err := encodeRequest(m.request, in, make([]byte, 0, len(in)/2+16)); err != nil {
				b.Fatal(err)
			}
			continue
		}
		req := m.in.New().Interface()
		if err := decode(m.unmarsh, in, req); err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestGetProtojson: Get's {"id":1}, JSON -> dynamicpb -> wire.
func BenchmarkRequestGetProtojson(b *testing.B) { requestBench(b, "Get", `{"id":1}`, false) }

// BenchmarkRequestGetDirect: Get's {"id":1}, JSON -> wire directly.
func BenchmarkRequestGetDirect(b *testing.B) { requestBench(b, "Get", `{"id":1}`, true) }

// BenchmarkRequestSmallProtojson: a 3-field Everything, the old way.
func BenchmarkRequestSmallProtojson(b *testing.B) { requestBench(b, "Echo", smallReply, false) }

// BenchmarkRequestSmallDirect: a 3-field Everything, directly.
func BenchmarkRequestSmallDirect(b *testing.B) { requestBench(b, "Echo", smallReply, true) }
