package gateway_test

// Discovery through gateway.Options, with an in-memory registry
// (registry/static): no ZooKeeper, no JVM. The same behaviour against a
// real ZooKeeper and the SDK is tested in cmd/rpcbridge/discovery_test.go.

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/static"
)

// memDiscovery is an in-memory gateway.Discovery: each registries entry,
// by name, is a static.Discovery, watched under the service's registered
// name (discovery.service, default the service's name). A registry it does
// not hold never answers, like a ZooKeeper that is down.
type memDiscovery struct {
	regs map[string]*static.Discovery

	mu      sync.Mutex
	watches []*trackedWatcher
	fail    error // when set, Watch returns it
}

func newMemDiscovery(registries ...string) *memDiscovery {
	d := &memDiscovery{regs: map[string]*static.Discovery{}}
	for _, name := range registries {
		d.regs[name] = static.New(nil)
	}
	return d
}

func (d *memDiscovery) Watch(ctx context.Context, svc *mapping.Service, reg *mapping.Registry) (registry.Watcher, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return nil, d.fail
	}
	name := svc.Name
	if svc.Discovery.Service != "" {
		name = svc.Discovery.Service
	}
	tw := &trackedWatcher{service: svc.Name, registry: reg.Name}
	if sd := d.regs[reg.Name]; sd != nil {
		w, err := sd.Watch(ctx, name)
		if err != nil {
			return nil, err
		}
		tw.Watcher = w
	} else {
		tw.Watcher = &silentWatcher{stop: make(chan struct{})}
	}
	d.watches = append(d.watches, tw)
	return tw, nil
}

// watchesOf returns the watches started for the service named service.
func (d *memDiscovery) watchesOf(service string) []*trackedWatcher {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*trackedWatcher
	for _, w := range d.watches {
		if w.service == service {
			out = append(out, w)
		}
	}
	return out
}

// trackedWatcher records whether the gateway stopped it.
type trackedWatcher struct {
	registry.Watcher
	service, registry string
	stopped           atomic.Bool
}

func (w *trackedWatcher) Stop() error {
	w.stopped.Store(true)
	return w.Watcher.Stop()
}

// silentWatcher is a registry that never answers.
type silentWatcher struct {
	once sync.Once
	stop chan struct{}
}

