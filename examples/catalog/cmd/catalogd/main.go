// Command catalogd runs the sample HTTP/JSON catalogue (POST /api/<method>)
// until SIGINT or SIGTERM:
//
//	catalogd -addr 127.0.0.1:8081
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rpcbridge/rpcbridge/examples/catalog"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	srv, err := catalog.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalogd:", err)
		os.Exit(1)
	}
	fmt.Printf("catalogue (HTTP/JSON, POST %s/<method>) listening on %s\n", catalog.PathPrefix, srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	srv.Stop()
}
