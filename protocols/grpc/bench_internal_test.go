package grpc

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// nestedJSON is a demo.v1.Everything of about 1 KB.
const nestedJSON = `{"i32":-5,"i64":"9007199254740993","u64":"18446744073709551615","f32":1.5,"f64d":3.25,"flag":true,
"text":"hello world","blob":"AAEC/w==","role":"ROLE_USER",
"person":{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_ADMIN",
"address":{"street":"12 St James's Square","city":"London","geo":{"lat":51.5074,"lng":-0.1345}},"tags":["math","engines"],
"createdAt":"2024-01-02T03:04:05Z"},
"counts":{"a":"1","b":"2","c":"9007199254740993"},
"addresses":{"1":{"city":"Oslo","street":"Karl Johans gate"},"2":{"city":"Bergen","street":"Bryggen"}},
"number":"77","ids":["1","2","3","9007199254740993"],
"people":[{"id":"2","name":"Alan Turing","email":"alan@example.com","tags":["logic"]},
{"id":"3","name":"Grace Hopper","email":"grace@example.com","tags":["cobol","navy"]}],
"roles":["ROLE_ADMIN","ROLE_GUEST"],"when":"2024-01-02T03:04:05.123Z","took":"1.500s",
"attrs":{"k":[1,"x",null,true],"n":{"deep":2.5}},"value":"just a string","nickname":"ada"}`

func benchRoundTrip(b *testing.B, method, body string) {
	ps, err := loadProtosets([]string{"../../testdata/grpc/people.protoset"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSchema(ps, time.Now(), false)
	if err != nil {
		b.Fatal(err)
	}
	_, m := s.find("demo.v1.PeopleService", method)
	if m == nil {
		b.Fatalf("no method %s", method)
	}
	in := []byte(body)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := m.in.New().Interface()
		if err := decode(m.unmarsh, in, req); err != nil {
			b.Fatal(err)
		}
		wire, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		rep := m.in.New().Interface() // Echo-shaped: the reply has the request's type
		if err := proto.Unmarshal(wire, rep); err != nil {
			b.Fatal(err)
		}
		if _, err := s.marsh.Marshal(rep); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONProtoJSONSmall: a 3-field message, JSON -> protobuf wire -> JSON.
func BenchmarkJSONProtoJSONSmall(b *testing.B) {
	benchRoundTrip(b, "Echo", `{"i64":"42","text":"Ada","role":"ROLE_ADMIN"}`)
}

// BenchmarkJSONProtoJSONNested1KB: a ~1 KB nested message, JSON -> protobuf wire -> JSON.
func BenchmarkJSONProtoJSONNested1KB(b *testing.B) {
	benchRoundTrip(b, "Echo", nestedJSON)
}
