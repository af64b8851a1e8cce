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

	"github.com/rpcbridge/rpcbridge/internal/syncbuf"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer = syncbuf.Buffer

func newRegistry(t *testing.T, servers []string, opts zookeeper.Options) *zookeeper.Registry {
	t.Helper()
	opts.Servers = servers
	r, err := zookeeper.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func watch(t *testing.T, d registry.Discovery, service string) registry.Watcher {
	t.Helper()
	w, err := d.Watch(context.Background(), service)
	if err != nil {
		t.Fatalf("Watch(%q): %v", service, err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	return w
}

func addrs(ins []*registry.Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Address
	}
	return out
}

// waitSet calls Next until the instance addresses equal want (sorted).
func waitSet(t *testing.T, w registry.Watcher, timeout time.Duration, want ...string) []*registry.Instance {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last []string
	for {
		ins, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for instances %v: got %v (last set %v)", want, err, last)
		}
		last = addrs(ins)
		if slices.Equal(last, want) {
			return ins
		}
	}
}

func inst(service, addr string) *registry.Instance {
	return &registry.Instance{Service: service, Address: addr, Protocol: "grpc", Weight: 100, Online: true}
}

func TestRegisterReachesWatcherAndServicesLists(t *testing.T) {
	zs := zktest.Start(t)
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{})
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	w := watch(t, gw, "people")
	waitSet(t, w, 10*time.Second) // empty: the service does not exist yet

	in := inst("people", "127.0.0.1:50051")
	in.Zone, in.Tags, in.Version = "z1", []string{"canary"}, "1.4.2"
	in.APIs = []registry.API{{Name: "Get", Path: "/v1/people/{id}", HTTPMethod: "GET"}}
	t0 := time.Now()
	if err := backend.Register(context.Background(), in); err != nil {
		t.Fatalf("Register: %v", err)
	}
	got := waitSet(t, w, 5*time.Second, "127.0.0.1:50051")
	t.Logf("registration reached the watcher in %v", time.Since(t0))
	g := got[0]
	if g.Service != "people" || g.Protocol != "grpc" || g.Zone != "z1" || !g.HasTag("canary") || g.Version != "1.4.2" || !g.Online ||
		len(g.APIs) != 1 || g.APIs[0].Path != "/v1/people/{id}" {
		t.Fatalf("instance: got %+v want the registered one", g)
	}
	names, err := gw.Services(context.Background())
	if err != nil || !slices.Equal(names, []string{"people"}) {
		t.Fatalf("Services: got %v, %v want [people]", names, err)
	}
	if !gw.Connected() {
		t.Fatalf("Connected: got false want true")
	}
}

func TestCloseRemovesInstance(t *testing.T) {
	zs := zktest.Start(t)
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{})
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	w := watch(t, gw, "svc")
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001")
	t0 := time.Now()
	_ = backend.Close()
	waitSet(t, w, 5*time.Second)
	t.Logf("closed session's instance removed in %v", time.Since(t0))
}

func TestDeregisterRemovesInstanceAndRegisterUpdatesData(t *testing.T) {
	zs := zktest.Start(t)
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{})
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	w := watch(t, gw, "svc")
	in := inst("svc", "127.0.0.1:1001")
	if err := backend.Register(context.Background(), in); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001")
	up := in.Clone()
	up.Weight = 7
	if err := backend.Register(context.Background(), up); err != nil {
		t.Fatalf("Register again: %v", err)
	}
	got := waitSet(t, w, 5*time.Second, "127.0.0.1:1001")
	if got[0].Weight != 7 {
		t.Fatalf("weight after re-register: got %d want 7", got[0].Weight)
	}
	if err := backend.Deregister(context.Background(), in); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	waitSet(t, w, 5*time.Second)
}

