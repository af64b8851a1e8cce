// Package gateway is rpcbridge's HTTP front end: it matches a request to a
// service and method, binds it into a generic.Call, picks an instance in
// the service's cluster, invokes it through the protocol adapter and writes
// the JSON reply or one JSON error. The control plane (health, metrics,
// admin API) runs on its own port.
package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry"
)

// Discovery finds the instances of the services whose config has a
// discovery section. cmd/rpcbridge builds it over the registries a config
// names (ZooKeeper: SDK-registered instances and Dubbo-native providers)
// and hands it to New in Options; the gateway names no concrete registry.
//
// Lifetime: the gateway never closes a Discovery. Whoever builds one
// closes it, after Gateway.Close has stopped every watch.
type Discovery interface {
	// Watch follows the instances of svc in reg, the registries entry that
	// svc.Discovery names. It must return without waiting for the registry
	// to answer: a registry that is down gives a Watcher whose first Next
	// waits (the gateway serves the static instances meanwhile). ctx ends
	// with the gateway; the gateway also stops the Watcher when the
	// service's cluster closes (a reload that changes the service, or
	// Gateway.Close).
	Watch(ctx context.Context, svc *mapping.Service, reg *mapping.Registry) (registry.Watcher, error)
}

// SetSource says where the config in force came from (for /admin/config),
// e.g. which stored version a node runs and why.
func (g *Gateway) SetSource(s string) { g.sourceNow.Store(&s) }

func (g *Gateway) source() string {
	if s := g.sourceNow.Load(); s != nil {
		return *s
	}
	return g.opts.Source
}

// ConnectionReporter is implemented by a Discovery that can tell whether
// its session with a registry is up, for rpcbridge_registry_connected.
// known is false for a registry it has not connected to (no service uses
// it).
type ConnectionReporter interface {
	RegistryConnected(reg *mapping.Registry) (connected, known bool)
}

// DefinitionSource is implemented by a Discovery whose registries also
// publish the definitions of the services they list (a Dubbo metadata
// report). The gateway keeps the newest set per service and hands it to
// the adapter through mapping.ProtocolEnv.Definitions.
type DefinitionSource interface {
	// WatchDefinitions calls apply with the definitions published for svc
	// in reg whenever the set changes, until ctx ends, and then returns;
	// it returns at once when reg publishes none for svc. Calls of apply
	// do not overlap.
	WatchDefinitions(ctx context.Context, svc *mapping.Service, reg *mapping.Registry, apply func(defs [][]byte))
}

// definitions reads the published definitions of the service named
// name in the generation in force.
func (g *Gateway) definitions(name string) func() [][]byte {
	return func() [][]byte {
		st := g.state.Load()
		if st == nil || st.clusters[name] == nil {
			return nil
		}
		if p := st.clusters[name].defs.Load(); p != nil {
			return *p
		}
		return nil
	}
}

// reportedAPIs looks method up in the instances of the service named name
// in the generation in force.
func (g *Gateway) reportedAPIs(name string) func(string) []registry.API {
	return func(method string) []registry.API {
		st := g.state.Load()
		if st == nil {
			return nil
		}
		c := st.clusters[name]
		if c == nil {
			return nil
		}
		var out []registry.API
		for _, in := range c.snap.Load().all {
			for _, a := range in.APIs {
				if a.Name == method {
					out = append(out, a)
				}
			}
		}
		return out
	}
}

// Options configure a Gateway.
type Options struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics is where the gateway registers its Prometheus collectors;
	// nil creates a private registry (served on /metrics either way).
	Metrics *prometheus.Registry
	// AccessLog, when set, receives the access log instead of the path
	// server.access_log names (tests).
	AccessLog io.Writer
	// Source describes where the config came from, for /admin/config.
	Source string
	// Build describes the binary, for /admin/config and
	// rpcbridge_build_info; empty fields are left out.
	Build Build
	// TracerProvider receives the gateway's OpenTelemetry spans (one per
	// request, one per backend attempt); nil means no spans are recorded,
	// but incoming W3C trace context is still forwarded to backends.
	TracerProvider trace.TracerProvider
	// Discovery finds the instances of services with a discovery section
	// (it may also be a DefinitionSource). A config with such a service is
	// refused when Discovery is nil. The gateway does not close it.
	Discovery Discovery
}

