package mapping_test

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
	"github.com/rpcbridge/rpcbridge/protocols/thrift"
)

const baseYAML = `
server: {listen: 127.0.0.1:8080, admin: 127.0.0.1:9901}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: 127.0.0.1:50051}]
  - name: users
    protocol: dubbo
    dubbo:
      interface: org.example.UserService
      methods:
        getUser: {params: [{name: id, type: java.lang.Long}]}
    instances: [{address: 127.0.0.1:20880}]
service_sets:
  mall: [users, people]
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
  - match: {path: /v1/people/me, methods: [GET]}
    service: people
    method: Me
  - match: {path: "/v1/people:echo", methods: [POST]}
    service: people
    method: Echo
  - match: {prefix: /users/}
    service: users
  - match: {prefix: /users/admin/}
    service: people
    method: Admin
  - match: {path: "/v1/people/{id}", methods: [GET], host: api.example.com}
    service: users
    method: getUser
`

// plugins are the protocols these tests name.
func plugins() mapping.Plugins {
	return mapping.Plugins{"grpc": grpc.Plugin{}, "dubbo": dubbo.Plugin{}, "thrift": thrift.Plugin{}, "http": phttp.Plugin{}}
}

func mustParse(t *testing.T, y string) *mapping.Config {
	t.Helper()
	c, err := mapping.Parse([]byte(y), plugins())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseAppliesDefaults(t *testing.T) {
	c := mustParse(t, baseYAML)
	s := c.Service("people")
	if s.Balancer != "round_robin" || s.Timeout != mapping.DefaultTimeout || *s.Retries != 1 || !*s.TagFallback {
		t.Fatalf("defaults: got balancer=%q timeout=%s retries=%d fallback=%v", s.Balancer, s.Timeout, *s.Retries, *s.TagFallback)
	}
	if g := s.Proto.(*grpc.Config); g.Schema == nil || g.Schema.Reflection == nil {
		t.Fatalf("grpc schema default: got %+v, want reflection", g.Schema)
	}
	if c.Server.MaxBodyBytes != mapping.DefaultMaxBodyBytes || c.Server.TagHeader != "gray" {
		t.Fatalf("server defaults: got %d %q", c.Server.MaxBodyBytes, c.Server.TagHeader)
	}
	if s.Instances[0].Weight != 100 {
		t.Fatalf("weight default: got %d want 100", s.Instances[0].Weight)
	}
}

func TestUnknownKeyIsAnErrorWithItsLine(t *testing.T) {
	_, err := mapping.Parse([]byte("server:\n  listen: 127.0.0.1:1\n  lisen: x\n"), plugins())
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("got %v, want an error naming line 3 and field lisen", err)
	}
}

func TestUnquotedTemplateInFlowMappingGetsAHintWithItsLine(t *testing.T) {
	_, err := mapping.Parse([]byte("services: []\nroutes:\n  - match: {path: /v1/x/{id}, methods: [GET]}\n    service: s\n    method: M\n"), plugins())
	if err == nil || !strings.Contains(err.Error(), "hint: line 3 has a path template inside {...}") {
		t.Fatalf("got %v, want a hint naming line 3", err)
	}
}

func TestValidationNamesServiceRouteAndField(t *testing.T) {
	y := `
services:
  - name: a
    protocol: thrift
    thrift: {idl: x.thrift, service: S, protocol: json}
    instances: [{address: nohost}]
  - name: a
    protocol: grpcx
    instances: [{address: 127.0.0.1:1}]
  - name: c
    protocol: grpc
    grpc: {service: x.Y}
    balancer: consistent_hash
    discovery: {registry: nope}
service_sets:
  s1: [a, missing]
routes:
  - match: {path: "/x/{id}"}
    service: ghost
    method: M
  - match: {prefix: x}
    service: a
  - match: {path: "/x/{id}/{id}"}
    service: a
    method: M
`
	_, err := mapping.Parse([]byte(y), plugins())
	p, ok := err.(mapping.Problems)
	if !ok {
		t.Fatalf("got %T %v, want Problems", err, err)
	}
	want := []string{
		`services[0] "a": thrift.protocol: want binary or compact, got "json"`,
		`services[0] "a": instances[0].address: want host:port, got "nohost"`,
		`services[1] "a": duplicate service name, previously used by services[0]`,
		`services[1] "a": protocol: want one of dubbo, grpc, http, thrift, got "grpcx"`,
		`services[2] "c": balancer consistent_hash needs hash_key`,
		`services[2] "c": discovery.registry "nope" is not defined in registries`,
		`service_sets.s1: service "missing" is not defined`,
		`routes[0] (/x/{id}): service "ghost" is not defined`,
		`routes[1] (prefix x): match.prefix must start with /, got "x"`,
		`routes[2] (/x/{id}/{id}): match.path: parameter {id} appears twice`,
	}
	all := p.Error()
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("problems lack %q; got:\n%s", w, all)
		}
	}
}

