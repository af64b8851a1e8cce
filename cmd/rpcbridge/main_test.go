package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/syncbuf"
	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer = syncbuf.Buffer

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runInBackground runs the command until the test ends.
func runInBackground(t *testing.T, args ...string) (*syncBuffer, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, out, errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("%v did not stop within 15s of cancel", args)
		}
	})
	return out, errOut
}

func waitFor(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type httpReply struct {
	status int
	body   string
}

func httpPost(url, body string) (httpReply, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return httpReply{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpReply{resp.StatusCode, string(b)}, nil
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestValidatePrintsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`
services:
  - name: a
    protocol: thrift
    thrift: {idl: missing.thrift, service: S}
    instances: [{address: 127.0.0.1:1}]
routes:
  - match: {path: /x}
    service: ghost
    method: M
`), 0o644)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validate", "-c", bad}, &out, &errOut); code != 1 {
		t.Fatalf("exit code: got %d want 1", code)
	}
	if !strings.Contains(errOut.String(), `routes[0] (/x): service "ghost" is not defined`) {
		t.Fatalf("got %s", errOut.String())
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`
services:
  - name: a
    protocol: thrift
    thrift: {idl: missing.thrift, service: S}
    instances: [{address: 127.0.0.1:1}]
`), 0o644)
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"validate", "-c", good}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "missing.thrift") {
		t.Fatalf("a missing IDL must fail validate naming it: code %d, %s", code, errOut.String())
	}
}

func TestValidateNamesTheIDLFileAndLineOfASyntaxError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.thrift"), []byte("struct A {\n  1: i32 x\n  2: i32 ;\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.tars"), []byte("module M {\n  struct S {\n    0 require int ;\n  };\n};\n"), 0o644)
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(`
services:
  - name: t
    protocol: thrift
    thrift: {idl: bad.thrift, service: S}
    instances: [{address: 127.0.0.1:1}]
  - name: s
    protocol: tars
    tars: {idl: bad.tars, servant: A.B.C, interface: I}
    instances: [{address: 127.0.0.1:1}]
`), 0o644)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"validate", "-c", cfg}, &out, &errOut); code != 1 {
		t.Fatalf("exit code: got %d want 1", code)
	}
	for _, want := range []string{"bad.thrift:3:", "bad.tars:3:"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut.String())
		}
	}
}

// configVersion reads /admin/config's version.
func configVersion(admin string) string {
	_, body := get("http://" + admin + "/admin/config")
	var v struct{ Version string }
	json.Unmarshal([]byte(body), &v)
	return v.Version
}

func TestReplicasConvergeOnAConfigPushedToZooKeeper(t *testing.T) {
	zk := zktest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	write := func(name, route string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf(`
services:
  - name: b
    protocol: http
    instances: [{address: %q}]
routes:
  - match: {path: %s}
    service: b
    method: M
`, strings.TrimPrefix(backend.URL, "http://"), route)), 0o644)
		return p
	}
	push := func(file string, extra ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"config", "push", "-c", file, "-zk", zk.Addr()}, extra...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, msg := push(write("a.yaml", "/one")); code != 0 {
		t.Fatalf("push: %d %s", code, msg)
	}
	var replicas [][2]string
	for i := 0; i < 2; i++ {
		l, a := freeAddr(t), freeAddr(t)
		runInBackground(t, "serve", "-config-zk", zk.Addr(), "-listen", l, "-admin", a, "-log-level", "error")
		replicas = append(replicas, [2]string{l, a})
	}
	for _, r := range replicas {
		waitFor(t, "replica serving /one", 15*time.Second, func() bool { c, _ := get("http://" + r[0] + "/one"); return c == 200 })
	}
	code, msg := push(write("b.yaml", "/two"))
	if code != 0 {
		t.Fatalf("push b: %d %s", code, msg)
	}
	vb := strings.Fields(msg)[4]
	for _, r := range replicas {
		waitFor(t, "replica on version "+vb, 5*time.Second, func() bool { return configVersion(r[1]) == vb })
		if c, body := get("http://" + r[0] + "/two"); c != 200 {
			t.Fatalf("after push: got %d %s", c, body)
		}
		if c, _ := get("http://" + r[0] + "/one"); c != 404 {
			t.Fatalf("old route after push: got %d, want 404", c)
		}
	}
	// An invalid config is refused at push; the replicas stay.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("services: [{name: x, protocol: nope}]\n"), 0o644)
	if code, msg := push(bad); code == 0 || !strings.Contains(msg, "not pushed") {
		t.Fatalf("bad push: got %d %s", code, msg)
	}
	// Another group's push leaves these replicas alone.
	if code, msg := push(write("c.yaml", "/three"), "-group", "canary"); code != 0 {
		t.Fatalf("push canary: %d %s", code, msg)
	}
	time.Sleep(300 * time.Millisecond)
	for _, r := range replicas {
		if v := configVersion(r[1]); v != vb {
			t.Fatalf("a default-group replica moved to %s after a canary push, want %s", v, vb)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"config", "get", "-zk", zk.Addr(), "-group", "canary"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "/three") {
		t.Fatalf("config get: %d %s %s", code, out.String(), errOut.String())
	}
}

