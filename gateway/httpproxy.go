package gateway

// Services that forward whole HTTP requests (a plug-in's ProxiesHTTP, e.g.
// http.mode: proxy): the request passes through as it came, chosen
// instance by instance through the cluster like any call (balancing,
// breaker, max_concurrent, ejection), retried elsewhere only when it is
// idempotent and bodiless and nothing was written.

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// proxyPath is the path forwarded for a request that matched route r (nil
// for a route-less /{service}/... request, which forwards the rest).
func proxyPath(r *mapping.Route, path, service string) string {
	switch {
	case r == nil:
		rest := strings.TrimPrefix(strings.TrimPrefix(path, "/"+service), "/")
		return "/" + rest
	case r.Match.Prefix != "" && (r.StripPrefix || r.Rewrite != ""):
		rest := strings.TrimPrefix(strings.TrimPrefix(path, strings.TrimSuffix(r.Match.Prefix, "/")), "/")
		if r.Rewrite != "" {
			return strings.TrimSuffix(r.Rewrite, "/") + "/" + rest
		}
		return "/" + rest
	case r.Rewrite != "":
		return r.Rewrite
	}
	return path
}

// invokeProxy forwards the request to an instance of its service.
func (g *Gateway) invokeProxy(rc *reqCtx) {
	st, t, rw, r := rc.st, rc.t, rc.w, rc.r
	c := t.cluster
	if hasBody(r) {
		r.Body = http.MaxBytesReader(rw, r.Body, st.cfg.Server.MaxBodyBytes)
	}
	ctx := r.Context()
	if isUpgrade(r) {
		// A WebSocket (or other upgraded) connection lives as long as its
		// peers keep it: no request timeout, no server deadlines.
		rcon := http.NewResponseController(rw)
		rcon.SetReadDeadline(time.Time{})
		rcon.SetWriteDeadline(time.Time{})
	} else {
		timeout := t.svc.Timeout
		if t.route != nil && t.route.Timeout > 0 {
			timeout = t.route.Timeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	retries := 0
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
		if !hasBody(r) && !isUpgrade(r) {
			retries = *t.svc.Retries
			if t.route != nil && t.route.Retries != nil {
				retries = *t.route.Retries
			}
		}
	}
	path := t.proxyPath
	pr := pickRequest{tag: r.Header.Get(st.cfg.Server.TagHeader), hashKey: hashKey(t, r, rc.q), retries: retries,
		idempotent: retries > 0, info: &t.attempt,
		forward: func(actx context.Context, m *member) error {
			p, ok := m.client.(generic.HTTPProxy)
			if !ok {
				return generic.Errorf(generic.CodeInternal, "service %s does not forward whole requests", c.name)
			}
			return p.Proxy(rw, r.WithContext(actx), path)
		}}
	if _, err := g.call(ctx, c, &generic.Call{Method: path}, pr); err != nil {
		writeError(rw, g.tag(generic.AsError(err), t))
	}
}

// isUpgrade reports a request to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}
