package sdk_test

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
	"github.com/rpcbridge/rpcbridge/sdk"
)

func newAgent(t *testing.T, opts sdk.Options) *sdk.Agent {
	t.Helper()
	if opts.Service == "" {
		opts.Service = "people"
	}
	if opts.Protocol == "" {
		opts.Protocol = "grpc"
	}
	a, err := sdk.New(opts)
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func gatewayWatch(t *testing.T, servers []string, service string) registry.Watcher {
	t.Helper()
	r, err := zookeeper.New(zookeeper.Options{Servers: servers})
	if err != nil {
		t.Fatalf("zookeeper.New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	w, err := r.Watch(context.Background(), service)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	return w
}

// waitFor calls Next until ok accepts the set.
func waitFor(t *testing.T, w registry.Watcher, timeout time.Duration, what string, ok func([]*registry.Instance) bool) []*registry.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last []*registry.Instance
	for {
		ins, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: got %v (last set %v)", what, err, describe(last))
		}
		last = ins
		if ok(ins) {
			return ins
		}
	}
}

func describe(ins []*registry.Instance) []string {
	var out []string
	for _, in := range ins {
		s := in.Address
		if !in.Online {
			s += "(offline)"
		}
		out = append(out, s)
	}
	return out
}

func has(addrs ...string) func([]*registry.Instance) bool {
	return func(ins []*registry.Instance) bool {
		got := make([]string, len(ins))
		for i, in := range ins {
			got[i] = in.Address
		}
		return slices.Equal(got, addrs)
	}
}

func TestRegistrationReachesWatcherWithinOneSecond(t *testing.T) {
	zs := zktest.Start(t)
	w := gatewayWatch(t, zs.Servers(), "people")
	waitFor(t, w, 10*time.Second, "empty set", has())
	a := newAgent(t, sdk.Options{
		ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051", Zone: "z1", Tags: []string{"canary"}, Version: "1.4.2",
		Metadata: map[string]string{"k": "v"},
		APIs:     []registry.API{{Name: "Get", Path: "/v1/people/{id}", HTTPMethod: "GET", ParamNames: []string{"id"}}},
	})
	t0 := time.Now()
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	reg := time.Since(t0)
	got := waitFor(t, w, 5*time.Second, "the registered instance", has("127.0.0.1:50051"))
	total := time.Since(t0)
	t.Logf("Register returned after %v; the watcher saw the instance %v after Register was called", reg, total)
	if total > time.Second {
		t.Fatalf("registration reached the watcher after %v, want under 1s", total)
	}
	g := got[0]
	if g.Weight != 100 || g.Protocol != "grpc" || g.Zone != "z1" || !g.HasTag("canary") || g.Version != "1.4.2" ||
		!g.Online || g.Metadata["k"] != "v" || len(g.APIs) != 1 || g.APIs[0].ParamNames[0] != "id" {
		t.Fatalf("instance: got %+v", g)
	}
}

func TestClosingTheSessionRemovesTheInstance(t *testing.T) {
	zs := zktest.Start(t)
	w := gatewayWatch(t, zs.Servers(), "people")
	a := newAgent(t, sdk.Options{ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051"})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, w, 5*time.Second, "the instance", has("127.0.0.1:50051"))
	_ = a.Close()
	waitFor(t, w, 5*time.Second, "removal", has())
}

func TestSetOnlineFalseShowsOfflineToWatcher(t *testing.T) {
	zs := zktest.Start(t)
	w := gatewayWatch(t, zs.Servers(), "people")
	a := newAgent(t, sdk.Options{ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051"})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, w, 5*time.Second, "online instance", func(ins []*registry.Instance) bool { return len(ins) == 1 && ins[0].Online })
	if err := a.SetOnline(context.Background(), false); err != nil {
		t.Fatalf("SetOnline(false): %v", err)
	}
	waitFor(t, w, 5*time.Second, "offline instance", func(ins []*registry.Instance) bool { return len(ins) == 1 && !ins[0].Online })
	if err := a.SetOnline(context.Background(), true); err != nil {
		t.Fatalf("SetOnline(true): %v", err)
	}
	waitFor(t, w, 5*time.Second, "online again", func(ins []*registry.Instance) bool { return len(ins) == 1 && ins[0].Online })
	if a.Instance().Online != true {
		t.Fatalf("Instance().Online: got false want true")
	}
}

func TestShutdownDeregistersThenDrains(t *testing.T) {
	zs := zktest.Start(t)
	w := gatewayWatch(t, zs.Servers(), "people")
	a := newAgent(t, sdk.Options{ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051"})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, w, 5*time.Second, "the instance", has("127.0.0.1:50051"))
	const drain = 300 * time.Millisecond
	removed := make(chan time.Time, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			ins, err := w.Next(ctx)
			if err != nil {
				return
			}
			if len(ins) == 0 {
				removed <- time.Now()
				return
			}
		}
	}()
	t0 := time.Now()
	if err := a.Shutdown(context.Background(), drain); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	returned := time.Now()
	if d := returned.Sub(t0); d < drain {
		t.Fatalf("Shutdown returned after %v, want at least the drain %v", d, drain)
	}
	select {
	case at := <-removed:
		if !at.Before(returned) {
			t.Fatalf("watcher saw the removal after Shutdown returned")
		}
		t.Logf("watcher saw the removal %v after Shutdown began; Shutdown returned after %v", at.Sub(t0), returned.Sub(t0))
	case <-time.After(5 * time.Second):
		t.Fatalf("watcher never saw the removal")
	}
}

func TestNotifyShutdownOnContextDoneStopsServer(t *testing.T) {
	zs := zktest.Start(t)
	w := gatewayWatch(t, zs.Servers(), "people")
	a := newAgent(t, sdk.Options{ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051"})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, w, 5*time.Second, "the instance", has("127.0.0.1:50051"))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- a.NotifyShutdown(ctx, -1, func() { close(stopped) }) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("NotifyShutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("NotifyShutdown did not return")
	}
	select {
	case <-stopped:
	default:
		t.Fatalf("stop was not called")
	}
	waitFor(t, w, 5*time.Second, "removal", has())
}

func TestReRegistersAfterSessionExpiry(t *testing.T) {
	zs := zktest.Start(t)
	proxy := zktest.NewProxy(t, zs.Addr())
	w := gatewayWatch(t, zs.Servers(), "people")
	a := newAgent(t, sdk.Options{ZooKeeper: proxy.Servers(), Address: "127.0.0.1:50051", SessionTimeout: 2 * time.Second})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, w, 5*time.Second, "the instance", has("127.0.0.1:50051"))
	proxy.Cut()
	waitFor(t, w, 15*time.Second, "expiry removing the instance", has())
	proxy.Restore()
	t0 := time.Now()
	waitFor(t, w, 15*time.Second, "re-registration", has("127.0.0.1:50051"))
	t.Logf("re-registered %v after ZooKeeper became reachable again", time.Since(t0))
}

func TestNodesSurviveZooKeeperRestart(t *testing.T) {
	zs := zktest.Start(t)
	w := gatewayWatch(t, zs.Servers(), "people")
	a := newAgent(t, sdk.Options{ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051"})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	waitFor(t, w, 5*time.Second, "the instance", has("127.0.0.1:50051"))
	zs.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	ins, err := w.Next(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next while ZooKeeper is down: got %v, %v want the last snapshot kept (deadline exceeded)", describe(ins), err)
	}
	zs.Restart()
	b := newAgent(t, sdk.Options{ZooKeeper: zs.Servers(), Address: "127.0.0.1:50052"})
	if err := b.Register(context.Background()); err != nil {
		t.Fatalf("Register after restart: %v", err)
	}
	waitFor(t, w, 15*time.Second, "both instances", has("127.0.0.1:50051", "127.0.0.1:50052"))
	if err := a.SetOnline(context.Background(), false); err != nil {
		t.Fatalf("SetOnline after restart: %v", err)
	}
	waitFor(t, w, 5*time.Second, "offline after restart", func(ins []*registry.Instance) bool {
		return len(ins) == 2 && !ins[0].Online && ins[1].Online
	})
}

func TestNewValidatesOptions(t *testing.T) {
	zk := []string{"127.0.0.1:1"}
	for _, tc := range []struct {
		opts sdk.Options
		want string
	}{
		{sdk.Options{Service: "s", Protocol: "grpc", Address: "127.0.0.1:1"}, "ZooKeeper"},
		{sdk.Options{ZooKeeper: zk, Protocol: "grpc", Address: "127.0.0.1:1"}, "Service"},
		{sdk.Options{ZooKeeper: zk, Service: "s", Address: "127.0.0.1:1"}, "Protocol"},
		{sdk.Options{ZooKeeper: zk, Service: "s", Protocol: "grpc", Address: ":8080"}, "Address"},
		{sdk.Options{ZooKeeper: zk, Service: "s", Protocol: "grpc", Address: "0.0.0.0:8080"}, "Address"},
		{sdk.Options{ZooKeeper: zk, Service: "s", Protocol: "grpc", Address: "127.0.0.1:0"}, "Address"},
		{sdk.Options{ZooKeeper: zk, Service: "s", Protocol: "grpc", Address: "127.0.0.1:1", Weight: -1}, "Weight"},
	} {
		_, err := sdk.New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): got %v want an error naming %s", tc.opts, err, tc.want)
		}
	}
}

func TestSDKDependenciesStayLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps: got no packages")
	}
	for _, d := range deps {
		for _, banned := range []string{"google.golang.org/grpc", "dubbo.apache.org", "github.com/apache/thrift", "github.com/TarsCloud", "github.com/rpcbridge/rpcbridge/gateway"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("sdk depends on %s, want no %s packages", d, banned)
			}
		}
	}
}
