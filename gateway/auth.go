package gateway

import (
	"net/http"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// scheme is one way of proving who calls: an API key, a JWT, a signed
// request.
type scheme interface {
	// id is the scheme's name in config, metrics and messages.
	id() string
	// presented reports whether the request carries this scheme's
	// credentials at all.
	presented(r *http.Request) bool
	// verify checks them. On success it returns the caller's name (for
	// rate limits by caller) and the headers to forward to the backend;
	// on failure the reason (a fixed word, for the metric) and the reply.
	verify(rc *reqCtx) (caller string, meta map[string]string, reason string, e *generic.Error)
	// hint tells a caller how to present the scheme.
	hint() string
}

// authFilter authenticates with the schemes a service accepts (any one
// suffices), with the per-address lockout after too many failures of any
// scheme. It runs for requests routing could not place (every configured
// scheme accepted) and for services that are not public.
type authFilter struct {
	accepted []scheme
	all      []scheme // configured: a request presenting one of these that the service does not accept is told so
	limit    int
	fails    *failures
	metrics  *metrics
}

func (*authFilter) name() string { return "auth" }
func (*authFilter) order() int   { return orderAuth }
func (f *authFilter) request(rc *reqCtx) *generic.Error {
	r := rc.r
	var use scheme
	presented := false
	for _, s := range f.all {
		if !s.presented(r) {
			continue
		}
		presented = true
		if use == nil && f.accepts(s) {
			use = s
		}
	}
	ip := rc.clientKey()
	if presented && f.limit > 0 {
		if wait := f.fails.blocked(ip, f.limit); wait > 0 {
			f.metrics.authLocked.Inc()
			rc.w.Header().Set("Retry-After", retryAfter(wait))
			rc.t = nil
			return errorf(generic.CodeResourceExhausted, "too many failed authentications from this address; retry later")
		}
	}
	if use == nil {
		rc.t = nil // nothing about the route is told, in the reply or the metrics
		if presented {
			f.metrics.refused("any", "scheme_not_accepted")
			return errorf(generic.CodeUnauthenticated, "credentials of another scheme than this service accepts; %s", f.hints())
		}
		f.metrics.refused("any", "missing")
		return errorf(generic.CodeUnauthenticated, "missing credentials: %s", f.hints())
	}
	caller, meta, reason, e := use.verify(rc)
	if e != nil {
		if f.limit > 0 {
			f.fails.fail(ip)
		}
		f.metrics.refused(use.id(), reason)
		rc.t = nil
		return e
	}
	if rc.t != nil {
		rc.t.keyName = caller
		rc.t.identity = meta
	}
	return nil
}

func (f *authFilter) accepts(s scheme) bool {
	for _, a := range f.accepted {
		if a == s {
			return true
		}
	}
	return false
}

func (f *authFilter) hints() string {
	var h []string
	for _, s := range f.accepted {
		h = append(h, s.hint())
	}
	return strings.Join(h, ", or ")
}

// apiKeyScheme wraps authn (server.auth.keys).
type apiKeyScheme struct{ a *authn }

func (s apiKeyScheme) id() string                     { return "api_key" }
func (s apiKeyScheme) presented(r *http.Request) bool { return r.Header.Get(s.a.header) != "" }
func (s apiKeyScheme) hint() string                   { return "send an API key in the " + s.a.header + " header" }
func (s apiKeyScheme) verify(rc *reqCtx) (string, map[string]string, string, *generic.Error) {
	name, _, e := s.a.check(rc.r)
	if e != nil {
		return "", nil, "invalid_key", e
	}
	return name, nil, "", nil
}

// authSchemes builds the configured schemes, in a fixed order.
func (g *Gateway) authSchemes(cfg *mapping.Config) ([]scheme, error) {
	a := cfg.Server.Auth
	if a == nil {
		return nil, nil
	}
	var out []scheme
	if au := newAuthn(a); au != nil && len(a.Keys) > 0 {
		out = append(out, apiKeyScheme{au})
	}
	if a.JWT != nil {
		j, err := newJWTScheme(a.JWT)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if a.HMAC != nil {
		h, err := g.hmacScheme(a.HMAC)
		if err != nil {
			return nil, err
		}
		h.maxBody = cfg.Server.MaxBodyBytes
		out = append(out, h)
	}
	return out, nil
}

// pick returns the schemes named (all of them when names is empty).
func pick(all []scheme, names []string) []scheme {
	if len(names) == 0 {
		return all
	}
	var out []scheme
	for _, s := range all {
		for _, n := range names {
			if s.id() == n {
				out = append(out, s)
			}
		}
	}
	return out
}
