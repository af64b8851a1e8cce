package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Headers and query parameters that select a service without a route.
const (
	headerServiceName = "serviceName"
	queryServiceName  = "serviceName"
	headerScTag       = "scTag"
)

// target is a request resolved to a service and method.
type target struct {
	cluster *cluster
	svc     *mapping.Service
	route   *mapping.Route
	method  string
	service string // Call.Service: a gRPC fully-qualified name, or ""
	params  []generic.Param
	how     string // route | sdk | serviceName | scTag | direct
	keyName string // the caller, when authenticated: an API key's name, "jwt:<sub>", "hmac:<app>"
	split   string // the side of a split service the call took (a tag, or "default")
	compose *composeRoute
	// proxyPath is the path forwarded to a service that takes whole HTTP
	// requests.
	proxyPath string
	attempt   attemptInfo
	// identity are headers for the backend from the caller's verified
	// credentials (JWT claims, the client certificate's subject).
	identity map[string]string
}

// Methods that may reach a backend; everything else is refused before
// routing.
var backendMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
}

// ServeHTTP implements the data plane: the edge filters, routing, the
// identity and call filters of the routed service (see filter), then the
// backend call and the reply.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	// One allocation holds the request's writer and its filter context.
	one := &struct {
		sw statusWriter
		rc reqCtx
	}{sw: statusWriter{ResponseWriter: w}}
	rw, rc := &one.sw, &one.rc
	sctx, span := g.tracing.serverSpan(r)
	r = r.WithContext(sctx)
	rc.g, rc.st, rc.w, rc.r = g, st, rw, r
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("panic serving request", "path", generic.Clip(r.URL.Path), "panic", p)
			if !rw.wrote {
				writeError(rw, errorf(generic.CodeInternal, "internal error"))
			}
		}
		if len(rc.ran) > 0 {
			rc.finish(rw.statusCode())
		}
		g.observe(r, rw, rc.t, start, st, rc)
		g.finishSpan(span, r, rw, rc.t)
	}()
	if rc.run(st.chains.edge, 0, identityStage) {
		return
	}
	if st.cfg.Server.OpenAPI == "public" && r.URL.Path == "/openapi.json" && r.Method == http.MethodGet {
		g.serveOpenAPI(rw, r)
		return
	}
	if r.URL.RawQuery != "" {
		rc.q = r.URL.Query()
	}
	// Routing decides the service and method once; authentication, rate
	// limits and registered-only mode then decide on that service. A caller
	// without a valid key learns nothing about routes.
	rc.attrs = requestAttrs{r: r, q: rc.q}
	t, err := g.resolve(r.Context(), st, r, rc.q, &rc.attrs)
	rc.t = t
	chain := st.chains.unrouted
	if t != nil {
		chain = st.chains.chain(t)
	}
	if rc.run(chain, identityStage, callStage) {
		return
	}
	if err != nil {
		e := generic.AsError(err)
		if e.Code == generic.CodeMethodNotAllowed {
			refuse(rw, r, e)
			return
		}
		writeError(rw, e)
		return
	}
	if rc.run(chain, callStage, math.MaxInt) {
		return
	}
	g.invoke(rc)
}