func TestWatcherKeepsSnapshotWhileZooKeeperDownAndRecovers(t *testing.T) {
	zs := zktest.Start(t)
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{})
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	w := watch(t, gw, "svc")
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001")

	zs.Stop()
	// While ZooKeeper is down nothing changes: Next blocks (no empty set).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	ins, err := w.Next(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next while ZooKeeper is down: got %v, %v want deadline exceeded", addrs(ins), err)
	}
	if gw.Connected() {
		t.Fatalf("Connected while ZooKeeper is down: got true want false")
	}
	// A new watcher on the same registry also has to wait, not see empty.
	zs.Restart()
	// After the restart the backend's session resumes (its node is there)
	// and watches work again: a second registration is seen.
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1002")); err != nil {
		t.Fatalf("Register after restart: %v", err)
	}
	waitSet(t, w, 15*time.Second, "127.0.0.1:1001", "127.0.0.1:1002")
}

func TestSessionExpiryReRegistersAndReArmsWatches(t *testing.T) {
	zs := zktest.Start(t)
	proxy := zktest.NewProxy(t, zs.Addr())
	logs := &syncBuffer{}
	// The backend reaches ZooKeeper through the proxy; cutting it for
	// longer than the session timeout makes the server expire the session.
	backend := newRegistry(t, proxy.Servers(), zookeeper.Options{
		SessionTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1001")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	w := watch(t, gw, "svc")
	waitSet(t, w, 5*time.Second, "127.0.0.1:1001")
	// The backend also watches, through the proxy: its watches must be
	// re-armed on the new session.
	bw := watch(t, backend, "svc")
	waitSet(t, bw, 5*time.Second, "127.0.0.1:1001")

	proxy.Cut()
	t0 := time.Now()
	waitSet(t, w, 15*time.Second) // the server expired the session
	t.Logf("session expired after %v", time.Since(t0))
	proxy.Restore()
	t0 = time.Now()
	waitSet(t, w, 15*time.Second, "127.0.0.1:1001")
	t.Logf("re-registered %v after the connection came back", time.Since(t0))
	if !strings.Contains(logs.String(), "session expired") {
		t.Fatalf("logs: got %q, want a session expired line", logs.String())
	}

	other := newRegistry(t, zs.Servers(), zookeeper.Options{})
	if err := other.Register(context.Background(), inst("svc", "127.0.0.1:1002")); err != nil {
		t.Fatalf("Register other: %v", err)
	}
	waitSet(t, bw, 15*time.Second, "127.0.0.1:1001", "127.0.0.1:1002")
}

func TestMalformedNodeIsSkippedAndLogged(t *testing.T) {
	zs := zktest.Start(t)
	logs := &syncBuffer{}
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	conn := rawConn(t, zs)
	mustCreate(t, conn, "/rpcbridge/services/svc/instances/127.0.0.1:1", []byte(`{"address":"127.0.0.1:1","protocol":"grpc","online":true}`))
	mustCreate(t, conn, "/rpcbridge/services/svc/instances/127.0.0.1:2", []byte(`{not json`))
	w := watch(t, gw, "svc")
	waitSet(t, w, 5*time.Second, "127.0.0.1:1")
	if !strings.Contains(logs.String(), "malformed") || !strings.Contains(logs.String(), "127.0.0.1:2") {
		t.Fatalf("logs: got %q, want a malformed-data line naming 127.0.0.1:2", logs.String())
	}
	// Fixing the data brings the node in; the watcher kept working.
	if _, err := conn.Set("/rpcbridge/services/svc/instances/127.0.0.1:2", []byte(`{"protocol":"grpc","online":true}`), -1); err != nil {
		t.Fatalf("set: %v", err)
	}
	got := waitSet(t, w, 5*time.Second, "127.0.0.1:1", "127.0.0.1:2")
	if got[1].Service != "svc" {
		t.Fatalf("service of a node without one: got %q want svc", got[1].Service)
	}
}

func TestServicePathCreatedAfterWatchIsPickedUp(t *testing.T) {
	zs := zktest.Start(t)
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{Root: "/custom/root"})
	w := watch(t, gw, "late")
	waitSet(t, w, 5*time.Second)
	conn := rawConn(t, zs)
	mustCreate(t, conn, "/custom/root/services/late", nil)
	mustCreate(t, conn, "/custom/root/services/late/instances", nil)
	mustCreate(t, conn, "/custom/root/services/late/instances/127.0.0.1:7", []byte(`{"address":"127.0.0.1:7","protocol":"thrift","online":true}`))
	got := waitSet(t, w, 5*time.Second, "127.0.0.1:7")
	if got[0].Protocol != "thrift" {
		t.Fatalf("protocol: got %q want thrift", got[0].Protocol)
	}
	// Deleting the whole path empties the set, re-creating it is seen again.
	for _, p := range []string{"/custom/root/services/late/instances/127.0.0.1:7", "/custom/root/services/late/instances"} {
		if err := conn.Delete(p, -1); err != nil {
			t.Fatalf("delete %s: %v", p, err)
		}
	}
	waitSet(t, w, 5*time.Second)
	mustCreate(t, conn, "/custom/root/services/late/instances", nil)
	mustCreate(t, conn, "/custom/root/services/late/instances/127.0.0.1:8", []byte(`{"protocol":"thrift","online":true}`))
	waitSet(t, w, 5*time.Second, "127.0.0.1:8")
}

func TestNewReturnsPromptlyWhileZooKeeperUnreachable(t *testing.T) {
	zs := zktest.Start(t)
	proxy := zktest.NewProxy(t, zs.Addr())
	proxy.Cut()
	t0 := time.Now()
	gw := newRegistry(t, proxy.Servers(), zookeeper.Options{})
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("New with ZooKeeper unreachable took %v, want under 1s", d)
	}
	if gw.Connected() {
		t.Fatalf("Connected: got true want false")
	}
	w := watch(t, gw, "svc")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	ins, err := w.Next(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first Next while unreachable: got %v, %v want deadline exceeded", addrs(ins), err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = gw.Services(ctx)
	cancel()
	if err == nil {
		t.Fatalf("Services while unreachable: got nil error, want one")
	}
	backend := newRegistry(t, zs.Servers(), zookeeper.Options{})
	if err := backend.Register(context.Background(), inst("svc", "127.0.0.1:1")); err != nil {
		t.Fatalf("Register: %v", err)
	}
	proxy.Restore()
	waitSet(t, w, 15*time.Second, "127.0.0.1:1")
}

func TestStoppedWatcherReturnsErrWatcherStopped(t *testing.T) {
	zs := zktest.Start(t)
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	w := watch(t, gw, "svc")
	waitSet(t, w, 5*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := w.Next(context.Background())
		errc <- err
	}()
	_ = w.Stop()
	select {
	case err := <-errc:
		if !errors.Is(err, registry.ErrWatcherStopped) {
			t.Fatalf("Next after Stop: got %v want ErrWatcherStopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Next after Stop: still blocked after 5s")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		opts zookeeper.Options
		want string
	}{
		{zookeeper.Options{}, "servers"},
		{zookeeper.Options{Servers: []string{""}}, "servers[0]"},
		{zookeeper.Options{Servers: []string{"127.0.0.1:1"}, Root: "rpcbridge"}, "root"},
		{zookeeper.Options{Servers: []string{"127.0.0.1:1"}, Root: "/a/"}, "root"},
	} {
		_, err := zookeeper.New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): got %v want an error naming %q", tc.opts, err, tc.want)
		}
	}
	r, err := zookeeper.New(zookeeper.Options{Servers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer r.Close()
	for _, in := range []*registry.Instance{nil, {Address: "a:1"}, {Service: "s"}, {Service: "a/b", Address: "a:1"}} {
		if err := r.Register(context.Background(), in); err == nil {
			t.Errorf("Register(%+v): got nil error, want invalid argument", in)
		}
	}
}

func rawConn(t *testing.T, zs *zktest.Server) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(zs.Servers(), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(discard{}))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	t.Cleanup(conn.Close)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return conn
			}
		case <-timeout:
			t.Fatalf("zk.Connect: no session after 10s")
		}
	}
}

type discard struct{}

func (discard) Printf(string, ...any) {}

// mustCreate creates path (and missing parents as persistent nodes).
func mustCreate(t *testing.T, conn *zk.Conn, path string, data []byte) {
	t.Helper()
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			if _, err := conn.Create(path[:i], nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("create %s: %v", path[:i], err)
			}
		}
	}
	if _, err := conn.Create(path, data, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}
