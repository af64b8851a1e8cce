package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
)

func TestTraceContextContinuesThroughTheGatewayToTheBackend(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		mu.Unlock()
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(backend.Close)
	y := fmt.Sprintf(`
services:
  - name: s
    protocol: http
    instances: [{address: %q}]
`, strings.TrimPrefix(backend.URL, "http://"))
	cfg, err := mapping.Parse([]byte(y), plugins())
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	g, err := gateway.New(cfg, []byte(y), gateway.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := do(t, "POST", srv.URL+"/s/M", "{}", "Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2 (request and backend attempt)", len(spans))
	}
	var server, client sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind().String() == "server" {
			server = s
		} else {
			client = s
		}
	}
	if server == nil || client == nil {
		t.Fatalf("want one server and one client span, got %v and %v", spans[0].SpanKind(), spans[1].SpanKind())
	}
	if got := server.SpanContext().TraceID().String(); got != traceID {
		t.Fatalf("server span trace id: got %s want %s (the caller's)", got, traceID)
	}
	if server.Name() != "s/M" || client.Name() != "s/M" {
		t.Fatalf("span names: got %q and %q, want s/M", server.Name(), client.Name())
	}
	if client.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Fatalf("the attempt span's parent is %s, want the request span %s", client.Parent().SpanID(), server.SpanContext().SpanID())
	}
	want := "00-" + traceID + "-" + client.SpanContext().SpanID().String() + "-01"
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != want {
		t.Fatalf("backend got traceparent %v, want %s", seen, want)
	}
}
