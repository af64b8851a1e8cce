package http

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// Proxy mode: a request passes through whole (method, path, query,
// headers without the hop-by-hop ones, X-Forwarded-For/Proto/Host added,
// any body streamed), and the reply comes back as the instance sends it
// (status, headers, body flushed as it arrives: SSE and chunked replies
// stream; WebSocket upgrades are passed through).

type proxyPathKey struct{}

// proxyOutcome carries, through the request's context, the error the
// reverse proxy met before writing anything.
type proxyOutcome struct{ err error }

func (c *client) newReverseProxy(base *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			if p, ok := pr.In.Context().Value(proxyPathKey{}).(string); ok {
				pr.Out.URL.Path, pr.Out.URL.RawPath = p, ""
				if u, err := url.Parse(p); err == nil && u.RawPath != "" {
					pr.Out.URL.Path, pr.Out.URL.RawPath = u.Path, u.RawPath
				}
			}
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.SetXForwarded()
		},
		Transport:     c.tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if o, ok := r.Context().Value(proxyOutcomeKey{}).(*proxyOutcome); ok {
				o.err = err
			}
		},
	}
}

type proxyOutcomeKey struct{}

// Proxy implements generic.HTTPProxy.
func (c *client) Proxy(w http.ResponseWriter, r *http.Request, path string) error {
	out := &proxyOutcome{}
	ctx := context.WithValue(context.WithValue(r.Context(), proxyPathKey{}, path), proxyOutcomeKey{}, out)
	c.rp.ServeHTTP(w, r.WithContext(ctx))
	if out.err == nil {
		return nil
	}
	err := out.err
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "backend did not answer in time", Err: err}
	case errors.Is(err, context.Canceled):
		return &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: err}
	}
	if reason, ok := backendtls.Reason(err); ok && c.p.o.TLS != nil {
		return &generic.Error{Code: generic.CodeBackendError, Message: backendtls.Message(reason), Err: err}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return generic.Errorf(generic.CodeBodyTooLarge, "request body is larger than the %d bytes allowed", mbe.Limit)
	}
	return &generic.Error{Code: generic.CodeUnavailable, Message: "backend is unreachable", Err: err}
}
