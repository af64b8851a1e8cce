package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// echoProtocol is an in-memory protocol: every call answers its body.
type echoProtocol struct{}

func (echoProtocol) Name() string { return "http" }
func (echoProtocol) Dial(context.Context, generic.Target) (generic.Client, error) {
	return echoClient{}, nil
}

type echoClient struct{}

func (echoClient) Invoke(_ context.Context, c *generic.Call) (*generic.Result, error) {
	return &generic.Result{Body: append([]byte(nil), c.Body...)}, nil
}
func (echoClient) Describe(context.Context) (*generic.ServiceSchema, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "no schema")
}
func (echoClient) Close() error { return nil }

func newEchoGateway(t testing.TB, yaml string) *Gateway {
	t.Helper()
	return newTestGateway(t, yaml, echoProtocol{})
}

// newTestGateway builds a gateway whose every service uses proto; it is
// closed when the test ends (Close may also be called before).
func newTestGateway(t testing.TB, yaml string, proto generic.Protocol) *Gateway {
	t.Helper()
	cfg, err := mapping.Parse([]byte(yaml), mapping.Plugins{"http": fixedPlugin{proto}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	g, err := New(cfg, []byte(yaml), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// fixedPlugin is a plug-in whose every service uses one adapter; it takes
// no section.
type fixedPlugin struct{ proto generic.Protocol }

func (fixedPlugin) Section() string { return "" }
func (p fixedPlugin) Decode(mapping.SectionInput) (mapping.ProtocolConfig, error) {
	return fixedConfig(p), nil
}

type fixedConfig struct{ proto generic.Protocol }

func (fixedConfig) ResolvePaths(string)                {}
func (fixedConfig) Validate(*mapping.Service) []string { return nil }
func (fixedConfig) Key(*mapping.Service) string        { return "" }
func (fixedConfig) QualifiedName() string              { return "" }
func (fixedConfig) DeclaredMethods() []string          { return nil }
func (c fixedConfig) Build(*mapping.Service, mapping.ProtocolEnv) (generic.Protocol, error) {
	return c.proto, nil
}

func names(fs []filter) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%d", f.name(), f.order()))
	}
	return strings.Join(out, " ")
}

const chainYAML = `
server:
  cors: {allow_origins: ["https://app.example"]}
  auth: {keys: [{name: k, key: key-1}]}
services:
  - name: plain
    protocol: http
    instances: [{address: 127.0.0.1:1}]
  - name: open
    protocol: http
    public: true
    instances: [{address: 127.0.0.1:1}]
  - name: limited
    protocol: http
    rate_limit: {rps: 5}
    instances: [{address: 127.0.0.1:1}]
`

func TestEachServiceRunsOnlyTheFiltersItNeedsInOrder(t *testing.T) {
	g := newEchoGateway(t, chainYAML)
	ch := g.state.Load().chains
	cases := []struct{ chain, got, want string }{
		{"edge", names(ch.edge), "framing@10 cors@20 method@30"},
		{"unrouted", names(ch.unrouted), "auth@110"},
		{"plain", names(ch.byService["plain"]), "auth@110 call-form@210 content-type@230"},
		{"open (public)", names(ch.byService["open"]), "call-form@210 content-type@230"},
		{"limited", names(ch.byService["limited"]), "auth@110 call-form@210 rate-limit@220 content-type@230"},
		{"routes", fmt.Sprint(len(ch.byRoute)), "0"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s chain: got %q, want %q", c.chain, c.got, c.want)
		}
	}
	g2 := newEchoGateway(t, "server: {allow_any_content_type: true}\nservices: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n")
	if got := names(g2.state.Load().chains.byService["s"]); got != "call-form@210" {
		t.Errorf("allow_any_content_type: got %q, want %q", got, "call-form@210")
	}
}

// orderFilter records when it runs and what status its response hook sees.
type orderFilter struct {
	n   string
	o   int
	log *[]string
	mu  *sync.Mutex
}

func (f orderFilter) name() string { return f.n }
func (f orderFilter) order() int   { return f.o }
func (f orderFilter) request(*reqCtx) *generic.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.log = append(*f.log, "request "+f.n)
	return nil
}
func (f orderFilter) response(_ *reqCtx, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.log = append(*f.log, fmt.Sprintf("response %s %d", f.n, status))
}

func TestFiltersRunInOrderAndResponseHooksInReverse(t *testing.T) {
	g := newEchoGateway(t, "services: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n")
	var log []string
	var mu sync.Mutex
	st := g.state.Load()
	fs := append([]filter{}, st.chains.byService["s"]...)
	fs = append(fs, orderFilter{"b", 250, &log, &mu}, orderFilter{"a", 240, &log, &mu})
	st.chains.byService["s"] = sortFilters(fs)

	req := httptest.NewRequest("POST", "/s/M", strings.NewReader(`{"x":1}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	if w.Code != 200 || w.Body.String() != `{"x":1}` {
		t.Fatalf("got %d %s, want 200 echoing the body", w.Code, w.Body.String())
	}
	want := "request a,request b,response b 200,response a 200"
	if got := strings.Join(log, ","); got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// An answer from an earlier filter stops the chain: a 415 before a, b.
	log = nil
	req = httptest.NewRequest("POST", "/s/M", strings.NewReader(`{"x":1}`))
	req.Header.Set("Content-Type", "text/plain")
	w = httptest.NewRecorder()
	g.ServeHTTP(w, req)
	if w.Code != http.StatusUnsupportedMediaType || len(log) != 0 {
		t.Errorf("got %d and %v, want 415 and no later filter run", w.Code, log)
	}
}

const routeFiltersYAML = `
server:
  auth: {keys: [{name: k, key: key-1}]}
services:
  - name: shop
    protocol: http
    instances: [{address: 127.0.0.1:1}]
  - name: open
    protocol: http
    public: true
    instances: [{address: 127.0.0.1:1}]
routes:
  - match: {path: /status, methods: [POST]}
    service: shop
    method: Status
    public: true
  - match: {path: /checkout, methods: [POST]}
    service: shop
    method: Checkout
    rate_limit: {rps: 0.001, burst: 1}
  - match: {path: /browse, methods: [POST]}
    service: shop
    method: Browse
  - match: {path: /open/admin, methods: [POST]}
    service: open
    method: Admin
    public: false
`

// Routes override their service's filters: public either way, and a
// token bucket of their own that a reload leaves as it is.
func TestRoutesOverrideTheirServicesFilters(t *testing.T) {
	g := newEchoGateway(t, routeFiltersYAML)
	call := func(path, key string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("POST", path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w.Code, w.Header().Get("Retry-After")
	}
	for _, c := range []struct {
		path, key string
		want      int
	}{
		{"/status", "", 200},      // public route of a protected service
		{"/browse", "", 401},      // its sibling is not
		{"/shop/Status", "", 401}, // nor the same method reached without the route
		{"/open/admin", "", 401},  // a protected route of a public service
		{"/open/admin", "key-1", 200},
		{"/open/Other", "", 200},
		{"/checkout", "key-1", 200}, // the route's one token
		{"/browse", "key-1", 200},   // the service has no limit of its own
	} {
		if got, _ := call(c.path, c.key); got != c.want {
			t.Errorf("POST %s (key %q): got %d, want %d", c.path, c.key, got, c.want)
		}
	}
	if got, retry := call("/checkout", "key-1"); got != 429 || retry == "" {
		t.Errorf("second checkout: got %d Retry-After %q, want 429 with Retry-After", got, retry)
	}
	ch := g.state.Load().chains
	r := &g.state.Load().cfg.Routes[1]
	if got, want := names(ch.byRoute[r]), "auth@110 call-form@210 route-rate-limit@225 content-type@230"; got != want {
		t.Errorf("checkout chain: got %q, want %q", got, want)
	}
	if _, own := ch.byRoute[&g.state.Load().cfg.Routes[2]]; own {
		t.Errorf("browse has a chain of its own, want its service's")
	}

	// A reload that leaves the route alone keeps its spent bucket.
	y2 := routeFiltersYAML + "  - match: {path: /new, methods: [POST]}\n    service: shop\n    method: New\n"
	cfg, err := mapping.Parse([]byte(y2), mapping.Plugins{"http": fixedPlugin{echoProtocol{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(cfg, []byte(y2)); err != nil {
		t.Fatal(err)
	}
	if got, _ := call("/checkout", "key-1"); got != 429 {
		t.Errorf("checkout after a reload: got %d, want 429 (the bucket kept)", got)
	}
}

type badOrder struct{ n string }

func (b badOrder) name() string                 { return b.n }
func (badOrder) order() int                     { return orderAuth }
func (badOrder) request(*reqCtx) *generic.Error { return nil }

func TestTwoFiltersWithOneOrderAreRefused(t *testing.T) {
	err := uniqueOrders(sortFilters([]filter{callFormFilter{}, badOrder{"x"}, badOrder{"y"}}))
	if err == nil || !strings.Contains(err.Error(), "share order 110") {
		t.Fatalf("got %v, want an error naming the shared order", err)
	}
}

// Neither the gateway nor mapping names a protocol: what they need of a
// protocol section they ask its plug-in (mapping.ProtocolConfig), which
// also builds the adapter.
func TestGatewayAndMappingCodeNameNoProtocol(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../mapping/*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, more...)
	word := regexp.MustCompile(`(?i)\b(grpc|dubbo|thrift|tars|triple)\b|\.(GRPC|Dubbo|Thrift|Tars)\b`)
	for _, f := range files {
		// telemetry.go names the OTLP exporter's own transports (grpc,
		// http/protobuf), which are not backend protocols.
		if strings.HasSuffix(f, "_test.go") || f == "../mapping/telemetry.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			code, _, _ := strings.Cut(line, "//")
			if m := word.FindString(code); m != "" {
				t.Errorf("%s:%d names protocol %q in code: %s", f, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
