package mapping

import (
	"net/textproto"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
)

// attrs is a request's headers, query and cookies for table tests.
type attrs struct{ h, q, c map[string]string }

func (a attrs) Header(n string) (string, bool) { v, ok := a.h[n]; return v, ok }
func (a attrs) Query(n string) (string, bool)  { v, ok := a.q[n]; return v, ok }
func (a attrs) Cookie(n string) (string, bool) { v, ok := a.c[n]; return v, ok }

func hdr(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[textproto.CanonicalMIMEHeaderKey(kv[i])] = kv[i+1]
	}
	return m
}

const condYAML = `
services:
  - {name: orders, protocol: x, instances: [{address: 127.0.0.1:1}]}
  - {name: orders-v2, protocol: x, instances: [{address: 127.0.0.1:1}]}
  - {name: beta, protocol: x, instances: [{address: 127.0.0.1:1}]}
routes:
  - match: {path: "/v1/orders/{id}"}
    service: orders
    method: get
  - match: {path: "/v1/orders/{id}", headers: {x-client: ios, x-app-version: {regex: "^([5-9]|[1-9][0-9]+)\\."}}}
    service: orders-v2
    method: get
  - match: {path: "/v1/orders/{id}", cookies: {beta: "1"}}
    service: beta
    method: get
  - match: {path: /v1/debug, query: {debug: {present: true}}}
    service: orders
    method: debug
  - match: {path: /v1/only, headers: {x-tenant: {prefix: acme-}}, methods: [GET]}
    service: orders
    method: only
`

func TestConditionsPickTheMostSpecificRouteThatMatches(t *testing.T) {
	c, err := Decode([]byte(condYAML), Plugins{"x": noSection{}})
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	tbl, err := NewTable(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path string
		a                  attrs
		want               string // service, or a code
	}{
		{"no conditions met: the plain route", "GET", "/v1/orders/7", attrs{}, "orders"},
		{"ios 5.2: two conditions win", "GET", "/v1/orders/7", attrs{h: hdr("x-client", "ios", "x-app-version", "5.2.0")}, "orders-v2"},
		{"ios 12", "GET", "/v1/orders/7", attrs{h: hdr("x-client", "ios", "x-app-version", "12.0")}, "orders-v2"},
		{"ios 4: the regex fails", "GET", "/v1/orders/7", attrs{h: hdr("x-client", "ios", "x-app-version", "4.9")}, "orders"},
		{"android", "GET", "/v1/orders/7", attrs{h: hdr("x-client", "android", "x-app-version", "9.0")}, "orders"},
		{"beta cookie", "GET", "/v1/orders/7", attrs{c: map[string]string{"beta": "1"}}, "beta"},
		{"beta cookie and ios 6: more conditions first", "GET", "/v1/orders/7", attrs{h: hdr("x-client", "ios", "x-app-version", "6.1"), c: map[string]string{"beta": "1"}}, "orders-v2"},
		{"beta=0", "GET", "/v1/orders/7", attrs{c: map[string]string{"beta": "0"}}, "orders"},
		{"query present", "GET", "/v1/debug", attrs{q: map[string]string{"debug": ""}}, "orders"},
		{"query absent: no route matches", "GET", "/v1/debug", attrs{}, "NOT_FOUND"},
		{"prefix", "GET", "/v1/only", attrs{h: hdr("x-tenant", "acme-eu")}, "orders"},
		{"prefix missed", "GET", "/v1/only", attrs{h: hdr("x-tenant", "other")}, "NOT_FOUND"},
		{"conditions met, method not", "POST", "/v1/only", attrs{h: hdr("x-tenant", "acme-eu")}, "METHOD_NOT_ALLOWED"},
	} {
		m, code := tbl.LookupRequest(tc.method, "", tc.path, tc.a)
		got := string(code)
		if m != nil {
			got = m.Route.Service
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	ios := attrs{h: hdr("x-client", "ios", "x-app-version", "5.2.0")}
	var req RequestAttrs = ios
	if n := testing.AllocsPerRun(100, func() { tbl.LookupRequest("GET", "", "/v1/orders/7", req) }); n > 2 && !raceEnabled {
		// The match and its path parameters; the conditions allocate nothing.
		t.Errorf("allocations of a lookup with conditions: got %v, want at most 2 (the match and its parameters)", n)
	}
}

// noSection is a plug-in for protocol "x" that takes no section.
type noSection struct{}

func (noSection) Section() string                             { return "" }
func (noSection) Decode(SectionInput) (ProtocolConfig, error) { return noConfig{}, nil }

type noConfig struct{}

func (noConfig) ResolvePaths(string)                                   {}
func (noConfig) Validate(*Service) []string                            { return nil }
func (noConfig) Key(*Service) string                                   { return "" }
func (noConfig) QualifiedName() string                                 { return "" }
func (noConfig) DeclaredMethods() []string                             { return nil }
func (noConfig) Build(*Service, ProtocolEnv) (generic.Protocol, error) { return nil, nil }
