// Command stockd runs the sample Tars servant Demo.StockServer.StockObj
// (Stock.tars) until SIGINT or SIGTERM:
//
//	stockd -addr 127.0.0.1:17890
package main

import (
	"github.com/rpcbridge/rpcbridge/examples/internal/samplemain"
	"github.com/rpcbridge/rpcbridge/examples/stock"
)

func main() {
	samplemain.Run("stockd", "127.0.0.1:17890", "Demo.StockServer.StockObj (Tars)", func(addr string) (samplemain.Started, error) {
		srv, err := stock.Start(addr)
		if err != nil {
			return samplemain.Started{}, err
		}
		return samplemain.Started{Addr: srv.Addr(), Stop: srv.Stop}, nil
	})
}
