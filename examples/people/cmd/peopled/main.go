// Command peopled runs the sample demo.v1.PeopleService until interrupted.
//
//	peopled -addr 127.0.0.1:50051 -reflection=true
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rpcbridge/rpcbridge/examples/people"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "listen address")
	refl := flag.Bool("reflection", true, "serve gRPC server reflection")
	flag.Parse()
	srv, err := people.Start(*addr, *refl)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s listening on %s (reflection %v)\n", people.ServiceName, srv.Addr(), *refl)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	srv.Stop()
}
