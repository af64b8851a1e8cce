package sdk_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
	"github.com/rpcbridge/rpcbridge/sdk"
)

const (
	sdkPassword     = "sdk-secret"
	gatewayPassword = "gateway-secret"
)

// backendACL: the SDK principal all, the gateway principal read, nobody
// else anything.
func backendACL() []zookeeper.ACL {
	return []zookeeper.ACL{
		{Scheme: "digest", User: "sdk", Perms: "all"},
		{Scheme: "digest", User: "gateway", Password: gatewayPassword, Perms: "read"},
	}
}

// zkConn is a raw session, authenticated as user:password unless user is
// empty.
func zkConn(t *testing.T, zs *zktest.Server, user, password string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(zs.Servers(), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	t.Cleanup(conn.Close)
	if user != "" {
		if err := conn.AddAuth("digest", []byte(user+":"+password)); err != nil {
			t.Fatalf("AddAuth: %v", err)
		}
	}
	return conn
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func TestAgentRegistersUnderItsPrincipalWithTheACL(t *testing.T) {
	zs := zktest.Start(t)
	a := newAgent(t, sdk.Options{
		ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051",
		Auth: &zookeeper.Auth{User: "sdk", Password: sdkPassword}, ACL: backendACL(),
	})
	if err := a.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	// The gateway's principal reads it.
	gw, err := zookeeper.New(zookeeper.Options{Servers: zs.Servers(), Auth: &zookeeper.Auth{User: "gateway", Password: gatewayPassword}})
	if err != nil {
		t.Fatalf("zookeeper.New: %v", err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	w, err := gw.Watch(context.Background(), "people")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	waitFor(t, w, 5*time.Second, "the instance", has("127.0.0.1:50051"))

	want := []zk.ACL{zk.DigestACL(zk.PermAll, "sdk", sdkPassword)[0], zk.DigestACL(zk.PermRead, "gateway", gatewayPassword)[0]}
	owner := zkConn(t, zs, "sdk", sdkPassword)
	node := "/rpcbridge/services/people/instances/127.0.0.1:50051"
	for _, p := range []string{"/rpcbridge", "/rpcbridge/services", "/rpcbridge/services/people", "/rpcbridge/services/people/instances", node} {
		got, _, err := owner.GetACL(p)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ACL of %s: got %v, %v want %v", p, got, err, want)
		}
	}
	// Nobody else may read, change or delete it, nor add an instance.
	for _, c := range []struct {
		who  string
		conn *zk.Conn
	}{
		{"unauthenticated", zkConn(t, zs, "", "")},
		{"wrong password", zkConn(t, zs, "sdk", "guess")},
		{"gateway", zkConn(t, zs, "gateway", gatewayPassword)},
	} {
		if _, err := c.conn.Set(node, []byte(`{"online":false}`), -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s change: got %v want zk.ErrNoAuth", c.who, err)
		}
		if err := c.conn.Delete(node, -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s delete: got %v want zk.ErrNoAuth", c.who, err)
		}
		if _, err := c.conn.Create("/rpcbridge/services/people/instances/10.6.6.6:1", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s create: got %v want zk.ErrNoAuth", c.who, err)
		}
		if c.who != "gateway" {
			if _, _, err := c.conn.Get(node); !errors.Is(err, zk.ErrNoAuth) {
				t.Errorf("%s read: got %v want zk.ErrNoAuth (no world:read)", c.who, err)
			}
		}
	}
	// The agent itself still changes and removes its node.
	if err := a.SetOnline(context.Background(), false); err != nil {
		t.Fatalf("SetOnline: %v", err)
	}
	waitFor(t, w, 5*time.Second, "offline", func(ins []*registry.Instance) bool { return len(ins) == 1 && !ins[0].Online })
	if err := a.Deregister(context.Background()); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	waitFor(t, w, 5*time.Second, "removal", has())
}

func TestAgentWithAWrongPasswordIsRefused(t *testing.T) {
	zs := zktest.Start(t)
	first := newAgent(t, sdk.Options{
		ZooKeeper: zs.Servers(), Address: "127.0.0.1:50051",
		Auth: &zookeeper.Auth{User: "sdk", Password: sdkPassword}, ACL: backendACL(),
	})
	if err := first.Register(context.Background()); err != nil {
		t.Fatalf("Register: %v", err)
	}
	a := newAgent(t, sdk.Options{
		ZooKeeper: zs.Servers(), Address: "127.0.0.1:50052",
		Auth: &zookeeper.Auth{User: "sdk", Password: "guess"}, ACL: backendACL(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.Register(ctx)
	if generic.CodeOf(err) != generic.CodePermissionDenied || !strings.Contains(err.Error(), `user "sdk"`) || !strings.Contains(err.Error(), "/rpcbridge") {
		t.Fatalf("Register with a wrong password: got %v want PERMISSION_DENIED naming user \"sdk\" and /rpcbridge", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Register with a wrong password: took until the deadline, want a prompt refusal")
	}
}

func TestNewRefusesAnACLItCannotBuild(t *testing.T) {
	for _, tc := range []struct {
		opts sdk.Options
		want string
	}{
		{sdk.Options{ACL: []zookeeper.ACL{{Scheme: "digest", User: "gateway", Perms: "read"}}}, `digest user "gateway": want its password`},
		{sdk.Options{Auth: &zookeeper.Auth{User: "sdk"}}, `auth user "sdk": want a password`},
		{sdk.Options{ACL: []zookeeper.ACL{{Scheme: "world", Perms: "rwcda"}}}, "perms"},
	} {
		tc.opts.ZooKeeper, tc.opts.Service, tc.opts.Protocol, tc.opts.Address = []string{"127.0.0.1:1"}, "people", "grpc", "127.0.0.1:50051"
		a, err := sdk.New(tc.opts)
		if err == nil {
			a.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): got %v want an error containing %q", tc.opts, err, tc.want)
		}
	}
}
