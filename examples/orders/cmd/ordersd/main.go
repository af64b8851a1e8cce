// Command ordersd runs the sample Thrift OrderService (order.thrift,
// binary protocol, framed transport) until SIGINT or SIGTERM:
//
//	ordersd -addr 127.0.0.1:9090
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/orders"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address")
	flag.Parse()
	srv, err := orders.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordersd:", err)
		os.Exit(1)
	}
	fmt.Printf("%s (Thrift, binary, framed) listening on %s\n", orders.ServiceName, srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	// Stop waits for clients to hang up; a gateway keeps its connection
	// open, so give them a moment, then exit anyway.
	done := make(chan struct{})
	go func() { srv.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}
