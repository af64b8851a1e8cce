// Package sdk is what a backend imports to register itself in ZooKeeper for
// rpcbridge gateways to find, and to report its APIs. It stays light: it
// pulls in no gateway code and no RPC framework.
//
// Typical use, after the listener is bound:
//
//	agent, err := sdk.New(sdk.Options{ZooKeeper: []string{"127.0.0.1:2181"},
//		Service: "people", Address: lis.Addr().String(), Protocol: "grpc"})
//	...
//	if err := agent.Register(ctx); err != nil { ... }
//	go srv.Serve(lis)
//	agent.NotifyShutdown(context.Background(), 0, srv.GracefulStop)
//
// On a ZooKeeper with ACLs, the agent authenticates as its own principal
// and puts an ACL on what it creates (Options.Auth, Options.ACL): its
// principal all permissions, the gateways' principal read.
package sdk

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// DefaultDrain is how long Shutdown waits after deregistering, so that
// gateways see the removal and stop sending, when drain is 0.
const DefaultDrain = 2 * time.Second

// Options describe the backend instance and where to register it.
type Options struct {
	// ZooKeeper are the ZooKeeper servers, host:port. Required.
	ZooKeeper []string
	// Root is the registry root; default /rpcbridge (must match the
	// gateway's registries[].zookeeper.root).
	Root string
	// Service is the service name the gateway knows. Required.
	Service string
	// Address is the host:port gateways dial; use the bound listener's
	// address (not 0.0.0.0 or ":port"). Required.
	Address string
	// Protocol is grpc, dubbo, tri, thrift, tars or http. Required.
	Protocol string
	// Weight is the relative share of traffic; 0 means 100.
	Weight int
	// Zone is the availability zone, for same-zone preference.
	Zone string
	// Tags select this instance for tag (gray/canary) routing.
	Tags []string
	// Version is the backend's version string.
	Version string
	// Metadata is free-form and passed to the gateway's adapter.
	Metadata map[string]string
	// APIs are the methods this backend reports; gateways can turn them
	// into routes.
	APIs []registry.API
	// SessionTimeout is the ZooKeeper session timeout: how long after a
	// crash the instance disappears. Default 10s.
	SessionTimeout time.Duration
	// Logger receives registration events. Nil discards.
	Logger *slog.Logger
	// Offline registers the instance with online=false (no traffic until
	// SetOnline(ctx, true)).
	Offline bool
	// Auth is the ZooKeeper digest principal the agent registers as (on
	// every connection and new session). Nil: none. A password that
	// cannot be the one the ACL of Root names for the user makes
	// Register fail, saying so.
	Auth *zookeeper.Auth
	// ACL is put on the nodes the agent creates: its instance node and
	// the parents made on the way. Typically the agent's own principal
	// with all permissions and the gateways' with read:
	//
	//	[]zookeeper.ACL{{Scheme: "digest", User: "sdk", Perms: "all"},
	//		{Scheme: "digest", User: "gateway", Password: gatewayPassword, Perms: "read"}}
	//
	// Empty: ZooKeeper's open ACL (world:anyone, all permissions), which
	// is logged.
	ACL []zookeeper.ACL
}

// Agent keeps one backend instance registered. Safe for concurrent use.
type Agent struct {
	reg *zookeeper.Registry
	log *slog.Logger

	mu         sync.Mutex
	in         *registry.Instance
	registered bool
}

