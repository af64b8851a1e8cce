package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// Routes on one path pick their service by the request's headers, query
// and cookies, through the gateway to real backends.
func TestRouteConditionsPickTheService(t *testing.T) {
	v1, v2, beta := newTrafficBackend(t, "orders"), newTrafficBackend(t, "orders-v2"), newTrafficBackend(t, "beta")
	e := newEnv(t, `
services:
  - {name: orders, protocol: http, instances: [{address: "{{v1}}"}]}
  - {name: orders-v2, protocol: http, instances: [{address: "{{v2}}"}]}
  - {name: beta, protocol: http, instances: [{address: "{{beta}}"}]}
routes:
  - match: {path: "/v1/orders/{id}", methods: [GET]}
    service: orders
    method: get
  - match: {path: "/v1/orders/{id}", methods: [GET], headers: {x-client: ios, x-app-version: {regex: "^([5-9]|[1-9][0-9]+)\\."}}}
    service: orders-v2
    method: get
  - match: {path: "/v1/orders/{id}", methods: [GET], cookies: {beta: "1"}}
    service: beta
    method: get
  - match: {path: /v1/debug, methods: [GET], query: {debug: {present: true}}}
    service: orders
    method: debug
`, map[string]string{"v1": v1.addr(), "v2": v2.addr(), "beta": beta.addr()})
	for _, c := range []struct {
		name, path string
		hdr        []string
		want       string
	}{
		{"plain", "/v1/orders/7", nil, `"orders"`},
		{"ios 6", "/v1/orders/7", []string{"X-Client", "ios", "X-App-Version", "6.0.1"}, `"orders-v2"`},
		{"ios 4", "/v1/orders/7", []string{"X-Client", "ios", "X-App-Version", "4.2"}, `"orders"`},
		{"beta cookie", "/v1/orders/7", []string{"Cookie", "theme=dark; beta=1"}, `"beta"`},
		{"debug present", "/v1/debug?debug", nil, `"orders"`},
		{"debug absent", "/v1/debug", nil, "404"},
	} {
		r := do(t, "GET", e.url+c.path, "", c.hdr...)
		got := field(t, r.body, "from")
		if r.status == http.StatusNotFound {
			got = "404"
		}
		if got != c.want {
			t.Errorf("%s: got %s (%d %s), want %s", c.name, got, r.status, strings.TrimSpace(r.body), c.want)
		}
	}
}
