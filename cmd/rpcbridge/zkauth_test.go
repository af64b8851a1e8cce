package main

// ZooKeeper with digest ACLs, end to end: the SDK registers under its
// principal, the gateway reads under its own, `config push` writes under
// the config principal (README "Securing ZooKeeper").

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
	"github.com/rpcbridge/rpcbridge/sdk"
)

const securedYAML = `
registries:
  - name: zk
    zookeeper:
      servers: ["{{zk}}"]
      root: /rb
      session_timeout: 4s
{{auth}}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    discovery: {registry: zk}
    timeout: 2s
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
`

const gatewayAuthYAML = `      auth: {scheme: digest, user: gateway, password_env: RB_TEST_ZK_GATEWAY_PASSWORD}`

// setPrincipals puts the three principals' passwords in the environment.
func setPrincipals(t *testing.T) {
	t.Setenv("RB_TEST_ZK_SDK_PASSWORD", "sdk-secret")
	t.Setenv("RB_TEST_ZK_GATEWAY_PASSWORD", "gateway-secret")
	t.Setenv("RB_TEST_ZK_CONFIG_PASSWORD", "config-secret")
	t.Setenv("RB_TEST_ZK_WRONG_PASSWORD", "guess")
}

// startSecuredBackend is a people backend the SDK registers under /rb as
// the sdk principal, with an ACL giving the gateway principal read and
// nobody else anything.
func startSecuredBackend(t *testing.T, zs *zktest.Server) string {
	t.Helper()
	srv, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := sdk.New(sdk.Options{
		ZooKeeper: zs.Servers(), Root: "/rb", Service: "people", Address: srv.Addr(), Protocol: "grpc",
		SessionTimeout: 4 * time.Second,
		Auth:           &zookeeper.Auth{User: "sdk", Password: os.Getenv("RB_TEST_ZK_SDK_PASSWORD")},
		ACL: []zookeeper.ACL{
			{Scheme: "digest", User: "sdk", Perms: "all"},
			{Scheme: "digest", User: "gateway", Password: os.Getenv("RB_TEST_ZK_GATEWAY_PASSWORD"), Perms: "read"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close(); srv.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := agent.Register(ctx); err != nil {
		t.Fatalf("SDK Register as sdk: %v", err)
	}
	return srv.Addr()
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runToEnd runs the command and waits for it to return (within d).
func runToEnd(t *testing.T, d time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %v", args, d)
	}
	return code, out.String() + errOut.String()
}

func TestGatewayRoutesToAnSDKBackendUnderDigestACLs(t *testing.T) {
	setPrincipals(t)
	zs := zktest.Start(t)
	addr := startSecuredBackend(t, zs)

	cfg := writeConfig(t, expand(securedYAML, map[string]string{"zk": zs.Addr(), "auth": gatewayAuthYAML}))
	listen, admin := freeAddr(t), freeAddr(t)
	_, stderr := runInBackground(t, "serve", "-c", cfg, "-listen", listen, "-admin", admin)
	waitFor(t, "the gateway routing to the SDK backend", 15*time.Second, func() bool {
		code, _ := get("http://" + listen + "/v1/people/1")
		return code == 200
	})
	if _, body := get("http://" + admin + "/admin/services"); !strings.Contains(body, addr) {
		t.Fatalf("/admin/services: got %s want the backend %s", body, addr)
	}
	if !strings.Contains(stderr.String(), "no acl configured") {
		t.Fatalf("gateway log: got %q want the line saying nodes it creates get the open ACL", stderr.String())
	}

	// A gateway without credentials cannot read the instances: it says
	// which node and why, and routes nowhere.
	anonCfg := writeConfig(t, expand(securedYAML, map[string]string{"zk": zs.Addr(), "auth": ""}))
	listen2, admin2 := freeAddr(t), freeAddr(t)
	_, stderr2 := runInBackground(t, "serve", "-c", anonCfg, "-listen", listen2, "-admin", admin2)
	want := "zookeeper refused to list /rb/services/people/instances for world:anyone (no auth)"
	// The registry's own retry line names the node first; the line that
	// names the service may follow it.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(grepLines(stderr2.String(), want), "service=people") {
		if time.Now().After(deadline) {
			t.Fatalf("log: got %q want the service named with the refusal", grepLines(stderr2.String(), want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get("http://" + listen2 + "/v1/people/1"); code != 503 {
		t.Fatalf("unauthenticated gateway: got %d %s want 503", code, body)
	}
	if _, body := get("http://" + admin2 + "/admin/services"); !strings.Contains(body, `"discovery_error":"`) || !strings.Contains(body, "refused to list /rb/services/people/instances") {
		t.Fatalf("/admin/services of the unauthenticated gateway: got %s, want the service's discovery_error naming the node", body)
	}
}

func TestGatewayWithAWrongPasswordRefusesToStart(t *testing.T) {
	setPrincipals(t)
	zs := zktest.Start(t)
	startSecuredBackend(t, zs) // /rb's ACL names the gateway principal
	wrong := strings.Replace(gatewayAuthYAML, "RB_TEST_ZK_GATEWAY_PASSWORD", "RB_TEST_ZK_WRONG_PASSWORD", 1)
	cfg := writeConfig(t, expand(securedYAML, map[string]string{"zk": zs.Addr(), "auth": wrong}))
	code, out := runToEnd(t, 30*time.Second, "serve", "-c", cfg, "-listen", freeAddr(t), "-admin", freeAddr(t))
	if code != 1 || !strings.Contains(out, `registry "zk"`) || !strings.Contains(out, `user "gateway"`) {
		t.Fatalf("serve with a wrong password: got exit %d\n%s\nwant exit 1 naming registry \"zk\" and user \"gateway\"", code, out)
	}
	if strings.Contains(out, "guess") {
		t.Fatalf("output shows the password:\n%s", out)
	}
}

func TestConfigPushNeedsTheConfigPrincipal(t *testing.T) {
	setPrincipals(t)
	zs := zktest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	file := writeConfig(t, fmt.Sprintf(`
services:
  - name: b
    protocol: http
    instances: [{address: %q}]
routes:
  - match: {path: /one}
    service: b
    method: M
`, strings.TrimPrefix(backend.URL, "http://")))
	zkArgs := []string{"-zk", zs.Addr(), "-zk-root", "/rbc"}
	push := func(extra ...string) (int, string) {
		return runToEnd(t, 30*time.Second, append(append([]string{"config", "push", "-c", file}, zkArgs...), extra...)...)
	}
	asConfig := []string{"-zk-user", "config", "-zk-password-env", "RB_TEST_ZK_CONFIG_PASSWORD",
		"-zk-acl", "digest:config:all,digest:gateway:read:RB_TEST_ZK_GATEWAY_PASSWORD"}
	code, out := push(asConfig...)
	if code != 0 || !strings.Contains(out, "pushed") {
		t.Fatalf("push as config: got exit %d %s want 0", code, out)
	}

	code, out = push()
	if code != 1 || !strings.Contains(out, "not pushed") || !strings.Contains(out, "refused to change /rbc/config/default for world:anyone") || !strings.Contains(out, "-zk-user") {
		t.Fatalf("unauthenticated push: got exit %d %s\nwant exit 1 saying it was not pushed, the node refused world:anyone, and -zk-user", code, out)
	}
	code, out = push("-zk-user", "config", "-zk-password-env", "RB_TEST_ZK_WRONG_PASSWORD")
	if code != 1 || !strings.Contains(out, "not pushed") || !strings.Contains(out, `user "config"`) {
		t.Fatalf("push with a wrong password: got exit %d %s want exit 1 naming user \"config\"", code, out)
	}
	code, out = push("-zk-user", "gateway", "-zk-password-env", "RB_TEST_ZK_GATEWAY_PASSWORD")
	if code != 1 || !strings.Contains(out, "refused to change /rbc/config/default for digest:gateway") {
		t.Fatalf("push as the read-only gateway: got exit %d %s want exit 1, refused for digest:gateway", code, out)
	}
	code, out = push("-zk-user", "config")
	if code != 1 || !strings.Contains(out, "-zk-password-env") {
		t.Fatalf("push with -zk-user alone: got exit %d %s want exit 1 asking for -zk-password-env", code, out)
	}
	code, out = push(append(asConfig[:4:4], "-zk-acl", "digest:sdk:read")...)
	if code != 1 || !strings.Contains(out, `digest user "sdk": want its password`) {
		t.Fatalf("push with an ACL naming another user without its password: got exit %d %s", code, out)
	}

	// The gateway principal reads it; nobody else may.
	code, out = runToEnd(t, 30*time.Second, append([]string{"config", "get", "-zk-user", "gateway", "-zk-password-env", "RB_TEST_ZK_GATEWAY_PASSWORD"}, zkArgs...)...)
	if code != 0 || !strings.Contains(out, "path: /one") {
		t.Fatalf("config get as gateway: got exit %d %s", code, out)
	}
	listen := freeAddr(t)
	runInBackground(t, "serve", "-config-zk", zs.Addr(), "-zk-root", "/rbc", "-zk-user", "gateway", "-zk-password-env", "RB_TEST_ZK_GATEWAY_PASSWORD",
		"-listen", listen, "-admin", freeAddr(t))
	waitFor(t, "the replica serving /one", 15*time.Second, func() bool { c, _ := get("http://" + listen + "/one"); return c == 200 })
	code, out = runToEnd(t, 30*time.Second, "serve", "-config-zk", zs.Addr(), "-zk-root", "/rbc", "-listen", freeAddr(t), "-admin", freeAddr(t))
	if code != 1 || !strings.Contains(out, "refused to read /rbc/config/default for world:anyone") {
		t.Fatalf("serve -config-zk without credentials: got exit %d %s want exit 1 naming the config node", code, out)
	}
}

func TestACLFlagParsing(t *testing.T) {
	t.Setenv("RB_TEST_ZK_GATEWAY_PASSWORD", "gateway-secret")
	t.Setenv("RB_TEST_EMPTY", "")
	got, err := parseACLFlag("digest:config:all, digest:gateway:read,create:RB_TEST_ZK_GATEWAY_PASSWORD,world:read")
	if err != nil {
		t.Fatalf("parseACLFlag: %v", err)
	}
	want := []zookeeper.ACL{
		{Scheme: "digest", User: "config", Perms: "all"},
		{Scheme: "digest", User: "gateway", Password: "gateway-secret", Perms: "read,create"},
		{Scheme: "world", Perms: "read"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("parseACLFlag: got %+v want %+v", got, want)
	}
	for in, msg := range map[string]string{
		"digest:gateway:read:RB_TEST_EMPTY": "environment variable RB_TEST_EMPTY is empty",
		"world:anyone:read":                 `want digest:USER:PERMS[:PASSWORD_ENV] or world:PERMS`,
		"ip:10.0.0.1:all":                   `want digest:USER:PERMS[:PASSWORD_ENV] or world:PERMS`,
		"world:cdrwa":                       "perms: want all, or read",
		"digest:config":                     `want digest:USER:PERMS`,
	} {
		if _, err := parseACLFlag(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseACLFlag(%q): got %v want an error containing %q", in, err, msg)
		}
	}
}

// A gateway with credentials starts while ZooKeeper is unreachable (the
// check waits verifyTimeout at most), then checks them and follows the
// instances once ZooKeeper answers.
func TestGatewayWithCredentialsStartsWhileZooKeeperIsUnreachable(t *testing.T) {
	setPrincipals(t)
	zs := zktest.Start(t)
	addr := startSecuredBackend(t, zs)
	proxy := zktest.NewProxy(t, zs.Addr())
	proxy.Cut()
	cfg := writeConfig(t, expand(securedYAML, map[string]string{"zk": proxy.Addr(), "auth": gatewayAuthYAML}))
	listen, admin := freeAddr(t), freeAddr(t)
	t0 := time.Now()
	_, stderr := runInBackground(t, "serve", "-c", cfg, "-listen", listen, "-admin", admin)
	waitFor(t, "the gateway's control plane", verifyTimeout+10*time.Second, func() bool { c, _ := get("http://" + admin + "/healthz"); return c == 200 })
	if d := time.Since(t0); d > verifyTimeout+5*time.Second {
		t.Fatalf("start with ZooKeeper unreachable took %v, want about verifyTimeout (%v)", d, verifyTimeout)
	}
	if !strings.Contains(stderr.String(), "credentials not checked yet") {
		t.Fatalf("log: got %q want a line saying the credentials are checked at the first session", stderr.String())
	}
	proxy.Restore()
	waitFor(t, "the gateway routing once ZooKeeper answers", 20*time.Second, func() bool {
		code, _ := get("http://" + listen + "/v1/people/1")
		return code == 200
	})
	if _, body := get("http://" + admin + "/admin/services"); !strings.Contains(body, addr) {
		t.Fatalf("/admin/services: got %s want the backend %s", body, addr)
	}
}

// Every node config push (staged too), promote and rollback create
// carries -zk-acl, and an unauthenticated promote or rollback is refused.
func TestConfigCommandsPutTheirACLOnEveryNodeTheyCreate(t *testing.T) {
	setPrincipals(t)
	zs := zktest.Start(t)
	dir := t.TempDir()
	write := func(name, route string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("services: [{name: b, protocol: http, instances: [{address: 127.0.0.1:1}]}]\nroutes: [{match: {path: %s}, service: b, method: M}]\n", route)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	asConfig := []string{"-zk", zs.Addr(), "-zk-root", "/rbc", "-group", "edge", "-zk-user", "config", "-zk-password-env", "RB_TEST_ZK_CONFIG_PASSWORD",
		"-zk-acl", "digest:config:all,digest:gateway:read:RB_TEST_ZK_GATEWAY_PASSWORD"}
	for _, args := range [][]string{
		{"push", "-c", write("v1.yaml", "/one")},
		{"push", "-c", write("v2.yaml", "/two"), "-nodes", "gw-2"},
		{"promote"},
		{"rollback"},
	} {
		if code, out := runToEnd(t, 30*time.Second, append(append([]string{"config"}, args...), asConfig...)...); code != 0 {
			t.Fatalf("config %v as config: exit %d %s", args, code, out)
		}
	}
	want := []zk.ACL{zk.DigestACL(zk.PermAll, "config", "config-secret")[0], zk.DigestACL(zk.PermRead, "gateway", "gateway-secret")[0]}
	conn, _, err := zk.Connect(zs.Servers(), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkQuiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.AddAuth("digest", []byte("config:config-secret")); err != nil {
		t.Fatal(err)
	}
	var walk func(p string) int
	walk = func(p string) int {
		got, _, err := conn.GetACL(p)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ACL of %s: got %v, %v want %v", p, got, err, want)
		}
		kids, _, err := conn.Children(p)
		if err != nil {
			t.Fatalf("children of %s: %v", p, err)
		}
		n := 1
		for _, k := range kids {
			n += walk(p + "/" + k)
		}
		return n
	}
	if n := walk("/rbc"); n < 4 {
		t.Fatalf("nodes under /rbc: got %d want at least /rbc, /rbc/config, the group and its history", n)
	}
	for _, cmd := range []string{"promote", "rollback"} {
		code, out := runToEnd(t, 30*time.Second, "config", cmd, "-zk", zs.Addr(), "-zk-root", "/rbc", "-group", "edge")
		if code != 1 || !strings.Contains(out, "for world:anyone") || !strings.Contains(out, "not authenticated") {
			t.Errorf("unauthenticated config %s: got exit %d %s want exit 1, refused for world:anyone", cmd, code, out)
		}
	}
}

type zkQuiet struct{}

func (zkQuiet) Printf(string, ...any) {}