// New validates opts and starts connecting to ZooKeeper in the background.
// Nothing is registered until Register.
func New(opts Options) (*Agent, error) {
	switch {
	case len(opts.ZooKeeper) == 0:
		return nil, generic.Errorf(generic.CodeInvalidArgument, "sdk: ZooKeeper: want at least one host:port, got none")
	case opts.Service == "":
		return nil, generic.Errorf(generic.CodeInvalidArgument, "sdk: Service: want a service name, got \"\"")
	case opts.Protocol == "":
		return nil, generic.Errorf(generic.CodeInvalidArgument, "sdk: Protocol: want grpc, dubbo, tri, thrift, tars or http, got \"\"")
	case opts.Weight < 0:
		return nil, generic.Errorf(generic.CodeInvalidArgument, "sdk: Weight: want 0 (default 100) or more, got %d", opts.Weight)
	}
	if err := checkAddress(opts.Address); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg, err := zookeeper.New(zookeeper.Options{
		Servers: opts.ZooKeeper, Root: opts.Root, SessionTimeout: opts.SessionTimeout, Logger: log,
		Auth: opts.Auth, ACL: opts.ACL,
	})
	if err != nil {
		return nil, err
	}
	in := (&registry.Instance{
		Service:  opts.Service,
		Address:  opts.Address,
		Protocol: opts.Protocol,
		Weight:   opts.Weight,
		Zone:     opts.Zone,
		Tags:     opts.Tags,
		Online:   !opts.Offline,
		Version:  opts.Version,
		Metadata: opts.Metadata,
		APIs:     opts.APIs,
	}).Clone()
	if in.Weight == 0 {
		in.Weight = registry.DefaultWeight
	}
	return &Agent{reg: reg, log: log.With("service", opts.Service, "address", opts.Address), in: in}, nil
}

func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" || port == "0" {
		return generic.Errorf(generic.CodeInvalidArgument, "sdk: Address: want the bound host:port gateways can dial, got %q", addr)
	}
	if host == "0.0.0.0" || host == "::" {
		return generic.Errorf(generic.CodeInvalidArgument, "sdk: Address: want a dialable host, got the wildcard %q", addr)
	}
	return nil
}

// Instance returns a copy of what is (or will be) registered.
func (a *Agent) Instance() *registry.Instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.in.Clone()
}

// Register creates the instance's ephemeral node and returns once it
// exists (retrying while ZooKeeper is unreachable, until ctx is done). Call
// it after the listener is bound. After session expiry the node is
// re-created automatically until Deregister or Close.
func (a *Agent) Register(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.reg.Register(ctx, a.in); err != nil {
		return err
	}
	a.registered = true
	a.log.Info("sdk: registered")
	return nil
}

// SetOnline changes the instance's online flag in ZooKeeper: false takes it
// out of traffic without deregistering or redeploying. Before Register it
// only changes what Register will write.
func (a *Agent) SetOnline(ctx context.Context, online bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := a.in.Clone()
	next.Online = online
	if a.registered {
		if err := a.reg.Register(ctx, next); err != nil {
			return err
		}
	}
	a.in = next
	a.log.Info("sdk: online changed", "online", online)
	return nil
}

// Deregister deletes the instance's node; gateways stop sending to it once
// they see the change.
func (a *Agent) Deregister(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.registered = false
	if err := a.reg.Deregister(ctx, a.in); err != nil {
		return err
	}
	a.log.Info("sdk: deregistered")
	return nil
}

// Shutdown is the graceful-stop helper: it deregisters, then waits drain
// (0: DefaultDrain; negative: no wait) so that gateways stop sending, then
// returns so that the caller stops its server. A failed deregistration is
// returned after the wait (the session's end removes the node anyway).
// ctx cuts the wait short.
func (a *Agent) Shutdown(ctx context.Context, drain time.Duration) error {
	if drain == 0 {
		drain = DefaultDrain
	}
	err := a.Deregister(ctx)
	if err != nil {
		a.log.Warn("sdk: deregister failed during shutdown", "err", err)
	}
	if drain > 0 {
		t := time.NewTimer(drain)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return err
}

// NotifyShutdown blocks until SIGTERM or SIGINT arrives (or ctx is done),
// then runs Shutdown(drain), calls stop (the server's graceful stop; may be
// nil) and closes the agent. It returns Shutdown's error.
func (a *Agent) NotifyShutdown(ctx context.Context, drain time.Duration, stop func()) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case s := <-sig:
		a.log.Info("sdk: signal received; deregistering and draining", "signal", s.String(), "drain", drain)
	case <-ctx.Done():
		a.log.Info("sdk: context done; deregistering and draining", "drain", drain)
	}
	// The caller's ctx may already be done: give the shutdown its own
	// bounded time.
	wait := drain
	if wait == 0 {
		wait = DefaultDrain
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(wait, 0)+10*time.Second)
	defer cancel()
	err := a.Shutdown(sctx, drain)
	if stop != nil {
		stop()
	}
	_ = a.Close()
	return err
}

// Close ends the ZooKeeper session; the node disappears at once.
func (a *Agent) Close() error {
	return a.reg.Close()
}
