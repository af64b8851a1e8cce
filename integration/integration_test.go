//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
	"github.com/rpcbridge/rpcbridge/sdk"
)

// stack is the running stack under test, from the environment.
var stack struct {
	data, admin, adminHost, token, zk, selfHost, stop, start string
}

func TestMain(m *testing.M) {
	stack.data = strings.TrimRight(os.Getenv("RB_DATA"), "/")
	stack.admin = strings.TrimRight(os.Getenv("RB_ADMIN"), "/")
	stack.adminHost = os.Getenv("RB_ADMIN_HOST")
	stack.token = os.Getenv("RB_ADMIN_TOKEN")
	stack.zk = os.Getenv("RB_ZK")
	stack.selfHost = os.Getenv("RB_SELF_HOST")
	stack.stop, stack.start = os.Getenv("RB_STOP"), os.Getenv("RB_START")
	var missing []string
	for _, v := range []struct{ name, val string }{
		{"RB_DATA", stack.data}, {"RB_ADMIN", stack.admin}, {"RB_ADMIN_TOKEN", stack.token}, {"RB_ZK", stack.zk},
		{"RB_SELF_HOST", stack.selfHost}, {"RB_STOP", stack.stop}, {"RB_START", stack.start},
	} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		msg := "integration: no stack to test: " + strings.Join(missing, ", ") + " unset (run integration/processes.sh run or integration/compose.sh run)"
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, msg)
			os.Exit(1)
		}
		fmt.Println(msg + "; skipped")
		os.Exit(0)
	}
	if stack.adminHost == "" {
		u, err := url.Parse(stack.admin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "integration: RB_ADMIN:", err)
			os.Exit(1)
		}
		stack.adminHost = u.Host
	}
	if err := waitReady(90 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// waitReady waits until each backend answers through the gateway: the
// instances registered in ZooKeeper take a moment to be discovered.
func waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, p := range []string{"/v1/people/1", "/v1/orders/1", "/v1/quotes/600000", "/v1/users/1", "/v1/items/A-1"} {
		for {
			resp, err := client.Get(stack.data + p)
			got := ""
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
				got = resp.Status
			} else {
				got = err.Error()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the stack is not ready: GET %s%s: got %s after %s, want 200 OK", stack.data, p, got, within)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

var client = &http.Client{Timeout: 10 * time.Second}

// reply is one HTTP answer.
type reply struct {
	status int
	body   string
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func do(t *testing.T, req *http.Request) (reply, error) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, strings.TrimSpace(string(b))}, err
}

// call sends a request to the data plane; body "" sends none, else JSON.
func call(t *testing.T, method, path, body string) (reply, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, stack.data+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(t, req)
}

// mustCall is call that fails the test when the request gets no answer.
func mustCall(t *testing.T, method, path, body string) reply {
	t.Helper()
	r, err := call(t, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// adminGet reads the control plane.
func adminGet(t *testing.T, path string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, stack.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = stack.adminHost
	req.Header.Set("Authorization", "Bearer "+stack.token)
	r, err := do(t, req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", stack.admin, path, err)
	}
	return r
}

// waitFor polls check until it reports true or the deadline passes; then
// the test fails with what check saw last.
func waitFor(t *testing.T, what string, within time.Duration, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, got := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %s; want that within %s", what, got, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// compact drops the insignificant whitespace of a JSON text (protojson
// varies it from build to build on purpose); other text stays as it is.
func compact(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

// want checks one exchange against its exact status and body (JSON
// compared token for token, whitespace aside).
func want(t *testing.T, method, path, body string, status int, wantBody string) {
	t.Helper()
	r := mustCall(t, method, path, body)
	if r.status != status || compact(r.body) != compact(wantBody) {
		t.Errorf("%s %s: got %s\nwant %d %s", method, path, r, status, wantBody)
	}
}

const (
	ada     = `{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_ADMIN","address":{"street":"12 St James's Square","city":"London","geo":{"lat":51.5074,"lng":-0.1345}},"tags":["math","engines"],"createdAt":"2024-01-02T03:04:05Z"}`
	order1  = `{"id":1,"customer":"ada","items":[{"sku":"book-42","qty":2,"priceCents":1250}],"status":"PAID","totalCents":2500}`
	quote   = `{"code":"600000","name":"Pudong Development Bank","price":7.31,"volume":41230000,"market":"SH"}`
	user1   = `{"email":"ada@example.org","id":1,"name":"ada","tags":["admin"]}`
	itemA1  = `{"sku":"A-1","name":"green tea, 100 g","priceCents":450,"tags":["tea"]}`
	echoIn  = `{"i64": "9007199254740993", "u64": "18446744073709551615", "roles": ["ROLE_ADMIN"], "counts": {"a": "9007199254740993"}, "blob": "aGVsbG8=", "when": "2026-11-21T10:00:00Z"}`
	echoOut = `{"i64":"9007199254740993","u64":"18446744073709551615","blob":"aGVsbG8=","counts":{"a":"9007199254740993"},"roles":["ROLE_ADMIN"],"when":"2026-11-21T10:00:00Z"}`
)

func TestEachProtocolAnswers(t *testing.T) {
	t.Run("grpc", func(t *testing.T) {
		want(t, "GET", "/v1/people/1", "", 200, ada)
		want(t, "POST", "/v1/people:echo", echoIn, 200, echoOut)
		r := mustCall(t, "GET", "/v1/people?limit=3", "")
		lines := strings.Split(r.body, "\n")
		if r.status != 200 || len(lines) != 3 || compact(lines[0]) != ada || !strings.Contains(compact(lines[2]), `"name":"Grace Hopper"`) {
			t.Errorf("server streaming: got %s\nwant 200 and three NDJSON lines, Ada Lovelace to Grace Hopper", r)
		}
	})
	t.Run("thrift", func(t *testing.T) {
		want(t, "GET", "/v1/orders/1", "", 200, order1)
	})
	t.Run("tars", func(t *testing.T) {
		want(t, "GET", "/v1/quotes/600000", "", 200, `{"return":`+quote+`}`)
		want(t, "POST", "/stock/listQuotes", `{"codes": ["600000", "00700", "nope"]}`, 200,
			`{"return":2,"quotes":[`+quote+`,{"code":"00700","name":"Tencent","price":318.4,"volume":18800000,"market":"HK"}]}`)
	})
	t.Run("dubbo", func(t *testing.T) {
		want(t, "GET", "/v1/users/1", "", 200, user1)
		// createUser is not in the gateway's YAML: its types come from the
		// provider's metadata report, its one parameter named arg0.
		r := mustCall(t, "POST", "/users/createUser", `{"arg0": {"name": "grace", "email": "grace@example.org", "tags": ["ops"]}}`)
		var u struct {
			ID    int64    `json:"id"`
			Name  string   `json:"name"`
			Email string   `json:"email"`
			Tags  []string `json:"tags"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &u) != nil || u.ID < 3 || u.Name != "grace" || u.Email != "grace@example.org" || len(u.Tags) != 1 || u.Tags[0] != "ops" {
			t.Errorf("createUser: got %s\nwant 200 {\"email\":\"grace@example.org\",\"id\":<3 or more>,\"name\":\"grace\",\"tags\":[\"ops\"]}", r)
		}
	})
	t.Run("http", func(t *testing.T) {
		want(t, "GET", "/v1/items/A-1", "", 200, itemA1)
		want(t, "POST", "/catalog/searchItems", `{"query": "tea", "maxPriceCents": 500}`, 200, `{"items":[`+itemA1+`]}`)
	})
	t.Run("composed", func(t *testing.T) {
		want(t, "GET", "/v1/home/1?code=600000", "", 200,
			`{"email":"ada@example.org","name":"Ada Lovelace","order":`+order1+`,"quote":`+quote+`}`)
	})
}

func TestEachProtocolReportsAnError(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"grpc", "GET", "/v1/people/404", "", 404,
			`{"error":{"code":"NOT_FOUND","message":"person 404 not found","protocol":"grpc","service":"demo.v1.PeopleService","method":"Get","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"PERSON_NOT_FOUND","domain":"people.demo.rpcbridge","metadata":{"id":"404"}}],"backend_code":5}}`},
		{"thrift", "GET", "/v1/orders/99", "", 502,
			`{"error":{"code":"BACKEND_EXCEPTION","message":"backend raised OrderNotFound","protocol":"thrift","service":"OrderService","method":"getOrder","exception":"OrderNotFound","fields":{"id":99,"message":"order 99 not found"}}}`},
		{"tars", "POST", "/stock/getQuote", `{"code": 42}`, 400,
			`{"error":{"code":"INVALID_ARGUMENT","message":"argument \"code\": want a string, got 42","protocol":"tars","service":"stock","method":"getQuote"}}`},
		{"dubbo", "GET", "/v1/users/404", "", 404,
			`{"error":{"code":"BACKEND_EXCEPTION","message":"user 404 not found","protocol":"dubbo","service":"org.rpcbridge.demo.UserService","method":"getUser","exception":"org.rpcbridge.demo.UserNotFoundException"}}`},
		{"http", "GET", "/v1/items/Z-9", "", 404,
			`{"error":{"code":"NOT_FOUND","message":"backend answered 404","protocol":"http","service":"catalog","method":"getItem","details":[{"message":"no item \"Z-9\""}],"backend_code":404}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { want(t, c.method, c.path, c.body, c.status, c.want) })
	}
}

// backend runs the RB_STOP or RB_START hook for one backend.
func backend(t *testing.T, hook, command, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), "RB_BACKEND="+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s for %s (%s): %v\n%s", hook, name, command, err, out)
	}
}

func TestBackendStoppedAndStarted(t *testing.T) {
	cases := []struct{ backend, how, path, want string }{
		{"orders", "a static address", "/v1/orders/1", order1},
		{"people", "registered with the Go SDK", "/v1/people/1", ada},
		{"users", "registered the Dubbo way", "/v1/users/1", user1},
	}
	for _, c := range cases {
		t.Run(c.backend, func(t *testing.T) {
			want(t, "GET", c.path, "", 200, c.want)
			backend(t, "RB_STOP", stack.stop, c.backend)
			started := false
			t.Cleanup(func() {
				if !started {
					backend(t, "RB_START", stack.start, c.backend)
				}
			})
			waitFor(t, c.backend+" ("+c.how+") stopped: GET "+c.path+" answers 503", 30*time.Second, func() (bool, string) {
				r, err := call(t, "GET", c.path, "")
				if err != nil {
					return false, err.Error()
				}
				return r.status == 503 && strings.Contains(compact(r.body), `"code":"UNAVAILABLE"`), r.String()
			})
			backend(t, "RB_START", stack.start, c.backend)
			started = true
			waitFor(t, c.backend+" started again: GET "+c.path+" answers 200", 60*time.Second, func() (bool, string) {
				r, err := call(t, "GET", c.path, "")
				if err != nil {
					return false, err.Error()
				}
				return r.status == 200 && compact(r.body) == compact(c.want), r.String()
			})
		})
	}
}

// instanceState is an instance's state in /admin/services, "" when the
// service does not list it.
func instanceState(t *testing.T, service, addr string) (string, string) {
	t.Helper()
	r := adminGet(t, "/admin/services")
	var got struct {
		Services []struct {
			Name      string `json:"name"`
			Instances []struct {
				Address string `json:"address"`
				State   string `json:"state"`
			} `json:"instances"`
		} `json:"services"`
	}
	if r.status != 200 {
		t.Fatalf("GET /admin/services: got %s, want 200", r)
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("GET /admin/services: %v in %s", err, r.body)
	}
	for _, s := range got.Services {
		if s.Name != service {
			continue
		}
		for _, in := range s.Instances {
			if in.Address == addr {
				return in.State, r.body
			}
		}
	}
	return "", r.body
}

// attempts is how many calls the gateway sent to one instance, from
// rpcbridge_backend_requests_total.
func attempts(t *testing.T, service, addr string) int {
	t.Helper()
	r := adminGet(t, "/metrics")
	if r.status != 200 {
		t.Fatalf("GET /metrics: got %d, want 200", r.status)
	}
	re := regexp.MustCompile(`(?m)^rpcbridge_backend_requests_total\{([^}]*)\} (\S+)$`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(r.body, -1) {
		if strings.Contains(m[1], `service="`+service+`"`) && strings.Contains(m[1], `instance="`+addr+`"`) {
			v, _ := strconv.ParseFloat(m[2], 64)
			n += int(v)
		}
	}
	return n
}

func TestSDKInstanceGoesOffline(t *testing.T) {
	// A second people backend, on this machine, registered with the SDK.
	lis, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := people.Serve(lis, true)
	t.Cleanup(srv.Stop)
	addr := net.JoinHostPort(stack.selfHost, strconv.Itoa(lis.Addr().(*net.TCPAddr).Port))
	agent, err := sdk.New(sdk.Options{ZooKeeper: []string{stack.zk}, Service: "people", Address: addr, Protocol: "grpc", SessionTimeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := agent.Register(ctx); err != nil {
		t.Fatalf("register %s: %v", addr, err)
	}
	waitFor(t, "the registered instance "+addr+" healthy in /admin/services", 20*time.Second, func() (bool, string) {
		st, body := instanceState(t, "people", addr)
		return st == "healthy", body
	})
	waitFor(t, "traffic to "+addr, 20*time.Second, func() (bool, string) {
		r := mustCall(t, "GET", "/v1/people/1", "")
		if r.status != 200 || compact(r.body) != ada {
			t.Fatalf("GET /v1/people/1 with two instances: got %s\nwant 200 %s", r, ada)
		}
		n := attempts(t, "people", addr)
		return n > 0, fmt.Sprintf("%d attempts", n)
	})

	if err := agent.SetOnline(ctx, false); err != nil {
		t.Fatalf("SetOnline(false): %v", err)
	}
	waitFor(t, addr+" offline in /admin/services", 20*time.Second, func() (bool, string) {
		st, body := instanceState(t, "people", addr)
		return st == "offline", body
	})
	before := attempts(t, "people", addr)
	for range 20 {
		want(t, "GET", "/v1/people/1", "", 200, ada)
	}
	if got := attempts(t, "people", addr); got != before {
		t.Errorf("attempts at the offline instance %s: got %d, want %d (unchanged)", addr, got, before)
	}

	if err := agent.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitFor(t, addr+" gone from /admin/services after Close", 20*time.Second, func() (bool, string) {
		st, body := instanceState(t, "people", addr)
		return st == "", body
	})
}

func TestConfigPushedIsApplied(t *testing.T) {
	reg, err := zookeeper.New(zookeeper.Options{Servers: []string{stack.zk}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() }) // after the cleanup below, which pushes the original back
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	orig, err := reg.GetConfig(ctx, "default")
	if err != nil {
		t.Fatalf("the stored config: %v", err)
	}
	inForce := func() (string, string) {
		r := adminGet(t, "/admin/config")
		var c struct {
			Version string `json:"version"`
		}
		json.Unmarshal([]byte(r.body), &c)
		return c.Version, fmt.Sprintf("%d, version %q in force", r.status, c.Version)
	}
	if v, got := inForce(); v != orig.Version {
		t.Fatalf("version in force: got %s, want the stored %s", got, orig.Version)
	}
	if r := mustCall(t, "GET", "/v2/people/1", ""); r.status != 404 {
		t.Fatalf("GET /v2/people/1 before the push: got %s, want 404", r)
	}

	// The stored config plus one route.
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(orig.YAML), &doc); err != nil {
		t.Fatal(err)
	}
	routes, _ := doc["routes"].([]any)
	doc["routes"] = append(routes, map[string]any{
		"match": map[string]any{"path": "/v2/people/{id}", "methods": []string{"GET"}}, "service": "people", "method": "Get",
	})
	next, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := reg.PushConfig(ctx, "default", next)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := reg.PushConfig(ctx, "default", []byte(orig.YAML)); err != nil {
			t.Errorf("pushing the original config back: %v", err)
			return
		}
		waitFor(t, "the original config back in force", 20*time.Second, func() (bool, string) {
			got, body := inForce()
			return got == orig.Version, body
		})
	})
	waitFor(t, "version "+v+" in force", 20*time.Second, func() (bool, string) {
		got, body := inForce()
		return got == v, body
	})
	want(t, "GET", "/v2/people/1", "", 200, ada)
	want(t, "GET", "/v1/people/1", "", 200, ada)
}
