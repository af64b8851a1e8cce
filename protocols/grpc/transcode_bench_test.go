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
