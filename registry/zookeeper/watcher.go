package zookeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// watcher follows the children of one path. In instance mode each child's
// data is the Instance JSON (and data changes are watched too); in Dubbo
// mode each child's name is a provider URL.
type watcher struct {
	r       *Registry
	path    string
	service string
	dubbo   *dubboFilter // nil: instance mode
	log     *slog.Logger

	mu       sync.Mutex
	snap     []*registry.Instance
	version  uint64 // 0 until the first listing succeeded
	changed  chan struct{}
	returned uint64 // version last returned by Next
	// failure is the last problem reading the watched nodes that is not
	// an outage (a refused read, say); failures counts new ones and
	// failReturned is the count Next last reported.
	failure      error
	failures     uint64
	failReturned uint64

	stopOnce sync.Once
	stop     chan struct{}

	// Loop state, owned by the loop goroutine.
	children      map[string]*child
	childrenArmed bool
	awaitingPath  bool // the armed watch is an exists watch: the path was missing
	childrenGen   uint64
	events        chan nodeEvent
	lastFailure   string // the failure last reported, "" after a success
}

type child struct {
	raw   []byte
	inst  *registry.Instance // nil: malformed or filtered out
	armed bool               // a data watch is pending
	gen   uint64             // generation of the pending data watch
}

type nodeEvent struct {
	child string // "" for the children (or exists) watch
	gen   uint64 // generation of the watch; stale ones are ignored
	ev    zk.Event
}

func (r *Registry) startWatcher(path, service string, dubbo *dubboFilter) *watcher {
	w := &watcher{
		r: r, path: path, service: service, dubbo: dubbo,
		log:      r.log.With("path", path),
		changed:  make(chan struct{}),
		stop:     make(chan struct{}),
		children: make(map[string]*child),
		events:   make(chan nodeEvent, 16),
	}
	go w.loop()
	return w
}

// Next implements registry.Watcher. Besides the instance sets, it returns
// each new problem reading the watched nodes that an outage does not
// explain (ZooKeeper refusing this principal a read names the node and
// the principal) once, as an error; the last set stays in force and the
// watch goes on, so the caller keeps calling Next.
func (w *watcher) Next(ctx context.Context) ([]*registry.Instance, error) {
	for {
		w.mu.Lock()
		v, snap, ch := w.version, w.snap, w.changed
		if v != 0 && v != w.returned {
			w.returned = v
			w.mu.Unlock()
			return snap, nil
		}
		if w.failures != w.failReturned {
			w.failReturned = w.failures
			err := w.failure
			w.mu.Unlock()
			return nil, err
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-w.stop:
			return nil, generic.Errorf(generic.CodeCanceled, "zookeeper: watcher of %s stopped: %w", w.path, registry.ErrWatcherStopped)
		case <-w.r.done:
			return nil, generic.Errorf(generic.CodeCanceled, "zookeeper: registry closed, watcher of %s stopped: %w", w.path, registry.ErrWatcherStopped)
		case <-ctx.Done():
			return nil, generic.AsError(ctx.Err())
		}
	}
}

// Stop implements registry.Watcher.
func (w *watcher) Stop() error {
	w.stopOnce.Do(func() { close(w.stop) })
	return nil
}

func (w *watcher) stopped() bool {
	select {
	case <-w.stop:
		return true
	case <-w.r.done:
		return true
	default:
		return false
	}
}

// forward hands one one-shot ZooKeeper watch to the loop.
func (w *watcher) forward(ch <-chan zk.Event, name string, gen uint64) {
	go func() {
		select {
		case ev, ok := <-ch:
			if !ok {
				ev = zk.Event{Type: zk.EventNotWatching, Err: zk.ErrClosing}
			}
			select {
			case w.events <- nodeEvent{child: name, gen: gen, ev: ev}:
			case <-w.stop:
			case <-w.r.done:
			}
		case <-w.stop:
		case <-w.r.done:
		}
	}()
}