// invoke reads the body, calls the backend and writes the reply.
func (g *Gateway) invoke(rc *reqCtx) {
	st, t, rw, r, q := rc.st, rc.t, rc.w, rc.r, rc.q
	if t.compose != nil {
		g.invokeCompose(rc)
		return
	}
	if t.proxyPath != "" {
		g.invokeProxy(rc)
		return
	}
	if isGRPCWeb(r) {
		g.invokeGRPCWeb(rc)
		return
	}
	call := &generic.Call{Service: t.service, Method: t.method, Params: t.params}
	call.Meta = callMeta(st, t, r, t.svc)
	for k, vs := range q {
		if k == queryServiceName {
			continue
		}
		for _, v := range vs {
			call.Params = append(call.Params, generic.Param{Name: k, Value: v})
		}
	}
	if isNDJSON(r) || isWebSocket(r) {
		g.invokeStream(rc, call)
		return
	}
	body, err := readBody(rw, r, st.cfg.Server.MaxBodyBytes)
	if err != nil {
		e := g.tag(generic.AsError(err), t)
		if e.Code == generic.CodeBodyTooLarge || e.HTTPStatus() == http.StatusRequestTimeout {
			refuse(rw, r, e)
			return
		}
		writeError(rw, e)
		return
	}
	if len(body) > 0 && len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		writeError(rw, g.tag(errorf(generic.CodeInvalidArgument, "invalid JSON at offset %d: the body holds only whitespace", len(body)), t))
		return
	}
	if err := generic.CheckJSON(body, st.cfg.Server.MaxJSONDepth); err != nil {
		writeError(rw, g.tag(generic.AsError(err), t))
		return
	}
	call.Body = body

	timeout := t.svc.Timeout
	retries := *t.svc.Retries
	if rc := t.svc.Retry; rc != nil {
		retries = rc.Attempts - 1
	}
	idempotent := false
	if t.route != nil {
		if t.route.Timeout > 0 {
			timeout = t.route.Timeout
		}
		if t.route.Retries != nil {
			retries = *t.route.Retries
		}
		idempotent = t.route.Idempotent
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	sw := newStreamWriter(rw, r, st.cfg.Server.WriteTimeout)
	call.OnMessage = sw.send
	c := t.cluster
	pr := pickRequest{
		tag: r.Header.Get(st.cfg.Server.TagHeader), hashKey: hashKey(t, r, q),
		retries: retries, idempotent: idempotent, started: sw.isStarted, info: &t.attempt,
	}
	if rc := t.svc.Retry; rc != nil {
		pr.perTry, pr.backoff, pr.maxBackoff = rc.PerTryTimeout, rc.Backoff, rc.MaxBackoff
	}
	// An explicit tag header wins over the split.
	if c.split != nil && pr.tag == "" {
		pr.tag, t.split = c.split.pick(r, q)
	}
	if m := t.svc.Mirror; m != nil && rand.Float64()*100 < m.Percent {
		if target := st.clusters[m.Service]; target != nil {
			g.mirrors.queue(m.Service, m.Queue, m.Workers).send(mirrorJob{c: target, call: mirrorCall(call)})
		}
	}
	res, err := g.call(ctx, c, call, pr)
	if err != nil {
		if fb := g.fallback(c, call, err); fb != nil {
			rw.Header().Set("X-Rpcbridge-Fallback", fb.kind)
			if fb.res != nil {
				writeResult(rw, fb.res)
				return
			}
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(fb.status)
			rw.Write(fb.body)
			return
		}
		e := g.tag(generic.AsError(err), t)
		if e.Code == generic.CodeInternal && e.Err != nil {
			g.log.Error("backend call failed", "service", t.svc.Name, "method", generic.Clip(t.method), "err", e.Err)
		}
		sw.failOrError(e)
		return
	}
	if res.Streamed {
		sw.finish()
		return
	}
	if c.stale != nil && !res.NoReply {
		c.stale.put(staleKey(c.name, call), res, c.now().UnixNano())
	}
	writeResult(rw, res)
}

// call runs a call through the service's concurrency cap and circuit
// breaker, then the cluster (instances, retries).
func (g *Gateway) call(ctx context.Context, c *cluster, call *generic.Call, pr pickRequest) (*generic.Result, error) {
	c.requests.Add(1)
	defer c.requests.Add(-1)
	if c.maxConc > 0 {
		n := c.active.Add(1)
		defer c.active.Add(-1)
		if n > c.maxConc {
			return nil, generic.Errorf(generic.CodeOverloaded, "service %s has %d calls in flight (max_concurrent)", c.name, c.maxConc)
		}
	}
	if c.breaker == nil {
		return c.invoke(ctx, call, pr)
	}
	now := c.now().UnixNano()
	ok, probe := c.breaker.allow(now)
	if !ok {
		return nil, generic.Errorf(generic.CodeCircuitOpen, "the circuit breaker of service %s is open", c.name)
	}
	res, err := c.invoke(ctx, call, pr)
	c.breaker.record(c.now().UnixNano(), probe, err != nil && failureCounts(generic.CodeOf(err)))
	return res, err
}

// fallbackAnswer is what a failed call is answered with instead.
type fallbackAnswer struct {
	kind   string // stale | reply
	res    *generic.Result
	status int
	body   []byte
}

// fallback finds the service's fallback answer for a failed call: the
// last good reply to the same request when younger than stale_for, else
// the fixed reply; nil when neither applies.
func (g *Gateway) fallback(c *cluster, call *generic.Call, err error) *fallbackAnswer {
	f := c.svc.Fallback
	if f == nil || !fallbackApplies(generic.CodeOf(err)) {
		return nil
	}
	if c.stale != nil {
		if res := c.stale.get(staleKey(c.name, call), c.now().UnixNano()); res != nil {
			g.metrics.fallback.WithLabelValues(c.name, "stale").Inc()
			return &fallbackAnswer{kind: "stale", res: res}
		}
	}
	if r := f.Reply; r != nil {
		g.metrics.fallback.WithLabelValues(c.name, "reply").Inc()
		return &fallbackAnswer{kind: "reply", status: r.Status, body: r.JSON}
	}
	return nil
}

