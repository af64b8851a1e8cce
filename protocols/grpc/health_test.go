package grpc_test

import (
	"context"
	"net"
	"testing"
	"time"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

func TestCheckHealthUsesTheGRPCHealthProtocol(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gogrpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	p, err := grpc.New(grpc.Options{Service: "demo.v1.PeopleService", Reflection: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := p.Dial(context.Background(), generic.Target{Address: lis.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	h, ok := cl.(generic.HealthChecker)
	if !ok {
		t.Fatalf("the gRPC client does not implement generic.HealthChecker")
	}
	check := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return h.CheckHealth(ctx)
	}
	hs.SetServingStatus("demo.v1.PeopleService", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := check(); err == nil || generic.CodeOf(err) != generic.CodeUnavailable {
		t.Fatalf("NOT_SERVING: got %v, want UNAVAILABLE", err)
	}
	hs.SetServingStatus("demo.v1.PeopleService", healthpb.HealthCheckResponse_SERVING)
	if err := check(); err != nil {
		t.Fatalf("SERVING: got %v, want nil", err)
	}
	srv.Stop()
	if err := check(); err == nil {
		t.Fatalf("stopped server: got nil, want an error")
	}
}
