package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/internal/grpctwo"
)

// authMatrixYAML: one gRPC server serves authz.v1.PublicService (public
// here) and authz.v1.OtherService (protected) from one proto file.
const authMatrixYAML = `
server:
  auth:
    keys: [{name: k1, key: secret-1}]
  registered_only: false
services:
  - name: pubsvc
    protocol: grpc
    grpc: {service: authz.v1.PublicService}
    public: true
    instances: [{address: "{{addr}}"}]
  - name: privsvc
    protocol: grpc
    grpc: {service: authz.v1.OtherService}
    instances: [{address: "{{addr}}"}]
service_sets:
  mall: [pubsvc, privsvc]
routes:
  - match: {path: /pub/echo, methods: [POST]}
    service: pubsvc
    method: Echo
  - match: {path: "/pub/items/{n}", methods: [GET]}
    service: pubsvc
    method: Echo
  - match: {prefix: /pub/}
    service: pubsvc
  - match: {path: /priv/secret, methods: [POST]}
    service: privsvc
    method: Secret
  - match: {prefix: /priv/}
    service: privsvc
`

// The backend methods a successful call may run.
const (
	pubEcho    = "/authz.v1.PublicService/Echo"
	pubPing    = "/authz.v1.PublicService/Ping"
	privSecret = "/authz.v1.OtherService/Secret"
	privEcho   = "/authz.v1.OtherService/Echo"
)

// API keys sent in X-API-Key.
const (
	noKey    = ""
	goodKey  = "secret-1"
	wrongKey = "secret-2"
)

// Request headers that select a service without a route.
var (
	byPub    = []string{"serviceName", "pubsvc"}
	byPriv   = []string{"serviceName", "privsvc"}
	byNobody = []string{"serviceName", "nosuch"}
	byMall   = []string{"scTag", "mall"}
	byNoSet  = []string{"scTag", "nosuch"}
)

// A method name longer than the 256 bytes allowed.
var longMethod = strings.Repeat("A", 300)

// authRow is one request and what it must get. A 2xx must have run
// exactly the method ran on the backend; anything else must not have
// reached the backend at all.
type authRow struct {
	kind   string   // route kind, for the case name
	method string   // HTTP method
	path   string   // as sent, percent-encoding included
	hdr    []string // serviceName / scTag
	key    string
	status int
	ran    string
	allow  string // the Allow header a 405 must carry, when given
}

