package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"

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

	// Traffic control (traffic.go); nil or 0 when not configured.
	breaker *breaker
	budget  *retryBudget
	split   *splitter
	stale   *staleCache
	maxConc int64
	active  atomic.Int64 // calls in flight, counted when maxConc > 0
	retried prometheus.Counter
	// discoveryErr is the discovery watch's last error (nil once it
	// delivers again), for /admin/services.
	discoveryErr atomic.Pointer[string]
	// Counted for /metrics (collector.go).
	requests       atomic.Int64 // calls in flight through the gateway
	ejectionsTotal atomic.Int64
	schemaOK       atomic.Int64
	schemaErr      atomic.Int64
	backendDur     prometheus.Observer
	overBudget     prometheus.Counter

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
	// spanNames holds "<service>/<method>" for known methods: span names
	// made once rather than per request.
	spanNames sync.Map

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
	// calledOK and calledErr count attempts at the instance.
	calledOK, calledErr atomic.Int64
	// spanAttrs are the attempt spans' attributes that depend only on
	// the cluster and the instance, made on the first traced attempt.
	spanAttrs atomic.Pointer[[]attribute.KeyValue]
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
