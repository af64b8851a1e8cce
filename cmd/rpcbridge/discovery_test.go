package main

// Discovery end to end: backends registered in a real ZooKeeper by the SDK,
// found by a gateway built in-process with this command's wiring
// (plugins and zkDiscovery, as serve builds them). The gateway's
// own discovery tests, with an in-memory registry, are in
// gateway/discovery_test.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/sdk"
)

const zkYAML = `
registries:
  - name: zk
    zookeeper: {servers: ["{{zk}}"], root: /rb, session_timeout: 4s}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    discovery: {registry: zk}
    timeout: 2s
    retries: 2
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
`

// zkEnv is a gateway on the command's wiring, served by httptest.
type zkEnv struct {
	url, adm string
}

func newZKEnv(t *testing.T, yaml string, vars map[string]string) *zkEnv {
	t.Helper()
	raw := []byte(expand(yaml, vars))
	cfg, err := mapping.Parse(raw, plugins())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	disc := newZKDiscovery(log)
	t.Cleanup(func() { disc.Close() }) // after the gateway's Close (cleanups run last first)
	g, err := gateway.New(cfg, raw, gateway.Options{Discovery: disc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	adm := httptest.NewServer(g.AdminHandler(gateway.AdminOptions{}))
	t.Cleanup(adm.Close)
	return &zkEnv{url: srv.URL, adm: adm.URL}
}

// send makes one request; a transport error is an error reply with
// status 0.
func send(method, url, body string, hdr ...string) httpReply {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return httpReply{0, err.Error()}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return httpReply{0, err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpReply{resp.StatusCode, string(b)}
}

// jsonField extracts a top-level JSON field as raw text.
func jsonField(t *testing.T, body, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("reply is not a JSON object: %v: %s", err, body)
	}
	return string(m[name])
}

// sdkBackend is a real gRPC backend registered in ZooKeeper by the SDK.
type sdkBackend struct {
	srv   *people.Server
	agent *sdk.Agent
}

func startSDKBackend(t *testing.T, zk *zktest.Server, apis ...registry.API) *sdkBackend {
	t.Helper()
	srv, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := sdk.New(sdk.Options{
		ZooKeeper: zk.Servers(), Root: "/rb", Service: "people", Address: srv.Addr(),
		Protocol: "grpc", SessionTimeout: 4 * time.Second, APIs: apis,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := agent.Register(ctx); err != nil {
		t.Fatal(err)
	}
	b := &sdkBackend{srv: srv, agent: agent}
	t.Cleanup(func() { agent.Close(); srv.Stop() })
	return b
}

// waitStatus polls until GET url answers want, or fails after d.
func waitStatus(t *testing.T, url string, want int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := send("GET", url, "")
		if r.status == want {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("after %s: got %d %s, want %d", d, r.status, r.body, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// loadLoop sends GET url from four goroutines until finished (or the
// test ends), counting successes and failures.
type loadLoop struct {
	ok, failed atomic.Int64
	first      atomic.Value // the first failure, as "status body"
	stop       chan struct{}
	stopOnce   sync.Once
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, url string) *loadLoop {
	l := &loadLoop{stop: make(chan struct{})}
	t.Cleanup(l.halt)
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
				if r := send("GET", url, ""); r.status == 200 {
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

func (l *loadLoop) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// finish stops the loop and fails the test if any request failed.
func (l *loadLoop) finish(t *testing.T, what string) {
	t.Helper()
	l.halt()
	t.Logf("%s: %d requests succeeded, %d failed", what, l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Fatalf("%s: got %d failed requests (first: %v), want 0", what, l.failed.Load(), l.first.Load())
	}
}

func TestSDKRegistrationReachesTheGatewayWithinOneSecond(t *testing.T) {
	zk := zktest.Start(t)
	e := newZKEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	if r := send("GET", e.url+"/v1/people/1", ""); r.status != 503 {
		t.Fatalf("before registration: got %d %s, want 503", r.status, r.body)
	}
	b := startSDKBackend(t, zk) // returns once the node exists
	took := waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)
	t.Logf("registered -> first routed request: %s", took)
	if took > time.Second {
		t.Fatalf("registration reached the gateway after %s, want within 1s", took)
	}
	// Closing the backend's ZooKeeper session removes it: 503, not a hang.
	b.agent.Close()
	b.srv.Stop()
	waitStatus(t, e.url+"/v1/people/1", 503, 10*time.Second)
}

func TestSDKReportedAPIsServeServiceNameLookups(t *testing.T) {
	zk := zktest.Start(t)
	e := newZKEnv(t, zkYAML+"\n", map[string]string{"zk": zk.Addr()})
	startSDKBackend(t, zk, registry.API{Name: "Get"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := send("POST", e.url+"/Get", `{"id": 1}`, "serviceName", "people")
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %s, want 200", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGatewayKeepsServingWhileZooKeeperIsDown(t *testing.T) {
	zk := zktest.Start(t)
	e := newZKEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	b := startSDKBackend(t, zk)
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)
	zk.Stop()
	for i := 0; i < 50; i++ {
		if r := send("GET", e.url+"/v1/people/1", ""); r.status != 200 {
			t.Fatalf("request %d while ZooKeeper is down: got %d %s, want 200", i, r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	zk.Restart()
	// After ZooKeeper returns, the SDK's node is back and watches work:
	// a new backend is discovered, and the old one is still there.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b2 := startSDKBackend(t, zk)
	for {
		r := send("GET", e.adm+"/admin/services", "")
		if containsAll(r.body, b.srv.Addr(), b2.srv.Addr()) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after restart the gateway sees: %s; want both %s and %s", r.body, b.srv.Addr(), b2.srv.Addr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRollingRestartOfThreeBackendsLosesNoRequest(t *testing.T) {
	zk := zktest.Start(t)
	e := newZKEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	var backends []*sdkBackend
	for i := 0; i < 3; i++ {
		backends = append(backends, startSDKBackend(t, zk))
	}
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)

	load := startLoad(t, e.url+"/v1/people/2")
	for i, b := range backends {
		// The SDK's graceful helper: deregister, drain, then stop.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := b.agent.Shutdown(ctx, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		cancel()
		b.srv.Stop()
		backends[i] = startSDKBackend(t, zk)
		// Let the load run on the new set before the next restart.
		before := load.ok.Load()
		waitFor(t, "traffic after a restart", 10*time.Second, func() bool { return load.ok.Load() >= before+20 })
	}
	load.finish(t, "rolling restart")
	if load.ok.Load() < 100 {
		t.Fatalf("only %d requests ran, want at least 100", load.ok.Load())
	}
}

func TestSDKReportedPathsBecomeRoutes(t *testing.T) {
	zk := zktest.Start(t)
	e := newZKEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	b := startSDKBackend(t, zk, registry.API{Name: "Get", Path: "/people/by-id/{id}", HTTPMethod: "GET"})
	waitStatus(t, e.url+"/people/by-id/3", 200, 5*time.Second)
	r := send("GET", e.url+"/people/by-id/3", "")
	if got := jsonField(t, r.body, "name"); got != `"Grace Hopper"` {
		t.Fatalf("got name %s in %s, want \"Grace Hopper\"", got, r.body)
	}
	r = send("GET", e.adm+"/admin/routes", "")
	if !strings.Contains(r.body, `"path":"/people/by-id/{id}"`) || !strings.Contains(r.body, b.srv.Addr()) {
		t.Fatalf("admin routes should list the reported route and its instance: %s", r.body)
	}
	// The route leaves with the instance.
	b.agent.Close()
	waitStatus(t, e.url+"/people/by-id/3", 404, 10*time.Second)
}

func TestRegisteredOnlyModeRefusesUndeclaredAPIs(t *testing.T) {
	zk := zktest.Start(t)
	y := strings.Replace(zkYAML, "registries:", "server: {registered_only: true}\nregistries:", 1)
	e := newZKEnv(t, y, map[string]string{"zk": zk.Addr()})
	startSDKBackend(t, zk, registry.API{Name: "List"})
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second) // a YAML route is declared
	r := send("POST", e.url+"/people/Echo", `{}`)
	if r.status != 404 || !strings.Contains(r.body, "not registered") {
		t.Fatalf("undeclared API: got %d %s, want 404 not registered", r.status, r.body)
	}
	r = send("POST", e.url+"/people/Get", `{"id": 1}`) // Get is declared by the route
	if r.status != 200 {
		t.Fatalf("declared API route-less: got %d %s, want 200", r.status, r.body)
	}
	r = send("POST", e.url+"/people/List", `{"limit": 1}`) // reported by the SDK
	if r.status != 200 {
		t.Fatalf("SDK-reported API: got %d %s, want 200", r.status, r.body)
	}
	r = send("POST", e.url+"/Echo", `{}`, "serviceName", "people")
	if r.status != 404 {
		t.Fatalf("serviceName to undeclared API: got %d %s, want 404", r.status, r.body)
	}
	m := send("GET", e.adm+"/metrics", "")
	if !strings.Contains(m.body, "rpcbridge_unregistered_api_requests_total 2") {
		t.Fatalf("the refusal should be counted: got %q, want rpcbridge_unregistered_api_requests_total 2", grepLines(m.body, "unregistered"))
	}
}

func TestAdminAddsAnInstanceWhenTheRegistryIsUnavailable(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"instance": "added"}`)
	}))
	t.Cleanup(backend.Close)
	addr := strings.TrimPrefix(backend.URL, "http://")
	y := `
services:
  - name: s
    protocol: http
    instances: []
    apis: [M]
    discovery: {registry: zk}
registries:
  - name: zk
    zookeeper: {servers: ["{{zk}}"], session_timeout: 2s}
`
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	zkDead := l.Addr().String()
	l.Close()
	e := newZKEnv(t, y, map[string]string{"zk": zkDead})
	if r := send("POST", e.url+"/s/M", "{}"); r.status != 503 {
		t.Fatalf("no instance yet: got %d %s, want 503", r.status, r.body)
	}
	r := send("POST", e.adm+"/admin/services/s/instances", `{"address": "`+addr+`", "weight": 100}`)
	if r.status != 200 {
		t.Fatalf("admin add: got %d %s, want 200", r.status, r.body)
	}
	if r := send("POST", e.url+"/s/M", "{}"); r.status != 200 || jsonField(t, r.body, "instance") != `"added"` {
		t.Fatalf("got %d %s, want 200 from the added instance", r.status, r.body)
	}
	if r := send("DELETE", e.adm+"/admin/services/s/instances/"+addr, ""); r.status != 200 {
		t.Fatalf("admin delete: got %d %s, want 200", r.status, r.body)
	}
	if r := send("POST", e.url+"/s/M", "{}"); r.status != 503 {
		t.Fatalf("after delete: got %d %s, want 503", r.status, r.body)
	}
	if r := send("POST", e.adm+"/admin/services/s/instances", `{"address": "nonsense"}`); r.status != 400 {
		t.Fatalf("bad address: got %d %s, want 400", r.status, r.body)
	}
}

// Registries with the same servers (in any order), root and session
// timeout share one session; Close ends them and refuses later watches.
// No ZooKeeper needs to run: sessions are made in the background.
func TestZKDiscoverySharesOneSessionPerIdenticalRegistry(t *testing.T) {
	d := newZKDiscovery(slog.New(slog.DiscardHandler))
	defer d.Close()
	zk := func(name, root string, servers ...string) *mapping.Registry {
		return &mapping.Registry{Name: name, ZooKeeper: &mapping.ZooKeeper{Servers: servers, Root: root, SessionTimeout: 4 * time.Second}}
	}
	svc := &mapping.Service{Name: "s", Protocol: "http", Discovery: &mapping.Discovery{Registry: "a"}}
	for _, reg := range []*mapping.Registry{
		zk("a", "/rb", "127.0.0.1:1", "127.0.0.1:2"),
		zk("b", "/rb", "127.0.0.1:2", "127.0.0.1:1"), // same as a
		zk("c", "/other", "127.0.0.1:1", "127.0.0.1:2"),
		zk("d", "", "127.0.0.1:1"),
		zk("e", "/rpcbridge", "127.0.0.1:1"), // the default root: same as d
	} {
		w, err := d.Watch(context.Background(), svc, reg)
		if err != nil {
			t.Fatalf("Watch on %s: %v", reg.Name, err)
		}
		defer w.Stop()
	}
	d.mu.Lock()
	sessions := len(d.regs)
	d.mu.Unlock()
	if sessions != 3 {
		t.Fatalf("got %d ZooKeeper sessions for registries a..e, want 3", sessions)
	}
	d.Close()
	if _, err := d.Watch(context.Background(), svc, zk("a", "/rb", "127.0.0.1:1")); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Watch after Close: got %v, want an error saying the discovery is closed", err)
	}
	if _, err := d.Watch(context.Background(), svc, &mapping.Registry{Name: "x"}); err == nil || !strings.Contains(err.Error(), `registry "x"`) {
		t.Fatalf("Watch on a registry without zookeeper: got %v, want an error naming registry \"x\"", err)
	}
}