func TestAuthAndRateLimitValidation(t *testing.T) {
	y := `
server:
  auth:
    keys: [{name: a, key: x, key_env: Y}, {name: a, key_env: RB_SURELY_UNSET_VAR}]
services:
  - name: s
    protocol: http
    instances: [{address: 127.0.0.1:1}]
    rate_limit: {rps: 0, by: cookie}
`
	_, err := mapping.Parse([]byte(y), plugins())
	for _, w := range []string{
		`server.auth.keys[0] "a": give exactly one of key and key_env`,
		`server.auth.keys[1]: duplicate name "a"`,
		`server.auth.keys[1] "a": environment variable RB_SURELY_UNSET_VAR is empty`,
		`services[0] "s": rate_limit.rps must be positive, got 0`,
		`services[0] "s": rate_limit.by: want "", ip, api_key or header:<name>, got "cookie"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("problems lack %q; got:\n%v", w, err)
		}
	}
}

func TestDuplicateRoutesNameBoth(t *testing.T) {
	y := strings.Replace(baseYAML, "routes:\n", "routes:\n  - match: {path: \"/v1/people/{pid}\", methods: [GET, POST]}\n    service: people\n    method: Other\n", 1)
	_, err := mapping.Parse([]byte(y), plugins())
	if err == nil || !strings.Contains(err.Error(), "routes[1] (/v1/people/{id}) duplicates routes[0] (/v1/people/{pid})") {
		t.Fatalf("got %v, want a duplicate naming routes[1] and routes[0]", err)
	}
}

func TestLookupPrecedence(t *testing.T) {
	tbl, err := mapping.NewTable(mustParse(t, baseYAML))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, host, path      string
		wantService, wantMethod string
		wantParams              string
		wantCode                generic.Code
	}{
		{"GET", "", "/v1/people/42", "people", "Get", "id=42", ""},
		{"GET", "", "/v1/people/9007199254740993", "people", "Get", "id=9007199254740993", ""},
		{"GET", "", "/v1/people/me", "people", "Me", "", ""},           // exact beats template
		{"GET", "", "/v1/people/a%20b", "people", "Get", "id=a b", ""}, // unescaped
		{"POST", "", "/v1/people:echo", "people", "Echo", "", ""},      // literal colon
		{"POST", "", "/v1/people/42", "", "", "", generic.CodeMethodNotAllowed},
		{"GET", "", "/users/getUser", "users", "getUser", "", ""},                       // prefix names method
		{"POST", "", "/users/admin/x", "people", "Admin", "", ""},                       // longest prefix
		{"GET", "api.example.com:8080", "/v1/people/7", "users", "getUser", "id=7", ""}, // host wins
		{"GET", "", "/nothing/here", "", "", "", generic.CodeNotFound},
		{"GET", "", "/v1/people/42/extra", "", "", "", generic.CodeNotFound},
	}
	for _, c := range cases {
		m, code := tbl.Lookup(c.method, c.host, c.path)
		if c.wantCode != "" {
			if m != nil || code != c.wantCode {
				t.Errorf("%s %s: got %v %q, want code %s", c.method, c.path, m, code, c.wantCode)
			}
			continue
		}
		if m == nil {
			t.Errorf("%s %s: got no match (%s), want %s.%s", c.method, c.path, code, c.wantService, c.wantMethod)
			continue
		}
		var ps []string
		for _, p := range m.Params {
			ps = append(ps, p.Name+"="+p.Value)
		}
		if m.Route.Service != c.wantService || m.Method != c.wantMethod || strings.Join(ps, ",") != c.wantParams {
			t.Errorf("%s %s: got %s.%s %v, want %s.%s %s", c.method, c.path, m.Route.Service, m.Method, ps, c.wantService, c.wantMethod, c.wantParams)
		}
	}
}

func TestADomainNamesTheServiceThroughACatchAllPrefix(t *testing.T) {
	y := baseYAML + `  - match: {prefix: /, host: users.example.com}
    service: users
`
	tbl, err := mapping.NewTable(mustParse(t, y))
	if err != nil {
		t.Fatal(err)
	}
	m, code := tbl.Lookup("POST", "users.example.com", "/getUser")
	if m == nil || m.Route.Service != "users" || m.Method != "getUser" {
		t.Fatalf("domain route: got %+v %s, want users.getUser", m, code)
	}
	// Other hosts do not see it.
	if m, _ := tbl.Lookup("POST", "other.example.com", "/getUser"); m != nil {
		t.Fatalf("another host matched the domain route: %+v", m.Route)
	}
	// Configured paths still win on that host.
	if m, _ := tbl.Lookup("GET", "users.example.com", "/v1/people/5"); m == nil || m.Route.Service != "people" {
		t.Fatalf("template on the domain: got %+v", m)
	}
}

func TestResolvePathsIsRelativeToConfigDir(t *testing.T) {
	c, err := mapping.Decode([]byte("services: [{name: s, protocol: thrift, thrift: {idl: a.thrift, include_dirs: [inc, /abs]}}]"), plugins())
	if err != nil {
		t.Fatal(err)
	}
	c.ResolvePaths("/etc/rb")
	th := c.Services[0].Proto.(*thrift.Config)
	if got := th.IDL; got != "/etc/rb/a.thrift" {
		t.Fatalf("got %s want /etc/rb/a.thrift", got)
	}
	if got := th.IncludeDirs; got[0] != "/etc/rb/inc" || got[1] != "/abs" {
		t.Fatalf("got %v", got)
	}
}

// bigConfig builds n routes: half exact, half templates.
func bigConfig(n int) *mapping.Config {
	c := &mapping.Config{Services: []mapping.Service{{Name: "s", Protocol: "http", Instances: []mapping.Instance{{Address: "127.0.0.1:1"}}}}}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/api/v%d/res%d/items", i%7, i)
		if i%2 == 1 {
			p = fmt.Sprintf("/api/v%d/res%d/{id}/detail", i%7, i)
		}
		c.Routes = append(c.Routes, mapping.Route{Match: mapping.Match{Path: p, Methods: []string{"GET"}}, Service: "s", Method: fmt.Sprint("M", i)})
	}
	c.ApplyDefaults()
	return c
}

func TestTableOf50000RoutesMatchesEveryRoute(t *testing.T) {
	c := bigConfig(50000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	tbl, err := mapping.NewTable(c)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("50,000 routes: built in %s, table holds %.1f MiB of heap", built, float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	for i := 0; i < 50000; i += 997 {
		p := fmt.Sprintf("/api/v%d/res%d/items", i%7, i)
		if i%2 == 1 {
			p = fmt.Sprintf("/api/v%d/res%d/42/detail", i%7, i)
		}
		m, code := tbl.Lookup("GET", "", p)
		if m == nil || m.Method != fmt.Sprint("M", i) {
			t.Fatalf("%s: got %v %s, want M%d", p, m, code, i)
		}
	}
}

func benchLookup(b *testing.B, n int, template bool) {
	tbl, err := mapping.NewTable(bigConfig(n))
	if err != nil {
		b.Fatal(err)
	}
	i := n / 2
	if template && i%2 == 0 {
		i++
	} else if !template && i%2 == 1 {
		i--
	}
	p := fmt.Sprintf("/api/v%d/res%d/items", i%7, i)
	if template {
		p = fmt.Sprintf("/api/v%d/res%d/42/detail", i%7, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if m, _ := tbl.Lookup("GET", "", p); m == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkLookupExact10(b *testing.B)       { benchLookup(b, 10, false) }
func BenchmarkLookupExact1000(b *testing.B)     { benchLookup(b, 1000, false) }
func BenchmarkLookupExact50000(b *testing.B)    { benchLookup(b, 50000, false) }
func BenchmarkLookupTemplate10(b *testing.B)    { benchLookup(b, 10, true) }
func BenchmarkLookupTemplate1000(b *testing.B)  { benchLookup(b, 1000, true) }
func BenchmarkLookupTemplate50000(b *testing.B) { benchLookup(b, 50000, true) }

func BenchmarkBuildTable50000(b *testing.B) {
	c := bigConfig(50000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mapping.NewTable(c); err != nil {
			b.Fatal(err)
		}
	}
}

// A reload keeps a service's cluster and connections when the service
// compares equal to its previous generation; moving it in the file (lines
// added above it) must not make it look changed.
func TestAnUnchangedServiceComparesEqualWhereverItSits(t *testing.T) {
	a := mustParse(t, baseYAML)
	b := mustParse(t, "# a comment\n\n"+strings.Replace(baseYAML, "services:\n", "services:\n  - name: extra\n    protocol: http\n    instances: [{address: 127.0.0.1:2}]\n", 1))
	for _, name := range []string{"people", "users"} {
		if !reflect.DeepEqual(a.Service(name), b.Service(name)) {
			t.Errorf("service %s: got different generations, want equal:\n%+v\n%+v", name, a.Service(name), b.Service(name))
		}
	}
}

// The control plane never shows an OTLP exporter's header values (they
// carry credentials), nor other secrets; it keeps the keys.
func TestRedactHidesSecretsAndExporterHeaders(t *testing.T) {
	out := string(mapping.Redact([]byte(`
server:
  auth: {keys: [{name: a, key: s3cret-key}]}
telemetry:
  traces:
    otlp: {endpoint: "collector:4317", headers: {authorization: Bearer tok-123, x-tenant: acme}}
routes:
  - match: {path: /x, headers: {x-client: ios}}
    service: s
    method: M
`)))
	for _, secret := range []string{"s3cret-key", "tok-123", "acme"} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted config shows %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"authorization", "x-tenant", "collector:4317", "x-client: ios"} {
		if !strings.Contains(out, kept) {
			t.Errorf("redacted config lacks %q:\n%s", kept, out)
		}
	}
}