func TestDescribePrintsMethodsAndTypesOfEveryProtocol(t *testing.T) {
	vars := demoBackendsProcess(t)
	vars["listen"], vars["admin"] = freeAddr(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "gateway.yaml")
	os.WriteFile(cfg, []byte(demoYAML(vars)), 0o644)
	var out, errOut bytes.Buffer
	// Every demo service but the plain HTTP one, which publishes no schema.
	if code := run(context.Background(), []string{"describe", "-c", cfg, "people", "orders", "stock", "users"}, &out, &errOut); code != 0 {
		t.Fatalf("describe: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		`"name": "demo.v1.PeopleService"`, `"input": "demo.v1.GetPersonRequest"`, `"server_streaming": true`,
		`"name": "getOrder"`, `"name": "getQuote"`, `"kind": "enum"`, `"name": "getUser"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe output lacks %s", want)
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"describe", "-c", cfg, "-timeout", "300ms", "nosuch"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `no service named "nosuch"`) {
		t.Fatalf("unknown service: exit %d, %s", code, errOut.String())
	}
}

func TestVersionPrintsTheBuild(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	line := strings.TrimSpace(out.String())
	if !strings.HasPrefix(line, "rpcbridge ") || !strings.Contains(line, runtime.Version()) || strings.Contains(line, "0.1.0-dev") {
		t.Fatalf("got %q, want \"rpcbridge <version> ... %s\"", line, runtime.Version())
	}
}

func TestHealthExitsZeroOnlyWhenTheGatewayIsReady(t *testing.T) {
	f := newReloadFixture(t)
	f.write("/one")
	_, admin := f.serve("0")
	addr := strings.TrimPrefix(admin, "http://")
	waitFor(t, "the control plane", 10*time.Second, func() bool { c, _ := get(admin + "/readyz"); return c == 200 })
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"health", "-admin", addr}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "ready") {
		t.Fatalf("ready gateway: got exit %d, %q %q, want 0 and the readiness body", code, out.String(), errOut.String())
	}
	if code := run(context.Background(), []string{"health", "-admin", freeAddr(t), "-timeout", "500ms"}, &out, &errOut); code != 1 {
		t.Fatalf("nothing listening: got exit %d, want 1", code)
	}
}

// With server.admin_tls the control plane speaks HTTPS; health -ca checks it.
func TestHealthOverTheControlPlanesTLS(t *testing.T) {
	ca := testcerts.NewCA(t)
	cert, key := testcerts.Files(t, ca.Server(t, "127.0.0.1"))
	base, admin := startGatewayOn(t, fmt.Sprintf("server:\n  admin_tls: {cert: %q, key: %q}\nservices: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n", cert, key))
	_ = base
	addr := strings.TrimPrefix(admin, "http://")
	var out, errOut strings.Builder
	defer func() {
		if t.Failed() {
			t.Logf("last health stderr: %s", errOut.String())
		}
	}()
	waitFor(t, "the control plane over TLS", 10*time.Second, func() bool {
		out.Reset()
		errOut.Reset()
		return run(context.Background(), []string{"health", "-admin", addr, "-ca", ca.File(t)}, &out, &errOut) == 0
	})
	if !strings.Contains(out.String(), "ready") {
		t.Errorf("got %q, want the readiness body", out.String())
	}
	if code := run(context.Background(), []string{"health", "-admin", addr, "-ca", testcerts.NewCA(t).File(t), "-timeout", "2s"}, &out, &errOut); code != 1 {
		t.Errorf("trusting another CA: got exit %d, want 1", code)
	}
	if code := run(context.Background(), []string{"health", "-admin", addr, "-timeout", "2s"}, &out, &errOut); code != 1 {
		t.Errorf("plain HTTP to the TLS control plane: got exit %d, want 1", code)
	}
}