// hasBody reports whether r carries a body (a Content-Length above zero,
// or a chunked one).
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// jsonContentType accepts application/json and application/*+json, with
// parameters.
func jsonContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if mt == "application/json" {
		return true
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	return ok && strings.HasSuffix(sub, "+json") && len(sub) > len("+json")
}

// refuse writes an answer that does not need the request body (401, 403,
// 405, 413, 415, 429, and the framing errors). When the body has not been
// read, the connection is closed after the reply instead of reading it:
// a client sending its body slowly cannot keep the connection.
func refuse(w http.ResponseWriter, r *http.Request, e *generic.Error) {
	if r.ProtoMajor == 1 && hasBody(r) {
		w.Header().Set("Connection", "close")
	}
	writeError(w, e)
}

// tag fills in where an error happened, when the adapter did not.
func (g *Gateway) tag(e *generic.Error, t *target) *generic.Error {
	if t == nil {
		return e
	}
	if e.Protocol == "" {
		e.Protocol = t.svc.Protocol
	}
	if e.Service == "" {
		e.Service = t.svc.Name
	}
	if e.Method == "" {
		e.Method = t.method
	}
	return e
}

func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, errorf(generic.CodeBodyTooLarge, "request body is %d bytes, more than the %d allowed", r.ContentLength, max)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(generic.CodeBodyTooLarge, "request body is larger than the %d bytes allowed", max)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Status: http.StatusRequestTimeout,
				Message: "the request body did not arrive within server.read_timeout", Err: err}
		}
		return nil, errorf(generic.CodeInvalidArgument, "reading request body: %w", err)
	}
	return body, nil
}

func hashKey(t *target, r *http.Request, q url.Values) string {
	hk := t.svc.HashKey
	if hk == nil {
		return ""
	}
	switch {
	case hk.Header != "":
		return r.Header.Get(hk.Header)
	case hk.Query != "":
		return q.Get(hk.Query)
	case hk.Path != "":
		for _, p := range t.params {
			if p.Name == hk.Path {
				return p.Value
			}
		}
	}
	return ""
}

