// Package zookeeper is a registry.Discovery and registry.Registrar over
// ZooKeeper. Instances live at <root>/services/<service>/instances/<host:port>
// as ephemeral nodes whose data is the Instance JSON. WatchDubbo reads Dubbo
// providers registered the Dubbo way, /dubbo/<interface>/providers/<url>.
// A Registry can authenticate as a digest principal and put an ACL on the
// nodes it creates (Options.Auth, Options.ACL; see auth.go).
package zookeeper

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

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
	// process dies its instances disappear (the server clamps it to its
	// own bounds, by default 4s..40s). Default 10s.
	SessionTimeout time.Duration
	// Logger receives connection and watch events. Nil discards.
	Logger *slog.Logger
	// Auth is the digest principal the session authenticates as, on
	// every connection and new session. Nil: none (world:anyone). Before
	// its first request the registry checks the password against the
	// ACL of Root (see Verify): a wrong one fails every request.
	Auth *Auth
	// ACL is put on every node the registry creates, the parents made on
	// the way included. Empty: ZooKeeper's open ACL (world:anyone, all
	// permissions), which New logs.
	ACL []ACL
	// RecheckInterval is how often watches re-read the nodes they follow
	// without a watch. ZooKeeper drops, silently and for good, the watch
	// events of a node whose ACL stops letting this principal read it;
	// the re-read notices (and reports) that, and picks the watch up again
	// once the read is allowed. Default 30s.
	RecheckInterval time.Duration
}

// DefaultRecheckInterval is Options.RecheckInterval's default.
const DefaultRecheckInterval = 30 * time.Second

// Registry is one ZooKeeper session used for discovery and registration.
// New returns at once; the connection is made (and remade after outages
// and session expiry) in the background. Safe for concurrent use.
type Registry struct {
	root string
	log  *slog.Logger
	conn *zk.Conn
	acl  []zk.ACL
	auth *Auth // nil: no authentication
	// recheck is Options.RecheckInterval, default applied.
	recheck time.Duration

	// authed is closed once requests may be made (see ready); authErr,
	// written before, is the verdict on the credentials.
	authed  chan struct{}
	authErr error

	// ensureMu serialises writes of registered nodes, so that a stale
	// re-creation never overwrites newer data.
	ensureMu sync.Mutex

	mu         sync.Mutex
	registered map[string][]byte // node path -> data, re-created after session expiry
	sessionCh  chan struct{}     // closed and replaced whenever a session is (re)established
	closed     bool

	kick      chan struct{} // asks the keeper to check the registered nodes
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New connects to ZooKeeper in the background and returns at once, even
// when no server is reachable: watchers and registrations then wait (and
// Connected reports false) until a session is established.
func New(opts Options) (*Registry, error) {
	if len(opts.Servers) == 0 {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: servers: want at least one host:port, got none")
	}
	for i, s := range opts.Servers {
		if s == "" || strings.ContainsAny(s, " /") {
			return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: servers[%d]: want host:port, got %q", i, s)
		}
	}
	root := opts.Root
	if root == "" {
		root = DefaultRoot
	}
	if !strings.HasPrefix(root, "/") || (len(root) > 1 && strings.HasSuffix(root, "/")) || strings.Contains(root, "//") {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: root: want an absolute path like /rpcbridge, got %q", opts.Root)
	}
	if root == "/" {
		root = ""
	}
	timeout := opts.SessionTimeout
	if timeout <= 0 {
		timeout = DefaultSessionTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var auth *Auth
	if opts.Auth != nil {
		if err := checkAuth(opts.Auth); err != nil {
			return nil, err
		}
		a := *opts.Auth
		auth = &a
	}
	acl, err := buildACL(opts.ACL, auth)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		root:       root,
		log:        log,
		acl:        acl,
		auth:       auth,
		recheck:    cmp.Or(max(opts.RecheckInterval, 0), DefaultRecheckInterval),
		authed:     make(chan struct{}),
		registered: make(map[string][]byte),
		sessionCh:  make(chan struct{}),
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	conn, events, err := zk.Connect(opts.Servers, timeout,
		zk.WithLogger(zkLogger{log}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(r.onEvent))
	if err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: servers %v: %w", opts.Servers, err)
	}
	r.conn = conn
	if len(opts.ACL) == 0 {
		log.Info("zookeeper: no acl configured: the nodes this process creates are open to everyone (world:anyone, all permissions)", "root", r.rootPath(), "principal", r.Principal())
	} else {
		log.Info("zookeeper: nodes this process creates get the configured acl", "root", r.rootPath(), "principal", r.Principal(), "acl", describeACL(acl))
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		// The event channel is not needed (the callback sees every event)
		// but is drained so that nothing queues up behind it.
		for range events {
		}
	}()
	go r.keeper()
	if auth != nil {
		r.wg.Add(1)
		go r.authenticate()
	} else {
		close(r.authed)
	}
	return r, nil
}

// zkLogger sends the library's log lines to slog at debug level.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zookeeper: " + fmt.Sprintf(format, args...))
}

// onEvent runs on the library's connection goroutine: it must not block or
// call back into the connection.
func (r *Registry) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		r.log.Info("zookeeper: session established", "server", ev.Server)
		r.mu.Lock()
		close(r.sessionCh)
		r.sessionCh = make(chan struct{})
		r.mu.Unlock()
		select {
		case r.kick <- struct{}{}:
		default:
		}
	case zk.StateExpired:
		r.log.Warn("zookeeper: session expired; a new session will re-create registered nodes and re-arm watches", "server", ev.Server)
	case zk.StateDisconnected:
		r.log.Warn("zookeeper: disconnected", "server", ev.Server)
	}
}

