// Package samplemain is the main of the sample backends' commands
// (ordersd, stockd, catalogd): flags, start, serve until SIGINT or
// SIGTERM, stop.
package samplemain

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Started is a running sample backend.
type Started struct {
	Addr string
	Stop func()
}

// Run parses -addr (default defaultAddr), starts the backend, prints
// "<what> listening on <address>" and serves until SIGINT or SIGTERM. A
// backend's Stop waits for its clients to hang up, and a gateway keeps
// its connection open, so Run gives them 2 s and then returns anyway.
// A failed start exits with status 1.
func Run(cmd, defaultAddr, what string, start func(addr string) (Started, error)) {
	addr := flag.String("addr", defaultAddr, "listen address")
	flag.Parse()
	srv, err := start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, cmd+":", err)
		os.Exit(1)
	}
	fmt.Printf("%s listening on %s\n", what, srv.Addr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	done := make(chan struct{})
	go func() { srv.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}
