package gateway

// The instance set: static and discovered instances merged with admin
// overrides, dialed and published as immutable snapshots; the admin view.

import (
	"context"
	"fmt"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// watch follows a Watcher until ctx ends, updating the instance set.
func (c *cluster) watch(ctx context.Context, w registry.Watcher) {
	ctx, c.stop = context.WithCancel(ctx)
	c.stopped = make(chan struct{})
	go func() {
		defer close(c.stopped)
		defer w.Stop()
		// A registry that does not answer at start-up must not hold up the
		// gateway: it serves the static instances and says so.
		first := time.AfterFunc(3*time.Second, func() {
			c.log.Warn("registry not answering; serving static instances until it does", "service", c.name, "static", len(c.staticInst))
		})
		defer first.Stop()
		for {
			list, err := w.Next(ctx)
			first.Stop()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log.Warn("discovery watch failed; keeping the last instance set", "service", c.name, "err", err)
				msg := err.Error()
				c.discoveryErr.Store(&msg)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
			c.discoveryErr.Store(nil)
			c.mu.Lock()
			c.found = list
			c.mu.Unlock()
			c.rebuild()
			c.log.Info("instances changed", "service", c.name, "count", len(list))
		}
	}()
}

// rebuild merges static and discovered instances, applies admin
// overrides, dials new instances, closes removed ones and publishes a new
// snapshot.
func (c *cluster) rebuild() {
	if !c.rebuildLocked() {
		return
	}
	c.refreshSchema()
	if c.onChange != nil {
		c.onChange()
	}
}

func (c *cluster) rebuildLocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	seen := map[string]bool{}
	var all []*registry.Instance
	add := func(in *registry.Instance) {
		if seen[in.Address] {
			return
		}
		seen[in.Address] = true
		if on, ok := c.overrides[in.Address]; ok && on != in.Online {
			in = in.Clone()
			in.Online = on
		}
		all = append(all, in)
	}
	for _, in := range c.staticInst {
		add(in)
	}
	for _, in := range c.found {
		add(in)
	}
	byAddr := make(map[string]*member, len(all))
	for _, in := range all {
		m := c.members[in.Address]
		if m == nil {
			cl, err := c.pool.acquire(c.key, generic.Target{Address: in.Address, Metadata: in.Metadata})
			if err != nil {
				c.log.Warn("dial failed", "service", c.name, "address", in.Address, "err", err)
				continue
			}
			m = &member{client: cl}
			c.members[in.Address] = m
		}
		m.inst = in
		byAddr[in.Address] = m
	}
	for addr, m := range c.members {
		if byAddr[addr] == nil {
			delete(c.members, addr)
			c.spawn(func() { c.retire(m) })
		}
	}
	c.snap.Store(&snapshot{all: all, byAddr: byAddr, balancer: map[string]registry.Balancer{}})
	return true
}

// retire closes a removed member's client once the calls in flight on it
// have finished (or after the service timeout), so that a deregistered
// instance's last requests are not cut off.
func (c *cluster) retire(m *member) {
	deadline := c.now().Add(c.svc.Timeout + time.Second)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for m.inflight.Load() > 0 && c.now().Before(deadline) {
		select {
		case <-c.quit:
			deadline = time.Time{}
		case <-t.C:
		}
	}
	c.pool.release(c.key, m.inst.Address)
}

// setOnline records an admin override for one address and republishes.
func (c *cluster) setOnline(addr string, online bool) bool {
	c.mu.Lock()
	_, ok := c.members[addr]
	if ok {
		c.overrides[addr] = online
	}
	c.mu.Unlock()
	if ok {
		c.rebuild()
	}
	return ok
}

// addStatic adds or removes an instance at run time (admin API).
func (c *cluster) addStatic(in *registry.Instance) {
	c.mu.Lock()
	out := c.staticInst[:0:0]
	for _, s := range c.staticInst {
		if s.Address != in.Address {
			out = append(out, s)
		}
	}
	c.staticInst = append(out, in)
	c.mu.Unlock()
	c.rebuild()
}

func (c *cluster) removeStatic(addr string) bool {
	c.mu.Lock()
	out := c.staticInst[:0:0]
	for _, s := range c.staticInst {
		if s.Address != addr {
			out = append(out, s)
		}
	}
	removed := len(out) != len(c.staticInst)
	c.staticInst = out
	c.mu.Unlock()
	c.rebuild()
	return removed
}

// instances lists the current instances with their state, for the admin API.
func (c *cluster) instances() []instanceState {
	s := c.snap.Load()
	now := c.now().UnixNano()
	out := make([]instanceState, 0, len(s.all))
	for _, in := range s.all {
		st := instanceState{Instance: in, State: "healthy"}
		if m := s.byAddr[in.Address]; m != nil {
			st.Inflight = m.inflight.Load()
			if m.ejectedUntil.Load() > now {
				st.State = "ejected"
			}
			if m.unhealthy.Load() {
				st.State = "unhealthy"
			}
		} else {
			st.State = "unreachable"
		}
		if !in.Online {
			st.State = "offline"
		}
		out = append(out, st)
	}
	return out
}

type instanceState struct {
	*registry.Instance
	State    string `json:"state"`
	Inflight int64  `json:"inflight"`
}

func (s instanceState) String() string { return fmt.Sprintf("%s(%s)", s.Address, s.State) }
