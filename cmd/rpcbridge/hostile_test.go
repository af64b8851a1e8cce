package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/stock"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

// hostileYAML puts one sample backend of each protocol behind the
// gateway. Outlier ejection is off so that every corpus request is judged
// on its own; max_body_bytes matches testdata/hostile/gen.
const hostileYAML = `
server:
  max_body_bytes: 204800
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{people}}"}]
    timeout: 5s
    outlier: {consecutive_failures: -1}
  - name: users
    protocol: dubbo
    dubbo:
      interface: org.rpcbridge.test.TypesService
      version: 1.0.0
      methods:
        echoLong: {params: [{name: id, type: java.lang.Long}]}
        echoInt: {params: [{name: v, type: int}]}
        join: {params: [{name: parts, type: "java.lang.String[]"}, {name: sep, type: java.lang.String}]}
        echoBool: {params: [{name: v, type: boolean}]}
        sumInts: {params: [{name: v, type: "int[]"}]}
    instances: [{address: "{{dubbo}}"}]
    timeout: 5s
    outlier: {consecutive_failures: -1}
  - name: orders
    protocol: thrift
    thrift:
      idl: "{{ordersidl}}"
      service: OrderService
      exceptions: {OrderNotFound: 404, InvalidOrder: 400}
    instances: [{address: "{{orders}}"}]
    timeout: 5s
    outlier: {consecutive_failures: -1}
  - name: stock
    protocol: tars
    tars: {idl: "{{stockidl}}", servant: Demo.StockServer.StockObj, interface: Stock}
    instances: [{address: "{{stock}}"}]
    timeout: 5s
    outlier: {consecutive_failures: -1}
  - name: web
    protocol: http
    http: {path_prefix: /api}
    instances: [{address: "{{web}}"}]
    timeout: 5s
    outlier: {consecutive_failures: -1}
service_sets:
  all: [people, users, orders, stock, web]
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
  - match: {path: "/v1/people:echo", methods: [POST]}
    service: people
    method: Echo
  - match: {path: "/v1/users/{id}", methods: [GET]}
    service: users
    method: echoLong
  - match: {path: "/v1/orders/{id}", methods: [GET]}
    service: orders
    method: getOrder
  - match: {path: "/v1/quotes/{code}", methods: [GET]}
    service: stock
    method: getQuote
  - match: {path: /v1/web/echo, methods: [POST]}
    service: web
    method: echo
`

// hostileEntry is one line of testdata/hostile/<protocol>.jsonl.
type hostileEntry struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	BodyB64 string            `json:"body_b64"`
	body    []byte
}

