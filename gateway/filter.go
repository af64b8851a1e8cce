package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// A filter is one step every request of the services it is configured for
// goes through before the backend is called. Filters are built once per
// config generation (Reload) into chains, so a request runs exactly the
// filters its service needs, in a fixed order.
//
// Each filter has a unique order; the order also places it in one of three
// stages:
//
//	  0- 99  edge: before routing, on the request as it came
//	         (framing, CORS, HTTP method)
//	100-199  identity: after routing, also when routing found nothing, so
//	         that a caller without credentials learns nothing about routes
//	         (API keys and the failed-key lockout)
//	200-   call: after routing found a call (call form, rate limits,
//	         body type)
//
// A filter answers a request by returning an error (the chain stops and
// the error is the reply, sent without reading the body) or by writing a
// reply itself and setting reqCtx.answered (a CORS preflight). Filters
// that also implement responseHook see the final status, in reverse order,
// after the reply is written.
//
// To add a filter: give it a free order in the right stage, build it in
// buildChains from the config (globally, or for the services and routes
// that configure it), and test it through ServeHTTP.
type filter interface {
	// name identifies the filter in logs and tests.
	name() string
	// order places the filter in the chain; unique across filters.
	order() int
	// request runs the filter; a non-nil error is the reply.
	request(rc *reqCtx) *generic.Error
}

// responseHook is implemented by filters that look at the reply.
type responseHook interface {
	response(rc *reqCtx, status int)
}

// Stage boundaries (see filter).
const (
	identityStage = 100
	callStage     = 200
)

// reqCtx is one request on its way through the chain.
type reqCtx struct {
	g  *Gateway
	st *state
	w  http.ResponseWriter
	r  *http.Request
	q  url.Values
	// t is the routed call; nil in the edge stage, and in the identity
	// stage when routing found nothing.
	t *target
	// answered is set by a filter that wrote the reply itself.
	answered bool
	// ran lists the filters with response hooks that ran.
	ran []filter
	// attrs give route conditions the request's headers, query and cookies.
	attrs requestAttrs
	// addr is the client's address (see proxies.clientAddr), once known.
	addr    netip.Addr
	addrSet bool
}

// clientAddr is the request's client address, worked out once.
func (rc *reqCtx) clientAddr() netip.Addr {
	if !rc.addrSet {
		rc.addr, rc.addrSet = rc.st.proxies.clientAddr(rc.r), true
	}
	return rc.addr
}

// clientKey is the client address as a map key ("unknown" when the
// address could not be worked out).
func (rc *reqCtx) clientKey() string {
	if a := rc.clientAddr(); a.IsValid() {
		return a.String()
	}
	return "unknown"
}

// chains are a config generation's filters: the edge chain, the chain of
// requests that routing could not place, and one per service.
type chains struct {
	edge      []filter
	unrouted  []filter
	byService map[string][]filter
	// byRoute are the chains of routes that override their service's
	// filters (public, rate_limit); other routes run their service's.
	byRoute map[*mapping.Route][]filter
	// routeLimits are the routes' token buckets by routeLimitKey, kept
	// by the next generation for the routes it leaves unchanged.
	routeLimits map[string]*limiter
}

// chain is the chain a routed call runs.
func (ch *chains) chain(t *target) []filter {
	if t.route != nil {
		if fs, ok := ch.byRoute[t.route]; ok {
			return fs
		}
	}
	return ch.byService[t.svc.Name]
}

// run runs the filters of one stage range [from, to) in order. It reports
// whether the request was answered.
func (rc *reqCtx) run(fs []filter, from, to int) bool {
	for _, f := range fs {
		if o := f.order(); o < from || o >= to {
			continue
		}
		if _, ok := f.(responseHook); ok {
			rc.ran = append(rc.ran, f)
		}
		if e := f.request(rc); e != nil {
			refuse(rc.w, rc.r, rc.g.tag(e, rc.t))
			return true
		}
		if rc.answered {
			return true
		}
	}
	return false
}

