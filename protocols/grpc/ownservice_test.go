package grpc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/grpctwo"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

// A call made for one service never runs a method of another service the
// same backend serves from the same proto file, whatever the method name
// says.
func TestMethodNamingAnotherServiceIsNotFound(t *testing.T) {
	srv, err := grpctwo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c := dial(t, grpc.Options{Service: grpctwo.PublicService, Reflection: true}, srv.Addr())
	// Fetch the schema (both services come with the file).
	if _, err := c.Invoke(context.Background(), &generic.Call{Method: "Echo", Body: []byte(`{"text": "hi"}`)}); err != nil {
		t.Fatalf("own method: %v", err)
	}
	srv.Reset()
	for _, name := range []string{
		grpctwo.OtherService + ".Secret",
		grpctwo.OtherService + "/Secret",
		"/" + grpctwo.OtherService + "/Secret",
		grpctwo.OtherService + ".Echo",
	} {
		_, err := c.Invoke(context.Background(), &generic.Call{Method: name, Body: []byte(`{"text": "hi"}`)})
		if got := generic.CodeOf(err); got != generic.CodeNotFound {
			t.Errorf("Method %q: got %v, want NOT_FOUND", name, err)
		}
	}
	if calls := srv.Calls(); len(calls) != 0 {
		t.Fatalf("backend ran %v, want nothing", calls)
	}
	for _, name := range []string{"Echo", grpctwo.PublicService + ".Echo", grpctwo.PublicService + "/Echo", "/" + grpctwo.PublicService + "/Echo"} {
		srv.Reset()
		if _, err := c.Invoke(context.Background(), &generic.Call{Method: name, Body: []byte(`{"text": "hi"}`)}); err != nil {
			t.Errorf("Method %q of the service itself: got %v, want success", name, err)
		}
		if calls := srv.Calls(); len(calls) != 1 || !strings.HasPrefix(calls[0], "/"+grpctwo.PublicService+"/") {
			t.Errorf("Method %q: backend ran %v, want /%s/Echo", name, calls, grpctwo.PublicService)
		}
	}
}
