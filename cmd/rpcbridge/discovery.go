package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/generic"
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
	_ gateway.Discovery          = (*zkDiscovery)(nil)
	_ gateway.DefinitionSource   = (*zkDiscovery)(nil)
	_ gateway.ConnectionReporter = (*zkDiscovery)(nil)
)

func newZKDiscovery(log *slog.Logger) *zkDiscovery {
	return &zkDiscovery{log: log, regs: map[string]*zookeeper.Registry{}}
}

// zkKey is a ZooKeeper config's identity: the same servers (in any order),
// root and session timeout, defaults applied, and the same principal
// (user and password) and ACL.
func zkKey(z *mapping.ZooKeeper, auth *zookeeper.Auth, acl []zookeeper.ACL) string {
	root, timeout := z.Root, z.SessionTimeout
	if root == "" {
		root = zookeeper.DefaultRoot
	}
	if timeout <= 0 {
		timeout = zookeeper.DefaultSessionTimeout
	}
	principal := ""
	if auth != nil {
		principal = auth.User + ":" + secretHash(auth.Password)
	}
	entries := make([]string, len(acl))
	for i, e := range acl {
		entries[i] = strings.Join([]string{e.Scheme, e.User, secretHash(e.Password), e.Perms}, ":")
	}
	return fmt.Sprint(slices.Sorted(slices.Values(z.Servers)), root, timeout, principal, entries)
}

// secretHash stands for a password in a map key.
func secretHash(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// zkSecurity turns a registry's auth and acl into the registry's options,
// reading the passwords they name from the environment (validation has
// checked they are set; they are read again here, at connection time).
func zkSecurity(z *mapping.ZooKeeper) (*zookeeper.Auth, []zookeeper.ACL, error) {
	var auth *zookeeper.Auth
	if z.Auth != nil {
		pw := os.Getenv(z.Auth.PasswordEnv)
		if pw == "" {
			return nil, nil, fmt.Errorf("zookeeper.auth.password_env: environment variable %s is empty", z.Auth.PasswordEnv)
		}
		auth = &zookeeper.Auth{User: z.Auth.User, Password: pw}
	}
	var acl []zookeeper.ACL
	for i, e := range z.ACL {
		a := zookeeper.ACL{Scheme: e.Scheme, User: e.User, Perms: e.Perms}
		if e.PasswordEnv != "" {
			if a.Password = os.Getenv(e.PasswordEnv); a.Password == "" {
				return nil, nil, fmt.Errorf("zookeeper.acl[%d].password_env: environment variable %s is empty", i, e.PasswordEnv)
			}
		}
		acl = append(acl, a)
	}
	return auth, acl, nil
}

// verifyTimeout bounds the wait for ZooKeeper's answer on a registry's
// credentials when its session is first opened. A registry that does not
// answer in time is used all the same (the gateway must start while
// ZooKeeper is down); its credentials are then checked at its first
// session and, if refused, every watch on it reports so.
const verifyTimeout = 5 * time.Second

// registry returns the shared session for reg, opening it once.
func (d *zkDiscovery) registry(reg *mapping.Registry) (*zookeeper.Registry, error) {
	z := reg.ZooKeeper
	if z == nil {
		return nil, fmt.Errorf("registry %q: want a zookeeper section, got none", reg.Name)
	}
	auth, acl, err := zkSecurity(z)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", reg.Name, err)
	}
	key := zkKey(z, auth, acl)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("discovery is closed")
	}
	if r := d.regs[key]; r != nil {
		return r, nil
	}
	r, err := zookeeper.New(zookeeper.Options{
		Servers: z.Servers, Root: z.Root, SessionTimeout: z.SessionTimeout,
		Auth: auth, ACL: acl, Logger: d.log.With("registry", reg.Name),
	})
	if err != nil {
		return nil, fmt.Errorf("registry %q: zookeeper %v: %w", reg.Name, z.Servers, err)
	}
	if auth != nil {
		// A wrong password refuses the start (or the reload), rather than
		// letting every read be refused later.
		ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
		err := r.Verify(ctx)
		cancel()
		switch {
		case generic.CodeOf(err) == generic.CodeUnavailable:
			d.log.Warn("zookeeper credentials not checked yet: no session within the time allowed; they are checked at the first session", "registry", reg.Name, "user", auth.User, "wait", verifyTimeout)
		case err != nil:
			r.Close()
			return nil, fmt.Errorf("registry %q: %w", reg.Name, err)
		}
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

// RegistryConnected implements gateway.ConnectionReporter: whether the
// session with reg's ZooKeeper is up, once a service has used it.
func (d *zkDiscovery) RegistryConnected(reg *mapping.Registry) (connected, known bool) {
	z := reg.ZooKeeper
	if z == nil {
		return false, false
	}
	auth, acl, err := zkSecurity(z)
	if err != nil {
		return false, false
	}
	d.mu.Lock()
	r := d.regs[zkKey(z, auth, acl)]
	d.mu.Unlock()
	if r == nil {
		return false, false
	}
	return r.Connected(), true
}
