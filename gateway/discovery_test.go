package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
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
		r := do(t, "GET", url, "")
		if r.status == want {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("after %s: got %d %s, want %d", d, r.status, r.body, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSDKRegistrationReachesTheGatewayWithinOneSecond(t *testing.T) {
	zk := zktest.Start(t)
	e := newEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 503 {
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
	e := newEnv(t, zkYAML+"\n", map[string]string{"zk": zk.Addr()})
	startSDKBackend(t, zk, registry.API{Name: "Get"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, "POST", e.url+"/Get", `{"id": 1}`, "serviceName", "people")
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGatewayKeepsServingWhileZooKeeperIsDown(t *testing.T) {
	zk := zktest.Start(t)
	e := newEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	b := startSDKBackend(t, zk)
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)
	zk.Stop()
	for i := 0; i < 50; i++ {
		if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 200 {
			t.Fatalf("request %d while ZooKeeper is down: got %d %s", i, r.status, r.body)
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
		r := do(t, "GET", e.adm+"/admin/services", "")
		if containsAll(r.body, b.srv.Addr(), b2.srv.Addr()) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("after restart the gateway sees: %s; want both %s and %s", r.body, b.srv.Addr(), b2.srv.Addr())
		}
		time.Sleep(50 * time.Millisecond)
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

func TestRollingRestartOfThreeBackendsLosesNoRequest(t *testing.T) {
	zk := zktest.Start(t)
	e := newEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
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
		time.Sleep(200 * time.Millisecond)
	}
	load.finish(t, "rolling restart")
	if load.ok.Load() < 100 {
		t.Fatalf("only %d requests ran", load.ok.Load())
	}
}

func TestSDKReportedPathsBecomeRoutes(t *testing.T) {
	zk := zktest.Start(t)
	e := newEnv(t, zkYAML, map[string]string{"zk": zk.Addr()})
	b := startSDKBackend(t, zk, registry.API{Name: "Get", Path: "/people/by-id/{id}", HTTPMethod: "GET"})
	waitStatus(t, e.url+"/people/by-id/3", 200, 5*time.Second)
	r := do(t, "GET", e.url+"/people/by-id/3", "")
	if field(t, r.body, "name") != `"Grace Hopper"` {
		t.Fatalf("got %s", r.body)
	}
	r = do(t, "GET", e.adm+"/admin/routes", "")
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
	e := newEnv(t, y, map[string]string{"zk": zk.Addr()})
	startSDKBackend(t, zk, registry.API{Name: "List"})
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second) // a YAML route is declared
	r := do(t, "POST", e.url+"/people/Echo", `{}`)
	if r.status != 404 || !strings.Contains(r.body, "not registered") {
		t.Fatalf("undeclared API: got %d %s, want 404 not registered", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/people/Get", `{"id": 1}`) // Get is declared by the route
	if r.status != 200 {
		t.Fatalf("declared API route-less: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/people/List", `{"limit": 1}`) // reported by the SDK
	if r.status != 200 {
		t.Fatalf("SDK-reported API: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/Echo", `{}`, "serviceName", "people")
	if r.status != 404 {
		t.Fatalf("serviceName to undeclared API: got %d %s, want 404", r.status, r.body)
	}
	m := do(t, "GET", e.adm+"/metrics", "")
	if !strings.Contains(m.body, "rpcbridge_unregistered_api_requests_total 2") {
		t.Fatalf("the refusal should be counted: %s", grepLines(m.body, "unregistered"))
	}
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
