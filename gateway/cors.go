package gateway

import (
	"net/http"
	"strings"

	"github.com/rs/cors"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// corsFilter answers CORS preflights and adds CORS headers to replies, by
// github.com/rs/cors, built once per config generation.
type corsFilter struct {
	c *cors.Cors
}

// defaultCORSMethods are the methods a preflight allows by default: the
// ones that can reach a backend.
var defaultCORSMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func newCORS(c *mapping.CORS, auth *mapping.Auth) *corsFilter {
	if c == nil {
		return nil
	}
	methods := c.AllowMethods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	headers := c.AllowHeaders
	if len(headers) == 0 {
		headers = []string{"Accept", "Content-Type", "X-Requested-With", "X-Request-Id", "Traceparent", "Tracestate"}
		if auth != nil {
			headers = append(headers, auth.Header)
		}
	}
	// gRPC-Web clients send and read headers of their own.
	headers = append(append([]string{}, headers...), generic.GRPCWebRequestHeaders()...)
	exposed := append(append([]string{}, c.ExposeHeaders...), generic.GRPCWebExposedHeaders()...)
	maxAge := int(c.MaxAge.Seconds())
	return &corsFilter{c: cors.New(cors.Options{
		AllowedOrigins:   c.AllowOrigins,
		AllowedMethods:   upper(methods),
		AllowedHeaders:   headers,
		ExposedHeaders:   exposed,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           maxAge,
	})}
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

func (*corsFilter) name() string { return "cors" }
func (*corsFilter) order() int   { return orderCORS }

// request adds CORS headers for a request that carries an Origin. It
// answers a preflight itself: 204 with the allowed method and headers, or
// 403 PERMISSION_DENIED when the origin, the method or a requested header
// is not allowed. A preflight never reaches a backend.
func (f *corsFilter) request(rc *reqCtx) *generic.Error {
	w, r := rc.w, rc.r
	if r.Header.Get("Origin") == "" {
		return nil
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		f.c.HandlerFunc(w, r)
		return nil
	}
	f.c.HandlerFunc(preflightWriter{w}, r)
	if w.Header().Get("Access-Control-Allow-Origin") == "" {
		return errorf(generic.CodePermissionDenied, "cross-origin request from %q with method %q is not allowed",
			generic.Clip(r.Header.Get("Origin")), generic.Clip(r.Header.Get("Access-Control-Request-Method")))
	}
	w.WriteHeader(http.StatusNoContent)
	rc.answered = true
	return nil
}

// preflightWriter holds back the status rs/cors writes, so that a refused
// preflight can be answered 403 instead.
type preflightWriter struct {
	http.ResponseWriter
}

func (preflightWriter) WriteHeader(int) {}
