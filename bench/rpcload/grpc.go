package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/rpcbridge/rpcbridge/examples/people"
	demov1 "github.com/rpcbridge/rpcbridge/examples/people/demov1"
)

// grpcSetup starts the demo's gRPC service (examples/people) and compares
// Get(1) from its generated grpc-go client against rpcbridge, so that the
// other protocols' gateway CPU can be read beside gRPC's in one command
// (grpcload has more gRPC yardsticks).
func grpcSetup(options) (*setup, error) {
	backend, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		return nil, err
	}
	cc, err := grpc.NewClient(backend.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		backend.Stop()
		return nil, err
	}
	pc := demov1.NewPeopleServiceClient(cc)
	direct := func(int) error {
		p, err := pc.Get(context.Background(), &demov1.GetPersonRequest{Id: 1})
		if err != nil {
			return err
		}
		if p.GetId() != 1 {
			return fmt.Errorf("Get(1) gave %v", p)
		}
		return nil
	}
	return &setup{
		protocol:   "grpc (examples/people Get, grpc-go server in this process)",
		directName: "direct grpc-go",
		direct:     direct,
		path:       "/people/Get",
		body:       `{"id": "1"}`,
		variants: []variant{{name: "rpcbridge", services: fmt.Sprintf(`services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: '%s'}]
`, backend.Addr())}},
		close: func() { cc.Close(); backend.Stop() },
	}, nil
}
