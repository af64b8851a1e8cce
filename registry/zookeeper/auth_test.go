package zookeeper_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// The three principals of the README's "Securing ZooKeeper": the SDK
// writes its instances, the gateway reads, the config principal writes
// the config.
const (
	sdkPW     = "sdk-secret"
	gatewayPW = "gateway-secret"
	configPW  = "config-secret"
)

// authedConn is a raw session authenticated as user:password (no auth
// when user is empty).
func authedConn(t *testing.T, zs *zktest.Server, user, password string) *zk.Conn {
	t.Helper()
	conn := rawConn(t, zs)
	if user != "" {
		if err := conn.AddAuth("digest", []byte(user+":"+password)); err != nil {
			t.Fatalf("AddAuth %s: %v", user, err)
		}
	}
	return conn
}

// sdkACL is what the SDK puts on its nodes: itself all, the gateway read,
// and, when worldRead, everyone read.
func sdkACL(worldRead bool) []zookeeper.ACL {
	acl := []zookeeper.ACL{
		{Scheme: "digest", User: "sdk", Perms: "all"},
		{Scheme: "digest", User: "gateway", Password: gatewayPW, Perms: "read"},
	}
	if worldRead {
		acl = append(acl, zookeeper.ACL{Scheme: "world", Perms: "read"})
	}
	return acl
}

func logTo(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// wantNoAuth fails unless err is ZooKeeper's NoAuth.
func wantNoAuth(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("%s: got %v want zk.ErrNoAuth", what, err)
	}
}

