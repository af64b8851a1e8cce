package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

func TestMain(m *testing.M) {
	// Child provider processes for the Dubbo tests run from this binary.
	if testprovider.RunChildIfAsked() {
		return
	}
	os.Exit(m.Run())
}

const dubboYAML = `
registries:
  - name: zk
    zookeeper: {servers: ["%s"], session_timeout: 4s}
services:
  - name: users
    protocol: dubbo
    dubbo:
      interface: org.rpcbridge.test.TypesService
      version: 1.0.0
      methods:
        who: {}
        echoLong: {params: [{name: id, type: java.lang.Long}]}
        join: {params: [{name: parts, type: "java.lang.String[]"}, {name: sep, type: java.lang.String}]}
        fail: {params: [{name: id, type: long}]}
      exceptions: {org.rpcbridge.test.UserNotFoundException: 404}
    discovery: {registry: zk, dubbo_native: true}
    timeout: 3s
routes:
  - match: {prefix: /users/}
    service: users
  - match: {path: "/v1/users/{id}", methods: [GET]}
    service: users
    method: echoLong
`

func startGatewayOn(t *testing.T, yaml string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	runInBackground(t, "serve", "-c", cfg, "-listen", listen, "-admin", admin, "-log-level", "error", "-watch", "0")
	return "http://" + listen, "http://" + admin
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := httpPost(url, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.status, resp.body
}

func TestDubboProvidersDiscoveredTheDubboWayAnswerJSON(t *testing.T) {
	zk := zktest.Start(t)
	testprovider.StartChild(t, "dubbo zk="+zk.Addr(), false)
	base, _ := startGatewayOn(t, fmt.Sprintf(dubboYAML, zk.Addr()))

	var status int
	var body string
	waitFor(t, "the provider to be discovered", 20*time.Second, func() bool {
		r, err := httpPost(base+"/users/who", ``)
		status, body = r.status, r.body
		return err == nil && status == 200
	})
	if body != `"child"` {
		t.Fatalf("who: got %s", body)
	}
	if status, body = post(t, base+"/users/echoLong", `{"id": "9007199254740993"}`); status != 200 || body != `"9007199254740993"` {
		t.Fatalf("echoLong above 2^53: got %d %s", status, body)
	}
	if status, body = get(base + "/v1/users/42"); status != 200 || body != `42` {
		t.Fatalf("path parameter to java.lang.Long: got %d %s", status, body)
	}
	if status, body = post(t, base+"/users/join", `{"parts": ["a", "b"], "sep": "-"}`); status != 200 || body != `"a-b"` {
		t.Fatalf("two arguments by name: got %d %s", status, body)
	}
	status, body = post(t, base+"/users/echoLong", `{"id": "abc"}`)
	if status != 400 || !strings.Contains(body, "INVALID_ARGUMENT") {
		t.Fatalf("bad long: got %d %s", status, body)
	}
	status, body = post(t, base+"/users/fail", `{"id": 7}`)
	if status != 404 || !strings.Contains(body, `"code":"BACKEND_EXCEPTION"`) || !strings.Contains(body, `"exception":"org.rpcbridge.test.UserNotFoundException"`) {
		t.Fatalf("Java exception mapped to 404 by class: got %d %s", status, body)
	}
}

func TestKilledDubboProviderLeavesAndTheGatewayAnswers503(t *testing.T) {
	zk := zktest.Start(t)
	ch := testprovider.StartChild(t, "dubbo zk="+zk.Addr(), true)
	base, admin := startGatewayOn(t, fmt.Sprintf(dubboYAML, zk.Addr()))
	waitFor(t, "the provider to be discovered", 20*time.Second, func() bool {
		_, body := get(admin + "/admin/services")
		return strings.Contains(body, ch.Addr)
	})
	ch.Kill()
	start := time.Now()
	waitFor(t, "the killed provider to leave", 20*time.Second, func() bool {
		_, body := get(admin + "/admin/services")
		return !strings.Contains(body, ch.Addr)
	})
	t.Logf("killed provider left the gateway after %s (session timeout 4s)", time.Since(start))
	start = time.Now()
	status, body := post(t, base+"/users/who", ``)
	if status != 503 || time.Since(start) > 3*time.Second {
		t.Fatalf("with no provider left: got %d %s after %s, want a prompt 503", status, body, time.Since(start))
	}
}
