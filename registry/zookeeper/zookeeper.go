// Package zookeeper is a registry.Discovery and registry.Registrar over
// ZooKeeper. Instances live at <root>/services/<service>/instances/<host:port>
// as ephemeral nodes whose data is the Instance JSON. WatchDubbo reads Dubbo
// providers registered the Dubbo way, /dubbo/<interface>/providers/<url>.
package zookeeper

import (
	"context"
	"log/slog"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// Defaults for Options.
const (
	DefaultRoot           = "/rpcbridge"
	DefaultSessionTimeout = 10 * time.Second
)

// Options configure a Registry.
type Options struct {
	// Servers are the ZooKeeper addresses, host:port. Required.
	Servers []string
	// Root is the path under which services are registered. Default
	// /rpcbridge.
	Root string
	// SessionTimeout is the ZooKeeper session timeout: how long after a
	// process dies its instances disappear. Default 10s.
	SessionTimeout time.Duration
	// Logger receives connection and watch events. Nil discards.
	Logger *slog.Logger
}

// Registry is a connection to ZooKeeper used for discovery and
// registration. New returns at once; the connection is made (and remade)
// in the background. Safe for concurrent use.
type Registry struct {
	// TODO
}

// New connects to ZooKeeper in the background and returns at once, even
// when no server is reachable.
func New(opts Options) (*Registry, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "todo")
}

// Watch implements registry.Discovery.
func (r *Registry) Watch(ctx context.Context, service string) (registry.Watcher, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "todo")
}

// WatchDubbo watches the providers of a Dubbo interface
// (/dubbo/<iface>/providers) with the given group and version.
func (r *Registry) WatchDubbo(ctx context.Context, iface, group, version string) (registry.Watcher, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "todo")
}

// Register implements registry.Registrar.
func (r *Registry) Register(ctx context.Context, in *registry.Instance) error {
	return generic.Errorf(generic.CodeUnimplemented, "todo")
}

// Deregister implements registry.Registrar.
func (r *Registry) Deregister(ctx context.Context, in *registry.Instance) error {
	return generic.Errorf(generic.CodeUnimplemented, "todo")
}

// Services lists the services registered under <root>/services.
func (r *Registry) Services(ctx context.Context) ([]string, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "todo")
}

// Connected reports whether the registry has a live ZooKeeper session.
func (r *Registry) Connected() bool { return false }

// Close ends the session (the server removes this registry's ephemeral
// nodes) and stops all watchers.
func (r *Registry) Close() error { return nil }

// ParseDubboURL parses one Dubbo provider URL (dubbo:// or tri://), plain
// or URL-encoded as ZooKeeper node names are.
func ParseDubboURL(s string) (*registry.Instance, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "todo")
}

var (
	_ registry.Discovery = (*Registry)(nil)
	_ registry.Registrar = (*Registry)(nil)
)