func loadCorpus(t *testing.T, protocol string) []hostileEntry {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "hostile", protocol+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hostileEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var e hostileEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s.jsonl line %d: %v", protocol, n, err)
		}
		if e.body, err = base64.StdEncoding.DecodeString(e.BodyB64); err != nil {
			t.Fatalf("%s.jsonl line %d (%s): body_b64: %v", protocol, n, e.Name, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostileReply is what came back.
type hostileReply struct {
	status int
	header http.Header
	body   []byte
}

// isToken reports whether s is an HTTP token (RFC 9110), the only
// methods Go's client sends.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// needsRaw: requests Go's client refuses or rewrites go out on a raw
// connection.
func needsRaw(e hostileEntry) bool {
	if !isToken(e.Method) || e.Method == "CONNECT" {
		return true
	}
	for i := 0; i < len(e.Path); i++ {
		if e.Path[i] <= ' ' || e.Path[i] >= 0x7f {
			return true
		}
	}
	_, err := url.ParseRequestURI(e.Path)
	return err != nil
}

func sendHostile(hc *http.Client, base string, e hostileEntry) (hostileReply, error) {
	if needsRaw(e) {
		return sendRaw(strings.TrimPrefix(base, "http://"), e)
	}
	req, err := http.NewRequest(e.Method, base+e.Path, bytes.NewReader(e.body))
	if err != nil {
		return sendRaw(strings.TrimPrefix(base, "http://"), e)
	}
	if len(e.body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range e.Headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return hostileReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return hostileReply{resp.StatusCode, resp.Header, b}, err
}

// sendRaw writes the request as it is on a new connection and reads one
// reply.
func sendRaw(host string, e hostileEntry) (hostileReply, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return hostileReply{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", e.Method, e.Path, host)
	for k, v := range e.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(e.body))
	b.Write(e.body)
	if _, err := c.Write(b.Bytes()); err != nil {
		return hostileReply{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: e.Method})
	if err != nil {
		return hostileReply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return hostileReply{resp.StatusCode, resp.Header, body}, err
}

// maxErrorBody bounds an error reply: error bodies quote at most 256
// bytes of client input, so a few hundred bytes of fixed text around two
// or three quotes fit, and an echoed 8 KB or 200 KB input does not.
const maxErrorBody = 2048

// checkHostileReply returns what is wrong with the reply to a corpus
// request, or "".
func checkHostileReply(e hostileEntry, r hostileReply) string {
	if r.status < 400 || r.status > 499 {
		return fmt.Sprintf("got status %d, want 4xx", r.status)
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" {
		return fmt.Sprintf("got Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	if e.Method == "HEAD" {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	var eb struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := dec.Decode(&eb); err != nil || eb.Error == nil || eb.Error.Code == "" {
		return "want one JSON error object {\"error\":{\"code\":...}}"
	}
	if _, err := dec.Token(); err != io.EOF {
		return "want exactly one JSON object, got more after it"
	}
	if len(r.body) > maxErrorBody {
		return fmt.Sprintf("error body is %d bytes, want at most %d (at most 256 bytes of client input quoted)", len(r.body), maxErrorBody)
	}
	if n := longestRun(r.body); n > 256 {
		return fmt.Sprintf("error body repeats one byte %d times, want at most 256 bytes of client input quoted", n)
	}
	return ""
}

// longestRun is the length of the longest run of one repeated byte; the
// corpus's long inputs are such runs, and no error text of the gateway's
// own has one.
func longestRun(b []byte) int {
	best, n := 0, 0
	for i := range b {
		if i > 0 && b[i] == b[i-1] {
			n++
		} else {
			n = 1
		}
		best = max(best, n)
	}
	return best
}

// goodCall is a request each protocol must keep answering.
type goodCall struct {
	path, body string
	check      func(reply []byte) bool
}

// hasField reports whether the reply is a JSON object with a top-level
// key whose value is want (compared as JSON).
func hasField(key, want string) func([]byte) bool {
	return func(b []byte) bool {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return false
		}
		return jsonEq(m[key], want)
	}
}

// jsonEq compares two JSON values exactly (numbers as written).
func jsonEq(a []byte, b string) bool {
	decode := func(s []byte) (any, bool) {
		d := json.NewDecoder(bytes.NewReader(s))
		d.UseNumber()
		var v any
		return v, d.Decode(&v) == nil
	}
	x, ok1 := decode(a)
	y, ok2 := decode([]byte(b))
	return ok1 && ok2 && fmt.Sprint(x) == fmt.Sprint(y)
}

var hostileGood = map[string]goodCall{
	"grpc":   {"/people/Get", `{"id": 2}`, hasField("name", `"Alan Turing"`)},
	"dubbo":  {"/users/echoLong", `{"id": "9007199254740993"}`, func(b []byte) bool { return string(b) == `"9007199254740993"` }},
	"thrift": {"/orders/getOrder", `{"id": 1}`, hasField("customer", `"ada"`)},
	"tars":   {"/stock/getQuote", `{"code": "600000"}`, func(b []byte) bool { return bytes.Contains(b, []byte(`"Pudong Development Bank"`)) }},
	"http":   {"/web/echo", `{"text": "ok", "n": 9007199254740993}`, hasField("n", `9007199254740993`)},
}

// webEcho is the plain HTTP backend: POST /api/echo takes exactly
// {"text": string (required), "n": int64, "tags": [string], "flag": bool},
// keys matched case-sensitively, and answers with the body; anything else
// is a 400 (or 404 for another path) with a JSON error.
func webEcho(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if r.URL.Path != "/api/echo" {
		fail(http.StatusNotFound, "no such method")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail(http.StatusBadRequest, "reading the body")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil || m == nil {
		fail(http.StatusBadRequest, "want a JSON object")
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		fail(http.StatusBadRequest, "trailing data")
		return
	}
	if _, ok := m["text"]; !ok {
		fail(http.StatusBadRequest, "text is required")
		return
	}
	for k, v := range m {
		valid := map[string]func(json.RawMessage) bool{"text": isJSONString, "n": isInt64, "tags": isStringList, "flag": isBool}[k]
		if valid == nil {
			fail(http.StatusBadRequest, "unknown field")
			return
		}
		if !valid(v) {
			fail(http.StatusBadRequest, "wrong type for "+k)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func isJSONString(v json.RawMessage) bool {
	var s string
	return len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil
}

func isInt64(v json.RawMessage) bool {
	var n int64
	return len(v) > 0 && v[0] != '"' && json.Unmarshal(v, &n) == nil
}

func isBool(v json.RawMessage) bool { return string(v) == "true" || string(v) == "false" }

func isStringList(v json.RawMessage) bool {
	var l []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &l) != nil {
		return false
	}
	for _, x := range l {
		if !isJSONString(x) {
			return false
		}
	}
	return true
}

// startHostileBackends starts one sample backend per protocol and returns
// the config's variables.
func startHostileBackends(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{}
	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ps.Stop)
	vars["people"] = ps.Addr()
	osrv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { osrv.Stop() })
	vars["orders"] = osrv.Addr()
	vars["ordersidl"] = filepath.Join(dir, "order.thrift")
	if err := os.WriteFile(vars["ordersidl"], orders.IDL, 0o644); err != nil {
		t.Fatal(err)
	}
	ss, err := stock.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.Stop)
	vars["stock"] = ss.Addr()
	vars["stockidl"] = filepath.Join(dir, "Stock.tars")
	if err := os.WriteFile(vars["stockidl"], stock.IDL, 0o644); err != nil {
		t.Fatal(err)
	}
	// The provider runs in a child process of this test binary (see
	// TestMain), on the dubbo protocol, without a registry.
	vars["dubbo"] = testprovider.StartChild(t, "dubbo", false).Addr
	web := httptest.NewServer(http.HandlerFunc(webEcho))
	t.Cleanup(web.Close)
	vars["web"] = strings.TrimPrefix(web.URL, "http://")
	return vars
}

// TestHostileCorpusGets4xxJSONErrorsAndTheGatewayKeepsServing replays
// testdata/hostile/<protocol>.jsonl through `rpcbridge serve` against a
// real backend of each protocol: every request must get exactly one JSON
// error with a 4xx status, and a good request right after it must still
// succeed.
func TestHostileCorpusGets4xxJSONErrorsAndTheGatewayKeepsServing(t *testing.T) {
	vars := startHostileBackends(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(expand(hostileYAML, vars)), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	_, logs := runInBackground(t, "serve", "-c", cfg, "-listen", listen, "-admin", freeAddr(t), "-log-level", "error", "-watch", "0")
	base := "http://" + listen
	defer func() {
		if strings.Contains(logs.String(), "panic") {
			t.Errorf("the gateway logged a panic while serving the corpus:\n%s", clipStr(logs.String(), 2000))
		}
	}()
	hc := &http.Client{Timeout: 10 * time.Second}
	good := func(proto string) (int, string, bool) {
		g := hostileGood[proto]
		req, _ := http.NewRequest("POST", base+g.path, strings.NewReader(g.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error(), false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.StatusCode == 200 && g.check(b)
	}
	for _, proto := range []string{"grpc", "dubbo", "thrift", "tars", "http"} {
		waitFor(t, proto+" backend behind the gateway", 20*time.Second, func() bool {
			_, _, ok := good(proto)
			return ok
		})
	}
	start := time.Now()
	for _, proto := range []string{"grpc", "dubbo", "thrift", "tars", "http"} {
		t.Run(proto, func(t *testing.T) {
			corpus := loadCorpus(t, proto)
			if len(corpus) < 200 {
				t.Fatalf("%s corpus: got %d requests, want at least 200", proto, len(corpus))
			}
			hist := map[int]int{}
			bad := 0
			for _, e := range corpus {
				r, err := sendHostile(hc, base, e)
				if err != nil {
					hist[0]++
					bad++
					t.Errorf("%s: %v", e.Name, err)
				} else {
					hist[r.status]++
					if msg := checkHostileReply(e, r); msg != "" {
						bad++
						t.Errorf("%s (%s %s): %s; body %s", e.Name, clipStr(e.Method, 40), clipStr(e.Path, 80), msg, clipStr(string(r.body), 300))
					}
				}
				if status, body, ok := good(proto); !ok {
					t.Fatalf("after %q the good %s request got %d %s, want 200 with the right value", e.Name, proto, status, clipStr(body, 300))
				}
			}
			line := fmt.Sprintf("hostile corpus %s: %d requests, %d wrong; status histogram %s", proto, len(corpus), bad, histogram(hist))
			t.Log(line)
			fmt.Println(line)
		})
	}
	t.Logf("corpus replayed in %s", time.Since(start).Round(time.Millisecond))
}

// histogram prints status counts in status order ("0" is a transport
// error).
func histogram(h map[int]int) string {
	var keys []int
	for k := range h {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, h[k]))
	}
	return strings.Join(parts, " ")
}

func clipStr(s string, n int) string {
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...(%d bytes)", s[:n], len(s))
}

// TestHostileCorpusIsWhatTheGeneratorWrites: the committed corpus is the
// generator's output, so an edit to either shows up here.
func TestHostileCorpusIsWhatTheGeneratorWrites(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to run testdata/hostile/gen: %v", err)
	}
	out := t.TempDir()
	cmd := exec.Command(goTool, "run", "./testdata/hostile/gen", "-out", out)
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./testdata/hostile/gen: %v\n%s", err, b)
	}
	for _, proto := range []string{"grpc", "dubbo", "thrift", "tars", "http"} {
		want, err := os.ReadFile(filepath.Join(out, proto+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hostile", proto+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/hostile/%s.jsonl (%d bytes) differs from the generator's output (%d bytes): run go run ./testdata/hostile/gen", proto, len(got), len(want))
		}
	}
}
