package dubbo_test

import (
	"context"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
)

// BenchmarkEngine makes the same calls through each engine to one
// provider in another process (so that only the gateway's allocations
// count): echoLong, and createUser (a POJO argument and reply).
func BenchmarkEngine(b *testing.B) {
	if engine != dubbo.EngineDirect {
		b.Skip("runs once, in the direct engine's pass")
	}
	calls := []struct{ name, method, body, want string }{
		{"echoLong", "echoLong", `{"v": 42}`, `42`},
		{"createUser", "createUser", `{"user": {"name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "zip": "0150"}}}`,
			`{"address":{"city":"Oslo","zip":"0150"},"age":30,"id":1030,"name":"ann","tags":["x","y"]}`},
	}
	for _, e := range []string{dubbo.EngineDirect, dubbo.EngineDubboGo} {
		c := dial(b, newProtocol(b, func(o *dubbo.Options) { o.Engine = e }), childMainAddr)
		for _, cl := range calls {
			b.Run(e+"/"+cl.name, func(b *testing.B) {
				call := &generic.Call{Method: cl.method, Body: []byte(cl.body)}
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					res, err := c.Invoke(ctx, call)
					if err != nil || string(res.Body) != cl.want {
						b.Fatalf("got %v, %v want %s", res, err, cl.want)
					}
				}
			})
		}
	}
}
