package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

func TestMain(m *testing.M) {
	dubbo.QuietLibraryLogs()
	// Child provider processes for the Dubbo tests run from this binary.
	if testprovider.RunChildIfAsked() {
		return
	}
	// The demo's backends in a process of their own (see
	// demoBackendsProcess).
	if os.Getenv(commandEnv) == "backends" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		b, err := startDemoBackends(os.Args[1])
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		vars, _ := json.Marshal(b.vars)
		fmt.Printf("VARS %s\n", vars)
		<-ctx.Done()
		stop()
		b.stop()
		os.Exit(0)
	}
	// The command itself, in its own process (see runCommandProcess).
	if os.Getenv(commandEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// commandEnv asks this test binary to run as `rpcbridge` itself.
const commandEnv = "RPCBRIDGE_TEST_RUN_COMMAND"

// runCommandProcess runs `rpcbridge args...` in a process of its own until
// the test ends (SIGTERM, then a kill after 15 s). The demo runs dubbo-go
// servers in-process, and dubbo-go's server heartbeat races with itself
// (remoting/getty/listener.go:322); in a process of its own that stays out
// of the test's own race report.
func runCommandProcess(t *testing.T, args ...string) (*syncBuffer, *syncBuffer) {
	t.Helper()
	return runCommandProcessEnv(t, "1", args...)
}

func runCommandProcessEnv(t *testing.T, mode string, args ...string) (*syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), commandEnv+"="+mode)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("rpcbridge %v did not stop within 15s of SIGTERM", args)
		}
	})
	return out, errOut
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

// putZNode creates or replaces a persistent node and its parents.
func putZNode(t *testing.T, conn *zk.Conn, path string, data []byte) {
	t.Helper()
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 1; i < len(parts); i++ {
		p := "/" + strings.Join(parts[:i], "/")
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	if _, err := conn.Create(path, data, 0, zk.WorldACL(zk.PermAll)); err == zk.ErrNodeExists {
		if _, err := conn.Set(path, data, -1); err != nil {
			t.Fatalf("set %s: %v", path, err)
		}
	} else if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}

func TestDubboTypesComeFromTheMetadataReportAndFollowARedeploy(t *testing.T) {
	zs := zktest.Start(t)
	testprovider.StartChild(t, "dubbo zk="+zs.Addr(), false)
	base, _ := startGatewayOn(t, fmt.Sprintf(dubboYAML, zs.Addr()))
	waitFor(t, "the provider to be discovered", 20*time.Second, func() bool {
		r, err := httpPost(base+"/users/who", ``)
		return err == nil && r.status == 200
	})
	// echoDouble is not in the YAML: without types the call is refused.
	if status, body := post(t, base+"/users/echoDouble", `{"arg0": 1.5}`); status != 400 {
		t.Fatalf("without types: got %d %s, want 400", status, body)
	}
	conn, _, err := zk.Connect([]string{zs.Addr()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := "/dubbo/metadata/org.rpcbridge.test.TypesService/1.0.0/provider/types-app"
	def := func(methods string) []byte {
		return []byte(`{"canonicalName": "org.rpcbridge.test.TypesService", "parameters": {"side": "provider"}, "methods": [` + methods + `], "types": []}`)
	}
	putZNode(t, conn, path, def(`{"name": "echoDouble", "parameterTypes": ["double"], "returnType": "double"}`))
	waitFor(t, "types from the metadata report", 5*time.Second, func() bool {
		status, body := post(t, base+"/users/echoDouble", `{"arg0": 1.5}`)
		return status == 200 && body == "1.5"
	})
	// A definition for another version must not be used; it is written
	// before the redeploy below, so the walk that picks up the redeploy
	// has seen it too.
	putZNode(t, conn, "/dubbo/metadata/org.rpcbridge.test.TypesService/9.9.9/provider/other-app",
		def(`{"name": "echoByte", "parameterTypes": ["byte"], "returnType": "byte"}`))
	// A redeploy publishes another signature: the gateway follows.
	putZNode(t, conn, path, def(`{"name": "echoDouble", "parameterTypes": ["double"], "returnType": "double"},
		{"name": "echoShort", "parameterTypes": ["short"], "returnType": "short"}`))
	waitFor(t, "the changed definition", 5*time.Second, func() bool {
		status, body := post(t, base+"/users/echoShort", `{"arg0": 12}`)
		return status == 200 && body == "12"
	})
	if status, body := post(t, base+"/users/echoByte", `{"arg0": 1}`); status != 400 {
		t.Fatalf("a definition of version 9.9.9 must not apply to 1.0.0: got %d %s", status, body)
	}
}

func TestTripleProvidersThroughTheGateway(t *testing.T) {
	zs := zktest.Start(t)
	testprovider.StartChild(t, "tri zk="+zs.Addr(), false)
	y := strings.Replace(fmt.Sprintf(dubboYAML, zs.Addr()), "protocol: dubbo", "protocol: triple", 1)
	base, _ := startGatewayOn(t, y)
	var status int
	var body string
	waitFor(t, "the Triple provider to be discovered", 20*time.Second, func() bool {
		r, err := httpPost(base+"/users/echoLong", `{"id": "9007199254740993"}`)
		status, body = r.status, r.body
		return err == nil && status == 200
	})
	if body != `"9007199254740993"` {
		t.Fatalf("echoLong over Triple: got %d %s", status, body)
	}
}

// BenchmarkGatewayDubboEchoLong: HTTP -> gateway -> Dubbo provider (a child
// process) -> JSON, over a real HTTP connection. Compare with
// BenchmarkDirectGeneric in protocols/dubbo (the same call from a dubbo-go
// generic client).
func BenchmarkGatewayDubboEchoLong(b *testing.B) {
	zs := zktest.Start(b)
	testprovider.StartChild(b, "dubbo zk="+zs.Addr(), false)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(dubboYAML, zs.Addr())), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		run(ctx, []string{"serve", "-c", cfg, "-listen", listen, "-log-level", "error", "-watch", "0"}, io.Discard, io.Discard)
		close(done)
	}()
	b.Cleanup(func() { cancel(); <-done })
	url := "http://" + listen + "/users/echoLong"
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r, err := httpPost(url, `{"id": 1}`); err == nil && r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("gateway or provider not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := httpPost(url, `{"id": "9007199254740993"}`); err != nil || r.status != 200 {
				b.Fatalf("got %v %v", r, err)
			}
		}
	})
}

// demoBackendsProcess starts the demo's sample backends in a process of
// their own (dubbo-go's server races with itself, see runCommandProcess)
// and returns the template variables that point at them.
func demoBackendsProcess(t *testing.T) map[string]string {
	t.Helper()
	out, errOut := runCommandProcessEnv(t, "backends", t.TempDir())
	var vars map[string]string
	waitFor(t, "the demo backends", 60*time.Second, func() bool {
		for _, l := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "VARS "); ok {
				return json.Unmarshal([]byte(rest), &vars) == nil
			}
			if strings.HasPrefix(l, "ERROR ") {
				t.Fatalf("demo backends: %s\n%s", l, errOut.String())
			}
		}
		return false
	})
	return vars
}