// Gateway serves HTTP/JSON and calls backends. Its route table and
// services are swapped atomically on Reload.
type Gateway struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	state   atomic.Pointer[state]

	reloadMu sync.Mutex // serialises Reload
	ctx      context.Context
	cancel   context.CancelFunc
	reloads  atomic.Int64
	// draining is set once shutdown begins (/readyz answers 503).
	draining atomic.Bool

	pool    *clientPool
	tracing *tracing

	apiMu     sync.Mutex
	apiRoutes atomic.Pointer[apiTable]

	// authFailures counts wrong API keys per client address; it outlives
	// reloads.
	authFailures *failures
	// nonces are the signed requests' nonces seen; they outlive reloads.
	nonces *nonceStore
	// mirrors send mirrored copies; they outlive reloads.
	mirrors *mirrors
	// errors are the last errors the data plane answered, for the console.
	errors recentErrors
	// access writes the access log (nil when off); a reload that changes
	// server.access_log replaces it.
	access atomic.Pointer[accessLog]
	// sourceNow, when set, says where the config in force came from
	// (SetSource), instead of Options.Source.
	sourceNow atomic.Pointer[string]

	retireMu sync.Mutex
	retiring []retiring // clusters a reload replaced, closed after a grace
}

// retiring is a set of replaced clusters waiting out their grace.
type retiring struct {
	timer *time.Timer
	run   func() // closes the clusters, once
	done  *atomic.Bool
}

// retireLater closes clusters a reload replaced once calls in flight on
// them have had grace to finish; Close closes them at once.
func (g *Gateway) retireLater(gone []*cluster, grace time.Duration) {
	var once sync.Once
	done := new(atomic.Bool)
	run := func() {
		once.Do(func() {
			for _, c := range gone {
				c.close()
			}
			done.Store(true)
		})
	}
	g.retireMu.Lock()
	defer g.retireMu.Unlock()
	kept := g.retiring[:0]
	for _, r := range g.retiring {
		if !r.done.Load() {
			kept = append(kept, r)
		}
	}
	g.retiring = append(kept, retiring{timer: time.AfterFunc(grace, run), run: run, done: done})
}

// state is one immutable generation of configuration.
type state struct {
	cfg      *mapping.Config
	raw      []byte
	version  string
	loadedAt time.Time
	table    *mapping.Table
	clusters map[string]*cluster
	// byQualified finds a service by its fully-qualified wire name.
	byQualified map[string]*cluster
	sets        map[string][]*cluster
	// declared lists each service's APIs named in YAML (apis and routes).
	declared map[string]map[string]bool
	// chains are the filters requests run through (see filter).
	chains *chains
	// proxies are server.trusted_proxies.
	proxies proxies
	// composed are the composed routes' plans, by route.
	composed map[*mapping.Route]*composeRoute
	// identityHeaders are the (lower-case) header names the gateway sets
	// from verified credentials (jwt.claims_to_headers,
	// tls.forward_client_subject); a client never sets them.
	identityHeaders map[string]bool
	// subjectHeader carries the verified client certificate's subject.
	subjectHeader string
}

// New builds a gateway from cfg (already validated). raw is the config's
// source text, kept for /admin/config (may be nil).
func New(cfg *mapping.Config, raw []byte, opts Options) (*Gateway, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	m, err := newMetrics(opts.Metrics)
	if err != nil {
		return nil, err
	}
	if opts.Build.Version != "" {
		if err := registerBuildInfo(opts.Metrics, opts.Build); err != nil {
			return nil, err
		}
	}
	g := &Gateway{opts: opts, log: log, metrics: m, tracing: newTracing(opts.TracerProvider),
		pool: &clientPool{protos: map[string]*protoEntry{}}, authFailures: newFailures(), nonces: newNonceStore()}
	g.mirrors = &mirrors{m: m}
	if err := opts.Metrics.Register(newStateCollector(g)); err != nil {
		return nil, err
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if err := g.Reload(cfg, raw); err != nil {
		g.cancel()
		return nil, err
	}
	return g, nil
}

// Config returns the configuration in force.
func (g *Gateway) Config() *mapping.Config { return g.state.Load().cfg }

// Reload builds a new generation from cfg off the request path and swaps
// it in atomically. Services whose configuration is unchanged keep their
// clusters and connections. On error the old generation stays in force.
func (g *Gateway) Reload(cfg *mapping.Config, raw []byte) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	err := g.reload(cfg, raw)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	g.metrics.reloads.WithLabelValues(outcome).Inc()
	if err == nil {
		err = g.applyAccessLog(cfg.Server.AccessLog)
	}
	return err
}