func (w *watcher) loop() {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 2 * time.Second
	// Nothing is read before the credentials are in (see Registry.ready);
	// credentials ZooKeeper's ACLs refuse end the watch, said once.
	select {
	case <-w.r.authed:
	case <-w.stop:
		return
	case <-w.r.done:
		return
	}
	if err := w.r.authErr; err != nil {
		w.fail(err)
		return
	}
	backoff := minBackoff
	var retry <-chan time.Time
	recheck := time.NewTicker(w.r.recheck)
	defer recheck.Stop()
	for {
		if w.stopped() {
			return
		}
		sess := w.r.session()
		if err := w.sync(); err != nil {
			if w.stopped() {
				return
			}
			if isConnErr(err) {
				w.log.Debug("zookeeper: watch waiting for ZooKeeper; serving the last snapshot", "err", err)
			} else {
				w.fail(err)
			}
			retry = time.After(backoff)
			backoff = min(2*backoff, maxBackoff)
		} else {
			backoff, retry = minBackoff, nil
			w.lastFailure = ""
		}
		select {
		case <-w.stop:
			return
		case <-w.r.done:
			return
		case ne := <-w.events:
			w.handle(ne)
			// Take whatever else is queued before listing again.
			for more := true; more; {
				select {
				case ne := <-w.events:
					w.handle(ne)
				default:
					more = false
				}
			}
		case <-retry:
		case <-sess:
		case <-recheck.C:
			w.recheck()
		}
	}
}

// recheck reads the watched nodes without watches and marks for a new
// listing what the watches should have reported but did not: ZooKeeper
// drops, silently and for good, the watch events of a node whose ACL no
// longer lets this principal read it, so a revoked read (or one given
// back) shows only here. The listing that follows reports a refusal.
func (w *watcher) recheck() {
	if !w.childrenArmed {
		return // a listing is due anyway
	}
	conn := w.r.conn
	names, _, err := conn.Children(w.path)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		if !w.awaitingPath {
			w.childrenArmed = false
		}
		return
	case err != nil:
		if !isConnErr(err) {
			w.childrenArmed = false
		}
		return
	}
	if w.awaitingPath || len(names) != len(w.children) {
		w.childrenArmed = false
		return
	}
	for _, n := range names {
		if w.children[n] == nil {
			w.childrenArmed = false
			return
		}
	}
	if w.dubbo != nil {
		return
	}
	for name, c := range w.children {
		if !c.armed {
			continue
		}
		data, _, err := conn.Get(w.path + "/" + name)
		if errors.Is(err, zk.ErrNoAuth) || (err == nil && !bytes.Equal(data, c.raw)) {
			c.armed = false
		}
	}
}

// fail reports a problem that is not an outage: logged and handed to
// Next when it differs from the one last reported (a refusal repeats on
// every retry until the ACL changes), at debug level otherwise.
func (w *watcher) fail(err error) {
	if err.Error() == w.lastFailure {
		w.log.Debug("zookeeper: watch failed again; serving the last snapshot", "err", err)
		return
	}
	w.lastFailure = err.Error()
	w.log.Warn("zookeeper: watch failed; serving the last snapshot and retrying", "principal", w.r.Principal(), "err", err)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failure = err
	w.failures++
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *watcher) handle(ne nodeEvent) {
	if ne.child == "" {
		if ne.gen == w.childrenGen {
			w.childrenArmed = false
		}
		return
	}
	c := w.children[ne.child]
	if c == nil || ne.gen != c.gen {
		return
	}
	c.armed = false
	if ne.ev.Type == zk.EventNodeDeleted {
		delete(w.children, ne.child)
	}
}