func (w *silentWatcher) Next(ctx context.Context) ([]*registry.Instance, error) {
	select {
	case <-w.stop:
		return nil, registry.ErrWatcherStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (w *silentWatcher) Stop() error {
	w.once.Do(func() { close(w.stop) })
	return nil
}

// publishingDiscovery is a memDiscovery whose registries also publish
// service definitions (gateway.DefinitionSource): each value sent on defs
// is the new set for every service that follows them.
type publishingDiscovery struct {
	*memDiscovery
	defs chan [][]byte
	// running counts the WatchDefinitions calls that have not returned.
	running atomic.Int32
}

func (d *publishingDiscovery) WatchDefinitions(ctx context.Context, svc *mapping.Service, reg *mapping.Registry, apply func([][]byte)) {
	d.running.Add(1)
	defer d.running.Add(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case defs := <-d.defs:
			apply(defs)
		}
	}
}

// newEnvWith is newEnv with options.
func newEnvWith(t *testing.T, yaml string, vars map[string]string, opts gateway.Options) *env {
	t.Helper()
	g, err := newGatewayWith(yaml, vars, opts)
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

func newGatewayWith(yaml string, vars map[string]string, opts gateway.Options) (*gateway.Gateway, error) {
	return newGatewayPlugins(yaml, vars, opts, plugins())
}

func newGatewayPlugins(yaml string, vars map[string]string, opts gateway.Options, pl mapping.Plugins) (*gateway.Gateway, error) {
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	cfg, err := mapping.Parse([]byte(yaml), pl)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return gateway.New(cfg, []byte(yaml), opts)
}

const memYAML = `
registries:
  - name: mem
    zookeeper: {servers: ["127.0.0.1:1"]}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    discovery: {registry: mem}
    timeout: 2s
    retries: 2
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
`

func grpcInstance(addr string, apis ...registry.API) *registry.Instance {
	return &registry.Instance{Address: addr, Protocol: "grpc", Online: true, APIs: apis}
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

// waitUntil polls f until it holds, or fails after d.
func waitUntil(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still waiting for %s", d, what)
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

func TestDiscoveredInstancesReachRoutingAndLeaveIt(t *testing.T) {
	d := newMemDiscovery("mem")
	e := newEnvWith(t, memYAML, nil, gateway.Options{Discovery: d})
	if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 503 {
		t.Fatalf("before any instance: got %d %s, want 503", r.status, r.body)
	}
	a, b := startPeople(t, true), startPeople(t, true)
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(a)})
	took := waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)
	if took > time.Second {
		t.Fatalf("the instance reached routing after %s, want within 1s", took)
	}
	if r := do(t, "GET", e.url+"/v1/people/1", ""); field(t, r.body, "name") != `"Ada Lovelace"` {
		t.Fatalf("got %d %s, want Ada Lovelace", r.status, r.body)
	}
	// A second instance joins, then the first leaves.
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(a), grpcInstance(b)})
	waitUntil(t, "both instances in /admin/services", 5*time.Second, func() bool {
		return containsAll(do(t, "GET", e.adm+"/admin/services", "").body, a, b)
	})
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(b)})
	waitUntil(t, "the first instance to leave /admin/services", 5*time.Second, func() bool {
		return !strings.Contains(do(t, "GET", e.adm+"/admin/services", "").body, a)
	})
	for i := 0; i < 10; i++ {
		if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 200 {
			t.Fatalf("request %d after the first instance left: got %d %s, want 200", i, r.status, r.body)
		}
	}
	// The last instance leaves: 503, not a hang.
	d.regs["mem"].Set("people", nil)
	waitStatus(t, e.url+"/v1/people/1", 503, 5*time.Second)
	if got := d.watchesOf("people"); len(got) != 1 || got[0].registry != "mem" {
		t.Fatalf("got %d watches of people, want 1 on registry mem", len(got))
	}
}

func TestDiscoveryServiceNamesTheRegisteredName(t *testing.T) {
	d := newMemDiscovery("mem")
	y := strings.Replace(memYAML, "discovery: {registry: mem}", "discovery: {registry: mem, service: people-v1}", 1)
	e := newEnvWith(t, y, nil, gateway.Options{Discovery: d})
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(startPeople(t, true))})
	d.regs["mem"].Set("people-v1", []*registry.Instance{grpcInstance(startPeople(t, true))})
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)
	body := do(t, "GET", e.adm+"/admin/services", "").body
	if want := d.regs["mem"].Instances("people-v1")[0].Address; !strings.Contains(body, want) {
		t.Fatalf("/admin/services: got %s, want the instance registered as people-v1 (%s)", body, want)
	}
	if other := d.regs["mem"].Instances("people")[0].Address; strings.Contains(body, other) {
		t.Fatalf("/admin/services: got %s, want no instance registered as people (%s)", body, other)
	}
}

func TestReportedAPIsServeServiceNameLookups(t *testing.T) {
	d := newMemDiscovery("mem")
	e := newEnvWith(t, memYAML, nil, gateway.Options{Discovery: d})
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(startPeople(t, true), registry.API{Name: "Get"})})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, "POST", e.url+"/Get", `{"id": 1}`, "serviceName", "people")
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %s, want 200", r.status, r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A plain HTTP backend publishes no schema: only a reported API makes a
// serviceName lookup succeed, and the API leaves with its instance.
func TestReportedAPIsOfASchemalessServiceComeAndGoWithTheirInstance(t *testing.T) {
	d := newMemDiscovery("mem")
	y := `
registries:
  - name: mem
    zookeeper: {servers: ["127.0.0.1:1"]}
services:
  - name: s
    protocol: http
    discovery: {registry: mem}
`
	e := newEnvWith(t, y, nil, gateway.Options{Discovery: d})
	a, b := newBackend(t, "a"), newBackend(t, "b")
	d.regs["mem"].Set("s", []*registry.Instance{{Address: a.addr(), Protocol: "http", Online: true}})
	waitUntil(t, "the instance in /admin/services", 5*time.Second, func() bool {
		return strings.Contains(do(t, "GET", e.adm+"/admin/services", "").body, a.addr())
	})
	if r := do(t, "POST", e.url+"/M", `{}`, "serviceName", "s"); r.status != 404 {
		t.Fatalf("API nobody reports: got %d %s, want 404", r.status, r.body)
	}
	d.regs["mem"].Set("s", []*registry.Instance{{Address: b.addr(), Protocol: "http", Online: true, APIs: []registry.API{{Name: "M"}}}})
	waitUntil(t, "the reported API to serve", 5*time.Second, func() bool {
		return do(t, "POST", e.url+"/M", `{}`, "serviceName", "s").status == 200
	})
	if got := instanceOf(t, do(t, "POST", e.url+"/M", `{}`, "serviceName", "s")); got != "b" {
		t.Fatalf("got instance %s, want b", got)
	}
	d.regs["mem"].Set("s", []*registry.Instance{{Address: a.addr(), Protocol: "http", Online: true}})
	waitUntil(t, "the reported API to leave with its instance", 5*time.Second, func() bool {
		return do(t, "POST", e.url+"/M", `{}`, "serviceName", "s").status == 404
	})
}

