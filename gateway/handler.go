package gateway

import (
	"context"
	"errors"
	"io"
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
	how     string // route | serviceName | scTag | direct
}

// ServeHTTP implements the data plane.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	rw := &statusWriter{ResponseWriter: w}
	var t *target
	sctx, span := g.tracing.serverSpan(r)
	r = r.WithContext(sctx)
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("panic serving request", "path", r.URL.Path, "panic", p)
			if !rw.wrote {
				writeError(rw, errorf(generic.CodeInternal, "internal error"))
			}
		}
		g.observe(r, rw, t, start, st)
		g.finishSpan(span, rw, t)
	}()
	if g.cors(st.cfg.Server.CORS, rw, r) {
		return
	}
	// Authenticate before routing, so that a caller without a key learns
	// nothing about routes; services marked public are exempt.
	var keyName string
	var authErr *generic.Error
	if st.auth != nil {
		keyName, authErr = st.auth.check(r)
	}
	var q url.Values
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	var err error
	t, err = g.resolve(r.Context(), st, r, q)
	if authErr != nil && (t == nil || !t.svc.Public) {
		t = nil
		writeError(rw, authErr)
		return
	}
	if err != nil {
		writeError(rw, generic.AsError(err))
		return
	}
	if t.cluster.limit != nil {
		if e, wait := t.cluster.limit.allow(r, keyName); e != nil {
			rw.Header().Set("Retry-After", retryAfter(wait))
			writeError(rw, g.tag(e, t))
			return
		}
	}
	call := &generic.Call{Service: t.service, Method: t.method, Params: t.params}
	if len(t.svc.ForwardHeaders) > 0 {
		call.Meta = make(map[string]string, len(t.svc.ForwardHeaders))
		for _, h := range t.svc.ForwardHeaders {
			if v := r.Header.Get(h); v != "" {
				call.Meta[strings.ToLower(h)] = v
			}
		}
	}
	for k, vs := range q {
		if k == queryServiceName {
			continue
		}
		for _, v := range vs {
			call.Params = append(call.Params, generic.Param{Name: k, Value: v})
		}
	}
	body, err := readBody(rw, r, st.cfg.Server.MaxBodyBytes)
	if err != nil {
		writeError(rw, g.tag(generic.AsError(err), t))
		return
	}
	call.Body = body

	timeout := t.svc.Timeout
	retries := *t.svc.Retries
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

	sw := newStreamWriter(rw, r)
	call.OnMessage = sw.send
	pr := pickRequest{
		tag: r.Header.Get(st.cfg.Server.TagHeader), hashKey: hashKey(t, r, q),
		retries: retries, idempotent: idempotent, started: sw.isStarted,
	}
	res, err := t.cluster.invoke(ctx, call, pr)
	if err != nil {
		e := g.tag(generic.AsError(err), t)
		if e.Code == generic.CodeInternal && e.Err != nil {
			g.log.Error("backend call failed", "service", t.svc.Name, "method", t.method, "err", e.Err)
		}
		if sw.started {
			sw.fail(e)
			return
		}
		writeError(rw, e)
		return
	}
	if res.Streamed {
		sw.finish()
		return
	}
	writeResult(rw, res)
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

// resolve finds the service and method of a request. Precedence: the
// route table (exact path, template, longest prefix), then the serviceName
// header or query parameter, then the scTag header's service set, then
// the route-less form /{service}/{method}.
func (g *Gateway) resolve(ctx context.Context, st *state, r *http.Request, q url.Values) (*target, error) {
	path := r.URL.Path
	m, code := st.table.Lookup(r.Method, r.Host, path)
	if m != nil {
		c := st.clusters[m.Route.Service]
		t := &target{cluster: c, svc: c.svc, route: m.Route, method: m.Method, params: m.Params, how: "route"}
		if m.Method == "" {
			return nil, errorf(generic.CodeNotFound, "no method named in %s", path)
		}
		if m.Route.Method == "" {
			if err := g.checkRegistered(ctx, st, t); err != nil {
				return nil, err
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
		return nil, errorf(generic.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, path)
	}
	method := lastSegment(path)
	if name := firstNonEmpty(r.Header.Get(headerServiceName), q.Get(queryServiceName)); name != "" {
		c := st.clusters[name]
		if c == nil {
			return nil, errorf(generic.CodeNotFound, "no service named %q", name)
		}
		if method == "" {
			return nil, errorf(generic.CodeNotFound, "the path names no method of service %q", name)
		}
		t := &target{cluster: c, svc: c.svc, method: method, how: "serviceName"}
		if !g.hasAPI(ctx, st, c, method, st.cfg.Server.RegisteredOnly) {
			if st.cfg.Server.RegisteredOnly {
				g.metrics.unregistered.Inc()
				return nil, g.tag(errorf(generic.CodeNotFound, "API %q of service %q is not registered", method, name), t)
			}
			return nil, g.tag(errorf(generic.CodeNotFound, "service %q has no API %q", name, method), t)
		}
		return t, nil
	}
	if set := r.Header.Get(headerScTag); set != "" {
		members, ok := st.sets[set]
		if !ok {
			return nil, errorf(generic.CodeNotFound, "no service set named %q", set)
		}
		if method == "" {
			return nil, errorf(generic.CodeNotFound, "the path names no method")
		}
		for _, c := range members {
			if g.hasAPI(ctx, st, c, method, st.cfg.Server.RegisteredOnly) {
				return &target{cluster: c, svc: c.svc, method: method, how: "scTag"}, nil
			}
		}
		return nil, errorf(generic.CodeNotFound, "no service of set %q has an API %q", set, method)
	}
	// Route-less: /{service}/{method}.
	rest := strings.TrimPrefix(path, "/")
	svcName, method, ok := strings.Cut(rest, "/")
	if ok && svcName != "" && method != "" && !strings.Contains(method, "/") {
		t := &target{method: method, how: "direct"}
		if c := st.clusters[svcName]; c != nil {
			t.cluster, t.svc = c, c.svc
		} else if c := st.byGRPC[svcName]; c != nil {
			t.cluster, t.svc, t.service = c, c.svc, svcName
		}
		if t.cluster != nil {
			if err := g.checkRegistered(ctx, st, t); err != nil {
				return nil, err
			}
			return t, nil
		}
	}
	g.metrics.unmatched.Inc()
	return nil, errorf(generic.CodeNotFound, "no route for %s %s", r.Method, path)
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
// the service's schema.
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
	sc, err := c.describe(ctx)
	if err != nil {
		return false
	}
	return sc.Method(method) != nil
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
