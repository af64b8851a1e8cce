// Command peopled runs the sample demo.v1.PeopleService until interrupted,
// optionally registering itself in ZooKeeper through rpcbridge's SDK:
//
//	peopled -addr 127.0.0.1:50051
//	peopled -addr 127.0.0.1:0 -zk 127.0.0.1:2181 -service people -zone z1 -tags canary
//	peopled -addr :50051 -advertise people:50051 -zk zookeeper:2181
//
// -advertise is the address gateways dial, registered instead of the
// listener's own (needed when it listens on every interface).
//
// With -zk, SIGTERM deregisters first, waits -drain so that gateways stop
// sending, then stops the server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/sdk"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "listen address")
	refl := flag.Bool("reflection", true, "serve gRPC server reflection")
	zk := flag.String("zk", "", "ZooKeeper servers (comma-separated host:port) to register in; empty: do not register")
	root := flag.String("zk-root", "/rpcbridge", "registry root")
	service := flag.String("service", "people", "service name to register under")
	weight := flag.Int("weight", 100, "weight")
	zone := flag.String("zone", "", "zone")
	tags := flag.String("tags", "", "comma-separated tags (for gray routing)")
	drain := flag.Duration("drain", 2*time.Second, "on SIGTERM: time between deregistering and stopping")
	advertise := flag.String("advertise", "", "host:port to register (default: the listener's address)")
	flag.Parse()
	if err := run(*addr, *advertise, *refl, *zk, *root, *service, *weight, *zone, *tags, *drain); err != nil {
		fmt.Fprintln(os.Stderr, "peopled:", err)
		os.Exit(1)
	}
}

func run(addr, advertise string, refl bool, zk, root, service string, weight int, zone, tags string, drain time.Duration) error {
	srv, err := people.Start(addr, refl)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("%s listening on %s (reflection %v)\n", people.ServiceName, srv.Addr(), refl)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if zk == "" {
		<-ctx.Done()
		return nil
	}
	if advertise == "" {
		advertise = srv.Addr()
	}
	var tagList []string
	if tags != "" {
		tagList = strings.Split(tags, ",")
	}
	agent, err := sdk.New(sdk.Options{
		ZooKeeper: strings.Split(zk, ","), Root: root, Service: service, Address: advertise,
		Protocol: "grpc", Weight: weight, Zone: zone, Tags: tagList,
		APIs: []registry.API{{Name: "Get", Path: "/people/{id}", HTTPMethod: "GET"}, {Name: "Echo"}, {Name: "List"}},
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = agent.Register(rctx)
	cancel()
	if err != nil {
		agent.Close()
		return err
	}
	fmt.Printf("registered %s as %s in %s\n", advertise, service, zk)
	// Deregister, drain, then stop the server (deferred above).
	return agent.NotifyShutdown(context.Background(), drain, func() {})
}