func TestDiscoveryReplacingEveryInstanceLosesNoRequest(t *testing.T) {
	d := newMemDiscovery("mem")
	e := newEnvWith(t, memYAML, nil, gateway.Options{Discovery: d})
	type backend struct {
		addr string
		stop func()
	}
	start := func() backend {
		s, err := people.Start("127.0.0.1:0", true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		return backend{s.Addr(), s.Stop}
	}
	publish := func(bs []backend) {
		var ins []*registry.Instance
		for _, b := range bs {
			ins = append(ins, grpcInstance(b.addr))
		}
		d.regs["mem"].Set("people", ins)
	}
	services := func() string { return do(t, "GET", e.adm+"/admin/services", "").body }
	backends := []backend{start(), start(), start()}
	publish(backends)
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second)

	load := startLoad(t, e.url+"/v1/people/2")
	for i, old := range backends {
		// Deregister, wait until the gateway has let go, then stop.
		rest := append(append([]backend(nil), backends[:i]...), backends[i+1:]...)
		publish(rest)
		waitUntil(t, "the deregistered instance to leave", 5*time.Second, func() bool {
			return !strings.Contains(services(), old.addr)
		})
		old.stop()
		backends[i] = start()
		publish(backends)
		waitUntil(t, "the new instance to join", 5*time.Second, func() bool {
			return strings.Contains(services(), backends[i].addr)
		})
		before := load.ok.Load()
		waitUntil(t, "traffic on the new instance set", 10*time.Second, func() bool {
			return load.ok.Load() >= before+50
		})
	}
	load.finish(t, "replacing every instance")
	if load.ok.Load() < 100 {
		t.Fatalf("only %d requests ran, want at least 100", load.ok.Load())
	}
}

func TestReportedPathsBecomeRoutesAndLeaveWithTheirInstance(t *testing.T) {
	d := newMemDiscovery("mem")
	e := newEnvWith(t, memYAML, nil, gateway.Options{Discovery: d})
	addr := startPeople(t, true)
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(addr, registry.API{Name: "Get", Path: "/people/by-id/{id}", HTTPMethod: "GET"})})
	waitStatus(t, e.url+"/people/by-id/3", 200, 5*time.Second)
	r := do(t, "GET", e.url+"/people/by-id/3", "")
	if field(t, r.body, "name") != `"Grace Hopper"` {
		t.Fatalf("got %s, want Grace Hopper", r.body)
	}
	r = do(t, "GET", e.adm+"/admin/routes", "")
	if !strings.Contains(r.body, `"path":"/people/by-id/{id}"`) || !strings.Contains(r.body, addr) {
		t.Fatalf("admin routes should list the reported route and its instance: %s", r.body)
	}
	d.regs["mem"].Set("people", nil)
	waitStatus(t, e.url+"/people/by-id/3", 404, 5*time.Second)
}

