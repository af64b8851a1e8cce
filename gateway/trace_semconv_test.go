package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// spanAttrs returns a span's attributes as strings by key.
func spanAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func wantAttrs(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: attribute %s = %q, want %q (all: %v)", what, k, got[k], v, got)
		}
	}
}

// TestSpansCarryTheSemanticConventionsAttributes: the request span has the
// HTTP server attributes (http.route only when a route matched), each
// backend attempt the RPC client ones.
func TestSpansCarryTheSemanticConventionsAttributes(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	t.Cleanup(backend.Close)
	backendAddr := strings.TrimPrefix(backend.URL, "http://")
	_, backendPort, _ := net.SplitHostPort(backendAddr)
	y := fmt.Sprintf(`
services:
  - name: web
    protocol: http
    instances: [{address: %q}]
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: %q}]
routes:
  - match: {path: "/v1/things/{id}", methods: [GET]}
    service: web
    method: Thing
  - match: {prefix: /w/}
    service: web
`, backendAddr, startPeople(t, true))
	cfg, err := mapping.Parse([]byte(y), plugins())
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	g, err := gateway.New(cfg, []byte(y), gateway.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	// spans sends one request and returns its server span and its attempt
	// spans.
	spans := func(method, path, body string, status int) (sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan) {
		t.Helper()
		before := len(rec.Ended())
		if r := do(t, method, srv.URL+path, body); r.status != status {
			t.Fatalf("%s %s: got %d %s, want %d", method, path, r.status, r.body, status)
		}
		var server sdktrace.ReadOnlySpan
		var attempts []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended()[before:] {
			switch s.SpanKind() {
			case trace.SpanKindServer:
				server = s
			case trace.SpanKindClient:
				attempts = append(attempts, s)
			}
		}
		if server == nil {
			t.Fatalf("%s %s: no server span", method, path)
		}
		return server, attempts
	}

	server, attempts := spans("GET", "/v1/things/7", "", 200)
	wantAttrs(t, "server span of a templated route", spanAttrs(server), map[string]string{
		"http.request.method": "GET", "url.path": "/v1/things/7", "url.scheme": "http",
		"http.route": "/v1/things/{id}", "http.response.status_code": "200",
	})
	if len(attempts) != 1 {
		t.Fatalf("got %d attempt spans, want 1", len(attempts))
	}
	wantAttrs(t, "attempt span to the HTTP backend", spanAttrs(attempts[0]), map[string]string{
		"rpc.system": "http", "rpc.service": "web", "rpc.method": "Thing",
		"server.address": "127.0.0.1", "server.port": backendPort,
	})
	if attempts[0].Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("the attempt's parent is %s, want the request span %s", attempts[0].Parent().SpanID(), server.SpanContext().SpanID())
	}

	server, _ = spans("POST", "/w/Do", "{}", 200)
	wantAttrs(t, "server span of a prefix route", spanAttrs(server), map[string]string{"http.route": "/w/*", "http.request.method": "POST"})

	// Without a route (the service named in the path) there is no
	// http.route.
	server, attempts = spans("POST", "/people/Get", `{"id": "1"}`, 200)
	if a := spanAttrs(server); a["http.route"] != "" {
		t.Errorf("a call by service name has no route, got http.route %q", a["http.route"])
	}
	if len(attempts) != 1 {
		t.Fatalf("got %d attempt spans, want 1", len(attempts))
	}
	wantAttrs(t, "attempt span to the gRPC backend", spanAttrs(attempts[0]), map[string]string{
		"rpc.system": "grpc", "rpc.service": "demo.v1.PeopleService", "rpc.method": "Get", "server.address": "127.0.0.1",
	})

	// An unknown method is _OTHER, the original kept beside it.
	server, _ = spans("BREW", "/nowhere", "", http.StatusMethodNotAllowed)
	wantAttrs(t, "server span of an unknown method", spanAttrs(server), map[string]string{
		"http.request.method": "_OTHER", "http.request.method_original": "BREW",
	})
	// A request that reached no service keeps the method as its name
	// ("HTTP" for an unknown one).
	if server.Name() != "HTTP" {
		t.Errorf("span of an unrouted BREW request: named %q, want HTTP", server.Name())
	}
}
