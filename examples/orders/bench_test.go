package orders_test

import (
	"context"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/orders/internal/order"
)

// BenchmarkDirectGeneratedGetOrder is getOrder(1) from the client that
// Thrift's compiler generates, over one framed binary connection: the
// yardstick for BenchmarkGatewayThriftGetOrder in gateway/ (the same call
// as HTTP/JSON through the gateway) and BenchmarkInvokeSmall in
// protocols/thrift.
func BenchmarkDirectGeneratedGetOrder(b *testing.B) {
	srv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop() })
	conf := &thrift.TConfiguration{}
	sock := thrift.NewTSocketConf(srv.Addr(), conf)
	tr := thrift.NewTFramedTransportConf(sock, conf)
	if err := tr.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	c := order.NewOrderServiceClientFactory(tr, thrift.NewTBinaryProtocolFactoryConf(conf))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if o, err := c.GetOrder(ctx, 1); err != nil || o.ID != 1 {
			b.Fatalf("got %v %v", o, err)
		}
	}
}