// applyAccessLog starts, replaces or stops the access-log writer when
// server.access_log changed.
func (g *Gateway) applyAccessLog(c mapping.AccessLog) error {
	cur := g.access.Load()
	if cur == nil && !c.Enabled || cur != nil && cur.cfg == c {
		return nil
	}
	var next *accessLog
	if c.Enabled {
		var err error
		if next, err = newAccessLog(c, g.opts.AccessLog, g.metrics); err != nil {
			return fmt.Errorf("server.access_log: %w", err)
		}
	}
	if old := g.access.Swap(next); old != nil {
		old.close()
	}
	return nil
}

func (g *Gateway) reload(cfg *mapping.Config, raw []byte) error {
	old := g.state.Load()
	table, err := mapping.NewTable(cfg)
	if err != nil {
		return err
	}
	st := &state{
		cfg: cfg, raw: raw, loadedAt: time.Now(), table: table,
		clusters: map[string]*cluster{}, byQualified: map[string]*cluster{},
		sets: map[string][]*cluster{}, declared: map[string]map[string]bool{},
	}
	sum := sha256.Sum256(raw)
	st.version = hex.EncodeToString(sum[:6])
	if raw == nil {
		st.version = fmt.Sprintf("gen-%d", g.reloads.Load()+1)
	}
	var created []*cluster
	fail := func(err error) error {
		for _, c := range created {
			c.close()
		}
		return err
	}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		if old != nil {
			if oc := old.clusters[svc.Name]; oc != nil && reflect.DeepEqual(oc.svc, svc) && old.cfg.Server.Zone == cfg.Server.Zone {
				st.clusters[svc.Name] = oc
				continue
			}
		}
		c, err := g.newCluster(svc, cfg)
		if err != nil {
			return fail(fmt.Errorf("service %q: %w", svc.Name, err))
		}
		created = append(created, c)
		st.clusters[svc.Name] = c
	}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		c := st.clusters[svc.Name]
		if q := svc.QualifiedName(); q != "" {
			if _, dup := st.byQualified[q]; !dup {
				st.byQualified[q] = c
			}
		}
		d := map[string]bool{}
		for _, a := range svc.APIs {
			d[a] = true
		}
		for _, name := range svc.DeclaredMethods() {
			d[name] = true
		}
		st.declared[svc.Name] = d
	}
	for _, r := range cfg.Routes {
		if r.Method != "" {
			st.declared[r.Service][r.Method] = true
		}
	}
	st.composed = map[*mapping.Route]*composeRoute{}
	for i := range cfg.Routes {
		if r := &cfg.Routes[i]; r.Compose != nil {
			st.composed[r] = newComposeRoute(r)
		}
	}
	for name, members := range cfg.ServiceSets {
		for _, m := range members {
			st.sets[name] = append(st.sets[name], st.clusters[m])
		}
	}
	if st.chains, err = g.buildChains(cfg, st); err != nil {
		return fail(err)
	}
	g.state.Store(st)
	g.reloads.Add(1)
	g.rebuildAPIRoutes()
	g.metrics.configVersion(st.version)
	if old != nil {
		var gone []*cluster
		for name, oc := range old.clusters {
			if st.clusters[name] != oc {
				gone = append(gone, oc)
			}
		}
		if len(gone) > 0 {
			// Let calls in flight on the old clusters finish first.
			g.retireLater(gone, old.cfg.LongestTimeout()+time.Second)
		}
	}
	g.log.Info("config in force", "version", st.version, "services", len(cfg.Services), "routes", table.Len())
	return nil
}

