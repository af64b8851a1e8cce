package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// countingProtocol answers calls like echoProtocol and counts Describe
// calls: each one would be a schema fetch from a backend.
type countingProtocol struct{ describes *atomic.Int32 }

func (countingProtocol) Name() string { return "http" }
func (p countingProtocol) Dial(context.Context, generic.Target) (generic.Client, error) {
	return countingClient(p), nil
}

type countingClient countingProtocol

func (countingClient) Invoke(_ context.Context, c *generic.Call) (*generic.Result, error) {
	return &generic.Result{Body: []byte(`{"ok":true}`)}, nil
}
func (c countingClient) Describe(context.Context) (*generic.ServiceSchema, error) {
	c.describes.Add(1)
	return &generic.ServiceSchema{Name: "s", Methods: []*generic.MethodSchema{{Name: "Known"}}}, nil
}
func (countingClient) Close() error { return nil }

func TestRoutingAnswersFromTheSchemaFetchedOffTheRequestPath(t *testing.T) {
	var describes atomic.Int32
	yaml := "services: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\nservice_sets: {all: [s]}\n"
	g := newTestGateway(t, yaml, countingProtocol{&describes})
	deadline := time.Now().Add(5 * time.Second)
	for describes.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the schema was not fetched when the config loaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	call := func(path string, hdr ...string) int {
		req := httptest.NewRequest("POST", path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w.Code
	}
	before := describes.Load()
	for i := 0; i < 500; i++ {
		if got := call("/Unknown"+strings.Repeat("x", i%7), "serviceName", "s"); got != 404 {
			t.Fatalf("unknown method by serviceName: got %d, want 404", got)
		}
		if got := call("/Unknown", "scTag", "all"); got != 404 {
			t.Fatalf("unknown method by scTag: got %d, want 404", got)
		}
	}
	if got := call("/Known", "serviceName", "s"); got != 200 {
		t.Fatalf("known method by serviceName: got %d, want 200", got)
	}
	if got := describes.Load(); got != before {
		t.Fatalf("routing fetched the schema %d times, want 0", got-before)
	}
	// An instance appearing is a reason to fetch again, off the request path.
	g.state.Load().clusters["s"].addStatic(&registry.Instance{Service: "s", Address: "127.0.0.1:2", Online: true, Weight: 100})
	deadline = time.Now().Add(5 * time.Second)
	for describes.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("a new instance did not refresh the schema")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseWaitsForTheSchemaGoroutines(t *testing.T) {
	var describes atomic.Int32
	yaml := "services: [{name: a, protocol: http, instances: [{address: 127.0.0.1:1}]}, {name: b, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n"
	g := newTestGateway(t, yaml, countingProtocol{&describes})
	cs := g.state.Load().clusters
	g.Close()
	for name, c := range cs {
		select {
		case <-c.schemas.done:
		default:
			t.Errorf("cluster %s: the schema goroutine still runs after Close", name)
		}
	}
}
