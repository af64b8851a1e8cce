package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry"
)

// cluster holds one service's instances and their long-lived clients, and
// picks an instance per attempt: online filter -> tag -> zone -> balancer,
// skipping ejected instances. Balancing, retries and outlier ejection live
// here once, above the adapters.
type cluster struct {
	name string
	svc  *mapping.Service
	pool *clientPool
	key  string // the protocol's key in pool
	zone string
	log  *slog.Logger
	now  func() time.Time

	// The outlier settings, with defaults applied.
	maxFailures   int
	baseEjection  time.Duration
	maxEjectedPct int

	mu      sync.Mutex
	members map[string]*member // by address; guarded by mu
	closed  bool

	snap atomic.Pointer[snapshot]

	// static and discovered instance lists, merged into the snapshot.
	staticInst []*registry.Instance
	found      []*registry.Instance // guarded by mu
	overrides  map[string]bool      // admin online/offline by address; guarded by mu

	stop    context.CancelFunc
	stopped chan struct{}

	tracing *tracing
	// limit is the service's rate limit, nil when it has none.
	limit *limiter

	// onChange, when set, is called after each new snapshot (outside locks).
	onChange func()
	// stopHealth ends the active health checks, when they run.
	stopHealth context.CancelFunc
	// stopDefs ends the watch of published definitions, when it runs.
	stopDefs context.CancelFunc
	// defs holds the newest definitions the service's registry publishes
	// (a Dubbo metadata report's).
	defs atomic.Pointer[[][]byte]

	// qualified is the service's fully-qualified name on the wire (gRPC),
	// the one qualifier a request's method name may carry; "" when none.
	qualified string
	// known holds method names seen to exist (see Gateway.knownMethod).
	known sync.Map

	// schemas keeps the service's schema off the request path.
	schemas *schemaCache

	// wg counts the goroutines the cluster started (health checks,
	// definitions watch, retiring members); close waits for them.
	wg sync.WaitGroup
	// quit is closed when the cluster closes.
	quit      chan struct{}
	closeOnce sync.Once
}

