package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// proxies are the peers whose X-Forwarded-For the gateway believes
// (server.trusted_proxies).
type proxies []netip.Prefix

func (p proxies) trusted(a netip.Addr) bool {
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the request's client: the peer, or, when the peer is a
// trusted proxy, the right-most address of X-Forwarded-For that is not a
// trusted proxy (the left-most when all are). An entry that is not an
// address ends the walk with no address: it matches no allow rule.
func (p proxies) clientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if len(p) == 0 || !peer.IsValid() || !p.trusted(peer) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return peer
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}
		}
		client = a.Unmap()
		if !p.trusted(client) {
			return client
		}
	}
	return client
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ipRules is one level of ip_rules (server, service or route); a request
// passes every level that applies to it.
type ipRules struct {
	allow, deny []netip.Prefix
}

func newIPRules(r *mapping.IPRules) (*ipRules, error) {
	if r == nil {
		return nil, nil
	}
	allow, deny, err := r.Prefixes()
	if err != nil {
		return nil, err
	}
	return &ipRules{allow: allow, deny: deny}, nil
}

// check returns the refusal reason ("denied", "not_allowed"), or "".
func (ir *ipRules) check(a netip.Addr) string {
	for _, p := range ir.deny {
		if a.IsValid() && p.Contains(a) {
			return "denied"
		}
	}
	if len(ir.allow) == 0 {
		return ""
	}
	for _, p := range ir.allow {
		if a.IsValid() && p.Contains(a) {
			return ""
		}
	}
	return "not_allowed"
}

// ipFilter applies one level of ip_rules: 403 PERMISSION_DENIED.
type ipFilter struct {
	level string // server | service | route
	rules *ipRules
	m     *metrics
}

func (f *ipFilter) name() string { return f.level + "-ip-rules" }
func (f *ipFilter) order() int {
	switch f.level {
	case "server":
		return orderServerIP
	case "service":
		return orderServiceIP
	}
	return orderRouteIP
}
func (f *ipFilter) request(rc *reqCtx) *generic.Error {
	reason := f.rules.check(rc.clientAddr())
	if reason == "" {
		return nil
	}
	f.m.refused("ip", reason)
	rc.t = nil // nothing about the route is told
	return errorf(generic.CodePermissionDenied, "the client address is not allowed here")
}
