package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
	"github.com/rpcbridge/rpcbridge/protocols/tars"
	"github.com/rpcbridge/rpcbridge/protocols/thrift"
)

// plugins are the protocols these tests use.
func plugins() mapping.Plugins {
	return mapping.Plugins{"grpc": grpc.Plugin{}, "http": phttp.Plugin{}, "thrift": thrift.Plugin{}, "tars": tars.Plugin{}}
}

func startPeople(t testing.TB, reflection bool) string {
	t.Helper()
	s, err := people.Start("127.0.0.1:0", reflection)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.Addr()
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	// A socket bound to the port but not listening: connections to it
	// are refused, and no listener of a test running in parallel can
	// take the port until the test ends (a port merely closed again
	// can be, and then the "dead" instance answers).
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// newEnvB builds a gateway handler for benchmarks.
func newEnvB(b *testing.B, yaml string, vars map[string]string) *gateway.Gateway {
	b.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	cfg, err := mapping.Parse([]byte(yaml), plugins())
	if err != nil {
		b.Fatalf("config: %v", err)
	}
	g, err := gateway.New(cfg, []byte(yaml), gateway.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

type env struct {
	gw  *gateway.Gateway
	url string
	adm string
}

func newEnv(t *testing.T, yaml string, vars map[string]string) *env {
	t.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	cfg, err := mapping.Parse([]byte(yaml), plugins())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	g, err := gateway.New(cfg, []byte(yaml), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	adm := httptest.NewServer(g.AdminHandler(gateway.AdminOptions{}))
	t.Cleanup(adm.Close)
	return &env{gw: g, url: srv.URL, adm: adm.URL}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// field extracts a top-level JSON field as raw text.
func field(t *testing.T, body, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("reply is not a JSON object: %v: %s", err, body)
	}
	return string(m[name])
}

func errCode(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" {
		t.Fatalf("want one JSON error body, got %s", body)
	}
	return e.Error.Code
}

const peopleYAML = `
server: {max_body_bytes: 2048}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService, expose_headers: [x-request-id]}
    instances: [{address: "{{addr}}"}]
    timeout: 300ms
    forward_headers: [x-request-id, x-delay]
  - name: dead
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{dead}}"}]
    retries: 0
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
  - match: {path: "/v1/people:echo", methods: [POST]}
    service: people
    method: Echo
  - match: {path: /v1/people, methods: [GET]}
    service: people
    method: List
`

func TestGRPCCallsThroughTheGateway(t *testing.T) {
	e := newEnv(t, peopleYAML, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})

	r := do(t, "GET", e.url+"/v1/people/1", "")
	if r.status != 200 || field(t, r.body, "name") != `"Ada Lovelace"` || field(t, r.body, "id") != `"1"` {
		t.Fatalf("template route: got %d %s, want 200 Ada Lovelace with id \"1\"", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/people/Get", `{"id": 2}`)
	if r.status != 200 || field(t, r.body, "name") != `"Alan Turing"` {
		t.Fatalf("route-less: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/demo.v1.PeopleService/Get", `{"id": "3"}`)
	if r.status != 200 || field(t, r.body, "name") != `"Grace Hopper"` {
		t.Fatalf("fully-qualified route-less: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/v1/people:echo", `{"i64": "9007199254740993", "u64": 18446744073709551615, "ids": [9007199254740993, "-9007199254740993"]}`)
	if r.status != 200 || field(t, r.body, "i64") != `"9007199254740993"` || field(t, r.body, "u64") != `"18446744073709551615"` {
		t.Fatalf("int64 above 2^53: got %d %s", r.status, r.body)
	}
	if got := field(t, r.body, "ids"); strings.ReplaceAll(got, " ", "") != `["9007199254740993","-9007199254740993"]` {
		t.Fatalf("repeated int64: got %s", got)
	}
	r = do(t, "GET", e.url+"/v1/people/1", "", "X-Request-Id", "req-77")
	if r.header.Get("X-Request-Id") != "req-77" {
		t.Fatalf("forwarded header echoed back: got %q want req-77", r.header.Get("X-Request-Id"))
	}
}

func TestQueryParameterBindsExactInt64(t *testing.T) {
	e := newEnv(t, peopleYAML, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	r := do(t, "POST", e.url+"/v1/people:echo?i64=9007199254740993&ids=1&ids=9007199254740995&text=hi", "")
	if r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if got := field(t, r.body, "i64"); got != `"9007199254740993"` {
		t.Fatalf("i64: got %s want \"9007199254740993\"", got)
	}
	if got := strings.ReplaceAll(field(t, r.body, "ids"), " ", ""); got != `["1","9007199254740995"]` {
		t.Fatalf("ids: got %s", got)
	}
}

func TestServerStreamingAsNDJSONAndSSE(t *testing.T) {
	e := newEnv(t, peopleYAML, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	r := do(t, "GET", e.url+"/v1/people?limit=3", "")
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" || len(lines) != 3 {
		t.Fatalf("ndjson: got %d %q %d lines: %s", r.status, r.header.Get("Content-Type"), len(lines), r.body)
	}
	if field(t, lines[2], "name") != `"Grace Hopper"` {
		t.Fatalf("third message: got %s", lines[2])
	}
	r = do(t, "GET", e.url+"/v1/people?limit=2", "", "Accept", "text/event-stream")
	if r.header.Get("Content-Type") != "text/event-stream" || strings.Count(r.body, "data: ") != 2 {
		t.Fatalf("sse: got %q %s", r.header.Get("Content-Type"), r.body)
	}
	// A stream that fails after one message ends with an error event.
	r = do(t, "GET", e.url+"/v1/people?limit=3&fail_after=1", "", "Accept", "text/event-stream")
	if strings.Count(r.body, "data: ") != 2 || !strings.Contains(r.body, "event: error\ndata: {\"error\":{\"code\":\"INTERNAL\"") {
		t.Fatalf("sse error event: got %s", r.body)
	}
}

func TestStreamingSSEIsFlushedPerMessage(t *testing.T) {
	e := newEnv(t, peopleYAML, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	resp, err := http.Get(e.url + "/v1/people?limit=2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || field(t, line, "name") != `"Ada Lovelace"` {
		t.Fatalf("first line: got %q %v", line, err)
	}
}

func TestBadInputGetsOneJSONErrorAndTheGatewayKeepsServing(t *testing.T) {
	e := newEnv(t, peopleYAML, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/people/Get", `{"id": `, nil, 400, "INVALID_ARGUMENT"},
		{"unknown field", "POST", "/people/Get", `{"idd": 1}`, nil, 400, "INVALID_ARGUMENT"},
		{"string for int", "POST", "/people/Get", `{"id": "abc"}`, nil, 400, "INVALID_ARGUMENT"},
		{"int64 out of range", "POST", "/people/Get", `{"id": "9223372036854775808"}`, nil, 400, "INVALID_ARGUMENT"},
		{"path param not an int", "GET", "/v1/people/abc", "", nil, 400, "INVALID_ARGUMENT"},
		{"unknown route", "GET", "/no/such/route/here", "", nil, 404, "NOT_FOUND"},
		{"unknown method", "POST", "/people/NoSuch", `{}`, nil, 404, "NOT_FOUND"},
		{"unknown service", "POST", "/nobody/Get", `{}`, nil, 404, "NOT_FOUND"},
		{"wrong HTTP method", "DELETE", "/v1/people/1", "", nil, 405, "METHOD_NOT_ALLOWED"},
		{"backend down", "POST", "/dead/Get", `{"id": 1}`, nil, 503, "UNAVAILABLE"},
		{"backend too slow", "GET", "/v1/people/1", "", []string{"X-Delay", "2s"}, 504, "DEADLINE_EXCEEDED"},
		{"body too large", "POST", "/people/Echo", `{"text": "` + strings.Repeat("x", 4096) + `"}`, nil, 413, "BODY_TOO_LARGE"},
		{"backend NOT_FOUND", "GET", "/v1/people/404", "", nil, 404, "NOT_FOUND"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := do(t, c.method, e.url+c.path, c.body, c.hdr...)
			if r.status != c.status || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %s, want %d application/json", r.status, r.header.Get("Content-Type"), r.body, c.status)
			}
			if got := errCode(t, r.body); got != c.code {
				t.Fatalf("code: got %s want %s (%s)", got, c.code, r.body)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %s: an error must not hang", time.Since(start))
			}
			if ok := do(t, "GET", e.url+"/v1/people/2", ""); ok.status != 200 {
				t.Fatalf("after %s the gateway answered %d %s, want 200", c.name, ok.status, ok.body)
			}
		})
	}
}

func TestPerRouteTimeoutOverridesTheService(t *testing.T) {
	y := strings.Replace(peopleYAML, "    timeout: 300ms\n", "    timeout: 5s\n", 1) + `  - match: {path: "/v1/fast/{id}", methods: [GET]}
    service: people
    method: Get
    timeout: 100ms
`
	e := newEnv(t, y, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	start := time.Now()
	r := do(t, "GET", e.url+"/v1/fast/1", "", "X-Delay", "1s")
	if r.status != 504 || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("route timeout 100ms: got %d after %s, want 504 well before the 1s delay", r.status, time.Since(start))
	}
	if r := do(t, "GET", e.url+"/v1/people/1", "", "X-Delay", "200ms"); r.status != 200 {
		t.Fatalf("service timeout 5s with a 200ms delay: got %d %s", r.status, r.body)
	}
}

func TestReflectionNotServedIsAClearErrorNotAHang(t *testing.T) {
	e := newEnv(t, peopleYAML, map[string]string{"addr": startPeople(t, false), "dead": deadAddr(t)})
	start := time.Now()
	r := do(t, "GET", e.url+"/v1/people/1", "")
	if r.status < 500 || !strings.Contains(r.body, "demo.v1.PeopleService") && !strings.Contains(r.body, "people") {
		t.Fatalf("got %d %s, want a 5xx naming the service", r.status, r.body)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
}

func TestServiceNameHeaderAndScTagServiceSet(t *testing.T) {
	y := peopleYAML + `
service_sets:
  mall: [dead2, people]
`
	y = strings.Replace(y, "routes:", `  - name: dead2
    protocol: http
    instances: [{address: "{{dead}}"}]
    apis: [Ping]
routes:`, 1)
	e := newEnv(t, y, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	r := do(t, "POST", e.url+"/Get", `{"id": 1}`, "serviceName", "people")
	if r.status != 200 || field(t, r.body, "name") != `"Ada Lovelace"` {
		t.Fatalf("serviceName header: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/Get?serviceName=people", `{"id": 2}`)
	if r.status != 200 || field(t, r.body, "name") != `"Alan Turing"` {
		t.Fatalf("serviceName query: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/Nope", `{}`, "serviceName", "people")
	if r.status != 404 {
		t.Fatalf("serviceName unknown API: got %d %s want 404", r.status, r.body)
	}
	// dead2 is first in the set but does not have Get: people serves it.
	r = do(t, "POST", e.url+"/Get", `{"id": 3}`, "scTag", "mall")
	if r.status != 200 || field(t, r.body, "name") != `"Grace Hopper"` {
		t.Fatalf("scTag: got %d %s", r.status, r.body)
	}
	// dead2 declares Ping: it is chosen (and is down: 503, not 404).
	r = do(t, "POST", e.url+"/Ping", `{}`, "scTag", "mall")
	if r.status != 503 {
		t.Fatalf("scTag first match: got %d %s want 503", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/Get", `{}`, "scTag", "nosuchset")
	if r.status != 404 || !strings.Contains(r.body, "nosuchset") {
		t.Fatalf("unknown set: got %d %s", r.status, r.body)
	}
}

func TestAdminOfflineTakesAnInstanceOutOfTraffic(t *testing.T) {
	addr := startPeople(t, true)
	e := newEnv(t, peopleYAML, map[string]string{"addr": addr, "dead": deadAddr(t)})
	r := do(t, "POST", e.adm+"/admin/services/people/instances/"+addr+"/offline", "")
	if r.status != 200 || !strings.Contains(r.body, `"state":"offline"`) {
		t.Fatalf("offline: got %d %s", r.status, r.body)
	}
	if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 503 {
		t.Fatalf("with the only instance offline: got %d %s want 503", r.status, r.body)
	}
	do(t, "POST", e.adm+"/admin/services/people/instances/"+addr+"/online", "")
	if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 200 {
		t.Fatalf("back online: got %d %s want 200", r.status, r.body)
	}
	r = do(t, "GET", e.adm+"/admin/services", "")
	if r.status != 200 || !strings.Contains(r.body, addr) {
		t.Fatalf("services: got %d %s", r.status, r.body)
	}
	r = do(t, "GET", e.adm+"/admin/services/people/schema", "")
	if r.status != 200 || !strings.Contains(r.body, `"name":"Get","input":"demo.v1.GetPersonRequest","output":"demo.v1.Person"`) {
		t.Fatalf("schema: got %d %s", r.status, r.body)
	}
}

func TestCORSPreflightAndHeaders(t *testing.T) {
	y := strings.Replace(peopleYAML, "server: {max_body_bytes: 2048}", `server: {max_body_bytes: 2048, cors: {allow_origins: ["https://app.example.com"], max_age: 10m}}`, 1)
	e := newEnv(t, y, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t)})
	r := do(t, "OPTIONS", e.url+"/v1/people/1", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: got %d %v", r.status, r.header)
	}
	r = do(t, "GET", e.url+"/v1/people/1", "", "Origin", "https://evil.example.com")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin got CORS header %q", r.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestReloadSwapsRoutesAndRefusesABadTable(t *testing.T) {
	addr := startPeople(t, true)
	vars := map[string]string{"addr": addr, "dead": deadAddr(t)}
	e := newEnv(t, peopleYAML, vars)
	y2 := strings.Replace(peopleYAML, "/v1/people/{id}", "/v2/people/{id}", 1)
	for k, v := range vars {
		y2 = strings.ReplaceAll(y2, "{{"+k+"}}", v)
	}
	cfg, err := mapping.Parse([]byte(y2), plugins())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Reload(cfg, []byte(y2)); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", e.url+"/v2/people/1", ""); r.status != 200 {
		t.Fatalf("new route: got %d %s", r.status, r.body)
	}
	if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 404 {
		t.Fatalf("old route: got %d want 404", r.status)
	}
}

// loadLoop sends GET url from four goroutines until stopped, counting
// successes and failures.
type loadLoop struct {
	ok, failed atomic.Int64
	first      atomic.Value // the first failure, as "status body"
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, url string) *loadLoop {
	l := &loadLoop{stop: make(chan struct{})}
	for w := 0; w < 4; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				r := do(t, "GET", url, "")
				if r.status == 200 {
					l.ok.Add(1)
				} else {
					l.failed.Add(1)
					l.first.CompareAndSwap(nil, fmt.Sprint(r.status, " ", r.body))
				}
			}
		}()
	}
	return l
}

// finish stops the loop and fails the test if any request failed.
func (l *loadLoop) finish(t *testing.T, what string) {
	close(l.stop)
	l.wg.Wait()
	t.Logf("%s: %d requests succeeded, %d failed", what, l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Fatalf("%s: got %d failed requests (first: %v), want 0", what, l.failed.Load(), l.first.Load())
	}
}
