package gateway

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
)

// adminGuard protects the control plane. Every request whose Origin is not
// the control plane's own gets 403 (a web page cannot drive it). Requests
// to /admin/* and /debug/pprof/* also need:
//   - a Host that is the control plane's address, a loopback name or
//     address with its port, or (when it binds every interface) an IP
//     address with its port: a DNS-rebound name gets 403;
//   - "Authorization: Bearer <server.admin_token>" when a token is set (401);
//   - Content-Type: application/json on writes that carry a body (415).
//
// /healthz, /readyz and /metrics stay open to probes and scrapers.
func (g *Gateway) adminGuard(next http.Handler, addr string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
			refuse(w, r, errorf(generic.CodePermissionDenied, "the control plane does not take cross-origin requests (Origin %q)", generic.Clip(o)))
			return
		}
		guarded := strings.HasPrefix(r.URL.Path, "/admin/") || strings.HasPrefix(r.URL.Path, "/debug/") || r.URL.Path == "/openapi.json"
		if !guarded {
			next.ServeHTTP(w, r)
			return
		}
		if !adminHost(r.Host, addr) {
			refuse(w, r, errorf(generic.CodePermissionDenied, "Host %q is not the control plane's address", generic.Clip(r.Host)))
			return
		}
		if token := g.state.Load().cfg.Server.AdminSecret(); token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="rpcbridge admin"`)
				refuse(w, r, errorf(generic.CodeUnauthenticated, "the control plane needs Authorization: Bearer <server.admin_token>"))
				return
			}
		}
		if r.Method != http.MethodGet && hasBody(r) && !jsonContentType(r.Header.Get("Content-Type")) {
			refuse(w, r, errorf(generic.CodeUnsupportedMediaType, "admin requests with a body take Content-Type: application/json, got %q",
				generic.Clip(r.Header.Get("Content-Type"))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether a browser Origin is the control plane's own
// (http://<Host>).
func sameOrigin(origin, host string) bool {
	return strings.EqualFold(origin, "http://"+host) || strings.EqualFold(origin, "https://"+host)
}

// adminHost reports whether a request's Host names the control plane.
func adminHost(host, addr string) bool {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = host, ""
	}
	h = strings.Trim(h, "[]")
	ah, aport, _ := net.SplitHostPort(addr)
	if addr != "" && port != aport {
		return false
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	aip := net.ParseIP(ah)
	if aip == nil {
		return false
	}
	return ip.Equal(aip) || aip.IsUnspecified()
}