// spawn runs f on a goroutine that close waits for.
func (c *cluster) spawn(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// member is one instance with its client and health state.
type member struct {
	inst     *registry.Instance
	client   generic.Client
	inflight atomic.Int64
	fails    atomic.Int32
	// ejectedUntil is a unix-nano time; 0 when not ejected.
	ejectedUntil atomic.Int64
	// unhealthy is set by a failed active health check.
	unhealthy atomic.Bool
	ejections atomic.Int32
}

// snapshot is an immutable view of the instances for picking.
type snapshot struct {
	all      []*registry.Instance
	byAddr   map[string]*member
	mu       sync.Mutex
	balancer map[string]registry.Balancer // by tag ("" = untagged request)
}

func newCluster(name string, svc *mapping.Service, pool *clientPool, key string, zone string, log *slog.Logger) *cluster {
	c := &cluster{
		name: name, svc: svc, pool: pool, key: key, zone: zone, log: log, now: time.Now,
		members: map[string]*member{}, overrides: map[string]bool{}, schemas: newSchemaCache(),
		quit:        make(chan struct{}),
		maxFailures: 5, baseEjection: 10 * time.Second, maxEjectedPct: 50,
	}
	if o := svc.Outlier; o != nil {
		if o.ConsecutiveFailures != 0 {
			c.maxFailures = o.ConsecutiveFailures
		}
		if o.BaseEjection > 0 {
			c.baseEjection = o.BaseEjection
		}
		if o.MaxEjectionPercent > 0 {
			c.maxEjectedPct = o.MaxEjectionPercent
		}
	}
	for _, in := range svc.Instances {
		c.staticInst = append(c.staticInst, &registry.Instance{
			Service: name, Address: in.Address, Protocol: svc.Protocol, Weight: in.Weight,
			Zone: in.Zone, Tags: in.Tags, Online: true, Metadata: in.Metadata,
		})
	}
	c.rebuild()
	return c
}

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
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
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

// healthLoop runs active health checks every interval until ctx ends: the
// protocol's own check where the client has one (generic.HealthChecker),
// a TCP connect otherwise. A failed check takes the instance out of
// picking until a check passes again.
func (c *cluster) healthLoop(ctx context.Context, hc *mapping.HealthCheck) {
	interval, timeout := hc.Interval, hc.Timeout
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s := c.snap.Load()
		var wg sync.WaitGroup
		for addr, m := range s.byAddr {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				var err error
				if h, ok := m.client.(generic.HealthChecker); ok {
					err = h.CheckHealth(cctx)
				} else {
					var conn net.Conn
					conn, err = (&net.Dialer{}).DialContext(cctx, "tcp", addr)
					if err == nil {
						conn.Close()
					}
				}
				if ctx.Err() != nil {
					return
				}
				if was := m.unhealthy.Swap(err != nil); was != (err != nil) {
					if err != nil {
						c.log.Warn("health check failed; instance out of traffic", "service", c.name, "address", addr, "err", err)
					} else {
						c.log.Info("health check passed; instance back in traffic", "service", c.name, "address", addr)
					}
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// close stops the cluster's goroutines, waits for them and releases its
// clients. It may be called more than once.
func (c *cluster) close() { c.closeOnce.Do(c.closeNow) }

func (c *cluster) closeNow() {
	close(c.quit)
	c.stopSchemas()
	if c.stopHealth != nil {
		c.stopHealth()
	}
	if c.stopDefs != nil {
		c.stopDefs()
	}
	if c.stop != nil {
		c.stop()
		<-c.stopped
	}
	c.mu.Lock()
	c.closed = true
	ms := c.members
	c.members = map[string]*member{}
	c.mu.Unlock()
	c.wg.Wait()
	for addr := range ms {
		c.pool.release(c.key, addr)
	}
	c.pool.unref(c.key)
}

// balancerFor returns the balancer over the instances a request with tag
// may use, building it once per snapshot and tag.
func (c *cluster) balancerFor(s *snapshot, tag string) (registry.Balancer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.balancer[tag]; ok {
		return b, nil
	}
	insts := registry.Route(s.all, registry.RouteRequest{Tag: tag, TagFallback: *c.svc.TagFallback, Zone: c.zone})
	var b registry.Balancer
	if len(insts) > 0 {
		var err error
		b, err = registry.NewBalancer(c.svc.Balancer, insts)
		if err != nil {
			return nil, err
		}
	}
	s.balancer[tag] = b
	return b, nil
}

// pickRequest carries what instance choice needs from the HTTP request.
type pickRequest struct {
	tag     string
	hashKey string
	retries int
	// idempotent allows a retry after the request may have reached a backend.
	idempotent bool
	// started reports whether a streaming reply already sent messages; no
	// retry after that.
	started func() bool
}

// invoke runs the call with retries on other instances.
func (c *cluster) invoke(ctx context.Context, call *generic.Call, pr pickRequest) (*generic.Result, error) {
	s := c.snap.Load()
	b, err := c.balancerFor(s, pr.tag)
	if err != nil {
		return nil, generic.Errorf(generic.CodeInternal, "balancer: %w", err)
	}
	if b == nil {
		if pr.tag != "" && len(s.all) > 0 {
			return nil, generic.Errorf(generic.CodeUnavailable, "no instance of %s carries tag %q", c.name, pr.tag)
		}
		return nil, generic.Errorf(generic.CodeUnavailable, "no instance of %s is available", c.name)
	}
	var tried []*registry.Instance
	now := c.now().UnixNano()
	info := registry.PickInfo{
		HashKey: pr.hashKey,
		Exclude: func(in *registry.Instance) bool {
			for _, t := range tried {
				if t == in {
					return true
				}
			}
			m := s.byAddr[in.Address]
			return m == nil || m.ejectedUntil.Load() > now || m.unhealthy.Load()
		},
		Load: func(in *registry.Instance) int64 {
			if m := s.byAddr[in.Address]; m != nil {
				return m.inflight.Load()
			}
			return 0
		},
	}
	var lastErr error
	for attempt := 0; attempt <= pr.retries; attempt++ {
		in := b.Pick(info)
		if in == nil {
			if attempt == 0 {
				// Every instance is ejected: try the least recently
				// ejected rather than fail outright.
				in = c.leastEjected(s, tried)
			}
			if in == nil {
				break
			}
		}
		tried = append(tried, in)
		m := s.byAddr[in.Address]
		m.inflight.Add(1)
		actx, span := c.tracing.attemptSpan(ctx, c, call, in.Address)
		res, err := m.client.Invoke(actx, call)
		endSpan(span, err)
		m.inflight.Add(-1)
		if err == nil {
			m.fails.Store(0)
			return res, nil
		}
		lastErr = err
		code := generic.CodeOf(err)
		if code == generic.CodeCanceled && ctx.Err() == nil {
			// The client, not the caller, gave up (a connection closing):
			// a connection failure.
			code = generic.CodeUnavailable
			e := *generic.AsError(err)
			e.Code = code
			lastErr = &e
		}
		if failureCounts(code) {
			c.recordFailure(s, m)
		} else {
			m.fails.Store(0)
		}
		if ctx.Err() != nil || !retryable(code, pr.idempotent) || pr.started != nil && pr.started() {
			break
		}
	}
	if lastErr == nil {
		return nil, generic.Errorf(generic.CodeUnavailable, "no healthy instance of %s", c.name)
	}
	return nil, lastErr
}

func (c *cluster) leastEjected(s *snapshot, tried []*registry.Instance) *registry.Instance {
	var best *member
	for _, in := range s.all {
		m := s.byAddr[in.Address]
		if m == nil || !in.Online {
			continue
		}
		if best == nil || m.ejectedUntil.Load() < best.ejectedUntil.Load() {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	return best.inst
}

// failureCounts: the codes that count toward outlier ejection.
func failureCounts(code generic.Code) bool {
	switch code {
	case generic.CodeUnavailable, generic.CodeBackendError, generic.CodeInternal, generic.CodeUnknown, generic.CodeDeadlineExceeded:
		return true
	}
	return false
}

// retryable: a connection failure (UNAVAILABLE) never reached the backend
// and may be retried; anything else only when the route is idempotent.
func retryable(code generic.Code, idempotent bool) bool {
	switch code {
	case generic.CodeUnavailable:
		return true
	case generic.CodeDeadlineExceeded, generic.CodeBackendError, generic.CodeInternal, generic.CodeUnknown, generic.CodeAborted:
		return idempotent
	}
	return false
}

func (c *cluster) recordFailure(s *snapshot, m *member) {
	if c.maxFailures < 0 {
		return
	}
	if int(m.fails.Add(1)) < c.maxFailures {
		return
	}
	now := c.now()
	ejected := 0
	for _, mm := range s.byAddr {
		if mm.ejectedUntil.Load() > now.UnixNano() {
			ejected++
		}
	}
	if (ejected+1)*100 > c.maxEjectedPct*len(s.byAddr) {
		return
	}
	n := m.ejections.Add(1)
	d := c.baseEjection * time.Duration(n)
	if d > 10*c.baseEjection {
		d = 10 * c.baseEjection
	}
	m.ejectedUntil.Store(now.Add(d).UnixNano())
	m.fails.Store(0)
	c.log.Warn("instance ejected", "service", c.name, "address", m.inst.Address, "for", d.String())
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