func TestEveryNodeTheSDKPrincipalCreatesCarriesItsACL(t *testing.T) {
	zs := zktest.Start(t)
	logs := &syncBuffer{}
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{
		Root: "/rb/prod", Auth: &zookeeper.Auth{User: "sdk", Password: sdkPW}, ACL: sdkACL(true), Logger: logTo(logs),
	})
	if err := backend.Register(context.Background(), inst("people", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	want := []zk.ACL{
		zk.DigestACL(zk.PermAll, "sdk", sdkPW)[0],
		zk.DigestACL(zk.PermRead, "gateway", gatewayPW)[0],
		{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
	}
	admin := authedConn(t, zs, "sdk", sdkPW) // admin perm: digests are shown
	node := "/rb/prod/services/people/instances/127.0.0.1:1001"
	for _, p := range []string{"/rb", "/rb/prod", "/rb/prod/services", "/rb/prod/services/people", "/rb/prod/services/people/instances", node} {
		got, _, err := admin.GetACL(p)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ACL of %s: got %v, %v want %v", p, got, err, want)
		}
	}
	if !strings.Contains(logs.String(), "acl=digest:sdk:all,digest:gateway:read,world:anyone:read") {
		t.Errorf("logs: got %q, want the acl named at start (without digests)", logs.String())
	}
	if strings.Contains(logs.String(), sdkPW) || strings.Contains(logs.String(), gatewayPW) {
		t.Errorf("logs: got %q, want no password", logs.String())
	}

	// Neither an unauthenticated client nor one with a wrong password can
	// create, change or delete instance nodes; both can read them
	// (world:read).
	for _, c := range []struct {
		who  string
		conn *zk.Conn
	}{
		{"unauthenticated", rawConn(t, zs)},
		{"wrong password", authedConn(t, zs, "sdk", "guess")},
	} {
		_, err := c.conn.Create("/rb/prod/services/people/instances/10.6.6.6:80", []byte(`{"protocol":"grpc","online":true}`), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		wantNoAuth(t, c.who+" create instance", err)
		_, err = c.conn.Create("/rb/prod/services/rogue", nil, 0, zk.WorldACL(zk.PermAll))
		wantNoAuth(t, c.who+" create service", err)
		_, err = c.conn.Set(node, []byte(`{"address":"10.6.6.6:80"}`), -1)
		wantNoAuth(t, c.who+" change instance", err)
		wantNoAuth(t, c.who+" delete instance", c.conn.Delete(node, -1))
		_, err = c.conn.SetACL(node, zk.WorldACL(zk.PermAll), -1)
		wantNoAuth(t, c.who+" change the instance's ACL", err)
		data, _, err := c.conn.Get(node)
		if err != nil || !strings.Contains(string(data), `"address":"127.0.0.1:1001"`) {
			t.Errorf("%s read instance (world:read): got %q, %v want the instance", c.who, data, err)
		}
	}

	// A gateway registry without credentials still reads (world:read).
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb/prod"})
	waitSet(t, watch(t, gw, "people"), 5*time.Second, "127.0.0.1:1001")

	// A registry without credentials asked to register: refused, naming
	// the node and the principal, code PERMISSION_DENIED.
	rogue := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb/prod"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := rogue.Register(ctx, inst("people", "10.6.6.6:80"))
	cancel()
	if !errors.Is(err, zk.ErrNoAuth) || generic.CodeOf(err) != generic.CodePermissionDenied ||
		!strings.Contains(err.Error(), "/rb/prod/services/people/instances/10.6.6.6:80") || !strings.Contains(err.Error(), "world:anyone") {
		t.Fatalf("unauthenticated Register: got %v want PERMISSION_DENIED naming the node and world:anyone", err)
	}
}

func TestConfigNodeIsWrittenOnlyByTheConfigPrincipal(t *testing.T) {
	zs := zktest.Start(t)
	acl := []zookeeper.ACL{{Scheme: "digest", User: "config", Perms: "all"}, {Scheme: "world", Perms: "read"}}
	cfgReg := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rbc", Auth: &zookeeper.Auth{User: "config", Password: configPW}, ACL: acl})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := cfgReg.PushConfig(ctx, "default", []byte("services: []\n"))
	if err != nil {
		t.Fatalf("PushConfig as config: %v", err)
	}
	path := cfgReg.ConfigPath("default")

	anon := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rbc"})
	_, err = anon.PushConfig(ctx, "default", []byte("services: [{name: evil}]\n"))
	if !errors.Is(err, zk.ErrNoAuth) || generic.CodeOf(err) != generic.CodePermissionDenied || !strings.Contains(err.Error(), "change "+path) || !strings.Contains(err.Error(), "world:anyone") {
		t.Fatalf("unauthenticated PushConfig: got %v want PERMISSION_DENIED naming %s and world:anyone", err, path)
	}
	_, err = anon.PushConfig(ctx, "canary", []byte("services: []\n"))
	if !errors.Is(err, zk.ErrNoAuth) || !strings.Contains(err.Error(), "create "+anon.ConfigPath("canary")) {
		t.Fatalf("unauthenticated PushConfig of a new group: got %v want NoAuth naming %s", err, anon.ConfigPath("canary"))
	}
	// The wrong password: config's entry grants admin, so ZooKeeper
	// hides the digests from this session, which shows it is not config.
	wrong := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rbc", Auth: &zookeeper.Auth{User: "config", Password: "guess"}, ACL: acl})
	_, err = wrong.PushConfig(ctx, "default", []byte("services: [{name: evil}]\n"))
	if generic.CodeOf(err) != generic.CodePermissionDenied || !strings.Contains(err.Error(), `user "config"`) || !strings.Contains(err.Error(), "password does not match") {
		t.Fatalf("PushConfig with a wrong password: got %v want PERMISSION_DENIED saying the password of user \"config\" does not match", err)
	}
	for _, c := range []struct {
		who  string
		conn *zk.Conn
	}{
		{"unauthenticated", rawConn(t, zs)},
		{"wrong password", authedConn(t, zs, "config", "guess")},
	} {
		_, err := c.conn.Set(path, []byte(`{"version":"evil","yaml":"services: []"}`), -1)
		wantNoAuth(t, c.who+" change config", err)
		wantNoAuth(t, c.who+" delete config", c.conn.Delete(path, -1))
		_, err = c.conn.Create("/rbc/config/evil", nil, 0, zk.WorldACL(zk.PermAll))
		wantNoAuth(t, c.who+" create config group", err)
	}
	sc, err := anon.GetConfig(ctx, "default")
	if err != nil || sc.Version != v {
		t.Fatalf("unauthenticated GetConfig (world:read): got %+v, %v want version %s", sc, err, v)
	}
}

func TestWrongPasswordIsRefusedBeforeAnyRequest(t *testing.T) {
	zs := zktest.Start(t)
	// The root's ACL names the gateway (read) and gives the world nothing:
	// a gateway session with the wrong password cannot read it.
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb", Auth: &zookeeper.Auth{User: "sdk", Password: sdkPW}, ACL: sdkACL(false)})
	if err := backend.Register(context.Background(), inst("people", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	logs := &syncBuffer{}
	bad := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb", Auth: &zookeeper.Auth{User: "gateway", Password: "guess"}, Logger: logTo(logs)})
	err := bad.Verify(ctx)
	if generic.CodeOf(err) != generic.CodePermissionDenied || !strings.Contains(err.Error(), `user "gateway"`) || !strings.Contains(err.Error(), "/rb") {
		t.Fatalf("Verify with a wrong password: got %v want PERMISSION_DENIED naming user \"gateway\" and /rb", err)
	}
	// Requests fail with the same verdict at once, not after retries.
	w := watch(t, bad, "people")
	ins, err := w.Next(ctx)
	if err == nil || !strings.Contains(err.Error(), `user "gateway"`) {
		t.Fatalf("Next on a refused registry: got %v, %v want the credentials error", addrs(ins), err)
	}
	if n := strings.Count(logs.String(), "credentials refused"); n != 1 {
		t.Fatalf("logs: got %d 'credentials refused' lines want 1:\n%s", n, logs.String())
	}

	// The same for the SDK principal: its registrations are refused.
	sdkBad := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb", Auth: &zookeeper.Auth{User: "sdk", Password: "guess"}, ACL: sdkACL(false)})
	err = sdkBad.Register(ctx, inst("people", "10.6.6.6:80"))
	if generic.CodeOf(err) != generic.CodePermissionDenied || !strings.Contains(err.Error(), `user "sdk" may not read the ACL of /rb: the password is wrong`) {
		t.Fatalf("Register with a wrong password: got %v want PERMISSION_DENIED saying user \"sdk\" may not read the ACL of /rb", err)
	}

	// The right password: verified, and the gateway reads what only it
	// and the SDK may read.
	good := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb", Auth: &zookeeper.Auth{User: "gateway", Password: gatewayPW}})
	if err := good.Verify(ctx); err != nil {
		t.Fatalf("Verify with the right password: got %v want nil", err)
	}
	waitSet(t, watch(t, good, "people"), 5*time.Second, "127.0.0.1:1001")
	// Without credentials the same watch is refused, naming the node.
	anon := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb"})
	_, err = watch(t, anon, "people").Next(ctx)
	if !errors.Is(err, zk.ErrNoAuth) || !strings.Contains(err.Error(), "/rb/services/people/instances") || !strings.Contains(err.Error(), "world:anyone") {
		t.Fatalf("unauthenticated watch: got %v want NoAuth naming the instances node and world:anyone", err)
	}
}

func TestUnreadableNodesAreNamedAndTheLastSetStays(t *testing.T) {
	zs := zktest.Start(t)
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rb", Auth: &zookeeper.Auth{User: "sdk", Password: sdkPW}, ACL: sdkACL(false)})
	for _, a := range []string{"127.0.0.1:1001", "127.0.0.1:1002"} {
		if err := backend.Register(context.Background(), inst("people", a)); err != nil {
			t.Fatalf("Register %s: %v", a, err)
		}
	}
	logs := &syncBuffer{}
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{
		Root: "/rb", Auth: &zookeeper.Auth{User: "gateway", Password: gatewayPW}, Logger: logTo(logs),
		RecheckInterval: 200 * time.Millisecond,
	})
	w := watch(t, gw, "people")
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001", "127.0.0.1:1002")

	// An instance node the gateway may not read: left out, named once,
	// and the readable ones still follow.
	owner := authedConn(t, zs, "sdk", sdkPW)
	hidden := "/rb/services/people/instances/127.0.0.1:1003"
	if _, err := owner.Create(hidden, []byte(`{"protocol":"grpc","online":true}`), 0, zk.DigestACL(zk.PermAll, "sdk", sdkPW)); err != nil {
		t.Fatalf("create %s: %v", hidden, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var refusal error
	for refusal == nil {
		ins, err := w.Next(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			t.Fatalf("waiting for the refusal of %s: %v", hidden, err)
		case err != nil:
			refusal = err
		case slices.Contains(addrs(ins), "127.0.0.1:1003"):
			t.Fatalf("set: got %v, want no unreadable node", addrs(ins))
		}
	}
	if !errors.Is(refusal, zk.ErrNoAuth) || !strings.Contains(refusal.Error(), "read "+hidden) || !strings.Contains(refusal.Error(), "digest:gateway") {
		t.Fatalf("refusal: got %v want NoAuth naming read %s and digest:gateway", refusal, hidden)
	}
	if err := backend.Deregister(context.Background(), inst("people", "127.0.0.1:1002")); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001")
	warned := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "read "+hidden) {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("logs: got %d warnings naming %s want 1 (the retries log at debug)", warned, hidden)
	}
	if err := owner.Delete(hidden, -1); err != nil {
		t.Fatalf("delete %s: %v", hidden, err)
	}

	// The instances node itself becomes unreadable (ZooKeeper then drops
	// the watch's events, silently and for good): the recheck notices,
	// Next reports it and the set stays; once readable again the watch
	// picks up what changed meanwhile.
	instances := "/rb/services/people/instances"
	if _, err := owner.SetACL(instances, zk.DigestACL(zk.PermAll, "sdk", sdkPW), -1); err != nil {
		t.Fatalf("SetACL: %v", err)
	}
	if err := backend.Register(context.Background(), inst("people", "127.0.0.1:1004")); err != nil {
		t.Fatalf("Register 1004: %v", err)
	}
	_, err := w.Next(ctx)
	if !errors.Is(err, zk.ErrNoAuth) || !strings.Contains(err.Error(), "list "+instances) {
		t.Fatalf("Next with the instances node unreadable: got %v want NoAuth naming list %s\n%s", err, instances, logs.String())
	}
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	ins, err := w.Next(short)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next while unreadable: got %v, %v want the last set kept (deadline exceeded)", addrs(ins), err)
	}
	if _, err := owner.SetACL(instances, []zk.ACL{zk.DigestACL(zk.PermAll, "sdk", sdkPW)[0], zk.DigestACL(zk.PermRead, "gateway", gatewayPW)[0]}, -1); err != nil {
		t.Fatalf("SetACL back: %v", err)
	}
	waitSet(t, w, 10*time.Second, "127.0.0.1:1001", "127.0.0.1:1004")
}

func TestSessionExpiryReAuthenticatesAndWatchesKeepWorking(t *testing.T) {
	zs := zktest.Start(t)
	proxy := zktest.NewProxy(t, zs.Addr())
	sdkLogs, gwLogs := &syncBuffer{}, &syncBuffer{}
	// Both reach ZooKeeper through the proxy; cutting it for longer than
	// the session timeout makes the server expire both sessions. Nothing
	// under /rb is readable or writable without the right credentials.
	backend := newRegistry(t, proxy.Servers(), zookeeper.Options{
		Root: "/rb", SessionTimeout: 2 * time.Second, Logger: logTo(sdkLogs),
		Auth: &zookeeper.Auth{User: "sdk", Password: sdkPW}, ACL: sdkACL(false),
	})
	gw := newRegistry(t, proxy.Servers(), zookeeper.Options{
		Root: "/rb", SessionTimeout: 2 * time.Second, Logger: logTo(gwLogs),
		Auth: &zookeeper.Auth{User: "gateway", Password: gatewayPW},
	})
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	w := watch(t, gw, "svc")
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001")

	// The gateway's session owns an ephemeral node too (under a parent
	// open to all), so that its expiry shows on the server.
	observer := authedConn(t, zs, "sdk", sdkPW)
	for _, p := range []string{"/rb/services/probe", "/rb/services/probe/instances"} {
		if _, err := observer.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	if err := gw.Register(context.Background(), inst("probe", "127.0.0.1:9")); err != nil {
		t.Fatalf("Register the gateway's probe: %v", err)
	}
	node, probe := "/rb/services/svc/instances/127.0.0.1:1001", "/rb/services/probe/instances/127.0.0.1:9"
	proxy.Cut()
	waitUntil(t, 15*time.Second, "the server expiring both sessions (their nodes gone)", func() bool {
		ok1, _, err1 := observer.Exists(node)
		ok2, _, err2 := observer.Exists(probe)
		return err1 == nil && err2 == nil && !ok1 && !ok2
	})
	proxy.Restore()
	waitUntil(t, 15*time.Second, "both registries seeing their sessions expire", func() bool {
		return strings.Contains(sdkLogs.String(), "session expired") && strings.Contains(gwLogs.String(), "session expired")
	})
	// The new sessions carry the credentials: the backend re-creates its
	// node (create needs sdk's permission on the instances node) and the
	// gateway's watch, re-armed with reads only it may make, sees it and
	// what follows.
	waitUntil(t, 15*time.Second, "the backend re-creating its node", func() bool {
		ok, _, err := observer.Exists(node)
		return err == nil && ok
	})
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1002")); err != nil {
		t.Fatalf("Register after expiry: %v", err)
	}
	waitSet(t, w, 15*time.Second, "127.0.0.1:1001", "127.0.0.1:1002")
	if err := backend.Deregister(context.Background(), inst("svc", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Deregister after expiry: %v", err)
	}
	waitSet(t, w, 5*time.Second, "127.0.0.1:1002")
	if strings.Contains(gwLogs.String(), "NoAuth") || strings.Contains(gwLogs.String(), "not authenticated") {
		t.Fatalf("gateway logs: got a refusal after the new session, want none:\n%s", gwLogs.String())
	}
}

// waitUntil polls cond every 20ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var _ registry.Discovery = (*zookeeper.Registry)(nil)

func TestConfigWatchSaysWhyItCannotReadAndKeepsTheVersionInForce(t *testing.T) {
	zs := zktest.Start(t)
	acl := []zookeeper.ACL{{Scheme: "digest", User: "config", Perms: "all"}, {Scheme: "digest", User: "gateway", Password: gatewayPW, Perms: "read"}}
	cfgReg := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/rbc", Auth: &zookeeper.Auth{User: "config", Password: configPW}, ACL: acl})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v1, err := cfgReg.PushConfig(ctx, "default", []byte("# one\n"))
	if err != nil {
		t.Fatalf("PushConfig: %v", err)
	}
	logs := &syncBuffer{}
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{
		Root: "/rbc", Auth: &zookeeper.Auth{User: "gateway", Password: gatewayPW}, Logger: logTo(logs),
		RecheckInterval: 200 * time.Millisecond,
	})
	applied := make(chan string, 10)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		gw.WatchConfig(wctx, "default", func(sc *zookeeper.StoredConfig) { applied <- sc.Version })
		close(done)
	}()
	defer func() { stop(); <-done }()
	select {
	case got := <-applied:
		if got != v1 {
			t.Fatalf("first version applied: got %s want %s", got, v1)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("version %s not applied within 10s", v1)
	}

	// The gateway loses its read on the config node, then a new version
	// is pushed: it says which node and why, and keeps v1.
	path := cfgReg.ConfigPath("default")
	owner := authedConn(t, zs, "config", configPW)
	if _, err := owner.SetACL(path, zk.DigestACL(zk.PermAll, "config", configPW), -1); err != nil {
		t.Fatalf("SetACL: %v", err)
	}
	v2, err := cfgReg.PushConfig(ctx, "default", []byte("# two\n"))
	if err != nil {
		t.Fatalf("PushConfig v2: %v", err)
	}
	waitUntil(t, 10*time.Second, "a warning naming the unreadable config node", func() bool {
		return strings.Contains(logs.String(), "zookeeper refused to read "+path+" for digest:gateway")
	})
	select {
	case got := <-applied:
		t.Fatalf("applied %s while the node was unreadable, want %s kept", got, v1)
	default:
	}
	// Readable again: v2 is applied.
	if _, err := owner.SetACL(path, []zk.ACL{zk.DigestACL(zk.PermAll, "config", configPW)[0], zk.DigestACL(zk.PermRead, "gateway", gatewayPW)[0]}, -1); err != nil {
		t.Fatalf("SetACL back: %v", err)
	}
	select {
	case got := <-applied:
		if got != v2 {
			t.Fatalf("version applied once readable: got %s want %s", got, v2)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("version %s not applied 10s after the node became readable again", v2)
	}
}
