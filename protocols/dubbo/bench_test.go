package dubbo_test

import (
	"context"
	"testing"

	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	hessian "github.com/apache/dubbo-go-hessian2"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

// BenchmarkInvoke is one echoLong call end to end through the adapter:
// JSON in, Hessian2 $invoke, JSON out.
func BenchmarkInvoke(b *testing.B) {
	c := mainClient(b)
	call := &generic.Call{Method: "echoLong", Body: []byte(`{"v": 42}`)}
	ctx := context.Background()
	if _, err := c.Invoke(ctx, call); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Invoke(ctx, call)
		if err != nil || string(res.Body) != "42" {
			b.Fatalf("got %v, %v", res, err)
		}
	}
}

// BenchmarkDirectGeneric is the same call made directly with a dubbo-go
// generic client.
func BenchmarkDirectGeneric(b *testing.B) {
	cli, err := client.NewClient(client.WithClientShutdown(graceful_shutdown.WithoutInternalSignal()))
	if err != nil {
		b.Fatal(err)
	}
	gs, err := cli.NewGenericService(testprovider.Interface,
		client.WithURL("dubbo://"+mainAddr), client.WithProtocol("dubbo"),
		client.WithVersion("1.0.0"), client.WithGroup(""),
		client.WithClusterFailFast(), client.WithRetries(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	types := []string{"long"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := gs.Invoke(ctx, "echoLong", types, []hessian.Object{int64(42)})
		if err != nil || out != int64(42) {
			b.Fatalf("got %v, %v", out, err)
		}
	}
}