func (g *Gateway) newCluster(svc *mapping.Service, cfg *mapping.Config) (*cluster, error) {
	key, _, err := g.pool.protocol(svc, mapping.ProtocolEnv{Logger: g.log.With("service", svc.Name), ReportedAPIs: g.reportedAPIs(svc.Name), Definitions: g.definitions(svc.Name)})
	if err != nil {
		return nil, err
	}
	c := newCluster(svc.Name, svc, g.pool, key, cfg.Server.Zone, g.log)
	c.tracing = g.tracing
	c.limit = newLimiter(svc.RateLimit)
	if svc.CircuitBreaker != nil {
		c.breaker = newBreaker(svc.CircuitBreaker, g.metrics.circuit.WithLabelValues(svc.Name))
	}
	c.budget = newRetryBudget(svc.Retry)
	c.split = newSplitter(svc, g.metrics.split)
	c.stale = newStaleCache(svc.Fallback)
	c.maxConc = int64(svc.MaxConcurrent)
	c.retried, c.overBudget = g.metrics.retries.WithLabelValues(svc.Name, "sent"), g.metrics.retries.WithLabelValues(svc.Name, "over_budget")
	c.backendDur = g.metrics.backendDur.WithLabelValues(svc.Name, svc.Protocol)
	c.qualified = svc.QualifiedName()
	c.onChange = g.rebuildAPIRoutes
	if svc.HealthCheck != nil {
		hctx, cancel := context.WithCancel(g.ctx)
		c.stopHealth = cancel
		c.spawn(func() { c.healthLoop(hctx, svc.HealthCheck) })
	}
	if svc.Discovery != nil {
		if err := g.discover(c, svc, cfg); err != nil {
			c.close()
			return nil, err
		}
	}
	c.startSchemas(g.ctx)
	return c, nil
}

// discover starts following the instances of svc (and, where the
// discovery publishes them, its definitions) in the registry its
// discovery section names. The cluster's close stops both.
func (g *Gateway) discover(c *cluster, svc *mapping.Service, cfg *mapping.Config) error {
	var reg *mapping.Registry
	for i := range cfg.Registries {
		if cfg.Registries[i].Name == svc.Discovery.Registry {
			reg = &cfg.Registries[i]
		}
	}
	if reg == nil {
		return fmt.Errorf("discovery.registry %q is not defined", svc.Discovery.Registry)
	}
	d := g.opts.Discovery
	if d == nil {
		return fmt.Errorf("discovery.registry %q: this gateway has no discovery (Options.Discovery is nil)", reg.Name)
	}
	w, err := d.Watch(g.ctx, svc, reg)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	c.watch(g.ctx, w)
	if ds, ok := d.(DefinitionSource); ok {
		dctx, cancel := context.WithCancel(g.ctx)
		c.stopDefs = cancel
		c.spawn(func() {
			ds.WatchDefinitions(dctx, svc, reg, func(defs [][]byte) {
				c.defs.Store(&defs)
				g.log.Info("service definitions published", "service", svc.Name, "definitions", len(defs))
			})
		})
	}
	return nil
}

// Describe returns the schema of the configured service name: the one
// kept off the request path, or one fetched from an instance now.
func (g *Gateway) Describe(ctx context.Context, service string) (*generic.ServiceSchema, error) {
	c := g.state.Load().clusters[service]
	if c == nil {
		return nil, errorf(generic.CodeNotFound, "no service named %q", service)
	}
	return c.describe(ctx)
}

// Close stops watches and closes every backend connection. It does not
// close Options.Discovery: its creator does, after Close.
func (g *Gateway) Close() error {
	g.cancel()
	// Clusters a reload replaced close now instead of after their grace.
	g.retireMu.Lock()
	pending := g.retiring
	g.retiring = nil
	g.retireMu.Unlock()
	for _, r := range pending {
		r.timer.Stop()
		r.run()
	}
	g.mirrors.close()
	if a := g.access.Swap(nil); a != nil {
		a.close()
	}
	st := g.state.Load()
	if st != nil {
		for _, c := range st.clusters {
			c.close()
		}
	}
	return nil
}

// errorf is a shorthand for the client-facing errors the front end makes.
func errorf(code generic.Code, format string, args ...any) *generic.Error {
	return generic.Errorf(code, format, args...)
}