// session returns the channel closed at the next session establishment.
func (r *Registry) session() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessionCh
}

// Connected reports whether the registry has a live ZooKeeper session.
func (r *Registry) Connected() bool {
	return r.conn.State() == zk.StateHasSession
}

// Close ends the session (the server removes this registry's ephemeral
// nodes at once) and stops all watchers. Close is idempotent.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.done)
		r.conn.Close()
		r.wg.Wait()
	})
	return nil
}

// isConnErr reports errors that mean "ZooKeeper is not reachable right
// now" rather than a problem with the request.
func isConnErr(err error) bool {
	return errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrConnectionClosed) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrSessionMoved) ||
		errors.Is(err, zk.ErrClosing)
}

// call runs f (a blocking ZooKeeper request) once the registry is ready
// (see ready) but returns early when ctx is done; f then finishes in the
// background.
func (r *Registry) call(ctx context.Context, f func() error) error {
	if err := r.ready(ctx); err != nil {
		return err
	}
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Registry) servicePath(service string) string {
	return r.root + "/services/" + service
}

func (r *Registry) instancesPath(service string) string {
	return r.servicePath(service) + "/instances"
}

// validName checks a string used as one path segment.
func validName(field, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return generic.Errorf(generic.CodeInvalidArgument, "zookeeper: %s: want a non-empty name without '/', got %q", field, s)
	}
	return nil
}

// ---- registration ----