// finish calls the response hooks of the filters that ran, last first.
func (rc *reqCtx) finish(status int) {
	for i := len(rc.ran) - 1; i >= 0; i-- {
		if h, ok := rc.ran[i].(responseHook); ok {
			h.response(rc, status)
		}
	}
}

// buildChains builds the filters of one config generation.
func (g *Gateway) buildChains(cfg *mapping.Config, st *state) (*chains, error) {
	var global []filter
	global = append(global, framingFilter{}, methodFilter{})
	if cors := newCORS(cfg.Server.CORS, cfg.Server.Auth); cors != nil {
		global = append(global, cors)
	}
	st.identityHeaders = map[string]bool{}
	if t := cfg.Server.TLS; t != nil && t.ForwardClientSubject != "" {
		st.subjectHeader = strings.ToLower(t.ForwardClientSubject)
		st.identityHeaders[st.subjectHeader] = true
	}
	if a := cfg.Server.Auth; a != nil && a.JWT != nil {
		for _, h := range a.JWT.ClaimsToHeaders {
			st.identityHeaders[strings.ToLower(h)] = true
		}
	}
	var err error
	if st.proxies, err = mapping.ParsePrefixes(cfg.Server.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	ipFilterOf := func(level string, r *mapping.IPRules) (filter, error) {
		rules, err := newIPRules(r)
		if rules == nil || err != nil {
			return nil, err
		}
		return &ipFilter{level: level, rules: rules, m: g.metrics}, nil
	}
	if f, err := ipFilterOf("server", cfg.Server.IPRules); err != nil {
		return nil, fmt.Errorf("server.ip_rules: %w", err)
	} else if f != nil {
		global = append(global, f)
	}
	ch := &chains{byService: map[string][]filter{}, byRoute: map[*mapping.Route][]filter{}, routeLimits: map[string]*limiter{}}
	var oldLimits map[string]*limiter
	if old := g.state.Load(); old != nil && old.chains != nil {
		oldLimits = old.chains.routeLimits
	}
	ch.edge = sortFilters(global)
	schemes, err := g.authSchemes(cfg)
	if err != nil {
		return nil, err
	}
	authFor := func(names []string) filter {
		if len(schemes) == 0 {
			return nil
		}
		return &authFilter{accepted: pick(schemes, names), all: schemes, limit: cfg.Server.Auth.MaxFailuresPerMinute,
			fails: g.authFailures, metrics: g.metrics}
	}
	if auth := authFor(nil); auth != nil {
		ch.unrouted = []filter{auth}
	}
	serviceChain := func(svc *mapping.Service, r *mapping.Route) ([]filter, error) {
		// A service that takes whole HTTP requests takes any method (on
		// any form of call) and any body.
		proxies := svc.ProxiesHTTP()
		var fs []filter
		if !proxies {
			fs = append(fs, callFormFilter{})
		}
		public := svc.Public
		if r != nil && r.Public != nil {
			public = *r.Public
		}
		if auth := authFor(svc.Auth); auth != nil && !public {
			fs = append(fs, auth)
		}
		if f, err := ipFilterOf("service", svc.IPRules); err != nil {
			return nil, fmt.Errorf("service %q: ip_rules: %w", svc.Name, err)
		} else if f != nil {
			fs = append(fs, f)
		}
		if r != nil {
			if f, err := ipFilterOf("route", r.IPRules); err != nil {
				return nil, fmt.Errorf("route %s: ip_rules: %w", r.Match.Path+r.Match.Prefix, err)
			} else if f != nil {
				fs = append(fs, f)
			}
		}
		if c := st.clusters[svc.Name]; c != nil && c.limit != nil {
			fs = append(fs, &rateFilter{l: c.limit})
		}
		if r != nil && r.RateLimit != nil {
			key := routeLimitKey(r)
			l := oldLimits[key]
			if l == nil {
				l = newLimiter(r.RateLimit)
			}
			ch.routeLimits[key] = l
			fs = append(fs, &routeRateFilter{l: l})
		}
		if !cfg.Server.AllowAnyContentType && !proxies {
			fs = append(fs, contentTypeFilter{})
		}
		return sortFilters(fs), nil
	}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		if ch.byService[svc.Name], err = serviceChain(svc, nil); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if r.Compose != nil {
			if ch.byRoute[r], err = g.composeChain(cfg, st, r, authFor, ipFilterOf); err != nil {
				return nil, err
			}
			continue
		}
		if svc := cfg.Service(r.Service); svc != nil && (r.Public != nil || r.RateLimit != nil || r.IPRules != nil) {
			if ch.byRoute[r], err = serviceChain(svc, r); err != nil {
				return nil, err
			}
		}
	}
	all := append([][]filter{ch.edge, ch.unrouted}, mapsValues(ch.byService)...)
	for _, fs := range ch.byRoute {
		all = append(all, fs)
	}
	for _, fs := range all {
		if err := uniqueOrders(fs); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

func mapsValues(m map[string][]filter) [][]filter {
	out := make([][]filter, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func sortFilters(fs []filter) []filter {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].order() < fs[j].order() })
	return fs
}

// uniqueOrders refuses a chain in which two filters share an order.
func uniqueOrders(fs []filter) error {
	for i := 1; i < len(fs); i++ {
		if fs[i].order() == fs[i-1].order() {
			return fmt.Errorf("gateway: filters %s and %s share order %d", fs[i-1].name(), fs[i].name(), fs[i].order())
		}
	}
	return nil
}

// Filter orders, in one place so that none repeats.
const (
	orderServerIP       = 5
	orderFraming        = 10
	orderCORS           = 20
	orderMethod         = 30
	orderServiceIP      = 104
	orderRouteIP        = 105
	orderAuth           = 110
	orderCallForm       = 210
	orderRateLimit      = 220
	orderRouteRateLimit = 225
	orderContentType    = 230
)

// framingFilter refuses a request that came with both Content-Length and
// Transfer-Encoding (RFC 9112 §6.3); the connection is closed.
type framingFilter struct{}

func (framingFilter) name() string { return "framing" }
func (framingFilter) order() int   { return orderFraming }
func (framingFilter) request(rc *reqCtx) *generic.Error {
	if ambiguousFraming(rc.r) {
		return errorf(generic.CodeInvalidArgument, "request has both Content-Length and Transfer-Encoding")
	}
	return nil
}

// methodFilter lets only GET, POST, PUT, PATCH and DELETE go on: HEAD,
// OPTIONS (CORS preflights are answered before), TRACE, CONNECT and any
// other method never reach a backend.
type methodFilter struct{}

func (methodFilter) name() string { return "method" }
func (methodFilter) order() int   { return orderMethod }
func (methodFilter) request(rc *reqCtx) *generic.Error {
	if backendMethods[rc.r.Method] {
		return nil
	}
	rc.w.Header().Set("Allow", "GET, POST, PUT, PATCH, DELETE")
	return errorf(generic.CodeMethodNotAllowed, "HTTP method %q is not accepted", generic.Clip(rc.r.Method))
}

// callFormFilter: calls without a route (/{service}/{method},
// serviceName, scTag) take POST only.
type callFormFilter struct{}

func (callFormFilter) name() string { return "call-form" }
func (callFormFilter) order() int   { return orderCallForm }
func (callFormFilter) request(rc *reqCtx) *generic.Error {
	t := rc.t
	if t.how == "route" || t.how == "sdk" || rc.r.Method == http.MethodPost || isWebSocket(rc.r) {
		return nil
	}
	rc.w.Header().Set("Allow", http.MethodPost)
	return errorf(generic.CodeMethodNotAllowed, "calls without a route take POST, got %s", rc.r.Method)
}

// rateFilter is a service's token bucket.
type rateFilter struct{ l *limiter }

func (*rateFilter) name() string { return "rate-limit" }
func (*rateFilter) order() int   { return orderRateLimit }
func (f *rateFilter) request(rc *reqCtx) *generic.Error {
	e, wait := f.l.allow(rc)
	if e != nil {
		rc.w.Header().Set("Retry-After", retryAfter(wait))
	}
	return e
}

// routeRateFilter is a route's own token bucket, taken after its
// service's.
type routeRateFilter struct{ l *limiter }

func (*routeRateFilter) name() string { return "route-rate-limit" }
func (*routeRateFilter) order() int   { return orderRouteRateLimit }
func (f *routeRateFilter) request(rc *reqCtx) *generic.Error {
	e, wait := f.l.allow(rc)
	if e != nil {
		rc.w.Header().Set("Retry-After", retryAfter(wait))
	}
	return e
}

// routeLimitKey identifies a route's bucket across generations: the same
// match, service, method and limit keep it (and its spent tokens).
func routeLimitKey(r *mapping.Route) string {
	b, _ := json.Marshal(struct {
		M             mapping.Match
		Service, Meth string
		L             mapping.RateLimit
	}{r.Match, r.Service, r.Method, *r.RateLimit})
	return string(b)
}

// contentTypeFilter: a request body must be JSON (unless
// server.allow_any_content_type).
type contentTypeFilter struct{}

func (contentTypeFilter) name() string { return "content-type" }
func (contentTypeFilter) order() int   { return orderContentType }
func (contentTypeFilter) request(rc *reqCtx) *generic.Error {
	r := rc.r
	if !hasBody(r) || jsonContentType(r.Header.Get("Content-Type")) || isNDJSON(r) || isGRPCWeb(r) && rc.t.compose == nil {
		return nil
	}
	return errorf(generic.CodeUnsupportedMediaType,
		"request body must be JSON: send Content-Type: application/json, got %q", generic.Clip(r.Header.Get("Content-Type")))
}

// composeChain is a composed route's chain: authentication unless the
// route or every service it calls is public (the schemes all its services
// accept), the rate limits of every service it calls, its own rate limit
// and IP rules.
func (g *Gateway) composeChain(cfg *mapping.Config, st *state, r *mapping.Route,
	authFor func([]string) filter, ipFilterOf func(string, *mapping.IPRules) (filter, error)) ([]filter, error) {
	fs := []filter{callFormFilter{}}
	public := true
	var schemes []string
	var limits []*limiter
	for _, pc := range r.Compose.Plan().Calls {
		svc := cfg.Service(pc.Service)
		public = public && svc.Public
		schemes = intersectSchemes(schemes, svc.Auth)
		if c := st.clusters[svc.Name]; c != nil && c.limit != nil {
			limits = append(limits, c.limit)
		}
	}
	if r.Public != nil {
		public = *r.Public
	}
	if auth := authFor(schemes); auth != nil && !public {
		fs = append(fs, auth)
	}
	if len(limits) > 0 {
		fs = append(fs, &composeRateFilter{ls: limits})
	}
	if f, err := ipFilterOf("route", r.IPRules); err != nil {
		return nil, fmt.Errorf("route %s: ip_rules: %w", r.Match.Path+r.Match.Prefix, err)
	} else if f != nil {
		fs = append(fs, f)
	}
	if r.RateLimit != nil {
		fs = append(fs, &routeRateFilter{l: newLimiter(r.RateLimit)})
	}
	if !cfg.Server.AllowAnyContentType {
		fs = append(fs, contentTypeFilter{})
	}
	return sortFilters(fs), nil
}

// intersectSchemes keeps the schemes both lists accept (an empty list
// accepts every scheme).
func intersectSchemes(a, b []string) []string {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	if len(out) == 0 {
		return []string{"none"} // no scheme satisfies every service
	}
	return out
}

// composeRateFilter takes a token from the rate limit of every service a
// composed route calls.
type composeRateFilter struct{ ls []*limiter }

func (*composeRateFilter) name() string { return "compose-rate-limits" }
func (*composeRateFilter) order() int   { return orderRateLimit }
func (f *composeRateFilter) request(rc *reqCtx) *generic.Error {
	for _, l := range f.ls {
		if e, wait := l.allow(rc); e != nil {
			rc.w.Header().Set("Retry-After", retryAfter(wait))
			return e
		}
	}
	return nil
}
