package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/mapping"
)

func TestReloadStormUnderLoadLosesNoRequest(t *testing.T) {
	addr := startPeople(t, true)
	vars := map[string]string{"addr": addr, "dead": deadAddr(t)}
	e := newEnv(t, peopleYAML, vars)
	expand := func(y string) string {
		for k, v := range vars {
			y = strings.ReplaceAll(y, "{{"+k+"}}", v)
		}
		return y
	}
	// Two configs that both serve the route; the second also changes the
	// service (a new cluster and connection each time) and adds a route.
	a := expand(peopleYAML)
	b := expand(strings.Replace(peopleYAML, "timeout: 300ms", "timeout: 400ms", 1) + `  - match: {path: /v1/extra, methods: [GET]}
    service: people
    method: Get
`)
	load := startLoad(t, e.url+"/v1/people/2")
	for i := 0; i < 100; i++ {
		y := a
		if i%2 == 0 {
			y = b
		}
		cfg, err := mapping.Parse([]byte(y), plugins())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.gw.Reload(cfg, []byte(y)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		// Let a few requests through each generation.
		for n := load.ok.Load(); load.ok.Load() < n+5 && load.failed.Load() == 0; {
			time.Sleep(time.Millisecond)
		}
	}
	load.finish(t, "100 reloads")
}

func TestInvalidReloadKeepsTheOldTable(t *testing.T) {
	addr := startPeople(t, true)
	e := newEnv(t, peopleYAML, map[string]string{"addr": addr, "dead": deadAddr(t)})
	before := do(t, "GET", e.adm+"/admin/config", "")
	// A config that decodes but whose adapter cannot be built: the gRPC
	// descriptor set does not exist.
	bad := strings.Replace(peopleYAML, "grpc: {service: demo.v1.PeopleService, expose_headers: [x-request-id]}",
		"grpc: {service: demo.v1.PeopleService, schema: {protoset: [/nonexistent.protoset]}}", 1)
	bad = strings.ReplaceAll(bad, "{{addr}}", addr)
	bad = strings.ReplaceAll(bad, "{{dead}}", addr)
	cfg, err := mapping.Parse([]byte(bad), plugins())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Reload(cfg, []byte(bad)); err == nil || !strings.Contains(err.Error(), "nonexistent.protoset") {
		t.Fatalf("got %v, want an error naming the missing file", err)
	}
	if r := do(t, "GET", e.url+"/v1/people/1", ""); r.status != 200 {
		t.Fatalf("after a refused reload: got %d %s", r.status, r.body)
	}
	after := do(t, "GET", e.adm+"/admin/config", "")
	if field(t, before.body, "version") != field(t, after.body, "version") {
		t.Fatalf("version changed from %s to %s after a refused reload", field(t, before.body, "version"), field(t, after.body, "version"))
	}
}