// Register implements registry.Registrar: it creates (or updates) the
// ephemeral node <root>/services/<service>/instances/<address> with in as
// JSON and returns once the node exists. While ZooKeeper is unreachable it
// retries until ctx is done. The node is re-created after session expiry
// until Deregister or Close.
func (r *Registry) Register(ctx context.Context, in *registry.Instance) error {
	if in == nil {
		return generic.Errorf(generic.CodeInvalidArgument, "zookeeper: register: want an instance, got nil")
	}
	if err := validName("service", in.Service); err != nil {
		return err
	}
	if err := validName("address", in.Address); err != nil {
		return err
	}
	data, err := json.Marshal(in)
	if err != nil {
		return generic.Errorf(generic.CodeInvalidArgument, "zookeeper: register %s %s: encode instance: %w", in.Service, in.Address, err)
	}
	path := r.instancesPath(in.Service) + "/" + in.Address
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return generic.Errorf(generic.CodeFailedPrecondition, "zookeeper: register %s %s: registry closed", in.Service, in.Address)
	}
	old, had := r.registered[path]
	r.registered[path] = data
	r.mu.Unlock()

	backoff := 50 * time.Millisecond
	for {
		err := r.call(ctx, func() error { return r.ensureRegistered(path) })
		if err == nil {
			return nil
		}
		if !isConnErr(err) || ctx.Err() != nil {
			r.mu.Lock()
			if cur, ok := r.registered[path]; ok && bytes.Equal(cur, data) {
				if had {
					r.registered[path] = old
				} else {
					delete(r.registered, path)
				}
			}
			r.mu.Unlock()
			code := generic.CodeUnavailable
			switch {
			case isConnErr(err) || ctx.Err() != nil:
			case generic.CodeOf(err) == generic.CodePermissionDenied:
				code = generic.CodePermissionDenied
			default:
				code = generic.CodeInternal
			}
			return &generic.Error{Code: code, Message: fmt.Sprintf("zookeeper: register %s %s failed", in.Service, in.Address), Err: err}
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		case <-r.session():
		}
		backoff = min(2*backoff, time.Second)
	}
}

// ensureRegistered writes path's current registered data (nothing when it
// was deregistered meanwhile).
func (r *Registry) ensureRegistered(path string) error {
	r.ensureMu.Lock()
	defer r.ensureMu.Unlock()
	r.mu.Lock()
	data, ok := r.registered[path]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	return r.ensure(path, data)
}

// ensure makes path an ephemeral node of the current session holding data.
// A node at path owned by another (stale) session is replaced.
func (r *Registry) ensure(path string, data []byte) error {
	for range 5 {
		_, err := r.conn.Create(path, data, zk.FlagEphemeral, r.acl)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := r.createParents(path); err != nil {
				return err
			}
			continue
		case !errors.Is(err, zk.ErrNodeExists):
			return r.refused("create", path, err)
		}
		got, stat, err := r.conn.Get(path)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return r.refused("read", path, err)
		}
		if stat.EphemeralOwner == r.conn.SessionID() {
			if bytes.Equal(got, data) {
				return nil
			}
			if _, err := r.conn.Set(path, data, stat.Version); err != nil && !errors.Is(err, zk.ErrBadVersion) {
				return r.refused("change", path, err)
			}
			continue
		}
		r.log.Warn("zookeeper: replacing a node left by another session", "path", path, "owner", stat.EphemeralOwner)
		if err := r.conn.Delete(path, stat.Version); err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
			return r.refused("delete", path, err)
		}
	}
	return fmt.Errorf("node %s kept changing while being registered", path)
}

// createParents creates the missing persistent ancestors of path, with
// the registry's ACL. ZooKeeper checks the create permission on the
// parent before it looks for the node, so an ancestor that exists under a
// parent this principal may not create in is refused (NoAuth): that is
// fine when the ancestor exists.
func (r *Registry) createParents(path string) error {
	for i := 1; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		_, err := r.conn.Create(path[:i], nil, 0, r.acl)
		if errors.Is(err, zk.ErrNoAuth) {
			if ok, _, xerr := r.conn.Exists(path[:i]); xerr == nil && ok {
				continue
			}
		}
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return r.refused("create", path[:i], err)
		}
	}
	return nil
}

// keeper re-creates registered nodes whenever a session is established
// (after an outage the nodes usually still exist; after expiry they are
// gone).
func (r *Registry) keeper() {
	defer r.wg.Done()
	var retry <-chan time.Time
	failed := map[string]string{} // path -> the error last logged for it
	for {
		select {
		case <-r.done:
			return
		case <-r.kick:
		case <-retry:
		}
		retry = nil
		select {
		case <-r.authed:
		default:
			continue // authenticate kicks once requests may be made
		}
		if r.authErr != nil {
			continue // logged by authenticate; every request fails with it
		}
		r.mu.Lock()
		paths := make([]string, 0, len(r.registered))
		for p := range r.registered {
			paths = append(paths, p)
		}
		r.mu.Unlock()
		for _, p := range paths {
			if err := r.ensureRegistered(p); err != nil {
				// A refusal stays until the ACL changes: said once, then
				// retried quietly.
				if msg := err.Error(); failed[p] != msg {
					failed[p] = msg
					r.log.Warn("zookeeper: re-registering failed; will retry", "path", p, "principal", r.Principal(), "err", err)
				} else {
					r.log.Debug("zookeeper: re-registering failed again", "path", p, "err", err)
				}
				retry = time.After(time.Second)
			} else {
				delete(failed, p)
				r.log.Debug("zookeeper: registered node present", "path", p)
			}
		}
	}
}