// resolve finds the service and method of a request. When the service is
// found but the method is not acceptable it returns both the target (for
// the auth decision and metrics) and the error. Precedence: the
// route table (exact path, template, longest prefix), then the serviceName
// header or query parameter, then the scTag header's service set, then
// the route-less form /{service}/{method}.
func (g *Gateway) resolve(ctx context.Context, st *state, r *http.Request, q url.Values, attrs mapping.RequestAttrs) (*target, error) {
	path := r.URL.Path
	m, code := st.table.LookupRequest(routeMethod(r), r.Host, path, attrs)
	if m != nil && m.Route.Compose != nil {
		cr := st.composed[m.Route]
		return &target{svc: cr.svc, route: m.Route, method: "compose", params: m.Params, how: "route", compose: cr}, nil
	}
	if m != nil && st.clusters[m.Route.Service].svc.ProxiesHTTP() {
		c := st.clusters[m.Route.Service]
		return &target{cluster: c, svc: c.svc, route: m.Route, method: m.Route.Method, params: m.Params, how: "route",
			proxyPath: proxyPath(m.Route, r.URL.EscapedPath(), c.name)}, nil
	}
	if m != nil {
		c := st.clusters[m.Route.Service]
		t := &target{cluster: c, svc: c.svc, route: m.Route, method: m.Method, params: m.Params, how: "route"}
		if m.Route.Method == "" && m.Method != "" && m.Method == c.qualified && isGRPCWeb(r) {
			t.method = qualifiedMethod(path, m.Route.Match.Prefix, m.Method)
		}
		if m.Method == "" {
			return t, errorf(generic.CodeNotFound, "no method named in %s", generic.Clip(path))
		}
		if m.Route.Method == "" {
			if err := g.ownMethod(t); err != nil {
				return t, err
			}
			if err := g.checkRegistered(ctx, st, t); err != nil {
				return t, err
			}
		}
		return t, nil
	}
	if code == generic.CodeNotFound {
		if at := g.apiRoutes.Load(); at != nil && at.table != nil {
			if m, c2 := at.table.Lookup(r.Method, r.Host, path); m != nil {
				c := st.clusters[m.Route.Service]
				if c != nil {
					return &target{cluster: c, svc: c.svc, method: m.Method, params: m.Params, how: "sdk"}, nil
				}
			} else if c2 == generic.CodeMethodNotAllowed {
				code = c2
			}
		}
	}
	if code == generic.CodeMethodNotAllowed {
		return nil, errorf(generic.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, generic.Clip(path))
	}
	method := lastSegment(path)
	if name := firstNonEmpty(r.Header.Get(headerServiceName), q.Get(queryServiceName)); name != "" {
		c := st.clusters[name]
		if c == nil {
			return nil, errorf(generic.CodeNotFound, "no service named %q", generic.Clip(name))
		}
		t := &target{cluster: c, svc: c.svc, method: method, how: "serviceName"}
		if method == "" {
			return t, errorf(generic.CodeNotFound, "the path names no method of service %q", name)
		}
		if err := g.ownMethod(t); err != nil {
			return t, err
		}
		method = t.method
		if !g.hasAPI(ctx, st, c, method, st.cfg.Server.RegisteredOnly) {
			if st.cfg.Server.RegisteredOnly {
				g.metrics.unregistered.Inc()
				return t, g.tag(errorf(generic.CodeNotFound, "API %q of service %q is not registered", method, name), t)
			}
			return t, g.tag(errorf(generic.CodeNotFound, "service %q has no API %q", name, method), t)
		}
		return t, nil
	}
	if set := r.Header.Get(headerScTag); set != "" {
		members, ok := st.sets[set]
		if !ok {
			return nil, errorf(generic.CodeNotFound, "no service set named %q", generic.Clip(set))
		}
		if method == "" {
			return nil, errorf(generic.CodeNotFound, "the path names no method")
		}
		for _, c := range members {
			t := &target{cluster: c, svc: c.svc, method: method, how: "scTag"}
			if g.ownMethod(t) == nil && g.hasAPI(ctx, st, c, t.method, st.cfg.Server.RegisteredOnly) {
				return t, nil
			}
		}
		return nil, errorf(generic.CodeNotFound, "no service of set %q has an API %q", generic.Clip(set), generic.Clip(method))
	}
	// Route-less: /{service}/{method}.
	rest := strings.TrimPrefix(path, "/")
	svcName, method, ok := strings.Cut(rest, "/")
	if c := st.clusters[svcName]; ok && c != nil && c.svc.ProxiesHTTP() {
		// A service that takes whole requests: the rest of the path is
		// its own.
		return &target{cluster: c, svc: c.svc, how: "direct", proxyPath: proxyPath(nil, r.URL.EscapedPath(), svcName)}, nil
	}
	// A gRPC-Web call's method may be qualified as pkg.Service/Method (the
	// client's base URL at /{service}); ownMethod checks the qualifier.
	if ok && svcName != "" && method != "" && (!strings.Contains(method, "/") || strings.Count(method, "/") == 1 && isGRPCWeb(r)) {
		t := &target{method: method, how: "direct"}
		if c := st.clusters[svcName]; c != nil {
			t.cluster, t.svc = c, c.svc
		} else if c := st.byQualified[svcName]; c != nil {
			t.cluster, t.svc, t.service = c, c.svc, svcName
		}
		if t.cluster != nil {
			if err := g.ownMethod(t); err != nil {
				return t, err
			}
			if err := g.checkRegistered(ctx, st, t); err != nil {
				return t, err
			}
			return t, nil
		}
	}
	g.metrics.unmatched.Inc()
	return nil, errorf(generic.CodeNotFound, "no route for %s %s", r.Method, generic.Clip(path))
}

// ownMethod checks the method a request names for t's service: a plain
// name, or one qualified by the service's own fully-qualified name (gRPC's
// "pkg.Service.Method" or "pkg.Service/Method"), which is stripped. A name
// that belongs to another service, or that cannot be a method name
// (letters, digits, '_', '$' and '-', at most 256 bytes), is NOT_FOUND: a
// call never reaches a service other than the one routing chose.
func (g *Gateway) ownMethod(t *target) error {
	name := t.method
	if strings.ContainsAny(name, "./") {
		rest, ok := "", false
		if q := t.cluster.qualified; q != "" {
			if r, found := strings.CutPrefix(strings.TrimPrefix(name, "/"), q); found && len(r) > 1 && (r[0] == '.' || r[0] == '/') {
				rest, ok = r[1:], true
			}
		}
		if !ok {
			return g.tag(errorf(generic.CodeNotFound, "%q is not a method of service %q", generic.Clip(name), t.svc.Name), &target{svc: t.svc})
		}
		name = rest
	}
	if !validMethodName(name) {
		return g.tag(errorf(generic.CodeNotFound, "service %q has no method %q", t.svc.Name, generic.Clip(name)), &target{svc: t.svc})
	}
	t.method = name
	return nil
}

