// Command stockd runs the sample Tars servant Demo.StockServer.StockObj
// (Stock.tars) until SIGINT or SIGTERM:
//
//	stockd -addr 127.0.0.1:17890
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rpcbridge/rpcbridge/examples/stock"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:17890", "listen address")
	flag.Parse()
	srv, err := stock.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stockd:", err)
		os.Exit(1)
	}
	fmt.Printf("Demo.StockServer.StockObj (Tars) listening on %s\n", srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	srv.Stop()
}
