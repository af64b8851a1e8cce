// Package static is a registry.Discovery over a fixed set of instances per
// service, changeable at run time with Set (the admin API adds and removes
// instances through it).
package static

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// Discovery holds service -> instances. It is safe for concurrent use.
type Discovery struct {
	mu       sync.Mutex
	services map[string]*entry
}

type entry struct {
	instances []*registry.Instance
	version   uint64
	changed   chan struct{} // closed and replaced on every Set
}

// New returns a Discovery holding a copy of services (service name ->
// instances). Each instance's Service is set to its key.
func New(services map[string][]*registry.Instance) *Discovery {
	d := &Discovery{services: make(map[string]*entry, len(services))}
	for name, ins := range services {
		d.services[name] = &entry{instances: prepare(name, ins), version: 1, changed: make(chan struct{})}
	}
	return d
}

func prepare(service string, ins []*registry.Instance) []*registry.Instance {
	out := make([]*registry.Instance, 0, len(ins))
	for _, in := range ins {
		if in == nil {
			continue
		}
		c := in.Clone()
		c.Service = service
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *registry.Instance) int { return strings.Compare(a.Address, b.Address) })
	return out
}

func (d *Discovery) entry(service string) *entry {
	e := d.services[service]
	if e == nil {
		e = &entry{changed: make(chan struct{})}
		d.services[service] = e
	}
	return e
}

// Set replaces service's instances and wakes its watchers. An empty or nil
// list leaves the service with no instances.
func (d *Discovery) Set(service string, instances []*registry.Instance) {
	p := prepare(service, instances)
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.entry(service)
	e.instances = p
	e.version++
	close(e.changed)
	e.changed = make(chan struct{})
}

// Instances returns service's current instances (shared: read-only).
func (d *Discovery) Instances(service string) []*registry.Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.services[service]; e != nil {
		return e.instances
	}
	return nil
}

// Services returns the names of the services held, sorted.
func (d *Discovery) Services() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.services))
	for name := range d.services {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Watch implements registry.Discovery. Watching an unknown service is
// allowed: its set is empty until Set adds instances.
func (d *Discovery) Watch(ctx context.Context, service string) (registry.Watcher, error) {
	if service == "" {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "static discovery: want a service name, got \"\"")
	}
	d.mu.Lock()
	d.entry(service)
	d.mu.Unlock()
	return &watcher{d: d, service: service, stop: make(chan struct{})}, nil
}

type watcher struct {
	d        *Discovery
	service  string
	seen     uint64 // version last returned; 0 = nothing yet
	started  bool
	stopOnce sync.Once
	stop     chan struct{}
}

// Next implements registry.Watcher.
func (w *watcher) Next(ctx context.Context) ([]*registry.Instance, error) {
	for {
		w.d.mu.Lock()
		e := w.d.entry(w.service)
		ins, v, ch := e.instances, e.version, e.changed
		w.d.mu.Unlock()
		if !w.started || v != w.seen {
			w.started, w.seen = true, v
			return ins, nil
		}
		select {
		case <-ch:
		case <-w.stop:
			return nil, generic.Errorf(generic.CodeCanceled, "static discovery: watcher of %q stopped: %w", w.service, registry.ErrWatcherStopped)
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

var _ registry.Discovery = (*Discovery)(nil)
