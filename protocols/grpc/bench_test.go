package grpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

func benchInvoke(b *testing.B, call *generic.Call) {
	srv := startPeople(b, true)
	c := dial(b, grpc.Options{Service: service}, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Invoke(ctx, call); err != nil { // warm: schema and connection
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Invoke(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInvokeGet: unary Get end to end against the in-process server.
func BenchmarkInvokeGet(b *testing.B) {
	benchInvoke(b, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)})
}

// BenchmarkInvokeGetPathParam: Get with the id bound from a path parameter.
func BenchmarkInvokeGetPathParam(b *testing.B) {
	benchInvoke(b, &generic.Call{Method: "Get", Params: []generic.Param{{Name: "id", Value: "2", Path: true}}})
}

// BenchmarkInvokeEchoNested: unary Echo of a ~1 KB nested message.
func BenchmarkInvokeEchoNested(b *testing.B) {
	benchInvoke(b, &generic.Call{Method: "Echo", Body: []byte(nestedBody)})
}

const nestedBody = `{"i32":-5,"i64":"9007199254740993","u64":"18446744073709551615","f32":1.5,"f64d":3.25,"flag":true,
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
