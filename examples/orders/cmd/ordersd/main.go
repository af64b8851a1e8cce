// Command ordersd runs the sample Thrift OrderService (order.thrift,
// binary protocol, framed transport) until SIGINT or SIGTERM:
//
//	ordersd -addr 127.0.0.1:9090
package main

import (
	"github.com/rpcbridge/rpcbridge/examples/internal/samplemain"
	"github.com/rpcbridge/rpcbridge/examples/orders"
)

func main() {
	samplemain.Run("ordersd", "127.0.0.1:9090", orders.ServiceName+" (Thrift, binary, framed)", func(addr string) (samplemain.Started, error) {
		srv, err := orders.Start(addr)
		if err != nil {
			return samplemain.Started{}, err
		}
		return samplemain.Started{Addr: srv.Addr(), Stop: func() { srv.Stop() }}, nil
	})
}