// authMatrix. Rules it encodes:
//   - a method name naming another service (authz.v1.OtherService.Secret
//     sent to PublicService) is 404, with or without a key;
//   - a fully-qualified name of the call's own service is accepted;
//   - the lower-first alias (echo for Echo) is accepted, ECHO is not a
//     method (404);
//   - without a valid key: a resolved public service answers (404 for a
//     bad method), a resolved protected service and anything unresolvable
//     answer 401;
//   - %2F is decoded by net/http before routing (URL.Path), so it
//     separates path segments like "/": /pubsvc/authz.v1.OtherService%2FSecret
//     has three segments and is no route-less call, a prefix route's
//     method is the segment before it, and serviceName/scTag take the last
//     segment ("Secret");
//   - a prefix route's method is one path segment, so
//     /pub/authz.v1.PublicService/Echo names method "authz.v1.PublicService".
var authMatrix = []authRow{
	// Exact routes: the method comes from the route.
	{"exact", "POST", "/pub/echo", nil, noKey, 200, pubEcho, ""},
	{"exact", "POST", "/pub/echo", nil, wrongKey, 200, pubEcho, ""},
	{"exact", "POST", "/pub/echo", nil, goodKey, 200, pubEcho, ""},
	{"exact", "POST", "/priv/secret", nil, noKey, 401, "", ""},
	{"exact", "POST", "/priv/secret", nil, wrongKey, 401, "", ""},
	{"exact", "POST", "/priv/secret", nil, goodKey, 200, privSecret, ""},

	// Template route (GET): {n} binds the int64 field n.
	{"template", "GET", "/pub/items/7", nil, noKey, 200, pubEcho, ""},
	{"template", "GET", "/pub/items/7", nil, goodKey, 200, pubEcho, ""},
	{"template", "GET", "/pub/items/x7", nil, noKey, 400, "", ""},
	{"template", "GET", "/pub/items/x7", nil, goodKey, 400, "", ""},

	// Prefix route of the public service: the next segment is the method.
	{"prefix", "POST", "/pub/Echo", nil, noKey, 200, pubEcho, ""},
	{"prefix", "POST", "/pub/Echo", nil, goodKey, 200, pubEcho, ""},
	{"prefix", "POST", "/pub/ping", nil, noKey, 200, pubPing, ""},
	{"prefix", "POST", "/pub/authz.v1.PublicService.Echo", nil, noKey, 200, pubEcho, ""},
	{"prefix", "POST", "/pub/authz.v1.PublicService.Echo", nil, goodKey, 200, pubEcho, ""},
	{"prefix", "POST", "/pub/authz.v1.PublicService/Echo", nil, noKey, 404, "", ""},
	{"prefix", "POST", "/pub/authz.v1.PublicService/Echo", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/pub/authz.v1.OtherService.Secret", nil, noKey, 404, "", ""},
	{"prefix", "POST", "/pub/authz.v1.OtherService.Secret", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/pub/Secret", nil, noKey, 404, "", ""},
	{"prefix", "POST", "/pub/Secret", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/pub/ECHO", nil, noKey, 404, "", ""},
	{"prefix", "POST", "/pub/ECHO", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/pub/authz.v1.OtherService%2FSecret", nil, noKey, 404, "", ""},
	{"prefix", "POST", "/pub/authz.v1.OtherService%2FSecret", nil, goodKey, 404, "", ""},

	// Prefix route of the protected service.
	{"prefix", "POST", "/priv/Secret", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/Secret", nil, wrongKey, 401, "", ""},
	{"prefix", "POST", "/priv/Secret", nil, goodKey, 200, privSecret, ""},
	{"prefix", "POST", "/priv/Echo", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/Echo", nil, goodKey, 200, privEcho, ""},
	{"prefix", "POST", "/priv/echo", nil, goodKey, 200, privEcho, ""},
	{"prefix", "POST", "/priv/authz.v1.OtherService.Secret", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/authz.v1.OtherService.Secret", nil, goodKey, 200, privSecret, ""},
	{"prefix", "POST", "/priv/authz.v1.OtherService/Secret", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/authz.v1.OtherService/Secret", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/priv/authz.v1.PublicService.Echo", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/authz.v1.PublicService.Echo", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/priv/ECHO", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/ECHO", nil, goodKey, 404, "", ""},
	{"prefix", "POST", "/priv/authz.v1.OtherService%2FSecret", nil, noKey, 401, "", ""},
	{"prefix", "POST", "/priv/authz.v1.OtherService%2FSecret", nil, goodKey, 404, "", ""},

	// Route-less /{service}/{method}, public service.
	{"route-less", "POST", "/pubsvc/Echo", nil, noKey, 200, pubEcho, ""},
	{"route-less", "POST", "/pubsvc/Echo", nil, goodKey, 200, pubEcho, ""},
	{"route-less", "POST", "/pubsvc/echo", nil, noKey, 200, pubEcho, ""},
	{"route-less", "POST", "/pubsvc/Ping", nil, noKey, 200, pubPing, ""},
	{"route-less", "POST", "/pubsvc/authz.v1.PublicService.Echo", nil, noKey, 200, pubEcho, ""},
	{"route-less", "POST", "/pubsvc/authz.v1.PublicService.Echo", nil, goodKey, 200, pubEcho, ""},
	{"route-less", "POST", "/pubsvc/authz.v1.OtherService.Secret", nil, noKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/authz.v1.OtherService.Secret", nil, wrongKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/authz.v1.OtherService.Secret", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/Secret", nil, noKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/Secret", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/ECHO", nil, noKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/ECHO", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/authz.v1.OtherService%2FSecret", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/pubsvc/authz.v1.OtherService%2FSecret", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/" + longMethod, nil, noKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/" + longMethod, nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/Ec%20ho", nil, noKey, 404, "", ""},
	{"route-less", "POST", "/pubsvc/Ec%20ho", nil, goodKey, 404, "", ""},

	// Route-less, protected service.
	{"route-less", "POST", "/privsvc/Secret", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/Secret", nil, wrongKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/Secret", nil, goodKey, 200, privSecret, ""},
	{"route-less", "POST", "/privsvc/secret", nil, goodKey, 200, privSecret, ""},
	{"route-less", "POST", "/privsvc/Echo", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/Echo", nil, goodKey, 200, privEcho, ""},
	{"route-less", "POST", "/privsvc/authz.v1.OtherService.Secret", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/authz.v1.OtherService.Secret", nil, goodKey, 200, privSecret, ""},
	{"route-less", "POST", "/privsvc/authz.v1.PublicService.Echo", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/authz.v1.PublicService.Echo", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/privsvc/ECHO", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/ECHO", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/privsvc/authz.v1.OtherService%2FSecret", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/authz.v1.OtherService%2FSecret", nil, goodKey, 404, "", ""},
	{"route-less", "POST", "/privsvc/" + longMethod, nil, noKey, 401, "", ""},
	{"route-less", "POST", "/privsvc/" + longMethod, nil, goodKey, 404, "", ""},

	// Route-less, no such service: nothing leaks without a key.
	{"route-less", "POST", "/nosuch/Echo", nil, noKey, 401, "", ""},
	{"route-less", "POST", "/nosuch/Echo", nil, goodKey, 404, "", ""},

	// Route-less with the fully-qualified gRPC service, public.
	{"grpc-path", "POST", "/authz.v1.PublicService/Echo", nil, noKey, 200, pubEcho, ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/Echo", nil, goodKey, 200, pubEcho, ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/echo", nil, noKey, 200, pubEcho, ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/Ping", nil, noKey, 200, pubPing, ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/authz.v1.PublicService.Echo", nil, noKey, 200, pubEcho, ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/authz.v1.PublicService.Echo", nil, goodKey, 200, pubEcho, ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/authz.v1.OtherService.Secret", nil, noKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/authz.v1.OtherService.Secret", nil, goodKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/Secret", nil, noKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/Secret", nil, goodKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/ECHO", nil, noKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/ECHO", nil, goodKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/authz.v1.OtherService%2FSecret", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.PublicService/authz.v1.OtherService%2FSecret", nil, goodKey, 404, "", ""},

	// Fully-qualified gRPC service, protected.
	{"grpc-path", "POST", "/authz.v1.OtherService/Secret", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/Secret", nil, wrongKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/Secret", nil, goodKey, 200, privSecret, ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/Echo", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/Echo", nil, goodKey, 200, privEcho, ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/authz.v1.OtherService.Secret", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/authz.v1.OtherService.Secret", nil, goodKey, 200, privSecret, ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/authz.v1.PublicService.Echo", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/authz.v1.PublicService.Echo", nil, goodKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/ECHO", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/ECHO", nil, goodKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/authz.v1.OtherService%2FSecret", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.OtherService/authz.v1.OtherService%2FSecret", nil, goodKey, 404, "", ""},
	{"grpc-path", "POST", "/authz.v1.NoService/Echo", nil, noKey, 401, "", ""},
	{"grpc-path", "POST", "/authz.v1.NoService/Echo", nil, goodKey, 404, "", ""},

	// serviceName header, public service: the last segment is the method.
	{"serviceName", "POST", "/Echo", byPub, noKey, 200, pubEcho, ""},
	{"serviceName", "POST", "/Echo", byPub, goodKey, 200, pubEcho, ""},
	{"serviceName", "POST", "/authz.v1.PublicService.Echo", byPub, noKey, 200, pubEcho, ""},
	{"serviceName", "POST", "/authz.v1.PublicService.Echo", byPub, goodKey, 200, pubEcho, ""},
	{"serviceName", "POST", "/authz.v1.OtherService.Secret", byPub, noKey, 404, "", ""},
	{"serviceName", "POST", "/authz.v1.OtherService.Secret", byPub, goodKey, 404, "", ""},
	{"serviceName", "POST", "/Secret", byPub, noKey, 404, "", ""},
	{"serviceName", "POST", "/Secret", byPub, goodKey, 404, "", ""},
	{"serviceName", "POST", "/ECHO", byPub, noKey, 404, "", ""},
	{"serviceName", "POST", "/ECHO", byPub, goodKey, 404, "", ""},
	{"serviceName", "POST", "/authz.v1.OtherService%2FSecret", byPub, noKey, 404, "", ""},
	{"serviceName", "POST", "/authz.v1.OtherService%2FSecret", byPub, goodKey, 404, "", ""},
	{"serviceName", "POST", "/Echo?serviceName=pubsvc", nil, noKey, 200, pubEcho, ""},
	{"serviceName", "POST", "/authz.v1.OtherService.Secret?serviceName=pubsvc", nil, noKey, 404, "", ""},

	// serviceName header, protected service.
	{"serviceName", "POST", "/Secret", byPriv, noKey, 401, "", ""},
	{"serviceName", "POST", "/Secret", byPriv, wrongKey, 401, "", ""},
	{"serviceName", "POST", "/Secret", byPriv, goodKey, 200, privSecret, ""},
	{"serviceName", "POST", "/Echo", byPriv, noKey, 401, "", ""},
	{"serviceName", "POST", "/Echo", byPriv, goodKey, 200, privEcho, ""},
	{"serviceName", "POST", "/authz.v1.OtherService.Secret", byPriv, noKey, 401, "", ""},
	{"serviceName", "POST", "/authz.v1.OtherService.Secret", byPriv, goodKey, 200, privSecret, ""},
	{"serviceName", "POST", "/authz.v1.PublicService.Echo", byPriv, noKey, 401, "", ""},
	{"serviceName", "POST", "/authz.v1.PublicService.Echo", byPriv, goodKey, 404, "", ""},
	{"serviceName", "POST", "/ECHO", byPriv, noKey, 401, "", ""},
	{"serviceName", "POST", "/ECHO", byPriv, goodKey, 404, "", ""},
	{"serviceName", "POST", "/authz.v1.OtherService%2FSecret", byPriv, noKey, 401, "", ""},
	{"serviceName", "POST", "/authz.v1.OtherService%2FSecret", byPriv, goodKey, 200, privSecret, ""},
	{"serviceName", "POST", "/Echo", byNobody, noKey, 401, "", ""},
	{"serviceName", "POST", "/Echo", byNobody, goodKey, 404, "", ""},

	// scTag service set [pubsvc, privsvc]: the first service with the API.
	{"scTag", "POST", "/Echo", byMall, noKey, 200, pubEcho, ""},
	{"scTag", "POST", "/Echo", byMall, goodKey, 200, pubEcho, ""},
	{"scTag", "POST", "/Ping", byMall, noKey, 200, pubPing, ""},
	{"scTag", "POST", "/Secret", byMall, noKey, 401, "", ""},
	{"scTag", "POST", "/Secret", byMall, wrongKey, 401, "", ""},
	{"scTag", "POST", "/Secret", byMall, goodKey, 200, privSecret, ""},
	{"scTag", "POST", "/authz.v1.PublicService.Echo", byMall, noKey, 200, pubEcho, ""},
	{"scTag", "POST", "/authz.v1.PublicService.Echo", byMall, goodKey, 200, pubEcho, ""},
	{"scTag", "POST", "/authz.v1.OtherService.Secret", byMall, noKey, 401, "", ""},
	{"scTag", "POST", "/authz.v1.OtherService.Secret", byMall, goodKey, 200, privSecret, ""},
	{"scTag", "POST", "/ECHO", byMall, noKey, 401, "", ""},
	{"scTag", "POST", "/ECHO", byMall, goodKey, 404, "", ""},
	{"scTag", "POST", "/authz.v1.OtherService%2FSecret", byMall, noKey, 401, "", ""},
	{"scTag", "POST", "/authz.v1.OtherService%2FSecret", byMall, goodKey, 200, privSecret, ""},
	{"scTag", "POST", "/Echo", byNoSet, noKey, 401, "", ""},
	{"scTag", "POST", "/Echo", byNoSet, goodKey, 404, "", ""},

	// HTTP methods: route-less calls are POST only; HEAD and TRACE never
	// reach a backend.
	{"method", "GET", "/pubsvc/Echo", nil, goodKey, 405, "", "POST"},
	{"method", "PUT", "/privsvc/Secret", nil, goodKey, 405, "", "POST"},
	{"method", "GET", "/authz.v1.PublicService/Echo", nil, goodKey, 405, "", "POST"},
	{"method", "DELETE", "/Echo", byPub, goodKey, 405, "", "POST"},
	{"method", "GET", "/Secret", byMall, goodKey, 405, "", "POST"},
	{"method", "HEAD", "/pub/Echo", nil, goodKey, 405, "", ""},
	{"method", "TRACE", "/priv/Secret", nil, goodKey, 405, "", ""},
}

func (r authRow) name() string {
	key := map[string]string{noKey: "no key", goodKey: "key", wrongKey: "wrong key"}[r.key]
	n := fmt.Sprintf("%s %s %s", r.kind, r.method, r.path)
	if len(r.path) > 80 {
		n = fmt.Sprintf("%s %s %s...(%d bytes)", r.kind, r.method, r.path[:40], len(r.path))
	}
	if len(r.hdr) == 2 {
		n += " " + r.hdr[0] + "=" + r.hdr[1]
	}
	return n + ", " + key
}

var codeOfStatus = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}

// TestAuthMatrixRunsOnlyTheResolvedServicesMethod: a public gRPC service
// and a protected one on the same server, reached by every route kind
// with every form of method name, with and without a key.
func TestAuthMatrixRunsOnlyTheResolvedServicesMethod(t *testing.T) {
	srv, err := grpctwo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e := newEnv(t, authMatrixYAML, map[string]string{"addr": srv.Addr()})

	for _, row := range authMatrix {
		srv.Reset()
		body := ""
		if row.method == "POST" {
			body = `{"text":"hi"}`
		}
		req, err := http.NewRequest(row.method, e.url+row.path, strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", row.name(), err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if row.key != noKey {
			req.Header.Set("X-API-Key", row.key)
		}
		if len(row.hdr) == 2 {
			req.Header.Set(row.hdr[0], row.hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", row.name(), err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		calls := srv.Calls()
		if resp.StatusCode != row.status {
			t.Errorf("%s: got %d %s (backend ran %q), want %d", row.name(), resp.StatusCode, raw, calls, row.status)
			continue
		}
		if row.status/100 == 2 {
			if !slices.Equal(calls, []string{row.ran}) {
				t.Errorf("%s: backend ran %q, want exactly [%s]", row.name(), calls, row.ran)
			}
			var reply struct {
				Text string `json:"text"`
				N    string `json:"n"`
			}
			if err := json.Unmarshal(raw, &reply); err != nil {
				t.Errorf("%s: reply %s: %v", row.name(), raw, err)
				continue
			}
			want := row.ran + ":hi"
			if row.method == "GET" {
				want = row.ran + ":"
			}
			if reply.Text != want {
				t.Errorf("%s: reply text got %q want %q", row.name(), reply.Text, want)
			}
			if row.kind == "template" && reply.N != "7" {
				t.Errorf("%s: reply n got %q want \"7\" from the path", row.name(), reply.N)
			}
			continue
		}
		if len(calls) != 0 {
			t.Errorf("%s: answered %d but the backend ran %q, want no call", row.name(), resp.StatusCode, calls)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type got %q want application/json", row.name(), ct)
		}
		if row.allow != "" && resp.Header.Get("Allow") != row.allow {
			t.Errorf("%s: Allow got %q want %q", row.name(), resp.Header.Get("Allow"), row.allow)
		}
		if row.method == "HEAD" {
			continue // no body
		}
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code == "" {
			t.Errorf("%s: got body %q, want one JSON error object", row.name(), raw)
		} else if want := codeOfStatus[row.status]; eb.Error.Code != want {
			t.Errorf("%s: error code got %s want %s (%s)", row.name(), eb.Error.Code, want, raw)
		}
	}
}