// sync re-arms the watches that fired and publishes the resulting set.
// It returns an error when ZooKeeper could not be read; the snapshot is
// then left as it was.
func (w *watcher) sync() error {
	conn := w.r.conn
	for !w.childrenArmed {
		names, _, ch, err := conn.ChildrenW(w.path)
		if errors.Is(err, zk.ErrNoNode) {
			ok, _, ech, err := conn.ExistsW(w.path)
			if err != nil {
				return err
			}
			w.childrenGen++
			w.forward(ech, "", w.childrenGen)
			w.childrenArmed, w.awaitingPath = true, true
			if ok {
				// Created between the two calls: list it (the exists
				// watch will fire once more, harmlessly).
				w.childrenArmed = false
				continue
			}
			clear(w.children)
			break
		}
		if err != nil {
			return w.r.refused("list", w.path, err)
		}
		w.childrenGen++
		w.forward(ch, "", w.childrenGen)
		w.childrenArmed, w.awaitingPath = true, false
		keep := make(map[string]bool, len(names))
		for _, n := range names {
			keep[n] = true
			if w.children[n] == nil {
				w.children[n] = &child{}
				if w.dubbo != nil {
					w.children[n].inst = w.parseDubbo(n)
				}
			}
		}
		for n := range w.children {
			if !keep[n] {
				delete(w.children, n)
			}
		}
	}
	// A node this principal may not read keeps what was read of it
	// before (nothing when new) and is read again at the next retry; the
	// others are published all the same.
	var refused error
	if w.dubbo == nil {
		for name, c := range w.children {
			if c.armed {
				continue
			}
			data, _, ch, err := conn.GetW(w.path + "/" + name)
			if errors.Is(err, zk.ErrNoNode) {
				delete(w.children, name) // the children watch reports it too
				continue
			}
			if errors.Is(err, zk.ErrNoAuth) {
				// What was read before stays in force.
				refused = w.r.refused("read", w.path+"/"+name, err)
				continue
			}
			if err != nil {
				return err
			}
			c.gen++
			w.forward(ch, name, c.gen)
			c.armed = true
			if c.inst == nil || !bytes.Equal(c.raw, data) {
				c.raw = data
				c.inst = w.parseInstance(name, data)
			}
		}
	}
	w.publish()
	return refused
}

// parseInstance decodes one node's data; malformed data is logged and the
// node skipped.
func (w *watcher) parseInstance(name string, data []byte) *registry.Instance {
	in := new(registry.Instance)
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(in); err != nil {
		w.log.Warn("zookeeper: skipping instance node with malformed data", "node", name, "err", err, "data", truncate(data))
		return nil
	}
	if in.Address == "" {
		in.Address = name
	}
	if in.Address != name {
		w.log.Warn("zookeeper: instance node name and address differ; using the address", "node", name, "address", in.Address)
	}
	in.Service = w.service
	return in
}

func (w *watcher) parseDubbo(name string) *registry.Instance {
	in, err := ParseDubboURL(name)
	if err != nil {
		w.log.Warn("zookeeper: skipping malformed Dubbo provider URL", "node", name, "err", err)
		return nil
	}
	if !w.dubbo.match(in) {
		return nil
	}
	in.Service = w.service
	return in
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// publish replaces the snapshot when the instance set changed.
func (w *watcher) publish() {
	names := make([]string, 0, len(w.children))
	for n, c := range w.children {
		if c.inst != nil {
			names = append(names, n)
		}
	}
	// Sorted by address (then node name), so that sets compare stably.
	slices.SortFunc(names, func(a, b string) int {
		if c := strings.Compare(w.children[a].inst.Address, w.children[b].inst.Address); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	list := make([]*registry.Instance, len(names))
	for i, n := range names {
		list[i] = w.children[n].inst
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.version != 0 && slices.Equal(list, w.snap) {
		return
	}
	w.snap = list
	w.version++
	close(w.changed)
	w.changed = make(chan struct{})
	w.log.Debug("zookeeper: instance set changed", "instances", len(list), "version", w.version)
}

// dubboFilter selects providers by group and version.
type dubboFilter struct {
	group, version string
}

func (f *dubboFilter) match(in *registry.Instance) bool {
	return matchParam(f.group, in.Metadata["group"]) && matchParam(f.version, in.Metadata["version"])
}

func matchParam(want, got string) bool {
	return want == "*" || want == got
}