// Deregister implements registry.Registrar: it deletes the instance's node
// and stops re-creating it.
func (r *Registry) Deregister(ctx context.Context, in *registry.Instance) error {
	if in == nil {
		return generic.Errorf(generic.CodeInvalidArgument, "zookeeper: deregister: want an instance, got nil")
	}
	if err := validName("service", in.Service); err != nil {
		return err
	}
	if err := validName("address", in.Address); err != nil {
		return err
	}
	path := r.instancesPath(in.Service) + "/" + in.Address
	r.mu.Lock()
	delete(r.registered, path)
	r.mu.Unlock()
	err := r.call(ctx, func() error {
		r.ensureMu.Lock()
		defer r.ensureMu.Unlock()
		_, stat, err := r.conn.Exists(path)
		if err != nil || stat == nil {
			return err
		}
		if stat.EphemeralOwner != 0 && stat.EphemeralOwner != r.conn.SessionID() {
			return nil // another process's node: not ours to delete
		}
		return r.refused("delete", path, r.conn.Delete(path, -1))
	})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		code := generic.CodeUnavailable
		if generic.CodeOf(err) == generic.CodePermissionDenied {
			code = generic.CodePermissionDenied
		}
		return &generic.Error{Code: code, Message: fmt.Sprintf("zookeeper: deregister %s %s failed", in.Service, in.Address), Err: err}
	}
	return nil
}

// Services lists the service names under <root>/services, sorted (SDK
// backends report their APIs there). No services yet: an empty list.
func (r *Registry) Services(ctx context.Context) ([]string, error) {
	var names []string
	err := r.call(ctx, func() error {
		var err error
		names, _, err = r.conn.Children(r.root + "/services")
		return r.refused("list", r.root+"/services", err)
	})
	if errors.Is(err, zk.ErrNoNode) {
		return []string{}, nil
	}
	if err != nil {
		code := generic.CodeUnavailable
		if generic.CodeOf(err) == generic.CodePermissionDenied {
			code = generic.CodePermissionDenied
		}
		return nil, &generic.Error{Code: code, Message: "zookeeper: list services failed", Err: err}
	}
	slices.Sort(names)
	return names, nil
}

// ---- discovery ----

// Watch implements registry.Discovery for <root>/services/<service>/instances.
// A service that does not exist yet is watched until it appears. The first
// Next waits until the first listing succeeds (immediate when ZooKeeper is
// up; call it with a deadline at start-up). While ZooKeeper is unreachable
// Next keeps the last set. Nodes with malformed data are logged and
// skipped.
func (r *Registry) Watch(ctx context.Context, service string) (registry.Watcher, error) {
	if err := validName("service", service); err != nil {
		return nil, err
	}
	return r.startWatcher(r.instancesPath(service), service, nil), nil
}

// WatchDubbo watches the providers of a Dubbo interface
// (/dubbo/<iface>/providers) whose group and version equal the given ones
// (empty matches empty or absent; "*" matches any). Instances have
// Protocol "dubbo" or "tri" and Service iface.
func (r *Registry) WatchDubbo(ctx context.Context, iface, group, version string) (registry.Watcher, error) {
	if err := validName("interface", iface); err != nil {
		return nil, err
	}
	return r.startWatcher("/dubbo/"+iface+"/providers", iface, &dubboFilter{group: group, version: version}), nil
}

var (
	_ registry.Discovery = (*Registry)(nil)
	_ registry.Registrar = (*Registry)(nil)
)