func TestRegisteredOnlyModeRefusesUndeclaredAPIs(t *testing.T) {
	d := newMemDiscovery("mem")
	y := strings.Replace(memYAML, "registries:", "server: {registered_only: true}\nregistries:", 1)
	e := newEnvWith(t, y, nil, gateway.Options{Discovery: d})
	d.regs["mem"].Set("people", []*registry.Instance{grpcInstance(startPeople(t, true), registry.API{Name: "List"})})
	waitStatus(t, e.url+"/v1/people/1", 200, 5*time.Second) // a YAML route is declared
	r := do(t, "POST", e.url+"/people/Echo", `{}`)
	if r.status != 404 || !strings.Contains(r.body, "not registered") {
		t.Fatalf("undeclared API: got %d %s, want 404 not registered", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/people/Get", `{"id": 1}`) // Get is declared by the route
	if r.status != 200 {
		t.Fatalf("declared API route-less: got %d %s, want 200", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/people/List", `{"limit": 1}`) // reported by the instance
	if r.status != 200 {
		t.Fatalf("reported API: got %d %s, want 200", r.status, r.body)
	}
	r = do(t, "POST", e.url+"/Echo", `{}`, "serviceName", "people")
	if r.status != 404 {
		t.Fatalf("serviceName to undeclared API: got %d %s, want 404", r.status, r.body)
	}
	m := do(t, "GET", e.adm+"/metrics", "")
	if !strings.Contains(m.body, "rpcbridge_unregistered_api_requests_total 2") {
		t.Fatalf("the refusal should be counted: got %q, want rpcbridge_unregistered_api_requests_total 2", grepLines(m.body, "unregistered"))
	}
}

func TestAdminAddsAnInstanceWhenTheRegistryIsUnavailable(t *testing.T) {
	a := newBackend(t, "added")
	y := `
services:
  - name: s
    protocol: http
    instances: []
    apis: [M]
    discovery: {registry: down}
registries:
  - name: down
    zookeeper: {servers: ["127.0.0.1:1"], session_timeout: 2s}
`
	e := newEnvWith(t, y, nil, gateway.Options{Discovery: newMemDiscovery()}) // "down" never answers
	if r := do(t, "POST", e.url+"/s/M", "{}"); r.status != 503 {
		t.Fatalf("no instance yet: got %d %s, want 503", r.status, r.body)
	}
	r := do(t, "POST", e.adm+"/admin/services/s/instances", `{"address": "`+a.addr()+`", "weight": 100}`)
	if r.status != 200 {
		t.Fatalf("admin add: got %d %s, want 200", r.status, r.body)
	}
	if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}")); got != "added" {
		t.Fatalf("got %s, want added", got)
	}
	if r := do(t, "DELETE", e.adm+"/admin/services/s/instances/"+a.addr(), ""); r.status != 200 {
		t.Fatalf("admin delete: got %d %s, want 200", r.status, r.body)
	}
	if r := do(t, "POST", e.url+"/s/M", "{}"); r.status != 503 {
		t.Fatalf("after delete: got %d %s, want 503", r.status, r.body)
	}
	if r := do(t, "POST", e.adm+"/admin/services/s/instances", `{"address": "nonsense"}`); r.status != 400 {
		t.Fatalf("bad address: got %d %s, want 400", r.status, r.body)
	}
}

func TestPublishedDefinitionsReachTheAdapter(t *testing.T) {
	d := &publishingDiscovery{memDiscovery: newMemDiscovery("mem"), defs: make(chan [][]byte)}
	envs := make(chan mapping.ProtocolEnv, 1)
	pl := plugins()
	pl["grpc"] = capturePlugin{Plugin: pl["grpc"], envs: envs}
	g, err := newGatewayPlugins(memYAML, nil, gateway.Options{Discovery: d}, pl)
	if err != nil {
		t.Fatal(err)
	}
	closeGateway := sync.OnceValue(g.Close)
	t.Cleanup(func() { closeGateway() })
	env := <-envs
	if got := env.Definitions(); got != nil {
		t.Fatalf("before any is published: got %q, want none", got)
	}
	for _, want := range []string{`{"methods": [{"name": "Get"}]}`, `{"methods": [{"name": "Get"}, {"name": "List"}]}`} {
		select {
		case d.defs <- [][]byte{[]byte(want)}:
		case <-time.After(5 * time.Second):
			t.Fatal("the gateway does not follow published definitions")
		}
		waitUntil(t, "the published definitions", 5*time.Second, func() bool {
			got := env.Definitions()
			return len(got) == 1 && string(got[0]) == want
		})
	}
	closeGateway()
	waitUntil(t, "WatchDefinitions to return after Close", 5*time.Second, func() bool { return d.running.Load() == 0 })
}

func TestGatewayStopsItsWatchesOnCloseAndWhenAServiceChanges(t *testing.T) {
	d := newMemDiscovery("mem")
	y := memYAML
	g, err := newGatewayWith(y, nil, gateway.Options{Discovery: d})
	if err != nil {
		t.Fatal(err)
	}
	closeGateway := sync.OnceValue(g.Close)
	t.Cleanup(func() { closeGateway() })
	reload := func(y string) {
		t.Helper()
		cfg, err := mapping.Parse([]byte(y), plugins())
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Reload(cfg, []byte(y)); err != nil {
			t.Fatal(err)
		}
	}
	// The same service again: the watch goes on.
	reload(y + "\n")
	if ws := d.watchesOf("people"); len(ws) != 1 || ws[0].stopped.Load() {
		t.Fatalf("after a reload that keeps the service: got %d watches (first stopped: %v), want 1 running", len(ws), len(ws) > 0 && ws[0].stopped.Load())
	}
	// The service changes: a new watch starts and the old one stops once
	// calls in flight have had their time (the longest timeout, at least
	// mapping.DefaultTimeout, and a second).
	reload(strings.Replace(y, "retries: 2", "retries: 1", 1))
	ws := d.watchesOf("people")
	if len(ws) != 2 {
		t.Fatalf("after a reload that changes the service: got %d watches, want 2", len(ws))
	}
	waitUntil(t, "the old watch to stop", mapping.DefaultTimeout+10*time.Second, func() bool { return ws[0].stopped.Load() })
	if ws[1].stopped.Load() {
		t.Fatal("the new watch stopped, want it running")
	}
	closeGateway()
	if !ws[1].stopped.Load() {
		t.Fatal("after Close: the watch is running, want it stopped")
	}
}

func TestDiscoveryProblemsRefuseTheConfig(t *testing.T) {
	if _, err := newGatewayWith(memYAML, nil, gateway.Options{}); err == nil || !strings.Contains(err.Error(), "Options.Discovery is nil") {
		t.Fatalf("no Discovery: got %v, want an error naming Options.Discovery", err)
	}
	d := newMemDiscovery("mem")
	d.fail = errors.New("registry refused the watch")
	_, err := newGatewayWith(memYAML, nil, gateway.Options{Discovery: d})
	if err == nil || !strings.Contains(err.Error(), `service "people"`) || !strings.Contains(err.Error(), "registry refused the watch") {
		t.Fatalf("Watch fails: got %v, want an error naming the service and the cause", err)
	}
}

func TestGatewayImportsNoConcreteRegistry(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../mapping").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps: got no packages")
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/rpcbridge/rpcbridge/registry/zookeeper", "github.com/rpcbridge/rpcbridge/registry/static", "github.com/go-zookeeper/zk", "github.com/rpcbridge/rpcbridge/protocols"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("gateway or mapping depends on %s, want no %s (adapters come from the plug-ins cmd hands to mapping.Decode, discovery through Options.Discovery)", d, banned)
			}
		}
	}
}

// capturePlugin is a plug-in that hands the environment each adapter is
// built with to envs.
type capturePlugin struct {
	mapping.Plugin
	envs chan<- mapping.ProtocolEnv
}

func (p capturePlugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	c, err := p.Plugin.Decode(in)
	return captureConfig{ProtocolConfig: c, envs: p.envs}, err
}

type captureConfig struct {
	mapping.ProtocolConfig
	envs chan<- mapping.ProtocolEnv
}

func (c captureConfig) Build(s *mapping.Service, env mapping.ProtocolEnv) (generic.Protocol, error) {
	c.envs <- env
	return c.ProtocolConfig.Build(s, env)
}
