package dubbo_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
)

// BenchmarkEngine makes the same calls through the package's client and
// through dubbo-go's (the differential tests' reference) to one
// provider in another process (so that only the gateway's allocations
// count): echoLong, and createUser (a POJO argument and reply).
func BenchmarkEngine(b *testing.B) {
	calls := []struct{ name, method, body, want string }{
		{"echoLong", "echoLong", `{"v": 42}`, `42`},
		{"createUser", "createUser", `{"user": {"name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "zip": "0150"}}}`,
			`{"address":{"city":"Oslo","zip":"0150"},"age":30,"id":1030,"name":"ann","tags":["x","y"]}`},
	}
	for _, e := range []string{ours, dubboGo} {
		c := dial(b, newProtocol(b, func(o *dubbo.Options) {
			useClient(o, e)
		}), childMainAddr)
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

// BenchmarkEngineConcurrent makes echoLong calls from 32 goroutines at
// once over the direct engine's one connection, the way a loaded gateway
// does (the writes of concurrent requests share syscalls), each with a
// deadline as the gateway's requests have. cpu-ns/op is this process's
// CPU time (the provider runs in another) per call.
func BenchmarkEngineConcurrent(b *testing.B) {
	c := dial(b, newProtocol(b, nil), childMainAddr)
	call := &generic.Call{Method: "echoLong", Body: []byte(`{"v": 42}`)}
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			res, err := c.Invoke(ctx, call)
			cancel()
			if err != nil || string(res.Body) != "42" {
				b.Errorf("got %v, %v want 42", res, err)
				return
			}
		}
	})
	if cpu := processCPU() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