func validMethodName(s string) bool {
	if s == "" || len(s) > generic.MaxQuoted {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '-') {
			return false
		}
	}
	return true
}

// callMeta is the metadata a call to svc carries: the request headers svc
// forwards, and the headers the gateway sets from verified credentials.
func callMeta(st *state, t *target, r *http.Request, svc *mapping.Service) map[string]string {
	if len(svc.ForwardHeaders) == 0 && len(t.identity) == 0 && st.subjectHeader == "" {
		return nil
	}
	meta := make(map[string]string, len(svc.ForwardHeaders)+len(t.identity))
	for _, h := range svc.ForwardHeaders {
		lh := strings.ToLower(h)
		if st.identityHeaders[lh] {
			continue // only the gateway sets these, from verified credentials
		}
		if v := r.Header.Get(h); v != "" {
			meta[lh] = v
		}
	}
	for k, v := range t.identity {
		meta[k] = v
	}
	if st.subjectHeader != "" {
		if s := clientSubject(r); s != "" {
			meta[st.subjectHeader] = s
		}
	}
	return meta
}

// knownMethod reports whether t's method exists: named by its route,
// declared in YAML, reported by an instance, or in the service's schema.
// Only such names become metric label values. Names found are remembered
// per cluster (at most the service's own methods), so after the first
// request the check is one map lookup.
func (g *Gateway) knownMethod(ctx context.Context, st *state, t *target) bool {
	if t.compose != nil {
		return true
	}
	if t.cluster == nil || t.method == "" {
		return false
	}
	if (t.route != nil && t.route.Method != "") || t.how == "sdk" {
		return true
	}
	if _, ok := t.cluster.known.Load(t.method); ok {
		return true
	}
	if !validMethodName(t.method) {
		return false
	}
	// Declared, reported, or in the cached schema (without waiting for a
	// first fetch: the reply is not held up for a label).
	if !g.hasAPI(ctx, st, t.cluster, t.method, true) && t.cluster.schemas.cur.Load().Method(t.method) == nil {
		return false
	}
	t.cluster.known.Store(t.method, struct{}{})
	return true
}

// checkRegistered enforces registered-only mode for calls whose method
// comes from the request.
func (g *Gateway) checkRegistered(ctx context.Context, st *state, t *target) error {
	if !st.cfg.Server.RegisteredOnly || g.hasAPI(ctx, st, t.cluster, t.method, true) {
		return nil
	}
	g.metrics.unregistered.Inc()
	return g.tag(errorf(generic.CodeNotFound, "API %q of service %q is not registered", t.method, t.svc.Name), t)
}

// hasAPI reports whether a service serves method: declared in YAML,
// reported by an instance through the SDK, or (unless registeredOnly) in
// the service's cached schema.
func (g *Gateway) hasAPI(ctx context.Context, st *state, c *cluster, method string, registeredOnly bool) bool {
	if st.declared[c.name][method] {
		return true
	}
	for _, in := range c.snap.Load().all {
		for _, a := range in.APIs {
			if a.Name == method {
				return true
			}
		}
	}
	if registeredOnly {
		return false
	}
	// Routing never calls a backend: it answers from the schema kept off
	// the request path (see schemas.go).
	return c.cachedSchema(ctx).Method(method) != nil
}

// qualifiedMethod is the method a gRPC-Web call on a prefix route names
// when its first segment after the prefix is the service's qualified name
// q (the client's base URL at the prefix): "q/Method", which ownMethod
// takes; q alone when no segment follows.
func qualifiedMethod(path, prefix, q string) string {
	rest := path[min(len(strings.TrimSuffix(prefix, "/")), len(path)):]
	if i := strings.Index(rest, "/"+q+"/"); i >= 0 {
		m := rest[i+len(q)+2:]
		if j := strings.IndexByte(m, '/'); j >= 0 {
			m = m[:j]
		}
		if m != "" {
			return q + "/" + m
		}
	}
	return q
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
