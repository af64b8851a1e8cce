package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// zkDiscovery is the gateway's discovery over the ZooKeeper registries a
// config names: instances the SDK registers under <root>/services,
// Dubbo-native providers under /dubbo/<interface>/providers, and the
// definitions of a Dubbo metadata report under /dubbo/metadata.
//
// Registries with the same servers, root and session timeout share one
// ZooKeeper session, opened at the first watch and kept across reloads
// until Close. The command that builds a zkDiscovery closes it, after the
// gateway's Close (which stops the watches but does not close this).
type zkDiscovery struct {
	log *slog.Logger

	mu     sync.Mutex
	regs   map[string]*zookeeper.Registry // by zkKey; guarded by mu
	closed bool                           // guarded by mu
}

var (
	_ gateway.Discovery        = (*zkDiscovery)(nil)
	_ gateway.DefinitionSource = (*zkDiscovery)(nil)
)

func newZKDiscovery(log *slog.Logger) *zkDiscovery {
	return &zkDiscovery{log: log, regs: map[string]*zookeeper.Registry{}}
}

// zkKey is a ZooKeeper config's identity: the same servers (in any order),
// root and session timeout, defaults applied.
func zkKey(z *mapping.ZooKeeper) string {
	root, timeout := z.Root, z.SessionTimeout
	if root == "" {
		root = zookeeper.DefaultRoot
	}
	if timeout <= 0 {
		timeout = zookeeper.DefaultSessionTimeout
	}
	return fmt.Sprint(slices.Sorted(slices.Values(z.Servers)), root, timeout)
}

// registry returns the shared session for reg, opening it once.
func (d *zkDiscovery) registry(reg *mapping.Registry) (*zookeeper.Registry, error) {
	z := reg.ZooKeeper
	if z == nil {
		return nil, fmt.Errorf("registry %q: want a zookeeper section, got none", reg.Name)
	}
	key := zkKey(z)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("discovery is closed")
	}
	if r := d.regs[key]; r != nil {
		return r, nil
	}
	r, err := zookeeper.New(zookeeper.Options{Servers: z.Servers, Root: z.Root, SessionTimeout: z.SessionTimeout, Logger: d.log})
	if err != nil {
		return nil, fmt.Errorf("registry %q: zookeeper %v: %w", reg.Name, z.Servers, err)
	}
	d.regs[key] = r
	return r, nil
}

// Watch implements gateway.Discovery: the Dubbo providers of svc's
// interface when its discovery says dubbo_native, else the instances
// registered under discovery.service (default the service's name).
func (d *zkDiscovery) Watch(ctx context.Context, svc *mapping.Service, reg *mapping.Registry) (registry.Watcher, error) {
	r, err := d.registry(reg)
	if err != nil {
		return nil, err
	}
	if dc, ok := svc.Proto.(*dubbo.Config); ok && dc.Native {
		return r.WatchDubbo(ctx, dc.Interface, dc.Group, dc.Version)
	}
	name := svc.Name
	if svc.Discovery != nil && svc.Discovery.Service != "" {
		name = svc.Discovery.Service
	}
	return r.Watch(ctx, name)
}

// WatchDefinitions implements gateway.DefinitionSource: for a Dubbo or
// Triple service, the definitions a Dubbo metadata report publishes for
// its interface, group and version.
func (d *zkDiscovery) WatchDefinitions(ctx context.Context, svc *mapping.Service, reg *mapping.Registry, apply func(defs [][]byte)) {
	dc, ok := svc.Proto.(*dubbo.Config)
	if !ok {
		return
	}
	r, err := d.registry(reg)
	if err != nil {
		d.log.Warn("dubbo metadata report not followed", "service", svc.Name, "err", err)
		return
	}
	r.WatchDubboMetadata(ctx, dc.Interface, dc.Group, dc.Version, apply)
}

// Close ends every ZooKeeper session it opened; later watches fail.
func (d *zkDiscovery) Close() error {
	d.mu.Lock()
	regs := d.regs
	d.regs, d.closed = nil, true
	d.mu.Unlock()
	for _, r := range regs {
		r.Close()
	}
	return nil
}
